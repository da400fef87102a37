//! Cursor tokens: the sort values of a boundary row, sealed and made URL-safe.
//!
//! Both versions share a body: the listing's fingerprint (8 bytes), the value count (1 byte),
//! each value as a big-endian `i32` length (-1 for NULL) and its bytes in the column type's
//! binary format. The values go back to the server as typed parameters, never into SQL text.
//!
//! - Version 2 (`sealed`), for listings with a secret: the body encrypted and authenticated with
//!   XChaCha20-Poly1305 under a key derived from the secret. Unreadable and unforgeable.
//! - Version 1 (`signed`), for listings without one: the body in the clear with an HMAC-SHA256
//!   tag under a key built into pgrepo. Readable by anyone who decodes the base64, and
//!   forgeable by anyone who reads this source; the first one issued says so in a warning.
//!
//! A listing takes only the version it issues: with a secret, a version 1 token (issued without
//! one, or by a pgrepo that only signed) is refused with a reason that says so, since accepting
//! it would let readable, forgeable tokens in where the owner asked for sealed ones; without a
//! secret, a version 2 token cannot be opened.
//!
//! A token is untrusted input, checked cheapest first and whole before any of it is used: its
//! length ([`MAX_CURSOR_LEN`]) and alphabet before base64 decoding, then the version, the tag
//! (in constant time), fingerprint and value count, then each value's length against what is
//! left (nothing is allocated for a declared length that is not there) and its shape against
//! its column's type (`value_check`), since a version 1 token can be forged.

use std::error::Error as StdError;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bytes::BytesMut;
use sha2::{Digest, Sha256};
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};

use crate::entity::ColumnDef;
use crate::error::{Error, Result};

mod sealed;
mod signed;
mod value_check;

pub(crate) use sealed::CursorKey;

/// The longest cursor token, in bytes of token text, that a listing decodes; a longer one is an
/// [`Error::InvalidCursor`] before it is decoded, and a page whose boundary row's sort values
/// would need a longer one is an [`Error::Encode`] rather than a token nobody could use.
///
/// 8 KiB of text carry 6 KiB of sort values: room for a few scalars and text keys of several
/// kilobytes, far beyond any key worth an index (a B-tree entry is at most about 2.7 KB). It is
/// also the request-line limit of common HTTP servers (nginx, Apache), so a token that travels
/// in a URL never needs more; and it bounds the work an untrusted token costs (decoding, one
/// HMAC or one decryption) to some microseconds. An encrypted token carries 24 bytes (a nonce)
/// more than a signed one of the same values.
pub const MAX_CURSOR_LEN: usize = 8 * 1024;

/// Fingerprint and value count: the part of a body every token has.
const BODY_HEADER_LEN: usize = 8 + 1;

/// An opaque, URL-safe position in a listing, handed to clients and taken back from them.
///
/// **Opaque only with a secret.** A listing with a secret
/// ([`DbBuilder::cursor_secret`](crate::DbBuilder::cursor_secret) or
/// [`Listing::secret`](crate::Listing::secret)) encrypts its tokens (XChaCha20-Poly1305): a
/// client can neither read the sort values in one (a customer's email, when listing by email)
/// nor alter or forge one. Without a secret a token is only *signed*, with a key built into
/// pgrepo: its sort values are readable base64, and anyone who reads pgrepo's source can forge
/// one (pgrepo checks every value against its column's type, and warns once per process).
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
    /// A value's text, as bytes (what a value that does not encode is fingerprinted by).
    pub(crate) fn from_text(text: &str) -> Self {
        RawValue(Some(text.as_bytes().to_vec()))
    }

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

/// Why a row's cursor cannot be issued.
#[derive(Debug)]
pub(crate) enum EncodeFailure {
    /// The sort values need a token longer than [`MAX_CURSOR_LEN`].
    TooLarge {
        /// The token's length.
        len: usize,
        /// The index of the largest value: the column to blame.
        largest: usize,
    },
    /// The operating system's random generator failed to give an encrypted token its nonce.
    NoNonce(getrandom::Error),
}

impl EncodeFailure {
    /// The index of the value to blame in the error.
    pub(crate) fn value(&self) -> usize {
        match self {
            EncodeFailure::TooLarge { largest, .. } => *largest,
            EncodeFailure::NoNonce(_) => 0,
        }
    }
}

impl fmt::Display for EncodeFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeFailure::TooLarge { len, .. } => write!(
                f,
                "the sort values are too large for a cursor: its token would be {len} bytes, at \
                 most {MAX_CURSOR_LEN} (`pgrepo::MAX_CURSOR_LEN`); page by a shorter sort key"
            ),
            EncodeFailure::NoNonce(error) => write!(
                f,
                "no random nonce to encrypt the cursor with: the operating system's random \
                 generator failed: {error}"
            ),
        }
    }
}

impl StdError for EncodeFailure {}

/// Set by the first cursor issued without a secret, so that the warning is said once.
static WARNED_UNENCRYPTED: AtomicBool = AtomicBool::new(false);

/// Warns, the first time `warned` is passed here, that cursors are issued readable.
fn warn_unencrypted_once(warned: &AtomicBool) {
    // A load first: after the first cursor, no write to a shared cache line per cursor.
    if !warned.load(Ordering::Relaxed) && !warned.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            "pgrepo issues cursors without a secret: their sort values are readable base64 and \
             they are signed with a key built into pgrepo, which anyone can use to forge one; \
             set `DbBuilder::cursor_secret` (or `Listing::secret`) to encrypt them (said once \
             per process)"
        );
    }
}

/// The token of `values`: encrypted under `key`, or signed with the built-in key without one.
/// An error, rather than a token, when it would be longer than a listing decodes.
pub(crate) fn encode(
    fingerprint: [u8; 8],
    values: &[RawValue],
    key: Option<&CursorKey>,
) -> std::result::Result<Cursor, EncodeFailure> {
    let body_len = BODY_HEADER_LEN + values.iter().map(|v| 4 + v.as_bytes().len()).sum::<usize>();
    let token_len = body_len
        + match key {
            Some(_) => sealed::OVERHEAD,
            None => signed::OVERHEAD,
        };
    // Base64 without padding: 4 characters per 3 bytes, the last group shortened.
    let len = (token_len * 4).div_ceil(3);
    if len > MAX_CURSOR_LEN {
        let largest = (0..values.len())
            .max_by_key(|&i| values[i].as_bytes().len())
            .unwrap_or(0);
        return Err(EncodeFailure::TooLarge { len, largest });
    }
    let mut token = Vec::with_capacity(token_len);
    match key {
        Some(_) => {
            token.push(sealed::VERSION);
            token.resize(sealed::HEADER_LEN, 0);
        }
        None => token.push(signed::VERSION),
    }
    token.extend_from_slice(&fingerprint);
    token.push(values.len() as u8);
    for value in values {
        match &value.0 {
            Some(bytes) => {
                token.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
                token.extend_from_slice(bytes);
            }
            None => token.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }
    match key {
        Some(key) => key.seal(&mut token).map_err(EncodeFailure::NoNonce)?,
        None => {
            warn_unencrypted_once(&WARNED_UNENCRYPTED);
            signed::sign(&mut token);
        }
    }
    debug_assert_eq!(token.len(), token_len);
    Ok(Cursor(URL_SAFE_NO_PAD.encode(token)))
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
/// `columns` (in order) and `key`.
pub(crate) fn decode(
    cursor: &Cursor,
    fingerprint: [u8; 8],
    columns: &[&ColumnDef],
    key: Option<&CursorKey>,
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
    let mut token = URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| invalid("not a cursor token (bad encoding)"))?;
    let too_short = || invalid("not a cursor token (too short)");
    let body = match (token.first().copied(), key) {
        (None, _) => return Err(too_short()),
        (Some(sealed::VERSION), Some(key)) => {
            if token.len() < sealed::OVERHEAD + BODY_HEADER_LEN {
                return Err(too_short());
            }
            key.open(&mut token).ok_or_else(|| {
                invalid(
                    "authentication failed: the token was altered or encrypted with another \
                     secret",
                )
            })?
        }
        (Some(signed::VERSION), None) => {
            if token.len() < signed::OVERHEAD + BODY_HEADER_LEN {
                return Err(too_short());
            }
            signed::verify(&token).ok_or_else(|| {
                invalid("signature mismatch: the token was altered or signed with another key")
            })?
        }
        (Some(signed::VERSION), Some(_)) => {
            return Err(invalid(
                "a readable, signed cursor (version 1) where this listing takes only encrypted \
                 ones (version 2, as it has a secret): it was issued by a listing without a \
                 secret, or by a pgrepo that did not encrypt cursors; start again from the \
                 first page",
            ))
        }
        (Some(sealed::VERSION), None) => {
            return Err(invalid(
                "an encrypted cursor (version 2) where this listing has no secret to open it: \
                 it was issued by a listing with a secret; give this one the same secret",
            ))
        }
        (Some(version), _) => return Err(invalid(format!("unsupported cursor version {version}"))),
    };
    values_in(body, fingerprint, columns)
}

/// The values in a token's `body` (already authenticated), checked against the listing.
fn values_in(body: &[u8], fingerprint: [u8; 8], columns: &[&ColumnDef]) -> Result<Vec<RawValue>> {
    if body[..8] != fingerprint {
        return Err(invalid(
            "the cursor belongs to another listing (table, sort key, direction or filter)",
        ));
    }
    let count = body[8] as usize;
    if count != columns.len() {
        return Err(invalid("the cursor's sort values do not fit this listing"));
    }
    let mut rest = &body[BODY_HEADER_LEN..];
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
