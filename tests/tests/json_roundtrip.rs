//! Every JSON resource of the official examples packages of R4, R4B and R5 is read strictly
//! into the typed model and written back; the output must equal the input: the same members,
//! the same array order, numbers equal as text.

use fhir_model::json;
use fhir_tests::{package, roundtrip_failures};

fn check(
    name: &str,
    version: &str,
    minimum: usize,
    expected_failures: &[(&str, &str)],
    roundtrip: impl Fn(&str) -> Result<String, String>,
) {
    let dir = package(name, version);
    let (count, failures) = roundtrip_failures(&dir, roundtrip);
    assert!(
        count >= minimum,
        "{name}@{version}: only {count} JSON resources found in {}",
        dir.display()
    );
    let unexpected: Vec<_> = failures
        .iter()
        .filter(|(file, _)| !expected_failures.iter().any(|(f, _)| f == file))
        .collect();
    let fixed: Vec<_> = expected_failures
        .iter()
        .filter(|(f, _)| !failures.iter().any(|(file, _)| file == f))
        .collect();
    assert!(
        unexpected.is_empty() && fixed.is_empty(),
        "{name}@{version}: {} of {count} files failed unexpectedly:\n{}\nlisted exceptions that now pass: {fixed:?}",
        unexpected.len(),
        unexpected.iter().take(40).map(|(f, p)| format!("  {f}: {p}")).collect::<Vec<_>>().join("\n"),
    );
    eprintln!(
        "{name}@{version}: {} of {count} resources round-trip exactly",
        count - failures.len()
    );
}

#[test]
fn r4_examples_round_trip() {
    check("hl7.fhir.r4.examples", "4.0.1", 5300, &[], |text| {
        let resource = fhir_model::r4::Resource::from_json(text).map_err(|e| e.to_string())?;
        Ok(json::to_string(&resource))
    });
}

#[test]
fn r4b_examples_round_trip() {
    check("hl7.fhir.r4b.examples", "4.3.0", 2800, &[], |text| {
        let resource = fhir_model::r4b::Resource::from_json(text).map_err(|e| e.to_string())?;
        Ok(json::to_string(&resource))
    });
}

#[test]
fn r5_examples_round_trip() {
    check("hl7.fhir.r5.examples", "5.0.0", 2800, &[], |text| {
        let resource = fhir_model::r5::Resource::from_json(text).map_err(|e| e.to_string())?;
        Ok(json::to_string(&resource))
    });
}
