//! Cursors under a secret are opaque: a listing of customers by email hands out tokens in which
//! no email can be read, walks every row in order both ways with them, and takes no token of the
//! readable, signed format (nor does a listing without a secret take an encrypted one).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use pgrepo::{Cursor, Db, Entity, Page};

use crate::common::{fresh, invalid_reason, walk, Executor as _};

/// The users table listed by email: the sort value a client must not read from a URL.
#[derive(Debug, Clone, PartialEq, Entity)]
#[pgrepo(table = "users", order_by = "email")]
struct Customer {
    #[pgrepo(id, generated)]
    id: i64,
    #[pgrepo(unique)]
    email: String,
    name: String,
}

const SECRET: &[u8] = b"a random secret of 32 bytes.....";

/// 31 customers with distinct emails; returns the emails.
async fn seed(db: &Db) -> Vec<String> {
    db.batch_execute(
        "INSERT INTO users (email, name) \
         SELECT 'customer.' || i || '@shop.example.org', 'Customer ' || i \
         FROM generate_series(1, 31) i",
    )
    .await
    .unwrap();
    let rows = db.query("SELECT email FROM users", &[]).await.unwrap();
    rows.iter().map(|r| r.get(0)).collect()
}

/// Whether the token's bytes hold any 6 consecutive bytes of any email: the local part, the
/// domain, or all of it. Random bytes match 6 given ones with odds of 2^-48 per position.
fn leaked(cursor: &Cursor, emails: &[String]) -> Option<String> {
    let raw = URL_SAFE_NO_PAD.decode(cursor.as_str()).unwrap();
    emails
        .iter()
        .find(|e| {
            e.as_bytes()
                .windows(6)
                .any(|w| raw.windows(6).any(|r| r == w))
        })
        .cloned()
}

fn ids(page: &Page<Customer>) -> Vec<i64> {
    page.items.iter().map(|c| c.id).collect()
}

async fn with_secret(t: &crate::common::TestDb) -> Db {
    Db::builder(&t.database.url())
        .unwrap()
        .cursor_secret(SECRET)
        .connect()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_listing_by_email_with_a_secret_hands_out_no_email() {
    let t = fresh("cursor_secret_opaque").await;
    let emails = seed(&t.db).await;
    let expected: Vec<i64> =
        t.db.query("SELECT id FROM users ORDER BY email, id", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
    assert_eq!(expected.len(), 31);

    // Without a secret the emails are there for anyone to read: the check finds them.
    let plain = t.db.repo::<Customer>();
    let page = plain.list().first(3).await.unwrap();
    let raw = URL_SAFE_NO_PAD
        .decode(page.end_cursor.as_ref().unwrap().as_str())
        .unwrap();
    let last = page.items[2].email.as_bytes();
    assert!(raw.windows(last.len()).any(|w| w == last));
    assert!(leaked(page.end_cursor.as_ref().unwrap(), &emails).is_some());

    // A Db-wide secret, and a listing's own.
    let keyed = with_secret(&t).await;
    let keyed_repo = keyed.repo::<Customer>();
    let listings = [
        keyed_repo.list(),
        plain.list().secret(b"this listing's own secret".to_vec()),
    ];
    for listing in &listings {
        for n in [1, 4, 31] {
            let cursors = walk(listing, n, &expected, |c| c.id).await;
            assert!(cursors.len() >= 2, "by {n}");
            for cursor in &cursors {
                assert_eq!(leaked(cursor, &emails), None, "by {n}: {cursor}");
            }
        }
    }
}

#[tokio::test]
async fn a_listing_takes_only_the_format_it_issues() {
    let t = fresh("cursor_secret_versions").await;
    seed(&t.db).await;
    let keyed = with_secret(&t).await;
    let (plain, keyed) = (t.db.repo::<Customer>(), keyed.repo::<Customer>());
    let signed = plain.list().first(5).await.unwrap().end_cursor.unwrap();
    let sealed = keyed.list().first(5).await.unwrap().end_cursor.unwrap();
    let next = ids(&keyed.list().after(&sealed, 5).await.unwrap());
    assert_eq!(ids(&plain.list().after(&signed, 5).await.unwrap()), next);

    // A signed token, genuine or forged by anyone with pgrepo's source, is refused under a
    // secret, both ways, before anything reaches the server.
    for result in [
        keyed.list().after(&signed, 5).await,
        keyed.list().before(&signed, 5).await,
    ] {
        let why = invalid_reason(result);
        assert!(
            why.starts_with("a readable, signed cursor (version 1) where this listing takes only"),
            "{why}"
        );
    }
    // An encrypted token where there is no secret, or another one.
    let why = invalid_reason(plain.list().after(&sealed, 5).await);
    assert!(
        why.starts_with("an encrypted cursor (version 2) where this listing has no secret"),
        "{why}"
    );
    let why = invalid_reason(
        plain
            .list()
            .secret(b"another".to_vec())
            .after(&sealed, 5)
            .await,
    );
    assert_eq!(
        why,
        "authentication failed: the token was altered or encrypted with another secret"
    );
    // Every single-character change of an encrypted token is caught.
    let token = sealed.to_string();
    for i in 0..token.len() {
        let mut bytes = token.clone().into_bytes();
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let altered: Cursor = String::from_utf8(bytes).unwrap().into();
        invalid_reason(keyed.list().after(&altered, 5).await);
    }
    assert_eq!(ids(&keyed.list().after(&sealed, 5).await.unwrap()), next);
}
