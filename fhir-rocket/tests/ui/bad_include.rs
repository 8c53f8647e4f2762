use fhir_rocket::model::r4::Observation;
use fhir_rocket::search::ReferenceParam;
use fhir_rocket::{search, FhirError};

#[search(include = ["Observation:subjekt"])]
async fn unknown_include(subject: ReferenceParam) -> Result<Vec<Observation>, FhirError> {
    let _ = subject;
    Ok(Vec::new())
}

#[search(include = ["Observation:code"])]
async fn not_a_reference(subject: Option<ReferenceParam>) -> Result<Vec<Observation>, FhirError> {
    let _ = subject;
    Ok(Vec::new())
}

#[search(include = ["observation-subject"])]
async fn malformed(subject: ReferenceParam) -> Result<Vec<Observation>, FhirError> {
    let _ = subject;
    Ok(Vec::new())
}

#[search(includes = ["Observation:subject"])]
async fn misspelled(subject: ReferenceParam) -> Result<Vec<Observation>, FhirError> {
    let _ = subject;
    Ok(Vec::new())
}

fn main() {}
