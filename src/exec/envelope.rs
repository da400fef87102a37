//! The envelope seam: what is sent around a statement on the same connection, pipelined with
//! it so that a scoped statement stays one round trip.
//!
//! - a *prelude* goes before the statement: `BEGIN` with a transaction's options on its first
//!   statement (a [`Tx`](crate::Tx) begins lazily), later `SET LOCAL` of a tenant;
//! - a *postlude* goes after it: `COMMIT` of a one-statement scope, later the capture of a WAL
//!   position after a write.
//!
//! tokio-postgres sends a request when its future is first polled and answers requests in the
//! order they were sent, so the prelude is polled once (sent) before the statement is polled,
//! and the postlude after. Nothing waits for the prelude's answer before the statement goes out.

use std::sync::atomic::{AtomicBool, Ordering};

/// Text sent before and after a statement (simple protocol), and who to tell once the
/// prelude is on its way.
#[derive(Default)]
pub(crate) struct Envelope<'a> {
    pub(crate) prelude: Option<Prelude<'a>>,
    pub(crate) postlude: Option<&'a str>,
}

impl Envelope<'_> {
    /// Nothing around the statement: the common case, which takes the plain path.
    pub(crate) fn is_empty(&self) -> bool {
        self.prelude.is_none() && self.postlude.is_none()
    }
}

/// Statements sent before the statement.
pub(crate) struct Prelude<'a> {
    pub(crate) sql: &'a str,
    /// Set once the prelude has been handed to the connection (even if its future is dropped
    /// afterwards), with whatever guard kept other statements from overtaking it.
    pub(crate) sent: Option<Sent<'a>>,
}

/// Marks a scope's prelude as sent and releases the scope's other statements, which waited so
/// as not to run before it.
pub(crate) struct Sent<'a> {
    pub(crate) flag: &'a AtomicBool,
    pub(crate) _turn: tokio::sync::MutexGuard<'a, ()>,
}

impl Sent<'_> {
    pub(crate) fn mark(self) {
        self.flag.store(true, Ordering::Release);
        // `_turn` drops here: the scope's next statements go after the prelude.
    }
}
