//! A pooled connection held by one caller (a transaction), which never reaches another caller
//! with a transaction open.
//!
//! Whatever future holding it is dropped, at whatever await point, the connection goes back to
//! the pool only when it is known to be outside a transaction: untouched, or rolled back in the
//! background first (after whatever was already sent on it, which the server finishes in
//! order). When that cannot be known (no runtime to roll back on, a rollback that failed, a
//! connection that broke mid-statement, a `COMMIT` whose answer never came) it is closed
//! instead, and the pool opens a new one.

use std::sync::atomic::{AtomicBool, Ordering};

use deadpool_postgres::{ClientWrapper, Object};

use super::Hold;

/// A connection of one caller's own; see the module docs for what its drop does.
pub(crate) struct Exclusive {
    /// `None` only while being dropped.
    object: Option<Object>,
    /// A `BEGIN` may have been sent and no `COMMIT`/`ROLLBACK` seen to complete.
    open: AtomicBool,
    /// The connection's state is unknown: close it instead of reusing it.
    broken: AtomicBool,
    /// The registration of its holder, released when the connection goes back (after a
    /// background rollback, if it needs one). `None` only while being dropped.
    hold: Option<Hold>,
}

impl Exclusive {
    pub(crate) fn new(object: Object, hold: Hold) -> Self {
        Exclusive {
            object: Some(object),
            open: AtomicBool::new(false),
            broken: AtomicBool::new(false),
            hold: Some(hold),
        }
    }

    pub(crate) fn client(&self) -> &ClientWrapper {
        self.object
            .as_ref()
            .expect("an exclusive connection is present until dropped")
    }

    /// Set when a `BEGIN` is handed to the connection (before it is answered).
    pub(crate) fn open_flag(&self) -> &AtomicBool {
        &self.open
    }

    /// A transaction is about to begin on it (before its `BEGIN` is even sent: a needless
    /// rollback costs less than a transaction left open).
    pub(crate) fn mark_open(&self) {
        self.open.store(true, Ordering::Release);
    }

    /// Whether a transaction may be open on the connection.
    pub(crate) fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }

    /// The transaction ended (`COMMIT` or `ROLLBACK` answered): the connection is clean.
    pub(crate) fn mark_closed(&self) {
        self.open.store(false, Ordering::Release);
    }

    /// The connection's state is unknown: it is closed when dropped.
    pub(crate) fn mark_broken(&self) {
        self.broken.store(true, Ordering::Release);
    }
}

impl Drop for Exclusive {
    fn drop(&mut self) {
        let Some(object) = self.object.take() else {
            return;
        };
        if *self.broken.get_mut() || object.is_closed() {
            drop(Object::take(object));
            return;
        }
        if !*self.open.get_mut() {
            return; // clean: back to the pool
        }
        let guard = CloseUnlessClean {
            object: Some(object),
            _hold: self.hold.take(),
        };
        // Without a runtime to roll back on, `guard` drops here and closes the connection.
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(guard.roll_back());
        }
    }
}

/// Closes its connection when dropped, unless a rollback was seen to complete: the rollback
/// task may itself be dropped unfinished (a runtime shutting down).
struct CloseUnlessClean {
    object: Option<Object>,
    /// Its holder stays registered until the connection goes back or is closed.
    _hold: Option<Hold>,
}

impl CloseUnlessClean {
    async fn roll_back(mut self) {
        let Some(object) = self.object.as_ref() else {
            return;
        };
        if object.batch_execute("ROLLBACK").await.is_ok() {
            // Clean: hand it back to the pool.
            drop(self.object.take());
        }
    }
}

impl Drop for CloseUnlessClean {
    fn drop(&mut self) {
        if let Some(object) = self.object.take() {
            drop(Object::take(object));
        }
    }
}
