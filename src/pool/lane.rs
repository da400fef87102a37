//! The lane's state and rules as plain data: which connection an autocommit statement runs on,
//! who waits, and when a connection leaves the lane. No I/O and no pool here: `Connections`
//! (the module above) probes and waits for the pool and tells the lane what it got, so the
//! rules are unit-tested below with stand-in connections, no server.
//!
//! The rules, in the order a statement tries them:
//! 1. an idle lane connection;
//! 2. a free pooled connection, which joins the lane;
//! 3. with pipelining on, a share of the least busy lane connection;
//! 4. else it waits for the pool ([`Waiter`]), like a transaction ([`Lane::wait`]).
//!
//! [`Lane::join`] applies rule 1, and rule 3 when the pool is known to have nothing free (so
//! rule 2 cannot apply): then a statement costs a lock and a scan, no pool call. Otherwise the
//! pool is probed and [`Lane::after_probe`] applies rules 2, 1 and 3, then 4.
//!
//! While anybody waits, no statement joins a lane connection (rules 1 and 3), so waiters are
//! served in the pool's order; an idle lane connection goes back to the pool for each caller
//! that starts waiting, and a busy one when its last statement ends. A closed connection
//! leaves the lane as soon as no statement runs on it.
//!
//! A connection goes back to the pool when its last `Arc` is dropped: the lane's, once it has
//! left the lane and its last [`Share`] has ended. Whatever leaves the lane is dropped after
//! the lock is released.
//!
//! No statement reads the clock: how long a connection has been idle is measured by the reaper
//! ([`Lane::take_idle_where`]) from the first round that finds it idle.

use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// What the lane needs to know about a connection.
pub(crate) trait Member {
    /// Whether the connection is closed (broken) or due to be retired (past its maximum
    /// lifetime): it serves no more statements and leaves the lane once idle. Asked on every
    /// statement, so it must be cheap (no clock read).
    fn is_spent(&self) -> bool;
}

/// The lane: its connections with how many statements each runs, and the callers waiting for
/// the pool. Shared behind a `Mutex`; every method leaves it consistent.
pub(crate) struct Lane<C> {
    entries: Vec<Entry<C>>,
    /// Callers waiting for the pool (statements at rule 4, transactions).
    waiting: usize,
    /// Whether rule 3 applies.
    pipelining: bool,
}

struct Entry<C> {
    conn: Arc<C>,
    /// Statements running on it now.
    users: usize,
    /// Found closed while busy: it takes no more statements and leaves when its last ends.
    closed: bool,
    /// Since when it has been idle, as the reaper first found it so (`None`: busy, or idle
    /// since the reaper last looked). Cleared when a statement ends, so a statement costs no
    /// clock read.
    idle_since: Option<Instant>,
}

/// Locks the lane. Every critical section leaves the data consistent at each step, so a panic
/// cannot leave it half-updated: a poisoned lock is simply taken.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<C> fmt::Debug for Lane<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lane")
            .field("connections", &self.entries.len())
            .field("statements", &self.statements())
            .field("waiting", &self.waiting)
            .field("pipelining", &self.pipelining)
            .finish()
    }
}

impl<C> Lane<C> {
    pub(crate) fn new(pipelining: bool) -> Self {
        Lane {
            entries: Vec::new(),
            waiting: 0,
            pipelining,
        }
    }

    /// Connections in the lane, idle or busy.
    pub(crate) fn connections(&self) -> usize {
        self.entries.len()
    }

    /// Statements running on lane connections.
    pub(crate) fn statements(&self) -> usize {
        self.entries.iter().map(|e| e.users).sum()
    }

    /// Callers waiting for the pool.
    #[cfg(test)]
    pub(crate) fn waiting(&self) -> usize {
        self.waiting
    }

    pub(crate) fn pipelining(&self) -> bool {
        self.pipelining
    }

    /// One more statement on entry `i`.
    fn run_on(&mut self, i: usize) -> Arc<C> {
        let entry = &mut self.entries[i];
        entry.users += 1;
        entry.conn.clone()
    }

    /// Rule 2: `conn`, fresh from the pool, joins the lane running one statement.
    fn enlist(&mut self, conn: C) -> Arc<C> {
        let conn = Arc::new(conn);
        self.entries.push(Entry {
            conn: conn.clone(),
            users: 1,
            closed: false,
            idle_since: None,
        });
        conn
    }

    /// Shutdown: every connection leaves the lane, the idle ones now (returned, for the caller
    /// to drop outside the lock), the busy ones when their last statement ends.
    pub(crate) fn close(&mut self) -> Vec<Arc<C>> {
        for entry in &mut self.entries {
            entry.closed = true;
        }
        let mut idle = Vec::new();
        while let Some(conn) = self.take_idle() {
            idle.push(conn);
        }
        idle
    }

    /// Removes an idle connection, to hand back to the pool for a waiter.
    fn take_idle(&mut self) -> Option<Arc<C>> {
        let i = self.entries.iter().position(|e| e.users == 0)?;
        Some(self.entries.swap_remove(i).conn)
    }

    /// Idle connections in the lane.
    pub(crate) fn idle(&self) -> usize {
        self.entries.iter().filter(|e| e.users == 0).count()
    }

    /// Every connection in the lane, idle or busy (the reaper marks those past their lifetime).
    pub(crate) fn members(&self) -> impl Iterator<Item = &C> {
        self.entries.iter().map(|e| &*e.conn)
    }

    /// The reaper's look at the lane at `now`: removes the idle connections for which
    /// `leave(conn, idle_for)` says so (idle too long, or spent), for the caller to drop
    /// outside the lock. `idle_for` counts from the first look that found the connection idle
    /// (zero at that look): never more than it has been idle, at most one round less.
    pub(crate) fn take_idle_where(
        &mut self,
        now: Instant,
        mut leave: impl FnMut(&C, Duration) -> bool,
    ) -> Vec<Arc<C>> {
        let mut taken = Vec::new();
        let mut i = 0;
        while i < self.entries.len() {
            let entry = &mut self.entries[i];
            if entry.users == 0 {
                let since = *entry.idle_since.get_or_insert(now);
                if leave(&entry.conn, now.saturating_duration_since(since)) {
                    taken.push(self.entries.swap_remove(i).conn);
                    continue;
                }
            }
            i += 1;
        }
        taken
    }

    /// In one scan: the first idle connection and the least busy one not known to be closed.
    fn candidates(&self) -> (Option<usize>, Option<usize>) {
        let mut least_busy: Option<(usize, usize)> = None;
        for (i, entry) in self.entries.iter().enumerate() {
            if entry.users == 0 {
                return (Some(i), Some(i));
            }
            if !entry.closed && least_busy.is_none_or(|(_, users)| entry.users < users) {
                least_busy = Some((i, entry.users));
            }
        }
        (None, least_busy.map(|(i, _)| i))
    }
}

impl<C: Member> Lane<C> {
    /// Rule 1, then rule 3 if `share()` allows it: entry `i` to run a statement on. The
    /// connection chosen is checked for being closed (only that one: a lock, a scan and one
    /// check per statement); a closed one leaves the lane if idle (into `closed`, to drop
    /// outside the lock) or takes no more statements if busy, and the choice is made again.
    fn pick(&mut self, mut share: impl FnMut() -> bool, closed: &mut Vec<Arc<C>>) -> Option<usize> {
        if self.waiting > 0 {
            return None;
        }
        let mut may_share = None;
        loop {
            let i = match self.candidates() {
                (Some(idle), _) => idle,
                (None, Some(least_busy))
                    if self.pipelining && *may_share.get_or_insert_with(&mut share) =>
                {
                    least_busy
                }
                _ => return None,
            };
            if !self.entries[i].conn.is_spent() {
                return Some(i);
            }
            if self.entries[i].users == 0 {
                closed.push(self.entries.swap_remove(i).conn);
            } else {
                self.entries[i].closed = true;
            }
        }
    }

    /// A statement on `conn` ended: the connection leaves the lane if that was its last
    /// statement and somebody waits for the pool or it is closed.
    fn leave(&mut self, conn: &Arc<C>) -> Option<Arc<C>> {
        let i = self
            .entries
            .iter()
            .position(|e| Arc::ptr_eq(&e.conn, conn))?;
        let entry = &mut self.entries[i];
        entry.users -= 1;
        if entry.users > 0 {
            return None;
        }
        if self.waiting > 0 || entry.closed || entry.conn.is_spent() {
            return Some(self.entries.swap_remove(i).conn);
        }
        // Idle from now on: the reaper's next look starts counting.
        entry.idle_since = None;
        None
    }

    /// Places a statement without asking the pool, when that is possible: on an idle lane
    /// connection (rule 1), or, when `pool_is_drained()` says the pool has no free connection
    /// to give (rule 2 cannot apply), on a share of the least busy one (rule 3). `None`: ask
    /// the pool, then [`Lane::after_probe`].
    pub(crate) fn join(
        lane: &Mutex<Lane<C>>,
        pool_is_drained: impl FnMut() -> bool,
    ) -> Option<Share<'_, C>> {
        let mut closed = Vec::new();
        let conn = {
            let mut guard = lock(lane);
            guard
                .pick(pool_is_drained, &mut closed)
                .map(|i| guard.run_on(i))
        };
        drop(closed); // back to the pool, outside the lock
        Some(Share { conn: conn?, lane })
    }

    /// Rules 2 to 4, once the pool was asked for a free connection (`free`): it joins the lane
    /// (2); else an idle lane connection or a share of the least busy one (1, 3); else the
    /// caller waits (4).
    pub(crate) fn after_probe(lane: &Mutex<Lane<C>>, free: Option<C>) -> Placed<'_, C> {
        let mut closed = Vec::new();
        let placed = {
            let mut guard = lock(lane);
            if let Some(conn) = free {
                Ok(guard.enlist(conn))
            } else if let Some(i) = guard.pick(|| true, &mut closed) {
                Ok(guard.run_on(i))
            } else {
                Err(guard)
            }
        };
        let placed = match placed {
            Ok(conn) => Placed::Run(Share { conn, lane }),
            Err(guard) => Placed::Wait(Lane::start_waiting(lane, guard)),
        };
        drop(closed);
        placed
    }

    /// Rule 4 for a caller the pool had no free connection for (a transaction, or a statement
    /// after [`Lane::after_probe`]): it counts as waiting until the [`Waiter`] is dropped or
    /// served, and an idle lane connection goes back to the pool for it.
    pub(crate) fn wait(lane: &Mutex<Lane<C>>) -> Waiter<'_, C> {
        Lane::start_waiting(lane, lock(lane))
    }

    fn start_waiting<'l>(
        lane: &'l Mutex<Lane<C>>,
        mut guard: MutexGuard<'l, Self>,
    ) -> Waiter<'l, C> {
        guard.waiting += 1;
        let released = guard.take_idle();
        drop(guard);
        drop(released); // back to the pool, outside the lock
        Waiter { lane: Some(lane) }
    }
}

/// Where a statement runs, after the pool was probed.
pub(crate) enum Placed<'l, C: Member> {
    /// On a lane connection.
    Run(Share<'l, C>),
    /// Nowhere yet: it waits for the pool.
    Wait(Waiter<'l, C>),
}

/// One statement's share of a lane connection. Dropped, the statement has ended: the connection
/// leaves the lane (to go back to the pool) if that was its last statement and somebody waits
/// or it is closed.
pub(crate) struct Share<'l, C: Member> {
    conn: Arc<C>,
    lane: &'l Mutex<Lane<C>>,
}

impl<C: Member> Deref for Share<'_, C> {
    type Target = C;

    fn deref(&self) -> &C {
        &self.conn
    }
}

impl<C: Member> Drop for Share<'_, C> {
    fn drop(&mut self) {
        let left = lock(self.lane).leave(&self.conn);
        // Back to the pool once the last share lets go of it, outside the lock.
        drop(left);
    }
}

/// A caller waiting for the pool, counted as such until dropped or served.
pub(crate) struct Waiter<'l, C: Member> {
    /// `None` once served.
    lane: Option<&'l Mutex<Lane<C>>>,
}

impl<'l, C: Member> Waiter<'l, C> {
    /// The pool gave the waiting statement `conn`: it stops waiting and `conn` joins the lane
    /// running its statement (rule 2), in one step.
    pub(crate) fn served(mut self, conn: C) -> Share<'l, C> {
        let lane = self.lane.take().expect("a waiter is served once");
        let mut guard = lock(lane);
        guard.waiting -= 1;
        let conn = guard.enlist(conn);
        Share { conn, lane }
    }
}

impl<C: Member> Drop for Waiter<'_, C> {
    fn drop(&mut self) {
        if let Some(lane) = self.lane {
            lock(lane).waiting -= 1;
        }
    }
}

#[cfg(test)]
mod tests;
