//! The SQLite store on a real database file: every official R4 example with an id is
//! stored with its index rows in one transaction and read back as written; a taken id is
//! refused; the schema is applied once, kept across opens, and a database made with a
//! different schema is refused.

use fhir_model::r4::Resource;
use fhir_model::FhirResource;
use fhir_store::catalog::Catalog;
use fhir_store::rows::index_rows;
use fhir_store::sqlite::{SqliteStore, StoreError};
use fhir_tests::{json_resources, package};
use std::collections::HashSet;
use std::path::PathBuf;

/// A fresh database path of its own for each test.
fn database(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fhir-store-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("fhir.db")
}

#[test]
fn every_r4_example_is_stored_indexed_and_read_back() {
    let path = database("examples");
    let mut store = SqliteStore::open(&path, Catalog::of::<Resource>()).unwrap();
    let catalog = Catalog::of::<Resource>();
    let mut seen = HashSet::new();
    let (mut stored, mut taken, mut rows) = (0, 0, 0);
    for file in json_resources(&package("hl7.fhir.r4.examples", "4.0.1")) {
        let text = std::fs::read_to_string(&file).unwrap();
        let Ok(mut resource) = Resource::from_json(&text) else {
            continue;
        };
        let Some(id) = resource.id().map(str::to_string) else {
            continue;
        };
        let key = (resource.resource_type(), id.clone());
        match store.create(&mut resource) {
            Ok(version) => {
                assert!(seen.insert(key.clone()), "{key:?} stored twice");
                assert_eq!(version.version, 1);
                let back = store.read(key.0, &id).unwrap().expect("just stored");
                assert_eq!(back, version);
                assert_eq!(back.body, resource.to_json(), "{}", file.display());
                let expected = index_rows(&resource, &catalog, None).unwrap().len();
                assert_eq!(store.index_row_count(key.0, &id).unwrap(), expected);
                rows += expected;
                stored += 1;
            }
            Err(StoreError::Exists) => {
                assert!(seen.contains(&key), "{key:?} refused but never stored");
                taken += 1;
            }
            Err(e) => panic!("{}: {e}", file.display()),
        }
    }
    eprintln!("{stored} stored, {taken} ids taken, {rows} index rows");
    assert!(stored > 5000, "{stored}");
    assert!(store.read("Patient", "no-such-id").unwrap().is_none());
    // Reopened, the database keeps everything and applies no migration again.
    drop(store);
    let store = SqliteStore::open(&path, Catalog::of::<Resource>()).unwrap();
    let back = store.read("Patient", "example").unwrap().unwrap();
    assert!(back.body.contains("\"id\":\"example\""));
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[test]
fn a_taken_id_is_refused_and_leaves_nothing_behind() {
    let path = database("taken");
    let mut store = SqliteStore::open(&path, Catalog::of::<Resource>()).unwrap();
    let mut first =
        Resource::from_json(r#"{"resourceType":"Patient","id":"p1","name":[{"family":"First"}]}"#)
            .unwrap();
    let mut second = Resource::from_json(
        r#"{"resourceType":"Patient","id":"p1","name":[{"family":"Second"},{"family":"Third"}]}"#,
    )
    .unwrap();
    store.create(&mut first).unwrap();
    let rows = store.index_row_count("Patient", "p1").unwrap();
    assert!(matches!(store.create(&mut second), Err(StoreError::Exists)));
    let back = store.read("Patient", "p1").unwrap().unwrap();
    assert!(back.body.contains("First") && !back.body.contains("Second"));
    assert_eq!(store.index_row_count("Patient", "p1").unwrap(), rows);
    // A resource without an id is given one, time-ordered.
    let mut ids = Vec::new();
    for _ in 0..3 {
        let mut new = Resource::from_json(r#"{"resourceType":"Patient"}"#).unwrap();
        let stored = store.create(&mut new).unwrap();
        assert_eq!(new.id(), Some(stored.id.as_str()));
        assert!(stored.body.contains(&format!("\"id\":\"{}\"", stored.id)));
        assert_eq!(stored.id.len(), 36);
        ids.push(stored.id);
    }
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, ids);
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[test]
fn a_database_of_another_schema_is_refused() {
    let path = database("schema");
    drop(SqliteStore::open(&path, Catalog::of::<Resource>()).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "UPDATE schema_version SET checksum = 'other' WHERE version = 1",
        [],
    )
    .unwrap();
    drop(conn);
    let error = SqliteStore::open(&path, Catalog::of::<Resource>())
        .err()
        .unwrap();
    assert!(error.to_string().contains("migration 1 differs"), "{error}");
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
    let path = database("future");
    drop(SqliteStore::open(&path, Catalog::of::<Resource>()).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "INSERT INTO schema_version VALUES (99, 0, 'from the future', 'x')",
        [],
    )
    .unwrap();
    drop(conn);
    let error = SqliteStore::open(&path, Catalog::of::<Resource>())
        .err()
        .unwrap();
    assert!(
        error
            .to_string()
            .contains("migration 99 is from a newer release"),
        "{error}"
    );
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

fn patient(family: &str) -> Resource {
    Resource::from_json(&format!(
        r#"{{"resourceType":"Patient","id":"u1","name":[{{"family":"{family}"}}]}}"#
    ))
    .unwrap()
}

#[test]
fn updates_version_and_reindex_and_deletes_keep_history() {
    let path = database("update");
    let mut store = SqliteStore::open(&path, Catalog::of::<Resource>()).unwrap();
    // Update as create, then an update with the right If-Match.
    assert_eq!(store.update(&patient("One"), None).unwrap().version, 1);
    let two = store.update(&patient("Two"), Some(1)).unwrap();
    assert_eq!(two.version, 2);
    assert_eq!(store.read("Patient", "u1").unwrap().unwrap(), two);
    // A stale If-Match changes nothing.
    match store.update(&patient("Stale"), Some(1)) {
        Err(StoreError::VersionConflict { current: Some(2) }) => {}
        other => panic!("{other:?}"),
    }
    assert!(store
        .read("Patient", "u1")
        .unwrap()
        .unwrap()
        .body
        .contains("Two"));
    // The index rows are those of the current version only.
    let catalog = Catalog::of::<Resource>();
    let expected = index_rows(&patient("Two"), &catalog, None).unwrap().len();
    assert_eq!(store.index_row_count("Patient", "u1").unwrap(), expected);
    // Delete: gone from reads and from the index, kept in the history.
    assert_eq!(store.delete("Patient", "u1").unwrap(), Some(3));
    assert_eq!(store.delete("Patient", "u1").unwrap(), None);
    assert!(store.read("Patient", "u1").unwrap().is_none());
    assert_eq!(store.deleted_version("Patient", "u1").unwrap(), Some(3));
    assert_eq!(store.index_row_count("Patient", "u1").unwrap(), 0);
    let history = store.history("Patient", "u1").unwrap();
    let versions: Vec<(i64, bool)> = history.iter().map(|h| (h.0, h.2.is_some())).collect();
    assert_eq!(versions, [(3, false), (2, true), (1, true)]);
    assert!(history[2].2.as_deref().unwrap().contains("One"));
    // An update after a delete brings it back as a new version.
    assert_eq!(store.update(&patient("Back"), None).unwrap().version, 4);
    assert_eq!(store.deleted_version("Patient", "u1").unwrap(), None);
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[test]
fn concurrent_updates_with_if_match_lose_nothing() {
    let path = database("race");
    let mut store = SqliteStore::open(&path, Catalog::of::<Resource>()).unwrap();
    store.update(&patient("Start"), None).unwrap();
    // Eight writers on their own connections, each twenty times: read the version, then
    // update with If-Match; a conflict is retried with the new version. Every successful
    // write must be its own version: no two writers ever replace the same one.
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let path = path.clone();
            std::thread::spawn(move || {
                let mut store = SqliteStore::open(&path, Catalog::of::<Resource>()).unwrap();
                let mut won = Vec::new();
                for i in 0..20 {
                    loop {
                        let current = store.read("Patient", "u1").unwrap().unwrap().version;
                        match store.update(&patient(&format!("W{w}x{i}")), Some(current)) {
                            Ok(stored) => {
                                won.push(stored.version);
                                break;
                            }
                            Err(StoreError::VersionConflict { .. }) => continue,
                            Err(e) => panic!("{e}"),
                        }
                    }
                }
                won
            })
        })
        .collect();
    let mut versions: Vec<i64> = writers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    versions.sort_unstable();
    assert_eq!(versions, (2..=161).collect::<Vec<i64>>());
    assert_eq!(store.history("Patient", "u1").unwrap().len(), 161);
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[test]
fn type_and_system_history_since_and_count() {
    let path = database("history");
    let mut store = SqliteStore::open(&path, Catalog::of::<Resource>()).unwrap();
    let one = store.update(&patient("One"), None).unwrap();
    let mut org =
        Resource::from_json(r#"{"resourceType":"Organization","id":"o1","name":"Org"}"#).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2));
    store.create(&mut org).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2));
    let two = store.update(&patient("Two"), None).unwrap();
    store.delete("Organization", "o1").unwrap();
    let all = store.history_of(None, None, 100).unwrap();
    let seen: Vec<(&str, i64, bool)> = all
        .iter()
        .map(|h| (h.resource_type, h.version, h.body.is_some()))
        .collect();
    assert_eq!(
        seen,
        [
            ("Organization", 2, false),
            ("Patient", 2, true),
            ("Organization", 1, true),
            ("Patient", 1, true)
        ]
    );
    let patients = store.history_of(Some("Patient"), None, 100).unwrap();
    assert_eq!(
        patients.iter().map(|h| h.version).collect::<Vec<_>>(),
        [2, 1]
    );
    assert_eq!(patients[1].last_updated, one.last_updated);
    // _since: only what changed at that time or later; _count: the newest first.
    let since = store
        .history_of(Some("Patient"), Some(two.last_updated), 100)
        .unwrap();
    assert_eq!(since.iter().map(|h| h.version).collect::<Vec<_>>(), [2]);
    assert_eq!(store.history_of(None, None, 1).unwrap().len(), 1);
    assert!(store
        .history_of(Some("Basic"), None, 10)
        .unwrap()
        .is_empty());
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}
