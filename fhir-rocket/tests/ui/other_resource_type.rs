use fhir_rocket::model::r4::{Observation, Patient};
use fhir_rocket::{update, FhirError};

#[update]
async fn update_patient(id: String, resource: Observation) -> Result<Patient, FhirError> {
    let _ = (id, resource);
    Ok(Patient::default())
}

fn main() {}
