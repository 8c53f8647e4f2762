//! Recreates `definitions/` from the official FHIR packages.
//!
//! The packages are large (75 to 190 MB unpacked each); the model generator needs a small part
//! of them. This module reads an unpacked package, keeps what the generator and the server kit
//! read (the StructureDefinitions of datatypes and resources, the SearchParameters, the
//! ValueSets behind required bindings, expanded to their codes, and the CompartmentDefinitions)
//! and writes it as compact JSON, one element per line so that a change between package versions
//! reads well in a diff.

use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

/// One FHIR version the model is generated for, and the package its definitions come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FhirRelease {
    /// Module and feature name in fhir-model: `r4`, `r4b` or `r5`.
    pub key: &'static str,
    /// The FHIR version, as in `CapabilityStatement.fhirVersion`.
    pub fhir_version: &'static str,
    /// The npm-format package the definitions are read from.
    pub package: &'static str,
    /// That package's version.
    pub package_version: &'static str,
    /// The package holding the official examples of this version.
    pub examples_package: &'static str,
}

/// The pinned FHIR versions. hl7.fhir.r4.core is not published on every registry, but the R4
/// examples package carries every R4 definition too.
pub const RELEASES: [FhirRelease; 3] = [
    FhirRelease {
        key: "r4",
        fhir_version: "4.0.1",
        package: "hl7.fhir.r4.examples",
        package_version: "4.0.1",
        examples_package: "hl7.fhir.r4.examples",
    },
    FhirRelease {
        key: "r4b",
        fhir_version: "4.3.0",
        package: "hl7.fhir.r4b.core",
        package_version: "4.3.0",
        examples_package: "hl7.fhir.r4b.examples",
    },
    FhirRelease {
        key: "r5",
        fhir_version: "5.0.0",
        package: "hl7.fhir.r5.core",
        package_version: "5.0.0",
        examples_package: "hl7.fhir.r5.examples",
    },
];

/// Looks a release up by its key (`r4`, `r4b`, `r5`).
pub fn release(key: &str) -> Option<&'static FhirRelease> {
    RELEASES.iter().find(|r| r.key == key)
}

/// File names inside `definitions/<key>/`.
pub const STRUCTURES_FILE: &str = "structure-definitions.json";
/// See [`STRUCTURES_FILE`].
pub const SEARCH_PARAMETERS_FILE: &str = "search-parameters.json";
/// See [`STRUCTURES_FILE`].
pub const VALUE_SETS_FILE: &str = "value-sets.json";
/// See [`STRUCTURES_FILE`]: the value sets of required bindings on types other than `code`.
pub const BOUND_VALUE_SETS_FILE: &str = "bound-value-sets.json";
/// See [`STRUCTURES_FILE`].
pub const COMPARTMENTS_FILE: &str = "compartments.json";

const CORE: &str = "http://hl7.org/fhir/StructureDefinition/";
const COMPARTMENT_BASE: &str = "http://hl7.org/fhir/CompartmentDefinition/";
const FHIR_TYPE_EXT: &str = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type";
const REGEX_EXT: &str = "http://hl7.org/fhir/StructureDefinition/regex";

/// What [`prune_package`] kept.
#[derive(Debug, Default)]
pub struct PruneSummary {
    /// StructureDefinitions written.
    pub structures: usize,
    /// SearchParameters written.
    pub search_parameters: usize,
    /// Value sets expanded to a closed list of codes.
    pub closed_value_sets: usize,
    /// Value sets behind required bindings that could not be closed (external code systems,
    /// filters), kept as plain codes in the model.
    pub open_value_sets: usize,
    /// Value sets of required bindings on types other than `code`, for validation.
    pub bound_value_sets: usize,
    /// CompartmentDefinitions written (one per compartment: Patient, Encounter, ...).
    pub compartments: usize,
    /// Resource types in a compartment (with at least one `param`), over all compartments.
    pub compartment_entries: usize,
}

/// Reads the unpacked package at `package_dir` (the folder holding `package.json`) and writes the
/// pruned definitions into `out_dir`.
pub fn prune_package(package_dir: &Path, out_dir: &Path) -> Result<PruneSummary, String> {
    let mut structures = Vec::new();
    let mut search_parameters = Vec::new();
    let mut value_sets = HashMap::new();
    let mut code_systems = HashMap::new();
    let mut compartment_definitions = Vec::new();
    for path in package_resource_files(package_dir)? {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let kind = name.split('-').next().unwrap_or("");
        if !matches!(
            kind,
            "StructureDefinition"
                | "SearchParameter"
                | "ValueSet"
                | "CodeSystem"
                | "CompartmentDefinition"
        ) {
            continue;
        }
        let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let value: Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let url = str_of(&value, "url").to_string();
        match str_of(&value, "resourceType") {
            "StructureDefinition" => structures.push(value),
            "SearchParameter" => search_parameters.push(value),
            "ValueSet" => {
                value_sets.insert(url, value);
            }
            "CodeSystem" => {
                code_systems.insert(url, value);
            }
            "CompartmentDefinition" => compartment_definitions.push(value),
            _ => {}
        }
    }

    let mut kept_structures = Vec::new();
    let mut required_value_sets = BTreeSet::new();
    let mut bound_value_sets = BTreeSet::new();
    for sd in &structures {
        let mut sets = BoundValueSets {
            codes: &mut required_value_sets,
            others: &mut bound_value_sets,
        };
        if let Some(pruned) = prune_structure(sd, &mut sets) {
            kept_structures.push(pruned);
        }
    }
    kept_structures.sort_by(|a, b| str_of(a, "name").cmp(str_of(b, "name")));
    let type_names: BTreeSet<&str> = kept_structures.iter().map(|s| str_of(s, "name")).collect();

    let mut kept_parameters: Vec<Value> = search_parameters
        .iter()
        .filter(|sp| str_of(sp, "url").starts_with("http://hl7.org/fhir/SearchParameter/"))
        .filter(|sp| {
            array_of(sp, "base")
                .iter()
                .any(|b| type_names.contains(b.as_str().unwrap_or("")))
        })
        .map(prune_search_parameter)
        .collect();
    kept_parameters.sort_by(|a, b| str_of(a, "url").cmp(str_of(b, "url")));

    let compartments = prune_compartments(&compartment_definitions)?;
    let mut summary = PruneSummary {
        structures: kept_structures.len(),
        search_parameters: kept_parameters.len(),
        compartments: compartments.len(),
        compartment_entries: compartments.values().map(|c| c.resources.len()).sum(),
        ..PruneSummary::default()
    };
    let expander = Expander {
        value_sets: &value_sets,
        code_systems: &code_systems,
    };
    let (kept_value_sets, closed, open) =
        expand_value_sets(&required_value_sets, &value_sets, &expander);
    summary.closed_value_sets = closed;
    summary.open_value_sets = open;
    let (kept_bound_value_sets, _, _) =
        expand_value_sets(&bound_value_sets, &value_sets, &expander);
    summary.bound_value_sets = kept_bound_value_sets.len();

    fs::create_dir_all(out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    write_file(
        &out_dir.join(STRUCTURES_FILE),
        &structures_text(&kept_structures),
    )?;
    write_file(
        &out_dir.join(SEARCH_PARAMETERS_FILE),
        &lines_text(&kept_parameters),
    )?;
    write_file(
        &out_dir.join(VALUE_SETS_FILE),
        &lines_text(&kept_value_sets),
    )?;
    write_file(
        &out_dir.join(BOUND_VALUE_SETS_FILE),
        &lines_text(&kept_bound_value_sets),
    )?;
    write_file(
        &out_dir.join(COMPARTMENTS_FILE),
        &compartments_text(&compartments),
    )?;
    Ok(summary)
}

/// The value sets at `urls`, expanded to their codes where they can be closed; with how many
/// were closed and how many stay open.
fn expand_value_sets(
    urls: &BTreeSet<String>,
    value_sets: &HashMap<String, Value>,
    expander: &Expander<'_>,
) -> (Vec<Value>, usize, usize) {
    let (mut closed, mut open) = (0, 0);
    let mut kept = Vec::new();
    for url in urls {
        let Some(vs) = value_sets.get(url) else {
            open += 1;
            kept.push(json!({"url": url, "open": "not in the package"}));
            continue;
        };
        let mut out = Map::new();
        out.insert("url".into(), json!(url));
        out.insert("name".into(), json!(str_of(vs, "name")));
        if let Some(title) = vs.get("title") {
            out.insert("title".into(), title.clone());
        }
        match expander.expand(vs, 0) {
            Ok(codes) => {
                closed += 1;
                out.insert("codes".into(), Value::Array(codes));
            }
            Err(reason) => {
                open += 1;
                out.insert("open".into(), json!(reason));
            }
        }
        kept.push(Value::Object(out));
    }
    (kept, closed, open)
}

/// The JSON resources at the top of an unpacked package folder, sorted by name: every `.json`
/// file but the package's own `package.json` and `.index.json`.
pub fn package_resource_files(package_dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries =
        fs::read_dir(package_dir).map_err(|e| format!("{}: {e}", package_dir.display()))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| format!("{}: {e}", package_dir.display()))?
            .path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.ends_with(".json") && name != "package.json" && !name.starts_with('.') {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn write_file(path: &Path, text: &str) -> Result<(), String> {
    fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn array_of<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// Strips a `|version` suffix from a canonical URL.
fn unversioned(url: &str) -> &str {
    url.split('|').next().unwrap_or(url)
}

/// Keeps the StructureDefinitions the model is made of: every primitive, complex type and
/// resource that the core specification defines, and the core profiles on datatypes
/// (SimpleQuantity, MoneyQuantity) that elements name as their type.
fn prune_structure(sd: &Value, value_sets: &mut BoundValueSets<'_>) -> Option<Value> {
    let url = str_of(sd, "url");
    let kind = str_of(sd, "kind");
    let derivation = str_of(sd, "derivation");
    if !url.starts_with(CORE) || !matches!(kind, "primitive-type" | "complex-type" | "resource") {
        return None;
    }
    let name = str_of(sd, "name");
    let mut out = Map::new();
    out.insert("name".into(), json!(name));
    out.insert("url".into(), json!(url));
    out.insert("kind".into(), json!(kind));
    out.insert(
        "abstract".into(),
        json!(sd.get("abstract").and_then(Value::as_bool).unwrap_or(false)),
    );
    if let Some(base) = sd.get("baseDefinition").and_then(Value::as_str) {
        out.insert("base".into(), json!(base.trim_start_matches(CORE)));
    }
    match derivation {
        "constraint" => {
            // Only the core datatype profiles: an element typed SimpleQuantity is a Quantity.
            let id = url.trim_start_matches(CORE);
            if kind != "complex-type" || str_of(sd, "type") == "Extension" || id.contains('-') {
                return None;
            }
            out.insert("derivation".into(), json!("constraint"));
            out.insert("type".into(), json!(str_of(sd, "type")));
            return Some(Value::Object(out));
        }
        "specialization" | "" => {}
        _ => return None,
    }
    out.insert("derivation".into(), json!("specialization"));
    if let Some(description) = sd.get("description").and_then(Value::as_str) {
        out.insert("description".into(), json!(first_paragraph(description)));
    }
    let elements = sd
        .get("snapshot")
        .and_then(|s| s.get("element"))
        .and_then(Value::as_array)?;
    let pruned: Vec<Value> = elements
        .iter()
        .map(|e| prune_element(e, url, value_sets))
        .collect();
    out.insert("elements".into(), Value::Array(pruned));
    Some(Value::Object(out))
}

fn first_paragraph(text: &str) -> &str {
    text.split("\n\n").next().unwrap_or(text).trim()
}

/// The value sets behind required bindings, as [`prune_element`] collects them.
struct BoundValueSets<'a> {
    /// Bound to elements of type `code`: the model makes enums of them ([`VALUE_SETS_FILE`]).
    codes: &'a mut BTreeSet<String>,
    /// Bound to elements of other types (Coding, CodeableConcept, Quantity, string, uri):
    /// only validation reads them ([`BOUND_VALUE_SETS_FILE`]).
    others: &'a mut BTreeSet<String>,
}

fn prune_element(e: &Value, structure_url: &str, value_sets: &mut BoundValueSets<'_>) -> Value {
    let mut out = Map::new();
    out.insert("path".into(), json!(str_of(e, "path")));
    out.insert("min".into(), e.get("min").cloned().unwrap_or(json!(0)));
    out.insert("max".into(), json!(str_of(e, "max")));
    // `_summary` keeps the summary elements; `_elements` and `_summary=text` keep modifiers.
    for (flag, key) in [("isSummary", "summary"), ("isModifier", "modifier")] {
        if e.get(flag).and_then(Value::as_bool) == Some(true) {
            out.insert(key.into(), json!(true));
        }
    }
    let base_path = e
        .get("base")
        .and_then(|b| b.get("path"))
        .and_then(Value::as_str);
    if let Some(base_path) = base_path {
        if base_path != str_of(e, "path") {
            out.insert("basePath".into(), json!(base_path));
        }
    }
    let mut types = Vec::new();
    for t in array_of(e, "type") {
        let mut code = str_of(t, "code").to_string();
        // The `value` of primitives and `Element.id` are typed with FHIRPath system types;
        // the FHIR type they stand for is in an extension.
        if code.starts_with("http://hl7.org/fhirpath/System.") {
            for ext in array_of(t, "extension") {
                if str_of(ext, "url") == FHIR_TYPE_EXT {
                    let v = ext
                        .get("valueUrl")
                        .or_else(|| ext.get("valueUri"))
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    if !v.is_empty() {
                        code = v.trim_start_matches(CORE).to_string();
                    }
                }
            }
        }
        let mut t_out = Map::new();
        t_out.insert("code".into(), json!(code));
        // The lexical rule of a primitive's value (`date.value`), checked by validation.
        for ext in array_of(t, "extension") {
            if str_of(ext, "url") == REGEX_EXT {
                out.insert("regex".into(), json!(str_of(ext, "valueString")));
            }
        }
        let targets: Vec<&str> = array_of(t, "targetProfile")
            .iter()
            .filter_map(Value::as_str)
            .map(|p| p.trim_start_matches(CORE))
            .collect();
        if !targets.is_empty() {
            t_out.insert("targets".into(), json!(targets));
        }
        types.push(Value::Object(t_out));
    }
    if !types.is_empty() {
        out.insert("types".into(), Value::Array(types));
    }
    if let Some(reference) = e.get("contentReference").and_then(Value::as_str) {
        let path = reference.rsplit('#').next().unwrap_or(reference);
        out.insert("contentReference".into(), json!(path));
    }
    if let Some(binding) = e.get("binding") {
        let is_code = array_of(e, "type")
            .iter()
            .any(|t| str_of(t, "code") == "code");
        if str_of(binding, "strength") == "required" {
            if let Some(vs) = binding.get("valueSet").and_then(Value::as_str) {
                let vs = unversioned(vs).to_string();
                if is_code {
                    out.insert("binding".into(), json!(vs));
                    value_sets.codes.insert(vs);
                } else {
                    out.insert("requiredBinding".into(), json!(vs));
                    value_sets.others.insert(vs);
                }
            }
        }
    }
    // The invariants this definition adds; those it inherits (ele-1 on every element, dom-*
    // on every resource) are kept once, on the definition that states them.
    let constraints: Vec<Value> = array_of(e, "constraint")
        .iter()
        .filter(|c| {
            let source = str_of(c, "source");
            source.is_empty() || source == structure_url
        })
        .map(|c| {
            let mut kept = Map::new();
            for key in ["key", "severity", "human", "expression"] {
                if let Some(v) = c.get(key) {
                    kept.insert(key.into(), v.clone());
                }
            }
            Value::Object(kept)
        })
        .collect();
    if !constraints.is_empty() {
        out.insert("constraints".into(), Value::Array(constraints));
    }
    let representation = array_of(e, "representation");
    if !representation.is_empty() {
        out.insert(
            "representation".into(),
            Value::Array(representation.to_vec()),
        );
    }
    out.insert("short".into(), json!(str_of(e, "short")));
    Value::Object(out)
}

fn prune_search_parameter(sp: &Value) -> Value {
    let mut out = Map::new();
    for key in [
        "url",
        "name",
        "code",
        "base",
        "type",
        "expression",
        "target",
        "multipleOr",
        "multipleAnd",
        "comparator",
        "modifier",
        "chain",
    ] {
        if let Some(v) = sp.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    if let Some(d) = sp.get("description").and_then(Value::as_str) {
        out.insert("description".into(), json!(d));
    }
    let components: Vec<Value> = array_of(sp, "component")
        .iter()
        .map(|c| {
            json!({
                "definition": str_of(c, "definition"),
                "expression": str_of(c, "expression"),
            })
        })
        .collect();
    if !components.is_empty() {
        out.insert("component".into(), Value::Array(components));
    }
    Value::Object(out)
}

/// One compartment of the core specification, as kept in [`COMPARTMENTS_FILE`].
#[derive(Debug)]
struct Compartment {
    url: String,
    /// Resource type -> the search parameters linking it to the compartment's owner, in the
    /// definition's order (`{def}` stands for the owner itself). Types listed without a
    /// parameter are not in the compartment and are left out.
    resources: BTreeMap<String, Vec<String>>,
}

/// Keeps the core CompartmentDefinitions, by compartment code. The package also holds an
/// example (`CompartmentDefinition/example`, code `Device`); a core definition is the one whose
/// URL is named after its code (`.../CompartmentDefinition/relatedPerson` for `RelatedPerson`).
fn prune_compartments(definitions: &[Value]) -> Result<BTreeMap<String, Compartment>, String> {
    let mut compartments = BTreeMap::new();
    for cd in definitions {
        let code = str_of(cd, "code");
        let url = str_of(cd, "url");
        let own_url = format!("{COMPARTMENT_BASE}{code}");
        if code.is_empty() || !url.eq_ignore_ascii_case(&own_url) {
            continue;
        }
        let mut resources = BTreeMap::new();
        for resource in array_of(cd, "resource") {
            let params: Vec<String> = array_of(resource, "param")
                .iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect();
            if params.is_empty() {
                continue;
            }
            let ty = str_of(resource, "code");
            if resources.insert(ty.to_string(), params).is_some() {
                return Err(format!("{url}: resource type {ty} is listed twice"));
            }
        }
        let compartment = Compartment {
            url: url.to_string(),
            resources,
        };
        if compartments.insert(code.to_string(), compartment).is_some() {
            return Err(format!(
                "two CompartmentDefinitions for the compartment {code}"
            ));
        }
    }
    Ok(compartments)
}

/// The compartments, sorted by code, with one resource type per line, sorted by name:
/// `{"code":"Patient","url":"...","resource":{"Account":["subject"],...}}`.
fn compartments_text(compartments: &BTreeMap<String, Compartment>) -> String {
    let mut s = String::from("[\n");
    for (i, (code, c)) in compartments.iter().enumerate() {
        let _ = writeln!(
            s,
            "{{\"code\":{},\"url\":{},\"resource\":{{",
            json!(code),
            json!(c.url)
        );
        for (j, (ty, params)) in c.resources.iter().enumerate() {
            let _ = write!(s, "  {}:{}", json!(ty), json!(params));
            s.push_str(if j + 1 < c.resources.len() {
                ",\n"
            } else {
                "\n"
            });
        }
        s.push_str("}}");
        s.push_str(if i + 1 < compartments.len() {
            ",\n"
        } else {
            "\n"
        });
    }
    s.push_str("]\n");
    s
}

/// Expands value sets to closed lists of codes, from the code systems in the same package.
struct Expander<'a> {
    value_sets: &'a HashMap<String, Value>,
    code_systems: &'a HashMap<String, Value>,
}

impl Expander<'_> {
    fn expand(&self, vs: &Value, depth: usize) -> Result<Vec<Value>, String> {
        if depth > 8 {
            return Err("value set imports nest too deeply".into());
        }
        let compose = vs.get("compose").ok_or_else(|| "no compose".to_string())?;
        let mut codes: BTreeMap<(String, String), Value> = BTreeMap::new();
        let mut order = Vec::new();
        for include in array_of(compose, "include") {
            for code in self.include(include, depth)? {
                let key = (
                    str_of(&code, "system").to_string(),
                    str_of(&code, "code").to_string(),
                );
                if let std::collections::btree_map::Entry::Vacant(slot) = codes.entry(key) {
                    order.push(slot.key().clone());
                    slot.insert(code);
                }
            }
        }
        for exclude in array_of(compose, "exclude") {
            for code in self.include(exclude, depth)? {
                let key = (
                    str_of(&code, "system").to_string(),
                    str_of(&code, "code").to_string(),
                );
                codes.remove(&key);
            }
        }
        let list: Vec<Value> = order.into_iter().filter_map(|k| codes.remove(&k)).collect();
        let distinct: BTreeSet<&str> = list.iter().map(|c| str_of(c, "code")).collect();
        if distinct.len() != list.len() {
            return Err("the same code comes from two code systems".into());
        }
        if list.is_empty() {
            return Err("no codes".into());
        }
        Ok(list)
    }

    fn include(&self, include: &Value, depth: usize) -> Result<Vec<Value>, String> {
        let mut result: Option<Vec<Value>> = None;
        let system = str_of(include, "system");
        if !system.is_empty() {
            if !array_of(include, "filter").is_empty() {
                return Err(format!("filter on {system}"));
            }
            let listed = array_of(include, "concept");
            let cs = self.code_systems.get(system);
            let mut all = Vec::new();
            if let Some(cs) = cs {
                collect_concepts(system, array_of(cs, "concept"), &mut all);
            }
            let codes = if listed.is_empty() {
                let complete = cs
                    .map(|cs| str_of(cs, "content") == "complete")
                    .unwrap_or(false);
                if !complete || all.is_empty() {
                    return Err(format!("code system {system} is not in the package"));
                }
                all
            } else {
                listed
                    .iter()
                    .map(|c| {
                        let code = str_of(c, "code");
                        let known = all.iter().find(|k| str_of(k, "code") == code);
                        let mut v = known
                            .cloned()
                            .unwrap_or_else(|| json!({"system": system, "code": code}));
                        if let Some(display) = c.get("display") {
                            v["display"] = display.clone();
                        }
                        v
                    })
                    .collect()
            };
            result = Some(codes);
        }
        for imported in array_of(include, "valueSet") {
            let url = unversioned(imported.as_str().unwrap_or(""));
            let vs = self
                .value_sets
                .get(url)
                .ok_or_else(|| format!("imported value set {url} is not in the package"))?;
            let codes = self.expand(vs, depth + 1)?;
            result = Some(match result {
                // Several imports and a system intersect; FHIR's core sets only import one.
                Some(prev) => prev
                    .into_iter()
                    .filter(|c| codes.iter().any(|d| str_of(d, "code") == str_of(c, "code")))
                    .collect(),
                None => codes,
            });
        }
        result.ok_or_else(|| "include with neither system nor value set".to_string())
    }
}

fn collect_concepts(system: &str, concepts: &[Value], out: &mut Vec<Value>) {
    for c in concepts {
        let mut v = Map::new();
        v.insert("system".into(), json!(system));
        v.insert("code".into(), json!(str_of(c, "code")));
        if let Some(d) = c.get("display") {
            v.insert("display".into(), d.clone());
        }
        if let Some(d) = c.get("definition").and_then(Value::as_str) {
            v.insert("definition".into(), json!(first_paragraph(d)));
        }
        out.push(Value::Object(v));
        collect_concepts(system, array_of(c, "concept"), out);
    }
}

/// A JSON array with one value per line.
fn lines_text(values: &[Value]) -> String {
    let mut s = String::from("[\n");
    for (i, v) in values.iter().enumerate() {
        s.push_str(&v.to_string());
        s.push_str(if i + 1 < values.len() { ",\n" } else { "\n" });
    }
    s.push_str("]\n");
    s
}

/// StructureDefinitions with their elements one per line.
fn structures_text(structures: &[Value]) -> String {
    let mut s = String::from("[\n");
    for (i, sd) in structures.iter().enumerate() {
        let mut head = sd.clone();
        let elements = head
            .as_object_mut()
            .and_then(|o| o.remove("elements"))
            .unwrap_or(Value::Null);
        let head_text = head.to_string();
        match elements.as_array() {
            Some(elements) => {
                // Reopen the object to append the element list, one element per line.
                let _ = writeln!(s, "{},\"elements\":[", &head_text[..head_text.len() - 1]);
                for (j, e) in elements.iter().enumerate() {
                    s.push_str("  ");
                    s.push_str(&e.to_string());
                    s.push_str(if j + 1 < elements.len() { ",\n" } else { "\n" });
                }
                s.push_str("]}");
            }
            None => s.push_str(&head_text),
        }
        s.push_str(if i + 1 < structures.len() {
            ",\n"
        } else {
            "\n"
        });
    }
    s.push_str("]\n");
    s
}
