//! Connection acquisition for a [`Db`](crate::Db): exclusive connections for transactions, and
//! for autocommit statements the *lane*: connections taken from the pool to serve autocommit
//! statements, kept between statements while nobody waits for a connection.
//!
//! An autocommit statement takes, in order:
//! 1. an idle lane connection (no pool round trip at all: a lock, a scan, a counter);
//! 2. a free pooled connection, which joins the lane;
//! 3. with pipelining on, a share of the least busy lane connection;
//! 4. else it waits for the pool like a transaction.
//!
//! Lane connections go back to the pool as soon as somebody waits for one (a transaction, or a
//! statement at step 4): idle ones at once, busy ones when their last statement ends; while
//! anybody waits, no statement joins a lane connection, so waiters are served in the pool's
//! order. A lane connection found closed is dropped (the pool then opens a new one).
//!
//! Sharing is safe for autocommit statements: tokio-postgres pipelines concurrent requests on
//! one connection and ends each with its own `Sync`, so they neither wait for a whole
//! connection to come back nor affect each other's outcome. Transactions never share.
//!
//! Each lane connection also keeps its own statement cache: a slot per [`Statement`] built
//! once per process, so finding a prepared statement is an index, not a hash of its SQL.

use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use deadpool_postgres::{ClientWrapper, Object, Pool, PoolError, TimeoutType};

use crate::error::Result;
use crate::exec::Conn;
use crate::sql::Statement;

mod exclusive;
mod pool_error;

pub(crate) use exclusive::Exclusive;
pub(crate) use pool_error::pool_error;

/// Statements with a larger id are left to the driver's cache (ids are handed out once per
/// built statement; this bounds each connection's slots if an application builds them in a
/// loop).
const MAX_SLOTS: usize = 1 << 14;

/// The pool, and the connections currently serving autocommit statements.
pub(crate) struct Connections {
    pool: Pool,
    pipelining: bool,
    lane: Mutex<Lane>,
}

#[derive(Default)]
struct Lane {
    entries: Vec<Entry>,
    /// Callers waiting for the pool.
    waiting: usize,
}

struct Entry {
    conn: Arc<LaneConn>,
    /// Statements running on it now.
    users: usize,
}

/// A pooled connection serving autocommit statements, with its own statement cache.
pub(crate) struct LaneConn {
    object: Object,
    prepared: Mutex<Vec<Option<tokio_postgres::Statement>>>,
}

impl fmt::Debug for Connections {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.pool.status();
        let lane = lock(&self.lane);
        f.debug_struct("Connections")
            .field("max_size", &status.max_size)
            .field("size", &status.size)
            .field("available", &status.available)
            .field("waiting", &status.waiting)
            .field("autocommit_connections", &lane.entries.len())
            .field("pipelining", &self.pipelining)
            .finish()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves the data consistent at each step: a panic cannot leave it
    // half-updated.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Lane {
    /// Joins the lane connection `pick` chooses among the open ones; drops closed ones.
    fn join(&mut self, pick: impl Fn(&[Entry]) -> Option<usize>) -> Option<Arc<LaneConn>> {
        self.entries
            .retain(|e| e.users > 0 || !e.conn.object.is_closed());
        let i = pick(&self.entries)?;
        let entry = &mut self.entries[i];
        entry.users += 1;
        Some(entry.conn.clone())
    }

    /// Removes one idle connection, to hand back to the pool.
    fn take_idle(&mut self) -> Option<Entry> {
        let i = self.entries.iter().position(|e| e.users == 0)?;
        Some(self.entries.swap_remove(i))
    }
}

/// Counts a caller waiting for the pool while it waits (also when its future is dropped).
struct Waiting<'l>(&'l Mutex<Lane>);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        lock(self.0).waiting -= 1;
    }
}

/// A snapshot of a [`Db`](crate::Db)'s connections ([`Db::status`](crate::Db::status)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStatus {
    /// The most connections the pool opens.
    pub max_size: usize,
    /// Connections open now.
    pub open: usize,
    /// Open connections idle in the pool.
    pub idle: usize,
    /// Connections kept for autocommit statements, idle or busy.
    pub autocommit: usize,
    /// Autocommit statements running now (pipelined ones share a connection).
    pub autocommit_statements: usize,
    /// Connections held by transactions.
    pub transactions: usize,
    /// Callers waiting for a connection.
    pub waiting: usize,
}

impl Connections {
    pub(crate) fn status(&self) -> PoolStatus {
        let (autocommit, autocommit_statements) = {
            let lane = lock(&self.lane);
            (
                lane.entries.len(),
                lane.entries.iter().map(|e| e.users).sum(),
            )
        };
        let status = self.pool.status();
        PoolStatus {
            max_size: status.max_size,
            open: status.size,
            idle: status.available,
            autocommit,
            autocommit_statements,
            transactions: status.size.saturating_sub(status.available + autocommit),
            waiting: status.waiting,
        }
    }

    pub(crate) fn new(pool: Pool, pipelining: bool) -> Self {
        Connections {
            pool,
            pipelining,
            lane: Mutex::new(Lane::default()),
        }
    }

    pub(crate) fn pool(&self) -> &Pool {
        &self.pool
    }

    /// A free pooled connection, if there is one now (or one can be opened).
    async fn free(&self) -> Result<Option<Object>> {
        let mut timeouts = self.pool.timeouts();
        timeouts.wait = Some(Duration::ZERO);
        match self.pool.timeout_get(&timeouts).await {
            Ok(object) => Ok(Some(object)),
            Err(PoolError::Timeout(TimeoutType::Wait)) => Ok(None),
            Err(e) => Err(pool_error(&self.pool, e, Instant::now())),
        }
    }

    /// A connection of its own (transactions), waiting up to the pool's wait timeout. While it
    /// waits, lane connections go back to the pool as they become idle.
    pub(crate) async fn exclusive(&self) -> Result<Object> {
        let started = Instant::now();
        if let Some(object) = self.free().await? {
            return Ok(object);
        }
        let released = {
            let mut lane = lock(&self.lane);
            lane.waiting += 1;
            lane.take_idle()
        };
        let _waiting = Waiting(&self.lane);
        drop(released); // back to the pool, outside the lock
        self.pool
            .get()
            .await
            .map_err(|e| pool_error(&self.pool, e, started))
    }

    /// A connection for one autocommit statement.
    pub(crate) async fn autocommit(&self) -> Result<AutoConn<'_>> {
        // 1. An idle lane connection.
        if let Some(conn) = self.join(|entries| entries.iter().position(|e| e.users == 0)) {
            return Ok(AutoConn { conn, lane: self });
        }
        // Boxed: the pool's futures are large, and every statement's future would carry them.
        Box::pin(self.autocommit_from_pool()).await
    }

    async fn autocommit_from_pool(&self) -> Result<AutoConn<'_>> {
        // 2. A free pooled connection.
        if let Some(object) = self.free().await? {
            return Ok(self.enlist(object));
        }
        // 3. A share of the least busy lane connection.
        if self.pipelining {
            let least_busy =
                |entries: &[Entry]| (0..entries.len()).min_by_key(|&i| entries[i].users);
            if let Some(conn) = self.join(least_busy) {
                return Ok(AutoConn { conn, lane: self });
            }
        }
        // 4. Wait for one.
        let object = self.exclusive().await?;
        Ok(self.enlist(object))
    }

    /// Joins a lane connection unless somebody waits for the pool.
    fn join(&self, pick: impl Fn(&[Entry]) -> Option<usize>) -> Option<Arc<LaneConn>> {
        let mut lane = lock(&self.lane);
        if lane.waiting > 0 {
            return None;
        }
        lane.join(pick)
    }

    fn enlist(&self, object: Object) -> AutoConn<'_> {
        let conn = Arc::new(LaneConn {
            object,
            prepared: Mutex::new(Vec::new()),
        });
        lock(&self.lane).entries.push(Entry {
            conn: conn.clone(),
            users: 1,
        });
        AutoConn { conn, lane: self }
    }
}

/// A lane connection serving one autocommit statement.
pub(crate) struct AutoConn<'c> {
    conn: Arc<LaneConn>,
    lane: &'c Connections,
}

impl Deref for AutoConn<'_> {
    type Target = LaneConn;

    fn deref(&self) -> &LaneConn {
        &self.conn
    }
}

impl Deref for LaneConn {
    type Target = ClientWrapper;

    fn deref(&self) -> &ClientWrapper {
        &self.object
    }
}

impl Drop for AutoConn<'_> {
    fn drop(&mut self) {
        let released = {
            let mut lane = lock(&self.lane.lane);
            let waiting = lane.waiting > 0;
            let found = lane
                .entries
                .iter()
                .position(|e| Arc::ptr_eq(&e.conn, &self.conn));
            found.and_then(|i| {
                let entry = &mut lane.entries[i];
                entry.users -= 1;
                let release = entry.users == 0 && (waiting || entry.conn.object.is_closed());
                release.then(|| lane.entries.swap_remove(i))
            })
        };
        // Back to the pool (when this was the last reference), outside the lock.
        drop(released);
    }
}

impl Conn for LaneConn {
    fn client(&self) -> &ClientWrapper {
        &self.object
    }

    fn cached(&self, statement: &Statement) -> Option<tokio_postgres::Statement> {
        let slot = statement.id as usize;
        lock(&self.prepared).get(slot).cloned().flatten()
    }

    fn remember(&self, statement: &Statement, prepared: &tokio_postgres::Statement) {
        let slot = statement.id as usize;
        if slot == 0 || slot >= MAX_SLOTS {
            return;
        }
        let mut slots = lock(&self.prepared);
        if slots.len() <= slot {
            slots.resize(slot + 1, None);
        }
        slots[slot] = Some(prepared.clone());
    }

    fn forget(&self, statement: &Statement) {
        if let Some(slot) = lock(&self.prepared).get_mut(statement.id as usize) {
            *slot = None;
        }
        self.object
            .statement_cache
            .remove(&statement.sql, &statement.types);
    }
}
