//! The run-mode seam and the last steps of every statement: find or prepare it on the lent
//! connection (or send it unnamed), send it inside its envelope, decode or count its rows,
//! classify errors, retry once after a schema change, and trace it.

use std::future::Future;
use std::pin::pin;
use std::task::Poll;
use std::time::Instant;

use deadpool_postgres::ClientWrapper;
use futures_util::TryStreamExt as _;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Row;
use tracing::Instrument as _;

use super::envelope::Envelope;
use super::settings::StatementMode;
use super::{Decode, Params};
use crate::error::{Error, Result};
use crate::sql::{Access, Statement};
use crate::sql_type::DomainAsBase;

/// Whether the connection's statement cache may re-prepare and retry a statement whose plan a
/// schema change invalidated. Only outside a transaction: inside one the failure has already
/// aborted the transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retry {
    OnSchemaChange,
    Never,
}

/// Whether a statement runs inside a transaction (on a connection its scope holds, from its
/// `BEGIN` to its end) or as an autocommit statement on whichever connection the pool lends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    Autocommit,
    Transaction,
}

impl Retry {
    /// The rule for a statement whose connection was lost (the server restarted, its backend
    /// was terminated): it runs once more, on a fresh connection, only when it reads outside a
    /// transaction. A write may already have been applied; inside a transaction the whole
    /// transaction is gone. The error says so either way ([`Error::ConnectionLost`]'s
    /// `retry_safe`).
    pub(crate) fn after_lost_connection(self, statement: &Statement) -> bool {
        self == Retry::OnSchemaChange && statement.access == Access::Read
    }
}

/// Why one attempt failed: the driver (perhaps a stale plan, worth a retry) or decoding.
pub(crate) enum Failure {
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
pub(crate) trait RowCount {
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
impl RowCount for () {
    fn row_count(&self) -> u64 {
        0
    }
}

/// A connection and its statement caches: the driver's, keyed by SQL text and parameter types,
/// and (for lane connections, `pool::LaneConn`) pgrepo's own, a slot per [`Statement`] built
/// once per process, which costs an index instead of hashing the SQL.
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

/// How one attempt sends its statement.
pub(crate) enum Sent {
    /// Bound to a statement prepared under a name (cached, or for this attempt only).
    Prepared(tokio_postgres::Statement),
    /// Parsed, bound and executed as the unnamed statement, in one message sequence.
    Unnamed,
    /// The simple protocol (several `;`-separated statements, no parameters).
    Simple,
}

/// One way of running a statement: decode rows, count them, or run a batch.
pub(crate) trait Attempt: Sync {
    type Output: RowCount + Send;

    /// Whether it needs the simple protocol (a batch), whatever the mode.
    fn simple(&self) -> bool {
        false
    }

    /// The parameters it binds.
    fn params(&self) -> Params<'_> {
        &[]
    }

    fn run<'a>(
        &'a self,
        client: &'a ClientWrapper,
        statement: &'a Statement,
        sent: &'a Sent,
    ) -> impl Future<Output = std::result::Result<Self::Output, Failure>> + Send + 'a;
}

/// The parameters as `query_raw` takes them, each encoded for its domain's base type when the
/// server typed it as a domain. A named function returning an opaque iterator (as
/// tokio-postgres's own `slice_iter`) keeps the statement's future provably `Send`.
fn slice_iter<'a>(
    params: &'a [&'a (dyn ToSql + Sync)],
) -> impl ExactSizeIterator<Item = DomainAsBase<'a>> + 'a {
    params.iter().map(|p| DomainAsBase(*p))
}

/// The parameters with their declared types, as `query_typed_raw` takes them.
fn typed_iter<'a>(
    params: &'a [&'a (dyn ToSql + Sync)],
    types: &'a [Type],
) -> impl Iterator<Item = (&'a dyn ToSql, Type)> + 'a {
    params.iter().zip(types).map(|(p, t)| (*p as _, t.clone()))
}

pub(super) async fn rows(
    client: &ClientWrapper,
    statement: &Statement,
    params: Params<'_>,
    sent: &Sent,
) -> std::result::Result<tokio_postgres::RowStream, Failure> {
    match sent {
        Sent::Prepared(prepared) => client.query_raw(prepared, slice_iter(params)).await,
        Sent::Unnamed | Sent::Simple => {
            client
                .query_typed_raw(&statement.sql, typed_iter(params, &statement.types))
                .await
        }
    }
    .map_err(Failure::Driver)
}

/// Rows decoded by `decode` as they arrive.
pub(crate) struct QueryMap<'p, T> {
    pub(crate) params: Params<'p>,
    pub(crate) decode: Decode<'p, T>,
}

impl<T: Send> Attempt for QueryMap<'_, T> {
    type Output = Vec<T>;

    fn params(&self) -> Params<'_> {
        self.params
    }

    async fn run<'a>(
        &'a self,
        client: &'a ClientWrapper,
        statement: &'a Statement,
        sent: &'a Sent,
    ) -> std::result::Result<Vec<T>, Failure> {
        let rows = rows(client, statement, self.params, sent).await?;
        let mut rows = pin!(rows);
        let mut out = Vec::new();
        while let Some(row) = rows.try_next().await.map_err(Failure::Driver)? {
            out.push((self.decode)(row).map_err(Failure::Decode)?);
        }
        Ok(out)
    }
}

/// The number of rows affected.
pub(crate) struct Execute<'p> {
    pub(crate) params: Params<'p>,
}

impl Attempt for Execute<'_> {
    type Output = u64;

    fn params(&self) -> Params<'_> {
        self.params
    }

    async fn run<'a>(
        &'a self,
        client: &'a ClientWrapper,
        statement: &'a Statement,
        sent: &'a Sent,
    ) -> std::result::Result<u64, Failure> {
        match sent {
            Sent::Prepared(prepared) => client
                .execute_raw(prepared, slice_iter(self.params))
                .await
                .map_err(Failure::Driver),
            Sent::Unnamed | Sent::Simple => {
                let rows = rows(client, statement, self.params, sent).await?;
                let mut rows = pin!(rows);
                while rows.try_next().await.map_err(Failure::Driver)?.is_some() {}
                Ok(rows.rows_affected().unwrap_or(0))
            }
        }
    }
}

/// Several `;`-separated statements in the simple protocol.
pub(crate) struct Batch;

impl Attempt for Batch {
    type Output = ();

    fn simple(&self) -> bool {
        true
    }

    async fn run<'a>(
        &'a self,
        client: &'a ClientWrapper,
        statement: &'a Statement,
        _sent: &'a Sent,
    ) -> std::result::Result<(), Failure> {
        client
            .batch_execute(&statement.sql)
            .await
            .map_err(Failure::Driver)
    }
}

/// Chooses how the attempt sends its statement and, for a prepared one, finds or prepares it.
async fn send_as<A: Attempt>(
    conn: &dyn Conn,
    statement: &Statement,
    mode: StatementMode,
    scope: Scope,
    envelope: &mut Envelope<'_>,
    attempt: &A,
) -> std::result::Result<Sent, Failure> {
    if attempt.simple() {
        return Ok(Sent::Simple);
    }
    let typed = statement.types.len() == attempt.params().len();
    match mode {
        StatementMode::Unnamed if typed => return Ok(Sent::Unnamed),
        // Hand-written SQL without declared types: only the server knows them, and asking it
        // takes a named statement. Behind a pooler in transaction mode, its Parse and its
        // Execute stay on one server connection only inside a transaction; outside, refused.
        StatementMode::Unnamed if scope == Scope::Autocommit => {
            return Err(Failure::Decode(Error::UndeclaredParameterTypes {
                statement: statement.label,
                params: attempt.params().len(),
                sql: statement.sql.to_string(),
            }));
        }
        StatementMode::Unnamed => {
            // The transaction's BEGIN first, if this is its first statement, so that the
            // preparation runs inside it. Prepared for this attempt only: closed when it ends,
            // still inside the transaction, never cached on the connection.
            Box::pin(prelude_alone(conn.client(), envelope)).await?;
            let prepared = Box::pin(conn.client().prepare(&statement.sql))
                .await
                .map_err(Failure::Driver)?;
            return Ok(Sent::Prepared(prepared));
        }
        StatementMode::Prepared => {}
    }
    if let Some(prepared) = conn.cached(statement) {
        return Ok(Sent::Prepared(prepared));
    }
    // Boxed: rare, and its future would otherwise enlarge every statement's.
    let prepared = Box::pin(
        conn.client()
            .prepare_typed_cached(&statement.sql, &statement.types),
    )
    .await
    .map_err(Failure::Driver)?;
    conn.remember(statement, &prepared);
    Ok(Sent::Prepared(prepared))
}

async fn run_once<A: Attempt>(
    conn: &dyn Conn,
    statement: &Statement,
    mode: StatementMode,
    scope: Scope,
    envelope: &mut Envelope<'_>,
    attempt: &A,
) -> std::result::Result<A::Output, Failure> {
    let sent = send_as(conn, statement, mode, scope, envelope, attempt).await?;
    if envelope.is_empty() {
        return attempt.run(conn.client(), statement, &sent).await;
    }
    // Boxed: rare, and its future would otherwise enlarge every statement's.
    Box::pin(enveloped(
        conn.client(),
        statement,
        &sent,
        envelope,
        attempt,
    ))
    .await
}

/// Sends the prelude on its own (before a statement that must be prepared inside the
/// transaction the prelude begins) and waits for its answer; the envelope has none afterwards.
async fn prelude_alone(
    client: &ClientWrapper,
    envelope: &mut Envelope<'_>,
) -> std::result::Result<(), Failure> {
    let Some(mut prelude) = envelope.prelude.take() else {
        return Ok(());
    };
    let mut sending = pin!(client.batch_execute(prelude.sql));
    // Polling it once hands the prelude to the connection.
    let early = std::future::poll_fn(|cx| Poll::Ready(sending.as_mut().poll(cx))).await;
    if let Some(sent) = prelude.sent.take() {
        sent.mark();
    }
    match early {
        Poll::Ready(result) => result,
        Poll::Pending => sending.await,
    }
    .map_err(Failure::Driver)
}

/// Sends prelude, statement and postlude in this order without waiting in between, then
/// collects the three answers. The prelude's failure is reported before the statement's
/// (which then only says the transaction is aborted).
async fn enveloped<A: Attempt>(
    client: &ClientWrapper,
    statement: &Statement,
    sent: &Sent,
    envelope: &mut Envelope<'_>,
    attempt: &A,
) -> std::result::Result<A::Output, Failure> {
    let prelude_sql = envelope.prelude.as_ref().map(|p| p.sql);
    let mut prelude = pin!(async {
        match prelude_sql {
            Some(sql) => client.batch_execute(sql).await,
            None => Ok(()),
        }
    });
    // Polling it once hands the prelude to the connection.
    let early = std::future::poll_fn(|cx| Poll::Ready(prelude.as_mut().poll(cx))).await;
    if let Some(sent) = envelope.prelude.as_mut().and_then(|p| p.sent.take()) {
        sent.mark();
    }
    let prelude = async {
        match early {
            Poll::Ready(result) => result,
            Poll::Pending => prelude.await,
        }
    };
    let body = attempt.run(client, statement, sent);
    let postlude = async {
        match envelope.postlude {
            Some(sql) => client.batch_execute(sql).await,
            None => Ok(()),
        }
    };
    // `join3` polls in order: the body is sent before the postlude.
    let (prelude, body, postlude) = futures_util::future::join3(prelude, body, postlude).await;
    // A one-statement transaction ends when the server answers its `COMMIT`, also with an
    // error (a deferred constraint): the connection is clean again.
    envelope.ended = envelope.postlude.is_some()
        && postlude
            .as_ref()
            .map_or_else(crate::error::answered_by_server, |()| true);
    prelude.map_err(Failure::Driver)?;
    let output = body?;
    postlude.map_err(Failure::Driver)?;
    Ok(output)
}

/// Runs `attempt` on the lent connection inside the statement's span. A plan invalidated by a
/// schema change is dropped from the cache and, when `retry` allows, prepared again and
/// retried once.
pub(crate) async fn with_statement<A: Attempt>(
    conn: &dyn Conn,
    statement: &Statement,
    retry: Retry,
    mode: StatementMode,
    scope: Scope,
    envelope: &mut Envelope<'_>,
    attempt: &A,
) -> Result<A::Output> {
    let classify = |failure| match failure {
        Failure::Driver(e) => Error::from_driver(e, statement.table, statement.label)
            .retry_safe_if(retry.after_lost_connection(statement)),
        Failure::Decode(e) => e,
    };
    let run = async {
        match run_once(conn, statement, mode, scope, envelope, attempt).await {
            Err(Failure::Driver(e)) if is_stale_plan(&e) => {
                conn.forget(statement);
                match retry {
                    Retry::OnSchemaChange => {
                        tracing::debug!(
                            statement = statement.label,
                            "re-preparing after schema change"
                        );
                        Box::pin(run_once(conn, statement, mode, scope, envelope, attempt))
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
    // No subscriber takes debug spans: no span at all. Even a disabled one costs a value set
    // per statement, and with tracing's `log` feature (which other crates in an application
    // often turn on) recording and dropping it consult `log` too.
    if !tracing::level_enabled!(tracing::Level::DEBUG) {
        return run.await;
    }
    let span = tracing::debug_span!(
        "pgrepo.statement",
        statement = statement.label,
        table = statement.table,
        rows = tracing::field::Empty,
        duration_us = tracing::field::Empty,
    );
    let started = (!span.is_disabled()).then(Instant::now);
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

/// A result row's decoder that keeps the row.
pub(crate) fn keep(row: Row) -> Result<Row> {
    Ok(row)
}
