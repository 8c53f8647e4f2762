//! PostgreSQL as a [`Connection`], through the blocking client of `tokio-postgres` (the
//! `postgres` crate), so that the store's one code path serves both engines. Statements are
//! prepared once per connection; `?` placeholders become `$1`, `$2`, ...; integer values
//! take the width of the column they are bound to.
//!
//! Writes run at `READ COMMITTED`: the store's `UPDATE ... WHERE version = ?` re-evaluates
//! its condition on the committed row, so a lost race is seen and retried or refused. A
//! search reads one snapshot (`REPEATABLE READ READ ONLY`).

use crate::catalog::Catalog;
use crate::db::{Connection, DbError, Row, Value};
use crate::pool::{Opener, Pool};
use crate::schema::Dialect;
use crate::store::{Store, StoreError};
use postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use postgres::{Client, NoTls, Statement};
use std::collections::HashMap;

/// One connection to a PostgreSQL database.
pub struct PgConnection {
    client: Client,
    statements: HashMap<String, Statement>,
}

impl PgConnection {
    /// Connects to `url` (`postgres://user[:password]@host[:port]/database`).
    pub fn connect(url: &str) -> Result<PgConnection, DbError> {
        let client = Client::connect(url, NoTls).map_err(error)?;
        Ok(PgConnection {
            client,
            statements: HashMap::new(),
        })
    }

    fn statement(&mut self, sql: &str) -> Result<Statement, DbError> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let statement = self.client.prepare(&numbered(sql)).map_err(error)?;
        // Searches make many distinct statements: keep the cache bounded.
        if self.statements.len() > 512 {
            self.statements.clear();
        }
        self.statements.insert(sql.to_string(), statement.clone());
        Ok(statement)
    }
}

/// `?` placeholders as PostgreSQL's `$n`.
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    let mut quoted = false;
    for c in sql.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted => {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            }
            c => out.push(c),
        }
    }
    out
}

fn error(e: postgres::Error) -> DbError {
    use postgres::error::SqlState;
    let conflict = e.code().is_some_and(|c| {
        *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
    });
    let message = match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => e.to_string(),
    };
    DbError { message, conflict }
}

/// A value bound with the width and kind of its parameter.
#[derive(Debug)]
struct Param<'a>(&'a Value);

impl ToSql for Param<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self.0 {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) => match *ty {
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::INT8 => i.to_sql(ty, out),
                Type::FLOAT8 => (*i as f64).to_sql(ty, out),
                Type::FLOAT4 => (*i as f32).to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                _ => i.to_string().to_sql(ty, out),
            },
            Value::Real(r) => match *ty {
                Type::FLOAT4 => (*r as f32).to_sql(ty, out),
                _ => r.to_sql(ty, out),
            },
            Value::Text(s) => s.as_str().to_sql(ty, out),
            Value::Blob(b) => b.as_slice().to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn row_values(row: &postgres::Row) -> Result<Row, DbError> {
    let mut values = Vec::with_capacity(row.len());
    for (i, column) in row.columns().iter().enumerate() {
        let value = match *column.type_() {
            Type::INT2 => row
                .try_get::<_, Option<i16>>(i)
                .map(|v| v.map(i64::from).into()),
            Type::INT4 => row
                .try_get::<_, Option<i32>>(i)
                .map(|v| v.map(i64::from).into()),
            Type::INT8 => row.try_get::<_, Option<i64>>(i).map(Into::into),
            Type::FLOAT8 => row.try_get::<_, Option<f64>>(i).map(Into::into),
            Type::BOOL => row
                .try_get::<_, Option<bool>>(i)
                .map(|v| v.map(i64::from).into()),
            Type::BYTEA => row
                .try_get::<_, Option<Vec<u8>>>(i)
                .map(|v| v.map_or(Value::Null, Value::Blob)),
            _ => row.try_get::<_, Option<String>>(i).map(Into::into),
        };
        values.push(value.map_err(error)?);
    }
    Ok(values)
}

impl Connection for PgConnection {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<usize, DbError> {
        let statement = self.statement(sql)?;
        let bound: Vec<Param<'_>> = params.iter().map(Param).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = bound.iter().map(|p| p as _).collect();
        Ok(self.client.execute(&statement, &refs).map_err(error)? as usize)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        let statement = self.statement(sql)?;
        let bound: Vec<Param<'_>> = params.iter().map(Param).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = bound.iter().map(|p| p as _).collect();
        self.client
            .query(&statement, &refs)
            .map_err(error)?
            .iter()
            .map(row_values)
            .collect()
    }

    fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        self.client.batch_execute(sql).map_err(error)
    }

    fn begin_write(&mut self) -> Result<(), DbError> {
        self.client.batch_execute("BEGIN").map_err(error)
    }

    fn begin_read(&mut self) -> Result<(), DbError> {
        self.client
            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .map_err(error)
    }

    fn commit(&mut self) -> Result<(), DbError> {
        self.client.batch_execute("COMMIT").map_err(error)
    }

    fn rollback(&mut self) {
        let _ = self.client.batch_execute("ROLLBACK");
    }

    fn is_broken(&self) -> bool {
        self.client.is_closed()
    }
}

/// Opens the store on the PostgreSQL database at `url` with [`default_connections`] readers
/// and as many writers; the schema is brought up to date.
pub fn open(url: &str, catalog: Catalog) -> Result<Store, StoreError> {
    open_with_connections(url, catalog, default_connections())
}

/// Opens the store on the PostgreSQL database at `url`: at most `connections` connections
/// read and as many write (at least one each); the schema is brought up to date.
pub fn open_with_connections(
    url: &str,
    catalog: Catalog,
    connections: usize,
) -> Result<Store, StoreError> {
    let opener = |url: String| -> Opener {
        Box::new(move || PgConnection::connect(&url).map(|c| Box::new(c) as Box<dyn Connection>))
    };
    // Fail now, with the server's words, rather than at the first request.
    drop(PgConnection::connect(url)?);
    Store::open_with(
        Dialect::Postgres,
        catalog,
        (
            Pool::new(connections, opener(url.to_string())),
            Pool::new(connections, opener(url.to_string())),
        ),
    )
}

/// Connections per pool unless told otherwise: twice this machine's cores, from 2 to 16.
///
/// Each connection is a PostgreSQL process; more of them running than there are cores only
/// take turns on them. On a 2-core machine with the database beside the server, eight
/// readers served the same searches per second as four, but the server's own threads waited
/// behind them: p99 of 80 to 126 ms against 7 to 13 ms (docs/performance.md).
pub fn default_connections() -> usize {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    (2 * cores).clamp(2, 16)
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_are_numbered_outside_quotes() {
        assert_eq!(
            super::numbered("a = ? AND b LIKE ? ESCAPE '\\' AND c = '?' AND d = ?"),
            "a = $1 AND b LIKE $2 ESCAPE '\\' AND c = '?' AND d = $3"
        );
    }
}
