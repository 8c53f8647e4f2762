//! The store on SQLite: the schema's migrations, and writes that put a resource, its history
//! row and its index rows in one transaction.
//!
//! SQLite runs in WAL mode (readers never wait for the writer) with `synchronous=FULL`, so an
//! acknowledged write survives a power loss; write transactions start with `BEGIN IMMEDIATE`,
//! so two writers queue on the busy timeout instead of failing halfway.

use crate::catalog::Catalog;
use crate::rows::{index_rows, IndexRows, RowError, RowKey};
use crate::schema::{Dialect, MIGRATIONS, SCHEMA_VERSION_TABLE};
use fhir_model::json::JsonValue;
use fhir_model::FhirResource;
use fhir_rocket::search::matcher::Searchable;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::path::Path;

/// What went wrong in the store.
#[derive(Debug)]
pub enum StoreError {
    /// The database failed.
    Database(rusqlite::Error),
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
        }
    }
}

impl std::error::Error for StoreError {}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
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
    /// The resource's JSON.
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

/// One SQLite database of one FHIR version, in one partition.
pub struct SqliteStore {
    conn: Connection,
    catalog: Catalog,
    partition: i32,
}

impl SqliteStore {
    /// Opens or creates the database at `path` and brings its schema up to date.
    pub fn open(path: &Path, catalog: Catalog) -> Result<SqliteStore, StoreError> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let mut store = SqliteStore {
            conn,
            catalog,
            partition: 0,
        };
        store.migrate()?;
        Ok(store)
    }

    /// Applies the migrations the database lacks, each in its own transaction with its
    /// record, and checks the recorded ones are the migrations of this release.
    fn migrate(&mut self) -> Result<(), StoreError> {
        self.conn.execute(SCHEMA_VERSION_TABLE, [])?;
        let applied: Vec<(i32, String)> = self
            .conn
            .prepare("SELECT version, checksum FROM schema_version ORDER BY version")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        for (version, checksum) in &applied {
            let Some(m) = MIGRATIONS.iter().find(|m| m.version == *version) else {
                return Err(StoreError::Schema(format!(
                    "migration {version} is from a newer release"
                )));
            };
            if m.checksum(Dialect::Sqlite) != *checksum {
                return Err(StoreError::Schema(format!(
                    "migration {version} differs from this release's"
                )));
            }
        }
        for m in MIGRATIONS
            .iter()
            .filter(|m| !applied.iter().any(|a| a.0 == m.version))
        {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute_batch(&m.sql(Dialect::Sqlite))?;
            if m.version == 1 {
                for (name, res_type) in self.catalog.types() {
                    tx.execute(
                        "INSERT INTO resource_type (res_type, name) VALUES (?1, ?2)",
                        params![res_type, name],
                    )?;
                }
                for (url, id) in self.catalog.params() {
                    tx.execute(
                        "INSERT INTO search_param (sp_id, url, kind) VALUES (?1, ?2, ?3)",
                        params![id.sp_id, url, id.kind as i16],
                    )?;
                }
            }
            tx.execute(
                "INSERT INTO schema_version (version, applied_at, description, checksum) VALUES (?1, ?2, ?3, ?4)",
                params![m.version, now_us(), m.description, m.checksum(Dialect::Sqlite)],
            )?;
            tx.commit()?;
        }
        self.check_numbers()
    }

    /// The numbers the database was made with are this release's.
    fn check_numbers(&self) -> Result<(), StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT res_type, name FROM resource_type")?;
        let types: Vec<(i16, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        for (res_type, name) in types {
            if self.catalog.type_name(res_type) != Some(name.as_str()) {
                return Err(StoreError::Schema(format!(
                    "resource type {res_type} is {name} in the database, not in this release"
                )));
            }
        }
        Ok(())
    }

    /// Stores a new resource as version 1, with its index rows, in one transaction. A
    /// resource without an id is given one (a UUIDv7: time-ordered, so new rows land at
    /// the end of the id index); [`StoreError::Exists`] if its id is taken.
    pub fn create<R>(&mut self, resource: &mut R) -> Result<Stored, StoreError>
    where
        R: Searchable + FhirResource + JsonValue,
    {
        if resource.id().is_none() {
            resource.set_id(Some(uuid::Uuid::now_v7().to_string()));
        }
        let id = resource.id().ok_or(StoreError::NoId)?.to_string();
        let rows = index_rows(resource, &self.catalog, None)?;
        let res_type = self
            .catalog
            .resource_type(resource.resource_type())
            .expect("index_rows knows the type")
            .res_type;
        let body = fhir_model::json::to_string(resource);
        let last_updated = now_us();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let inserted = tx.execute(
            "INSERT INTO resource (partition_id, res_type, fhir_id, version, last_updated, index_hash, body)
             VALUES (?1, ?2, ?3, 1, ?4, 0, ?5) ON CONFLICT DO NOTHING",
            params![self.partition, res_type, id, last_updated, body],
        )?;
        if inserted == 0 {
            return Err(StoreError::Exists);
        }
        let res_pk = tx.last_insert_rowid();
        tx.execute(
            "INSERT INTO resource_history (partition_id, res_pk, version, res_type, fhir_id, last_updated, method, body)
             VALUES (?1, ?2, 1, ?3, ?4, ?5, ?6, ?7)",
            params![self.partition, res_pk, res_type, id, last_updated, Method::Create as i16, body],
        )?;
        insert_rows(&tx, self.partition, res_type, res_pk, &rows)?;
        tx.commit()?;
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
    /// replaces, so no update is ever lost.
    pub fn update<R>(&mut self, resource: &R, if_match: Option<i64>) -> Result<Stored, StoreError>
    where
        R: Searchable + FhirResource + JsonValue,
    {
        let id = resource.id().ok_or(StoreError::NoId)?.to_string();
        let rows = index_rows(resource, &self.catalog, None)?;
        let res_type = self
            .catalog
            .resource_type(resource.resource_type())
            .expect("index_rows knows the type")
            .res_type;
        let body = fhir_model::json::to_string(resource);
        let last_updated = now_us();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current: Option<(i64, i64)> = tx
            .query_row(
                "SELECT res_pk, version FROM resource WHERE partition_id = ?1 AND res_type = ?2 AND fhir_id = ?3",
                params![self.partition, res_type, id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        if let Some(wanted) = if_match {
            if current.map(|c| c.1) != Some(wanted) {
                return Err(StoreError::VersionConflict {
                    current: current.map(|c| c.1),
                });
            }
        }
        let (res_pk, version) = match current {
            None => {
                tx.execute(
                    "INSERT INTO resource (partition_id, res_type, fhir_id, version, last_updated, index_hash, body)
                     VALUES (?1, ?2, ?3, 1, ?4, 0, ?5)",
                    params![self.partition, res_type, id, last_updated, body],
                )?;
                (tx.last_insert_rowid(), 1)
            }
            Some((res_pk, old)) => {
                let changed = tx.execute(
                    "UPDATE resource SET version = ?1, last_updated = ?2, deleted = 0, body = ?3
                     WHERE partition_id = ?4 AND res_pk = ?5 AND version = ?6",
                    params![old + 1, last_updated, body, self.partition, res_pk, old],
                )?;
                if changed != 1 {
                    return Err(StoreError::VersionConflict { current: None });
                }
                delete_rows(&tx, self.partition, res_pk)?;
                (res_pk, old + 1)
            }
        };
        tx.execute(
            "INSERT INTO resource_history (partition_id, res_pk, version, res_type, fhir_id, last_updated, method, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![self.partition, res_pk, version, res_type, id, last_updated, Method::Update as i16, body],
        )?;
        insert_rows(&tx, self.partition, res_type, res_pk, &rows)?;
        tx.commit()?;
        Ok(Stored {
            id,
            version,
            last_updated,
            body,
        })
    }

    /// Deletes a resource: a new version without a body, its index rows removed, so no
    /// search finds it; its history stays. The new version, or `None` when there was nothing
    /// to delete (unknown, or already deleted).
    pub fn delete(&mut self, resource_type: &str, id: &str) -> Result<Option<i64>, StoreError> {
        let Some(t) = self.catalog.resource_type(resource_type) else {
            return Ok(None);
        };
        let res_type = t.res_type;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current: Option<(i64, i64)> = tx
            .query_row(
                "SELECT res_pk, version FROM resource
                 WHERE partition_id = ?1 AND res_type = ?2 AND fhir_id = ?3 AND deleted = 0",
                params![self.partition, res_type, id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((res_pk, old)) = current else {
            return Ok(None);
        };
        let last_updated = now_us();
        tx.execute(
            "UPDATE resource SET version = ?1, last_updated = ?2, deleted = 1, body = NULL
             WHERE partition_id = ?3 AND res_pk = ?4 AND version = ?5",
            params![old + 1, last_updated, self.partition, res_pk, old],
        )?;
        tx.execute(
            "INSERT INTO resource_history (partition_id, res_pk, version, res_type, fhir_id, last_updated, method, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL)",
            params![self.partition, res_pk, old + 1, res_type, id, last_updated, Method::Delete as i16],
        )?;
        delete_rows(&tx, self.partition, res_pk)?;
        tx.commit()?;
        Ok(Some(old + 1))
    }

    /// The version of a deleted resource's deletion (what a read answers with 410), or
    /// `None` when the resource is not deleted or unknown.
    pub fn deleted_version(
        &self,
        resource_type: &str,
        id: &str,
    ) -> Result<Option<i64>, StoreError> {
        let Some(t) = self.catalog.resource_type(resource_type) else {
            return Ok(None);
        };
        Ok(self
            .conn
            .query_row(
                "SELECT version FROM resource
                 WHERE partition_id = ?1 AND res_type = ?2 AND fhir_id = ?3 AND deleted = 1",
                params![self.partition, t.res_type, id],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Every version of a resource, newest first: its version, time, and body (`None` for a
    /// deletion).
    pub fn history(
        &self,
        resource_type: &str,
        id: &str,
    ) -> Result<Vec<(i64, i64, Option<String>)>, StoreError> {
        let Some(t) = self.catalog.resource_type(resource_type) else {
            return Ok(Vec::new());
        };
        let mut stmt = self.conn.prepare_cached(
            "SELECT h.version, h.last_updated, h.body FROM resource_history h
             JOIN resource r ON r.partition_id = h.partition_id AND r.res_pk = h.res_pk
             WHERE r.partition_id = ?1 AND r.res_type = ?2 AND r.fhir_id = ?3
             ORDER BY h.version DESC",
        )?;
        let versions = stmt
            .query_map(params![self.partition, t.res_type, id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<Result<_, _>>()?;
        Ok(versions)
    }

    /// The history of a type (`Some`) or of the whole server (`None`): versions changed at
    /// `since` or later (microseconds), newest first, at most `count`. Each is the type, the
    /// id, the version, the time and the body (`None` for a deletion).
    pub fn history_of(
        &self,
        resource_type: Option<&str>,
        since: Option<i64>,
        count: usize,
    ) -> Result<Vec<HistoryEntry>, StoreError> {
        let res_type = match resource_type {
            Some(name) => match self.catalog.resource_type(name) {
                Some(t) => Some(t.res_type),
                None => return Ok(Vec::new()),
            },
            None => None,
        };
        let mut stmt = self.conn.prepare_cached(
            "SELECT res_type, fhir_id, version, last_updated, body FROM resource_history
             WHERE partition_id = ?1 AND (?2 IS NULL OR res_type = ?2) AND last_updated >= ?3
             ORDER BY last_updated DESC, res_pk DESC, version DESC LIMIT ?4",
        )?;
        let rows = stmt
            .query_map(
                params![
                    self.partition,
                    res_type,
                    since.unwrap_or(i64::MIN),
                    i64::try_from(count).unwrap_or(i64::MAX)
                ],
                |r| {
                    let res_type: i16 = r.get(0)?;
                    Ok((res_type, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                },
            )?
            .collect::<Result<Vec<(i16, String, i64, i64, Option<String>)>, _>>()?;
        rows.into_iter()
            .map(|(t, id, version, last_updated, body)| {
                let resource_type = self.catalog.type_name(t).ok_or_else(|| {
                    StoreError::Schema(format!("resource type {t} is unknown to this release"))
                })?;
                Ok(HistoryEntry {
                    resource_type,
                    id,
                    version,
                    last_updated,
                    body,
                })
            })
            .collect()
    }

    /// The current version of a resource, if it exists and is not deleted.
    pub fn read(&self, resource_type: &str, id: &str) -> Result<Option<Stored>, StoreError> {
        let Some(t) = self.catalog.resource_type(resource_type) else {
            return Ok(None);
        };
        Ok(self
            .conn
            .query_row(
                "SELECT version, last_updated, body FROM resource
                 WHERE partition_id = ?1 AND res_type = ?2 AND fhir_id = ?3 AND deleted = 0",
                params![self.partition, t.res_type, id],
                |r| {
                    Ok(Stored {
                        id: id.to_string(),
                        version: r.get(0)?,
                        last_updated: r.get(1)?,
                        body: r.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    /// How many rows each index table holds for one resource: what a test compares with
    /// [`IndexRows`].
    pub fn index_row_count(&self, resource_type: &str, id: &str) -> Result<usize, StoreError> {
        let Some(t) = self.catalog.resource_type(resource_type) else {
            return Ok(0);
        };
        let res_pk: Option<i64> = self
            .conn
            .query_row(
                "SELECT res_pk FROM resource WHERE partition_id = ?1 AND res_type = ?2 AND fhir_id = ?3",
                params![self.partition, t.res_type, id],
                |r| r.get(0),
            )
            .optional()?;
        let Some(res_pk) = res_pk else {
            return Ok(0);
        };
        let mut count = 0;
        for table in TABLES {
            let n: i64 = self.conn.query_row(
                &format!("SELECT COUNT(*) FROM {table} WHERE partition_id = ?1 AND res_pk = ?2"),
                params![self.partition, res_pk],
                |r| r.get(0),
            )?;
            count += n as usize;
        }
        Ok(count)
    }

    /// The catalog the store numbers with.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }
}

const TABLES: [&str; 7] = [
    "idx_string",
    "idx_token",
    "idx_date",
    "idx_number",
    "idx_quantity",
    "idx_uri",
    "idx_reference",
];

fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

fn composite(key: RowKey) -> (Option<i32>, Option<i16>) {
    match key.composite {
        Some((group, part)) => (Some(group), Some(part)),
        None => (None, None),
    }
}

/// Removes every index row of one resource.
fn delete_rows(
    tx: &rusqlite::Transaction<'_>,
    partition: i32,
    res_pk: i64,
) -> Result<(), StoreError> {
    for table in TABLES {
        tx.prepare_cached(&format!(
            "DELETE FROM {table} WHERE partition_id = ?1 AND res_pk = ?2"
        ))?
        .execute(params![partition, res_pk])?;
    }
    Ok(())
}

/// Every index row of one resource, through cached prepared statements.
fn insert_rows(
    tx: &rusqlite::Transaction<'_>,
    partition: i32,
    res_type: i16,
    res_pk: i64,
    rows: &IndexRows,
) -> Result<(), StoreError> {
    const HEAD: &str = "partition_id, res_type, res_pk, sp_id, comp_group, comp_part";
    let mut s = tx.prepare_cached(&format!(
        "INSERT INTO idx_string ({HEAD}, normalized, exact, hash_exact) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
    ))?;
    for r in &rows.strings {
        let (g, p) = composite(r.key);
        s.execute(params![
            partition,
            res_type,
            res_pk,
            r.key.sp_id,
            g,
            p,
            r.normalized,
            r.exact,
            r.hash_exact
        ])?;
    }
    let mut s = tx.prepare_cached(&format!(
        "INSERT INTO idx_token ({HEAD}, kind, system, code, text_norm, hash_sys_code, hash_code) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
    ))?;
    for r in &rows.tokens {
        let (g, p) = composite(r.key);
        s.execute(params![
            partition,
            res_type,
            res_pk,
            r.key.sp_id,
            g,
            p,
            r.kind,
            r.system,
            r.code,
            r.text_norm,
            r.hash_sys_code,
            r.hash_code
        ])?;
    }
    let mut s = tx.prepare_cached(&format!(
        "INSERT INTO idx_date ({HEAD}, low, high) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
    ))?;
    for r in &rows.dates {
        let (g, p) = composite(r.key);
        s.execute(params![
            partition,
            res_type,
            res_pk,
            r.key.sp_id,
            g,
            p,
            r.low,
            r.high
        ])?;
    }
    let mut s = tx.prepare_cached(&format!(
        "INSERT INTO idx_number ({HEAD}, low, high, value) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
    ))?;
    for r in &rows.numbers {
        let (g, p) = composite(r.key);
        s.execute(params![
            partition,
            res_type,
            res_pk,
            r.key.sp_id,
            g,
            p,
            r.low,
            r.high,
            r.value
        ])?;
    }
    let mut s = tx.prepare_cached(&format!(
        "INSERT INTO idx_quantity ({HEAD}, low, high, system, code, unit, hash_units) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
    ))?;
    for r in &rows.quantities {
        let (g, p) = composite(r.key);
        s.execute(params![
            partition,
            res_type,
            res_pk,
            r.key.sp_id,
            g,
            p,
            r.low,
            r.high,
            r.system,
            r.code,
            r.unit,
            r.hash_units
        ])?;
    }
    let mut s = tx.prepare_cached(&format!(
        "INSERT INTO idx_uri ({HEAD}, uri) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
    ))?;
    for r in &rows.uris {
        let (g, p) = composite(r.key);
        s.execute(params![
            partition,
            res_type,
            res_pk,
            r.key.sp_id,
            g,
            p,
            r.uri
        ])?;
    }
    let mut s = tx.prepare_cached(&format!(
        "INSERT INTO idx_reference ({HEAD}, target_type, target_id, target_version, target_url) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
    ))?;
    for r in &rows.references {
        let (g, p) = composite(r.key);
        s.execute(params![
            partition,
            res_type,
            res_pk,
            r.key.sp_id,
            g,
            p,
            r.target_type,
            r.target_id,
            r.target_version,
            r.target_url
        ])?;
    }
    Ok(())
}
