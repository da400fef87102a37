//! The floor: hand-written tokio-postgres.
//!
//! Every statement is prepared once, in `connect`/`connect_pool`, never in a timed loop; rows
//! are decoded by position straight from the row stream (no intermediate `Vec<Row>`). The
//! associations use `= ANY($1)` with one array parameter, so one prepared statement serves any
//! number of parents. Concurrent gets spread over the pool's clients (8 or 4) round-robin, and tokio-postgres
//! pipelines the requests that share a client. This type also serves `round_trip` (`SELECT 1`),
//! the physical limit every single-row workload is compared with.

use super::Implementation;
use crate::model::{NewPost, NewUser, UserTree};
use crate::workloads::INSERT_SIZES;
use crate::Result;
use futures_util::future::try_join_all;
use futures_util::TryStreamExt;
use std::collections::HashMap;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Row, Statement};

/// A `users` row.
#[derive(Debug)]
pub struct User {
    /// `users.id`.
    pub id: i32,
    /// `users.name`.
    pub name: String,
    /// `users.hair_color`.
    pub hair_color: Option<String>,
}

/// A `posts` row.
#[derive(Debug)]
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
#[derive(Debug)]
pub struct Comment {
    /// `comments.id`.
    pub id: i32,
    /// `comments.post_id`.
    pub post_id: i32,
    /// `comments.text`.
    pub text: String,
}

crate::impl_records!(User, Post, Comment);

const NO_PARAMS: [&(dyn ToSql + Sync); 0] = [];

/// One connection with every statement of the suite prepared on it.
#[derive(Debug)]
pub struct TokioPostgres {
    client: Client,
    all_users: Statement,
    users_with_posts: Statement,
    user_by_id: Statement,
    posts_of_users: Statement,
    comments_of_posts: Statement,
    select_one: Statement,
    /// `INSERT INTO users … VALUES ($1, $2), …` by row count.
    inserts: HashMap<usize, Statement>,
}

/// The floor's "pool": one client per connection, each with `user_by_id` prepared.
#[derive(Debug)]
pub struct Clients(Vec<(Client, Statement)>);

async fn connect_client(url: &str) -> Result<Client> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            eprintln!("tokio-postgres connection failed: {error}");
        }
    });
    Ok(client)
}

const USER_BY_ID: &str = "SELECT id, name, hair_color FROM users WHERE id = $1";

fn insert_sql(rows: usize) -> String {
    let values: Vec<String> = (0..rows)
        .map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2))
        .collect();
    format!(
        "INSERT INTO users (name, hair_color) VALUES {}",
        values.join(", ")
    )
}

fn user(row: &Row) -> User {
    User {
        id: row.get(0),
        name: row.get(1),
        hair_color: row.get(2),
    }
}

impl TokioPostgres {
    /// `SELECT 1` on the prepared statement: one round trip, nothing to decode but an `i32`.
    ///
    /// # Errors
    /// On a connection or server error.
    pub async fn select_one(&mut self) -> Result<i32> {
        Ok(self.client.query_one(&self.select_one, &[]).await?.get(0))
    }
}

impl Implementation for TokioPostgres {
    const NAME: &'static str = "tokio_postgres";
    type User = User;
    type Post = Post;
    type Comment = Comment;
    type Pool = Clients;

    async fn connect(url: &str) -> Result<Self> {
        let client = connect_client(url).await?;
        let mut inserts = HashMap::new();
        for &rows in INSERT_SIZES {
            inserts.insert(rows, client.prepare(&insert_sql(rows)).await?);
        }
        Ok(TokioPostgres {
            all_users: client
                .prepare("SELECT id, name, hair_color FROM users")
                .await?,
            users_with_posts: client
                .prepare(
                    "SELECT u.id, u.name, u.hair_color, \
                     p.id, p.user_id, p.title, p.body, p.tags, p.nullable_tags \
                     FROM users AS u LEFT JOIN posts AS p ON u.id = p.user_id \
                     WHERE u.hair_color = $1",
                )
                .await?,
            user_by_id: client.prepare(USER_BY_ID).await?,
            posts_of_users: client
                .prepare(
                    "SELECT id, user_id, title, body, tags, nullable_tags \
                     FROM posts WHERE user_id = ANY($1)",
                )
                .await?,
            comments_of_posts: client
                .prepare("SELECT id, post_id, text FROM comments WHERE post_id = ANY($1)")
                .await?,
            select_one: client.prepare("SELECT 1").await?,
            inserts,
            client,
        })
    }

    async fn trivial_query(&mut self) -> Result<Vec<User>> {
        let rows = self.client.query_raw(&self.all_users, NO_PARAMS).await?;
        Ok(rows.map_ok(|row| user(&row)).try_collect().await?)
    }

    async fn medium_complex_query(&mut self) -> Result<Vec<(User, Option<Post>)>> {
        let rows = self
            .client
            .query_raw(&self.users_with_posts, [&"black"])
            .await?;
        let rows = rows.map_ok(|row| {
            let post = row.get::<_, Option<i32>>(3).map(|id| Post {
                id,
                user_id: row.get(4),
                title: row.get(5),
                body: row.get(6),
                tags: row.get(7),
                nullable_tags: row.get(8),
            });
            (user(&row), post)
        });
        Ok(rows.try_collect().await?)
    }

    async fn insert_users(&mut self, users: &[NewUser]) -> Result<u64> {
        if !self.inserts.contains_key(&users.len()) {
            // Sizes outside INSERT_SIZES: prepared on first use (the untimed check call).
            let statement = self.client.prepare(&insert_sql(users.len())).await?;
            self.inserts.insert(users.len(), statement);
        }
        let params = (0..2 * users.len()).map(|i| {
            let user = &users[i / 2];
            if i % 2 == 0 {
                &user.name as &(dyn ToSql + Sync)
            } else {
                &user.hair_color
            }
        });
        Ok(self
            .client
            .execute_raw(&self.inserts[&users.len()], params)
            .await?)
    }

    async fn insert_posts(&mut self, posts: &[NewPost]) -> Result<u64> {
        // Untimed (the post-write check only), so prepared here rather than at connect.
        let statement = self
            .client
            .prepare(&crate::schema::insert_posts_sql(posts.len()))
            .await?;
        Ok(self
            .client
            .execute_raw(&statement, crate::schema::post_params(posts))
            .await?)
    }

    async fn loading_associations(&mut self) -> Result<Vec<UserTree<User, Post, Comment>>> {
        let users: Vec<User> = self
            .client
            .query_raw(&self.all_users, NO_PARAMS)
            .await?
            .map_ok(|row| user(&row))
            .try_collect()
            .await?;
        let user_ids: Vec<i32> = users.iter().map(|user| user.id).collect();
        let posts: Vec<Post> = self
            .client
            .query_raw(&self.posts_of_users, [&user_ids])
            .await?
            .map_ok(|row| Post {
                id: row.get(0),
                user_id: row.get(1),
                title: row.get(2),
                body: row.get(3),
                tags: row.get(4),
                nullable_tags: row.get(5),
            })
            .try_collect()
            .await?;
        let post_ids: Vec<i32> = posts.iter().map(|post| post.id).collect();
        let comments: Vec<Comment> = self
            .client
            .query_raw(&self.comments_of_posts, [&post_ids])
            .await?
            .map_ok(|row| Comment {
                id: row.get(0),
                post_id: row.get(1),
                text: row.get(2),
            })
            .try_collect()
            .await?;

        Ok(crate::model::group_tree(users, posts, comments))
    }

    async fn get_by_id(&mut self, id: i32) -> Result<User> {
        Ok(user(
            &self.client.query_one(&self.user_by_id, &[&id]).await?,
        ))
    }

    async fn connect_pool(url: &str, connections: usize) -> Result<Clients> {
        let clients = try_join_all((0..connections).map(|_| async {
            let client = connect_client(url).await?;
            let statement = client.prepare(USER_BY_ID).await?;
            Ok::<_, crate::BoxError>((client, statement))
        }))
        .await?;
        Ok(Clients(clients))
    }

    async fn concurrent_get_by_id(pool: &Clients, ids: &[i32]) -> Result<Vec<User>> {
        let gets = ids.iter().enumerate().map(|(i, id)| {
            let (client, statement) = &pool.0[i % pool.0.len()];
            async move { Ok::<_, crate::BoxError>(user(&client.query_one(statement, &[id]).await?)) }
        });
        try_join_all(gets).await
    }
}
