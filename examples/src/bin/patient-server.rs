//! The quick Patient provider of HAPI FHIR's documentation, on fhir-rocket: read a Patient by
//! id, search Patients by family name.
//!
//! ```sh
//! cargo run --release --bin patient-server
//! curl 'http://127.0.0.1:8000/fhir/Patient?family=smith'
//! ```

use fhir_rocket::model::r4::{HumanName, Patient};
use fhir_rocket::model::FhirResource;
use fhir_rocket::search::StringParam;
use fhir_rocket::{providers, read, search, FhirError, FhirServer, LogicalId};

/// The patients this server knows.
fn patients() -> Vec<Patient> {
    let patient = |id: &str, family: &str, given: &str| {
        let mut p = Patient::default();
        p.set_id(Some(id.into()));
        p.name.push(HumanName {
            family: Some(family.into()),
            given: vec![given.into()],
            ..Default::default()
        });
        p
    };
    vec![
        patient("1", "Smith", "John"),
        patient("2", "Smithers", "Jane"),
        patient("3", "Jones", "Bob"),
    ]
}

#[read]
async fn read_patient(id: LogicalId) -> Result<Option<Patient>, FhirError> {
    Ok(patients().into_iter().find(|p| p.id() == Some(id.as_str())))
}

#[search]
async fn search_by_family(family: StringParam) -> Result<Vec<Patient>, FhirError> {
    let matches = |p: &Patient| {
        p.name
            .iter()
            .filter_map(|n| n.family.as_ref()?.value.as_deref())
            .any(|f| family.matches(f))
    };
    Ok(patients().into_iter().filter(matches).collect())
}

#[rocket::launch]
fn rocket() -> _ {
    let server = FhirServer::new("/fhir")
        .software("patient-server", env!("CARGO_PKG_VERSION"))
        .mount(providers![read_patient, search_by_family]);
    server.mount_on(rocket::build())
}
