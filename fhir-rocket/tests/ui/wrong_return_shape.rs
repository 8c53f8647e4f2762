use fhir_rocket::model::r4::Patient;
use fhir_rocket::search::StringParam;
use fhir_rocket::{search, FhirError};

#[search]
async fn search_patients(family: StringParam) -> Result<Patient, FhirError> {
    let _ = family;
    Ok(Patient::default())
}

fn main() {}
