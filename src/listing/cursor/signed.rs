//! Version 1 tokens, for listings without a secret: the body in the clear, signed with a key
//! built into pgrepo.
//!
//! Layout before base64url: version `1` (1 byte), the body, the first 16 bytes of an
//! HMAC-SHA256 over both. Anyone who decodes the base64 reads the sort values, and anyone who
//! reads this source can sign a token of their own: the signature catches corruption and
//! clumsy tampering, not forgery, which is why every value is checked against its column's
//! type afterwards.

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub(super) const VERSION: u8 = 1;
const MAC_LEN: usize = 16;
/// The bytes a version 1 token adds to its body.
pub(super) const OVERHEAD: usize = 1 + MAC_LEN;

/// Public: it is in this source. It is what version 1 tokens are signed with since pgrepo
/// encrypts the cursors of listings with a secret; older versions signed with the secret.
pub(super) const BUILTIN_KEY: &[u8] = b"pgrepo cursor integrity key v1";

pub(super) fn mac(payload: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(BUILTIN_KEY).expect("HMAC accepts any key");
    mac.update(payload);
    mac
}

/// Appends the signature of `token` (the version and the body) to it.
pub(super) fn sign(token: &mut Vec<u8>) {
    debug_assert_eq!(token[0], VERSION);
    let tag = mac(token).finalize().into_bytes();
    token.extend_from_slice(&tag[..MAC_LEN]);
}

/// The body of `token`, or `None` when the token is too short or its signature does not match.
pub(super) fn verify(token: &[u8]) -> Option<&[u8]> {
    let body_len = token.len().checked_sub(OVERHEAD)?;
    let (signed, tag) = token.split_at(1 + body_len);
    // verify_truncated_left compares in constant time.
    mac(signed).verify_truncated_left(tag).ok()?;
    Some(&signed[1..])
}
