//! The implementations under test, and the one list that registers them.
//!
//! Each implementation is one module here with one type implementing [`Implementation`]; the
//! suite measures every registered type on every workload, in the order of the list in
//! [`for_each_implementation`]. Adding one (pgrepo's goes in `pgrepo_impl.rs`) is that file, its
//! `pub mod` line and one line in the `implementations!` list below.

use crate::model::{CommentRecord, NewPost, NewUser, PostRecord, UserRecord, UserTree};
use crate::Result;

// One module per implementation (declared here, not by the macro below, so `cargo fmt`
// reaches them), and the helpers some of them share.
pub mod diesel_async_impl;
pub mod diesel_impl;
mod diesel_schema;
pub mod pgrepo_impl;
mod sea_orm_entities;
pub mod sea_orm_impl;
pub mod sqlx_impl;
pub mod tokio_postgres_impl;

/// Registers every implementation: one line each; criterion measures them in this order.
macro_rules! implementations {
    ($($module:ident::$ty:ident),* $(,)?) => {
        /// Calls `visitor` once per registered implementation, in the list's order.
        pub fn for_each_implementation(visitor: &mut impl ImplementationVisitor) {
            $(visitor.visit::<$module::$ty>();)*
        }

        /// The registered implementations' names, in the list's order.
        pub const IMPLEMENTATION_NAMES: &[&str] = &[$(<$module::$ty as Implementation>::NAME),*];
    };
}

implementations! {
    tokio_postgres_impl::TokioPostgres,
    pgrepo_impl::Pgrepo,
    diesel_impl::Diesel,
    diesel_async_impl::DieselAsync,
    sqlx_impl::Sqlx,
    sea_orm_impl::SeaOrm,
}

/// Something done once per implementation type, e.g. "measure it on this workload".
pub trait ImplementationVisitor {
    /// Called with each registered implementation.
    fn visit<I: Implementation>(&mut self);
}

/// One library under test, in its own idiomatic fastest form.
///
/// Every method runs inside the run's shared tokio runtime (see [`crate::runtime`]); a
/// synchronous library (Diesel) simply does its blocking work inside the `async fn`. Statements
/// may be prepared in [`connect`](Implementation::connect) / [`connect_pool`]
/// (Implementation::connect_pool), which are never timed; each workload is also called once,
/// untimed, to check its result before it is measured, so lazily prepared statements are
/// prepared by then.
///
/// The `async fn`s here are only ever awaited by the suite's own `block_on`, so they need no
/// `Send` bound.
#[allow(async_fn_in_trait)]
pub trait Implementation: Sized + 'static {
    /// Criterion function id and RESULTS.md column: `tokio_postgres`, `pgrepo`, `diesel`, …
    const NAME: &'static str;
    /// A `users` row as this implementation returns it.
    type User: UserRecord;
    /// A `posts` row.
    type Post: PostRecord;
    /// A `comments` row.
    type Comment: CommentRecord;
    /// What [`concurrent_get_by_id`](Implementation::concurrent_get_by_id) runs on: the
    /// implementation's pool of connections (or its equivalent).
    type Pool;

    /// Opens the single connection the single-connection workloads use.
    async fn connect(url: &str) -> Result<Self>;

    /// `SELECT id, name, hair_color FROM users` into a `Vec` of users.
    async fn trivial_query(&mut self) -> Result<Vec<Self::User>>;

    /// `users LEFT JOIN posts ON posts.user_id = users.id WHERE users.hair_color = 'black'`.
    async fn medium_complex_query(&mut self) -> Result<Vec<(Self::User, Option<Self::Post>)>>;

    /// Inserts all of `users` with one statement; returns the number of rows inserted.
    async fn insert_users(&mut self, users: &[NewUser]) -> Result<u64>;

    /// Inserts all of `posts` with one statement, the array columns included; returns the
    /// number of rows inserted. Not timed: the post-write check ([`crate::checks`]) runs it
    /// before anything is measured, so every implementation is shown to write what the others
    /// write.
    async fn insert_posts(&mut self, posts: &[NewPost]) -> Result<u64>;

    /// Every user with its posts, each with its comments, in three queries (users; posts of
    /// those users; comments of those posts), grouped in memory.
    async fn loading_associations(
        &mut self,
    ) -> Result<Vec<UserTree<Self::User, Self::Post, Self::Comment>>>;

    /// One user by primary key.
    async fn get_by_id(&mut self, id: i32) -> Result<Self::User>;

    /// Opens a pool of `connections` connections, all connected before this returns.
    async fn connect_pool(url: &str, connections: usize) -> Result<Self::Pool>;

    /// Gets every user of `ids` concurrently (one task or request each) over `pool`.
    async fn concurrent_get_by_id(pool: &Self::Pool, ids: &[i32]) -> Result<Vec<Self::User>>;
}
