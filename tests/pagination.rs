//! Keyset pagination: complete, ordered walks in both directions, stability under inserts,
//! cursor validation, index use, export.

use futures_util::TryStreamExt as _;
use pgrepo::Executor as _;
use pgrepo::{Cursor, Db, Entity, Error, SortKey};

use crate::common::fresh;

#[derive(Debug, Clone, PartialEq, Entity)]
#[pgrepo(table = "items", order_by = "grp, score desc")]
#[pgrepo(listing(name = "by_grp", order_by = "grp"))]
#[pgrepo(listing(name = "by_score_desc", order_by = "score desc"))]
#[pgrepo(listing(name = "mixed", order_by = "grp desc, score, label desc"))]
pub struct Item {
    #[pgrepo(id, generated)]
    pub id: i64,
    #[pgrepo(lookup)]
    pub owner: i32,
    #[pgrepo(lookup)]
    pub grp: i32,
    pub score: i64,
    pub label: String,
}

const ITEMS: &str = "CREATE TABLE items (
    id BIGSERIAL PRIMARY KEY,
    owner INTEGER NOT NULL,
    grp INTEGER NOT NULL,
    score BIGINT NOT NULL,
    label TEXT NOT NULL
)";

/// `n` rows with many duplicate sort values: 4 groups, 6 scores, 3 labels.
pub(crate) async fn seed(db: &Db, n: i64) {
    db.batch_execute(ITEMS).await.unwrap();
    db.execute(
        "INSERT INTO items (owner, grp, score, label) \
         SELECT i % 3, (i * 7) % 4, (i * 13) % 6, 'l' || (i % 3) FROM generate_series(1, $1::bigint) i",
        &[&n],
    )
    .await
    .unwrap();
    db.batch_execute("ANALYZE items").await.unwrap();
}

/// The reference order, written independently of the library.
pub(crate) async fn reference(db: &Db, order_by: &str, filter: Option<i32>) -> Vec<i64> {
    let sql = match filter {
        Some(_) => format!("SELECT id FROM items WHERE owner = $1 ORDER BY {order_by}"),
        None => format!("SELECT id FROM items ORDER BY {order_by}"),
    };
    let rows = match filter {
        Some(owner) => db.query(&sql, &[&owner]).await.unwrap(),
        None => db.query(&sql, &[]).await.unwrap(),
    };
    rows.iter().map(|r| r.get(0)).collect()
}

/// Every id of `listing`, walked forward by pages of `n`, checking each page's flags.
pub async fn walk_forward<E: Entity<Id = i64>>(
    listing: &pgrepo::Listing<'_, E, Db>,
    n: usize,
) -> Vec<i64> {
    let mut seen = Vec::new();
    let mut page = listing.first(n).await.unwrap();
    assert!(!page.has_previous);
    loop {
        seen.extend(page.items.iter().map(|i| *i.id()));
        if !page.has_next {
            assert!(page.items.len() <= n);
            break;
        }
        assert_eq!(page.items.len(), n, "only the last page is short");
        page = listing
            .after(page.end_cursor.as_ref().unwrap(), n)
            .await
            .unwrap();
        assert!(page.has_previous);
    }
    seen
}

/// Every id of `listing`, walked backward by pages of `n`, in listing order.
pub async fn walk_backward<E: Entity<Id = i64>>(
    listing: &pgrepo::Listing<'_, E, Db>,
    n: usize,
) -> Vec<i64> {
    let mut pages = Vec::new();
    let mut page = listing.last(n).await.unwrap();
    assert!(!page.has_next);
    loop {
        pages.push(page.items.iter().map(|i| *i.id()).collect::<Vec<_>>());
        if !page.has_previous {
            break;
        }
        page = listing
            .before(page.start_cursor.as_ref().unwrap(), n)
            .await
            .unwrap();
        assert!(page.has_next);
    }
    pages.into_iter().rev().flatten().collect()
}

#[tokio::test]
async fn walks_return_every_row_once_in_reference_order() {
    let t = fresh("keyset_walk").await;
    seed(&t.db, 503).await;
    let items = t.db.repo::<Item>();
    let cases: [(SortKey<Item>, &str); 4] = [
        (SortKey::default_for(), "grp ASC, score DESC, id DESC"),
        (Item::BY_GRP, "grp ASC, id ASC"),
        (Item::BY_SCORE_DESC, "score DESC, id DESC"),
        (Item::MIXED, "grp DESC, score ASC, label DESC, id DESC"),
    ];
    for (sort, order_by) in cases {
        let expected = reference(&t.db, order_by, None).await;
        assert_eq!(expected.len(), 503);
        let listing = items.list_by(sort).max_page_size(1000);
        for page_size in [1, 7, 50, 250, 503] {
            assert_eq!(
                walk_forward(&listing, page_size).await,
                expected,
                "{order_by} forward by {page_size}"
            );
            assert_eq!(
                walk_backward(&listing, page_size).await,
                expected,
                "{order_by} backward by {page_size}"
            );
        }
        // Filtered by a lookup column, paged the same way.
        let owned = items.list_by(sort).filter(Item::OWNER, 2).unwrap();
        assert_eq!(
            walk_forward(&owned, 9).await,
            reference(&t.db, order_by, Some(2)).await
        );
        assert_eq!(
            walk_backward(&owned, 9).await,
            reference(&t.db, order_by, Some(2)).await
        );
    }
}

#[tokio::test]
async fn rows_inserted_during_a_walk_never_skip_or_repeat_existing_rows() {
    let t = fresh("keyset_inserts").await;
    seed(&t.db, 300).await;
    let before: Vec<i64> = reference(&t.db, "grp ASC, score DESC, id DESC", None).await;
    let items = t.db.repo::<Item>();
    let listing = items.list();
    let mut seen = Vec::new();
    let mut page = listing.first(20).await.unwrap();
    let mut round = 0i64;
    loop {
        seen.extend(page.items.iter().map(|i| *i.id()));
        // Insert rows all over the order: before, at and after the current position.
        t.db.execute(
            "INSERT INTO items (owner, grp, score, label) \
             SELECT 0, g, s, 'new' FROM generate_series(0, 3) g, generate_series(0, 5) s \
             WHERE (g + s + $1::bigint) % 3 = 0",
            &[&round],
        )
        .await
        .unwrap();
        round += 1;
        if !page.has_next {
            break;
        }
        page = listing
            .after(page.end_cursor.as_ref().unwrap(), 20)
            .await
            .unwrap();
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "no row repeated");
    let seen_old: Vec<i64> = seen
        .iter()
        .copied()
        .filter(|id| before.contains(id))
        .collect();
    assert_eq!(seen_old, before, "every pre-existing row once, in order");
}

#[tokio::test]
async fn foreign_malformed_and_tampered_cursors_are_rejected() {
    let t = fresh("keyset_cursors").await;
    seed(&t.db, 100).await;
    let items = t.db.repo::<Item>();
    let by_grp = items.list_by(Item::BY_GRP);
    let cursor = by_grp.first(10).await.unwrap().end_cursor.unwrap();
    assert!(by_grp.after(&cursor, 10).await.is_ok());

    let invalid = |r: Result<pgrepo::Page<Item>, Error>| match r {
        Err(Error::InvalidCursor { reason, .. }) => reason,
        Err(other) => panic!("expected InvalidCursor, got {other}"),
        Ok(_) => panic!("expected InvalidCursor, got a page"),
    };
    // Another sort key, another direction, another filter value, another secret.
    let reason = invalid(items.list_by(Item::BY_SCORE_DESC).after(&cursor, 10).await);
    assert!(reason.contains("another listing"), "{reason}");
    invalid(items.list().before(&cursor, 10).await);
    let owner1 = items.list_by(Item::BY_GRP).filter(Item::OWNER, 1).unwrap();
    let owned_cursor = owner1.first(3).await.unwrap().end_cursor.unwrap();
    invalid(
        items
            .list_by(Item::BY_GRP)
            .filter(Item::OWNER, 2)
            .unwrap()
            .after(&owned_cursor, 3)
            .await,
    );
    invalid(by_grp.after(&owned_cursor, 3).await);
    invalid(
        items
            .list_by(Item::BY_GRP)
            .secret(b"s3cret".to_vec())
            .after(&cursor, 10)
            .await,
    );

    // Malformed.
    for text in ["", "not a cursor", "%%%", "AAAA", &"A".repeat(400)] {
        invalid(by_grp.after(&text.parse::<Cursor>().unwrap(), 10).await);
    }
    // Tampered: every single-character change of the token is caught.
    let token = cursor.to_string();
    for i in 0..token.len() {
        let mut bytes = token.clone().into_bytes();
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let forged: Cursor = String::from_utf8(bytes).unwrap().into();
        invalid(by_grp.after(&forged, 10).await);
    }
    // Cursors survive serde as plain strings.
    let json = serde_json::to_string(&cursor).unwrap();
    let back: Cursor = serde_json::from_str(&json).unwrap();
    assert_eq!(by_grp.after(&back, 10).await.unwrap().items.len(), 10);
}

#[tokio::test]
async fn page_sizes_are_bounded_and_flags_are_right() {
    let t = fresh("keyset_sizes").await;
    seed(&t.db, 25).await;
    let items = t.db.repo::<Item>();
    let listing = items.list().max_page_size(10);
    let first = listing.first(1000).await.unwrap();
    assert_eq!(first.items.len(), 10);
    assert!(first.has_next && !first.has_previous);
    let last = listing.last(10).await.unwrap();
    assert_eq!(last.items.len(), 10);
    assert!(!last.has_next && last.has_previous);
    let everything = items.list().first(25).await.unwrap();
    assert!(
        !everything.has_next,
        "exactly 25 rows: no next page, found without a count"
    );
    assert_eq!(&everything.items[15..], &last.items[..]);
    let empty = items
        .list()
        .filter(Item::OWNER, 99)
        .unwrap()
        .first(5)
        .await
        .unwrap();
    assert!(empty.items.is_empty() && !empty.has_next && empty.end_cursor.is_none());
}

#[tokio::test]
async fn the_advised_index_serves_deep_pages_and_verify_warns_without_it() {
    let t = fresh("keyset_index").await;
    seed(&t.db, 20_000).await;
    let report = t.db.verify::<Item>().await.unwrap();
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("grp Asc, score Desc, id Desc")),
        "{:?}",
        report.warnings
    );
    let items = t.db.repo::<Item>();
    for sort in [
        SortKey::default_for(),
        Item::BY_GRP,
        Item::BY_SCORE_DESC,
        Item::MIXED,
    ] {
        let listing = items.list_by(sort);
        t.db.batch_execute(&listing.index_advice().sql)
            .await
            .unwrap();
    }
    t.db.batch_execute("ANALYZE items").await.unwrap();
    let report = t.db.verify::<Item>().await.unwrap();
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);

    for sort in [SortKey::default_for(), Item::BY_GRP, Item::MIXED] {
        let listing = items.list_by(sort);
        let mut page = listing.first(50).await.unwrap();
        for _ in 0..3 {
            page = listing
                .after(page.end_cursor.as_ref().unwrap(), 50)
                .await
                .unwrap();
        }
        let plan = listing
            .explain_after(page.end_cursor.as_ref().unwrap(), 50)
            .await
            .unwrap();
        assert!(
            plan.contains("Index Scan") || plan.contains("Index Only Scan"),
            "{plan}"
        );
        assert!(!plan.contains("Seq Scan"), "{plan}");
        // A key of one direction is one index range in order; a mixed one merges a page from
        // each run's range, sorting at most a page per run (`keyset_depth` counts buffers).
        if sort.columns().windows(2).all(|w| w[0].1 == w[1].1) {
            assert!(!plan.contains("Sort"), "{plan}");
        } else {
            assert!(plan.contains("Merge Append"), "{plan}");
        }
    }
}

#[tokio::test]
async fn export_streams_every_row_in_bounded_batches() {
    let t = fresh("keyset_export").await;
    seed(&t.db, 1234).await;
    let items = t.db.repo::<Item>();
    let listing = items.list();
    let batches: Vec<Vec<Item>> = listing.export_batches(100).try_collect().await.unwrap();
    assert_eq!(batches.len(), 13);
    assert!(batches.iter().all(|b| b.len() <= 100));
    let ids: Vec<i64> = batches.iter().flatten().map(|i| i.id).collect();
    assert_eq!(
        ids,
        reference(&t.db, "grp ASC, score DESC, id DESC", None).await
    );
    let all: Vec<Item> = listing.export(333).try_collect().await.unwrap();
    assert_eq!(all.into_iter().map(|i| i.id).collect::<Vec<_>>(), ids);
}

#[tokio::test]
async fn a_db_wide_cursor_secret_seals_every_listing_and_its_transactions() {
    let t = fresh("keyset_db_secret").await;
    seed(&t.db, 60).await;
    let url = t.database.url();
    let keyed = |secret: &'static [u8]| {
        let url = url.clone();
        async move {
            Db::builder(&url)
                .unwrap()
                .cursor_secret(secret)
                .connect()
                .await
                .unwrap()
        }
    };
    let (a, a_again, b) = (
        keyed(b"instance key A, 32 bytes long...").await,
        keyed(b"instance key A, 32 bytes long...").await,
        keyed(b"another key B, 32 bytes long....").await,
    );
    let cursor = a
        .repo::<Item>()
        .list_by(Item::BY_GRP)
        .first(10)
        .await
        .unwrap()
        .end_cursor
        .unwrap();
    let next = |db: &Db| {
        let db = db.clone();
        let cursor = cursor.clone();
        async move {
            db.repo::<Item>()
                .list_by(Item::BY_GRP)
                .after(&cursor, 10)
                .await
        }
    };
    // Another instance with the same key accepts it and continues the walk.
    let page = next(&a_again).await.unwrap();
    assert_eq!(page.items.len(), 10);
    // Another key, and a Db without a secret, reject it.
    for (db, why) in [(&b, "another secret"), (&t.db, "has no secret")] {
        match next(db).await {
            Err(Error::InvalidCursor { reason, .. }) => assert!(reason.contains(why), "{reason}"),
            other => panic!("expected InvalidCursor, got {other:?}"),
        }
    }
    // A transaction of the keyed Db encrypts and opens with the same key.
    let tx = a.begin().await.unwrap();
    let in_tx = tx
        .repo::<Item>()
        .list_by(Item::BY_GRP)
        .after(&cursor, 10)
        .await;
    assert_eq!(in_tx.unwrap().items, page.items);
    tx.rollback().await.unwrap();
    // A listing's own secret takes precedence over the Db's.
    let own = a
        .repo::<Item>()
        .list_by(Item::BY_GRP)
        .secret(b"listing key".to_vec())
        .after(&cursor, 10)
        .await;
    assert!(matches!(own, Err(Error::InvalidCursor { .. })));
}

#[tokio::test]
async fn filters_add_up_in_any_order_and_their_cursors_stay_apart() {
    let t = fresh("keyset_filters").await;
    seed(&t.db, 503).await;
    let items = t.db.repo::<Item>();
    let reference: Vec<i64> =
        t.db.query(
            "SELECT id FROM items WHERE owner = $1 AND grp = $2 ORDER BY score DESC, id DESC",
            &[&1i32, &2i32],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        reference.len() > 20,
        "enough rows to page: {}",
        reference.len()
    );
    let by_score = |owner_first: bool| {
        let listing = items.list_by(Item::BY_SCORE_DESC);
        if owner_first {
            listing
                .filter(Item::OWNER, 1)
                .unwrap()
                .filter(Item::GRP, 2)
                .unwrap()
        } else {
            listing
                .filter(Item::GRP, 2)
                .unwrap()
                .filter(Item::OWNER, 1)
                .unwrap()
        }
    };
    let (a, b) = (by_score(true), by_score(false));
    for n in [1, 7, 50] {
        assert_eq!(
            walk_forward(&a, n).await,
            reference,
            "forward, pages of {n}"
        );
        assert_eq!(
            walk_backward(&b, n).await,
            reference,
            "backward, pages of {n}"
        );
    }
    // The order of the calls does not matter: a cursor of one is a cursor of the other.
    let cursor = a.first(5).await.unwrap().end_cursor.unwrap();
    let next: Vec<i64> = b
        .after(&cursor, 5)
        .await
        .unwrap()
        .items
        .iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(next, reference[5..10]);
    // Another set of filters, or other values, rejects it.
    let owner_only = items
        .list_by(Item::BY_SCORE_DESC)
        .filter(Item::OWNER, 1)
        .unwrap();
    let other_grp = items
        .list_by(Item::BY_SCORE_DESC)
        .filter(Item::OWNER, 1)
        .unwrap()
        .filter(Item::GRP, 3)
        .unwrap();
    for listing in [&owner_only, &other_grp] {
        match listing.after(&cursor, 5).await {
            Err(Error::InvalidCursor { .. }) => {}
            other => panic!("expected InvalidCursor, got {other:?}"),
        }
    }
    // The advised index leads with both equality columns.
    let advice = a.index_advice();
    assert!(
        advice
            .sql
            .contains(r#"("owner", "grp", "score" DESC, "id" DESC)"#),
        "{}",
        advice.sql
    );
}
