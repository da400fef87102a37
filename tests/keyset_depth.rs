//! Keyset pages that keep their promise: a deep page reads what a shallow one reads for every
//! sort key the derive accepts, any page or batch size gives the documented clamp, and a sort
//! column the table lets be NULL is refused instead of ending a walk early.

use futures_util::TryStreamExt as _;
use pgrepo::Executor as _;
use pgrepo::{Cursor, Db, Entity, Error, Listing, SortKey};

use crate::common::fresh;
use crate::pagination::{walk_backward, walk_forward};

#[derive(Debug, Clone, PartialEq, Entity)]
#[pgrepo(table = "scores", order_by = "grp, score desc")]
#[pgrepo(listing(name = "top", order_by = "score desc"))]
#[pgrepo(listing(name = "zigzag", order_by = "grp desc, score, kind desc"))]
pub struct Score {
    #[pgrepo(id, generated)]
    pub id: i64,
    pub grp: i32,
    pub score: i64,
    pub kind: String,
}

const SCORES: &str = "CREATE TABLE scores (id BIGSERIAL PRIMARY KEY, grp INTEGER NOT NULL, \
                      score BIGINT NOT NULL, kind TEXT NOT NULL)";

const GROUPS: i64 = 4;
const PER_GROUP: i64 = 20_000;

/// 4 groups of 20,000 rows, the advised indexes, fresh statistics.
async fn seed(db: &Db) {
    db.batch_execute(SCORES).await.unwrap();
    db.execute(
        "INSERT INTO scores (grp, score, kind) \
         SELECT i % $1::int, (i * 7919) % 50000, 'k' || (i % 5) \
         FROM generate_series(1, $2::bigint) i",
        &[&(GROUPS as i32), &(GROUPS * PER_GROUP)],
    )
    .await
    .unwrap();
    let scores = db.repo::<Score>();
    for sort in [SortKey::default_for(), Score::TOP, Score::ZIGZAG] {
        db.batch_execute(&scores.list_by(sort).index_advice().sql)
            .await
            .unwrap();
    }
    db.batch_execute("VACUUM ANALYZE scores").await.unwrap();
}

/// The cursor after the first `depth` rows.
async fn cursor_at(listing: &Listing<'_, Score, Db>, depth: usize) -> Cursor {
    listing
        .first(depth)
        .await
        .unwrap()
        .end_cursor
        .expect("a cursor")
}

/// Buffers the whole plan touched (the root node's `Buffers:` line counts its children's).
fn buffers(plan: &str) -> u64 {
    let line = plan
        .lines()
        .find(|l| l.trim_start().starts_with("Buffers:"))
        .unwrap_or_else(|| panic!("no Buffers line in\n{plan}"));
    line.split_whitespace()
        .filter_map(|part| part.split_once('='))
        .map(|(_, n)| n.parse::<u64>().unwrap_or(0))
        .sum()
}

/// The largest `Rows Removed by Filter` of any node.
fn removed_by_filter(plan: &str) -> u64 {
    plan.lines()
        .filter_map(|l| l.trim().strip_prefix("Rows Removed by Filter: "))
        .map(|n| n.parse::<u64>().unwrap())
        .max()
        .unwrap_or(0)
}

#[tokio::test]
async fn a_deep_page_reads_what_a_shallow_one_reads_for_every_sort_key() {
    let t = fresh("keyset_depth").await;
    seed(&t.db).await;
    let scores = t.db.repo::<Score>();
    for sort in [SortKey::default_for(), Score::TOP, Score::ZIGZAG] {
        let listing = scores.list_by(sort).max_page_size(20_000);
        // Within the first group: 10 rows in, and 15,000 rows in.
        let shallow = cursor_at(&listing, 10).await;
        let deep = cursor_at(&listing, 15_000).await;
        let shallow_plan = listing.explain_analyze_after(&shallow, 50).await.unwrap();
        let deep_plan = listing.explain_analyze_after(&deep, 50).await.unwrap();
        let (near, far) = (buffers(&shallow_plan), buffers(&deep_plan));
        assert!(
            far <= near + 3,
            "{sort:?}: the deep page read {far} buffers, the shallow one {near}\n\
             deep plan:\n{deep_plan}\nshallow plan:\n{shallow_plan}"
        );
        assert!(
            removed_by_filter(&deep_plan) <= 50,
            "{sort:?}: a filter threw rows away in proportion to depth\n{deep_plan}"
        );
        assert!(!deep_plan.contains("Seq Scan"), "{deep_plan}");
        // And the page is the right one: the 50 rows after the boundary in the server's order.
        let page = listing.after(&deep, 50).await.unwrap();
        let everything = listing.first(15_050).await.unwrap();
        assert_eq!(page.items, everything.items[15_000..]);
    }
}

#[tokio::test]
async fn mixed_direction_walks_cross_every_group_boundary_both_ways() {
    let t = fresh("keyset_mixed_walk").await;
    t.db.batch_execute(SCORES).await.unwrap();
    t.db.execute(
        "INSERT INTO scores (grp, score, kind) \
         SELECT i % 3, i % 4, 'k' || (i % 2) FROM generate_series(1, 300) i",
        &[],
    )
    .await
    .unwrap();
    let scores = t.db.repo::<Score>();
    for (sort, order_by) in [
        (SortKey::default_for(), "grp, score DESC, id DESC"),
        (Score::ZIGZAG, "grp DESC, score, kind DESC, id DESC"),
    ] {
        let expected: Vec<i64> =
            t.db.query(&format!("SELECT id FROM scores ORDER BY {order_by}"), &[])
                .await
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
        let listing = scores.list_by(sort);
        for n in [1, 7, 50] {
            assert_eq!(
                walk_forward(&listing, n).await,
                expected,
                "{sort:?} forward by {n}"
            );
            assert_eq!(
                walk_backward(&listing, n).await,
                expected,
                "{sort:?} backward by {n}"
            );
        }
    }
}

#[tokio::test]
async fn any_page_or_batch_size_gives_the_documented_clamp() {
    let t = fresh("keyset_clamp").await;
    t.db.batch_execute(SCORES).await.unwrap();
    t.db.execute(
        "INSERT INTO scores (grp, score, kind) \
         SELECT i % 4, i, 'k' FROM generate_series(1, 1200) i",
        &[],
    )
    .await
    .unwrap();
    let scores = t.db.repo::<Score>();
    let unbounded = scores.list().max_page_size(usize::MAX);
    for n in [
        usize::MAX,
        i64::MAX as usize,
        (i64::MAX - 1) as usize,
        1200,
        5000,
    ] {
        let page = unbounded.first(n).await.unwrap();
        assert_eq!(page.items.len(), 1200, "first({n})");
        assert!(!page.has_next, "first({n})");
        let page = unbounded.last(n).await.unwrap();
        assert_eq!(page.items.len(), 1200, "last({n})");
    }
    let start = unbounded.first(1).await.unwrap().end_cursor.unwrap();
    let rest = unbounded.after(&start, usize::MAX).await.unwrap();
    assert_eq!(rest.items.len(), 1199);
    assert!(!rest.has_next && rest.has_previous);

    // The default ceiling cuts, and a zero asks for one row.
    let listing = scores.list();
    let page = listing.first(usize::MAX).await.unwrap();
    assert_eq!(page.items.len(), pgrepo::DEFAULT_MAX_PAGE_SIZE);
    assert!(page.has_next);
    assert_eq!(listing.first(0).await.unwrap().items.len(), 1);

    for size in [usize::MAX, i64::MAX as usize, 0, 1, 333] {
        let all: Vec<Score> = listing.export(size).try_collect().await.unwrap();
        assert_eq!(all.len(), 1200, "export({size})");
    }
    let batches: Vec<Vec<Score>> = listing
        .max_export_batch(100)
        .export_batches(usize::MAX)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(batches.len(), 12, "batches cut to max_export_batch");
    assert!(batches.iter().all(|b| b.len() == 100));
}

#[tokio::test]
async fn a_sort_column_the_table_lets_be_null_is_refused_before_paging() {
    let t = fresh("keyset_nullable").await;
    // `score` is nullable in the table, not in the struct; `verify` would say so.
    t.db.batch_execute(
        "CREATE TABLE scores (id BIGSERIAL PRIMARY KEY, grp INTEGER NOT NULL, \
         score BIGINT, kind TEXT NOT NULL);
         INSERT INTO scores (grp, score, kind) \
         SELECT 1, CASE WHEN i > 20 THEN NULL ELSE i END, 'k' FROM generate_series(1, 30) i",
    )
    .await
    .unwrap();
    let scores = t.db.repo::<Score>();
    let listing = scores.list_by(Score::TOP);
    let refused = |result: Result<pgrepo::Page<Score>, Error>| match result {
        Err(Error::NullableSortColumn {
            table: "scores",
            column: "score",
            listing: "top",
            ..
        }) => {}
        other => panic!("expected NullableSortColumn, got {other:?}"),
    };
    refused(listing.first(10).await);
    refused(listing.last(10).await);
    let err = listing.first(10).await.unwrap_err();
    assert!(err.to_string().contains("SET NOT NULL"), "{err}");
    let exported: Result<Vec<Score>, Error> = listing.export(10).try_collect().await;
    assert!(matches!(exported, Err(Error::NullableSortColumn { .. })));
    // Inside a transaction too.
    let tx = t.db.begin().await.unwrap();
    refused(tx.repo::<Score>().list_by(Score::TOP).first(10).await);
    tx.rollback().await.unwrap();

    // Fixed in the table, the same listing on the same `Db` pages every row.
    t.db.batch_execute(
        "UPDATE scores SET score = 100 + id WHERE score IS NULL; \
         ALTER TABLE scores ALTER COLUMN score SET NOT NULL",
    )
    .await
    .unwrap();
    let mut seen = 0;
    let mut page = listing.first(7).await.unwrap();
    loop {
        seen += page.items.len();
        if !page.has_next {
            break;
        }
        page = listing
            .after(page.end_cursor.as_ref().unwrap(), 7)
            .await
            .unwrap();
    }
    assert_eq!(seen, 30);
}

#[tokio::test]
async fn the_server_keeps_one_plan_for_deep_pages_of_a_mixed_key() {
    // One connection, so the prepared statements below are the listing's own.
    let t = crate::common::fresh_with("keyset_plans", |b| b.max_size(1)).await;
    seed(&t.db).await;
    let listing = t.db.repo::<Score>().list().max_page_size(20_000);
    let deep = cursor_at(&listing, 15_000).await;
    for _ in 0..20 {
        assert_eq!(listing.after(&deep, 50).await.unwrap().items.len(), 50);
    }
    let plans =
        t.db.query(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements \
             WHERE statement LIKE '%AS keyset_page%' AND statement NOT LIKE '%pg_prepared%'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(plans.len(), 1, "one statement for pages of 50");
    let (generic, custom): (i64, i64) = (plans[0].get(0), plans[0].get(1));
    // The server plans the first five executions for their values, then keeps a generic plan
    // when it costs no more; a limit it cannot see would have it plan every page again.
    assert!(
        custom <= 5 && generic >= 15,
        "generic plans {generic}, custom plans {custom}"
    );
}
