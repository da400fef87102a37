//! Diesel's view of the schema and its row types, shared by the `diesel` and `diesel_async`
//! implementations (they use the same DSL; only the connection differs).
//!
//! The array columns are typed as Diesel's own test schema types `posts.tags`
//! (`Array<Text>`, elements not null) and as `diesel print-schema` types a nullable `varchar[]`
//! (`Nullable<Array<Nullable<Text>>>`, so `Option<Vec<Option<String>>>` in Rust).

use crate::model::{NewPost, NewUser};
use diesel::prelude::*;

diesel::table! {
    users {
        id -> Integer,
        name -> Text,
        hair_color -> Nullable<Text>,
    }
}

diesel::table! {
    posts {
        id -> Integer,
        user_id -> Integer,
        title -> Text,
        body -> Nullable<Text>,
        tags -> Array<Text>,
        nullable_tags -> Nullable<Array<Nullable<Text>>>,
    }
}

diesel::table! {
    comments {
        id -> Integer,
        post_id -> Integer,
        text -> Text,
    }
}

diesel::joinable!(comments -> posts (post_id));
diesel::joinable!(posts -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(users, posts, comments);

/// A `users` row.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Identifiable)]
#[diesel(table_name = users)]
pub struct User {
    /// `users.id`.
    pub id: i32,
    /// `users.name`.
    pub name: String,
    /// `users.hair_color`.
    pub hair_color: Option<String>,
}

/// A `posts` row.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Identifiable, Associations)]
#[diesel(belongs_to(User), table_name = posts)]
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
    pub nullable_tags: Option<Vec<Option<String>>>,
}

/// A `comments` row.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Identifiable, Associations)]
#[diesel(belongs_to(Post), table_name = comments)]
pub struct Comment {
    /// `comments.id`.
    pub id: i32,
    /// `comments.post_id`.
    pub post_id: i32,
    /// `comments.text`.
    pub text: String,
}

crate::impl_records!(User, Post, Comment);

type UserColumns<Name, HairColor> = (
    diesel::dsl::Eq<users::name, Name>,
    diesel::dsl::Eq<users::hair_color, HairColor>,
);

// What `#[derive(Insertable)]` would generate, written out because `NewUser` is the suite's
// (Diesel-free) type: by reference, Diesel binds the suite's strings without copying them.
impl<'a> Insertable<users::table> for &'a NewUser {
    type Values = <UserColumns<&'a String, &'a Option<String>> as Insertable<users::table>>::Values;

    fn values(self) -> Self::Values {
        (
            users::name.eq(&self.name),
            users::hair_color.eq(&self.hair_color),
        )
            .values()
    }
}

impl diesel::query_builder::UndecoratedInsertRecord<users::table> for &NewUser {}

// By value: only its `Values` type is used, as the statement-cache key of fixed-size batches.
impl Insertable<users::table> for NewUser {
    type Values = <UserColumns<String, Option<String>> as Insertable<users::table>>::Values;

    fn values(self) -> Self::Values {
        (
            users::name.eq(self.name),
            users::hair_color.eq(self.hair_color),
        )
            .values()
    }
}

type PostColumns<'a> = (
    diesel::dsl::Eq<posts::user_id, &'a i32>,
    diesel::dsl::Eq<posts::title, &'a String>,
    diesel::dsl::Eq<posts::body, &'a Option<String>>,
    diesel::dsl::Eq<posts::tags, &'a Vec<String>>,
    diesel::dsl::Eq<posts::nullable_tags, Option<Vec<Option<&'a str>>>>,
);

// The same for `NewPost` (inserted only by the untimed post-write check). The elements of
// `nullable_tags` are `Nullable<Text>` here, so its `Vec<String>` is rebound as
// `Vec<Option<&str>>` (the strings themselves are not copied).
impl<'a> Insertable<posts::table> for &'a NewPost {
    type Values = <PostColumns<'a> as Insertable<posts::table>>::Values;

    fn values(self) -> Self::Values {
        let nullable_tags = self
            .nullable_tags
            .as_ref()
            .map(|tags| tags.iter().map(|tag| Some(tag.as_str())).collect());
        (
            posts::user_id.eq(&self.user_id),
            posts::title.eq(&self.title),
            posts::body.eq(&self.body),
            posts::tags.eq(&self.tags),
            posts::nullable_tags.eq(nullable_tags),
        )
            .values()
    }
}

impl diesel::query_builder::UndecoratedInsertRecord<posts::table> for &NewPost {}

/// `users` as a fixed-size array when there are exactly `N` of them.
///
/// Diesel caches the prepared statement of a batch insert only when the number of rows is part
/// of the type (an array, as `diesel_bench` uses); a slice or `Vec` is re-prepared on every
/// call. This is Diesel's own fastest form for a known batch size.
pub fn as_array<const N: usize>(users: &[NewUser]) -> Option<&[NewUser; N]> {
    users.try_into().ok()
}

/// `users LEFT JOIN posts WHERE hair_color = 'black'`, shared by both Diesel flavours.
#[allow(clippy::type_complexity)]
pub fn medium_complex_query() -> diesel::dsl::Filter<
    diesel::dsl::LeftJoin<users::table, posts::table>,
    diesel::dsl::Eq<users::hair_color, &'static str>,
> {
    users::table
        .left_outer_join(posts::table)
        .filter(users::hair_color.eq("black"))
}
