//! Writes the validation table of a [`Schema`]: for every struct of the XML table (same order,
//! same element order) the rules validation checks of each element (cardinality, the primitive
//! type whose regex its value must match, the value set of a required binding, the invariants
//! stated on it), with the version's primitive types, bound value sets and invariants. The
//! table is static data read by fhir-model's shared validator, so validation adds no code per
//! generated type.

use crate::schema::{FieldType, Schema};
use std::collections::HashMap;
use std::fmt::Write as _;

/// The source of a `pub mod validation_table` holding
/// `pub static VALIDATION_TABLE: crate::validate::table::ValidationTable`; it refers to the
/// sibling `xml_table` and `codes` modules.
pub fn generate(schema: &Schema) -> String {
    let primitive_index: HashMap<&str, usize> = schema
        .primitives
        .iter()
        .enumerate()
        .map(|(i, p)| (p.name.as_str(), i))
        .collect();
    let code_enums: HashMap<String, &str> = schema
        .codes
        .iter()
        .map(|c| (format!("codes::{}", c.name), c.url.as_str()))
        .collect();
    let mut out = String::with_capacity(1 << 20);
    out.push_str(
        "/// The rules of this version's definitions that validation checks.\n\
         #[cfg(feature = \"validate\")]\n\
         pub mod validation_table {\n\
         use crate::validate::table::{CodeCheck, Constraint as C, ElementRules as E, PrimitiveRule as P, TypeRules as T, ValidationTable, ValueSet as V};\n\n",
    );
    let _ = writeln!(
        out,
        "static CONSTRAINTS: [C; {}] = [",
        schema.constraints.len()
    );
    for c in &schema.constraints {
        let _ = writeln!(
            out,
            "C {{ key: {:?}, severity: {:?}, human: {:?}, expression: {:?}, path: {:?} }},",
            c.key, c.severity, c.human, c.expression, c.path
        );
    }
    out.push_str("];\n");
    let _ = writeln!(
        out,
        "static PRIMITIVES: [P; {}] = [",
        schema.primitives.len()
    );
    for p in &schema.primitives {
        let _ = writeln!(
            out,
            "P {{ name: {:?}, regex: {:?}, invariants: &{:?} }},",
            p.name, p.regex, p.invariants
        );
    }
    out.push_str("];\n");
    for (i, vs) in schema.bound_value_sets.iter().enumerate() {
        if let Some(codes) = &vs.codes {
            let _ = writeln!(
                out,
                "static VS_{i}: [(&str, &str); {}] = {codes:?};",
                codes.len()
            );
        }
    }
    let _ = writeln!(
        out,
        "static VALUE_SETS: [V; {}] = [",
        schema.bound_value_sets.len()
    );
    for (i, vs) in schema.bound_value_sets.iter().enumerate() {
        let codes = match vs.codes {
            Some(_) => format!("Some(&VS_{i})"),
            None => "None".into(),
        };
        let _ = writeln!(out, "V {{ url: {:?}, codes: {codes} }},", vs.url);
    }
    out.push_str("];\n");
    let _ = writeln!(out, "static TYPES: [T; {}] = [", schema.structs.len());
    for st in &schema.structs {
        let _ = write!(out, "T {{ invariants: &{:?}, elements: &[", st.invariants);
        for f in &st.fields {
            let max = match f.max {
                Some(n) => format!("Some({n})"),
                None => "None".into(),
            };
            let primitive = match (&f.ty, primitive_index.get(f.fhir_type.as_str())) {
                (FieldType::Primitive(_) | FieldType::PlainString, Some(i)) => {
                    format!("Some({i})")
                }
                _ => "None".into(),
            };
            let codes = match &f.ty {
                FieldType::Primitive(p) => match code_enums.get(&p.value_type) {
                    Some(url) => format!(
                        "Some(CodeCheck {{ value_set: {url:?}, is_code: crate::validate::table::is_code::<super::{} > }})",
                        p.value_type
                    ),
                    None => "None".into(),
                },
                _ => "None".into(),
            };
            let value_set = match f.required_binding {
                Some(i) => format!("Some({i})"),
                None => "None".into(),
            };
            let _ = write!(
                out,
                "E {{ min: {}, max: {max}, primitive: {primitive}, codes: {codes}, value_set: {value_set}, invariants: &{:?} }},",
                f.min, f.invariants
            );
        }
        out.push_str("] },\n");
    }
    out.push_str("];\n\n");
    out.push_str(
        "/// Every struct's validation rules, parallel to the XML table; the version's primitive\n\
         /// types, bound value sets and invariants.\n\
         pub static VALIDATION_TABLE: ValidationTable = ValidationTable { xml: &super::xml_table::XML_TABLE, types: &TYPES, primitives: &PRIMITIVES, value_sets: &VALUE_SETS, constraints: &CONSTRAINTS };\n}\n",
    );
    out
}
