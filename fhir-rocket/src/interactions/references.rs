//! References in resources, for transactions: found and rewritten in place through the
//! model's [`VisitReferences`], which reaches every place a reference can be (nested,
//! repeated, in choice values, in extensions of elements and of primitives, in contained
//! resources), without writing or reading the resource again.

use fhir_model::VisitReferences;
use std::collections::HashMap;

/// Every reference string in the resource, in document order.
pub(crate) fn references<R: VisitReferences>(resource: &mut R) -> Vec<String> {
    let mut found = Vec::new();
    resource.visit_references(&mut |reference| found.push(reference.clone()));
    found
}

/// Replaces every reference that `map` has a replacement for (a `urn:uuid:`, a `urn:oid:`,
/// a conditional `Type?query`, a full URL), keeping a `#fragment` after it. Returns how many
/// were replaced.
pub(crate) fn rewrite<R: VisitReferences>(
    resource: &mut R,
    map: &HashMap<String, String>,
) -> usize {
    rewrite_with(resource, |target| map.get(target).cloned())
}

/// Replaces every reference whose target (without its `#fragment`) `replacement` gives a
/// new target for, keeping the fragment. Returns how many were replaced.
pub(crate) fn rewrite_with<R: VisitReferences>(
    resource: &mut R,
    mut replacement: impl FnMut(&str) -> Option<String>,
) -> usize {
    let mut replaced = 0;
    resource.visit_references(&mut |reference| {
        let Some(target) = target(reference) else {
            return;
        };
        if let Some(new) = replacement(target) {
            *reference = format!("{new}{}", &reference[target.len()..]);
            replaced += 1;
        }
    });
    replaced
}

/// What a reference points to without its `#fragment`; `None` for `#x` alone, which points
/// into the resource itself.
pub(crate) fn target(reference: &str) -> Option<&str> {
    match reference.find('#') {
        Some(0) => None,
        None => Some(reference),
        Some(i) => Some(&reference[..i]),
    }
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
    use fhir_model::r4::Resource;

    fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn rewrites_every_place_a_reference_can_be() {
        let mut resource = Resource::from_json(
            r##"{
              "resourceType": "Observation",
              "contained": [{"resourceType": "Provenance", "target": [{"reference": "urn:uuid:a"}],
                             "recorded": "2020-01-01T00:00:00Z",
                             "agent": [{"who": {"reference": "urn:uuid:b"}}]}],
              "status": "final",
              "_status": {"extension": [{"url": "http://example.org/s", "valueReference": {"reference": "urn:uuid:a"}}]},
              "code": {"text": "x"},
              "subject": {"reference": "urn:uuid:a", "display": "urn:uuid:a"},
              "performer": [{"reference": "urn:uuid:b"}, {"reference": "Practitioner/7"}, {"reference": "urn:uuid:a#x"}],
              "hasMember": [{"reference": "#p1"}],
              "extension": [{"url": "http://example.org/x", "valueReference": {"reference": "urn:oid:1.2.3"}},
                            {"url": "http://example.org/y", "extension": [{"url": "z", "valueReference": {"reference": "urn:uuid:b"}}]}],
              "note": [{"text": "urn:uuid:a", "authorReference": {"reference": "urn:uuid:b"}}],
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
        assert_eq!(references(&mut resource).len(), 12);
        assert_eq!(rewrite(&mut resource, &replacements), 10);
        let text = resource.to_json();
        assert!(!text.contains("\"reference\":\"urn:"), "{text}");
        assert!(text.contains(r#""subject":{"reference":"Patient/1","display":"urn:uuid:a"}"#));
        assert!(text.contains(r#"{"reference":"Practitioner/7"}"#));
        assert!(text.contains(r#"{"reference":"Patient/1#x"}"#));
        assert!(text.contains(r##"{"reference":"#p1"}"##));
        assert!(text.contains(r#""text":"urn:uuid:a""#));
        assert!(text.contains(r#"{"url":"z","valueReference":{"reference":"Practitioner/2"}}"#));
        assert!(text.contains(r#""_status":{"extension":[{"url":"http://example.org/s","valueReference":{"reference":"Patient/1"}}]}"#), "{text}");
        assert!(text.contains(r#""focus":[{"reference":"Patient/9"}]"#));
        assert!(text.contains(r#""target":[{"reference":"Patient/1"}]"#));
        assert!(text.contains(r#""who":{"reference":"Practitioner/2"}"#));
        assert_eq!(rewrite(&mut resource, &replacements), 0);
    }

    #[test]
    fn conditional_references() {
        assert!(is_conditional("Patient?identifier=a|b"));
        assert!(!is_conditional("Patient/1"));
        assert!(!is_conditional("urn:uuid:1?x"));
        assert!(!is_conditional("http://x/Patient?y=1"));
    }
}
