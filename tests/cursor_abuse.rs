//! Cursors as an attack surface: a token is untrusted input. Oversized and non-base64url tokens
//! are refused before they are decoded; a token forged with the built-in key (it is in the
//! source) whose values do not fit their columns' types is refused before anything reaches the
//! server, and the pool serves the next page; no page hands out a token the decoder would
//! refuse; genuine cursors still walk every listing.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use pgrepo::tokio_postgres::types::{to_sql_checked, FromSql, IsNull, ToSql, Type};
use pgrepo::{Cursor, Db, Entity, Error, Listing, Page, SortKey, SqlType, MAX_CURSOR_LEN};
use sha2::Sha256;

use crate::common::{fresh, fresh_with, invalid_reason, walk, Executor as _};

/// A NUMERIC kept in its binary form: enough to sort by one without a decimal crate.
#[derive(Debug, Clone, PartialEq)]
pub struct RawNumeric(Vec<u8>);

impl<'a> FromSql<'a> for RawNumeric {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(RawNumeric(raw.to_vec()))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::NUMERIC
    }
}

impl ToSql for RawNumeric {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.extend_from_slice(&self.0);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::NUMERIC
    }

    to_sql_checked!();
}

impl SqlType for RawNumeric {
    const PG_TYPE: Type = Type::NUMERIC;
    const ARRAY_TYPE: Type = Type::NUMERIC_ARRAY;
    type NonNull = Self;
}

/// Sort keys over text (`label, id`), int4 (`rank, id`) and numeric (`amount, id`).
#[derive(Debug, Clone, PartialEq, Entity)]
#[pgrepo(table = "entries", order_by = "label")]
#[pgrepo(listing(name = "by_rank", order_by = "rank"))]
#[pgrepo(listing(name = "by_amount", order_by = "amount"))]
pub struct Entry {
    #[pgrepo(id, generated)]
    pub id: i64,
    pub rank: i32,
    pub label: String,
    pub amount: RawNumeric,
}

const ENTRIES: &str = "CREATE TABLE entries (
    id BIGSERIAL PRIMARY KEY,
    rank INTEGER NOT NULL,
    label TEXT NOT NULL,
    amount NUMERIC NOT NULL
)";

/// 40 rows with duplicate ranks and amounts, negative amounts and a NaN.
async fn seed(db: &Db) {
    db.batch_execute(ENTRIES).await.unwrap();
    db.batch_execute(
        "INSERT INTO entries (rank, label, amount) \
         SELECT i % 5, 'e' || lpad(i::text, 3, '0'), \
                CASE WHEN i = 17 THEN 'NaN' ELSE (i % 7 - 3) * 1.25 END \
         FROM generate_series(1, 40) i",
    )
    .await
    .unwrap();
}

/// The key cursors are signed with when no secret is set, as written in
/// src/listing/cursor/signed.rs: public, which is why the values of a cursor are checked like any
/// other input. (With a secret, cursors are encrypted: tests/cursor_secret.rs.)
const BUILTIN_KEY: &[u8] = b"pgrepo cursor integrity key v1";

/// A cursor carrying `values` for the listing `genuine` belongs to, signed with the built-in key,
/// in the documented layout: version 1, the listing's 8-byte fingerprint, the value count, each
/// value as a big-endian i32 length and its bytes, the first 16 bytes of HMAC-SHA256.
fn forge(genuine: &Cursor, values: &[&[u8]]) -> Cursor {
    let mut body = Vec::new();
    for value in values {
        body.extend_from_slice(&(value.len() as i32).to_be_bytes());
        body.extend_from_slice(value);
    }
    forge_raw(genuine, values.len() as u8, &body)
}

/// A cursor whose values (`count` of them) are `body`, written as given: lengths included.
fn forge_raw(genuine: &Cursor, count: u8, body: &[u8]) -> Cursor {
    let raw = URL_SAFE_NO_PAD.decode(genuine.as_str()).unwrap();
    let mut payload = vec![1];
    payload.extend_from_slice(&raw[1..9]);
    payload.push(count);
    payload.extend_from_slice(body);
    let mut mac = Hmac::<Sha256>::new_from_slice(BUILTIN_KEY).unwrap();
    mac.update(&payload);
    payload.extend_from_slice(&mac.finalize().into_bytes()[..16]);
    URL_SAFE_NO_PAD.encode(payload).into()
}

/// The ids `sql` returns: the reference, written independently of the library.
async fn ids_of(db: &Db, sql: &str) -> Vec<i64> {
    let rows = db.query(sql, &[]).await.unwrap();
    rows.iter().map(|r| r.get(0)).collect()
}

fn ids(page: &Page<Entry>) -> Vec<i64> {
    page.items.iter().map(|e| e.id).collect()
}

/// The page after a genuine cursor, and a check that the listing still serves it.
async fn serves_the_next_page(listing: &Listing<'_, Entry, Db>, cursor: &Cursor, expected: &[i64]) {
    let page = listing.after(cursor, 5).await.expect("the next page");
    assert_eq!(ids(&page), expected);
}

#[tokio::test]
async fn oversized_and_non_base64url_cursors_are_rejected_before_decoding() {
    let t = fresh("cursor_oversized").await;
    seed(&t.db).await;
    let entries = t.db.repo::<Entry>();
    let listing = entries.list_by(Entry::BY_RANK);
    let cursor = listing.first(5).await.unwrap().end_cursor.unwrap();
    let next = ids(&listing.after(&cursor, 5).await.unwrap());

    assert_eq!(MAX_CURSOR_LEN, 8 * 1024);
    // Base64url text that would decode (and then fail its signature) if it were decoded.
    for len in [1 << 20, 10 * 1024, MAX_CURSOR_LEN + 1] {
        let long: Cursor = "A".repeat(len).into();
        for result in [
            listing.after(&long, 5).await,
            listing.before(&long, 5).await,
        ] {
            assert_eq!(
                invalid_reason(result),
                format!("cursor too long: {len} bytes, at most {MAX_CURSOR_LEN}")
            );
        }
    }
    // A genuine token with one character from outside the alphabet: refused by the alphabet
    // check, not by the decoder.
    for bad in ["+", "/", "=", "%2B", ".", "\u{e9}"] {
        let tampered: Cursor = format!("{}{bad}", cursor.as_str()).into();
        let reason = invalid_reason(listing.after(&tampered, 5).await);
        assert_eq!(
            reason,
            format!(
                "not a cursor token (byte {} is not one of A-Z, a-z, 0-9, '-', '_')",
                cursor.as_str().len()
            )
        );
    }
    serves_the_next_page(&listing, &cursor, &next).await;
}

#[tokio::test]
async fn forged_values_that_do_not_fit_their_column_types_are_rejected() {
    // One connection: the page after each rejection runs on the connection the forged
    // values would have reached.
    let t = fresh_with("cursor_forged", |b| b.max_size(1)).await;
    seed(&t.db).await;
    let entries = t.db.repo::<Entry>();

    // int4 and int8: `rank, id`.
    let by_rank = entries.list_by(Entry::BY_RANK);
    let page = by_rank.first(5).await.unwrap();
    let (cursor, last) = (page.end_cursor.clone().unwrap(), page.items[4].clone());
    let next = ids(&by_rank.after(&cursor, 5).await.unwrap());
    let (rank, id) = (last.rank.to_be_bytes(), last.id.to_be_bytes());
    // The forging helper writes the real layout: the genuine token, byte for byte, and a
    // forged position with well-formed values is served like a genuine one.
    assert_eq!(forge(&cursor, &[&rank, &id]), cursor);
    let elsewhere = forge(&cursor, &[&2i32.to_be_bytes(), &0i64.to_be_bytes()]);
    let expected = ids_of(
        &t.db,
        "SELECT id FROM entries WHERE (rank, id) > (2, 0) ORDER BY rank, id LIMIT 5",
    )
    .await;
    serves_the_next_page(&by_rank, &elsewhere, &expected).await;

    // Declared lengths: more than is left (nothing is allocated for it), or negative but not
    // NULL's -1.
    let huge = [&i32::MAX.to_be_bytes()[..], &rank, &id].concat();
    let why = invalid_reason(by_rank.after(&forge_raw(&cursor, 2, &huge), 5).await);
    assert_eq!(why, "truncated cursor");
    let negative = [&(-2i32).to_be_bytes()[..], &8i32.to_be_bytes(), &id].concat();
    let why = invalid_reason(by_rank.after(&forge_raw(&cursor, 2, &negative), 5).await);
    assert_eq!(why, "invalid value length -2 in cursor");
    serves_the_next_page(&by_rank, &cursor, &next).await;

    let short_id = 7i32.to_be_bytes();
    let cases: [(&[&[u8]], &str); 3] = [
        (
            &[&rank, &short_id],
            "`id` (int8) is malformed: 4 bytes, expected 8",
        ),
        (
            &[&id, &id],
            "`rank` (int4) is malformed: 8 bytes, expected 4",
        ),
        (
            &[&rank, &[]],
            "`id` (int8) is malformed: 0 bytes, expected 8",
        ),
    ];
    for (values, reason) in cases {
        let forged = forge(&cursor, values);
        for result in [
            by_rank.after(&forged, 5).await,
            by_rank.before(&forged, 5).await,
        ] {
            let why = invalid_reason(result);
            assert_eq!(why, format!("the sort value for column {reason}"));
        }
        serves_the_next_page(&by_rank, &cursor, &next).await;
    }

    // text: `label, id`.
    let by_label = entries.list();
    let page = by_label.first(5).await.unwrap();
    let (cursor, last) = (page.end_cursor.clone().unwrap(), page.items[4].clone());
    let next = ids(&by_label.after(&cursor, 5).await.unwrap());
    let id = last.id.to_be_bytes();
    assert_eq!(forge(&cursor, &[last.label.as_bytes(), &id]), cursor);
    let cases: [(&[u8], &str); 2] = [
        (b"e00\0", "text with a NUL byte"),
        (b"e\xff00", "not UTF-8 text"),
    ];
    for (label, reason) in cases {
        let why = invalid_reason(by_label.after(&forge(&cursor, &[label, &id]), 5).await);
        assert!(
            why.starts_with(&format!(
                "the sort value for column `label` (text) is malformed: {reason}"
            )),
            "{why}"
        );
        serves_the_next_page(&by_label, &cursor, &next).await;
    }

    // numeric: `amount, id`.
    let by_amount = entries.list_by(Entry::BY_AMOUNT);
    let page = by_amount.first(5).await.unwrap();
    let (cursor, last) = (page.end_cursor.clone().unwrap(), page.items[4].clone());
    let next = ids(&by_amount.after(&cursor, 5).await.unwrap());
    let id = last.id.to_be_bytes();
    assert_eq!(forge(&cursor, &[&last.amount.0, &id]), cursor);
    // Header words: digit count, weight, sign, display scale; then the digits.
    let numeric = |words: &[u16]| {
        words
            .iter()
            .flat_map(|w| w.to_be_bytes())
            .collect::<Vec<_>>()
    };
    let cases = [
        (
            numeric(&[1, 0, 0x1234, 0, 5]),
            "invalid numeric sign 0x1234",
        ),
        (
            numeric(&[1, 0, 0, 0x4000, 5]),
            "invalid numeric scale 0x4000",
        ),
        (
            numeric(&[1, 0, 0, 0, 10_000]),
            "invalid numeric digit 10000",
        ),
        (
            numeric(&[3, 0, 0, 0, 5]),
            "10 bytes, expected 14 for 3 numeric digits",
        ),
        (
            numeric(&[0, 0, 0]),
            "6 bytes, expected at least 8 (the numeric header)",
        ),
    ];
    for (amount, reason) in cases {
        let why = invalid_reason(by_amount.after(&forge(&cursor, &[&amount, &id]), 5).await);
        assert_eq!(
            why,
            format!("the sort value for column `amount` (numeric) is malformed: {reason}")
        );
        serves_the_next_page(&by_amount, &cursor, &next).await;
    }
}

#[tokio::test]
async fn genuine_cursors_walk_every_listing() {
    let t = fresh("cursor_genuine").await;
    seed(&t.db).await;
    let entries = t.db.repo::<Entry>();
    let cases: [(SortKey<Entry>, &str); 3] = [
        (SortKey::default_for(), "label, id"),
        (Entry::BY_RANK, "rank, id"),
        (Entry::BY_AMOUNT, "amount, id"),
    ];
    for (sort, order_by) in cases {
        let expected = ids_of(
            &t.db,
            &format!("SELECT id FROM entries ORDER BY {order_by}"),
        )
        .await;
        assert_eq!(expected.len(), 40);
        for n in [1, 7] {
            walk(&entries.list_by(sort), n, &expected, |e| e.id).await;
            walk(
                &entries.list_by(sort).secret(b"k".to_vec()),
                n,
                &expected,
                |e| e.id,
            )
            .await;
        }
    }
}

#[tokio::test]
async fn a_page_never_hands_out_a_cursor_the_listing_would_refuse() {
    let t = fresh("cursor_too_large").await;
    t.db.batch_execute(ENTRIES).await.unwrap();
    let entries = t.db.repo::<Entry>();
    let listing = entries.list();
    // `label, id`: 10 header bytes, 4 + label, 4 + 8, a 16-byte tag; 6,144 bytes of payload
    // are 8,192 characters of token, the most a listing decodes.
    t.db.execute(
        "INSERT INTO entries (rank, label, amount) VALUES (1, repeat('x', 6102), 1)",
        &[],
    )
    .await
    .unwrap();
    let page = listing.first(5).await.unwrap();
    let cursor = page.end_cursor.unwrap();
    assert_eq!(cursor.as_str().len(), MAX_CURSOR_LEN);
    let after = listing.after(&cursor, 5).await.unwrap();
    assert!(after.items.is_empty() && after.has_previous);

    // One byte more: the page is an error naming the column, not a token nobody can use.
    t.db.execute("UPDATE entries SET label = label || 'x'", &[])
        .await
        .unwrap();
    match listing.first(5).await {
        Err(Error::Encode {
            table,
            column,
            source,
            ..
        }) => {
            assert_eq!((table, column), ("entries", "label"));
            assert!(
                source.to_string().starts_with(
                    "the sort values are too large for a cursor: its token would be 8194 \
                     bytes, at most 8192"
                ),
                "{source}"
            );
        }
        Err(other) => panic!("expected Error::Encode, got {other}"),
        Ok(page) => panic!(
            "expected Error::Encode, got a page with a cursor of {:?} bytes",
            page.end_cursor.map(|c| c.as_str().len())
        ),
    }
}
