//! Providers using every role a parameter can take and every return shape compile and mount.
//! A plain test rather than a trybuild `pass` case: the compile-fail cases then need only
//! `cargo check` of the dependencies, not a second full build of them.

use fhir_rocket::model::r4::{Organization, Patient};
use fhir_rocket::search::{DateParam, OrList, StringParam, TokenParam};
use fhir_rocket::{
    providers, read, search, FhirError, FhirServer, LogicalId, RequestContext, SearchResults,
    Shared, VersionId,
};

#[read]
async fn read_patient(
    id: LogicalId,
    version: Option<VersionId>,
    ctx: &RequestContext,
    #[guard] limit: &fhir_rocket::rocket::State<u32>,
) -> Result<Option<Patient>, FhirError> {
    let _ = (id, version, ctx, limit);
    Ok(None)
}

#[search]
async fn search_patients(
    family: StringParam,
    gender: Option<TokenParam>,
    birthdate: Option<DateParam>,
    #[param("address-city")] city: Option<OrList<StringParam>>,
) -> Result<Vec<Patient>, FhirError> {
    let _ = (family, gender, birthdate, city);
    Ok(Vec::new())
}

#[search(include = ["Patient:general-practitioner", "Patient:organization:Organization"], revinclude = ["Observation:subject", "*"])]
async fn search_shared(name: StringParam) -> Result<Vec<Shared<Patient>>, FhirError> {
    let _ = name;
    Ok(vec![Shared::new(Patient::default())])
}

#[search(include = ["Patient:organization"])]
async fn search_with_includes(identifier: TokenParam) -> Result<SearchResults<Patient>, FhirError> {
    let _ = identifier;
    let mut found = SearchResults::new(vec![Patient::default()]);
    found.include(Organization::default());
    found.include(Shared::new(Organization::default()));
    Ok(found)
}

#[search(include = ["Patient:organization"])]
async fn search_shared_with_includes(
    telecom: TokenParam,
) -> Result<SearchResults<Shared<Patient>>, FhirError> {
    let _ = telecom;
    let mut found = SearchResults::new(vec![Shared::new(Patient::default())]);
    found.include(Organization::default());
    Ok(found)
}

// Generic providers: every resource type of the version, by its `Resource` enum.
#[fhir_rocket::read]
async fn read_any(
    resource_type: fhir_rocket::TypeName,
    id: LogicalId,
    version: Option<VersionId>,
) -> Result<Option<std::sync::Arc<fhir_rocket::model::r4::Resource>>, FhirError> {
    let _ = (resource_type, id, version);
    Ok(None)
}

#[fhir_rocket::create]
async fn create_any(
    resource_type: fhir_rocket::TypeName,
    resource: fhir_rocket::model::r4::Resource,
) -> Result<fhir_rocket::model::r4::Resource, FhirError> {
    let _ = resource_type;
    Ok(resource)
}

#[fhir_rocket::delete(fhir_rocket::model::r4::Resource)]
async fn delete_any(resource_type: fhir_rocket::TypeName, id: LogicalId) -> Result<(), FhirError> {
    let _ = (resource_type, id);
    Ok(())
}

// Roles come from types, whatever the parameters are called.
#[fhir_rocket::update]
async fn update_patient(
    which: LogicalId,
    body: Patient,
    #[guard] limit: &fhir_rocket::rocket::State<u32>,
) -> Result<Patient, FhirError> {
    let _ = (which, limit);
    Ok(body)
}

#[fhir_rocket::patch]
async fn patch_patient(
    target: LogicalId,
    operations: Vec<fhir_rocket::patch::PatchOp>,
) -> Result<Patient, FhirError> {
    let _ = (target, operations);
    Ok(Patient::default())
}

#[fhir_rocket::history]
async fn patient_history(
    patient: LogicalId,
    params: fhir_rocket::HistoryParams,
) -> Result<Vec<fhir_rocket::HistoryEntry<Patient>>, FhirError> {
    let _ = (patient, params);
    Ok(Vec::new())
}

#[fhir_rocket::operation(name = "$summary", type = Patient)]
async fn patient_summary(
    patient: LogicalId,
    input: fhir_rocket::model::r4::Parameters,
) -> Result<fhir_rocket::model::r4::Bundle, FhirError> {
    let _ = (patient, input);
    Ok(Default::default())
}

// What a search evaluates beyond plain values: modifiers, chains, sorts.
#[search(sort = ["date", "_lastUpdated"])]
async fn search_observations(
    #[modifiers("not", "text")] code: Option<fhir_rocket::search::TokenParam>,
    #[chains("name", "Patient.identifier")] subject: Option<fhir_rocket::search::ReferenceParam>,
    #[modifiers("missing")] date: Option<DateParam>,
) -> Result<Vec<fhir_rocket::model::r4::Observation>, FhirError> {
    let _ = (code, subject, date);
    Ok(Vec::new())
}

#[test]
fn every_role_and_shape_of_provider_compiles_and_mounts() {
    let _ = FhirServer::new("/fhir")
        .mount(providers![
            read_patient,
            search_patients,
            search_shared,
            search_with_includes,
            search_shared_with_includes
        ])
        .mount(providers![read_any, create_any, delete_any])
        .mount(providers![
            update_patient,
            patch_patient,
            patient_history,
            patient_summary
        ])
        .mount(providers![search_observations])
        .routes();
}
