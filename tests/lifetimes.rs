//! Connection lifetimes as the server sees them: connections past `max_lifetime` replaced (in
//! the pool and in the lane), idle ones closed after `idle_timeout`, `min_idle` kept open,
//! `after_connect` run once per connection, and a password provider asked for each new one.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pgrepo::testkit::{ClusterOptions, TestCluster};
use pgrepo::tokio_postgres::error::SqlState;
use pgrepo::tokio_postgres::Client;
use pgrepo::{Db, Error, Sql};

use crate::common::*;

/// This database's sessions on the server, other than `admin`'s.
pub async fn sessions(admin: &Client, database: &str) -> i64 {
    admin
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 \
             AND backend_type = 'client backend' AND pid <> pg_backend_pid()",
            &[&database],
        )
        .await
        .unwrap()
        .get(0)
}

/// Waits up to `limit` for `sessions` to become `expected`; returns what it last saw.
pub async fn sessions_become(
    admin: &Client,
    database: &str,
    expected: i64,
    limit: Duration,
) -> i64 {
    let deadline = Instant::now() + limit;
    loop {
        let now = sessions(admin, database).await;
        if now == expected || Instant::now() >= deadline {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn pid(db: &impl Executor) -> i32 {
    db.query(Sql::read("SELECT pg_backend_pid()"), &[])
        .await
        .unwrap()[0]
        .get(0)
}

#[tokio::test]
async fn a_transactions_connection_past_max_lifetime_is_replaced_when_next_taken() {
    // No idle timeout, a long lifetime for the reaper's pace: only the pool's hook can act in
    // the moment between the commit and the next `begin`.
    let t = fresh_with("lifetime_pool", |b| {
        b.max_size(1)
            .max_lifetime(Some(Duration::from_millis(800)))
            .idle_timeout(None)
    })
    .await;
    let tx = t.db.begin().await.unwrap();
    let first = pid(&tx).await;
    tx.commit().await.unwrap();
    let tx = t.db.begin().await.unwrap();
    assert_eq!(pid(&tx).await, first, "young: reused");
    // Held past its lifetime, out of the pool's reach.
    tokio::time::sleep(Duration::from_millis(900)).await;
    tx.commit().await.unwrap();
    let tx = t.db.begin().await.unwrap();
    let second = pid(&tx).await;
    tx.commit().await.unwrap();
    assert_ne!(second, first, "past max_lifetime: a new connection");
}

#[tokio::test]
async fn a_lane_connection_used_continuously_is_rotated_past_max_lifetime() {
    let t = fresh_with("lifetime_lane", |b| {
        b.max_size(2)
            .max_lifetime(Some(Duration::from_millis(700)))
            .idle_timeout(None)
    })
    .await;
    let admin = t.database.connect().await.unwrap();
    let started = Instant::now();
    let mut pids = Vec::new();
    let mut most_sessions = 0;
    // One statement after another: the lane connection is never idle in the pool.
    while started.elapsed() < Duration::from_millis(2500) {
        let now = pid(&t.db).await;
        if pids.last() != Some(&now) {
            pids.push(now);
        }
        most_sessions = most_sessions.max(sessions(&admin, t.database.name()).await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(pids.len() >= 3, "rotated about every 700 ms: {pids:?}");
    let mut distinct = pids.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        pids.len(),
        "never back to a retired one: {pids:?}"
    );
    assert!(
        most_sessions <= 2,
        "retired ones are closed: {most_sessions}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed_after_idle_timeout_in_the_lane_and_in_the_pool() {
    let t = fresh_with("lifetime_idle", |b| {
        b.max_size(4).idle_timeout(Some(Duration::from_millis(600)))
    })
    .await;
    let admin = t.database.connect().await.unwrap();
    let name = t.database.name();

    // Autocommit statements at once: their connections stay in the lane (nobody waits).
    let sleeps = (0..4).map(|_| t.db.execute(Sql::read("SELECT pg_sleep(0.3)"), &[]));
    for done in futures_util::future::join_all(sleeps).await {
        done.unwrap();
    }
    assert!(t.db.status().autocommit >= 2, "{:?}", t.db.status());
    assert!(sessions(&admin, name).await >= 2);
    let left = sessions_become(&admin, name, 0, Duration::from_secs(5)).await;
    assert_eq!(left, 0, "idle lane connections closed: {:?}", t.db.status());

    // Transactions at once: their connections go back to the pool.
    let txs = (0..3).map(|_| async {
        let tx = t.db.begin().await?;
        tx.execute("SELECT pg_sleep(0.2)", &[]).await?;
        tx.commit().await
    });
    for done in futures_util::future::join_all(txs).await {
        done.unwrap();
    }
    assert_eq!(t.db.status().idle, 3, "{:?}", t.db.status());
    let left = sessions_become(&admin, name, 0, Duration::from_secs(5)).await;
    assert_eq!(
        left,
        0,
        "idle pooled connections closed: {:?}",
        t.db.status()
    );
    // And the Db serves on.
    assert_eq!(t.db.repo::<User>().count().await.unwrap(), 0);
}

#[tokio::test]
async fn min_idle_connections_are_kept_open_and_reopened() {
    let t = fresh_with("lifetime_min_idle", |b| {
        b.max_size(6)
            .min_idle(3)
            .idle_timeout(Some(Duration::from_millis(300)))
    })
    .await;
    let admin = t.database.connect().await.unwrap();
    let name = t.database.name();
    // The connection `connect` opened, and two more in the background; the idle timeout
    // closes none below the floor.
    assert_eq!(
        sessions_become(&admin, name, 3, Duration::from_secs(5)).await,
        3
    );
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(sessions(&admin, name).await, 3, "{:?}", t.db.status());

    // Every one terminated: reopened in the background, without a statement asking.
    let before = pids(&admin, name).await;
    admin
        .execute(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity \
             WHERE datname = $1 AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
            &[&name],
        )
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut after = pids(&admin, name).await;
    while (after.len() != 3 || after.iter().any(|pid| before.contains(pid)))
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
        after = pids(&admin, name).await;
    }
    assert_eq!(after.len(), 3, "{after:?}");
    assert!(
        after.iter().all(|pid| !before.contains(pid)),
        "{before:?} {after:?}"
    );
}

async fn pids(admin: &Client, database: &str) -> Vec<i32> {
    admin
        .query(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 \
             AND backend_type = 'client backend' AND pid <> pg_backend_pid()",
            &[&database],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_connect_runs_once_on_each_new_connection() {
    let t = fresh("lifetime_after_connect").await;
    t.db.batch_execute(
        "CREATE SCHEMA app; CREATE TABLE app.marker (v int); INSERT INTO app.marker VALUES (7)",
    )
    .await
    .unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&runs);
    let db = Db::builder(&t.database.url())
        .unwrap()
        .max_size(3)
        .after_connect(move |client| {
            counted.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move { client.batch_execute("SET search_path = app, public").await })
        })
        .connect()
        .await
        .unwrap();
    // Three connections at once, then many statements and transactions on them.
    let work = (0..3).map(|_| async {
        let tx = db.begin().await?;
        let path: String = tx.query("SHOW search_path", &[]).await?[0].get(0);
        tx.execute("SELECT pg_sleep(0.2)", &[]).await?;
        tx.commit().await?;
        Ok::<_, Error>(path)
    });
    for path in futures_util::future::join_all(work).await {
        assert_eq!(path.unwrap(), "app, public");
    }
    for _ in 0..20 {
        // Unqualified: found through the search path the hook set.
        let v: i32 = db
            .query(Sql::read("SELECT v FROM marker"), &[])
            .await
            .unwrap()[0]
            .get(0);
        assert_eq!(v, 7);
    }
    let open = db.status().open;
    assert_eq!(open, 3, "{:?}", db.status());
    assert_eq!(runs.load(Ordering::SeqCst), open, "once per connection");
}

#[tokio::test]
async fn a_failing_after_connect_fails_that_connection_with_its_error_as_source() {
    let t = fresh("lifetime_after_connect_fails").await;
    let err = Db::builder(&t.database.url())
        .unwrap()
        .after_connect(|client| {
            Box::pin(async move { client.batch_execute("SET search_path = 'a', 1/0").await })
        })
        .connect()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Pool { .. }), "{err:?}");
    assert_eq!(err.code(), Some(&SqlState::SYNTAX_ERROR), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("after_connect"), "{text}");
    // The chain: pgrepo's error, the pool's, its hook error, the hook's own (the driver's).
    let pool = std::error::Error::source(&err).expect("the pool's error");
    let hook = std::error::Error::source(pool).expect("the hook error");
    let own = std::error::Error::source(hook).expect("the hook's own error");
    assert!(
        own.downcast_ref::<pgrepo::tokio_postgres::Error>()
            .is_some(),
        "{own:?}"
    );
    // Nothing is left open by the failed connections.
    let admin = t.database.connect().await.unwrap();
    let left = sessions_become(&admin, t.database.name(), 1, Duration::from_secs(3)).await;
    assert_eq!(left, 1, "only the fixture's own Db");
}

/// A cluster of its own where role `rotating` logs in with a password (scram-sha-256).
fn password_cluster() -> &'static TestCluster {
    static CLUSTER: std::sync::OnceLock<TestCluster> = std::sync::OnceLock::new();
    CLUSTER.get_or_init(|| {
        TestCluster::start(
            ClusterOptions::default()
                .without_pg_stat_statements()
                .hba("host all rotating 127.0.0.1/32 scram-sha-256"),
        )
        .expect("a cluster with password authentication")
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_password_provider_is_asked_for_each_new_connection_and_follows_a_rotation() {
    let cluster = tokio::task::spawn_blocking(password_cluster).await.unwrap();
    let database = cluster.create_database("rotating").await.unwrap();
    let admin = database.connect().await.unwrap();
    admin
        .batch_execute("CREATE ROLE rotating LOGIN PASSWORD 'first-secret'")
        .await
        .unwrap();
    let url = format!(
        "postgres://rotating@127.0.0.1:{}/{}",
        cluster.port(),
        database.name()
    );
    // Without a password the server refuses the role: the provider's is what logs in.
    let refused = Db::connect(&url).await.unwrap_err();
    assert!(matches!(refused, Error::Connect { .. }), "{refused:?}");

    let current = Arc::new(Mutex::new("first-secret".to_owned()));
    let asked = Arc::new(AtomicUsize::new(0));
    let (password, count) = (Arc::clone(&current), Arc::clone(&asked));
    let db = Db::builder(&url)
        .unwrap()
        .max_size(2)
        .password_provider(move || {
            count.fetch_add(1, Ordering::SeqCst);
            let password = password.lock().unwrap().clone();
            async move { Ok(password) }
        })
        .connect()
        .await
        .unwrap();
    for _ in 0..10 {
        db.ping().await.unwrap();
    }
    assert_eq!(
        asked.load(Ordering::SeqCst),
        1,
        "asked once per connection, not per use"
    );

    // Rotation: the server takes the new password, the provider hands it out; existing
    // sessions go on, new connections log in with the new one.
    admin
        .batch_execute("ALTER ROLE rotating PASSWORD 'second-secret'")
        .await
        .unwrap();
    *current.lock().unwrap() = "second-secret".to_owned();
    let pids = futures_util::future::join_all((0..2).map(|_| async {
        let tx = db.begin().await.unwrap();
        let pid = pid(&tx).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        tx.commit().await.unwrap();
        pid
    }))
    .await;
    assert_ne!(pids[0], pids[1]);
    assert_eq!(
        asked.load(Ordering::SeqCst),
        2,
        "one new connection, one more call"
    );

    // A provider that fails: no attempt, its error as source.
    #[derive(Debug)]
    struct TokenServiceDown;
    impl std::fmt::Display for TokenServiceDown {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("token service down")
        }
    }
    impl std::error::Error for TokenServiceDown {}
    let err = Db::builder(&url)
        .unwrap()
        .password_provider(|| async { Err(TokenServiceDown.into()) })
        .connect()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Credentials { .. }), "{err:?}");
    assert!(err.to_string().contains("token service down"), "{err}");
    let source = std::error::Error::source(&err).expect("the provider's error");
    assert!(source.is::<TokenServiceDown>(), "{source:?}");
}
