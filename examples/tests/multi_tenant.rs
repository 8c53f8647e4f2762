//! A multi-tenant server: the first path segment after the base names the tenant, providers
//! see it in the request context, and the links the server writes keep it.

use fhir_rocket::model::r4::{HumanName, Patient};
use fhir_rocket::model::FhirResource;
use fhir_rocket::search::StringParam;
use fhir_rocket::{providers, read, search, FhirError, FhirServer, LogicalId, RequestContext};
use std::sync::OnceLock;

/// A Patient whose family name is the tenant the request named.
fn patient_of(context: &RequestContext, id: &str) -> Patient {
    let mut p = Patient::default();
    p.set_id(Some(id.to_string()));
    p.name.push(HumanName {
        family: context.tenant.as_deref().map(Into::into),
        ..Default::default()
    });
    p
}

#[read]
async fn read_patient(
    id: LogicalId,
    context: &RequestContext,
) -> Result<Option<Patient>, FhirError> {
    Ok(Some(patient_of(context, &id)))
}

#[search]
async fn search_patients(
    name: StringParam,
    context: &RequestContext,
) -> Result<Vec<Patient>, FhirError> {
    Ok(vec![patient_of(context, &name.value)])
}

fn root() -> &'static str {
    static ROOT: OnceLock<String> = OnceLock::new();
    ROOT.get_or_init(|| {
        let server = FhirServer::new("/fhir")
            .multi_tenant()
            .mount(providers![read_patient, search_patients]);
        fhir_examples::launch_on_loopback(server.mount_on(rocket::build()))
    })
}

/// Status and JSON body of `GET [root][path]`.
fn get(path: &str) -> (u16, serde_json::Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent
        .get(format!("{}{path}", root()))
        .call()
        .expect("the server answers");
    let body = response.body_mut().read_to_string().unwrap_or_default();
    let json = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    (response.status().as_u16(), json)
}

#[test]
fn providers_see_the_tenant_of_the_path() {
    for tenant in ["acme", "general"] {
        let (status, patient) = get(&format!("/fhir/{tenant}/Patient/7"));
        assert_eq!(status, 200);
        assert_eq!(patient["id"], "7");
        assert_eq!(patient["name"][0]["family"], tenant);
    }
}

#[test]
fn links_keep_the_tenant() {
    let (status, bundle) = get("/fhir/acme/Patient?name=9");
    assert_eq!(status, 200);
    let base = format!("{}/fhir/acme", root());
    assert_eq!(bundle["entry"][0]["fullUrl"], format!("{base}/Patient/9"));
    assert_eq!(
        bundle["link"][0]["url"],
        format!("{base}/Patient?name=9&_count=20&_offset=0"),
        "{bundle}"
    );
    let (status, cs) = get("/fhir/acme/metadata");
    assert_eq!(status, 200);
    assert_eq!(cs["implementation"]["url"], base);
}

#[test]
fn a_request_without_a_tenant_is_rejected() {
    let (status, outcome) = get("/fhir");
    assert_eq!(status, 400);
    assert_eq!(
        outcome["issue"][0]["diagnostics"],
        "this server is multi-tenant: name the tenant first, as in [base]/TENANT/Patient"
    );
    // Without a tenant, `Patient` is taken for one, and `7` names no interaction.
    let (status, outcome) = get("/fhir/Patient/7");
    assert_eq!(status, 404);
    assert_eq!(
        outcome["issue"][0]["diagnostics"],
        "no FHIR interaction at GET /7"
    );
}
