//! [`Db`]: the pool-backed entry point. Autocommit statements run on connections kept out of
//! the pool between statements while nobody waits for one, and handed back as soon as somebody
//! does (see `pool`); transactions hold one for their whole life ([`Tx`](crate::Tx)).

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Object, Pool};

use crate::error::Result;
use crate::exec::{Executor, Lease, Sealed, Settings};
use crate::pool::{Connections, Hold, Lifetime, LifetimeSettings, DEFAULT_HOLD_WARNING};
use crate::scope::Scope;
use crate::sql::Statement;
use crate::timeouts::Timeouts;
use crate::tx::{Tx, TxOptions};

mod builder;

// Named by the docs of this module's items.
#[cfg(doc)]
use crate::{error::Error, SslMode};

pub use builder::DbBuilder;
use builder::OnConnect;

/// A PostgreSQL database behind a connection pool: the entry point of pgrepo.
///
/// Cheap to clone (an `Arc`); share one per process.
#[derive(Clone)]
pub struct Db {
    inner: Arc<DbInner>,
}

struct DbInner {
    connections: Connections,
    settings: Settings,
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Db").field(&self.inner.connections).finish()
    }
}

impl Db {
    /// Connects with default settings to `url` (`postgres://user:pass@host:port/db` or a
    /// `key=value` string). libpq's TLS parameters are read by pgrepo (see [`Db::builder`]).
    ///
    /// # Errors
    /// [`Error::Connect`] or [`Error::ConnectTimeout`] when the server cannot be reached or
    /// the TLS handshake fails; [`Error::InvalidUrl`] for a bad URL; the TLS errors of
    /// [`DbBuilder::build`].
    pub async fn connect(url: &str) -> Result<Db> {
        Db::builder(url)?.connect().await
    }

    /// Settings for a pool connecting to `url`.
    ///
    /// libpq's TLS parameters are read here, not by tokio-postgres: `sslmode` ([`SslMode`]:
    /// `disable`, `prefer` (the default), `require`, `verify-ca`, `verify-full`),
    /// `sslrootcert` (a PEM file, or `system` for the platform's roots), `sslcert` and `sslkey`
    /// (a client certificate). Files are read by [`DbBuilder::build`].
    ///
    /// # Errors
    /// [`Error::InvalidUrl`] when the URL does not parse; [`Error::TlsSetting`] for a bad
    /// TLS parameter (an unknown `sslmode`, `sslcert` without `sslkey`).
    pub fn builder(url: &str) -> Result<DbBuilder> {
        let (mut config, tls) = crate::connect::parse_url(url)?;
        if config.get_application_name().is_none() {
            config.application_name("pgrepo");
        }
        Ok(DbBuilder {
            config,
            tls,
            max_size: 16,
            wait_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            pipelining: true,
            hold_warning: Some(DEFAULT_HOLD_WARNING),
            timeouts: Timeouts::default(),
            settings: Settings::default(),
            lifetime: LifetimeSettings::default(),
            on_connect: OnConnect::default(),
        })
    }

    /// Wraps an existing deadpool-postgres pool. Give it a wait timeout, or callers wait
    /// forever when it is exhausted.
    ///
    /// What [`DbBuilder`] sets on each connection is then the pool's business: its manager's
    /// TLS, and no [`Timeouts`] or `application_name` from pgrepo (set them in the pool's
    /// `tokio_postgres::Config`, e.g. `options = "-c statement_timeout=30000"`). pgrepo's own
    /// settings are the defaults: prepared statements, pipelining, hold warnings after 10 s,
    /// no cursor secret. Connection lifetimes, `after_connect` and a password provider are
    /// the pool's too (its hooks and manager): pgrepo retires nothing of such a pool.
    pub fn from_pool(pool: Pool) -> Db {
        Db::with_connections(
            Connections::new(
                pool,
                true,
                Some(DEFAULT_HOLD_WARNING),
                Lifetime::new(LifetimeSettings::none()),
            ),
            Settings::default(),
        )
    }

    fn with_connections(connections: Connections, settings: Settings) -> Db {
        Db {
            inner: Arc::new(DbInner {
                connections,
                settings,
            }),
        }
    }

    /// How many connections are open, idle, kept for autocommit statements, held by
    /// transactions, and how many callers wait: for metrics and for diagnosing
    /// [`Error::PoolTimeout`].
    pub fn status(&self) -> crate::PoolStatus {
        self.inner.connections.status()
    }

    /// The underlying pool.
    ///
    /// Its status counts the connections serving autocommit statements as in use: a `Db` keeps
    /// them between statements (which saves a pool checkout and return per statement) and
    /// hands each back as soon as a transaction or statement waits for the pool.
    pub fn pool(&self) -> &Pool {
        self.inner.connections.pool()
    }

    /// Starts a transaction on a pooled connection of its own.
    ///
    /// Nothing is sent yet: `BEGIN` goes out pipelined with the transaction's first statement,
    /// so it costs no round trip of its own. Dropped without [`Tx::commit`], at any point, the
    /// transaction is rolled back before its connection serves anyone else.
    ///
    /// Where it is called is recorded as the connection's borrower, which an exhausted pool
    /// ([`Error::PoolTimeout`]) and a long hold ([`DbBuilder::hold_warning`]) report.
    ///
    /// # Errors
    /// [`Error::PoolTimeout`] when no connection is free in time; connection errors.
    #[track_caller]
    pub fn begin(&self) -> impl Future<Output = Result<Tx>> + Send + '_ {
        self.begin_with(TxOptions::default())
    }

    /// Starts a transaction with `options` (isolation level, read-only, a prelude such as
    /// `SET LOCAL statement_timeout = '5s'`), as [`Db::begin`].
    ///
    /// # Errors
    /// As [`Db::begin`].
    #[track_caller]
    pub fn begin_with(&self, options: TxOptions) -> impl Future<Output = Result<Tx>> + Send + '_ {
        let at = Location::caller();
        async move {
            let conn = self.connection(at).await?;
            Ok(Tx::new(conn, &options, self.inner.settings.clone()))
        }
    }

    /// Runs `body` in a transaction: committed when it returns `Ok`, rolled back when it
    /// returns `Err`.
    ///
    /// ```no_run
    /// # async fn demo(db: pgrepo::Db) -> Result<(), pgrepo::Error> {
    /// use pgrepo::Executor as _;
    /// db.transaction(async |tx| {
    ///     tx.execute("UPDATE accounts SET balance = balance - 10 WHERE id = 1", &[]).await?;
    ///     tx.execute("UPDATE accounts SET balance = balance + 10 WHERE id = 2", &[]).await?;
    ///     Ok(())
    /// })
    /// .await
    /// # }
    /// ```
    ///
    /// # Errors
    /// The body's error (after rollback), or the error of `BEGIN`/`COMMIT`, as
    /// [`Tx::commit`]: in particular [`Error::CommitOutcomeUnknown`] when the connection
    /// failed while committing, and the transaction may or may not have committed (reconcile
    /// before running it again).
    #[track_caller]
    pub fn transaction<'a, R, F>(&'a self, body: F) -> impl Future<Output = Result<R>> + 'a
    where
        F: AsyncFnOnce(&Tx) -> Result<R> + 'a,
    {
        self.transaction_with(TxOptions::default(), body)
    }

    /// Runs `body` in a transaction with `options`, as [`Db::transaction`].
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

    /// A handle whose statements run with `timeouts` over the `Db`'s (each one left `None`
    /// keeps the `Db`'s; `Some(Duration::ZERO)` turns one off), for a part of a service that
    /// needs other limits: reports, exports, an admin endpoint. Each statement runs in a
    /// one-statement transaction (`BEGIN; SET LOCAL …`, the statement and `COMMIT`,
    /// pipelined: one round trip) on a pooled connection of its own, so the timeouts never
    /// stay on a connection; its transactions keep them too. See [`Scope`].
    ///
    /// Where it is called is recorded as the borrower of its statements' connections.
    #[track_caller]
    pub fn with_timeouts(&self, timeouts: Timeouts) -> Scope {
        let mut settings = self.inner.settings.clone();
        settings.tx_timeouts = Some(timeouts.over(settings.tx_timeouts));
        Scope::new(self.clone(), settings, Location::caller())
    }

    /// Checks that the database answers (a readiness probe): runs `SELECT 1` on a connection as
    /// an autocommit statement would get one, and returns how long it took.
    ///
    /// # Errors
    /// What the statement would meet: [`Error::PoolTimeout`], [`Error::Connect`],
    /// [`Error::ConnectTimeout`], a closed pool ([`Error::Pool`]), …
    pub async fn ping(&self) -> Result<Duration> {
        let started = std::time::Instant::now();
        self.execute(crate::Sql::read("SELECT 1"), &[]).await?;
        Ok(started.elapsed())
    }

    /// Shuts the pool down gracefully: no new statement or transaction starts (they fail at
    /// once with [`Error::Pool`], "the pool is closed", as do callers waiting for a
    /// connection), running ones finish, and every connection is closed as it comes back.
    /// Waits up to `grace` for the last one; returns how many connections were still open
    /// then (0: all closed). Every clone of this `Db` is closed.
    pub async fn close(&self, grace: Duration) -> usize {
        self.inner.connections.close(grace).await
    }

    /// Borrows a pooled connection of its own (for a transaction), registered as held by the
    /// caller at `at`.
    pub(crate) async fn connection(
        &self,
        at: &'static Location<'static>,
    ) -> Result<(Object, Hold)> {
        self.inner.connections.exclusive(at).await
    }
}

impl Sealed for Db {}
impl Executor for Db {
    type Handle<'a> = Db;

    fn handle(&self) -> Db {
        self.clone()
    }

    fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    async fn lease<'a>(&'a self, _statement: &'a Statement) -> Result<Lease<'a>> {
        Ok(Lease::lane(self.inner.connections.autocommit().await?))
    }
}
