//! Through a real PgBouncer 1.18 in transaction mode (the test kit's, 2 server connections per
//! database), with more client tasks than server connections: each client transaction lands on
//! whichever server connection is free, so anything session-bound (a named statement, a `SET`)
//! breaks. `StatementMode::Unnamed` must work through it; `Prepared` must not (so these tests
//! can tell).

use std::sync::OnceLock;

use futures_util::future::join_all;
use pgrepo::testkit::{PgBouncer, TestCluster};
use pgrepo::tokio_postgres::types::Type;
use pgrepo::{Db, Error, LookupLoader, Sql, StatementMode, Timeouts};

use crate::common::*;

/// Server connections per database behind PgBouncer.
const POOL_SIZE: u32 = 2;
/// Client tasks running at once, on a `Db` of `MAX_SIZE` client connections.
const TASKS: usize = 16;
const MAX_SIZE: usize = 8;

/// One PgBouncer for the whole run: every test database gets its own pool of `POOL_SIZE`
/// server connections in it. Never dropped; the cluster's watchdog stops it.
fn bouncer() -> &'static PgBouncer {
    static BOUNCER: OnceLock<PgBouncer> = OnceLock::new();
    BOUNCER.get_or_init(|| {
        TestCluster::shared()
            .expect("test cluster")
            .pgbouncer(POOL_SIZE)
            .expect("PgBouncer (apt-get install pgbouncer)")
    })
}

/// A fresh database with the test schema (set up directly), and a `Db` on it through
/// PgBouncer in `mode`.
pub(crate) struct Bounced {
    /// Direct to the server: setup and checks.
    pub direct: TestDb,
    /// Through PgBouncer.
    pub db: Db,
}

pub(crate) async fn through_pgbouncer(prefix: &str, mode: StatementMode) -> Bounced {
    bounced(fresh(prefix).await, mode).await
}

/// A `Db` through PgBouncer on the database `direct` set up.
async fn bounced(direct: TestDb, mode: StatementMode) -> Bounced {
    let url = bouncer().url_for(direct.database.name());
    let db = Db::builder(&url)
        .unwrap()
        .statement_mode(mode)
        .max_size(MAX_SIZE)
        .application_name("pgrepo-bounced")
        .connect()
        .await
        .expect("connect through PgBouncer");
    Bounced { direct, db }
}

/// How many server connections PgBouncer holds for `database` (its admin console).
async fn server_connections(database: &str) -> usize {
    let (admin, connection) =
        pgrepo::tokio_postgres::connect(&bouncer().admin_url(), pgrepo::tokio_postgres::NoTls)
            .await
            .expect("PgBouncer admin console");
    tokio::spawn(connection);
    admin
        .simple_query("SHOW SERVERS")
        .await
        .expect("SHOW SERVERS")
        .iter()
        .filter_map(|m| match m {
            pgrepo::tokio_postgres::SimpleQueryMessage::Row(row) => row.get("database"),
            _ => None,
        })
        .filter(|d| *d == database)
        .count()
}

/// Runs `scenario(db, task)` for `TASKS` tasks at once and checks that PgBouncer served them
/// with at most `POOL_SIZE` server connections.
async fn in_parallel<F, Fut>(t: &Bounced, scenario: F)
where
    F: Fn(Db, usize) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| tokio::spawn(scenario(t.db.clone(), task)))
        .collect();
    for task in join_all(tasks).await {
        task.expect("scenario task");
    }
    let servers = server_connections(t.direct.database.name()).await;
    assert!(
        (1..=POOL_SIZE as usize).contains(&servers),
        "{servers} server connections behind PgBouncer"
    );
}

/// Insert, get, update, upsert, lookups, delete of one task's own users.
async fn crud_of_one_task(db: Db, task: usize) {
    let users = db.repo::<User>();
    for round in 0..5 {
        let i = 1000 * (task + 1) + round;
        let user = users.insert(&new_user(i)).await.unwrap();
        assert_eq!(users.get(user.id).await.unwrap().as_ref(), Some(&user));
        let mut changed = user.clone();
        changed.name = format!("Changed {i}");
        changed.status = Status::OnLeave;
        assert_eq!(users.update(&changed).await.unwrap(), changed);
        let mut again = new_user(i);
        again.name = format!("Upserted {i}");
        let upserted = users.upsert(&again).await.unwrap();
        assert_eq!(
            (upserted.id, upserted.name.as_str()),
            (user.id, &*again.name)
        );
        let found = users
            .find_one_by(User::EMAIL, again.email.clone())
            .await
            .unwrap();
        assert_eq!(found.map(|u| u.id), Some(user.id));
        let many = users
            .insert_many(&[new_user(i + 500), new_user(i + 600)])
            .await
            .unwrap();
        let ids: Vec<i64> = many.iter().map(|u| u.id).collect();
        assert_eq!(users.get_many(&ids).await.unwrap().len(), 2);
        assert_eq!(users.delete_many(&ids).await.unwrap(), 2);
        assert!(users.delete(user.id).await.unwrap());
        assert_eq!(users.get(user.id).await.unwrap(), None);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crud_by_16_tasks_over_2_server_connections() {
    let t = through_pgbouncer("bouncer_crud", StatementMode::Unnamed).await;
    in_parallel(&t, crud_of_one_task).await;
    assert_eq!(t.db.repo::<User>().count().await.unwrap(), 0);
    t.db.verify::<(User, Post, Tag)>().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyset_walks_by_16_tasks_over_2_server_connections() {
    use crate::pagination::{reference, seed, walk_backward, walk_forward, Item};
    let t = through_pgbouncer("bouncer_keyset", StatementMode::Unnamed).await;
    seed(&t.direct.db, 307).await;
    let expected = reference(&t.direct.db, "grp ASC, score DESC, id DESC", None).await;
    let owned = reference(&t.direct.db, "grp ASC, score DESC, id DESC", Some(1)).await;
    in_parallel(&t, move |db, task| {
        let (expected, owned) = (expected.clone(), owned.clone());
        async move {
            let items = db.repo::<Item>();
            let page_size = 5 + task;
            let listing = items.list().max_page_size(1000);
            assert_eq!(walk_forward(&listing, page_size).await, expected);
            assert_eq!(walk_backward(&listing, page_size).await, expected);
            let filtered = items.list().filter(Item::OWNER, 1).unwrap();
            assert_eq!(walk_forward(&filtered, page_size).await, owned);
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loaders_by_16_tasks_over_2_server_connections() {
    let t = through_pgbouncer("bouncer_loaders", StatementMode::Unnamed).await;
    crate::loaders::seed(&t.direct.db, 60, 3, 0).await;
    in_parallel(&t, |db, task| async move {
        let loader = db.loader::<User>();
        let ids: Vec<i64> = (1..=60)
            .filter(|id| (*id as usize + task) % 3 != 0)
            .collect();
        let loaded = join_all(ids.iter().map(|id| loader.load(*id))).await;
        for (id, user) in ids.iter().zip(loaded) {
            assert_eq!(user.unwrap().unwrap().name, format!("User {id}"));
        }
        let posts = LookupLoader::new(db.clone(), Post::USER_ID);
        let by_user = join_all((1..=61i64).map(|id| posts.load(id))).await;
        for (user_id, posts) in (1..=61i64).zip(by_user) {
            let posts = posts.unwrap();
            assert_eq!(posts.len(), if user_id <= 60 { 3 } else { 0 });
            assert!(posts.iter().all(|p| p.user_id == user_id));
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_and_savepoints_by_16_tasks_over_2_server_connections() {
    let t = through_pgbouncer("bouncer_tx", StatementMode::Unnamed).await;
    in_parallel(&t, |db, task| async move {
        let base = 100 * (task + 1);
        db.transaction(async |tx| {
            tx.repo::<User>().insert(&new_user(base + 1)).await?;
            // A duplicate in a nested transaction (a savepoint): rolled back alone.
            let nested = tx
                .transaction(async |tx| {
                    tx.repo::<User>().insert(&new_user(base + 2)).await?;
                    tx.repo::<User>().insert(&new_user(base + 1)).await
                })
                .await;
            assert!(
                matches!(nested, Err(Error::UniqueViolation { .. })),
                "{nested:?}"
            );
            tx.transaction(async |tx| tx.repo::<User>().insert(&new_user(base + 3)).await)
                .await?;
            // The Db's timeouts are the transaction's (`SET LOCAL`), on whichever server
            // connection it landed on.
            let timeout = tx
                .query(
                    Sql::read("SELECT current_setting('statement_timeout')"),
                    &[],
                )
                .await?;
            assert_eq!(timeout[0].get::<_, String>(0), "30s");
            Ok(())
        })
        .await
        .unwrap();
        // Rolled back: nothing of it stays.
        let tx = db.begin().await.unwrap();
        tx.repo::<User>().insert(&new_user(base + 4)).await.unwrap();
        tx.rollback().await.unwrap();
        let users = db.repo::<User>();
        for (i, present) in [(1, true), (2, false), (3, true), (4, false)] {
            let email = new_user(base + i).email;
            let found = users.find_one_by(User::EMAIL, email).await.unwrap();
            assert_eq!(found.is_some(), present, "user {}", base + i);
        }
    })
    .await;
    assert_eq!(t.db.repo::<User>().count().await.unwrap(), 2 * TASKS as i64);
}

/// The sensitivity check: the same work in `Prepared` mode fails through the same PgBouncer
/// (a statement prepared on one server connection is unknown on the next, or a name is taken).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_statements_fail_through_pgbouncer_in_transaction_mode() {
    let direct = fresh("bouncer_prepared").await;
    let url = bouncer().url_for(direct.database.name());
    // Its timeouts would go as startup options, which PgBouncer refuses (next test).
    let db = Db::builder(&url)
        .unwrap()
        .max_size(MAX_SIZE)
        .timeouts(Timeouts::none())
        .connect()
        .await
        .expect("connect through PgBouncer");
    let ids = insert_users(&direct.db, 20).await;
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let (db, ids) = (db.clone(), ids.clone());
            tokio::spawn(async move {
                let mut errors = Vec::new();
                for id in ids.iter().cycle().take(100) {
                    if let Err(error) = db.repo::<User>().get(*id).await {
                        errors.push(error);
                    }
                }
                errors
            })
        })
        .collect();
    let errors: Vec<Error> = join_all(tasks)
        .await
        .into_iter()
        .flat_map(Result::unwrap)
        .collect();
    // Each a typed error that says what to do.
    let lost = errors
        .iter()
        .filter(|e| matches!(e, Error::PreparedStatementLost { .. }))
        .collect::<Vec<_>>();
    assert!(
        !lost.is_empty(),
        "prepared statements worked through PgBouncer in transaction mode: {errors:?}"
    );
    assert!(
        lost[0].to_string().contains("StatementMode::Unnamed"),
        "{}",
        lost[0]
    );
}

/// Timeouts as startup options are refused by PgBouncer; `Unnamed` sends none (the Db's
/// timeouts go into each transaction instead) and connects.
#[tokio::test]
async fn unnamed_mode_sends_no_startup_options_pgbouncer_would_refuse() {
    let direct = fresh("bouncer_options").await;
    let url = bouncer().url_for(direct.database.name());
    let refused = Db::builder(&url)
        .unwrap()
        .statement_mode(StatementMode::Prepared)
        .connect()
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("options"), "{refused}");
    let db = Db::builder(&url)
        .unwrap()
        .statement_mode(StatementMode::Unnamed)
        .connect()
        .await
        .expect("no startup options in Unnamed mode");
    db.ping().await.unwrap();
}

/// A native enum, `citext` and arrays of them through PgBouncer: the driver's lookups of types
/// it does not know (named statements of its own) must not reach PgBouncer outside a
/// transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_enum_and_citext_columns_through_pgbouncer() {
    use crate::types::{round_trip, Account, Plan, TYPES_SCHEMA};
    let direct = fresh("bouncer_enum").await;
    if lacks_extension(&direct.db, "citext").await {
        return;
    }
    // Before the connections open: each learns the database's types when it opens.
    direct.db.batch_execute(TYPES_SCHEMA).await.unwrap();
    let t = bounced(direct, StatementMode::Unnamed).await;
    let bounced = TestDb {
        db: t.db.clone(),
        database: t.direct.database.clone(),
    };
    round_trip(&bounced).await;
    // Every client connection reads the enum (its driver meets the type for the first time).
    in_parallel(&t, |db, _| async move {
        for _ in 0..10 {
            let pro = db.repo::<Account>().find_by(Account::PLAN, Plan::Pro).await;
            assert_eq!(pro.unwrap().len(), 2, "Ada became Enterprise");
            let rows = db
                .query(
                    Sql::read("SELECT plan, plans FROM accounts ORDER BY id"),
                    &[],
                )
                .await
                .unwrap();
            assert_eq!(rows.len(), 9);
            assert!(rows.iter().any(|r| r.get::<_, Plan>(0) == Plan::Enterprise));
        }
    })
    .await;
}

/// Hand-written SQL whose parameter types are not declared needs a prepared statement to learn
/// them: inside a transaction that is safe (one server connection); outside one it is refused
/// with an error that says how to declare them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hand_written_sql_without_declared_types_through_pgbouncer() {
    let t = through_pgbouncer("bouncer_untyped", StatementMode::Unnamed).await;
    let ids = insert_users(&t.direct.db, 4).await;
    let untyped = Sql::read("SELECT email FROM users WHERE id = $1");
    let refused = t.db.query(untyped, &[&ids[0]]).await.unwrap_err();
    assert!(
        matches!(refused, Error::UndeclaredParameterTypes { .. }),
        "{refused:?}"
    );
    assert!(refused.to_string().contains(".types(&[Type::"), "{refused}");
    in_parallel(&t, move |db, task| {
        let ids = ids.clone();
        async move {
            let id = ids[task % ids.len()];
            let typed = Sql::read("SELECT email FROM users WHERE id = $1").types(&[Type::INT8]);
            for _ in 0..10 {
                let rows = db.query(typed, &[&id]).await.unwrap();
                assert_eq!(rows.len(), 1);
                let in_tx = db
                    .transaction(async |tx| {
                        tx.query(Sql::read("SELECT email FROM users WHERE id = $1"), &[&id])
                            .await
                    })
                    .await
                    .unwrap();
                assert_eq!(in_tx[0].get::<_, String>(0), rows[0].get::<_, String>(0));
            }
        }
    })
    .await;
}
