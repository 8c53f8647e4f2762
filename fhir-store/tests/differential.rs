//! Every official example of R4, R4B and R5 (the resources, and the entries of the example
//! Bundles) is stored, read back equal apart from `meta.versionId` and `meta.lastUpdated`,
//! and found by searches on each of its type's parameters, with the value the FHIRPath
//! extraction gives as the query: for each type and parameter, the first
//! [`QUERIES_PER_PARAM`] resources (by id) with a distinct first value. For the first
//! [`COMPARED_PER_PARAM`] of those queries, the database's whole answer is compared with the
//! in-memory matcher's over every resource of the type (the differential check: the SQL and
//! the matcher must agree).
//!
//! Every resource searched by every parameter was 180,000 queries for R4 alone, four
//! minutes in a release build and far more in the debug build CI runs; a few distinct values
//! per type and parameter reach the same code paths.

use fhir_model::fhirpath::extract::IndexValue;
use fhir_rocket::search::escape::escape;
use fhir_rocket::search::matcher::{Matcher, Sources};
use fhir_rocket::search::{Query, QueryParam};
use fhir_rocket::ServerModel;
use fhir_store::catalog::Catalog;
use fhir_store::store::{Method, Store};
use fhir_tests::{json_resources, package};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// How many resources of a type are searched by each parameter, each with a distinct value.
const QUERIES_PER_PARAM: usize = 5;

/// How many of those queries are answered by the matcher too and compared.
const COMPARED_PER_PARAM: usize = 3;

/// The parameter and search value (FHIR-escaped, not URL-encoded) that find a resource with
/// `value` for the parameter `code`, or `None` when the value cannot be written as one (a
/// composite; a text too long for the index).
fn query_for(code: &str, value: &IndexValue<'_>) -> Option<(String, String)> {
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
                    // Neither `Type/id` nor absolute (R4's Library/library-fhir-helpers has
                    // the canonical `library-fhir-helpers-predecessor`): a search value of
                    // that form is an `[id]` of one of the parameter's target types, never
                    // this reference's text, so no search value finds it.
                    (None, _) if !reference.contains("://") => return None,
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
    let (name, value) = q.split_once('=').expect("name=value");
    Some((name.to_string(), value.to_string()))
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

/// The failures of one run, by kind, all reported at once.
#[derive(Default)]
struct Failures(BTreeMap<String, Vec<String>>);

impl Failures {
    fn push(&mut self, kind: impl Into<String>, message: String) {
        self.0.entry(kind.into()).or_default().push(message);
    }

    /// Panics with the count of each kind and its first examples, when there is any.
    fn assert_none(&self, name: &str) {
        if self.0.is_empty() {
            return;
        }
        let total: usize = self.0.values().map(Vec::len).sum();
        let mut report = format!("{name}: {total} failures\n");
        for (kind, messages) in &self.0 {
            report.push_str(&format!("== {kind}: {}\n", messages.len()));
            for m in messages.iter().take(12) {
                report.push_str(&format!("   {m}\n"));
            }
        }
        panic!("{report}");
    }
}

/// The name of a value's kind, to sort failures by.
fn kind_of(value: &IndexValue<'_>) -> &'static str {
    match value {
        IndexValue::Token(_) => "token",
        IndexValue::String(_) => "string",
        IndexValue::Date(_) => "date",
        IndexValue::Number(_) => "number",
        IndexValue::Quantity(_) => "quantity",
        IndexValue::Reference(_) => "reference",
        IndexValue::Uri(_) => "uri",
        IndexValue::Composite(_) => "composite",
    }
}

fn check<R: ServerModel>(name: &str, version: &str, store: &Store) {
    let started = std::time::Instant::now();
    let catalog = Catalog::of::<R>();
    let mut failures = Failures::default();
    // Every example and Bundle entry, the last one written of each type and id.
    let mut current: BTreeMap<(&'static str, String), Arc<R>> = BTreeMap::new();
    let mut stored = 0;
    // One write transaction for the whole load: one commit (and on SQLite one fsync) per
    // resource made the load the longest part of the test.
    store.begin().unwrap();
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
            let key = (resource.resource_type(), resource.id().unwrap().to_string());
            let written = match store.update(&mut resource, None, Method::Update) {
                Ok((written, _)) => written,
                Err(e) => {
                    failures.push("write refused", format!("{}: {e}", path.display()));
                    continue;
                }
            };
            if without_stamp(&written.body) != before {
                failures.push(
                    "written differs",
                    format!("{} {}/{}", path.display(), key.0, key.1),
                );
            }
            match store.read_current(key.0, &key.1) {
                Ok(Some(back)) if back.body == written.body => {}
                other => failures.push(
                    "read back differs",
                    format!(
                        "{}/{}: {:?}",
                        key.0,
                        key.1,
                        other.map(|b| b.map(|b| b.body))
                    ),
                ),
            }
            current.insert(key, Arc::new(resource));
            stored += 1;
        }
    }
    store.commit().unwrap();
    let loaded = started.elapsed();
    let mut by_type: HashMap<&'static str, Vec<Arc<R>>> = HashMap::new();
    for ((t, _), r) in &current {
        by_type.entry(t).or_default().push(r.clone());
    }
    // Resources are found by their parameters' first value, a few distinct values per type
    // and parameter; the first queries of each are answered by the matcher too.
    let (mut queries, mut compared, mut skipped) = (0, 0, 0);
    let mut tried: HashMap<(&'static str, &'static str), BTreeSet<String>> = HashMap::new();
    let mut matcher_time = std::time::Duration::ZERO;
    for ((t, id), resource) in &current {
        let params = catalog.resource_type(t).unwrap();
        for (_, compiled) in &params.indexed {
            let code = compiled.param.code;
            let texts = tried.entry((t, code)).or_default();
            if texts.len() >= QUERIES_PER_PARAM {
                continue;
            }
            let node = fhir_rocket::search::matcher::Searchable::node(&**resource);
            let values = compiled.values(node).unwrap();
            let Some(value) = values.first() else {
                continue;
            };
            let kind = kind_of(value);
            let Some((name, search_value)) = query_for(code, value) else {
                skipped += 1;
                continue;
            };
            // Made as the server makes it from a request (the decoded value, typed), and
            // written back as a URL query for the messages.
            let query: Query = match QueryParam::new(&name, search_value.clone()) {
                Ok(p) => std::iter::once(p).collect(),
                Err(e) => {
                    failures.push(
                        format!("{kind}: the query does not parse"),
                        format!("{t}/{id}: {name}={search_value}: {e}"),
                    );
                    continue;
                }
            };
            let text = query.to_url_query_without(&[]);
            if !texts.insert(text.clone()) {
                continue;
            }
            let sample = texts.len() <= COMPARED_PER_PARAM;
            queries += 1;
            // Whether the resource is found, asked with its `_id` as well: the same answer,
            // without reading every match's body (a query such as `status=final` matches
            // most resources of its type, and reading them all was most of the test's time).
            let mut own = query.clone();
            own.push(QueryParam::new("_id", escape(id)).unwrap());
            match store.count(t, &own) {
                Ok(1) => {}
                Ok(n) => failures.push(
                    format!("{kind}: not found by its own value"),
                    format!("{t}/{id} is not found by {t}?{text} ({n} with its _id)"),
                ),
                Err(e) => {
                    failures.push(
                        format!("{kind}: the store refuses the query"),
                        format!("{t}/{id}: {text}: {e}"),
                    );
                    continue;
                }
            }
            if !sample {
                continue;
            }
            let found: BTreeSet<String> = match store.page(t, &query, &[], 0, 100_000) {
                Ok(rows) => rows.into_iter().map(|r| r.id).collect(),
                Err(e) => {
                    failures.push(
                        format!("{kind}: the store refuses the query"),
                        format!("{t}/{id}: {text}: {e}"),
                    );
                    continue;
                }
            };
            let matcher = match Matcher::new::<R>(t, &query) {
                Ok(m) => m,
                Err(e) => {
                    failures.push(
                        format!("{kind}: the matcher refuses the query"),
                        format!("{t}?{text}: {e}"),
                    );
                    continue;
                }
            };
            let timer = std::time::Instant::now();
            let expected: BTreeSet<String> = by_type[t]
                .iter()
                .filter(|r| matcher.matches(&***r, &Sources::none()).unwrap_or(false))
                .map(|r| r.id().unwrap().to_string())
                .collect();
            matcher_time += timer.elapsed();
            compared += 1;
            if expected != found {
                let missing: Vec<_> = expected.difference(&found).take(5).collect();
                let extra: Vec<_> = found.difference(&expected).take(5).collect();
                let which = match (missing.is_empty(), extra.is_empty()) {
                    (false, true) => "SQL finds fewer than the matcher",
                    (true, false) => "SQL finds more than the matcher",
                    _ => "SQL and matcher differ both ways",
                };
                failures.push(
                    format!("{kind}: {which}"),
                    format!("{t}?{text}: SQL lacks {missing:?}, has more {extra:?}"),
                );
            }
        }
    }
    let pairs = tried.values().filter(|t| !t.is_empty()).count();
    eprintln!(
        "{name}: {stored} written, {} current in {loaded:?}; {queries} queries on {pairs} types and parameters, {compared} compared with the matcher (matcher {matcher_time:?}), {skipped} values not expressible; {:?} in all",
        current.len(),
        started.elapsed()
    );
    failures.assert_none(name);
    // Each version's examples give values to well over a thousand types and parameters.
    assert!(pairs > 1000, "{pairs}");
}

/// The check on a fresh SQLite database of its own, removed afterwards.
fn on_sqlite<R: ServerModel>(name: &str, package: &str, version: &str) {
    let dir = std::env::temp_dir().join(format!("fhir-store-{}-diff-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store = Store::open_sqlite(&dir.join("fhir.db"), Catalog::of::<R>()).unwrap();
    check::<R>(package, version, &store);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn r4_examples_on_sqlite() {
    on_sqlite::<fhir_model::r4::Resource>("r4", "hl7.fhir.r4.examples", "4.0.1");
}

#[test]
fn r4_examples_on_postgres() {
    let url = fhir_tests::postgres::server().database("differential_r4");
    let store =
        fhir_store::postgres::open(&url, Catalog::of::<fhir_model::r4::Resource>()).unwrap();
    check::<fhir_model::r4::Resource>("hl7.fhir.r4.examples", "4.0.1", &store);
}

#[test]
fn r4b_examples_on_sqlite() {
    on_sqlite::<fhir_model::r4b::Resource>("r4b", "hl7.fhir.r4b.examples", "4.3.0");
}

#[test]
fn r5_examples_on_sqlite() {
    on_sqlite::<fhir_model::r5::Resource>("r5", "hl7.fhir.r5.examples", "5.0.0");
}
