//! A `Db`'s life as a service sees it: its sessions named, a readiness probe, and a graceful
//! shutdown that lets running work finish and closes every connection.

use std::time::Duration;

use pgrepo::{Db, Error};

use crate::common::*;

/// The sessions of this database on the server, by application name.
async fn sessions(admin: &pgrepo::tokio_postgres::Client, database: &str) -> Vec<String> {
    admin
        .query(
            "SELECT application_name FROM pg_stat_activity WHERE datname = $1 \
             AND pid <> pg_backend_pid() ORDER BY 1",
            &[&database],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[tokio::test]
async fn sessions_carry_the_application_name() {
    let t = fresh("lifecycle_name").await;
    let named = Db::builder(&t.database.url())
        .unwrap()
        .application_name("billing-api")
        .max_size(1)
        .connect()
        .await
        .unwrap();
    named.ping().await.unwrap();
    let admin = pgrepo::testkit::TestCluster::shared()
        .unwrap()
        .create_database("lifecycle_admin")
        .await
        .unwrap();
    let admin = admin.connect().await.unwrap();
    let names = sessions(&admin, t.database.name()).await;
    assert!(names.contains(&"billing-api".to_owned()), "{names:?}");
    // Without a name of its own, a Db says it is pgrepo.
    assert!(names.contains(&"pgrepo".to_owned()), "{names:?}");
}

#[tokio::test]
async fn ping_answers_while_the_server_does() {
    let t = fresh("lifecycle_ping").await;
    let took = t.db.ping().await.unwrap();
    assert!(took < Duration::from_secs(5), "{took:?}");
    t.db.close(Duration::from_secs(1)).await;
    assert!(t.db.ping().await.is_err(), "a closed Db is not ready");
}

#[tokio::test]
async fn close_lets_running_work_finish_refuses_new_work_and_closes_every_connection() {
    let t = fresh_with("lifecycle_close", |b| b.max_size(4)).await;
    let ids = insert_users(&t.db, 3).await;
    let backends_before = client_backends(&t.db).await;
    assert!(backends_before >= 1);
    // A transaction is running when the shutdown starts.
    let tx = t.db.begin().await.unwrap();
    tx.execute("UPDATE users SET name = 'late' WHERE id = $1", &[&ids[0]])
        .await
        .unwrap();
    let db = t.db.clone();
    let closing = tokio::spawn(async move { db.close(Duration::from_secs(10)).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !closing.is_finished(),
        "close waits for the running transaction"
    );
    // New work is refused at once, with a message that says why.
    let refused = tokio::time::timeout(Duration::from_secs(1), t.db.repo::<User>().count())
        .await
        .expect("refused at once, not after a wait")
        .unwrap_err();
    assert!(matches!(refused, Error::Pool { .. }), "{refused:?}");
    assert!(refused.to_string().contains("closed"), "{refused}");
    assert!(t.db.begin().await.is_err());
    // The running transaction finishes and commits.
    tx.commit().await.unwrap();
    assert_eq!(closing.await.unwrap(), 0, "every connection closed");
    assert_eq!(t.db.status().open, 0);
    // The server agrees: no session of this Db is left, and the transaction's work is kept.
    let other = t.database.connect().await.unwrap();
    let left: i64 = other
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
    let name: String = other
        .query_one("SELECT name FROM users WHERE id = $1", &[&ids[0]])
        .await
        .unwrap()
        .get(0);
    assert_eq!(name, "late");
}

#[tokio::test]
async fn close_reports_connections_still_held_after_the_grace_period() {
    let t = fresh("lifecycle_grace").await;
    let tx = t.db.begin().await.unwrap();
    tx.execute("SELECT 1", &[]).await.unwrap();
    assert_eq!(t.db.close(Duration::from_millis(100)).await, 1);
    tx.rollback().await.unwrap();
    assert_eq!(t.db.close(Duration::from_secs(1)).await, 0);
}
