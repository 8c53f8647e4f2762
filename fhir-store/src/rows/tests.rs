//! The rows of small resources, value by value.

use super::*;
use fhir_model::r4::Resource;

fn index(json: &str) -> (IndexRows, Catalog) {
    let catalog = Catalog::of::<Resource>();
    let resource = Resource::from_json(json).unwrap();
    let rows = index_rows(&resource, &catalog, Some("http://example.org/fhir")).unwrap();
    (rows, catalog)
}

/// A row's composite group and part.
type Composite = Option<(i32, i16)>;

fn sp(catalog: &Catalog, t: &str, code: &str) -> i32 {
    catalog.param(t, code).unwrap().sp_id
}

#[test]
fn strings_are_normalized_cut_and_hashed() {
    let long = "A".repeat(300);
    let (rows, catalog) = index(&format!(
        r#"{{"resourceType":"Patient","name":[{{"family":"Chalmérs","given":["{long}"]}}]}}"#
    ));
    let family = sp(&catalog, "Patient", "family");
    let f: Vec<&StringRow> = rows
        .strings
        .iter()
        .filter(|s| s.key.sp_id == family)
        .collect();
    assert_eq!(f.len(), 1);
    assert_eq!(
        (f[0].normalized.as_str(), f[0].exact.as_str()),
        ("chalmers", "Chalmérs")
    );
    assert_eq!(
        f[0].hash_exact,
        stable_hash(&[&family.to_be_bytes(), "Chalmérs".as_bytes()])
    );
    let given = sp(&catalog, "Patient", "given");
    let g = rows.strings.iter().find(|s| s.key.sp_id == given).unwrap();
    assert_eq!(g.normalized.chars().count(), MAX_NORMALIZED);
    assert_eq!(g.exact.len(), 300);
}

#[test]
fn tokens_carry_both_hashes_and_identifier_types() {
    let (rows, catalog) = index(
        r#"{"resourceType":"Patient","gender":"female","identifier":[{"type":{"coding":[
        {"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MR"}]},
        "system":"urn:oid:1.2.3","value":"12345"}]}"#,
    );
    let gender = sp(&catalog, "Patient", "gender");
    let g = rows.tokens.iter().find(|t| t.key.sp_id == gender).unwrap();
    assert_eq!(g.code.as_deref(), Some("female"));
    let identifier = sp(&catalog, "Patient", "identifier");
    let ids: Vec<&TokenRow> = rows
        .tokens
        .iter()
        .filter(|t| t.key.sp_id == identifier)
        .collect();
    assert_eq!(ids.len(), 2, "{ids:#?}");
    assert_eq!((ids[0].kind, ids[0].code.as_deref()), (0, Some("12345")));
    assert_eq!((ids[1].kind, ids[1].code.as_deref()), (1, Some("MR|12345")));
    let sp_bytes = identifier.to_be_bytes();
    assert_eq!(
        ids[0].hash_sys_code,
        stable_hash(&[&sp_bytes, &0i16.to_be_bytes(), b"urn:oid:1.2.3", b"12345"])
    );
    assert_eq!(
        ids[0].hash_code,
        stable_hash(&[&sp_bytes, &0i16.to_be_bytes(), b"12345"])
    );
}

#[test]
fn dates_become_microsecond_ranges() {
    let (rows, catalog) = index(
        r#"{"resourceType":"Patient","birthDate":"1650-02","deceasedDateTime":"2020-01-01T10:00:00.1234567Z"}"#,
    );
    let birthdate = sp(&catalog, "Patient", "birthdate");
    let b = rows
        .dates
        .iter()
        .find(|d| d.key.sp_id == birthdate)
        .unwrap();
    // February 1650: before 1677, which 64-bit nanoseconds could not hold.
    assert_eq!(b.high - b.low, 28 * 86_400_000_000);
    let death = sp(&catalog, "Patient", "death-date");
    let d = rows.dates.iter().find(|d| d.key.sp_id == death).unwrap();
    // The 100 ns precision is widened to whole microseconds, never narrowed.
    assert_eq!((d.low % 1_000_000, d.high % 1_000_000), (123_456, 123_457));
    // An open period: the unbounded end is the extreme value.
    let (rows, catalog) = index(
        r#"{"resourceType":"Encounter","status":"finished","class":{"code":"AMB"},"period":{"start":"2020"}}"#,
    );
    let date = sp(&catalog, "Encounter", "date");
    let e = rows.dates.iter().find(|d| d.key.sp_id == date).unwrap();
    assert_eq!(e.high, i64::MAX);
}

#[test]
fn numbers_and_quantities_keep_their_precision() {
    let (rows, catalog) = index(
        r#"{"resourceType":"Observation","status":"final","code":{"text":"x"},
        "valueQuantity":{"value":1.50,"unit":"mg","system":"http://unitsofmeasure.org","code":"mg"}}"#,
    );
    let value = sp(&catalog, "Observation", "value-quantity");
    let q = rows
        .quantities
        .iter()
        .find(|q| q.key.sp_id == value)
        .unwrap();
    assert_eq!(
        (q.low, q.high, q.code.as_deref()),
        (Some(1.5), Some(1.5), Some("mg"))
    );
    assert_eq!(half_unit("1.50"), 0.005);
    assert_eq!(half_unit("100"), 0.5);
    assert_eq!(half_unit("1.5e2"), 5.0);
    let (rows, catalog) = index(
        r#"{"resourceType":"RiskAssessment","status":"final","subject":{"reference":"Patient/1"},
        "prediction":[{"probabilityDecimal":0.25}]}"#,
    );
    let probability = sp(&catalog, "RiskAssessment", "probability");
    let n = rows
        .numbers
        .iter()
        .find(|n| n.key.sp_id == probability)
        .unwrap();
    assert_eq!((n.low, n.value, n.high), (0.245, 0.25, 0.255));
}

#[test]
fn references_to_this_server_are_type_and_id() {
    let (rows, catalog) = index(
        r#"{"resourceType":"Observation","status":"final","code":{"text":"x"},
        "subject":{"reference":"http://example.org/fhir/Patient/7/_history/2"},
        "performer":[{"reference":"Practitioner/p1"},{"reference":"http://other.org/fhir/Organization/9"},
                     {"identifier":{"system":"urn:x","value":"42"}}]}"#,
    );
    let patient = catalog.resource_type("Patient").unwrap().res_type;
    let subject = sp(&catalog, "Observation", "subject");
    let s = rows
        .references
        .iter()
        .find(|r| r.key.sp_id == subject)
        .unwrap();
    assert_eq!(
        (
            s.target_type,
            s.target_id.as_deref(),
            s.target_version,
            s.target_url.as_deref()
        ),
        (Some(patient), Some("7"), Some(2), None)
    );
    let performer = sp(&catalog, "Observation", "performer");
    let p: Vec<&ReferenceRow> = rows
        .references
        .iter()
        .filter(|r| r.key.sp_id == performer)
        .collect();
    assert_eq!(p.len(), 2, "{p:#?}");
    assert_eq!(p[0].target_id.as_deref(), Some("p1"));
    assert_eq!(
        p[1].target_url.as_deref(),
        Some("http://other.org/fhir/Organization/9")
    );
    // The identifier of a reference is a token under the reference's parameter (:identifier).
    let t = rows
        .tokens
        .iter()
        .find(|t| t.key.sp_id == performer)
        .unwrap();
    assert_eq!(t.code.as_deref(), Some("42"));
}

#[test]
fn composite_components_share_a_group() {
    let (rows, catalog) = index(
        r#"{"resourceType":"Observation","status":"final","code":{"text":"bp"},
        "component":[
          {"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":120,"code":"mm[Hg]"}},
          {"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":80,"code":"mm[Hg]"}}]}"#,
    );
    let composite = sp(&catalog, "Observation", "component-code-value-quantity");
    let codes: Vec<(Composite, &str)> = rows
        .tokens
        .iter()
        .filter(|t| t.key.sp_id == composite)
        .map(|t| (t.key.composite, t.code.as_deref().unwrap()))
        .collect();
    assert_eq!(codes, [(Some((0, 0)), "8480-6"), (Some((1, 0)), "8462-4")]);
    let values: Vec<(Composite, Option<f64>)> = rows
        .quantities
        .iter()
        .filter(|q| q.key.sp_id == composite)
        .map(|q| (q.key.composite, q.low))
        .collect();
    assert_eq!(
        values,
        [(Some((0, 1)), Some(120.0)), (Some((1, 1)), Some(80.0))]
    );
}
