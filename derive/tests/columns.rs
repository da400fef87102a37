//! The derive and the library agree on which columns an insert writes, and on whether an entity
//! can be upserted.
//!
//! The derive decides both at compile time (the fields of the `New…` struct, and whether it
//! implements `Upsertable`); the library decides them at run time from the `ColumnDef` flags the
//! derive emits (`ColumnDef::is_inserted`, `conflict_column`). Each side keeps its rule in one
//! place; these tests fail when the two rules drift apart.

use std::marker::PhantomData;

use pgrepo::{Entity, Insertable};

/// A team.
#[derive(Debug, Entity)]
#[pgrepo(table = "teams")]
pub struct Team {
    #[pgrepo(id, generated)]
    id: i64,
    name: String,
}

/// Generated key, a unique column, a renamed nullable column, a foreign key, a generated column.
#[derive(Debug, Entity)]
#[pgrepo(table = "users")]
pub struct User {
    #[pgrepo(id, generated)]
    id: i64,
    #[pgrepo(unique)]
    email: String,
    #[pgrepo(column = "hair")]
    hair_color: Option<String>,
    #[pgrepo(belongs_to = Team)]
    team_id: i64,
    #[pgrepo(generated)]
    created_at: i64,
}

/// A key the caller provides, a keyword field.
#[derive(Debug, Entity)]
#[pgrepo(table = "tags")]
pub struct Tag {
    #[pgrepo(id)]
    name: String,
    #[pgrepo(lookup)]
    r#type: String,
}

/// Only a provided key is written; the database fills the rest.
#[derive(Debug, Entity)]
#[pgrepo(table = "counters")]
pub struct Counter {
    #[pgrepo(id)]
    key: String,
    #[pgrepo(generated)]
    hits: i64,
}

/// Nothing to write: no conflict target, an empty insert struct.
#[derive(Debug, Entity)]
#[pgrepo(table = "ticks")]
pub struct Tick {
    #[pgrepo(id, generated)]
    id: i64,
    #[pgrepo(generated)]
    at: i64,
}

/// Whether `$entity` implements `Upsertable`, as a value (the inherent constant applies only
/// when the bound holds; otherwise the trait's default does).
macro_rules! implements_upsertable {
    ($entity:ty) => {{
        struct Probe<T>(PhantomData<T>);
        #[allow(dead_code)]
        trait Fallback {
            const UPSERTABLE: bool = false;
        }
        impl<T> Fallback for Probe<T> {}
        #[allow(dead_code)]
        impl<T: pgrepo::Upsertable> Probe<T> {
            const UPSERTABLE: bool = true;
        }
        <Probe<$entity>>::UPSERTABLE
    }};
}

/// The columns the library inserts into, by field name, in the order it binds them.
fn library_inserts<E: Entity>() -> Vec<&'static str> {
    E::columns()
        .iter()
        .filter(|column| column.is_inserted())
        .map(|column| column.field)
        .collect()
}

/// Indexes of the columns the library inserts into.
fn library_insert_indexes<E: Entity>() -> Vec<usize> {
    E::columns()
        .iter()
        .enumerate()
        .filter(|(_, column)| column.is_inserted())
        .map(|(index, _)| index)
        .collect()
}

/// Asserts that the insert struct `new` fills exactly the columns the library inserts into, and
/// with the value of the field of the same name (`values`, as `Debug` prints them).
fn assert_inserts<N: Insertable>(new: &N, derive_columns: &[usize], values: &[(&str, &str)]) {
    assert_eq!(
        library_insert_indexes::<N::Entity>(),
        derive_columns,
        "the derive's insert struct and the library's INSERT have different columns"
    );
    let fields: Vec<&str> = values.iter().map(|(field, _)| *field).collect();
    assert_eq!(library_inserts::<N::Entity>(), fields);
    for (index, (_, value)) in derive_columns.iter().zip(values) {
        // Panics (`no_such_column`) when the insert struct has no value for the column.
        assert_eq!(format!("{:?}", new.param(*index)), *value);
    }
}

#[test]
fn the_insert_struct_fills_the_columns_the_library_inserts() {
    let user = NewUser {
        email: "ada@example.com".to_owned(),
        hair_color: None,
        team_id: 7,
    };
    assert_inserts(
        &user,
        __pgrepo_fields_User::INSERT_COLUMNS,
        &[
            ("email", "\"ada@example.com\""),
            ("hair_color", "None"),
            ("team_id", "7"),
        ],
    );
    let tag = NewTag {
        name: "rust".to_owned(),
        r#type: "lang".to_owned(),
    };
    assert_inserts(
        &tag,
        __pgrepo_fields_Tag::INSERT_COLUMNS,
        &[("name", "\"rust\""), ("type", "\"lang\"")],
    );
    let counter = NewCounter {
        key: "visits".to_owned(),
    };
    assert_inserts(
        &counter,
        __pgrepo_fields_Counter::INSERT_COLUMNS,
        &[("key", "\"visits\"")],
    );
    assert_inserts(&NewTick {}, __pgrepo_fields_Tick::INSERT_COLUMNS, &[]);
    let team = NewTeam {
        name: "core".to_owned(),
    };
    assert_inserts(
        &team,
        __pgrepo_fields_Team::INSERT_COLUMNS,
        &[("name", "\"core\"")],
    );
}

#[test]
fn updates_write_the_inserted_columns_but_the_key() {
    fn updated<E: Entity>() -> Vec<&'static str> {
        E::columns()
            .iter()
            .filter(|column| column.is_updated())
            .map(|column| column.field)
            .collect()
    }
    assert_eq!(updated::<User>(), ["email", "hair_color", "team_id"]);
    assert_eq!(updated::<Tag>(), ["type"]);
    assert!(updated::<Counter>().is_empty());
    assert!(updated::<Tick>().is_empty());
}

#[test]
fn upsertable_exactly_when_the_library_finds_a_conflict_target() {
    let cases = [
        (
            "User",
            implements_upsertable!(User),
            pgrepo::__private::conflict_column::<User>(),
        ),
        (
            "Team",
            implements_upsertable!(Team),
            pgrepo::__private::conflict_column::<Team>(),
        ),
        (
            "Tag",
            implements_upsertable!(Tag),
            pgrepo::__private::conflict_column::<Tag>(),
        ),
        (
            "Counter",
            implements_upsertable!(Counter),
            pgrepo::__private::conflict_column::<Counter>(),
        ),
        (
            "Tick",
            implements_upsertable!(Tick),
            pgrepo::__private::conflict_column::<Tick>(),
        ),
    ];
    for (entity, derive, library) in cases {
        assert_eq!(derive, library.is_some(), "{entity}: {library:?}");
    }
    // The targets themselves: the first unique column, else a provided key.
    assert_eq!(pgrepo::__private::conflict_column::<User>(), Some(1));
    assert_eq!(pgrepo::__private::conflict_column::<Tag>(), Some(0));
    assert_eq!(pgrepo::__private::conflict_column::<Counter>(), Some(0));
}
