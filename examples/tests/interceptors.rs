//! Interceptors over real HTTP: a veto (of an interaction, and of one entry inside a
//! transaction), masking and withholding of outgoing resources, a change to incoming ones,
//! and the example audit log.

mod common;

use common::{send, Reply, JSON};
use fhir_examples::audit::{AuditLog, AuditSink};
use fhir_rocket::model::r4::{Coding, Meta, Resource};
use fhir_rocket::{FhirError, Interceptor, Resolved};
use rocket::Request;
use std::sync::{Arc, Mutex, OnceLock};

/// No deletes; Patient/refused forbidden; Patient/locked asks for a bearer token; no search
/// chains into Patients.
struct Guard;

#[rocket::async_trait]
impl Interceptor<Resource> for Guard {
    async fn interaction_resolved(
        &self,
        _req: &Request<'_>,
        resolved: &Resolved<'_>,
    ) -> Result<(), FhirError> {
        if resolved.interaction == "delete" {
            return Err(FhirError::forbidden("deletes are not allowed here"));
        }
        if resolved.resource_type == Some("Patient") && resolved.id == Some("refused") {
            return Err(FhirError::forbidden("Patient/refused may not be touched"));
        }
        // A chain reads the resources it reaches: here none may reach a Patient.
        if let Some(chain) = resolved.search_params().find(|p| {
            p.modifier
                .as_deref()
                .is_some_and(|m| m.starts_with("Patient."))
        }) {
            return Err(FhirError::forbidden(format!(
                "{}:{} reaches Patients",
                chain.name,
                chain.modifier.as_deref().unwrap_or_default()
            )));
        }
        if resolved.resource_type == Some("Patient") && resolved.id == Some("locked") {
            return Err(FhirError::unauthorized_bearer(
                "the token has \"expired\"",
                Some("invalid_token"),
            ));
        }
        Ok(())
    }
}

/// Masks every Patient's birth date; withholds resources labelled restricted (`R`); tags every
/// incoming resource.
struct Consent;

fn restricted(resource: &Resource) -> bool {
    let Resource::Patient(p) = resource else {
        return false;
    };
    p.meta.as_ref().is_some_and(|m| {
        m.security
            .iter()
            .any(|c| c.code.as_ref().and_then(|c| c.value.as_deref()) == Some("R"))
    })
}

#[rocket::async_trait]
impl Interceptor<Resource> for Consent {
    async fn resource_incoming(
        &self,
        _req: &Request<'_>,
        resolved: &Resolved<'_>,
        resource: &mut Resource,
    ) -> Result<(), FhirError> {
        if resolved.interaction == "batch" {
            return Ok(());
        }
        if let Resource::Patient(p) = resource {
            let meta = p.meta.get_or_insert_with(Meta::default);
            meta.tag.push(Coding {
                system: Some("http://example.org/tags".into()),
                code: Some("intercepted".into()),
                ..Default::default()
            });
        }
        Ok(())
    }

    fn resource_outgoing(
        &self,
        _req: &Request<'_>,
        resource: Arc<Resource>,
    ) -> Option<Arc<Resource>> {
        if restricted(&resource) {
            return None;
        }
        if let Resource::Patient(p) = &*resource {
            if p.birth_date.is_some() {
                let mut masked = (**p).clone();
                masked.birth_date = None;
                return Some(Arc::new(Resource::from(masked)));
            }
        }
        Some(resource)
    }
}

fn audit_lines() -> &'static Arc<Mutex<Vec<String>>> {
    static LINES: OnceLock<Arc<Mutex<Vec<String>>>> = OnceLock::new();
    LINES.get_or_init(Default::default)
}

fn base() -> &'static str {
    static BASE: OnceLock<String> = OnceLock::new();
    BASE.get_or_init(|| {
        let rocket = fhir_examples::memory_server_configured(Default::default(), |s| {
            s.intercept(AuditLog::new(AuditSink::Memory(audit_lines().clone())))
                .intercept(Guard)
                .intercept(Consent)
        });
        format!("{}/fhir", fhir_examples::launch_on_loopback(rocket))
    })
}

fn request(method: &str, path: &str, body: Option<&str>) -> Reply {
    send(&format!("{}{path}", base()), method, &[JSON], body)
}

/// Creates a Patient; its id from `Location` (a withheld resource is answered without a body).
fn create(body: &str) -> String {
    let reply = request("POST", "/Patient", Some(body));
    assert_eq!(reply.status, 201, "{}", reply.body);
    let location = reply.header("Location").unwrap();
    let (_, after) = location.split_once("/Patient/").unwrap();
    after.split('/').next().unwrap().to_string()
}

#[test]
fn a_veto_answers_its_error() {
    let id = create(r#"{"resourceType":"Patient","name":[{"family":"Vetoed"}]}"#);
    let delete = request("DELETE", &format!("/Patient/{id}"), None);
    assert_eq!(delete.status, 403, "{}", delete.body);
    assert!(delete.diagnostics().contains("deletes are not allowed"));
    // Still there.
    assert_eq!(request("GET", &format!("/Patient/{id}"), None).status, 200);
    // A vetoed entry fails its transaction; nothing of it stays.
    let transaction = r#"{"resourceType":"Bundle","type":"transaction","entry":[
        {"fullUrl":"urn:uuid:1","resource":{"resourceType":"Patient","name":[{"family":"VetoTx"}]},"request":{"method":"POST","url":"Patient"}},
        {"resource":{"resourceType":"Patient","id":"refused"},"request":{"method":"PUT","url":"Patient/refused"}}]}"#;
    let reply = send(base(), "POST", &[JSON], Some(transaction));
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert!(reply
        .diagnostics()
        .contains("Patient/refused may not be touched"));
    assert_eq!(
        request("GET", "/Patient?family=vetotx", None).json()["total"],
        0
    );
}

#[test]
fn an_interceptor_sees_a_search_parameters_from_the_url_and_the_form() {
    let chained = request("GET", "/Observation?subject:Patient.name=x", None);
    assert_eq!(chained.status, 403, "{}", chained.body);
    assert!(chained
        .diagnostics()
        .contains("subject:Patient.name reaches Patients"));
    let form = send(
        &format!("{}/Observation/_search", base()),
        "POST",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        Some("subject:Patient.name=x"),
    );
    assert_eq!(form.status, 403, "{}", form.body);
    let plain = request("GET", "/Observation?code=8867-4", None);
    assert_eq!(plain.status, 200, "{}", plain.body);
}

#[test]
fn a_401_carries_its_bearer_challenge() {
    let reply = request("GET", "/Patient/locked", None);
    assert_eq!(reply.status, 401, "{}", reply.body);
    assert_eq!(
        reply.header("WWW-Authenticate"),
        Some(r#"Bearer error="invalid_token", error_description="the token has 'expired'""#)
    );
    assert_eq!(reply.json()["issue"][0]["code"], "login", "{}", reply.body);
}

#[test]
fn outgoing_resources_are_masked_or_withheld() {
    let open = create(
        r#"{"resourceType":"Patient","name":[{"family":"Masked"}],"birthDate":"1970-01-01"}"#,
    );
    let hidden = create(
        r#"{"resourceType":"Patient","meta":{"security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"R"}]},"name":[{"family":"Masked"}]}"#,
    );
    let read = request("GET", &format!("/Patient/{open}"), None).json();
    assert_eq!(read["name"][0]["family"], "Masked");
    assert!(read.get("birthDate").is_none(), "{read}");
    // The incoming change stayed.
    assert_eq!(read["meta"]["tag"][0]["code"], "intercepted", "{read}");
    // Its create was answered 201 (the write happened), without the resource.
    // Answered as an unknown id is, word for word.
    let withheld = request("GET", &format!("/Patient/{hidden}"), None);
    let unknown = request("GET", "/Patient/no-such-patient", None);
    assert_eq!(withheld.status, 404, "{}", withheld.body);
    assert_eq!(withheld.body, unknown.body);
    let found = request("GET", "/Patient?family=masked", None).json();
    assert_eq!(found["total"], 1, "{found}");
    assert_eq!(found["entry"][0]["resource"]["id"], open);
    assert!(found["entry"][0]["resource"].get("birthDate").is_none());
    let history = request("GET", &format!("/Patient/{hidden}/_history"), None).json();
    assert_eq!(history["total"], 0, "{history}");
}

#[test]
fn every_request_has_an_audit_line() {
    let id = create(r#"{"resourceType":"Patient","name":[{"family":"Audited"}]}"#);
    request("GET", &format!("/Patient/{id}"), None);
    request("GET", "/Patient/refused", None);
    let lines = audit_lines().lock().unwrap().clone();
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&format!("GET /fhir/Patient/{id} -> 200"))
                && l.contains(&format!("[read Patient/{id}]"))),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("POST /fhir/Patient -> 201") && l.contains("[create Patient]")),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("GET /fhir/Patient/refused -> 403")),
        "{lines:#?}"
    );
}

#[test]
fn providers_start_and_stop_with_the_server() {
    use std::sync::atomic::{AtomicBool, Ordering};
    static STARTED: AtomicBool = AtomicBool::new(false);
    static STOPPED: AtomicBool = AtomicBool::new(false);
    let rocket = fhir_examples::memory_server_configured(Default::default(), |s| {
        s.on_startup(|| STARTED.store(true, Ordering::SeqCst))
            .on_shutdown(|| STOPPED.store(true, Ordering::SeqCst))
    });
    let client = rocket::local::blocking::Client::tracked(rocket).expect("a valid server");
    assert!(STARTED.load(Ordering::SeqCst));
    assert!(!STOPPED.load(Ordering::SeqCst));
    assert_eq!(client.get("/fhir/metadata").dispatch().status().code, 200);
    client.terminate();
    assert!(STOPPED.load(Ordering::SeqCst));
}
