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

fn main() {
    let _ = FhirServer::new("/fhir")
        .mount(providers![read_patient, search_patients, search_shared, search_with_includes, search_shared_with_includes])
        .routes();
}
