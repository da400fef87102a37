//! The documented example, with plain types: it compiles, the generated items have the
//! documented names and types, and the column metadata reads back as declared.
#![deny(missing_docs, warnings)]

use pgrepo::{Direction, Entity, FromRow, Insertable, Upsertable};

/// A team.
#[derive(Debug, Clone, Entity)]
#[pgrepo(table = "teams")]
pub struct Team {
    /// Key.
    #[pgrepo(id, generated)]
    pub id: i64,
    /// Name.
    #[pgrepo(unique)]
    pub name: String,
}

/// A user.
#[derive(Debug, Clone, Entity)]
#[pgrepo(
    table = "users",
    order_by = "created_at desc",
    new_derive(Debug, Clone)
)]
#[pgrepo(listing(name = "by_name", order_by = "name, email desc"))]
pub struct User {
    /// Key.
    #[pgrepo(id, generated)]
    pub id: i64,
    /// Login.
    #[pgrepo(unique)]
    pub email: String,
    /// Display name.
    pub name: String,
    /// Optional.
    #[pgrepo(column = "hair")]
    pub hair_color: Option<String>,
    /// The team.
    #[pgrepo(belongs_to = Team)]
    pub team_id: i64,
    /// Filled by the database.
    #[pgrepo(generated)]
    pub created_at: i64,
}

/// A tag keyed by its (caller-provided) name, in a schema, with a custom insert struct.
#[derive(Entity)]
#[pgrepo(table = "tags", schema = "blog", new_struct = "TagDraft")]
pub struct Tag {
    /// Key.
    #[pgrepo(id)]
    pub name: String,
    /// The owner: an optional foreign key with a named relation.
    #[pgrepo(belongs_to = crate::User, relation = "owner")]
    pub owner_id: Option<i64>,
    /// A keyword field.
    #[pgrepo(lookup)]
    pub r#type: String,
}

/// A private entity: its generated items are private too.
#[derive(Entity)]
#[pgrepo(table = "events")]
struct Event {
    #[pgrepo(id, generated)]
    id: i64,
}

/// A borrowed view inserting tags: a keyword field by name, another renamed.
#[derive(Insertable)]
#[pgrepo(entity = Tag)]
pub struct TagView<'a> {
    /// Fills `name`.
    #[pgrepo(field = "name")]
    pub label: &'a str,
    /// Fills `owner_id`.
    pub owner_id: Option<i64>,
    /// Fills `type`.
    pub r#type: &'a str,
}

/// The column the library's upsert conflicts on, for an entity the derive made `Upsertable`.
fn is_upsertable<E: Upsertable>() -> Option<usize> {
    pgrepo::__private::conflict_column::<E>()
}

fn is_insertable<N: Insertable>() {}

fn is_from_row<R: FromRow>() -> usize {
    R::COLUMN_COUNT
}

fn main() {
    // An insertable declared in a function body, for an entity declared there too.
    #[derive(Entity)]
    #[pgrepo(table = "local")]
    struct Local {
        #[pgrepo(id, generated)]
        id: i64,
        kind: LocalKind,
    }
    #[derive(Debug, Clone, Copy, PartialEq, Eq, pgrepo::TextEnum)]
    enum LocalKind {
        A,
    }
    #[derive(Insertable)]
    #[pgrepo(entity = Local)]
    struct LocalNew {
        kind: LocalKind,
    }
    is_insertable::<LocalNew>();
    is_insertable::<TagView<'static>>();
    let view = TagView {
        label: "l",
        owner_id: None,
        r#type: "t",
    };
    // Each column the database does not fill has a value.
    for column in 0..3 {
        let _ = Insertable::param(&view, column);
    }
    // The insert struct has every non-generated field, and the derives asked for.
    let new = NewUser {
        email: "a@example.com".to_owned(),
        name: "A".to_owned(),
        hair_color: None,
        team_id: 1,
    };
    let _copy = new.clone();
    let _ = format!("{new:?}");
    is_insertable::<NewUser>();
    is_insertable::<TagDraft>();
    is_insertable::<NewEvent>();
    let _draft = TagDraft {
        name: "rust".to_owned(),
        owner_id: Some(1),
        r#type: "lang".to_owned(),
    };

    assert_eq!(<User as Entity>::TABLE, "users");
    assert_eq!(<User as Entity>::SCHEMA, None);
    assert_eq!(<Tag as Entity>::SCHEMA, Some("blog"));
    assert_eq!(User::primary_key(), 0);
    assert_eq!(is_from_row::<User>(), 6);
    assert_eq!(is_from_row::<(User, Option<Team>)>(), 8);

    let columns = User::columns();
    let names: Vec<_> = columns.iter().map(|c| c.name).collect();
    assert_eq!(
        names,
        ["id", "email", "name", "hair", "team_id", "created_at"]
    );
    assert_eq!(columns[3].field, "hair_color");
    assert_eq!(columns[3].rust_type, "Option<String>");
    assert!(columns[3].nullable && !columns[2].nullable);
    assert!(columns[0].primary_key && columns[0].generated);
    assert!(columns[1].lookup && columns[1].unique);
    assert!(columns[4].lookup && !columns[4].unique);
    assert!(columns[5].generated && !columns[5].lookup);
    assert_eq!(
        columns[1].pg_type,
        pgrepo::tokio_postgres::types::Type::TEXT
    );
    assert_eq!(
        columns[4].array_type,
        pgrepo::tokio_postgres::types::Type::INT8_ARRAY
    );
    assert!((columns[4].accepts)(
        &pgrepo::tokio_postgres::types::Type::INT8
    ));
    assert_eq!(User::default_order(), &[(5, Direction::Desc)]);
    assert_eq!(Team::default_order(), &[]);

    // Conflict targets: the first unique field, else a provided primary key.
    assert_eq!(is_upsertable::<User>(), Some(1));
    assert_eq!(is_upsertable::<Team>(), Some(1));
    assert_eq!(is_upsertable::<Tag>(), Some(0));

    // Typed constants.
    let email: pgrepo::Lookup<User, String> = User::EMAIL;
    assert_eq!(email.column(), 1);
    let team_id: pgrepo::Lookup<User, i64> = User::TEAM_ID;
    assert_eq!(team_id.column(), 4);
    let _team: pgrepo::BelongsTo<User, Team> = User::TEAM;
    let _owner: pgrepo::BelongsTo<Tag, User> = Tag::OWNER;
    let owner_id: pgrepo::Lookup<Tag, i64> = Tag::OWNER_ID;
    assert_eq!(owner_id.column(), 1);
    let _type: pgrepo::Lookup<Tag, String> = Tag::TYPE;
    let _by_name: pgrepo::SortKey<User> = User::BY_NAME;

    assert_eq!(Event::columns().len(), 1);
}
