//! Every official example of R4, R4B and R5 (the resources, and the entries of the example
//! Bundles) is stored, read back equal apart from `meta.versionId` and `meta.lastUpdated`,
//! and found by a search on each of its type's parameters that has a value in it, with that
//! value as the query. For a sample of those queries per type and parameter, the database's
//! answer is compared with the in-memory matcher's over every resource of the type (the
//! differential check: the SQL and the matcher must agree).

use fhir_model::fhirpath::extract::IndexValue;
use fhir_rocket::search::escape::escape;
use fhir_rocket::search::matcher::{Matcher, Sources};
use fhir_rocket::search::{parse_query, Query};
use fhir_rocket::ServerModel;
use fhir_store::catalog::Catalog;
use fhir_store::store::{Method, Store};
use fhir_tests::{json_resources, package};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// A query that finds a resource with `value` for the parameter `code`, or `None` when the
/// value cannot be written as one (a composite; a text too long for the index).
fn query_for(code: &str, value: &IndexValue<'_>) -> Option<String> {
    let q = match value {
        IndexValue::String(s) => {
            if s.text.trim().is_empty() || s.normalized.chars().count() > 200 {
                return None;
            }
            format!("{code}={}", escape(s.text))
        }
        IndexValue::Token(t) => match (&t.code, t.system) {
            (Some(c), Some(s)) => format!("{code}={}|{}", escape(s), escape(c)),
            (Some(c), None) => format!("{code}=|{}", escape(c)),
            (None, _) => {
                let text = t.text?;
                if text.trim().is_empty() || text.chars().count() > 200 {
                    return None;
                }
                format!("{code}:text={}", escape(text))
            }
        },
        IndexValue::Date(d) => match (d.low, d.high) {
            (Some(low), _) => format!(
                "{code}=ge{}",
                fhir_rocket::http::instant_from_micros((low / 1000) as i64)
            ),
            (None, Some(high)) => format!(
                "{code}=le{}",
                fhir_rocket::http::instant_from_micros((high / 1000) as i64 - 1)
            ),
            (None, None) => return None,
        },
        IndexValue::Number(n) => format!("{code}={}", n.text),
        IndexValue::Quantity(q) => {
            let units = match (q.system, q.code) {
                (Some(s), Some(c)) => format!("|{}|{}", escape(s), escape(c)),
                (None, Some(c)) => format!("||{}", escape(c)),
                _ => String::new(),
            };
            match (q.low, q.high) {
                (Some(l), Some(h)) if l == h => format!("{code}={l}{units}"),
                (Some(l), _) => format!("{code}=ge{l}{units}"),
                (None, Some(h)) => format!("{code}=le{h}{units}"),
                (None, None) => return None,
            }
        }
        IndexValue::Uri(u) => format!("{code}={}", escape(u)),
        IndexValue::Reference(r) => {
            if let Some(reference) = r.reference.as_deref() {
                if reference.starts_with('#') || reference.starts_with("urn:") {
                    return None;
                }
                match (r.resource_type, r.id) {
                    (Some(t), Some(id)) if !reference.contains("://") => {
                        format!("{code}={t}/{}", escape(id))
                    }
                    _ => format!("{code}={}", escape(reference)),
                }
            } else if let Some(t) = &r.identifier {
                let c = t.code.as_deref()?;
                match t.system {
                    Some(s) => format!("{code}:identifier={}|{}", escape(s), escape(c)),
                    None => format!("{code}:identifier=|{}", escape(c)),
                }
            } else {
                return None;
            }
        }
        IndexValue::Composite(_) => return None,
    };
    Some(q)
}

/// The JSON of a resource without what the store sets.
fn without_stamp(text: &str) -> serde_json::Value {
    let mut v: serde_json::Value = fhir_tests::exact_json(text).unwrap();
    if let Some(meta) = v.get_mut("meta").and_then(|m| m.as_object_mut()) {
        meta.remove("versionId");
        meta.remove("lastUpdated");
        if meta.is_empty() {
            v.as_object_mut().unwrap().remove("meta");
        }
    }
    v
}

fn check<R: ServerModel>(name: &str, version: &str, store: &Store) {
    let catalog = Catalog::of::<R>();
    // Every example and Bundle entry, the last one written of each type and id.
    let mut current: BTreeMap<(&'static str, String), Arc<R>> = BTreeMap::new();
    let mut stored = 0;
    for path in json_resources(&package(name, version)) {
        let text = std::fs::read_to_string(&path).unwrap();
        let Ok(resource) = fhir_model::json::from_str::<R>(&text) else {
            continue;
        };
        let mut all = vec![resource];
        if all[0].resource_type() == "Bundle" {
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            for entry in v["entry"].as_array().into_iter().flatten() {
                if entry["resource"].is_object() {
                    if let Ok(r) = fhir_model::json::from_str::<R>(&entry["resource"].to_string()) {
                        all.push(r);
                    }
                }
            }
        }
        for mut resource in all {
            if resource.id().is_none() || !R::is_resource_type(resource.resource_type()) {
                continue;
            }
            let before = without_stamp(&fhir_model::json::to_string(&resource));
            let (written, _) = store
                .update(&mut resource, None, Method::Update)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(without_stamp(&written.body), before, "{}", path.display());
            let key = (resource.resource_type(), resource.id().unwrap().to_string());
            let back = store.read_current(key.0, &key.1).unwrap().unwrap();
            assert_eq!(back.body, written.body);
            current.insert(key, Arc::new(resource));
            stored += 1;
        }
    }
    let mut by_type: HashMap<&'static str, Vec<Arc<R>>> = HashMap::new();
    for ((t, _), r) in &current {
        by_type.entry(t).or_default().push(r.clone());
    }
    // Each resource is found by each of its parameters' first value; a sample of the queries
    // is answered by the matcher too.
    let (mut queries, mut compared, mut skipped) = (0, 0, 0);
    let mut sampled: HashMap<(&'static str, &'static str), usize> = HashMap::new();
    let mut failures = Vec::new();
    for ((t, id), resource) in &current {
        let params = catalog.resource_type(t).unwrap();
        for (_, compiled) in &params.indexed {
            let code = compiled.param.code;
            let node = fhir_rocket::search::matcher::Searchable::node(&**resource);
            let values = compiled.values(node).unwrap();
            let Some(value) = values.first() else {
                continue;
            };
            let Some(text) = query_for(code, value) else {
                skipped += 1;
                continue;
            };
            let query: Query = match parse_query(&text) {
                Ok(q) => q,
                Err(e) => {
                    failures.push(format!("{t}/{id}: {text}: {e}"));
                    continue;
                }
            };
            queries += 1;
            let found: BTreeSet<String> = match store.page(t, &query, &[], 0, 100_000) {
                Ok(rows) => rows.into_iter().map(|r| r.id).collect(),
                Err(e) => {
                    failures.push(format!("{t}/{id}: {text}: {e}"));
                    continue;
                }
            };
            if !found.contains(id) {
                failures.push(format!("{t}/{id} is not found by {t}?{text}"));
            }
            let seen = sampled.entry((t, code)).or_default();
            *seen += 1;
            if *seen > 3 {
                continue;
            }
            let matcher = match Matcher::new::<R>(t, &query) {
                Ok(m) => m,
                Err(e) => {
                    failures.push(format!("{t}?{text}: the matcher refuses it: {e}"));
                    continue;
                }
            };
            let expected: BTreeSet<String> = by_type[t]
                .iter()
                .filter(|r| matcher.matches(&***r, &Sources::none()).unwrap_or(false))
                .map(|r| r.id().unwrap().to_string())
                .collect();
            compared += 1;
            if expected != found {
                let missing: Vec<_> = expected.difference(&found).take(5).collect();
                let extra: Vec<_> = found.difference(&expected).take(5).collect();
                failures.push(format!(
                    "{t}?{text}: SQL and matcher differ: SQL lacks {missing:?}, has more {extra:?}"
                ));
            }
        }
    }
    eprintln!(
        "{name}: {stored} written, {} current; {queries} queries, {compared} compared with the matcher, {skipped} values not expressible",
        current.len()
    );
    assert!(
        failures.is_empty(),
        "{name}: {} failures:\n{}",
        failures.len(),
        failures
            .iter()
            .take(60)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(queries > 10_000, "{queries}");
}

fn sqlite<R: ServerModel>(name: &str) -> (Store, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("fhir-store-{}-diff-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    (
        Store::open_sqlite(&dir.join("fhir.db"), Catalog::of::<R>()).unwrap(),
        dir,
    )
}

#[test]
#[ignore = "long (over ten minutes in a debug build): cargo test -p fhir-store --release --test differential -- --ignored"]
fn r4_examples_on_sqlite() {
    let (store, dir) = sqlite::<fhir_model::r4::Resource>("r4");
    check::<fhir_model::r4::Resource>("hl7.fhir.r4.examples", "4.0.1", &store);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
#[ignore = "long (over ten minutes in a debug build): cargo test -p fhir-store --release --test differential -- --ignored"]
fn r4_examples_on_postgres() {
    let url = fhir_tests::postgres::server().database("differential_r4");
    let store =
        fhir_store::postgres::open(&url, Catalog::of::<fhir_model::r4::Resource>()).unwrap();
    check::<fhir_model::r4::Resource>("hl7.fhir.r4.examples", "4.0.1", &store);
}

#[test]
#[ignore = "long (over ten minutes in a debug build): cargo test -p fhir-store --release --test differential -- --ignored"]
fn r4b_examples_on_sqlite() {
    let (store, dir) = sqlite::<fhir_model::r4b::Resource>("r4b");
    check::<fhir_model::r4b::Resource>("hl7.fhir.r4b.examples", "4.3.0", &store);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
#[ignore = "long (over ten minutes in a debug build): cargo test -p fhir-store --release --test differential -- --ignored"]
fn r5_examples_on_sqlite() {
    let (store, dir) = sqlite::<fhir_model::r5::Resource>("r5");
    check::<fhir_model::r5::Resource>("hl7.fhir.r5.examples", "5.0.0", &store);
    let _ = std::fs::remove_dir_all(dir);
}
