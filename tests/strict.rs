//! Strict mode: which loops are N+1s (one lookup run for more different keys than the limit)
//! and which repeat legitimately (the same key again, listing pages, exports, loaders' batches,
//! writes), by default and with `all_reads`, counted against a real server.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use futures_util::future::join_all;
use futures_util::TryStreamExt as _;
use pgrepo::{Db, Error, Executor, Loader, LookupLoader, Sql, StatementCount, Strict};

use crate::common::*;

const LIMIT: usize = 3;

/// `users` users (`new_user(0..users)`) with `posts` posts each; returns the users' ids.
async fn seed(db: &Db, users: usize, posts: i64) -> Vec<i64> {
    let ids = insert_users(db, users).await;
    db.execute(
        "INSERT INTO posts (user_id, title) SELECT u.id, 'Post ' || u.id || '.' || p \
         FROM users u, generate_series(1, $1::bigint) p ORDER BY u.id, p",
        &[&posts],
    )
    .await
    .unwrap();
    ids
}

/// The (table, statement, count, limit) of an N+1 error; panics on any other error.
#[track_caller]
fn n_plus_one(error: &Error) -> (&'static str, &'static str, usize, usize) {
    match error {
        Error::NPlusOne {
            table,
            statement,
            count,
            limit,
            ..
        } => (*table, *statement, *count, *limit),
        other => panic!("expected Error::NPlusOne, got {other:?}"),
    }
}

/// Asserts that the first `LIMIT` results are `Ok` and every later one an N+1 of `statement`
/// on `table` counting one more key each; returns the first error's message.
#[track_caller]
fn flagged_past_the_limit<T: std::fmt::Debug>(
    results: &[pgrepo::Result<T>],
    table: &str,
    statement: &str,
) -> String {
    assert!(results.len() > LIMIT, "the loop goes past the limit");
    for (i, result) in results.iter().enumerate() {
        if i < LIMIT {
            assert!(result.is_ok(), "key {i} of {statement}: {result:?}");
        } else {
            let error = result.as_ref().expect_err(statement);
            assert_eq!(
                n_plus_one(error),
                (table, statement, i + 1, LIMIT),
                "key {i} of {statement}"
            );
        }
    }
    results[LIMIT].as_ref().unwrap_err().to_string()
}

fn counts(scope: &Strict<Db>) -> Vec<(&'static str, usize)> {
    let counts = scope.counts();
    counts.iter().map(|c| (c.statement, c.count)).collect()
}

#[tokio::test]
async fn a_per_parent_has_many_loop_fails_at_the_first_parent_past_the_limit() {
    let t = fresh("strict_has_many").await;
    let users = seed(&t.db, 6, 2).await;
    let scope = Strict::new(t.db.clone()).limit(LIMIT);
    reset_stats(&t.db).await;
    let mut results = Vec::new();
    for id in &users {
        results.push(scope.repo::<Post>().find_by(Post::USER_ID, id).await);
    }
    let message = flagged_past_the_limit(&results, "posts", "find_by_user_id");
    assert!(
        message.contains("`find_by_user_id` on `posts` ran with 4 different parameters"),
        "{message}"
    );
    assert!(message.contains("LookupLoader"), "names the fix: {message}");
    assert!(results[..LIMIT]
        .iter()
        .all(|r| r.as_ref().unwrap().len() == 2));
    // Flagged lookups never reach the server.
    assert_calls(
        &t.db,
        &["FROM \"posts\" WHERE \"user_id\" = $1"],
        LIMIT as i64,
    )
    .await;
    // A parent that was allowed stays allowed; one that was refused stays refused.
    let again = scope.repo::<Post>().find_by(Post::USER_ID, users[0]).await;
    assert_eq!(again.unwrap().len(), 2);
    let again = scope.repo::<Post>().find_by(Post::USER_ID, users[3]).await;
    assert_eq!(
        n_plus_one(&again.unwrap_err()),
        ("posts", "find_by_user_id", 6, LIMIT)
    );
    // The batched form passes the same scope.
    let posts = scope.repo::<Post>();
    let grouped = posts.find_grouped(Post::USER_ID, &users).await.unwrap();
    assert_eq!(grouped.len(), 6);
}

#[tokio::test]
async fn per_row_get_find_one_by_and_count_by_loops_are_flagged() {
    let t = fresh("strict_lookups").await;
    let users = seed(&t.db, 4, 1).await;
    let emails: Vec<String> = (0..4).map(|i| new_user(i).email).collect();

    let scope = Strict::new(t.db.clone()).limit(LIMIT);
    let mut results = Vec::new();
    for id in &users {
        results.push(scope.repo::<User>().get(id).await);
    }
    let message = flagged_past_the_limit(&results, "users", "get");
    assert!(
        message.contains("`Loader`") && message.contains("get_many"),
        "{message}"
    );

    let scope = Strict::new(t.db.clone()).limit(LIMIT);
    let mut results = Vec::new();
    for email in &emails {
        results.push(scope.repo::<User>().find_one_by(User::EMAIL, email).await);
    }
    flagged_past_the_limit(&results, "users", "find_by_email");

    // A non-unique foreign key: the first post of each user, and each user's post count.
    let scope = Strict::new(t.db.clone()).limit(LIMIT);
    let mut firsts = Vec::new();
    let mut post_counts = Vec::new();
    for id in &users {
        firsts.push(scope.repo::<Post>().find_one_by(Post::USER_ID, id).await);
        post_counts.push(scope.repo::<Post>().count_by(Post::USER_ID, id).await);
    }
    flagged_past_the_limit(&firsts, "posts", "find_by_user_id");
    let message = flagged_past_the_limit(&post_counts, "posts", "count_by_user_id");
    assert!(message.contains("LookupLoader"), "{message}");
}

/// Pages `listing` from its first page on with `after`; returns how many pages it read, or the
/// index of the page that failed and the error.
async fn walk(scope: &Strict<Db>, pages: usize) -> Result<usize, (usize, Error)> {
    let listing = scope.repo::<User>().list();
    let mut page = listing.first(5).await.map_err(|e| (0, e))?;
    for i in 1..pages {
        let cursor = page.end_cursor.expect("more rows");
        page = listing.after(&cursor, 5).await.map_err(|e| (i, e))?;
    }
    Ok(pages)
}

#[tokio::test]
async fn walking_a_listing_is_flagged_only_when_all_reads_are_watched() {
    let t = fresh("strict_listing").await;
    insert_users(&t.db, 50).await;
    let scope = Strict::new(t.db.clone()).limit(LIMIT);
    assert_eq!(walk(&scope, 10).await.unwrap(), 10);
    let listing = scope.repo::<User>().list();
    let exported: Vec<Vec<User>> = listing.export_batches(5).try_collect().await.unwrap();
    assert_eq!(exported.len(), 10);
    // The listing's one-time check that its sort columns are NOT NULL is a statement too.
    assert_eq!(
        counts(&scope),
        [
            ("page_after", 18),
            ("page_first", 2),
            ("check_sort_columns", 1)
        ]
    );

    let scope = Strict::new(t.db.clone()).limit(LIMIT).all_reads();
    let (at, err) = walk(&scope, 10).await.unwrap_err();
    assert_eq!(
        at,
        LIMIT + 1,
        "the first page and LIMIT pages after it pass"
    );
    assert_eq!(n_plus_one(&err), ("users", "page_after", 4, LIMIT));
}

#[tokio::test]
async fn writes_in_a_loop_are_never_flagged() {
    let t = fresh("strict_writes").await;
    let users = seed(&t.db, 1, 0).await;
    for scope in [
        Strict::new(t.db.clone()).limit(LIMIT),
        Strict::new(t.db.clone()).limit(LIMIT).all_reads(),
    ] {
        let repo = scope.repo::<User>();
        for i in 0..10 {
            let added = repo.insert(&new_user(100 + i)).await.unwrap();
            let renamed = User {
                name: format!("Renamed {i}"),
                ..added
            };
            assert_eq!(repo.update(&renamed).await.unwrap(), renamed);
            assert!(repo.delete(renamed.id).await.unwrap());
            // Hand-written SQL given as `&str` is a write, rows returned or not.
            let title = format!("Post {i}");
            scope
                .query(
                    "INSERT INTO posts (user_id, title) VALUES ($1, $2) RETURNING id",
                    &[&users[0], &title],
                )
                .await
                .unwrap();
            scope
                .execute(
                    "UPDATE posts SET body = $1 WHERE title = $2",
                    &[&title, &title],
                )
                .await
                .unwrap();
        }
        let want = ["delete", "execute", "insert", "query", "update"].map(|s| (s, 10));
        assert_eq!(counts(&scope), want);
    }
}

#[tokio::test]
async fn the_same_key_read_again_is_not_an_n_plus_one() {
    let t = fresh("strict_same_key").await;
    let users = seed(&t.db, 1, 2).await;
    for scope in [
        Strict::new(t.db.clone()).limit(LIMIT),
        Strict::new(t.db.clone()).limit(LIMIT).all_reads(),
    ] {
        reset_stats(&t.db).await;
        for _ in 0..10 {
            assert!(scope.repo::<User>().get(users[0]).await.unwrap().is_some());
            let posts = scope.repo::<Post>();
            assert_eq!(
                posts.find_by(Post::USER_ID, users[0]).await.unwrap().len(),
                2
            );
        }
        assert_eq!(counts(&scope), [("find_by_user_id", 10), ("get", 10)]);
        // Every one ran.
        assert_calls(&t.db, &["FROM \"users\" WHERE \"id\" = $1"], 10).await;
    }
}

#[tokio::test]
async fn loaders_batches_are_flagged_only_when_all_reads_are_watched() {
    let t = fresh("strict_loaders").await;
    let users = seed(&t.db, 20, 1).await;
    // Five batches each, every one for different keys.
    async fn batches(scope: &Strict<Db>, users: &[i64]) -> Vec<pgrepo::Result<usize>> {
        let by_id = Loader::<User, _>::new(scope);
        let by_user = LookupLoader::new(scope, Post::USER_ID);
        let mut results = Vec::new();
        for chunk in users.chunks(4) {
            results.push(by_id.load_many(chunk).await.map(|found| found.len()));
            let posts = join_all(chunk.iter().map(|id| by_user.load(*id))).await;
            results.push(posts.into_iter().map(|p| p.map(|p| p.len())).sum());
        }
        results
    }
    let scope = Strict::new(t.db.clone()).limit(LIMIT);
    let results = batches(&scope, &users).await;
    assert!(
        results.iter().all(|r| *r.as_ref().unwrap() == 4),
        "{results:?}"
    );
    assert_eq!(
        counts(&scope),
        [("find_any_by_user_id", 5), ("get_many", 5)]
    );

    let scope = Strict::new(t.db.clone()).limit(LIMIT).all_reads();
    let results = batches(&scope, &users).await;
    let first_flagged = results.iter().position(|r| r.is_err());
    assert_eq!(first_flagged, Some(2 * LIMIT), "the 4th get_many batch");
    match &results[2 * LIMIT] {
        // A loader shares its batch's error with every caller.
        Err(Error::Batch { source, .. }) => {
            assert_eq!(n_plus_one(source), ("users", "get_many", 4, 3));
        }
        other => panic!("expected a failed batch, got {other:?}"),
    }
}

#[tokio::test]
async fn hand_written_reads_are_flagged_only_when_all_reads_are_watched() {
    let t = fresh("strict_hand_written").await;
    let users = seed(&t.db, 6, 1).await;
    let by_id = "SELECT id, email, name, hair_color, status, score, profile, created_at \
                 FROM users WHERE id = $1";
    let scope = Strict::new(t.db.clone()).limit(LIMIT);
    for id in &users {
        let found: Vec<User> = scope.query_as(Sql::read(by_id), &[id]).await.unwrap();
        assert_eq!(found.len(), 1);
    }

    let scope = Strict::new(t.db.clone()).limit(LIMIT).all_reads();
    let mut results = Vec::new();
    for id in &users {
        results.push(scope.query_as::<User>(Sql::read(by_id), &[id]).await);
    }
    let message = flagged_past_the_limit(&results, "(query)", "query_as");
    assert!(message.contains("= ANY($1)"), "{message}");
    // Other hand-written reads are other statements, each with its own keys, though every one
    // is labelled `query`: four of them, each for three users, together for six.
    let scope = Strict::new(t.db.clone()).limit(LIMIT).all_reads();
    let columns = ["name", "email", "status", "hair_color"];
    for (i, column) in columns.into_iter().enumerate() {
        let sql = format!("SELECT {column}::text FROM users WHERE id = $1");
        for id in &users[i..i + LIMIT] {
            assert_eq!(scope.query(Sql::read(&sql), &[id]).await.unwrap().len(), 1);
        }
    }
    assert_eq!(counts(&scope), [("query", 4 * LIMIT)]);
}

/// Counts `WARN` events from pgrepo on the thread it is the default subscriber of.
struct Warnings(Arc<AtomicUsize>);

impl tracing::Subscriber for Warnings {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let metadata = event.metadata();
        if *metadata.level() == tracing::Level::WARN && metadata.target().starts_with("pgrepo") {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[tokio::test(flavor = "current_thread")]
async fn warn_mode_lets_the_loop_finish_and_warns_once() {
    let t = fresh("strict_warn").await;
    let users = seed(&t.db, 6, 2).await;
    let warnings = Arc::new(AtomicUsize::new(0));
    let _default = tracing::subscriber::set_default(Warnings(Arc::clone(&warnings)));
    let scope = Strict::new(t.db.clone()).limit(LIMIT).warn_only();
    // Twice over one key more than the limit: the first key past it comes back.
    let keys = &users[..=LIMIT];
    for id in keys.iter().chain(keys) {
        let posts = scope.repo::<Post>().find_by(Post::USER_ID, id).await;
        assert_eq!(posts.unwrap().len(), 2);
    }
    assert_eq!(
        scope.counts(),
        [StatementCount {
            table: "posts",
            statement: "find_by_user_id",
            count: 2 * (LIMIT + 1)
        }]
    );
    assert_eq!(
        warnings.load(Ordering::Relaxed),
        1,
        "one warning per statement"
    );
}
