//! The execution path every statement takes: acquire a connection (or use the scope's), find
//! or prepare the statement in that connection's cache, run it, classify errors, trace it.
//!
//! [`Executor`] is the seam later scopes plug into: a transaction, a tenant transaction, a
//! replica choice or an unnamed-statement mode is another implementation (or another branch of
//! [`run_on`]), and the repository, pagination and loaders, generic over `Executor`, do not
//! change.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use deadpool_postgres::ClientWrapper;
use futures_util::future::BoxFuture;
use futures_util::TryStreamExt as _;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;
use tracing::Instrument as _;

use crate::error::{Error, Result};
use crate::sql::Statement;

/// Parameters of one statement execution.
pub type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// Decodes one row as it arrives.
pub type Decode<'a, T> = &'a (dyn Fn(Row) -> Result<T> + Sync);

mod sealed {
    pub trait Sealed {}
}
pub(crate) use sealed::Sealed;

/// Where statements run: the pool ([`Db`](crate::Db)), a transaction ([`Tx`](crate::Tx)) or a
/// scope wrapping either. Repositories, listings and loaders are generic over it.
///
/// Sealed: the implementations live in pgrepo.
pub trait Executor: Sealed + Send + Sync {
    /// Runs `statement` and decodes each row with `decode` as it arrives.
    ///
    /// # Errors
    /// Classified driver errors ([`Error::UniqueViolation`], …), [`Error::PoolTimeout`], and
    /// the first error `decode` returns.
    #[doc(hidden)]
    fn query_map<'a, T: Send + 'a>(
        &'a self,
        statement: &'a Statement,
        params: Params<'a>,
        decode: Decode<'a, T>,
    ) -> BoxFuture<'a, Result<Vec<T>>>;

    /// Runs `statement` and returns its rows.
    ///
    /// # Errors
    /// As [`Executor::query_map`].
    #[doc(hidden)]
    fn run<'a>(
        &'a self,
        statement: &'a Statement,
        params: Params<'a>,
    ) -> BoxFuture<'a, Result<Vec<Row>>> {
        self.query_map(statement, params, &Ok)
    }

    /// Runs `statement` and returns the number of rows it affected.
    ///
    /// # Errors
    /// As [`Executor::run`].
    #[doc(hidden)]
    fn run_execute<'a>(
        &'a self,
        statement: &'a Statement,
        params: Params<'a>,
    ) -> BoxFuture<'a, Result<u64>>;

    /// The key listings sign their cursors with unless they set their own
    /// ([`DbBuilder::cursor_secret`](crate::DbBuilder::cursor_secret)).
    #[doc(hidden)]
    fn cursor_secret(&self) -> Option<&Arc<[u8]>> {
        None
    }
}

impl<X: Executor> Sealed for &X {}
impl<X: Executor> Executor for &X {
    fn query_map<'a, T: Send + 'a>(
        &'a self,
        statement: &'a Statement,
        params: Params<'a>,
        decode: Decode<'a, T>,
    ) -> BoxFuture<'a, Result<Vec<T>>> {
        (**self).query_map(statement, params, decode)
    }

    fn run_execute<'a>(
        &'a self,
        statement: &'a Statement,
        params: Params<'a>,
    ) -> BoxFuture<'a, Result<u64>> {
        (**self).run_execute(statement, params)
    }

    fn cursor_secret(&self) -> Option<&Arc<[u8]>> {
        (**self).cursor_secret()
    }
}

/// Whether the connection's statement cache may re-prepare and retry a statement whose plan a
/// schema change invalidated. Only outside a transaction: inside one the failure has already
/// aborted the transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retry {
    OnSchemaChange,
    Never,
}

/// Why one attempt failed: the driver (perhaps a stale plan, worth a retry) or decoding.
enum Failure {
    Driver(tokio_postgres::Error),
    Decode(Error),
}

/// "cached plan must not change result type": a prepared statement outlived an `ALTER TABLE`.
fn is_stale_plan(error: &tokio_postgres::Error) -> bool {
    error.code() == Some(&SqlState::FEATURE_NOT_SUPPORTED)
        && error.as_db_error().is_some_and(|db| {
            db.message()
                .contains("cached plan must not change result type")
        })
}

/// How many rows an outcome holds, for the statement's span.
trait RowCount {
    fn row_count(&self) -> u64;
}
impl<T> RowCount for Vec<T> {
    fn row_count(&self) -> u64 {
        self.len() as u64
    }
}
impl RowCount for u64 {
    fn row_count(&self) -> u64 {
        *self
    }
}

/// A connection and its statement caches: the driver's, keyed by SQL text and parameter types,
/// and (for connections serving autocommit statements, `pool::LaneConn`) pgrepo's own, a slot
/// per [`Statement`] built once per process, which costs an index instead of hashing the SQL.
pub(crate) trait Conn: Sync {
    /// The connection.
    fn client(&self) -> &ClientWrapper;

    /// The statement's prepared form from the connection's own cache, if it has one.
    fn cached(&self, _statement: &Statement) -> Option<tokio_postgres::Statement> {
        None
    }

    /// Keeps the prepared form in the connection's own cache.
    fn remember(&self, _statement: &Statement, _prepared: &tokio_postgres::Statement) {}

    /// Drops the statement from every cache of the connection (its plan went stale).
    fn forget(&self, statement: &Statement) {
        self.client()
            .statement_cache
            .remove(&statement.sql, &statement.types);
    }
}

impl Conn for ClientWrapper {
    fn client(&self) -> &ClientWrapper {
        self
    }
}

/// One way of running a prepared statement: decode rows, or count them.
trait Attempt: Sync {
    type Output: RowCount + Send;
    fn run<'a>(
        &'a self,
        client: &'a ClientWrapper,
        prepared: &'a tokio_postgres::Statement,
    ) -> impl Future<Output = std::result::Result<Self::Output, Failure>> + Send + 'a;
}

/// The parameters as `query_raw` takes them. A named function returning an opaque iterator
/// (as tokio-postgres's own `slice_iter`) keeps the statement's future provably `Send`.
fn slice_iter<'a>(
    params: &'a [&'a (dyn ToSql + Sync)],
) -> impl ExactSizeIterator<Item = &'a dyn ToSql> + 'a {
    params.iter().map(|p| *p as _)
}

/// Rows decoded by `decode` as they arrive.
struct QueryMap<'p, T> {
    params: Params<'p>,
    decode: Decode<'p, T>,
    /// For hand-written SQL: the column count `decode` reads, and the type it decodes into,
    /// checked against the prepared statement before it runs.
    expect_columns: Option<(usize, &'static str)>,
}

impl<T: Send> Attempt for QueryMap<'_, T> {
    type Output = Vec<T>;

    async fn run<'a>(
        &'a self,
        client: &'a ClientWrapper,
        prepared: &'a tokio_postgres::Statement,
    ) -> std::result::Result<Vec<T>, Failure> {
        if let Some((expected, target)) = self.expect_columns {
            let columns = prepared.columns();
            if columns.len() != expected {
                let names: Vec<&str> = columns.iter().map(|c| c.name()).collect();
                return Err(Failure::Decode(Error::ColumnMismatch {
                    target,
                    expected: format!("{expected} columns"),
                    found: format!("{} columns ({})", names.len(), names.join(", ")),
                }));
            }
        }
        let rows = client
            .query_raw(prepared, slice_iter(self.params))
            .await
            .map_err(Failure::Driver)?;
        let mut rows = std::pin::pin!(rows);
        let mut out = Vec::new();
        while let Some(row) = rows.try_next().await.map_err(Failure::Driver)? {
            out.push((self.decode)(row).map_err(Failure::Decode)?);
        }
        Ok(out)
    }
}

/// The number of rows affected.
struct Execute<'p> {
    params: Params<'p>,
}

impl Attempt for Execute<'_> {
    type Output = u64;

    async fn run<'a>(
        &'a self,
        client: &'a ClientWrapper,
        prepared: &'a tokio_postgres::Statement,
    ) -> std::result::Result<u64, Failure> {
        client
            .execute(prepared, self.params)
            .await
            .map_err(Failure::Driver)
    }
}

async fn run_once<A: Attempt, C: Conn + ?Sized>(
    conn: &C,
    statement: &Statement,
    attempt: &A,
) -> std::result::Result<A::Output, Failure> {
    let client = conn.client();
    let prepared = match conn.cached(statement) {
        Some(prepared) => prepared,
        None => {
            // Boxed: rare, and its future would otherwise enlarge every statement's.
            let prepared = Box::pin(client.prepare_typed_cached(&statement.sql, &statement.types))
                .await
                .map_err(Failure::Driver)?;
            conn.remember(statement, &prepared);
            prepared
        }
    };
    attempt.run(client, &prepared).await
}

/// Prepares `statement` through the connection's cache and runs `attempt` with it, inside the
/// statement's span. A plan invalidated by a schema change is dropped from the cache and, when
/// `retry` allows, prepared again and retried once.
async fn with_statement<A: Attempt, C: Conn + ?Sized>(
    conn: &C,
    statement: &Statement,
    retry: Retry,
    attempt: A,
) -> Result<A::Output> {
    let span = tracing::debug_span!(
        "pgrepo.statement",
        statement = statement.label,
        table = statement.table,
        rows = tracing::field::Empty,
        duration_us = tracing::field::Empty,
    );
    let started = (!span.is_disabled()).then(Instant::now);
    let classify = |failure| match failure {
        Failure::Driver(e) => Error::from_driver(e, statement.table, statement.label),
        Failure::Decode(e) => e,
    };
    let run = async {
        match run_once(conn, statement, &attempt).await {
            Err(Failure::Driver(e)) if is_stale_plan(&e) => {
                conn.forget(statement);
                match retry {
                    Retry::OnSchemaChange => {
                        tracing::debug!(
                            statement = statement.label,
                            "re-preparing after schema change"
                        );
                        Box::pin(run_once(conn, statement, &attempt))
                            .await
                            .map_err(classify)
                    }
                    Retry::Never => Err(Error::SchemaChanged {
                        table: statement.table,
                        statement: statement.label,
                        source: e,
                    }),
                }
            }
            other => other.map_err(classify),
        }
    };
    // Entering and leaving a span nobody listens to still costs on every poll.
    let result = if span.is_disabled() {
        run.await
    } else {
        run.instrument(span.clone()).await
    };
    if let Some(started) = started {
        span.record("rows", result.as_ref().map_or(0, RowCount::row_count));
        span.record("duration_us", started.elapsed().as_micros() as u64);
    }
    result
}

/// Runs a statement on one connection, decoding each row as it arrives. With `expect_columns`
/// (hand-written SQL: the column count `decode` reads and the type it decodes into), the
/// prepared statement's width is checked first.
pub(crate) async fn query_map_on<'a, T: Send, C: Conn + ?Sized>(
    conn: &C,
    statement: &Statement,
    params: Params<'_>,
    retry: Retry,
    decode: Decode<'a, T>,
    expect_columns: Option<(usize, &'static str)>,
) -> Result<Vec<T>> {
    let attempt = QueryMap {
        params,
        decode,
        expect_columns,
    };
    with_statement(conn, statement, retry, attempt).await
}

/// Runs a statement on one connection and returns its rows.
pub(crate) async fn query_on<C: Conn + ?Sized>(
    conn: &C,
    statement: &Statement,
    params: Params<'_>,
    retry: Retry,
) -> Result<Vec<Row>> {
    query_map_on(conn, statement, params, retry, &Ok, None).await
}

/// Runs a statement on one connection and returns the affected row count.
pub(crate) async fn execute_on<C: Conn + ?Sized>(
    conn: &C,
    statement: &Statement,
    params: Params<'_>,
    retry: Retry,
) -> Result<u64> {
    with_statement(conn, statement, retry, Execute { params }).await
}
