//! The limits on failed credentials, counted in the database (`storage::ops::throttle`) so
//! that parallel requests and every replica share them. An attempt is counted *before* its
//! credential is checked; one that proves right is taken back. What is refused is refused
//! without checking the credential, so no more than the limit is ever checked.
//!
//! | counter | limit | window | refused |
//! |---|---|---|---|
//! | login, per submitted username (existing or not) | 5 | 15 min | every attempt, right or wrong, for 15 min after the 5th: `429 account_locked` |
//! | login, per source address | 20 | 15 min | only wrong passwords (`429 too_many_attempts` instead of 401); a right password of an unlocked account still logs in |
//! | `/oauth/token`, per client id (existing or not) | 20 | 15 min | every attempt for 15 min after the 20th: `429 invalid_client` |
//! | `/oauth/token`, per source address | 60 | 15 min | every attempt for 15 min after the 60th: `429 invalid_client` |

use crate::storage::ops::throttle::{Counted, ThrottleRule, ThrottleScope};
use crate::storage::{Store, StoreError};

const FIFTEEN_MINUTES_MS: i64 = 15 * 60 * 1000;

const fn rule(limit: i64) -> ThrottleRule {
    ThrottleRule {
        limit,
        window_ms: FIFTEEN_MINUTES_MS,
        lock_ms: FIFTEEN_MINUTES_MS,
    }
}

/// Logins per submitted username.
pub const LOGIN_PER_USER: ThrottleRule = rule(5);
/// Logins per source address (wrong passwords only are refused past it).
pub const LOGIN_PER_ADDRESS: ThrottleRule = rule(20);
/// Token requests per client id.
pub const TOKEN_PER_CLIENT: ThrottleRule = rule(20);
/// Token requests per source address.
pub const TOKEN_PER_ADDRESS: ThrottleRule = rule(60);

/// One counter: its scope, subject and rule.
#[derive(Debug, Clone)]
pub struct Counter {
    scope: ThrottleScope,
    subject: String,
    rule: ThrottleRule,
}

/// A counter after an attempt was counted.
#[derive(Debug, Clone, Copy)]
pub struct Verdict {
    counted: Counted,
    rule: ThrottleRule,
    now: i64,
}

impl Verdict {
    /// The attempt is past the limit: refuse it (without checking the credential, unless the
    /// rule says otherwise).
    pub fn over(&self) -> bool {
        self.counted.attempts > self.rule.limit
    }

    /// Milliseconds until the counter lets attempts through again: at least a second, at
    /// most the lock (a parallel attempt stamped a moment later may have set it).
    pub fn retry_after_ms(&self) -> i64 {
        let until = self.counted.locked_until.unwrap_or(self.now);
        (until - self.now).clamp(1000, self.rule.lock_ms.max(1000))
    }
}

impl Counter {
    /// The login counter of a submitted username (matched whatever its case).
    pub fn login_user(username: &str) -> Counter {
        Counter::new(
            ThrottleScope::LoginUser,
            username.trim().to_ascii_lowercase(),
            LOGIN_PER_USER,
        )
    }

    pub fn login_address(ip: &str) -> Counter {
        Counter::new(
            ThrottleScope::LoginAddress,
            ip.to_owned(),
            LOGIN_PER_ADDRESS,
        )
    }

    pub fn token_client(client_id: &str) -> Counter {
        Counter::new(
            ThrottleScope::TokenClient,
            client_id.to_owned(),
            TOKEN_PER_CLIENT,
        )
    }

    pub fn token_address(ip: &str) -> Counter {
        Counter::new(
            ThrottleScope::TokenAddress,
            ip.to_owned(),
            TOKEN_PER_ADDRESS,
        )
    }

    fn new(scope: ThrottleScope, subject: String, rule: ThrottleRule) -> Counter {
        Counter {
            scope,
            subject,
            rule,
        }
    }

    /// Counts an attempt now.
    pub async fn count(&self, store: &Store, now: i64) -> Result<Verdict, StoreError> {
        let counted = store
            .throttle_count(self.scope, &self.subject, self.rule, now)
            .await?;
        Ok(Verdict {
            counted,
            rule: self.rule,
            now,
        })
    }

    /// Takes back an attempt that proved right.
    pub async fn release(&self, store: &Store) -> Result<(), StoreError> {
        store
            .throttle_release(self.scope, &self.subject, self.rule.limit)
            .await
    }

    /// Forgets the counter (a successful login: failures count since the last one).
    pub async fn clear(&self, store: &Store) -> Result<(), StoreError> {
        store.throttle_clear(self.scope, &self.subject).await
    }
}
