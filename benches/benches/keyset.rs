//! Keyset pagination against OFFSET on a 1,000,000-row table, and a whole-table export
//! (`cargo bench -p pgrepo-benches --bench keyset`).
//!
//! Groups: `keyset_page` (function `keyset`, `mixed_keyset` or `offset`, parameter = depth in
//! rows: a page of 50 at depth 0 and at depth 500,000; `mixed_keyset` sorts by
//! `kind, created_at desc`, directions that differ, with every row in one `kind`, so the deep
//! page sits 500,000 rows inside its group), `keyset_export_batch` (one batch of 10,000 at the start
//! and at the end of the table: flat cost per batch) and `keyset_export` (the whole table
//! streamed in batches of 10,000). Needs a PostgreSQL: `DATABASE_URL` or the test kit.

use pgrepo::Executor as _;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput};
use futures_util::TryStreamExt as _;
use pgrepo::{Cursor, Db, Entity, Listing, SortKey};

const ROWS: i64 = 1_000_000;
const PAGE: usize = 50;
const DEEP: usize = 500_000;
const BATCH: usize = 10_000;

#[derive(Debug, Clone, Entity)]
#[pgrepo(table = "keyset_events", order_by = "created_at desc")]
#[pgrepo(listing(name = "by_kind", order_by = "kind, created_at desc"))]
struct Event {
    #[pgrepo(id, generated)]
    id: i64,
    account: i32,
    kind: String,
    created_at: i64,
}

const OFFSET_SQL: &str = "SELECT id, account, kind, created_at FROM keyset_events \
                          ORDER BY created_at DESC, id DESC OFFSET $1 LIMIT $2";

/// The cursor after the first `depth` rows, found by walking pages of 10,000.
async fn cursor_at(listing: &Listing<'_, Event, Db>, depth: usize) -> Cursor {
    let mut page = listing.first(BATCH.min(depth)).await.expect("first page");
    let mut walked = page.items.len();
    while walked < depth {
        page = listing
            .after(
                page.end_cursor.as_ref().expect("cursor"),
                BATCH.min(depth - walked),
            )
            .await
            .expect("page");
        walked += page.items.len();
    }
    page.end_cursor.expect("cursor")
}

fn main() {
    let mut criterion: Criterion = pgrepo_benches::config::criterion();
    let (runtime, database, db) = pgrepo_benches::server::pgrepo_setup(
        "DROP TABLE IF EXISTS keyset_events;
             CREATE TABLE keyset_events (
                id BIGSERIAL PRIMARY KEY,
                account INTEGER NOT NULL,
                kind TEXT NOT NULL,
                created_at BIGINT NOT NULL
             );",
    );
    runtime.block_on(async {
        // Many duplicate timestamps (10 rows per value) so the tiebreaker matters.
        db.execute(
            "INSERT INTO keyset_events (account, kind, created_at) \
             SELECT i % 1000, 'event', i / 10 FROM generate_series(1, $1::bigint) i",
            &[&ROWS],
        )
        .await
        .expect("seed");
        let events = db.repo::<Event>();
        for sort in [SortKey::default_for(), Event::BY_KIND] {
            db.batch_execute(&events.list_by(sort).index_advice().sql)
                .await
                .expect("index");
        }
        db.batch_execute("VACUUM ANALYZE keyset_events")
            .await
            .expect("analyze");
        let report = db.verify::<Event>().await.expect("verify");
        assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    });
    let repo = db.repo::<Event>();
    let listing = repo.list().max_page_size(BATCH);
    let deep = runtime.block_on(cursor_at(&listing, DEEP));
    let near_end = runtime.block_on(cursor_at(&listing, ROWS as usize - BATCH));
    let mixed = repo.list_by(Event::BY_KIND).max_page_size(BATCH);
    let mixed_deep = runtime.block_on(cursor_at(&mixed, DEEP));

    let mut group = criterion.benchmark_group("keyset_page");
    group.bench_function(BenchmarkId::new("keyset", 0), |b| {
        b.iter(|| runtime.block_on(listing.first(PAGE)).expect("page"))
    });
    group.bench_function(BenchmarkId::new("keyset", DEEP), |b| {
        b.iter(|| runtime.block_on(listing.after(&deep, PAGE)).expect("page"))
    });
    group.bench_function(BenchmarkId::new("mixed_keyset", 0), |b| {
        b.iter(|| runtime.block_on(mixed.first(PAGE)).expect("page"))
    });
    group.bench_function(BenchmarkId::new("mixed_keyset", DEEP), |b| {
        b.iter(|| {
            runtime
                .block_on(mixed.after(&mixed_deep, PAGE))
                .expect("page")
        })
    });
    for depth in [0i64, DEEP as i64] {
        group.bench_function(BenchmarkId::new("offset", depth), |b| {
            b.iter(|| {
                let rows: Vec<Event> = runtime
                    .block_on(db.query_as(OFFSET_SQL, &[&depth, &(PAGE as i64)]))
                    .expect("offset page");
                assert_eq!(rows.len(), PAGE);
                rows
            })
        });
    }
    group.finish();

    let mut group = criterion.benchmark_group("keyset_export_batch");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function(BenchmarkId::new("first", BATCH), |b| {
        b.iter(|| runtime.block_on(listing.first(BATCH)).expect("batch"))
    });
    group.bench_function(BenchmarkId::new("last", BATCH), |b| {
        b.iter(|| {
            runtime
                .block_on(listing.after(&near_end, BATCH))
                .expect("batch")
        })
    });
    group.finish();

    let mut group = criterion.benchmark_group("keyset_export");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(ROWS as u64));
    group.bench_function(BenchmarkId::new("pgrepo", ROWS), |b| {
        b.iter(|| {
            let n = runtime
                .block_on(
                    listing
                        .export(BATCH)
                        .try_fold(0usize, |n, _| async move { Ok(n + 1) }),
                )
                .expect("export");
            assert_eq!(n, ROWS as usize);
        })
    });
    group.finish();
    drop(database);
    criterion.final_summary();
}
