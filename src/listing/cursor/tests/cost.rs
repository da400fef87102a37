//! What a cursor costs: encode + decode per token, signed (version 1, the HMAC-SHA256 format
//! that secrets used before encryption) against encrypted (version 2), and the key derivation.
//! A timing loop, not an assertion: run it in release,
//! `cargo test --release --lib listing::cursor::tests::cost -- --ignored --nocapture`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use super::*;

/// The time per call of `f` in the fastest of many short rounds: the machines this runs on are
/// shared, and the fastest round is the one least disturbed by other work.
fn per_call(mut f: impl FnMut()) -> Duration {
    (0..300)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..300 {
                f();
            }
            start.elapsed() / 300
        })
        .min()
        .unwrap_or_default()
}

#[test]
#[ignore = "a timing loop; run in release with --ignored --nocapture"]
fn cost() {
    let k = key(b"a secret of 32 bytes, or more...");
    let cases: [(&str, Vec<(ColumnDef, RawValue)>); 2] = [
        (
            "email, id",
            vec![
                (
                    column("email", Type::TEXT),
                    RawValue::encode(&"alice.liddell@example.com".to_owned(), &Type::TEXT).unwrap(),
                ),
                (
                    column("id", Type::INT8),
                    RawValue::encode(&4242i64, &Type::INT8).unwrap(),
                ),
            ],
        ),
        (
            "1 KiB text, id",
            vec![
                (column("body", Type::TEXT), RawValue(Some(vec![b'a'; 1024]))),
                (
                    column("id", Type::INT8),
                    RawValue::encode(&4242i64, &Type::INT8).unwrap(),
                ),
            ],
        ),
    ];
    for (name, case) in &cases {
        let columns: Vec<&ColumnDef> = case.iter().map(|(c, _)| c).collect();
        let values: Vec<RawValue> = case.iter().map(|(_, v)| v.clone()).collect();
        let round_trip = |key: Option<&CursorKey>| {
            per_call(|| {
                let c = encode([7; 8], black_box(&values), key).unwrap();
                black_box(decode(black_box(&c), [7; 8], &columns, key).unwrap());
            })
        };
        let signed = round_trip(None);
        let sealed = round_trip(Some(&k));
        println!(
            "{name}: signed (v1) {signed:?}, encrypted (v2) {sealed:?} per encode + decode; \
             ratio {:.2}",
            sealed.as_secs_f64() / signed.as_secs_f64()
        );
    }
    let mut token = vec![0; 60];
    token[0] = sealed::VERSION;
    let seal = per_call(|| {
        let mut t = black_box(&token).clone();
        k.seal(&mut t).unwrap();
        black_box(t);
    });
    println!("of which sealing a 35-byte body (nonce included): {seal:?}");
    use chacha20poly1305::aead::AeadInOut as _;
    use chacha20poly1305::{KeyInit as _, XChaCha20Poly1305, XNonce};
    let aead = XChaCha20Poly1305::new(&[1; 32].into());
    let encrypt = per_call(|| {
        let mut body = black_box([0u8; 35]);
        let tag = aead
            .encrypt_inout_detached(&XNonce::from([3; 24]), &[2], (&mut body[..]).into())
            .unwrap();
        black_box((body, tag));
    });
    println!("of which XChaCha20-Poly1305 alone: {encrypt:?}");
    let aead12 = chacha20poly1305::ChaCha20Poly1305::new(&[1; 32].into());
    let encrypt12 = per_call(|| {
        let mut body = black_box([0u8; 35]);
        let tag = aead12
            .encrypt_inout_detached(&[3; 12].into(), &[2], (&mut body[..]).into())
            .unwrap();
        black_box((body, tag));
    });
    println!("(ChaCha20-Poly1305, 12-byte nonce, for comparison: {encrypt12:?})");
    let derive = per_call(|| {
        black_box(CursorKey::new(
            black_box(&b"a secret of 32 bytes, or more..."[..]).into(),
        ));
    });
    println!("key derivation (once per Db, or per Listing::secret call): {derive:?}");
    let nonce = per_call(|| {
        let mut n = [0; 24];
        getrandom::fill(&mut n).unwrap();
        black_box(n);
    });
    println!("of which the nonce from the OS: {nonce:?}");
}
