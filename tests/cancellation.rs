//! Futures dropped at every await point: no connection reaches another caller with a
//! transaction open, an unread result or a half-sent request, and no acknowledged write is lost.
//! Checked on the server (`pg_stat_activity`) and by reading acknowledged writes back over a
//! connection of the test's own.

use std::time::Duration;

use pgrepo::testkit::TestDatabase;
use pgrepo::{Db, TxOptions};

use crate::common::*;

const LEDGER: &str = "CREATE TABLE ledger (id BIGINT PRIMARY KEY)";

/// Ledger rows another connection sees: committed ones only.
async fn committed_ledger(database: &TestDatabase) -> i64 {
    let client = database.connect().await.expect("own connection");
    client
        .query_one("SELECT count(*) FROM ledger", &[])
        .await
        .expect("ledger")
        .get(0)
}

/// An autocommit write the caller is told succeeded.
async fn acknowledge(db: &Db, id: i64) {
    db.execute("INSERT INTO ledger (id) VALUES ($1)", &[&id])
        .await
        .expect("acknowledged insert");
}

#[tokio::test]
async fn a_transaction_dropped_at_any_await_point_never_reaches_the_next_caller() {
    // One connection: whatever the dropped future leaves on it, the next statement meets.
    let t = fresh_with("cancel_tx", |b| b.max_size(1)).await;
    t.db.batch_execute(LEDGER).await.unwrap();
    let mut acknowledged = 0;
    let mut finished = 0;
    for pause_us in [0, 300, 1_000] {
        for polls in 1..=10 {
            let db = &t.db;
            let n = acknowledged;
            let transaction = async move {
                let tx = db.begin().await?;
                tx.repo::<User>()
                    .insert(&new_user(1_000 + n as usize))
                    .await?;
                tx.execute("UPDATE users SET score = score + 1", &[])
                    .await?;
                tx.commit().await
            };
            let done = poll_then_drop(transaction, polls, Duration::from_micros(pause_us)).await;
            finished += usize::from(done);
            acknowledge(&t.db, n).await;
            acknowledged += 1;
            assert_eq!(
                committed_ledger(&t.database).await,
                acknowledged,
                "an acknowledged insert after a transaction dropped after {polls} polls \
                 ({pause_us} µs apart) was not committed"
            );
            assert_eq!(idle_in_transaction(&t.database).await, 0);
        }
    }
    // Some runs got through whole, the others stopped at each point along the way.
    assert!(
        finished > 0 && finished < acknowledged as usize,
        "{finished}"
    );
}

#[tokio::test]
async fn a_closure_transaction_dropped_at_any_await_point_never_reaches_the_next_caller() {
    let t = fresh_with("cancel_closure", |b| b.max_size(1)).await;
    t.db.batch_execute(LEDGER).await.unwrap();
    for polls in 1..=8 {
        let db = &t.db;
        let options = TxOptions::new().prelude("SET LOCAL lock_timeout = '1s'");
        let body = db.transaction_with(options, async |tx| {
            tx.repo::<User>().insert(&new_user(polls)).await?;
            tx.repo::<User>().all().await?;
            Ok(())
        });
        poll_then_drop(body, polls, Duration::from_micros(500)).await;
        acknowledge(&t.db, polls as i64).await;
        assert_eq!(committed_ledger(&t.database).await, polls as i64);
        assert_eq!(idle_in_transaction(&t.database).await, 0);
    }
}

#[tokio::test]
async fn an_autocommit_statement_dropped_at_any_await_point_leaves_no_unread_result() {
    let t = fresh_with("cancel_auto", |b| b.max_size(1)).await;
    insert_users(&t.db, 50).await;
    for polls in 1..=6 {
        let users = t.db.repo::<User>();
        poll_then_drop(users.all(), polls, Duration::from_micros(200)).await;
        let listing = users.list();
        poll_then_drop(listing.first(20), polls, Duration::from_micros(200)).await;
        // The next statement on the same connection gets its own answer, not a leftover.
        let rows =
            t.db.query("SELECT $1::int", &[&(polls as i32)])
                .await
                .unwrap();
        assert_eq!(rows[0].get::<_, i32>(0), polls as i32);
        assert_eq!(users.count().await.unwrap(), 50);
    }
}

/// The storm of the report: thousands of gets, listings and transactions cancelled after 1-5 ms
/// on a pool of 4, acknowledged inserts among them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_cancelled_futures_loses_no_acknowledged_write() {
    let t = fresh_with("cancel_storm", |b| b.max_size(4)).await;
    t.db.batch_execute(LEDGER).await.unwrap();
    let ids = insert_users(&t.db, 100).await;
    let mut tasks = Vec::new();
    for i in 0..1_500_u64 {
        let db = t.db.clone();
        let id = ids[i as usize % ids.len()];
        // A fixed spread of deadlines from 0.2 to 5 ms.
        let deadline = Duration::from_micros(200 + (i * 7_919) % 4_800);
        tasks.push(tokio::spawn(async move {
            let work = async {
                match i % 4 {
                    0 => db.repo::<User>().get(id).await.map(drop),
                    1 => db.repo::<User>().list().first(25).await.map(drop),
                    2 => {
                        let tx = db.begin().await?;
                        tx.execute("UPDATE users SET score = score + 1 WHERE id = $1", &[&id])
                            .await?;
                        tx.commit().await
                    }
                    _ => {
                        db.transaction(async |tx| {
                            tx.repo::<User>().get(id).await?;
                            tx.execute("SELECT pg_sleep(0.002)", &[]).await?;
                            Ok(())
                        })
                        .await
                    }
                }
            };
            let _ = tokio::time::timeout(deadline, work).await;
        }));
        if i % 15 == 0 {
            let db = t.db.clone();
            tasks.push(tokio::spawn(
                async move { acknowledge(&db, i as i64).await },
            ));
        }
    }
    for task in tasks {
        task.await.unwrap();
    }
    // The storm's tail: transactions dropped right after their first statement went out.
    let tail: Vec<_> = (0..40)
        .map(|i| {
            let db = t.db.clone();
            let id = ids[i % ids.len()];
            tokio::spawn(async move {
                let work = async {
                    let tx = db.begin().await?;
                    tx.execute("UPDATE users SET score = score + 1 WHERE id = $1", &[&id])
                        .await?;
                    tx.commit().await
                };
                poll_then_drop(work, 2, Duration::from_micros(100)).await;
            })
        })
        .collect();
    for task in tail {
        task.await.unwrap();
    }
    for i in 2_000_000..2_000_010 {
        acknowledge(&t.db, i).await;
    }
    assert_eq!(committed_ledger(&t.database).await, 110);
    // Background rollbacks of dropped transactions have finished once every connection is
    // back; none may be left inside a transaction.
    let mut left = idle_in_transaction(&t.database).await;
    for _ in 0..50 {
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        left = idle_in_transaction(&t.database).await;
    }
    assert_eq!(left, 0, "connections left idle in transaction");
    // And the pool still serves everybody.
    for i in 1_000_000..1_000_010 {
        acknowledge(&t.db, i).await;
    }
    assert_eq!(committed_ledger(&t.database).await, 120);
}
