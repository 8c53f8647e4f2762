//! The store on real databases, SQLite and PostgreSQL through the same tests: every
//! official R4 example with an id is stored with its index rows in one transaction and read
//! back as written; a taken id is refused; the schema is applied once, kept across opens, and
//! a database made with a different schema is refused; updates with If-Match lose nothing
//! with racing writers; history by instance, type and system with _since, _at and a count.

use fhir_model::r4::Resource;
use fhir_model::FhirResource;
use fhir_store::catalog::Catalog;
use fhir_store::db::Connection;
use fhir_store::rows::index_rows;
use fhir_store::store::{HistoryWindow, Method, Store, StoreError};
use fhir_tests::{json_resources, package};
use std::collections::HashSet;

/// A database of its own for one test, on one engine.
#[derive(Clone, Debug)]
enum Db {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

impl Db {
    fn open(&self) -> Result<Store, StoreError> {
        match self {
            Db::Sqlite(path) => Store::open_sqlite(path, Catalog::of::<Resource>()),
            Db::Postgres(url) => fhir_store::postgres::open(url, Catalog::of::<Resource>()),
        }
    }

    /// A plain connection, to change the database behind the store's back.
    fn raw(&self) -> Box<dyn Connection> {
        match self {
            Db::Sqlite(path) => Box::new(fhir_store::sqlite::SqliteConnection::open(path).unwrap()),
            Db::Postgres(url) => {
                Box::new(fhir_store::postgres::PgConnection::connect(url).unwrap())
            }
        }
    }

    fn remove(&self) {
        if let Db::Sqlite(path) = self {
            let _ = std::fs::remove_dir_all(path.parent().unwrap());
        }
    }
}

/// A fresh database named `name` on each engine.
fn databases(name: &str) -> Vec<Db> {
    let dir = std::env::temp_dir().join(format!("fhir-store-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    vec![
        Db::Sqlite(dir.join("fhir.db")),
        Db::Postgres(fhir_tests::postgres::server().database(name)),
    ]
}

#[test]
fn every_r4_example_is_stored_indexed_and_read_back() {
    for db in databases("examples") {
        every_example_on(&db);
        db.remove();
    }
}

fn every_example_on(db: &Db) {
    let store = db.open().unwrap();
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
                let back = store
                    .read_current(key.0, &id)
                    .unwrap()
                    .expect("just stored");
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
    assert!(store
        .read_current("Patient", "no-such-id")
        .unwrap()
        .is_none());
    // Reopened, the database keeps everything and applies no migration again.
    drop(store);
    let store = db.open().unwrap();
    let back = store.read_current("Patient", "example").unwrap().unwrap();
    assert!(back.body.contains("\"id\":\"example\""));
}

#[test]
fn a_taken_id_is_refused_and_leaves_nothing_behind() {
    for db in databases("taken") {
        let store = db.open().unwrap();
        let mut first = Resource::from_json(
            r#"{"resourceType":"Patient","id":"p1","name":[{"family":"First"}]}"#,
        )
        .unwrap();
        let mut second = Resource::from_json(
            r#"{"resourceType":"Patient","id":"p1","name":[{"family":"Second"},{"family":"Third"}]}"#,
        )
        .unwrap();
        store.create(&mut first).unwrap();
        let rows = store.index_row_count("Patient", "p1").unwrap();
        assert!(matches!(store.create(&mut second), Err(StoreError::Exists)));
        let back = store.read_current("Patient", "p1").unwrap().unwrap();
        assert!(back.body.contains("First") && !back.body.contains("Second"));
        assert_eq!(store.index_row_count("Patient", "p1").unwrap(), rows);
        // A resource without an id is given one, time-ordered.
        let mut ids = Vec::new();
        for _ in 0..3 {
            let mut new = Resource::from_json(r#"{"resourceType":"Patient"}"#).unwrap();
            let stored = store.create(&mut new).unwrap();
            assert_eq!(new.id(), Some(stored.id.as_str()));
            assert!(stored.body.contains(&format!("\"id\":\"{}\"", stored.id)));
            assert!(
                stored.body.contains("\"versionId\":\"1\""),
                "{}",
                stored.body
            );
            assert_eq!(stored.id.len(), 36);
            ids.push(stored.id);
        }
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, ids);
        db.remove();
    }
}

#[test]
fn a_database_of_another_schema_is_refused() {
    for db in databases("schema") {
        drop(db.open().unwrap());
        db.raw()
            .execute(
                "UPDATE schema_version SET checksum = 'other' WHERE version = 1",
                &[],
            )
            .unwrap();
        let error = db.open().err().unwrap();
        assert!(error.to_string().contains("migration 1 differs"), "{error}");
        db.remove();
    }
    for db in databases("future") {
        drop(db.open().unwrap());
        db.raw()
            .execute(
                "INSERT INTO schema_version VALUES (99, 0, 'from the future', 'x')",
                &[],
            )
            .unwrap();
        let error = db.open().err().unwrap();
        assert!(
            error
                .to_string()
                .contains("migration 99 is from a newer release"),
            "{error}"
        );
        db.remove();
    }
}

fn patient(family: &str) -> Resource {
    Resource::from_json(&format!(
        r#"{{"resourceType":"Patient","id":"u1","name":[{{"family":"{family}"}}]}}"#
    ))
    .unwrap()
}

#[test]
fn updates_version_and_reindex_and_deletes_keep_history() {
    for db in databases("update") {
        let store = db.open().unwrap();
        // Update as create, then an update with the right If-Match.
        let (one, created) = store
            .update(&mut patient("One"), None, Method::Update)
            .unwrap();
        assert_eq!((one.version, created), (1, true));
        let (two, created) = store
            .update(&mut patient("Two"), Some(1), Method::Update)
            .unwrap();
        assert_eq!((two.version, created), (2, false));
        assert_eq!(store.read_current("Patient", "u1").unwrap().unwrap(), two);
        // A stale If-Match changes nothing.
        match store.update(&mut patient("Stale"), Some(1), Method::Update) {
            Err(StoreError::VersionConflict { current: Some(2) }) => {}
            other => panic!("{other:?}"),
        }
        assert!(store
            .read_current("Patient", "u1")
            .unwrap()
            .unwrap()
            .body
            .contains("Two"));
        // The index rows are those of the current version only.
        let catalog = Catalog::of::<Resource>();
        let expected = index_rows(&patient("Two"), &catalog, None).unwrap().len();
        assert_eq!(store.index_row_count("Patient", "u1").unwrap(), expected);
        // Delete: a stale If-Match is refused; then gone from reads and from the index,
        // kept in the history.
        assert!(matches!(
            store.delete("Patient", "u1", Some(1)),
            Err(StoreError::VersionConflict { current: Some(2) })
        ));
        assert_eq!(store.delete("Patient", "u1", Some(2)).unwrap(), Some(3));
        assert_eq!(store.delete("Patient", "u1", None).unwrap(), None);
        assert!(store.read_current("Patient", "u1").unwrap().is_none());
        assert_eq!(store.deleted_version("Patient", "u1").unwrap(), Some(3));
        assert_eq!(store.index_row_count("Patient", "u1").unwrap(), 0);
        let history = store
            .history("Patient", "u1", HistoryWindow::default())
            .unwrap();
        let versions: Vec<(i64, Method, bool)> = history
            .iter()
            .map(|h| (h.version, h.method, h.body.is_some()))
            .collect();
        assert_eq!(
            versions,
            [
                (3, Method::Delete, false),
                (2, Method::Update, true),
                (1, Method::Update, true)
            ]
        );
        assert!(history[2].body.as_deref().unwrap().contains("One"));
        let v1 = store.read_version("Patient", "u1", 1).unwrap().unwrap();
        assert!(v1.body.unwrap().contains("\"versionId\":\"1\""));
        // An update after a delete brings it back as a new version.
        let (back, _) = store
            .update(&mut patient("Back"), None, Method::Update)
            .unwrap();
        assert_eq!(back.version, 4);
        assert_eq!(store.deleted_version("Patient", "u1").unwrap(), None);
        db.remove();
    }
}

#[test]
fn concurrent_updates_with_if_match_lose_nothing() {
    for db in databases("race") {
        let store = db.open().unwrap();
        store
            .update(&mut patient("Start"), None, Method::Update)
            .unwrap();
        // Eight writers on stores of their own, each twenty times: read the version, then
        // update with If-Match; a conflict is retried with the new version. Every successful
        // write must be its own version: no two writers ever replace the same one.
        let writers: Vec<_> = (0..8)
            .map(|w| {
                let db = db.clone();
                std::thread::spawn(move || {
                    let store = db.open().unwrap();
                    let mut won = Vec::new();
                    for i in 0..20 {
                        loop {
                            let current = store
                                .read_current("Patient", "u1")
                                .unwrap()
                                .unwrap()
                                .version;
                            let mut next = patient(&format!("W{w}x{i}"));
                            match store.update(&mut next, Some(current), Method::Update) {
                                Ok((stored, _)) => {
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
        let all = store
            .history("Patient", "u1", HistoryWindow::default())
            .unwrap();
        assert_eq!(all.len(), 161);
        // Without If-Match, racing writers are all applied, one after the other.
        let blind: Vec<_> = (0..8)
            .map(|w| {
                let db = db.clone();
                std::thread::spawn(move || {
                    let store = db.open().unwrap();
                    for i in 0..5 {
                        let mut next = patient(&format!("B{w}x{i}"));
                        store.update(&mut next, None, Method::Update).unwrap();
                    }
                })
            })
            .collect();
        for b in blind {
            b.join().unwrap();
        }
        let current = store.read_current("Patient", "u1").unwrap().unwrap();
        assert_eq!(current.version, 201);
        db.remove();
    }
}

#[test]
fn type_and_system_history_since_at_and_count() {
    for db in databases("history") {
        let store = db.open().unwrap();
        let (one, _) = store
            .update(&mut patient("One"), None, Method::Update)
            .unwrap();
        let mut org =
            Resource::from_json(r#"{"resourceType":"Organization","id":"o1","name":"Org"}"#)
                .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let org_created = store.create(&mut org).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let (two, _) = store
            .update(&mut patient("Two"), None, Method::Update)
            .unwrap();
        store.delete("Organization", "o1", None).unwrap();
        let window = |count| HistoryWindow {
            count,
            ..HistoryWindow::default()
        };
        let all = store.history_of(None, window(Some(100))).unwrap();
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
        let patients = store.history_of(Some("Patient"), window(None)).unwrap();
        assert_eq!(
            patients.iter().map(|h| h.version).collect::<Vec<_>>(),
            [2, 1]
        );
        assert_eq!(patients[1].last_updated, one.last_updated);
        // _since: only what changed at that time or later; a count: the newest first.
        let since = HistoryWindow {
            since: Some(two.last_updated),
            ..HistoryWindow::default()
        };
        let since = store.history_of(Some("Patient"), since).unwrap();
        assert_eq!(since.iter().map(|h| h.version).collect::<Vec<_>>(), [2]);
        assert_eq!(store.history_of(None, window(Some(1))).unwrap().len(), 1);
        assert!(store
            .history_of(Some("Basic"), window(Some(10)))
            .unwrap()
            .is_empty());
        // _at: the version current at that moment, the one before the second update.
        let at = HistoryWindow {
            at: Some((org_created.last_updated, org_created.last_updated + 1)),
            ..HistoryWindow::default()
        };
        let current_then = store.history("Patient", "u1", at).unwrap();
        assert_eq!(
            current_then.iter().map(|h| h.version).collect::<Vec<_>>(),
            [1]
        );
        db.remove();
    }
}

/// PostgreSQL's planner statistics are refreshed by the store after a bulk load (1,000
/// resources), not left to autovacuum: until then, they describe the tables empty.
#[test]
fn postgres_statistics_are_refreshed_after_a_bulk_load() {
    let db = Db::Postgres(fhir_tests::postgres::server().database("statistics"));
    let store = db.open().unwrap();
    let analyzed = |db: &Db| {
        let rows = db
            .raw()
            .query(
                "SELECT COUNT(*) FROM pg_stat_user_tables
                 WHERE relname = 'idx_string' AND last_analyze IS NOT NULL",
                &[],
            )
            .unwrap();
        fhir_store::db::one_i64(&rows) == Some(1)
    };
    let new_patient = |i: usize| {
        Resource::from_json(&format!(
            r#"{{"resourceType":"Patient","name":[{{"family":"Bulk{i}"}}]}}"#
        ))
        .unwrap()
    };
    store.begin().unwrap();
    for i in 0..999 {
        store.create(&mut new_patient(i)).unwrap();
    }
    store.commit().unwrap();
    assert!(!analyzed(&db), "analyzed before 1,000 writes");
    store.begin().unwrap();
    store.create(&mut new_patient(999)).unwrap();
    store.commit().unwrap();
    assert!(analyzed(&db), "not analyzed after 1,000 writes");
}

/// In a transaction, index rows are inserted together before anything reads and at the
/// commit: what the transaction wrote is found within it and after it, and nothing of a
/// rolled-back transaction is left to be inserted by the next.
#[test]
fn a_transaction_finds_what_it_wrote_and_a_rollback_leaves_nothing() {
    let query =
        |family: &str| fhir_rocket::search::parse_query(&format!("family={family}")).unwrap();
    for db in databases("pending") {
        let store = db.open().unwrap();
        let mut first =
            Resource::from_json(r#"{"resourceType":"Patient","name":[{"family":"Pending"}]}"#)
                .unwrap();
        store.begin().unwrap();
        store.create(&mut first).unwrap();
        assert_eq!(
            store.count("Patient", &query("Pending")).unwrap(),
            1,
            "{db:?}"
        );
        let mut second = first.clone();
        second.set_id(None);
        store.create(&mut second).unwrap();
        store.commit().unwrap();
        assert_eq!(
            store.count("Patient", &query("Pending")).unwrap(),
            2,
            "{db:?}"
        );

        let mut gone =
            Resource::from_json(r#"{"resourceType":"Patient","name":[{"family":"Rolledback"}]}"#)
                .unwrap();
        store.begin().unwrap();
        store.create(&mut gone).unwrap();
        store.rollback();
        store.begin().unwrap();
        store.commit().unwrap();
        assert_eq!(
            store.count("Patient", &query("Rolledback")).unwrap(),
            0,
            "{db:?}"
        );
        let id = gone.id().unwrap().to_string();
        assert_eq!(store.index_row_count("Patient", &id).unwrap(), 0, "{db:?}");

        // A resource written twice in one transaction keeps the rows of its last version
        // only: the first version's rows, kept back, never go in.
        let version = |family: &str| {
            Resource::from_json(&format!(
                r#"{{"resourceType":"Patient","id":"twice","name":[{{"family":"{family}"}}]}}"#
            ))
            .unwrap()
        };
        store.begin().unwrap();
        store
            .update(&mut version("Firstly"), None, Method::Update)
            .unwrap();
        store
            .update(&mut version("Secondly"), None, Method::Update)
            .unwrap();
        store.commit().unwrap();
        assert_eq!(
            store.count("Patient", &query("Firstly")).unwrap(),
            0,
            "{db:?}"
        );
        assert_eq!(
            store.count("Patient", &query("Secondly")).unwrap(),
            1,
            "{db:?}"
        );
        let expected = index_rows(&version("Secondly"), store.catalog(), None)
            .unwrap()
            .len();
        assert_eq!(
            store.index_row_count("Patient", "twice").unwrap(),
            expected,
            "{db:?}"
        );
        store.begin().unwrap();
        store
            .update(&mut version("Thirdly"), None, Method::Update)
            .unwrap();
        store.delete("Patient", "twice", None).unwrap();
        store.commit().unwrap();
        assert_eq!(
            store.count("Patient", &query("Thirdly")).unwrap(),
            0,
            "{db:?}"
        );
        assert_eq!(
            store.index_row_count("Patient", "twice").unwrap(),
            0,
            "{db:?}"
        );

        // A resource created with a server-assigned id is kept back with its history row;
        // updated and then deleted in the same transaction, every version is in its
        // history afterwards, each with its own body.
        let mut made =
            Resource::from_json(r#"{"resourceType":"Patient","name":[{"family":"Kept"}]}"#)
                .unwrap();
        let mut other = made.clone();
        store.begin().unwrap();
        store.create(&mut made).unwrap();
        store.create(&mut other).unwrap();
        let id = made.id().unwrap().to_string();
        let mut changed = Resource::from_json(&format!(
            r#"{{"resourceType":"Patient","id":"{id}","name":[{{"family":"Changed"}}]}}"#
        ))
        .unwrap();
        let (stored, created) = store.update(&mut changed, Some(1), Method::Update).unwrap();
        assert_eq!((stored.version, created), (2, false), "{db:?}");
        assert_eq!(
            store
                .delete("Patient", other.id().unwrap(), Some(1))
                .unwrap(),
            Some(2),
            "{db:?}"
        );
        store.commit().unwrap();
        let history = store
            .history("Patient", &id, HistoryWindow::default())
            .unwrap();
        let families: Vec<Option<String>> = history
            .iter()
            .map(|h| {
                h.body.as_deref().map(|b| {
                    let v: serde_json::Value = serde_json::from_str(b).unwrap();
                    v["name"][0]["family"].as_str().unwrap().to_string()
                })
            })
            .collect();
        assert_eq!(
            families,
            [Some("Changed".to_string()), Some("Kept".to_string())],
            "{db:?}"
        );
        let gone = store
            .history("Patient", other.id().unwrap(), HistoryWindow::default())
            .unwrap();
        assert_eq!(
            gone.iter()
                .map(|h| (h.version, h.method, h.body.is_some()))
                .collect::<Vec<_>>(),
            [(2, Method::Delete, false), (1, Method::Create, true)],
            "{db:?}"
        );
        assert_eq!(store.count("Patient", &query("Kept")).unwrap(), 0, "{db:?}");
        assert_eq!(
            store.count("Patient", &query("Changed")).unwrap(),
            1,
            "{db:?}"
        );
        // The rows kept back took numbers of their own: a resource created afterwards,
        // outside a transaction, is stored beside them and found.
        let mut after =
            Resource::from_json(r#"{"resourceType":"Patient","name":[{"family":"After"}]}"#)
                .unwrap();
        store.create(&mut after).unwrap();
        assert_eq!(
            store.count("Patient", &query("After")).unwrap(),
            1,
            "{db:?}"
        );
        db.remove();
    }
}

/// A transaction's new resources take row numbers reserved in blocks of 64: three blocks in
/// one transaction, a write outside any transaction between two transactions, and every
/// resource is stored once, read back and found.
#[test]
fn row_numbers_reserved_for_a_transaction_are_its_own() {
    let query = |text: &str| fhir_rocket::search::parse_query(text).unwrap();
    for db in databases("reserved") {
        let store = db.open().unwrap();
        let patient = |family: &str| {
            Resource::from_json(&format!(
                r#"{{"resourceType":"Patient","name":[{{"family":"{family}"}}]}}"#
            ))
            .unwrap()
        };
        let mut ids = Vec::new();
        for (round, size) in [(0, 150), (1, 70)] {
            store.begin().unwrap();
            for _ in 0..size {
                let mut p = patient(&format!("Block{round}"));
                store.create(&mut p).unwrap();
                ids.push(p.id().unwrap().to_string());
            }
            store.commit().unwrap();
            // Between the transactions, a create that takes its number from the database.
            store.create(&mut patient("Between")).unwrap();
        }
        assert_eq!(
            store.count("Patient", &query("family=Block0")).unwrap(),
            150,
            "{db:?}"
        );
        assert_eq!(
            store.count("Patient", &query("family=Block1")).unwrap(),
            70,
            "{db:?}"
        );
        assert_eq!(
            store.count("Patient", &query("family=Between")).unwrap(),
            2,
            "{db:?}"
        );
        for id in &ids {
            let read = store.read_current("Patient", id).unwrap();
            assert!(read.is_some_and(|r| r.version == 1), "{db:?}: {id}");
            assert_eq!(
                store
                    .history("Patient", id, HistoryWindow::default())
                    .unwrap()
                    .len(),
                1,
                "{db:?}: {id}"
            );
        }
        let mut raw = db.raw();
        let rows = raw
            .query("SELECT COUNT(*), COUNT(DISTINCT res_pk) FROM resource", &[])
            .unwrap();
        assert_eq!(rows[0][0], rows[0][1], "{db:?}");
        assert_eq!(rows[0][0].as_i64(), Some(222), "{db:?}");
        db.remove();
    }
}

#[test]
fn a_page_and_its_total_agree_whether_listed_or_counted_apart() {
    // Given names make a resource match `given=ann` through two rows: the list of index
    // rows has it twice, and the total counts it once.
    let people = [
        ("Chalmers", "female", r#"["Ann","Anna"]"#),
        ("Chalmerson", "male", r#"["Peter"]"#),
        ("Annaberg", "female", r#"["Anne"]"#),
        ("Windsor", "female", r#"["Eve","Annette"]"#),
        ("Abbott", "male", r#"["Ann"]"#),
        ("Zed", "female", r#"["Zoe"]"#),
        ("Chalk", "other", r#"["Annika","Ann"]"#),
    ];
    for db in databases("listing") {
        let store = db.open().unwrap();
        for (family, gender, given) in people {
            let mut p = Resource::from_json(&format!(
                r#"{{"resourceType":"Patient","gender":"{gender}","name":[{{"family":"{family}","given":{given}}}]}}"#
            ))
            .unwrap();
            store.create(&mut p).unwrap();
        }
        for (query, sort) in [
            ("given=ann", vec![]),
            ("given=ann", vec!["-family"]),
            ("family=chalm", vec![]),
            ("gender=female&given=ann", vec![]),
            ("gender=female,other", vec!["family"]),
            ("family=nobody", vec![]),
            ("", vec!["-_id"]),
        ] {
            let q = fhir_rocket::search::parse_query(query).unwrap();
            let sort: Vec<fhir_rocket::search::SortKey> = sort
                .iter()
                .map(|k| fhir_rocket::search::SortKey {
                    name: k.trim_start_matches('-').to_string(),
                    descending: k.starts_with('-'),
                })
                .collect();
            let planned = store.plan_search("Patient", &q, &sort).unwrap();
            let all = store.page_of(&planned, 0, 100).unwrap();
            let total = store.count_of(&planned).unwrap();
            assert_eq!(all.len(), total, "{db:?} {query}");
            let ids = |found: &[fhir_store::search::Found]| {
                found.iter().map(|f| f.id.clone()).collect::<Vec<_>>()
            };
            for max in [
                fhir_store::search::LISTED_MAX,
                total,
                total.saturating_sub(1),
                0,
            ] {
                store.set_listing_max(max);
                for (offset, count) in [(0, 2), (0, 3), (1, 2), (2, 10), (0, 100), (5, 1), (9, 3)] {
                    let (page, counted) = store.page_and_count(&planned, offset, count).unwrap();
                    assert_eq!(
                        counted, total,
                        "{db:?} {query} max {max} at {offset}+{count}"
                    );
                    let end = (offset + count).min(total);
                    let expected = ids(&all[offset.min(total)..end]);
                    assert_eq!(
                        ids(&page),
                        expected,
                        "{db:?} {query} max {max} at {offset}+{count}"
                    );
                }
            }
        }
        db.remove();
    }
}

/// A database that the release before migration 6 made and filled (its five migrations,
/// an Observation with a token row that keeps its system's text), opened by this one:
/// the systems are hashed, the rows keyed by their position, and every search on them,
/// by system alone included, answers as before; the rows are then replaced by an update.
#[test]
fn a_database_of_migration_5_is_upgraded_and_its_rows_still_match() {
    use fhir_store::hash::stable_hash;
    use fhir_store::schema::{Dialect, MIGRATIONS, SCHEMA_VERSION_TABLE};
    let catalog = Catalog::of::<Resource>();
    let res_type = catalog.resource_type("Observation").unwrap().res_type;
    let sp = catalog.definition("Observation", "code").unwrap().0.sp_id;
    let count = |store: &Store, q: &str| {
        store
            .count("Observation", &fhir_rocket::search::parse_query(q).unwrap())
            .unwrap()
    };
    for db in databases("upgrade") {
        let dialect = match db {
            Db::Sqlite(_) => Dialect::Sqlite,
            Db::Postgres(_) => Dialect::Postgres,
        };
        let mut conn = db.raw();
        conn.batch(SCHEMA_VERSION_TABLE).unwrap();
        for m in &MIGRATIONS[..5] {
            conn.batch(&m.sql(dialect)).unwrap();
            if m.version == 1 {
                for (name, t) in catalog.types() {
                    conn.execute(
                        "INSERT INTO resource_type (res_type, name) VALUES (?, ?)",
                        &[t.into(), name.into()],
                    )
                    .unwrap();
                }
                for (url, id) in catalog.params() {
                    conn.execute(
                        "INSERT INTO search_param (sp_id, url, kind) VALUES (?, ?, ?)",
                        &[id.sp_id.into(), url.into(), (id.kind as i16).into()],
                    )
                    .unwrap();
                }
            }
            conn.execute(
                "INSERT INTO schema_version VALUES (?, 0, ?, ?)",
                &[
                    m.version.into(),
                    m.description.into(),
                    m.checksum(dialect).into(),
                ],
            )
            .unwrap();
        }
        let body = r#"{"resourceType":"Observation","id":"o1","meta":{"versionId":"1","lastUpdated":"2024-01-01T00:00:00Z"},"status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}]}}"#;
        let pk = conn
            .query(
                "INSERT INTO resource (partition_id, res_type, fhir_id, version, last_updated, index_hash, body)
                 VALUES (0, ?, 'o1', 1, 1704067200000000, 0, ?) RETURNING res_pk",
                &[res_type.into(), body.into()],
            )
            .unwrap()[0][0]
            .as_i64()
            .unwrap();
        conn.execute(
            "INSERT INTO resource_history (partition_id, res_pk, version, res_type, fhir_id, last_updated, method)
             VALUES (0, ?, 1, ?, 'o1', 1704067200000000, 0)",
            &[pk.into(), res_type.into()],
        )
        .unwrap();
        let (system, code) = ("http://loinc.org", "8867-4");
        conn.execute(
            "INSERT INTO idx_token (partition_id, res_type, res_pk, sp_id, comp_group, comp_part, kind, system, code, text_norm, hash_sys_code, hash_code)
             VALUES (0, ?, ?, ?, NULL, NULL, 0, ?, ?, 'heart rate', ?, ?)",
            &[
                res_type.into(),
                pk.into(),
                sp.into(),
                system.into(),
                code.into(),
                stable_hash(&[&sp.to_be_bytes(), &0i16.to_be_bytes(), system.as_bytes(), code.as_bytes()]).into(),
                stable_hash(&[&sp.to_be_bytes(), &0i16.to_be_bytes(), code.as_bytes()]).into(),
            ],
        )
        .unwrap();
        drop(conn);

        let store = db.open().unwrap();
        assert_eq!(count(&store, "code=http://loinc.org|"), 1, "{db:?}");
        assert_eq!(count(&store, "code=http://snomed.info/sct|"), 0);
        assert_eq!(count(&store, "code=http://loinc.org|8867-4"), 1);
        assert_eq!(count(&store, "code=8867-4"), 1);
        assert_eq!(count(&store, "code:text=heart"), 1);
        let read = store.read_current("Observation", "o1").unwrap().unwrap();
        assert!(read.body.contains("8867-4"));
        // Its rows replaced whole by an update, in the new format.
        let mut second = Resource::from_json(
            r#"{"resourceType":"Observation","id":"o1","status":"final","code":{"coding":[{"system":"http://snomed.info/sct","code":"364075005"},{"system":"http://loinc.org","code":"8867-4"}]}}"#,
        )
        .unwrap();
        store.update(&mut second, Some(1), Method::Update).unwrap();
        assert_eq!(count(&store, "code=http://snomed.info/sct|"), 1);
        assert_eq!(count(&store, "code=http://loinc.org|"), 1);
        assert_eq!(count(&store, "code:text=heart"), 0);
        assert_eq!(
            store.index_row_count("Observation", "o1").unwrap(),
            index_rows(&second, &catalog, None).unwrap().len()
        );
        drop(store);
        db.remove();
    }
}
