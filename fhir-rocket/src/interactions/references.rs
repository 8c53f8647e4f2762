//! References in resources: finding them and rewriting them, for transactions. Works on the
//! JSON form, so that every place a reference can be (nested, repeated, in contained
//! resources, in extensions) is reached by one walk.

use fhir_model::json::Value;
use std::collections::HashMap;

/// Calls `visit` with every `reference` string of a `Reference` in the value, mutably.
fn each_reference(value: &mut Value, visit: &mut impl FnMut(&mut String)) {
    match value {
        Value::Object(members) => {
            for (name, member) in members.iter_mut() {
                match member {
                    Value::String(text) if name == "reference" => visit(text),
                    Value::Object(_) | Value::Array(_) => each_reference(member, visit),
                    _ => {}
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                each_reference(item, visit);
            }
        }
        _ => {}
    }
}

/// Every reference string in the value, in document order.
pub(crate) fn references(value: &Value) -> Vec<&str> {
    fn walk<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
        match value {
            Value::Object(members) => {
                for (name, member) in members {
                    match member {
                        Value::String(text) if name == "reference" => found.push(text),
                        Value::Object(_) | Value::Array(_) => walk(member, found),
                        _ => {}
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|item| walk(item, found)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    walk(value, &mut found);
    found
}

/// Replaces every reference that `map` has a replacement for (a `urn:uuid:`, a `urn:oid:`,
/// a conditional `Type?query`, a full URL), keeping a `#fragment` after it. Returns how
/// many were replaced.
pub(crate) fn rewrite(value: &mut Value, map: &HashMap<String, String>) -> usize {
    let mut replaced = 0;
    each_reference(value, &mut |reference| {
        let (target, fragment) = match reference.find('#') {
            // `#x` alone points into the resource itself.
            Some(0) | None => (reference.as_str(), ""),
            Some(i) => reference.split_at(i),
        };
        if let Some(new) = map.get(target) {
            *reference = format!("{new}{fragment}");
            replaced += 1;
        }
    });
    replaced
}

/// Whether a reference is conditional: `Patient?identifier=...`.
pub(crate) fn is_conditional(reference: &str) -> bool {
    match reference.split_once('?') {
        Some((t, _)) => {
            !t.contains('/')
                && !t.contains(':')
                && t.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fhir_model::json;

    fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn rewrites_every_place_a_reference_can_be() {
        let mut v: Value = json::from_str(
            r##"{
              "resourceType": "Observation",
              "contained": [{"resourceType": "Provenance", "target": [{"reference": "urn:uuid:a"}],
                             "agent": [{"who": {"reference": "urn:uuid:b"}}]}],
              "subject": {"reference": "urn:uuid:a", "display": "urn:uuid:a"},
              "performer": [{"reference": "urn:uuid:b"}, {"reference": "Practitioner/7"}, {"reference": "urn:uuid:a"}],
              "hasMember": [{"reference": "#p1"}],
              "extension": [{"url": "http://example.org/x", "valueReference": {"reference": "urn:oid:1.2.3"}},
                            {"url": "http://example.org/y", "extension": [{"url": "z", "valueReference": {"reference": "urn:uuid:b"}}]}],
              "note": [{"text": "urn:uuid:a"}],
              "focus": [{"reference": "Patient?identifier=http://x|1"}]
            }"##,
        )
        .unwrap();
        let replacements = map(&[
            ("urn:uuid:a", "Patient/1"),
            ("urn:uuid:b", "Practitioner/2"),
            ("urn:oid:1.2.3", "Organization/3"),
            ("Patient?identifier=http://x|1", "Patient/9"),
        ]);
        assert_eq!(rewrite(&mut v, &replacements), 8);
        let text = json::to_string(&v);
        assert!(!text.contains("\"reference\":\"urn:"), "{text}");
        assert!(text.contains(r#""subject":{"reference":"Patient/1","display":"urn:uuid:a"}"#));
        assert!(text.contains(r#"{"reference":"Practitioner/7"}"#));
        assert!(text.contains(r##"{"reference":"#p1"}"##));
        assert!(text.contains(r#""note":[{"text":"urn:uuid:a"}]"#));
        assert!(text.contains(r#"{"url":"z","valueReference":{"reference":"Practitioner/2"}}"#));
        assert!(text.contains(r#""focus":[{"reference":"Patient/9"}]"#));
        assert_eq!(references(&v).len(), 10);
    }

    #[test]
    fn conditional_references() {
        assert!(is_conditional("Patient?identifier=a|b"));
        assert!(!is_conditional("Patient/1"));
        assert!(!is_conditional("urn:uuid:1?x"));
        assert!(!is_conditional("http://x/Patient?y=1"));
    }
}
