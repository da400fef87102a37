//! Loaders against N+1: the same users -> posts -> comments listing written naively (one
//! query per row) and with relations/loaders (one statement per level), printing how many
//! statements each ran, as counted by the server (`pg_stat_statements`).
//!
//! Needs nothing: without `DATABASE_URL` it starts a throwaway PostgreSQL.
//! Run with `cargo run --example loaders`.

use futures_util::future::try_join_all;
use pgrepo::prelude::*;
use pgrepo::testkit::TestCluster;
use pgrepo::LookupLoader;

#[derive(Debug, Clone, Entity)]
#[pgrepo(table = "users")]
struct User {
    #[pgrepo(id, generated)]
    id: i32,
    name: String,
}

#[derive(Debug, Clone, Entity)]
#[pgrepo(table = "posts")]
struct Post {
    #[pgrepo(id, generated)]
    id: i32,
    #[pgrepo(belongs_to = User)]
    user_id: i32,
    title: String,
}

#[derive(Debug, Clone, Entity)]
#[pgrepo(table = "comments")]
struct Comment {
    #[pgrepo(id, generated)]
    id: i32,
    #[pgrepo(belongs_to = Post)]
    post_id: i32,
    text: String,
}

/// Statements run in this database since the last reset, as the server counted them.
async fn statements(db: &Db) -> Result<i64, pgrepo::Error> {
    let rows = db
        .query(
            "SELECT COALESCE(sum(calls), 0)::bigint FROM pg_stat_statements \
             WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
             AND query NOT LIKE '%pg_stat_statements%'",
            &[],
        )
        .await?;
    Ok(rows[0].get(0))
}

async fn reset(db: &Db) -> Result<(), pgrepo::Error> {
    db.query(
        "SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database \
         WHERE datname = current_database()), 0)",
        &[],
    )
    .await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = match std::env::var("DATABASE_URL") {
        Ok(url) => url,
        Err(_) => TestCluster::shared()?
            .create_database("loaders")
            .await?
            .url(),
    };
    let db = Db::connect(&url).await?;
    db.batch_execute(
        "CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
         DROP TABLE IF EXISTS comments, posts, users;
         CREATE TABLE users (id SERIAL PRIMARY KEY, name TEXT NOT NULL);
         CREATE TABLE posts (id SERIAL PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users,
                             title TEXT NOT NULL);
         CREATE INDEX ON posts (user_id);
         CREATE TABLE comments (id SERIAL PRIMARY KEY, post_id INTEGER NOT NULL REFERENCES posts,
                                text TEXT NOT NULL);
         CREATE INDEX ON comments (post_id);
         INSERT INTO users (name) SELECT 'User ' || i FROM generate_series(1, 100) i;
         INSERT INTO posts (user_id, title) SELECT u.id, 'Post ' || p FROM users u, generate_series(1, 10) p;
         INSERT INTO comments (post_id, text) SELECT p.id, 'Comment ' || c FROM posts p, generate_series(1, 10) c;",
    )
    .await?;
    db.verify::<(User, Post, Comment)>().await?;
    let (users, posts, comments) = (db.repo::<User>(), db.repo::<Post>(), db.repo::<Comment>());

    // Naive: one query for the users, one per user for posts, one per post for comments.
    reset(&db).await?;
    let mut naive = 0;
    let all_users = users.list().first(100).await?.items;
    for user in &all_users {
        for post in posts.find_by(Post::USER_ID, user.id).await? {
            naive += comments.find_by(Comment::POST_ID, post.id).await?.len();
        }
    }
    println!(
        "naive:   {naive} comments, {} statements",
        statements(&db).await?
    );

    // Relations: one statement per level.
    reset(&db).await?;
    let all_users = users.list().first(100).await?.items;
    let user_posts = posts.grouped(Post::USER, all_users).await?;
    let flat: Vec<Post> = user_posts
        .iter()
        .flat_map(|(_, p)| p.iter().cloned())
        .collect();
    let post_comments = comments.children(Comment::POST, &flat).await?;
    let total: usize = post_comments.iter().map(Vec::len).sum();
    println!(
        "grouped: {total} comments, {} statements",
        statements(&db).await?
    );

    // Loaders: code written per item (as a GraphQL resolver would be), batched underneath.
    reset(&db).await?;
    let all_users = users.list().first(100).await?.items;
    let posts_of = LookupLoader::new(db.clone(), Post::USER_ID);
    let comments_of = LookupLoader::new(db.clone(), Comment::POST_ID);
    let per_user = try_join_all(all_users.iter().map(|user| {
        let (posts_of, comments_of) = (&posts_of, &comments_of);
        async move {
            let posts = posts_of.load(user.id).await?;
            let counts = try_join_all(posts.iter().map(|p| comments_of.load(p.id))).await?;
            Ok::<usize, pgrepo::Error>(counts.iter().map(Vec::len).sum())
        }
    }))
    .await?;
    println!(
        "loaders: {} comments, {} statements",
        per_user.iter().sum::<usize>(),
        statements(&db).await?
    );
    Ok(())
}
