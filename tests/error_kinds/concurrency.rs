//! Transactions the server rolls back because of concurrent ones: retryable, as a whole.

use pgrepo::tokio_postgres::error::SqlState;
use pgrepo::tokio_postgres::Client;
use pgrepo::{Error, Isolation, Sql, TxOptions};

use super::*;
use crate::common::*;

fn user_with_hair(email: &str, hair: &str) -> NewUser {
    NewUser {
        email: email.into(),
        hair_color: Some(hair.into()),
        ..new_user(0)
    }
}

const SERIALIZABLE_BEGIN: &str = "BEGIN ISOLATION LEVEL SERIALIZABLE";
const READ_BLACK: &str = "SELECT count(*) FROM users WHERE hair_color = 'black'";
const READ_BROWN: &str = "SELECT count(*) FROM users WHERE hair_color = 'brown'";
const INSERT_BLACK: &str = "INSERT INTO users (email, name, hair_color) \
     VALUES ('other@example.com', 'Other', 'black')";

#[tokio::test]
async fn a_read_write_cycle_at_serializable_is_a_retryable_serialization_failure() {
    let (t, other) = single_connection("kind_serial").await;
    let serializable = || TxOptions::new().isolation(Isolation::Serializable);

    // Each reads what the other writes; the other commits first: this one's write fails.
    let tx = t.db.begin_with(serializable()).await.unwrap();
    let pid = backend_pid(&tx).await;
    tx.query(Sql::read(READ_BLACK), &[]).await.unwrap();
    other
        .batch_execute(&format!(
            "{SERIALIZABLE_BEGIN}; {READ_BROWN}; {INSERT_BLACK}; COMMIT"
        ))
        .await
        .unwrap();
    let err = tx
        .repo::<User>()
        .insert(&user_with_hair("mine@example.com", "brown"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::SerializationFailure {
                table: "users",
                statement: "insert",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_retryable(), "{err:?}");
    assert_driver_source(&err, &SqlState::T_R_SERIALIZATION_FAILURE);
    assert!(
        err.to_string().contains("retry the whole transaction"),
        "{err}"
    );
    let commit = tx.commit().await.unwrap_err();
    assert!(matches!(commit, Error::TransactionAborted), "{commit:?}");
    // The whole transaction, retried, succeeds on the same connection.
    let tx = t.db.begin_with(serializable()).await.unwrap();
    assert_eq!(backend_pid(&tx).await, pid);
    tx.query(Sql::read(READ_BLACK), &[]).await.unwrap();
    tx.repo::<User>()
        .insert(&user_with_hair("mine@example.com", "brown"))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // Both write before either commits: the cycle is found at the second `COMMIT`, which is
    // known not to have committed.
    let tx = t.db.begin_with(serializable()).await.unwrap();
    tx.query(Sql::read(READ_BLACK), &[]).await.unwrap();
    other
        .batch_execute(&format!("{SERIALIZABLE_BEGIN}; {READ_BROWN}"))
        .await
        .unwrap();
    tx.execute(
        "INSERT INTO users (email, name, hair_color) VALUES ('late@example.com', 'L', 'brown')",
        &[],
    )
    .await
    .unwrap();
    other
        .batch_execute(&INSERT_BLACK.replace("other@", "other2@"))
        .await
        .unwrap();
    other.batch_execute("COMMIT").await.unwrap();
    let err = tx.commit().await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::SerializationFailure {
                table: "(transaction)",
                statement: "commit",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_retryable(), "{err:?}");
    assert_driver_source(&err, &SqlState::T_R_SERIALIZATION_FAILURE);
    let late: i64 =
        t.db.query(
            "SELECT count(*) FROM users WHERE email = 'late@example.com'",
            &[],
        )
        .await
        .unwrap()[0]
            .get(0);
    assert_eq!(late, 0, "nothing of it committed");
    same_connection_serves_on(&t.db, pid).await;
}

/// Two transactions lock rows `a` and `b` in opposite orders; `tx` is the second to wait and,
/// with the shorter `deadlock_timeout`, the one the server rolls back. Returns its error.
async fn deadlock(t: &TestDb, other: &Client, raw: bool) -> Error {
    let admin = t.database.connect().await.unwrap();
    let (a, b) = {
        let users = t.db.repo::<User>().all().await.unwrap();
        (users[0].clone(), users[1].clone())
    };
    let tx =
        t.db.begin_with(TxOptions::new().prelude("SET LOCAL deadlock_timeout = '50ms'"))
            .await
            .unwrap();
    tx.repo::<User>().update(&a).await.unwrap();
    other
        .batch_execute(&format!(
            "BEGIN; SET LOCAL deadlock_timeout = '10s'; \
             UPDATE users SET score = 1 WHERE id = {}",
            b.id
        ))
        .await
        .unwrap();
    let other_pid = pid_of(other).await;
    let lock_a = format!("UPDATE users SET score = 2 WHERE id = {}", a.id);
    let (others, ours) = tokio::join!(other.batch_execute(&lock_a), async {
        wait_until_blocked(&admin, other_pid).await;
        if raw {
            tx.execute("UPDATE users SET score = 3 WHERE id = $1", &[&b.id])
                .await
                .map(drop)
        } else {
            tx.repo::<User>().update(&b).await.map(drop)
        }
    });
    // Ours was rolled back, so the other got its lock.
    others.unwrap();
    other.batch_execute("COMMIT").await.unwrap();
    tx.rollback().await.unwrap();
    ours.unwrap_err()
}

#[tokio::test]
async fn rows_locked_in_opposite_orders_are_a_retryable_deadlock() {
    let (t, other) = single_connection("kind_deadlock").await;
    insert_users(&t.db, 2).await;
    let pid = backend_pid(&t.db).await;

    let err = deadlock(&t, &other, false).await;
    assert!(
        matches!(
            err,
            Error::Deadlock {
                table: "users",
                statement: "update",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_retryable(), "{err:?}");
    assert_driver_source(&err, &SqlState::T_R_DEADLOCK_DETECTED);
    same_connection_serves_on(&t.db, pid).await;

    let err = deadlock(&t, &other, true).await;
    assert!(
        matches!(
            err,
            Error::Deadlock {
                table: "(query)",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_retryable(), "{err:?}");
    assert_driver_source(&err, &SqlState::T_R_DEADLOCK_DETECTED);
    same_connection_serves_on(&t.db, pid).await;
}
