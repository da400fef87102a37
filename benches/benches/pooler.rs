//! A `get` by primary key through a real PgBouncer in transaction mode: `StatementMode::Unnamed`
//! (what a pooler in transaction mode needs) against `Prepared`, and both against the server
//! directly (`cargo bench -p pgrepo-benches --bench pooler`).
//!
//! Group `pooler_get`: `direct_prepared`, `direct_unnamed`, `pgbouncer_unnamed` and
//! `pgbouncer_prepared`, one client connection each. `pgbouncer_prepared` works only because
//! PgBouncer has one server connection for the database (`default_pool_size = 1`) and one
//! client: with more of either, a named statement prepared on one server connection is unknown
//! on the next (tests/pgbouncer.rs shows it failing). Needs the test kit (a local cluster and
//! the `pgbouncer` binary); `DATABASE_URL` is not used.

use criterion::{BenchmarkId, Criterion};
use pgrepo::testkit::TestCluster;
use pgrepo::{Db, Entity, Executor as _, StatementMode, Timeouts};

const ROWS: i64 = 1_000;

// Only decoded: a get reads every column.
#[allow(dead_code)]
#[derive(Debug, Clone, Entity)]
#[pgrepo(table = "pooler_users")]
struct User {
    #[pgrepo(id, generated)]
    id: i64,
    email: String,
    name: String,
    score: f64,
}

const SCHEMA: &str = "CREATE TABLE pooler_users (
    id BIGSERIAL PRIMARY KEY,
    email TEXT NOT NULL,
    name TEXT NOT NULL,
    score DOUBLE PRECISION NOT NULL
);
INSERT INTO pooler_users (email, name, score)
SELECT 'u' || i || '@example.com', 'User ' || i, i * 0.5 FROM generate_series(1, 1000) i;
ANALYZE pooler_users;";

async fn db(url: &str, mode: StatementMode) -> Db {
    Db::builder(url)
        .expect("url")
        .statement_mode(mode)
        .max_size(1)
        // Startup options (the Prepared mode's timeouts) are refused by PgBouncer.
        .timeouts(Timeouts::none())
        .connect()
        .await
        .expect("connect")
}

fn main() {
    let mut criterion: Criterion = pgrepo_benches::config::criterion();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let cluster = TestCluster::shared().expect("test cluster");
    let bouncer = cluster
        .pgbouncer(1)
        .expect("PgBouncer (apt-get install pgbouncer)");
    let (database, dbs) = runtime.block_on(async {
        let database = cluster.create_database("pooler").await.expect("database");
        database
            .connect()
            .await
            .expect("connect")
            .batch_execute(SCHEMA)
            .await
            .expect("schema");
        let through = bouncer.url_for(database.name());
        let dbs = [
            (
                "direct_prepared",
                db(&database.url(), StatementMode::Prepared).await,
            ),
            (
                "direct_unnamed",
                db(&database.url(), StatementMode::Unnamed).await,
            ),
            (
                "pgbouncer_unnamed",
                db(&through, StatementMode::Unnamed).await,
            ),
            (
                "pgbouncer_prepared",
                db(&through, StatementMode::Prepared).await,
            ),
        ];
        (database, dbs)
    });

    let mut group = criterion.benchmark_group("pooler_get");
    for (name, db) in &dbs {
        let users = db.repo::<User>();
        let mut id = 0;
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                id = id % ROWS + 1;
                let user = runtime.block_on(users.get(id)).expect("get");
                assert_eq!(user.map(|u| u.id), Some(id));
            })
        });
    }
    group.finish();
    drop(dbs);
    drop(bouncer);
    drop(database);
    criterion.final_summary();
}
