//! Access tokens: short-lived HS256 JWTs bound to a tenant, a client and its granted scopes.
//!
//! Verification is stateless: a token is valid until it expires (at most
//! [`TOKEN_LIFETIME_SECS`]); the handlers refuse the tokens of a revoked client by checking the
//! client on each request. Several signing keys may verify at once: the token's `kid` names
//! one (see [`super::keyring`] for rotation).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Header, Validation};
use serde::{Deserialize, Serialize};

use super::Scopes;
use super::keyring::{self, KeySet, Keyring};
use crate::domain::secret::Pepper;
use crate::storage::clients::SigningKey;
use crate::storage::{Store, StoreError};

/// The `iss` of every token this server issues.
pub const ISSUER: &str = "rosterhub";
/// `expires_in` of the token response (the usual 3600 s, ONEROSTER.md §3.8).
pub const TOKEN_LIFETIME_SECS: u64 = 3600;
/// How far a replica's clock may run behind the one that issued a token: `iat` and `nbf` may be
/// this far in the future, no more.
pub const CLOCK_SKEW_SECS: u64 = 60;

/// Why a bearer token was refused. The messages never contain the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("the token is not a well-formed JWT")]
    Malformed,
    #[error("the token's algorithm is not accepted")]
    Algorithm,
    #[error("the token was signed with an unknown key")]
    UnknownKey,
    #[error("the token's signature is invalid")]
    Signature,
    #[error("the token has expired")]
    Expired,
    #[error("the token's claims are invalid")]
    Claims,
    #[error(
        "the token's times are not ones this server issues (issued or valid only in the \
         future, or living longer than the token lifetime); request a new token"
    )]
    Lifetime,
    #[error("cannot sign a token: {0}")]
    Signing(String),
}

/// Who a valid token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub tenant: String,
    pub client_id: String,
    pub scopes: Scopes,
}

/// A token just issued.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub access_token: String,
    pub expires_in: u64,
    pub scopes: Scopes,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    tenant: String,
    scope: String,
    iat: u64,
    exp: u64,
    /// Never issued by this server, but honoured if a token has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nbf: Option<u64>,
    jti: String,
}

/// Issues and verifies tokens; holds the signing keys and the client secret pepper.
/// Cheap to clone (clones share the keys). `Debug` shows no key material.
#[derive(Clone)]
pub struct Auth {
    inner: Arc<Inner>,
}

struct Inner {
    keyring: Keyring,
    validation: Validation,
    pepper: Pepper,
    issuer: String,
    lifetime_secs: u64,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("kid", &self.kid())
            .field("issuer", &self.inner.issuer)
            .field("lifetime_secs", &self.inner.lifetime_secs)
            .finish_non_exhaustive()
    }
}

fn validation() -> Validation {
    let mut validation = Validation::new(Algorithm::HS256);
    // Our own tokens, checked by our own replicas: no grace period after `exp`.
    validation.leeway = 0;
    validation.set_issuer(&[ISSUER]);
    validation.set_required_spec_claims(&["exp", "iss", "sub"]);
    validation
}

impl Auth {
    /// Reads (on a new database: creates) the signing keys and the pepper; the keys are
    /// reloaded from `store` on a rotation (see `crate::auth::keyring`).
    pub async fn load(store: &Store) -> anyhow::Result<Auth> {
        Auth::load_with_refresh(store, keyring::REFRESH_INTERVAL).await
    }

    /// [`Auth::load`] with another interval of the periodic reload (tests).
    pub async fn load_with_refresh(store: &Store, every: Duration) -> anyhow::Result<Auth> {
        use anyhow::Context as _;
        let mut keyring = Keyring::load(store, TOKEN_LIFETIME_SECS)
            .await
            .context("cannot load the token signing keys")?;
        keyring.set_refresh_interval(every);
        let pepper = store
            .client_pepper()
            .await
            .context("cannot load the client secret pepper")?;
        Ok(Auth::with_keyring(keyring, pepper))
    }

    /// One fixed key that signs and verifies, never reloaded.
    pub fn new(key: SigningKey, pepper: Pepper) -> Auth {
        let keyring = Keyring::fixed(KeySet::single(&key), TOKEN_LIFETIME_SECS);
        Auth::with_keyring(keyring, pepper)
    }

    fn with_keyring(keyring: Keyring, pepper: Pepper) -> Auth {
        Auth {
            inner: Arc::new(Inner {
                keyring,
                validation: validation(),
                pepper,
                issuer: ISSUER.to_owned(),
                lifetime_secs: TOKEN_LIFETIME_SECS,
            }),
        }
    }

    /// The kid of the key that signs now.
    pub fn kid(&self) -> String {
        self.inner.keyring.keys().signing_kid.clone()
    }

    pub fn lifetime_secs(&self) -> u64 {
        self.inner.lifetime_secs
    }

    /// The pepper that client secrets are checked with.
    pub fn pepper(&self) -> &Pepper {
        &self.inner.pepper
    }

    /// Reads the signing keys from the database now (after a rotation by this process).
    pub async fn reload_keys(&self) -> Result<(), StoreError> {
        self.inner.keyring.reload().await
    }

    /// Reloads the signing keys if this copy is older than the refresh interval.
    pub async fn refresh_keys(&self) {
        self.inner.keyring.refresh_if_stale().await
    }

    /// A token for `client_id` of `tenant`, granting `scopes`.
    pub fn issue(
        &self,
        tenant: &str,
        client_id: &str,
        scopes: Scopes,
    ) -> Result<IssuedToken, AuthError> {
        let now = jsonwebtoken::get_current_timestamp();
        self.issue_at(tenant, client_id, scopes, now)
    }

    fn issue_at(
        &self,
        tenant: &str,
        client_id: &str,
        scopes: Scopes,
        iat: u64,
    ) -> Result<IssuedToken, AuthError> {
        let claims = Claims {
            iss: self.inner.issuer.clone(),
            sub: client_id.to_owned(),
            tenant: tenant.to_owned(),
            scope: scopes.to_list_string(),
            iat,
            exp: iat + self.inner.lifetime_secs,
            nbf: None,
            jti: uuid::Uuid::new_v4().simple().to_string(),
        };
        let keys = self.inner.keyring.keys();
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(keys.signing_kid.clone());
        let access_token = jsonwebtoken::encode(&header, &claims, &keys.encoding)
            .map_err(|e| AuthError::Signing(e.to_string()))?;
        Ok(IssuedToken {
            access_token,
            expires_in: self.inner.lifetime_secs,
            scopes,
        })
    }

    /// Checks a bearer token against the keys this copy holds: HS256 only (never `none` or
    /// another algorithm), a kid of a key that still verifies, a valid signature, our issuer,
    /// not expired, and times this server could have issued: `iat` and `nbf` not in the future
    /// beyond [`CLOCK_SKEW_SECS`], `exp` no later than `iat` + the token lifetime. A token
    /// signed with a leaked key therefore lives an hour at most, whatever it claims. The scopes
    /// are what the token lists; the handlers narrow them to the client's current scopes.
    pub fn verify(&self, bearer_token: &str) -> Result<Principal, AuthError> {
        // `alg: none` and unknown algorithms already fail here: they are no `Algorithm`.
        let header = jsonwebtoken::decode_header(bearer_token).map_err(|_| AuthError::Malformed)?;
        if header.alg != Algorithm::HS256 {
            return Err(AuthError::Algorithm);
        }
        let keys = self.inner.keyring.keys();
        let now = jsonwebtoken::get_current_timestamp();
        let decoding = header
            .kid
            .as_deref()
            .and_then(|kid| keys.verifier(kid, now))
            .ok_or(AuthError::UnknownKey)?;
        let data = jsonwebtoken::decode::<Claims>(bearer_token, decoding, &self.inner.validation)
            .map_err(|e| match e.kind() {
            ErrorKind::InvalidSignature => AuthError::Signature,
            ErrorKind::ExpiredSignature => AuthError::Expired,
            ErrorKind::InvalidAlgorithm | ErrorKind::UnsupportedAlgorithm => AuthError::Algorithm,
            ErrorKind::InvalidToken | ErrorKind::Base64(_) | ErrorKind::Utf8(_) => {
                AuthError::Malformed
            }
            _ => AuthError::Claims,
        })?;
        let claims = data.claims;
        self.check_times(&claims, now)?;
        Ok(Principal {
            tenant: claims.tenant,
            client_id: claims.sub,
            scopes: Scopes::parse_list(&claims.scope),
        })
    }

    fn check_times(&self, claims: &Claims, now: u64) -> Result<(), AuthError> {
        let latest = now + CLOCK_SKEW_SECS;
        let too_long = claims
            .exp
            .checked_sub(claims.iat)
            .is_none_or(|life| life > self.inner.lifetime_secs);
        if claims.iat > latest || claims.nbf.is_some_and(|nbf| nbf > latest) || too_long {
            return Err(AuthError::Lifetime);
        }
        Ok(())
    }

    /// [`Auth::verify`] with keys kept fresh: reloads them first when they are old, and once
    /// more (rate-limited) when the token names a kid this copy does not know — a key another
    /// replica made by a rotation.
    pub async fn verify_fresh(&self, bearer_token: &str) -> Result<Principal, AuthError> {
        self.refresh_keys().await;
        match self.verify(bearer_token) {
            Err(AuthError::UnknownKey) => {
                self.inner.keyring.reload_after_miss().await;
                self.verify(bearer_token)
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jsonwebtoken::EncodingKey;

    use super::*;

    fn auth_with(kid: &str, secret: &[u8]) -> Auth {
        let key = SigningKey {
            kid: kid.to_owned(),
            secret: secret.to_vec(),
        };
        Auth::new(key, Pepper::new(b"pepper"))
    }

    fn auth() -> Auth {
        auth_with("k1", &[7u8; 32])
    }

    fn b64(json: &serde_json::Value) -> String {
        URL_SAFE_NO_PAD.encode(json.to_string())
    }

    fn valid_payload() -> serde_json::Value {
        let now = jsonwebtoken::get_current_timestamp();
        serde_json::json!({
            "iss": ISSUER, "sub": "c1", "tenant": "t1", "scope": Scopes::ROSTER_URI,
            "iat": now, "exp": now + 600, "jti": "j1"
        })
    }

    #[test]
    fn a_token_round_trips_to_its_principal() {
        let auth = auth();
        let scopes = Scopes::ROSTER.union(Scopes::DEMOGRAPHICS);
        let t = auth.issue("t1", "c1", scopes).unwrap();
        assert_eq!(t.expires_in, 3600);
        let p = auth.verify(&t.access_token).unwrap();
        assert_eq!(
            p,
            Principal {
                tenant: "t1".into(),
                client_id: "c1".into(),
                scopes
            }
        );
        // Another instance with the same key (another replica) accepts it too.
        assert!(auth_with("k1", &[7u8; 32]).verify(&t.access_token).is_ok());
    }

    #[test]
    fn the_token_carries_the_documented_header_and_claims() {
        let auth = auth();
        let t = auth.issue("t1", "c1", Scopes::CORE).unwrap();
        let header = jsonwebtoken::decode_header(&t.access_token).unwrap();
        assert_eq!(header.alg, Algorithm::HS256);
        assert_eq!(header.kid.as_deref(), Some("k1"));
        let payload = t.access_token.split('.').nth(1).unwrap();
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        assert_eq!(claims["sub"], "c1");
        assert_eq!(claims["tenant"], "t1");
        assert_eq!(claims["scope"], Scopes::CORE_URI);
        assert_eq!(claims["iss"], ISSUER);
        let iat = claims["iat"].as_u64().unwrap();
        assert_eq!(claims["exp"].as_u64().unwrap(), iat + 3600);
        assert_eq!(claims["jti"].as_str().unwrap().len(), 32);
        let t2 = auth.issue("t1", "c1", Scopes::CORE).unwrap();
        assert_ne!(t.access_token, t2.access_token, "jti differs");
    }

    #[test]
    fn an_expired_token_is_refused() {
        let auth = auth();
        let long_ago = jsonwebtoken::get_current_timestamp() - 3601;
        let t = auth.issue_at("t1", "c1", Scopes::ALL, long_ago).unwrap();
        assert_eq!(auth.verify(&t.access_token), Err(AuthError::Expired));
    }

    fn signed(payload: &serde_json::Value) -> String {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("k1".into());
        jsonwebtoken::encode(&header, payload, &EncodingKey::from_secret(&[7u8; 32])).unwrap()
    }

    #[test]
    fn times_this_server_never_issues_are_refused() {
        let now = jsonwebtoken::get_current_timestamp();
        let cases: [(&str, serde_json::Value, Result<(), AuthError>); 8] = [
            (
                "as issued",
                serde_json::json!({"iat": now, "exp": now + 3600}),
                Ok(()),
            ),
            (
                "iat within the skew",
                serde_json::json!({"iat": now + 30, "exp": now + 3630}),
                Ok(()),
            ),
            (
                "nbf now",
                serde_json::json!({"iat": now, "exp": now + 600, "nbf": now}),
                Ok(()),
            ),
            (
                "ten years ahead",
                serde_json::json!({"iat": now, "exp": now + 10 * 365 * 86_400}),
                Err(AuthError::Lifetime),
            ),
            (
                "an hour and a second",
                serde_json::json!({"iat": now - 10, "exp": now + 3591}),
                Err(AuthError::Lifetime),
            ),
            (
                "iat in the future",
                serde_json::json!({"iat": now + 600, "exp": now + 1200}),
                Err(AuthError::Lifetime),
            ),
            (
                "nbf in the future",
                serde_json::json!({"iat": now, "exp": now + 600, "nbf": now + 300}),
                Err(AuthError::Lifetime),
            ),
            (
                "exp before iat",
                serde_json::json!({"iat": now + 30, "exp": now + 10}),
                Err(AuthError::Lifetime),
            ),
        ];
        for (case, times, want) in cases {
            let mut payload = valid_payload();
            for (k, v) in times.as_object().unwrap() {
                payload[k] = v.clone();
            }
            assert_eq!(auth().verify(&signed(&payload)).map(|_| ()), want, "{case}");
        }
        let mut payload = valid_payload();
        payload.as_object_mut().unwrap().remove("iat");
        assert_eq!(
            auth().verify(&signed(&payload)),
            Err(AuthError::Claims),
            "no iat"
        );
    }

    #[test]
    fn alg_none_is_refused() {
        let auth = auth();
        for header in [
            serde_json::json!({"alg": "none", "typ": "JWT", "kid": "k1"}),
            serde_json::json!({"alg": "None", "kid": "k1"}),
        ] {
            let unsigned = format!("{}.{}.", b64(&header), b64(&valid_payload()));
            assert_eq!(
                auth.verify(&unsigned),
                Err(AuthError::Malformed),
                "{header}"
            );
        }
    }

    #[test]
    fn other_algorithms_are_refused_even_with_the_right_key() {
        let auth = auth();
        let mut header = Header::new(Algorithm::HS512);
        header.kid = Some("k1".into());
        let token = jsonwebtoken::encode(
            &header,
            &valid_payload(),
            &EncodingKey::from_secret(&[7u8; 32]),
        )
        .unwrap();
        assert_eq!(auth.verify(&token), Err(AuthError::Algorithm));
    }

    #[test]
    fn a_token_signed_with_another_key_is_refused() {
        let other = auth_with("k1", &[8u8; 32]);
        let t = other.issue("t1", "c1", Scopes::ALL).unwrap();
        assert_eq!(auth().verify(&t.access_token), Err(AuthError::Signature));
    }

    #[test]
    fn a_tampered_payload_is_refused() {
        let auth = auth();
        let t = auth.issue("t1", "c1", Scopes::CORE).unwrap();
        let parts: Vec<&str> = t.access_token.split('.').collect();
        let mut claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        claims["tenant"] = "t2".into();
        claims["scope"] = Scopes::ALL.to_list_string().into();
        let forged = format!("{}.{}.{}", parts[0], b64(&claims), parts[2]);
        assert_eq!(auth.verify(&forged), Err(AuthError::Signature));
    }

    #[test]
    fn a_wrong_or_missing_kid_is_refused() {
        let t = auth_with("k2", &[7u8; 32])
            .issue("t1", "c1", Scopes::ALL)
            .unwrap();
        assert_eq!(auth().verify(&t.access_token), Err(AuthError::UnknownKey));
        let header = Header::new(Algorithm::HS256);
        let token = jsonwebtoken::encode(
            &header,
            &valid_payload(),
            &EncodingKey::from_secret(&[7u8; 32]),
        )
        .unwrap();
        assert_eq!(auth().verify(&token), Err(AuthError::UnknownKey));
    }

    #[test]
    fn a_foreign_issuer_and_garbage_are_refused() {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("k1".into());
        let mut payload = valid_payload();
        payload["iss"] = "someone-else".into();
        let token =
            jsonwebtoken::encode(&header, &payload, &EncodingKey::from_secret(&[7u8; 32])).unwrap();
        assert_eq!(auth().verify(&token), Err(AuthError::Claims));
        for garbage in ["", "abc", "a.b.c", "..", "Bearer x.y.z"] {
            assert_eq!(
                auth().verify(garbage),
                Err(AuthError::Malformed),
                "{garbage:?}"
            );
        }
    }

    #[test]
    fn debug_never_shows_key_material() {
        let shown = format!("{:?}", auth_with("k1", b"super-secret-key-material"));
        assert!(shown.contains("k1"));
        assert!(!shown.contains("super"), "{shown}");
    }
}
