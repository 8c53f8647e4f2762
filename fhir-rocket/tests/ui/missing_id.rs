use fhir_rocket::model::r4::Patient;
use fhir_rocket::{read, FhirError, RequestContext};

// A parameter called `id` is not the id: a `LogicalId` is.
#[read]
async fn read_patient(id: &RequestContext) -> Result<Patient, FhirError> {
    let _ = id;
    Ok(Patient::default())
}

fn main() {}
