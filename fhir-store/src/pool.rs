//! A small blocking pool of connections: the store's work runs on blocking threads
//! (`spawn_blocking`), each taking a connection for one transaction.

use crate::db::{Connection, DbError};
use std::sync::{Condvar, Mutex};

/// Opens a new connection.
pub type Opener = Box<dyn Fn() -> Result<Box<dyn Connection>, DbError> + Send + Sync>;

/// At most `max` connections, opened when first needed and kept.
pub struct Pool {
    state: Mutex<State>,
    returned: Condvar,
    open: Opener,
    max: usize,
}

struct State {
    idle: Vec<Box<dyn Connection>>,
    opened: usize,
}

impl Pool {
    /// A pool of at most `max` connections made by `open`.
    pub fn new(max: usize, open: Opener) -> Pool {
        Pool {
            state: Mutex::new(State {
                idle: Vec::new(),
                opened: 0,
            }),
            returned: Condvar::new(),
            open,
            max: max.max(1),
        }
    }

    /// A connection, waiting for one to be returned when all are in use.
    pub fn get(&self) -> Result<Pooled<'_>, DbError> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(conn) = state.idle.pop() {
                return Ok(Pooled {
                    pool: self,
                    conn: Some(conn),
                });
            }
            if state.opened < self.max {
                state.opened += 1;
                drop(state);
                return match (self.open)() {
                    Ok(conn) => Ok(Pooled {
                        pool: self,
                        conn: Some(conn),
                    }),
                    Err(e) => {
                        self.forget();
                        Err(e)
                    }
                };
            }
            state = self.returned.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Returns a connection taken with [`Pooled::take`].
    pub fn put_back(&self, conn: Box<dyn Connection>) {
        drop(Pooled {
            pool: self,
            conn: Some(conn),
        });
    }

    fn forget(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.opened -= 1;
        self.returned.notify_one();
    }
}

/// A connection taken from a [`Pool`], returned when dropped (or forgotten when broken).
pub struct Pooled<'p> {
    pool: &'p Pool,
    conn: Option<Box<dyn Connection>>,
}

impl Pooled<'_> {
    /// The connection.
    pub fn conn(&mut self) -> &mut dyn Connection {
        self.conn.as_deref_mut().expect("held until dropped")
    }
}

impl Pooled<'_> {
    /// The connection, kept out of the pool until [`Pool::put_back`] (a transaction that
    /// spans several requests holds it).
    pub fn take(&mut self) -> Box<dyn Connection> {
        self.conn.take().expect("held until dropped")
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        if conn.is_broken() {
            self.pool.forget();
            return;
        }
        let mut state = self.pool.state.lock().unwrap_or_else(|e| e.into_inner());
        state.idle.push(conn);
        self.pool.returned.notify_one();
    }
}
