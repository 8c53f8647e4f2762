use fhir_rocket::model::r4::Resource;
use fhir_rocket::{read, FhirError};
use std::sync::Arc;

// A generic provider serves every type, so it must be told which one a request names.
#[read]
async fn read_any(id: fhir_rocket::LogicalId) -> Result<Option<Arc<Resource>>, FhirError> {
    let _ = id;
    Ok(None)
}

fn main() {}
