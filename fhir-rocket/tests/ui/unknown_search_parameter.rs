use fhir_rocket::model::r4::Patient;
use fhir_rocket::search::StringParam;
use fhir_rocket::{search, FhirError};

#[search]
async fn search_patients(famly: StringParam) -> Result<Vec<Patient>, FhirError> {
    let _ = famly;
    Ok(Vec::new())
}

fn main() {}
