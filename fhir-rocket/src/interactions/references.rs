//! References in resources: finding them and rewriting them, for transactions. Works on the
//! compact JSON the model writes, so that every place a reference can be (nested, repeated,
//! in contained resources, in extensions) is reached by one scan, and a resource is read
//! again only when one of its references changed.

use fhir_model::json::Value;
use std::collections::HashMap;

/// Calls `visit` with every `reference` string of a `Reference` in the value, mutably.
#[cfg(test)]
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
#[cfg(test)]
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
/// many were replaced. The walk over the JSON form that [`rewrite_json`] is checked against.
#[cfg(test)]
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

/// The member key that starts a reference's value in compact JSON. In JSON the model's
/// writer made, a `"` inside a string is always escaped, so these bytes occur only as a key
/// followed by its string value.
const KEY: &[u8] = b"\"reference\":\"";

/// The byte ranges of the (still escaped) string values of every `reference` member of
/// compact JSON written by the model's writer, in document order.
fn reference_values(json: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(i) = find(&json[at..], KEY) {
        let start = at + i + KEY.len();
        let mut end = start;
        while end < json.len() && json[end] != b'"' {
            // Skip an escaped character, so that `\"` does not end the string.
            end += if json[end] == b'\\' { 2 } else { 1 };
        }
        let end = end.min(json.len());
        found.push(start..end);
        at = end;
    }
    found
}

/// The first `needle` in `haystack`: a scan for the needle's first byte, then a compare,
/// rather than a compare at every position.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    let mut at = 0;
    while let Some(i) = haystack[at..].iter().position(|&b| b == first) {
        let start = at + i;
        if haystack[start + 1..].starts_with(rest) {
            return Some(start);
        }
        at = start + 1;
    }
    None
}

/// A string value's text: as it is when it has no escapes, else decoded.
fn unescape(raw: &[u8]) -> Option<String> {
    if !raw.contains(&b'\\') {
        return String::from_utf8(raw.to_vec()).ok();
    }
    let mut quoted = Vec::with_capacity(raw.len() + 2);
    quoted.push(b'"');
    quoted.extend_from_slice(raw);
    quoted.push(b'"');
    match fhir_model::json::from_slice::<Value>(&quoted) {
        Ok(Value::String(text)) => Some(text),
        _ => None,
    }
}

/// Every reference in compact JSON written by the model's writer, decoded.
pub(crate) fn references_in_json(json: &[u8]) -> Vec<String> {
    reference_values(json)
        .into_iter()
        .filter_map(|r| unescape(&json[r]))
        .collect()
}

/// Replaces, in compact JSON written by the model's writer, every reference that `map` has a
/// replacement for (keeping a `#fragment` after it); `None` when there is none to replace,
/// so the caller keeps what it has.
pub(crate) fn rewrite_json(json: &[u8], map: &HashMap<String, String>) -> Option<Vec<u8>> {
    let mut out: Option<Vec<u8>> = None;
    let mut copied = 0;
    for range in reference_values(json) {
        let Some(text) = unescape(&json[range.clone()]) else {
            continue;
        };
        let (target, fragment) = match text.find('#') {
            Some(0) | None => (text.as_str(), ""),
            Some(i) => text.split_at(i),
        };
        let Some(new) = map.get(target) else {
            continue;
        };
        let buffer = out.get_or_insert_with(|| Vec::with_capacity(json.len() + 64));
        buffer.extend_from_slice(&json[copied..range.start]);
        let mut writer = fhir_model::json::JsonWriter::new(Vec::new(), false);
        writer.string(&format!("{new}{fragment}"));
        let quoted = writer.into_inner();
        buffer.extend_from_slice(&quoted[1..quoted.len() - 1]);
        copied = range.end;
    }
    out.map(|mut buffer| {
        buffer.extend_from_slice(&json[copied..]);
        buffer
    })
}

/// Whether a reference is conditional: `Patient?identifier=...`.
pub(crate) fn is_conditional(reference: &str) -> bool {
    match reference.split_once('?') {
        Some((t, _)) => crate::search::reference::is_resource_type(t),
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
    fn rewrites_compact_json_as_the_value_walk_does() {
        let text = r##"{"resourceType":"Observation","contained":[{"resourceType":"Provenance","target":[{"reference":"urn:uuid:a"}]}],"subject":{"reference":"urn:uuid:a#x","display":"\"reference\":\"urn:uuid:a\""},"performer":[{"reference":"Practitioner/7"},{"reference":"urn:uuid:b"}],"hasMember":[{"reference":"#p1"}],"extension":[{"url":"u","valueReference":{"reference":"urn:oid:1.2.3"}}],"focus":[{"reference":"Patient?identifier=a|\"q\""}]}"##;
        let replacements = map(&[
            ("urn:uuid:a", "Patient/1"),
            ("urn:uuid:b", "Practitioner/2"),
            ("urn:oid:1.2.3", "Organization/3"),
            ("Patient?identifier=a|\"q\"", "Patient/9"),
        ]);
        assert_eq!(
            references_in_json(text.as_bytes()),
            [
                "urn:uuid:a",
                "urn:uuid:a#x",
                "Practitioner/7",
                "urn:uuid:b",
                "#p1",
                "urn:oid:1.2.3",
                "Patient?identifier=a|\"q\""
            ]
        );
        let rewritten =
            String::from_utf8(rewrite_json(text.as_bytes(), &replacements).unwrap()).unwrap();
        let mut walked: Value = json::from_str(text).unwrap();
        rewrite(&mut walked, &replacements);
        assert_eq!(rewritten, json::to_string(&walked));
        assert!(rewritten.contains(r#""display":"\"reference\":\"urn:uuid:a\"""#));
        assert!(rewrite_json(b"{\"reference\":\"Patient/1\"}", &replacements).is_none());
    }

    #[test]
    fn conditional_references() {
        assert!(is_conditional("Patient?identifier=a|b"));
        assert!(!is_conditional("Patient/1"));
        assert!(!is_conditional("urn:uuid:1?x"));
        assert!(!is_conditional("http://x/Patient?y=1"));
    }
}
