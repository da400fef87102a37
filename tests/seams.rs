//! The rules of the autocommit lane a user relies on, each pinned so that removing it fails a
//! test: a saturated pool pipelines statements instead of waiting; with pipelining off they
//! wait; a busy lane does not starve a transaction waiting for the pool; and a `Db` can wrap a
//! pool built elsewhere.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use pgrepo::deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use pgrepo::testkit::TestCluster;
use pgrepo::tokio_postgres::NoTls;
use pgrepo::{Db, Error};

use crate::common::*;

/// Holds its connection on the server for 300 ms; returns the backend's pid.
const SLEEP_300_MS: &str = "SELECT pg_backend_pid() FROM pg_sleep(0.3)";
const BACKEND_PID: &str = "SELECT pg_backend_pid()";

async fn backend_pid(db: &Db, sql: &str) -> pgrepo::Result<i32> {
    Ok(db.query(sql, &[]).await?[0].get(0))
}

/// Client backends connected to `database`, counted from a connection to another database.
async fn backends_in(admin: &Db, database: &str) -> i64 {
    admin
        .query(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 \
             AND backend_type = 'client backend'",
            &[&database],
        )
        .await
        .unwrap()[0]
        .get(0)
}

#[tokio::test]
async fn a_saturated_pool_pipelines_statements_instead_of_waiting_for_it() {
    // A wait timeout far below the time the sleepers hold both connections: any statement that
    // waited for the pool would fail with PoolTimeout.
    let t = fresh_with("seam_pipelining", |b| {
        b.max_size(2).wait_timeout(Duration::from_millis(50))
    })
    .await;
    let admin = Db::connect(&TestCluster::shared().unwrap().url())
        .await
        .unwrap();
    let sleepers = join_all([
        backend_pid(&t.db, SLEEP_300_MS),
        backend_pid(&t.db, SLEEP_300_MS),
    ]);
    let pipelined = async {
        // The second sleeper opens a connection first.
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_millis(10)).await;
            if t.db.status().autocommit == 2 {
                break;
            }
        }
        let status = t.db.status();
        assert_eq!(
            (status.open, status.autocommit, status.autocommit_statements),
            (2, 2, 2),
            "the sleepers hold both connections: {status:?}"
        );
        let mut statements = Box::pin(join_all((0..20).map(|_| backend_pid(&t.db, BACKEND_PID))));
        assert!(futures_util::poll!(&mut statements).is_pending());
        let status = t.db.status();
        assert_eq!(
            (
                status.waiting,
                status.autocommit,
                status.autocommit_statements
            ),
            (0, 2, 22),
            "every statement shares a busy connection, none waits for the pool: {status:?}"
        );
        let backends = backends_in(&admin, t.database.name()).await;
        (statements.await, backends)
    };
    let (sleepers, (statements, backends)) = tokio::join!(sleepers, pipelined);
    let sleepers: Vec<i32> = sleepers.into_iter().map(Result::unwrap).collect();
    assert_ne!(sleepers[0], sleepers[1], "two connections");
    assert_eq!(
        backends, 2,
        "no connection beyond the pool's two on the server"
    );
    let mut per_backend = [0; 2];
    for statement in statements {
        let pid = statement.expect("no statement waits for the pool");
        let i = sleepers.iter().position(|&s| s == pid).expect("a pool pid");
        per_backend[i] += 1;
    }
    assert!(
        per_backend.iter().all(|&n| n >= 5),
        "spread over both connections: {per_backend:?}"
    );
}

#[tokio::test]
async fn without_pipelining_statements_wait_for_a_free_connection() {
    let t = fresh_with("seam_no_pipelining", |b| {
        b.max_size(1)
            .pipelining(false)
            .wait_timeout(Duration::from_secs(5))
    })
    .await;
    // Long enough a wait: the statements queue for the only connection and all run on it.
    let sleeper = backend_pid(&t.db, SLEEP_300_MS);
    let queued = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut statements = Box::pin(join_all((0..5).map(|_| backend_pid(&t.db, BACKEND_PID))));
        assert!(futures_util::poll!(&mut statements).is_pending());
        (t.db.status(), statements.await)
    };
    let (sleeper, (status, statements)) = tokio::join!(sleeper, queued);
    assert_eq!(
        (status.waiting, status.autocommit_statements),
        (5, 1),
        "the five wait for the pool instead of sharing the busy connection: {status:?}"
    );
    let sleeper = sleeper.unwrap();
    for statement in statements {
        assert_eq!(statement.unwrap(), sleeper);
    }

    // Too short a wait: a statement fails while the connection is busy.
    let short = Db::builder(&t.database.url())
        .unwrap()
        .max_size(1)
        .pipelining(false)
        .wait_timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let (sleeper, late) = tokio::join!(backend_pid(&short, SLEEP_300_MS), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        backend_pid(&short, BACKEND_PID).await
    });
    sleeper.unwrap();
    match late {
        Err(Error::PoolTimeout {
            max_size: 1,
            in_use: 1,
            ..
        }) => {}
        other => panic!("expected PoolTimeout, got {other:?}"),
    }
}

#[tokio::test]
async fn a_busy_lane_does_not_starve_a_transaction_waiting_for_the_pool() {
    let t = fresh_with("seam_starvation", |b| {
        b.max_size(1).wait_timeout(Duration::from_secs(1))
    })
    .await;
    // Four tasks issue statements back to back: pipelined on the only connection, there is
    // always one running on it, so it never falls idle.
    let stop = Arc::new(AtomicBool::new(false));
    let streams: Vec<_> = (0..4)
        .map(|_| {
            let (db, stop) = (t.db.clone(), stop.clone());
            tokio::spawn(async move {
                let mut ran = 0;
                while !stop.load(Ordering::Relaxed) {
                    db.execute("SELECT pg_sleep(0.02)", &[]).await?;
                    ran += 1;
                }
                Ok::<_, Error>(ran)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let status = t.db.status();
    assert!(
        status.autocommit == 1 && status.autocommit_statements >= 2,
        "the stream shares the lane connection: {status:?}"
    );

    let started = Instant::now();
    let tx =
        t.db.begin()
            .await
            .expect("the transaction gets the connection within its wait timeout");
    let waited = started.elapsed();
    tx.repo::<User>().insert(&new_user(1)).await.unwrap();
    tx.commit().await.unwrap();
    // Only the statements already running when it arrived run before it (4 x 20 ms).
    assert!(waited < Duration::from_millis(600), "waited {waited:?}");

    tokio::time::sleep(Duration::from_millis(50)).await;
    stop.store(true, Ordering::Relaxed);
    for stream in streams {
        let ran = stream
            .await
            .unwrap()
            .expect("the stream's statements run too");
        assert!(ran > 0);
    }
    assert_eq!(t.db.repo::<User>().count().await.unwrap(), 1);
}

#[tokio::test]
async fn a_db_runs_on_a_pool_built_elsewhere() {
    let database = TestCluster::shared()
        .unwrap()
        .create_database("seam_from_pool")
        .await
        .unwrap();
    let manager = Manager::from_config(
        database.url().parse().unwrap(),
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let pool = Pool::builder(manager)
        .max_size(2)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(Duration::from_secs(2)))
        .build()
        .unwrap();
    let db = Db::from_pool(pool.clone());
    assert_eq!(pool.status().size, 0);
    db.batch_execute(SCHEMA).await.unwrap();
    assert_eq!(pool.status().size, 1, "the statement ran on the given pool");

    let users = db.repo::<User>();
    let first = users.insert(&new_user(1)).await.unwrap();
    assert_eq!(users.get(first.id).await.unwrap(), Some(first.clone()));
    let second = db
        .transaction(async |tx| tx.repo::<User>().insert(&new_user(2)).await)
        .await
        .unwrap();
    let failed = db
        .transaction(async |tx| {
            tx.repo::<User>().insert(&new_user(3)).await?;
            tx.repo::<User>().insert(&new_user(3)).await
        })
        .await
        .unwrap_err();
    assert!(
        matches!(failed, Error::UniqueViolation { .. }),
        "{failed:?}"
    );
    let mut stored = users.all().await.unwrap();
    stored.sort_by_key(|u| u.id);
    assert_eq!(
        stored,
        [first, second],
        "the committed row is stored, the rolled back one is not"
    );

    // Pipelining is on, as with `Db::builder`: with a transaction on one connection and a
    // sleeper on the other, statements share the sleeper's instead of waiting.
    let tx = db.begin().await.unwrap();
    let sleeper = backend_pid(&db, SLEEP_300_MS);
    let pipelined = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut statements = Box::pin(join_all((0..5).map(|_| backend_pid(&db, BACKEND_PID))));
        assert!(futures_util::poll!(&mut statements).is_pending());
        (db.status(), statements.await)
    };
    let (sleeper, (status, statements)) = tokio::join!(sleeper, pipelined);
    assert_eq!(
        (status.max_size, status.open, status.transactions),
        (2, 2, 1),
        "{status:?}"
    );
    assert_eq!(
        (status.waiting, status.autocommit_statements),
        (0, 6),
        "{status:?}"
    );
    let sleeper = sleeper.unwrap();
    assert!(statements.into_iter().all(|pid| pid.unwrap() == sleeper));
    tx.rollback().await.unwrap();
    assert_eq!(pool.status().size, 2, "all on the given pool");
}
