//! [`Tx`]: statements that run in one transaction on one connection, committed or rolled back
//! as a whole, and [`TxOptions`].
//!
//! A transaction begins lazily: its `BEGIN` (with its options and prelude) is the envelope
//! prelude of its first statement, pipelined with it. Its connection is an `Exclusive`, which
//! never returns to the pool with the transaction open, whatever future is dropped when.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio_postgres::error::SqlState;

use crate::error::{answered_by_server, Error, Result};
use crate::exec::envelope::{Envelope, Locals, Prelude, Sent};
use crate::exec::lease::TxFlags;
use crate::exec::{Executor, Lease, Sealed, Settings};
use crate::pool::Exclusive;
use crate::sql::raw::Sql;
use crate::sql::Statement;
use crate::timeouts::Timeouts;

/// An isolation level ([`TxOptions::isolation`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Isolation {
    /// `READ COMMITTED`, the server's default.
    ReadCommitted,
    /// `REPEATABLE READ`: one snapshot for the whole transaction.
    RepeatableRead,
    /// `SERIALIZABLE`: as if transactions ran one at a time (retry on SQLSTATE 40001).
    Serializable,
}

impl Isolation {
    fn sql(self) -> &'static str {
        match self {
            Isolation::ReadCommitted => "READ COMMITTED",
            Isolation::RepeatableRead => "REPEATABLE READ",
            Isolation::Serializable => "SERIALIZABLE",
        }
    }
}

/// How a transaction begins ([`Db::begin_with`](crate::Db::begin_with),
/// [`Db::transaction_with`](crate::Db::transaction_with)).
///
/// ```
/// use pgrepo::{Isolation, TxOptions};
/// let options = TxOptions::new()
///     .isolation(Isolation::Serializable)
///     .read_only(true)
///     .prelude("SET LOCAL statement_timeout = '5s'");
/// assert_eq!(
///     options.begin_sql(),
///     "BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY; SET LOCAL statement_timeout = '5s'"
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TxOptions {
    isolation: Option<Isolation>,
    read_only: bool,
    deferrable: bool,
    timeouts: Option<Timeouts>,
    prelude: Option<String>,
}

impl TxOptions {
    /// The server's defaults.
    pub fn new() -> Self {
        TxOptions::default()
    }

    /// The isolation level (default: the server's, usually `READ COMMITTED`).
    pub fn isolation(mut self, isolation: Isolation) -> Self {
        self.isolation = Some(isolation);
        self
    }

    /// A read-only transaction: the server refuses writes in it.
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// `DEFERRABLE` (meaningful with `SERIALIZABLE` and read-only: waits for a safe snapshot,
    /// then never fails with a serialization error).
    pub fn deferrable(mut self, deferrable: bool) -> Self {
        self.deferrable = deferrable;
        self
    }

    /// Timeouts for this transaction only (`SET LOCAL`, sent with `BEGIN`: no round trip of
    /// their own, and gone when it ends, so they never stay on the pooled connection). Those
    /// left `None` keep the `Db`'s ([`DbBuilder::timeouts`](crate::DbBuilder::timeouts)).
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = Some(timeouts);
        self
    }

    /// Statements run right after `BEGIN`, pipelined with it and the first statement (e.g.
    /// `SET LOCAL lock_timeout = '2s'`). Trusted text: never build it from user input.
    pub fn prelude(mut self, sql: impl Into<String>) -> Self {
        self.prelude = Some(sql.into());
        self
    }

    /// The text sent before the transaction's first statement.
    pub fn begin_sql(&self) -> String {
        self.begin_sql_after(None, None)
    }

    /// As [`begin_sql`](Self::begin_sql), with the `Db`'s timeouts first where it sets them
    /// per transaction (the transaction's own then override them).
    pub(crate) fn begin_sql_after(
        &self,
        db_timeouts: Option<&Timeouts>,
        locals: Option<&Locals>,
    ) -> String {
        let mut sql = String::from("BEGIN");
        if let Some(isolation) = self.isolation {
            sql.push_str(" ISOLATION LEVEL ");
            sql.push_str(isolation.sql());
        }
        if self.read_only {
            sql.push_str(" READ ONLY");
        }
        if self.deferrable {
            sql.push_str(" DEFERRABLE");
        }
        if let Some(locals) = locals {
            sql.push_str("; ");
            sql.push_str(locals.sql());
        }
        for timeouts in db_timeouts.into_iter().chain(&self.timeouts) {
            let set = timeouts.set_local();
            if !set.is_empty() {
                sql.push_str("; ");
                sql.push_str(&set);
            }
        }
        if let Some(prelude) = &self.prelude {
            sql.push_str("; ");
            sql.push_str(prelude);
        }
        sql
    }
}

/// An open transaction holding one pooled connection. Its statements are the [`Executor`]
/// methods (`tx.repo::<User>()`, `tx.execute(…)`, …).
///
/// End it with [`Tx::commit`] or [`Tx::rollback`]. Dropped while open (also when a future
/// using it is cancelled), it is rolled back in the background before its connection returns to
/// the pool, or the connection is closed when that cannot be done: an abandoned transaction
/// never leaks into another caller.
pub struct Tx {
    conn: Exclusive,
    begin_sql: String,
    /// Held by the statement that sends `BEGIN`, so no other statement overtakes it.
    turn: tokio::sync::Mutex<()>,
    /// A statement failed on the server: the transaction is aborted and cannot commit.
    aborted: AtomicBool,
    /// A statement's future was dropped before its outcome was known: it may have failed on
    /// the server unseen, so `COMMIT` checks first that the transaction is not aborted.
    unseen: AtomicBool,
    /// Savepoints opened so far, for their names.
    savepoints: AtomicUsize,
    settings: Settings,
}

impl fmt::Debug for Tx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tx")
            .field("begun", &self.conn.is_open())
            .field("aborted", &self.aborted.load(Ordering::Relaxed))
            .field("unseen", &self.unseen.load(Ordering::Relaxed))
            .field("begin", &self.begin_sql)
            .finish()
    }
}

const TX_TABLE: &str = "(transaction)";

impl Tx {
    pub(crate) fn new(
        (conn, hold): (deadpool_postgres::Object, crate::pool::Hold),
        options: &TxOptions,
        settings: Settings,
    ) -> Tx {
        Tx {
            conn: Exclusive::new(conn, hold),
            begin_sql: options
                .begin_sql_after(settings.tx_timeouts.as_ref(), settings.locals.as_deref()),
            turn: tokio::sync::Mutex::new(()),
            aborted: AtomicBool::new(false),
            unseen: AtomicBool::new(false),
            savepoints: AtomicUsize::new(0),
            settings,
        }
    }

    /// What its statements' leases report back to.
    fn flags(&self) -> TxFlags<'_> {
        TxFlags {
            aborted: &self.aborted,
            unseen: &self.unseen,
        }
    }

    /// Runs `body` in a nested transaction (a savepoint): when it returns `Err`, what it did is
    /// rolled back and the transaction goes on as before it; when it returns `Ok`, its work
    /// stays part of this transaction (committed with it).
    ///
    /// If the nested transaction's future is dropped before it ends, its work can no longer be
    /// told apart from the rest: this transaction is then aborted and refuses to commit
    /// ([`Error::TransactionAborted`]).
    ///
    /// ```no_run
    /// # async fn demo(db: pgrepo::Db) -> pgrepo::Result<()> {
    /// use pgrepo::Executor as _;
    /// db.transaction(async |tx| {
    ///     tx.execute("INSERT INTO audit (what) VALUES ('start')", &[]).await?;
    ///     // A duplicate here is rolled back alone; the audit row stays.
    ///     let _ = tx
    ///         .transaction(async |tx| tx.execute("INSERT INTO tags (code) VALUES ('x')", &[]).await)
    ///         .await;
    ///     Ok(())
    /// })
    /// .await
    /// # }
    /// ```
    ///
    /// # Errors
    /// The body's error (after rolling back to the savepoint), or the error of the savepoint
    /// statements.
    pub async fn transaction<R, F>(&self, body: F) -> Result<R>
    where
        F: AsyncFnOnce(&Tx) -> Result<R>,
    {
        let name = format!(
            "pgrepo_savepoint_{}",
            self.savepoints.fetch_add(1, Ordering::Relaxed)
        );
        self.batch_execute(Sql::write(&format!("SAVEPOINT {name}")))
            .await?;
        let aborted_before = self.aborted.load(Ordering::Acquire);
        // Dropped before the savepoint is released or rolled back: poison the transaction.
        let unfinished = PoisonUnlessDone {
            aborted: &self.aborted,
            done: false,
        };
        let result = body(self).await;
        let end = match &result {
            Ok(_) => format!("RELEASE SAVEPOINT {name}"),
            Err(_) => format!("ROLLBACK TO SAVEPOINT {name}; RELEASE SAVEPOINT {name}"),
        };
        let ended = self.batch_execute(Sql::write(&end)).await;
        let mut unfinished = unfinished;
        unfinished.done = true;
        match (result, ended) {
            (Ok(value), Ok(())) => Ok(value),
            (Ok(_), Err(error)) => Err(error),
            (Err(error), Ok(())) => {
                // Rolled back to the savepoint: the transaction is as it was before it.
                self.aborted.store(aborted_before, Ordering::Release);
                Err(error)
            }
            (Err(error), Err(_)) => Err(error),
        }
    }

    /// Commits the transaction.
    ///
    /// # Errors
    /// - [`Error::TransactionAborted`] when a statement of the transaction failed on the server,
    ///   which aborted it: it is rolled back and nothing of it is committed. This holds also
    ///   for a statement whose future was dropped before it finished: then `COMMIT` is
    ///   preceded by a check, in the same round trip, that the transaction is not aborted
    ///   (the server would answer a bare `COMMIT` of an aborted transaction with a rollback,
    ///   and no error).
    /// - The server's error when it rejects the commit (e.g. a deferred constraint
    ///   ([`Error::UniqueViolation`], [`Error::ForeignKeyViolation`]), a serialization failure
    ///   (SQLSTATE 40001)): nothing of it is committed.
    /// - [`Error::TransactionLost`] when the connection had closed before `COMMIT` could be
    ///   sent: nothing of it is committed.
    /// - [`Error::CommitOutcomeUnknown`] when the connection failed after `COMMIT` was sent
    ///   and before the server confirmed it: **it may or may not have committed**; reconcile
    ///   before retrying.
    ///
    /// When the server answered, the connection is reused; when it failed, it is closed.
    pub async fn commit(self) -> Result<()> {
        if self.aborted.load(Ordering::Acquire) {
            // Nothing of it commits, whether or not the rollback gets through (a connection
            // that fails it is closed, and its server ends the transaction). Also when its
            // `BEGIN` never went out (a statement failed before it, e.g. while being
            // prepared): a transaction whose statement failed never reports a commit.
            if self.conn.is_open() {
                let _ = self.finish("ROLLBACK").await;
            }
            return Err(Error::TransactionAborted);
        }
        if !self.conn.is_open() {
            return Ok(()); // no statement ran: nothing to commit
        }
        // In an aborted transaction the server answers `COMMIT` with a rollback and no error.
        // When a statement may have failed unseen, a statement goes first: in an aborted
        // transaction it fails (25P02) and the rest of the text, `COMMIT`, is skipped.
        let sql = if self.unseen.load(Ordering::Acquire) {
            "SELECT 1; COMMIT"
        } else {
            "COMMIT"
        };
        let closed_before = self.conn.client().is_closed();
        match self.finish(sql).await {
            Ok(()) => Ok(()),
            Err(e) if e.code() == Some(&SqlState::IN_FAILED_SQL_TRANSACTION) => {
                let _ = self.finish("ROLLBACK").await;
                Err(Error::TransactionAborted)
            }
            Err(e) => Err(Error::from_commit(e, closed_before, TX_TABLE)),
        }
    }

    /// Rolls the transaction back.
    ///
    /// # Errors
    /// A driver error if the connection broke; it is then closed, not reused. Nothing of the
    /// transaction is committed either way.
    pub async fn rollback(self) -> Result<()> {
        if !self.conn.is_open() {
            return Ok(());
        }
        self.finish("ROLLBACK")
            .await
            .map_err(|e| Error::from_driver(e, TX_TABLE, "rollback"))
    }

    /// Ends the transaction with `sql`. Dropped before the answer, `self` drops with the
    /// connection still marked open: it is rolled back (after `sql`) or closed.
    async fn finish(&self, sql: &str) -> std::result::Result<(), tokio_postgres::Error> {
        let result = self.conn.client().batch_execute(sql).await;
        match &result {
            // The check before `COMMIT` found the transaction aborted: it is still open.
            Err(e) if e.code() == Some(&SqlState::IN_FAILED_SQL_TRANSACTION) => {}
            // The server answered: `COMMIT`/`ROLLBACK` ends the transaction block even when it
            // fails with an ordinary error.
            Ok(()) => self.conn.mark_closed(),
            Err(e) if answered_by_server(e) => self.conn.mark_closed(),
            // The connection closed or broke, or the server is ending the session: its state
            // is unknown, never hand it on.
            Err(_) => self.conn.mark_broken(),
        }
        result
    }
}

/// Runs `body` in `tx`: committed when it returns `Ok`, rolled back when it returns `Err`.
pub(crate) async fn run_body<R, F>(tx: Tx, body: F) -> Result<R>
where
    F: AsyncFnOnce(&Tx) -> Result<R>,
{
    match body(&tx).await {
        Ok(value) => {
            tx.commit().await?;
            Ok(value)
        }
        Err(error) => {
            // The body's error is what the caller needs; a failed rollback closes the
            // connection instead of returning it to the pool.
            let _ = tx.rollback().await;
            Err(error)
        }
    }
}

/// Marks a transaction aborted unless disarmed (a nested transaction that did not end).
struct PoisonUnlessDone<'a> {
    aborted: &'a AtomicBool,
    done: bool,
}

impl Drop for PoisonUnlessDone<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.aborted.store(true, Ordering::Release);
        }
    }
}

impl Sealed for Tx {}
impl Executor for Tx {
    type Handle<'a> = &'a Tx;

    fn handle(&self) -> &Tx {
        self
    }

    fn settings(&self) -> &Settings {
        &self.settings
    }

    async fn lease<'a>(&'a self, _statement: &'a Statement) -> Result<Lease<'a>> {
        let client = self.conn.client();
        if self.conn.is_open() {
            return Ok(Lease::transaction(
                client,
                Envelope::default(),
                self.flags(),
            ));
        }
        let turn = self.turn.lock().await;
        if self.conn.is_open() {
            return Ok(Lease::transaction(
                client,
                Envelope::default(),
                self.flags(),
            ));
        }
        // The first statement: it carries `BEGIN`, and holds the turn until that is sent.
        let envelope = Envelope {
            prelude: Some(Prelude {
                sql: &self.begin_sql,
                sent: Some(Sent {
                    flag: self.conn.open_flag(),
                    _turn: turn,
                }),
            }),
            postlude: None,
            ended: false,
        };
        Ok(Lease::transaction(client, envelope, self.flags()))
    }
}
