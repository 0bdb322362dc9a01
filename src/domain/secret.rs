//! Client secret hashing: `hex(HMAC-SHA256(pepper, secret))`, checked in constant time.
//!
//! HMAC rather than argon2: the secrets are 256 random bits, so slow hashing buys nothing
//! against guessing, and argon2 on every token request would be a denial-of-service lever.
//! Where the pepper comes from: `crate::storage::clients`.

use std::fmt;
use std::sync::Arc;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The key of the client secret hashes. `Debug` never shows it.
#[derive(Clone)]
pub struct Pepper(Arc<[u8]>);

impl Pepper {
    pub fn new(key: &[u8]) -> Pepper {
        Pepper(key.into())
    }

    fn mac(&self, secret: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes keys of any size");
        mac.update(secret.as_bytes());
        mac
    }

    /// `hex(HMAC-SHA256(pepper, secret))`: what `api_clients.secret_hash` holds.
    pub fn hash(&self, secret: &str) -> String {
        hex::encode(self.mac(secret).finalize().into_bytes())
    }

    /// Whether `secret` hashes to `secret_hash`, compared in constant time.
    pub fn verify(&self, secret: &str, secret_hash: &str) -> bool {
        match hex::decode(secret_hash) {
            Ok(tag) => self.mac(secret).verify_slice(&tag).is_ok(),
            Err(_) => false,
        }
    }
}

impl fmt::Debug for Pepper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pepper(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_hmac_sha256_and_compares_exactly() {
        // RFC 4231, test case 2.
        let p = Pepper::new(b"Jefe");
        let msg = "what do ya want for nothing?";
        let hash = p.hash(msg);
        assert_eq!(
            hash,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(p.verify(msg, &hash));
        assert!(!p.verify("what do ya want for nothing", &hash));
        assert!(!p.verify(msg, &hash[..62]), "truncated");
        assert!(!p.verify(msg, "not hex"));
        assert!(!p.verify(msg, ""));
        assert!(!Pepper::new(b"other").verify(msg, &hash));
        assert_eq!(format!("{p:?}"), "Pepper(..)");
    }
}
