//! Paging limits: a search or history without `_count` gets the server's default page size,
//! a `_count` above the maximum is lowered (the `self` link and a warning say so), and
//! `_count=0` answers the total alone. Over real HTTP against the memory server.

mod common;

use common::{send, JSON};
use serde_json::Value;
use std::sync::OnceLock;

fn base() -> &'static str {
    static BASE: OnceLock<String> = OnceLock::new();
    BASE.get_or_init(|| {
        let limits = fhir_rocket::Limits {
            default_page_size: 4,
            max_page_size: 6,
            ..Default::default()
        };
        let store = fhir_examples::Store::default();
        let root =
            fhir_examples::launch_on_loopback(fhir_examples::memory_server_limited(store, limits));
        let base = format!("{root}/fhir");
        for i in 0..9 {
            let body = format!(
                r#"{{"resourceType":"Patient","name":[{{"family":"Pager","given":["P{i}"]}}]}}"#
            );
            let created = send(&format!("{base}/Patient"), "POST", &[JSON], Some(&body));
            assert_eq!(created.status, 201, "{}", created.body);
        }
        base
    })
}

fn get(path: &str) -> Value {
    let reply = send(&format!("{}{path}", base()), "GET", &[], None);
    assert_eq!(reply.status, 200, "{path}: {}", reply.body);
    reply.json()
}

fn matches(bundle: &Value) -> usize {
    bundle["entry"].as_array().map_or(0, |e| {
        e.iter().filter(|e| e["search"]["mode"] == "match").count()
    })
}

fn link(bundle: &Value, relation: &str) -> Option<String> {
    bundle["link"]
        .as_array()?
        .iter()
        .find(|l| l["relation"] == relation)
        .map(|l| l["url"].as_str().unwrap().to_string())
}

#[test]
fn without_count_the_default_page_size() {
    let first = get("/Patient?family=pager");
    assert_eq!(first["total"], 9);
    assert_eq!(matches(&first), 4);
    let next = link(&first, "next").expect("a next page");
    assert!(next.contains("_count=4&_offset=4"), "{next}");
    let second = send(&next, "GET", &[], None).json();
    assert_eq!(matches(&second), 4);
    let third = send(&link(&second, "next").unwrap(), "GET", &[], None).json();
    assert_eq!(matches(&third), 1);
    assert!(link(&third, "next").is_none());
}

#[test]
fn a_count_above_the_maximum_is_lowered_and_said() {
    let bundle = get("/Patient?family=pager&_count=100000");
    assert_eq!(matches(&bundle), 6);
    let own = link(&bundle, "self").unwrap();
    assert!(own.contains("_count=6"), "{own}");
    let warning = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["search"]["mode"] == "outcome")
        .expect("a warning entry");
    let text = warning["resource"]["issue"][0]["diagnostics"]
        .as_str()
        .unwrap();
    assert!(text.contains("_count=100000"), "{text}");
}

#[test]
fn count_zero_answers_the_total_alone() {
    let bundle = get("/Patient?family=pager&_count=0");
    assert_eq!(bundle["total"], 9);
    assert_eq!(matches(&bundle), 0);
    assert!(link(&bundle, "next").is_none());
}

#[test]
fn histories_are_paged_too() {
    let bundle = get("/Patient/_history");
    assert_eq!(bundle["total"], 9);
    assert_eq!(bundle["entry"].as_array().unwrap().len(), 4);
    assert!(link(&bundle, "next").is_some());
}

#[test]
fn total_none_leaves_the_total_out() {
    let none = get("/Patient?family=Pager&_total=none");
    assert!(none.get("total").is_none(), "{none}");
    assert_eq!(matches(&none), 4);
    // Still paged: the next link is there.
    assert!(none["link"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["relation"] == "next"));
    assert_eq!(get("/Patient?family=Pager&_total=estimate")["total"], 9);
    assert_eq!(get("/Patient?family=Pager&_total=accurate")["total"], 9);
}
