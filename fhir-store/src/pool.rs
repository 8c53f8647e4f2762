//! A small blocking pool of connections: the store's work runs on blocking threads
//! (`spawn_blocking`), each taking a connection for one transaction.

use crate::db::{Connection, DbError};
use std::sync::{Condvar, Mutex};

/// Opens a new connection.
pub type Opener = Box<dyn Fn() -> Result<Box<dyn Connection>, DbError> + Send + Sync>;

/// At most `max` connections, opened when first needed and kept. Waiters are served in the
/// order they came: with a bare condition variable, a request arriving as a connection came
/// back could take it ahead of one already waiting, again and again (under load on
/// PostgreSQL, one read in a hundred waited over 400 ms).
pub struct Pool {
    state: Mutex<State>,
    returned: Condvar,
    open: Opener,
    max: usize,
}

struct State {
    idle: Vec<Box<dyn Connection>>,
    opened: usize,
    /// The ticket the next caller of [`Pool::get`] draws.
    next_ticket: u64,
    /// The ticket whose holder may take the next connection.
    serving: u64,
}

impl Pool {
    /// A pool of at most `max` connections made by `open`.
    pub fn new(max: usize, open: Opener) -> Pool {
        Pool {
            state: Mutex::new(State {
                idle: Vec::new(),
                opened: 0,
                next_ticket: 0,
                serving: 0,
            }),
            returned: Condvar::new(),
            open,
            max: max.max(1),
        }
    }

    /// A connection, waiting for one to be returned when all are in use.
    pub fn get(&self) -> Result<Pooled<'_>, DbError> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        loop {
            if ticket != state.serving {
                state = self.returned.wait(state).unwrap_or_else(|e| e.into_inner());
                continue;
            }
            if let Some(conn) = state.idle.pop() {
                state.serving += 1;
                // The next in line may find another idle connection.
                self.returned.notify_all();
                return Ok(Pooled {
                    pool: self,
                    conn: Some(conn),
                });
            }
            if state.opened < self.max {
                state.opened += 1;
                state.serving += 1;
                self.returned.notify_all();
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

    /// The most connections it opens.
    pub fn max(&self) -> usize {
        self.max
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
        self.returned.notify_all();
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
        // Only the first in line may take it, and any waiter may be woken by notify_one.
        self.pool.returned.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn waiters_are_served_in_the_order_they_came() {
        let path = std::env::temp_dir().join(format!("fhir-store-pool-{}.db", std::process::id()));
        let opener_path = path.clone();
        let pool = Arc::new(Pool::new(
            1,
            Box::new(move || {
                Ok(
                    Box::new(crate::sqlite::SqliteConnection::open(&opener_path)?)
                        as Box<dyn Connection>,
                )
            }),
        ));
        let held = pool.get().unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut threads = Vec::new();
        for i in 0..4 {
            let (pool, order) = (pool.clone(), order.clone());
            threads.push(std::thread::spawn(move || {
                let conn = pool.get().unwrap();
                order.lock().unwrap().push(i);
                // Held a moment, so the others are all waiting when it comes back.
                std::thread::sleep(Duration::from_millis(5));
                drop(conn);
            }));
            // Each waits before the next comes.
            std::thread::sleep(Duration::from_millis(50));
        }
        drop(held);
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3]);
        drop(pool);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}
