//! One case per rule, with its message and path.

use super::*;
use crate::r4;

fn validator() -> Validator {
    Validator::of::<r4::Resource>()
}

/// (severity, code, rule, path, message) of every issue of R4 JSON text.
fn issues(text: &str) -> Vec<(Severity, &'static str, &'static str, String, String)> {
    validator()
        .json(text)
        .issues
        .into_iter()
        .map(|i| (i.severity, i.code, i.rule, i.path, i.message))
        .collect()
}

/// The errors of R4 JSON text, as (rule, path, message).
fn errors(text: &str) -> Vec<(&'static str, String, String)> {
    issues(text)
        .into_iter()
        .filter(|i| i.0 <= Severity::Error)
        .map(|(_, _, rule, path, message)| (rule, path, message))
        .collect()
}

fn one(text: &str) -> (&'static str, String, String) {
    let mut found = errors(text);
    assert_eq!(found.len(), 1, "{found:#?}");
    found.remove(0)
}

const NARRATIVE: &str =
    r#""text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"}"#;

fn patient(members: &str) -> String {
    format!(r#"{{"resourceType":"Patient",{NARRATIVE}{members}}}"#)
}

#[test]
fn a_valid_resource_has_no_issue() {
    let text = patient(
        r#","id":"p-1.x","name":[{"family":"Chalmers","given":["Peter","James"]}],"birthDate":"2000-02-29","gender":"male""#,
    );
    assert_eq!(issues(&text), []);
}

#[test]
fn ids_follow_the_id_regex() {
    assert_eq!(
        one(&patient(r#","id":"""#)),
        (
            "format",
            "Patient.id".into(),
            "an id must not be empty: leave the element out".into()
        )
    );
    assert_eq!(
        one(&patient(r#","id":"has space""#)),
        (
            "format",
            "Patient.id".into(),
            "'has space' is not a valid id".into()
        )
    );
    let long = "a".repeat(65);
    assert_eq!(one(&patient(&format!(r#","id":"{long}""#))).0, "format");
}

#[test]
fn dates_are_real_calendar_dates() {
    assert_eq!(
        one(&patient(r#","birthDate":"1970-02-30""#)),
        (
            "date",
            "Patient.birthDate".into(),
            "'1970-02-30' is not a valid date: February 1970 has 28 days".into()
        )
    );
    assert_eq!(
        one(&patient(r#","birthDate":"1970-2-3""#)),
        (
            "format",
            "Patient.birthDate".into(),
            "'1970-2-3' is not a valid date".into()
        )
    );
    let obs = |v: &str| {
        format!(
            r#"{{"resourceType":"Observation",{NARRATIVE},"status":"final","code":{{"text":"x"}},"effectiveDateTime":"{v}"}}"#
        )
    };
    assert_eq!(errors(&obs("2023-04-30T23:59:59+14:00")), []);
    assert_eq!(
        one(&obs("2023-04-31T10:00:00Z")),
        (
            "date",
            "Observation.effective.ofType(dateTime)".into(),
            "'2023-04-31T10:00:00Z' is not a valid dateTime: April 2023 has 30 days".into()
        )
    );
    assert_eq!(
        one(&obs("2023-04-30T10:00:00")).2,
        "'2023-04-30T10:00:00' is not a valid dateTime"
    );
    assert_eq!(
        one(&obs("2023-04-30T24:00:00Z")).2,
        "'2023-04-30T24:00:00Z' is not a valid dateTime"
    );
}

#[test]
fn required_elements_are_present() {
    let text = format!(r#"{{"resourceType":"Observation",{NARRATIVE},"status":"final"}}"#);
    assert_eq!(
        one(&text),
        (
            "min",
            "Observation.code".into(),
            "Observation.code is required (min 1), but is missing".into()
        )
    );
    assert_eq!(issues(&text)[0].1, "required");
    // Inside an element that is present: a contact's relationship is optional, but
    // Patient.link.other is required in each link.
    let text = patient(r#","link":[{"type":"seealso"}]"#);
    assert_eq!(
        one(&text),
        (
            "min",
            "Patient.link[0].other".into(),
            "Patient.link[0].other is required (min 1), but is missing".into()
        )
    );
    // An extension in place of the value counts (data absent).
    let text = format!(
        r#"{{"resourceType":"Observation",{NARRATIVE},"status":"final","code":{{"text":"x"}},"component":[{{"code":{{"text":"y"}},"_valueString":{{"extension":[{{"url":"http://hl7.org/fhir/StructureDefinition/data-absent-reason","valueCode":"unknown"}}]}}}}]}}"#
    );
    assert_eq!(errors(&text), []);
}

#[test]
fn single_elements_take_one_value() {
    let (rule, path, message) = one(&patient(r#","gender":["male","female"]"#));
    assert_eq!((rule, path.as_str()), ("max", "Patient.gender"));
    assert_eq!(
        message,
        "Patient.gender allows at most 1 value, but has an array of 2"
    );
    let (rule, _, message) = one(&patient(
        r#","deceasedBoolean":true,"deceasedDateTime":"2020""#,
    ));
    assert_eq!(rule, "max");
    assert_eq!(
        message,
        "deceased[x] takes one type, but has both 'deceasedBoolean' and 'deceasedDateTime'"
    );
}

#[test]
fn the_json_shape_is_checked() {
    assert_eq!(
        one(&patient(r#","active":"yes""#)),
        (
            "type",
            "Patient.active".into(),
            "expected a boolean, found a string".into()
        )
    );
    assert_eq!(
        one(&patient(r#","name":{"family":"x"}"#)),
        (
            "type",
            "Patient.name".into(),
            "'name' repeats: expected an array, found an object".into()
        )
    );
    assert_eq!(
        one(&patient(r#","name":[]"#)).2,
        "an array must not be empty: leave the element out"
    );
    assert_eq!(
        one(&patient(r#","nickname":"x""#)),
        (
            "element",
            "Patient.nickname".into(),
            "unknown element 'nickname'".into()
        )
    );
    assert_eq!(
        one(&patient(r#","name":[{"given":["a",null]}]"#)),
        (
            "type",
            "Patient.name[0].given[1]".into(),
            "null is not an item: leave it out".into()
        )
    );
    let aligned = patient(
        r#","name":[{"given":["a",null],"_given":[null,{"extension":[{"url":"http://x","valueString":"b"}]}]}]"#,
    );
    assert_eq!(errors(&aligned), []);
    assert_eq!(
        one(&patient(r#","multipleBirthInteger":0.5"#)).2,
        "'0.5' is not a valid integer"
    );
    assert_eq!(
        one(&patient(r#","multipleBirthInteger":3000000000"#)).2,
        "'3000000000' is not a valid integer: expected a whole number from -2147483648 to 2147483647"
    );
}

#[test]
fn codes_and_required_bindings() {
    assert_eq!(
        one(&patient(r#","gender":"f""#)),
        (
            "code",
            "Patient.gender".into(),
            "'f' is not a code of the required value set http://hl7.org/fhir/ValueSet/administrative-gender".into()
        )
    );
    let condition = |status: &str| {
        format!(
            r#"{{"resourceType":"Condition",{NARRATIVE},"subject":{{"reference":"Patient/1"}},"clinicalStatus":{status}}}"#
        )
    };
    let system = "http://terminology.hl7.org/CodeSystem/condition-clinical";
    let ok = condition(&format!(
        r#"{{"coding":[{{"system":"{system}","code":"active"}}]}}"#
    ));
    assert_eq!(errors(&ok), []);
    let bad = condition(&format!(
        r#"{{"coding":[{{"system":"{system}","code":"sleeping"}}]}}"#
    ));
    assert_eq!(
        one(&bad),
        (
            "binding",
            "Condition.clinicalStatus".into(),
            format!("the code 'sleeping' of {system} is not in the required value set http://hl7.org/fhir/ValueSet/condition-clinical")
        )
    );
    assert_eq!(issues(&bad)[0].1, "code-invalid");
    assert_eq!(
        one(&condition(r#"{"text":"active"}"#)).2,
        "no coding from the required value set http://hl7.org/fhir/ValueSet/condition-clinical"
    );
}

#[test]
fn narratives_hold_basic_xhtml_only() {
    let with_div = |div: &str| {
        format!(
            r#"{{"resourceType":"Patient","text":{{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">{div}</div>"}}}}"#
        )
    };
    let found = issues(&with_div("<p>Hi</p><script>alert(1)</script>"));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].1, "security");
    assert_eq!(
        (found[0].2, found[0].3.as_str()),
        ("txt-1", "Patient.text.div")
    );
    assert!(found[0]
        .4
        .starts_with("<script> is not allowed in a narrative"));
    assert_eq!(
        one(&with_div(r#"<p onmouseover=\"x()\">Hi</p>"#)).2,
        "the event attribute 'onmouseover' of <p> is not allowed in a narrative"
    );
    assert_eq!(one(&with_div(" ")).0, "txt-2");
    assert_eq!(
        one(r#"{"resourceType":"Patient","text":{"status":"generated","div":"<p>x</p>"}}"#).2,
        "the narrative is not valid XHTML: the narrative must be a div element declaring the XHTML namespace (<div xmlns=\"http://www.w3.org/1999/xhtml\">), found 'p'"
    );
}

#[test]
fn native_invariants() {
    // ele-1: an element with neither a value nor children.
    assert_eq!(
        one(&patient(r#","name":[{}]"#)),
        (
            "ele-1",
            "Patient.name[0]".into(),
            "All FHIR elements must have a @value or children (the element is empty)".into()
        )
    );
    assert_eq!(one(&patient(r#","_birthDate":{"id":"x"}"#)).0, "ele-1");
    // ext-1: an extension has a value or extensions, not both.
    assert_eq!(
        one(&patient(
            r#","extension":[{"url":"http://x","valueString":"a","extension":[{"url":"y","valueString":"b"}]}]"#
        )),
        (
            "ext-1",
            "Patient.extension[0]".into(),
            "Must have either extensions or value[x], not both".into()
        )
    );
    // dom-2, dom-4: a contained resource has no resources of its own and no version.
    let found = errors(&patient(
        r##","contained":[{"resourceType":"Patient","id":"c","meta":{"versionId":"1"},"contained":[{"resourceType":"Basic","code":{"text":"x"}}]}],"link":[{"other":{"reference":"#c"},"type":"seealso"}]"##,
    ));
    let rules: Vec<(&str, &str)> = found.iter().map(|f| (f.0, f.1.as_str())).collect();
    assert_eq!(
        rules,
        [
            ("dom-2", "Patient.contained[0].contained"),
            ("dom-4", "Patient.contained[0].meta")
        ]
    );
    // dom-6 is a warning: a resource should have a narrative.
    let found = issues(r#"{"resourceType":"Patient"}"#);
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].0, found[0].2, found[0].3.as_str()),
        (Severity::Warning, "dom-6", "Patient")
    );
    assert!(validator().json(r#"{"resourceType":"Patient"}"#).is_valid());
}

#[test]
fn nested_resources_are_validated_as_their_type() {
    let bundle = format!(
        r#"{{"resourceType":"Bundle","type":"collection","entry":[{{"resource":{{"resourceType":"Observation",{NARRATIVE},"status":"final"}}}}]}}"#
    );
    assert_eq!(
        one(&bundle),
        (
            "min",
            "Bundle.entry[0].resource.code".into(),
            "Bundle.entry[0].resource.code is required (min 1), but is missing".into()
        )
    );
    assert_eq!(
        one(&patient(r#","contained":[{"resourceType":"Nothing"}]"#)).2,
        "'Nothing' is not a resource type of this FHIR version"
    );
}

#[test]
fn issues_carry_their_line_and_column() {
    let text = "{\n  \"resourceType\": \"Patient\",\n  \"name\": [\n    {\"given\": [\"a\", \"\"]}\n  ]\n}";
    let report = validator().json(text);
    let issue = report.errors().next().unwrap();
    assert_eq!(issue.path, "Patient.name[0].given[1]");
    assert_eq!(issue.location, Some((4, 21)));
    let report = validator().json("{\"resourceType\": \"Patient\",");
    assert_eq!(report.issues[0].severity, Severity::Fatal);
    assert!(report.issues[0].location.is_some());
}

#[test]
fn xml_is_validated_through_its_json_form() {
    let xml = "<Patient xmlns=\"http://hl7.org/fhir\">\n  <id value=\"has space\"/>\n  <text><status value=\"generated\"/><div xmlns=\"http://www.w3.org/1999/xhtml\">x</div></text>\n  <birthDate value=\"1970-02-30\"/>\n</Patient>";
    let report = validator().xml(xml);
    let found: Vec<(&str, Option<(usize, usize)>)> = report
        .issues
        .iter()
        .map(|i| (i.path.as_str(), i.location))
        .collect();
    assert_eq!(
        found,
        [
            ("Patient.id", Some((2, 3))),
            ("Patient.birthDate", Some((4, 3)))
        ]
    );
}

#[test]
fn typed_resources_are_validated_through_their_json() {
    let patient = r4::Patient {
        id: Some("has space".into()),
        ..Default::default()
    };
    let report = validator().resource(&r4::Resource::from(patient));
    assert_eq!(report.errors().next().unwrap().path, "Patient.id");
}

#[test]
fn every_regex_of_the_definitions_compiles() {
    for table in tables() {
        for p in table.primitives {
            if let Some(regex) = p.regex {
                assert!(
                    formats::compiled_regex(regex).is_some(),
                    "{}: {regex}",
                    p.name
                );
            }
        }
    }
}

#[test]
fn every_invariant_is_reachable_from_the_table() {
    for table in tables() {
        let mut reached = vec![false; table.constraints.len()];
        let lists = table
            .types
            .iter()
            .flat_map(|t| {
                std::iter::once(t.invariants).chain(t.elements.iter().map(|e| e.invariants))
            })
            .chain(table.primitives.iter().map(|p| p.invariants));
        for list in lists {
            for &i in list {
                reached[i as usize] = true;
            }
        }
        let missed: Vec<&str> = table
            .constraints
            .iter()
            .zip(&reached)
            .filter(|(_, r)| !**r)
            .map(|(c, _)| c.path)
            .collect();
        assert!(missed.is_empty(), "{missed:?}");
        for key in NATIVE_INVARIANTS {
            assert!(table.constraints.iter().any(|c| c.key == *key), "{key}");
        }
    }
}

fn tables() -> Vec<&'static ValidationTable> {
    #[allow(unused_mut)]
    let mut tables = vec![<r4::Resource as ValidationModel>::validation_table()];
    #[cfg(feature = "r4b")]
    tables.push(<crate::r4b::Resource as ValidationModel>::validation_table());
    #[cfg(feature = "r5")]
    tables.push(<crate::r5::Resource as ValidationModel>::validation_table());
    tables
}
