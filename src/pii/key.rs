//! An AES-256 key: its id, its cipher, and the one cell format every encrypted value uses.

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

use super::PiiError;

/// The prefix of every encrypted cell: `pii1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>`.
pub const PREFIX: &str = "pii1:";
/// Hex characters of a key id (the first bytes of SHA-256 of the key).
pub const KEY_ID_LEN: usize = 8;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// A 256-bit key. `Debug` shows its id only; the key itself is never printed or logged.
#[derive(Clone)]
pub struct Key {
    id: String,
    bytes: [u8; 32],
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key({})", self.id)
    }
}

impl Key {
    pub fn from_bytes(bytes: [u8; 32]) -> Key {
        let digest = Sha256::digest(bytes);
        let id = hex::encode(&digest[..KEY_ID_LEN / 2]);
        let cipher = Aes256Gcm::new_from_slice(&bytes).expect("32 bytes is an AES-256 key");
        Key { id, bytes, cipher }
    }

    /// A key from its base64 text (standard or URL-safe alphabet, padding optional).
    pub fn from_base64(text: &str) -> Result<Key, PiiError> {
        let text = text.trim();
        let decoded = STANDARD
            .decode(text)
            .or_else(|_| URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')))
            .map_err(|_| PiiError::Config("a PII key must be base64 text".into()))?;
        let bytes: [u8; 32] = decoded.try_into().map_err(|v: Vec<u8>| {
            PiiError::Config(format!(
                "a PII key must be 32 bytes (base64 of 32 random bytes), not {}",
                v.len()
            ))
        })?;
        Ok(Key::from_bytes(bytes))
    }

    /// A new random key (`rosterhub keys generate`).
    pub fn generate() -> Key {
        let mut bytes = [0u8; 32];
        rand::fill(&mut bytes[..]);
        Key::from_bytes(bytes)
    }

    /// The key as base64, for `rosterhub keys generate` only.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.bytes)
    }

    /// The first 8 hex characters of SHA-256 of the key: written into every value it encrypts.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Encrypts `plain` bound to `aad` under a fresh random nonce.
    pub fn seal(&self, aad: &[u8], plain: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::fill(&mut nonce[..]);
        let sealed = self
            .cipher
            .encrypt(&nonce.into(), Payload { msg: plain, aad })
            .expect("AES-GCM encrypts any value shorter than 64 GiB");
        let mut raw = Vec::with_capacity(NONCE_LEN + sealed.len());
        raw.extend_from_slice(&nonce);
        raw.extend_from_slice(&sealed);
        let mut out = String::with_capacity(PREFIX.len() + KEY_ID_LEN + 1 + raw.len() * 4 / 3 + 4);
        out.push_str(PREFIX);
        out.push_str(&self.id);
        out.push(':');
        URL_SAFE_NO_PAD.encode_string(&raw, &mut out);
        out
    }

    /// Decrypts the body of a cell sealed by this key; `None` if it does not authenticate.
    pub fn open(&self, aad: &[u8], body: &str) -> Option<Vec<u8>> {
        let raw = URL_SAFE_NO_PAD.decode(body).ok()?;
        if raw.len() < NONCE_LEN + TAG_LEN {
            return None;
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
        self.cipher
            .decrypt(&nonce.into(), Payload { msg: sealed, aad })
            .ok()
    }
}

/// `(key id, body)` of an encrypted cell; `None` for any other text.
pub fn split_cell(cell: &str) -> Option<(&str, &str)> {
    let rest = cell.strip_prefix(PREFIX)?;
    let (id, body) = rest.split_at_checked(KEY_ID_LEN)?;
    let body = body.strip_prefix(':')?;
    let hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    (id.bytes().all(hex)
        && !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    .then_some((id, body))
}

/// Whether a stored cell is an encrypted value.
pub fn is_sealed(cell: &str) -> bool {
    split_cell(cell).is_some()
}
