//! The store: resources, their history and their index rows, written once for both engines
//! through [`Connection`]. Each write is one transaction holding the resource row, its
//! history row and its index rows; a transaction Bundle runs every entry in one database
//! transaction ([`Store::begin`]).

use crate::catalog::Catalog;
use crate::db::{one_i64, Connection, DbError, Row, Value};
use crate::hash::stable_hash;
use crate::pool::{Opener, Pool};
use crate::rows::{index_rows, IndexRow, IndexRows, RowError, RowKey};
use crate::schema::{Dialect, INDEX_TABLES, MIGRATIONS, SCHEMA_VERSION_TABLE};
use fhir_model::json::JsonValue;
use fhir_model::FhirResource;
use fhir_rocket::search::matcher::Searchable;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

/// What went wrong in the store.
#[derive(Debug)]
pub enum StoreError {
    /// The database failed.
    Database(DbError),
    /// The resource could not be indexed.
    Rows(RowError),
    /// The database was made by a different definition of a migration, or by a newer release.
    Schema(String),
    /// The resource to write has no id.
    NoId,
    /// The resource already exists (a create of an id that is taken).
    Exists,
    /// `If-Match` named another version than the current one (or the resource does not
    /// exist): the write is refused, nothing changes.
    VersionConflict {
        /// The current version, if there is one.
        current: Option<i64>,
    },
    /// The search cannot be answered as asked (a 400 naming what).
    Search(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Database(e) => write!(f, "database: {e}"),
            StoreError::Rows(e) => e.fmt(f),
            StoreError::Schema(e) => write!(f, "schema: {e}"),
            StoreError::NoId => f.write_str("the resource has no id"),
            StoreError::Exists => f.write_str("a resource with this id exists"),
            StoreError::VersionConflict { current: Some(v) } => {
                write!(f, "the current version is {v}")
            }
            StoreError::VersionConflict { current: None } => {
                f.write_str("the resource does not exist")
            }
            StoreError::Search(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<DbError> for StoreError {
    fn from(e: DbError) -> Self {
        StoreError::Database(e)
    }
}

impl From<RowError> for StoreError {
    fn from(e: RowError) -> Self {
        StoreError::Rows(e)
    }
}

/// A stored version of a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The id.
    pub id: String,
    /// `meta.versionId`
    pub version: i64,
    /// `meta.lastUpdated`, in microseconds since the epoch.
    pub last_updated: i64,
    /// The resource's JSON, with its `meta.versionId` and `meta.lastUpdated`.
    pub body: String,
}

/// One version in a history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// The resource type.
    pub resource_type: &'static str,
    /// The id.
    pub id: String,
    /// The version.
    pub version: i64,
    /// When, in microseconds since the epoch.
    pub last_updated: i64,
    /// How the version was made.
    pub method: Method,
    /// The JSON, `None` for a deletion.
    pub body: Option<String>,
}

/// How a version was made (`resource_history.method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i16)]
pub enum Method {
    /// POST
    Create = 1,
    /// PUT
    Update = 2,
    /// PATCH
    Patch = 3,
    /// DELETE
    Delete = 4,
}

impl Method {
    fn from_code(code: i64) -> Method {
        match code {
            1 => Method::Create,
            3 => Method::Patch,
            4 => Method::Delete,
            _ => Method::Update,
        }
    }
}

/// What a history asks for beyond the resources: `_since`, `_at` and how many.
#[derive(Debug, Clone, Copy, Default)]
pub struct HistoryWindow {
    /// Only versions made at or after this time (microseconds).
    pub since: Option<i64>,
    /// Only the versions current at some point in `[at.0, at.1)` (microseconds): made before
    /// its end, and not replaced before its start.
    pub at: Option<(i64, i64)>,
    /// At most this many, newest first.
    pub count: Option<usize>,
}

/// The database of one FHIR version, in one partition, on SQLite or PostgreSQL.
pub struct Store {
    catalog: Catalog,
    partition: i32,
    dialect: Dialect,
    writers: Pool,
    readers: Pool,
    /// The connection of the transaction Bundle in progress: while it runs, the server lets
    /// no other request in, so every operation runs on it and sees its writes.
    active: Mutex<Option<Box<dyn Connection>>>,
    /// The rows the transaction in progress wrote, not inserted yet (its new resources,
    /// their history, the index rows): they go in together, many rows per statement,
    /// before anything in the transaction reads or changes a row, and at its commit (see
    /// [`Store::flush`]).
    pending: Mutex<Kept>,
    /// Resources written since the store opened, and that count when PostgreSQL's
    /// statistics were last refreshed (see [`Store::refresh_statistics`]).
    written: AtomicU64,
    analyzed_at: AtomicU64,
    /// See [`Store::set_listing_max`].
    listing_max: AtomicUsize,
}

impl Store {
    /// Opens or creates the SQLite database at `path` and brings its schema up to date. One
    /// connection writes (SQLite has one writer at a time); four read.
    pub fn open_sqlite(path: &Path, catalog: Catalog) -> Result<Store, StoreError> {
        let opener = |path: std::path::PathBuf, writer: bool| -> Opener {
            Box::new(move || {
                let conn = if writer {
                    crate::sqlite::SqliteConnection::open_writer(&path)
                } else {
                    crate::sqlite::SqliteConnection::open(&path)
                };
                conn.map(|c| Box::new(c) as Box<dyn Connection>)
            })
        };
        let store = Store {
            catalog,
            partition: 0,
            dialect: Dialect::Sqlite,
            writers: Pool::new(1, opener(path.to_path_buf(), true)),
            readers: Pool::new(4, opener(path.to_path_buf(), false)),
            active: Mutex::new(None),
            pending: Mutex::new(Kept::default()),
            written: AtomicU64::new(0),
            analyzed_at: AtomicU64::new(0),
            listing_max: AtomicUsize::new(crate::search::LISTED_MAX),
        };
        store.migrate()?;
        Ok(store)
    }

    /// A store over connections made by `open`, of `dialect`: `writers` connections write,
    /// `readers` read. The schema is brought up to date.
    pub fn open_with(
        dialect: Dialect,
        catalog: Catalog,
        (writers, readers): (Pool, Pool),
    ) -> Result<Store, StoreError> {
        let store = Store {
            catalog,
            partition: 0,
            dialect,
            writers,
            readers,
            active: Mutex::new(None),
            pending: Mutex::new(Kept::default()),
            written: AtomicU64::new(0),
            analyzed_at: AtomicU64::new(0),
            listing_max: AtomicUsize::new(crate::search::LISTED_MAX),
        };
        store.migrate()?;
        Ok(store)
    }

    /// A body as this store's engine keeps it: packed on SQLite ([`crate::body`]); text on
    /// PostgreSQL, which compresses large values itself.
    fn body_value(&self, json: &str) -> Value {
        match self.dialect {
            Dialect::Sqlite => Value::Blob(crate::body::pack(json)),
            Dialect::Postgres => Value::Text(json.to_string()),
        }
    }

    /// How many connections it opens at most, to read and to write.
    pub fn connections(&self) -> usize {
        self.readers.max() + self.writers.max()
    }

    /// How many matches a search with a total lists at most to count them and take its page
    /// from the list ([`crate::search::LISTED_MAX`] unless set); past it, the page and the
    /// count are read apart. More takes more memory per search and saves a statement.
    pub fn set_listing_max(&self, max: usize) {
        self.listing_max.store(max, Ordering::Relaxed);
    }

    pub(crate) fn listing_max(&self) -> usize {
        self.listing_max.load(Ordering::Relaxed)
    }

    /// The catalog the store numbers with.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The engine.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The partition every key starts with.
    pub fn partition(&self) -> i32 {
        self.partition
    }

    /// Runs `work` in a write transaction: the one in progress, or a new one committed when
    /// `work` succeeds. A conflict with another writer (PostgreSQL) is retried.
    pub fn write<T>(
        &self,
        mut work: impl FnMut(&mut dyn Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.written.fetch_add(1, Ordering::Relaxed);
        if let Some(conn) = self.lock_active().as_deref_mut() {
            return work(conn);
        }
        let mut attempt = 0;
        loop {
            let mut pooled = self.writers.get()?;
            let conn = pooled.conn();
            conn.begin_write()?;
            let result = work(conn).and_then(|value| {
                conn.commit()?;
                Ok(value)
            });
            match result {
                Ok(value) => {
                    drop(pooled);
                    self.refresh_statistics();
                    return Ok(value);
                }
                Err(e) => {
                    conn.rollback();
                    let conflict = matches!(&e, StoreError::Database(d) if d.conflict);
                    attempt += 1;
                    if !conflict || attempt >= 5 {
                        return Err(e);
                    }
                    std::thread::sleep(std::time::Duration::from_millis(5 << attempt));
                }
            }
        }
    }

    /// Runs `work` on a read connection, over one snapshot (or in the transaction in
    /// progress).
    pub fn read<T>(
        &self,
        work: impl FnOnce(&mut dyn Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.on_reader(|conn, in_transaction| {
            if in_transaction {
                return work(conn);
            }
            conn.begin_read()?;
            let result = work(conn);
            match &result {
                Ok(_) => conn.commit()?,
                Err(_) => conn.rollback(),
            }
            result
        })
    }

    /// Runs `work`, which reads with one statement: in its own snapshot, without a
    /// transaction around it (on PostgreSQL, two round trips fewer than [`Store::read`]: a
    /// read by id answered 1.7 times as many requests), or in the transaction Bundle in
    /// progress.
    pub(crate) fn read_alone<T>(
        &self,
        work: impl FnOnce(&mut dyn Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.on_reader(|conn, _| work(conn))
    }

    /// Runs `work` on the connection of the transaction Bundle in progress, its kept-back
    /// rows inserted first (`true`), or else on a pooled reader (`false`).
    fn on_reader<T>(
        &self,
        work: impl FnOnce(&mut dyn Connection, bool) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if let Some(conn) = self.lock_active().as_deref_mut() {
            self.flush(conn)?;
            return work(conn, true);
        }
        let mut pooled = self.readers.get()?;
        work(pooled.conn(), false)
    }

    /// Whether a transaction started by [`Store::begin`] is in progress.
    pub fn in_transaction(&self) -> bool {
        self.lock_active().is_some()
    }

    /// Inserts the rows the transaction in progress has kept back: new resources, history,
    /// index rows.
    fn flush(&self, conn: &mut dyn Connection) -> Result<(), StoreError> {
        let rows = std::mem::take(&mut self.kept().rows);
        insert_many(conn, "resource", RESOURCE_COLUMNS, rows.created)?;
        insert_many(conn, "resource_history", HISTORY_COLUMNS, rows.history)?;
        insert_rows(conn, self.partition, &rows.indexed)
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A row number for a new resource of the transaction in progress, taken from a block
    /// reserved for it: on PostgreSQL from the identity's sequence, 64 at a time (numbers
    /// of a block left unused are a gap, as a rolled-back insert leaves); on SQLite, the
    /// one writer, the numbers after the largest in the table.
    fn reserve_pk(&self, conn: &mut dyn Connection) -> Result<i64, StoreError> {
        if let Some(pk) = self.kept().reserved.pop() {
            return Ok(pk);
        }
        let mut block: Vec<i64> = match conn.dialect() {
            Dialect::Postgres => conn
                .query(
                    "SELECT nextval(pg_get_serial_sequence('resource', 'res_pk')) FROM generate_series(1, 64)",
                    &[],
                )?
                .iter()
                .map(|row| int(row, 0))
                .collect(),
            Dialect::Sqlite => {
                // The table's largest does not count the rows kept back yet.
                let largest = conn
                    .query("SELECT COALESCE(MAX(res_pk), 0) FROM resource", &[])?
                    .first()
                    .map_or(0, |row| int(row, 0))
                    .max(self.kept().last_reserved);
                (largest + 1..=largest + 64).collect()
            }
        };
        let mut kept = self.kept();
        kept.last_reserved = block.iter().copied().fold(kept.last_reserved, i64::max);
        // Popped smallest first, so rows go in in the order they were written.
        block.sort_unstable_by(|a, b| b.cmp(a));
        let pk = block.pop().expect("64 numbers");
        kept.reserved = block;
        Ok(pk)
    }

    /// The index rows of a resource just written by `conn`: inserted now, or, in a
    /// transaction Bundle (`in_transaction`, asked before the write: the transaction's
    /// connection is locked while it runs), kept for [`Store::flush`]. A Synthea Bundle's
    /// 300 resources then take a few hundred `INSERT`s instead of thousands, which on
    /// PostgreSQL are as many round trips.
    fn put_rows(
        &self,
        conn: &mut dyn Connection,
        in_transaction: bool,
        res_type: i16,
        res_pk: i64,
        rows: &mut Option<IndexRows>,
    ) -> Result<(), StoreError> {
        let Some(rows_now) = rows.take() else {
            return Ok(());
        };
        let resource = Pending {
            res_type,
            res_pk,
            rows: rows_now,
        };
        if in_transaction {
            self.kept().rows.indexed.push(resource);
            return Ok(());
        }
        let result = insert_rows(conn, self.partition, std::slice::from_ref(&resource));
        // A write outside a transaction may be tried again, with the same rows.
        *rows = Some(resource.rows);
        result
    }

    /// Records a new version in the history, without its body (while it is the current
    /// version its body is the resource row's): now, or in a transaction Bundle kept for
    /// [`Store::flush`] with the index rows, so that a Bundle's creates take one `INSERT` of
    /// history rows per few hundred instead of one each.
    #[allow(clippy::too_many_arguments)]
    fn put_history(
        &self,
        conn: &mut dyn Connection,
        in_transaction: bool,
        res_pk: i64,
        version: i64,
        res_type: i16,
        id: &str,
        last_updated: i64,
        method: Method,
    ) -> Result<(), StoreError> {
        let row = vec![
            self.partition.into(),
            res_pk.into(),
            version.into(),
            res_type.into(),
            id.into(),
            last_updated.into(),
            (method as i16).into(),
        ];
        if in_transaction {
            self.kept().rows.history.push(row);
            return Ok(());
        }
        insert_many(conn, "resource_history", HISTORY_COLUMNS, vec![row])
    }

    fn lock_active(&self) -> std::sync::MutexGuard<'_, Option<Box<dyn Connection>>> {
        self.active.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a transaction that every following operation joins until [`Store::commit`] or
    /// [`Store::rollback`]. The caller lets no other request in meanwhile.
    pub fn begin(&self) -> Result<(), StoreError> {
        let mut active = self.lock_active();
        if active.is_some() {
            return Err(StoreError::Schema(
                "a transaction is already running".into(),
            ));
        }
        // The writer connection is held for the whole transaction: a pool of one (SQLite)
        // has no other to give meanwhile, so it is moved out of the pool and back.
        let mut conn = (self.writers_open())?;
        conn.begin_write()?;
        *self.kept() = Kept::default();
        *active = Some(conn);
        Ok(())
    }

    fn writers_open(&self) -> Result<Box<dyn Connection>, StoreError> {
        let mut pooled = self.writers.get()?;
        Ok(pooled.take())
    }

    /// Commits the transaction in progress.
    pub fn commit(&self) -> Result<(), StoreError> {
        let conn = self.lock_active().take();
        let Some(mut conn) = conn else {
            return Ok(());
        };
        let result = self.flush(conn.as_mut()).and_then(|()| Ok(conn.commit()?));
        if result.is_err() {
            conn.rollback();
        }
        self.writers.put_back(conn);
        result?;
        self.refresh_statistics();
        Ok(())
    }

    /// On PostgreSQL, `ANALYZE` each time the resources written since the store opened
    /// reach 1,000, then double. Right after a bulk load into new tables, PostgreSQL's
    /// statistics still describe them empty until autovacuum comes by (within a minute or
    /// so), and its plans meanwhile walk every row: ten searches a second instead of
    /// thousands. The doubling keeps the statistics close during a load, for a few
    /// `ANALYZE`s in all (PostgreSQL samples a fixed number of rows per table).
    fn refresh_statistics(&self) {
        if self.dialect != Dialect::Postgres {
            return;
        }
        let written = self.written.load(Ordering::Relaxed);
        let last = self.analyzed_at.load(Ordering::Relaxed);
        if written < 1000 || written < last.saturating_mul(2) {
            return;
        }
        // One thread runs it; the others go on.
        if self
            .analyzed_at
            .compare_exchange(last, written, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            return;
        }
        if let Ok(mut pooled) = self.readers.get() {
            // Statistics only steer plans: a failure here changes no answer.
            let _ = pooled.conn().batch("ANALYZE");
        }
    }

    /// Rolls back the transaction in progress.
    pub fn rollback(&self) {
        *self.kept() = Kept::default();
        if let Some(mut conn) = self.lock_active().take() {
            conn.rollback();
            self.writers.put_back(conn);
        }
    }

    /// Applies the migrations the database lacks, each in its own transaction with its
    /// record, and checks the recorded ones are the migrations of this release.
    fn migrate(&self) -> Result<(), StoreError> {
        let dialect = self.dialect;
        let mut pooled = self.writers.get()?;
        let conn = pooled.conn();
        conn.batch(SCHEMA_VERSION_TABLE)?;
        let applied: Vec<(i64, String)> = conn
            .query(
                "SELECT version, checksum FROM schema_version ORDER BY version",
                &[],
            )?
            .into_iter()
            .map(|r| (int(&r, 0), text(&r, 1)))
            .collect();
        for (version, checksum) in &applied {
            let Some(m) = MIGRATIONS.iter().find(|m| i64::from(m.version) == *version) else {
                return Err(StoreError::Schema(format!(
                    "migration {version} is from a newer release"
                )));
            };
            if m.checksum(dialect) != *checksum {
                return Err(StoreError::Schema(format!(
                    "migration {version} differs from this release's"
                )));
            }
        }
        for m in MIGRATIONS
            .iter()
            .filter(|m| !applied.iter().any(|a| a.0 == i64::from(m.version)))
        {
            conn.begin_write()?;
            let result = (|| -> Result<(), StoreError> {
                // Another process may have applied it meanwhile.
                let done = conn.query(
                    "SELECT 1 FROM schema_version WHERE version = ?",
                    &[m.version.into()],
                )?;
                if !done.is_empty() {
                    return Ok(());
                }
                conn.batch(&m.sql(dialect))?;
                if m.version == crate::schema::FILLS_SYSTEM_HASHES {
                    fill_system_hashes(conn)?;
                }
                if m.version == 1 {
                    for (name, res_type) in self.catalog.types() {
                        conn.execute(
                            "INSERT INTO resource_type (res_type, name) VALUES (?, ?)",
                            &[res_type.into(), name.into()],
                        )?;
                    }
                    for (url, id) in self.catalog.params() {
                        conn.execute(
                            "INSERT INTO search_param (sp_id, url, kind) VALUES (?, ?, ?)",
                            &[id.sp_id.into(), url.into(), (id.kind as i16).into()],
                        )?;
                    }
                }
                conn.execute(
                    "INSERT INTO schema_version (version, applied_at, description, checksum) VALUES (?, ?, ?, ?)",
                    &[
                        m.version.into(),
                        now_us().into(),
                        m.description.into(),
                        m.checksum(dialect).into(),
                    ],
                )?;
                Ok(())
            })();
            match result {
                Ok(()) => conn.commit()?,
                Err(e) => {
                    conn.rollback();
                    return Err(e);
                }
            }
        }
        // The numbers the database was made with are this release's.
        for r in conn.query("SELECT res_type, name FROM resource_type", &[])? {
            let (res_type, name) = (int(&r, 0), text(&r, 1));
            if self.catalog.type_name(res_type as i16) != Some(name.as_str()) {
                return Err(StoreError::Schema(format!(
                    "resource type {res_type} is {name} in the database, not in this release"
                )));
            }
        }
        Ok(())
    }

    fn res_type(&self, name: &str) -> Option<i16> {
        self.catalog.resource_type(name).map(|t| t.res_type)
    }

    /// Stores a new resource as version 1, with its index rows, in one transaction. A
    /// resource without an id is given one (a UUIDv7: time-ordered, so new rows land at
    /// the end of the id index); [`StoreError::Exists`] if its id is taken. The resource's
    /// `meta.versionId` and `meta.lastUpdated` are set to what was stored.
    pub fn create<R>(&self, resource: &mut R) -> Result<Stored, StoreError>
    where
        R: Searchable + FhirResource + JsonValue,
    {
        let assigned = resource.id().is_none();
        if assigned {
            resource.set_id(Some(uuid::Uuid::now_v7().to_string()));
        }
        let id = resource.id().ok_or(StoreError::NoId)?.to_string();
        let mut rows = Some(index_rows(resource, &self.catalog, None)?);
        let in_transaction = self.in_transaction();
        let res_type = self
            .res_type(resource.resource_type())
            .expect("index_rows knows the type");
        let last_updated = now_us();
        stamp(resource, 1, last_updated);
        let body = fhir_model::json::to_string(resource);
        let partition = self.partition;
        self.write(|conn| {
            // In a transaction Bundle, a resource with an id of its own (a UUIDv7, which no
            // other resource has) goes in with the Bundle's other rows at the flush: one
            // `INSERT` per 64 resources rather than one each, round trips on PostgreSQL.
            // An id that came with the resource is checked now.
            let res_pk = if in_transaction && assigned {
                let res_pk = self.reserve_pk(conn)?;
                let row = vec![
                    res_pk.into(),
                    partition.into(),
                    res_type.into(),
                    id.as_str().into(),
                    1i64.into(),
                    last_updated.into(),
                    0i64.into(),
                    self.body_value(&body),
                ];
                self.kept().rows.created.push(row);
                res_pk
            } else {
                let inserted = conn.query(
                    "INSERT INTO resource (partition_id, res_type, fhir_id, version, last_updated, index_hash, body)
                     VALUES (?, ?, ?, 1, ?, 0, ?) ON CONFLICT DO NOTHING RETURNING res_pk",
                    &[partition.into(), res_type.into(), id.as_str().into(), last_updated.into(), self.body_value(&body)],
                )?;
                one_i64(&inserted).ok_or(StoreError::Exists)?
            };
            self.put_history(conn, in_transaction, res_pk, 1, res_type, &id, last_updated, Method::Create)?;
            self.put_rows(conn, in_transaction, res_type, res_pk, &mut rows)?;
            Ok(())
        })?;
        Ok(Stored {
            id,
            version: 1,
            last_updated,
            body,
        })
    }

    /// Stores a new version of a resource (or its first, when the id is new: update as
    /// create), with its index rows replaced, in one transaction. With `if_match`, the write
    /// happens only if that is the current version; without, the version read in the
    /// transaction is the one replaced. Either way the `UPDATE` checks the version it
    /// replaces, so no update is ever lost. Whether it was created, and what was stored.
    pub fn update<R>(
        &self,
        resource: &mut R,
        if_match: Option<i64>,
        method: Method,
    ) -> Result<(Stored, bool), StoreError>
    where
        R: Searchable + FhirResource + JsonValue,
    {
        let id = resource.id().ok_or(StoreError::NoId)?.to_string();
        let mut rows = Some(index_rows(resource, &self.catalog, None)?);
        let in_transaction = self.in_transaction();
        let res_type = self
            .res_type(resource.resource_type())
            .expect("index_rows knows the type");
        let partition = self.partition;
        self.write(|conn| {
            // What the transaction kept back goes in first: the version replaced may be
            // one of its history rows, and its index rows are about to be deleted.
            if in_transaction {
                self.flush(conn)?;
            }
            let last_updated = now_us();
            let current = conn.query(
                &locked(
                    conn,
                    "SELECT res_pk, version FROM resource WHERE partition_id = ? AND res_type = ? AND fhir_id = ?",
                ),
                &[partition.into(), res_type.into(), id.as_str().into()],
            )?;
            let current = current.first().map(|r| (int(r, 0), int(r, 1)));
            if let Some(wanted) = if_match {
                if current.map(|c| c.1) != Some(wanted) {
                    return Err(StoreError::VersionConflict {
                        current: current.map(|c| c.1),
                    });
                }
            }
            let version = current.map_or(1, |c| c.1 + 1);
            stamp(resource, version, last_updated);
            let body = fhir_model::json::to_string(resource);
            let res_pk = match current {
                None => {
                    let inserted = conn.query(
                        "INSERT INTO resource (partition_id, res_type, fhir_id, version, last_updated, index_hash, body)
                         VALUES (?, ?, ?, 1, ?, 0, ?) ON CONFLICT DO NOTHING RETURNING res_pk",
                        &[partition.into(), res_type.into(), id.as_str().into(), last_updated.into(), self.body_value(&body)],
                    )?;
                    // Created meanwhile by another writer: without If-Match, the write
                    // is tried again over it; with, the version it names is gone.
                    one_i64(&inserted).ok_or_else(|| lost_race(if_match))?
                }
                Some((res_pk, old)) => {
                    keep_in_history(conn, partition, res_pk, old)?;
                    let changed = conn.execute(
                        "UPDATE resource SET version = ?, last_updated = ?, deleted = 0, body = ?
                         WHERE partition_id = ? AND res_pk = ? AND version = ?",
                        &[version.into(), last_updated.into(), self.body_value(&body), partition.into(), res_pk.into(), old.into()],
                    )?;
                    if changed != 1 {
                        return Err(lost_race(if_match));
                    }
                    delete_rows(conn, partition, res_pk)?;
                    res_pk
                }
            };
            // The history says what the request was: a PUT that created is a PUT.
            self.put_history(conn, in_transaction, res_pk, version, res_type, &id, last_updated, method)?;
            self.put_rows(conn, in_transaction, res_type, res_pk, &mut rows)?;
            Ok((
                Stored {
                    id: id.clone(),
                    version,
                    last_updated,
                    body,
                },
                current.is_none(),
            ))
        })
    }

    /// Deletes a resource: a new version without a body, its index rows removed, so no
    /// search finds it; its history stays. The new version, or `None` when there was nothing
    /// to delete (unknown, or already deleted). With `if_match`, only that version is
    /// deleted ([`StoreError::VersionConflict`] otherwise).
    pub fn delete(
        &self,
        resource_type: &str,
        id: &str,
        if_match: Option<i64>,
    ) -> Result<Option<i64>, StoreError> {
        let Some(res_type) = self.res_type(resource_type) else {
            return Ok(None);
        };
        let partition = self.partition;
        let in_transaction = self.in_transaction();
        self.write(|conn| {
            // As in `update`: the kept-back rows go in before any is changed or deleted.
            if in_transaction {
                self.flush(conn)?;
            }
            let current = conn.query(
                &locked(
                    conn,
                    "SELECT res_pk, version FROM resource
                     WHERE partition_id = ? AND res_type = ? AND fhir_id = ? AND deleted = 0",
                ),
                &[partition.into(), res_type.into(), id.into()],
            )?;
            let current = current.first().map(|r| (int(r, 0), int(r, 1)));
            if let Some(wanted) = if_match {
                if current.map(|c| c.1) != Some(wanted) {
                    return Err(StoreError::VersionConflict {
                        current: current.map(|c| c.1),
                    });
                }
            }
            let Some((res_pk, old)) = current else {
                return Ok(None);
            };
            let last_updated = now_us();
            keep_in_history(conn, partition, res_pk, old)?;
            let changed = conn.execute(
                "UPDATE resource SET version = ?, last_updated = ?, deleted = 1, body = NULL
                 WHERE partition_id = ? AND res_pk = ? AND version = ?",
                &[
                    (old + 1).into(),
                    last_updated.into(),
                    partition.into(),
                    res_pk.into(),
                    old.into(),
                ],
            )?;
            if changed != 1 {
                return Err(lost_race(if_match));
            }
            self.put_history(
                conn,
                in_transaction,
                res_pk,
                old + 1,
                res_type,
                id,
                last_updated,
                Method::Delete,
            )?;
            delete_rows(conn, partition, res_pk)?;
            Ok(Some(old + 1))
        })
    }

    /// The current version of a resource, if it exists and is not deleted.
    pub fn read_current(
        &self,
        resource_type: &str,
        id: &str,
    ) -> Result<Option<Stored>, StoreError> {
        let Some(res_type) = self.res_type(resource_type) else {
            return Ok(None);
        };
        let partition = self.partition;
        let rows = self.read_alone(|conn| {
            Ok(conn.query(
                "SELECT version, last_updated, body FROM resource
                 WHERE partition_id = ? AND res_type = ? AND fhir_id = ? AND deleted = 0",
                &[partition.into(), res_type.into(), id.into()],
            )?)
        })?;
        rows.into_iter()
            .next()
            .map(|mut r| {
                Ok(Stored {
                    id: id.to_string(),
                    version: int(&r, 0),
                    last_updated: int(&r, 1),
                    body: take_body(&mut r, 2)?,
                })
            })
            .transpose()
    }

    /// The version of a deleted resource's deletion (what a read answers with 410), or
    /// `None` when the resource is not deleted or unknown.
    pub fn deleted_version(
        &self,
        resource_type: &str,
        id: &str,
    ) -> Result<Option<i64>, StoreError> {
        let Some(res_type) = self.res_type(resource_type) else {
            return Ok(None);
        };
        let partition = self.partition;
        let rows = self.read_alone(|conn| {
            Ok(conn.query(
                "SELECT version FROM resource
                 WHERE partition_id = ? AND res_type = ? AND fhir_id = ? AND deleted = 1",
                &[partition.into(), res_type.into(), id.into()],
            )?)
        })?;
        Ok(one_i64(&rows))
    }

    /// One version of a resource: `None` when there is no such version, `Some(None)` when
    /// that version is a deletion.
    pub fn read_version(
        &self,
        resource_type: &str,
        id: &str,
        version: i64,
    ) -> Result<Option<HistoryEntry>, StoreError> {
        Ok(self
            .history(resource_type, id, HistoryWindow::default())?
            .into_iter()
            .find(|h| h.version == version))
    }

    /// The versions of a resource, newest first, within `window`.
    pub fn history(
        &self,
        resource_type: &str,
        id: &str,
        window: HistoryWindow,
    ) -> Result<Vec<HistoryEntry>, StoreError> {
        let Some(res_type) = self.res_type(resource_type) else {
            return Ok(Vec::new());
        };
        let partition = self.partition;
        let (filter, mut params) = window_filter(window);
        let mut all = vec![partition.into(), res_type.into(), id.into()];
        all.append(&mut params);
        let sql = format!(
            "SELECT h.res_type, h.fhir_id, h.version, h.last_updated, h.method, {HISTORY_BODY}, h.res_pk FROM resource_history h
             JOIN resource r ON r.partition_id = h.partition_id AND r.res_pk = h.res_pk
             WHERE r.partition_id = ? AND r.res_type = ? AND r.fhir_id = ?{filter}
             ORDER BY h.version DESC{}",
            limit(window.count)
        );
        let rows = self.read_alone(|conn| Ok(conn.query(&sql, &all)?))?;
        self.history_entries(rows)
    }

    /// The history of a type (`Some`) or of the whole server (`None`), newest first, within
    /// `window`.
    pub fn history_of(
        &self,
        resource_type: Option<&str>,
        window: HistoryWindow,
    ) -> Result<Vec<HistoryEntry>, StoreError> {
        let mut all: Vec<Value> = vec![self.partition.into()];
        let mut type_filter = "";
        if let Some(name) = resource_type {
            match self.res_type(name) {
                Some(t) => all.push(t.into()),
                None => return Ok(Vec::new()),
            }
            type_filter = " AND h.res_type = ?";
        }
        let (filter, mut params) = window_filter(window);
        all.append(&mut params);
        let sql = format!(
            "SELECT h.res_type, h.fhir_id, h.version, h.last_updated, h.method, {HISTORY_BODY}, h.res_pk FROM resource_history h
             LEFT JOIN resource r ON r.partition_id = h.partition_id AND r.res_pk = h.res_pk
             WHERE h.partition_id = ?{type_filter}{filter}
             ORDER BY h.last_updated DESC, h.res_pk DESC, h.version DESC{}",
            limit(window.count)
        );
        let rows = self.read_alone(|conn| Ok(conn.query(&sql, &all)?))?;
        self.history_entries(rows)
    }

    fn history_entries(&self, rows: Vec<Row>) -> Result<Vec<HistoryEntry>, StoreError> {
        rows.into_iter()
            .map(|mut r| {
                let t = int(&r, 0) as i16;
                let resource_type = self.catalog.type_name(t).ok_or_else(|| {
                    StoreError::Schema(format!("resource type {t} is unknown to this release"))
                })?;
                Ok(HistoryEntry {
                    resource_type,
                    id: take_text(&mut r, 1),
                    version: int(&r, 2),
                    last_updated: int(&r, 3),
                    method: Method::from_code(int(&r, 4)),
                    body: match r[5] {
                        Value::Null => None,
                        _ => Some(take_body(&mut r, 5)?),
                    },
                })
            })
            .collect()
    }

    /// How many rows the index tables hold for one resource: what a test compares with
    /// [`IndexRows`].
    pub fn index_row_count(&self, resource_type: &str, id: &str) -> Result<usize, StoreError> {
        let Some(res_type) = self.res_type(resource_type) else {
            return Ok(0);
        };
        let partition = self.partition;
        self.read(|conn| {
            let found = conn.query(
                "SELECT res_pk FROM resource WHERE partition_id = ? AND res_type = ? AND fhir_id = ?",
                &[partition.into(), res_type.into(), id.into()],
            )?;
            let Some(res_pk) = one_i64(&found) else {
                return Ok(0);
            };
            let mut count = 0;
            for table in INDEX_TABLES {
                let n = conn.query(
                    &format!(
                        "SELECT COUNT(*) FROM {table} WHERE partition_id = ? AND res_pk = ?"
                    ),
                    &[partition.into(), res_pk.into()],
                )?;
                count += one_i64(&n).unwrap_or(0) as usize;
            }
            Ok(count)
        })
    }
}

/// A read of the row a write replaces, locking it on PostgreSQL so that writers of one
/// resource queue there instead of losing the race at the `UPDATE` (SQLite has one writer).
fn locked(conn: &dyn Connection, select: &str) -> String {
    match conn.dialect() {
        Dialect::Postgres => format!("{select} FOR UPDATE"),
        Dialect::Sqlite => select.to_string(),
    }
}

/// A write whose version check failed because another writer committed first: a
/// conflict to retry when the client named no version, a refusal when it did.
fn lost_race(if_match: Option<i64>) -> StoreError {
    match if_match {
        Some(_) => StoreError::VersionConflict { current: None },
        None => StoreError::Database(DbError {
            message: "another write to the resource committed first".into(),
            conflict: true,
        }),
    }
}

/// `_since` and `_at` as SQL conditions on `h`, with their parameters.
fn window_filter(window: HistoryWindow) -> (String, Vec<Value>) {
    let mut sql = String::new();
    let mut params = Vec::new();
    if let Some(since) = window.since {
        sql.push_str(" AND h.last_updated >= ?");
        params.push(since.into());
    }
    if let Some((start, end)) = window.at {
        // Made before the period ends, and not replaced by a later version before it starts.
        sql.push_str(
            " AND h.last_updated < ? AND NOT EXISTS (SELECT 1 FROM resource_history n
               WHERE n.partition_id = h.partition_id AND n.res_pk = h.res_pk
               AND n.version > h.version AND n.last_updated <= ?)",
        );
        params.push(end.into());
        params.push(start.into());
    }
    (sql, params)
}

fn limit(count: Option<usize>) -> String {
    count.map_or(String::new(), |n| format!(" LIMIT {n}"))
}

/// Sets the version and time the store gives a resource.
fn stamp<R: FhirResource>(resource: &mut R, version: i64, last_updated: i64) {
    let instant = fhir_rocket::http::instant_from_micros(last_updated)
        .parse()
        .expect("a valid instant");
    resource.set_version(Some(version.to_string()), Some(instant));
}

/// The integer in column `i`.
pub(crate) fn int(row: &Row, i: usize) -> i64 {
    row.get(i).and_then(Value::as_i64).unwrap_or_default()
}

fn text(row: &Row, i: usize) -> String {
    row.get(i)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// A body column, unpacked when it is packed ([`crate::body`]).
pub(crate) fn take_body(row: &mut Row, i: usize) -> Result<String, StoreError> {
    match std::mem::replace(&mut row[i], Value::Null) {
        Value::Blob(packed) => crate::body::unpack(&packed).map_err(StoreError::Schema),
        other => Ok(other.into_string().unwrap_or_default()),
    }
}

/// The text in column `i`, taken out of the row.
pub(crate) fn take_text(row: &mut Row, i: usize) -> String {
    std::mem::replace(&mut row[i], Value::Null)
        .into_string()
        .unwrap_or_default()
}

/// Now, in microseconds since the epoch.
pub(crate) fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// The body of a history row, as a column of a query joining `resource_history h` with
/// `resource r`: a version's body is kept once, in `resource` while it is current and in
/// its history row after (see [`keep_in_history`]).
const HISTORY_BODY: &str = "COALESCE(h.body, CASE WHEN r.version = h.version THEN r.body END)";

/// The columns of a new resource's row kept back by [`Store::create`].
const RESOURCE_COLUMNS: &str =
    "res_pk, partition_id, res_type, fhir_id, version, last_updated, index_hash, body";

/// The columns of a history row, in the order [`Store::put_history`] gives them.
const HISTORY_COLUMNS: &str =
    "partition_id, res_pk, version, res_type, fhir_id, last_updated, method";

/// Copies the body of the current version `version` into its history row, before the
/// resource row is overwritten by a newer version or a deletion: the body is stored once,
/// which halves the size of a database that is mostly first versions.
fn keep_in_history(
    conn: &mut dyn Connection,
    partition: i32,
    res_pk: i64,
    version: i64,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE resource_history SET body = (
           SELECT r.body FROM resource r WHERE r.partition_id = ? AND r.res_pk = ?)
         WHERE partition_id = ? AND res_pk = ? AND version = ?",
        &[
            partition.into(),
            res_pk.into(),
            partition.into(),
            res_pk.into(),
            version.into(),
        ],
    )?;
    Ok(())
}

/// `idx_token.hash_system` of the rows written before schema migration 6, from their
/// system's text: a statement per 500 systems (a database has a few dozen), each one pass.
fn fill_system_hashes(conn: &mut dyn Connection) -> Result<(), StoreError> {
    let systems: Vec<String> = conn
        .query(
            "SELECT DISTINCT system FROM idx_token WHERE system IS NOT NULL",
            &[],
        )?
        .into_iter()
        .map(|row| text(&row, 0))
        .collect();
    for chunk in systems.chunks(500) {
        let mut sql = String::from("UPDATE idx_token SET hash_system = CASE system");
        let mut params: Vec<Value> = Vec::with_capacity(chunk.len() * 3);
        for system in chunk {
            sql.push_str(" WHEN ? THEN CAST(? AS BIGINT)");
            params.push(system.as_str().into());
            params.push(stable_hash(&[system.as_bytes()]).into());
        }
        sql.push_str(" END WHERE system IN (");
        sql.push_str(&vec!["?"; chunk.len()].join(", "));
        sql.push(')');
        params.extend(chunk.iter().map(|s| Value::from(s.as_str())));
        conn.execute(&sql, &params)?;
    }
    Ok(())
}

/// Removes every index row of one resource.
fn delete_rows(conn: &mut dyn Connection, partition: i32, res_pk: i64) -> Result<(), StoreError> {
    for table in INDEX_TABLES {
        conn.execute(
            &format!("DELETE FROM {table} WHERE partition_id = ? AND res_pk = ?"),
            &[partition.into(), res_pk.into()],
        )?;
    }
    Ok(())
}

/// The columns every index row starts with, and their values for one row.
/// `seq` is the row's position among its resource's rows of the table: with the partition
/// and the resource, the table's key on SQLite (schema migrations 7 and 8).
const HEAD: &str = "partition_id, res_type, res_pk, sp_id, comp_group, comp_part, seq";

fn head(partition: i32, res_type: i16, res_pk: i64, seq: usize, key: RowKey) -> Vec<Value> {
    let (group, part) = match key.composite {
        Some((g, p)) => (Some(g), Some(p)),
        None => (None, None),
    };
    vec![
        partition.into(),
        res_type.into(),
        res_pk.into(),
        key.sp_id.into(),
        group.into(),
        part.into(),
        (seq as i64).into(),
    ]
}

/// How many rows one `INSERT` of index rows carries, largest first.
const ROWS_PER_INSERT: [usize; 4] = [64, 16, 4, 1];
/// On PostgreSQL, where every statement is a round trip, more.
const ROWS_PER_INSERT_PG: [usize; 5] = [256, 64, 16, 4, 1];

/// Inserts one table's rows of `resources` (`rows_of` each): each row's head (its resource,
/// its position among the resource's rows and its key), then `values`, the table's own
/// `columns`.
fn insert_all<T: IndexRow>(
    conn: &mut dyn Connection,
    partition: i32,
    resources: &[Pending],
    table: &'static str,
    columns: &'static str,
    rows_of: impl Fn(&IndexRows) -> &Vec<T>,
    values: impl Fn(&T) -> Vec<Value>,
) -> Result<(), StoreError> {
    let rows: Vec<(&Pending, usize, &T)> = resources
        .iter()
        .flat_map(|p| {
            rows_of(&p.rows)
                .iter()
                .enumerate()
                .map(move |(seq, row)| (p, seq, row))
        })
        .collect();
    let mut next = rows.iter();
    insert_chunked(conn, table, &head_and(columns), rows.len(), |params, n| {
        for (p, seq, row) in next.by_ref().take(n) {
            params.extend(head(partition, p.res_type, p.res_pk, *seq, row.key()));
            params.extend(values(row));
        }
    })
}

/// An index table's columns: the head's, then its own.
fn head_and(columns: &str) -> String {
    format!("{HEAD}, {columns}")
}

/// Inserts `rows`, each the values of `columns`, into `table`, several per statement.
fn insert_many(
    conn: &mut dyn Connection,
    table: &'static str,
    columns: &str,
    rows: Vec<Vec<Value>>,
) -> Result<(), StoreError> {
    let count = rows.len();
    let mut next = rows.into_iter();
    insert_chunked(conn, table, columns, count, |params, n| {
        params.extend(next.by_ref().take(n).flatten())
    })
}

/// Inserts `count` rows of `columns` into `table`: several per statement, `fill` giving the
/// values of the next `n` each time. A resource has a dozen token rows, and a statement per
/// row binds and steps SQLite's machine once per row (and is a round trip on PostgreSQL); a
/// few fixed sizes keep the number of distinct statements (each prepared once and cached)
/// small.
fn insert_chunked(
    conn: &mut dyn Connection,
    table: &'static str,
    columns: &str,
    count: usize,
    mut fill: impl FnMut(&mut Vec<Value>, usize),
) -> Result<(), StoreError> {
    let dialect = conn.dialect();
    let width = columns.split(',').count();
    let sizes: &[usize] = match dialect {
        Dialect::Sqlite => &ROWS_PER_INSERT,
        Dialect::Postgres => &ROWS_PER_INSERT_PG,
    };
    let mut left = count;
    while left > 0 {
        let n = sizes.iter().copied().find(|&n| n <= left).unwrap_or(1);
        let mut params = Vec::with_capacity(n * width);
        fill(&mut params, n);
        conn.execute(&insert_sql(dialect, table, columns, width, n), &params)?;
        left -= n;
    }
    Ok(())
}

/// The `INSERT` of `n` rows of `width` columns into an index table, written once per shape.
///
/// On SQLite it is `INSERT OR FAIL`: a plain multi-row `INSERT` into a table with `NOT NULL`
/// columns may abort half-way, so SQLite copies every page the statement touches into a
/// statement journal first, to undo just that statement. That journal was most of the
/// load's writes (52 pages per resource, twice the write-ahead log's). With `OR FAIL` there
/// is nothing to undo: the rows are never NULL, and a failed write rolls back the whole
/// transaction anyway.
fn insert_sql(
    dialect: Dialect,
    table: &'static str,
    columns: &str,
    width: usize,
    n: usize,
) -> Arc<str> {
    type Shapes = HashMap<(Dialect, &'static str, usize), Arc<str>>;
    static SHAPES: LazyLock<Mutex<Shapes>> = LazyLock::new(Default::default);
    let mut shapes = SHAPES.lock().unwrap_or_else(|e| e.into_inner());
    shapes
        .entry((dialect, table, n))
        .or_insert_with(|| {
            let verb = match dialect {
                Dialect::Sqlite => "INSERT OR FAIL",
                Dialect::Postgres => "INSERT",
            };
            let tuple = format!("({})", vec!["?"; width].join(", "));
            format!(
                "{verb} INTO {table} ({columns}) VALUES {}",
                vec![tuple.as_str(); n].join(", ")
            )
            .into()
        })
        .clone()
}

/// What a transaction Bundle keeps: the rows it has not inserted yet, and the row numbers
/// reserved for its new resources ([`Store::reserve_pk`]).
#[derive(Default)]
struct Kept {
    rows: KeptRows,
    /// Reserved and not used yet, largest first.
    reserved: Vec<i64>,
    /// The largest reserved so far.
    last_reserved: i64,
}

/// The rows a transaction Bundle keeps back until [`Store::flush`].
#[derive(Default)]
struct KeptRows {
    /// New resources: the values of [`RESOURCE_COLUMNS`].
    created: Vec<Vec<Value>>,
    /// History rows: the values of [`HISTORY_COLUMNS`].
    history: Vec<Vec<Value>>,
    /// Index rows.
    indexed: Vec<Pending>,
}

/// The index rows of a written resource, waiting to be inserted.
struct Pending {
    res_type: i16,
    res_pk: i64,
    rows: IndexRows,
}

/// Every index row of some resources, each table's rows of all of them together.
fn insert_rows(
    conn: &mut dyn Connection,
    partition: i32,
    resources: &[Pending],
) -> Result<(), StoreError> {
    insert_all(
        conn,
        partition,
        resources,
        "idx_string",
        "normalized, exact, hash_exact",
        |r| &r.strings,
        |r| {
            vec![
                r.normalized.as_str().into(),
                r.exact.as_str().into(),
                r.hash_exact.into(),
            ]
        },
    )?;
    insert_all(
        conn,
        partition,
        resources,
        "idx_token",
        "kind, hash_system, code, text_norm, hash_sys_code, hash_code",
        |r| &r.tokens,
        |r| {
            vec![
                r.kind.into(),
                r.hash_system.into(),
                r.code.as_deref().into(),
                r.text_norm.as_deref().into(),
                r.hash_sys_code.into(),
                r.hash_code.into(),
            ]
        },
    )?;
    insert_all(
        conn,
        partition,
        resources,
        "idx_date",
        "low, high",
        |r| &r.dates,
        |r| vec![r.low.into(), r.high.into()],
    )?;
    insert_all(
        conn,
        partition,
        resources,
        "idx_number",
        "low, high, value",
        |r| &r.numbers,
        |r| vec![r.low.into(), r.high.into(), r.value.into()],
    )?;
    insert_all(
        conn,
        partition,
        resources,
        "idx_quantity",
        "low, high, system, code, unit, hash_units",
        |r| &r.quantities,
        |r| {
            vec![
                r.low.into(),
                r.high.into(),
                r.system.as_deref().into(),
                r.code.as_deref().into(),
                r.unit.as_deref().into(),
                r.hash_units.into(),
            ]
        },
    )?;
    insert_all(
        conn,
        partition,
        resources,
        "idx_uri",
        "uri",
        |r| &r.uris,
        |r| vec![r.uri.as_str().into()],
    )?;
    insert_all(
        conn,
        partition,
        resources,
        "idx_reference",
        "target_type, target_id, target_version, target_url",
        |r| &r.references,
        |r| {
            vec![
                r.target_type.into(),
                r.target_id.as_deref().into(),
                r.target_version.into(),
                r.target_url.as_deref().into(),
            ]
        },
    )?;
    Ok(())
}
