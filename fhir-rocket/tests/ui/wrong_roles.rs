use fhir_rocket::model::r4::Patient;
use fhir_rocket::search::{ResultParams, StringParam};
use fhir_rocket::{read, update, FhirError, HistoryParams, LogicalId};

// Roles come from types; each parameter whose role does not fit is reported on its type, and
// a type that has no role (a request guard not marked #[guard]) is an error saying so.
#[read]
async fn read_patient(
    id: LogicalId,
    family: StringParam,
    result: ResultParams,
    since: HistoryParams,
    db: &fhir_rocket::rocket::State<u32>,
) -> Result<Patient, FhirError> {
    let _ = (id, family, result, since, db);
    Ok(Patient::default())
}

// No id and no body.
#[update]
async fn update_patient(since: HistoryParams) -> Result<Patient, FhirError> {
    let _ = since;
    Ok(Patient::default())
}

fn main() {}
