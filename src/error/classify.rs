//! Which [`Error`] a driver error becomes: constraint violations, concurrency failures, lock
//! waits and cancellations by SQLSTATE (their causes read in `cause`), and for the `COMMIT` of a
//! transaction, whether its outcome is known.
//!
//! # The outcome of a failed `COMMIT`
//!
//! - **Never sent** (the connection was already closed when `COMMIT` was to be handed to it):
//!   the server never received it, so the transaction did not commit. Its backend rolls it
//!   back when it sees the connection gone. [`Error::TransactionLost`].
//! - **Answered** with an ordinary error (severity `ERROR`: a deferred constraint, a
//!   serialization failure, a statement timeout in a deferred trigger): the server ended the
//!   transaction without committing it, and the session goes on. The usual variants
//!   ([`Error::UniqueViolation`], [`Error::SerializationFailure`], [`Error::LockNotAvailable`]
//!   for a deferred foreign key that waited too long, …), with the statement `commit`.
//! - **Otherwise** the server may have received `COMMIT`, and may have committed, without its
//!   answer reaching us: the connection closed or failed (I/O error, `is_closed()`), or the
//!   answer was an error that ends the session ([`ends_session`]: severity `FATAL`/`PANIC`,
//!   class 08, 57P01–57P05). A backend terminated while committing reports 57P01 whether or
//!   not its commit record was already written. [`Error::CommitOutcomeUnknown`].
//!
//! The connection is closed in the first and last case. The driver cannot say whether a
//! request it failed with "connection closed" was written before the connection died, so a
//! connection found closed only by the `COMMIT` itself counts as unknown: it errs on the side
//! of "may have committed", never the other way.

use tokio_postgres::error::{DbError, Severity, SqlState};

use super::{CancelReason, Error, LockWait};

/// Whether the server answered the request with an error that leaves the session usable, so the
/// request's effect is known (it failed) and the connection can be reused. `false` for a
/// connection that closed or failed and for a server error that ends the session.
pub(crate) fn answered_by_server(error: &tokio_postgres::Error) -> bool {
    error.as_db_error().is_some_and(|db| !ends_session(db))
}

/// Whether a server error ends the session, whatever request it answers: severity `FATAL` or
/// `PANIC`, class 08 (connection exception), or 57P01 admin shutdown, 57P02 crash shutdown,
/// 57P03 cannot connect now, 57P04 database dropped, 57P05 idle session timeout (which the
/// server reports as `FATAL`; checked by code too, should the severity be missing).
pub(crate) fn ends_session(db: &DbError) -> bool {
    let code = db.code();
    matches!(
        db.parsed_severity(),
        Some(Severity::Fatal | Severity::Panic)
    ) || code.code().starts_with("08")
        || [
            SqlState::ADMIN_SHUTDOWN,
            SqlState::CRASH_SHUTDOWN,
            SqlState::CANNOT_CONNECT_NOW,
            SqlState::DATABASE_DROPPED,
            SqlState::IDLE_SESSION_TIMEOUT,
        ]
        .contains(code)
}

/// Whether the statement failed because its connection died: the driver saw it closed or its
/// socket fail (I/O), or the server answered with an error that ends the session (57P01 from
/// `pg_terminate_backend` or a shutdown, `FATAL`).
pub(crate) fn lost_connection(error: &tokio_postgres::Error) -> bool {
    match error.as_db_error() {
        Some(db) => ends_session(db),
        None => {
            error.is_closed()
                || std::error::Error::source(error)
                    .is_some_and(|cause| cause.downcast_ref::<std::io::Error>().is_some())
        }
    }
}

impl Error {
    /// Classifies a driver error raised by a statement on `table`. A lost connection is
    /// [`Error::ConnectionLost`], not retry-safe: the executor, which knows whether the
    /// statement reads outside a transaction, says when it is ([`Error::retry_safe_if`]).
    pub(crate) fn from_driver(
        source: tokio_postgres::Error,
        table: &'static str,
        statement: &'static str,
    ) -> Error {
        if lost_connection(&source) {
            return Error::ConnectionLost {
                table,
                statement,
                retry_safe: false,
                source,
            };
        }
        let Some(db) = source.as_db_error() else {
            return Error::Query {
                table,
                statement,
                source,
            };
        };
        let code = db.code();
        if *code == SqlState::INVALID_SQL_STATEMENT_NAME || *code == SqlState::DUPLICATE_PSTATEMENT
        {
            return Error::PreparedStatementLost {
                table,
                statement,
                source,
            };
        }
        let owned = |field: Option<&str>| field.map(str::to_owned);
        if *code == SqlState::UNIQUE_VIOLATION {
            Error::UniqueViolation {
                table,
                statement,
                constraint: db.constraint().unwrap_or_default().to_owned(),
                detail: owned(db.detail()),
                source,
            }
        } else if *code == SqlState::FOREIGN_KEY_VIOLATION {
            Error::ForeignKeyViolation {
                table,
                statement,
                constraint: db.constraint().unwrap_or_default().to_owned(),
                detail: owned(db.detail()),
                source,
            }
        } else if *code == SqlState::NOT_NULL_VIOLATION {
            Error::NotNullViolation {
                table,
                statement,
                relation: owned(db.table()),
                column: owned(db.column()),
                source,
            }
        } else if *code == SqlState::CHECK_VIOLATION {
            Error::CheckViolation {
                table,
                statement,
                relation: owned(db.table()),
                constraint: owned(db.constraint()),
                source,
            }
        } else if *code == SqlState::T_R_SERIALIZATION_FAILURE {
            Error::SerializationFailure {
                table,
                statement,
                source,
            }
        } else if *code == SqlState::T_R_DEADLOCK_DETECTED {
            Error::Deadlock {
                table,
                statement,
                source,
            }
        } else if *code == SqlState::LOCK_NOT_AVAILABLE {
            Error::LockNotAvailable {
                table,
                statement,
                cause: LockWait::from_message(db.message()),
                source,
            }
        } else if *code == SqlState::QUERY_CANCELED {
            Error::QueryCanceled {
                table,
                statement,
                reason: CancelReason::from_message(db.message()),
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

    /// For an [`Error::ConnectionLost`]: marks it retry-safe when `safe` (a read outside a
    /// transaction). Other errors are returned as they are.
    pub(crate) fn retry_safe_if(self, safe: bool) -> Error {
        match self {
            Error::ConnectionLost {
                table,
                statement,
                source,
                ..
            } => Error::ConnectionLost {
                table,
                statement,
                retry_safe: safe,
                source,
            },
            other => other,
        }
    }

    /// Classifies the failure of a transaction's `COMMIT` (see the module docs): `closed_before`
    /// says the connection was already closed when `COMMIT` was to be handed to it.
    pub(crate) fn from_commit(
        source: tokio_postgres::Error,
        closed_before: bool,
        table: &'static str,
    ) -> Error {
        if closed_before {
            Error::TransactionLost { source }
        } else if answered_by_server(&source) {
            Error::from_driver(source, table, "commit")
        } else {
            Error::CommitOutcomeUnknown { source }
        }
    }
}
