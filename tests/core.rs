//! The repository, statement cache, schema-change safety, verification, errors, transactions.

use std::time::Duration;

use pgrepo::{Db, Entity, Error, Mismatch};

use crate::common::*;

#[tokio::test]
async fn crud_round_trip() {
    let t = fresh("crud").await;
    let users = t.db.repo::<User>();

    let ada = users.insert(&new_user(1)).await.unwrap();
    assert!(ada.id > 0, "generated id read back");
    assert_eq!(ada.email, "user1@example.com");
    assert_eq!(ada.status, Status::Active);
    assert!(ada.created_at <= time::OffsetDateTime::now_utc());

    assert_eq!(users.get(ada.id).await.unwrap().as_ref(), Some(&ada));
    assert_eq!(users.get(ada.id + 1000).await.unwrap(), None);

    let mut changed = ada.clone();
    changed.name = "Ada Lovelace".into();
    changed.hair_color = None;
    changed.status = Status::OnLeave;
    changed.profile = Some(serde_json::json!({"langs": ["en", "fr"]}));
    let stored = users.update(&changed).await.unwrap();
    assert_eq!(stored, changed);
    assert_eq!(users.get(ada.id).await.unwrap(), Some(changed.clone()));

    // Upsert on the unique email: same row, new values.
    let mut again = new_user(1);
    again.name = "Countess".into();
    let upserted = users.upsert(&again).await.unwrap();
    assert_eq!(upserted.id, ada.id);
    assert_eq!(upserted.name, "Countess");
    let fresh_one = users.upsert(&new_user(2)).await.unwrap();
    assert_ne!(fresh_one.id, ada.id);

    assert_eq!(users.count().await.unwrap(), 2);
    assert_eq!(
        users
            .find_one_by(User::EMAIL, "user2@example.com".to_owned())
            .await
            .unwrap()
            .map(|u| u.id),
        Some(fresh_one.id)
    );
    // new_user(2) has black hair; Ada's was cleared by the update then restored by upsert.
    let black = users
        .find_by(User::HAIR_COLOR, "black".to_owned())
        .await
        .unwrap();
    assert_eq!(
        black.iter().map(|u| u.id).collect::<Vec<_>>(),
        vec![fresh_one.id]
    );
    assert_eq!(
        users
            .count_by(User::HAIR_COLOR, "brown".to_owned())
            .await
            .unwrap(),
        1
    );

    assert!(users.delete(ada.id).await.unwrap());
    assert!(
        !users.delete(ada.id).await.unwrap(),
        "second delete finds nothing"
    );
    assert_eq!(users.get(ada.id).await.unwrap(), None);
    let missing = users.update(&changed).await.unwrap_err();
    assert!(
        matches!(
            missing,
            Error::NotFound {
                table: "users",
                statement: "update",
                ..
            }
        ),
        "{missing}"
    );
}

#[tokio::test]
async fn natural_keys_and_every_supported_type() {
    let t = fresh("types").await;
    let tags = t.db.repo::<Tag>();
    let new = NewTag {
        code: "rust".into(),
        label: "Rust".into(),
        uses: 7,
        external: uuid::Uuid::new_v4(),
        blob: Some(vec![0, 1, 2, 255]),
        flag: true,
        small: -3,
        ratio: 0.5,
    };
    let stored = tags.insert(&new).await.unwrap();
    assert_eq!(stored.code, "rust");
    assert_eq!(stored.external, new.external);
    assert_eq!(stored.blob.as_deref(), Some(&[0u8, 1, 2, 255][..]));
    assert_eq!((stored.flag, stored.small, stored.ratio), (true, -3, 0.5));
    // The primary key is not generated: upsert conflicts on it.
    let mut renamed = new.clone();
    renamed.label = "Rust lang".into();
    renamed.blob = None;
    let upserted = tags.upsert(&renamed).await.unwrap();
    assert_eq!(
        (upserted.label.as_str(), upserted.blob.as_deref()),
        ("Rust lang", None)
    );
    assert_eq!(tags.get("rust".to_owned()).await.unwrap(), Some(upserted));
    t.db.verify::<(User, Post, Tag)>().await.unwrap();
}

#[tokio::test]
async fn insert_many_and_get_many_are_one_statement_each() {
    let t = fresh("many").await;
    let users = t.db.repo::<User>();
    let new: Vec<NewUser> = (0..1000).map(new_user).collect();
    reset_stats(&t.db).await;
    let inserted = users.insert_many(&new).await.unwrap();
    assert_eq!(inserted.len(), 1000);
    for (row, input) in inserted.iter().zip(&new) {
        assert_eq!(row.email, input.email, "rows come back in input order");
    }
    assert_calls(&t.db, &["INSERT INTO \"users\"", "UNNEST"], 1).await;

    let ids: Vec<i64> = inserted.iter().map(|u| u.id).collect();
    reset_stats(&t.db).await;
    let mut got = users.get_many(&ids).await.unwrap();
    got.sort_by_key(|u| u.id);
    assert_eq!(got, inserted);
    assert_calls(&t.db, &["FROM \"users\"", "= ANY($1)"], 1).await;

    // Missing ids are simply absent; an empty list runs nothing.
    let some = users.get_many(&[ids[0], -1, ids[999]]).await.unwrap();
    assert_eq!(some.len(), 2);
    assert!(users.get_many(&[]).await.unwrap().is_empty());
    assert!(users.insert_many::<NewUser>(&[]).await.unwrap().is_empty());
    assert_eq!(users.delete_many(&ids[..10]).await.unwrap(), 10);
    assert_eq!(users.count().await.unwrap(), 990);
}

#[tokio::test]
async fn a_statement_is_parsed_once_per_connection() {
    let t = fresh_with("parse_once", |b| b.max_size(1)).await;
    let users = t.db.repo::<User>();
    let id = users.insert(&new_user(1)).await.unwrap().id;
    reset_stats(&t.db).await;
    for _ in 0..5 {
        assert!(users.get(id).await.unwrap().is_some());
    }
    // Server side: one prepared statement on the (only) connection for the get, executed 5 times.
    let rows = t
        .db
        .query(
            "SELECT count(*), COALESCE(sum(generic_plans + custom_plans), 0)::bigint \
             FROM pg_prepared_statements WHERE statement LIKE 'SELECT %FROM \"users\" WHERE \"id\" = $1'",
            &[],
        )
        .await
        .unwrap();
    let (prepared, executions): (i64, i64) = (rows[0].get(0), rows[0].get(1));
    assert_eq!(prepared, 1, "one server-side prepared statement");
    assert_eq!(executions, 5, "executed five times");
    assert_calls(&t.db, &["FROM \"users\" WHERE \"id\" = $1"], 5).await;
}

#[tokio::test]
async fn the_server_log_shows_one_parse_for_two_executions() {
    let cluster = pgrepo::testkit::TestCluster::shared().unwrap();
    let database = cluster.create_database("parse_log").await.unwrap();
    let log = cluster.log_path();
    if log.is_some() {
        let admin = pgrepo::Db::connect(&cluster.url()).await.unwrap();
        admin
            .batch_execute(&format!(
                "ALTER DATABASE \"{}\" SET log_min_duration_statement = 0",
                database.name()
            ))
            .await
            .unwrap();
    }
    let db = pgrepo::Db::builder(&database.url())
        .unwrap()
        .max_size(1)
        .connect()
        .await
        .unwrap();
    db.batch_execute(SCHEMA).await.unwrap();
    let users = db.repo::<User>();
    let id = users.insert(&new_user(1)).await.unwrap().id;
    users.get(id).await.unwrap();
    users.get(id).await.unwrap();
    let sql = "FROM \"users\" WHERE \"id\" = $1";

    // Whatever the server: its only connection prepared the statement once and ran it twice.
    let rows = db
        .query(
            "SELECT count(*), COALESCE(sum(generic_plans + custom_plans), 0)::bigint \
             FROM pg_prepared_statements WHERE statement LIKE 'SELECT %' || $1",
            &[&sql],
        )
        .await
        .unwrap();
    let (prepared, executions): (i64, i64) = (rows[0].get(0), rows[0].get(1));
    assert_eq!((prepared, executions), (1, 2), "pg_prepared_statements");

    let Some(log) = log else {
        let external = std::env::var("DATABASE_URL").is_ok_and(|url| !url.trim().is_empty());
        assert!(
            external,
            "a server the test kit started has its log at hand"
        );
        eprintln!(
            "the_server_log_shows_one_parse_for_two_executions: the log of the server at \
             DATABASE_URL is not readable here; checked pg_prepared_statements only"
        );
        return;
    };
    // The log is written asynchronously by the server; give it a moment to flush.
    let mut parses = 0;
    let mut executes = 0;
    for _ in 0..50 {
        let text = std::fs::read_to_string(log).unwrap();
        let ours = text
            .lines()
            .filter(|l| l.contains(database.name()) && l.contains(sql));
        (parses, executes) = ours.fold((0, 0), |(p, e), l| {
            (
                p + l.contains(" ms  parse ") as i32,
                e + l.contains(" ms  execute ") as i32,
            )
        });
        if executes >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        (parses, executes),
        (1, 2),
        "one parse, two executions in the server log"
    );
}

#[tokio::test]
async fn alter_table_between_calls_is_not_an_error() {
    let t = fresh_with("alter", |b| b.max_size(1)).await;
    let users = t.db.repo::<User>();
    let id = users.insert(&new_user(1)).await.unwrap().id;
    assert!(users.get(id).await.unwrap().is_some());
    // Changes the result type of the cached `get`: the server answers 0A000.
    t.db.batch_execute("ALTER TABLE users ALTER COLUMN name TYPE varchar(200)")
        .await
        .unwrap();
    let again = users.get(id).await.unwrap().unwrap();
    assert_eq!(again.name, "User 1");
    t.db.batch_execute("ALTER TABLE users ADD COLUMN nickname text")
        .await
        .unwrap();
    assert!(users.get(id).await.unwrap().is_some());

    // Inside a transaction the failure has aborted the transaction: a typed error, and the
    // next transaction works.
    t.db.batch_execute("ALTER TABLE users ALTER COLUMN name TYPE text")
        .await
        .unwrap();
    let tx = t.db.begin().await.unwrap();
    let err = tx.repo::<User>().get(id).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::SchemaChanged {
                table: "users",
                statement: "get",
                ..
            }
        ),
        "{err}"
    );
    tx.rollback().await.unwrap();
    let tx = t.db.begin().await.unwrap();
    assert!(tx.repo::<User>().get(id).await.unwrap().is_some());
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn verify_reports_every_mismatch_at_once() {
    let t = fresh("verify").await;
    t.db.verify::<(User, Post)>().await.unwrap();
    t.db.batch_execute(
        "ALTER TABLE users ALTER COLUMN score TYPE text; \
         ALTER TABLE users DROP COLUMN profile; \
         ALTER TABLE users ALTER COLUMN name DROP NOT NULL; \
         DROP TABLE tags",
    )
    .await
    .unwrap();
    let err = t.db.verify::<(User, Post, Tag)>().await.unwrap_err();
    let Error::SchemaMismatch(report) = &err else {
        panic!("expected SchemaMismatch, got {err}")
    };
    let t_ = |s: &str| s.to_owned();
    assert_eq!(
        report.mismatches,
        vec![
            Mismatch::Nullability {
                table: t_("users"),
                column: t_("name"),
                field_is_option: false
            },
            Mismatch::WrongType {
                table: t_("users"),
                column: t_("score"),
                expected: t_("f64"),
                found: t_("text")
            },
            Mismatch::MissingColumn {
                table: t_("users"),
                column: t_("profile"),
                rust_type: t_("Option<serde_json::Value>")
            },
            Mismatch::MissingTable { table: t_("tags") },
        ]
    );
    let message = err.to_string();
    for needle in [
        "`users`.`score`",
        "`users`.`profile`",
        "`users`.`name`",
        "`tags`",
    ] {
        assert!(message.contains(needle), "{needle} in {message}");
    }
}

#[tokio::test]
async fn constraint_violations_come_back_typed() {
    let t = fresh("constraints").await;
    let users = t.db.repo::<User>();
    users.insert(&new_user(1)).await.unwrap();
    let dup = users.insert(&new_user(1)).await.unwrap_err();
    match &dup {
        Error::UniqueViolation {
            table, constraint, ..
        } => {
            assert_eq!((*table, constraint.as_str()), ("users", "users_email_key"));
        }
        other => panic!("expected UniqueViolation, got {other}"),
    }
    assert_eq!(
        dup.code(),
        Some(&pgrepo::tokio_postgres::error::SqlState::UNIQUE_VIOLATION)
    );
    assert!(dup.to_string().contains("users_email_key"), "{dup}");

    let orphan = NewPost {
        user_id: 424242,
        title: "orphan".into(),
        body: None,
    };
    match t.db.repo::<Post>().insert(&orphan).await.unwrap_err() {
        Error::ForeignKeyViolation {
            table, constraint, ..
        } => assert_eq!(
            (table, constraint.as_str()),
            ("posts", "posts_user_id_fkey")
        ),
        other => panic!("expected ForeignKeyViolation, got {other}"),
    }
    // Nothing was lost: the first row is still there, alone.
    assert_eq!(users.count().await.unwrap(), 1);
}

#[tokio::test]
async fn transactions_commit_or_roll_back_as_a_whole() {
    let t = fresh_with("tx", |b| b.max_size(2)).await;
    let users = t.db.repo::<User>();

    let tx = t.db.begin().await.unwrap();
    tx.repo::<User>().insert(&new_user(1)).await.unwrap();
    tx.repo::<User>().insert(&new_user(2)).await.unwrap();
    assert_eq!(users.count().await.unwrap(), 0, "not visible before commit");
    tx.commit().await.unwrap();
    assert_eq!(users.count().await.unwrap(), 2);

    let tx = t.db.begin().await.unwrap();
    tx.repo::<User>().insert(&new_user(3)).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(users.count().await.unwrap(), 2);

    // The closure form rolls back on error, including rows written before the failure.
    let err =
        t.db.transaction(async |tx| {
            tx.repo::<User>().insert(&new_user(4)).await?;
            tx.repo::<User>().insert(&new_user(1)).await?; // duplicate email
            Ok(())
        })
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UniqueViolation { .. }), "{err}");
    assert_eq!(users.count().await.unwrap(), 2);

    // A dropped transaction is rolled back and its connection is fit for reuse.
    {
        let tx = t.db.begin().await.unwrap();
        tx.repo::<User>().insert(&new_user(5)).await.unwrap();
    }
    for _ in 0..4 {
        let tx = t.db.begin().await.unwrap();
        let rows = tx.query("SELECT count(*) FROM users", &[]).await.unwrap();
        assert_eq!(rows[0].get::<_, i64>(0), 2);
        tx.commit().await.unwrap();
    }
}

#[tokio::test]
async fn hand_written_sql_maps_rows_through_the_derive() {
    let t = fresh("raw").await;
    let users = t.db.repo::<User>();
    let a = users.insert(&new_user(1)).await.unwrap();
    let b = users.insert(&new_user(2)).await.unwrap();
    let post =
        t.db.repo::<Post>()
            .insert(&NewPost {
                user_id: a.id,
                title: "hello".into(),
                body: Some("world".into()),
            })
            .await
            .unwrap();
    let sql = format!(
        "SELECT {}, {} FROM users u LEFT JOIN posts p ON p.user_id = u.id ORDER BY u.id",
        User::select_list("u"),
        Post::select_list("p"),
    );
    let rows: Vec<(User, Option<Post>)> = t.db.query_as(&sql, &[]).await.unwrap();
    assert_eq!(rows, vec![(a.clone(), Some(post)), (b, None)]);

    let err =
        t.db.query_as::<User>("SELECT id, email FROM users", &[])
            .await
            .unwrap_err();
    assert!(matches!(err, Error::ColumnMismatch { .. }), "{err}");
    assert!(err.to_string().contains("missing `name`"), "{err}");
    let one: Vec<User> =
        t.db.query_as("SELECT * FROM users WHERE id = $1", &[&a.id])
            .await
            .unwrap();
    assert_eq!(one, vec![a]);
}

#[tokio::test]
async fn a_column_that_does_not_fit_its_field_is_a_decode_error() {
    let t = fresh("decode").await;
    t.db.repo::<User>().insert(&new_user(1)).await.unwrap();
    t.db.batch_execute("UPDATE users SET status = 'retired'")
        .await
        .unwrap();
    let err =
        t.db.repo::<User>()
            .find_by(User::HAIR_COLOR, "brown".to_owned())
            .await
            .unwrap_err();
    match &err {
        Error::Decode { table, column, .. } => {
            assert_eq!((*table, column.as_str()), ("users", "status"))
        }
        other => panic!("expected Decode, got {other}"),
    }
    assert!(err.to_string().contains("retired"), "{err}");
}

#[tokio::test(flavor = "current_thread")]
async fn each_statement_runs_in_a_span_with_statement_table_rows_and_duration() {
    let t = fresh("tracing").await;
    let users = t.db.repo::<User>();
    users
        .insert_many(&[new_user(1), new_user(2), new_user(3)])
        .await
        .unwrap();
    let recorder = SpanRecorder::default();
    let _guard = tracing::subscriber::set_default(recorder.clone());
    users
        .find_by(User::HAIR_COLOR, "brown".to_owned())
        .await
        .unwrap();
    drop(_guard);
    let spans = recorder.spans.lock().unwrap();
    let span = spans
        .iter()
        .find(|s| s["name"] == "pgrepo.statement")
        .expect("a pgrepo.statement span");
    assert_eq!(span["statement"], "find_by_hair_color");
    assert_eq!(span["table"], "users");
    assert_eq!(span["rows"], "2");
    assert!(span["duration_us"].parse::<u64>().unwrap() > 0, "{span:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repositories_work_from_spawned_tasks() {
    let t = fresh("spawn").await;
    let ids = insert_users(&t.db, 20).await;
    // Futures of the repository are `Send + 'static` when the executor is owned: a service
    // spawns them on its runtime.
    let tasks: Vec<_> = ids
        .iter()
        .map(|&id| {
            let db = t.db.clone();
            tokio::spawn(async move { db.repo::<User>().get(id).await })
        })
        .collect();
    for (task, id) in tasks.into_iter().zip(&ids) {
        assert_eq!(task.await.unwrap().unwrap().map(|u| u.id), Some(*id));
    }
    let db = t.db.clone();
    let all = tokio::spawn(async move { db.repo::<User>().get_many(&ids).await })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(all.len(), 20);
}

#[tokio::test]
async fn bulk_insert_without_returning_and_loading_everything() {
    let t = fresh("bulk").await;
    let users = t.db.repo::<User>();
    let new: Vec<NewUser> = (0..250).map(new_user).collect();
    reset_stats(&t.db).await;
    assert_eq!(users.insert_many_count(&new).await.unwrap(), 250);
    assert_calls(&t.db, &["INSERT INTO \"users\"", "UNNEST"], 1).await;
    let mut all = users.all().await.unwrap();
    all.sort_by_key(|u| u.id);
    assert_eq!(
        all.iter().map(|u| u.email.clone()).collect::<Vec<_>>(),
        new.iter().map(|u| u.email.clone()).collect::<Vec<_>>()
    );
    // One row takes the single-row statement; the result is the same.
    assert_eq!(users.insert_many_count(&[new_user(1000)]).await.unwrap(), 1);
    let one = users.insert_many(&[new_user(1001)]).await.unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].email, "user1001@example.com");
    users.delete_many(&[one[0].id]).await.unwrap();
    assert!(users.delete(all.last().unwrap().id + 1).await.unwrap());
    // A rejected row rejects the whole statement: nothing is half-inserted.
    let err = users.insert_many_count(&new[..3]).await.unwrap_err();
    assert!(matches!(err, Error::UniqueViolation { .. }), "{err}");
    assert_eq!(users.count().await.unwrap(), 250);
}

#[tokio::test]
async fn test_databases_on_a_server_the_kit_did_not_start_are_dropped_with_their_handle() {
    let shared = pgrepo::testkit::TestCluster::shared().unwrap();
    let external = pgrepo::testkit::TestCluster::external(&shared.url()).unwrap();
    let admin = Db::connect(&shared.url()).await.unwrap();
    let exists = async |name: &str| -> i64 {
        admin
            .query(
                "SELECT count(*) FROM pg_database WHERE datname = $1",
                &[&name],
            )
            .await
            .unwrap()[0]
            .get(0)
    };
    let database = external.create_database("dropped").await.unwrap();
    let name = database.name().to_owned();
    assert_eq!(exists(&name).await, 1);
    // A connection still open on it does not keep it alive.
    let open = database.connect().await.unwrap();
    drop(database);
    assert_eq!(exists(&name).await, 0);
    assert!(open.simple_query("SELECT 1").await.is_err());
}
