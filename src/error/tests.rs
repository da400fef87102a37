//! Every variant that keeps a driver error shows what the driver's own `Display` leaves out
//! (here the cause of a parse error; the server's message and SQLSTATE are checked against a
//! real server in tests/errors.rs, tests/error_kinds.rs and tests/commit_outcome.rs), which
//! variants are retryable, and the words of what the server leaves unnamed.

use std::sync::Arc;

use deadpool_postgres::{HookError, PoolError};

use super::text::{check_target, not_null_target};
use super::{CancelReason, Error, LockWait};

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
        Error::SerializationFailure {
            table,
            statement,
            source: driver_error(),
        },
        Error::Deadlock {
            table,
            statement,
            source: driver_error(),
        },
        Error::NotNullViolation {
            table,
            statement,
            relation: Some("users".into()),
            column: Some("name".into()),
            source: driver_error(),
        },
        Error::CheckViolation {
            table,
            statement,
            relation: Some("users".into()),
            constraint: Some("users_score_check".into()),
            source: driver_error(),
        },
        Error::LockNotAvailable {
            table,
            statement,
            cause: LockWait::Other,
            source: driver_error(),
        },
        Error::QueryCanceled {
            table,
            statement,
            reason: CancelReason::Other,
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

#[test]
fn only_failures_that_rolled_back_or_never_reached_commit_are_retryable() {
    let (table, statement) = ("accounts", "update");
    let retryable = [
        Error::SerializationFailure {
            table,
            statement,
            source: driver_error(),
        },
        Error::Deadlock {
            table,
            statement,
            source: driver_error(),
        },
        Error::TransactionLost {
            source: driver_error(),
        },
    ];
    for error in retryable {
        assert!(error.is_retryable(), "{error:?}");
        // Also when a loader's batch met it.
        let batch = Error::Batch {
            table,
            source: Arc::new(error),
        };
        assert!(batch.is_retryable(), "{batch:?}");
    }
    let not_retryable = [
        Error::CommitOutcomeUnknown {
            source: driver_error(),
        },
        Error::Query {
            table,
            statement,
            source: driver_error(),
        },
        Error::LockNotAvailable {
            table,
            statement,
            cause: LockWait::LockTimeout,
            source: driver_error(),
        },
        Error::QueryCanceled {
            table,
            statement,
            reason: CancelReason::StatementTimeout,
            source: driver_error(),
        },
        Error::TransactionAborted,
        Error::PoolTimeout {
            max_size: 1,
            in_use: 1,
            idle: 0,
            transactions: 1,
            autocommit: 0,
            waiting: 0,
            waited_ms: 10,
            holders: Vec::new(),
        },
    ];
    for error in not_retryable {
        assert!(!error.is_retryable(), "{error:?}");
    }
}

#[test]
fn causes_are_read_from_the_servers_words_and_anything_else_is_other() {
    let lock = LockWait::from_message;
    assert_eq!(
        lock("canceling statement due to lock timeout"),
        LockWait::LockTimeout
    );
    assert_eq!(
        lock("could not obtain lock on row in relation \"jobs\""),
        LockWait::NoWait
    );
    assert_eq!(
        lock("could not obtain lock on relation \"jobs\""),
        LockWait::NoWait
    );
    // lc_messages = 'de_DE': the variant is still right, the cause unknown.
    assert_eq!(
        lock("storniere Anfrage wegen Zeitüberschreitung einer Sperre"),
        LockWait::Other
    );
    let cancel = CancelReason::from_message;
    assert_eq!(
        cancel("canceling statement due to statement timeout"),
        CancelReason::StatementTimeout
    );
    assert_eq!(
        cancel("canceling statement due to user request"),
        CancelReason::UserRequest
    );
    assert_eq!(
        cancel("canceling statement due to lock timeout"),
        CancelReason::Other
    );
}

#[test]
fn a_violation_the_server_names_no_column_or_constraint_for_still_reads() {
    let some = |s: &str| Some(s.to_owned());
    assert_eq!(
        not_null_target(&some("users"), &some("email")),
        "`users`.`email`"
    );
    // A domain's NOT NULL: the server reports the type, no table or column.
    assert_eq!(
        not_null_target(&None, &None),
        "a value of a NOT NULL domain"
    );
    assert_eq!(
        check_target(&some("gadgets"), &some("gadgets_price_positive")),
        "`gadgets_price_positive` of `gadgets`"
    );
    // A row no partition takes: 23514 with the table and no constraint name.
    assert_eq!(
        check_target(&some("events"), &None),
        "the partition constraint of `events`"
    );
    // A domain's CHECK: the constraint, no table.
    assert_eq!(check_target(&None, &some("positive")), "`positive`");
}
