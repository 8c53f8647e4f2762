//! SMART on FHIR on a kit server (the in-memory example, plain providers): the same
//! `authorize` as the complete server, and what only a kit server has, an operation of its
//! own (`$everything`), whose answer is sent only when the token may see all of it.

mod common;

use common::{send, Reply, JSON};
use fhir_rocket::auth::scope::Permissions;
use fhir_rocket::auth::smart::SmartAuth;
use fhir_tests::issuer::{ec_key, Issuer, Key};
use serde_json::json;

struct Kit {
    base: String,
    issuer: Issuer,
    key: Key,
}

impl Kit {
    fn start() -> Kit {
        let key = ec_key("kit-key", false);
        let issuer = Issuer::start(&[&key]);
        let auth = SmartAuth::new(issuer.config()).operation("$everything", Permissions::READ);
        let rocket =
            fhir_examples::memory_server_configured(Default::default(), |s| s.authorize(auth));
        let base = format!("{}/fhir", fhir_examples::launch_on_loopback(rocket));
        Kit { base, issuer, key }
    }

    fn send(&self, token: &str, method: &str, path: &str, body: Option<&str>) -> Reply {
        let bearer = format!("Bearer {token}");
        send(
            &format!("{}/{path}", self.base),
            method,
            &[("Authorization", &bearer), JSON],
            body,
        )
    }

    fn token(&self, scope: &str, patient: Option<&str>) -> String {
        self.issuer.token(&self.key, scope, patient)
    }
}

#[test]
fn a_kit_server_is_protected_and_its_operations_answer_only_what_the_token_may_see() {
    let kit = Kit::start();
    let admin = kit.token("system/*.cruds", None);
    for (id, family) in [("pa", "Alpha"), ("pb", "Beta")] {
        let patient = json!({"resourceType": "Patient", "id": id, "name": [{"family": family}]});
        let reply = kit.send(
            &admin,
            "PUT",
            &format!("Patient/{id}"),
            Some(&patient.to_string()),
        );
        assert_eq!(reply.status, 201, "{}", reply.body);
        let observation = json!({"resourceType": "Observation", "id": format!("o-{id}"), "status": "final",
            "code": {"text": "weight"}, "subject": {"reference": format!("Patient/{id}")}});
        let reply = kit.send(
            &admin,
            "PUT",
            &format!("Observation/o-{id}"),
            Some(&observation.to_string()),
        );
        assert_eq!(reply.status, 201, "{}", reply.body);
    }
    let none = send(&format!("{}/Patient/pa", kit.base), "GET", &[], None);
    assert_eq!(none.status, 401, "{}", none.body);
    let metadata = send(&format!("{}/metadata", kit.base), "GET", &[], None);
    assert_eq!(metadata.status, 200);
    assert_eq!(
        metadata.json()["rest"][0]["security"]["service"][0]["coding"][0]["code"],
        "SMART-on-FHIR"
    );

    let app = kit.token("launch/patient patient/*.rs", Some("pa"));
    assert_eq!(kit.send(&app, "GET", "Patient/pa", None).status, 200);
    let hidden = kit.send(&app, "GET", "Patient/pb", None);
    let unknown = kit.send(&app, "GET", "Patient/nobody", None);
    assert_eq!(hidden.status, 404);
    assert_eq!(hidden.body, unknown.body);
    // Its own $everything; another patient's answers as an unknown id.
    let everything = kit.send(&app, "GET", "Patient/pa/$everything", None);
    assert_eq!(everything.status, 200, "{}", everything.body);
    let mut held: Vec<String> = everything.json()["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{}/{}",
                e["resource"]["resourceType"].as_str().unwrap(),
                e["resource"]["id"].as_str().unwrap()
            )
        })
        .collect();
    held.sort();
    assert_eq!(held, ["Observation/o-pa", "Patient/pa"]);
    let other = kit.send(&app, "GET", "Patient/pb/$everything", None);
    assert_eq!(other.status, 404, "{}", other.body);
    // An answer holding what the token may not see is not sent.
    let patients_only = kit.token("launch/patient patient/Patient.rs", Some("pa"));
    let withheld = kit.send(&patients_only, "GET", "Patient/pa/$everything", None);
    assert_eq!(withheld.status, 404, "{}", withheld.body);
    // An operation the server did not open.
    let count = kit.send(
        &app,
        "POST",
        "Observation/$count",
        Some(r#"{"resourceType":"Parameters"}"#),
    );
    assert_eq!(count.status, 403, "{}", count.body);
    // A search the provider cannot narrow to the compartment is refused, never answered
    // with other patients' resources.
    let found = kit.send(&app, "GET", "Observation", None);
    match found.status {
        200 => {
            for e in found.json()["entry"].as_array().into_iter().flatten() {
                assert_eq!(
                    e["resource"]["subject"]["reference"], "Patient/pa",
                    "{}",
                    found.body
                );
            }
        }
        status => assert_eq!(status, 400, "{}", found.body),
    }
}
