//! Cursor tokens: the sort values of a boundary row, signed and made URL-safe.
//!
//! Layout before base64url (no padding): version (1 byte), listing fingerprint (8 bytes), value
//! count (1 byte), each value as a big-endian `i32` length (-1 for NULL) and its bytes in the
//! column type's binary format, then the first 16 bytes of an HMAC-SHA256 over all of it. The
//! values go back to the server as typed parameters, never into SQL text.
//!
//! A token is untrusted input, checked cheapest first and whole before any of it is used: its
//! length ([`MAX_CURSOR_LEN`]) and alphabet before base64 decoding, then the signature, version,
//! fingerprint and value count, then each value's length against what is left (nothing is
//! allocated for a declared length that is not there) and its shape against its column's type
//! (`value_check`), since with the built-in key a token can be forged.

use std::error::Error as StdError;
use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bytes::BytesMut;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};

use crate::entity::ColumnDef;
use crate::error::{Error, Result};

mod value_check;

/// The longest cursor token, in bytes of token text, that a listing decodes; a longer one is an
/// [`Error::InvalidCursor`] before it is decoded, and a page whose boundary row's sort values
/// would need a longer one is an [`Error::Encode`] rather than a token nobody could use.
///
/// 8 KiB of text carry 6 KiB of sort values: room for a few scalars and text keys of several
/// kilobytes, far beyond any key worth an index (a B-tree entry is at most about 2.7 KB). It is
/// also the request-line limit of common HTTP servers (nginx, Apache), so a token that travels
/// in a URL never needs more; and it bounds the work an untrusted token costs (decoding, one
/// HMAC) to some microseconds.
pub const MAX_CURSOR_LEN: usize = 8 * 1024;

const VERSION: u8 = 1;
const MAC_LEN: usize = 16;
/// Used when a listing has no secret: detects corruption and tampering by anyone who does not
/// read this source; set [`DbBuilder::cursor_secret`](crate::DbBuilder::cursor_secret) or
/// [`Listing::secret`](crate::Listing::secret) to prevent forging.
const BUILTIN_KEY: &[u8] = b"pgrepo cursor integrity key v1";

/// An opaque, URL-safe position in a listing, handed to clients and taken back from them.
///
/// Serializes as a string; parse one from a request with `str::parse` or serde. Any text
/// parses; a listing rejects a token longer than [`MAX_CURSOR_LEN`] before decoding it (bound
/// the size of request bodies upstream to avoid reading a huge one at all).
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

/// The sort values of a row need a token longer than [`MAX_CURSOR_LEN`].
#[derive(Debug)]
pub(crate) struct TooLargeForCursor {
    /// The token's length.
    len: usize,
    /// The index of the largest value: the column to blame.
    pub(crate) largest: usize,
}

impl fmt::Display for TooLargeForCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the sort values are too large for a cursor: its token would be {} bytes, at most \
             {MAX_CURSOR_LEN} (`pgrepo::MAX_CURSOR_LEN`); page by a shorter sort key",
            self.len
        )
    }
}

impl StdError for TooLargeForCursor {}

/// The token of `values`, or an error when it would be longer than a listing decodes.
pub(crate) fn encode(
    fingerprint: [u8; 8],
    values: &[RawValue],
    secret: Option<&[u8]>,
) -> std::result::Result<Cursor, TooLargeForCursor> {
    let payload_len =
        1 + 8 + 1 + values.iter().map(|v| 4 + v.as_bytes().len()).sum::<usize>() + MAC_LEN;
    // Base64 without padding: 4 characters per 3 bytes, the last group shortened.
    let len = (payload_len * 4).div_ceil(3);
    if len > MAX_CURSOR_LEN {
        let largest = (0..values.len())
            .max_by_key(|&i| values[i].as_bytes().len())
            .unwrap_or(0);
        return Err(TooLargeForCursor { len, largest });
    }
    let mut payload = Vec::with_capacity(payload_len);
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
    Ok(Cursor(URL_SAFE_NO_PAD.encode(payload)))
}

fn invalid(reason: impl Into<String>) -> Error {
    Error::InvalidCursor {
        reason: reason.into(),
    }
}

/// Whether `b` is in the base64url alphabet.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// The sort values in `cursor`, checked against the listing's `fingerprint`, its sort
/// `columns` (in order) and `secret`.
pub(crate) fn decode(
    cursor: &Cursor,
    fingerprint: [u8; 8],
    columns: &[&ColumnDef],
    secret: Option<&[u8]>,
) -> Result<Vec<RawValue>> {
    let text = cursor.0.as_bytes();
    if text.len() > MAX_CURSOR_LEN {
        return Err(invalid(format!(
            "cursor too long: {} bytes, at most {MAX_CURSOR_LEN}",
            text.len()
        )));
    }
    if let Some(at) = text.iter().position(|&b| !is_token_byte(b)) {
        return Err(invalid(format!(
            "not a cursor token (byte {at} is not one of A-Z, a-z, 0-9, '-', '_')"
        )));
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(text)
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
    if count != columns.len() {
        return Err(invalid("the cursor's sort values do not fit this listing"));
    }
    let mut rest = &payload[10..];
    let mut values = Vec::with_capacity(count);
    for column in columns {
        let (len, tail) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| invalid("truncated cursor"))?;
        rest = tail;
        let len = match i32::from_be_bytes(*len) {
            // NULL passes, as it always has: a well-formed parameter of any type (and the
            // genuine value of a nullable sort column); the server compares it, never parses it.
            -1 => {
                values.push(RawValue(None));
                continue;
            }
            len => usize::try_from(len)
                .map_err(|_| invalid(format!("invalid value length {len} in cursor")))?,
        };
        // Checked before anything is allocated for it.
        if rest.len() < len {
            return Err(invalid("truncated cursor"));
        }
        let (value, tail) = rest.split_at(len);
        value_check::check(&column.pg_type, value).map_err(|why| {
            invalid(format!(
                "the sort value for column `{}` ({}) is malformed: {why}",
                column.name, column.pg_type
            ))
        })?;
        values.push(RawValue(Some(value.to_vec())));
        rest = tail;
    }
    if !rest.is_empty() {
        return Err(invalid("trailing bytes in cursor"));
    }
    Ok(values)
}

#[cfg(test)]
mod tests;
