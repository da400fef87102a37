//! The one error type of pgrepo.
//!
//! Every failure names what it concerns (table, statement, column, pool state) and keeps the
//! driver's error reachable through [`std::error::Error::source`] and [`Error::code`].

use std::fmt;

use tokio_postgres::error::{DbError, SqlState};

/// What went wrong, with enough context to act on it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A row that had to exist does not (e.g. `update` of a deleted row).
    #[error("no row in `{table}` matched `{statement}`")]
    NotFound {
        /// The table queried.
        table: &'static str,
        /// The statement's label (e.g. `update`).
        statement: &'static str,
    },

    /// A unique constraint rejected the write.
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
    #[error("could not connect to PostgreSQL: {source}")]
    Connect {
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },

    /// The pool is closed or misconfigured.
    #[error("connection pool: {0}")]
    Pool(String),

    /// The live database does not match the entities (see [`crate::Db::verify`]).
    #[error("{0}")]
    SchemaMismatch(crate::verify::SchemaReport),

    /// A statement's prepared plan was invalidated by a schema change inside a transaction,
    /// which the server has aborted. The statement is re-prepared by the next transaction.
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
    #[error("query for `{target}` returns {found}, but `{target}` decodes {expected}")]
    ColumnMismatch {
        /// The type rows are decoded into.
        target: &'static str,
        /// What the type expects.
        expected: String,
        /// What the query returns.
        found: String,
    },

    /// A page cursor was malformed, tampered with, or made for another listing.
    #[error("invalid cursor: {reason}")]
    InvalidCursor {
        /// Why it was rejected.
        reason: String,
    },

    /// The same single-row statement ran too often in one strict scope: an N+1 query.
    #[error(
        "N+1 query: `{statement}` on `{table}` ran {count} times in one scope (limit {limit}); \
         load these rows in one batch with a loader or `get_many`"
    )]
    NPlusOne {
        /// The table.
        table: &'static str,
        /// The statement's label.
        statement: &'static str,
        /// How often it ran.
        count: usize,
        /// The configured limit.
        limit: usize,
    },

    /// A batched load failed; every caller waiting on the batch receives this.
    #[error("batched load of `{table}` failed: {message}")]
    Batch {
        /// The table.
        table: &'static str,
        /// The underlying error's message (the original went to the caller that ran the batch).
        message: String,
    },

    /// A statement of the transaction failed on the server, which aborted the transaction:
    /// [`Tx::commit`](crate::Tx::commit) rolled it back, and nothing of it was committed.
    #[error(
        "the transaction was aborted by a statement that failed in it; it was rolled back and \
         nothing of it was committed"
    )]
    TransactionAborted,

    /// Any other error the server or driver reported while running a statement.
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
    /// The SQLSTATE the server reported, when the error came from the server.
    pub fn code(&self) -> Option<&SqlState> {
        self.as_db_error().map(DbError::code)
    }

    /// The server's error report, when the error came from the server.
    pub fn as_db_error(&self) -> Option<&DbError> {
        match self {
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
        matches!(self, Error::NotFound { .. })
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

/// Shorthand for `Result<T, pgrepo::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
