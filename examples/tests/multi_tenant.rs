//! A multi-tenant server: the first path segment after the base names the tenant, providers
//! see it in the request context, and the links the server writes keep it. Protected by
//! SMART on FHIR, a token opens only the tenants whose base URL its `aud` names.

use fhir_rocket::auth::smart::SmartAuth;
use fhir_rocket::model::r4::{HumanName, Patient};
use fhir_rocket::model::FhirResource;
use fhir_rocket::search::StringParam;
use fhir_rocket::{providers, read, search, FhirError, FhirServer, LogicalId, RequestContext};
use fhir_tests::issuer::{ec_key, mint, Issuer, Key, AUDIENCE};
use serde_json::json;
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

/// A multi-tenant server protected by SMART on FHIR, the issuer's tokens taken per tenant
/// when `per_tenant`; its root and the issuer (kept alive with it).
fn protected(per_tenant: bool) -> (String, Issuer, Key) {
    let key = ec_key("tenant-key", false);
    let issuer = Issuer::start(&[&key]);
    let mut config = issuer.config();
    config.per_tenant = per_tenant;
    let server = FhirServer::new("/fhir")
        .multi_tenant()
        .mount(providers![read_patient, search_patients])
        .authorize(SmartAuth::new(config));
    let root = fhir_examples::launch_on_loopback(server.mount_on(rocket::build()));
    (root, issuer, key)
}

/// Status and body of `GET [root][path]` with `token`.
fn get_with(root: &str, path: &str, token: &str) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent
        .get(format!("{root}{path}"))
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .expect("the server answers");
    let body = response.body_mut().read_to_string().unwrap_or_default();
    (response.status().as_u16(), body)
}

#[test]
fn a_token_opens_only_the_tenant_its_audience_names() {
    let (root, issuer, key) = protected(true);
    let token = |aud: serde_json::Value| {
        let mut claims = issuer.claims();
        claims["aud"] = aud;
        claims["scope"] = json!("user/Patient.rs");
        mint(&key, &claims)
    };
    let acme = token(json!(format!("{AUDIENCE}/acme")));
    assert_eq!(get_with(&root, "/fhir/acme/Patient/7", &acme).0, 200);
    assert_eq!(get_with(&root, "/fhir/acme/Patient?name=7", &acme).0, 200);
    for path in ["/fhir/general/Patient/7", "/fhir/general/Patient?name=7"] {
        let (status, body) = get_with(&root, path, &acme);
        assert_eq!(status, 401, "{path}: {body}");
        assert!(
            body.contains(&format!("the token is not for {AUDIENCE}/general")),
            "{body}"
        );
    }
    // A token for the server as a whole names no tenant: it opens none.
    let whole = token(json!(AUDIENCE));
    assert_eq!(get_with(&root, "/fhir/acme/Patient/7", &whole).0, 401);
    // A token may name several tenants' bases.
    let both = token(json!([
        format!("{AUDIENCE}/acme"),
        format!("{AUDIENCE}/general")
    ]));
    assert_eq!(get_with(&root, "/fhir/acme/Patient/7", &both).0, 200);
    assert_eq!(get_with(&root, "/fhir/general/Patient/7", &both).0, 200);
    // Below a tenant's base, or beside the audience, is not a tenant's base.
    for aud in [
        format!("{AUDIENCE}/acme/Patient"),
        format!("{AUDIENCE}acme"),
        format!("{AUDIENCE}/"),
    ] {
        let (status, body) = get_with(&root, "/fhir/acme/Patient/7", &token(json!(aud)));
        assert_eq!(status, 401, "{aud}: {body}");
    }
    // The CapabilityStatement stays public.
    let (status, _) = get_with(&root, "/fhir/general/metadata", "not-a-token");
    assert_eq!(status, 200);
}

#[test]
fn a_multi_tenant_server_not_told_of_tenant_audiences_takes_no_token() {
    let (root, issuer, key) = protected(false);
    for aud in [AUDIENCE.to_string(), format!("{AUDIENCE}/acme")] {
        let mut claims = issuer.claims();
        claims["aud"] = json!(aud);
        claims["scope"] = json!("user/Patient.rs");
        let (status, body) = get_with(&root, "/fhir/acme/Patient/7", &mint(&key, &claims));
        assert_eq!(status, 401, "{aud}: {body}");
    }
}
