//! The server going away under a `Db`: a restart under load, backends terminated. Broken
//! connections are replaced, the pool serves again within seconds without hammering the
//! server, and a read whose connection died is run again on a fresh one.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pgrepo::testkit::{ClusterOptions, TestCluster};
use pgrepo::tokio_postgres::error::SqlState;
use pgrepo::{Db, Error, Sql};

use crate::common::*;

/// Terminates every backend of `database` but the caller's, waiting for each to exit.
async fn terminate_all(admin: &pgrepo::tokio_postgres::Client, database: &str) -> i64 {
    admin
        .query_one(
            "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity \
             WHERE datname = $1 AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
            &[&database],
        )
        .await
        .unwrap()
        .get(0)
}

/// Terminates the backend running `sql` once it runs.
async fn terminate_when_running(admin: &pgrepo::tokio_postgres::Client, sql: &str) {
    for _ in 0..500 {
        let terminated = admin
            .query_opt(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity \
                 WHERE datname = current_database() AND query = $1 AND state = 'active'",
                &[&sql],
            )
            .await
            .unwrap();
        if terminated.is_some() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{sql} never ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_every_backend_is_terminated_the_next_calls_succeed() {
    let t = fresh_with("faults_terminated", |b| b.max_size(4)).await;
    let ids = insert_users(&t.db, 8).await;
    let admin = t.database.connect().await.unwrap();
    // Connections in the lane and idle in the pool.
    let txs = (0..3).map(|_| async {
        let tx = t.db.begin().await?;
        tx.execute("SELECT pg_sleep(0.1)", &[]).await?;
        tx.commit().await
    });
    for done in futures_util::future::join_all(txs).await {
        done.unwrap();
    }
    for &id in &ids {
        t.db.repo::<User>().get(id).await.unwrap();
    }
    assert!(terminate_all(&admin, t.database.name()).await >= 2);
    // At once, before the client may have noticed: reads, a write, a transaction.
    for &id in &ids {
        let user = t.db.repo::<User>().get(id).await.unwrap();
        assert!(user.is_some());
    }
    t.db.execute("UPDATE users SET score = 1", &[])
        .await
        .unwrap();
    let tx = t.db.begin().await.unwrap();
    tx.execute("UPDATE users SET score = 2", &[]).await.unwrap();
    tx.commit().await.unwrap();
    assert!(t.db.status().open <= 4, "{:?}", t.db.status());
}

#[tokio::test]
async fn a_read_whose_connection_dies_is_run_again_and_a_write_is_not() {
    let t = fresh_with("faults_retry", |b| b.max_size(2)).await;
    let admin = t.database.connect().await.unwrap();

    // A read: terminated while it runs, run again on a fresh connection, answered.
    let read = "SELECT 42 FROM pg_sleep(0.5)";
    let (result, ()) = tokio::join!(
        t.db.query(Sql::read(read), &[]),
        terminate_when_running(&admin, read)
    );
    let answer: i32 = result.expect("retried on a fresh connection")[0].get(0);
    assert_eq!(answer, 42);

    // A write: may have been applied, so the caller hears of it, and it is not retryable.
    let write = "SELECT 43 FROM pg_sleep(0.5)";
    let (result, ()) = tokio::join!(
        t.db.query(write, &[]),
        terminate_when_running(&admin, write)
    );
    let err = result.unwrap_err();
    assert!(
        matches!(
            err,
            Error::ConnectionLost {
                retry_safe: false,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!err.is_retryable(), "{err:?}");
    assert_eq!(err.code(), Some(&SqlState::ADMIN_SHUTDOWN));
    assert!(err.to_string().contains("connection was lost"), "{err}");

    // A read inside a transaction: the transaction is gone, so is the read's retry.
    let tx = t.db.begin().await.unwrap();
    let in_tx = "SELECT 44 FROM pg_sleep(0.5)";
    let (result, ()) = tokio::join!(
        tx.query(Sql::read(in_tx), &[]),
        terminate_when_running(&admin, in_tx)
    );
    let err = result.unwrap_err();
    assert!(
        matches!(
            err,
            Error::ConnectionLost {
                retry_safe: false,
                ..
            }
        ),
        "{err:?}"
    );
    // Its COMMIT says nothing of it was committed.
    let err = tx.commit().await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::TransactionAborted | Error::TransactionLost { .. }
        ),
        "{err:?}"
    );

    // The Db serves on.
    assert_eq!(t.db.repo::<User>().count().await.unwrap(), 0);
}

/// A cluster of its own (this test restarts it) that logs every connection attempt.
fn restartable_cluster() -> TestCluster {
    TestCluster::start(
        ClusterOptions::default()
            .without_pg_stat_statements()
            .conf("log_connections = on"),
    )
    .expect("a cluster of its own")
}

fn connection_attempts(cluster: &TestCluster) -> usize {
    let log = std::fs::read_to_string(cluster.log_path().expect("a local server")).unwrap();
    log.matches("connection received").count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_is_served_again_within_seconds_without_hammering_it() {
    let cluster = tokio::task::spawn_blocking(restartable_cluster)
        .await
        .unwrap();
    let database = cluster.create_database("restart").await.unwrap();
    let db = Db::builder(&database.url())
        .unwrap()
        .max_size(4)
        .connect_timeout(Duration::from_secs(2))
        .connect()
        .await
        .unwrap();
    db.batch_execute(SCHEMA).await.unwrap();
    let ids = Arc::new(insert_users(&db, 20).await);

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let failures = Arc::new(AtomicUsize::new(0));
    // Eight tasks issuing gets back to back, as a service under load does.
    let tasks: Vec<_> = (0..8usize)
        .map(|task| {
            let (db, ids, stop, failures) =
                (db.clone(), ids.clone(), stop.clone(), failures.clone());
            tokio::spawn(async move {
                let mut last_success = Instant::now();
                let mut i = task;
                while !stop.load(Ordering::Relaxed) {
                    i = (i + 1) % ids.len();
                    match db.repo::<User>().get(ids[i]).await {
                        Ok(user) => {
                            assert!(user.is_some());
                            last_success = Instant::now();
                        }
                        Err(_) => {
                            failures.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                last_success
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let attempts_before = connection_attempts(&cluster);
    let cluster = tokio::task::spawn_blocking(move || {
        cluster.restart().expect("pg_ctl restart");
        cluster
    })
    .await
    .unwrap();
    let restarted = Instant::now();
    // Within a few seconds every task gets answers again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let window_end = Instant::now();
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        let last_success = task.await.unwrap();
        assert!(
            last_success > restarted && last_success <= window_end + Duration::from_secs(1),
            "every task is served again after the restart"
        );
    }
    let failed = failures.load(Ordering::Relaxed);
    assert!(failed <= 200, "failed calls are bounded: {failed}");
    // Connection attempts during the outage and recovery (plus the 4 reconnections): a
    // handful per second, not one per failed call in a tight loop.
    let attempts = connection_attempts(&cluster) - attempts_before;
    assert!(
        attempts <= 40,
        "{attempts} connection attempts ({failed} failed calls)"
    );
    eprintln!("restart: {failed} failed calls, {attempts} connection attempts");
    drop(db);
    tokio::task::spawn_blocking(move || drop(cluster))
        .await
        .unwrap();
}
