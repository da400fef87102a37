//! Waits that gave up: lock_timeout and NOWAIT (which one, in `LockWait`), statement_timeout and
//! cancel requests (which one, in `CancelReason`), in and out of transactions and at `COMMIT`.

use std::time::{Duration, Instant};

use pgrepo::tokio_postgres::error::SqlState;
use pgrepo::tokio_postgres::Client;
use pgrepo::{CancelReason, Error, LockWait, Sql, TxOptions};

use super::*;
use crate::common::*;

/// `other` opens a transaction that locks row `id` of `users`.
async fn lock_user_row(other: &Client, id: i64) {
    other
        .batch_execute(&format!(
            "BEGIN; SELECT * FROM users WHERE id = {id} FOR UPDATE"
        ))
        .await
        .unwrap();
}

fn assert_lock_not_available(err: &Error, statement_table: &str, cause: LockWait) {
    assert!(
        matches!(
            err,
            Error::LockNotAvailable { table, cause: c, .. } if *table == statement_table && *c == cause
        ),
        "{err:?}"
    );
    assert!(!err.is_retryable(), "{err:?}");
    assert_driver_source(err, &SqlState::LOCK_NOT_AVAILABLE);
}

#[tokio::test]
async fn a_lock_timeout_is_lock_not_available_caused_by_the_timeout() {
    let (t, other) = single_connection("kind_lock_timeout").await;
    let id = insert_users(&t.db, 1).await[0];
    let user = t.db.repo::<User>().get(id).await.unwrap().unwrap();
    let pid = backend_pid(&t.db).await;
    lock_user_row(&other, id).await;

    // A repository update in a transaction with its own lock_timeout.
    let tx =
        t.db.begin_with(TxOptions::new().prelude("SET LOCAL lock_timeout = '100ms'"))
            .await
            .unwrap();
    let err = tx.repo::<User>().update(&user).await.unwrap_err();
    assert_lock_not_available(&err, "users", LockWait::LockTimeout);
    assert!(matches!(
        err,
        Error::LockNotAvailable {
            statement: "update",
            ..
        }
    ));
    assert!(err.to_string().contains("lock_timeout"), "{err}");
    tx.rollback().await.unwrap();
    same_connection_serves_on(&t.db, pid).await;

    // Hand-written SQL on a session with a lock_timeout.
    t.db.batch_execute("SET lock_timeout = '100ms'")
        .await
        .unwrap();
    let err =
        t.db.execute("UPDATE users SET score = 9 WHERE id = $1", &[&id])
            .await
            .unwrap_err();
    assert_lock_not_available(&err, "(query)", LockWait::LockTimeout);
    same_connection_serves_on(&t.db, pid).await;
    t.db.batch_execute("RESET lock_timeout").await.unwrap();
    other.batch_execute("ROLLBACK").await.unwrap();

    // At COMMIT: a deferred foreign key waits for its (locked) parent row.
    t.db.batch_execute(
        "CREATE TABLE owners (id BIGINT PRIMARY KEY);
         CREATE TABLE pets (owner BIGINT REFERENCES owners (id) DEFERRABLE INITIALLY DEFERRED);
         INSERT INTO owners VALUES (1)",
    )
    .await
    .unwrap();
    other
        .batch_execute("BEGIN; SELECT * FROM owners WHERE id = 1 FOR UPDATE")
        .await
        .unwrap();
    let tx =
        t.db.begin_with(TxOptions::new().prelude("SET LOCAL lock_timeout = '100ms'"))
            .await
            .unwrap();
    tx.execute("INSERT INTO pets VALUES (1)", &[])
        .await
        .unwrap();
    let err = tx.commit().await.unwrap_err();
    assert_lock_not_available(&err, "(transaction)", LockWait::LockTimeout);
    assert!(matches!(
        err,
        Error::LockNotAvailable {
            statement: "commit",
            ..
        }
    ));
    other.batch_execute("ROLLBACK").await.unwrap();
    let pets: i64 = t.db.query("SELECT count(*) FROM pets", &[]).await.unwrap()[0].get(0);
    assert_eq!(pets, 0, "nothing of it committed");
    same_connection_serves_on(&t.db, pid).await;
}

#[tokio::test]
async fn nowait_on_a_locked_row_or_table_is_lock_not_available_caused_by_nowait() {
    let (t, other) = single_connection("kind_nowait").await;
    let id = insert_users(&t.db, 1).await[0];
    let pid = backend_pid(&t.db).await;
    lock_user_row(&other, id).await;

    let started = Instant::now();
    let err =
        t.db.query_as::<User>(
            Sql::read("SELECT * FROM users WHERE id = $1 FOR UPDATE NOWAIT"),
            &[&id],
        )
        .await
        .unwrap_err();
    assert_lock_not_available(&err, "(query)", LockWait::NoWait);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "it did not wait"
    );
    assert!(err.to_string().contains("SKIP LOCKED"), "{err}");
    same_connection_serves_on(&t.db, pid).await;

    // In a transaction, a table lock.
    let tx = t.db.begin().await.unwrap();
    let err = tx
        .batch_execute(Sql::write("LOCK TABLE users IN EXCLUSIVE MODE NOWAIT"))
        .await
        .unwrap_err();
    assert_lock_not_available(&err, "(query)", LockWait::NoWait);
    tx.rollback().await.unwrap();
    other.batch_execute("ROLLBACK").await.unwrap();
    same_connection_serves_on(&t.db, pid).await;
}

fn assert_canceled(err: &Error, statement_table: &str, reason: CancelReason) {
    assert!(
        matches!(
            err,
            Error::QueryCanceled { table, reason: r, .. } if *table == statement_table && *r == reason
        ),
        "{err:?}"
    );
    assert!(!err.is_retryable(), "{err:?}");
    assert_driver_source(err, &SqlState::QUERY_CANCELED);
}

#[tokio::test]
async fn a_statement_timeout_is_query_canceled_by_the_timeout() {
    let (t, other) = single_connection("kind_statement_timeout").await;
    let pid = backend_pid(&t.db).await;

    let started = Instant::now();
    t.db.batch_execute("SET statement_timeout = '100ms'")
        .await
        .unwrap();
    let err =
        t.db.query(Sql::read("SELECT pg_sleep(5)"), &[])
            .await
            .unwrap_err();
    assert_canceled(&err, "(query)", CancelReason::StatementTimeout);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "it was canceled"
    );
    assert!(err.to_string().contains("statement_timeout"), "{err}");
    same_connection_serves_on(&t.db, pid).await;
    t.db.batch_execute("RESET statement_timeout").await.unwrap();

    // A repository call in a transaction, waiting for a table another transaction locked.
    other
        .batch_execute("BEGIN; LOCK TABLE gadgets IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let tx =
        t.db.begin_with(TxOptions::new().prelude("SET LOCAL statement_timeout = '100ms'"))
            .await
            .unwrap();
    let err = tx.repo::<Gadget>().count().await.unwrap_err();
    assert_canceled(&err, "gadgets", CancelReason::StatementTimeout);
    assert!(matches!(
        err,
        Error::QueryCanceled {
            statement: "count",
            ..
        }
    ));
    let commit = tx.commit().await.unwrap_err();
    assert!(matches!(commit, Error::TransactionAborted), "{commit:?}");
    other.batch_execute("ROLLBACK").await.unwrap();
    same_connection_serves_on(&t.db, pid).await;
}

#[tokio::test]
async fn a_cancel_request_is_query_canceled_by_user_request() {
    let (t, admin) = single_connection("kind_cancel").await;
    let pid = backend_pid(&t.db).await;
    let sleeper = "SELECT pg_sleep(30)";
    let cancel = async {
        for _ in 0..1000 {
            let canceled = admin
                .query_opt(
                    "SELECT pg_cancel_backend(pid) FROM pg_stat_activity \
                     WHERE pid = $1 AND query = $2 AND state = 'active'",
                    &[&pid, &sleeper],
                )
                .await
                .unwrap();
            if canceled.is_some() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the statement never ran");
    };
    let (result, ()) = tokio::join!(t.db.query(Sql::read(sleeper), &[]), cancel);
    let err = result.unwrap_err();
    assert_canceled(&err, "(query)", CancelReason::UserRequest);
    same_connection_serves_on(&t.db, pid).await;
}
