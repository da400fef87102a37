//! The execution path every statement takes: acquire a connection (or use the scope's), find
//! or prepare the statement in that connection's cache, run it, classify errors, trace it.
//!
//! [`Executor`] is the seam later scopes plug into: a transaction, a tenant transaction, a
//! replica choice or an unnamed-statement mode is another implementation (or another branch of
//! [`run_on`]), and the repository, pagination and loaders, generic over `Executor`, do not
//! change.

use std::future::Future;
use std::time::Instant;

use deadpool_postgres::ClientWrapper;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;
use tracing::Instrument as _;

use crate::error::{Error, Result};
use crate::statements::Statement;

/// Parameters of one statement execution.
pub type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

mod sealed {
    pub trait Sealed {}
}
pub(crate) use sealed::Sealed;

/// Where statements run: the pool ([`Db`](crate::Db)), a transaction ([`Tx`](crate::Tx)) or a
/// scope wrapping either. Repositories, listings and loaders are generic over it.
///
/// Sealed: the implementations live in pgrepo.
pub trait Executor: Sealed + Send + Sync {
    /// Runs `statement` and returns its rows.
    ///
    /// # Errors
    /// Classified driver errors ([`Error::UniqueViolation`], …), [`Error::PoolTimeout`].
    #[doc(hidden)]
    fn run<'a>(
        &'a self,
        statement: &'a Statement,
        params: Params<'a>,
    ) -> impl Future<Output = Result<Vec<Row>>> + Send + 'a;

    /// Runs `statement` and returns the number of rows it affected.
    ///
    /// # Errors
    /// As [`Executor::run`].
    #[doc(hidden)]
    fn run_execute<'a>(
        &'a self,
        statement: &'a Statement,
        params: Params<'a>,
    ) -> impl Future<Output = Result<u64>> + Send + 'a;
}

impl<X: Executor> Sealed for &X {}
impl<X: Executor> Executor for &X {
    fn run<'a>(
        &'a self,
        statement: &'a Statement,
        params: Params<'a>,
    ) -> impl Future<Output = Result<Vec<Row>>> + Send + 'a {
        (**self).run(statement, params)
    }

    fn run_execute<'a>(
        &'a self,
        statement: &'a Statement,
        params: Params<'a>,
    ) -> impl Future<Output = Result<u64>> + Send + 'a {
        (**self).run_execute(statement, params)
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

/// What to do with a statement's result.
enum Mode {
    Rows,
    Count,
}

enum Outcome {
    Rows(Vec<Row>),
    Count(u64),
}

/// "cached plan must not change result type": a prepared statement outlived an `ALTER TABLE`.
fn is_stale_plan(error: &tokio_postgres::Error) -> bool {
    error.code() == Some(&SqlState::FEATURE_NOT_SUPPORTED)
        && error.as_db_error().is_some_and(|db| {
            db.message()
                .contains("cached plan must not change result type")
        })
}

async fn run_once(
    client: &ClientWrapper,
    statement: &Statement,
    params: Params<'_>,
    mode: &Mode,
) -> std::result::Result<Outcome, tokio_postgres::Error> {
    let prepared = client
        .prepare_typed_cached(&statement.sql, &statement.types)
        .await?;
    match mode {
        Mode::Rows => client.query(&prepared, params).await.map(Outcome::Rows),
        Mode::Count => client.execute(&prepared, params).await.map(Outcome::Count),
    }
}

async fn run_on_client(
    client: &ClientWrapper,
    statement: &Statement,
    params: Params<'_>,
    retry: Retry,
    mode: Mode,
) -> Result<Outcome> {
    let span = tracing::debug_span!(
        "pgrepo.statement",
        statement = statement.label,
        table = statement.table,
        rows = tracing::field::Empty,
        duration_us = tracing::field::Empty,
    );
    let started = (!span.is_disabled()).then(Instant::now);
    let result = async {
        match run_once(client, statement, params, &mode).await {
            Err(e) if is_stale_plan(&e) => {
                client
                    .statement_cache
                    .remove(&statement.sql, &statement.types);
                match retry {
                    Retry::OnSchemaChange => {
                        tracing::debug!(
                            statement = statement.label,
                            "re-preparing after schema change"
                        );
                        run_once(client, statement, params, &mode)
                            .await
                            .map_err(|e| Error::from_driver(e, statement.table, statement.label))
                    }
                    Retry::Never => Err(Error::SchemaChanged {
                        table: statement.table,
                        statement: statement.label,
                        source: e,
                    }),
                }
            }
            other => other.map_err(|e| Error::from_driver(e, statement.table, statement.label)),
        }
    }
    .instrument(span.clone())
    .await;
    if let Some(started) = started {
        let rows = match &result {
            Ok(Outcome::Rows(rows)) => rows.len() as u64,
            Ok(Outcome::Count(n)) => *n,
            Err(_) => 0,
        };
        span.record("rows", rows);
        span.record("duration_us", started.elapsed().as_micros() as u64);
    }
    result
}

/// Runs a statement on one connection and returns its rows.
pub(crate) async fn query_on(
    client: &ClientWrapper,
    statement: &Statement,
    params: Params<'_>,
    retry: Retry,
) -> Result<Vec<Row>> {
    match run_on_client(client, statement, params, retry, Mode::Rows).await? {
        Outcome::Rows(rows) => Ok(rows),
        Outcome::Count(_) => unreachable!("Mode::Rows yields rows"),
    }
}

/// Runs a statement on one connection and returns the affected row count.
pub(crate) async fn execute_on(
    client: &ClientWrapper,
    statement: &Statement,
    params: Params<'_>,
    retry: Retry,
) -> Result<u64> {
    match run_on_client(client, statement, params, retry, Mode::Count).await? {
        Outcome::Count(n) => Ok(n),
        Outcome::Rows(_) => unreachable!("Mode::Count yields a count"),
    }
}
