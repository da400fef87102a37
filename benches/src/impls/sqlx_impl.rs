//! SQLx with `query_as` and derived `FromRow` (no compile-time checked macros).
//!
//! SQLx prepares and caches every statement per connection by its SQL text, so repeated
//! queries are parsed once. Statement logging is disabled and the pool does not ping before
//! every checkout (`test_before_acquire(false)`; the default costs a round trip per acquire):
//! both are SQLx's documented switches for speed. Bulk insert uses `QueryBuilder::push_values`
//! (one statement), children are loaded with `= ANY($1)` and one array bind, as SQLx's FAQ
//! recommends for PostgreSQL.

use super::Implementation;
use crate::model::{NewPost, NewUser, UserTree};
use crate::Result;
use futures_util::future::try_join_all;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, FromRow, PgConnection, Postgres, QueryBuilder};

/// A `users` row.
#[derive(Debug, FromRow)]
pub struct User {
    /// `users.id`.
    pub id: i32,
    /// `users.name`.
    pub name: String,
    /// `users.hair_color`.
    pub hair_color: Option<String>,
}

/// A `posts` row.
#[derive(Debug, FromRow)]
pub struct Post {
    /// `posts.id`.
    pub id: i32,
    /// `posts.user_id`.
    pub user_id: i32,
    /// `posts.title`.
    pub title: String,
    /// `posts.body`.
    pub body: Option<String>,
    /// `posts.tags`.
    pub tags: Vec<String>,
    /// `posts.nullable_tags`.
    pub nullable_tags: Option<Vec<String>>,
}

/// A `comments` row.
#[derive(Debug, FromRow)]
pub struct Comment {
    /// `comments.id`.
    pub id: i32,
    /// `comments.post_id`.
    pub post_id: i32,
    /// `comments.text`.
    pub text: String,
}

crate::impl_records!(User, Post, Comment);

/// One row of `users LEFT JOIN posts`: the user's columns, then the post's, aliased.
#[derive(FromRow)]
struct UserWithPost {
    #[sqlx(flatten)]
    user: User,
    post_id: Option<i32>,
    post_user_id: Option<i32>,
    title: Option<String>,
    body: Option<String>,
    tags: Option<Vec<String>>,
    nullable_tags: Option<Vec<String>>,
}

impl UserWithPost {
    fn split(self) -> (User, Option<Post>) {
        let post = match (self.post_id, self.post_user_id, self.title, self.tags) {
            (Some(id), Some(user_id), Some(title), Some(tags)) => Some(Post {
                id,
                user_id,
                title,
                body: self.body,
                tags,
                nullable_tags: self.nullable_tags,
            }),
            _ => None,
        };
        (self.user, post)
    }
}

const ALL_USERS: &str = "SELECT id, name, hair_color FROM users";
const USER_BY_ID: &str = "SELECT id, name, hair_color FROM users WHERE id = $1";

/// One SQLx connection.
#[derive(Debug)]
pub struct Sqlx {
    conn: PgConnection,
}

fn options(url: &str) -> Result<PgConnectOptions> {
    Ok(url.parse::<PgConnectOptions>()?.disable_statement_logging())
}

impl Implementation for Sqlx {
    const NAME: &'static str = "sqlx";
    type User = User;
    type Post = Post;
    type Comment = Comment;
    type Pool = PgPool;

    async fn connect(url: &str) -> Result<Self> {
        Ok(Sqlx {
            conn: options(url)?.connect().await?,
        })
    }

    async fn trivial_query(&mut self) -> Result<Vec<User>> {
        Ok(sqlx::query_as::<_, User>(ALL_USERS)
            .fetch_all(&mut self.conn)
            .await?)
    }

    async fn medium_complex_query(&mut self) -> Result<Vec<(User, Option<Post>)>> {
        let rows = sqlx::query_as::<_, UserWithPost>(
            "SELECT u.id, u.name, u.hair_color, \
             p.id AS post_id, p.user_id AS post_user_id, p.title, p.body, \
             p.tags, p.nullable_tags \
             FROM users AS u LEFT JOIN posts AS p ON u.id = p.user_id \
             WHERE u.hair_color = $1",
        )
        .bind("black")
        .fetch_all(&mut self.conn)
        .await?;
        Ok(rows.into_iter().map(UserWithPost::split).collect())
    }

    async fn insert_users(&mut self, users: &[NewUser]) -> Result<u64> {
        let mut insert = QueryBuilder::<Postgres>::new("INSERT INTO users (name, hair_color) ");
        insert.push_values(users, |mut row, user| {
            row.push_bind(&user.name).push_bind(&user.hair_color);
        });
        Ok(insert
            .build()
            .execute(&mut self.conn)
            .await?
            .rows_affected())
    }

    async fn insert_posts(&mut self, posts: &[NewPost]) -> Result<u64> {
        let mut insert = QueryBuilder::<Postgres>::new(
            "INSERT INTO posts (user_id, title, body, tags, nullable_tags) ",
        );
        insert.push_values(posts, |mut row, post| {
            row.push_bind(post.user_id)
                .push_bind(&post.title)
                .push_bind(&post.body)
                .push_bind(&post.tags)
                .push_bind(&post.nullable_tags);
        });
        Ok(insert
            .build()
            .execute(&mut self.conn)
            .await?
            .rows_affected())
    }

    async fn loading_associations(&mut self) -> Result<Vec<UserTree<User, Post, Comment>>> {
        let users = sqlx::query_as::<_, User>(ALL_USERS)
            .fetch_all(&mut self.conn)
            .await?;
        let user_ids: Vec<i32> = users.iter().map(|user| user.id).collect();
        let posts = sqlx::query_as::<_, Post>(
            "SELECT id, user_id, title, body, tags, nullable_tags \
             FROM posts WHERE user_id = ANY($1)",
        )
        .bind(&user_ids)
        .fetch_all(&mut self.conn)
        .await?;
        let post_ids: Vec<i32> = posts.iter().map(|post| post.id).collect();
        let comments = sqlx::query_as::<_, Comment>(
            "SELECT id, post_id, text FROM comments WHERE post_id = ANY($1)",
        )
        .bind(&post_ids)
        .fetch_all(&mut self.conn)
        .await?;

        Ok(crate::model::group_tree(users, posts, comments))
    }

    async fn get_by_id(&mut self, id: i32) -> Result<User> {
        Ok(sqlx::query_as::<_, User>(USER_BY_ID)
            .bind(id)
            .fetch_one(&mut self.conn)
            .await?)
    }

    async fn connect_pool(url: &str, connections: usize) -> Result<PgPool> {
        let connections = u32::try_from(connections)?;
        let pool = PgPoolOptions::new()
            .max_connections(connections)
            .min_connections(connections)
            .test_before_acquire(false)
            .connect_with(options(url)?)
            .await?;
        // Open every connection now, not in the timed loop.
        let held = try_join_all((0..connections).map(|_| pool.acquire())).await?;
        drop(held);
        Ok(pool)
    }

    async fn concurrent_get_by_id(pool: &PgPool, ids: &[i32]) -> Result<Vec<User>> {
        try_join_all(ids.iter().map(|&id| {
            sqlx::query_as::<_, User>(USER_BY_ID)
                .bind(id)
                .fetch_one(pool)
        }))
        .await
        .map_err(Into::into)
    }
}
