//! The in-memory server, started on a loopback port and driven over real HTTP.

mod common;

use common::{send, Reply, JSON};
use std::sync::OnceLock;

/// The base URL of one server shared by all tests (each test uses its own resources).
fn base() -> &'static str {
    static BASE: OnceLock<String> = OnceLock::new();
    BASE.get_or_init(|| {
        let root = fhir_examples::launch_on_loopback(fhir_examples::memory_server());
        format!("{root}/fhir")
    })
}

fn request(method: &str, path: &str, headers: &[(&str, &str)], body: Option<&str>) -> Reply {
    let url = if path.starts_with("http") {
        path.to_string()
    } else {
        format!("{}{path}", base())
    };
    send(&url, method, headers, body)
}

fn get(path: &str) -> Reply {
    request("GET", path, &[], None)
}

fn create(resource_type: &str, body: &str) -> Reply {
    request("POST", &format!("/{resource_type}"), &[JSON], Some(body))
}

#[test]
fn create_read_vread_update_delete() {
    let created = create(
        "Patient",
        r#"{"resourceType":"Patient","name":[{"family":"Lifecycle","given":["Ann"]}],"birthDate":"1970-01"}"#,
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.json()["id"].as_str().unwrap().to_string();
    let location = created.header("Location").unwrap();
    assert_eq!(location, format!("{}/Patient/{id}/_history/1", base()));
    assert_eq!(created.header("ETag"), Some("W/\"1\""));
    assert!(created
        .header("Content-Type")
        .unwrap()
        .starts_with("application/fhir+json"));

    let read = get(&format!("/Patient/{id}"));
    assert_eq!(read.status, 200);
    assert_eq!(read.json()["birthDate"], "1970-01");
    assert_eq!(read.json()["meta"]["versionId"], "1");
    assert!(read.header("Last-Modified").unwrap().ends_with(" GMT"));

    let not_modified = request(
        "GET",
        &format!("/Patient/{id}"),
        &[("If-None-Match", "W/\"1\"")],
        None,
    );
    assert_eq!(not_modified.status, 304);
    assert_eq!(not_modified.body, "");
    let since = read.header("Last-Modified").unwrap().to_string();
    assert_eq!(
        request(
            "GET",
            &format!("/Patient/{id}"),
            &[("If-Modified-Since", &since)],
            None
        )
        .status,
        304
    );

    let body = format!(
        r#"{{"resourceType":"Patient","id":"{id}","name":[{{"family":"Lifecycle","given":["Anne"]}}]}}"#
    );
    let updated = request("PUT", &format!("/Patient/{id}"), &[JSON], Some(&body));
    assert_eq!(updated.status, 200, "{}", updated.body);
    assert_eq!(updated.header("ETag"), Some("W/\"2\""));
    assert_eq!(
        updated.header("Content-Location").unwrap(),
        format!("{}/Patient/{id}/_history/2", base())
    );
    assert_eq!(
        get(&format!("/Patient/{id}")).json()["name"][0]["given"][0],
        "Anne"
    );
    let old = get(&format!("/Patient/{id}/_history/1"));
    assert_eq!(old.status, 200);
    assert_eq!(old.json()["name"][0]["given"][0], "Ann");
    assert_eq!(get(&format!("/Patient/{id}/_history/9")).status, 404);

    assert_eq!(
        request("DELETE", &format!("/Patient/{id}"), &[], None).status,
        204
    );
    let gone = get(&format!("/Patient/{id}"));
    assert_eq!(gone.status, 410);
    assert!(gone.diagnostics().contains("was deleted"));
    assert_eq!(
        request("DELETE", &format!("/Patient/{id}"), &[], None).status,
        404
    );
}

#[test]
fn errors_are_operation_outcomes_with_the_right_status() {
    let missing = get("/Patient/does-not-exist");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["issue"][0]["code"], "not-found");
    let not_a_type = get("/Patientt/1");
    assert_eq!(not_a_type.status, 404);
    assert!(not_a_type
        .diagnostics()
        .contains("'Patientt' is not a FHIR resource type"));
    // Every other R4 type is served by the generic providers.
    let not_there = get("/Encounter/1");
    assert_eq!(not_there.status, 404);
    assert!(not_there.diagnostics().contains("Encounter is not known"));

    // Observations are patched by the generic provider, which takes JSON Patch only.
    let patch = request("PATCH", "/Observation/1", &[JSON], Some("[]"));
    assert_eq!(patch.status, 415);
    let post = request("POST", "/Observation/1", &[JSON], Some("{}"));
    assert_eq!(post.status, 405);
    assert_eq!(post.header("Allow"), Some("GET, PUT, PATCH, DELETE"));

    let bad_json = create("Patient", r#"{"resourceType":"Patient","birthDate":1970}"#);
    assert_eq!(bad_json.status, 400);
    assert!(
        bad_json
            .diagnostics()
            .contains("Patient.birthDate: expected a string, found a number"),
        "{}",
        bad_json.body
    );
    let unknown_element = create("Patient", r#"{"resourceType":"Patient","nickname":"x"}"#);
    assert_eq!(unknown_element.status, 400);
    assert!(unknown_element
        .diagnostics()
        .contains("unknown element 'nickname'"));
    let wrong_type = create(
        "Patient",
        r#"{"resourceType":"Observation","status":"final","code":{"text":"x"}}"#,
    );
    assert_eq!(wrong_type.status, 400);
    assert!(wrong_type
        .diagnostics()
        .contains("the body is a Observation but the URL names Patient"));
    let wrong_id = request(
        "PUT",
        "/Patient/a",
        &[JSON],
        Some(r#"{"resourceType":"Patient","id":"b"}"#),
    );
    assert_eq!(wrong_id.status, 400);
    assert!(wrong_id.diagnostics().contains("must match the URL's id"));
    let text = request(
        "POST",
        "/Patient",
        &[("Content-Type", "text/plain")],
        Some("hello"),
    );
    assert_eq!(text.status, 415);
    // The base itself is a search of every type with a search.
    assert_eq!(get("/").json()["type"], "searchset");

    // 2 MiB of one-character given names would take about 16 times that in memory: rejected
    // as too costly before it does.
    let mut hostile = String::from(r#"{"resourceType":"Patient","name":[{"given":["a""#);
    for _ in 1..(1 << 19) {
        hostile.push_str(r#","a""#);
    }
    hostile.push_str("]}]}");
    let too_costly = create("Patient", &hostile);
    assert_eq!(too_costly.status, 413, "{}", too_costly.body);
    assert_eq!(too_costly.json()["issue"][0]["code"], "too-costly");
    assert!(too_costly.diagnostics().contains("bytes of memory"));
}

#[test]
fn content_negotiation() {
    let created = create(
        "Patient",
        r#"{"resourceType":"Patient","name":[{"family":"Negotiation"}]}"#,
    );
    let id = created.json()["id"].as_str().unwrap().to_string();
    let path = format!("/Patient/{id}");
    for accept in [
        "application/fhir+json",
        "application/json",
        "*/*",
        "application/fhir+json;q=0.9, text/html",
    ] {
        assert_eq!(
            request("GET", &path, &[("Accept", accept)], None).status,
            200,
            "{accept}"
        );
    }
    let other_only = request("GET", &path, &[("Accept", "text/html, image/png")], None);
    assert_eq!(other_only.status, 406);
    assert_eq!(other_only.json()["resourceType"], "OperationOutcome");
    assert_eq!(get(&format!("{path}?_format=json")).status, 200);
    assert_eq!(
        get(&format!("{path}?_format=application/fhir%2Bjson")).status,
        200
    );
    assert_eq!(get(&format!("{path}?_format=yaml")).status, 400);
    // Preference order and weights decide between JSON and XML.
    let xml = request(
        "GET",
        &path,
        &[(
            "Accept",
            "application/fhir+json;q=0.5, application/fhir+xml",
        )],
        None,
    );
    assert_eq!(
        xml.header("Content-Type"),
        Some("application/fhir+xml; charset=utf-8")
    );
    let pretty = get(&format!("{path}?_pretty=true"));
    assert!(
        pretty
            .body
            .starts_with("{\n  \"resourceType\": \"Patient\""),
        "{}",
        pretty.body
    );
    assert!(!get(&path).body.contains('\n'));

    let minimal = request(
        "POST",
        "/Patient",
        &[JSON, ("Prefer", "return=minimal")],
        Some(r#"{"resourceType":"Patient"}"#),
    );
    assert_eq!(minimal.status, 201);
    assert_eq!(minimal.body, "");
    assert!(minimal.header("Location").is_some());
    let outcome = request(
        "POST",
        "/Patient",
        &[JSON, ("Prefer", "return=OperationOutcome")],
        Some(r#"{"resourceType":"Patient"}"#),
    );
    assert_eq!(outcome.status, 201);
    assert_eq!(outcome.json()["resourceType"], "OperationOutcome");
}

#[test]
fn search_returns_searchset_bundles_with_paging() {
    for given in ["Ava", "Ben", "Cid"] {
        let body = format!(
            r#"{{"resourceType":"Patient","gender":"female","name":[{{"family":"Searchable","given":["{given}"]}}]}}"#
        );
        assert_eq!(create("Patient", &body).status, 201);
    }
    let all = get("/Patient?family=searchable");
    assert_eq!(all.status, 200);
    let bundle = all.json();
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["type"], "searchset");
    assert_eq!(bundle["total"], 3);
    let entry = &bundle["entry"][0];
    assert_eq!(entry["search"]["mode"], "match");
    assert_eq!(
        entry["fullUrl"].as_str().unwrap(),
        format!(
            "{}/Patient/{}",
            base(),
            entry["resource"]["id"].as_str().unwrap()
        )
    );
    assert_eq!(bundle["link"][0]["relation"], "self");

    let page1 = get("/Patient?family=searchable&_count=2").json();
    assert_eq!(page1["entry"].as_array().unwrap().len(), 2);
    let next = page1["link"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["relation"] == "next")
        .unwrap()["url"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(next.starts_with("http://127.0.0.1:"), "{next}");
    let page2 = get(&next).json();
    assert_eq!(page2["entry"].as_array().unwrap().len(), 1);
    assert!(page2["link"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["relation"] == "previous"));
    assert!(!page2["link"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["relation"] == "next"));

    let exact = get("/Patient?family:exact=Searchable&given=ben").json();
    assert_eq!(exact["total"], 1);
    assert_eq!(get("/Patient?family:exact=searchable").json()["total"], 0);
    assert_eq!(
        get("/Patient?family=searchable&gender=male").json()["total"],
        0
    );
    assert_eq!(
        get("/Patient?family=searchable&gender=http://hl7.org/fhir/administrative-gender|female")
            .json()["total"],
        3
    );

    let unsupported = get("/Patient?birthdate=2000");
    assert_eq!(unsupported.status, 400);
    assert!(
        unsupported
            .diagnostics()
            .contains("supported searches: [family, given, gender, link, _id, _lastUpdated]"),
        "{}",
        unsupported.body
    );
    let bad_count = get("/Patient?family=x&_count=abc");
    assert_eq!(bad_count.status, 400);
    let bad_modifier = get("/Patient?family:below=x");
    assert_eq!(bad_modifier.status, 400);
    assert!(
        bad_modifier.diagnostics().contains("family"),
        "{}",
        bad_modifier.body
    );
}

#[test]
fn observations_by_subject_and_code() {
    let patient = create(
        "Patient",
        r#"{"resourceType":"Patient","name":[{"family":"Observed"}]}"#,
    )
    .json();
    let pid = patient["id"].as_str().unwrap();
    for (system, code) in [
        ("http://loinc.org", "29463-7"),
        ("http://loinc.org", "8867-4"),
        ("urn:x", "a,b"),
    ] {
        let body = format!(
            r#"{{"resourceType":"Observation","status":"final","code":{{"coding":[{{"system":"{system}","code":"{code}"}}]}},"subject":{{"reference":"Patient/{pid}"}}}}"#
        );
        assert_eq!(create("Observation", &body).status, 201);
    }
    let by_subject = get(&format!("/Observation?subject=Patient/{pid}")).json();
    assert_eq!(by_subject["total"], 3);
    let by_code = get(&format!(
        "/Observation?subject={pid}&code=http://loinc.org|29463-7,http://loinc.org|8867-4"
    ))
    .json();
    assert_eq!(by_code["total"], 2);
    let escaped = get(&format!(
        "/Observation?subject=Patient/{pid}&code=urn:x|a%5C,b"
    ))
    .json();
    assert_eq!(escaped["total"], 1);
    assert_eq!(
        get("/Observation?subject:Patient=nobody").json()["total"],
        0
    );
}

#[test]
fn the_capability_statement_lists_what_is_mounted() {
    let reply = get("/metadata");
    assert_eq!(reply.status, 200);
    let cs = reply.json();
    assert_eq!(cs["resourceType"], "CapabilityStatement");
    assert_eq!(cs["fhirVersion"], "4.0.1");
    assert_eq!(cs["format"], serde_json::json!(["json", "xml"]));
    assert_eq!(cs["kind"], "instance");
    assert_eq!(cs["software"]["name"], "memory-server");
    assert_eq!(cs["implementation"]["url"].as_str().unwrap(), base());
    let resources = cs["rest"][0]["resource"].as_array().unwrap();
    let types: Vec<&str> = resources
        .iter()
        .map(|r| r["type"].as_str().unwrap())
        .collect();
    // Patients and Observations by their own providers, every other R4 type by the generic
    // ones.
    assert_eq!(types.len(), 146);
    assert!(types.contains(&"Encounter") && types.contains(&"ExplanationOfBenefit"));
    let patient = resources.iter().find(|r| r["type"] == "Patient").unwrap();
    let interactions: Vec<&str> = patient["interaction"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        interactions,
        [
            "read",
            "vread",
            "search-type",
            "create",
            "update",
            "patch",
            "delete",
            "history-instance",
            "history-type"
        ]
    );
    assert_eq!(patient["versioning"], "versioned");
    assert_eq!(patient["conditionalCreate"], true);
    assert_eq!(patient["conditionalRead"], "full-support");
    assert_eq!(patient["conditionalDelete"], "single");
    assert_eq!(patient["conditionalUpdate"], true);
    let family = patient["searchParam"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "family")
        .unwrap();
    assert_eq!(family["type"], "string");
    assert_eq!(
        family["definition"],
        "http://hl7.org/fhir/SearchParameter/individual-family"
    );
    assert!(family["documentation"]
        .as_str()
        .unwrap()
        .contains("family name"));
    // Includes are listed where a search declares them.
    assert_eq!(
        resources
            .iter()
            .find(|r| r["type"] == "Observation")
            .unwrap()["searchInclude"],
        serde_json::json!(["Observation:subject"])
    );
    assert!(patient.get("searchInclude").is_none());
    // The statement is itself a valid R4 resource.
    fhir_rocket::model::r4::Resource::from_json(&reply.body).unwrap();
}

#[test]
fn conditional_create_and_update() {
    let body = r#"{"resourceType":"Patient","name":[{"family":"Conditional"}]}"#;
    let first = request(
        "POST",
        "/Patient",
        &[JSON, ("If-None-Exist", "family=conditional")],
        Some(body),
    );
    assert_eq!(first.status, 201, "{}", first.body);
    let id = first.json()["id"].as_str().unwrap().to_string();
    let again = request(
        "POST",
        "/Patient",
        &[JSON, ("If-None-Exist", "family=conditional")],
        Some(body),
    );
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["id"], id.as_str());
    assert_eq!(create("Patient", body).status, 201);
    let ambiguous = request(
        "POST",
        "/Patient",
        &[JSON, ("If-None-Exist", "family=conditional")],
        Some(body),
    );
    assert_eq!(ambiguous.status, 412);

    let update = format!(
        r#"{{"resourceType":"Patient","id":"{id}","name":[{{"family":"Conditional","given":["X"]}}]}}"#
    );
    let stale = request(
        "PUT",
        &format!("/Patient/{id}"),
        &[JSON, ("If-Match", "W/\"7\"")],
        Some(&update),
    );
    assert_eq!(stale.status, 412);
    assert!(stale.diagnostics().contains("current version is 1"));
    let fresh = request(
        "PUT",
        &format!("/Patient/{id}"),
        &[JSON, ("If-Match", "W/\"1\"")],
        Some(&update),
    );
    assert_eq!(fresh.status, 200);
    assert_eq!(fresh.header("ETag"), Some("W/\"2\""));
}

#[test]
fn includes_are_marked_in_the_bundle() {
    let patient = create(
        "Patient",
        r#"{"resourceType":"Patient","name":[{"family":"Included"}]}"#,
    )
    .json();
    let pid = patient["id"].as_str().unwrap();
    for code in ["1", "2"] {
        let body = format!(
            r#"{{"resourceType":"Observation","status":"final","code":{{"coding":[{{"system":"urn:inc","code":"{code}"}}]}},"subject":{{"reference":"Patient/{pid}"}}}}"#
        );
        assert_eq!(create("Observation", &body).status, 201);
    }
    let bundle = get(&format!(
        "/Observation?subject={pid}&_include=Observation:subject"
    ))
    .json();
    let modes: Vec<&str> = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["search"]["mode"].as_str().unwrap())
        .collect();
    assert_eq!(modes, ["match", "match", "include"]);
    assert_eq!(bundle["total"], 2);
    assert_eq!(bundle["entry"][2]["resource"]["id"], pid);
}

#[test]
fn each_page_includes_the_subjects_of_its_own_matches() {
    // Three Observations with the same code: two on one Patient, one on another.
    let mut patients = Vec::new();
    for family in ["PagedA", "PagedB"] {
        let body = format!(r#"{{"resourceType":"Patient","name":[{{"family":"{family}"}}]}}"#);
        patients.push(
            create("Patient", &body).json()["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    for subject in [&patients[0], &patients[1], &patients[0]] {
        let body = format!(
            r#"{{"resourceType":"Observation","status":"final","code":{{"coding":[{{"system":"urn:paged","code":"x"}}]}},"subject":{{"reference":"Patient/{subject}"}}}}"#
        );
        assert_eq!(create("Observation", &body).status, 201);
    }
    let mut url = "/Observation?code=urn:paged|x&_include=Observation:subject&_count=2".to_string();
    let mut pages = 0;
    let mut matches = 0;
    loop {
        let bundle = get(&url).json();
        assert_eq!(bundle["total"], 3);
        let entries = bundle["entry"].as_array().unwrap();
        let subjects: std::collections::BTreeSet<String> = entries
            .iter()
            .filter(|e| e["search"]["mode"] == "match")
            .map(|e| {
                e["resource"]["subject"]["reference"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        let included: std::collections::BTreeSet<String> = entries
            .iter()
            .filter(|e| e["search"]["mode"] == "include")
            .map(|e| format!("Patient/{}", e["resource"]["id"].as_str().unwrap()))
            .collect();
        // Each page has the Patients its own Observations refer to, each once.
        assert_eq!(included, subjects, "{bundle}");
        let on_page = entries
            .iter()
            .filter(|e| e["search"]["mode"] == "match")
            .count();
        assert_eq!(entries.len(), on_page + included.len());
        matches += on_page;
        pages += 1;
        match bundle["link"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["relation"] == "next")
        {
            Some(next) => url = next["url"].as_str().unwrap().to_string(),
            None => break,
        }
    }
    assert_eq!((pages, matches), (2, 3));
}

#[test]
fn includes_a_search_does_not_declare_are_rejected() {
    let reply = get("/Observation?_include=Observation:performer");
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.diagnostics(),
        "_include=Observation:performer is not supported by this search; supported values: Observation:subject"
    );
    // A declared include restricted to a target type is answered.
    assert_eq!(
        get("/Observation?_include=Observation:subject:Patient").status,
        200
    );
    let reply = get("/Patient?_revinclude=Observation:subject");
    assert_eq!(reply.status, 400);
    assert!(
        reply.diagnostics().ends_with("supported values: none"),
        "{}",
        reply.body
    );
}

#[test]
fn history_at_instance_type_and_system_level() {
    let created = create(
        "Patient",
        r#"{"resourceType":"Patient","name":[{"family":"Historic"}]}"#,
    )
    .json();
    let id = created["id"].as_str().unwrap().to_string();
    let body = format!(
        r#"{{"resourceType":"Patient","id":"{id}","name":[{{"family":"Historic","given":["B"]}}]}}"#
    );
    assert_eq!(
        request("PUT", &format!("/Patient/{id}"), &[JSON], Some(&body)).status,
        200
    );
    assert_eq!(
        request("DELETE", &format!("/Patient/{id}"), &[], None).status,
        204
    );

    let history = get(&format!("/Patient/{id}/_history"));
    assert_eq!(history.status, 200, "{}", history.body);
    let bundle = history.json();
    assert_eq!(bundle["type"], "history");
    assert_eq!(bundle["total"], 3);
    let methods: Vec<&str> = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["request"]["method"].as_str().unwrap())
        .collect();
    assert_eq!(methods, ["DELETE", "PUT", "POST"]);
    assert!(bundle["entry"][0].get("resource").is_none());
    assert_eq!(bundle["entry"][1]["response"]["etag"], "W/\"2\"");
    assert_eq!(bundle["entry"][2]["request"]["url"], "Patient");

    let paged = get(&format!("/Patient/{id}/_history?_count=2")).json();
    assert_eq!(paged["entry"].as_array().unwrap().len(), 2);
    assert!(paged["link"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["relation"] == "next"));

    let type_level = get("/Patient/_history").json();
    assert!(type_level["total"].as_u64().unwrap() >= 3);
    let system = get("/_history").json();
    assert!(system["total"].as_u64().unwrap() >= type_level["total"].as_u64().unwrap());
    let future = get("/_history?_since=2999-01-01T00:00:00Z").json();
    assert_eq!(future["total"], 0);
    assert_eq!(get("/_history?_since=yesterday").status, 400);
    assert_eq!(get("/_history?family=x").status, 400);
    // Observations have no history provider of their own: the generic one serves them.
    assert_eq!(get("/Observation/_history").json()["type"], "history");

    let cs = get("/metadata").json();
    let system: Vec<&str> = cs["rest"][0]["interaction"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["code"].as_str().unwrap())
        .collect();
    assert!(system.contains(&"history-system"), "{system:?}");
}

#[test]
fn json_patch() {
    let created = create(
        "Patient",
        r#"{"resourceType":"Patient","active":true,"name":[{"family":"Patched"}]}"#,
    )
    .json();
    let id = created["id"].as_str().unwrap().to_string();
    let path = format!("/Patient/{id}");
    const PATCH: (&str, &str) = ("Content-Type", "application/json-patch+json");
    let ops = r#"[{"op":"test","path":"/active","value":true},{"op":"replace","path":"/active","value":false},{"op":"add","path":"/name/0/given","value":["Pat"]}]"#;
    let patched = request("PATCH", &path, &[PATCH], Some(ops));
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.header("ETag"), Some("W/\"2\""));
    let now = get(&path).json();
    assert_eq!(now["active"], false);
    assert_eq!(now["name"][0]["given"][0], "Pat");

    let failed_test = request(
        "PATCH",
        &path,
        &[PATCH],
        Some(r#"[{"op":"test","path":"/active","value":true}]"#),
    );
    assert_eq!(failed_test.status, 422);
    let invalid_result = request(
        "PATCH",
        &path,
        &[PATCH],
        Some(r#"[{"op":"add","path":"/nickname","value":"x"}]"#),
    );
    assert_eq!(invalid_result.status, 422);
    assert!(
        invalid_result
            .diagnostics()
            .contains("unknown element 'nickname'"),
        "{}",
        invalid_result.body
    );
    let malformed = request("PATCH", &path, &[PATCH], Some(r#"{"op":"add"}"#));
    assert_eq!(malformed.status, 400);
    let wrong_type = request("PATCH", &path, &[JSON], Some(ops));
    assert_eq!(wrong_type.status, 415);
    assert_eq!(
        request("PATCH", "/Patient/nobody", &[PATCH], Some("[]")).status,
        404
    );
}

#[test]
fn operations_at_instance_type_and_system_level() {
    let patient = create(
        "Patient",
        r#"{"resourceType":"Patient","name":[{"family":"Operated"}]}"#,
    )
    .json();
    let pid = patient["id"].as_str().unwrap();
    let body = format!(
        r#"{{"resourceType":"Observation","status":"final","code":{{"text":"x"}},"subject":{{"reference":"Patient/{pid}"}}}}"#
    );
    assert_eq!(create("Observation", &body).status, 201);

    let everything = get(&format!("/Patient/{pid}/$everything"));
    assert_eq!(everything.status, 200, "{}", everything.body);
    let bundle = everything.json();
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["total"], 2);
    let posted = request(
        "POST",
        &format!("/Patient/{pid}/$everything"),
        &[JSON],
        Some(r#"{"resourceType":"Parameters"}"#),
    );
    assert_eq!(posted.status, 200, "{}", posted.body);
    assert_eq!(get("/Patient/nobody/$everything").status, 404);

    let count = request(
        "POST",
        "/Observation/$count",
        &[JSON],
        Some(r#"{"resourceType":"Parameters"}"#),
    );
    assert_eq!(count.status, 200, "{}", count.body);
    assert!(
        count.json()["parameter"][0]["valueInteger"]
            .as_i64()
            .unwrap()
            >= 1
    );
    let by_get = get("/Observation/$count");
    assert_eq!(by_get.status, 405);
    assert_eq!(by_get.header("Allow"), Some("POST"));

    let echoed = get("/$echo?greeting=hello&to=world");
    assert_eq!(echoed.status, 200, "{}", echoed.body);
    let params = echoed.json();
    assert_eq!(params["parameter"][0]["name"], "greeting");
    assert_eq!(params["parameter"][0]["valueString"], "hello");
    let echoed = request(
        "POST",
        "/$echo",
        &[JSON],
        Some(r#"{"resourceType":"Parameters","parameter":[{"name":"n","valueDecimal":1.50}]}"#),
    );
    assert_eq!(
        echoed.body,
        r#"{"resourceType":"Parameters","parameter":[{"name":"n","valueDecimal":1.50}]}"#
    );
    assert_eq!(get("/$nothing").status, 404);
    assert_eq!(get("/Patient/$nothing").status, 404);

    let cs = get("/metadata").json();
    let patient = cs["rest"][0]["resource"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "Patient")
        .unwrap()
        .clone();
    assert_eq!(patient["operation"][0]["name"], "everything");
    assert_eq!(cs["rest"][0]["operation"][0]["name"], "echo");
}

#[test]
fn the_search_provider_is_chosen_by_the_parameters() {
    let body = r#"{"resourceType":"Patient","identifier":[{"system":"urn:mrn","value":"A-1"}],"name":[{"family":"Chosen"}]}"#;
    assert_eq!(create("Patient", body).status, 201);
    let by_identifier = get("/Patient?identifier=urn:mrn|A-1").json();
    assert_eq!(by_identifier["total"], 1);
    assert_eq!(get("/Patient?identifier=urn:mrn|B-2").json()["total"], 0);
    let by_family = get("/Patient?family=chosen").json();
    assert_eq!(by_family["total"], 1);
    let both = get("/Patient?family=chosen&identifier=urn:mrn|A-1");
    assert_eq!(both.status, 400);
    assert!(
        both.diagnostics().contains(
            "[family, given, gender, link, _id, _lastUpdated] or [identifier (required)]"
        ),
        "{}",
        both.body
    );
}

#[test]
fn version_conflicts_and_unimplemented_interactions() {
    let created = create(
        "Patient",
        r#"{"resourceType":"Patient","name":[{"family":"Versioned"}]}"#,
    )
    .json();
    let id = created["id"].as_str().unwrap().to_string();
    let stale = format!(r#"{{"resourceType":"Patient","id":"{id}","meta":{{"versionId":"5"}}}}"#);
    let conflict = request("PUT", &format!("/Patient/{id}"), &[JSON], Some(&stale));
    assert_eq!(conflict.status, 409);
    assert_eq!(conflict.json()["issue"][0]["code"], "conflict");
    let current = format!(r#"{{"resourceType":"Patient","id":"{id}","meta":{{"versionId":"1"}}}}"#);
    assert_eq!(
        request("PUT", &format!("/Patient/{id}"), &[JSON], Some(&current)).status,
        200
    );

    let batch = request(
        "POST",
        "",
        &[JSON],
        Some(r#"{"resourceType":"Bundle","type":"batch"}"#),
    );
    assert_eq!(batch.status, 200);
    assert_eq!(batch.json()["type"], "batch-response");
}

const XML: (&str, &str) = ("Content-Type", "application/fhir+xml");

#[test]
fn xml_bodies_answers_and_errors() {
    // Create from an XML body; the answer follows Accept.
    let body = r#"<Patient xmlns="http://hl7.org/fhir"><active value="true"/><name><family value="Xml"/><given value="Ada"/></name></Patient>"#;
    let created = request(
        "POST",
        "/Patient",
        &[XML, ("Accept", "application/fhir+xml")],
        Some(body),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(
        created.header("Content-Type"),
        Some("application/fhir+xml; charset=utf-8")
    );
    let id = created
        .header("Location")
        .and_then(|l| l.split("/Patient/").nth(1))
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .to_string();
    assert!(
        created.body.starts_with(&format!(
            r#"<Patient xmlns="http://hl7.org/fhir"><id value="{id}"/><meta><versionId value="1"/>"#
        )),
        "{}",
        created.body
    );
    // The same resource in JSON.
    let json = get(&format!("/Patient/{id}")).json();
    assert_eq!(json["name"][0]["given"][0], "Ada");
    assert_eq!(json["active"], true);
    // Every XML media type and _format value.
    for accept in [
        "application/fhir+xml",
        "application/xml",
        "text/xml",
        "application/xml+fhir",
    ] {
        let reply = request(
            "GET",
            &format!("/Patient/{id}"),
            &[("Accept", accept)],
            None,
        );
        assert_eq!(reply.status, 200, "{accept}");
        assert!(
            reply.body.starts_with("<Patient "),
            "{accept}: {}",
            reply.body
        );
    }
    for format in [
        "xml",
        "text/xml",
        "application/fhir%2Bxml",
        "application/xml",
    ] {
        let reply = get(&format!("/Patient/{id}?_format={format}"));
        assert!(
            reply.body.starts_with("<Patient "),
            "{format}: {}",
            reply.body
        );
    }
    let pretty = get(&format!("/Patient/{id}?_format=xml&_pretty=true"));
    assert!(pretty.body.contains("\n  <id value="), "{}", pretty.body);
    // A search Bundle in XML.
    let bundle = get("/Patient?family=Xml&_format=xml");
    assert!(
        bundle
            .body
            .starts_with(r#"<Bundle xmlns="http://hl7.org/fhir"><type value="searchset"/>"#),
        "{}",
        bundle.body
    );
    assert!(
        bundle.body.contains("<entry><fullUrl value=\"http://"),
        "{}",
        bundle.body
    );
    // Searchset and history Bundles are written as XML straight from the model, and a subset
    // of one through its JSON form: each is the JSON answer to the same request in XML.
    let table =
        <fhir_rocket::model::r4::Resource as fhir_rocket::model::xml::XmlResource>::xml_table();
    let history = format!("/Patient/{id}/_history?");
    for query in [
        "/Patient?family=Xml&",
        "/Patient?family=Xml&_summary=true&",
        "/Patient?family=Xml&_pretty=true&",
        &history,
    ] {
        let json = get(&format!("{query}_format=json"));
        let xml = get(&format!("{query}_format=xml"));
        assert_eq!((json.status, xml.status), (200, 200), "{query}");
        assert_eq!(
            xml.header("Content-Type"),
            Some("application/fhir+xml; charset=utf-8")
        );
        // The links repeat the query, `_format` with it.
        let json = json.body.replace("_format=json", "_format=xml");
        let expected = fhir_rocket::model::xml::from_json_form(
            json.as_bytes(),
            table,
            query.contains("_pretty"),
        )
        .expect("the JSON Bundle in XML");
        assert_eq!(xml.body, String::from_utf8(expected).unwrap(), "{query}");
    }
    // Errors are XML OperationOutcomes when XML was asked for.
    let missing = get("/Patient/does-not-exist?_format=xml");
    assert_eq!(missing.status, 404);
    assert!(
        missing.body.starts_with(r#"<OperationOutcome xmlns="http://hl7.org/fhir"><issue><severity value="error"/><code value="not-found"/>"#),
        "{}",
        missing.body
    );
    // A bad XML body: 400 naming the element, line and column.
    let bad = request(
        "POST",
        "/Patient",
        &[XML],
        Some("<Patient xmlns=\"http://hl7.org/fhir\">\n  <birthDate value=\"1970-02-30x\"/>\n</Patient>"),
    );
    assert_eq!(bad.status, 400);
    let diagnostics = bad.diagnostics();
    assert!(
        diagnostics.contains("Patient.birthDate") && diagnostics.contains("line 2, column 3"),
        "{diagnostics}"
    );
    let dtd = request(
        "POST",
        "/Patient",
        &[XML],
        Some("<!DOCTYPE p [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><Patient xmlns=\"http://hl7.org/fhir\"/>"),
    );
    assert_eq!(dtd.status, 400);
    assert!(dtd.diagnostics().contains("DTD"), "{}", dtd.body);
    // An update in XML whose id does not match the URL.
    let wrong = request(
        "PUT",
        &format!("/Patient/{id}"),
        &[XML],
        Some(r#"<Patient xmlns="http://hl7.org/fhir"><id value="other"/></Patient>"#),
    );
    assert_eq!(wrong.status, 400);
}
