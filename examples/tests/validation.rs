//! Validation over HTTP against the memory server: creates and updates of invalid resources
//! are refused with 422 and an OperationOutcome of every issue (with its expression) and
//! store nothing; `$validate` answers 200 with the issues at type and instance level, in the
//! modes create, update and delete; a server may turn validation of writes off.

mod common;

use common::{send, Reply, JSON};
use std::sync::OnceLock;

fn base() -> &'static str {
    static BASE: OnceLock<String> = OnceLock::new();
    BASE.get_or_init(|| {
        let root = fhir_examples::launch_on_loopback(fhir_examples::memory_server());
        format!("{root}/fhir")
    })
}

const DIV: &str =
    r#""text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"}"#;

fn post(path: &str, body: &str) -> Reply {
    send(&format!("{}/{path}", base()), "POST", &[JSON], Some(body))
}

/// (severity, code, diagnostics, expression) of each issue of an OperationOutcome.
fn issues(reply: &Reply) -> Vec<(String, String, String, String)> {
    let v = reply.json();
    assert_eq!(v["resourceType"], "OperationOutcome", "{}", reply.body);
    v["issue"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let s = |k: &str| i[k].as_str().unwrap_or("").to_string();
            (
                s("severity"),
                s("code"),
                s("diagnostics"),
                i["expression"][0].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn issue(
    severity: &str,
    code: &str,
    diagnostics: &str,
    expression: &str,
) -> (String, String, String, String) {
    (
        severity.into(),
        code.into(),
        diagnostics.into(),
        expression.into(),
    )
}

/// How many Patients named `family` the server holds.
fn stored(family: &str) -> u64 {
    let reply = send(
        &format!("{}/Patient?family={family}&_count=0", base()),
        "GET",
        &[],
        None,
    );
    reply.json()["total"].as_u64().unwrap()
}

#[test]
fn the_issue_cases_are_refused_with_422() {
    let reply = post(
        "Patient",
        &format!(
            r#"{{"resourceType":"Patient",{DIV},"id":"","name":[{{"family":"Refused"}}],"birthDate":"1970-02-30"}}"#
        ),
    );
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert_eq!(
        issues(&reply),
        [
            issue(
                "error",
                "value",
                "an id must not be empty: leave the element out",
                "Patient.id"
            ),
            issue(
                "error",
                "value",
                "'1970-02-30' is not a valid date: February 1970 has 28 days",
                "Patient.birthDate"
            ),
        ]
    );
    let reply = post(
        "Patient",
        &format!(
            r#"{{"resourceType":"Patient",{DIV},"id":"has space","name":[{{"family":"Refused"}}]}}"#
        ),
    );
    assert_eq!(reply.status, 422);
    assert_eq!(issues(&reply)[0].2, "'has space' is not a valid id");

    let reply = post(
        "Observation",
        &format!(r#"{{"resourceType":"Observation",{DIV},"status":"final"}}"#),
    );
    assert_eq!(reply.status, 422);
    assert_eq!(
        issues(&reply),
        [issue(
            "error",
            "required",
            "Observation.code is required (min 1), but is missing",
            "Observation.code"
        )]
    );

    let script = r#"{"resourceType":"Patient","name":[{"family":"Refused"}],"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x<script>alert(1)</script></div>"}}"#;
    let reply = post("Patient", script);
    assert_eq!(reply.status, 422);
    let found = issues(&reply);
    assert_eq!(
        (found[0].1.as_str(), found[0].3.as_str()),
        ("security", "Patient.text.div")
    );
    assert!(
        found[0]
            .2
            .starts_with("<script> is not allowed in a narrative"),
        "{found:?}"
    );
    assert_eq!(stored("Refused"), 0, "nothing invalid is stored");

    // A warning does not refuse: no narrative (dom-6) is stored.
    let reply = post(
        "Patient",
        r#"{"resourceType":"Patient","name":[{"family":"Valid"}]}"#,
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
}

#[test]
fn updates_and_xml_bodies_are_validated_too() {
    let created = post("Patient", &format!(r#"{{"resourceType":"Patient",{DIV}}}"#));
    assert_eq!(created.status, 201);
    let id = created.json()["id"].as_str().unwrap().to_string();
    let url = format!("{}/Patient/{id}", base());
    let body = format!(
        r#"{{"resourceType":"Patient",{DIV},"id":"{id}","gender":"male","link":[{{"type":"seealso"}}]}}"#
    );
    let reply = send(&url, "PUT", &[JSON], Some(&body));
    assert_eq!(reply.status, 422);
    assert_eq!(
        issues(&reply),
        [issue(
            "error",
            "required",
            "Patient.link[0].other is required (min 1), but is missing",
            "Patient.link[0].other"
        )]
    );
    let xml = format!(
        r#"<Patient xmlns="http://hl7.org/fhir"><id value="{id}"/><text><status value="generated"/><div xmlns="http://www.w3.org/1999/xhtml"><p onclick="steal()">x</p></div></text></Patient>"#
    );
    let reply = send(
        &url,
        "PUT",
        &[("Content-Type", "application/fhir+xml")],
        Some(&xml),
    );
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert_eq!(
        issues(&reply)[0].2,
        "the event attribute 'onclick' of <p> is not allowed in a narrative"
    );
}

#[test]
fn a_transaction_with_an_invalid_entry_is_refused() {
    let bundle = format!(
        r#"{{"resourceType":"Bundle","type":"transaction","entry":[
            {{"resource":{{"resourceType":"Patient",{DIV},"name":[{{"family":"Untransacted"}}]}},"request":{{"method":"POST","url":"Patient"}}}},
            {{"resource":{{"resourceType":"Patient",{DIV},"name":[{{"family":"Untransacted"}}],"birthDate":"2023-02-29"}},"request":{{"method":"POST","url":"Patient"}}}}]}}"#
    );
    let reply = send(base(), "POST", &[JSON], Some(&bundle));
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert!(
        reply.body.contains("February 2023 has 28 days"),
        "{}",
        reply.body
    );
    assert_eq!(stored("Untransacted"), 0);
}

#[test]
fn validate_at_type_level() {
    let reply = post(
        "Patient/$validate",
        &format!(r#"{{"resourceType":"Patient",{DIV},"birthDate":"1970-02-30","gender":"x"}}"#),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        issues(&reply),
        [
            issue(
                "error",
                "code-invalid",
                "'x' is not a code of the required value set http://hl7.org/fhir/ValueSet/administrative-gender",
                "Patient.gender"
            ),
            issue("error", "value", "'1970-02-30' is not a valid date: February 1970 has 28 days", "Patient.birthDate"),
        ]
    );
    let valid = post(
        "Patient/$validate",
        &format!(r#"{{"resourceType":"Patient",{DIV}}}"#),
    );
    assert_eq!(valid.status, 200);
    assert_eq!(
        issues(&valid),
        [issue(
            "information",
            "informational",
            "no issues: the resource is valid",
            ""
        )]
    );
    // A type the memory server serves generically, and a warning alone.
    let reply = post(
        "Basic/$validate",
        r#"{"resourceType":"Basic","code":{"text":"x"}}"#,
    );
    assert_eq!(
        issues(&reply),
        [issue(
            "warning",
            "invariant",
            "A resource should have narrative for robust management",
            "Basic"
        )]
    );
    // The resource in a Parameters body, with a mode.
    let parameters = format!(
        r#"{{"resourceType":"Parameters","parameter":[{{"name":"mode","valueCode":"create"}},{{"name":"resource","resource":{{"resourceType":"Observation",{DIV},"status":"final"}}}}]}}"#
    );
    let reply = post("Observation/$validate", &parameters);
    assert_eq!(reply.status, 200);
    assert_eq!(issues(&reply)[0].3, "Observation.code");
    // A resource of another type than the URL's.
    let reply = post(
        "Observation/$validate",
        &format!(r#"{{"resourceType":"Patient",{DIV}}}"#),
    );
    assert_eq!(
        issues(&reply)[0].2,
        "the resource is a Patient but the URL names Observation"
    );
    // Text the typed reader refuses is validated as text: the issues, with where they are.
    let reply = post(
        "Patient/$validate",
        r#"{"resourceType":"Patient","gender":"x","_gender":3}"#,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let found = issues(&reply);
    assert_eq!(found[0].3, "Patient.gender");
    assert_eq!(
        found[1].2,
        "the id and extensions of a primitive are an object, found a number"
    );
    let reply = post("Patient/$validate", "{");
    assert_eq!(issues(&reply)[0].0, "fatal");
    let reply = post(
        "Patient/$validate?mode=remove",
        &format!(r#"{{"resourceType":"Patient",{DIV}}}"#),
    );
    assert_eq!(reply.status, 400);
}

#[test]
fn validate_at_instance_level_in_each_mode() {
    let update = |body_id: &str| {
        format!(
            r#"{{"resourceType":"Parameters","parameter":[{{"name":"mode","valueCode":"update"}},{{"name":"resource","resource":{{"resourceType":"Patient",{DIV},"id":"{body_id}"}}}}]}}"#
        )
    };
    let reply = post("Patient/123/$validate", &update("123"));
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(issues(&reply)[0].0, "information");
    let reply = post("Patient/123/$validate", &update("124"));
    assert_eq!(
        issues(&reply),
        [issue(
            "error",
            "invalid",
            "the resource's id (124) must match the URL's id (123) for an update",
            "Patient.id"
        )]
    );
    // Delete checks nothing of a body: the memory server deletes Patients.
    let reply = post(
        "Patient/123/$validate",
        r#"{"resourceType":"Parameters","parameter":[{"name":"mode","valueCode":"delete"}]}"#,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(issues(&reply)[0].0, "information");
    let reply = post(
        "Patient/$validate",
        r#"{"resourceType":"Parameters","parameter":[{"name":"mode","valueCode":"delete"}]}"#,
    );
    assert_eq!(reply.status, 400);
}

#[test]
fn a_server_may_turn_validation_of_writes_off() {
    let root = fhir_examples::launch_on_loopback(fhir_examples::memory_server_configured(
        Default::default(),
        |server| server.validate_writes(false),
    ));
    let body = format!(r#"{{"resourceType":"Observation",{DIV},"status":"final"}}"#);
    let reply = send(
        &format!("{root}/fhir/Observation"),
        "POST",
        &[JSON],
        Some(&body),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    // $validate still validates.
    let reply = send(
        &format!("{root}/fhir/Observation/$validate"),
        "POST",
        &[JSON],
        Some(&body),
    );
    assert_eq!(reply.status, 200);
    assert_eq!(
        issues(&reply),
        [issue(
            "error",
            "required",
            "Observation.code is required (min 1), but is missing",
            "Observation.code"
        )]
    );
}

#[test]
fn the_capability_statement_lists_validate() {
    let cs = send(&format!("{}/metadata", base()), "GET", &[], None).json();
    let resources = cs["rest"][0]["resource"].as_array().unwrap();
    for r in resources {
        let ops = r["operation"].as_array().unwrap();
        assert!(
            ops.iter().any(|o| o["name"] == "validate"
                && o["definition"] == "http://hl7.org/fhir/OperationDefinition/Resource-validate"),
            "{r}"
        );
    }
}

#[test]
fn validate_by_get_in_mode_delete() {
    let url = format!("{}/Patient/1/$validate?mode=delete", base());
    let reply = send(&url, "GET", &[], None);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(issues(&reply)[0].0, "information");
    let reply = send(&format!("{}/Patient/$validate", base()), "GET", &[], None);
    assert_eq!(reply.status, 400);
}

#[test]
fn the_definitions_invariants_are_checked_on_writes() {
    // per-1: a period that ends before it starts; pat-1: a contact with no details.
    let reply = post(
        "Patient",
        &format!(
            r#"{{"resourceType":"Patient",{DIV},"name":[{{"family":"Invariant","period":{{"start":"2020-02-01","end":"2020-01-01"}}}}],"contact":[{{"gender":"male"}}]}}"#
        ),
    );
    assert_eq!(reply.status, 422, "{}", reply.body);
    let found = issues(&reply);
    assert_eq!(
        found,
        [
            issue(
                "error",
                "invariant",
                "per-1: If present, start SHALL have a lower value than end",
                "Patient.name[0].period"
            ),
            issue(
                "error",
                "invariant",
                "pat-1: SHALL at least contain a contact's details or a reference to an organization",
                "Patient.contact[0]"
            ),
        ],
        "{}",
        reply.body
    );
    assert_eq!(stored("Invariant"), 0);
    // The same resource with the period the right way round and a named contact is stored.
    let reply = post(
        "Patient",
        &format!(
            r#"{{"resourceType":"Patient",{DIV},"name":[{{"family":"Invariant","period":{{"start":"2020-01-01T10:00:00+02:00","end":"2020-01-01T09:30:00Z"}}}}],"contact":[{{"name":{{"family":"C"}}}}]}}"#
        ),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(stored("Invariant"), 1);
}
