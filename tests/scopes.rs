//! Handles with settings of their own (`Db::with_timeouts`, `Scope`): each statement in a
//! one-statement transaction that sets them transaction-locally, pipelined; nothing of them
//! left on a pooled connection, whatever future is dropped when.

use std::time::Duration;

use pgrepo::{CancelReason, Error, LockWait, StatementMode, Timeouts, TxOptions};

use crate::common::*;

const SHORT: Duration = Duration::from_millis(150);

async fn show(db: &impl Executor, setting: &str) -> String {
    db.query(&format!("SHOW {setting}"), &[]).await.unwrap()[0].get(0)
}

async fn backend(db: &impl Executor) -> i32 {
    db.query("SELECT pg_backend_pid()", &[]).await.unwrap()[0].get(0)
}

fn statement_timeout(error: &Error) -> bool {
    matches!(
        error,
        Error::QueryCanceled {
            reason: CancelReason::StatementTimeout,
            ..
        }
    )
}

#[tokio::test]
async fn a_handles_timeouts_hold_for_its_statements_only() {
    let t = fresh_with("scope_timeouts", |b| b.max_size(1)).await;
    let pid = backend(&t.db).await;
    let reports = t.db.with_timeouts(Timeouts::none().statement(Some(SHORT)));
    assert_eq!(show(&reports, "statement_timeout").await, "150ms");
    // Left `None`: the Db's.
    assert_eq!(show(&reports, "lock_timeout").await, "10s");
    let error = reports
        .execute("SELECT pg_sleep(5)", &[])
        .await
        .unwrap_err();
    assert!(statement_timeout(&error), "{error:?}");
    // The same connection, the Db's timeout: the handle's never stayed on it.
    assert_eq!(backend(&t.db).await, pid);
    assert_eq!(show(&t.db, "statement_timeout").await, "30s");
    t.db.execute("SELECT pg_sleep(0.3)", &[]).await.unwrap();
    // A handle's handle overrides what it names, keeps the rest; zero turns a timeout off.
    let inner = reports.with_timeouts(
        Timeouts::none()
            .lock(Some(Duration::from_secs(2)))
            .statement(Some(Duration::ZERO)),
    );
    assert_eq!(show(&inner, "lock_timeout").await, "2s");
    assert_eq!(show(&inner, "statement_timeout").await, "0");
    assert_eq!(show(&reports, "lock_timeout").await, "10s");
    assert_eq!(idle_in_transaction(&t.database).await, 0);
}

#[tokio::test]
async fn a_handles_lock_timeout_cancels_a_lock_wait() {
    let t = fresh("scope_lock").await;
    let ids = insert_users(&t.db, 1).await;
    let other = t.database.connect().await.unwrap();
    other
        .batch_execute(&format!(
            "BEGIN; SELECT * FROM users WHERE id = {} FOR UPDATE",
            ids[0]
        ))
        .await
        .unwrap();
    let impatient = t.db.with_timeouts(Timeouts::none().lock(Some(SHORT)));
    let error = tokio::time::timeout(
        Duration::from_secs(5),
        impatient.execute("UPDATE users SET name = 'x' WHERE id = $1", &[&ids[0]]),
    )
    .await
    .expect("the handle's lock timeout fires, not the Db's 10 s")
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
    other.batch_execute("ROLLBACK").await.unwrap();
    impatient
        .execute("UPDATE users SET name = 'x' WHERE id = $1", &[&ids[0]])
        .await
        .unwrap();
    assert_eq!(idle_in_transaction(&t.database).await, 0);
}

#[tokio::test]
async fn a_handles_statements_commit_and_its_failures_roll_back_alone() {
    let t = fresh_with("scope_commit", |b| b.max_size(1)).await;
    let scope =
        t.db.with_timeouts(Timeouts::none().statement(Some(SHORT * 10)));
    let users = scope.repo::<User>();
    reset_stats(&t.db).await;
    let ada = users.insert(&new_user(1)).await.unwrap();
    // Committed: another session sees it.
    let other = t.database.connect().await.unwrap();
    let seen: i64 = other
        .query_one("SELECT count(*) FROM users WHERE id = $1", &[&ada.id])
        .await
        .unwrap()
        .get(0);
    assert_eq!(seen, 1);
    // A failed statement is a typed error, and the connection is clean afterwards.
    let error = users.insert(&new_user(1)).await.unwrap_err();
    assert!(matches!(error, Error::UniqueViolation { .. }), "{error:?}");
    assert_eq!(idle_in_transaction(&t.database).await, 0);
    assert_eq!(users.count().await.unwrap(), 1);
    assert_eq!(t.db.repo::<User>().count().await.unwrap(), 1);
    // Each ended with its own `COMMIT`, answered: no rollback was needed after any.
    assert_calls(&t.db, &["COMMIT"], 3).await;
    assert_calls(&t.db, &["ROLLBACK"], 0).await;
}

#[tokio::test]
async fn a_handles_transactions_keep_its_timeouts_and_options_override_them() {
    let t = fresh_with("scope_tx", |b| b.max_size(1)).await;
    let scope = t.db.with_timeouts(Timeouts::none().statement(Some(SHORT)));
    let error = scope
        .transaction(async |tx| {
            assert_eq!(show(tx, "statement_timeout").await, "150ms");
            tx.execute("SELECT pg_sleep(5)", &[]).await
        })
        .await
        .unwrap_err();
    assert!(statement_timeout(&error), "{error:?}");
    let longer = TxOptions::new().timeouts(Timeouts::none().statement(Some(SHORT * 20)));
    scope
        .transaction_with(longer, async |tx| {
            assert_eq!(show(tx, "statement_timeout").await, "3s");
            tx.execute("SELECT pg_sleep(0.3)", &[]).await
        })
        .await
        .unwrap();
    assert_eq!(show(&t.db, "statement_timeout").await, "30s");
}

#[tokio::test]
async fn a_handles_statement_dropped_at_any_await_point_leaves_nothing_behind() {
    for mode in [StatementMode::Prepared, StatementMode::Unnamed] {
        dropped_at_any_await_point(mode).await;
    }
}

async fn dropped_at_any_await_point(mode: StatementMode) {
    // One connection: whatever a dropped statement leaves on it, the next one meets.
    let t = fresh_with("scope_cancel", |b| {
        b.max_size(1)
            .statement_mode(mode)
            .timeouts(Timeouts::none())
    })
    .await;
    let scope =
        t.db.with_timeouts(Timeouts::none().statement(Some(SHORT * 10)));
    let mut finished = 0;
    let mut runs = 0;
    for pause_us in [0, 300, 1_000] {
        for polls in 1..=8 {
            runs += 1;
            let before = t.db.repo::<User>().count().await.unwrap();
            // Untyped hand-written SQL: under `Unnamed`, its `BEGIN` goes out (and is
            // answered) before it is prepared, a point where a transaction is open.
            let email = format!("{mode:?}{runs}@example.com");
            let params: [&(dyn pgrepo::tokio_postgres::types::ToSql + Sync); 1] = [&email];
            let insert = scope.execute(
                "INSERT INTO users (email, name, score) VALUES ($1, 'x', 0)",
                &params,
            );
            let done = poll_then_drop(insert, polls, Duration::from_micros(pause_us)).await;
            finished += usize::from(done);
            let after = t.db.repo::<User>().count().await.unwrap();
            if done {
                assert_eq!(after, before + 1, "a finished insert committed");
            }
            assert_eq!(
                show(&t.db.with_timeouts(Timeouts::none()), "statement_timeout").await,
                "0",
                "{mode:?}: the handle's timeout stayed on the connection after {polls} polls"
            );
            assert_eq!(idle_in_transaction(&t.database).await, 0, "{mode:?}");
            // The next scoped statement gets its own answer.
            let rows = scope
                .query(
                    pgrepo::Sql::write("SELECT $1::int")
                        .types(&[pgrepo::tokio_postgres::types::Type::INT4]),
                    &[&(polls as i32)],
                )
                .await
                .unwrap();
            assert_eq!(rows[0].get::<_, i32>(0), polls as i32);
        }
    }
    assert!(finished > 0 && finished < runs, "{mode:?}: {finished}");
}

#[tokio::test]
async fn a_handle_works_with_unnamed_statements() {
    let t = fresh_with("scope_unnamed", |b| {
        b.statement_mode(StatementMode::Unnamed)
            .timeouts(Timeouts::none())
    })
    .await;
    let scope = t.db.with_timeouts(Timeouts::none().statement(Some(SHORT)));
    // Untyped hand-written SQL is prepared inside the one-statement transaction.
    assert_eq!(show(&scope, "statement_timeout").await, "150ms");
    let rows = scope.query("SELECT $1::int + 1", &[&41i32]).await.unwrap();
    assert_eq!(rows[0].get::<_, i32>(0), 42);
    let ada = scope.repo::<User>().insert(&new_user(1)).await.unwrap();
    assert_eq!(
        scope
            .repo::<User>()
            .get(ada.id)
            .await
            .unwrap()
            .map(|u| u.id),
        Some(ada.id)
    );
    let error = scope.execute("SELECT pg_sleep(5)", &[]).await.unwrap_err();
    assert!(statement_timeout(&error), "{error:?}");
    assert_eq!(
        show(&t.db.with_timeouts(Timeouts::none()), "statement_timeout").await,
        "0"
    );
}
