//! The generated compartment tables (`compartment_params`, `compartment_types`, `COMPARTMENTS`)
//! say exactly what the official CompartmentDefinitions of each version say.

use fhir_codegen::definitions::{release, FhirRelease};
use fhir_codegen::schema::Schema;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// One version's generated compartment functions.
struct Generated {
    release: &'static FhirRelease,
    compartments: &'static [&'static str],
    params: fn(&str, &str) -> Option<&'static [&'static str]>,
    types: fn(&str) -> Vec<&'static str>,
    resource_types: &'static [&'static str],
}

fn versions() -> [Generated; 3] {
    [
        Generated {
            release: release("r4").unwrap(),
            compartments: fhir_model::r4::COMPARTMENTS,
            params: fhir_model::r4::compartment_params,
            types: |c| fhir_model::r4::compartment_types(c).collect(),
            resource_types: fhir_model::r4::RESOURCE_TYPES,
        },
        Generated {
            release: release("r4b").unwrap(),
            compartments: fhir_model::r4b::COMPARTMENTS,
            params: fhir_model::r4b::compartment_params,
            types: |c| fhir_model::r4b::compartment_types(c).collect(),
            resource_types: fhir_model::r4b::RESOURCE_TYPES,
        },
        Generated {
            release: release("r5").unwrap(),
            compartments: fhir_model::r5::COMPARTMENTS,
            params: fhir_model::r5::compartment_params,
            types: |c| fhir_model::r5::compartment_types(c).collect(),
            resource_types: fhir_model::r5::RESOURCE_TYPES,
        },
    ]
}

/// The core CompartmentDefinitions of a package, by code (the package's example left out).
fn official_definitions(package: &Path) -> BTreeMap<String, Value> {
    let mut found = BTreeMap::new();
    for path in fhir_tests::json_resources(package) {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("CompartmentDefinition-")
            || name == "CompartmentDefinition-example.json"
        {
            continue;
        }
        let cd: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(cd["resourceType"], "CompartmentDefinition", "{name}");
        let code = cd["code"].as_str().unwrap().to_string();
        assert!(
            found.insert(code, cd).is_none(),
            "{name}: a second definition"
        );
    }
    found
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().map(|s| s.as_str().unwrap()).collect())
        .unwrap_or_default()
}

/// Every entry of every official CompartmentDefinition, in every version, against the tables.
#[test]
fn every_compartment_entry_matches_the_official_definitions() {
    for generated in versions() {
        let key = generated.release.key;
        let package =
            fhir_tests::package(generated.release.package, generated.release.package_version);
        let official = official_definitions(&package);
        let codes: Vec<&str> = official.keys().map(String::as_str).collect();
        assert_eq!(generated.compartments, codes, "{key}: COMPARTMENTS");
        let mut entries = 0;
        for (code, cd) in &official {
            let mut in_compartment = Vec::new();
            for resource in cd["resource"].as_array().unwrap() {
                let ty = resource["code"].as_str().unwrap();
                let params = strings(&resource["param"]);
                let expected = (!params.is_empty()).then_some(params.as_slice());
                assert_eq!(
                    (generated.params)(code, ty),
                    expected,
                    "{key}: compartment_params({code:?}, {ty:?})"
                );
                if expected.is_some() {
                    in_compartment.push(ty);
                    entries += 1;
                }
            }
            in_compartment.sort_unstable();
            assert_eq!((generated.types)(code), in_compartment, "{key}: {code}");
        }
        // The definitions list (nearly) every resource type; those they do not list are in
        // no compartment either.
        for ty in generated.resource_types {
            for code in &codes {
                let listed = official[*code]["resource"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|r| r["code"] == *ty);
                if !listed {
                    assert_eq!((generated.params)(code, ty), None, "{key}: {code} {ty}");
                }
            }
        }
        assert!(entries > 200, "{key}: only {entries} entries");
        assert_eq!((generated.params)("Nobody", "Observation"), None);
        assert_eq!((generated.params)("patient", "Observation"), None);
        assert!((generated.types)("Nobody").is_empty());
    }
}

/// Every parameter a compartment names (but `{def}`) is a search parameter of that resource
/// type in the same version, and every type is a resource type of the version.
#[test]
fn compartment_params_are_search_parameters_of_their_types() {
    let definitions = Path::new(env!("CARGO_MANIFEST_DIR")).join("../definitions");
    for generated in versions() {
        let key = generated.release.key;
        let schema = Schema::load(&definitions.join(key)).unwrap();
        for code in generated.compartments {
            assert!(generated.resource_types.contains(code), "{key}: {code}");
            for ty in (generated.types)(code) {
                assert!(generated.resource_types.contains(&ty), "{key}: {code} {ty}");
                let known: Vec<&str> = schema
                    .search_parameters_of(ty)
                    .iter()
                    .map(|sp| sp.code.as_str())
                    .collect();
                for param in (generated.params)(code, ty).unwrap() {
                    assert!(
                        *param == "{def}" || known.contains(param),
                        "{key}: compartment {code}, {ty}: {param} is no search parameter of {ty}"
                    );
                }
            }
        }
    }
}

/// A few values as the specification pages show them, and what differs between versions.
#[test]
fn known_compartment_entries() {
    use fhir_model::{r4, r5};
    let p = |v: &[&'static str]| -> Option<&'static [&'static str]> { Some(Vec::leak(v.to_vec())) };
    assert_eq!(
        r4::COMPARTMENTS,
        [
            "Device",
            "Encounter",
            "Patient",
            "Practitioner",
            "RelatedPerson"
        ]
    );
    assert_eq!(
        r4::compartment_params("Patient", "Observation"),
        p(&["subject", "performer"])
    );
    assert_eq!(
        r4::compartment_params("Device", "Observation"),
        p(&["subject", "device"])
    );
    assert_eq!(
        r4::compartment_params("Encounter", "Encounter"),
        p(&["{def}"])
    );
    // R4 puts a Patient in its own compartment only through `link`; R5 adds `{def}`.
    assert_eq!(r4::compartment_params("Patient", "Patient"), p(&["link"]));
    assert_eq!(
        r5::compartment_params("Patient", "Patient"),
        p(&["{def}", "link"])
    );
    assert_eq!(r4::compartment_params("Device", "Device"), None);
    assert_eq!(r4::compartment_params("Patient", "Medication"), None);
    assert_eq!(r5::compartment_params("Patient", "Medication"), None);
}
