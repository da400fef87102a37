//! SeaORM with its entity API (`find`, `find_also_related`, `insert_many`, `LoaderTrait`).
//!
//! SeaORM always talks through a pool; the single-connection workloads get a pool of one. The
//! pool skips the per-checkout ping (`test_before_acquire(false)`) and statement logging, as
//! SeaORM's `ConnectOptions` allow for speed. Inserts use `exec_without_returning` (no
//! `RETURNING`); associations use the loader (`load_many`), one `IN (…)` query per level.

use super::sea_orm_entities::{comments, posts, users};
use super::Implementation;
use crate::model::{NewPost, NewUser, UserTree};
use crate::Result;
use futures_util::future::try_join_all;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectOptions, Database, DatabaseConnection, EntityTrait,
    LoaderTrait, QueryFilter,
};

/// A SeaORM connection pool of one connection.
#[derive(Debug)]
pub struct SeaOrm {
    db: DatabaseConnection,
}

async fn connect(url: &str, connections: usize) -> Result<DatabaseConnection> {
    let connections = u32::try_from(connections)?;
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(connections)
        .min_connections(connections)
        .test_before_acquire(false)
        .sqlx_logging(false)
        .record_stmt_in_spans(false);
    let db = Database::connect(options).await?;
    // Open every connection now, not in the timed loop.
    let pool = db.get_postgres_connection_pool();
    let held = try_join_all((0..connections).map(|_| pool.acquire())).await?;
    drop(held);
    Ok(db)
}

impl Implementation for SeaOrm {
    const NAME: &'static str = "sea_orm";
    type User = users::Model;
    type Post = posts::Model;
    type Comment = comments::Model;
    type Pool = DatabaseConnection;

    async fn connect(url: &str) -> Result<Self> {
        Ok(SeaOrm {
            db: connect(url, 1).await?,
        })
    }

    async fn trivial_query(&mut self) -> Result<Vec<users::Model>> {
        Ok(users::Entity::find().all(&self.db).await?)
    }

    async fn medium_complex_query(&mut self) -> Result<Vec<(users::Model, Option<posts::Model>)>> {
        Ok(users::Entity::find()
            .find_also_related(posts::Entity)
            .filter(users::Column::HairColor.eq("black"))
            .all(&self.db)
            .await?)
    }

    async fn insert_users(&mut self, users: &[NewUser]) -> Result<u64> {
        let rows = users.iter().map(|user| users::ActiveModel {
            name: Set(user.name.clone()),
            hair_color: Set(user.hair_color.clone()),
            ..Default::default()
        });
        Ok(users::Entity::insert_many(rows)
            .exec_without_returning(&self.db)
            .await?)
    }

    async fn insert_posts(&mut self, new_posts: &[NewPost]) -> Result<u64> {
        let rows = new_posts.iter().map(|post| posts::ActiveModel {
            user_id: Set(post.user_id),
            title: Set(post.title.clone()),
            body: Set(post.body.clone()),
            tags: Set(post.tags.clone()),
            nullable_tags: Set(post.nullable_tags.clone()),
            ..Default::default()
        });
        Ok(posts::Entity::insert_many(rows)
            .exec_without_returning(&self.db)
            .await?)
    }

    async fn loading_associations(
        &mut self,
    ) -> Result<Vec<UserTree<users::Model, posts::Model, comments::Model>>> {
        let users = users::Entity::find().all(&self.db).await?;
        let posts_per_user = users.load_many(posts::Entity, &self.db).await?;
        // Flatten by moving (no clones), load every post's comments in one query, regroup.
        let counts: Vec<usize> = posts_per_user.iter().map(Vec::len).collect();
        let posts: Vec<posts::Model> = posts_per_user.into_iter().flatten().collect();
        let comments_per_post = posts.load_many(comments::Entity, &self.db).await?;
        let mut posts = posts.into_iter().zip(comments_per_post);
        Ok(users
            .into_iter()
            .zip(counts)
            .map(|(user, count)| (user, posts.by_ref().take(count).collect()))
            .collect())
    }

    async fn get_by_id(&mut self, id: i32) -> Result<users::Model> {
        users::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .ok_or_else(|| format!("no user {id}").into())
    }

    async fn connect_pool(url: &str, connections: usize) -> Result<DatabaseConnection> {
        connect(url, connections).await
    }

    async fn concurrent_get_by_id(
        pool: &DatabaseConnection,
        ids: &[i32],
    ) -> Result<Vec<users::Model>> {
        try_join_all(ids.iter().map(|&id| async move {
            users::Entity::find_by_id(id)
                .one(pool)
                .await?
                .ok_or_else(|| crate::BoxError::from(format!("no user {id}")))
        }))
        .await
    }
}
