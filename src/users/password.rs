//! Passwords: at least 12 characters, hashed with argon2id (the crate's default parameters,
//! a random salt per hash) into a PHC string; verified by the crate (constant-time comparison).
//!
//! Hashing costs tens of milliseconds and ~19 MiB on purpose: call these on a blocking thread
//! (`spawn_blocking`).

use std::fmt;
use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};

use super::Invalid;

/// The fewest characters of a password.
pub const MIN_CHARS: usize = 12;
/// The most bytes of a password (a longer one is no stronger, and costs more to hash).
pub const MAX_BYTES: usize = 1024;

/// A password in memory. `Debug` never shows it, so it cannot reach a log by accident.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// A password offered at login: any length up to [`MAX_BYTES`] (the rules are checked
    /// when a password is set, not when it is tried).
    pub fn offered(s: String) -> Password {
        Password(s)
    }

    /// A new password: [`MIN_CHARS`] characters or more, at most [`MAX_BYTES`] bytes.
    pub fn new(s: String) -> Result<Password, Invalid> {
        if s.chars().count() < MIN_CHARS {
            return Err(Invalid::new(
                "password",
                format!("a password has at least {MIN_CHARS} characters"),
            ));
        }
        if s.len() > MAX_BYTES {
            return Err(Invalid::new(
                "password",
                format!("a password has at most {MAX_BYTES} bytes"),
            ));
        }
        Ok(Password(s))
    }

    /// A new random password to hand over once (an account made or reset by an administrator):
    /// 20 characters of letters and digits without look-alikes (no 0/O, 1/l/I), ~113 bits, in
    /// groups of five so it can be read out and typed.
    pub fn generate() -> Password {
        const ALPHABET: &[u8] = b"23456789abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";
        let mut bytes = [0u8; 20];
        rand::fill(&mut bytes[..]);
        let mut out = String::with_capacity(23);
        for (i, b) in bytes.iter().enumerate() {
            if i > 0 && i % 5 == 0 {
                out.push('-');
            }
            // 256 is not a multiple of 56: the bias (< 1 %) costs a fraction of a bit.
            out.push(ALPHABET[usize::from(*b) % ALPHABET.len()] as char);
        }
        Password(out)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The argon2id PHC string of the password (`$argon2id$v=19$…`), with a random salt.
    pub fn hash(&self) -> String {
        Argon2::default()
            .hash_password(self.0.as_bytes())
            .expect("argon2id hashes any password of at most MAX_BYTES with a random salt")
            .to_string()
    }

    /// Whether the password matches a stored PHC string. Only argon2id hashes are accepted;
    /// a password over [`MAX_BYTES`] never matches.
    pub fn verify(&self, phc: &str) -> bool {
        if self.0.len() > MAX_BYTES || !phc.starts_with("$argon2id$") {
            // Same cost as a real check, so the answer's timing tells nothing.
            self.verify_dummy();
            return false;
        }
        Argon2::default()
            .verify_password(self.0.as_bytes(), phc)
            .is_ok()
    }

    /// A check against a fixed hash that never matches: what a login of an unknown user
    /// spends, so that its answer takes as long as a wrong password's.
    pub fn verify_dummy(&self) {
        let bytes = self.0.as_bytes();
        dummy_verify(&bytes[..bytes.len().min(MAX_BYTES)]);
    }
}

fn dummy_verify(password: &[u8]) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let phc = DUMMY.get_or_init(|| {
        Argon2::default()
            .hash_password(b"rosterhub dummy password for timing")
            .expect("argon2id hashes a constant")
            .to_string()
    });
    let _ = Argon2::default().verify_password(password, phc.as_str());
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_hash_and_verify() {
        assert!(Password::new("short".into()).is_err());
        assert!(Password::new("elevenchars".into()).is_err());
        // Characters, not bytes: twelve kana are enough.
        assert!(Password::new("あいうえおかきくけこさし".into()).is_ok());
        assert!(Password::new("x".repeat(MAX_BYTES + 1)).is_err());

        let p = Password::new("correct horse battery".into()).unwrap();
        let phc = p.hash();
        assert!(phc.starts_with("$argon2id$v=19$"), "{phc}");
        assert!(!phc.contains("correct horse"));
        assert_ne!(phc, p.hash(), "a random salt per hash");
        assert!(p.verify(&phc));
        assert!(!Password::offered("correct horse batterx".into()).verify(&phc));
        assert!(!p.verify("$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA"));
        assert!(!p.verify("not a hash"));
        assert_eq!(format!("{p:?}"), "Password(..)");
    }

    #[test]
    fn generated_passwords_follow_the_rules_and_differ() {
        let a = Password::generate();
        assert_eq!(a.expose().len(), 23, "{:?}", a.expose());
        assert_eq!(a.expose().matches('-').count(), 3);
        assert!(Password::new(a.expose().to_owned()).is_ok());
        assert!(!a.expose().contains(['0', 'O', '1', 'l', 'I']));
        assert_ne!(a.expose(), Password::generate().expose());
    }
}
