//! Version 2 tokens: unreadable, unforgeable without the secret, and never confused with
//! version 1 ones.

use super::*;

/// A sort key `email, id` whose email is easy to look for.
const EMAIL: &str = "alice.liddell@example.com";

fn email_columns() -> [ColumnDef; 2] {
    [column("email", Type::TEXT), column("id", Type::INT8)]
}

fn email_values() -> Vec<RawValue> {
    vec![
        RawValue::encode(&EMAIL.to_owned(), &Type::TEXT).unwrap(),
        RawValue::encode(&4242i64, &Type::INT8).unwrap(),
    ]
}

fn decode_email(c: &Cursor, key: Option<&CursorKey>) -> Result<Vec<RawValue>> {
    let columns = email_columns();
    decode(c, [7; 8], &columns.each_ref(), key)
}

/// Whether `haystack` holds any 6 consecutive bytes of `needle`: a partial leak (the domain
/// alone, say) counts. 6 random bytes match by chance with odds around 2^-48 per position.
fn leaks(haystack: &[u8], needle: &[u8]) -> bool {
    needle
        .windows(6)
        .any(|w| haystack.windows(6).any(|h| h == w))
}

#[test]
fn round_trips_with_a_fresh_nonce_each_time() {
    let k = key(b"a secret of 32 bytes, or more...");
    let a = encode([7; 8], &email_values(), Some(&k)).unwrap();
    let b = encode([7; 8], &email_values(), Some(&k)).unwrap();
    assert!(a.as_str().bytes().all(is_token_byte));
    assert_eq!(decode_email(&a, Some(&k)).unwrap(), email_values());
    assert_eq!(decode_email(&b, Some(&k)).unwrap(), email_values());
    // Same row, different tokens: nothing links two cursors of one position, and the key
    // stream is never reused.
    let (ra, rb) = (
        URL_SAFE_NO_PAD.decode(a.as_str()).unwrap(),
        URL_SAFE_NO_PAD.decode(b.as_str()).unwrap(),
    );
    assert_eq!(ra[0], 2, "version");
    assert_ne!(ra[1..25], rb[1..25], "nonce");
    assert_ne!(ra[25..], rb[25..], "ciphertext");
    // 1 version + 24 nonce + (8 + 1 + 4 + 25 + 4 + 8) body + 16 tag.
    assert_eq!(ra.len(), 1 + 24 + 50 + 16);
}

#[test]
fn an_encrypted_token_contains_no_sort_value() {
    let k = key(b"a secret of 32 bytes, or more...");
    let signed = URL_SAFE_NO_PAD
        .decode(encode([7; 8], &email_values(), None).unwrap().as_str())
        .unwrap();
    // The check finds the email where it is in the clear.
    assert!(leaks(&signed, EMAIL.as_bytes()));
    for _ in 0..100 {
        let c = encode([7; 8], &email_values(), Some(&k)).unwrap();
        let raw = URL_SAFE_NO_PAD.decode(c.as_str()).unwrap();
        assert!(!leaks(&raw, EMAIL.as_bytes()), "the email in {c}");
        assert!(!leaks(&raw, &4242i64.to_be_bytes()), "the id in {c}");
        assert!(!leaks(&raw, &[7; 8]), "the fingerprint in {c}");
        assert!(!c.as_str().contains("alice"), "{c}");
    }
}

#[test]
fn another_secret_cannot_open_a_token() {
    let a = encode([7; 8], &email_values(), Some(&key(b"secret A"))).unwrap();
    for other in [&b"secret B"[..], b"", b"secret A ", &[b'x'; 200]] {
        assert_eq!(
            reason(decode_email(&a, Some(&key(other)))),
            "authentication failed: the token was altered or encrypted with another secret"
        );
    }
    // Any length of secret makes a key.
    for secret in [&b""[..], b"k", &[7; 32], &[9; 1000]] {
        let k = key(secret);
        let c = encode([7; 8], &email_values(), Some(&k)).unwrap();
        assert_eq!(decode_email(&c, Some(&k)).unwrap(), email_values());
    }
}

#[test]
fn a_listing_takes_only_the_version_it_issues() {
    let k = key(b"k");
    // A version 1 token where there is a secret: issued without one (built-in key), or signed
    // with the secret itself by a pgrepo that did not encrypt.
    let builtin = encode([7; 8], &email_values(), None).unwrap();
    let mut old = URL_SAFE_NO_PAD.decode(builtin.as_str()).unwrap();
    old.truncate(old.len() - 16);
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(b"k").unwrap();
    mac.update(&old);
    let tag = mac.finalize().into_bytes();
    let signed_with_secret = Cursor(URL_SAFE_NO_PAD.encode([&old[..], &tag[..16]].concat()));
    for v1 in [builtin, signed_with_secret] {
        let why = reason(decode_email(&v1, Some(&k)));
        assert!(
            why.starts_with(
                "a readable, signed cursor (version 1) where this listing takes only encrypted \
                 ones (version 2, as it has a secret)"
            ),
            "{why}"
        );
        assert!(why.ends_with("start again from the first page"), "{why}");
    }
    // A version 2 token where there is none.
    let v2 = encode([7; 8], &email_values(), Some(&k)).unwrap();
    assert!(reason(decode_email(&v2, None))
        .starts_with("an encrypted cursor (version 2) where this listing has no secret"));
    // Inside, the checks of version 1 apply: the fingerprint, then the values.
    assert!(
        reason(decode(&v2, [8; 8], &email_columns().each_ref(), Some(&k)))
            .contains("another listing")
    );
    let swapped = [column("id", Type::INT8), column("email", Type::TEXT)];
    assert!(reason(decode(&v2, [7; 8], &swapped.each_ref(), Some(&k)))
        .starts_with("the sort value for column `id` (int8) is malformed"));
}

#[test]
fn never_issues_an_encrypted_token_the_decoder_refuses() {
    let k = key(b"k");
    // 25 header bytes, 9 body header bytes, a 4-byte length, the value, the 16-byte tag:
    // 6,144 bytes are exactly 8,192 characters of token.
    let fits = [RawValue(Some(vec![b'a'; 6090]))];
    let c = encode([1; 8], &fits, Some(&k)).unwrap();
    assert_eq!(c.as_str().len(), MAX_CURSOR_LEN);
    let text = [column("name", Type::TEXT)];
    assert_eq!(
        decode(&c, [1; 8], &text.each_ref(), Some(&k)).unwrap(),
        fits
    );
    let Err(one_more) = encode([1; 8], &[RawValue(Some(vec![b'a'; 6091]))], Some(&k)) else {
        panic!("a token over the cap was handed out");
    };
    assert!(
        one_more
            .to_string()
            .contains("its token would be 8194 bytes, at most 8192"),
        "{one_more}"
    );
}
