//! The server conditions a user matches on, each provoked for real: serialization failures and
//! deadlocks (retryable), NOT NULL and CHECK violations, lock waits that gave up, canceled
//! statements. Each is met through a repository call and through hand-written SQL, inside
//! transactions and at `COMMIT` where the server can report it there; each keeps the driver's
//! error as its `source()`, and the connection that met it serves the next statement.

mod concurrency;
mod constraints;
mod waits;

use std::time::Duration;

use pgrepo::tokio_postgres::error::SqlState;
use pgrepo::tokio_postgres::Client;
use pgrepo::{Db, Entity, Error, Sql};

use crate::common::*;

/// A gadget as an older schema had it: `name` may be absent, which the table no longer allows.
#[derive(Debug, Clone, PartialEq, Entity)]
#[pgrepo(table = "gadgets")]
pub struct Gadget {
    #[pgrepo(id, generated)]
    pub id: i64,
    pub name: Option<String>,
    pub price: i32,
}

const GADGETS: &str = "CREATE TABLE gadgets (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    price INT NOT NULL CONSTRAINT gadgets_price_positive CHECK (price > 0)
)";

/// A database whose pool has one connection, so "the next statement" runs on the connection
/// that met the error; and a second, plain connection to play the other transaction.
pub async fn single_connection(prefix: &str) -> (TestDb, Client) {
    let t = fresh_with(prefix, |b| b.max_size(1)).await;
    t.db.batch_execute(GADGETS).await.unwrap();
    let other = t.database.connect().await.unwrap();
    (t, other)
}

/// `err`'s `source()` is the driver's error, with SQLSTATE `code`, and its message shows it.
pub fn assert_driver_source(err: &Error, code: &SqlState) {
    let source = std::error::Error::source(err).expect("the driver's error");
    let driver = source
        .downcast_ref::<pgrepo::tokio_postgres::Error>()
        .unwrap_or_else(|| panic!("source is the driver's error: {source:?}"));
    assert_eq!(driver.code(), Some(code), "{err:?}");
    assert_eq!(err.code(), Some(code), "{err:?}");
    let sqlstate = format!("(SQLSTATE {})", code.code());
    assert!(err.to_string().contains(&sqlstate), "{err}");
}

pub async fn backend_pid(db: &impl Executor) -> i32 {
    db.query(Sql::read("SELECT pg_backend_pid()"), &[])
        .await
        .unwrap()[0]
        .get(0)
}

/// The pool's one connection is still `pid`'s, and it runs the next statement.
pub async fn same_connection_serves_on(db: &Db, pid: i32) {
    assert_eq!(backend_pid(db).await, pid, "the same connection");
    assert_eq!(db.repo::<Gadget>().count().await.unwrap(), 0);
}

pub async fn pid_of(client: &Client) -> i32 {
    client
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0)
}

/// Waits until the backend `pid` waits for a lock (observed from `admin`'s session).
pub async fn wait_until_blocked(admin: &Client, pid: i32) {
    for _ in 0..1000 {
        let row = admin
            .query_one(
                "SELECT coalesce(wait_event_type = 'Lock', false) FROM pg_stat_activity \
                 WHERE pid = $1",
                &[&pid],
            )
            .await
            .unwrap();
        if row.get::<_, bool>(0) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("backend {pid} never waited for a lock");
}
