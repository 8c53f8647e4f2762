//! R5 providers work the same way as R4 ones; request guards decide 401 and 403; a panicking
//! provider answers a bare 500 OperationOutcome; the CapabilityStatement can be changed.

use fhir_rocket::model::json::Value;
use fhir_rocket::model::r5::{HumanName, Patient};
use fhir_rocket::model::FhirResource;
use fhir_rocket::search::StringParam;
use fhir_rocket::{providers, read, search, FhirError, FhirServer, LogicalId};
use rocket::http::Status;
use rocket::request::{FromRequest, Outcome, Request};
use std::sync::OnceLock;

/// Lets a request through with `Authorization: Bearer admin`; 403 for other tokens, 401
/// without one.
struct Admin;

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Admin {
    type Error = ();
    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        match req.headers().get_one("Authorization") {
            Some("Bearer admin") => Outcome::Success(Admin),
            Some(_) => Outcome::Error((Status::Forbidden, ())),
            None => Outcome::Error((Status::Unauthorized, ())),
        }
    }
}

#[read]
async fn read_patient(id: LogicalId, #[guard] _admin: Admin) -> Result<Option<Patient>, FhirError> {
    let mut p = Patient::default();
    p.set_id(Some(id.into()));
    p.name.push(HumanName {
        family: Some("Five".into()),
        ..Default::default()
    });
    Ok(Some(p))
}

#[search]
async fn search_patients(family: StringParam) -> Result<Vec<Patient>, FhirError> {
    if family.value == "explode" {
        panic!("secret internal detail");
    }
    Ok(Vec::new())
}

fn base() -> &'static str {
    static BASE: OnceLock<String> = OnceLock::new();
    BASE.get_or_init(|| {
        let server = FhirServer::new("/r5")
            .software("r5-test", "1")
            .mount(providers![read_patient, search_patients])
            .capability(|cs| {
                if let Value::Object(members) = cs {
                    members.push(("publisher".into(), Value::String("Test Hospital".into())));
                }
            });
        let root = fhir_examples::launch_on_loopback(server.mount_on(rocket::build()));
        format!("{root}/r5")
    })
}

fn get(path: &str, authorization: Option<&str>) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut request = agent.get(format!("{}{path}", base()));
    if let Some(a) = authorization {
        request = request.header("Authorization", a);
    }
    let mut response = request.call().expect("the server answers");
    let status = response.status().as_u16();
    (
        status,
        response.body_mut().read_to_string().unwrap_or_default(),
    )
}

#[test]
fn r5_read_with_a_guard() {
    let (status, body) = get("/Patient/7", Some("Bearer admin"));
    assert_eq!(status, 200, "{body}");
    let patient = fhir_rocket::model::r5::Resource::from_json(&body).unwrap();
    assert_eq!(patient.id(), Some("7"));
    let (status, body) = get("/Patient/7", Some("Bearer guest"));
    assert_eq!(status, 403);
    assert!(body.contains(r#""code":"forbidden""#), "{body}");
    let (status, body) = get("/Patient/7", None);
    assert_eq!(status, 401);
    assert!(body.contains(r#""code":"login""#), "{body}");
    // R5 in XML, and a guard's error in XML when XML was asked for.
    let (status, body) = get("/Patient/7?_format=xml", Some("Bearer admin"));
    assert_eq!(status, 200, "{body}");
    let patient = fhir_rocket::model::r5::Resource::from_xml(&body).unwrap();
    assert_eq!(patient.id(), Some("7"));
    let (status, body) = get("/Patient/7?_format=xml", None);
    assert_eq!(status, 401);
    assert!(
        body.starts_with(r#"<OperationOutcome xmlns="http://hl7.org/fhir"><issue><severity value="error"/><code value="login"/>"#),
        "{body}"
    );
}

#[test]
fn r5_capability_statement_with_the_hook() {
    let (status, body) = get("/metadata", None);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""fhirVersion":"5.0.0""#), "{body}");
    assert!(body.contains(r#""publisher":"Test Hospital""#), "{body}");
    // R5 definitions: Patient's family search parameter, from hl7.fhir.r5.core.
    assert!(
        body.contains("http://hl7.org/fhir/SearchParameter/individual-family"),
        "{body}"
    );
    fhir_rocket::model::r5::Resource::from_json(&body).unwrap();
}

#[test]
fn a_panicking_provider_answers_500_without_details() {
    let (status, body) = get("/Patient?family=explode", None);
    assert_eq!(status, 500);
    assert!(body.contains(r#""code":"exception""#), "{body}");
    assert!(!body.contains("secret"), "{body}");
    let (status, body) = get("/Patient?family=calm", None);
    assert_eq!(status, 200, "{body}");
}
