//! Every variant that keeps a driver error shows what the driver's own `Display` leaves out
//! (here the cause of a parse error; the server's message and SQLSTATE are checked against a
//! real server in tests/errors.rs and tests/commit_outcome.rs).

use std::sync::Arc;

use deadpool_postgres::{HookError, PoolError};

use super::Error;

/// A driver error whose `Display` is only "invalid connection string".
fn driver_error() -> tokio_postgres::Error {
    "postgres://host:notaport/db"
        .parse::<tokio_postgres::Config>()
        .expect_err("an invalid port")
}

#[test]
fn every_variant_with_a_driver_error_shows_its_cause() {
    let (table, statement) = ("users", "insert");
    let variants = [
        Error::UniqueViolation {
            table,
            statement,
            constraint: "users_email_key".into(),
            detail: None,
            source: driver_error(),
        },
        Error::ForeignKeyViolation {
            table,
            statement,
            constraint: "posts_user_id_fkey".into(),
            detail: None,
            source: driver_error(),
        },
        Error::Connect {
            source: driver_error(),
        },
        Error::Pool {
            source: PoolError::PostCreateHook(HookError::Backend(driver_error())),
        },
        Error::InvalidUrl {
            source: driver_error(),
        },
        Error::SchemaChanged {
            table,
            statement,
            source: driver_error(),
        },
        Error::Decode {
            table,
            column: "email".into(),
            rust_type: "String",
            source: driver_error(),
        },
        Error::TransactionLost {
            source: driver_error(),
        },
        Error::CommitOutcomeUnknown {
            source: driver_error(),
        },
        Error::Query {
            table,
            statement,
            source: driver_error(),
        },
        Error::Batch {
            table,
            source: Arc::new(Error::Query {
                table,
                statement,
                source: driver_error(),
            }),
        },
    ];
    assert_eq!(driver_error().to_string(), "invalid connection string");
    for error in variants {
        let text = error.to_string();
        assert!(
            text.contains("invalid connection string: invalid value for option `port`"),
            "{error:?}: {text}"
        );
        assert!(std::error::Error::source(&error).is_some(), "{error:?}");
    }
}
