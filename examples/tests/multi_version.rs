//! R4 and R5 served by one Rocket, each at a base of its own with its own
//! CapabilityStatement, and R4 as the default at `/fhir`; `fhirVersion` in `Accept` and
//! `Content-Type` honoured (406, 415); `$versions`. Over real HTTP.

mod common;

use common::{send, JSON};
use fhir_rocket::{providers, read, FhirError, FhirServer, LogicalId};
use std::sync::OnceLock;

#[read]
async fn read_r4(id: LogicalId) -> Result<Option<fhir_rocket::model::r4::Patient>, FhirError> {
    Ok(Some(fhir_rocket::model::r4::Patient {
        id: Some(id.as_str().into()),
        ..Default::default()
    }))
}

#[read]
async fn read_r5(id: LogicalId) -> Result<Option<fhir_rocket::model::r5::Patient>, FhirError> {
    Ok(Some(fhir_rocket::model::r5::Patient {
        id: Some(id.as_str().into()),
        ..Default::default()
    }))
}

fn root() -> &'static str {
    static ROOT: OnceLock<String> = OnceLock::new();
    ROOT.get_or_init(|| {
        let rocket = FhirServer::new("/fhir/R4")
            .mount(providers![read_r4])
            .mount_on(rocket::build());
        let rocket = FhirServer::new("/fhir/R5")
            .mount(providers![read_r5])
            .mount_on(rocket);
        // The default version, below the versioned bases.
        let rocket = FhirServer::new("/fhir")
            .rank(20)
            .mount(providers![read_r4])
            .mount_on(rocket);
        fhir_examples::launch_on_loopback(rocket)
    })
}

fn get(path: &str, headers: &[(&str, &str)]) -> common::Reply {
    send(&format!("{}{path}", root()), "GET", headers, None)
}

#[test]
fn each_version_at_its_base_with_its_capability_statement() {
    for (base, version) in [
        ("/fhir/R4", "4.0.1"),
        ("/fhir/R5", "5.0.0"),
        ("/fhir", "4.0.1"),
    ] {
        let metadata = get(&format!("{base}/metadata"), &[]);
        assert_eq!(metadata.status, 200, "{base}: {}", metadata.body);
        assert_eq!(metadata.json()["fhirVersion"], version, "{base}");
        let patient = get(&format!("{base}/Patient/p1"), &[]);
        assert_eq!(patient.status, 200, "{base}: {}", patient.body);
        assert_eq!(patient.json()["id"], "p1");
    }
}

#[test]
fn fhir_version_in_media_types_is_honoured() {
    let r5 = [("Accept", "application/fhir+json; fhirVersion=5.0")];
    assert_eq!(get("/fhir/R5/Patient/p1", &r5).status, 200);
    let refused = get("/fhir/R4/Patient/p1", &r5);
    assert_eq!(refused.status, 406, "{}", refused.body);
    assert!(
        refused.diagnostics().contains("fhirVersion=4.0"),
        "{}",
        refused.body
    );
    // Another acceptable type of the right version is taken.
    let either = [(
        "Accept",
        "application/fhir+json; fhirVersion=5.0, application/fhir+xml; fhirVersion=4.0",
    )];
    let xml = get("/fhir/R4/Patient/p1", &either);
    assert_eq!(xml.status, 200, "{}", xml.body);
    assert!(xml.body.starts_with("<Patient"), "{}", xml.body);
    // A body of another version: 415.
    let body = r#"{"resourceType":"Parameters"}"#;
    let posted = send(
        &format!("{}/fhir/R4/$versions", root()),
        "POST",
        &[
            ("Content-Type", "application/fhir+json; fhirVersion=5.0"),
            JSON,
        ],
        Some(body),
    );
    assert_eq!(posted.status, 415, "{}", posted.body);
}

#[test]
fn versions_operation() {
    for (base, version) in [("/fhir/R4", "4.0"), ("/fhir/R5", "5.0"), ("/fhir", "4.0")] {
        let reply = get(&format!("{base}/$versions"), &[]);
        assert_eq!(reply.status, 200, "{base}: {}", reply.body);
        let parameters = reply.json();
        assert_eq!(parameters["resourceType"], "Parameters");
        assert_eq!(parameters["parameter"][0]["name"], "version");
        assert_eq!(parameters["parameter"][0]["valueCode"], version);
        assert_eq!(parameters["parameter"][1]["name"], "default");
    }
}
