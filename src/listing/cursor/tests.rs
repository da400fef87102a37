//! The token format: round trips, tampering, the length cap on both sides, the alphabet, declared
//! lengths, and forged values checked against their column types. Encryption: `tests/encrypted.rs`.

use super::*;
use hmac::Mac as _;

fn column(name: &'static str, pg_type: Type) -> ColumnDef {
    ColumnDef {
        name,
        field: name,
        rust_type: "?",
        // Unused by the cursor, which checks values against `pg_type`.
        param_type: crate::ParamType::from_column("unused"),
        pg_type,
        array_type: Type::UNKNOWN,
        nullable: true,
        primary_key: false,
        generated: false,
        lookup: false,
        unique: false,
        tenant: false,
        accepts: |_| true,
        enum_labels: None,
    }
}

/// The sort columns of `sample`: `id` int8, `nick` text, `name` text.
fn columns() -> [ColumnDef; 3] {
    [
        column("id", Type::INT8),
        column("nick", Type::TEXT),
        column("name", Type::TEXT),
    ]
}

fn decode_sample(
    c: &Cursor,
    fingerprint: [u8; 8],
    key: Option<&CursorKey>,
) -> Result<Vec<RawValue>> {
    let columns = columns();
    decode(c, fingerprint, &columns.each_ref(), key)
}

fn key(secret: &[u8]) -> CursorKey {
    CursorKey::new(secret.into())
}

fn sample() -> Vec<RawValue> {
    vec![
        RawValue::encode(&42i64, &Type::INT8).unwrap(),
        RawValue::encode(&Option::<String>::None, &Type::TEXT).unwrap(),
        RawValue::encode(&"b".to_owned(), &Type::TEXT).unwrap(),
    ]
}

/// A token of `payload` with the built-in key's tag: what anyone reading this source can make.
fn forged(payload: &[u8]) -> Cursor {
    let tag = signed::mac(payload).finalize().into_bytes();
    Cursor(URL_SAFE_NO_PAD.encode([payload, &tag[..16]].concat()))
}

/// A payload of the sample's layout: fingerprint `[1; 8]`, then `values` as given.
fn payload(values: &[(i32, &[u8])]) -> Vec<u8> {
    let mut out = vec![signed::VERSION, 1, 1, 1, 1, 1, 1, 1, 1, values.len() as u8];
    for (len, bytes) in values {
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(bytes);
    }
    out
}

#[track_caller]
fn reason(result: Result<Vec<RawValue>>) -> String {
    match result {
        Err(Error::InvalidCursor { reason }) => reason,
        other => panic!("expected InvalidCursor, got {other:?}"),
    }
}

#[test]
fn round_trips() {
    let c = encode([1; 8], &sample(), None).unwrap();
    assert!(c.as_str().bytes().all(is_token_byte));
    assert_eq!(decode_sample(&c, [1; 8], None).unwrap(), sample());
    let forged = forged(&payload(&[(8, &42i64.to_be_bytes()), (-1, b""), (1, b"b")]));
    assert_eq!(
        forged, c,
        "the layout the forging helper writes is the real one"
    );
}

#[test]
fn rejects_every_single_byte_change() {
    let secret = key(b"k");
    for key in [None, Some(&secret)] {
        let c = encode([1; 8], &sample(), key).unwrap();
        let raw = URL_SAFE_NO_PAD.decode(c.as_str()).unwrap();
        for i in 0..raw.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut t = raw.clone();
                t[i] ^= flip;
                let forged = Cursor(URL_SAFE_NO_PAD.encode(&t));
                let why = reason(decode_sample(&forged, [1; 8], key));
                // Under a secret, the tag catches every change after the version byte, before
                // anything of the body is looked at.
                if key.is_some() && i > 0 {
                    assert!(why.starts_with("authentication failed"), "byte {i}: {why}");
                }
            }
        }
        // Nor is a token cut short or made longer.
        for len in 0..raw.len() {
            let cut = Cursor(URL_SAFE_NO_PAD.encode(&raw[..len]));
            reason(decode_sample(&cut, [1; 8], key));
        }
        let longer = Cursor(URL_SAFE_NO_PAD.encode([&raw[..], &[0]].concat()));
        reason(decode_sample(&longer, [1; 8], key));
    }
}

#[test]
fn rejects_foreign_and_malformed() {
    let c = encode([1; 8], &sample(), None).unwrap();
    let err = decode_sample(&c, [2; 8], None).unwrap_err();
    assert!(err.to_string().contains("another listing"), "{err}");
    assert!(decode_sample(&c, [1; 8], Some(&key(b"other"))).is_err());
    for bad in [
        "",
        "abc",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        assert!(
            decode_sample(&Cursor(bad.into()), [1; 8], None).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn rejects_tokens_longer_than_the_cap_before_decoding() {
    let long = Cursor("A".repeat(MAX_CURSOR_LEN + 1));
    assert_eq!(
        reason(decode_sample(&long, [1; 8], None)),
        format!(
            "cursor too long: {} bytes, at most {MAX_CURSOR_LEN}",
            MAX_CURSOR_LEN + 1
        )
    );
    // At the cap the token is decoded (and is no version pgrepo writes: all zero bytes).
    let at_cap = Cursor("A".repeat(MAX_CURSOR_LEN));
    assert_eq!(
        reason(decode_sample(&at_cap, [1; 8], None)),
        "unsupported cursor version 0"
    );
}

#[test]
fn rejects_characters_outside_base64url_before_decoding() {
    let c = encode([1; 8], &sample(), None).unwrap();
    for (bad, at) in [
        ("+", 3),
        ("/", 3),
        ("=", 3),
        ("%", 3),
        (" ", 3),
        ("é", 3),
        ("\0", 3),
    ] {
        let mut text = c.as_str().to_owned();
        text.insert_str(at, bad);
        let why = reason(decode_sample(&Cursor(text), [1; 8], None));
        assert_eq!(
            why,
            format!("not a cursor token (byte {at} is not one of A-Z, a-z, 0-9, '-', '_')")
        );
    }
}

#[test]
fn never_issues_a_token_the_decoder_refuses() {
    // 10 header bytes, a 4-byte length, the value, the 16-byte tag: 6,144 bytes of payload
    // are exactly 8,192 characters of token.
    let fits = [RawValue(Some(vec![b'a'; 6114]))];
    let c = encode([1; 8], &fits, None).unwrap();
    assert_eq!(c.as_str().len(), MAX_CURSOR_LEN);
    let text = [column("name", Type::TEXT)];
    assert_eq!(decode(&c, [1; 8], &text.each_ref(), None).unwrap(), fits);

    // One byte more is refused when encoding, never handed out.
    let Err(one_more) = encode([1; 8], &[RawValue(Some(vec![b'a'; 6115]))], None) else {
        panic!("a token over the cap was handed out");
    };
    assert!(
        one_more.to_string().starts_with(
            "the sort values are too large for a cursor: its token would be 8194 bytes, \
             at most 8192"
        ),
        "{one_more}"
    );
    // The error names the largest value, the one to leave out of the sort key.
    let values = [
        RawValue(None),
        RawValue(Some(vec![b'a'; 9000])),
        RawValue(None),
    ];
    assert_eq!(encode([1; 8], &values, None).unwrap_err().value(), 1);
}

#[test]
fn a_declared_length_is_checked_against_what_is_left() {
    let too_long = payload(&[(i32::MAX, b"12345678"), (-1, b""), (1, b"b")]);
    assert_eq!(
        reason(decode_sample(&forged(&too_long), [1; 8], None)),
        "truncated cursor"
    );
    let negative = payload(&[(-2, b""), (-1, b""), (1, b"b")]);
    assert_eq!(
        reason(decode_sample(&forged(&negative), [1; 8], None)),
        "invalid value length -2 in cursor"
    );
    let trailing = payload(&[(8, &[0; 8]), (-1, b""), (1, b"b"), (0, b"")]);
    let mut trailing = trailing;
    trailing[9] = 3;
    assert_eq!(
        reason(decode_sample(&forged(&trailing), [1; 8], None)),
        "trailing bytes in cursor"
    );
}

#[test]
fn forged_values_are_checked_against_their_column_types() {
    let short_id = payload(&[(4, &42i32.to_be_bytes()), (-1, b""), (1, b"b")]);
    assert_eq!(
        reason(decode_sample(&forged(&short_id), [1; 8], None)),
        "the sort value for column `id` (int8) is malformed: 4 bytes, expected 8"
    );
    let nul = payload(&[(8, &42i64.to_be_bytes()), (-1, b""), (3, b"a\0b")]);
    assert_eq!(
        reason(decode_sample(&forged(&nul), [1; 8], None)),
        "the sort value for column `name` (text) is malformed: text with a NUL byte"
    );
}

/// The warnings sent to it, by level, message included.
#[derive(Default, Clone)]
struct Warnings(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl tracing::Subscriber for Warnings {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        struct Message<'a>(&'a mut String);
        impl tracing::field::Visit for Message<'_> {
            fn record_debug(&mut self, _: &tracing::field::Field, value: &dyn fmt::Debug) {
                *self.0 += &format!("{value:?}");
            }
        }
        let mut text = format!("{}: ", event.metadata().level());
        event.record(&mut Message(&mut text));
        self.0.lock().unwrap().push(text);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[test]
fn cursors_without_a_secret_are_warned_about_once() {
    let warnings = Warnings::default();
    let _guard = tracing::subscriber::set_default(warnings.clone());
    let warned = AtomicBool::new(false);
    for _ in 0..3 {
        warn_unencrypted_once(&warned);
    }
    let said = warnings.0.lock().unwrap().clone();
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(
        said[0].starts_with(
            "WARN: pgrepo issues cursors without a secret: their sort values are readable"
        ) && said[0].contains("`DbBuilder::cursor_secret`"),
        "{said:?}"
    );
}

#[test]
fn every_issued_cursor_without_a_secret_is_flagged_for_the_one_warning() {
    encode([1; 8], &sample(), Some(&key(b"k"))).unwrap();
    // Other tests issue cursors without a secret too, in parallel: only this is certain.
    encode([1; 8], &sample(), None).unwrap();
    assert!(WARNED_UNENCRYPTED.load(Ordering::Relaxed));
}

mod cost;
mod encrypted;
