//! The `RosterHub-Signature` header and subscription secrets (docs/webhooks.md).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// What every generated secret starts with, so a leaked one is recognisable.
pub const SECRET_PREFIX: &str = "whsec_";

/// `whsec_` + 32 random bytes in base64url (256 bits).
pub fn generate_secret() -> String {
    let mut buf = [0u8; 32];
    rand::fill(&mut buf[..]);
    format!("{SECRET_PREFIX}{}", URL_SAFE_NO_PAD.encode(buf))
}

/// Hex HMAC-SHA256 keyed with the secret's UTF-8 bytes (prefix included) over `"<t>.<body>"`.
pub fn signature_v1(secret: &str, t: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// The `RosterHub-Signature` header value: `t=<unix seconds>,v1=<hex>`.
pub fn signature_header(secret: &str, t: i64, body: &[u8]) -> String {
    format!("t={t},v1={}", signature_v1(secret, t, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_matches_a_python_hmac() {
        // python3 -c "import hmac,hashlib; print(hmac.new(b'whsec_test_secret_0123456789',
        //   b'1700000000.{\"id\":\"d1\"}', hashlib.sha256).hexdigest())"
        assert_eq!(
            signature_header(
                "whsec_test_secret_0123456789",
                1_700_000_000,
                br#"{"id":"d1"}"#
            ),
            "t=1700000000,v1=0b0869ef90e87e0b0ef22504c51b1c8237f85d990fdf0f96f3fbf57674946b49"
        );
    }

    #[test]
    fn generated_secrets_are_prefixed_base64url_of_32_bytes() {
        let a = generate_secret();
        let b = generate_secret();
        assert_ne!(a, b);
        let raw = a.strip_prefix(SECRET_PREFIX).unwrap();
        assert_eq!(URL_SAFE_NO_PAD.decode(raw).unwrap().len(), 32);
    }
}
