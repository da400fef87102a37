//! Connection acquisition for a [`Db`](crate::Db): exclusive connections for transactions, and
//! for autocommit statements an exclusive connection while the pool has one free, else a share
//! of the least-busy connection already running autocommit statements.
//!
//! Sharing is safe for autocommit statements: tokio-postgres pipelines concurrent requests on
//! one connection and ends each with its own `Sync`, so they neither wait for a whole
//! connection to come back nor affect each other's outcome. Transactions never share.

use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use deadpool_postgres::{ClientWrapper, Object, Pool, PoolError, TimeoutType};

use crate::error::{Error, Result};

/// The pool, and the connections currently serving autocommit statements.
pub(crate) struct Connections {
    pool: Pool,
    pipelining: bool,
    busy: Mutex<Vec<Arc<Object>>>,
}

impl fmt::Debug for Connections {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.pool.status();
        f.debug_struct("Connections")
            .field("max_size", &status.max_size)
            .field("size", &status.size)
            .field("available", &status.available)
            .field("waiting", &status.waiting)
            .field("pipelining", &self.pipelining)
            .finish()
    }
}

fn lock(busy: &Mutex<Vec<Arc<Object>>>) -> MutexGuard<'_, Vec<Arc<Object>>> {
    // The list is only pushed to and removed from: a panic cannot leave it half-updated.
    busy.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Connections {
    pub(crate) fn new(pool: Pool, pipelining: bool) -> Self {
        Connections {
            pool,
            pipelining,
            busy: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn pool(&self) -> &Pool {
        &self.pool
    }

    /// A connection of its own (transactions), waiting up to the pool's wait timeout.
    pub(crate) async fn exclusive(&self) -> Result<Object> {
        let started = Instant::now();
        self.pool
            .get()
            .await
            .map_err(|e| pool_error(&self.pool, e, started))
    }

    /// A connection for one autocommit statement.
    pub(crate) async fn autocommit(&self) -> Result<AutoConn<'_>> {
        if !self.pipelining {
            return Ok(AutoConn::unlisted(self.exclusive().await?));
        }
        let mut timeouts = self.pool.timeouts();
        timeouts.wait = Some(Duration::ZERO);
        let started = Instant::now();
        match self.pool.timeout_get(&timeouts).await {
            Ok(object) => return Ok(self.listed(object)),
            Err(PoolError::Timeout(TimeoutType::Wait)) => {}
            Err(e) => return Err(pool_error(&self.pool, e, started)),
        }
        // No free connection: pipeline on the least busy one instead of waiting for one.
        let shared = {
            let busy = lock(&self.busy);
            busy.iter().min_by_key(|c| Arc::strong_count(c)).cloned()
        };
        match shared {
            Some(conn) => Ok(AutoConn {
                conn: Some(conn),
                busy: Some(&self.busy),
            }),
            // Every connection is held by a transaction: wait for one.
            None => {
                let object = self.exclusive().await?;
                Ok(self.listed(object))
            }
        }
    }

    fn listed(&self, object: Object) -> AutoConn<'_> {
        let conn = Arc::new(object);
        lock(&self.busy).push(conn.clone());
        AutoConn {
            conn: Some(conn),
            busy: Some(&self.busy),
        }
    }
}

/// A connection serving one autocommit statement; returned to the pool when its last user
/// is done with it.
pub(crate) struct AutoConn<'c> {
    conn: Option<Arc<Object>>,
    busy: Option<&'c Mutex<Vec<Arc<Object>>>>,
}

impl AutoConn<'_> {
    fn unlisted(object: Object) -> Self {
        AutoConn {
            conn: Some(Arc::new(object)),
            busy: None,
        }
    }
}

impl Deref for AutoConn<'_> {
    type Target = ClientWrapper;

    fn deref(&self) -> &ClientWrapper {
        // `conn` is only taken by `drop`.
        self.conn
            .as_deref()
            .expect("connection present until dropped")
    }
}

impl Drop for AutoConn<'_> {
    fn drop(&mut self) {
        let (Some(busy), Some(conn)) = (self.busy, self.conn.take()) else {
            return;
        };
        // Reference counts of listed connections only change under the lock, so exactly one
        // of the last two users sees the count drop to the list's own reference.
        let released = {
            let mut busy = lock(busy);
            drop(conn);
            busy.iter()
                .position(|c| Arc::strong_count(c) == 1)
                .map(|i| busy.swap_remove(i))
        };
        // Back to the pool, outside the lock.
        drop(released);
    }
}

pub(crate) fn pool_error(pool: &Pool, error: PoolError, started: Instant) -> Error {
    match error {
        PoolError::Timeout(_) => {
            let status = pool.status();
            Error::PoolTimeout {
                max_size: status.max_size,
                in_use: status.size.saturating_sub(status.available),
                waiting: status.waiting,
                waited_ms: started.elapsed().as_millis() as u64,
            }
        }
        PoolError::Backend(source) => Error::Connect { source },
        PoolError::Closed => Error::Pool("the pool is closed".into()),
        PoolError::NoRuntimeSpecified => {
            Error::Pool("no runtime specified for the pool's timeouts".into())
        }
        PoolError::PostCreateHook(e) => Error::Pool(format!("post-create hook failed: {e}")),
    }
}
