//! The lease seam: where a statement's connection comes from, and what the scope that lent it
//! needs to hear back.
//!
//! - the shared lane of a [`Db`](crate::Db) (autocommit statements; see `pool`), returned when
//!   the statement ends;
//! - a transaction's own connection ([`Tx`](crate::Tx)), kept by the transaction, which hears
//!   about server errors (they abort the transaction) and about statements whose outcome it
//!   never heard (their future was dropped: they may have aborted it unseen), and hands its
//!   `BEGIN` over as the prelude of its first statement.
//!
//! - a connection of its own for one statement in a one-statement transaction
//!   ([`Scope`](crate::Scope): `BEGIN`, settings, the statement and `COMMIT` pipelined on a
//!   connection nobody else's statements interleave with), clean again once the server has
//!   answered the `COMMIT`, rolled back or closed otherwise (`pool::Exclusive`).
//!
//! Replica routing adds the node a lane connection comes from; nothing else changes.

use std::sync::atomic::{AtomicBool, Ordering};

use deadpool_postgres::ClientWrapper;

use super::envelope::Envelope;
use super::run::{Conn, Retry, Scope};
use crate::error::Error;
use crate::pool::{AutoConn, Exclusive};

/// A connection lent to one statement, with the envelope to send around it.
pub struct Lease<'a> {
    pub(crate) conn: Lent<'a>,
    pub(crate) envelope: Envelope<'a>,
    pub(crate) retry: Retry,
    /// What the transaction hears back, if the lease is a transaction's.
    pub(crate) tx: Option<TxFlags<'a>>,
    scope: Scope,
    /// The statement's outcome was reported ([`Lease::outcome`]).
    settled: bool,
}

/// A transaction's flags, set by its statements' leases.
pub(crate) struct TxFlags<'a> {
    /// Set when a statement fails on the server: the transaction is aborted.
    pub(crate) aborted: &'a AtomicBool,
    /// Set when a lease is dropped before its statement's outcome was reported (the
    /// statement's future was dropped): the statement may have failed on the server, aborting
    /// the transaction without `aborted` being set.
    pub(crate) unseen: &'a AtomicBool,
}

impl std::fmt::Debug for Lease<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field(
                "conn",
                &match self.conn {
                    Lent::Lane(_) => "lane",
                    Lent::Held(_) => "held",
                    Lent::Own(_) => "own",
                },
            )
            .field("prelude", &self.envelope.prelude.as_ref().map(|p| p.sql))
            .field("postlude", &self.envelope.postlude)
            .field("retry", &self.retry)
            .finish()
    }
}

/// The connection itself.
pub(crate) enum Lent<'a> {
    /// A lane connection, shared by autocommit statements.
    Lane(AutoConn<'a>),
    /// A connection its scope holds for its whole life.
    Held(&'a ClientWrapper),
    /// A connection of the statement's own, in a one-statement transaction.
    Own(Box<Exclusive>),
}

impl Lent<'_> {
    pub(crate) fn as_conn(&self) -> &dyn Conn {
        match self {
            Lent::Lane(conn) => &**conn,
            Lent::Held(client) => *client,
            Lent::Own(conn) => conn.client(),
        }
    }
}

impl<'a> Lease<'a> {
    /// An autocommit statement's share of the lane: retried once after a schema change.
    pub(crate) fn lane(conn: AutoConn<'a>) -> Self {
        Lease {
            conn: Lent::Lane(conn),
            envelope: Envelope::default(),
            retry: Retry::OnSchemaChange,
            tx: None,
            scope: Scope::Autocommit,
            settled: false,
        }
    }

    /// A connection of its own for one statement wrapped in a transaction by `envelope`
    /// (`BEGIN …` before, `COMMIT` after). Marked open at once: dropped before the server
    /// answered the `COMMIT`, it is rolled back (a `ROLLBACK` after an ended transaction is a
    /// warning, nothing more) or closed. Retried as an autocommit statement is: the whole
    /// transaction runs again.
    pub(crate) fn one_statement(conn: Exclusive, envelope: Envelope<'a>) -> Self {
        conn.mark_open();
        Lease {
            conn: Lent::Own(Box::new(conn)),
            envelope,
            retry: Retry::OnSchemaChange,
            tx: None,
            scope: Scope::Transaction,
            settled: false,
        }
    }

    /// A transaction's connection: never retried (the failure aborted the transaction).
    pub(crate) fn transaction(
        client: &'a ClientWrapper,
        envelope: Envelope<'a>,
        flags: TxFlags<'a>,
    ) -> Self {
        Lease {
            conn: Lent::Held(client),
            envelope,
            retry: Retry::Never,
            tx: Some(flags),
            scope: Scope::Transaction,
            settled: false,
        }
    }

    /// Whether the statement runs in a transaction.
    pub(crate) fn scope(&self) -> Scope {
        self.scope
    }

    /// Tells the scope how the statement ended.
    pub(crate) fn outcome<T>(&mut self, result: &Result<T, Error>) {
        self.settled = true;
        match (&self.conn, result) {
            (Lent::Lane(conn), Err(Error::ConnectionLost { .. })) => {
                // Dead, whether or not the driver has noticed yet: not for the next statement.
                conn.mark_lost();
            }
            (Lent::Lane(conn), Err(Error::PreparedStatementLost { .. })) => {
                // Its statement cache no longer matches the session: retire it.
                conn.mark_lost();
            }
            (Lent::Own(conn), Err(Error::ConnectionLost { .. }))
            | (Lent::Own(conn), Err(Error::PreparedStatementLost { .. })) => conn.mark_broken(),
            // The server answered the one-statement transaction's `COMMIT`: it has ended.
            (Lent::Own(conn), _) if self.envelope.ended => conn.mark_closed(),
            _ => {}
        }
        if let (Some(flags), Err(error)) = (&self.tx, result) {
            if error.aborts_transaction() {
                flags.aborted.store(true, Ordering::Release);
            }
        }
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let (Some(flags), false) = (&self.tx, self.settled) {
            flags.unseen.store(true, Ordering::Release);
        }
    }
}
