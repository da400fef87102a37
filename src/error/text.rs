//! The words of [`Error`](super::Error)'s messages that come from elsewhere: the server's report
//! of a driver error, and deadpool's refusals.
//!
//! tokio-postgres's own `Display` of an error is its kind alone ("db error", "error connecting
//! to server", "invalid connection string"): the server's message and SQLSTATE, or the I/O
//! error, are only in its `source()`. Every variant that keeps a driver error shows it through
//! [`describe`], so the text a log line or a user sees says what the server said.

use std::fmt;

use deadpool_postgres::{HookError, PoolError};

/// A driver error in words: the server's message and SQLSTATE (`the database system is
/// shutting down (SQLSTATE 57P03)`), or the driver's message followed by its cause (`error
/// connecting to server: Connection refused (os error 111)`).
pub(super) fn describe(source: &tokio_postgres::Error) -> impl fmt::Display + '_ {
    struct Describe<'a>(&'a tokio_postgres::Error);
    impl fmt::Display for Describe<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            if let Some(db) = self.0.as_db_error() {
                return write!(f, "{} (SQLSTATE {})", db.message(), db.code().code());
            }
            fmt::Display::fmt(self.0, f)?;
            match std::error::Error::source(self.0) {
                Some(inner) => write!(f, ": {inner}"),
                None => Ok(()),
            }
        }
    }
    Describe(source)
}

pub(super) fn detail_suffix(detail: &Option<String>) -> String {
    detail
        .as_ref()
        .map(|d| format!(" ({d})"))
        .unwrap_or_default()
}

/// The NOT NULL column a write violated, as the server named it (`` `users`.`email` ``), or
/// the domain's NOT NULL when there is no column.
pub(super) fn not_null_target(relation: &Option<String>, column: &Option<String>) -> String {
    match (relation, column) {
        (Some(relation), Some(column)) => format!("`{relation}`.`{column}`"),
        (None, Some(column)) => format!("`{column}`"),
        _ => "a value of a NOT NULL domain".to_owned(),
    }
}

/// The CHECK constraint a write violated (`` `price_positive` of `gadgets` ``), or the
/// partition constraint, which has no name.
pub(super) fn check_target(relation: &Option<String>, constraint: &Option<String>) -> String {
    match (constraint, relation) {
        (Some(constraint), Some(relation)) => format!("`{constraint}` of `{relation}`"),
        (Some(constraint), None) => format!("`{constraint}`"),
        (None, Some(relation)) => format!("the partition constraint of `{relation}`"),
        (None, None) => "(unnamed)".to_owned(),
    }
}

pub(super) fn connect_timeout(timeout_ms: u64, recycling: bool) -> String {
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

/// What the pool refused, in words (deadpool's own messages are terse, and show a driver
/// error of a hook as "db error").
pub(super) fn pool_refusal(source: &PoolError) -> String {
    match source {
        PoolError::Closed => {
            "the pool is closed (`Db::close` was called): no new statement or transaction starts"
                .to_owned()
        }
        PoolError::NoRuntimeSpecified => "the pool has no runtime for its timeouts; build it \
             with `.runtime(deadpool_postgres::Runtime::Tokio1)`"
            .to_owned(),
        PoolError::PostCreateHook(HookError::Backend(driver)) => format!(
            "a new connection failed the pool's post_create hook (`DbBuilder::after_connect`, or a hook of a pool given to `Db::from_pool`): {}",
            describe(driver)
        ),
        PoolError::PostCreateHook(hook) => {
            format!("the pool's post_create hook rejected a new connection: {hook}")
        }
        // A timeout or a connect failure is reported as its own variant, never as `Pool`.
        PoolError::Timeout(_) => source.to_string(),
        PoolError::Backend(driver) => describe(driver).to_string(),
    }
}
