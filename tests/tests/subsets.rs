//! `_summary` and `_elements` on every official example: what the kit's writer keeps is
//! compared with what the definitions say to keep, worked out here apart from the kit (from
//! `definitions/<version>/structure-definitions.json`, over plain JSON), and the subset must
//! read back strictly as its type.

use fhir_model::json::{to_vec_subset, Subset, SubsetMode};
use fhir_model::xml::XmlResource;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// An element of the definitions, as this test reads it.
struct Element {
    summary: bool,
    modifier: bool,
    mandatory: bool,
    /// Its children are elements of the definition (a backbone element), at this path.
    backbone: Option<String>,
}

/// Every element of every type by path (`Patient.contact.name`, `Observation.value[x]`).
struct Definitions {
    elements: HashMap<String, Element>,
}

impl Definitions {
    fn load(version: &str) -> Definitions {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../definitions")
            .join(version)
            .join("structure-definitions.json");
        let text = std::fs::read_to_string(&path).unwrap();
        let structures: Vec<Value> = serde_json::from_str(&text).unwrap();
        let mut elements = HashMap::new();
        for sd in &structures {
            let list = sd["elements"].as_array().map(Vec::as_slice).unwrap_or(&[]);
            for e in list {
                let path = e["path"].as_str().unwrap().to_string();
                let has_children = list.iter().any(|c| {
                    c["path"]
                        .as_str()
                        .is_some_and(|p| p.starts_with(&format!("{path}.")))
                });
                let backbone = match e["contentReference"].as_str() {
                    Some(target) => Some(target.trim_start_matches('#').to_string()),
                    None if has_children && path.contains('.') => Some(path.clone()),
                    None => None,
                };
                let flag = |k: &str| e[k].as_bool().unwrap_or(false);
                elements.insert(
                    path,
                    Element {
                        summary: flag("summary"),
                        modifier: flag("modifier"),
                        mandatory: e["min"].as_u64().unwrap_or(0) > 0,
                        backbone,
                    },
                );
            }
        }
        Definitions { elements }
    }

    /// The element a JSON member name stands for under `path` (choices by their `[x]` path).
    fn element(&self, path: &str, member: &str) -> (&Element, String) {
        let name = member.strip_prefix('_').unwrap_or(member);
        if let Some(e) = self.elements.get(&format!("{path}.{name}")) {
            return (e, name.to_string());
        }
        // A choice: the longest `base[x]` whose base starts the name.
        (1..name.len())
            .rev()
            .find_map(|i| {
                let base = &name[..i];
                self.elements
                    .get(&format!("{path}.{base}[x]"))
                    .map(|e| (e, base.to_string()))
            })
            .unwrap_or_else(|| panic!("{path}.{member} is not in the definitions"))
    }

    /// What `mode` keeps of `object`, the members of the element at `path`.
    fn expected(
        &self,
        mode: &SubsetMode,
        path: &str,
        top: bool,
        object: &Map<String, Value>,
    ) -> Map<String, Value> {
        let mut kept = Map::new();
        for (member, value) in object {
            if member == "resourceType" {
                kept.insert(member.clone(), value.clone());
                continue;
            }
            let (element, name) = self.element(path, member);
            let always = element.modifier || (top && (name == "id" || name == "meta"));
            let keep = always
                || match mode {
                    SubsetMode::Summary => element.summary,
                    SubsetMode::Text => top && (name == "text" || element.mandatory),
                    SubsetMode::Data => !(top && name == "text"),
                    SubsetMode::Elements(names) => {
                        top && (element.mandatory || names.iter().any(|n| n == &name))
                    }
                };
            if !keep {
                continue;
            }
            let value = match (&element.backbone, mode) {
                (Some(backbone), SubsetMode::Summary) => match value {
                    Value::Object(o) => Value::Object(self.expected(mode, backbone, false, o)),
                    Value::Array(items) => Value::Array(
                        items
                            .iter()
                            .filter_map(|item| {
                                let o = self.expected(mode, backbone, false, item.as_object()?);
                                (!o.is_empty()).then_some(Value::Object(o))
                            })
                            .collect(),
                    ),
                    other => other.clone(),
                },
                _ => value.clone(),
            };
            let empty = match &value {
                Value::Object(o) => o.is_empty(),
                Value::Array(a) => a.is_empty(),
                _ => false,
            };
            if !empty {
                kept.insert(member.clone(), value);
            }
        }
        kept
    }
}

/// For each mode, writes every example of the package subset and compares it with what
/// the definitions keep; returns how many resources were compared.
fn check<R>(version: &str, package: &str, package_version: &str) -> usize
where
    R: fhir_model::json::JsonValue + XmlResource,
{
    let definitions = Definitions::load(version);
    let dir = fhir_tests::package(package, package_version);
    let files = fhir_tests::json_resources(&dir);
    let table = R::xml_table();
    let mut compared = 0;
    let mut failures = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let Ok(resource) = fhir_model::json::from_str::<R>(&text) else {
            continue;
        };
        let input: Value = fhir_tests::exact_json(&text).unwrap();
        let object = input.as_object().unwrap();
        let resource_type = object["resourceType"].as_str().unwrap();
        // `_elements` asks for the first top-level element that is neither mandatory nor a
        // modifier, and one that does not exist in this resource.
        let asked = object
            .keys()
            .filter(|k| !k.starts_with('_') && *k != "resourceType" && *k != "id" && *k != "meta")
            .find(|k| {
                let (e, _) = definitions.element(resource_type, k);
                !e.mandatory && !e.modifier
            })
            .cloned()
            .unwrap_or_else(|| "identifier".to_string());
        let modes = [
            SubsetMode::Summary,
            SubsetMode::Text,
            SubsetMode::Data,
            SubsetMode::Elements(Arc::from(vec![asked.clone(), "nothing".to_string()])),
            SubsetMode::Elements(Arc::from(vec![format!("{resource_type}.{asked}")])),
        ];
        for mode in modes {
            let subset = Subset::new(table, mode.clone());
            let out = to_vec_subset(&resource, &subset, false);
            let out = String::from_utf8(out).unwrap();
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            if let Err(e) = fhir_model::json::from_str::<R>(&out) {
                failures.push(format!(
                    "{name} {mode:?}: the subset does not read back: {e}"
                ));
                continue;
            }
            let mode_for_oracle = match &mode {
                SubsetMode::Elements(names) => SubsetMode::Elements(
                    names
                        .iter()
                        .map(|n| {
                            n.trim_start_matches(&format!("{resource_type}."))
                                .to_string()
                        })
                        .collect::<Vec<_>>()
                        .into(),
                ),
                other => other.clone(),
            };
            let mut expected = definitions.expected(&mode_for_oracle, resource_type, true, object);
            // The writer tags what it subsets.
            let meta = expected
                .entry("meta")
                .or_insert_with(|| Value::Object(Map::new()));
            let tags = meta
                .as_object_mut()
                .unwrap()
                .entry("tag")
                .or_insert_with(|| Value::Array(Vec::new()));
            tags.as_array_mut().unwrap().push(serde_json::json!({
                "system": fhir_model::json::SUBSETTED_SYSTEM,
                "code": fhir_model::json::SUBSETTED_CODE,
                "display": fhir_model::json::SUBSETTED_DISPLAY,
            }));
            let expected = Value::Object(expected);
            let got: Value = fhir_tests::exact_json(&out).unwrap();
            if let Some(difference) = fhir_tests::first_difference(&expected, &got) {
                failures.push(format!("{name} {mode:?}: {difference}"));
            }
            compared += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "{version}: {} of {compared} subsets differ from the definitions:\n{}",
        failures.len(),
        failures
            .iter()
            .take(30)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    compared
}

#[test]
fn r4_subsets_of_every_example_follow_the_definitions() {
    let compared = check::<fhir_model::r4::Resource>("r4", "hl7.fhir.r4.examples", "4.0.1");
    // Five modes of each of the ~2,900 examples.
    assert!(compared > 14_000, "only {compared} subsets compared");
}

#[test]
fn r5_subsets_of_every_example_follow_the_definitions() {
    let compared = check::<fhir_model::r5::Resource>("r5", "hl7.fhir.r5.examples", "5.0.0");
    assert!(compared > 10_000, "only {compared} subsets compared");
}
