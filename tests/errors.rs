//! Errors a user matches on: each keeps its cause, names what failed, and is distinct from the
//! errors it could be mistaken for (a silent server is not an exhausted pool, a missing upsert
//! statement is not a missing row, a passing `verify` does not read as a failure).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use pgrepo::deadpool_postgres::{self, HookError, PoolError};
use pgrepo::testkit::TestCluster;
use pgrepo::tokio_postgres::error::SqlState;
use pgrepo::tokio_postgres::types::{FromSql, IsNull, ToSql, Type};
use pgrepo::{Db, Entity, Error, Loader, LoaderConfig, SqlType, Upsertable};

use crate::common::*;

/// A server that accepts connections and never says a word.
async fn silent_server() -> (u16, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (port, task)
}

#[tokio::test]
async fn a_server_that_never_answers_is_a_connect_timeout_not_an_exhausted_pool() {
    let (port, server) = silent_server().await;
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    let timeout = Duration::from_millis(300);

    let started = Instant::now();
    let err = Db::builder(&url)
        .unwrap()
        .connect_timeout(timeout)
        .connect()
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert!(
        matches!(
            err,
            Error::ConnectTimeout {
                timeout_ms: 300,
                recycling: false,
                ..
            }
        ),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("300 ms connecting"), "{message}");
    assert!(!message.contains("waiting for a connection"), "{message}");
    assert!(
        elapsed >= timeout && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );

    // The same for a statement on a pool built without connecting, and for a transaction.
    let db = Db::builder(&url)
        .unwrap()
        .connect_timeout(timeout)
        .build()
        .unwrap();
    let err = db.repo::<User>().count().await.unwrap_err();
    assert!(matches!(err, Error::ConnectTimeout { .. }), "{err:?}");
    let err = db.begin().await.unwrap_err();
    assert!(matches!(err, Error::ConnectTimeout { .. }), "{err:?}");
    server.abort();
}

#[tokio::test]
async fn an_exhausted_pool_reports_how_long_the_caller_waited() {
    let t = fresh_with("waited", |b| {
        b.max_size(1).wait_timeout(Duration::from_millis(200))
    })
    .await;
    let held = t.db.begin().await.unwrap();
    let err = t.db.begin().await.unwrap_err();
    match &err {
        Error::PoolTimeout { waited_ms, .. } => {
            assert!((200..5000).contains(waited_ms), "{err}")
        }
        other => panic!("expected PoolTimeout, got {other:?}"),
    }
    held.rollback().await.unwrap();
}

#[tokio::test]
async fn a_failing_post_create_hook_is_the_pool_error_source() {
    let cluster = TestCluster::shared().expect("test cluster");
    let database = cluster.create_database("hook").await.unwrap();
    let manager = deadpool_postgres::Manager::new(
        database.url().parse().unwrap(),
        pgrepo::tokio_postgres::NoTls,
    );
    let pool = deadpool_postgres::Pool::builder(manager)
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .wait_timeout(Some(Duration::from_secs(2)))
        .post_create(deadpool_postgres::Hook::sync_fn(|_, _| {
            Err(HookError::message("tenant not provisioned"))
        }))
        .build()
        .unwrap();
    let db = Db::from_pool(pool);

    let err = db.repo::<User>().count().await.unwrap_err();
    let Error::Pool { source, .. } = &err else {
        panic!("expected Error::Pool, got {err:?}");
    };
    assert!(
        matches!(source, PoolError::PostCreateHook(HookError::Message(m)) if m == "tenant not provisioned"),
        "{source:?}"
    );
    // A generic error reporter reaches the hook's error through `source()`.
    let cause = std::error::Error::source(&err).expect("a source");
    assert!(cause.downcast_ref::<PoolError>().is_some(), "{cause:?}");
    assert!(err.to_string().contains("tenant not provisioned"), "{err}");
}

#[tokio::test]
async fn a_bad_url_keeps_the_parse_error() {
    let err = Db::builder("postgres://host:notaport/db").unwrap_err();
    assert!(matches!(err, Error::InvalidUrl { .. }), "{err:?}");
    assert!(std::error::Error::source(&err).is_some());
    // What is wrong with it, not only that it is wrong.
    assert!(err.to_string().contains("`port`"), "{err}");
}

#[tokio::test]
async fn server_errors_read_with_the_servers_message_and_sqlstate() {
    // A statement whose backend is terminated: the server's FATAL is its answer.
    let t = fresh("terminated_text").await;
    let admin = t.database.connect().await.unwrap();
    let sleeper = "SELECT pg_sleep(30)";
    let terminate = async {
        for _ in 0..500 {
            let row = admin
                .query_opt(
                    "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity \
                     WHERE datname = current_database() AND query = $1 AND state = 'active'",
                    &[&sleeper],
                )
                .await
                .unwrap();
            if row.is_some() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the statement never ran");
    };
    let (result, ()) = tokio::join!(t.db.query(sleeper, &[]), terminate);
    let err = result.unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::ADMIN_SHUTDOWN), "{err:?}");
    assert!(
        err.to_string()
            .contains("terminating connection due to administrator command (SQLSTATE 57P01)"),
        "{err}"
    );
    // The pool serves on without the dead connection.
    assert_eq!(t.db.repo::<User>().count().await.unwrap(), 0);

    // A login the server refuses.
    let cluster = TestCluster::shared().expect("test cluster");
    let err = Db::connect(&cluster.url_for("no_such_database"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
    assert_eq!(err.code(), Some(&SqlState::INVALID_CATALOG_NAME));
    assert!(
        err.to_string()
            .contains("database \"no_such_database\" does not exist (SQLSTATE 3D000)"),
        "{err}"
    );

    // No server at all: the I/O error, not only "error connecting to server".
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let err = Db::connect(&format!("postgres://postgres@127.0.0.1:{port}/postgres"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
    assert!(err.to_string().contains("Connection refused"), "{err}");

    // A server error met by the pool's post_create hook.
    let database = cluster.create_database("hook_backend").await.unwrap();
    let manager = deadpool_postgres::Manager::new(
        database.url().parse().unwrap(),
        pgrepo::tokio_postgres::NoTls,
    );
    let pool = deadpool_postgres::Pool::builder(manager)
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .wait_timeout(Some(Duration::from_secs(2)))
        .post_create(deadpool_postgres::Hook::async_fn(|client, _| {
            Box::pin(async move {
                client
                    .batch_execute("SELECT 1 / 0")
                    .await
                    .map_err(HookError::Backend)
            })
        }))
        .build()
        .unwrap();
    let err = Db::from_pool(pool)
        .repo::<User>()
        .count()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Pool { .. }), "{err:?}");
    assert_eq!(err.code(), Some(&SqlState::DIVISION_BY_ZERO));
    assert!(
        err.to_string()
            .contains("division by zero (SQLSTATE 22012)"),
        "{err}"
    );
}

/// Every result of `loads`, each a `Batch` error sharing one source.
fn batch_errors<T: std::fmt::Debug>(results: Vec<pgrepo::Result<T>>) -> Vec<Error> {
    assert!(results.len() >= 2, "several callers");
    let errors: Vec<Error> = results.into_iter().map(|r| r.unwrap_err()).collect();
    let sources: Vec<&Arc<Error>> = errors
        .iter()
        .map(|e| match e {
            Error::Batch { source, .. } => source,
            other => panic!("expected Batch, got {other:?}"),
        })
        .collect();
    assert!(
        sources.windows(2).all(|w| Arc::ptr_eq(w[0], w[1])),
        "one shared cause"
    );
    errors
}

#[tokio::test]
async fn every_caller_of_a_failed_batch_matches_the_original_error() {
    let t = fresh("batch_cause").await;
    insert_users(&t.db, 4).await;

    // A row that does not decode: every caller, not only the one that ran the batch, sees
    // which column failed.
    t.db.batch_execute("UPDATE users SET status = 'unknown' WHERE email = 'user2@example.com'")
        .await
        .unwrap();
    let loader = t.db.loader::<User>();
    let ids: Vec<i64> =
        t.db.query("SELECT id FROM users ORDER BY id", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
    let results = join_all(ids.iter().map(|&id| loader.load(id))).await;
    for err in batch_errors(results) {
        match err.root() {
            Error::Decode { table, column, .. } => {
                assert_eq!((*table, &**column), ("users", "status"))
            }
            other => panic!("expected Decode through the batch, got {other:?}"),
        }
        assert!(err.to_string().contains("status"), "{err}");
    }

    // A server error: its SQLSTATE is reachable from every caller.
    t.db.batch_execute("UPDATE users SET status = 'active'; ALTER TABLE users RENAME TO people")
        .await
        .unwrap();
    let loader = t.db.loader::<User>();
    let results = join_all(ids.iter().map(|&id| loader.load(id))).await;
    for err in batch_errors(results) {
        assert_eq!(err.code(), Some(&SqlState::UNDEFINED_TABLE), "{err}");
        assert!(matches!(err.root(), Error::Query { .. }), "{err:?}");
        assert!(err.to_string().contains("(SQLSTATE 42P01)"), "{err}");
    }
}

#[tokio::test]
async fn every_caller_of_a_batch_that_found_no_connection_sees_a_pool_timeout() {
    let t = fresh_with("batch_timeout", |b| {
        b.max_size(1).wait_timeout(Duration::from_millis(200))
    })
    .await;
    let ids = insert_users(&t.db, 3).await;
    let held = t.db.begin().await.unwrap();
    let loader = Loader::<User, Db>::with_config(t.db.clone(), LoaderConfig::default());
    let results = join_all(ids.iter().map(|&id| loader.load(id))).await;
    for err in batch_errors(results) {
        assert!(
            matches!(err.root(), Error::PoolTimeout { max_size: 1, .. }),
            "{err:?}"
        );
    }
    held.rollback().await.unwrap();
}

/// Every column is filled by the database: there is nothing to upsert.
#[derive(Debug, Clone, PartialEq, Entity)]
#[pgrepo(table = "tickets")]
struct Ticket {
    #[pgrepo(id, generated)]
    id: i64,
    #[pgrepo(unique, generated)]
    code: i64,
}

/// No unique column and a generated key, with `Upsertable` implemented by hand.
#[derive(Debug, Clone, PartialEq, Entity)]
#[pgrepo(table = "notes")]
struct Note {
    #[pgrepo(id, generated)]
    id: i64,
    body: String,
}

impl Upsertable for Note {}

#[tokio::test]
async fn an_entity_without_an_upsert_statement_is_not_upsertable_not_a_missing_row() {
    let t = fresh("not_upsertable").await;
    t.db.batch_execute(
        "CREATE TABLE tickets (id BIGSERIAL PRIMARY KEY, code BIGSERIAL UNIQUE);
         CREATE TABLE notes (id BIGSERIAL PRIMARY KEY, body TEXT NOT NULL)",
    )
    .await
    .unwrap();

    let tickets = t.db.repo::<Ticket>();
    let err = tickets.upsert(&NewTicket {}).await.unwrap_err();
    assert!(!err.is_not_found(), "{err:?}");
    assert!(
        matches!(
            err,
            Error::NotUpsertable {
                table: "tickets",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("generated"), "{err}");
    // Inserting still works, and nothing was written by the failed upsert.
    assert_eq!(tickets.count().await.unwrap(), 0);
    tickets.insert(&NewTicket {}).await.unwrap();

    let err =
        t.db.repo::<Note>()
            .upsert(&NewNote { body: "x".into() })
            .await
            .unwrap_err();
    assert!(
        matches!(err, Error::NotUpsertable { table: "notes", .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("conflict target"), "{err}");
}

/// A stock-keeping unit: never empty, which its `ToSql` enforces.
#[derive(Debug, Clone, PartialEq)]
struct Sku(String);

impl ToSql for Sku {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        if self.0.is_empty() {
            return Err("a SKU cannot be empty".into());
        }
        self.0.to_sql(ty, out)
    }

    fn accepts(ty: &Type) -> bool {
        <String as ToSql>::accepts(ty)
    }

    pgrepo::tokio_postgres::types::to_sql_checked!();
}

impl<'a> FromSql<'a> for Sku {
    fn from_sql(
        ty: &Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        String::from_sql(ty, raw).map(Sku)
    }

    fn accepts(ty: &Type) -> bool {
        <String as FromSql>::accepts(ty)
    }
}

impl SqlType for Sku {
    const PG_TYPE: Type = Type::TEXT;
    const ARRAY_TYPE: Type = Type::TEXT_ARRAY;
    type NonNull = Self;
}

#[derive(Debug, Clone, PartialEq, Entity)]
#[pgrepo(table = "products")]
struct Product {
    #[pgrepo(id, generated)]
    id: i64,
    #[pgrepo(lookup)]
    sku: Sku,
}

#[tokio::test]
async fn a_filter_value_that_cannot_be_encoded_is_the_documented_encode_error() {
    let t = fresh("filter_encode").await;
    let result =
        t.db.repo::<Product>()
            .list()
            .filter(Product::SKU, Sku(String::new()));
    let err = match result {
        Ok(listing) => panic!("expected an error, got {listing:?}"),
        Err(err) => err,
    };
    assert!(
        matches!(
            err,
            Error::Encode {
                table: "products",
                column: "sku",
                ..
            }
        ),
        "{err:?}"
    );
    let cause = std::error::Error::source(&err).expect("the value's error");
    assert_eq!(cause.to_string(), "a SKU cannot be empty");
    // A valid value filters.
    assert!(t
        .db
        .repo::<Product>()
        .list()
        .filter(Product::SKU, Sku("A-1".into()))
        .is_ok());
}

/// A table that does not exist.
#[derive(Debug, Entity)]
#[pgrepo(table = "ghosts")]
struct Ghost {
    #[pgrepo(id)]
    id: i64,
}

#[tokio::test]
async fn a_passing_verify_does_not_read_as_a_mismatch() {
    let t = fresh("verify_text").await;
    let report = t.db.verify::<User>().await.unwrap();
    assert!(report.is_ok());
    let text = report.to_string();
    assert!(text.starts_with("schema matches the entities"), "{text}");
    assert!(!text.contains("does not match"), "{text}");
    assert!(!text.contains("mismatch"), "{text}");

    let err = t.db.verify::<(User, Ghost)>().await.unwrap_err();
    assert!(
        err.to_string()
            .starts_with("schema does not match the entities (1 mismatch)"),
        "{err}"
    );
}

#[tokio::test]
async fn a_session_that_lost_its_prepared_statements_is_a_typed_error_and_is_retired() {
    // One connection: the get is prepared on it, then the session forgets it.
    let t = fresh_with("errors_deallocated", |b| b.max_size(1)).await;
    let ids = insert_users(&t.db, 1).await;
    let users = t.db.repo::<User>();
    assert!(users.get(ids[0]).await.unwrap().is_some());
    t.db.batch_execute("DEALLOCATE ALL").await.unwrap();
    let error = users.get(ids[0]).await.unwrap_err();
    assert!(
        matches!(error, pgrepo::Error::PreparedStatementLost { .. }),
        "{error:?}"
    );
    assert_eq!(
        error.code(),
        Some(&pgrepo::tokio_postgres::error::SqlState::INVALID_SQL_STATEMENT_NAME)
    );
    // The connection was retired: the next get prepares on a fresh one.
    assert!(users.get(ids[0]).await.unwrap().is_some());
}
