//! The one seam between the store and a database engine: a connection that runs SQL with
//! positional parameters and gives rows of plain values. The store's logic (writes, reads,
//! history, search) is written once against [`Connection`]; SQLite and PostgreSQL each
//! implement it in a few dozen lines.
//!
//! SQL is written with `?` placeholders; a PostgreSQL connection numbers them (`$1`, ...)
//! when it prepares a statement. The store never writes a literal `?` inside SQL text.

use crate::schema::Dialect;

/// A value bound to a parameter or read from a column.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL `NULL`.
    Null,
    /// An integer (any width: the connection converts to the column's type).
    Int(i64),
    /// A double.
    Real(f64),
    /// Text.
    Text(String),
    /// Bytes (a packed body, [`crate::body`]).
    Blob(Vec<u8>),
}

impl Value {
    /// The integer, or `None` for `NULL` and other kinds.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The text, or `None` for `NULL` and other kinds.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }

    /// The text, taken.
    pub fn into_string(self) -> Option<String> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Int(v.into())
    }
}

impl From<i16> for Value {
    fn from(v: i16) -> Self {
        Value::Int(v.into())
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Real(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_string())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// One row of a result.
pub type Row = Vec<Value>;

/// A database error, with the engine's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbError {
    /// What failed.
    pub message: String,
    /// The statement was refused because another transaction conflicts with it
    /// (PostgreSQL's serialization failure or deadlock, SQLite's busy timeout): worth
    /// retrying.
    pub conflict: bool,
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DbError {}

/// A connection to one database.
pub trait Connection: Send {
    /// The engine, for the few statements that differ.
    fn dialect(&self) -> Dialect;
    /// Runs a statement; the number of rows it changed.
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<usize, DbError>;
    /// Runs a query; its rows.
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError>;
    /// Runs statements without parameters, separated by `;` (migrations).
    fn batch(&mut self, sql: &str) -> Result<(), DbError>;
    /// Starts a write transaction: on SQLite `BEGIN IMMEDIATE`, so that writers queue for the
    /// lock at the start instead of failing after reading.
    fn begin_write(&mut self) -> Result<(), DbError>;
    /// Starts a read-only transaction over one snapshot.
    fn begin_read(&mut self) -> Result<(), DbError>;
    /// Commits.
    fn commit(&mut self) -> Result<(), DbError>;
    /// Rolls back (errors are ignored: the transaction is gone either way).
    fn rollback(&mut self);
    /// The connection is lost (a server that went away): the pool drops it.
    fn is_broken(&self) -> bool {
        false
    }
}

/// The first column of the first row as an integer.
pub fn one_i64(rows: &[Row]) -> Option<i64> {
    rows.first().and_then(|r| r.first()).and_then(Value::as_i64)
}
