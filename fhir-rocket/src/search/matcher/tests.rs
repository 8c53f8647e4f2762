//! The matcher on small sets of resources: every type, modifier and prefix, chains, `_has`,
//! composites, `_sort`, and the errors for what it does not evaluate.

use super::{Matcher, Sorter, Sources};
use crate::search::parse_query;
use fhir_model::r4::Resource;
use fhir_model::FhirResource;
use std::sync::Arc;

fn store() -> Vec<Arc<Resource>> {
    [
        r#"{"resourceType":"Patient","id":"p1","gender":"female","birthDate":"1970-03-04","active":true,
            "name":[{"family":"Chalmers","given":["Peter","James"]}],
            "identifier":[{"system":"urn:mrn","value":"12345","type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MR"}],"text":"Medical record"}}],
            "managingOrganization":{"reference":"Organization/o1"}}"#,
        r#"{"resourceType":"Patient","id":"p2","gender":"male","birthDate":"1985",
            "name":[{"family":"Chalmerson","given":["Zoë"]}],"telecom":[{"system":"phone","value":"555-1234"}]}"#,
        r#"{"resourceType":"Patient","id":"p3","name":[{"family":"Windsor"}],
            "link":[{"other":{"reference":"Patient/p1"},"type":"seealso"}]}"#,
        r#"{"resourceType":"Organization","id":"o1","name":"Acme Health"}"#,
        r#"{"resourceType":"Observation","id":"o-bp","status":"final",
            "code":{"coding":[{"system":"http://loinc.org","code":"85354-9","display":"Blood pressure"}],"text":"BP"},
            "subject":{"reference":"Patient/p1"},"effectiveDateTime":"2020-06-15T10:00:00Z",
            "component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":120,"system":"http://unitsofmeasure.org","code":"mm[Hg]"}},
                         {"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":80,"system":"http://unitsofmeasure.org","code":"mm[Hg]"}}]}"#,
        r#"{"resourceType":"Observation","id":"o-wt","status":"final",
            "code":{"coding":[{"system":"http://loinc.org","code":"29463-7"}]},
            "subject":{"reference":"Patient/p2"},"effectivePeriod":{"start":"2021-01-01","end":"2021-01-31"},
            "valueQuantity":{"value":72.5,"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"}}"#,
        r#"{"resourceType":"Observation","id":"o-range","status":"preliminary",
            "code":{"coding":[{"system":"http://loinc.org","code":"x"}]},
            "valueString":"x"}"#,
        r#"{"resourceType":"Condition","id":"c-range","subject":{"reference":"Patient/p1"},
            "onsetRange":{"low":{"value":5,"code":"a"},"high":{"value":10,"code":"a"}}}"#,
        r#"{"resourceType":"Condition","id":"c-age","subject":{"reference":"Patient/p1"},
            "onsetAge":{"value":12,"unit":"years","system":"http://unitsofmeasure.org","code":"a"}}"#,
    ]
    .iter()
    .map(|json| Arc::new(Resource::from_json(json).unwrap()))
    .collect()
}

fn resolve(reference: &str) -> Option<Arc<Resource>> {
    store()
        .into_iter()
        .find(|r| format!("{}/{}", r.resource_type(), r.id().unwrap_or_default()) == reference)
}

fn candidates(ty: &str) -> Vec<Arc<Resource>> {
    store()
        .into_iter()
        .filter(|r| r.resource_type() == ty)
        .collect()
}

/// The ids of the resources of `ty` the query matches.
fn search(ty: &str, query: &str) -> Vec<String> {
    let query = parse_query(query).unwrap();
    let matcher = Matcher::new::<Resource>(ty, &query).unwrap_or_else(|e| panic!("{e}"));
    let sources = Sources {
        resolve: Some(&resolve),
        candidates: Some(&candidates),
    };
    store()
        .iter()
        .filter(|r| r.resource_type() == ty)
        .filter(|r| matcher.matches(&***r, &sources).unwrap())
        .map(|r| r.id().unwrap().to_string())
        .collect()
}

fn refused(ty: &str, query: &str) -> String {
    let query = parse_query(query).unwrap();
    Matcher::new::<Resource>(ty, &query)
        .unwrap_err()
        .to_string()
}

#[test]
fn strings() {
    assert_eq!(search("Patient", "family=chalm"), ["p1", "p2"]);
    assert_eq!(search("Patient", "family:exact=Chalmers"), ["p1"]);
    assert_eq!(
        search("Patient", "family:exact=chalmers"),
        Vec::<String>::new()
    );
    assert_eq!(search("Patient", "name:contains=mers"), ["p1", "p2"]);
    assert_eq!(search("Patient", "given=zoe"), ["p2"]);
    assert_eq!(search("Patient", "family=windsor,chalmerson"), ["p2", "p3"]);
    assert_eq!(search("Patient", "family=chalm&given=peter"), ["p1"]);
}

#[test]
fn tokens() {
    assert_eq!(search("Patient", "gender=female"), ["p1"]);
    assert_eq!(search("Patient", "gender:not=female"), ["p2", "p3"]);
    assert_eq!(search("Patient", "active=true"), ["p1"]);
    assert_eq!(search("Patient", "identifier=urn:mrn|12345"), ["p1"]);
    assert_eq!(
        search("Patient", "identifier=urn:other|12345"),
        Vec::<String>::new()
    );
    assert_eq!(search("Patient", "identifier=|12345"), Vec::<String>::new());
    assert_eq!(search("Patient", "identifier=urn:mrn|"), ["p1"]);
    assert_eq!(
        search(
            "Patient",
            "identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|12345"
        ),
        ["p1"]
    );
    assert_eq!(search("Patient", "identifier:text=medical"), ["p1"]);
    assert_eq!(search("Observation", "code:text=blood"), ["o-bp"]);
    assert_eq!(search("Observation", "code:text=bp"), ["o-bp"]);
    assert_eq!(search("Patient", "phone=555-1234"), ["p2"]);
    assert_eq!(search("Patient", "_id=p1,p3"), ["p1", "p3"]);
    assert!(refused("Patient", "gender:in=http://x/vs").contains("terminology server"));
    assert!(refused("Observation", "code:below=http://loinc.org|x").contains("terminology server"));
}

#[test]
fn missing() {
    assert_eq!(search("Patient", "gender:missing=true"), ["p3"]);
    assert_eq!(search("Patient", "birthdate:missing=false"), ["p1", "p2"]);
    assert_eq!(search("Observation", "subject:missing=true"), ["o-range"]);
}

#[test]
fn dates_and_prefixes() {
    assert_eq!(search("Patient", "birthdate=1970"), ["p1"]);
    assert_eq!(search("Patient", "birthdate=1970-03-04"), ["p1"]);
    assert_eq!(
        search("Patient", "birthdate=1970-03-05"),
        Vec::<String>::new()
    );
    assert_eq!(search("Patient", "birthdate=lt1980"), ["p1"]);
    assert_eq!(search("Patient", "birthdate=ge1985-06-01"), ["p2"]);
    assert_eq!(search("Patient", "birthdate=ne1970"), ["p2"]);
    // A year's range is not inside a day: not eq, but it overlaps.
    assert_eq!(
        search("Patient", "birthdate=1985-06-01"),
        Vec::<String>::new()
    );
    assert_eq!(search("Patient", "birthdate=sa1971"), ["p2"]);
    assert_eq!(search("Patient", "birthdate=eb1971"), ["p1"]);
    assert_eq!(search("Observation", "date=2021-01"), ["o-wt"]);
    assert_eq!(search("Observation", "date=gt2021-01-15"), ["o-wt"]);
    assert_eq!(search("Observation", "date=2020-06-15"), ["o-bp"]);
    assert_eq!(search("Observation", "date=ge2020&date=lt2021"), ["o-bp"]);
}

#[test]
fn quantities_and_numbers() {
    assert_eq!(search("Observation", "value-quantity=72.5"), ["o-wt"]);
    assert_eq!(
        search("Observation", "value-quantity=72"),
        Vec::<String>::new()
    );
    assert_eq!(search("Observation", "value-quantity=7e1"), ["o-wt"]);
    assert_eq!(
        search(
            "Observation",
            "value-quantity=gt70|http://unitsofmeasure.org|kg"
        ),
        ["o-wt"]
    );
    assert_eq!(search("Observation", "value-quantity=gt70||kg"), ["o-wt"]);
    assert_eq!(
        search("Observation", "value-quantity=gt70||g"),
        Vec::<String>::new()
    );
    assert_eq!(search("Observation", "value-quantity=ap75"), ["o-wt"]);
    // A Range (5 to 10 years) reaches above 8 and below 6, and does not lie within 7.
    assert_eq!(search("Condition", "onset-age=gt8"), ["c-range", "c-age"]);
    assert_eq!(search("Condition", "onset-age=lt6||a"), ["c-range"]);
    assert_eq!(search("Condition", "onset-age=sa4"), ["c-range", "c-age"]);
    assert_eq!(search("Condition", "onset-age=7"), Vec::<String>::new());
    assert_eq!(
        search("Condition", "onset-age=12|http://unitsofmeasure.org|a"),
        ["c-age"]
    );
}

#[test]
fn references_chains_and_has() {
    assert_eq!(search("Observation", "subject=Patient/p1"), ["o-bp"]);
    assert_eq!(search("Observation", "subject=p2"), ["o-wt"]);
    assert_eq!(search("Observation", "subject:Patient=p2"), ["o-wt"]);
    assert_eq!(search("Observation", "patient=Patient/p1"), ["o-bp"]);
    assert_eq!(
        search("Observation", "subject=Group/p1"),
        Vec::<String>::new()
    );
    assert_eq!(search("Patient", "link=Patient/p1"), ["p3"]);
    assert_eq!(search("Observation", "subject.name=chalmerson"), ["o-wt"]);
    assert_eq!(
        search("Observation", "subject:Patient.gender=female"),
        ["o-bp"]
    );
    assert_eq!(
        search("Observation", "subject.organization.name=acme"),
        ["o-bp"]
    );
    assert_eq!(
        search(
            "Patient",
            "_has:Observation:subject:code=http://loinc.org|29463-7"
        ),
        ["p2"]
    );
    assert_eq!(
        search("Patient", "_has:Observation:patient:status=final"),
        ["p1", "p2"]
    );
    assert!(refused("Patient", "_has:Observation:code:status=final").contains("not a reference"));
    // Without a resolver a chain is an error, not an empty answer.
    let query = parse_query("subject.name=x").unwrap();
    let matcher = Matcher::new::<Resource>("Observation", &query).unwrap();
    let first = store()
        .into_iter()
        .find(|r| r.resource_type() == "Observation")
        .unwrap();
    assert!(matcher.matches(&*first, &Sources::none()).is_err());
}

#[test]
fn composites() {
    assert_eq!(
        search(
            "Observation",
            "component-code-value-quantity=http://loinc.org|8480-6$gt100"
        ),
        ["o-bp"]
    );
    // Both parts must hold in the same component.
    assert_eq!(
        search(
            "Observation",
            "component-code-value-quantity=http://loinc.org|8462-4$gt100"
        ),
        Vec::<String>::new()
    );
    assert_eq!(
        search("Observation", "code-value-quantity=29463-7$72.5"),
        ["o-wt"]
    );
    assert!(refused("Observation", "code-value-quantity=a$b$c").contains("components"));
}

#[test]
fn refusals_name_what_is_not_evaluated() {
    assert!(refused("Patient", "_text=x").contains("cannot be evaluated"));
    assert!(refused("Patient", "_content=x").contains("cannot be evaluated"));
    assert!(refused("Patient", "nonsense=x").contains("not a search parameter"));
    assert!(refused("Patient", "family:below=x").contains("not supported"));
}

#[test]
fn sort_orders_with_missing_last() {
    let sort = |ty: &str, keys: &str| -> Vec<String> {
        let keys = parse_query(keys)
            .unwrap()
            .take_result_params()
            .unwrap()
            .sort;
        let sorter = Sorter::new::<Resource>(ty, &keys).unwrap();
        let mut found: Vec<Arc<Resource>> = store()
            .into_iter()
            .filter(|r| r.resource_type() == ty)
            .collect();
        sorter.sort(&mut found, |r| &**r).unwrap();
        found.iter().map(|r| r.id().unwrap().to_string()).collect()
    };
    assert_eq!(sort("Patient", "_sort=birthdate"), ["p1", "p2", "p3"]);
    assert_eq!(sort("Patient", "_sort=-birthdate"), ["p2", "p1", "p3"]);
    assert_eq!(sort("Patient", "_sort=family"), ["p1", "p2", "p3"]);
    assert_eq!(sort("Patient", "_sort=-family"), ["p3", "p2", "p1"]);
    assert_eq!(sort("Patient", "_sort=gender,-_id"), ["p1", "p2", "p3"]);
    assert_eq!(
        sort("Observation", "_sort=-date"),
        ["o-wt", "o-bp", "o-range"]
    );
    let keys = parse_query("_sort=nonsense")
        .unwrap()
        .take_result_params()
        .unwrap()
        .sort;
    assert!(Sorter::new::<Resource>("Patient", &keys).is_err());
}
