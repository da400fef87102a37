//! The one error type of pgrepo.
//!
//! Every failure names what it concerns (table, statement, column, pool state) and keeps the
//! driver's error reachable through [`std::error::Error::source`] and [`Error::code`].

use std::fmt;
use std::sync::Arc;

use deadpool_postgres::PoolError;
use tokio_postgres::error::{DbError, SqlState};

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
    #[error("`{statement}` on `{table}` violates unique constraint `{constraint}`{}", detail_suffix(.detail))]
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
    #[error("`{statement}` on `{table}` violates foreign key `{constraint}`{}", detail_suffix(.detail))]
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

    /// No connection became free within the pool's wait timeout.
    #[non_exhaustive]
    #[error(
        "timed out after {waited_ms} ms waiting for a connection: pool size {max_size}, \
         {in_use} in use, {waiting} waiting"
    )]
    PoolTimeout {
        /// The pool's maximum size.
        max_size: usize,
        /// Connections checked out when the wait ended.
        in_use: usize,
        /// Other tasks waiting at that moment.
        waiting: usize,
        /// How long this caller waited.
        waited_ms: u64,
    },

    /// The pool could not open a new connection.
    #[non_exhaustive]
    #[error("could not connect to PostgreSQL: {source}")]
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
    #[error("invalid connection string: {source}")]
    InvalidUrl {
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },

    /// The live database does not match the entities (see [`crate::Db::verify`]).
    #[error("{0}")]
    SchemaMismatch(crate::verify::SchemaReport),

    /// A statement's prepared plan was invalidated by a schema change inside a transaction,
    /// which the server has aborted. The statement is re-prepared by the next transaction.
    #[non_exhaustive]
    #[error(
        "`{statement}` on `{table}`: the table changed while a transaction was using it; \
         the transaction was aborted, retry it"
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
    #[error("cannot decode `{table}`.`{column}` into field of type `{rust_type}`: {}", cause(.source))]
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

    /// A hand-written query's result columns do not match what the target type decodes.
    #[non_exhaustive]
    #[error("query for `{target}` returns {found}, but `{target}` decodes {expected}")]
    ColumnMismatch {
        /// The type rows are decoded into.
        target: &'static str,
        /// What the type expects.
        expected: String,
        /// What the query returns.
        found: String,
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

impl Error {
    /// The error itself, or for [`Error::Batch`] the error that failed the batch: what to
    /// match on to handle an error whether or not it came through a loader.
    ///
    /// ```
    /// # fn demo(error: pgrepo::Error) {
    /// match error.root() {
    ///     pgrepo::Error::PoolTimeout { .. } => { /* retry later */ }
    ///     other => eprintln!("{other}"),
    /// }
    /// # }
    /// ```
    pub fn root(&self) -> &Error {
        let mut error = self;
        while let Error::Batch { source, .. } = error {
            error = source;
        }
        error
    }

    /// The SQLSTATE the server reported, when the error came from the server (also through
    /// [`Error::Batch`]).
    pub fn code(&self) -> Option<&SqlState> {
        self.as_db_error().map(DbError::code)
    }

    /// The server's error report, when the error came from the server (also through
    /// [`Error::Batch`]).
    pub fn as_db_error(&self) -> Option<&DbError> {
        match self.root() {
            Error::UniqueViolation { source, .. }
            | Error::ForeignKeyViolation { source, .. }
            | Error::SchemaChanged { source, .. }
            | Error::Query { source, .. }
            | Error::Connect { source } => source.as_db_error(),
            _ => None,
        }
    }

    /// Whether the server saw this statement fail, which aborts the transaction it ran in.
    pub(crate) fn aborts_transaction(&self) -> bool {
        self.as_db_error().is_some() || matches!(self, Error::SchemaChanged { .. })
    }

    /// Whether this is [`Error::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self.root(), Error::NotFound { .. })
    }

    /// Classifies a driver error raised by a statement on `table`.
    pub(crate) fn from_driver(
        source: tokio_postgres::Error,
        table: &'static str,
        statement: &'static str,
    ) -> Error {
        let Some(db) = source.as_db_error() else {
            return Error::Query {
                table,
                statement,
                source,
            };
        };
        let constraint = db.constraint().unwrap_or_default().to_owned();
        let detail = db.detail().map(str::to_owned);
        if *db.code() == SqlState::UNIQUE_VIOLATION {
            Error::UniqueViolation {
                table,
                statement,
                constraint,
                detail,
                source,
            }
        } else if *db.code() == SqlState::FOREIGN_KEY_VIOLATION {
            Error::ForeignKeyViolation {
                table,
                statement,
                constraint,
                detail,
                source,
            }
        } else {
            Error::Query {
                table,
                statement,
                source,
            }
        }
    }
}

fn detail_suffix(detail: &Option<String>) -> String {
    detail
        .as_ref()
        .map(|d| format!(" ({d})"))
        .unwrap_or_default()
}

/// The innermost message of a driver error (e.g. a `FromSql` failure), which the driver's own
/// `Display` leaves out.
fn cause(source: &tokio_postgres::Error) -> String {
    match std::error::Error::source(source) {
        Some(inner) => format!("{source}: {inner}"),
        None => source.to_string(),
    }
}

/// The server's message with its SQLSTATE, or the driver's message.
fn describe(source: &tokio_postgres::Error) -> impl fmt::Display + '_ {
    struct Describe<'a>(&'a tokio_postgres::Error);
    impl fmt::Display for Describe<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self.0.as_db_error() {
                Some(db) => write!(f, "{} (SQLSTATE {})", db.message(), db.code().code()),
                None => fmt::Display::fmt(self.0, f),
            }
        }
    }
    Describe(source)
}

fn connect_timeout(timeout_ms: u64, recycling: bool) -> String {
    if recycling {
        format!(
            "timed out after {timeout_ms} ms checking a pooled connection before reusing it \
             (connect timeout): the server does not answer"
        )
    } else {
        format!(
            "timed out after {timeout_ms} ms connecting to PostgreSQL (connect timeout): the \
             server is unreachable or does not answer"
        )
    }
}

/// What the pool refused, in words (deadpool's own messages are terse).
fn pool_refusal(source: &PoolError) -> String {
    match source {
        PoolError::Closed => "the pool is closed".to_owned(),
        PoolError::NoRuntimeSpecified => "the pool has no runtime for its timeouts; build it \
             with `.runtime(deadpool_postgres::Runtime::Tokio1)`"
            .to_owned(),
        PoolError::PostCreateHook(hook) => {
            format!("the pool's post_create hook rejected a new connection: {hook}")
        }
        other => other.to_string(),
    }
}

/// Shorthand for `Result<T, pgrepo::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
