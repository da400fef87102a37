//! Hand-written SQL decodes by column name (`query_as`): fields find their columns whatever
//! the order, mismatches are typed errors naming the columns, joins select each entity with
//! `Entity::select_list`, and scalars and tuples of scalars decode with their types checked.

use pgrepo::{Entity, Error, Sql, StatementMode};
use uuid::Uuid;

use crate::common::*;

/// Declared in another order than the table's columns `(id, email, name)`: decoded by position,
/// `SELECT *` would put the email in `name` and the name in `email`.
#[derive(Debug, Clone, PartialEq, Entity)]
#[pgrepo(table = "accounts")]
struct Account {
    #[pgrepo(id)]
    id: i64,
    name: String,
    email: String,
}

const ACCOUNTS: &str = "
    CREATE TABLE accounts (id BIGINT PRIMARY KEY, email TEXT NOT NULL, name TEXT NOT NULL);
    INSERT INTO accounts VALUES (1, 'ada@example.com', 'Ada'), (2, 'bob@example.com', 'Bob');
";

fn ada() -> Account {
    Account {
        id: 1,
        name: "Ada".into(),
        email: "ada@example.com".into(),
    }
}

async fn with_accounts(prefix: &str) -> TestDb {
    let t = fresh(prefix).await;
    t.db.batch_execute(ACCOUNTS).await.unwrap();
    t
}

/// The `ColumnMismatch` of `error`, as (missing, extra, duplicate, unlabelled).
fn mismatch(error: &Error) -> (Vec<String>, Vec<String>, Vec<String>, Vec<&'static str>) {
    match error {
        Error::ColumnMismatch {
            missing,
            extra,
            duplicate,
            unlabelled,
            ..
        } => (
            missing.clone(),
            extra.clone(),
            duplicate.clone(),
            unlabelled.clone(),
        ),
        other => panic!("expected ColumnMismatch, got {other:?}"),
    }
}

fn names(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

#[tokio::test]
async fn select_star_decodes_fields_by_name_not_position() {
    for mode in [StatementMode::Prepared, StatementMode::Unnamed] {
        let t = fresh_with("by_name_swap", |b| b.statement_mode(mode)).await;
        t.db.batch_execute(ACCOUNTS).await.unwrap();
        let rows: Vec<Account> =
            t.db.query_as("SELECT * FROM accounts ORDER BY id", &[])
                .await
                .unwrap();
        assert_eq!(rows[0], ada(), "{mode:?}");
        assert_eq!(rows[1].name, "Bob", "{mode:?}");
    }
    // By position only when asked: the same query then swaps the two text columns.
    let t = with_accounts("by_position_swap").await;
    let rows: Vec<Account> =
        t.db.query_as_positional("SELECT * FROM accounts WHERE id = 1", &[])
            .await
            .unwrap();
    assert_eq!(rows[0].name, "ada@example.com");
}

#[tokio::test]
async fn a_missing_column_is_named_and_nothing_runs() {
    let t = with_accounts("by_name_missing").await;
    let err =
        t.db.query_as::<Account>("SELECT id, email FROM accounts", &[])
            .await
            .unwrap_err();
    assert_eq!(mismatch(&err), (names(&["name"]), vec![], vec![], vec![]));
    let message = err.to_string();
    assert!(message.contains("missing `name`"), "{message}");
    assert!(message.contains("`AS`"), "{message}");
    // Checked against the prepared statement before it runs: the write does not happen.
    let err =
        t.db.query_as::<Account>(
            "INSERT INTO accounts VALUES (3, 'cy@example.com', 'Cy') RETURNING id, email",
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!(mismatch(&err).0, names(&["name"]));
    let count: Vec<i64> =
        t.db.query_as("SELECT count(*) FROM accounts", &[])
            .await
            .unwrap();
    assert_eq!(count, vec![2]);
}

#[tokio::test]
async fn an_extra_column_is_named() {
    let t = with_accounts("by_name_extra").await;
    let err =
        t.db.query_as::<Account>("SELECT *, 1 AS bonus FROM accounts", &[])
            .await
            .unwrap_err();
    assert_eq!(mismatch(&err), (vec![], names(&["bonus"]), vec![], vec![]));
    assert!(err.to_string().contains("extra `bonus`"), "{err}");
    // Aliasing to the field's name is the fix the message gives.
    let rows: Vec<Account> =
        t.db.query_as(
            "SELECT id, email, name || '!' AS name FROM accounts WHERE id = 1",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows[0].name, "Ada!");
}

#[tokio::test]
async fn duplicate_column_names_are_an_error_not_a_choice() {
    let t = with_accounts("by_name_duplicate").await;
    let err =
        t.db.query_as::<Account>(
            "SELECT a.*, b.* FROM accounts a JOIN accounts b ON b.id = a.id",
            &[],
        )
        .await
        .unwrap_err();
    let (missing, extra, duplicate, _) = mismatch(&err);
    assert_eq!(duplicate, names(&["id", "name", "email"]), "{err}");
    assert!(missing.is_empty() && extra.is_empty(), "{err}");
    assert!(err.to_string().contains("select_list"), "{err}");

    // A tuple needs each entity's columns labelled with an alias: `SELECT a.*, b.*` has none.
    let err =
        t.db.query_as::<(Account, Account)>(
            "SELECT a.*, b.* FROM accounts a JOIN accounts b ON b.id = a.id",
            &[],
        )
        .await
        .unwrap_err();
    let (_, _, _, unlabelled) = mismatch(&err);
    assert_eq!(unlabelled.len(), 2, "{err}");
    assert!(unlabelled[0].ends_with("Account"), "{err}");
}

#[tokio::test]
async fn a_join_decodes_each_entity_from_its_select_list() {
    let t = fresh("by_name_join").await;
    let a = t.db.repo::<User>().insert(&new_user(1)).await.unwrap();
    let b = t.db.repo::<User>().insert(&new_user(2)).await.unwrap();
    let post =
        t.db.repo::<Post>()
            .insert(&NewPost {
                user_id: a.id,
                title: "hello".into(),
                body: None,
            })
            .await
            .unwrap();
    assert_eq!(
        Post::select_list("p").to_string(),
        r#""p"."id" AS "p.id", "p"."user_id" AS "p.user_id", "p"."title" AS "p.title", "p"."body" AS "p.body""#
    );
    // Each entity takes the columns of one alias, in order, and finds its fields among them
    // by name; both have an `id`, which the labels `u.id` and `p.id` tell apart.
    let sql = format!(
        "SELECT {}, {} FROM users u LEFT JOIN posts p ON p.user_id = u.id ORDER BY u.id",
        User::select_list("u"),
        Post::select_list("p"),
    );
    let rows: Vec<(User, Option<Post>)> = t.db.query_as(Sql::read(&sql), &[]).await.unwrap();
    assert_eq!(rows, vec![(a.clone(), Some(post.clone())), (b, None)]);

    // One entity's select list alone decodes into the entity.
    let sql = format!("SELECT {} FROM posts p", Post::select_list("p"));
    let posts: Vec<Post> = t.db.query_as(Sql::read(&sql), &[]).await.unwrap();
    assert_eq!(posts, vec![post]);

    // An entity and an aggregate: the scalar takes the next column.
    let sql = format!(
        "SELECT {}, count(p.id) FROM users u LEFT JOIN posts p ON p.user_id = u.id \
         GROUP BY u.id ORDER BY u.id",
        User::select_list("u"),
    );
    let counts: Vec<(User, i64)> = t.db.query_as(Sql::read(&sql), &[]).await.unwrap();
    assert_eq!(counts[0], (a, 1));
    assert_eq!(counts[1].1, 0);
}

#[tokio::test]
async fn scalars_and_tuples_of_scalars() {
    let t = with_accounts("by_name_scalars").await;
    let count: Vec<i64> =
        t.db.query_as("SELECT count(*) FROM accounts", &[])
            .await
            .unwrap();
    assert_eq!(count, vec![2]);

    let id = Uuid::new_v4();
    let pairs: Vec<(Uuid, i64)> =
        t.db.query_as("SELECT $1::uuid, count(*) FROM accounts", &[&id])
            .await
            .unwrap();
    assert_eq!(pairs, vec![(id, 2)]);
    let pairs: Vec<(i64, String)> =
        t.db.query_as("SELECT id, name FROM accounts ORDER BY id", &[])
            .await
            .unwrap();
    assert_eq!(pairs, vec![(1, "Ada".into()), (2, "Bob".into())]);

    let nulls: Vec<Option<String>> =
        t.db.query_as("SELECT NULL::text UNION ALL SELECT 'x'", &[])
            .await
            .unwrap();
    assert_eq!(nulls, vec![None, Some("x".to_owned())]);
    // NULL into a type that is not an `Option` is a decode error, not a panic.
    let err =
        t.db.query_as::<String>("SELECT NULL::text", &[])
            .await
            .unwrap_err();
    assert!(matches!(err, Error::Decode { .. }), "{err:?}");

    // The count of a tuple is checked: the missing column says which and of what type.
    let err =
        t.db.query_as::<(i64, String)>("SELECT 1::bigint", &[])
            .await
            .unwrap_err();
    assert_eq!(mismatch(&err).0, names(&["#2 (String)"]));
    let err =
        t.db.query_as::<i64>("SELECT 1::bigint, 2::bigint AS two", &[])
            .await
            .unwrap_err();
    assert_eq!(mismatch(&err).1, names(&["two"]));
}

#[tokio::test]
async fn a_column_of_the_wrong_type_is_an_error_naming_it() {
    let t = with_accounts("by_name_types").await;
    let err =
        t.db.query_as::<i32>("SELECT count(*) FROM accounts", &[])
            .await
            .unwrap_err();
    match &err {
        Error::ColumnType {
            column,
            pg_type,
            rust_type,
            ..
        } => {
            assert_eq!((column.as_str(), pg_type.as_str()), ("count", "int8"));
            assert_eq!(*rust_type, "i32");
        }
        other => panic!("expected ColumnType, got {other:?}"),
    }
    assert!(err.to_string().contains("`count`"), "{err}");
    // An entity's field too, before any row is decoded.
    let err =
        t.db.query_as::<Account>("SELECT id, email, 7 AS name FROM accounts", &[])
            .await
            .unwrap_err();
    assert!(
        matches!(&err, Error::ColumnType { column, pg_type, .. } if column == "name" && pg_type == "int4"),
        "{err:?}"
    );
}

#[tokio::test]
async fn positional_decoding_checks_the_count() {
    let t = with_accounts("by_position_count").await;
    let err =
        t.db.query_as_positional::<Account>("SELECT id, email FROM accounts", &[])
            .await
            .unwrap_err();
    assert_eq!(mismatch(&err).0, names(&["email"]), "{err}");
}
