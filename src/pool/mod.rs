//! Connection acquisition for a [`Db`](crate::Db): exclusive connections for transactions, and
//! for autocommit statements the *lane*: connections taken from the pool to serve autocommit
//! statements, kept between statements while nobody waits for a connection.
//!
//! An autocommit statement takes, in order:
//! 1. an idle lane connection (no pool call at all: a lock, a scan, a counter);
//! 2. a free pooled connection, which joins the lane;
//! 3. with pipelining on, a share of the least busy lane connection;
//! 4. else it waits for the pool like a transaction.
//!
//! Lane connections go back to the pool as soon as somebody waits for one (a transaction, or a
//! statement at step 4): idle ones at once, busy ones when their last statement ends; while
//! anybody waits, no statement joins a lane connection, so waiters are served in the pool's
//! order. A lane connection found closed is dropped (the pool then opens a new one).
//!
//! The rules are plain data in `lane` (unit-tested there without a server); this module asks
//! the pool and hands the lane what it got. When the pool has nothing to give (every
//! connection out, none left to open), step 2 is skipped without a checkout attempt, so a
//! saturated pool costs a statement a lock and a scan, like an idle lane connection.
//!
//! Sharing is safe for autocommit statements: tokio-postgres pipelines concurrent requests on
//! one connection and ends each with its own `Sync`, so they neither wait for a whole
//! connection to come back nor affect each other's outcome. Transactions never share.
//!
//! Each lane connection also keeps its own statement cache: a slot per [`Statement`] built
//! once per process, so finding a prepared statement is an index, not a hash of its SQL.

use std::fmt;
use std::ops::Deref;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use deadpool_postgres::{ClientWrapper, Object, Pool, PoolError, TimeoutType};

use crate::error::Result;
use crate::exec::Conn;
use crate::sql::Statement;

mod exclusive;
mod holders;
mod lane;
mod lifetime;
mod pool_error;

pub(crate) use exclusive::Exclusive;
pub use holders::Holder;
pub(crate) use holders::{describe_holders, Hold, DEFAULT_HOLD_WARNING};
pub(crate) use lifetime::{spawn_reaper, Lifetime, LifetimeSettings};
pub(crate) use pool_error::pool_error;

use lane::{lock, Lane, Member, Placed};

/// Statements with a larger id are left to the driver's cache (ids are handed out once per
/// built statement; this bounds each connection's slots if an application builds them in a
/// loop).
const MAX_SLOTS: usize = 1 << 14;

/// The pool, and the connections currently serving autocommit statements.
pub(crate) struct Connections {
    pool: Pool,
    lane: Mutex<Lane<LaneConn>>,
    /// Who holds the connections taken for transactions.
    holders: Arc<holders::Holders>,
    /// When connections are retired (also applied by the pool's hook, see `lifetime`).
    lifetime: Arc<Lifetime>,
}

/// A pooled connection serving autocommit statements, with its own statement cache.
pub(crate) struct LaneConn {
    /// `None` only while being dropped.
    object: Option<Object>,
    prepared: Mutex<Vec<Option<tokio_postgres::Statement>>>,
    lifetime: Arc<Lifetime>,
    /// When it is due to be retired (`None`: never), computed once when it opens.
    retire_at: Option<Instant>,
    /// Found past `retire_at` by the reaper, which compares, so that statements don't read
    /// the clock (see `Member::is_spent` below).
    expired: AtomicBool,
    /// Leaves the lane to be closed (idle too long): it goes back to the pool as idle since
    /// it was taken, so the reaper closes it there.
    retiring: AtomicBool,
    /// A statement on it found the connection dead (`Error::ConnectionLost`) before the
    /// driver may have noticed: it serves nobody else.
    lost: AtomicBool,
}

/// A lane connection serving one autocommit statement (its share ends when dropped).
pub(crate) type AutoConn<'c> = lane::Share<'c, LaneConn>;

impl LaneConn {
    fn new(object: Object, lifetime: &Arc<Lifetime>) -> Self {
        LaneConn {
            retire_at: lifetime.retire_at(Object::metrics(&object).created),
            object: Some(object),
            prepared: Mutex::new(Vec::new()),
            lifetime: Arc::clone(lifetime),
            expired: AtomicBool::new(false),
            retiring: AtomicBool::new(false),
            lost: AtomicBool::new(false),
        }
    }

    fn object(&self) -> &Object {
        self.object
            .as_ref()
            .expect("a lane connection is present until dropped")
    }

    /// A statement on it lost the connection: it leaves the lane when that statement ends.
    pub(crate) fn mark_lost(&self) {
        self.lost.store(true, Ordering::Relaxed);
    }

    /// The reaper's check of its lifetime at `now`, busy or idle.
    fn check_lifetime(&self, now: Instant) {
        if self.retire_at.is_some_and(|at| now >= at) {
            self.expired.store(true, Ordering::Relaxed);
        }
    }

    /// Whether it is past its maximum lifetime: as the reaper last found, or, when no reaper
    /// looks (no tokio runtime when the `Db` was built), by the clock.
    fn is_expired(&self) -> bool {
        self.expired.load(Ordering::Relaxed)
            || (!self.lifetime.is_reaped() && self.retire_at.is_some_and(|at| Instant::now() >= at))
    }
}

impl Member for LaneConn {
    /// Closed, or past its maximum lifetime: a lane connection never goes back to the pool
    /// while it serves statements, so a busy service would otherwise keep it forever. Asked
    /// twice per statement: atomic loads only, as long as a reaper runs (it retires the
    /// connection up to one of its rounds late).
    fn is_spent(&self) -> bool {
        self.object().is_closed() || self.lost.load(Ordering::Relaxed) || self.is_expired()
    }
}

impl Drop for LaneConn {
    fn drop(&mut self) {
        // A spent connection is closed now: the pool would not always see that it is (a
        // connection found dead before the driver noticed, one past its lifetime).
        if self.is_spent() {
            if let Some(object) = self.object.take() {
                drop(Object::take(object));
            }
            return;
        }
        // Back to the pool (the `Object`'s drop, next): idle from now on, unless it is
        // retiring (idle too long: the reaper closes it there).
        if !*self.retiring.get_mut() {
            self.lifetime.returning(self.object());
        }
    }
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
            .field("autocommit_connections", &lane.connections())
            .field("pipelining", &lane.pipelining())
            .finish()
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
            (lane.connections(), lane.statements())
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

    /// `hold_warning`: how long a transaction's connection may be held before it is logged
    /// (`None`: never).
    pub(crate) fn new(
        pool: Pool,
        pipelining: bool,
        hold_warning: Option<Duration>,
        lifetime: Arc<Lifetime>,
    ) -> Self {
        // `DbBuilder::build` spawns the reaper (`spawn_reaper`) right after, exactly when a
        // rule needs it and there is a runtime: from the first statement on, lane connections
        // leave their lifetime to it.
        let reaped = lifetime.settings.reap_interval().is_some()
            && tokio::runtime::Handle::try_current().is_ok();
        lifetime.set_reaped(reaped);
        Connections {
            pool,
            lane: Mutex::new(Lane::new(pipelining)),
            holders: holders::Holders::new(hold_warning),
            lifetime,
        }
    }

    /// The reaper's round (see `lifetime`): lane connections past their lifetime are marked
    /// (so that statements need not read the clock), idle lane connections that are spent or
    /// idle too long go back to the pool, which closes them with its own idle ones that are;
    /// then the idle floor is refilled. `false` once the pool is closed: the reaper ends.
    pub(crate) async fn maintain(&self) -> bool {
        if self.pool.is_closed() {
            self.lifetime.set_reaped(false);
            return false;
        }
        let lifetime = &self.lifetime;
        let now = Instant::now();
        let leaving = {
            let mut lane = lock(&self.lane);
            for conn in lane.members() {
                conn.check_lifetime(now);
            }
            lane.take_idle_where(now, |conn, idle_for| {
                conn.is_spent() || lifetime.idle_too_long(idle_for)
            })
        };
        for conn in &leaving {
            conn.retiring.store(true, Ordering::Relaxed);
        }
        drop(leaving); // back to the pool, outside the lock
        let closed = lifetime.reap_pool(&self.pool);
        if closed > 0 {
            tracing::debug!(closed, "pgrepo: closed idle or expired connections");
        }
        if lifetime.settings.min_idle > 0 {
            let idle_in_lane = lock(&self.lane).idle();
            lifetime.refill(&self.pool, idle_in_lane).await;
        }
        true
    }

    /// An [`Error`](crate::Error) for a failed checkout that began at `started`.
    fn error(&self, error: PoolError, started: Instant) -> crate::Error {
        pool_error(self, error, started)
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
            Err(e) => Err(self.error(e, Instant::now())),
        }
    }

    /// Waits for the pool up to its wait timeout.
    async fn wait(&self, started: Instant) -> Result<Object> {
        self.pool.get().await.map_err(|e| self.error(e, started))
    }

    /// A connection of its own (transactions), waiting up to the pool's wait timeout, and
    /// registered as held by the caller at `at` until the [`Hold`] is dropped. While it
    /// waits, lane connections go back to the pool as they become idle.
    pub(crate) async fn exclusive(&self, at: &'static Location<'static>) -> Result<(Object, Hold)> {
        let started = Instant::now();
        let object = match self.free().await? {
            Some(object) => object,
            None => {
                let _waiting = Lane::wait(&self.lane);
                self.wait(started).await?
            }
        };
        Ok((object, self.holders.register(at)))
    }

    /// Shutdown: the pool hands out no more connections (callers get `PoolError::Closed`, at
    /// once, also those waiting), and every connection is closed as it comes back: idle ones
    /// now, lane connections after their last statement, transactions' when they end. Waits
    /// up to `grace` for that; returns how many were still open then.
    pub(crate) async fn close(&self, grace: Duration) -> usize {
        self.pool.close();
        let idle = lock(&self.lane).close();
        drop(idle); // into the closed pool, which drops them
        let deadline = Instant::now() + grace;
        loop {
            let open = self.pool.status().size;
            if open == 0 || Instant::now() >= deadline {
                return open;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Whether the pool has no connection to give now: none idle in it and none left to open
    /// (a closed pool is asked, to report itself). A lock and a few reads, where probing it
    /// costs a checkout attempt.
    fn pool_is_drained(&self) -> bool {
        let status = self.pool.status();
        status.available == 0 && status.size >= status.max_size && !self.pool.is_closed()
    }

    /// A connection for one autocommit statement (the rules: `lane`).
    pub(crate) async fn autocommit(&self) -> Result<AutoConn<'_>> {
        if let Some(share) = Lane::join(&self.lane, || self.pool_is_drained()) {
            return Ok(share);
        }
        // Boxed: the pool's futures are large, and every statement's future would carry them.
        Box::pin(self.autocommit_from_pool()).await
    }

    async fn autocommit_from_pool(&self) -> Result<AutoConn<'_>> {
        let started = Instant::now();
        let free = self
            .free()
            .await?
            .map(|object| LaneConn::new(object, &self.lifetime));
        match Lane::after_probe(&self.lane, free) {
            Placed::Run(share) => Ok(share),
            Placed::Wait(waiter) => {
                let object = self.wait(started).await?;
                Ok(waiter.served(LaneConn::new(object, &self.lifetime)))
            }
        }
    }
}

impl Deref for LaneConn {
    type Target = ClientWrapper;

    fn deref(&self) -> &ClientWrapper {
        self.object()
    }
}

impl Conn for LaneConn {
    fn client(&self) -> &ClientWrapper {
        self.object()
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
        self.object()
            .statement_cache
            .remove(&statement.sql, &statement.types);
    }
}
