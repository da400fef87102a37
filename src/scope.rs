//! [`Scope`]: a handle on a [`Db`] whose statements run with settings of their own (timeouts
//! today; a tenant), each in a one-statement transaction that sets them transaction-locally.
//!
//! A statement of a scope takes a pooled connection of its own and sends, without waiting in
//! between, `BEGIN` with `SET LOCAL` of the scope's settings (in one message), the statement,
//! and `COMMIT`: one network round trip. Nothing of the
//! settings outlives the transaction: once the server has answered the `COMMIT` the connection
//! is clean; a statement whose future is dropped earlier leaves its connection to be rolled
//! back (or closed) before anyone else gets it (`pool::Exclusive`). Transactions begun from a
//! scope ([`Scope::begin`], [`Scope::transaction`]) carry the same settings in their `BEGIN`.

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::sync::Arc;

use crate::db::Db;
use crate::error::Result;
use crate::exec::envelope::{Envelope, Prelude};
use crate::exec::{Executor, Lease, Sealed, Settings};
use crate::pool::Exclusive;
use crate::sql::Statement;
use crate::timeouts::Timeouts;
use crate::tx::{Tx, TxOptions};

/// A handle on a [`Db`] whose statements run with their own [`Timeouts`], each in a
/// one-statement transaction (pipelined: one round trip). Made by [`Db::with_timeouts`];
/// cheap to clone. It has every [`Executor`] method, and begins transactions that keep its
/// settings.
///
/// ```no_run
/// # async fn demo(db: pgrepo::Db) -> pgrepo::Result<()> {
/// use std::time::Duration;
/// use pgrepo::{Executor as _, Sql, Timeouts};
/// // Reports may run for five minutes; the rest of the service keeps the `Db`'s 30 s.
/// let reports = db.with_timeouts(Timeouts::none().statement(Some(Duration::from_secs(300))));
/// let rows = reports.query(Sql::read("SELECT count(*) FROM events"), &[]).await?;
/// # let _ = rows; Ok(()) }
/// ```
#[derive(Clone)]
pub struct Scope {
    inner: Arc<ScopeInner>,
}

struct ScopeInner {
    db: Db,
    settings: Settings,
    /// `BEGIN` and the `SET LOCAL` of the scope's timeouts.
    begin: String,
    /// Where the scope was made: the holder its statements' connections are registered as.
    at: &'static Location<'static>,
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("begin", &self.inner.begin)
            .field("settings", &self.inner.settings)
            .field("made_at", &self.inner.at)
            .finish()
    }
}

impl Scope {
    pub(crate) fn new(db: Db, settings: Settings, at: &'static Location<'static>) -> Scope {
        let begin = TxOptions::new()
            .begin_sql_after(settings.tx_timeouts.as_ref(), settings.locals.as_deref());
        Scope {
            inner: Arc::new(ScopeInner {
                db,
                settings,
                begin,
                at,
            }),
        }
    }

    /// This scope with `timeouts` over its own (each one left `None` keeps this scope's).
    #[track_caller]
    pub fn with_timeouts(&self, timeouts: Timeouts) -> Scope {
        let mut settings = self.inner.settings.clone();
        settings.tx_timeouts = Some(timeouts.over(settings.tx_timeouts));
        Scope::new(self.inner.db.clone(), settings, Location::caller())
    }

    /// The [`Db`] the scope runs on.
    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// Starts a transaction with the scope's settings, as [`Db::begin`].
    ///
    /// # Errors
    /// As [`Db::begin`].
    #[track_caller]
    pub fn begin(&self) -> impl Future<Output = Result<Tx>> + Send + '_ {
        self.begin_with(TxOptions::default())
    }

    /// Starts a transaction with the scope's settings and `options` (whose timeouts override
    /// the scope's), as [`Db::begin_with`].
    ///
    /// # Errors
    /// As [`Db::begin`].
    #[track_caller]
    pub fn begin_with(&self, options: TxOptions) -> impl Future<Output = Result<Tx>> + Send + '_ {
        let at = Location::caller();
        async move {
            let conn = self.inner.db.connection(at).await?;
            Ok(Tx::new(conn, &options, self.inner.settings.clone()))
        }
    }

    /// Runs `body` in a transaction with the scope's settings, as [`Db::transaction`].
    ///
    /// # Errors
    /// As [`Db::transaction`].
    #[track_caller]
    pub fn transaction<'a, R, F>(&'a self, body: F) -> impl Future<Output = Result<R>> + 'a
    where
        F: AsyncFnOnce(&Tx) -> Result<R> + 'a,
    {
        self.transaction_with(TxOptions::default(), body)
    }

    /// Runs `body` in a transaction with the scope's settings and `options`, as
    /// [`Db::transaction_with`].
    ///
    /// # Errors
    /// As [`Db::transaction`].
    #[track_caller]
    pub fn transaction_with<'a, R, F>(
        &'a self,
        options: TxOptions,
        body: F,
    ) -> impl Future<Output = Result<R>> + 'a
    where
        F: AsyncFnOnce(&Tx) -> Result<R> + 'a,
    {
        let tx = self.begin_with(options);
        async move { crate::tx::run_body(tx.await?, body).await }
    }
}

impl Sealed for Scope {}
impl Executor for Scope {
    type Handle<'a> = Scope;

    fn handle(&self) -> Scope {
        self.clone()
    }

    fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    async fn lease<'a>(&'a self, _statement: &'a Statement) -> Result<Lease<'a>> {
        let (object, hold) = self.inner.db.connection(self.inner.at).await?;
        let envelope = Envelope {
            prelude: Some(Prelude {
                sql: &self.inner.begin,
                sent: None,
            }),
            postlude: Some("COMMIT"),
            ended: false,
        };
        Ok(Lease::one_statement(Exclusive::new(object, hold), envelope))
    }
}
