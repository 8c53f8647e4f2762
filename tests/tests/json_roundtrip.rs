//! Every JSON resource of the official examples packages of R4, R4B and R5 is read strictly
//! into the typed model and written back; the output must equal the input: the same members,
//! the same array order, numbers equal as text.

use fhir_model::json;
use fhir_tests::check_package_roundtrip as check;

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
