//! Unit tests of the evaluator and the extraction on small resources.

use super::extract::{search_values, IndexValue};
use super::{Expression, Item};
use crate::r4::{Observation, Patient, Resource};
use crate::{FhirVersion, ResourceType};

fn resource(json: &str) -> Resource {
    Resource::from_json(json).unwrap()
}

fn strings(expr: &str, r: &Resource) -> Vec<String> {
    let e = Expression::parse(expr, FhirVersion::R4).unwrap();
    e.evaluate(r.as_node())
        .unwrap()
        .iter()
        .map(|i| match i {
            Item::Bool(b) => b.to_string(),
            Item::Reference(t) => format!("ref:{t}"),
            other => match other.primitive() {
                Some(p) => p
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("{p:?}")),
                None => other.type_name().to_string(),
            },
        })
        .collect()
}

const OBS: &str = r##"{"resourceType":"Observation","id":"o1","status":"final",
  "contained":[{"resourceType":"Patient","id":"p1"}],
  "code":{"coding":[{"system":"http://loinc.org","code":"1234-5","display":"Thing"}],"text":"A thing"},
  "subject":{"reference":"#p1"},
  "performer":[{"reference":"Practitioner/9"},{"reference":"http://x.org/fhir/Organization/3/_history/2"}],
  "effectivePeriod":{"start":"2020-01-01","end":"2020-01-02T10:00:00Z"},
  "valueQuantity":{"value":1.50,"unit":"mg","system":"http://unitsofmeasure.org","code":"mg"},
  "component":[{"code":{"coding":[{"code":"a"}]},"valueString":"x"},{"code":{"coding":[{"code":"b"}]},"valueQuantity":{"value":3}}]}"##;

#[test]
fn paths_choices_and_types() {
    let r = resource(OBS);
    assert_eq!(strings("Observation.status", &r), ["final"]);
    assert_eq!(strings("Patient.id", &r), Vec::<String>::new());
    assert_eq!(strings("Resource.id", &r), ["o1"]);
    assert_eq!(strings("Observation.value.unit", &r), ["mg"]);
    assert_eq!(strings("Observation.value.value", &r), ["1.50"]);
    assert_eq!(
        strings("Observation.component.value.ofType(string)", &r),
        ["x"]
    );
    assert_eq!(
        strings("(Observation.component.value as Quantity).value", &r),
        ["3"]
    );
    assert_eq!(strings("Observation.value is Quantity", &r), ["true"]);
    assert_eq!(
        strings("Observation.component[1].code.coding.code", &r),
        ["b"]
    );
    assert_eq!(
        strings("Observation.component.code.coding.code.first()", &r),
        ["a"]
    );
    assert_eq!(
        strings(
            "Observation.code.coding.where(system = 'http://loinc.org').code",
            &r
        ),
        ["1234-5"]
    );
    assert_eq!(
        strings(
            "Observation.component.exists() and Observation.status != 'x'",
            &r
        ),
        ["true"]
    );
    assert_eq!(
        strings(
            "Observation.code.coding.code | Observation.code.coding.code",
            &r
        ),
        ["1234-5"]
    );
}

#[test]
fn resolve_gives_contained_resources_and_reference_types() {
    let r = resource(OBS);
    assert_eq!(strings("Observation.subject.resolve().id", &r), ["p1"]);
    assert_eq!(
        strings("Observation.subject.where(resolve() is Patient)", &r),
        ["Reference"]
    );
    assert_eq!(
        strings("Observation.performer.resolve()", &r),
        ["ref:Practitioner", "ref:Organization"]
    );
    assert_eq!(
        strings(
            "Observation.performer.where(resolve() is Organization).reference",
            &r
        ),
        ["http://x.org/fhir/Organization/3/_history/2"]
    );
}

#[test]
fn unsupported_functions_are_parse_errors() {
    let e = Expression::parse("Patient.name.aggregate($this)", FhirVersion::R4).unwrap_err();
    assert!(e.message.contains("aggregate"), "{e}");
}

#[test]
fn extraction_by_kind() {
    let r = resource(OBS);
    let values = |code: &str| {
        let p = Observation::search_parameter(code).unwrap();
        search_values(p, r.as_node(), FhirVersion::R4).unwrap()
    };
    let code = values("code");
    assert!(
        matches!(&code[0], IndexValue::Token(t) if t.system == Some("http://loinc.org") && t.code.as_deref() == Some("1234-5") && t.text == Some("Thing"))
    );
    assert!(
        matches!(&code[1], IndexValue::Token(t) if t.code.is_none() && t.text == Some("A thing"))
    );
    let date = values("date");
    let IndexValue::Date(d) = date[0] else {
        panic!("{date:?}")
    };
    assert_eq!(d.low, super::extract::date_range("2020-01-01").map(|r| r.0));
    assert_eq!(
        d.high,
        super::extract::date_range("2020-01-02T10:00:00Z").map(|r| r.1)
    );
    let q = values("value-quantity");
    assert!(matches!(&q[0], IndexValue::Quantity(q) if q.low == Some(1.5) && q.code == Some("mg")));
    let performer = values("performer");
    let refs: Vec<_> = performer
        .iter()
        .map(|v| match v {
            IndexValue::Reference(r) => (r.resource_type, r.id),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        refs,
        [
            (Some("Practitioner"), Some("9")),
            (Some("Organization"), Some("3"))
        ]
    );
    // Of the two components, only the one with a quantity is a value: a composite value
    // needs one in every component.
    let composite = values("component-code-value-quantity");
    assert_eq!(composite.len(), 1, "{composite:?}");
    let IndexValue::Composite(parts) = &composite[0] else {
        panic!()
    };
    assert!(matches!(&parts[0][0], IndexValue::Token(t) if t.code.as_deref() == Some("b")));
    assert!(matches!(&parts[1][0], IndexValue::Quantity(q) if q.low == Some(3.0)));
    assert_eq!(values("code-value-quantity").len(), 1);
    // No valueDateTime: no code-value-date, though the code is there.
    assert!(values("code-value-date").is_empty());
}

#[test]
fn strings_of_names_are_normalized() {
    let r = resource(
        r#"{"resourceType":"Patient","name":[{"family":"Ångström","given":["Zoë","Ann"]}],"deceasedBoolean":false}"#,
    );
    let p = Patient::search_parameter("name").unwrap();
    let names: Vec<_> = search_values(p, r.as_node(), FhirVersion::R4)
        .unwrap()
        .into_iter()
        .map(|v| match v {
            IndexValue::String(s) => s.normalized,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(names, ["angstrom", "zoe", "ann"]);
    let deceased = Patient::search_parameter("deceased").unwrap();
    let values = search_values(deceased, r.as_node(), FhirVersion::R4).unwrap();
    assert!(matches!(&values[..], [IndexValue::Token(t)] if t.code.as_deref() == Some("false")));
}

#[test]
fn arithmetic_and_string_addition() {
    let r = resource(OBS);
    assert_eq!(strings("1 + 2 * 3 = 7", &r), ["true"]);
    assert_eq!(strings("(1 + 2) * 3 - 1 = 8", &r), ["true"]);
    assert_eq!(strings("7 div 2 = 3", &r), ["true"]);
    assert_eq!(strings("7 mod 2 = 1", &r), ["true"]);
    assert_eq!(strings("(1 / 0).empty()", &r), ["true"]);
    assert_eq!(strings("7 / 2 = 3.5", &r), ["true"]);
    assert_eq!(strings("Observation.value.value + 1 = 2.5", &r), ["true"]);
    assert_eq!(strings("'#' + Observation.id", &r), ["#o1"]);
    assert_eq!(strings("('#' + {}).empty()", &r), ["true"]);
    assert_eq!(
        strings(
            "(Observation.component.count() + Observation.performer.count()) > 3",
            &r
        ),
        ["true"]
    );
    assert_eq!(strings("\"a\" = 'a'", &r), ["true"]);
    // Dates and durations are not added: an error, never a wrong value.
    let e = Expression::parse("Observation.effective.start + 1", FhirVersion::R4).unwrap();
    assert!(e.evaluate(r.as_node()).is_err());
}

#[test]
fn set_functions_compare_complex_values_by_members() {
    let r = resource(
        r#"{"resourceType":"Observation","status":"final",
        "code":{"coding":[{"system":"http://loinc.org","code":"1"},{"system":"http://loinc.org","code":"2"}]},
        "component":[{"code":{"coding":[{"system":"http://loinc.org","code":"2"}]}},
                     {"code":{"coding":[{"system":"http://loinc.org","code":"3"}]}}]}"#,
    );
    assert_eq!(
        strings(
            "Observation.component.code.coding.intersect(%resource.code.coding).code",
            &r
        ),
        ["2"]
    );
    assert_eq!(
        strings(
            "Observation.component.code.coding.exclude(%resource.code.coding).code",
            &r
        ),
        ["3"]
    );
    assert_eq!(
        strings(
            "Observation.code.coding.union(Observation.component.code.coding).count() = 3",
            &r
        ),
        ["true"]
    );
    assert_eq!(
        strings(
            "Observation.component.code.coding.code.union(Observation.code.coding.code)",
            &r
        ),
        ["2", "3", "1"]
    );
    assert_eq!(strings("(true | false).allTrue()", &r), ["false"]);
    assert_eq!(strings("(false).allFalse()", &r), ["true"]);
    assert_eq!(strings("{}.allTrue()", &r), ["true"]);
    assert_eq!(strings("(true | false).anyFalse()", &r), ["true"]);
    assert_eq!(
        strings("Observation.status.replaceMatches('[aeiou]', '_')", &r),
        ["f_n_l"]
    );
    assert_eq!(strings("'a.b.c'.replace('.', '/')", &r), ["a/b/c"]);
    assert_eq!(
        strings("'Patient.name'.replaceMatches('\\\\..*', '') & '.'", &r),
        ["Patient."]
    );
}

#[test]
fn repeat_walks_nested_items() {
    let r = Resource::from_json(
        r#"{"resourceType":"Questionnaire","status":"draft","item":[
        {"linkId":"1","type":"group","item":[{"linkId":"1.1","type":"string"},{"linkId":"1.2","type":"group","item":[{"linkId":"1.2.1","type":"string"}]}]},
        {"linkId":"2","type":"string"}]}"#,
    )
    .unwrap();
    assert_eq!(
        strings("Questionnaire.repeat(item).linkId", &r),
        ["1", "2", "1.1", "1.2", "1.2.1"]
    );
}

#[test]
fn boundaries_of_decimals_dates_and_quantities() {
    let r = resource(OBS);
    assert_eq!(
        strings("Observation.value.value.lowBoundary() = 1.495", &r),
        ["true"]
    );
    assert_eq!(
        strings("Observation.value.value.highBoundary() = 1.505", &r),
        ["true"]
    );
    assert_eq!(
        strings(
            "Observation.effective.start.highBoundary() < Observation.effective.end.lowBoundary()",
            &r
        ),
        ["true"]
    );
    assert_eq!(
        strings("Observation.effective.start.lowBoundary() = Observation.effective.start.highBoundary()", &r),
        ["false"]
    );
    assert_eq!(
        strings("Observation.value.lowBoundary() < Observation.value", &r),
        ["true"]
    );
    assert_eq!(
        strings(
            "Observation.value.comparable(Observation.value.highBoundary())",
            &r
        ),
        ["true"]
    );
    assert_eq!(
        strings(
            "Observation.value.comparable(Observation.component[1].value)",
            &r
        ),
        ["false"]
    );
}
