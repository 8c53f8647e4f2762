//! Every JSON resource of the official examples packages of R4, R4B and R5 goes JSON -> model
//! -> XML -> model -> JSON, and the output must equal the original JSON (the same rules as the
//! JSON round trip). The XML written for every R5 example must validate against the official
//! schema (`fhir-single.xsd` of hl7.fhir.r5.core@5.0.0) with xmllint, except the one example
//! whose own data breaks a schema type (listed in the test with the reason).

use fhir_model::json;
use fhir_tests::{check_package_roundtrip as check, json_resources, package};
use std::path::{Path, PathBuf};
use std::process::Command;

/// JSON -> model -> XML -> model -> JSON for one version's `Resource` enum.
fn via_xml<R: fhir_model::xml::XmlResource>(text: &str) -> Result<String, String> {
    let resource: R = json::from_str(text).map_err(|e| format!("JSON: {e}"))?;
    let xml = fhir_model::xml::to_string(&resource).map_err(|e| format!("writing XML: {e}"))?;
    let back: R = fhir_model::xml::from_str(&xml).map_err(|e| format!("reading XML: {e}"))?;
    Ok(json::to_string(&back))
}

#[test]
fn r4_examples_round_trip_through_xml() {
    check(
        "hl7.fhir.r4.examples",
        "4.0.1",
        5300,
        &[],
        via_xml::<fhir_model::r4::Resource>,
    );
}

#[test]
fn r4b_examples_round_trip_through_xml() {
    check(
        "hl7.fhir.r4b.examples",
        "4.3.0",
        2800,
        &[],
        via_xml::<fhir_model::r4b::Resource>,
    );
}

#[test]
fn r5_examples_round_trip_through_xml() {
    check(
        "hl7.fhir.r5.examples",
        "5.0.0",
        2800,
        &[],
        via_xml::<fhir_model::r5::Resource>,
    );
}

/// The schema folder of hl7.fhir.r5.core, copied with the one file it imports but does not
/// ship: `xml.xsd`, the schema of the `xml:` attributes (ours, in tests/data).
fn schema_dir() -> PathBuf {
    let core = package("hl7.fhir.r5.core", "5.0.0").join("xml");
    let dir = std::env::temp_dir().join(format!("fhir-xsd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp folder");
    for name in [
        "fhir-single.xsd",
        "fhir-xhtml.xsd",
        "xmldsig-core-schema.xsd",
    ] {
        std::fs::copy(core.join(name), dir.join(name))
            .unwrap_or_else(|e| panic!("{}: {e}", core.join(name).display()));
    }
    let xml_xsd = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/xml.xsd");
    std::fs::copy(&xml_xsd, dir.join("xml.xsd")).expect("tests/data/xml.xsd");
    dir
}

#[test]
fn r5_examples_written_as_xml_validate_against_the_official_schema() {
    let examples = package("hl7.fhir.r5.examples", "5.0.0");
    let schema = schema_dir();
    let out = schema.join("examples");
    std::fs::create_dir_all(&out).expect("a temp folder");
    let mut written = Vec::new();
    for path in json_resources(&examples) {
        let text = std::fs::read_to_string(&path).expect("an example");
        let resource = fhir_model::r5::Resource::from_json(&text)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let xml = resource
            .to_xml_pretty()
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let target = out.join(path.file_name().unwrap()).with_extension("xml");
        std::fs::write(&target, xml).expect("write");
        written.push(target);
    }
    assert!(written.len() >= 2800, "only {} examples", written.len());
    // One xmllint run per batch: loading the 4 MB schema is most of its time.
    let mut failures = Vec::new();
    for batch in written.chunks(400) {
        let result = Command::new(fhir_tests::xmllint())
            .arg("--noout")
            .arg("--nonet")
            .arg("--schema")
            .arg(schema.join("fhir-single.xsd"))
            .args(batch)
            .output()
            .expect("xmllint runs (Debian package libxml2-utils; .ci/run installs it)");
        let stderr = String::from_utf8_lossy(&result.stderr);
        failures.extend(
            stderr
                .lines()
                .filter(|l| !l.ends_with(" validates"))
                .map(str::to_string),
        );
        assert!(
            result.status.success() || !failures.is_empty(),
            "xmllint failed without saying why: {stderr}"
        );
    }
    // The one exception is in the example's data, not in how it is written: its
    // StructureDefinition.type values name choice elements (`DataRequirement.subject[x]`), and
    // square brackets are not allowed in an `xs:anyURI`, the schema's type for `uri`.
    let (expected, unexpected): (Vec<&String>, Vec<&String>) = failures.iter().partition(|l| {
        l.contains("Bundle-dataelements.xml")
            && (l.ends_with("fails to validate")
                || (l.contains("Element '{http://hl7.org/fhir}type', attribute 'value': '")
                    && l.contains("[x]' is not a valid value of the atomic type '{http://hl7.org/fhir}uri-primitive'")))
    });
    assert!(
        unexpected.is_empty(),
        "{} unexpected xmllint complaints, first ones:\n{}",
        unexpected.len(),
        unexpected
            .iter()
            .take(40)
            .map(|l| l.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(
        expected.len(),
        19,
        "the listed exception changed: {expected:#?}"
    );
    eprintln!(
        "{} of {} R5 examples written as XML validate against fhir-single.xsd",
        written.len() - 1,
        written.len()
    );
    let _ = std::fs::remove_dir_all(&schema);
}

/// The XML written straight from the model is, byte for byte, what the table-driven writer of
/// FHIR JSON trees writes for the same resource, compact and pretty, for every example of
/// every version: the two writers check each other.
fn same_as_from_json_form<R: fhir_model::xml::XmlResource>(package_name: &str, version: &str) {
    let mut failures = Vec::new();
    let mut count = 0;
    for path in json_resources(&package(package_name, version)) {
        let text = std::fs::read_to_string(&path).expect("an example");
        let Ok(resource) = json::from_str::<R>(&text) else {
            continue;
        };
        count += 1;
        for pretty in [false, true] {
            let direct = fhir_model::xml::to_vec(&resource, pretty);
            let via_json = fhir_model::xml::from_json_form(
                &json::to_vec(&resource, false),
                R::xml_table(),
                pretty,
            );
            if direct.as_ref().map_err(ToString::to_string)
                != via_json.as_ref().map_err(ToString::to_string)
            {
                failures.push(format!("{} (pretty: {pretty})", path.display()));
            }
        }
    }
    assert!(count > 2000, "{count} examples read");
    assert!(
        failures.is_empty(),
        "{} differ: {failures:#?}",
        failures.len()
    );
}

#[test]
fn xml_from_the_model_equals_xml_from_its_json_form() {
    same_as_from_json_form::<fhir_model::r4::Resource>("hl7.fhir.r4.examples", "4.0.1");
    same_as_from_json_form::<fhir_model::r4b::Resource>("hl7.fhir.r4b.examples", "4.3.0");
    same_as_from_json_form::<fhir_model::r5::Resource>("hl7.fhir.r5.examples", "5.0.0");
}
