//! Version 2 tokens, for listings with a secret: the body encrypted and authenticated with
//! XChaCha20-Poly1305, so a client can neither read a token's sort values nor alter or forge one.
//!
//! Layout before base64url: version `2` (1 byte, authenticated as associated data), a random
//! nonce (24 bytes), the body encrypted (as long as the body), the Poly1305 tag (16 bytes).
//!
//! The key is derived once per secret, as HMAC-SHA256 of a fixed label keyed by the secret: a
//! pseudo-random function of the secret, so a secret of any length gives a 256-bit key and the
//! key is never the secret itself (nor the v1 HMAC key an older pgrepo signed with). The nonce
//! comes from the operating system's generator for every token: 192 random bits never repeat
//! in practice, however many tokens one key encrypts, which is why the extended-nonce variant
//! is used. Verification of the tag is constant-time (in the `chacha20poly1305` crate).

use std::fmt;
use std::sync::Arc;

use chacha20poly1305::aead::AeadInOut as _;
use chacha20poly1305::{Key, KeyInit as _, Tag, XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub(super) const VERSION: u8 = 2;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
/// Where the body starts: after the version and the nonce.
pub(super) const HEADER_LEN: usize = 1 + NONCE_LEN;
/// The bytes a version 2 token adds to its body.
pub(super) const OVERHEAD: usize = HEADER_LEN + TAG_LEN;

/// Domain separation: the key derived for this format from a secret, and nothing else.
const KEY_LABEL: &[u8] = b"pgrepo cursor encryption key, version 2, XChaCha20-Poly1305";

/// A cursor secret and the encryption key derived from it once, shared by every listing of a
/// `Db` (a clone is a reference count).
#[derive(Clone)]
pub(crate) struct CursorKey(Arc<Keys>);

struct Keys {
    secret: Arc<[u8]>,
    aead: XChaCha20Poly1305,
}

impl CursorKey {
    pub(crate) fn new(secret: Arc<[u8]>) -> Self {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&secret).expect("HMAC accepts keys of any length");
        mac.update(KEY_LABEL);
        let key: [u8; 32] = mac.finalize().into_bytes().into();
        let aead = XChaCha20Poly1305::new(&Key::from(key));
        CursorKey(Arc::new(Keys { secret, aead }))
    }

    /// The secret as it was given.
    pub(crate) fn secret(&self) -> &Arc<[u8]> {
        &self.0.secret
    }

    /// Encrypts `token` in place: its first [`HEADER_LEN`] bytes are the version (already
    /// written) and room for the nonce, the rest is the body; appends the tag.
    pub(super) fn seal(&self, token: &mut Vec<u8>) -> Result<(), getrandom::Error> {
        debug_assert_eq!(token[0], VERSION);
        let (header, body) = token.split_at_mut(HEADER_LEN);
        getrandom::fill(&mut header[1..])?;
        let nonce = XNonce::try_from(&header[1..]).expect("24 bytes");
        let tag = self
            .0
            .aead
            .encrypt_inout_detached(&nonce, &header[..1], body.into())
            .expect("a cursor body is far below XChaCha20-Poly1305's message limit");
        token.extend_from_slice(&tag);
        Ok(())
    }

    /// The body of `token`, decrypted in place, or `None` when the token is too short or its
    /// tag does not match: it was altered, or encrypted with another key, or never was a token.
    pub(super) fn open<'t>(&self, token: &'t mut [u8]) -> Option<&'t [u8]> {
        let body_len = token.len().checked_sub(OVERHEAD)?;
        let (header, rest) = token.split_at_mut(HEADER_LEN);
        let (body, tag) = rest.split_at_mut(body_len);
        let nonce = XNonce::try_from(&header[1..]).ok()?;
        let tag = Tag::try_from(&*tag).ok()?;
        self.0
            .aead
            .decrypt_inout_detached(&nonce, &header[..1], (&mut *body).into(), &tag)
            .ok()?;
        Some(body)
    }
}

impl fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the secret.
        f.write_str("CursorKey(<secret>)")
    }
}
