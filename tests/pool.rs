//! Connection handling: pool exhaustion, pipelining when saturated, the connections kept for
//! autocommit statements, and transactions sharing a small pool with them.

use std::time::{Duration, Instant};

use pgrepo::{Db, Error};

use crate::common::*;

#[tokio::test]
async fn an_exhausted_pool_times_out_with_its_state() {
    const WAIT: Duration = Duration::from_millis(300);
    let t = fresh_with("pool", |b| b.max_size(1).wait_timeout(WAIT)).await;
    let held = t.db.begin().await.unwrap();
    // Three statements wait for the only connection, which the transaction keeps.
    let users = t.db.repo::<User>();
    let started = Instant::now();
    let (errors, status) = tokio::join!(
        futures_util::future::join_all((0..3).map(|_| users.count())),
        async {
            tokio::time::sleep(WAIT / 3).await;
            t.db.status()
        }
    );
    let elapsed = started.elapsed();
    assert_eq!(
        (status.waiting, status.transactions, status.open),
        (3, 1, 1),
        "every waiter is counted while it waits: {status:?}"
    );
    let mut waiting_seen = Vec::new();
    for err in errors {
        match err.unwrap_err() {
            Error::PoolTimeout {
                max_size,
                in_use,
                waiting,
                waited_ms,
                ..
            } => {
                assert_eq!((max_size, in_use), (1, 1));
                assert!(
                    waited_ms >= WAIT.as_millis() as u64
                        && waited_ms < (WAIT * 2).as_millis() as u64,
                    "waited the wait timeout, once: {waited_ms} ms"
                );
                waiting_seen.push(waiting);
            }
            other => panic!("expected PoolTimeout, got {other}"),
        }
    }
    // The first to give up still saw the other two waiting.
    assert_eq!(
        waiting_seen.iter().max(),
        Some(&2),
        "other waiters counted in the error: {waiting_seen:?}"
    );
    assert!(
        elapsed >= WAIT && elapsed < WAIT * 2,
        "the waiters waited side by side: {elapsed:?}"
    );
    assert_eq!(t.db.status().waiting, 0, "no waiter left behind");
    held.rollback().await.unwrap();
    assert_eq!(t.db.repo::<User>().count().await.unwrap(), 0);
}

#[tokio::test]
async fn a_saturated_pool_pipelines_autocommit_statements_and_returns_every_connection() {
    let t = fresh_with("pipelining", |b| b.max_size(2)).await;
    let users = t.db.repo::<User>();
    let ids = insert_users(&t.db, 64).await;
    // A transaction holds one of the two connections throughout.
    let tx = t.db.begin().await.unwrap();
    tx.repo::<User>().insert(&new_user(100)).await.unwrap();
    let results = futures_util::future::join_all(ids.iter().map(|&id| users.get(id))).await;
    for (id, result) in ids.iter().zip(results) {
        assert_eq!(
            result.unwrap().map(|u| u.id),
            Some(*id),
            "each caller gets its own row"
        );
    }
    let backends = client_backends(&t.db).await;
    assert!(backends <= 2, "never more than the pool's size: {backends}");
    tx.rollback().await.unwrap();
    // Every connection comes back to whoever waits for one: two transactions can start at once
    // (the second takes the connection autocommit statements kept), with no pool timeout.
    let (a, b) = (t.db.begin().await.unwrap(), t.db.begin().await.unwrap());
    a.rollback().await.unwrap();
    b.rollback().await.unwrap();
}

#[tokio::test]
async fn autocommit_statements_keep_their_connection_yet_hand_it_back_and_replace_it() {
    let t = fresh_with("lane", |b| {
        b.max_size(1).wait_timeout(Duration::from_secs(5))
    })
    .await;
    let users = t.db.repo::<User>();
    let backend =
        async || -> i32 { t.db.query("SELECT pg_backend_pid()", &[]).await.unwrap()[0].get(0) };
    let first = backend().await;
    let user = users.insert(&new_user(1)).await.unwrap();
    assert_eq!(
        users.get(user.id).await.unwrap().map(|u| u.id),
        Some(user.id)
    );
    assert_eq!(
        backend().await,
        first,
        "consecutive statements keep one connection"
    );
    let status = t.db.status();
    assert_eq!(
        (
            status.open,
            status.autocommit,
            status.idle,
            status.transactions
        ),
        (1, 1, 0, 0),
        "{status:?}"
    );

    // The pool's only connection is kept by autocommit statements, yet a transaction gets it,
    // and an autocommit statement issued meanwhile waits for the commit, then runs.
    let tx = t.db.begin().await.unwrap();
    tx.repo::<User>().insert(&new_user(2)).await.unwrap();
    let status = t.db.status();
    assert_eq!(
        (status.open, status.autocommit, status.transactions),
        (1, 0, 1),
        "{status:?}"
    );
    let (count, committed) = tokio::join!(users.count(), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        tx.commit().await
    });
    committed.unwrap();
    assert_eq!(
        count.unwrap(),
        2,
        "the waiting statement ran after the commit"
    );
    assert_eq!(backend().await, first);

    // A kept connection the server closed is replaced, not handed to the next statement.
    let other = Db::connect(&t.database.url()).await.unwrap();
    let terminated: bool = other
        .query("SELECT pg_terminate_backend($1)", &[&first])
        .await
        .unwrap()[0]
        .get(0);
    assert!(terminated);
    // The client notices the closed socket as soon as its connection task runs.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(users.count().await.unwrap(), 2);
    assert_ne!(backend().await, first, "a new connection serves statements");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_and_autocommit_statements_share_a_small_pool_without_starving() {
    let t = fresh_with("lane_mix", |b| {
        b.max_size(3).wait_timeout(Duration::from_secs(20))
    })
    .await;
    let ids = insert_users(&t.db, 50).await;
    // 40 tasks: every fourth runs transactions (each holding its connection across a sleep),
    // the others run bursts of autocommit gets that pipeline on the kept connections.
    let tasks: Vec<_> = (0..40usize)
        .map(|task| {
            let db = t.db.clone();
            let ids = ids.clone();
            tokio::spawn(async move {
                for round in 0..5usize {
                    let id = ids[(task * 7 + round) % ids.len()];
                    if task % 4 == 0 {
                        let tx = db.begin().await?;
                        let user = tx.repo::<User>().get(id).await?.expect("row");
                        tokio::time::sleep(Duration::from_millis(2)).await;
                        tx.repo::<User>()
                            .update(&User {
                                score: -1.0,
                                ..user
                            })
                            .await?;
                        tx.commit().await?;
                    } else {
                        let repo = db.repo::<User>();
                        let gets = (0..8).map(|k| repo.get(ids[(id as usize + k) % ids.len()]));
                        for got in futures_util::future::join_all(gets).await {
                            assert!(got?.is_some());
                        }
                    }
                }
                Ok::<_, Error>(())
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let backends = client_backends(&t.db).await;
    assert!(backends <= 3, "never more than the pool's size: {backends}");
    // Every transaction committed its update.
    let expected: std::collections::BTreeSet<i64> = (0..40usize)
        .filter(|task| task % 4 == 0)
        .flat_map(|task| (0..5usize).map(move |round| (task * 7 + round) % 50))
        .map(|i| ids[i])
        .collect();
    let updated: Vec<i64> =
        t.db.query("SELECT id FROM users WHERE score = -1.0 ORDER BY id", &[])
            .await
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect();
    assert_eq!(updated, expected.into_iter().collect::<Vec<_>>());
}

#[tokio::test]
async fn an_exhausted_pool_names_its_holders_and_where_they_borrowed() {
    const WAIT: Duration = Duration::from_millis(200);
    let t = fresh_with("pool_holders", |b| b.max_size(2).wait_timeout(WAIT)).await;
    // Two transactions take both connections, from two places in this file.
    let first = t.db.begin().await.unwrap();
    let first_line = line!() - 1;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let db = t.db.clone();
    let second_line = line!() + 2;
    let second = tokio::spawn(async move {
        db.transaction(async |tx| {
            tx.execute("SELECT 1", &[]).await?;
            tokio::time::sleep(WAIT * 3).await;
            Ok(())
        })
        .await
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    // A third and a statement wait, and give up.
    let users = t.db.repo::<User>();
    let (third, count) = tokio::join!(t.db.begin(), users.count());
    for error in [
        third.map(|_| ()).unwrap_err(),
        count.map(|_| ()).unwrap_err(),
    ] {
        let Error::PoolTimeout {
            max_size,
            in_use,
            idle,
            transactions,
            holders,
            ..
        } = &error
        else {
            panic!("expected PoolTimeout, got {error}");
        };
        assert_eq!((*max_size, *in_use, *idle, *transactions), (2, 2, 0, 2));
        let places: Vec<(String, u32)> = holders
            .iter()
            .map(|h| (h.borrowed_at.file().to_owned(), h.borrowed_at.line()))
            .collect();
        assert_eq!(
            places,
            [
                ("tests/pool.rs".to_owned(), first_line),
                ("tests/pool.rs".to_owned(), second_line)
            ],
            "longest first, where each borrowed: {error}"
        );
        assert!(holders[0].held_for > holders[1].held_for);
        let text = error.to_string();
        assert!(
            text.contains(&format!("tests/pool.rs:{first_line}"))
                && text.contains("2 by transactions"),
            "{text}"
        );
    }
    first.rollback().await.unwrap();
    second.await.unwrap().unwrap();
    // Both came back: nobody holds a connection, and a transaction gets one at once.
    let status = t.db.status();
    assert_eq!((status.transactions, status.waiting), (0, 0), "{status:?}");
    t.db.begin().await.unwrap().rollback().await.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn a_connection_held_past_the_threshold_is_logged_while_held_and_when_it_comes_back() {
    const THRESHOLD: Duration = Duration::from_millis(100);
    let t = fresh_with("pool_hold_warning", |b| b.hold_warning(Some(THRESHOLD))).await;
    let recorder = SpanRecorder::default();
    let _guard = tracing::subscriber::set_default(recorder.clone());
    let warnings = || -> Vec<String> {
        recorder
            .events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e["level"] == "WARN")
            .map(|e| e["message"].clone())
            .collect()
    };
    // A short transaction is not logged.
    let quick = t.db.begin().await.unwrap();
    quick.commit().await.unwrap();
    tokio::time::sleep(THRESHOLD * 2).await;
    assert_eq!(warnings(), Vec::<String>::new());

    let held = t.db.begin().await.unwrap();
    let line = line!() - 1;
    let place = format!("tests/pool.rs:{line}");
    tokio::time::sleep(THRESHOLD * 2).await;
    let while_held = warnings();
    assert_eq!(while_held.len(), 1, "{while_held:?}");
    assert!(
        while_held[0].contains(&place) && while_held[0].contains("has been held"),
        "{while_held:?}"
    );
    held.rollback().await.unwrap();
    let after = warnings();
    assert_eq!(after.len(), 2, "{after:?}");
    assert!(
        after[1].contains(&place) && after[1].contains("came back"),
        "{after:?}"
    );
}

#[tokio::test]
async fn a_thousand_cancelled_waiters_leave_the_counts_exact_and_the_pool_serving() {
    const WAIT: Duration = Duration::from_millis(400);
    let t = fresh_with("pool_cancelled", |b| b.max_size(2).wait_timeout(WAIT)).await;
    let users = t.db.repo::<User>();
    let first = t.db.begin().await.unwrap();
    let second = t.db.begin().await.unwrap();
    // Transactions and autocommit statements wait for the exhausted pool; each is cancelled
    // (its future dropped) while it waits, before the pool's own wait timeout.
    let cancelled = futures_util::future::join_all((0..1000).map(|i| {
        let (db, users) = (&t.db, &users);
        async move {
            let wait = Duration::from_millis(20 + (i % 7) as u64);
            if i % 2 == 0 {
                tokio::time::timeout(wait, db.begin()).await.is_err()
            } else {
                tokio::time::timeout(wait, users.count()).await.is_err()
            }
        }
    }))
    .await;
    assert!(cancelled.iter().all(|&c| c), "every waiter was cancelled");
    let status = t.db.status();
    assert_eq!(
        (status.waiting, status.transactions, status.open),
        (0, 2, 2),
        "no cancelled waiter is counted: {status:?}"
    );
    first.rollback().await.unwrap();
    second.rollback().await.unwrap();
    // The pool serves at once.
    assert_eq!(users.count().await.unwrap(), 0);
    // Nothing a cancelled waiter registered is left: with both connections held again, an
    // exhausted pool names exactly these two holders and counts no other waiter.
    let a = t.db.begin().await.unwrap();
    let b = t.db.begin().await.unwrap();
    match t.db.begin().await {
        Err(Error::PoolTimeout {
            holders, waiting, ..
        }) => assert_eq!((holders.len(), waiting), (2, 0)),
        other => panic!("expected PoolTimeout, got {other:?}"),
    }
    drop((a, b));
    let status = t.db.status();
    assert_eq!((status.transactions, status.waiting), (0, 0), "{status:?}");
    assert_eq!(users.count().await.unwrap(), 0);
}
