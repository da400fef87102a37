//! Keyset pagination: pages a table forward and back with opaque cursors, jumps to a deep
//! page at the cost of the first, shows the advised index and its plan, and exports the whole
//! table as a stream of bounded batches.
//!
//! Needs nothing: without `DATABASE_URL` it starts a throwaway PostgreSQL.
//! Run with `cargo run --release --example pagination`.

use std::time::Instant;

use futures_util::TryStreamExt as _;
use pgrepo::prelude::*;
use pgrepo::testkit::TestCluster;

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

    // A deep page: walk 100,000 rows in by pages of 5,000, then time one page there
    // against page 1. Keyset pages cost the same at any depth.
    let mut deep = listing.first(5_000).await?.end_cursor.expect("cursor");
    let mut walked = 5_000;
    while walked < 100_000 {
        deep = listing
            .after(&deep, 5_000)
            .await?
            .end_cursor
            .expect("cursor");
        walked += 5_000;
    }
    let t0 = Instant::now();
    listing.first(50).await?;
    let first_cost = t0.elapsed();
    let t1 = Instant::now();
    let deep_page = listing.after(&deep, 50).await?;
    let deep_cost = t1.elapsed();
    println!(
        "\npage of 50 at depth 0: {first_cost:?}; at depth {walked}: {deep_cost:?} ({} rows)",
        deep_page.items.len()
    );
    println!(
        "plan of the deep page:\n{}",
        listing.explain_after(&deep, 50).await?
    );

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
