//! Writes the XML table of a [`Schema`]: every struct's elements in definition order, with
//! what the XML format needs to know of each (attribute or element, repeated, type) and what
//! `_summary` and `_elements` need (summary, modifier, mandatory). The
//! table is static data read by fhir-model's shared XML reader and writer, so XML support
//! adds no code per generated type.

use crate::schema::{FieldType, Schema};
use std::collections::HashMap;
use std::fmt::Write as _;

/// The source of a `pub mod xml_table` holding `pub static XML_TABLE: crate::xml::XmlTable`.
pub fn generate(schema: &Schema) -> String {
    let index: HashMap<&str, usize> = schema
        .structs
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.as_str(), i))
        .collect();
    let mut out = String::with_capacity(1 << 20);
    out.push_str(
        "/// The shape of this version's model as the XML format needs it.\n\
         pub mod xml_table {\n\
         use crate::xml::table::{JsonKind as J, XmlChoice as C, XmlElement as E, XmlKind as K, XmlTable, XmlType};\n\n",
    );
    for (i, choice) in schema.choices.iter().enumerate() {
        let _ = write!(out, "static CHOICE_{i}: [C; {}] = [", choice.variants.len());
        for v in &choice.variants {
            let _ = write!(
                out,
                "C {{ suffix: {:?}, kind: {} }},",
                v.suffix,
                kind(&v.ty, &index, schema)
            );
        }
        out.push_str("];\n");
    }
    let _ = writeln!(
        out,
        "\nstatic TYPES: [XmlType; {}] = [",
        schema.structs.len()
    );
    for st in &schema.structs {
        let _ = write!(out, "XmlType {{ name: {:?}, elements: &[", st.path);
        for f in &st.fields {
            let plain = f.ty == FieldType::PlainString;
            let attribute = f.xml_attribute || (plain && f.json_name == "id");
            let kind = if plain && !attribute {
                "K::Xhtml".to_string()
            } else {
                kind(&f.ty, &index, schema)
            };
            let _ = write!(
                out,
                "E {{ name: {:?}, repeated: {}, attribute: {attribute}, kind: {kind}, summary: {}, modifier: {}, mandatory: {} }},",
                f.json_name, f.repeated, f.summary, f.modifier, f.min > 0
            );
        }
        out.push_str("] },\n");
    }
    out.push_str("];\n\n");
    let mut resources: Vec<(&str, usize)> = schema
        .resources
        .iter()
        .filter_map(|r| Some((r.as_str(), *index.get(r.as_str())?)))
        .collect();
    resources.sort();
    out.push_str(
        "/// Every struct of the version with its elements; resources by name.\n\
         pub static XML_TABLE: XmlTable = XmlTable { types: &TYPES, resources: &[",
    );
    for (name, i) in resources {
        let _ = write!(out, "({name:?}, {i}),");
    }
    let extension = index
        .get("Extension")
        .expect("every FHIR version defines Extension");
    let _ = write!(out, "], extension: {extension} }};\n}}\n");
    out
}

fn kind(ty: &FieldType, index: &HashMap<&str, usize>, schema: &Schema) -> String {
    match ty {
        FieldType::Primitive(p) => match p.fhir_type.as_str() {
            "boolean" => "K::Primitive(J::Bool)".into(),
            "integer" | "positiveInt" | "unsignedInt" | "decimal" => {
                "K::Primitive(J::Number)".into()
            }
            _ => "K::Primitive(J::String)".into(),
        },
        FieldType::PlainString => "K::Plain".into(),
        FieldType::Struct(name) => format!("K::Complex({})", index[name.as_str()]),
        FieldType::Resource => "K::Resource".into(),
        FieldType::Choice(name) => {
            let i = schema
                .choices
                .iter()
                .position(|c| &c.name == name)
                .expect("every choice field names a generated choice");
            format!("K::Choice(&CHOICE_{i})")
        }
    }
}
