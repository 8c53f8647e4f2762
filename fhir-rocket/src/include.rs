//! Which included resources (`_include`, `_revinclude`) a searchset writes, and on which page.
//!
//! A provider returns all its matches and everything it included for them; the server pages
//! the matches. Each page then carries the included resources that belong to its own matches,
//! as a client reading page 2 expects the Patients that page's Observations refer to.

use crate::version_model::ServerModel;
use fhir_model::json::Value;
use std::collections::HashSet;
use std::ops::Range;
use std::sync::Arc;

/// A resource's type and logical id.
type Key = (String, String);

fn key<R: ServerModel>(resource: &R) -> Option<Key> {
    Some((
        resource.resource_type().to_owned(),
        resource.id()?.to_owned(),
    ))
}

/// Drops the includes that a Bundle would hold twice: a resource appears once in a searchset,
/// so an include that is also a match, or that was included before, goes (HAPI does the same).
/// Resources are told apart by type and id; one without an id is always kept.
pub(crate) fn distinct<R: ServerModel>(matches: &[Arc<R>], includes: Vec<Arc<R>>) -> Vec<Arc<R>> {
    if includes.is_empty() {
        return includes;
    }
    let mut seen = keys_of(matches);
    includes
        .into_iter()
        .filter(|r| key(&**r).is_none_or(|k| seen.insert(k)))
        .collect()
}

/// The includes to write beside `matches[page]`.
///
/// When every match is on this page, so is every include. Otherwise an include goes on each
/// page that has a match referring to it (`_include`) or a match it refers to
/// (`_revinclude`). An include related to no match at all goes on the first page, so that
/// nothing the provider returned is lost. References are compared by type and id, relative
/// or absolute, with any `_history` version ignored.
pub(crate) fn for_page<'a, R: ServerModel>(
    base_url: &str,
    matches: &[Arc<R>],
    page: Range<usize>,
    includes: &'a [Arc<R>],
) -> Vec<&'a Arc<R>> {
    if includes.is_empty() || (page.start == 0 && page.end >= matches.len()) {
        return includes.iter().collect();
    }
    let on_page = &matches[page.clone()];
    let page_keys = keys_of(on_page);
    let page_refers_to = references_of(on_page, base_url);
    // The first page also takes the includes related to no match at all, which needs what
    // every match is and refers to: worked out once, and only if such a question comes up.
    let mut every_match: Option<(HashSet<Key>, HashSet<Key>)> = None;
    includes
        .iter()
        .filter(|include| {
            let include_key = key(&***include);
            let refers_to = references(&***include, base_url);
            let related = |keys: &HashSet<Key>, referred_to: &HashSet<Key>| {
                include_key
                    .as_ref()
                    .is_some_and(|k| referred_to.contains(k))
                    || refers_to.iter().any(|k| keys.contains(k))
            };
            if related(&page_keys, &page_refers_to) {
                return true;
            }
            if page.start != 0 {
                return false;
            }
            let (keys, referred_to) = every_match
                .get_or_insert_with(|| (keys_of(matches), references_of(matches, base_url)));
            !related(keys, referred_to)
        })
        .collect()
}

/// The includes related to some match: referred to by one, or referring to one (the includes
/// a provider made for candidates the server then filtered).
pub(crate) fn related<R: ServerModel>(
    base_url: &str,
    matches: &[Arc<R>],
    includes: Vec<Arc<R>>,
) -> Vec<Arc<R>> {
    if includes.is_empty() {
        return includes;
    }
    let keys = keys_of(matches);
    let referred_to = references_of(matches, base_url);
    includes
        .into_iter()
        .filter(|include| {
            key(&**include).is_some_and(|k| referred_to.contains(&k))
                || references(&**include, base_url)
                    .iter()
                    .any(|k| keys.contains(k))
        })
        .collect()
}

fn keys_of<R: ServerModel>(resources: &[Arc<R>]) -> HashSet<Key> {
    resources.iter().filter_map(|r| key(&**r)).collect()
}

fn references_of<R: ServerModel>(resources: &[Arc<R>], base_url: &str) -> HashSet<Key> {
    resources
        .iter()
        .flat_map(|r| references(&**r, base_url))
        .collect()
}

/// The resources a resource refers to: the targets of every `Reference.reference` in it,
/// contained resources included.
fn references<R: ServerModel>(resource: &R, base_url: &str) -> HashSet<Key> {
    let mut found = HashSet::new();
    let json = fhir_model::json::to_vec(resource, false);
    // The writer's own output always parses; an empty set is the safe answer if it did not.
    if let Ok(value) = std::str::from_utf8(&json)
        .map_err(drop)
        .and_then(|text| Value::parse(text).map_err(drop))
    {
        collect_references::<R>(&value, base_url, &mut found);
    }
    found
}

fn collect_references<R: ServerModel>(value: &Value, base_url: &str, found: &mut HashSet<Key>) {
    match value {
        Value::Object(members) => {
            for (name, member) in members {
                if let (true, Some(reference)) = (name == "reference", member.as_str()) {
                    found.extend(reference_key::<R>(reference, base_url));
                } else {
                    collect_references::<R>(member, base_url, found);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                collect_references::<R>(item, base_url, found);
            }
        }
        _ => {}
    }
}

/// `Patient/1`, `Patient/1/_history/2`, `[base]/Patient/1` or another server's
/// `https://example.org/fhir/Patient/1` as `(Patient, 1)`; `None` for a reference to a
/// contained resource (`#x`), a `urn:` or anything else that names no resource type.
fn reference_key<R: ServerModel>(reference: &str, base_url: &str) -> Option<Key> {
    let path = reference.strip_prefix(base_url).unwrap_or(reference);
    let path = path.split_once("/_history/").map_or(path, |(p, _)| p);
    let mut segments = path.rsplit('/');
    let id = segments.next().filter(|id| !id.is_empty())?;
    let resource_type = segments.next().filter(|ty| R::is_resource_type(ty))?;
    Some((resource_type.to_owned(), id.to_owned()))
}

#[cfg(all(test, feature = "r4"))]
mod tests {
    use super::*;
    use fhir_model::r4::{Observation, Patient, Reference, Resource};
    use fhir_model::FhirResource;

    const BASE: &str = "http://localhost/fhir";

    fn patient(id: &str) -> Arc<Resource> {
        Arc::new(
            Patient {
                id: Some(id.into()),
                ..Default::default()
            }
            .into(),
        )
    }

    fn observation(id: &str, subject: &str) -> Arc<Resource> {
        Arc::new(
            Observation {
                id: Some(id.into()),
                subject: Some(Reference {
                    reference: Some(subject.to_string().into()),
                    ..Default::default()
                }),
                ..Default::default()
            }
            .into(),
        )
    }

    fn keys(resources: &[&Arc<Resource>]) -> Vec<String> {
        resources
            .iter()
            .map(|r| format!("{}/{}", r.resource_type(), r.id().unwrap_or("-")))
            .collect()
    }

    #[test]
    fn includes_that_are_matches_or_repeats_are_dropped() {
        let matches = vec![patient("a"), patient("b")];
        let without_id = Arc::new(Resource::from(Patient::default()));
        let includes = vec![
            patient("b"),
            patient("c"),
            observation("a", "Patient/a"),
            patient("c"),
            without_id.clone(),
            without_id,
        ];
        let kept = distinct(&matches, includes);
        // Patient/b is a match and the second Patient/c a repeat. Observation/a is another
        // resource than Patient/a, and resources without an id cannot be told apart.
        assert_eq!(
            keys(&kept.iter().collect::<Vec<_>>()),
            ["Patient/c", "Observation/a", "Patient/-", "Patient/-"]
        );
    }

    #[test]
    fn references_are_read_in_every_form() {
        let key = |r: &str| reference_key::<Resource>(r, BASE);
        let patient_1 = Some(("Patient".to_string(), "1".to_string()));
        assert_eq!(key("Patient/1"), patient_1);
        assert_eq!(key("Patient/1/_history/3"), patient_1);
        assert_eq!(key("http://localhost/fhir/Patient/1"), patient_1);
        assert_eq!(
            key("https://example.org/r4/Patient/1/_history/2"),
            patient_1
        );
        assert_eq!(key("#contained"), None);
        assert_eq!(key("urn:uuid:0c3151bd-1cbf-4d64-b04d-cd9187a4c6e0"), None);
        assert_eq!(key("Patient/"), None);
        assert_eq!(key("NotAType/1"), None);
    }

    #[test]
    fn each_page_carries_the_includes_of_its_own_matches() {
        // Four Observations on two pages of two; includes are the subjects.
        let matches = vec![
            observation("o1", "Patient/p1"),
            observation("o2", "http://localhost/fhir/Patient/p2"),
            observation("o3", "Patient/p1/_history/1"),
            observation("o4", "Patient/p3"),
        ];
        let includes = vec![
            patient("p1"),
            patient("p2"),
            patient("p3"),
            patient("loose"),
        ];
        let first = for_page(BASE, &matches, 0..2, &includes);
        assert_eq!(keys(&first), ["Patient/p1", "Patient/p2", "Patient/loose"]);
        let second = for_page(BASE, &matches, 2..4, &includes);
        assert_eq!(keys(&second), ["Patient/p1", "Patient/p3"]);
        // One page holding every match holds every include.
        assert_eq!(for_page(BASE, &matches, 0..4, &includes).len(), 4);
    }

    #[test]
    fn revincludes_go_with_the_match_they_refer_to() {
        let matches = vec![patient("p1"), patient("p2")];
        let includes = vec![
            observation("o2", "Patient/p2"),
            observation("o1", "Patient/p1"),
            observation("elsewhere", "Patient/p9"),
        ];
        assert_eq!(
            keys(&for_page(BASE, &matches, 0..1, &includes)),
            ["Observation/o1", "Observation/elsewhere"]
        );
        assert_eq!(
            keys(&for_page(BASE, &matches, 1..2, &includes)),
            ["Observation/o2"]
        );
    }
}
