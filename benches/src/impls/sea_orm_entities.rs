//! SeaORM entities for `users`, `posts` and `comments`, written as `sea-orm-cli generate entity`
//! writes them (one module per table, relations both ways). The array columns need SeaORM's
//! `postgres-array` feature (which its `sqlx-postgres` feature turns on).

/// The `users` entity.
pub mod users {
    use sea_orm::entity::prelude::*;

    /// A `users` row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "users")]
    pub struct Model {
        /// `users.id`.
        #[sea_orm(primary_key)]
        pub id: i32,
        /// `users.name`.
        pub name: String,
        /// `users.hair_color`.
        pub hair_color: Option<String>,
    }

    /// The users' relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        /// A user has many posts.
        #[sea_orm(has_many = "super::posts::Entity")]
        Posts,
    }

    impl Related<super::posts::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Posts.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `posts` entity.
pub mod posts {
    use sea_orm::entity::prelude::*;

    /// A `posts` row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "posts")]
    pub struct Model {
        /// `posts.id`.
        #[sea_orm(primary_key)]
        pub id: i32,
        /// `posts.user_id`.
        pub user_id: i32,
        /// `posts.title`.
        #[sea_orm(unique)]
        pub title: String,
        /// `posts.body`.
        #[sea_orm(column_type = "Text", nullable)]
        pub body: Option<String>,
        /// `posts.tags` (`text[]`).
        #[sea_orm(column_type = "Array(RcOrArc::new(ColumnType::Text))")]
        pub tags: Vec<String>,
        /// `posts.nullable_tags` (`varchar[]`).
        pub nullable_tags: Option<Vec<String>>,
    }

    /// The posts' relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        /// A post belongs to a user.
        #[sea_orm(
            belongs_to = "super::users::Entity",
            from = "Column::UserId",
            to = "super::users::Column::Id"
        )]
        Users,
        /// A post has many comments.
        #[sea_orm(has_many = "super::comments::Entity")]
        Comments,
    }

    impl Related<super::users::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Users.def()
        }
    }

    impl Related<super::comments::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Comments.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `comments` entity.
pub mod comments {
    use sea_orm::entity::prelude::*;

    /// A `comments` row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "comments")]
    pub struct Model {
        /// `comments.id`.
        #[sea_orm(primary_key)]
        pub id: i32,
        /// `comments.post_id`.
        pub post_id: i32,
        /// `comments.text`.
        #[sea_orm(column_type = "Text")]
        pub text: String,
    }

    /// The comments' relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        /// A comment belongs to a post.
        #[sea_orm(
            belongs_to = "super::posts::Entity",
            from = "Column::PostId",
            to = "super::posts::Column::Id"
        )]
        Posts,
    }

    impl Related<super::posts::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Posts.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

crate::impl_records!(users::Model, posts::Model, comments::Model);
