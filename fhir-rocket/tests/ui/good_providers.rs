use fhir_rocket::model::r4::{Organization, Patient};
use fhir_rocket::search::{DateParam, OrList, StringParam, TokenParam};
use fhir_rocket::{providers, read, search, FhirError, FhirServer, RequestContext, SearchResults, Shared};

#[read]
async fn read_patient(id: String, version: Option<String>, ctx: &RequestContext) -> Result<Option<Patient>, FhirError> {
    let _ = (id, version, ctx);
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
async fn search_shared_with_includes(telecom: TokenParam) -> Result<SearchResults<Shared<Patient>>, FhirError> {
    let _ = telecom;
    let mut found = SearchResults::new(vec![Shared::new(Patient::default())]);
    found.include(Organization::default());
    Ok(found)
}

// Generic providers: every resource type of the version, by its `Resource` enum.
#[fhir_rocket::read]
async fn read_any(
    resource_type: fhir_rocket::TypeName,
    id: String,
    version: Option<String>,
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
async fn delete_any(resource_type: fhir_rocket::TypeName, id: String) -> Result<(), FhirError> {
    let _ = (resource_type, id);
    Ok(())
}

fn main() {
    let _ = FhirServer::new("/fhir")
        .mount(providers![read_patient, search_patients, search_shared, search_with_includes, search_shared_with_includes])
        .mount(providers![read_any, create_any, delete_any])
        .routes();
}
