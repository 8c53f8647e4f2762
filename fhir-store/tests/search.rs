//! Search over HTTP, answered in SQL, on SQLite and on PostgreSQL: every parameter type and
//! modifier, prefixes, OR and AND, chains, `_has`, includes with `:iterate`, `_sort` on
//! several keys, paging, `_total`, compartments, `_type`, and a 400 for what the store does
//! not evaluate.

mod common;

use common::{ids, servers, Server};
use std::collections::BTreeSet;

const DATA: &[&str] = &[
    r#"{"resourceType":"Organization","id":"o1","name":"Acme Health"}"#,
    r#"{"resourceType":"Organization","id":"o2","name":"Other Clinic","partOf":{"reference":"Organization/o1"}}"#,
    r#"{"resourceType":"Patient","id":"p1","meta":{"tag":[{"system":"urn:t","code":"x"}]},"identifier":[{"system":"urn:mrn","value":"1"}],"name":[{"family":"Chalmers","given":["Peter"]}],"gender":"male","birthDate":"1974-12-25","address":[{"city":"Zürich"}],"managingOrganization":{"reference":"Organization/o1"}}"#,
    r#"{"resourceType":"Patient","id":"p2","identifier":[{"system":"urn:mrn","value":"2"}],"name":[{"family":"Chalmerson","given":["Anna"]}],"gender":"female","birthDate":"1985-03","managingOrganization":{"reference":"Organization/o2"}}"#,
    r#"{"resourceType":"Patient","id":"p3","name":[{"family":"Windsor","given":["Éloïse"]}],"gender":"female"}"#,
    r#"{"resourceType":"Observation","id":"obs1","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}],"text":"Heart rate"},"subject":{"reference":"Patient/p1"},"performer":[{"reference":"Organization/o1"}],"effectiveDateTime":"2020-01-01T10:00:00Z","valueQuantity":{"value":72,"unit":"beats/minute","system":"http://unitsofmeasure.org","code":"/min"}}"#,
    r#"{"resourceType":"Observation","id":"obs2","status":"preliminary","code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2021-06-15","valueQuantity":{"value":120,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}}"#,
    r#"{"resourceType":"Observation","id":"obs3","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"subject":{"reference":"Patient/p2"},"effectiveDateTime":"2022-02-02","valueQuantity":{"value":88,"unit":"beats/minute","system":"http://unitsofmeasure.org","code":"/min"}}"#,
    r#"{"resourceType":"Encounter","id":"e1","status":"finished","class":{"code":"AMB"},"subject":{"reference":"Patient/p1"},"period":{"start":"2020-01-01","end":"2020-01-03"}}"#,
    r#"{"resourceType":"Encounter","id":"e2","status":"finished","class":{"code":"AMB"},"subject":{"reference":"Patient/p2"},"period":{"start":"2023-05-01T08:00:00Z","end":"2023-05-01T09:00:00Z"}}"#,
    r#"{"resourceType":"ValueSet","id":"vs1","url":"http://example.org/vs/a","status":"active"}"#,
];

fn load(s: &Server) {
    for json in DATA {
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        let path = format!(
            "{}/{}",
            v["resourceType"].as_str().unwrap(),
            v["id"].as_str().unwrap()
        );
        let reply = s.put(&path, json);
        assert_eq!(reply.status, 201, "{} {path}: {}", s.engine, reply.body);
    }
}

/// The matches of a search, as a set of `Type/id`.
fn found(s: &Server, path: &str) -> BTreeSet<String> {
    s.search_ids(path).into_iter().collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn every_parameter_type_and_modifier() {
    for s in servers("search_types") {
        load(&s);
        let e = s.engine;
        let cases: &[(&str, &[&str])] = &[
            // string: prefix, accents and case folded; :exact; :contains
            ("Patient?family=chalm", &["Patient/p1", "Patient/p2"]),
            ("Patient?family:exact=Chalmers", &["Patient/p1"]),
            ("Patient?family:exact=chalmers", &[]),
            (
                "Patient?family:contains=MERS",
                &["Patient/p1", "Patient/p2"],
            ),
            ("Patient?given=eloise", &["Patient/p3"]),
            ("Patient?address-city=zurich", &["Patient/p1"]),
            (
                "Patient?family=windsor,chalmerson",
                &["Patient/p2", "Patient/p3"],
            ),
            // token: code, system|code, |code, system|, :not, :text, OR
            ("Patient?gender=female", &["Patient/p2", "Patient/p3"]),
            ("Patient?gender:not=female", &["Patient/p1"]),
            ("Patient?identifier=urn:mrn|1", &["Patient/p1"]),
            ("Patient?identifier=2", &["Patient/p2"]),
            ("Patient?identifier=|1", &[]),
            ("Patient?identifier=urn:mrn|", &["Patient/p1", "Patient/p2"]),
            (
                "Observation?code=http://loinc.org|8867-4",
                &["Observation/obs1", "Observation/obs3"],
            ),
            ("Observation?code:text=heart", &["Observation/obs1"]),
            (
                "Observation?status=final,preliminary",
                &["Observation/obs1", "Observation/obs2", "Observation/obs3"],
            ),
            ("Patient?_tag=urn:t|x", &["Patient/p1"]),
            // date: precision and prefixes, AND
            ("Patient?birthdate=1974", &["Patient/p1"]),
            ("Patient?birthdate=lt1980", &["Patient/p1"]),
            ("Patient?birthdate=ge1985-03-01", &["Patient/p2"]),
            ("Patient?birthdate=sa1980", &["Patient/p2"]),
            ("Patient?birthdate=ne1974-12-25", &["Patient/p2"]),
            (
                "Observation?date=ge2021&date=lt2022-12",
                &["Observation/obs2", "Observation/obs3"],
            ),
            (
                "Encounter?date=ge2020-01-02",
                &["Encounter/e1", "Encounter/e2"],
            ),
            ("Encounter?date=lt2020-01-02", &["Encounter/e1"]),
            ("Encounter?date=eb2023", &["Encounter/e1"]),
            ("Encounter?date=2023-05-01", &["Encounter/e2"]),
            // quantity: value, prefixes, units
            ("Observation?value-quantity=72", &["Observation/obs1"]),
            (
                "Observation?value-quantity=gt80",
                &["Observation/obs2", "Observation/obs3"],
            ),
            (
                "Observation?value-quantity=120|http://unitsofmeasure.org|mm[Hg]",
                &["Observation/obs2"],
            ),
            (
                "Observation?value-quantity=lt100||/min",
                &["Observation/obs1", "Observation/obs3"],
            ),
            // ap: within 10% of the value (72 and 88 around 80)
            (
                "Observation?value-quantity=ap80",
                &["Observation/obs1", "Observation/obs3"],
            ),
            ("Observation?value-quantity=ap125", &["Observation/obs2"]),
            // reference: Type/id, id, :Type, absolute to nowhere
            (
                "Observation?subject=Patient/p1",
                &["Observation/obs1", "Observation/obs2"],
            ),
            ("Observation?subject=p2", &["Observation/obs3"]),
            (
                "Observation?subject:Patient=p1",
                &["Observation/obs1", "Observation/obs2"],
            ),
            ("Observation?patient=p1&code=8480-6", &["Observation/obs2"]),
            (
                "Observation?performer:Organization=o1",
                &["Observation/obs1"],
            ),
            (
                "Observation?subject=http://elsewhere.org/fhir/Patient/p1",
                &[],
            ),
            // uri: equality, :below, :above
            ("ValueSet?url=http://example.org/vs/a", &["ValueSet/vs1"]),
            (
                "ValueSet?url:below=http://example.org/vs",
                &["ValueSet/vs1"],
            ),
            (
                "ValueSet?url:above=http://example.org/vs/a/more",
                &["ValueSet/vs1"],
            ),
            ("ValueSet?url=http://example.org/vs", &[]),
            // composite
            (
                "Observation?code-value-quantity=http://loinc.org|8867-4$gt80",
                &["Observation/obs3"],
            ),
            (
                "Observation?code-value-quantity=http://loinc.org|8480-6$gt80",
                &["Observation/obs2"],
            ),
            (
                "Observation?code-value-quantity=http://loinc.org|8480-6$lt80",
                &[],
            ),
            // :missing
            ("Patient?birthdate:missing=true", &["Patient/p3"]),
            (
                "Patient?birthdate:missing=false",
                &["Patient/p1", "Patient/p2"],
            ),
            ("Patient?organization:missing=true", &["Patient/p3"]),
            // _id, _lastUpdated
            ("Patient?_id=p1,p3", &["Patient/p1", "Patient/p3"]),
            (
                "Patient?_lastUpdated=gt2000-01-01",
                &["Patient/p1", "Patient/p2", "Patient/p3"],
            ),
            ("Patient?_lastUpdated=lt2000-01-01", &[]),
            // chains, of any depth, with type modifiers
            (
                "Observation?subject.name=chalmers",
                &["Observation/obs1", "Observation/obs2", "Observation/obs3"],
            ),
            (
                "Observation?subject:Patient.gender=female",
                &["Observation/obs3"],
            ),
            (
                "Observation?subject:Patient.organization.name=acme",
                &["Observation/obs1", "Observation/obs2"],
            ),
            (
                "Observation?subject:Patient.organization.partof.name=acme",
                &["Observation/obs3"],
            ),
            (
                "Encounter?subject:Patient.identifier=urn:mrn|2",
                &["Encounter/e2"],
            ),
            // _has, nested
            (
                "Patient?_has:Observation:patient:code=8480-6",
                &["Patient/p1"],
            ),
            (
                "Patient?_has:Observation:subject:status=final",
                &["Patient/p1", "Patient/p2"],
            ),
            (
                "Organization?_has:Patient:organization:_has:Observation:patient:code=8867-4",
                &["Organization/o1", "Organization/o2"],
            ),
            (
                "Organization?_has:Patient:organization:gender=female",
                &["Organization/o2"],
            ),
        ];
        for (path, expected) in cases {
            assert_eq!(found(&s, path), set(expected), "{e} {path}");
        }
    }
}

#[test]
fn includes_sort_paging_totals_compartments_and_types() {
    for s in servers("search_results") {
        load(&s);
        let e = s.engine;
        // _include and _revinclude, with :iterate.
        let bundle = s
            .get("Observation?code=8867-4&_include=Observation:subject")
            .json();
        assert_eq!(
            ids(&bundle, "include").into_iter().collect::<BTreeSet<_>>(),
            set(&["Patient/p1", "Patient/p2"]),
            "{e}"
        );
        let bundle = s
            .get("Patient?_id=p1&_revinclude=Observation:subject")
            .json();
        assert_eq!(
            ids(&bundle, "include").into_iter().collect::<BTreeSet<_>>(),
            set(&["Observation/obs1", "Observation/obs2"]),
            "{e}"
        );
        let bundle = s
            .get("Observation?_id=obs3&_include=Observation:subject&_include:iterate=Patient:organization&_include:iterate=Organization:partof")
            .json();
        assert_eq!(
            ids(&bundle, "include").into_iter().collect::<BTreeSet<_>>(),
            set(&["Patient/p2", "Organization/o2", "Organization/o1"]),
            "{e}"
        );
        let bundle = s.get("Patient?_id=p1&_include=Patient:*").json();
        assert_eq!(ids(&bundle, "include"), ["Organization/o1"], "{e}");
        // _sort on several keys; resources without a value last either way.
        assert_eq!(
            s.search_ids("Patient?_sort=family"),
            ["Patient/p1", "Patient/p2", "Patient/p3"]
        );
        assert_eq!(
            s.search_ids("Patient?_sort=-family"),
            ["Patient/p3", "Patient/p2", "Patient/p1"]
        );
        assert_eq!(
            s.search_ids("Patient?_sort=-birthdate"),
            ["Patient/p2", "Patient/p1", "Patient/p3"]
        );
        assert_eq!(
            s.search_ids("Observation?_sort=status,-date"),
            ["Observation/obs3", "Observation/obs1", "Observation/obs2"],
            "{e}"
        );
        assert_eq!(
            s.search_ids("Patient?gender=female&_sort=-_id"),
            ["Patient/p3", "Patient/p2"]
        );
        // Paging: stable links, each page in order; _total.
        let first = s
            .get("Patient?_sort=family&_count=2&_total=accurate")
            .json();
        assert_eq!(first["total"], 3, "{e}");
        assert_eq!(ids(&first, "match"), ["Patient/p1", "Patient/p2"]);
        let next = first["link"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["relation"] == "next")
            .expect("a next link")["url"]
            .as_str()
            .unwrap()
            .to_string();
        let second = common::send(&next, "GET", &[], None).json();
        assert_eq!(ids(&second, "match"), ["Patient/p3"], "{e}: {next}");
        // The total is the count whether the page ends the matches (counted by the page),
        // stops short of the end, or starts past it.
        for query in [
            "Patient?_count=2",
            "Patient?_count=3",
            "Patient?_count=50",
            "Patient?_count=2&_offset=2",
            "Patient?_count=2&_offset=3",
            "Patient?_count=2&_offset=7",
            // Past what a PostgreSQL array subscript holds.
            "Patient?_count=2&_offset=4000000000",
        ] {
            assert_eq!(s.get(query).json()["total"], 3, "{e}: {query}");
        }
        for past in [
            "Patient?_count=2&_offset=7",
            "Patient?_count=2&_offset=4000000000",
        ] {
            assert_eq!(s.get(past).json().get("entry"), None, "{e}: {past}");
        }
        assert!(!second["link"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["relation"] == "next"));
        let none = s.get("Patient?_count=1&_total=none").json();
        assert!(none.get("total").is_none(), "{e}");
        assert!(none["link"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["relation"] == "next"));
        let count = s.get("Observation?status=final&_summary=count").json();
        assert_eq!(count["total"], 2, "{e}");
        assert!(count.get("entry").is_none());
        // Compartments.
        assert_eq!(
            found(&s, "Patient/p1/Observation"),
            set(&["Observation/obs1", "Observation/obs2"]),
            "{e}"
        );
        assert_eq!(
            found(&s, "Patient/p1/Observation?code=8480-6"),
            set(&["Observation/obs2"])
        );
        let everything = found(&s, "Patient/p1/*");
        for expected in ["Observation/obs1", "Observation/obs2", "Encounter/e1"] {
            assert!(everything.contains(expected), "{e}: {everything:?}");
        }
        assert!(!everything.contains("Observation/obs3"));
        // Several types.
        assert_eq!(
            found(&s, "?_type=Patient,Organization&_id=p1,o2"),
            set(&["Patient/p1", "Organization/o2"]),
            "{e}"
        );
    }
}

#[test]
fn what_the_store_does_not_evaluate_is_refused() {
    for s in servers("search_refused") {
        load(&s);
        let e = s.engine;
        for (path, named) in [
            (
                "Patient?gender:in=http://hl7.org/fhir/ValueSet/administrative-gender",
                "terminology",
            ),
            (
                "Observation?code:below=http://loinc.org|8867-4",
                "terminology",
            ),
            ("Patient?_text=chalmers", "_text"),
            ("Patient?_content=chalmers", "_content"),
            ("Patient?_filter=name%20eq%20x", "_filter"),
            ("Patient?no-such-param=1", "no-such-param"),
            ("Patient?family:fuzzy=x", "fuzzy"),
            ("Patient?_sort=no-such-param", "no-such-param"),
            ("Patient?_contained=true", "_contained"),
            ("Patient?_include=Patient:no-such-param", "no-such-param"),
            ("Observation?subject.no-such-param=1", "no-such-param"),
            ("Patient?_has:Observation:no-such:code=1", "no-such"),
            ("Patient?birthdate=not-a-date", "birthdate"),
        ] {
            let diagnostics = s.refused(path);
            assert!(diagnostics.contains(named), "{e} {path}: {diagnostics}");
        }
    }
}
