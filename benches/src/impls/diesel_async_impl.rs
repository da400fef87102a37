//! diesel-async (`AsyncPgConnection`, on tokio-postgres), with Diesel's query DSL.
//!
//! The same queries as the sync `diesel` implementation. The pool is diesel-async's deadpool
//! integration with `RecyclingMethod::Fast`: the default (`Verified`) runs an extra `SELECT 1`
//! round trip on every checkout, which no one tuning for speed would keep.

use super::diesel_schema::{self, as_array, posts, users, Comment, Post, User};
use super::Implementation;
use crate::model::{NewPost, NewUser, UserTree};
use crate::Result;
use diesel::prelude::*;
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::future::try_join_all;

/// One diesel-async connection.
pub struct DieselAsync {
    conn: AsyncPgConnection,
}

impl std::fmt::Debug for DieselAsync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DieselAsync").finish_non_exhaustive()
    }
}

async fn get_user(conn: &mut AsyncPgConnection, id: i32) -> QueryResult<User> {
    users::table.find(id).get_result(conn).await
}

impl Implementation for DieselAsync {
    const NAME: &'static str = "diesel_async";
    type User = User;
    type Post = Post;
    type Comment = Comment;
    type Pool = Pool<AsyncPgConnection>;

    async fn connect(url: &str) -> Result<Self> {
        Ok(DieselAsync {
            conn: AsyncPgConnection::establish(url).await?,
        })
    }

    async fn trivial_query(&mut self) -> Result<Vec<User>> {
        Ok(users::table.load::<User>(&mut self.conn).await?)
    }

    async fn medium_complex_query(&mut self) -> Result<Vec<(User, Option<Post>)>> {
        Ok(diesel_schema::medium_complex_query()
            .load::<(User, Option<Post>)>(&mut self.conn)
            .await?)
    }

    async fn insert_users(&mut self, users: &[NewUser]) -> Result<u64> {
        let insert = diesel::insert_into(users::table);
        let conn = &mut self.conn;
        let inserted = if let Some(rows) = as_array::<1>(users) {
            insert.values(rows).execute(conn).await?
        } else if let Some(rows) = as_array::<100>(users) {
            insert.values(rows).execute(conn).await?
        } else {
            insert.values(users).execute(conn).await?
        };
        Ok(inserted as u64)
    }

    async fn insert_posts(&mut self, rows: &[NewPost]) -> Result<u64> {
        let inserted = diesel::insert_into(posts::table)
            .values(rows)
            .execute(&mut self.conn)
            .await?;
        Ok(inserted as u64)
    }

    async fn loading_associations(&mut self) -> Result<Vec<UserTree<User, Post, Comment>>> {
        let conn = &mut self.conn;
        let users = users::table.load::<User>(conn).await?;
        let posts = Post::belonging_to(&users).load::<Post>(conn).await?;
        let comments = Comment::belonging_to(&posts)
            .load::<Comment>(conn)
            .await?
            .grouped_by(&posts);
        let posts_and_comments = posts.into_iter().zip(comments).grouped_by(&users);
        Ok(users.into_iter().zip(posts_and_comments).collect())
    }

    async fn get_by_id(&mut self, id: i32) -> Result<User> {
        Ok(get_user(&mut self.conn, id).await?)
    }

    async fn connect_pool(url: &str, connections: usize) -> Result<Self::Pool> {
        let mut config = ManagerConfig::default();
        config.recycling_method = RecyclingMethod::Fast;
        let manager = AsyncDieselConnectionManager::new_with_config(url, config);
        let pool = Pool::builder(manager).max_size(connections).build()?;
        // Open every connection now, not in the timed loop.
        let held = try_join_all((0..connections).map(|_| pool.get())).await?;
        drop(held);
        Ok(pool)
    }

    async fn concurrent_get_by_id(pool: &Self::Pool, ids: &[i32]) -> Result<Vec<User>> {
        try_join_all(ids.iter().map(|&id| async move {
            let mut conn = pool.get().await?;
            Ok::<_, crate::BoxError>(get_user(&mut conn, id).await?)
        }))
        .await
    }
}
