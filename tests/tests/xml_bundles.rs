//! The searchset and history Bundles a server writes as XML straight from the model are the
//! very bytes the JSON Bundle converted to XML gives (the way they were written before), for
//! every official R4 example that XML can carry, compact and indented.

use fhir_model::r4::Resource;
use fhir_model::xml::XmlResource;
use fhir_model::FhirResource;
use fhir_rocket::http::{
    history, history_xml, searchset, searchset_xml, BundleUrl, PageRequest, ReportedTotal,
};
use fhir_rocket::{Found, HistoryEntry, HistoryMethod, Issue};
use std::sync::Arc;

/// Every R4 example that reads and writes as XML.
fn examples() -> Vec<Arc<Resource>> {
    let dir = fhir_tests::package("hl7.fhir.r4.examples", "4.0.1");
    let resources: Vec<Arc<Resource>> = fhir_tests::json_resources(&dir)
        .iter()
        .filter_map(|path| {
            let text = std::fs::read_to_string(path).ok()?;
            let resource = Resource::from_json(&text).ok()?;
            fhir_model::xml::to_vec(&resource, false).ok()?;
            Some(Arc::new(resource))
        })
        .collect();
    assert!(resources.len() > 5000, "{} examples", resources.len());
    resources
}

/// The JSON Bundle written as XML through its JSON form.
fn via_json(json: &[u8], pretty: bool) -> String {
    let table = <Resource as XmlResource>::xml_table();
    let xml = fhir_model::xml::from_json_form(json, table, pretty).expect("JSON Bundle as XML");
    String::from_utf8(xml).expect("UTF-8")
}

const URL: BundleUrl<'static> = BundleUrl {
    base_url: "http://example.org/fhir",
    path: "Patient",
    query: "name=a%20b&_sort=-date",
};

#[test]
fn searchsets_written_as_xml_equal_the_json_searchset_converted() {
    let all = examples();
    // Pages of 40 matches (each with the next two resources as includes, the last page with
    // a warning entry), over all examples, in both layouts.
    let mut compared = 0;
    for (n, chunk) in all.chunks(42).enumerate() {
        let split = chunk.len().min(40);
        let found = Found {
            matches: chunk[..split].to_vec(),
            includes: chunk[split..].to_vec(),
            paged: None,
            candidates: None,
        };
        let warnings = match n % 3 {
            0 => vec![Issue::warning(
                "not-supported",
                "_sort was left out: \"date\" <x>",
            )],
            _ => vec![],
        };
        let paging = PageRequest {
            count: Some(if n % 2 == 0 { 40 } else { 10 }),
            offset: n % 5,
            total: None,
            reported: match n % 4 {
                0 => ReportedTotal::Exact,
                1 => ReportedTotal::Estimate(1234),
                _ => ReportedTotal::Omitted,
            },
        };
        for pretty in [false, true] {
            let json = searchset(URL, &found, paging, &warnings, None, false);
            let direct = searchset_xml(URL, &found, paging, &warnings, pretty).expect("XML");
            let direct = String::from_utf8(direct).expect("UTF-8");
            let expected = via_json(&json, pretty);
            assert!(
                direct == expected,
                "page {n} (pretty: {pretty}) differs at byte {}",
                direct
                    .bytes()
                    .zip(expected.bytes())
                    .position(|(a, b)| a != b)
                    .unwrap_or(direct.len().min(expected.len()))
            );
            compared += 1;
        }
    }
    assert!(compared > 200);
    // No match: no entry element at all.
    let empty: Found<Resource> = Found::empty();
    let json = searchset(URL, &empty, PageRequest::default(), &[], None, false);
    let direct = searchset_xml(URL, &empty, PageRequest::default(), &[], false).unwrap();
    assert_eq!(String::from_utf8(direct).unwrap(), via_json(&json, false));
}

#[test]
fn histories_written_as_xml_equal_the_json_history_converted() {
    let all = examples();
    let methods = [
        HistoryMethod::Create,
        HistoryMethod::Update,
        HistoryMethod::Delete,
    ];
    let entries: Vec<HistoryEntry<Resource>> = all
        .iter()
        .take(600)
        .enumerate()
        .map(|(i, r)| {
            let method = methods[i % 3];
            HistoryEntry {
                resource_type: r.resource_type(),
                id: r.id().unwrap_or("no-id").to_string(),
                version_id: (i % 7 + 1).to_string(),
                last_updated: (i % 2 == 0)
                    .then(|| "2026-12-01T10:00:00.123+01:00".parse().expect("instant")),
                resource: match method {
                    HistoryMethod::Delete => None,
                    _ => Some((**r).clone()),
                },
                method,
            }
        })
        .collect();
    for (count, offset) in [(Some(50), 0), (Some(100), 450), (None, 0)] {
        for pretty in [false, true] {
            let json = history(URL, &entries, count, offset, None, false);
            let direct = history_xml(URL, &entries, count, offset, pretty).expect("XML");
            assert!(
                String::from_utf8(direct).unwrap() == via_json(&json, pretty),
                "count {count:?}, offset {offset}, pretty {pretty}"
            );
        }
    }
}

#[test]
fn a_resource_xml_cannot_carry_fails_the_xml_searchset() {
    // A narrative that is not well-formed XHTML reads from JSON (the div is a string there)
    // but cannot be written as XML: the direct writer says so (the server then answers 500
    // through the JSON route, as for a single resource), never writes a broken document.
    let bad = Resource::from_json(
        r#"{"resourceType":"Patient","id":"1","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>open</div>"}}"#,
    )
    .expect("reads as JSON");
    let found = Found {
        matches: vec![Arc::new(bad)],
        includes: vec![],
        paged: None,
        candidates: None,
    };
    let error = searchset_xml(URL, &found, PageRequest::default(), &[], false).unwrap_err();
    assert!(error.to_string().contains("div"), "{error}");
}
