//! The FHIR JSON rules, one by one, and the errors bad input gets.

use fhir_model::json::{self, ReadOptions};
use fhir_model::r4::{self, codes, Patient, Primitive, Resource};
use fhir_model::{Code, Decimal, FhirResource};

fn roundtrip(text: &str) -> String {
    let resource = Resource::from_json(text).unwrap_or_else(|e| panic!("{e}"));
    resource.to_json()
}

fn error(text: &str) -> String {
    Resource::from_json(text)
        .map(|r| panic!("expected an error, read {r:?}"))
        .unwrap_err()
        .to_string()
}

#[test]
fn resource_type_picks_the_struct_and_is_checked() {
    let r = Resource::from_json(r#"{"resourceType":"Patient","id":"a"}"#).unwrap();
    assert!(matches!(r, Resource::Patient(_)));
    // resourceType need not come first.
    let r = Resource::from_json(r#"{"id":"a","active":true,"resourceType":"Patient"}"#).unwrap();
    assert_eq!(r.id(), Some("a"));
    assert_eq!(
        error(r#"{"id":"a"}"#),
        "$: a resource must have a resourceType member (line 1, column 11)"
    );
    assert_eq!(
        error(r#"{"resourceType":"Patientt"}"#),
        "Patientt: unknown resource type 'Patientt' (line 1, column 1)"
    );
    let e = Patient::from_json(r#"{"resourceType":"Observation"}"#).unwrap_err();
    assert_eq!(e.to_string(), "Patient.resourceType: expected resourceType 'Patient', found 'Observation' (line 1, column 17)");
}

#[test]
fn choice_elements_are_named_by_their_type() {
    let text = r#"{"resourceType":"Observation","status":"final","code":{"text":"t"},"valueQuantity":{"value":1.50,"unit":"kg"}}"#;
    assert_eq!(roundtrip(text), text);
    let obs: r4::Observation = Resource::from_json(text).unwrap().try_into().unwrap();
    match obs.value {
        Some(r4::ObservationValue::Quantity(q)) => {
            assert_eq!(
                q.into_inner().value.unwrap().value.unwrap().as_str(),
                "1.50"
            )
        }
        other => panic!("{other:?}"),
    }
    let text = r#"{"resourceType":"Observation","status":"final","code":{"text":"t"},"valueString":"x","_valueString":{"id":"v1"}}"#;
    assert_eq!(roundtrip(text), text);
    // Only the extension part of a primitive choice.
    let text = r#"{"resourceType":"Observation","status":"final","code":{"text":"t"},"_valueBoolean":{"extension":[{"url":"http://e","valueCode":"unknown"}]}}"#;
    assert_eq!(roundtrip(text), text);
    assert!(
        error(r#"{"resourceType":"Observation","valueString":"x","valueBoolean":true}"#)
            .starts_with(
                "Observation.valueBoolean: a choice element has values of more than one type"
            )
    );
    assert!(error(r#"{"resourceType":"Observation","valueStrin":"x"}"#)
        .contains("unknown element 'valueStrin'"));
}

#[test]
fn primitive_extensions_live_in_underscore_siblings() {
    let text = r#"{"resourceType":"Patient","birthDate":"1970-03","_birthDate":{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/patient-birthTime","valueDateTime":"1970-03-30T14:35:45-05:00"}]}}"#;
    assert_eq!(roundtrip(text), text);
    let p: Patient = Resource::from_json(text).unwrap().try_into().unwrap();
    let birth = p.birth_date.unwrap();
    assert_eq!(birth.value.as_ref().unwrap().as_str(), "1970-03");
    assert_eq!(
        birth.extension()[0].url.as_deref(),
        Some("http://hl7.org/fhir/StructureDefinition/patient-birthTime")
    );

    // Only an extension, no value.
    let text = r#"{"resourceType":"Patient","_gender":{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/data-absent-reason","valueCode":"asked-declined"}]}}"#;
    assert_eq!(roundtrip(text), text);
}

#[test]
fn repeating_primitives_align_with_nulls() {
    let text = r#"{"resourceType":"Patient","name":[{"given":["Peter",null,"James"],"_given":[null,{"extension":[{"url":"http://e","valueString":"x"}]},{"id":"g3"}]}]}"#;
    assert_eq!(roundtrip(text), text);
    let p: Patient = Resource::from_json(text).unwrap().try_into().unwrap();
    let given = &p.name[0].given;
    assert_eq!(given.len(), 3);
    assert_eq!(given[1].value, None);
    assert_eq!(given[2].id(), Some("g3"));
    // `_given` first works the same.
    let swapped =
        r#"{"resourceType":"Patient","name":[{"_given":[null,{"id":"b"}],"given":["a",null]}]}"#;
    assert_eq!(
        roundtrip(swapped),
        r#"{"resourceType":"Patient","name":[{"given":["a",null],"_given":[null,{"id":"b"}]}]}"#
    );
    assert_eq!(
        error(r#"{"resourceType":"Patient","name":[{"given":["a","b"],"_given":[null]}]}"#),
        "Patient.name[0]._given: a primitive array and its '_' array must have the same length (2 and 1) (line 1, column 69)"
    );
}

#[test]
fn decimals_keep_their_exact_text() {
    for value in [
        "1.50",
        "1e3",
        "1E-7",
        "-0.0",
        "100",
        "0.000000000000000000000000000001",
        "123456789012345678901234567890.5",
    ] {
        let text = format!(
            r#"{{"resourceType":"Observation","status":"final","code":{{"text":"t"}},"valueQuantity":{{"value":{value}}}}}"#
        );
        assert_eq!(roundtrip(&text), text);
    }
    assert!(
        error(r#"{"resourceType":"Observation","valueQuantity":{"value":"1.5"}}"#)
            .contains("expected a number, found a string")
    );
    assert!(
        error(r#"{"resourceType":"Observation","valueQuantity":{"value":1.}}"#)
            .contains("no digits after the decimal point")
    );
    assert_eq!(Decimal::from(0.1).as_str(), "0.1");
}

#[test]
fn integers_are_checked_for_range_and_form() {
    let ok = r#"{"resourceType":"Observation","status":"final","code":{"text":"t"},"valueInteger":-2147483648}"#;
    assert_eq!(roundtrip(ok), ok);
    assert!(
        error(r#"{"resourceType":"Observation","valueInteger":2147483648}"#)
            .contains("out of range")
    );
    assert!(
        error(r#"{"resourceType":"Observation","valueInteger":1.0}"#)
            .contains("expected an integer, found 1.0")
    );
    // unsignedInt
    assert!(
        error(r#"{"resourceType":"Patient","multipleBirthInteger":1,"photo":[{"size":-1}]}"#)
            .contains("Patient.photo[0].size: integer -1 is out of range")
    );
}

#[test]
fn r5_integer64_is_a_json_string() {
    let text = r#"{"resourceType":"Observation","status":"final","code":{"text":"t"},"valueInteger":5,"extension":[{"url":"http://e","valueInteger64":"9223372036854775807"}]}"#;
    let r = fhir_model::r5::Resource::from_json(text).unwrap();
    let out = r.to_json();
    assert!(
        out.contains(r#""valueInteger64":"9223372036854775807""#),
        "{out}"
    );
    let e = fhir_model::r5::Resource::from_json(
        r#"{"resourceType":"Patient","extension":[{"url":"u","valueInteger64":12}]}"#,
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("expected a string, found a number"),
        "{e}"
    );
}

#[test]
fn dates_keep_their_precision_and_are_validated() {
    for date in ["2024", "2024-02", "2024-02-29"] {
        let text = format!(r#"{{"resourceType":"Patient","birthDate":"{date}"}}"#);
        assert_eq!(roundtrip(&text), text);
    }
    assert_eq!(
        error(r#"{"resourceType":"Patient","birthDate":"2024-13-01"}"#),
        "Patient.birthDate: '2024-13-01' is not a valid FHIR date (line 1, column 39)"
    );
    assert!(
        error(r#"{"resourceType":"Patient","deceasedDateTime":"2024-01-01T10:00"}"#)
            .contains("not a valid FHIR dateTime")
    );
    let ok = r#"{"resourceType":"Patient","meta":{"lastUpdated":"2015-02-07T13:28:17.239+02:00"}}"#;
    assert_eq!(roundtrip(ok), ok);
}

#[test]
fn required_bindings_are_enums() {
    let p: Patient = Resource::from_json(r#"{"resourceType":"Patient","gender":"female"}"#)
        .unwrap()
        .try_into()
        .unwrap();
    assert_eq!(
        p.gender.unwrap().value,
        Some(codes::AdministrativeGender::Female)
    );
    assert_eq!(
        error(r#"{"resourceType":"Patient","gender":"f"}"#),
        "Patient.gender: 'f' is not a code of the required value set http://hl7.org/fhir/ValueSet/administrative-gender (line 1, column 36)"
    );
    assert_eq!(
        codes::ObservationStatus::from_code("entered-in-error"),
        Some(codes::ObservationStatus::EnteredInError)
    );
    assert_eq!(
        codes::QuantityComparator::from_code("<="),
        Some(codes::QuantityComparator::LessOrEqualTo)
    );
}

#[test]
fn output_has_no_empty_objects_arrays_or_nulls() {
    let mut patient = Patient::default();
    patient.set_id(Some("p".into()));
    patient.name.push(r4::HumanName::default());
    patient.name.push(r4::HumanName {
        family: Some("Doe".into()),
        ..Default::default()
    });
    patient.telecom.push(r4::ContactPoint::default());
    patient.active = Some(Primitive::default());
    patient.meta = Some(r4::Meta::default());
    patient.marital_status = Some(r4::CodeableConcept {
        coding: vec![r4::Coding::default()],
        ..Default::default()
    });
    assert_eq!(
        json::to_string(&Resource::from(patient)),
        r#"{"resourceType":"Patient","id":"p","name":[{"family":"Doe"}]}"#
    );
    let name = r4::HumanName {
        given: vec![Primitive::default(), Primitive::from("a")],
        ..Default::default()
    };
    assert_eq!(name.to_json(), r#"{"given":[null,"a"]}"#);
}

#[test]
fn strict_rejects_and_lenient_skips_unknown_elements() {
    let text = r#"{"resourceType":"Patient","active":true,"nickname":{"deep":[1,{"x":null}]},"name":[{"family":"A","middle":"B"}]}"#;
    let e = Resource::from_json(text).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Patient.nickname: unknown element 'nickname' (line 1, column 52)"
    );
    assert_eq!(e.path(), "Patient.nickname");
    let r = Resource::from_json_with(text, ReadOptions::LENIENT).unwrap();
    assert_eq!(
        r.to_json(),
        r#"{"resourceType":"Patient","active":true,"name":[{"family":"A"}]}"#
    );
}

#[test]
fn errors_name_the_path_line_and_column() {
    let text = "{\n  \"resourceType\": \"Bundle\",\n  \"type\": \"collection\",\n  \"entry\": [\n    {\"resource\": {\"resourceType\": \"Patient\"}},\n    {\"resource\": {\"resourceType\": \"Patient\", \"name\": [{\"given\": [\"a\", 7]}]}}\n  ]\n}";
    let e = Resource::from_json(text).unwrap_err();
    assert_eq!(e.path(), "Bundle.entry[1].resource.name[0].given[1]");
    assert_eq!((e.line(), e.column()), (6, 71));
    assert_eq!(e.message(), "expected a string, found a number");
    // Contained resources report the path from the outer resource.
    let e = Resource::from_json(
        r#"{"resourceType":"Patient","contained":[{"resourceType":"Organization","active":1}]}"#,
    )
    .unwrap_err();
    assert_eq!(e.path(), "Patient.contained[0].active");
}

#[test]
fn malformed_json_gets_clear_errors() {
    let cases = [
        (
            "",
            "expected a resource (a JSON object), found the end of the input",
        ),
        ("[]", "expected a resource (a JSON object), found an array"),
        (
            r#"{"resourceType":"Patient","active":tru}"#,
            "invalid literal",
        ),
        (
            r#"{"resourceType":"Patient","id":"a"} x"#,
            "unexpected text after the end of the JSON value",
        ),
        (
            r#"{"resourceType":"Patient","id":"a""#,
            "expected ',' or '}' after an object member",
        ),
        (
            r#"{"resourceType":"Patient","id":"a\q"}"#,
            "invalid escape in a string",
        ),
        (
            r#"{"resourceType":"Patient","id":"a\ud800"}"#,
            "unpaired surrogate",
        ),
        (
            "{\"resourceType\":\"Patient\",\"id\":\"a\tb\"}",
            "control character in a string",
        ),
        (
            r#"{"resourceType":"Patient","id":null}"#,
            "expected a string, found null",
        ),
        (
            r#"{"resourceType":"Patient","name":{"family":"x"}}"#,
            "expected an array, found an object",
        ),
        (
            r#"{"resourceType":"Patient","name":[]}"#,
            "empty arrays are not allowed",
        ),
        (
            r#"{"resourceType":"Patient","maritalStatus":{}}"#,
            "empty objects are not allowed",
        ),
        (
            r#"{"resourceType":"Patient","active":true,"active":false}"#,
            "the element appears more than once",
        ),
        (
            r#"{"resourceType":"Patient","_active":"x"}"#,
            "expected an object, found a string",
        ),
    ];
    for (text, expected) in cases {
        let e = Resource::from_json(text).unwrap_err();
        assert!(e.message().contains(expected), "{text}: {e}");
    }
    let e = json::from_slice::<Resource>(b"{\"resourceType\":\"Patient\",\"id\":\"\xff\"}")
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "$: the input is not valid UTF-8 (line 1, column 33)"
    );
}

#[test]
fn escapes_and_unicode_round_trip() {
    let r = Resource::from_json(r#"{"resourceType":"Patient","id":"x","name":[{"text":"\"Zoë\" \u00e9\ud83d\ude00\n\\/"}]}"#).unwrap();
    let p: Patient = r.clone().try_into().unwrap();
    assert_eq!(
        p.name[0].text.as_ref().unwrap().value.as_deref(),
        Some("\"Zoë\" é😀\n\\/")
    );
    assert_eq!(Resource::from_json(&r.to_json()).unwrap(), r);
}

#[test]
fn nesting_is_limited_instead_of_overflowing_the_stack() {
    let depth = 5000;
    let mut text = String::from(r#"{"resourceType":"Patient","extension":"#);
    for _ in 0..depth {
        text.push_str(r#"[{"url":"u","extension":"#);
    }
    text.push_str("[]");
    for _ in 0..depth {
        text.push_str("}]");
    }
    text.push('}');
    let e = Resource::from_json(&text).unwrap_err();
    assert!(
        e.message()
            .contains("nesting is deeper than the limit of 100 levels"),
        "{e}"
    );
    // Deep nesting also fails cleanly in skipped (lenient) content.
    let deep_unknown = format!(
        r#"{{"resourceType":"Patient","x":{}{}}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let e = Resource::from_json_with(&deep_unknown, ReadOptions::LENIENT).unwrap_err();
    assert!(e.message().contains("nesting is deeper"), "{e}");
    // Contained resources inside Bundles inside Bundles stay within the limit too.
    let mut bundle = String::from(r#"{"resourceType":"Patient","id":"leaf"}"#);
    for _ in 0..60 {
        bundle = format!(
            r#"{{"resourceType":"Bundle","type":"collection","entry":[{{"resource":{bundle}}}]}}"#
        );
    }
    let e = Resource::from_json(&bundle).unwrap_err();
    assert!(e.message().contains("nesting is deeper"), "{e}");
}

#[test]
fn every_prefix_and_corruption_of_an_example_is_an_error_not_a_panic() {
    let text = include_str!("../../examples/data/patient-example.json");
    assert!(Resource::from_json(text).is_ok());
    for end in 0..text.len() - 1 {
        if text.is_char_boundary(end) && !text[end..].trim().is_empty() {
            assert!(
                Resource::from_json(&text[..end]).is_err(),
                "prefix of {end} bytes read"
            );
        }
    }
    // Replace each structural character in turn; reading must not panic.
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if matches!(b, b'{' | b'}' | b'[' | b']' | b':' | b',' | b'"') {
            for replacement in [b' ', b'x', b'0', b'{', b'[', b'"'] {
                let mut corrupt = bytes.to_vec();
                corrupt[i] = replacement;
                let _ = json::from_slice::<Resource>(&corrupt);
            }
        }
    }
}

#[test]
fn serde_goes_through_the_fhir_rules() {
    let text = r#"{"resourceType":"Patient","id":"x","birthDate":"1974-12","_birthDate":{"id":"b"},"deceasedBoolean":false}"#;
    let p: Patient = serde_json::from_str(text).unwrap();
    assert_eq!(serde_json::to_string(&p).unwrap(), text);
    let r: Resource = serde_json::from_str(text).unwrap();
    assert_eq!(serde_json::to_value(&r).unwrap()["_birthDate"]["id"], "b");
    let e = serde_json::from_str::<Patient>(r#"{"resourceType":"Patient","foo":1}"#).unwrap_err();
    assert!(e.to_string().contains("unknown element 'foo'"), "{e}");
}

#[test]
fn resources_convert_to_and_from_the_enum() {
    let mut p = Patient::default();
    p.set_id(Some("1".into()));
    p.meta = Some(r4::Meta {
        version_id: Some("3".into()),
        ..Default::default()
    });
    let r = Resource::from(p);
    assert_eq!(
        (r.resource_type(), r.id(), r.version_id()),
        ("Patient", Some("1"), Some("3"))
    );
    assert_eq!(r.fhir_version(), fhir_model::FhirVersion::R4);
    let back = r4::Observation::try_from(r).unwrap_err();
    assert!(matches!(back, Resource::Patient(_)));
    assert!(r4::RESOURCE_TYPES.contains(&"Patient"));
    assert_eq!(r4::RESOURCE_TYPES.len(), 146);
    assert_eq!(fhir_model::r5::RESOURCE_TYPES.len(), 158);
}

/// `count` one-character given names: more than 30 bytes of model for each 4 bytes of JSON.
fn many_given_names(count: usize) -> String {
    let mut text = String::from(r#"{"resourceType":"Patient","name":[{"given":["a""#);
    for _ in 1..count {
        text.push_str(r#","a""#);
    }
    text.push_str("]}]}");
    text
}

#[test]
fn memory_is_bounded_by_the_body_size() {
    let text = many_given_names(1 << 19);
    let e = json::from_str::<Resource>(&text).unwrap_err();
    assert!(e.message().contains("bytes of memory"), "{e}");
    assert!(e.is_over_memory_limit());
    assert!(!json::from_str::<Resource>("{}")
        .unwrap_err()
        .is_over_memory_limit());
    assert!(e.path().starts_with("Patient.name[0].given["), "{e}");
    // The limit can be lifted, and small bodies always fit.
    let unlimited = ReadOptions {
        max_memory_factor: 0,
        ..ReadOptions::STRICT
    };
    let p: Patient = json::from_str_with::<Resource>(&text, unlimited)
        .unwrap()
        .try_into()
        .unwrap();
    assert_eq!(p.name[0].given.len(), 1 << 19);
    let small = many_given_names(1000);
    assert!(json::from_str::<Resource>(&small).is_ok());
}

#[test]
fn primitive_ids_and_extensions_have_accessors() {
    let mut p: Primitive<String> = Primitive::from("Ann");
    assert!(!p.has_id_or_extension());
    p.set_id(Some("g1".into()));
    p.extension_mut().push(r4::Extension {
        url: Some("http://e".into()),
        ..Default::default()
    });
    assert_eq!((p.id(), p.extension().len()), (Some("g1"), 1));
    p.set_id(None);
    p.extension_mut().clear();
    assert!(!p.has_id_or_extension());
    // Equality looks at the content, not at whether the box is there.
    assert_eq!(p, Primitive::from("Ann"));
    let q = Primitive::<String>::from("Ann").with_id("x");
    assert_ne!(p, q);
}
