//! Keyset pagination: pages a table forward and back with opaque cursors, jumps to a deep
//! page at the cost of the first (also for a sort key mixing directions), shows the advised index and its plan, and exports the whole
//! table as a stream of bounded batches.
//!
//! Needs nothing: without `DATABASE_URL` it starts a throwaway PostgreSQL.
//! Run with `cargo run --release --example pagination`.

use std::time::{Duration, Instant};

use futures_util::TryStreamExt as _;
use pgrepo::prelude::*;
use pgrepo::testkit::TestCluster;
use pgrepo::{Cursor, Listing, SortKey};

#[derive(Debug, Clone, Entity)]
#[pgrepo(table = "events", order_by = "happened_at desc")]
#[pgrepo(listing(name = "by_kind", order_by = "kind, happened_at desc"))]
struct Event {
    #[pgrepo(id, generated)]
    id: i64,
    #[pgrepo(lookup)]
    account: i32,
    kind: String,
    happened_at: time::OffsetDateTime,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = match std::env::var("DATABASE_URL") {
        Ok(url) => url,
        Err(_) => TestCluster::shared()?
            .create_database("pagination")
            .await?
            .url(),
    };
    let db = Db::connect(&url).await?;
    db.batch_execute(
        "DROP TABLE IF EXISTS events;
         CREATE TABLE events (
            id BIGSERIAL PRIMARY KEY,
            account INTEGER NOT NULL,
            kind TEXT NOT NULL,
            happened_at TIMESTAMPTZ NOT NULL
         );
         INSERT INTO events (account, kind, happened_at)
         SELECT i % 10, (ARRAY['login','click','purchase'])[1 + i % 3],
                timestamptz '2026-01-01' + (i / 7) * interval '1 second'
         FROM generate_series(1, 200000) i;",
    )
    .await?;
    let events = db.repo::<Event>();

    // verify() names the index each declared listing needs.
    for warning in db.verify::<Event>().await?.warnings {
        println!("verify: {warning}");
    }
    let listing = events.list();
    println!("advised: {}", listing.index_advice().sql);
    db.batch_execute(&listing.index_advice().sql).await?;
    db.batch_execute(&events.list_by(Event::BY_KIND).index_advice().sql)
        .await?;
    db.batch_execute(&events.list().filter(Event::ACCOUNT, 3)?.index_advice().sql)
        .await?;
    db.batch_execute("ANALYZE events").await?;

    let first = listing.first(5).await?;
    println!("\nfirst page (newest first):");
    for e in &first.items {
        println!("  #{:<6} {:<8} {}", e.id, e.kind, e.happened_at);
    }
    let cursor = first.end_cursor.clone().expect("a full page has a cursor");
    println!("next cursor: {cursor}");
    let second = listing.after(&cursor, 5).await?;
    println!(
        "second page: ids {:?}",
        second.items.iter().map(|e| e.id).collect::<Vec<_>>()
    );
    let back = listing
        .before(second.start_cursor.as_ref().expect("cursor"), 5)
        .await?;
    println!(
        "and back: ids {:?}",
        back.items.iter().map(|e| e.id).collect::<Vec<_>>()
    );
    let last = listing.last(3).await?;
    println!(
        "last page: ids {:?} (has_next = {})",
        last.items.iter().map(|e| e.id).collect::<Vec<_>>(),
        last.has_next
    );

    // Deep pages: walk 60,000 rows in, then time one page there against page 1, for the
    // default key (`happened_at desc`) and for `by_kind` (`kind, happened_at desc`), whose
    // directions differ: keyset pages cost the same at any depth for both.
    for (name, sort) in [
        ("default", SortKey::default_for()),
        ("by_kind", Event::BY_KIND),
    ] {
        let listing = events.list_by(sort).max_page_size(5_000);
        let (deep, walked) = cursor_at(&listing, 60_000).await?;
        let first_cost = best_of(5, || async { listing.first(50).await.map(drop) }).await?;
        let deep_cost = best_of(5, || async { listing.after(&deep, 50).await.map(drop) }).await?;
        println!(
            "\n{name}: page of 50 at depth 0: {first_cost:?}; at depth {walked}: {deep_cost:?}"
        );
        let plan = listing.explain_analyze_after(&deep, 50).await?;
        println!("plan of the deep page:\n{plan}");
    }

    // Filtered listing: one account's events, same keyset paging.
    let account3 = events.list().filter(Event::ACCOUNT, 3)?;
    let page = account3.first(3).await?;
    println!(
        "\naccount 3: {:?}",
        page.items
            .iter()
            .map(|e| (e.id, e.account))
            .collect::<Vec<_>>()
    );

    // Export: the whole table as a stream, memory bounded by the batch size.
    let t = Instant::now();
    let count = listing
        .export(10_000)
        .try_fold(0usize, |n, _| async move { Ok(n + 1) })
        .await?;
    println!("exported {count} rows in {:?}", t.elapsed());
    Ok(())
}

/// The cursor after the first `depth` rows (walked by pages of 5,000), and the depth reached.
async fn cursor_at(
    listing: &Listing<'_, Event, Db>,
    depth: usize,
) -> Result<(Cursor, usize), pgrepo::Error> {
    let mut page = listing.first(5_000).await?;
    let mut walked = page.items.len();
    while walked < depth && page.has_next {
        page = listing
            .after(page.end_cursor.as_ref().expect("cursor"), 5_000)
            .await?;
        walked += page.items.len();
    }
    Ok((page.end_cursor.expect("cursor"), walked))
}

/// The fastest of `runs` calls of `f` (one call is at the mercy of the machine's noise).
async fn best_of<F, Fut>(runs: usize, f: F) -> Result<Duration, pgrepo::Error>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(), pgrepo::Error>>,
{
    let mut best = Duration::MAX;
    for _ in 0..runs {
        let t = Instant::now();
        f().await?;
        best = best.min(t.elapsed());
    }
    Ok(best)
}
