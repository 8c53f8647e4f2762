//! Every interaction of the complete server over HTTP, on SQLite and on PostgreSQL: read,
//! vread, create with a server-assigned id, update (and update as create), JSON Patch,
//! delete and 410 afterwards, history at three levels with _since, _at and _count,
//! conditional create, update and delete, If-Match, batch, and transactions that leave
//! nothing behind when an entry fails.

mod common;

use common::{servers, Server, JSON};
use serde_json::json;

fn created_id(server: &Server, reply: &common::Reply) -> String {
    assert_eq!(reply.status, 201, "{}: {}", server.engine, reply.body);
    reply.json()["id"].as_str().unwrap().to_string()
}

#[test]
fn read_write_and_history() {
    for s in servers("interactions") {
        let e = s.engine;
        // Create: the server assigns the id and the version; the body's id is ignored.
        let reply = s.post(
            "Patient",
            r#"{"resourceType":"Patient","id":"mine","name":[{"family":"Chalmers","given":["Peter"]}],"gender":"male"}"#,
        );
        let id = created_id(&s, &reply);
        assert_ne!(id, "mine");
        let location = reply.header("Location").unwrap().to_string();
        assert!(
            location.ends_with(&format!("/Patient/{id}/_history/1")),
            "{e}: {location}"
        );
        let read = s.get(&format!("Patient/{id}"));
        assert_eq!(read.status, 200);
        let body = read.json();
        assert_eq!(body["meta"]["versionId"], "1", "{e}");
        assert!(body["meta"]["lastUpdated"].as_str().unwrap().ends_with('Z'));
        assert_eq!(read.header("ETag"), Some("W/\"1\""));
        // Update with If-Match, then a stale If-Match is a 412 and changes nothing.
        let update = json!({"resourceType":"Patient","id":id,"name":[{"family":"Chalmers","given":["Jim"]}],"gender":"male"}).to_string();
        let reply = s.send(
            "PUT",
            &format!("Patient/{id}"),
            &[JSON, ("If-Match", "W/\"1\"")],
            Some(&update),
        );
        assert_eq!(reply.status, 200, "{e}: {}", reply.body);
        assert_eq!(reply.json()["meta"]["versionId"], "2");
        let reply = s.send(
            "PUT",
            &format!("Patient/{id}"),
            &[JSON, ("If-Match", "W/\"1\"")],
            Some(&update),
        );
        assert_eq!(reply.status, 412, "{e}: {}", reply.body);
        // vread of both versions.
        let v1 = s.get(&format!("Patient/{id}/_history/1")).json();
        assert_eq!(v1["name"][0]["given"][0], "Peter");
        let v2 = s.get(&format!("Patient/{id}/_history/2")).json();
        assert_eq!(v2["name"][0]["given"][0], "Jim");
        assert_eq!(s.get(&format!("Patient/{id}/_history/9")).status, 404);
        // Update as create, with the client's id.
        let reply = s.put(
            "Patient/chosen-id",
            r#"{"resourceType":"Patient","id":"chosen-id","name":[{"family":"Client"}]}"#,
        );
        assert_eq!(reply.status, 201, "{e}: {}", reply.body);
        // JSON Patch.
        let reply = s.send(
            "PATCH",
            "Patient/chosen-id",
            &[("Content-Type", "application/json-patch+json")],
            Some(r#"[{"op":"replace","path":"/name/0/family","value":"Patched"}]"#),
        );
        assert_eq!(reply.status, 200, "{e}: {}", reply.body);
        assert_eq!(reply.json()["name"][0]["family"], "Patched");
        assert_eq!(reply.json()["meta"]["versionId"], "2");
        assert_eq!(
            s.search_ids("Patient?family=patched"),
            ["Patient/chosen-id"]
        );
        // Delete, then 410; the history keeps every version.
        assert_eq!(s.send("DELETE", "Patient/chosen-id", &[], None).status, 204);
        assert_eq!(s.get("Patient/chosen-id").status, 410, "{e}");
        assert!(s.search_ids("Patient?family=patched").is_empty());
        let history = s.get("Patient/chosen-id/_history").json();
        assert_eq!(history["type"], "history");
        let methods: Vec<&str> = history["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["request"]["method"].as_str().unwrap())
            .collect();
        assert_eq!(methods, ["DELETE", "PUT", "PUT"], "{e}");
        // Type and system history, _count pages them; _since filters.
        let all = s.get("_history").json();
        assert_eq!(all["entry"].as_array().unwrap().len(), 5, "{e}: {all}");
        let paged = s.get("Patient/_history?_count=2").json();
        assert_eq!(paged["entry"].as_array().unwrap().len(), 2);
        assert!(paged["link"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["relation"] == "next"));
        let since = v2["meta"]["lastUpdated"].as_str().unwrap();
        let recent = s
            .get(&format!(
                "Patient/_history?_since={}",
                since.replace('+', "%2B")
            ))
            .json();
        assert_eq!(
            recent["entry"].as_array().unwrap().len(),
            4,
            "{e}: {recent}"
        );
        // _at: the version current at the moment of version 1.
        let at = v1["meta"]["lastUpdated"].as_str().unwrap();
        let then = s.get(&format!("Patient/{id}/_history?_at={at}")).json();
        let versions: Vec<&str> = then["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["resource"]["meta"]["versionId"].as_str().unwrap())
            .collect();
        assert_eq!(versions, ["1"], "{e}");
    }
}

#[test]
fn conditional_interactions() {
    for s in servers("conditional") {
        let e = s.engine;
        let patient = r#"{"resourceType":"Patient","identifier":[{"system":"urn:mrn","value":"42"}],"name":[{"family":"Cond"}]}"#;
        let first = s.send(
            "POST",
            "Patient",
            &[JSON, ("If-None-Exist", "identifier=urn:mrn|42")],
            Some(patient),
        );
        let id = created_id(&s, &first);
        let again = s.send(
            "POST",
            "Patient",
            &[JSON, ("If-None-Exist", "identifier=urn:mrn|42")],
            Some(patient),
        );
        assert_eq!(again.status, 200, "{e}: {}", again.body);
        assert_eq!(again.json()["id"], id.as_str());
        // Conditional update finds it; conditional delete removes it.
        let update = r#"{"resourceType":"Patient","identifier":[{"system":"urn:mrn","value":"42"}],"name":[{"family":"Changed"}]}"#;
        let reply = s.send(
            "PUT",
            "Patient?identifier=urn:mrn|42",
            &[JSON],
            Some(update),
        );
        assert_eq!(reply.status, 200, "{e}: {}", reply.body);
        assert_eq!(reply.json()["id"], id.as_str());
        assert_eq!(
            s.search_ids("Patient?family=changed"),
            [format!("Patient/{id}")]
        );
        let reply = s.send("DELETE", "Patient?identifier=urn:mrn|42", &[], None);
        assert!(
            reply.status == 200 || reply.status == 204,
            "{e}: {}",
            reply.body
        );
        assert_eq!(s.get(&format!("Patient/{id}")).status, 410);
    }
}

#[test]
fn concurrent_conditional_creates_make_one_resource_and_if_match_one_winner() {
    for s in servers("concurrency") {
        let e = s.engine;
        let base = s.base.clone();
        let creates: Vec<_> = (0..32)
            .map(|i| {
                let base = base.clone();
                std::thread::spawn(move || {
                    let body = format!(
                        r#"{{"resourceType":"Patient","identifier":[{{"system":"urn:race","value":"1"}}],"name":[{{"family":"Racer{i}"}}]}}"#
                    );
                    common::send(
                        &format!("{base}/Patient"),
                        "POST",
                        &[JSON, ("If-None-Exist", "identifier=urn:race|1")],
                        Some(&body),
                    )
                    .status
                })
            })
            .collect();
        let statuses: Vec<u16> = creates.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(
            statuses.iter().filter(|s| **s == 201).count(),
            1,
            "{e}: {statuses:?}"
        );
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            31,
            "{e}: {statuses:?}"
        );
        let found = s.search_ids("Patient?identifier=urn:race|1");
        assert_eq!(found.len(), 1, "{e}");
        let id = found[0].trim_start_matches("Patient/").to_string();
        // 32 updates naming version 1: exactly one wins.
        let updates: Vec<_> = (0..32)
            .map(|i| {
                let (base, id) = (base.clone(), id.clone());
                std::thread::spawn(move || {
                    let body = format!(
                        r#"{{"resourceType":"Patient","id":"{id}","name":[{{"family":"Winner{i}"}}]}}"#
                    );
                    common::send(
                        &format!("{base}/Patient/{id}"),
                        "PUT",
                        &[JSON, ("If-Match", "W/\"1\"")],
                        Some(&body),
                    )
                    .status
                })
            })
            .collect();
        let statuses: Vec<u16> = updates.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            1,
            "{e}: {statuses:?}"
        );
        assert_eq!(
            statuses.iter().filter(|s| **s == 412).count(),
            31,
            "{e}: {statuses:?}"
        );
        assert_eq!(
            s.get(&format!("Patient/{id}")).json()["meta"]["versionId"],
            "2"
        );
    }
}

/// A transaction's resources are validated before its lock is taken, as they will be
/// written: a reference to another entry is seen as a reference to a resource of that
/// entry's type. CareTeam's ctm-1 allows `onBehalfOf` only when the member is a
/// Practitioner, which it tells from the reference: through `urn:uuid:` alone it cannot.
#[test]
fn transaction_entries_are_validated_with_their_references_as_written() {
    for s in servers("validated") {
        let e = s.engine;
        let transaction = |member_type: &str, family: &str| {
            json!({
                "resourceType": "Bundle",
                "type": "transaction",
                "entry": [
                    {
                        "fullUrl": "urn:uuid:4b8e1a3c-0000-4000-8000-00000000000a",
                        "resource": {"resourceType": "Organization", "name": "Ward 3"},
                        "request": {"method": "POST", "url": "Organization"}
                    },
                    {
                        "fullUrl": "urn:uuid:4b8e1a3c-0000-4000-8000-00000000000b",
                        "resource": {"resourceType": member_type, "name": [{"family": family}]},
                        "request": {"method": "POST", "url": member_type}
                    },
                    {
                        "resource": {
                            "resourceType": "CareTeam",
                            "identifier": [{"system": "urn:test:team", "value": family}],
                            "participant": [{
                                "member": {"reference": "urn:uuid:4b8e1a3c-0000-4000-8000-00000000000b"},
                                "onBehalfOf": {"reference": "urn:uuid:4b8e1a3c-0000-4000-8000-00000000000a"}
                            }]
                        },
                        "request": {"method": "POST", "url": "CareTeam"}
                    }
                ]
            })
            .to_string()
        };
        // The member is a Practitioner: valid, and stored.
        let reply = s.post("", &transaction("Practitioner", "Osler"));
        assert_eq!(reply.status, 200, "{e}: {}", reply.body);
        let teams = s.search_ids("CareTeam?identifier=urn:test:team|Osler");
        assert_eq!(teams.len(), 1, "{e}");
        let team = s.get(&teams[0]).json();
        let practitioners = s.search_ids("Practitioner?family=Osler");
        assert_eq!(
            team["participant"][0]["member"]["reference"],
            practitioners[0].as_str(),
            "{e}"
        );
        // The member is a Patient: ctm-1 refuses the CareTeam, and nothing is stored.
        let reply = s.post("", &transaction("Patient", "Addison"));
        assert_eq!(reply.status, 422, "{e}: {}", reply.body);
        assert!(
            reply.body.contains("Bundle.entry[2]") && reply.body.contains("ctm-1"),
            "{e}: {}",
            reply.body
        );
        assert!(s.search_ids("Patient?family=Addison").is_empty(), "{e}");
        assert!(
            s.search_ids("CareTeam?identifier=urn:test:team|Addison")
                .is_empty(),
            "{e}"
        );
    }
}

#[test]
fn transactions_are_atomic_and_batches_are_not() {
    for s in servers("transactions") {
        let e = s.engine;
        let transaction = json!({
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [
                {
                    "fullUrl": "urn:uuid:4b8e1a3c-0000-4000-8000-000000000001",
                    "resource": {"resourceType": "Patient", "name": [{"family": "Tx"}]},
                    "request": {"method": "POST", "url": "Patient"}
                },
                {
                    "resource": {
                        "resourceType": "Observation", "status": "final",
                        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
                        "subject": {"reference": "urn:uuid:4b8e1a3c-0000-4000-8000-000000000001"}
                    },
                    "request": {"method": "POST", "url": "Observation"}
                }
            ]
        });
        let reply = s.post("", &transaction.to_string());
        assert_eq!(reply.status, 200, "{e}: {}", reply.body);
        let patients = s.search_ids("Patient?family=tx");
        assert_eq!(patients.len(), 1);
        // The reference was rewritten to the assigned id, and is searchable.
        let observations = s.search_ids(&format!("Observation?subject={}", patients[0]));
        assert_eq!(observations.len(), 1, "{e}");
        assert_eq!(
            s.search_ids("Observation?subject:Patient.family=tx"),
            observations
        );
        // A transaction with a failing entry leaves nothing behind.
        let failing = json!({
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [
                {
                    "resource": {"resourceType": "Patient", "name": [{"family": "Rolledback"}]},
                    "request": {"method": "POST", "url": "Patient"}
                },
                {
                    "resource": {"resourceType": "Patient", "id": "x", "name": [{"family": "Wrong"}]},
                    "request": {"method": "PUT", "url": "Patient/x", "ifMatch": "W/\"7\""}
                }
            ]
        });
        let reply = s.post("", &failing.to_string());
        assert!(reply.status >= 400, "{e}: {}", reply.body);
        assert!(s.search_ids("Patient?family=rolledback").is_empty(), "{e}");
        // The same entries as a batch: the first is kept, the second fails alone.
        let mut batch = failing.clone();
        batch["type"] = json!("batch");
        let reply = s.post("", &batch.to_string());
        assert_eq!(reply.status, 200, "{e}: {}", reply.body);
        let statuses: Vec<String> = reply.json()["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["response"]["status"].as_str().unwrap().to_string())
            .collect();
        assert!(
            statuses[0].starts_with("201") && statuses[1].starts_with("412"),
            "{e}: {statuses:?}"
        );
        assert_eq!(s.search_ids("Patient?family=rolledback").len(), 1);
    }
}
