//! Batched loaders and relations one statement per level, counted on the server.

use std::sync::Arc;

use futures_util::future::join_all;
use pgrepo::{Db, Entity, Loader, LoaderConfig, LookupLoader};

use crate::common::*;

#[derive(Debug, Clone, PartialEq, Entity)]
#[pgrepo(table = "comments")]
pub struct Comment {
    #[pgrepo(id, generated)]
    pub id: i64,
    #[pgrepo(belongs_to = Post)]
    pub post_id: i64,
    pub text: String,
}

const COMMENTS: &str = "CREATE TABLE comments (
    id BIGSERIAL PRIMARY KEY,
    post_id BIGINT NOT NULL REFERENCES posts (id),
    text TEXT NOT NULL
); CREATE INDEX comments_post_id ON comments (post_id)";

/// `users` users, `posts` posts each, `comments` comments per post.
pub(crate) async fn seed(db: &Db, users: i64, posts: i64, comments: i64) {
    db.batch_execute(COMMENTS).await.unwrap();
    db.execute(
        "INSERT INTO users (email, name, hair_color) \
         SELECT 'u' || i || '@example.com', 'User ' || i, \
                CASE WHEN i % 2 = 0 THEN 'black' ELSE 'brown' END \
         FROM generate_series(1, $1::bigint) i",
        &[&users],
    )
    .await
    .unwrap();
    db.execute(
        "INSERT INTO posts (user_id, title) SELECT u.id, 'Post ' || u.id || '.' || p \
         FROM users u, generate_series(1, $1::bigint) p ORDER BY u.id, p",
        &[&posts],
    )
    .await
    .unwrap();
    db.execute(
        "INSERT INTO comments (post_id, text) SELECT p.id, 'Comment ' || p.id || '.' || c \
         FROM posts p, generate_series(1, $1::bigint) c ORDER BY p.id, c",
        &[&comments],
    )
    .await
    .unwrap();
}

/// Every statement this database ran since the last reset, counted by pg_stat_statements.
async fn statements_run(db: &Db) -> i64 {
    calls(db, &[""]).await
}

#[tokio::test]
async fn concurrent_loads_of_distinct_keys_run_one_statement() {
    let t = fresh("loader_one").await;
    seed(&t.db, 100, 0, 0).await;
    let loader = t.db.loader::<User>();
    reset_stats(&t.db).await;
    let results = join_all((1..=100i64).map(|id| loader.load(id))).await;
    for (id, result) in (1..=100i64).zip(results) {
        let user = result.unwrap().expect("every key exists");
        assert_eq!((user.id, user.name), (id, format!("User {id}")));
    }
    assert_calls(&t.db, &["FROM \"users\"", "= ANY($1)"], 1).await;
    assert_calls(&t.db, &[""], 1).await;
}

#[tokio::test(flavor = "current_thread")]
async fn loads_from_spawned_tasks_coalesce_too() {
    let t = fresh("loader_spawn").await;
    seed(&t.db, 100, 0, 0).await;
    let loader = Arc::new(t.db.loader::<User>());
    reset_stats(&t.db).await;
    let tasks: Vec<_> = (1..=100i64)
        .map(|id| {
            let loader = loader.clone();
            tokio::spawn(async move { (id, loader.load(id).await) })
        })
        .collect();
    for task in tasks {
        let (id, user) = task.await.unwrap();
        assert_eq!(user.unwrap().unwrap().id, id);
    }
    assert_calls(&t.db, &[""], 1).await;
}

/// Loads spread over a few milliseconds on a multi-thread runtime, as request handlers issue
/// them after their own queries: yields alone batch only those that arrive together; a window
/// batches them all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_time_window_batches_loads_from_other_workers_and_later_arrivals() {
    let t = fresh("loader_window").await;
    seed(&t.db, 40, 0, 0).await;
    let staggered = |loader: Arc<Loader<User, Db>>| {
        let tasks: Vec<_> = (1..=40i64)
            .map(|id| {
                let loader = loader.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(std::time::Duration::from_micros(250 * id as u64)).await;
                    (id, loader.load(id).await)
                })
            })
            .collect();
        async move {
            for task in tasks {
                let (id, user) = task.await.unwrap();
                assert_eq!(user.unwrap().unwrap().id, id);
            }
        }
    };

    reset_stats(&t.db).await;
    staggered(Arc::new(t.db.loader::<User>())).await;
    if counting_statements() {
        let without_window = statements_run(&t.db).await;
        assert!(without_window > 1, "arrivals over 10 ms: {without_window}");
    }

    reset_stats(&t.db).await;
    let windowed = Loader::<User, _>::with_config(
        t.db.clone(),
        LoaderConfig {
            window: std::time::Duration::from_millis(100),
            ..LoaderConfig::default()
        },
    );
    staggered(Arc::new(windowed)).await;
    assert_calls(&t.db, &[""], 1).await;
}

#[tokio::test]
async fn duplicate_missing_and_oversized_batches() {
    let t = fresh("loader_keys").await;
    seed(&t.db, 100, 0, 0).await;
    let loader = t.db.loader::<User>();
    reset_stats(&t.db).await;
    // 60 calls over 10 distinct keys, 5 of them missing.
    let keys: Vec<i64> = (0..60)
        .map(|i| [1, 2, 3, 4, 5, -1, -2, -3, 1000, 1001][i % 10])
        .collect();
    let results = join_all(keys.iter().map(|k| loader.load(*k))).await;
    for (key, result) in keys.iter().zip(results) {
        match result.unwrap() {
            Some(user) => assert_eq!(user.id, *key),
            None => assert!(*key < 0 || *key >= 1000, "{key} should exist"),
        }
    }
    assert_calls(&t.db, &[""], 1).await;
    // Cached for the loader's lifetime: no statement at all the second time.
    reset_stats(&t.db).await;
    let again = loader.load_many(&[1, 2, -1]).await.unwrap();
    assert_eq!(
        again
            .iter()
            .map(|u| u.as_ref().map(|u| u.id))
            .collect::<Vec<_>>(),
        [Some(1), Some(2), None]
    );
    assert_calls(&t.db, &[""], 0).await;

    // 100 keys with a cap of 30: split into 4 statements, every caller answered.
    let capped = Loader::<User, _>::with_config(
        t.db.clone(),
        LoaderConfig {
            max_batch: 30,
            ..LoaderConfig::default()
        },
    );
    reset_stats(&t.db).await;
    let all = capped
        .load_many(&(1..=100).collect::<Vec<i64>>())
        .await
        .unwrap();
    assert!(all
        .iter()
        .enumerate()
        .all(|(i, u)| u.as_ref().map(|u| u.id) == Some(i as i64 + 1)));
    assert_calls(&t.db, &["= ANY($1)"], 4).await;
}

#[tokio::test]
async fn a_failed_batch_reaches_every_caller() {
    let t = fresh("loader_error").await;
    seed(&t.db, 10, 0, 0).await;
    // A decode failure in the batch: one bad row poisons the statement for all.
    t.db.batch_execute("UPDATE users SET status = 'unknown' WHERE id = 3")
        .await
        .unwrap();
    let loader = t.db.loader::<User>();
    let results = join_all((1..=10i64).map(|id| loader.load(id))).await;
    assert_eq!(results.len(), 10);
    for result in results {
        let err = result.unwrap_err();
        assert!(err.to_string().contains("status"), "{err}");
    }
}

#[tokio::test]
async fn a_cancelled_leader_does_not_strand_its_waiters() {
    let t = fresh("loader_cancel").await;
    seed(&t.db, 3, 0, 0).await;
    let loader = t.db.loader::<User>();
    let mut leader = Box::pin(loader.load(1));
    let mut waiter = Box::pin(loader.load(2));
    assert!(futures_util::poll!(&mut leader).is_pending());
    assert!(futures_util::poll!(&mut waiter).is_pending());
    drop(leader);
    let user = tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
        .await
        .expect("the waiter is not stranded")
        .unwrap();
    assert_eq!(user.unwrap().id, 2);
}

#[tokio::test]
async fn loaders_run_in_the_scope_that_made_them() {
    let t = fresh("loader_tx").await;
    seed(&t.db, 2, 0, 0).await;
    let tx = t.db.begin().await.unwrap();
    let fresh_user = tx.repo::<User>().insert(&new_user(99)).await.unwrap();
    let loader = tx.loader::<User>();
    assert!(
        loader.load(fresh_user.id).await.unwrap().is_some(),
        "sees the transaction's own row"
    );
    assert!(
        t.db.loader::<User>()
            .load(fresh_user.id)
            .await
            .unwrap()
            .is_none(),
        "not visible outside"
    );
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn lookup_loaders_batch_children_by_foreign_key() {
    let t = fresh("loader_lookup").await;
    seed(&t.db, 20, 3, 0).await;
    let loader = LookupLoader::new(t.db.clone(), Post::USER_ID);
    reset_stats(&t.db).await;
    let results = join_all((1..=21i64).map(|id| loader.load(id))).await;
    for (user_id, posts) in (1..=21i64).zip(results) {
        let posts = posts.unwrap();
        let expected = if user_id <= 20 { 3 } else { 0 };
        assert_eq!(posts.len(), expected);
        assert!(posts.iter().all(|p| p.user_id == user_id));
        assert!(
            posts.windows(2).all(|w| w[0].id < w[1].id),
            "ordered by primary key"
        );
    }
    assert_calls(&t.db, &[""], 1).await;
}

#[tokio::test]
async fn users_posts_comments_load_in_three_statements() {
    let t = fresh("loader_levels").await;
    seed(&t.db, 100, 10, 10).await;
    // A listing checks once per `Db` that its sort columns are NOT NULL (`keyset_depth`);
    // here only the statements of the levels count.
    t.db.repo::<User>().list().first(1).await.unwrap();
    reset_stats(&t.db).await;
    let users = t.db.repo::<User>().list().first(100).await.unwrap().items;
    let posts = t.db.repo::<Post>();
    let comments = t.db.repo::<Comment>();
    let by_user: Vec<Vec<Post>> = posts.children(Post::USER, &users).await.unwrap();
    let flat: Vec<Post> = by_user.iter().flatten().cloned().collect();
    let by_post: Vec<Vec<Comment>> = comments.children(Comment::POST, &flat).await.unwrap();
    assert_calls(&t.db, &[""], 3).await;

    assert_eq!(users.len(), 100);
    assert!(by_user.iter().all(|p| p.len() == 10));
    assert!(by_post.iter().all(|c| c.len() == 10));
    for (user, posts) in users.iter().zip(&by_user) {
        assert!(posts.iter().all(|p| p.user_id == user.id));
    }
    for (post, comments) in flat.iter().zip(&by_post) {
        assert!(comments.iter().all(|c| c.post_id == post.id));
        assert!(comments.windows(2).all(|w| w[0].id < w[1].id));
    }
    // The inverse: the parent of each of 500 comments, one statement.
    reset_stats(&t.db).await;
    let some: Vec<Comment> = by_post.iter().flatten().step_by(20).cloned().collect();
    let with_posts = comments.parents(Comment::POST, some).await.unwrap();
    assert_calls(&t.db, &[""], 1).await;
    assert_eq!(with_posts.len(), 500);
    for (comment, post) in &with_posts {
        assert_eq!(post.as_ref().map(|p| p.id), Some(comment.post_id));
    }
}
