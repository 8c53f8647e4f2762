use fhir_rocket::model::r4::Patient;
use fhir_rocket::{read, FhirError};

#[read]
fn read_patient(id: fhir_rocket::LogicalId) -> Result<Patient, FhirError> {
    let _ = id;
    Ok(Patient::default())
}

fn main() {}
