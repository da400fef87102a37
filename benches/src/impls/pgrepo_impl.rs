//! pgrepo, as an application would use it: derived entities, the generated repository,
//! relations for the associations, `query_as` for the hand-written join.
//!
//! The single-connection workloads run on a pool of one connection (so every statement is
//! prepared once on it, like the floor's); the concurrent workloads on a pool of 8 or 4.

use std::sync::LazyLock;

use super::Implementation;
use crate::model::{NewPost, NewUser, UserTree};
use crate::Result;
use futures_util::future::try_join_all;
use pgrepo::Executor as _;
use pgrepo::{Db, Entity};

/// A `users` row.
#[derive(Debug, Clone, Entity)]
#[pgrepo(table = "users", new_struct = "UserInsert")]
pub struct User {
    /// `users.id`.
    #[pgrepo(id, generated)]
    pub id: i32,
    /// `users.name`.
    pub name: String,
    /// `users.hair_color`.
    pub hair_color: Option<String>,
}

/// A `posts` row.
#[derive(Debug, Clone, Entity)]
#[pgrepo(table = "posts", new_struct = "PostInsert")]
pub struct Post {
    /// `posts.id`.
    #[pgrepo(id, generated)]
    pub id: i32,
    /// `posts.user_id`.
    #[pgrepo(belongs_to = User)]
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
#[derive(Debug, Clone, Entity)]
#[pgrepo(table = "comments")]
pub struct Comment {
    /// `comments.id`.
    #[pgrepo(id, generated)]
    pub id: i32,
    /// `comments.post_id`.
    #[pgrepo(belongs_to = Post)]
    pub post_id: i32,
    /// `comments.text`.
    pub text: String,
}

crate::impl_records!(User, Post, Comment);

// The suite's own `NewUser` inserts as `users` rows directly, as the derive's `UserInsert`
// would (the diesel implementation writes out its `Insertable` for `NewUser` the same way).
impl pgrepo::Insertable for NewUser {
    type Entity = User;
    fn param(&self, column: usize) -> &(dyn pgrepo::tokio_postgres::types::ToSql + Sync) {
        match column {
            1 => &self.name,
            2 => &self.hair_color,
            _ => unreachable!("users has three columns, the first generated"),
        }
    }
}

// Likewise the suite's `NewPost` as `posts` rows (the post-write check inserts them).
impl pgrepo::Insertable for NewPost {
    type Entity = Post;
    fn param(&self, column: usize) -> &(dyn pgrepo::tokio_postgres::types::ToSql + Sync) {
        match column {
            1 => &self.user_id,
            2 => &self.title,
            3 => &self.body,
            4 => &self.tags,
            5 => &self.nullable_tags,
            _ => unreachable!("posts has six columns, the first generated"),
        }
    }
}

/// The hand-written join: each entity's columns labelled by alias (`"u"."id" AS "u.id", …`),
/// so that `query_as` decodes them by name.
static USERS_WITH_POSTS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {}, {} FROM users AS u LEFT JOIN posts AS p ON u.id = p.user_id \
         WHERE u.hair_color = $1",
        User::select_list("u"),
        Post::select_list("p"),
    )
});

/// A pool of one connection.
#[derive(Debug)]
pub struct Pgrepo {
    db: Db,
}

impl Implementation for Pgrepo {
    const NAME: &'static str = "pgrepo";
    type User = User;
    type Post = Post;
    type Comment = Comment;
    type Pool = Db;

    async fn connect(url: &str) -> Result<Self> {
        let db = Db::builder(url)?.max_size(1).connect().await?;
        Ok(Pgrepo { db })
    }

    async fn trivial_query(&mut self) -> Result<Vec<User>> {
        Ok(self.db.repo::<User>().all().await?)
    }

    async fn medium_complex_query(&mut self) -> Result<Vec<(User, Option<Post>)>> {
        Ok(self.db.query_as(&*USERS_WITH_POSTS, &[&"black"]).await?)
    }

    async fn insert_users(&mut self, users: &[NewUser]) -> Result<u64> {
        Ok(self.db.repo::<User>().insert_many_count(users).await?)
    }

    async fn insert_posts(&mut self, posts: &[NewPost]) -> Result<u64> {
        Ok(self.db.repo::<Post>().insert_many_count(posts).await?)
    }

    async fn loading_associations(&mut self) -> Result<Vec<UserTree<User, Post, Comment>>> {
        let users = self.db.repo::<User>().all().await?;
        let posts = self.db.repo::<Post>().children(Post::USER, &users).await?;
        let comments = self
            .db
            .repo::<Comment>()
            .children(Comment::POST, posts.iter().flatten())
            .await?;
        Ok(crate::model::nest(users, posts, comments))
    }

    async fn get_by_id(&mut self, id: i32) -> Result<User> {
        self.db
            .repo::<User>()
            .get(id)
            .await?
            .ok_or_else(|| format!("no user {id}").into())
    }

    async fn connect_pool(url: &str, connections: usize) -> Result<Db> {
        let db = Db::builder(url)?.max_size(connections).build()?;
        // Open every connection before measuring, as the other implementations do.
        let warm: Vec<_> = (0..connections).map(|_| db.begin()).collect();
        for tx in try_join_all(warm).await? {
            tx.rollback().await?;
        }
        Ok(db)
    }

    async fn concurrent_get_by_id(pool: &Db, ids: &[i32]) -> Result<Vec<User>> {
        let users = pool.repo::<User>();
        let gets = ids.iter().map(|&id| async move {
            users
                .get(id)
                .await?
                .ok_or_else(|| crate::BoxError::from(format!("no user {id}")))
        });
        try_join_all(gets).await
    }
}
