//! Batch and transaction Bundles, system search, `_search` by POST, conditional writes and
//! hostile ids, over real HTTP against the in-memory server.

mod common;

use common::{send, Reply, JSON};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::OnceLock;

fn base() -> &'static str {
    static BASE: OnceLock<String> = OnceLock::new();
    BASE.get_or_init(|| {
        let root = fhir_examples::launch_on_loopback(fhir_examples::memory_server());
        format!("{root}/fhir")
    })
}

fn request(method: &str, path: &str, headers: &[(&str, &str)], body: Option<&str>) -> Reply {
    send(&format!("{}{path}", base()), method, headers, body)
}

fn post_bundle(bundle: &Value) -> Reply {
    request("POST", "", &[JSON], Some(&bundle.to_string()))
}

fn get(path: &str) -> Value {
    let reply = request("GET", path, &[], None);
    assert_eq!(reply.status, 200, "GET {path}: {}", reply.body);
    reply.json()
}

/// A unique identifier value per test run, so tests sharing the server do not meet.
fn unique(tag: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn status_code(entry: &Value) -> u16 {
    entry["response"]["status"].as_str().unwrap()[..3]
        .parse()
        .unwrap()
}

#[test]
fn batch_entries_succeed_and_fail_independently() {
    let family = unique("Batchfamily");
    let bundle = json!({
        "resourceType": "Bundle", "type": "batch",
        "entry": [
            {"resource": {"resourceType": "Patient", "name": [{"family": family}]},
             "request": {"method": "POST", "url": "Patient"}},
            {"request": {"method": "GET", "url": "Patient/does-not-exist"}},
            {"resource": {"resourceType": "Encounter", "status": "finished",
                          "class": {"code": "AMB"}},
             "request": {"method": "POST", "url": "Encounter"}},
            {"request": {"method": "GET", "url": format!("Patient?family={family}")}},
            {"request": {"method": "GET", "url": "Patient/a_b!"}},
            {"request": {"method": "DELETE", "url": "Observation/nope"}}
        ]
    });
    let reply = post_bundle(&bundle);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply
        .header("Content-Type")
        .unwrap()
        .starts_with("application/fhir+json"));
    let response = reply.json();
    assert_eq!(response["type"], "batch-response");
    let entries = response["entry"].as_array().unwrap();
    assert_eq!(entries.len(), 6);
    assert_eq!(status_code(&entries[0]), 201);
    assert!(entries[0]["response"]["location"]
        .as_str()
        .unwrap()
        .starts_with("Patient/"));
    assert_eq!(entries[0]["response"]["etag"], "W/\"1\"");
    assert!(entries[0]["response"]["lastModified"].is_string());
    assert_eq!(entries[0]["resource"]["name"][0]["family"], family.as_str());
    assert_eq!(status_code(&entries[1]), 404);
    assert_eq!(
        entries[1]["response"]["outcome"]["resourceType"],
        "OperationOutcome"
    );
    assert_eq!(status_code(&entries[2]), 201);
    assert_eq!(entries[2]["resource"]["resourceType"], "Encounter");
    assert_eq!(status_code(&entries[3]), 200);
    // The batch's search sees the create of an earlier entry.
    assert_eq!(entries[3]["resource"]["type"], "searchset");
    assert_eq!(entries[3]["resource"]["total"], 1);
    assert_eq!(status_code(&entries[4]), 400);
    assert_eq!(status_code(&entries[5]), 404);
}

#[test]
fn malformed_bundles_name_the_entry() {
    let not_batch = post_bundle(&json!({"resourceType": "Bundle", "type": "collection"}));
    assert_eq!(not_batch.status, 400);
    assert!(not_batch.diagnostics().contains("batch or transaction"));
    let patient = post_bundle(&json!({"resourceType": "Patient"}));
    assert_eq!(patient.status, 400);
    let absolute = post_bundle(&json!({
        "resourceType": "Bundle", "type": "transaction",
        "entry": [
            {"request": {"method": "GET", "url": "Patient/1"}},
            {"request": {"method": "GET", "url": "http://elsewhere.example/fhir/Patient/1"}}
        ]
    }));
    assert_eq!(absolute.status, 400);
    assert!(
        absolute.diagnostics().contains("Bundle.entry[1]"),
        "{}",
        absolute.body
    );
    let nested = post_bundle(&json!({
        "resourceType": "Bundle", "type": "transaction",
        "entry": [{"resource": {"resourceType": "Bundle", "type": "batch"},
                   "request": {"method": "POST", "url": ""}}]
    }));
    assert_eq!(nested.status, 400);
    assert!(nested.diagnostics().contains("Bundle.entry[0]"));
    assert!(nested.diagnostics().contains("nested"));
    let no_method = post_bundle(&json!({
        "resourceType": "Bundle", "type": "batch",
        "entry": [{"request": {"url": "Patient"}}]
    }));
    // In a batch, a malformed entry fails alone.
    assert_eq!(no_method.status, 200);
    assert_eq!(status_code(&no_method.json()["entry"][0]), 400);
    let twice = post_bundle(&json!({
        "resourceType": "Bundle", "type": "transaction",
        "entry": [
            {"resource": {"resourceType": "Basic", "id": "twice", "code": {"text": "a"}},
             "request": {"method": "PUT", "url": "Basic/twice"}},
            {"request": {"method": "DELETE", "url": "Basic/twice"}}
        ]
    }));
    assert_eq!(twice.status, 400);
    assert!(twice.diagnostics().contains("Basic/twice"));
}

/// Four types linked by `urn:uuid:` references, a conditional reference, `ifNoneExist`, and a
/// DELETE processed before a POST of the same type.
#[test]
fn transaction_links_new_resources_and_resolves_conditions() {
    let mrn = unique("mrn");
    let existing = request(
        "POST",
        "/Patient",
        &[JSON],
        Some(&json!({"resourceType": "Patient", "identifier": [{"system": "http://x/mrn", "value": mrn}]}).to_string()),
    );
    assert_eq!(existing.status, 201);
    let existing_id = existing.json()["id"].as_str().unwrap().to_string();
    let old = request(
        "POST",
        "/Observation",
        &[JSON],
        Some(r#"{"resourceType":"Observation","status":"final","code":{"text":"old"}}"#),
    )
    .json();
    let old_id = old["id"].as_str().unwrap();
    let bundle = json!({
        "resourceType": "Bundle", "type": "transaction",
        "entry": [
            {"fullUrl": "urn:uuid:5f5e7a1c-0000-4000-8000-000000000001",
             "resource": {"resourceType": "Encounter", "status": "finished", "class": {"code": "AMB"},
                          "subject": {"reference": "urn:uuid:5f5e7a1c-0000-4000-8000-000000000002"},
                          "serviceProvider": {"reference": "urn:uuid:5f5e7a1c-0000-4000-8000-000000000003"}},
             "request": {"method": "POST", "url": "Encounter"}},
            {"fullUrl": "urn:uuid:5f5e7a1c-0000-4000-8000-000000000002",
             "resource": {"resourceType": "Patient", "name": [{"family": "Linked"}],
                          "managingOrganization": {"reference": "urn:uuid:5f5e7a1c-0000-4000-8000-000000000003"},
                          "link": [{"type": "seealso",
                                    "other": {"reference": format!("Patient?identifier=http://x/mrn|{mrn}")}}]},
             "request": {"method": "POST", "url": "Patient"}},
            {"fullUrl": "urn:uuid:5f5e7a1c-0000-4000-8000-000000000003",
             "resource": {"resourceType": "Organization", "name": "General"},
             "request": {"method": "POST", "url": "Organization"}},
            {"fullUrl": "urn:uuid:5f5e7a1c-0000-4000-8000-000000000004",
             "resource": {"resourceType": "Observation", "status": "final", "code": {"text": "new"},
                          "subject": {"reference": "urn:uuid:5f5e7a1c-0000-4000-8000-000000000002"},
                          "encounter": {"reference": "urn:uuid:5f5e7a1c-0000-4000-8000-000000000001"},
                          "contained": [{"resourceType": "Provenance", "recorded": "2020-01-01T00:00:00Z",
                                         "target": [{"reference": "urn:uuid:5f5e7a1c-0000-4000-8000-000000000001"}],
                                         "agent": [{"who": {"reference": "urn:uuid:5f5e7a1c-0000-4000-8000-000000000003"}}]}],
                          "extension": [{"url": "http://example.org/where",
                                         "valueReference": {"reference": "urn:uuid:5f5e7a1c-0000-4000-8000-000000000003"}}]},
             "request": {"method": "POST", "url": "Observation"}},
            {"resource": {"resourceType": "Patient", "name": [{"family": "Ignored"}]},
             "request": {"method": "POST", "url": "Patient",
                         "ifNoneExist": format!("identifier=http://x/mrn|{mrn}")}},
            {"request": {"method": "DELETE", "url": format!("Observation/{old_id}")}}
        ]
    });
    let reply = post_bundle(&bundle);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let response = reply.json();
    assert_eq!(response["type"], "transaction-response");
    let entries = response["entry"].as_array().unwrap();
    let location = |i: usize| {
        let l = entries[i]["response"]["location"].as_str().unwrap();
        l.split("/_history").next().unwrap().to_string()
    };
    let (encounter, patient, organization, observation) =
        (location(0), location(1), location(2), location(3));
    // ifNoneExist found the patient that was there: 200, nothing created.
    assert_eq!(status_code(&entries[4]), 200);
    assert_eq!(entries[4]["resource"]["id"], existing_id.as_str());
    assert_eq!(status_code(&entries[5]), 204);
    assert_eq!(
        request("GET", &format!("/Observation/{old_id}"), &[], None).status,
        410
    );

    let e = get(&format!("/{encounter}"));
    assert_eq!(e["subject"]["reference"], patient.as_str());
    assert_eq!(e["serviceProvider"]["reference"], organization.as_str());
    let p = get(&format!("/{patient}"));
    assert_eq!(
        p["managingOrganization"]["reference"],
        organization.as_str()
    );
    assert_eq!(
        p["link"][0]["other"]["reference"],
        format!("Patient/{existing_id}").as_str()
    );
    let o = get(&format!("/{observation}"));
    assert_eq!(o["subject"]["reference"], patient.as_str());
    assert_eq!(o["encounter"]["reference"], encounter.as_str());
    assert_eq!(
        o["contained"][0]["target"][0]["reference"],
        encounter.as_str()
    );
    assert_eq!(
        o["contained"][0]["agent"][0]["who"]["reference"],
        organization.as_str()
    );
    assert_eq!(
        o["extension"][0]["valueReference"]["reference"],
        organization.as_str()
    );
}

#[test]
fn a_failing_entry_rolls_the_whole_transaction_back() {
    let family = unique("Rollback");
    let before = get("/_history")["total"].as_u64().unwrap();
    let kept = request(
        "POST",
        "/Basic",
        &[JSON],
        Some(r#"{"resourceType":"Basic","code":{"text":"kept"}}"#),
    )
    .json();
    let kept_id = kept["id"].as_str().unwrap();
    let bundle = json!({
        "resourceType": "Bundle", "type": "transaction",
        "entry": [
            {"fullUrl": "urn:uuid:6f5e7a1c-0000-4000-8000-000000000001",
             "resource": {"resourceType": "Patient", "name": [{"family": family}]},
             "request": {"method": "POST", "url": "Patient"}},
            {"resource": {"resourceType": "Basic", "id": kept_id, "code": {"text": "changed"}},
             "request": {"method": "PUT", "url": format!("Basic/{kept_id}")}},
            {"request": {"method": "DELETE", "url": "Basic/no-such-basic"}},
            {"resource": {"resourceType": "Condition",
                          "subject": {"reference": "urn:uuid:6f5e7a1c-0000-4000-8000-000000000001"}},
             "request": {"method": "POST", "url": "Condition"}}
        ]
    });
    let reply = post_bundle(&bundle);
    assert_eq!(reply.status, 404, "{}", reply.body);
    let message = reply.diagnostics();
    assert!(message.contains("Bundle.entry[2]"), "{message}");
    // Nothing the transaction did is visible: no new patient, the update undone, no
    // versions in the history.
    assert_eq!(get(&format!("/Patient?family={family}"))["total"], 0);
    let basic = get(&format!("/Basic/{kept_id}"));
    assert_eq!(basic["code"]["text"], "kept");
    assert_eq!(basic["meta"]["versionId"], "1");
    assert_eq!(get(&format!("/Basic/{kept_id}/_history"))["total"], 1);
    // Only the Basic created outside the transaction was added (tests run side by side, so
    // others may add more, but never fewer).
    assert!(get("/_history")["total"].as_u64().unwrap() > before);
    let history = get("/_history?_count=1000");
    let families: Vec<&Value> = history["entry"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["resource"]["name"][0]["family"] == family.as_str())
        .collect();
    assert!(families.is_empty(), "{families:?}");
}

#[test]
fn transactions_in_xml() {
    let family = unique("Xmlfamily");
    let xml = format!(
        r#"<Bundle xmlns="http://hl7.org/fhir">
  <type value="transaction"/>
  <entry>
    <fullUrl value="urn:uuid:7f5e7a1c-0000-4000-8000-000000000001"/>
    <resource><Patient><name><family value="{family}"/></name></Patient></resource>
    <request><method value="POST"/><url value="Patient"/></request>
  </entry>
  <entry>
    <resource><Observation><status value="final"/><code><text value="x"/></code>
      <subject><reference value="urn:uuid:7f5e7a1c-0000-4000-8000-000000000001"/></subject></Observation></resource>
    <request><method value="POST"/><url value="Observation"/></request>
  </entry>
</Bundle>"#
    );
    let reply = request(
        "POST",
        "",
        &[
            ("Content-Type", "application/fhir+xml"),
            ("Accept", "application/fhir+xml"),
        ],
        Some(&xml),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(
        reply
            .body
            .contains("<type value=\"transaction-response\"/>"),
        "{}",
        reply.body
    );
    assert!(reply.body.contains("<status value=\"201 Created\"/>"));
    let patients = get(&format!("/Patient?family={family}"));
    let id = patients["entry"][0]["resource"]["id"].as_str().unwrap();
    let observations = get(&format!("/Observation?subject=Patient/{id}"));
    assert_eq!(observations["total"], 1);
}

#[test]
fn limits_answer_413() {
    let root = fhir_examples::launch_on_loopback(fhir_examples::memory_server_limited(
        fhir_examples::Store::default(),
        fhir_rocket::Limits {
            bundle_entries: 2,
            body: 4096,
            ..Default::default()
        },
    ));
    let entry = json!({"request": {"method": "GET", "url": "metadata"}});
    let three = json!({"resourceType": "Bundle", "type": "batch", "entry": [entry, entry, entry]});
    let reply = send(
        &format!("{root}/fhir"),
        "POST",
        &[JSON],
        Some(&three.to_string()),
    );
    assert_eq!(reply.status, 413, "{}", reply.body);
    assert!(reply.diagnostics().contains("at most 2"));
    let big = json!({"resourceType": "Patient", "name": [{"family": "x".repeat(5000)}]});
    let reply = send(
        &format!("{root}/fhir/Patient"),
        "POST",
        &[JSON],
        Some(&big.to_string()),
    );
    assert_eq!(reply.status, 413);
    assert_eq!(reply.json()["resourceType"], "OperationOutcome");
}

/// A real Synthea R4 patient Bundle (297 entries, 15 resource types) loaded by transaction;
/// every entry read back by its new id equals what was posted, apart from id, meta and the
/// references the transaction replaced.
#[test]
fn a_synthea_patient_bundle_loads_by_transaction() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/synthea/Burton_Kozey_0c7764a9-ede1-44de-9c32-8d41151a713e.json"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let root = fhir_examples::launch_on_loopback(fhir_examples::memory_server());
    let reply = send(&format!("{root}/fhir"), "POST", &[JSON], Some(&text));
    assert_eq!(
        reply.status,
        200,
        "{}",
        &reply.body[..reply.body.len().min(2000)]
    );
    let posted: Value = serde_json::from_str(&text).unwrap();
    let response = reply.json();
    let posted_entries = posted["entry"].as_array().unwrap();
    let answered = response["entry"].as_array().unwrap();
    assert_eq!(posted_entries.len(), 297);
    assert_eq!(answered.len(), posted_entries.len());
    let mut new_ids: HashMap<String, String> = HashMap::new();
    for (p, a) in posted_entries.iter().zip(answered) {
        assert_eq!(status_code(a), 201);
        let location = a["response"]["location"].as_str().unwrap();
        let target = location.split("/_history").next().unwrap().to_string();
        new_ids.insert(p["fullUrl"].as_str().unwrap().to_string(), target);
    }
    fn replace(v: &mut Value, ids: &HashMap<String, String>) {
        match v {
            Value::Object(members) => {
                for (k, m) in members.iter_mut() {
                    match m {
                        Value::String(s) if k == "reference" => {
                            if let Some(new) = ids.get(s.as_str()) {
                                *s = new.clone();
                            }
                        }
                        _ => replace(m, ids),
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|i| replace(i, ids)),
            _ => {}
        }
    }
    let mut types = std::collections::BTreeSet::new();
    for p in posted_entries {
        let target = &new_ids[p["fullUrl"].as_str().unwrap()];
        let mut read = send(&format!("{root}/fhir/{target}"), "GET", &[], None).json();
        let mut expected = p["resource"].clone();
        replace(&mut expected, &new_ids);
        for v in [&mut read, &mut expected] {
            let o = v.as_object_mut().unwrap();
            o.remove("id");
            o.remove("meta");
        }
        assert_eq!(read, expected, "{target}");
        types.insert(p["resource"]["resourceType"].as_str().unwrap().to_string());
    }
    assert_eq!(types.len(), 15);
}

#[test]
fn system_search_with_type() {
    let family = unique("Systemfamily");
    request(
        "POST",
        "/Patient",
        &[JSON],
        Some(&json!({"resourceType": "Patient", "name": [{"family": family}]}).to_string()),
    );
    let all = get("/?_type=Patient,Observation&_count=1");
    assert_eq!(all["type"], "searchset");
    assert!(all["total"].as_u64().unwrap() >= 1);
    assert!(all["link"][0]["url"]
        .as_str()
        .unwrap()
        .contains("fhir?_type=Patient,Observation"));
    // Common parameters, which both searches take.
    let created = request(
        "POST",
        "/Observation",
        &[JSON],
        Some(r#"{"resourceType":"Observation","status":"final","code":{"text":"sys"}}"#),
    )
    .json();
    let id = created["id"].as_str().unwrap();
    let by_id = get(&format!("/?_type=Patient,Observation&_id={id}"));
    let found: Vec<&str> = by_id["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"]["resourceType"].as_str().unwrap())
        .collect();
    // The id is a counter shared by every type of the store: one resource has it.
    assert_eq!(found, ["Observation"]);
    let recent = get(&format!("/?_id={id}&_lastUpdated=ge2020-01-01"));
    assert_eq!(recent["total"], 1);
    let old = get(&format!("/?_id={id}&_lastUpdated=lt2020-01-01"));
    assert_eq!(old["total"], 0);
    let bad = request("GET", "/?_type=Patient,Observation&family=x", &[], None);
    assert_eq!(
        bad.status, 400,
        "a parameter Observation does not take: {}",
        bad.body
    );
    assert_eq!(request("GET", "/?_type=Nothing", &[], None).status, 400);
}

#[test]
fn search_by_post_merges_the_form_with_the_query() {
    let family = unique("Formfamily");
    request(
        "POST",
        "/Patient",
        &[JSON],
        Some(
            &json!({"resourceType": "Patient", "gender": "female", "name": [{"family": family}]})
                .to_string(),
        ),
    );
    let form = ("Content-Type", "application/x-www-form-urlencoded");
    let found = request(
        "POST",
        "/Patient/_search?gender=female",
        &[form],
        Some(&format!("family={family}")),
    );
    assert_eq!(found.status, 200, "{}", found.body);
    assert_eq!(found.json()["total"], 1);
    let none = request(
        "POST",
        "/Patient/_search?gender=male",
        &[form],
        Some(&format!("family={family}")),
    );
    assert_eq!(none.json()["total"], 0);
    let wrong_type = request("POST", "/Patient/_search", &[JSON], Some("{}"));
    assert_eq!(wrong_type.status, 415);
}

#[test]
fn conditional_update_and_delete() {
    let mrn = unique("cond");
    let body = |family: &str| {
        json!({"resourceType": "Patient", "identifier": [{"system": "http://x/c", "value": mrn}],
               "name": [{"family": family}]})
        .to_string()
    };
    let path = format!("/Patient?identifier=http://x/c|{mrn}");
    // No match: created.
    let created = request("PUT", &path, &[JSON], Some(&body("First")));
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.json()["id"].as_str().unwrap().to_string();
    // One match: updated.
    let updated = request("PUT", &path, &[JSON], Some(&body("Second")));
    assert_eq!(updated.status, 200, "{}", updated.body);
    assert_eq!(updated.json()["id"], id.as_str());
    assert_eq!(updated.json()["meta"]["versionId"], "2");
    // Two matches: 412.
    request("POST", "/Patient", &[JSON], Some(&body("Third")));
    assert_eq!(
        request("PUT", &path, &[JSON], Some(&body("Fourth"))).status,
        412
    );
    assert_eq!(request("DELETE", &path, &[], None).status, 412);
    assert_eq!(
        request("PUT", "/Patient", &[JSON], Some(&body("x"))).status,
        400
    );
    // Update as create with the client's id: 201, then 200.
    let own = format!("own-{}", std::process::id());
    let put = |family: &str| {
        request(
            "PUT",
            &format!("/Patient/{own}"),
            &[JSON],
            Some(
                &json!({"resourceType": "Patient", "id": own, "name": [{"family": family}]})
                    .to_string(),
            ),
        )
    };
    assert_eq!(put("A").status, 201);
    assert_eq!(put("B").status, 200);
    // Conditional delete of one match.
    let single = unique("single");
    request(
        "POST",
        "/Patient",
        &[JSON],
        Some(&json!({"resourceType": "Patient", "identifier": [{"system": "http://x/c", "value": single}]}).to_string()),
    );
    let delete = request(
        "DELETE",
        &format!("/Patient?identifier=http://x/c|{single}"),
        &[],
        None,
    );
    assert_eq!(delete.status, 204);
    let gone = get(&format!("/Patient?identifier=http://x/c|{single}"));
    assert_eq!(gone["total"], 0);
}

#[test]
fn ids_are_decoded_and_checked() {
    let created = request(
        "POST",
        "/Patient",
        &[JSON],
        Some(r#"{"resourceType":"Patient"}"#),
    )
    .json();
    let id = created["id"].as_str().unwrap();
    let encoded: String = id.bytes().map(|b| format!("%{b:02X}")).collect();
    let read = request("GET", &format!("/Patient/{encoded}"), &[], None);
    assert_eq!(read.status, 200, "{}", read.body);
    assert_eq!(read.json()["id"], id);
    // A 10,000-character id is over the front end's URI limit (414, see hostile_clients.rs);
    // the router rejects it too (route.rs).
    let huge = request("GET", &format!("/Basic/{}", "x".repeat(10_000)), &[], None);
    assert_eq!(huge.status, 414);
    assert_eq!(huge.json()["resourceType"], "OperationOutcome");
    for bad in ["a_b!".to_string(), "x".repeat(65)] {
        let put = request(
            "PUT",
            &format!("/Basic/{bad}"),
            &[JSON],
            Some(&json!({"resourceType": "Basic", "id": bad, "code": {"text": "x"}}).to_string()),
        );
        assert_eq!(put.status, 400, "{}", put.body);
        assert!(put.diagnostics().contains("not a valid id"));
    }
    assert_eq!(request("GET", "/Basic/a%5Fb", &[], None).status, 400);
}

#[test]
fn compartment_search() {
    let patient = request(
        "POST",
        "/Patient",
        &[JSON],
        Some(r#"{"resourceType":"Patient"}"#),
    )
    .json();
    let id = patient["id"].as_str().unwrap().to_string();
    let other = request(
        "POST",
        "/Patient",
        &[JSON],
        Some(r#"{"resourceType":"Patient"}"#),
    )
    .json();
    let other_id = other["id"].as_str().unwrap().to_string();
    let observation = |subject: &str, performer: &str, code: &str| {
        let body = json!({"resourceType": "Observation", "status": "final",
                          "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
                          "subject": {"reference": subject},
                          "performer": [{"reference": performer}]});
        request("POST", "/Observation", &[JSON], Some(&body.to_string())).json()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let by_subject = observation(&format!("Patient/{id}"), "Practitioner/x", "1-1");
    let by_performer = observation(
        &format!("Patient/{other_id}"),
        &format!("Patient/{id}"),
        "2-2",
    );
    let unrelated = observation(&format!("Patient/{other_id}"), "Practitioner/x", "1-1");
    let ids = |bundle: &Value| -> Vec<String> {
        let mut ids: Vec<String> = bundle["entry"]
            .as_array()
            .map(|e| {
                e.iter()
                    .map(|e| e["resource"]["id"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default();
        ids.sort();
        ids
    };
    // Subject and performer both put an Observation in the Patient compartment.
    let found = get(&format!("/Patient/{id}/Observation"));
    let mut expected = vec![by_subject.clone(), by_performer.clone()];
    expected.sort();
    assert_eq!(ids(&found), expected);
    assert!(!ids(&found).contains(&unrelated));
    // The self link names the page as applied: the server's default page size.
    assert!(found["link"][0]["url"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/Patient/{id}/Observation?_count=20&_offset=0")));
    // The query further restricts it.
    let coded = get(&format!(
        "/Patient/{id}/Observation?code=http://loinc.org|1-1"
    ));
    assert_eq!(ids(&coded), vec![by_subject.clone()]);
    // Every type of the compartment this server searches.
    let everything = get(&format!("/Patient/{id}/*"));
    assert!(ids(&everything).contains(&by_performer));
    // Not a compartment, or not in it: 400.
    let bad = request(
        "GET",
        &format!("/Observation/{by_subject}/Patient"),
        &[],
        None,
    );
    assert_eq!(bad.status, 400);
    assert!(bad.diagnostics().contains("not a compartment"));
    let outside = request("GET", &format!("/Patient/{id}/Medication"), &[], None);
    assert_eq!(outside.status, 400);
    assert!(outside
        .diagnostics()
        .contains("not in the Patient compartment"));
    // A type whose search cannot take the compartment's parameter: 400, not a partial answer.
    let encounters = request("GET", &format!("/Patient/{id}/Encounter"), &[], None);
    assert_eq!(encounters.status, 400, "{}", encounters.body);
    assert!(encounters
        .diagnostics()
        .contains("links Encounter by 'patient'"));
}

/// The seeds of the `bundle` fuzz target (fuzz/seeds/bundle), posted as the fuzzer posts
/// them: no 5xx, and every answer a FHIR resource.
#[test]
fn the_bundle_fuzz_seeds_get_fhir_answers() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/seeds/bundle");
    let mut count = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let body = std::fs::read_to_string(&path).unwrap();
        let content_type = if body.starts_with('<') {
            ("Content-Type", "application/fhir+xml")
        } else {
            JSON
        };
        let reply = request("POST", "", &[content_type], Some(&body));
        assert!(reply.status < 500, "{}: {}", path.display(), reply.body);
        fhir_rocket::model::r4::Resource::from_json(&reply.body)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        count += 1;
    }
    assert!(count >= 4);
}

/// Conditions are evaluated where they apply and refused where they do not: never ignored.
#[test]
fn conditions_are_evaluated_or_refused() {
    let created = request(
        "POST",
        "/Basic",
        &[JSON],
        Some(r#"{"resourceType":"Basic","code":{"text":"c"}}"#),
    )
    .json();
    let id = created["id"].as_str().unwrap().to_string();
    // DELETE with If-Match: a stale version is 412, the current one deletes.
    let stale = request(
        "DELETE",
        &format!("/Basic/{id}"),
        &[("If-Match", "W/\"7\"")],
        None,
    );
    assert_eq!(stale.status, 412, "{}", stale.body);
    assert_eq!(
        request("GET", &format!("/Basic/{id}"), &[], None).status,
        200
    );
    let current = request(
        "DELETE",
        &format!("/Basic/{id}"),
        &[("If-Match", "W/\"1\"")],
        None,
    );
    assert_eq!(current.status, 204, "{}", current.body);
    // A vread of the version the client holds is 304.
    let vread = request(
        "GET",
        &format!("/Basic/{id}/_history/1"),
        &[("If-None-Match", "W/\"1\"")],
        None,
    );
    assert_eq!(vread.status, 304);
    // An entry condition its interaction does not evaluate fails the entry.
    let batch = post_bundle(&json!({
        "resourceType": "Bundle", "type": "batch",
        "entry": [
            {"resource": {"resourceType": "Basic", "id": "c1", "code": {"text": "x"}},
             "request": {"method": "PUT", "url": "Basic/c1", "ifNoneExist": "identifier=a|b"}},
            {"request": {"method": "GET", "url": "Basic?_id=c1", "ifNoneMatch": "W/\"1\""}},
            {"resource": {"resourceType": "Basic", "code": {"text": "x"}},
             "request": {"method": "POST", "url": "Basic", "ifMatch": "W/\"1\""}}
        ]
    }));
    assert_eq!(batch.status, 200, "{}", batch.body);
    for (i, field) in ["ifNoneExist", "ifNoneMatch", "ifMatch"].iter().enumerate() {
        let entry = &batch.json()["entry"][i];
        assert_eq!(status_code(entry), 400, "{entry}");
        let message = entry["response"]["outcome"]["issue"][0]["diagnostics"]
            .as_str()
            .unwrap();
        assert!(message.contains(field), "{message}");
    }
}

/// `_at` in a history: the versions current at some time in the period.
#[test]
fn history_at_a_time() {
    let created = request(
        "POST",
        "/Basic",
        &[JSON],
        Some(r#"{"resourceType":"Basic","code":{"text":"v1"}}"#),
    )
    .json();
    let id = created["id"].as_str().unwrap().to_string();
    let body = json!({"resourceType": "Basic", "id": id, "code": {"text": "v2"}}).to_string();
    request("PUT", &format!("/Basic/{id}"), &[JSON], Some(&body));
    let now = get(&format!("/Basic/{id}/_history?_at=ge2020-01-01"));
    assert_eq!(now["total"], 2);
    let before = get(&format!("/Basic/{id}/_history?_at=2019"));
    assert_eq!(before["total"], 0);
    let long_before = get(&format!("/Basic/{id}/_history?_at=lt2019"));
    assert_eq!(long_before["total"], 0);
}
