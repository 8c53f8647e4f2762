//! What a provider adds to its answer (`ResponseExtras`): headers, a success status and
//! warnings, where FHIR has a place for them. Over real HTTP against the memory server.

mod common;

use common::{send, JSON};
use std::sync::OnceLock;

fn base() -> &'static str {
    static BASE: OnceLock<String> = OnceLock::new();
    BASE.get_or_init(|| {
        let root = fhir_examples::launch_on_loopback(fhir_examples::memory_server());
        format!("{root}/fhir")
    })
}

fn echo(body: &str, headers: &[(&str, &str)]) -> common::Reply {
    let mut all = vec![JSON];
    all.extend_from_slice(headers);
    send(&format!("{}/$echo", base()), "POST", &all, Some(body))
}

#[test]
fn headers_and_a_success_status() {
    let one = r#"{"resourceType":"Parameters","parameter":[{"name":"x","valueString":"y"}]}"#;
    let reply = echo(one, &[]);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("X-Echoed-Parameters"), Some("1"));
    let later = r#"{"resourceType":"Parameters","parameter":[{"name":"later","valueString":"y"}]}"#;
    assert_eq!(echo(later, &[]).status, 202);
}

#[test]
fn warnings_in_a_search_and_in_bundle_entries() {
    let found = send(
        &format!("{}/Observation?code=1234-5", base()),
        "GET",
        &[],
        None,
    );
    assert_eq!(found.status, 200, "{}", found.body);
    let bundle = found.json();
    let outcome = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["search"]["mode"] == "outcome")
        .expect("the provider's warning entry");
    let issue = &outcome["resource"]["issue"][0];
    assert_eq!(issue["severity"], "warning");
    assert_eq!(issue["expression"][0], "Observation.code");
    // A batch entry's warnings go in its response; its headers do not reach the Bundle's.
    let batch = r#"{"resourceType":"Bundle","type":"batch","entry":[
        {"request":{"method":"GET","url":"Observation?code=1234-5"}},
        {"resource":{"resourceType":"Parameters"},"request":{"method":"POST","url":"$echo"}}]}"#;
    let reply = send(base(), "POST", &[JSON], Some(batch));
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("X-Echoed-Parameters"), None);
    let entries = reply.json()["entry"].as_array().unwrap().clone();
    assert_eq!(
        entries[1]["response"]["outcome"]["issue"][0]["diagnostics"], "nothing to echo",
        "{entries:?}"
    );
}
