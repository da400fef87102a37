//! The benchmark tables, and seeding them before each workload.
//!
//! The schema is `diesel_bench`'s: `users`, `posts` (unique titles) and `comments`, with indexes
//! on `users(hair_color)` and `posts(user_id)`. `posts` also has the array column that Diesel's
//! migrations give it (which `diesel_bench` runs against), `tags text[] NOT NULL DEFAULT '{}'`,
//! and a nullable one of this suite's, `nullable_tags varchar[]`. A [`Seeder`] owns one tokio-postgres connection
//! used only outside timed loops: it (re)creates the tables at the start of a run, truncates and
//! refills them before each (workload, size), and empties `users` between insert samples.

use crate::model::{
    comment_text, new_posts, user_name, HairColors, NewPost, ASSOCIATION_USERS, COMMENTS_PER_POST,
    POSTS_PER_USER,
};
use crate::Result;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls};

/// A table that marks a database as this suite's, so a run never drops tables it did not create.
const MARKER_TABLE: &str = "pgrepo_bench_marker";

const CREATE_TABLES: &str = "
    CREATE TABLE pgrepo_bench_marker (created_at TIMESTAMPTZ NOT NULL DEFAULT now());
    CREATE TABLE users (
        id SERIAL PRIMARY KEY,
        name VARCHAR NOT NULL,
        hair_color VARCHAR
    );
    CREATE TABLE posts (
        id SERIAL PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users,
        title VARCHAR NOT NULL UNIQUE,
        body TEXT,
        tags TEXT[] NOT NULL DEFAULT '{}',
        nullable_tags VARCHAR[]
    );
    CREATE TABLE comments (
        id SERIAL PRIMARY KEY,
        post_id INTEGER NOT NULL REFERENCES posts,
        text TEXT NOT NULL
    );
    CREATE INDEX users_hair_color ON users (hair_color);
    CREATE INDEX posts_user_id ON posts (user_id);
";

/// `INSERT INTO posts (every column but id) VALUES …` for `rows` rows: five parameters a row,
/// in the order of [`post_params`]. (`UNNEST` cannot carry the array columns: it would flatten
/// the rows' arrays into one.)
pub fn insert_posts_sql(rows: usize) -> String {
    let values: Vec<String> = (0..rows)
        .map(|row| {
            let first = 5 * row + 1;
            format!(
                "(${first}, ${}, ${}, ${}, ${})",
                first + 1,
                first + 2,
                first + 3,
                first + 4
            )
        })
        .collect();
    format!(
        "INSERT INTO posts (user_id, title, body, tags, nullable_tags) VALUES {}",
        values.join(", ")
    )
}

/// The parameters of [`insert_posts_sql`], borrowed from `posts`.
pub fn post_params(posts: &[NewPost]) -> impl ExactSizeIterator<Item = &(dyn ToSql + Sync)> {
    (0..5 * posts.len()).map(|i| {
        let post = &posts[i / 5];
        match i % 5 {
            0 => &post.user_id as &(dyn ToSql + Sync),
            1 => &post.title,
            2 => &post.body,
            3 => &post.tags,
            _ => &post.nullable_tags,
        }
    })
}

const TRUNCATE: &str = "TRUNCATE TABLE comments, posts, users RESTART IDENTITY CASCADE";

/// What a workload needs in the tables before it is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dataset {
    /// No rows (the insert workload).
    Empty,
    /// `count` users named `User 0..count`, ids `1..=count`, no posts.
    Users {
        /// How many users.
        count: usize,
        /// Their hair colours.
        colors: HairColors,
    },
    /// 100 users (alternating colours), 10 posts each, 10 comments per post.
    Associations,
}

/// The seeding connection (never timed).
#[derive(Debug)]
pub struct Seeder {
    client: Client,
}

impl Seeder {
    /// Connects; the connection task runs on the current tokio runtime.
    ///
    /// # Errors
    /// When the server cannot be reached.
    pub async fn connect(url: &str) -> Result<Seeder> {
        let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                eprintln!("seeding connection failed: {error}");
            }
        });
        Ok(Seeder { client })
    }

    /// Drops and recreates the tables, refusing to touch a database whose `users` table this
    /// suite did not create.
    ///
    /// # Errors
    /// When the database holds foreign `users`/`posts`/`comments` tables, or on a server error.
    pub async fn create_tables(&self) -> Result<()> {
        let row = self
            .client
            .query_one(
                "SELECT to_regclass('users') IS NOT NULL, to_regclass($1) IS NOT NULL",
                &[&MARKER_TABLE],
            )
            .await?;
        let (has_users, has_marker): (bool, bool) = (row.get(0), row.get(1));
        if has_users && !has_marker {
            return Err(
                "the database already has a `users` table that this suite did not create; \
                 point DATABASE_URL at a scratch database"
                    .into(),
            );
        }
        self.client
            .batch_execute(
                "DROP TABLE IF EXISTS comments, posts, users, pgrepo_bench_marker CASCADE",
            )
            .await?;
        self.client.batch_execute(CREATE_TABLES).await?;
        Ok(())
    }

    /// The server's `version()`.
    ///
    /// # Errors
    /// On a server error.
    pub async fn server_version(&self) -> Result<String> {
        Ok(self.client.query_one("SELECT version()", &[]).await?.get(0))
    }

    /// The server process serving this connection (`pg_backend_pid()`).
    ///
    /// # Errors
    /// On a server error.
    pub async fn backend_pid(&self) -> Result<i32> {
        Ok(self
            .client
            .query_one("SELECT pg_backend_pid()", &[])
            .await?
            .get(0))
    }

    /// Empties every table and restarts the id sequences.
    ///
    /// # Errors
    /// On a server error.
    pub async fn truncate(&self) -> Result<()> {
        self.client.batch_execute(TRUNCATE).await?;
        Ok(())
    }

    /// Truncates, fills the tables with `dataset`, and refreshes the planner's statistics so
    /// every implementation runs against the same plans.
    ///
    /// # Errors
    /// On a server error.
    pub async fn seed(&self, dataset: Dataset) -> Result<()> {
        self.truncate().await?;
        match dataset {
            Dataset::Empty => {}
            Dataset::Users { count, colors } => self.insert_users(count, colors).await?,
            Dataset::Associations => self.insert_associations().await?,
        }
        self.client
            .batch_execute("VACUUM ANALYZE users, posts, comments")
            .await?;
        Ok(())
    }

    async fn insert_users(&self, count: usize, colors: HairColors) -> Result<()> {
        let names: Vec<String> = (0..count).map(user_name).collect();
        let hair_colors: Vec<Option<&str>> = (0..count).map(|i| colors.of(i)).collect();
        // UNNEST keeps the array order, so user i gets id i + 1.
        self.client
            .execute(
                "INSERT INTO users (name, hair_color) \
                 SELECT * FROM UNNEST($1::varchar[], $2::varchar[])",
                &[&names, &hair_colors],
            )
            .await?;
        Ok(())
    }

    /// Inserts `posts` with one statement; returns the number of rows inserted.
    ///
    /// # Errors
    /// On a server error.
    pub async fn insert_posts(&self, posts: &[NewPost]) -> Result<u64> {
        let statement = self.client.prepare(&insert_posts_sql(posts.len())).await?;
        Ok(self
            .client
            .execute_raw(&statement, post_params(posts))
            .await?)
    }

    /// Every row of `posts` in id order, for checking what an implementation wrote.
    ///
    /// # Errors
    /// On a server error.
    pub async fn posts(&self) -> Result<Vec<(i32, NewPost)>> {
        let rows = self
            .client
            .query(
                "SELECT id, user_id, title, body, tags, nullable_tags FROM posts ORDER BY id",
                &[],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|row| {
                let post = NewPost {
                    user_id: row.get(1),
                    title: row.get(2),
                    body: row.get(3),
                    tags: row.get(4),
                    nullable_tags: row.get(5),
                };
                (row.get(0), post)
            })
            .collect())
    }

    async fn insert_associations(&self) -> Result<()> {
        self.insert_users(ASSOCIATION_USERS, HairColors::Alternating)
            .await?;
        self.insert_posts(&new_posts(1..=ASSOCIATION_USERS as i32, POSTS_PER_USER))
            .await?;
        let (mut post_ids, mut texts) = (Vec::new(), Vec::new());
        for post_id in 1..=(ASSOCIATION_USERS * POSTS_PER_USER) as i32 {
            for i in 0..COMMENTS_PER_POST {
                post_ids.push(post_id);
                texts.push(comment_text(i, post_id));
            }
        }
        self.client
            .execute(
                "INSERT INTO comments (post_id, text) SELECT * FROM UNNEST($1::int4[], $2::text[])",
                &[&post_ids, &texts],
            )
            .await?;
        Ok(())
    }
}
