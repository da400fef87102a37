//! The one error type of pgrepo.
//!
//! Every failure names what it concerns (table, statement, column, pool state) and keeps the
//! driver's error reachable through [`std::error::Error::source`] and [`Error::code`]; the
//! message of every variant that keeps a server error carries the server's message and
//! SQLSTATE (`text`). Which variant a driver error becomes is decided in `classify`, also for
//! the `COMMIT` of a transaction, whose outcome may be unknown.

use std::sync::Arc;

mod cause;
mod classify;
mod inspect;
#[cfg(test)]
mod tests;
mod text;

pub use cause::{CancelReason, LockWait};
pub(crate) use classify::answered_by_server;
use text::{check_target, connect_timeout, describe, detail_suffix, not_null_target, pool_refusal};

/// What went wrong, with enough context to act on it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A row that had to exist does not (e.g. `update` of a deleted row).
    #[non_exhaustive]
    #[error("no row in `{table}` matched `{statement}`")]
    NotFound {
        /// The table queried.
        table: &'static str,
        /// The statement's label (e.g. `update`).
        statement: &'static str,
    },

    /// A unique constraint rejected the write.
    #[non_exhaustive]
    #[error(
        "`{statement}` on `{table}` violates unique constraint `{constraint}`{}: {}",
        detail_suffix(.detail),
        describe(.source)
    )]
    UniqueViolation {
        /// The table written.
        table: &'static str,
        /// The statement's label.
        statement: &'static str,
        /// The violated constraint.
        constraint: String,
        /// The server's detail (which key), if any.
        detail: Option<String>,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },

    /// A foreign-key constraint rejected the write.
    #[non_exhaustive]
    #[error(
        "`{statement}` on `{table}` violates foreign key `{constraint}`{}: {}",
        detail_suffix(.detail),
        describe(.source)
    )]
    ForeignKeyViolation {
        /// The table written.
        table: &'static str,
        /// The statement's label.
        statement: &'static str,
        /// The violated constraint.
        constraint: String,
        /// The server's detail (which key), if any.
        detail: Option<String>,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },

    /// The server could not serialize the transaction with concurrent ones (SQLSTATE 40001,
    /// e.g. a `SERIALIZABLE` dependency cycle) and rolled it back, also when `COMMIT` reported
    /// it: nothing of it was committed. [Retryable](Error::is_retryable): the whole transaction.
    #[non_exhaustive]
    #[error(
        "`{statement}` on `{table}`: the transaction conflicted with concurrent ones and was \
         rolled back; retry the whole transaction, not only this statement: {}",
        describe(.source)
    )]
    SerializationFailure {
        /// The table.
        table: &'static str,
        /// The statement's label (`commit` when `COMMIT` reported it).
        statement: &'static str,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },

    /// The server rolled this transaction back to break a deadlock (SQLSTATE 40P01).
    /// [Retryable](Error::is_retryable): the whole transaction.
    #[non_exhaustive]
    #[error(
        "`{statement}` on `{table}`: deadlock with another transaction, this one was rolled \
         back; retry the whole transaction, and take locks in one order everywhere: {}",
        describe(.source)
    )]
    Deadlock {
        /// The table.
        table: &'static str,
        /// The statement's label.
        statement: &'static str,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },

    /// A NOT NULL constraint rejected the write (SQLSTATE 23502).
    #[non_exhaustive]
    #[error(
        "`{statement}` on `{table}` writes NULL to {}, which is NOT NULL; give it a value \
         (or a column default): {}",
        not_null_target(.relation, .column),
        describe(.source)
    )]
    NotNullViolation {
        /// The table of the statement (`(query)` for hand-written SQL).
        table: &'static str,
        /// The statement's label.
        statement: &'static str,
        /// The table whose column is NOT NULL, as the server names it; `None` when a domain's
        /// NOT NULL rejected the value.
        relation: Option<String>,
        /// The NOT NULL column, as the server names it; `None` for a domain's NOT NULL.
        column: Option<String>,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },

    /// A CHECK constraint rejected the write (SQLSTATE 23514).
    #[non_exhaustive]
    #[error(
        "`{statement}` on `{table}` violates check constraint {}; the row fails its condition, \
         correct the values: {}",
        check_target(.relation, .constraint),
        describe(.source)
    )]
    CheckViolation {
        /// The table of the statement (`(query)` for hand-written SQL).
        table: &'static str,
        /// The statement's label.
        statement: &'static str,
        /// The table whose constraint it is, as the server names it; `None` for a domain's
        /// CHECK.
        relation: Option<String>,
        /// The violated constraint; `None` for a partition constraint (a row no partition
        /// takes), which has no name.
        constraint: Option<String>,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },

    /// A lock was not available (SQLSTATE 55P03): `lock_timeout` ran out or `NOWAIT` found it
    /// taken (also at `COMMIT`, for a deferred foreign key). Not [retryable](Error::is_retryable).
    #[non_exhaustive]
    #[error("`{statement}` on `{table}` {}: {}", .cause.advice(), describe(.source))]
    LockNotAvailable {
        /// The table.
        table: &'static str,
        /// The statement's label.
        statement: &'static str,
        /// Which wait gave up, read from the server's message.
        cause: LockWait,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },

    /// The server canceled the statement (SQLSTATE 57014): `statement_timeout` or a cancel
    /// request, as `reason` says. Not [retryable](Error::is_retryable).
    #[non_exhaustive]
    #[error("`{statement}` on `{table}` {}: {}", .reason.advice(), describe(.source))]
    QueryCanceled {
        /// The table.
        table: &'static str,
        /// The statement's label.
        statement: &'static str,
        /// Which cancellation fired, read from the server's message.
        reason: CancelReason,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },

    /// No connection became free within the pool's wait timeout.
    #[non_exhaustive]
    #[error(
        "timed out after {waited_ms} ms waiting for a connection: pool size {max_size}, \
         {in_use} in use ({transactions} by transactions, {autocommit} by autocommit \
         statements), {idle} idle, {waiting} waiting{}",
        crate::pool::describe_holders(holders)
    )]
    PoolTimeout {
        /// The pool's maximum size.
        max_size: usize,
        /// Connections checked out when the wait ended.
        in_use: usize,
        /// Open connections idle in the pool at that moment.
        idle: usize,
        /// Of those in use, the ones held by transactions.
        transactions: usize,
        /// Of those in use, the ones serving autocommit statements.
        autocommit: usize,
        /// Other tasks waiting at that moment.
        waiting: usize,
        /// How long this caller waited.
        waited_ms: u64,
        /// The longest current holders of a transaction's connection (up to 5), longest
        /// first, with where each borrowed it.
        holders: Vec<crate::pool::Holder>,
    },

    /// The pool could not open a new connection.
    #[non_exhaustive]
    #[error("could not connect to PostgreSQL: {}", describe(.source))]
    Connect {
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },

    /// Opening a new connection (or checking a pooled one before reuse) took longer than the
    /// connect timeout ([`DbBuilder::connect_timeout`](crate::DbBuilder::connect_timeout)): the
    /// server is unreachable or does not answer. The pool is not exhausted; that is
    /// [`Error::PoolTimeout`].
    #[non_exhaustive]
    #[error("{}", connect_timeout(*.timeout_ms, *.recycling))]
    ConnectTimeout {
        /// The timeout that ran out, in milliseconds.
        timeout_ms: u64,
        /// Whether the pool was checking an idle connection before reusing it (its recycle
        /// timeout), rather than opening a new one.
        recycling: bool,
    },

    /// The pool refused to hand out a connection for a reason of its own: it is closed, its
    /// `post_create` hook rejected a new connection, or it has no runtime for its timeouts (a
    /// pool given to [`Db::from_pool`](crate::Db::from_pool)). `source` is the pool's error,
    /// with the hook's own error inside; timeouts and connect failures are never reported
    /// here (see [`Error::PoolTimeout`], [`Error::ConnectTimeout`], [`Error::Connect`]).
    #[non_exhaustive]
    #[error("connection pool: {}", pool_refusal(.source))]
    Pool {
        /// The pool's error.
        #[source]
        source: deadpool_postgres::PoolError,
    },

    /// The pool could not be built from the [`DbBuilder`](crate::DbBuilder)'s settings.
    #[non_exhaustive]
    #[error("cannot build the connection pool: {source}")]
    PoolBuild {
        /// The pool's error.
        #[source]
        source: deadpool_postgres::BuildError,
    },

    /// The connection string given to [`Db::connect`](crate::Db::connect) or
    /// [`Db::builder`](crate::Db::builder) does not parse.
    #[non_exhaustive]
    #[error("cannot use the connection string: {}", describe(.source))]
    InvalidUrl {
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },

    /// A TLS setting cannot be used: a URL parameter (`sslmode`, `sslrootcert`, `sslcert`,
    /// `sslkey`) or a [`TlsConfig`](crate::TlsConfig) value is invalid, a file cannot be read
    /// or holds no certificate or key, or the settings contradict each other (`verify-full`
    /// without root certificates). `source` is the I/O or TLS library's error, where there is
    /// one. A handshake that fails is [`Error::Connect`] (see [`Error::tls_error`]).
    #[non_exhaustive]
    #[error("TLS setting `{parameter}`: {reason}")]
    TlsSetting {
        /// The libpq parameter concerned (`sslrootcert` for the root certificates however
        /// given).
        parameter: &'static str,
        /// What is wrong and how to fix it.
        reason: String,
        /// The underlying error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// The settings require TLS (`sslmode=require`, `verify-ca` or `verify-full`) and pgrepo
    /// was built without a TLS library.
    #[non_exhaustive]
    #[error(
        "sslmode={sslmode} needs TLS, and pgrepo was built without it: enable the `tls-rustls` \
         feature (or `tls-native` for the platform's TLS library)"
    )]
    TlsUnavailable {
        /// The mode asked for.
        sslmode: crate::SslMode,
    },

    /// The live database does not match the entities (see [`crate::Db::verify`]).
    #[error("{0}")]
    SchemaMismatch(crate::verify::SchemaReport),

    /// A statement's prepared plan was invalidated by a schema change inside a transaction,
    /// which the server has aborted. The statement is re-prepared by the next transaction.
    #[non_exhaustive]
    #[error(
        "`{statement}` on `{table}`: the table changed while a transaction was using it; \
         the transaction was aborted, retry it: {}",
        describe(.source)
    )]
    SchemaChanged {
        /// The table.
        table: &'static str,
        /// The statement's label.
        statement: &'static str,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },

    /// A column's value could not be decoded into its field.
    #[non_exhaustive]
    #[error(
        "cannot decode `{table}`.`{column}` into field of type `{rust_type}`: {}",
        describe(.source)
    )]
    Decode {
        /// The table (or query) the row came from.
        table: &'static str,
        /// The column.
        column: String,
        /// The field's Rust type.
        rust_type: &'static str,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },

    /// The columns a hand-written query returns do not match the type its rows decode into
    /// ([`Executor::query_as`](crate::Executor::query_as)): found before any row is decoded
    /// (and, for a prepared statement, before it runs). The message says how to fix the query:
    /// alias a column with `AS`, select exactly the listed columns, or select each entity of a
    /// tuple with [`Entity::select_list`](crate::Entity::select_list).
    #[non_exhaustive]
    #[error("{}", crate::row::resolve::describe_mismatch(.target, .missing, .extra, .duplicate, .unlabelled))]
    ColumnMismatch {
        /// The type rows are decoded into (`std::any::type_name`).
        target: &'static str,
        /// Columns the type reads that the query does not return (`alias.column` inside a
        /// tuple; `#n (Type)` for the n-th column of a scalar).
        missing: Vec<String>,
        /// Columns the query returns that the type does not read.
        extra: Vec<String>,
        /// Columns the type reads that the query returns more than once: which one is meant is
        /// ambiguous, so neither is taken.
        duplicate: Vec<String>,
        /// Entities of a tuple that found no columns labelled `alias.column` at their place
        /// (selected with `SELECT u.*, …` rather than `Entity::select_list`).
        unlabelled: Vec<&'static str>,
    },

    /// A column of a hand-written query has a database type the Rust type reading it cannot
    /// decode ([`Executor::query_as`](crate::Executor::query_as)): found before any row is
    /// decoded.
    #[non_exhaustive]
    #[error("{}", crate::row::resolve::describe_wrong_type(.target, .column, .pg_type, .rust_type))]
    ColumnType {
        /// The type rows are decoded into (`std::any::type_name`).
        target: &'static str,
        /// The column, as the query labels it.
        column: String,
        /// The column's database type.
        pg_type: String,
        /// The Rust type of the field or scalar reading it.
        rust_type: &'static str,
    },

    /// A page cursor was malformed (longer than [`MAX_CURSOR_LEN`](crate::MAX_CURSOR_LEN), not
    /// base64url, a value that does not fit its column's type), tampered with, or made for
    /// another listing. Nothing was sent to the server.
    #[non_exhaustive]
    #[error("invalid cursor: {reason}")]
    InvalidCursor {
        /// Why it was rejected.
        reason: String,
    },

    /// The same lookup ran for more different keys than the limit in one strict scope: an
    /// N+1 query ([`Strict`](crate::Strict)).
    #[non_exhaustive]
    #[error(
        "N+1 query: `{statement}` on `{table}` ran with {count} different parameters in one \
         scope (limit {limit}); {fix}"
    )]
    NPlusOne {
        /// The table.
        table: &'static str,
        /// The statement's label.
        statement: &'static str,
        /// How many different parameter sets it ran with in the scope, this one included.
        count: usize,
        /// The configured limit.
        limit: usize,
        /// How to load these rows in one statement instead.
        fix: &'static str,
    },

    /// A value could not be encoded for its column before a statement ran (its `ToSql`
    /// failed), e.g. a [`Listing::filter`](crate::Listing::filter) value.
    #[non_exhaustive]
    #[error("cannot encode a `{rust_type}` for `{table}`.`{column}`: {source}")]
    Encode {
        /// The table.
        table: &'static str,
        /// The column.
        column: &'static str,
        /// The field's Rust type.
        rust_type: &'static str,
        /// The value's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// [`Repo::upsert`](crate::Repo::upsert) on an entity that has no upsert statement: it has
    /// no column to insert (every column is `generated`), or no conflict target (no `unique`
    /// column and a `generated` primary key, with [`Upsertable`](crate::Upsertable)
    /// implemented by hand).
    #[non_exhaustive]
    #[error("`{table}` cannot be upserted: {reason}")]
    NotUpsertable {
        /// The table.
        table: &'static str,
        /// Why there is no upsert statement.
        reason: &'static str,
    },

    /// A batched load ([`Loader`](crate::Loader), [`LookupLoader`](crate::LookupLoader))
    /// failed. Every caller whose key was in the batch, the one that ran it included, receives
    /// this with the same `source`: match [`Error::root`] to see the original error
    /// (e.g. [`Error::PoolTimeout`] or [`Error::Decode`]); [`Error::code`] sees through it.
    #[non_exhaustive]
    #[error("batched load of `{table}` failed: {source}")]
    Batch {
        /// The table.
        table: &'static str,
        /// The error that failed the batch, shared by every caller of the batch.
        #[source]
        source: Arc<Error>,
    },

    /// A statement of the transaction failed on the server, which aborted the transaction:
    /// [`Tx::commit`](crate::Tx::commit) rolled it back, and nothing of it was committed.
    #[error(
        "the transaction was aborted by a statement that failed in it; it was rolled back and \
         nothing of it was committed"
    )]
    TransactionAborted,

    /// A listing sorts by a column the table lets be NULL (the struct's field is not an
    /// `Option`): keyset pages never return rows whose sort value is NULL, so paging would end
    /// before them silently. Refused before the first page; `verify` reports it too.
    #[non_exhaustive]
    #[error(
        "listing `{listing}` of `{table}` sorts by `{column}`, which the table lets be NULL: \
         keyset pages would silently skip its NULL rows; make the column NOT NULL \
         (`ALTER TABLE … ALTER COLUMN … SET NOT NULL`) or sort by another column"
    )]
    NullableSortColumn {
        /// The table.
        table: &'static str,
        /// The listing's sort key name (`default` for the entity's `order_by`).
        listing: &'static str,
        /// The nullable sort column.
        column: &'static str,
    },

    /// Hand-written SQL with parameters but no declared types ([`Sql::types`](crate::Sql::types)),
    /// run outside a transaction in [`StatementMode::Unnamed`](crate::StatementMode::Unnamed):
    /// learning the types takes a named prepared statement, and behind a pooler in transaction
    /// mode its preparation and its execution may reach different server connections ("prepared
    /// statement … does not exist", or a name another client left behind). Refused before
    /// anything is sent. Declare the types, or run the statement in a transaction (one server
    /// connection throughout, where the statement is prepared and closed).
    #[non_exhaustive]
    #[error(
        "`{statement}` has {params} parameter(s) without declared types, which \
         StatementMode::Unnamed runs only inside a transaction (finding their types takes a \
         named statement, which a pooler in transaction mode may send to another server \
         connection than its execution); declare them with \
         `Sql::read(…).types(&[Type::INT8, …])` (pgrepo::tokio_postgres::types::Type) or run \
         it in a transaction: {sql}"
    )]
    UndeclaredParameterTypes {
        /// The statement's label (`query`, `query_as`, `execute`).
        statement: &'static str,
        /// How many parameters it binds.
        params: usize,
        /// Its SQL text.
        sql: String,
    },

    /// A statement of a tenant entity (`#[pgrepo(tenant)]`) outside a tenant scope: refused
    /// before anything is sent. Run it in [`Db::tenant`](crate::Db::tenant)'s scope, or, for
    /// back-office code that must see every tenant, [`Db::all_tenants`](crate::Db::all_tenants).
    #[non_exhaustive]
    #[error(
        "`{statement}` on `{table}` needs a tenant scope: `{table}` has a tenant column, and          outside a scope no tenant is set (run it in `db.tenant(id)`, or in          `db.all_tenants()` for code that must see every tenant)"
    )]
    TenantRequired {
        /// The entity's table.
        table: &'static str,
        /// The statement's label.
        statement: &'static str,
    },

    /// A tenant id that cannot be a setting's value: refused before anything is sent.
    #[non_exhaustive]
    #[error("invalid tenant id: {reason}")]
    InvalidTenant {
        /// Why: empty, a NUL byte, longer than [`MAX_TENANT_ID_LEN`](crate::MAX_TENANT_ID_LEN).
        reason: &'static str,
    },

    /// A tenant scope would not be filtered by PostgreSQL on `table`: the role bypasses
    /// row-level security (superuser, `BYPASSRLS`, the table's owner without `FORCE ROW LEVEL
    /// SECURITY`), or the table has row-level security off or no policy. Refused before the
    /// statement is sent; `reason` says what to change.
    #[non_exhaustive]
    #[error("tenant scope refused on `{table}`: {reason}")]
    TenantUnprotected {
        /// The table, as the entity names it.
        table: String,
        /// What would let rows of other tenants through, and the fix.
        reason: String,
    },

    /// The server does not know a named prepared statement pgrepo sent (SQLSTATE 26000), or
    /// the name is already taken (42P05): the statement cache and the server session disagree.
    /// Behind a connection pooler in transaction mode (PgBouncer, Supavisor) statements reach
    /// other server connections than the one that prepared them: use
    /// [`StatementMode::Unnamed`](crate::StatementMode::Unnamed). Elsewhere (a `DEALLOCATE ALL`
    /// on the session) the connection is retired, and the next statement gets a fresh one.
    #[non_exhaustive]
    #[error(
        "`{statement}` on `{table}`: the server session does not match the prepared statements \
         pgrepo keeps for it ({}); behind a pooler in transaction mode (PgBouncer, Supavisor) \
         use StatementMode::Unnamed",
        describe(.source)
    )]
    PreparedStatementLost {
        /// The table.
        table: &'static str,
        /// The statement's label.
        statement: &'static str,
        /// The server's error.
        source: tokio_postgres::Error,
    },

    /// The transaction's connection closed before its `COMMIT` could be sent (the server
    /// terminated it, the network failed): the server never received `COMMIT` and rolls the
    /// transaction back, so nothing of it was committed and retrying it is safe. `source` is
    /// the driver's "connection closed"; the error that closed the connection was reported to
    /// the statement that met it, if any.
    #[non_exhaustive]
    #[error(
        "the transaction's connection closed before COMMIT was sent: nothing of the \
         transaction was committed ({})",
        describe(.source)
    )]
    TransactionLost {
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },

    /// `COMMIT` was sent, but the connection failed or closed before the server confirmed it
    /// (an I/O error, a closed connection, or a server error that ends the session such as
    /// 57P01 "terminating connection due to administrator command"): **the transaction may or
    /// may not have committed**. Retrying it blindly may apply it twice; reconcile first, e.g.
    /// re-read what it wrote or look up an idempotency key it stored, and retry only what is
    /// missing. The connection is closed, never reused.
    #[non_exhaustive]
    #[error(
        "the connection failed while committing: the transaction may or may not have \
         committed; check whether its writes are there (re-read them, or look up an \
         idempotency key it stored) before retrying it: {}",
        describe(.source)
    )]
    CommitOutcomeUnknown {
        /// The driver's error: the server's (SQLSTATE via [`Error::code`]) or the connection's.
        #[source]
        source: tokio_postgres::Error,
    },

    /// The statement's connection died before its answer came: the server restarted or
    /// terminated the backend (`pg_terminate_backend`, SQLSTATE 57P01 and the other codes that
    /// end a session), or the network failed. The connection is discarded; the pool opens a new
    /// one.
    ///
    /// [Retryable](Error::is_retryable) when `retry_safe`: the statement only reads and ran
    /// outside a transaction (pgrepo has then already retried it once on a fresh connection).
    /// A write may or may not have been applied, and inside a transaction the whole
    /// transaction is gone (its `COMMIT` then reports that nothing of it was committed:
    /// [`Error::TransactionAborted`] or [`Error::TransactionLost`]): neither is retried
    /// blindly.
    #[non_exhaustive]
    #[error(
        "`{statement}` on `{table}`: the connection was lost before the server answered{}: {}",
        if *.retry_safe { " (a read: safe to retry)" } else { "" },
        describe(.source)
    )]
    ConnectionLost {
        /// The table.
        table: &'static str,
        /// The statement's label.
        statement: &'static str,
        /// Whether running it again cannot apply anything twice: a read outside a transaction.
        retry_safe: bool,
        /// The driver's error: "connection closed", an I/O error, or the server's FATAL.
        #[source]
        source: tokio_postgres::Error,
    },

    /// The password provider ([`DbBuilder::password_provider`](crate::DbBuilder::password_provider))
    /// failed, so no connection was opened. `source` is the provider's error.
    #[non_exhaustive]
    #[error("the password provider failed, no connection was opened: {source}")]
    Credentials {
        /// The provider's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// Any other error the server or driver reported while running a statement.
    #[non_exhaustive]
    #[error("`{statement}` on `{table}` failed: {}", describe(.source))]
    Query {
        /// The table.
        table: &'static str,
        /// The statement's label.
        statement: &'static str,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },
}

/// Shorthand for `Result<T, pgrepo::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
