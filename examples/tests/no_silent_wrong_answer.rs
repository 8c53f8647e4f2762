//! A search parameter, modifier, chain or result parameter that the provider does not evaluate
//! is a 400 naming it, never a 200 with wrong data; with `Prefer: handling=lenient` it is left
//! out of the search and of its `self` link, with a warning entry. Over real HTTP against the
//! memory server, whose searches declare what they evaluate.

mod common;

use common::{send, Reply, JSON};
use std::sync::OnceLock;

fn base() -> &'static str {
    static BASE: OnceLock<String> = OnceLock::new();
    BASE.get_or_init(|| {
        let root = fhir_examples::launch_on_loopback(fhir_examples::memory_server());
        let base = format!("{root}/fhir");
        // Two patients named Silent (one female), an Observation of the female one.
        for (given, gender) in [("Ada", "female"), ("Bob", "male")] {
            let body = format!(
                r#"{{"resourceType":"Patient","name":[{{"family":"Silent","given":["{given}"]}}],"gender":"{gender}"}}"#
            );
            let created = send(&format!("{base}/Patient"), "POST", &[JSON], Some(&body));
            assert_eq!(created.status, 201, "{}", created.body);
            if gender == "female" {
                let id = created.json()["id"].as_str().unwrap().to_string();
                let observation = format!(
                    r#"{{"resourceType":"Observation","status":"final","code":{{"coding":[{{"system":"http://loinc.org","code":"silent-1"}}]}},"subject":{{"reference":"Patient/{id}"}}}}"#
                );
                let created =
                    send(&format!("{base}/Observation"), "POST", &[JSON], Some(&observation));
                assert_eq!(created.status, 201, "{}", created.body);
            }
        }
        base
    })
}

fn get(path: &str, headers: &[(&str, &str)]) -> Reply {
    send(&format!("{}{path}", base()), "GET", headers, None)
}

/// A 400 whose OperationOutcome names `what`.
fn refused(path: &str, what: &str) {
    let reply = get(path, &[]);
    assert_eq!(reply.status, 400, "{path}: {}", reply.body);
    assert_eq!(reply.json()["resourceType"], "OperationOutcome");
    let diagnostics = reply.diagnostics();
    assert!(diagnostics.contains(what), "{path}: {diagnostics}");
}

#[test]
fn the_cases_that_answered_wrong_data_are_refused() {
    // A chain the search does not follow (it found nothing, although Ada matches).
    refused("/Observation?subject.name=silent", "subject.name");
    refused(
        "/Observation?subject:Patient.nonsense=x",
        "subject:Patient.nonsense",
    );
    // A modifier the search does not evaluate (it returned the female patients).
    refused("/Patient?family=silent&gender:not=female", "gender:not");
    // :missing, which the search would have got wrong for absent elements.
    refused(
        "/Observation?subject:missing=false&code=http://loinc.org|silent-1",
        "subject:missing",
    );
    refused("/Patient?family:missing=true", "family:missing");
    // A result parameter nothing applies.
    refused("/Patient?family=silent&_contained=true", "_contained");
    // A sort the search does not do (both orders were the same).
    refused("/Patient?family=silent&_sort=family", "_sort");
    refused("/Patient?family=silent&_sort=-family", "does not sort");
    // The same holds for a search of several types and a compartment search.
    refused("?_type=Patient&family=silent&_contained=both", "_contained");
    refused("/Patient/1/Observation?code:text=x", "code:text");
}

#[test]
fn summary_and_elements_are_applied_by_the_kit() {
    // Full resources came back; now the kit subsets them.
    let whole = get("/Patient?family=silent", &[]).json();
    let count = get("/Patient?family=silent&_summary=count", &[]);
    assert_eq!(count.status, 200, "{}", count.body);
    let count = count.json();
    assert_eq!(count["total"], whole["total"]);
    assert!(count.get("entry").is_none());
    let elements = get("/Patient?family=silent&_elements=gender", &[]).json();
    for entry in elements["entry"].as_array().unwrap() {
        let patient = &entry["resource"];
        assert!(
            patient.get("gender").is_some() && patient.get("name").is_none(),
            "{patient}"
        );
    }
    let several = get("?_type=Patient&family=silent&_summary=count", &[]).json();
    assert_eq!(several["total"], whole["total"]);
}

#[test]
fn what_the_search_declares_it_evaluates() {
    let exact = get("/Patient?family:exact=Silent", &[]);
    assert_eq!(exact.status, 200, "{}", exact.body);
    assert_eq!(exact.json()["total"], 2);
    assert_eq!(get("/Patient?family:exact=silent", &[]).json()["total"], 0);
    assert_eq!(get("/Patient?given:contains=d", &[]).json()["total"], 1);
    // A reference's type is part of its value.
    let ada = get("/Patient?family=silent&given=ada", &[]).json();
    let id = ada["entry"][0]["resource"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let typed = get(&format!("/Observation?subject:Patient={id}"), &[]);
    assert_eq!(typed.status, 200, "{}", typed.body);
    assert_eq!(typed.json()["total"], 1);
    // Paging and the total are applied by the kit.
    let paged = get("/Patient?family=silent&_count=1&_total=accurate", &[]);
    assert_eq!(paged.status, 200, "{}", paged.body);
    assert_eq!(paged.json()["entry"].as_array().unwrap().len(), 1);
}

#[test]
fn lenient_handling_leaves_out_with_a_warning() {
    let lenient = [("Prefer", "handling=lenient")];
    let reply = get(
        "/Patient?family=silent&gender:not=female&_sort=family",
        &lenient,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let bundle = reply.json();
    // Searched by family only: both patients.
    assert_eq!(bundle["total"], 2, "{bundle}");
    let link = bundle["link"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["relation"] == "self")
        .unwrap()["url"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(link.contains("family=silent"), "{link}");
    assert!(!link.contains("gender"), "{link}");
    assert!(!link.contains("_sort"), "{link}");
    let entries = bundle["entry"].as_array().unwrap();
    let outcome = entries
        .iter()
        .find(|e| e["search"]["mode"] == "outcome")
        .expect("a warning entry");
    assert_eq!(outcome["resource"]["resourceType"], "OperationOutcome");
    let issues = outcome["resource"]["issue"].as_array().unwrap();
    assert_eq!(issues.len(), 2, "{outcome}");
    assert!(issues.iter().all(|i| i["severity"] == "warning"));
    assert!(issues[0]["diagnostics"]
        .as_str()
        .unwrap()
        .contains("gender:not was left out"));
    // Matches are not counted with the warning.
    assert_eq!(
        entries
            .iter()
            .filter(|e| e["search"]["mode"] == "match")
            .count(),
        2
    );
    // A parameter no search takes is left out too.
    let unknown = get("/Patient?family=silent&birthdate=2000", &lenient);
    assert_eq!(unknown.status, 200, "{}", unknown.body);
    assert_eq!(unknown.json()["total"], 2);
    // Without the preference, the same query is refused.
    assert_eq!(
        get("/Patient?family=silent&gender:not=female", &[]).status,
        400
    );
    // handling=strict is the default spelled out.
    assert_eq!(
        get(
            "/Patient?family=silent&gender:not=female",
            &[("Prefer", "handling=strict")]
        )
        .status,
        400
    );
}

#[test]
fn a_provider_error_carries_a_whole_operation_outcome() {
    let body = r#"{"resourceType":"Patient","birthDate":"2999-01-01"}"#;
    let reply = send(&format!("{}/Patient", base()), "POST", &[JSON], Some(body));
    assert_eq!(reply.status, 422, "{}", reply.body);
    let outcome = reply.json();
    let issues = outcome["issue"].as_array().unwrap();
    assert_eq!(issues.len(), 2, "{outcome}");
    assert_eq!(issues[0]["severity"], "error");
    assert_eq!(issues[0]["code"], "processing");
    assert_eq!(issues[0]["expression"][0], "Patient.birthDate");
    assert_eq!(
        issues[0]["details"]["coding"][0]["code"],
        "birth-date-future"
    );
    assert_eq!(issues[1]["severity"], "information");
    // The same inside a batch: the entry's outcome is the whole OperationOutcome.
    let batch = r#"{"resourceType":"Bundle","type":"batch","entry":[
        {"resource":{"resourceType":"Patient","birthDate":"2999-01-01"},"request":{"method":"POST","url":"Patient"}}]}"#;
    let reply = send(base(), "POST", &[JSON], Some(batch));
    assert_eq!(reply.status, 200, "{}", reply.body);
    let entry = &reply.json()["entry"][0]["response"];
    assert_eq!(entry["status"], "422 Unprocessable Entity", "{entry}");
    assert_eq!(entry["outcome"]["issue"].as_array().unwrap().len(), 2);
    // And in XML.
    let xml = send(
        &format!("{}/Patient", base()),
        "POST",
        &[JSON, ("Accept", "application/fhir+xml")],
        Some(body),
    );
    assert_eq!(xml.status, 422);
    assert!(
        xml.body
            .contains("<expression value=\"Patient.birthDate\"/>"),
        "{}",
        xml.body
    );
}
