//! SMART on FHIR on the complete server, both engines, over HTTP: tokens of an issuer made
//! in the test (`fhir_tests::issuer`), each case with the scopes it needs. Every path a
//! resource could leak by is tried: read, vread, search, paging, `_include`, `_revinclude`,
//! chains, `_has`, history, batch and transaction entries, conditional writes, writes of
//! resources outside the patient's compartment.

mod common;

use common::{Reply, Server, JSON};
use fhir_rocket::auth::audit::{AuditLog, AuditRecord};
use fhir_rocket::auth::scope::Permissions;
use fhir_rocket::auth::smart::SmartAuth;
use fhir_tests::issuer::{ec_key, mint, now, Issuer, Key};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

struct Fixture {
    issuer: Issuer,
    key: Key,
    servers: Vec<Server>,
    audit: Arc<Mutex<Vec<AuditRecord>>>,
}

fn fixture(name: &str) -> Fixture {
    let key = ec_key("test-key", false);
    let issuer = Issuer::start(&[&key]);
    let mut config = issuer.config();
    config.introspection = Some(issuer.introspection(std::time::Duration::from_secs(60)));
    let audit = Arc::new(Mutex::new(Vec::new()));
    let records = audit.clone();
    let servers = common::servers_with(name, move |server| {
        let records = records.clone();
        server
            .intercept(AuditLog::new(move |r| {
                records.lock().unwrap().push(r.clone())
            }))
            .authorize(
                SmartAuth::new(config.clone())
                    .role("roles", "clinician", "user/*.rs")
                    .unwrap()
                    .operation("$meta", Permissions::READ),
            )
    });
    Fixture {
        issuer,
        key,
        servers,
        audit,
    }
}

impl Fixture {
    fn token(&self, scope: &str, patient: Option<&str>) -> String {
        self.issuer.token(&self.key, scope, patient)
    }
}

fn send(s: &Server, token: &str, method: &str, path: &str, body: Option<&str>) -> Reply {
    let bearer = format!("Bearer {token}");
    let mut headers = vec![("Authorization", bearer.as_str())];
    if body.is_some() {
        headers.push(JSON);
    }
    s.send(method, path, &headers, body)
}

fn get(s: &Server, token: &str, path: &str) -> Reply {
    send(s, token, "GET", path, None)
}

/// The status, with the body when it is not `expected`.
fn status(s: &Server, reply: &Reply, expected: u16, what: &str) {
    assert_eq!(
        reply.status, expected,
        "{} {what}: {}",
        s.engine, reply.body
    );
}

/// `Type/id` of a searchset's entries in `mode`, sorted.
fn entries(reply: &Reply, mode: &str) -> Vec<String> {
    let mut ids = common::ids(&reply.json(), mode);
    ids.sort();
    ids
}

fn observation(id: &str, patient: &str, category: &str) -> String {
    json!({"resourceType": "Observation", "id": id, "status": "final",
           "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": category}]}],
           "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
           "subject": {"reference": format!("Patient/{patient}")},
           "performer": [{"reference": "Practitioner/pr1"}]})
    .to_string()
}

/// Two patients, their observations (laboratory and vital signs), a practitioner.
fn load(f: &Fixture, s: &Server) {
    let admin = f.token("system/*.cruds", None);
    let puts = [
        (
            "Patient/p1",
            json!({"resourceType": "Patient", "id": "p1", "name": [{"family": "One"}]}).to_string(),
        ),
        (
            "Patient/p2",
            json!({"resourceType": "Patient", "id": "p2", "name": [{"family": "Two"}]}).to_string(),
        ),
        (
            "Practitioner/pr1",
            json!({"resourceType": "Practitioner", "id": "pr1", "name": [{"family": "Doc"}]})
                .to_string(),
        ),
        ("Observation/o1", observation("o1", "p1", "laboratory")),
        ("Observation/o2", observation("o2", "p1", "vital-signs")),
        ("Observation/o3", observation("o3", "p2", "laboratory")),
        ("Observation/o4", observation("o4", "p1", "laboratory")),
    ];
    for (path, body) in puts {
        let reply = send(s, &admin, "PUT", path, Some(&body));
        assert!(
            reply.status == 201 || reply.status == 200,
            "{path}: {}",
            reply.body
        );
    }
}

#[test]
fn tokens_are_required_checked_and_discovered() {
    let f = fixture("auth_tokens");
    for s in &f.servers {
        load(&f, s);
        // No token.
        let reply = s.get("Patient/p1");
        status(s, &reply, 401, "no token");
        assert_eq!(reply.header("WWW-Authenticate"), Some("Bearer"));
        assert_eq!(reply.json()["resourceType"], "OperationOutcome");
        // Not a token of the issuer, expired, of another audience, not a bearer.
        let mut expired = f.issuer.claims();
        expired["exp"] = json!(now() - 3600);
        let mut elsewhere = f.issuer.claims();
        elsewhere["aud"] = json!("https://other.example.org/fhir");
        for (case, token) in [
            ("garbage", "garbage".to_string()),
            ("expired", mint(&f.key, &expired)),
            ("another audience", mint(&f.key, &elsewhere)),
            (
                "another key",
                mint(&ec_key("test-key", false), &f.issuer.claims()),
            ),
        ] {
            let reply = get(s, &token, "Patient/p1");
            status(s, &reply, 401, case);
            let challenge = reply.header("WWW-Authenticate").unwrap_or("");
            assert!(
                challenge.starts_with(r#"Bearer error="invalid_token""#),
                "{case}: {challenge}"
            );
        }
        let basic = s.send(
            "GET",
            "Patient/p1",
            &[("Authorization", "Basic YTpi")],
            None,
        );
        status(s, &basic, 401, "basic");
        // An opaque token, introspected at the issuer.
        f.issuer.opaque_token(
            "opaque-reader",
            json!({"active": true, "scope": "user/Patient.r", "exp": now() + 600}),
        );
        status(
            s,
            &get(s, "opaque-reader", "Patient/p1"),
            200,
            "opaque token",
        );
        status(
            s,
            &get(s, "opaque-reader", "Observation/o1"),
            403,
            "opaque token's scopes",
        );
        status(
            s,
            &get(s, "opaque-unknown", "Patient/p1"),
            401,
            "inactive opaque token",
        );

        // The CapabilityStatement and SMART's discovery document are public.
        let metadata = s.get("metadata");
        status(s, &metadata, 200, "metadata");
        let security = &metadata.json()["rest"][0]["security"];
        assert_eq!(
            security["service"][0]["coding"][0]["code"], "SMART-on-FHIR",
            "{security}"
        );
        let uris = &security["extension"][0];
        assert_eq!(
            uris["url"],
            "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
        );
        let token_uri = uris["extension"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["url"] == "token")
            .unwrap();
        assert_eq!(token_uri["valueUri"], format!("{}/token", f.issuer.base));
        let smart = s.get(".well-known/smart-configuration");
        status(s, &smart, 200, "smart-configuration");
        let smart = smart.json();
        assert_eq!(smart["issuer"], f.issuer.base);
        assert_eq!(smart["token_endpoint"], format!("{}/token", f.issuer.base));
        assert_eq!(smart["jwks_uri"], format!("{}/jwks", f.issuer.base));
        assert_eq!(smart["code_challenge_methods_supported"], json!(["S256"]));
        for capability in [
            "permission-v1",
            "permission-v2",
            "permission-patient",
            "client-confidential-asymmetric",
        ] {
            assert!(
                smart["capabilities"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|c| c == capability),
                "{smart}"
            );
        }
        assert!(smart["grant_types_supported"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g == "client_credentials"));
    }
}

#[test]
fn scopes_decide_each_type_and_verb() {
    let f = fixture("auth_verbs");
    for s in &f.servers {
        load(&f, s);
        let read_patients = f.token("user/Patient.r", None);
        status(s, &get(s, &read_patients, "Patient/p1"), 200, "read");
        status(
            s,
            &get(s, &read_patients, "Patient/p1/_history/1"),
            200,
            "vread",
        );
        status(
            s,
            &get(s, &read_patients, "Patient/p1/_history"),
            200,
            "instance history",
        );
        let refused = get(s, &read_patients, "Patient?name=one");
        status(s, &refused, 403, "search without s");
        assert_eq!(refused.json()["resourceType"], "OperationOutcome");
        status(
            s,
            &get(s, &read_patients, "Patient/_history"),
            403,
            "type history without s",
        );
        status(
            s,
            &get(s, &read_patients, "_history"),
            403,
            "system history",
        );
        status(
            s,
            &get(s, &read_patients, "Observation/o1"),
            403,
            "another type",
        );
        let body = json!({"resourceType": "Patient", "name": [{"family": "New"}]}).to_string();
        status(
            s,
            &send(s, &read_patients, "POST", "Patient", Some(&body)),
            403,
            "create without c",
        );
        status(
            s,
            &send(s, &read_patients, "DELETE", "Patient/p2", None),
            403,
            "delete without d",
        );
        let patch = r#"[{"op":"replace","path":"/active","value":true}]"#;
        let patched = s.send(
            "PATCH",
            "Patient/p2",
            &[
                ("Authorization", &format!("Bearer {read_patients}")),
                ("Content-Type", "application/json-patch+json"),
            ],
            Some(patch),
        );
        status(s, &patched, 403, "patch without u");
        // SMART 1's `write` is c, u and d.
        let write = f.token("user/Patient.write", None);
        status(
            s,
            &send(s, &write, "POST", "Patient", Some(&body)),
            201,
            "create with write",
        );
        status(
            s,
            &get(s, &write, "Patient/p1"),
            403,
            "read with write only",
        );
        // Operations only as the server opens them.
        status(
            s,
            &get(s, &read_patients, "Patient/p1/$validate"),
            403,
            "an operation not opened",
        );
        // A system search: every type it reaches.
        status(
            s,
            &get(s, &read_patients, "?_type=Patient"),
            403,
            "system search without s",
        );
        let search_patients = f.token("user/Patient.rs", None);
        status(
            s,
            &get(s, &search_patients, "?_type=Patient"),
            200,
            "system search of Patient",
        );
        status(
            s,
            &get(s, &search_patients, "?_type=Patient,Observation"),
            403,
            "system search of two types",
        );
        // Chains and `_has` need `s` on the types they reach.
        status(
            s,
            &get(
                s,
                &search_patients,
                "Patient?_has:Observation:subject:code=8867-4",
            ),
            403,
            "_has",
        );
        let both = f.token("user/Patient.rs user/Observation.rs", None);
        let has = get(s, &both, "Patient?_has:Observation:subject:code=8867-4");
        status(s, &has, 200, "_has with both");
        assert_eq!(entries(&has, "match"), ["Patient/p1", "Patient/p2"]);
        let observations = f.token("user/Observation.rs", None);
        status(
            s,
            &get(s, &observations, "Observation?subject:Patient.name=one"),
            403,
            "a chain to Patient",
        );
        status(
            s,
            &get(s, &observations, "Observation?subject.name=one"),
            403,
            "an implicit chain",
        );
        status(
            s,
            &get(s, &both, "Observation?subject:Patient.name=one"),
            200,
            "a chain with both",
        );
        // Roles: a claim's value grants scopes.
        let mut claims = f.issuer.claims();
        claims["scope"] = json!("openid");
        claims["roles"] = json!(["nurse", "clinician"]);
        let clinician = mint(&f.key, &claims);
        status(
            s,
            &get(s, &clinician, "Observation/o3"),
            200,
            "clinician reads",
        );
        status(
            s,
            &get(s, &clinician, "Observation?code=8867-4"),
            200,
            "clinician searches",
        );
        status(
            s,
            &send(s, &clinician, "DELETE", "Observation/o3", None),
            403,
            "clinician deletes",
        );
        claims["roles"] = json!("nurse");
        status(
            s,
            &get(s, &mint(&f.key, &claims), "Observation/o3"),
            403,
            "nurse reads",
        );
    }
}

#[test]
fn included_resources_the_token_may_not_see_are_dropped() {
    let f = fixture("auth_includes");
    for s in &f.servers {
        load(&f, s);
        let observations = f.token("user/Observation.rs", None);
        let found = get(
            s,
            &observations,
            "Observation?code=8867-4&_include=Observation:subject&_include=Observation:performer",
        );
        status(s, &found, 200, "_include");
        assert_eq!(entries(&found, "match").len(), 4);
        assert_eq!(
            entries(&found, "include"),
            Vec::<String>::new(),
            "{}",
            found.body
        );
        let with_patients = f.token("user/Observation.rs user/Patient.r", None);
        let found = get(
            s,
            &with_patients,
            "Observation?code=8867-4&_include=Observation:subject&_include=Observation:performer",
        );
        assert_eq!(
            entries(&found, "include"),
            ["Patient/p1", "Patient/p2"],
            "{}",
            found.body
        );
        let patients = f.token("user/Patient.rs", None);
        let found = get(s, &patients, "Patient?_revinclude=Observation:subject");
        status(s, &found, 200, "_revinclude");
        assert_eq!(entries(&found, "match"), ["Patient/p1", "Patient/p2"]);
        assert_eq!(
            entries(&found, "include"),
            Vec::<String>::new(),
            "{}",
            found.body
        );
    }
}

#[test]
fn a_patient_context_narrows_searches_and_hides_other_patients() {
    let f = fixture("auth_patient");
    for s in &f.servers {
        load(&f, s);
        let app = f.token(
            "launch/patient patient/Observation.rs patient/Patient.rs patient/Practitioner.r",
            Some("p1"),
        );
        // A search finds the patient's own, and its total and pages agree.
        let found = get(s, &app, "Observation?code=8867-4");
        status(s, &found, 200, "search");
        assert_eq!(
            entries(&found, "match"),
            ["Observation/o1", "Observation/o2", "Observation/o4"]
        );
        assert_eq!(found.json()["total"], 3);
        let first = get(s, &app, "Observation?code=8867-4&_count=2");
        assert_eq!(first.json()["total"], 3, "{}", first.body);
        assert_eq!(entries(&first, "match").len(), 2);
        let next = first.json()["link"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["relation"] == "next")
            .and_then(|l| l["url"].as_str().map(str::to_string))
            .expect("a next page");
        let path = next.split("/fhir/").nth(1).unwrap().to_string();
        let second = get(s, &app, &path);
        status(s, &second, 200, "next page");
        let mut all = entries(&first, "match");
        all.extend(entries(&second, "match"));
        all.sort();
        assert_eq!(all, ["Observation/o1", "Observation/o2", "Observation/o4"]);
        // The patient itself, and only it.
        let patients = get(s, &app, "Patient");
        status(s, &patients, 200, "Patient search");
        assert_eq!(entries(&patients, "match"), ["Patient/p1"]);
        assert_eq!(patients.json()["total"], 1);
        // The owner of the compartment is found only when it matches the search.
        assert_eq!(
            entries(&get(s, &app, "Patient?name=two"), "match"),
            Vec::<String>::new()
        );
        assert_eq!(
            entries(&get(s, &app, "Patient?name=one"), "match"),
            ["Patient/p1"]
        );
        // Another patient's resources answer as unknown ids, word for word.
        let unknown = get(s, &app, "Observation/nonexistent");
        for path in ["Observation/o3", "Observation/o3/_history/1"] {
            let hidden = get(s, &app, path);
            status(s, &hidden, 404, path);
            assert_eq!(hidden.body, unknown.body, "{path}");
        }
        let unknown = get(s, &app, "Patient/nonexistent");
        let hidden = get(s, &app, "Patient/p2");
        status(s, &hidden, 404, "Patient/p2");
        assert_eq!(hidden.body, unknown.body);
        // Its history is that of an unknown id: no versions.
        let history = get(s, &app, "Observation/o3/_history");
        let unknown = get(s, &app, "Observation/nonexistent/_history");
        assert_eq!(history.status, unknown.status, "{}", history.body);
        assert_eq!(
            history.json()["entry"],
            unknown.json()["entry"],
            "{}",
            history.body
        );
        assert_eq!(
            history.json()["total"],
            unknown.json()["total"],
            "{}",
            history.body
        );
        // Another patient's compartment, a type's history, a chain to a type not granted.
        status(
            s,
            &get(s, &app, "Patient/p2/Observation"),
            403,
            "another compartment",
        );
        status(
            s,
            &get(s, &app, "Patient/p1/Observation"),
            200,
            "its own compartment",
        );
        status(
            s,
            &get(s, &app, "Observation/_history"),
            403,
            "type history",
        );
        status(
            s,
            &get(s, &app, "Observation?subject:Patient.name=two"),
            200,
            "chain to Patient",
        );
        assert_eq!(
            entries(
                &get(s, &app, "Observation?subject:Patient.name=two"),
                "match"
            ),
            Vec::<String>::new()
        );
        // A type outside the compartment is not narrowed.
        status(s, &get(s, &app, "Practitioner/pr1"), 200, "a practitioner");

        // Writes: only within the compartment, never to another patient's resources.
        let writer = f.token("launch/patient patient/Observation.cruds", Some("p1"));
        let mine = observation("new1", "p1", "laboratory");
        status(
            s,
            &send(s, &writer, "PUT", "Observation/new1", Some(&mine)),
            201,
            "create in compartment",
        );
        let theirs = observation("new2", "p2", "laboratory");
        status(
            s,
            &send(s, &writer, "PUT", "Observation/new2", Some(&theirs)),
            403,
            "create outside",
        );
        let stolen = observation("o3", "p1", "laboratory");
        let refused = send(s, &writer, "PUT", "Observation/o3", Some(&stolen));
        status(s, &refused, 404, "update another patient's");
        status(
            s,
            &send(s, &writer, "DELETE", "Observation/o3", None),
            404,
            "delete another patient's",
        );
        let moved = observation("o1", "p2", "laboratory");
        status(
            s,
            &send(s, &writer, "PUT", "Observation/o1", Some(&moved)),
            403,
            "move out of the compartment",
        );
        status(
            s,
            &send(s, &writer, "DELETE", "Observation?code=8867-4", None),
            403,
            "conditional delete",
        );
        // A patch could move its resource out of the compartment after every check.
        let patch = r#"[{"op":"replace","path":"/subject/reference","value":"Patient/p2"}]"#;
        let bearer = format!("Bearer {writer}");
        let patched = s.send(
            "PATCH",
            "Observation/o1",
            &[
                ("Authorization", bearer.as_str()),
                ("Content-Type", "application/json-patch+json"),
            ],
            Some(patch),
        );
        status(s, &patched, 403, "patch in a patient's context");
        // Nothing of the other patient changed.
        let admin = f.token("system/*.rs", None);
        let o3 = get(s, &admin, "Observation/o3").json();
        assert_eq!(o3["subject"]["reference"], "Patient/p2");
        assert_eq!(o3["meta"]["versionId"], "1");
        status(s, &get(s, &admin, "Observation/new2"), 404, "not created");
    }
}

#[test]
fn a_scope_query_narrows_searches_with_right_totals() {
    let f = fixture("auth_query");
    for s in &f.servers {
        load(&f, s);
        let lab = f.token("user/Observation.rs?category=laboratory", None);
        let found = get(s, &lab, "Observation?code=8867-4&_count=2");
        status(s, &found, 200, "search");
        assert_eq!(found.json()["total"], 3, "{}", found.body);
        let all = get(s, &lab, "Observation");
        assert_eq!(
            entries(&all, "match"),
            ["Observation/o1", "Observation/o3", "Observation/o4"]
        );
        status(s, &get(s, &lab, "Observation/o2"), 404, "vital signs");
        status(s, &get(s, &lab, "Observation/o1"), 200, "laboratory");
        // Two queries of one parameter: either.
        let both = f.token(
            "user/Observation.rs?category=laboratory user/Observation.rs?category=vital-signs",
            None,
        );
        assert_eq!(get(s, &both, "Observation").json()["total"], 4);
        // With the patient's context too.
        let patient_lab = f.token("patient/Observation.rs?category=laboratory", Some("p1"));
        let found = get(s, &patient_lab, "Observation");
        assert_eq!(
            entries(&found, "match"),
            ["Observation/o1", "Observation/o4"]
        );
        assert_eq!(found.json()["total"], 2);
    }
}

/// A Bundle entry of `method url`, with `resource` when given.
fn entry(method: &str, url: &str, resource: Option<Value>) -> Value {
    let mut e = json!({"request": {"method": method, "url": url}});
    if let Some(r) = resource {
        e["resource"] = r;
    }
    e
}

#[test]
fn batch_and_transaction_entries_are_each_checked() {
    let f = fixture("auth_bundles");
    for s in &f.servers {
        load(&f, s);
        let patients = f.token("user/Patient.cruds", None);
        let batch = json!({"resourceType": "Bundle", "type": "batch", "entry": [
            entry("GET", "Patient/p1", None),
            entry("GET", "Observation/o1", None),
            entry("GET", "Observation?code=8867-4", None),
        ]});
        let reply = send(s, &patients, "POST", "", Some(&batch.to_string()));
        status(s, &reply, 200, "batch");
        let statuses: Vec<String> = reply.json()["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["response"]["status"].as_str().unwrap_or("").to_string())
            .collect();
        assert!(statuses[0].starts_with("200"), "{statuses:?}");
        assert!(statuses[1].starts_with("403"), "{statuses:?}");
        assert!(statuses[2].starts_with("403"), "{statuses:?}");
        // One forbidden entry refuses the whole transaction.
        let transaction = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
            entry("PUT", "Patient/p1", Some(json!({"resourceType": "Patient", "id": "p1", "name": [{"family": "Changed"}]}))),
            entry("PUT", "Observation/o1", Some(serde_json::from_str(&observation("o1", "p1", "vital-signs")).unwrap())),
        ]});
        let reply = send(s, &patients, "POST", "", Some(&transaction.to_string()));
        status(s, &reply, 403, "transaction");
        let admin = f.token("system/*.rs", None);
        assert_eq!(
            get(s, &admin, "Patient/p1").json()["name"][0]["family"],
            "One"
        );
        // A patient's context: a transaction touching another patient's resource.
        let app = f.token(
            "patient/Observation.cruds patient/Patient.cruds",
            Some("p1"),
        );
        let transaction = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
            entry("PUT", "Observation/o1", Some(serde_json::from_str(&observation("o1", "p1", "vital-signs")).unwrap())),
            entry("DELETE", "Observation/o3", None),
        ]});
        let reply = send(s, &app, "POST", "", Some(&transaction.to_string()));
        status(s, &reply, 404, "transaction deleting another patient's");
        assert_eq!(
            get(s, &admin, "Observation/o1").json()["meta"]["versionId"],
            "1"
        );
        status(s, &get(s, &admin, "Observation/o3"), 200, "still there");
        // A search entry is narrowed as a search is.
        let batch = json!({"resourceType": "Bundle", "type": "batch", "entry": [
            entry("GET", "Observation?code=8867-4", None),
        ]});
        let reply = send(s, &app, "POST", "", Some(&batch.to_string()));
        let searchset = &reply.json()["entry"][0]["resource"];
        assert_eq!(searchset["total"], 3, "{searchset}");
    }
}

#[test]
fn every_request_is_audited_with_who_and_what() {
    let f = fixture("auth_audit");
    let s = &f.servers[0];
    load(&f, s);
    let app = f.token("launch/patient patient/Observation.rs", Some("p1"));
    f.audit.lock().unwrap().clear();
    get(s, &app, "Observation?code=8867-4");
    get(s, &app, "Observation/o3");
    s.get("Observation/o1");
    let records = f.audit.lock().unwrap().clone();
    assert_eq!(records.len(), 3, "{records:#?}");
    let search = &records[0];
    assert_eq!(search.subject.as_deref(), Some("app-1"));
    assert_eq!(search.method, "GET");
    assert_eq!(search.path, "/fhir/Observation");
    assert_eq!(search.interactions, ["search-type Observation"]);
    let mut sent = search.resources.clone();
    sent.sort();
    assert_eq!(sent, ["Observation/o1", "Observation/o2", "Observation/o4"]);
    assert_eq!(search.status, 200);
    assert_eq!(records[1].interactions, ["read Observation/o3"]);
    assert_eq!(records[1].status, 404);
    assert!(records[1].resources.is_empty(), "{:?}", records[1]);
    assert_eq!(records[2].status, 401);
    assert_eq!(records[2].subject, None);
}

#[test]
fn the_backend_services_flow_works_with_real_client_libraries() {
    let f = fixture("auth_backend");
    let s = &f.servers[0];
    load(&f, s);
    // The issuer signs the tokens of its endpoint with its key; the client has a P-384 key.
    f.issuer.sign_tokens_with(&f.key);
    let client = ec_key("backend-client", true);
    f.issuer.client("backend-1", client.jwk.clone());
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let python = fhir_tests::python_with(
        &dir.join("python-smart"),
        &["authlib==1.9.10", "fhirclient==4.4.0", "requests==2.32.3"],
    );
    let key = dir.join("backend-client.pem");
    std::fs::write(&key, client.private_pem()).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smart_backend_client.py");
    let out = std::process::Command::new(python)
        .args([script, &s.base, "backend-1"])
        .arg(&key)
        .arg("system/Patient.rs system/Observation.rs")
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&key);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let found: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(found["token_type"], "bearer", "{found}");
    assert_eq!(found["patient_family"], "One", "{found}");
    assert_eq!(
        found["observations"],
        json!(["o1", "o2", "o3", "o4"]),
        "{found}"
    );
    // Its scopes give no Practitioner.
    assert_eq!(found["practitioner_status"], 403, "{found}");
    assert!(found["grant_types"]
        .as_array()
        .unwrap()
        .iter()
        .any(|g| g == "client_credentials"));
}
