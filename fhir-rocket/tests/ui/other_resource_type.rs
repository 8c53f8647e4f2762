use fhir_rocket::model::r4::{Observation, Patient};
use fhir_rocket::{update, FhirError, LogicalId};

#[update]
async fn update_patient(id: LogicalId, resource: Observation) -> Result<Patient, FhirError> {
    let _ = (id, resource);
    Ok(Patient::default())
}

fn main() {}
