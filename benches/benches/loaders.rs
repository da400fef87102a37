//! The N+1 pattern against batched loading (`cargo bench -p pgrepo-benches --bench loaders`):
//! 100 users, 10 posts each, 10 comments per post, loaded as users -> posts -> comments.
//!
//! Group `n_plus_one`, functions `naive` (a query per user and per post: 1,101 statements),
//! `loader` (per-item code over `LookupLoader`s: 3 statements) and `relations`
//! (`Repo::children`: 3 statements); parameter = number of users.

use criterion::{BenchmarkId, Criterion};
use futures_util::future::try_join_all;
use pgrepo::Executor as _;
use pgrepo::{Db, Entity, LookupLoader};

const USERS: usize = 100;

#[derive(Debug, Clone, Entity)]
#[pgrepo(table = "nplus_users")]
struct User {
    #[pgrepo(id, generated)]
    id: i32,
    name: String,
    hair_color: Option<String>,
}

#[derive(Debug, Clone, Entity)]
#[pgrepo(table = "nplus_posts")]
struct Post {
    #[pgrepo(id, generated)]
    id: i32,
    #[pgrepo(belongs_to = User)]
    user_id: i32,
    title: String,
    body: Option<String>,
}

#[derive(Debug, Clone, Entity)]
#[pgrepo(table = "nplus_comments")]
struct Comment {
    #[pgrepo(id, generated)]
    id: i32,
    #[pgrepo(belongs_to = Post)]
    post_id: i32,
    text: String,
}

type Loaded = Vec<(User, Vec<(Post, Vec<Comment>)>)>;

async fn naive(db: &Db) -> Result<Loaded, pgrepo::Error> {
    let users = db.repo::<User>().list().first(USERS).await?.items;
    let mut out = Vec::with_capacity(users.len());
    for user in users {
        let mut posts_out = Vec::new();
        for post in db.repo::<Post>().find_by(Post::USER_ID, user.id).await? {
            let comments = db
                .repo::<Comment>()
                .find_by(Comment::POST_ID, post.id)
                .await?;
            posts_out.push((post, comments));
        }
        out.push((user, posts_out));
    }
    Ok(out)
}

async fn loader(db: &Db) -> Result<Loaded, pgrepo::Error> {
    let users = db.repo::<User>().list().first(USERS).await?.items;
    let posts_of = LookupLoader::new(db, Post::USER_ID);
    let comments_of = LookupLoader::new(db, Comment::POST_ID);
    try_join_all(users.into_iter().map(|user| {
        let (posts_of, comments_of) = (&posts_of, &comments_of);
        async move {
            let posts = posts_of.load(user.id).await?;
            let with_comments = try_join_all(posts.into_iter().map(|post| async move {
                let comments = comments_of.load(post.id).await?;
                Ok::<_, pgrepo::Error>((post, comments))
            }))
            .await?;
            Ok((user, with_comments))
        }
    }))
    .await
}

async fn relations(db: &Db) -> Result<Loaded, pgrepo::Error> {
    let users = db.repo::<User>().list().first(USERS).await?.items;
    let posts = db.repo::<Post>().children(Post::USER, &users).await?;
    let comments = db
        .repo::<Comment>()
        .children(Comment::POST, posts.iter().flatten())
        .await?;
    Ok(pgrepo_benches::model::nest(users, posts, comments))
}

fn check(loaded: &Loaded) {
    assert_eq!(loaded.len(), USERS);
    assert!(loaded
        .iter()
        .all(|(_, posts)| posts.len() == 10 && posts.iter().all(|(_, c)| c.len() == 10)));
}

fn main() {
    let mut criterion: Criterion = pgrepo_benches::config::criterion();
    let (runtime, database, db) = pgrepo_benches::server::pgrepo_setup(
        "DROP TABLE IF EXISTS nplus_comments, nplus_posts, nplus_users;
             CREATE TABLE nplus_users (id SERIAL PRIMARY KEY, name VARCHAR NOT NULL, hair_color VARCHAR);
             CREATE TABLE nplus_posts (id SERIAL PRIMARY KEY,
                user_id INTEGER NOT NULL REFERENCES nplus_users, title VARCHAR NOT NULL, body TEXT);
             CREATE INDEX ON nplus_posts (user_id);
             CREATE TABLE nplus_comments (id SERIAL PRIMARY KEY,
                post_id INTEGER NOT NULL REFERENCES nplus_posts, text TEXT NOT NULL);
             CREATE INDEX ON nplus_comments (post_id);
             INSERT INTO nplus_users (name, hair_color)
                SELECT 'User ' || i, CASE WHEN i % 2 = 0 THEN 'black' ELSE 'brown' END
                FROM generate_series(0, 99) i;
             INSERT INTO nplus_posts (user_id, title, body)
                SELECT u.id, 'Post ' || p || ' by ' || u.name, NULL
                FROM nplus_users u, generate_series(0, 9) p ORDER BY u.id, p;
             INSERT INTO nplus_comments (post_id, text)
                SELECT p.id, 'Comment ' || c || ' on ' || p.title
                FROM nplus_posts p, generate_series(0, 9) c ORDER BY p.id, c;
             ANALYZE;",
    );
    runtime.block_on(async {
        db.verify::<(User, Post, Comment)>().await.expect("verify");
    });
    check(&runtime.block_on(naive(&db)).expect("naive"));
    check(&runtime.block_on(loader(&db)).expect("loader"));
    check(&runtime.block_on(relations(&db)).expect("relations"));
    let mut group = criterion.benchmark_group("n_plus_one");
    group.bench_function(BenchmarkId::new("naive", USERS), |b| {
        b.iter(|| runtime.block_on(naive(&db)).expect("naive"))
    });
    group.bench_function(BenchmarkId::new("loader", USERS), |b| {
        b.iter(|| runtime.block_on(loader(&db)).expect("loader"))
    });
    group.bench_function(BenchmarkId::new("relations", USERS), |b| {
        b.iter(|| runtime.block_on(relations(&db)).expect("relations"))
    });
    group.finish();
    drop(database);
    criterion.final_summary();
}
