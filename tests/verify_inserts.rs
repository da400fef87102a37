//! What `verify` says about inserts and native enums, against a real server: a struct whose
//! inserts cannot succeed (a `NOT NULL` column it leaves out or marks `generated` that nothing
//! fills, a field written into a `GENERATED ALWAYS` column), a `PgEnum` whose labels are not its
//! type's (either way), and arrays of the wrong element type. Each rule is shown failing the way
//! the report says, and the mappings that work are shown passing.

use pgrepo::{Entity, Error, InsertFailure, Mismatch, PgEnum, SchemaReport, TextEnum};

use crate::common::*;

/// The report of a `verify` that must fail.
async fn mismatches<S: pgrepo::EntitySet>(t: &TestDb) -> SchemaReport {
    match t.db.verify::<S>().await {
        Err(Error::SchemaMismatch(report)) => report,
        other => panic!("verify must report a mismatch, got {other:?}"),
    }
}

/// The SQLSTATE of a failed statement.
fn sqlstate(err: &Error) -> Option<&str> {
    err.code().map(|code| code.code())
}

// A NOT NULL column without a default that the entity has no field for.

#[derive(Debug, Entity)]
#[pgrepo(table = "notes")]
struct NoteWithoutAuthor {
    #[pgrepo(id, generated)]
    id: i64,
    body: String,
}

/// The same table through a caller's own struct: it writes the entity's columns, no more.
#[derive(pgrepo::Insertable)]
#[pgrepo(entity = NoteWithoutAuthor)]
struct NoteDraft<'a> {
    body: &'a str,
}

#[tokio::test]
async fn a_not_null_column_the_entity_leaves_out_is_reported() {
    let t = fresh("verify_ins_missing").await;
    // `editor` is NOT NULL by its domain, not by the column.
    t.db.batch_execute(
        "CREATE DOMAIN required_text AS TEXT NOT NULL;
         CREATE TABLE notes (id BIGSERIAL PRIMARY KEY, body TEXT NOT NULL, \
             author TEXT NOT NULL, editor required_text);",
    )
    .await
    .unwrap();

    let report = mismatches::<NoteWithoutAuthor>(&t).await;
    let left_out = |column: &str| Mismatch::InsertWouldFail {
        table: "notes".into(),
        column: column.into(),
        reason: InsertFailure::ColumnNotInEntity,
    };
    assert_eq!(
        report.mismatches,
        [left_out("author"), left_out("editor")],
        "{report}"
    );
    let text = report.mismatches[0].to_string();
    assert!(text.starts_with("`notes`.`author`: "), "{text}");
    assert!(text.contains("23502"), "{text}");
    assert!(text.contains("add a field for it"), "{text}");
    assert!(text.contains("add a DEFAULT"), "{text}");

    // What the report foretells: every insert fails, from the `New…` struct or an `Insertable`.
    let notes = t.db.repo::<NoteWithoutAuthor>();
    let err = notes
        .insert(&NewNoteWithoutAuthor { body: "hi".into() })
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), Some("23502"), "{err}");
    let err = notes.insert(&NoteDraft { body: "hi" }).await.unwrap_err();
    assert_eq!(sqlstate(&err), Some("23502"), "{err}");

    // With defaults, the same struct is right, and inserts succeed.
    t.db.batch_execute(
        "ALTER TABLE notes ALTER COLUMN author SET DEFAULT 'anonymous';
         ALTER TABLE notes ALTER COLUMN editor SET DEFAULT 'nobody';",
    )
    .await
    .unwrap();
    t.db.verify::<NoteWithoutAuthor>().await.unwrap();
    notes.insert(&NoteDraft { body: "hi" }).await.unwrap();
}

// A `generated` field whose column nothing fills.

#[derive(Debug, Entity)]
#[pgrepo(table = "events")]
struct EventWithGeneratedStamp {
    #[pgrepo(id, generated)]
    id: i64,
    name: String,
    #[pgrepo(generated)]
    stamp: i64,
}

#[tokio::test]
async fn a_generated_field_nothing_fills_is_reported() {
    let t = fresh("verify_ins_generated").await;
    t.db.batch_execute(
        "CREATE TABLE events (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL, stamp BIGINT NOT NULL)",
    )
    .await
    .unwrap();

    let report = mismatches::<EventWithGeneratedStamp>(&t).await;
    assert_eq!(
        report.mismatches,
        [Mismatch::InsertWouldFail {
            table: "events".into(),
            column: "stamp".into(),
            reason: InsertFailure::GeneratedWithoutDefault,
        }],
        "{report}"
    );
    let text = report.mismatches[0].to_string();
    assert!(text.starts_with("`events`.`stamp`: "), "{text}");
    assert!(text.contains("23502"), "{text}");
    assert!(text.contains("drop `generated` from the field"), "{text}");
    assert!(text.contains("add a DEFAULT"), "{text}");

    let err =
        t.db.repo::<EventWithGeneratedStamp>()
            .insert(&NewEventWithGeneratedStamp { name: "a".into() })
            .await
            .unwrap_err();
    assert_eq!(sqlstate(&err), Some("23502"), "{err}");
}

// Fields written into columns the database always fills.

#[derive(Debug, Entity)]
#[pgrepo(table = "orders")]
struct OrderWritingGeneratedColumns {
    #[pgrepo(id)]
    id: i64,
    quantity: i32,
    price: i64,
    total: i64,
}

#[tokio::test]
async fn a_field_written_into_a_generated_always_column_is_reported() {
    let t = fresh("verify_ins_always").await;
    t.db.batch_execute(
        "CREATE TABLE orders (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, \
             quantity INTEGER NOT NULL, price BIGINT NOT NULL, \
             total BIGINT NOT NULL GENERATED ALWAYS AS (quantity * price) STORED)",
    )
    .await
    .unwrap();

    let report = mismatches::<OrderWritingGeneratedColumns>(&t).await;
    assert_eq!(
        report.mismatches,
        [
            Mismatch::InsertWouldFail {
                table: "orders".into(),
                column: "id".into(),
                reason: InsertFailure::WritesIdentityAlways,
            },
            Mismatch::InsertWouldFail {
                table: "orders".into(),
                column: "total".into(),
                reason: InsertFailure::WritesGeneratedColumn,
            }
        ],
        "{report}"
    );
    for (m, column) in report.mismatches.iter().zip(["id", "total"]) {
        let text = m.to_string();
        assert!(
            text.starts_with(&format!("`orders`.`{column}`: ")),
            "{text}"
        );
        assert!(text.contains("428C9"), "{text}");
        assert!(
            text.contains("mark the field `#[pgrepo(generated)]`"),
            "{text}"
        );
    }

    let err =
        t.db.repo::<OrderWritingGeneratedColumns>()
            .insert(&NewOrderWritingGeneratedColumns {
                id: 1,
                quantity: 2,
                price: 3,
                total: 6,
            })
            .await
            .unwrap_err();
    assert_eq!(sqlstate(&err), Some("428C9"), "{err}");
}

// Every way the database fills a column, mapped right.

#[derive(Debug, Entity)]
#[pgrepo(table = "filled")]
struct Filled {
    #[pgrepo(id, generated)]
    id: i64,
    #[pgrepo(generated)]
    serial_number: i32,
    #[pgrepo(generated)]
    created: i64,
    #[pgrepo(generated)]
    doubled: i64,
    #[pgrepo(generated)]
    by_default: i64,
    /// An identity `BY DEFAULT` takes a value.
    given: i64,
    #[pgrepo(generated)]
    checked: i32,
    name: String,
}

#[tokio::test]
async fn columns_the_database_fills_are_not_reported() {
    let t = fresh("verify_ins_filled").await;
    t.db.batch_execute(
        "CREATE DOMAIN positive AS INTEGER DEFAULT 1 CHECK (VALUE > 0);
         CREATE TABLE filled (
             id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
             serial_number SERIAL NOT NULL,
             created BIGINT NOT NULL DEFAULT 42,
             doubled BIGINT NOT NULL GENERATED ALWAYS AS (created * 2) STORED,
             by_default BIGINT NOT NULL GENERATED BY DEFAULT AS IDENTITY,
             given BIGINT NOT NULL GENERATED BY DEFAULT AS IDENTITY,
             checked positive NOT NULL,
             name TEXT NOT NULL,
             -- Columns the entity does not know: nullable, or filled by the database.
             remark TEXT,
             region TEXT NOT NULL DEFAULT 'eu',
             tally BIGINT GENERATED ALWAYS AS IDENTITY,
             level positive NOT NULL
         );",
    )
    .await
    .unwrap();
    let report = t.db.verify::<Filled>().await.unwrap();
    assert!(report.is_ok(), "{report}");
    let row =
        t.db.repo::<Filled>()
            .insert(&NewFilled {
                given: 7,
                name: "a".into(),
            })
            .await
            .unwrap();
    assert_eq!(
        (
            row.serial_number,
            row.created,
            row.doubled,
            row.given,
            row.checked
        ),
        (1, 42, 84, 7, 1)
    );
}

#[derive(Debug, Entity)]
#[pgrepo(table = "stamped")]
struct Stamped {
    #[pgrepo(id, generated)]
    id: i64,
    #[pgrepo(generated)]
    stamp: i64,
}

#[tokio::test]
async fn a_before_insert_trigger_may_fill_the_columns_left_out() {
    let t = fresh("verify_ins_trigger").await;
    t.db.batch_execute(
        "CREATE TABLE stamped (id BIGSERIAL PRIMARY KEY, stamp BIGINT NOT NULL, \
             origin TEXT NOT NULL);
         CREATE FUNCTION fill_stamped() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN NEW.stamp := 5; NEW.origin := 'trigger'; RETURN NEW; END $$;
         CREATE TRIGGER fill_stamped BEFORE INSERT ON stamped
             FOR EACH ROW EXECUTE FUNCTION fill_stamped();",
    )
    .await
    .unwrap();
    let report = t.db.verify::<Stamped>().await.unwrap();
    assert!(report.is_ok(), "{report}");
    let row = t.db.repo::<Stamped>().insert(&NewStamped {}).await.unwrap();
    assert_eq!(row.stamp, 5);

    // A disabled trigger fills nothing: the report is back.
    t.db.batch_execute("ALTER TABLE stamped DISABLE TRIGGER fill_stamped")
        .await
        .unwrap();
    let report = mismatches::<Stamped>(&t).await;
    let columns: Vec<_> = report
        .mismatches
        .iter()
        .map(|m| match m {
            Mismatch::InsertWouldFail { column, reason, .. } => (column.as_str(), *reason),
            other => panic!("unexpected {other}"),
        })
        .collect();
    assert_eq!(
        columns,
        [
            ("stamp", InsertFailure::GeneratedWithoutDefault),
            ("origin", InsertFailure::ColumnNotInEntity)
        ]
    );
}

// Native enum labels.

#[derive(Debug, Clone, Copy, PartialEq, Eq, PgEnum)]
#[pgrepo(type_name = "tier", rename_all = "snake_case")]
enum Tier {
    Free,
    Pro,
    Gold,
}

#[derive(Debug, Entity)]
#[pgrepo(table = "members")]
struct Member {
    #[pgrepo(id, generated)]
    id: i64,
    tier: Tier,
    past_tiers: Vec<Tier>,
}

#[tokio::test]
async fn native_enum_labels_are_compared_both_ways() {
    let t = fresh("verify_enum_labels").await;
    t.db.batch_execute(
        "CREATE TYPE tier AS ENUM ('free', 'pro', 'legacy');
         CREATE TABLE members (id BIGSERIAL PRIMARY KEY, tier tier NOT NULL, \
             past_tiers tier[] NOT NULL);
         INSERT INTO members (tier, past_tiers) VALUES ('legacy', '{}');",
    )
    .await
    .unwrap();

    let report = mismatches::<Member>(&t).await;
    let expected = |column: &str, rust_type: &str| Mismatch::EnumLabels {
        table: "members".into(),
        column: column.into(),
        rust_type: rust_type.into(),
        type_name: "tier".into(),
        not_in_database: vec!["gold".into()],
        not_in_rust: vec!["legacy".into()],
    };
    assert_eq!(
        report.mismatches,
        [
            expected("tier", "Tier"),
            expected("past_tiers", "Vec<Tier>")
        ],
        "{report}"
    );
    let text = report.mismatches[0].to_string();
    assert!(text.starts_with("`members`.`tier`: "), "{text}");
    assert!(text.contains("('gold')"), "{text}");
    assert!(text.contains("ALTER TYPE tier ADD VALUE 'gold'"), "{text}");
    assert!(text.contains("('legacy')"), "{text}");
    assert!(text.contains("add a variant"), "{text}");

    // Both directions fail as the report says: writing `gold`, reading `legacy`.
    let members = t.db.repo::<Member>();
    let err = members
        .insert(&NewMember {
            tier: Tier::Gold,
            past_tiers: vec![],
        })
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err), Some("22P02"), "{err}");
    let err = members.get(1).await.unwrap_err();
    assert!(err.to_string().contains("legacy"), "{err}");

    // Once the type has the Rust labels and no others, nothing is reported.
    t.db.batch_execute("DELETE FROM members; ALTER TYPE tier RENAME VALUE 'legacy' TO 'gold';")
        .await
        .unwrap();
    t.db.verify::<Member>().await.unwrap();
}

// A `PgEnum` on a column of another type, and arrays of the wrong element type.

#[derive(Debug, Clone, Copy, PartialEq, Eq, TextEnum)]
#[pgrepo(rename_all = "snake_case")]
enum TierAsText {
    Free,
    Pro,
    Gold,
}

#[derive(Debug, Entity)]
#[pgrepo(table = "mistyped")]
struct Mistyped {
    #[pgrepo(id, generated)]
    id: i64,
    /// `tier` on a column of another enum type.
    other_enum: Tier,
    /// `tier` on a text column.
    text: Tier,
    /// Read: `integer[]` is no `text[]`.
    numbers: Vec<String>,
    /// Read: `text[]` is no `tier[]`.
    labels: Vec<Tier>,
    /// Bound: a text enum array reads from `tier[]` but is bound as `text[]`.
    bound_as_text: Vec<TierAsText>,
}

#[tokio::test]
async fn a_pg_enum_or_an_array_on_a_column_of_another_type_is_reported() {
    let t = fresh("verify_enum_types").await;
    t.db.batch_execute(
        "CREATE TYPE tier AS ENUM ('free', 'pro', 'gold');
         CREATE TYPE plan_tier AS ENUM ('free', 'pro', 'gold');
         CREATE TABLE mistyped (id BIGSERIAL PRIMARY KEY, other_enum plan_tier NOT NULL, \
             text TEXT NOT NULL, numbers INTEGER[] NOT NULL, labels TEXT[] NOT NULL, \
             bound_as_text tier[] NOT NULL);",
    )
    .await
    .unwrap();
    let report = mismatches::<Mistyped>(&t).await;
    let found: Vec<(&str, &str, &str)> = report
        .mismatches
        .iter()
        .map(|m| match m {
            Mismatch::WrongType { column, found, .. } => ("read", column.as_str(), found.as_str()),
            Mismatch::ParamType {
                column, declared, ..
            } => ("bind", column.as_str(), declared.as_str()),
            other => panic!("unexpected {other}"),
        })
        .collect();
    assert_eq!(
        found,
        [
            ("read", "other_enum", "plan_tier"),
            ("read", "text", "text"),
            ("read", "numbers", "_int4"),
            ("read", "labels", "_text"),
            ("bind", "bound_as_text", "text[]"),
        ],
        "{report}"
    );
}
