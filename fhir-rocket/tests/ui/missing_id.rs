use fhir_rocket::model::r4::Patient;
use fhir_rocket::{read, FhirError};

#[read]
async fn read_patient(identifier: String) -> Result<Patient, FhirError> {
    let _ = identifier;
    Ok(Patient::default())
}

fn main() {}
