//! Reads the pruned definitions of one FHIR version into the Rust types they become.
//!
//! This is where FHIR's rules meet Rust's: backbone elements become named structs, `value[x]`
//! becomes an enum, required bindings to closed value sets become code enums, and fields that
//! would make a type contain itself are boxed.

use crate::definitions::{
    BOUND_VALUE_SETS_FILE, COMPARTMENTS_FILE, SEARCH_PARAMETERS_FILE, STRUCTURES_FILE,
    VALUE_SETS_FILE,
};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs;
use std::path::Path;

/// The Rust model of one FHIR version.
#[derive(Debug, Default)]
pub struct Schema {
    /// Structs: datatypes, resources and their backbone elements, in definition order.
    pub structs: Vec<StructDef>,
    /// Names of the concrete resources, sorted.
    pub resources: Vec<String>,
    /// Core profiles on datatypes that are written like their base (`SimpleQuantity` is a `Quantity`).
    pub aliases: Vec<(String, String)>,
    /// Enums for choice elements (`value[x]`).
    pub choices: Vec<ChoiceDef>,
    /// Enums for codes bound to closed value sets.
    pub codes: Vec<CodeEnum>,
    /// The search parameters of the resources, as in the definitions.
    pub search_parameters: Vec<SearchParameter>,
    /// The compartments of the core CompartmentDefinitions, sorted by code.
    pub compartments: Vec<Compartment>,
    /// Every primitive type, sorted by name, with the regex of its value and its invariants.
    pub primitives: Vec<PrimitiveDef>,
    /// The value sets of required bindings on types other than `code` (Coding,
    /// CodeableConcept, ...), sorted by URL; fields name them by index.
    pub bound_value_sets: Vec<BoundValueSet>,
    /// Every invariant (`constraint`) of the definitions, in definition order; structs, fields
    /// and primitives name them by index.
    pub constraints: Vec<ConstraintDef>,
}

/// A primitive type (`date`, `id`), as validation needs it.
#[derive(Debug, Clone)]
pub struct PrimitiveDef {
    /// The FHIR type code.
    pub name: String,
    /// The lexical rule of its value (XML Schema regex syntax), when the definitions give one.
    pub regex: Option<String>,
    /// Indexes in [`Schema::constraints`] of the invariants on the type and its bases.
    pub invariants: Vec<usize>,
}

/// The value set of a required binding on a Coding, CodeableConcept or Quantity.
#[derive(Debug, Clone)]
pub struct BoundValueSet {
    /// Canonical URL.
    pub url: String,
    /// Its codes as (system, code), or `None` when it cannot be closed (an external code
    /// system, a filter): then nothing can be checked without a terminology server.
    pub codes: Option<Vec<(String, String)>>,
}

/// An invariant of the definitions: a FHIRPath expression that must hold.
#[derive(Debug, Clone)]
pub struct ConstraintDef {
    /// Its key (`ele-1`, `pat-1`).
    pub key: String,
    /// `error` or `warning`.
    pub severity: String,
    /// What it says, for people.
    pub human: String,
    /// The FHIRPath expression.
    pub expression: String,
    /// The path of the element that states it (`Patient.contact`).
    pub path: String,
}

/// A compartment (`Patient`, `Encounter`, ...) and the resource types in it.
#[derive(Debug, Clone)]
pub struct Compartment {
    /// The compartment's code: the resource type of its owner.
    pub code: String,
    /// Canonical URL of its CompartmentDefinition.
    pub url: String,
    /// Each resource type in the compartment, sorted, with the search parameters that link it
    /// to the owner, in the definition's order (`{def}` stands for the owner itself).
    pub resources: Vec<(String, Vec<String>)>,
}

/// What a struct stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StructKind {
    /// A complex datatype (HumanName, Quantity, ...).
    Datatype,
    /// A resource (Patient, ...).
    Resource,
    /// A backbone element or an inner element of a datatype (`Patient.contact`).
    Backbone,
}

/// A generated struct.
#[derive(Debug)]
pub struct StructDef {
    /// Rust name.
    pub name: String,
    /// FHIR element path (`Patient`, `Patient.contact`).
    pub path: String,
    /// Datatype, resource or backbone element.
    pub kind: StructKind,
    /// The StructureDefinition's canonical URL, for datatypes and resources.
    pub url: Option<String>,
    /// Rustdoc text.
    pub doc: String,
    /// The type this one specializes (`DomainResource` for most resources).
    pub base: Option<String>,
    /// Fields in definition order (which is the XML order).
    pub fields: Vec<Field>,
    /// Indexes in [`Schema::constraints`] of the invariants on every instance of the struct:
    /// those of its root element and of the types it specializes.
    pub invariants: Vec<usize>,
}

/// A field of a generated struct.
#[derive(Debug)]
pub struct Field {
    /// The element name in JSON (`birthDate`; for a choice, the name without `[x]`).
    pub json_name: String,
    /// The Rust field name (`birth_date`, `r#type`).
    pub rust_name: String,
    /// Rustdoc text.
    pub doc: String,
    /// Cardinality `..*`.
    pub repeated: bool,
    /// Minimum cardinality.
    pub min: u32,
    /// Maximum cardinality; `None` for `*`.
    pub max: Option<u32>,
    /// The FHIR type code of a field that is not a choice (`date`, `HumanName`; `id` for
    /// `Resource.id`, which R4's definitions type as `string`).
    pub fhir_type: String,
    /// The value set of a required binding on a type other than `code`: an index in
    /// [`Schema::bound_value_sets`].
    pub required_binding: Option<usize>,
    /// Indexes in [`Schema::constraints`] of the invariants stated on this element (those of
    /// a backbone element are the struct's own: [`StructDef::invariants`]).
    pub invariants: Vec<usize>,
    /// The field's type.
    pub ty: FieldType,
    /// Boxed because the type would otherwise contain itself.
    pub boxed: bool,
    /// Written as an XML attribute (`Element.id`, `Extension.url`, primitive values).
    pub xml_attribute: bool,
    /// Part of the summary (`isSummary`): kept by `_summary=true`.
    pub summary: bool,
    /// Changes the meaning of its resource (`isModifier`): kept by every subset.
    pub modifier: bool,
}

/// The type of a field or of a choice variant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldType {
    /// A FHIR primitive with its id and extensions: `Primitive<value type>`.
    Primitive(Primitive),
    /// A plain string without id or extensions: `Element.id`, `Extension.url`, the narrative `div`.
    PlainString,
    /// A struct.
    Struct(String),
    /// Any resource: the version's `Resource` enum.
    Resource,
    /// A choice enum.
    Choice(String),
}

/// A FHIR primitive type and the Rust type of its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Primitive {
    /// The FHIR type code (`date`, `code`, `positiveInt`).
    pub fhir_type: String,
    /// The Rust type of the value, relative to the version module (`String`, `crate::Date`,
    /// `codes::AdministrativeGender`).
    pub value_type: String,
}

/// An enum for a choice element.
#[derive(Debug)]
pub struct ChoiceDef {
    /// Rust name.
    pub name: String,
    /// Rustdoc text.
    pub doc: String,
    /// One variant per allowed type, in definition order.
    pub variants: Vec<ChoiceVariant>,
}

/// A variant of a choice enum.
#[derive(Debug)]
pub struct ChoiceVariant {
    /// The FHIR type code (`string`, `Quantity`).
    pub fhir_type: String,
    /// The JSON key suffix and Rust variant name (`String`, `Quantity`).
    pub suffix: String,
    /// The variant's type; structs are boxed.
    pub ty: FieldType,
}

/// An enum of the codes of a closed value set.
#[derive(Debug)]
pub struct CodeEnum {
    /// Rust name.
    pub name: String,
    /// The value set's canonical URL.
    pub url: String,
    /// Rustdoc text.
    pub doc: String,
    /// The codes, in value set order.
    pub variants: Vec<CodeVariant>,
}

/// One code of a [`CodeEnum`].
#[derive(Debug)]
pub struct CodeVariant {
    /// Rust variant name.
    pub name: String,
    /// The code as written in FHIR.
    pub code: String,
    /// The code system the code comes from.
    pub system: String,
    /// Rustdoc text: display and definition.
    pub doc: String,
}

/// A search parameter, as the server kit needs it.
#[derive(Debug, Clone)]
pub struct SearchParameter {
    /// Canonical URL.
    pub url: String,
    /// The name used in URLs.
    pub code: String,
    /// The resource types it applies to.
    pub base: Vec<String>,
    /// string, token, date, number, quantity, uri, reference, composite or special.
    pub kind: String,
    /// FHIRPath expression.
    pub expression: String,
    /// Documentation.
    pub description: String,
    /// Resource types a reference parameter may point to.
    pub target: Vec<String>,
    /// A composite parameter's components, in order.
    pub components: Vec<SearchComponent>,
}

/// A component of a composite search parameter.
#[derive(Debug, Clone)]
pub struct SearchComponent {
    /// The canonical URL of the component's own search parameter.
    pub definition: String,
    /// FHIRPath expression, relative to each value of the composite's expression.
    pub expression: String,
}

const RUST_KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "static", "struct", "super", "trait", "true", "try", "type", "typeof", "unsafe",
    "unsized", "use", "virtual", "where", "while", "yield",
];

/// Names the generated module defines besides the FHIR types.
const RESERVED_TYPE_NAMES: &[&str] = &[
    "Resource",
    "Primitive",
    "DataType",
    "Option",
    "Vec",
    "Box",
    "String",
];

fn read_json(path: &Path) -> Result<Value, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn arr<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// `birthDate` -> `birth_date`; Rust keywords become raw identifiers.
pub fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    let chars: Vec<char> = name.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev_lower =
                i > 0 && (chars[i - 1].is_ascii_lowercase() || chars[i - 1].is_ascii_digit());
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            let prev_upper = i > 0 && chars[i - 1].is_ascii_uppercase();
            if i > 0 && (prev_lower || (prev_upper && next_lower)) {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii_alphanumeric() {
            out.push(c);
        } else {
            out.push('_');
        }
    }
    if RUST_KEYWORDS.contains(&out.as_str()) {
        format!("r#{out}")
    } else {
        out
    }
}

/// `contact` -> `Contact`.
pub fn upper_first(name: &str) -> String {
    let mut c = name.chars();
    match c.next() {
        Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
        None => String::new(),
    }
}

/// `Patient.contact` -> `PatientContact`.
fn path_type_name(path: &str) -> String {
    path.split('.').map(upper_first).collect()
}

/// Turns a code into a Rust variant name: `entered-in-error` -> `EnteredInError`,
/// `4.0.1` -> `V4_0_1`; codes without letters or digits (`<=`) use their display.
fn variant_name(code: &str, display: &str) -> String {
    fn words(text: &str) -> String {
        let mut out = String::new();
        let mut upper = true;
        let mut prev_digit = false;
        for c in text.chars() {
            if c.is_ascii_alphanumeric() {
                if c.is_ascii_digit() && prev_digit && !upper {
                    out.push(c);
                } else if upper {
                    if c.is_ascii_digit() && out.chars().last().is_some_and(|l| l.is_ascii_digit())
                    {
                        out.push('_');
                    }
                    out.push(c.to_ascii_uppercase());
                } else {
                    out.push(c);
                }
                upper = false;
                prev_digit = c.is_ascii_digit();
            } else {
                upper = true;
            }
        }
        out
    }
    let mut name = words(code);
    if name.is_empty() {
        name = words(display);
    }
    if name.is_empty() {
        name = "Code".to_string();
    }
    if name.chars().next().is_some_and(|c| c.is_ascii_digit()) {
        name = format!("V{name}");
    }
    if name == "Self" {
        name = "SelfCode".into();
    }
    name
}

/// Rust value type of a primitive FHIR type.
fn primitive_value_type(fhir_type: &str) -> Option<&'static str> {
    Some(match fhir_type {
        "boolean" => "bool",
        "integer" => "i32",
        "integer64" => "i64",
        "unsignedInt" | "positiveInt" => "u32",
        "decimal" => "crate::Decimal",
        "date" => "crate::Date",
        "dateTime" => "crate::DateTime",
        "instant" => "crate::Instant",
        "time" => "crate::Time",
        "string" | "code" | "id" | "markdown" | "uri" | "url" | "canonical" | "oid" | "uuid"
        | "base64Binary" => "String",
        _ => return None,
    })
}

struct Loader {
    /// StructureDefinitions by name.
    structures: BTreeMap<String, Value>,
    /// Elements by path, across all structures, for content references.
    primitive_types: HashSet<String>,
    /// Value set URL -> code enum name (closed sets only).
    code_enums: HashMap<String, String>,
    schema: Schema,
    used_names: HashSet<String>,
    /// Choice type lists already given an enum (the open `DataType` list is shared).
    open_choice: Option<Vec<String>>,
    /// Invariants by the path of the element that states them.
    constraints_by_path: HashMap<String, Vec<usize>>,
    /// Bound value set URL -> index in `schema.bound_value_sets`.
    bound_index: HashMap<String, usize>,
}

impl Schema {
    /// Loads `definitions/<version>/`.
    pub fn load(dir: &Path) -> Result<Schema, String> {
        let structures = read_json(&dir.join(STRUCTURES_FILE))?;
        let value_sets = read_json(&dir.join(VALUE_SETS_FILE))?;
        let search_parameters = read_json(&dir.join(SEARCH_PARAMETERS_FILE))?;
        let compartments = read_json(&dir.join(COMPARTMENTS_FILE))?;
        let bound_value_sets = read_json(&dir.join(BOUND_VALUE_SETS_FILE))?;
        let mut loader = Loader {
            structures: BTreeMap::new(),
            primitive_types: HashSet::new(),
            code_enums: HashMap::new(),
            schema: Schema::default(),
            used_names: RESERVED_TYPE_NAMES.iter().map(|s| s.to_string()).collect(),
            open_choice: None,
            constraints_by_path: HashMap::new(),
            bound_index: HashMap::new(),
        };
        for sd in structures.as_array().into_iter().flatten() {
            let name = s(sd, "name").to_string();
            if s(sd, "kind") == "primitive-type" {
                loader.primitive_types.insert(name.clone());
            }
            loader.structures.insert(name, sd.clone());
        }
        loader.load_value_sets(value_sets.as_array().map(Vec::as_slice).unwrap_or(&[]));
        loader.load_bound_value_sets(
            bound_value_sets
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or(&[]),
        );
        loader.load_constraints();
        loader.load_structures()?;
        loader.box_recursive_fields();
        loader.schema.search_parameters = search_parameters
            .as_array()
            .into_iter()
            .flatten()
            .map(|sp| SearchParameter {
                url: s(sp, "url").into(),
                code: s(sp, "code").into(),
                base: arr(sp, "base")
                    .iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect(),
                kind: s(sp, "type").into(),
                expression: s(sp, "expression").into(),
                description: s(sp, "description").into(),
                target: arr(sp, "target")
                    .iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect(),
                components: arr(sp, "component")
                    .iter()
                    .map(|c| SearchComponent {
                        definition: s(c, "definition").into(),
                        expression: s(c, "expression").into(),
                    })
                    .collect(),
            })
            .collect();
        loader.schema.compartments = load_compartments(&compartments)
            .map_err(|e| format!("{}: {e}", dir.join(COMPARTMENTS_FILE).display()))?;
        Ok(loader.schema)
    }

    /// The search parameters that apply to a resource type: its own, those of `Resource`, and
    /// those of `DomainResource` when it is one. The first definition of a code wins.
    pub fn search_parameters_of(&self, resource: &str) -> Vec<&SearchParameter> {
        let domain = self
            .struct_def(resource)
            .is_some_and(|st| st.base.as_deref() == Some("DomainResource"));
        let mut seen = HashSet::new();
        self.search_parameters
            .iter()
            .filter(|sp| {
                sp.base
                    .iter()
                    .any(|b| b == resource || b == "Resource" || (domain && b == "DomainResource"))
            })
            .filter(|sp| seen.insert(sp.code.as_str()))
            .collect()
    }

    /// The struct with this Rust name.
    pub fn struct_def(&self, name: &str) -> Option<&StructDef> {
        self.structs.iter().find(|s| s.name == name)
    }
}

/// Reads `compartments.json`, checking that compartments and their types are sorted and unique
/// (the generated table is searched by halves).
fn load_compartments(value: &Value) -> Result<Vec<Compartment>, String> {
    let list = value
        .as_array()
        .ok_or_else(|| "expected an array".to_string())?;
    let mut out: Vec<Compartment> = Vec::new();
    for c in list {
        let code = s(c, "code");
        if out.last().is_some_and(|prev| prev.code.as_str() >= code) || code.is_empty() {
            return Err(format!("compartment '{code}' is out of order"));
        }
        let resources = c
            .get("resource")
            .and_then(Value::as_object)
            .ok_or_else(|| format!("compartment {code}: no resource object"))?;
        let mut types: Vec<(String, Vec<String>)> = Vec::new();
        for (ty, params) in resources {
            let params: Vec<String> = params
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect();
            if params.is_empty() {
                return Err(format!("compartment {code}: {ty} has no param"));
            }
            types.push((ty.clone(), params));
        }
        // serde_json keeps the file's order only with its preserve_order feature.
        types.sort_by(|a, b| a.0.cmp(&b.0));
        out.push(Compartment {
            code: code.to_string(),
            url: s(c, "url").to_string(),
            resources: types,
        });
    }
    Ok(out)
}

impl Loader {
    fn load_value_sets(&mut self, value_sets: &[Value]) {
        let mut names = HashSet::new();
        for vs in value_sets {
            let codes = arr(vs, "codes");
            if codes.is_empty() {
                continue;
            }
            let url = s(vs, "url").to_string();
            let mut name = variant_name(s(vs, "name"), s(vs, "url"));
            while !names.insert(name.clone()) {
                name.push_str("Code");
            }
            let mut variants: Vec<CodeVariant> = Vec::new();
            let mut variant_names = HashSet::new();
            for c in codes {
                let code = s(c, "code");
                let display = s(c, "display");
                let mut vname = variant_name(code, display);
                while !variant_names.insert(vname.clone()) {
                    vname.push('_');
                }
                let mut doc = if display.is_empty() {
                    code.to_string()
                } else {
                    display.to_string()
                };
                let definition = s(c, "definition");
                if !definition.is_empty() {
                    doc.push_str("\n\n");
                    doc.push_str(definition);
                }
                variants.push(CodeVariant {
                    name: vname,
                    code: code.into(),
                    system: s(c, "system").into(),
                    doc,
                });
            }
            let title = if s(vs, "title").is_empty() {
                s(vs, "name")
            } else {
                s(vs, "title")
            };
            self.code_enums.insert(url.clone(), name.clone());
            self.schema.codes.push(CodeEnum {
                name,
                doc: format!("{title}\n\nCodes of the value set `{url}`."),
                url,
                variants,
            });
        }
        self.schema.codes.sort_by(|a, b| a.name.cmp(&b.name));
    }

    fn load_bound_value_sets(&mut self, value_sets: &[Value]) {
        let mut sets: Vec<BoundValueSet> = value_sets
            .iter()
            .map(|vs| BoundValueSet {
                url: s(vs, "url").to_string(),
                codes: vs.get("codes").and_then(Value::as_array).map(|codes| {
                    codes
                        .iter()
                        .map(|c| (s(c, "system").to_string(), s(c, "code").to_string()))
                        .collect()
                }),
            })
            .collect();
        sets.sort_by(|a, b| a.url.cmp(&b.url));
        self.bound_index = sets
            .iter()
            .enumerate()
            .map(|(i, vs)| (vs.url.clone(), i))
            .collect();
        self.schema.bound_value_sets = sets;
    }

    /// Collects every invariant of the definitions (abstract types and primitives included),
    /// and the primitive types with their regexes.
    fn load_constraints(&mut self) {
        // R5's CanonicalResource and MetadataResource are abstract interfaces that no type
        // specializes: the resources that implement them carry copies of their invariants.
        let bases: HashSet<&str> = self
            .structures
            .values()
            .filter_map(|sd| sd.get("base").and_then(Value::as_str))
            .collect();
        for sd in self.structures.values() {
            let abstract_ = sd.get("abstract").and_then(Value::as_bool) == Some(true);
            if abstract_ && s(sd, "kind") == "resource" && !bases.contains(s(sd, "name")) {
                continue;
            }
            for e in arr(sd, "elements") {
                for c in arr(e, "constraints") {
                    let index = self.schema.constraints.len();
                    self.schema.constraints.push(ConstraintDef {
                        key: s(c, "key").into(),
                        severity: s(c, "severity").into(),
                        human: s(c, "human").into(),
                        expression: s(c, "expression").into(),
                        path: s(e, "path").into(),
                    });
                    self.constraints_by_path
                        .entry(s(e, "path").to_string())
                        .or_default()
                        .push(index);
                }
            }
        }
        let primitives: Vec<(String, Option<String>, Option<String>)> = self
            .structures
            .values()
            .filter(|sd| s(sd, "kind") == "primitive-type")
            .map(|sd| {
                let name = s(sd, "name").to_string();
                let value_path = format!("{name}.value");
                let regex = arr(sd, "elements")
                    .iter()
                    .find(|e| s(e, "path") == value_path)
                    .and_then(|e| e.get("regex"))
                    .and_then(Value::as_str)
                    .map(String::from);
                let base = sd.get("base").and_then(Value::as_str).map(String::from);
                (name, regex, base)
            })
            .collect();
        for (name, regex, base) in primitives {
            let invariants = self.chain_invariants(&name, base.as_deref());
            self.schema.primitives.push(PrimitiveDef {
                name,
                regex,
                invariants,
            });
        }
        self.schema.primitives.sort_by(|a, b| a.name.cmp(&b.name));
    }

    /// The invariants stated on the element at `path`.
    fn constraints_at(&self, path: &str) -> Vec<usize> {
        self.constraints_by_path
            .get(path)
            .cloned()
            .unwrap_or_default()
    }

    /// The invariants of an element at `path` whose type is `base`: its own, then those of the
    /// root of `base` and of each type `base` specializes.
    fn chain_invariants(&self, path: &str, base: Option<&str>) -> Vec<usize> {
        let mut out = self.constraints_at(path);
        let mut next = base.map(String::from);
        let mut seen = HashSet::new();
        while let Some(name) = next {
            if !seen.insert(name.clone()) {
                break;
            }
            out.extend(self.constraints_at(&name));
            next = self
                .structures
                .get(&name)
                .and_then(|sd| sd.get("base"))
                .and_then(Value::as_str)
                .map(String::from);
        }
        out
    }

    fn claim_name(&mut self, name: String) -> Result<String, String> {
        if self.used_names.insert(name.clone()) {
            Ok(name)
        } else {
            Err(format!("two generated types are named {name}"))
        }
    }

    fn load_structures(&mut self) -> Result<(), String> {
        let structures: Vec<Value> = self.structures.values().cloned().collect();
        // Claim the top-level names first, so backbone names can never take them.
        for sd in &structures {
            if s(sd, "kind") != "primitive-type" {
                self.used_names.insert(s(sd, "name").to_string());
            }
        }
        for sd in &structures {
            let name = s(sd, "name");
            let kind = s(sd, "kind");
            if kind == "primitive-type" {
                continue;
            }
            if s(sd, "derivation") == "constraint" {
                self.schema
                    .aliases
                    .push((name.to_string(), s(sd, "type").to_string()));
                continue;
            }
            if sd.get("abstract").and_then(Value::as_bool).unwrap_or(false) {
                continue;
            }
            let elements = arr(sd, "elements");
            let struct_kind = if kind == "resource" {
                StructKind::Resource
            } else {
                StructKind::Datatype
            };
            if struct_kind == StructKind::Resource {
                self.schema.resources.push(name.to_string());
            }
            let doc = if s(sd, "description").is_empty() {
                elements
                    .first()
                    .map(|e| s(e, "short"))
                    .unwrap_or("")
                    .to_string()
            } else {
                s(sd, "description").to_string()
            };
            self.load_struct(
                name,
                name,
                struct_kind,
                Some(s(sd, "url").to_string()),
                doc,
                elements,
            )?;
            let base = sd.get("base").and_then(Value::as_str).map(String::from);
            let invariants = self.chain_invariants(name, base.as_deref());
            if let Some(st) = self
                .schema
                .structs
                .iter_mut()
                .rev()
                .find(|st| st.name == name)
            {
                st.base = base;
                st.invariants = invariants;
            }
        }
        self.schema.resources.sort();
        Ok(())
    }

    /// Adds the struct for the element at `path` (the root of a definition or a backbone
    /// element), and the structs of the backbone elements below it.
    fn load_struct(
        &mut self,
        name: &str,
        path: &str,
        kind: StructKind,
        url: Option<String>,
        doc: String,
        elements: &[Value],
    ) -> Result<(), String> {
        let index = self.schema.structs.len();
        self.schema.structs.push(StructDef {
            name: name.to_string(),
            path: path.to_string(),
            kind,
            url,
            doc,
            base: None,
            fields: Vec::new(),
            invariants: Vec::new(),
        });
        let prefix = format!("{path}.");
        let mut fields = Vec::new();
        for e in elements {
            let epath = s(e, "path");
            let Some(rest) = epath.strip_prefix(&prefix) else {
                continue;
            };
            if rest.contains('.') {
                continue;
            }
            fields.push(self.load_field(epath, rest, e, elements)?);
        }
        self.schema.structs[index].fields = fields;
        Ok(())
    }

    fn load_field(
        &mut self,
        epath: &str,
        element_name: &str,
        e: &Value,
        elements: &[Value],
    ) -> Result<Field, String> {
        let json_name = element_name.trim_end_matches("[x]").to_string();
        let types = arr(e, "types");
        let representation: Vec<&str> = arr(e, "representation")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let base_path = if s(e, "basePath").is_empty() {
            epath
        } else {
            s(e, "basePath")
        };
        let xml_attribute = representation.contains(&"xmlAttr");
        let max = s(e, "max");
        let repeated = max != "0" && max != "1";
        let min = e.get("min").and_then(Value::as_u64).unwrap_or(0) as u32;
        let doc = s(e, "short").to_string();
        let owner = epath.rsplit_once('.').map(|(o, _)| o).unwrap_or(epath);
        let max = match max {
            "*" => None,
            n => Some(
                n.parse::<u32>()
                    .map_err(|_| format!("{epath}: max '{n}'"))?,
            ),
        };
        let mut fhir_type = match types {
            [t] if !element_name.ends_with("[x]") => s(t, "code").to_string(),
            _ => String::new(),
        };
        // R4 types Resource.id as a string; it is an id in every version's specification.
        if base_path == "Resource.id" {
            fhir_type = "id".into();
        }
        // R4B and R5 type Element.id as an id, but their own examples give elements ids that
        // are none (ElementDefinition's `DataRequirement.subject[x]`): a string, as in R4.
        if base_path == "Element.id" {
            fhir_type = "string".into();
        }
        let required_binding = e
            .get("requiredBinding")
            .and_then(Value::as_str)
            .and_then(|url| self.bound_index.get(url).copied());
        let mut backbone = false;

        let ty = if let Some(target) = e.get("contentReference").and_then(Value::as_str) {
            FieldType::Struct(path_type_name(target.trim_start_matches('#')))
        } else if element_name.ends_with("[x]") {
            let codes: Vec<String> = types.iter().map(|t| s(t, "code").to_string()).collect();
            FieldType::Choice(self.choice_enum(owner, &json_name, &codes, &doc)?)
        } else if types.len() == 1 {
            let code = s(&types[0], "code");
            let has_children = elements
                .iter()
                .any(|c| s(c, "path").starts_with(&format!("{epath}.")));
            if (code == "BackboneElement" || code == "Element") && has_children {
                let name = self.claim_name(path_type_name(epath))?;
                self.load_struct(
                    &name,
                    epath,
                    StructKind::Backbone,
                    None,
                    doc.clone(),
                    elements,
                )?;
                let invariants = self.chain_invariants(epath, Some(code));
                if let Some(st) = self
                    .schema
                    .structs
                    .iter_mut()
                    .rev()
                    .find(|st| st.name == name)
                {
                    st.invariants = invariants;
                }
                backbone = true;
                FieldType::Struct(name)
            } else if xml_attribute || base_path == "Element.id" || code == "xhtml" {
                FieldType::PlainString
            } else {
                self.element_type(code, s(e, "binding"))?
            }
        } else {
            return Err(format!(
                "{epath}: {} types on an element that is not a choice",
                types.len()
            ));
        };
        let rust_name = snake_case(&json_name);
        // A backbone element's own invariants hold for each instance: the struct's. An
        // element that reuses another's definition (`contentReference`) may add its own.
        let mut invariants = Vec::new();
        if !backbone {
            invariants.extend(self.constraints_at(epath));
            if base_path != epath {
                invariants.extend(self.constraints_at(base_path));
            }
        }
        Ok(Field {
            json_name,
            rust_name,
            doc,
            repeated,
            min,
            max,
            fhir_type,
            required_binding,
            invariants,
            ty,
            boxed: false,
            xml_attribute,
            summary: e.get("summary").and_then(Value::as_bool).unwrap_or(false),
            modifier: e.get("modifier").and_then(Value::as_bool).unwrap_or(false),
        })
    }

    fn element_type(&self, code: &str, binding: &str) -> Result<FieldType, String> {
        if code == "Resource" {
            return Ok(FieldType::Resource);
        }
        if let Some(value_type) = primitive_value_type(code) {
            let value_type = match (code, self.code_enums.get(binding)) {
                ("code", Some(enum_name)) => format!("codes::{enum_name}"),
                _ => value_type.to_string(),
            };
            return Ok(FieldType::Primitive(Primitive {
                fhir_type: code.into(),
                value_type,
            }));
        }
        if self.primitive_types.contains(code) {
            return Err(format!("primitive type {code} has no Rust value type"));
        }
        match self.structures.get(code) {
            Some(_) => Ok(FieldType::Struct(code.to_string())),
            None => Err(format!("unknown type {code}")),
        }
    }

    /// The types of `Extension.value[x]`: every datatype.
    fn open_type_list(&self) -> Option<Vec<String>> {
        let extension = self.structures.get("Extension")?;
        let value = arr(extension, "elements")
            .iter()
            .find(|e| s(e, "path") == "Extension.value[x]")?;
        Some(
            arr(value, "types")
                .iter()
                .map(|t| s(t, "code").to_string())
                .collect(),
        )
    }

    fn choice_enum(
        &mut self,
        owner: &str,
        json_name: &str,
        codes: &[String],
        doc: &str,
    ) -> Result<String, String> {
        // Extension.value[x] allows every datatype; the elements that allow the same list
        // (ElementDefinition.fixed[x], Parameters.parameter.value[x], ...) share its enum.
        if self.open_choice.is_none() {
            self.open_choice = Some(self.open_type_list().unwrap_or_default());
        }
        let is_open = self.open_choice.as_deref() == Some(codes);
        if is_open && self.schema.choices.iter().any(|c| c.name == "DataType") {
            return Ok("DataType".into());
        }
        let name = if is_open {
            "DataType".to_string()
        } else {
            self.claim_name(format!(
                "{}{}",
                path_type_name(owner),
                upper_first(json_name)
            ))?
        };
        let mut variants = Vec::new();
        for code in codes {
            variants.push(ChoiceVariant {
                fhir_type: code.clone(),
                suffix: upper_first(code),
                ty: self.element_type(code, "")?,
            });
        }
        let doc = if is_open {
            "Any FHIR datatype: the value of an extension and of every element that allows all types.".to_string()
        } else {
            doc.to_string()
        };
        self.schema.choices.push(ChoiceDef {
            name: name.clone(),
            doc,
            variants,
        });
        Ok(name)
    }

    /// Boxes singular struct fields through which a struct can contain itself.
    fn box_recursive_fields(&mut self) {
        let mut edges: HashMap<&str, Vec<&str>> = HashMap::new();
        for st in &self.schema.structs {
            for f in &st.fields {
                if let (false, FieldType::Struct(t)) = (f.repeated, &f.ty) {
                    edges.entry(st.name.as_str()).or_default().push(t.as_str());
                }
            }
        }
        let reaches = |from: &str, to: &str| -> bool {
            let mut seen = BTreeSet::new();
            let mut stack = vec![from];
            while let Some(n) = stack.pop() {
                if n == to {
                    return true;
                }
                if seen.insert(n) {
                    stack.extend(edges.get(n).into_iter().flatten().copied());
                }
            }
            false
        };
        let mut to_box = Vec::new();
        for (i, st) in self.schema.structs.iter().enumerate() {
            for (j, f) in st.fields.iter().enumerate() {
                if let (false, FieldType::Struct(t)) = (f.repeated, &f.ty) {
                    if reaches(t, &st.name) {
                        to_box.push((i, j));
                    }
                }
            }
        }
        for (i, j) in to_box {
            self.schema.structs[i].fields[j].boxed = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn element_names_become_rust_field_names() {
        assert_eq!(snake_case("birthDate"), "birth_date");
        assert_eq!(snake_case("type"), "r#type");
        assert_eq!(snake_case("use"), "r#use");
        assert_eq!(snake_case("url"), "url");
        assert_eq!(snake_case("valueSetURI"), "value_set_uri");
        assert_eq!(snake_case("effectiveDateTime"), "effective_date_time");
    }

    #[test]
    fn codes_become_variant_names() {
        assert_eq!(variant_name("entered-in-error", ""), "EnteredInError");
        assert_eq!(variant_name("4.0.1", ""), "V4_0_1");
        assert_eq!(variant_name("<=", "Less or Equal to"), "LessOrEqualTo");
        assert_eq!(variant_name("text/plain", ""), "TextPlain");
        assert_eq!(variant_name("Self", ""), "SelfCode");
    }

    fn r4() -> Schema {
        Schema::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../definitions/r4")).unwrap()
    }

    #[test]
    fn r4_has_every_resource_and_its_backbone_elements() {
        let schema = r4();
        assert_eq!(schema.resources.len(), 146);
        let contact = schema
            .struct_def("PatientContact")
            .expect("Patient.contact struct");
        assert_eq!(contact.kind, StructKind::Backbone);
        let patient = schema.struct_def("Patient").unwrap();
        let deceased = patient
            .fields
            .iter()
            .find(|f| f.json_name == "deceased")
            .unwrap();
        assert_eq!(deceased.ty, FieldType::Choice("PatientDeceased".into()));
        let gender = patient
            .fields
            .iter()
            .find(|f| f.json_name == "gender")
            .unwrap();
        assert!(
            matches!(&gender.ty, FieldType::Primitive(p) if p.value_type == "codes::AdministrativeGender")
        );
        // Questionnaire.item.item refers back to Questionnaire.item.
        let item = schema.struct_def("QuestionnaireItem").unwrap();
        let nested = item.fields.iter().find(|f| f.json_name == "item").unwrap();
        assert!(nested.repeated && nested.ty == FieldType::Struct("QuestionnaireItem".into()));
        // Extension.url and Element.id are plain strings, written as XML attributes.
        let extension = schema.struct_def("Extension").unwrap();
        assert_eq!(extension.fields[0].ty, FieldType::PlainString);
        assert!(extension
            .fields
            .iter()
            .any(|f| f.json_name == "url" && f.xml_attribute));
    }

    #[test]
    fn self_containing_fields_are_boxed() {
        let schema = r4();
        // Identifier.assigner is a Reference, and Reference.identifier an Identifier.
        let identifier = schema.struct_def("Identifier").unwrap();
        assert!(
            identifier
                .fields
                .iter()
                .find(|f| f.json_name == "assigner")
                .unwrap()
                .boxed
        );
        let patient = schema.struct_def("Patient").unwrap();
        assert!(
            !patient
                .fields
                .iter()
                .find(|f| f.json_name == "meta")
                .unwrap()
                .boxed
        );
    }

    #[test]
    fn open_choices_share_the_data_type_enum() {
        let schema = r4();
        let data_type = schema
            .choices
            .iter()
            .find(|c| c.name == "DataType")
            .unwrap();
        assert!(
            data_type.variants.len() >= 49,
            "{}",
            data_type.variants.len()
        );
        let fixed = schema
            .struct_def("ElementDefinition")
            .unwrap()
            .fields
            .iter()
            .find(|f| f.json_name == "fixed")
            .unwrap()
            .ty
            .clone();
        assert_eq!(fixed, FieldType::Choice("DataType".into()));
    }
}
