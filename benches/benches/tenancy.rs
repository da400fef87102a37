//! Tenant scopes against unscoped statements (`cargo bench -p pgrepo-benches --bench tenancy`).
//!
//! Group `tenant_get` (a get by primary key) and `tenant_page` (the first page of 20 of a
//! listing), each: `unscoped` (a table without row-level security, a plain `Db`), `scoped`
//! (the same rows in a table with a tenant policy, read as an ordinary role through
//! `db.tenant(id)`, the scope made per call as a request handler would), and, for the get,
//! `tokio_postgres_pipelined` (what the scope sends, written by hand: `BEGIN`,
//! `set_config`, the statement and `COMMIT` pipelined on one connection, the floor of the
//! technique). The target: scoped ≤ 1.15× unscoped. One connection each.

use criterion::{BenchmarkId, Criterion};
use pgrepo::testkit::TestCluster;
use pgrepo::{Db, Entity, Executor as _, Timeouts};

const TENANTS: i64 = 10;
const PER_TENANT: i64 = 1_000;

// Only decoded.
#[allow(dead_code)]
#[derive(Debug, Clone, Entity)]
#[pgrepo(table = "notes", order_by = "id")]
struct Note {
    #[pgrepo(id, generated)]
    id: i64,
    #[pgrepo(tenant)]
    tenant_id: i64,
    body: String,
    score: f64,
}

#[allow(dead_code)]
#[derive(Debug, Clone, Entity)]
#[pgrepo(table = "plain_notes", order_by = "id")]
struct PlainNote {
    #[pgrepo(id, generated)]
    id: i64,
    tenant_id: i64,
    body: String,
    score: f64,
}

const SCHEMA: &str = "
CREATE TABLE notes (
    id BIGSERIAL PRIMARY KEY,
    tenant_id BIGINT NOT NULL,
    body TEXT NOT NULL,
    score DOUBLE PRECISION NOT NULL
);
CREATE INDEX notes_tenant ON notes (tenant_id, id);
INSERT INTO notes (tenant_id, body, score)
SELECT 1 + (i - 1) % 10, 'note ' || i, i * 0.5 FROM generate_series(1, 10000) i;
CREATE TABLE plain_notes AS SELECT * FROM notes;
ALTER TABLE plain_notes ADD PRIMARY KEY (id);
ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant ON notes
    USING (tenant_id = (SELECT NULLIF(current_setting('pgrepo.tenant', true), '')::bigint));
CREATE ROLE bench_app LOGIN;
GRANT SELECT ON notes, plain_notes TO bench_app;
ANALYZE notes;
ANALYZE plain_notes;";

async fn db(url: &str) -> Db {
    Db::builder(url)
        .expect("url")
        .max_size(1)
        .timeouts(Timeouts::none())
        .connect()
        .await
        .expect("connect")
}

fn as_role(url: &str, role: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (_, host) = rest.split_once('@').expect("a user in the URL");
    format!("{scheme}://{role}@{host}")
}

/// Scoped against unscoped gets and pages, alternating in rounds (the machine is shared and
/// noisy: each round's ratio compares runs a few milliseconds apart); prints the median ratio
/// and the middle half. Rounds: `PGREPO_TENANCY_ROUNDS` (default 30).
fn interleaved(runtime: &tokio::runtime::Runtime, app: &Db) {
    const CALLS: i64 = 200;
    let rounds: usize = std::env::var("PGREPO_TENANCY_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(30);
    let time = |f: &mut dyn FnMut(i64)| {
        let started = std::time::Instant::now();
        for i in 0..CALLS {
            f(i);
        }
        started.elapsed().as_secs_f64()
    };
    let (mut gets, mut pages) = (Vec::new(), Vec::new());
    let mut extra = Vec::new();
    for _ in 0..rounds {
        let plain = app.repo::<PlainNote>();
        let unscoped = time(&mut |i| {
            let id = i % (TENANTS * PER_TENANT) + 1;
            runtime.block_on(plain.get(id)).expect("get");
        });
        let scoped = time(&mut |i| {
            let id = i % (TENANTS * PER_TENANT) + 1;
            let scope = app.tenant(1 + (id - 1) % TENANTS).expect("tenant");
            runtime.block_on(scope.repo::<Note>().get(id)).expect("get");
        });
        gets.push(scoped / unscoped);
        let reused_scope = app.tenant(1).expect("tenant");
        let reused = time(&mut |i| {
            let id = (i * TENANTS) % (TENANTS * PER_TENANT) + 1;
            runtime
                .block_on(reused_scope.repo::<Note>().get(id))
                .expect("get");
        });
        let all = app.all_tenants();
        let unfiltered = time(&mut |i| {
            let id = i % (TENANTS * PER_TENANT) + 1;
            runtime
                .block_on(all.repo::<PlainNote>().get(id))
                .expect("get");
        });
        extra.push((reused / unscoped, unfiltered / unscoped));
        let unscoped = time(&mut |_| {
            let listing = plain.list();
            runtime.block_on(listing.first(20)).expect("page");
        });
        let scoped = time(&mut |i| {
            let scope = app.tenant(1 + i % TENANTS).expect("tenant");
            let notes = scope.repo::<Note>();
            let listing = notes.list();
            runtime.block_on(listing.first(20)).expect("page");
        });
        pages.push(scoped / unscoped);
    }
    extra.sort_by(|a, b| a.0.total_cmp(&b.0));
    println!("reused scope / unscoped: {:.2}", extra[extra.len() / 2].0);
    extra.sort_by(|a, b| a.1.total_cmp(&b.1));
    println!(
        "all_tenants scope on plain table / unscoped: {:.2}",
        extra[extra.len() / 2].1
    );
    for (name, ratios) in [("get", &mut gets), ("page of 20", &mut pages)] {
        ratios.sort_by(f64::total_cmp);
        let n = ratios.len();
        println!(
            "tenancy interleaved: scoped/unscoped {name}: median {:.2} (middle half {:.2}–{:.2}, {n} rounds of {CALLS})",
            ratios[n / 2],
            ratios[n / 4],
            ratios[3 * n / 4]
        );
    }
}

fn main() {
    let mut criterion: Criterion = pgrepo_benches::config::criterion();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let cluster = TestCluster::shared().expect("test cluster");
    let (database, app, raw) = runtime.block_on(async {
        let database = cluster.create_database("tenancy").await.expect("database");
        let admin = database.connect().await.expect("connect");
        // The role is the cluster's: left from an earlier run, it is dropped first.
        let _ = admin
            .batch_execute("DROP OWNED BY bench_app; DROP ROLE bench_app")
            .await;
        admin.batch_execute(SCHEMA).await.expect("schema");
        let url = as_role(&database.url(), "bench_app");
        let (raw, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .expect("raw connect");
        tokio::spawn(connection);
        (database, db(&url).await, raw)
    });

    let id_of = |i: i64| (i % (TENANTS * PER_TENANT)) + 1;
    let tenant_of = |id: i64| 1 + (id - 1) % TENANTS;
    interleaved(&runtime, &app);
    let mut group = criterion.benchmark_group("tenant_get");
    let mut i = 0;
    group.bench_function(BenchmarkId::from_parameter("unscoped"), |b| {
        let notes = app.repo::<PlainNote>();
        b.iter(|| {
            i += 1;
            let id = id_of(i);
            let note = runtime.block_on(notes.get(id)).expect("get");
            assert_eq!(note.map(|n| n.id), Some(id));
        })
    });
    group.bench_function(BenchmarkId::from_parameter("scoped"), |b| {
        b.iter(|| {
            i += 1;
            let id = id_of(i);
            let scope = app.tenant(tenant_of(id)).expect("tenant");
            let note = runtime.block_on(scope.repo::<Note>().get(id)).expect("get");
            assert_eq!(note.map(|n| n.id), Some(id));
        })
    });
    let get = runtime
        .block_on(raw.prepare("SELECT id, tenant_id, body, score FROM notes WHERE id = $1"))
        .expect("prepare");
    group.bench_function(
        BenchmarkId::from_parameter("tokio_postgres_pipelined"),
        |b| {
            b.iter(|| {
                i += 1;
                let id = id_of(i);
                let tenant = tenant_of(id).to_string();
                let found = runtime.block_on(async {
                    let set_params = [(&tenant as _, tokio_postgres::types::Type::TEXT)];
                    let get_params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&id];
                    let begin = raw.batch_execute("BEGIN");
                    let set = raw
                        .query_typed("SELECT set_config('pgrepo.tenant', $1, true)", &set_params);
                    let row = raw.query_opt(&get, &get_params);
                    let commit = raw.batch_execute("COMMIT");
                    let (b, s, r, c) = futures_util::future::join4(begin, set, row, commit).await;
                    b.and(s.map(drop)).and(c).expect("envelope");
                    r.expect("get").map(|row| row.get::<_, i64>(0))
                });
                assert_eq!(found, Some(id));
            })
        },
    );
    let set_prepared = runtime
        .block_on(raw.prepare_typed(
            "SELECT set_config('pgrepo.tenant', $1, true)",
            &[tokio_postgres::types::Type::TEXT],
        ))
        .expect("prepare");
    group.bench_function(
        BenchmarkId::from_parameter("tokio_postgres_prepared_set"),
        |b| {
            b.iter(|| {
                i += 1;
                let id = id_of(i);
                let tenant = tenant_of(id).to_string();
                let found = runtime.block_on(async {
                    let set_params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&tenant];
                    let get_params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&id];
                    let begin = raw.batch_execute("BEGIN");
                    let set = raw.execute(&set_prepared, &set_params);
                    let row = raw.query_opt(&get, &get_params);
                    let commit = raw.batch_execute("COMMIT");
                    let (b, s, r, c) = futures_util::future::join4(begin, set, row, commit).await;
                    b.and(s.map(drop)).and(c).expect("envelope");
                    r.expect("get").map(|row| row.get::<_, i64>(0))
                });
                assert_eq!(found, Some(id));
            })
        },
    );
    group.bench_function(
        BenchmarkId::from_parameter("tokio_postgres_simple_prelude"),
        |b| {
            b.iter(|| {
                i += 1;
                let id = id_of(i);
                let prelude = format!("BEGIN; SET LOCAL pgrepo.tenant = '{}'", tenant_of(id));
                let found = runtime.block_on(async {
                    let get_params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&id];
                    let begin = raw.batch_execute(&prelude);
                    let row = raw.query_opt(&get, &get_params);
                    let commit = raw.batch_execute("COMMIT");
                    let (b, r, c) = futures_util::future::join3(begin, row, commit).await;
                    b.and(c).expect("envelope");
                    r.expect("get").map(|row| row.get::<_, i64>(0))
                });
                assert_eq!(found, Some(id));
            })
        },
    );
    group.finish();

    let mut group = criterion.benchmark_group("tenant_page");
    group.bench_function(BenchmarkId::from_parameter("unscoped"), |b| {
        let notes = app.repo::<PlainNote>();
        b.iter(|| {
            let listing = notes.list();
            let page = runtime.block_on(listing.first(20)).expect("page");
            assert_eq!(page.items.len(), 20);
        })
    });
    let mut t = 0;
    group.bench_function(BenchmarkId::from_parameter("scoped"), |b| {
        b.iter(|| {
            t = t % TENANTS + 1;
            let scope = app.tenant(t).expect("tenant");
            let notes = scope.repo::<Note>();
            let listing = notes.list();
            let page = runtime.block_on(listing.first(20)).expect("page");
            assert_eq!(page.items.len(), 20);
        })
    });
    group.finish();
    drop(app);
    drop(raw);
    drop(database);
    criterion.final_summary();
}
