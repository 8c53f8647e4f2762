//! `_summary` and `_elements`, applied by the kit to reads, vreads, searches, histories and
//! batch entries, in JSON and XML, with the `SUBSETTED` tag; `_summary=count`; the requests
//! it refuses; and a search that applies them itself. Over real HTTP against the memory
//! server and a server of this test's own.

mod common;

use common::{send, JSON};
use fhir_rocket::model::r4::Patient;
use fhir_rocket::search::{ResultParams, SummaryMode};
use fhir_rocket::{providers, search, FhirError, FhirServer};
use serde_json::Value;
use std::sync::OnceLock;

fn base() -> &'static str {
    static BASE: OnceLock<String> = OnceLock::new();
    BASE.get_or_init(|| {
        let root = fhir_examples::launch_on_loopback(fhir_examples::memory_server());
        let base = format!("{root}/fhir");
        let patient = r#"{"resourceType":"Patient","id":"subset-1",
            "text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">Ada Subset</div>"},
            "identifier":[{"system":"urn:subset","value":"1"}],
            "active":true,
            "name":[{"family":"Subset","given":["Ada"]}],
            "gender":"female","birthDate":"1970-01-02",
            "photo":[{"title":"not in the summary"}],
            "contact":[{"relationship":[{"text":"friend"}],"name":{"family":"Friend"},"gender":"male"}]}"#;
        let put = send(&format!("{base}/Patient/subset-1"), "PUT", &[JSON], Some(patient));
        assert!(put.status == 201 || put.status == 200, "{}", put.body);
        base
    })
}

fn get(path: &str) -> common::Reply {
    send(&format!("{}/{path}", base()), "GET", &[], None)
}

fn ok(path: &str) -> Value {
    let reply = get(path);
    assert_eq!(reply.status, 200, "{path}: {}", reply.body);
    reply.json()
}

fn keys(resource: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = resource
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    keys
}

fn subsetted(resource: &Value) -> bool {
    resource["meta"]["tag"]
        .as_array()
        .is_some_and(|tags| tags.iter().any(|t| t["code"] == "SUBSETTED"))
}

#[test]
fn read_with_summary_keeps_the_summary_elements() {
    let patient = ok("Patient/subset-1?_summary=true");
    assert_eq!(
        keys(&patient),
        [
            "active",
            "birthDate",
            "gender",
            "id",
            "identifier",
            "meta",
            "name",
            "resourceType"
        ]
    );
    assert!(subsetted(&patient), "{patient}");
    // Without it, everything, and no tag.
    let whole = ok("Patient/subset-1");
    assert!(whole.get("photo").is_some() && whole.get("contact").is_some());
    assert!(!subsetted(&whole));
    assert_eq!(ok("Patient/subset-1?_summary=false"), whole);
    // A vread too.
    let version = whole["meta"]["versionId"].as_str().unwrap();
    let vread = ok(&format!(
        "Patient/subset-1/_history/{version}?_summary=true"
    ));
    assert!(vread.get("photo").is_none() && subsetted(&vread));
}

#[test]
fn text_data_and_elements() {
    // `active` is a modifier: every subset keeps it, since without it the rest misleads.
    let text = ok("Patient/subset-1?_summary=text");
    assert_eq!(
        keys(&text),
        ["active", "id", "meta", "resourceType", "text"]
    );
    let data = ok("Patient/subset-1?_summary=data");
    assert!(data.get("text").is_none() && data.get("photo").is_some() && subsetted(&data));
    let elements = ok("Patient/subset-1?_elements=gender,Patient.birthDate");
    assert_eq!(
        keys(&elements),
        [
            "active",
            "birthDate",
            "gender",
            "id",
            "meta",
            "resourceType"
        ]
    );
    assert!(subsetted(&elements));
}

#[test]
fn xml_is_subset_too() {
    let reply = get("Patient/subset-1?_summary=true&_format=xml");
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(
        reply.body.contains("<gender value=\"female\"/>"),
        "{}",
        reply.body
    );
    assert!(!reply.body.contains("<photo>"), "{}", reply.body);
    assert!(
        reply.body.contains("<code value=\"SUBSETTED\"/>"),
        "{}",
        reply.body
    );
}

#[test]
fn searches_subset_every_entry_and_count_answers_the_total_alone() {
    let bundle = ok("Patient?_id=subset-1&_elements=name");
    let entries = bundle["entry"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    let patient = &entries[0]["resource"];
    assert_eq!(
        keys(patient),
        ["active", "id", "meta", "name", "resourceType"]
    );
    assert!(subsetted(patient));
    // The self link says what was applied.
    let self_link = bundle["link"][0]["url"].as_str().unwrap();
    assert!(self_link.contains("_elements=name"), "{self_link}");

    let count = ok("Patient?_id=subset-1&_summary=count");
    assert_eq!(count["total"], 1);
    assert!(count.get("entry").is_none(), "{count}");

    // Backbone elements keep their own summary elements: none of Patient.contact's are.
    let summary = ok("Patient?_id=subset-1&_summary=true");
    assert!(summary["entry"][0]["resource"].get("contact").is_none());
}

#[test]
fn histories_and_batch_entries() {
    let history = ok("Patient/subset-1/_history?_summary=true");
    let version = &history["entry"][0]["resource"];
    assert!(
        version.get("photo").is_none() && subsetted(version),
        "{history}"
    );
    let batch = r#"{"resourceType":"Bundle","type":"batch","entry":[
        {"request":{"method":"GET","url":"Patient/subset-1?_elements=gender"}},
        {"request":{"method":"GET","url":"Patient/subset-1"}},
        {"request":{"method":"GET","url":"Patient/subset-1?_summary=count"}}]}"#;
    let reply = send(base(), "POST", &[JSON], Some(batch));
    assert_eq!(reply.status, 200, "{}", reply.body);
    let entries = reply.json()["entry"].as_array().unwrap().clone();
    assert_eq!(
        keys(&entries[0]["resource"]),
        ["active", "gender", "id", "meta", "resourceType"]
    );
    assert!(entries[1]["resource"].get("photo").is_some());
    assert!(entries[2]["response"]["status"]
        .as_str()
        .unwrap()
        .starts_with("400"));
}

#[test]
fn what_cannot_be_answered_is_refused() {
    for (path, says) in [
        (
            "Patient/subset-1?_summary=count",
            "_summary=count is for searches",
        ),
        (
            "Patient/subset-1?_summary=true&_elements=gender",
            "send one of them",
        ),
        (
            "Patient?_elements=nonsense",
            "'nonsense' is not an element of Patient",
        ),
        ("Patient/subset-1?_summary=maybe", "_summary"),
        ("Patient/subset-1/_history?_summary=count", "not histories"),
    ] {
        let reply = get(path);
        assert_eq!(reply.status, 400, "{path}: {}", reply.body);
        assert!(reply.body.contains(says), "{path}: {}", reply.body);
    }
}

/// A search that applies `_summary=text` itself (as a database selecting columns would):
/// the kit hands the mode over and does not subset again.
#[search(subsets)]
async fn text_only_patients(result: ResultParams) -> Result<Vec<Patient>, FhirError> {
    let mut patient = Patient::from_json(
        r#"{"resourceType":"Patient","id":"own","gender":"other","photo":[{"title":"kept by the provider"}]}"#,
    )
    .unwrap();
    if result.summary == Some(SummaryMode::Text) {
        patient.photo.clear();
    }
    Ok(vec![patient])
}

#[test]
fn a_search_that_subsets_itself_is_left_to_it() {
    static BASE: OnceLock<String> = OnceLock::new();
    let base = BASE.get_or_init(|| {
        let rocket = FhirServer::new("/fhir")
            .mount(providers![text_only_patients])
            .mount_on(rocket::build());
        format!("{}/fhir", fhir_examples::launch_on_loopback(rocket))
    });
    let reply = send(&format!("{base}/Patient?_summary=text"), "GET", &[], None);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let patient = &reply.json()["entry"][0]["resource"];
    // The provider dropped the photo; the kit left its gender, which text would not keep.
    assert_eq!(keys(patient), ["gender", "id", "resourceType"]);
    let whole = send(&format!("{base}/Patient"), "GET", &[], None).json();
    assert!(whole["entry"][0]["resource"].get("photo").is_some());
}
