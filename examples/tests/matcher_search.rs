//! The memory server's searches hand the kit their candidates and the kit's in-memory matcher
//! evaluates the query: dates with prefixes, `:not`, quantities, composites, `_sort` with
//! missing values last, `_has`, and includes kept only for the matches. Over real HTTP.

mod common;

use common::{send, Reply, JSON};
use std::sync::OnceLock;

fn base() -> &'static str {
    static BASE: OnceLock<String> = OnceLock::new();
    BASE.get_or_init(|| {
        let root = fhir_examples::launch_on_loopback(fhir_examples::memory_server());
        let base = format!("{root}/fhir");
        let post = |ty: &str, body: &str| {
            let created = send(&format!("{base}/{ty}"), "POST", &[JSON], Some(body));
            assert_eq!(created.status, 201, "{}", created.body);
            created.json()["id"].as_str().unwrap().to_string()
        };
        let ann = post("Patient", r#"{"resourceType":"Patient","name":[{"family":"Matcher","given":["Ann"]}],"gender":"female"}"#);
        let bob = post("Patient", r#"{"resourceType":"Patient","name":[{"family":"Matcher","given":["Bob"]}],"gender":"male"}"#);
        let observation = |patient: &str, code: &str, date: Option<&str>, value: f64, status: &str| {
            let date = date.map(|d| format!(r#""effectiveDateTime":"{d}","#)).unwrap_or_default();
            format!(
                r#"{{"resourceType":"Observation","status":"{status}",{date}"code":{{"coding":[{{"system":"http://loinc.org","code":"{code}"}}]}},"subject":{{"reference":"Patient/{patient}"}},"valueQuantity":{{"value":{value},"system":"http://unitsofmeasure.org","code":"kg"}}}}"#
            )
        };
        post("Observation", &observation(&ann, "29463-7", Some("2021-03-01"), 61.0, "final"));
        post("Observation", &observation(&ann, "29463-7", Some("2022-03-01"), 63.5, "final"));
        post("Observation", &observation(&bob, "29463-7", None, 80.0, "preliminary"));
        post("Observation", &observation(&bob, "8302-2", Some("2020-01-01"), 180.0, "final"));
        base
    })
}

fn get(path: &str) -> Reply {
    let reply = send(&format!("{}{path}", base()), "GET", &[], None);
    assert_eq!(reply.status, 200, "{path}: {}", reply.body);
    reply
}

/// The `valueQuantity.value` of the matches, in order.
fn values(path: &str) -> Vec<f64> {
    get(path).json()["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["search"]["mode"] == "match")
        .map(|e| e["resource"]["valueQuantity"]["value"].as_f64().unwrap())
        .collect()
}

#[test]
fn dates_tokens_and_quantities() {
    assert_eq!(values("/Observation?code=29463-7&date=ge2022"), [63.5]);
    assert_eq!(values("/Observation?code=29463-7&date=2021"), [61.0]);
    assert_eq!(
        values("/Observation?code=29463-7&date:missing=true"),
        [80.0]
    );
    assert_eq!(values("/Observation?status:not=final"), [80.0]);
    assert_eq!(
        values("/Observation?value-quantity=gt100|http://unitsofmeasure.org|kg"),
        [180.0]
    );
    assert_eq!(values("/Observation?value-quantity=ap62"), [61.0, 63.5]);
    assert_eq!(
        values("/Observation?code-value-quantity=http://loinc.org|29463-7$lt62"),
        [61.0]
    );
}

#[test]
fn sort_puts_missing_values_last() {
    assert_eq!(
        values("/Observation?code=29463-7&_sort=date"),
        [61.0, 63.5, 80.0]
    );
    assert_eq!(
        values("/Observation?code=29463-7&_sort=-date"),
        [63.5, 61.0, 80.0]
    );
    assert_eq!(
        values("/Observation?code=http://loinc.org|&_sort=-value-quantity"),
        [180.0, 80.0, 63.5, 61.0]
    );
}

#[test]
fn reverse_chains_and_includes() {
    let given = |path: &str| -> Vec<String> {
        get(path).json()["entry"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["resource"]["resourceType"] == "Patient")
            .map(|e| {
                e["resource"]["name"][0]["given"][0]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    assert_eq!(
        given("/Patient?_has:Observation:subject:code=8302-2"),
        ["Bob"]
    );
    assert_eq!(
        given("/Patient?_has:Observation:patient:value-quantity=lt62"),
        ["Ann"]
    );
    assert_eq!(
        given("/Patient?_has:Observation:subject:status=preliminary&gender=male"),
        ["Bob"]
    );
    // The Patients the candidates refer to, kept only for the matches.
    assert_eq!(
        given("/Observation?value-quantity=lt62&_include=Observation:subject"),
        ["Ann"]
    );
}

#[test]
fn what_the_matcher_cannot_evaluate_is_refused() {
    let reply = send(
        &format!(
            "{}/Patient?_has:Observation:subject:code:in=http://x/vs",
            base()
        ),
        "GET",
        &[],
        None,
    );
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(
        reply.diagnostics().contains("terminology server"),
        "{}",
        reply.body
    );
}
