//! Cursor tokens: the sort values of a boundary row, signed and made URL-safe.
//!
//! Layout before base64url (no padding): version (1 byte), listing fingerprint (8 bytes), value
//! count (1 byte), each value as a big-endian `i32` length (-1 for NULL) and its bytes in the
//! column type's binary format, then the first 16 bytes of an HMAC-SHA256 over all of it. The
//! values go back to the server as typed parameters, never into SQL text.

use std::error::Error as StdError;
use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bytes::BytesMut;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};

use crate::error::{Error, Result};

const VERSION: u8 = 1;
const MAC_LEN: usize = 16;
/// Used when a listing has no secret: detects corruption and tampering by anyone who does not
/// read this source; set [`DbBuilder::cursor_secret`](crate::DbBuilder::cursor_secret) or
/// [`Listing::secret`](crate::Listing::secret) to prevent forging.
const BUILTIN_KEY: &[u8] = b"pgrepo cursor integrity key v1";

/// An opaque, URL-safe position in a listing, handed to clients and taken back from them.
///
/// Serializes as a string; parse one from a request with `str::parse` or serde.
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Cursor(String);

impl Cursor {
    /// The token text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cursor({})", self.0)
    }
}

impl FromStr for Cursor {
    type Err = std::convert::Infallible;

    /// Any text parses; it is checked when a listing uses it.
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Ok(Cursor(s.to_owned()))
    }
}

impl From<String> for Cursor {
    fn from(s: String) -> Self {
        Cursor(s)
    }
}

/// A parameter already in the binary format of the column it is bound to.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct RawValue(Option<Vec<u8>>);

impl RawValue {
    pub(crate) fn encode(
        value: &(dyn ToSql + Sync),
        ty: &Type,
    ) -> std::result::Result<Self, Box<dyn StdError + Sync + Send>> {
        let mut buf = BytesMut::new();
        Ok(match value.to_sql_checked(ty, &mut buf)? {
            IsNull::Yes => RawValue(None),
            IsNull::No => RawValue(Some(buf.to_vec())),
        })
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.0.as_deref().unwrap_or(&[])
    }
}

impl fmt::Debug for RawValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RawValue({:?})", self.0)
    }
}

impl ToSql for RawValue {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match &self.0 {
            Some(bytes) => {
                out.extend_from_slice(bytes);
                Ok(IsNull::No)
            }
            None => Ok(IsNull::Yes),
        }
    }

    /// Bound only to the statement parameter whose type encoded it.
    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// A short digest identifying a listing (table, sort key, directions, filter).
pub(crate) fn fingerprint(description: &[u8]) -> [u8; 8] {
    let digest = Sha256::digest(description);
    let mut out = [0; 8];
    out.copy_from_slice(&digest[..8]);
    out
}

fn mac(secret: Option<&[u8]>, payload: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.unwrap_or(BUILTIN_KEY))
        .expect("HMAC accepts keys of any length");
    mac.update(payload);
    mac
}

pub(crate) fn encode(fingerprint: [u8; 8], values: &[RawValue], secret: Option<&[u8]>) -> Cursor {
    let mut payload =
        Vec::with_capacity(16 + values.iter().map(|v| 4 + v.as_bytes().len()).sum::<usize>());
    payload.push(VERSION);
    payload.extend_from_slice(&fingerprint);
    payload.push(values.len() as u8);
    for value in values {
        match &value.0 {
            Some(bytes) => {
                payload.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
                payload.extend_from_slice(bytes);
            }
            None => payload.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }
    let tag = mac(secret, &payload).finalize().into_bytes();
    payload.extend_from_slice(&tag[..MAC_LEN]);
    Cursor(URL_SAFE_NO_PAD.encode(payload))
}

fn invalid(reason: impl Into<String>) -> Error {
    Error::InvalidCursor {
        reason: reason.into(),
    }
}

pub(crate) fn decode(
    cursor: &Cursor,
    fingerprint: [u8; 8],
    expected_values: usize,
    secret: Option<&[u8]>,
) -> Result<Vec<RawValue>> {
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor.0.as_bytes())
        .map_err(|_| invalid("not a cursor token (bad encoding)"))?;
    if bytes.len() < 1 + 8 + 1 + MAC_LEN {
        return Err(invalid("not a cursor token (too short)"));
    }
    let (payload, tag) = bytes.split_at(bytes.len() - MAC_LEN);
    // verify_truncated_left compares in constant time.
    mac(secret, payload)
        .verify_truncated_left(tag)
        .map_err(|_| {
            invalid("signature mismatch: the token was altered or signed with another secret")
        })?;
    if payload[0] != VERSION {
        return Err(invalid(format!(
            "unsupported cursor version {}",
            payload[0]
        )));
    }
    if payload[1..9] != fingerprint {
        return Err(invalid(
            "the cursor belongs to another listing (table, sort key, direction or filter)",
        ));
    }
    let count = payload[9] as usize;
    if count != expected_values {
        return Err(invalid("the cursor's sort values do not fit this listing"));
    }
    let mut rest = &payload[10..];
    let mut values = Vec::with_capacity(count);
    for _ in 0..count {
        let (len, tail) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| invalid("truncated cursor"))?;
        let len = i32::from_be_bytes(*len);
        rest = tail;
        if len < 0 {
            values.push(RawValue(None));
            continue;
        }
        let len = len as usize;
        if rest.len() < len {
            return Err(invalid("truncated cursor"));
        }
        values.push(RawValue(Some(rest[..len].to_vec())));
        rest = &rest[len..];
    }
    if !rest.is_empty() {
        return Err(invalid("trailing bytes in cursor"));
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<RawValue> {
        vec![
            RawValue::encode(&42i64, &Type::INT8).unwrap(),
            RawValue::encode(&Option::<String>::None, &Type::TEXT).unwrap(),
            RawValue::encode(&"b".to_owned(), &Type::TEXT).unwrap(),
        ]
    }

    #[test]
    fn round_trips() {
        let c = encode([1; 8], &sample(), None);
        assert!(c
            .as_str()
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(decode(&c, [1; 8], 3, None).unwrap(), sample());
    }

    #[test]
    fn rejects_every_single_byte_change() {
        let c = encode([1; 8], &sample(), Some(b"k"));
        let raw = URL_SAFE_NO_PAD.decode(c.as_str()).unwrap();
        for i in 0..raw.len() {
            let mut t = raw.clone();
            t[i] ^= 0x01;
            let forged = Cursor(URL_SAFE_NO_PAD.encode(&t));
            assert!(
                matches!(
                    decode(&forged, [1; 8], 3, Some(b"k")),
                    Err(Error::InvalidCursor { .. })
                ),
                "byte {i}"
            );
        }
    }

    #[test]
    fn rejects_foreign_and_malformed() {
        let c = encode([1; 8], &sample(), None);
        let err = decode(&c, [2; 8], 3, None).unwrap_err();
        assert!(err.to_string().contains("another listing"), "{err}");
        assert!(decode(&c, [1; 8], 3, Some(b"other")).is_err());
        for bad in [
            "",
            "!!!",
            "abc",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert!(
                decode(&Cursor(bad.into()), [1; 8], 3, None).is_err(),
                "{bad}"
            );
        }
    }
}
