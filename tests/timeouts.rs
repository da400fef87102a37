//! Statement, lock-wait and idle-in-transaction timeouts: set on every connection of a `Db`,
//! overridden by a transaction for itself only, each cancellation a typed error naming the
//! timeout that fired, and the connection usable afterwards.

use std::time::Duration;

use pgrepo::{CancelReason, Db, Error, LockWait, StatementMode, Timeouts, TxOptions};

use crate::common::*;

const SHORT: Duration = Duration::from_millis(150);

async fn show(db: &impl Executor, setting: &str) -> String {
    db.query(&format!("SHOW {setting}"), &[]).await.unwrap()[0].get(0)
}

async fn backend(db: &impl Executor) -> i32 {
    db.query("SELECT pg_backend_pid()", &[]).await.unwrap()[0].get(0)
}

#[tokio::test]
async fn a_db_sets_its_timeouts_on_every_connection() {
    let t = fresh("timeouts_default").await;
    assert_eq!(show(&t.db, "statement_timeout").await, "30s");
    assert_eq!(show(&t.db, "lock_timeout").await, "10s");
    assert_eq!(
        show(&t.db, "idle_in_transaction_session_timeout").await,
        "1min"
    );
    let none = fresh_with("timeouts_none", |b| b.timeouts(Timeouts::none())).await;
    assert_eq!(show(&none.db, "statement_timeout").await, "0");
}

#[tokio::test]
async fn a_statement_past_its_timeout_is_canceled_and_the_connection_serves_on() {
    let t = fresh_with("timeouts_statement", |b| {
        b.max_size(1)
            .timeouts(Timeouts::none().statement(Some(SHORT)))
    })
    .await;
    let pid = backend(&t.db).await;
    let error = t.db.execute("SELECT pg_sleep(5)", &[]).await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::QueryCanceled {
                reason: CancelReason::StatementTimeout,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("statement timeout"), "{error}");
    // The same connection serves the next statement.
    assert_eq!(backend(&t.db).await, pid);
}

#[tokio::test]
async fn a_lock_wait_past_its_timeout_fails_with_the_lock_timeout_cause() {
    let t = fresh_with("timeouts_lock", |b| {
        b.max_size(1).timeouts(Timeouts::none().lock(Some(SHORT)))
    })
    .await;
    let ids = insert_users(&t.db, 1).await;
    let pid = backend(&t.db).await;
    // Another session holds the row.
    let other = t.database.connect().await.unwrap();
    other
        .batch_execute(&format!(
            "BEGIN; SELECT * FROM users WHERE id = {} FOR UPDATE",
            ids[0]
        ))
        .await
        .unwrap();
    // Bounded here so that a missing lock timeout fails the test instead of hanging it.
    let error = tokio::time::timeout(
        Duration::from_secs(10),
        t.db.execute("UPDATE users SET name = 'x' WHERE id = $1", &[&ids[0]]),
    )
    .await
    .expect("the lock timeout fires")
    .unwrap_err();
    assert!(
        matches!(
            error,
            Error::LockNotAvailable {
                cause: LockWait::LockTimeout,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(backend(&t.db).await, pid, "the connection serves on");
    other.batch_execute("ROLLBACK").await.unwrap();
    t.db.execute("UPDATE users SET name = 'x' WHERE id = $1", &[&ids[0]])
        .await
        .unwrap();
}

#[tokio::test]
async fn a_transactions_timeouts_end_with_it() {
    let t = fresh_with("timeouts_tx", |b| b.max_size(1)).await;
    let pid = backend(&t.db).await;
    let options = TxOptions::new().timeouts(Timeouts::none().statement(Some(SHORT)));
    let error =
        t.db.transaction_with(options.clone(), async |tx| {
            assert_eq!(show(tx, "statement_timeout").await, "150ms");
            // Left as the Db's: not part of the transaction's timeouts.
            assert_eq!(show(tx, "lock_timeout").await, "10s");
            tx.execute("SELECT pg_sleep(5)", &[]).await
        })
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::QueryCanceled {
                reason: CancelReason::StatementTimeout,
                ..
            }
        ),
        "{error:?}"
    );
    // Same connection, the Db's timeout again: the transaction's did not stay on it.
    assert_eq!(backend(&t.db).await, pid);
    assert_eq!(show(&t.db, "statement_timeout").await, "30s");
    t.db.execute("SELECT pg_sleep(0.3)", &[]).await.unwrap();
    // A transaction that commits leaves nothing behind either.
    t.db.transaction_with(options, async |tx| {
        tx.execute("SELECT 1", &[]).await?;
        Ok(())
    })
    .await
    .unwrap();
    assert_eq!(show(&t.db, "statement_timeout").await, "30s");
}

#[tokio::test]
async fn with_unnamed_statements_the_timeouts_are_set_in_each_transaction() {
    // A pooler in transaction mode refuses startup options and shares sessions: the Db's
    // timeouts go into each transaction instead.
    let t = fresh_with("timeouts_unnamed", |b| {
        b.statement_mode(StatementMode::Unnamed)
            .timeouts(Timeouts::none().statement(Some(SHORT)))
    })
    .await;
    assert_eq!(show(&t.db, "statement_timeout").await, "0");
    let error =
        t.db.transaction(async |tx| {
            assert_eq!(show(tx, "statement_timeout").await, "150ms");
            tx.execute("SELECT pg_sleep(5)", &[]).await
        })
        .await
        .unwrap_err();
    assert!(matches!(error, Error::QueryCanceled { .. }), "{error:?}");
    assert_eq!(show(&t.db, "statement_timeout").await, "0");
}

#[tokio::test]
async fn a_transaction_idle_past_its_timeout_is_ended_and_the_pool_serves_on() {
    let t = fresh_with("timeouts_idle", |b| {
        b.max_size(1)
            .timeouts(Timeouts::none().idle_in_transaction(Some(SHORT)))
    })
    .await;
    let tx = t.db.begin().await.unwrap();
    tx.execute("SELECT 1", &[]).await.unwrap();
    tokio::time::sleep(SHORT * 4).await;
    // The server ended the session: the transaction cannot go on, nor commit.
    assert!(tx.execute("SELECT 1", &[]).await.is_err());
    assert!(tx.commit().await.is_err());
    // A new connection replaces it.
    let db: &Db = &t.db;
    assert_eq!(
        db.query("SELECT 1", &[]).await.unwrap()[0].get::<_, i32>(0),
        1
    );
}
