//! [`Db`]: the pool-backed entry point. Autocommit statements run on connections kept out of
//! the pool between statements while nobody waits for one, and handed back as soon as somebody
//! does (see `pool`); transactions hold one for their whole life ([`Tx`](crate::Tx)).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use futures_util::future::BoxFuture;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

use crate::entity::{Entity, FromRow};
use crate::error::{Error, Result};
use crate::exec::{execute_on, query_map_on, Decode, Executor, Params, Retry, Sealed};
use crate::pool::{AutoConn, Connections};
use crate::repo::Repo;
use crate::sql::Statement;
use crate::tx::Tx;

/// Settings of a [`Db`]; start from [`Db::builder`].
#[derive(Debug, Clone)]
pub struct DbBuilder {
    config: tokio_postgres::Config,
    max_size: usize,
    wait_timeout: Duration,
    connect_timeout: Duration,
    pipelining: bool,
    cursor_secret: Option<Arc<[u8]>>,
}

impl DbBuilder {
    /// Maximum number of connections (default: 16).
    pub fn max_size(mut self, max_size: usize) -> Self {
        self.max_size = max_size;
        self
    }

    /// How long a statement waits for a free connection before failing with
    /// [`Error::PoolTimeout`] (default: 5 s).
    pub fn wait_timeout(mut self, timeout: Duration) -> Self {
        self.wait_timeout = timeout;
        self
    }

    /// Whether autocommit statements, when every connection is busy, are pipelined on the
    /// least busy connection already running autocommit statements instead of waiting for a
    /// free one (default: on). Transactions always get a connection of their own.
    pub fn pipelining(mut self, pipelining: bool) -> Self {
        self.pipelining = pipelining;
        self
    }

    /// The key every listing of this `Db` (and of its transactions) signs its cursors with
    /// (HMAC-SHA256), so clients can neither forge a cursor nor alter one. Use a random key of
    /// 32 bytes or more, the same on every instance that serves the same clients. A listing's
    /// own [`Listing::secret`](crate::Listing::secret) takes precedence. Without either, cursors
    /// are signed with a key built into pgrepo: alterations are detected, forgeries are not
    /// prevented.
    pub fn cursor_secret(mut self, secret: impl Into<Arc<[u8]>>) -> Self {
        self.cursor_secret = Some(secret.into());
        self
    }

    /// How long opening a connection may take (default: 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Builds the pool and opens one connection to check the settings.
    ///
    /// # Errors
    /// [`Error::Connect`] when the server cannot be reached or refuses the login;
    /// [`Error::ConnectTimeout`] when it does not answer within the connect timeout;
    /// [`Error::PoolBuild`] when the settings are invalid.
    pub async fn connect(self) -> Result<Db> {
        let db = self.build()?;
        drop(db.connection().await?);
        Ok(db)
    }

    /// Builds the pool without connecting; connections open on first use.
    ///
    /// # Errors
    /// [`Error::PoolBuild`] when the settings are invalid.
    pub fn build(self) -> Result<Db> {
        let manager = Manager::from_config(
            self.config,
            NoTls,
            ManagerConfig {
                // Fast recycling keeps each connection's prepared statements; `Tx` never returns
                // a connection with an open transaction to the pool.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(self.max_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(self.wait_timeout))
            .create_timeout(Some(self.connect_timeout))
            .recycle_timeout(Some(self.connect_timeout))
            .build()
            .map_err(|source| Error::PoolBuild { source })?;
        Ok(Db::with_connections(
            Connections::new(pool, self.pipelining),
            self.cursor_secret,
        ))
    }
}

/// A PostgreSQL database behind a connection pool: the entry point of pgrepo.
///
/// Cheap to clone (an `Arc`); share one per process.
#[derive(Clone)]
pub struct Db {
    inner: Arc<DbInner>,
}

struct DbInner {
    connections: Connections,
    cursor_secret: Option<Arc<[u8]>>,
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Db").field(&self.inner.connections).finish()
    }
}

impl Db {
    /// Connects with default settings to `url` (`postgres://user:pass@host:port/db` or a
    /// `key=value` string).
    ///
    /// # Errors
    /// [`Error::Connect`] or [`Error::ConnectTimeout`] when the server cannot be reached;
    /// [`Error::InvalidUrl`] for a bad URL.
    pub async fn connect(url: &str) -> Result<Db> {
        Db::builder(url)?.connect().await
    }

    /// Settings for a pool connecting to `url`.
    ///
    /// # Errors
    /// [`Error::InvalidUrl`] when the URL does not parse.
    pub fn builder(url: &str) -> Result<DbBuilder> {
        let config: tokio_postgres::Config =
            url.parse().map_err(|source| Error::InvalidUrl { source })?;
        Ok(DbBuilder {
            config,
            max_size: 16,
            wait_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            pipelining: true,
            cursor_secret: None,
        })
    }

    /// Wraps an existing deadpool-postgres pool. Give it a wait timeout, or callers wait
    /// forever when it is exhausted.
    pub fn from_pool(pool: Pool) -> Db {
        Db::with_connections(Connections::new(pool, true), None)
    }

    fn with_connections(connections: Connections, cursor_secret: Option<Arc<[u8]>>) -> Db {
        Db {
            inner: Arc::new(DbInner {
                connections,
                cursor_secret,
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

    /// The repository of entity `E`, running each statement on a pooled connection.
    pub fn repo<E: Entity>(&self) -> Repo<'_, E, Db> {
        Repo::new(self)
    }

    /// A batched loader of `E` by primary key, running on this pool. Make one per request.
    pub fn loader<E: Entity + Clone>(&self) -> crate::Loader<E, Db> {
        crate::Loader::new(self.clone())
    }

    /// A strict scope over this pool: repeated single-row statements fail as N+1 queries.
    pub fn strict(&self) -> crate::Strict<Db> {
        crate::Strict::new(self.clone())
    }

    /// Starts a transaction on one pooled connection.
    ///
    /// # Errors
    /// [`Error::PoolTimeout`] when no connection is free in time; a driver error if `BEGIN`
    /// fails.
    pub async fn begin(&self) -> Result<Tx> {
        Tx::begin(self.connection().await?, self.inner.cursor_secret.clone()).await
    }

    /// Runs `body` in a transaction: committed when it returns `Ok`, rolled back when it
    /// returns `Err`.
    ///
    /// ```no_run
    /// # async fn demo(db: pgrepo::Db) -> Result<(), pgrepo::Error> {
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
    /// The body's error (after rollback), or the error of `BEGIN`/`COMMIT`.
    pub async fn transaction<R, F>(&self, body: F) -> Result<R>
    where
        F: AsyncFnOnce(&Tx) -> Result<R>,
    {
        let tx = self.begin().await?;
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

    /// Runs hand-written SQL and decodes each row by position into `T` (an entity, a tuple of
    /// entities, `Option<E>` for outer joins). The statement is prepared once per connection,
    /// like the generated ones; its columns are checked against `T` when it is prepared.
    ///
    /// # Errors
    /// [`Error::ColumnMismatch`] when the query's columns do not fit `T`; driver errors.
    pub async fn query_as<T: FromRow + Send>(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> Result<Vec<T>> {
        let conn = self.autocommit().await?;
        crate::raw::query_as_on(&conn, sql, params, Retry::OnSchemaChange).await
    }

    /// Runs hand-written SQL and returns its rows (prepared once per connection).
    ///
    /// # Errors
    /// Driver errors, [`Error::PoolTimeout`].
    pub async fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
        let conn = self.autocommit().await?;
        crate::raw::query_on(&conn, sql, params, Retry::OnSchemaChange).await
    }

    /// Runs a hand-written statement and returns the number of rows it affected.
    ///
    /// # Errors
    /// Driver errors, [`Error::PoolTimeout`].
    pub async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        let conn = self.autocommit().await?;
        crate::raw::execute_on(&conn, sql, params, Retry::OnSchemaChange).await
    }

    /// Runs several `;`-separated statements without parameters (DDL, migrations), in the
    /// simple protocol.
    ///
    /// # Errors
    /// Driver errors, [`Error::PoolTimeout`].
    pub async fn batch_execute(&self, sql: &str) -> Result<()> {
        let conn = self.autocommit().await?;
        conn.batch_execute(sql)
            .await
            .map_err(|e| Error::from_driver(e, "(batch)", "batch_execute"))
    }

    /// Borrows a pooled connection of its own (for a transaction).
    pub(crate) async fn connection(&self) -> Result<Object> {
        self.inner.connections.exclusive().await
    }

    /// A connection for one autocommit statement (see `pool`).
    pub(crate) async fn autocommit(&self) -> Result<AutoConn<'_>> {
        self.inner.connections.autocommit().await
    }
}

impl Sealed for Db {}
impl Executor for Db {
    fn query_map<'a, T: Send + 'a>(
        &'a self,
        statement: &'a Statement,
        params: Params<'a>,
        decode: Decode<'a, T>,
    ) -> BoxFuture<'a, Result<Vec<T>>> {
        Box::pin(async move {
            let conn = self.autocommit().await?;
            query_map_on(
                &*conn,
                statement,
                params,
                Retry::OnSchemaChange,
                decode,
                None,
            )
            .await
        })
    }

    fn run_execute<'a>(
        &'a self,
        statement: &'a Statement,
        params: Params<'a>,
    ) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move {
            let conn = self.autocommit().await?;
            execute_on(&*conn, statement, params, Retry::OnSchemaChange).await
        })
    }

    fn cursor_secret(&self) -> Option<&Arc<[u8]>> {
        self.inner.cursor_secret.as_ref()
    }
}
