//! The select list of an entity in a hand-written join: its columns, each labelled
//! `alias.column`, so that one row decodes into several entities by name.

use std::fmt;
use std::marker::PhantomData;

use crate::entity::Entity;
use crate::sql::quote_ident;

/// An entity's columns for a hand-written query, from [`Entity::select_list`]: displays as
/// `"u"."id" AS "u.id", "u"."email" AS "u.email", …` (every column, in declaration order).
///
/// Put one per entity in the select list of a join and decode the rows into a tuple with
/// [`Executor::query_as`](crate::Executor::query_as): each entity takes the columns labelled
/// with one alias, in order, matched by name.
///
/// ```no_run
/// # use pgrepo::prelude::*;
/// # #[derive(Entity)] #[pgrepo(table = "users")] struct User { #[pgrepo(id)] id: i64, name: String }
/// # #[derive(Entity)] #[pgrepo(table = "posts")] struct Post { #[pgrepo(id)] id: i64, user_id: i64 }
/// # async fn demo(db: Db) -> pgrepo::Result<()> {
/// let sql = format!(
///     "SELECT {}, {} FROM users u LEFT JOIN posts p ON p.user_id = u.id",
///     User::select_list("u"),
///     Post::select_list("p"),
/// );
/// let rows: Vec<(User, Option<Post>)> = db.query_as(Sql::read(&sql), &[]).await?;
/// # let _ = rows; Ok(()) }
/// ```
pub struct SelectList<'a, E> {
    alias: &'a str,
    _entity: PhantomData<fn() -> E>,
}

impl<'a, E: Entity> SelectList<'a, E> {
    pub(crate) fn new(alias: &'a str) -> Self {
        SelectList {
            alias,
            _entity: PhantomData,
        }
    }
}

impl<E: Entity> fmt::Display for SelectList<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        for (i, column) in E::columns().iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            quote_ident(&mut out, self.alias);
            out.push('.');
            quote_ident(&mut out, column.name);
            out.push_str(" AS ");
            quote_ident(&mut out, &format!("{}.{}", self.alias, column.name));
        }
        f.write_str(&out)
    }
}

impl<E: Entity> fmt::Debug for SelectList<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SelectList")
            .field("table", &E::TABLE)
            .field("alias", &self.alias)
            .finish()
    }
}

impl<E> Clone for SelectList<'_, E> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<E> Copy for SelectList<'_, E> {}
