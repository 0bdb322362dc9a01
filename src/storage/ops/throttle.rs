//! `auth_throttle`: the counters of failed credentials at the login and token endpoints. The
//! rules (which scopes, limits, windows, what a refusal says) are `crate::auth::throttle`'s;
//! the numbers come in as parameters.
//!
//! Each attempt is counted by one statement (`INSERT … ON CONFLICT … DO UPDATE … RETURNING`)
//! *before* the credential is checked: the row is locked for that statement on both backends,
//! so parallel requests, on one replica or many, see strictly increasing counts and no more
//! than the limit get through.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::storage::value::params;
use crate::storage::{Store, StoreError};

/// What a counter is kept for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottleScope {
    /// A submitted username (lower-cased), whether such a user exists or not.
    LoginUser,
    /// A login's source address.
    LoginAddress,
    /// A token request's client id, whether such a client exists or not.
    TokenClient,
    /// A token request's source address.
    TokenAddress,
}

impl ThrottleScope {
    pub fn as_str(self) -> &'static str {
        match self {
            ThrottleScope::LoginUser => "login_user",
            ThrottleScope::LoginAddress => "login_address",
            ThrottleScope::TokenClient => "token_client",
            ThrottleScope::TokenAddress => "token_address",
        }
    }
}

/// A counter's rule: `limit` attempts within `window_ms` of the first one; the attempt that
/// reaches the limit locks the counter for `lock_ms` (lifted when that attempt proves right).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleRule {
    pub limit: i64,
    pub window_ms: i64,
    pub lock_ms: i64,
}

/// A counter just after an attempt was counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    /// This attempt's number in the window (1 = the first).
    pub attempts: i64,
    pub locked_until: Option<i64>,
}

/// Expired counters are deleted every this many counted attempts (made-up usernames and
/// client ids must not grow the table for ever).
const SWEEP_EVERY: u64 = 256;
static COUNTED: AtomicU64 = AtomicU64::new(0);

/// A new window starts when the old one has passed and no lock holds.
const FRESH: &str =
    "(auth_throttle.window_start <= $4 AND COALESCE(auth_throttle.locked_until, 0) <= $3)";

impl Store {
    /// Counts an attempt on (`scope`, `subject`) at `now` under `rule`, atomically.
    pub async fn throttle_count(
        &self,
        scope: ThrottleScope,
        subject: &str,
        rule: ThrottleRule,
        now: i64,
    ) -> Result<Counted, StoreError> {
        if COUNTED.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.ops_exec(
                "DELETE FROM auth_throttle WHERE window_start <= $1 \
                 AND COALESCE(locked_until, 0) <= $2",
                params![now - rule.window_ms.max(rule.lock_ms), now],
            )
            .await?;
        }
        let sql = format!(
            "INSERT INTO auth_throttle (scope, subject, window_start, attempts, locked_until) \
             VALUES ($1, $2, $3, 1, CASE WHEN 1 >= $5 THEN $3 + $6 ELSE NULL END) \
             ON CONFLICT (scope, subject) DO UPDATE SET \
             attempts = CASE WHEN {FRESH} THEN 1 ELSE auth_throttle.attempts + 1 END, \
             window_start = CASE WHEN {FRESH} THEN $3 ELSE auth_throttle.window_start END, \
             locked_until = CASE WHEN COALESCE(auth_throttle.locked_until, 0) > $3 \
             THEN auth_throttle.locked_until \
             WHEN (CASE WHEN {FRESH} THEN 1 ELSE auth_throttle.attempts + 1 END) >= $5 \
             THEN $3 + $6 ELSE NULL END \
             RETURNING attempts, locked_until"
        );
        let row = self
            .ops_fetch_opt_as(
                &sql,
                params![
                    scope.as_str(),
                    subject,
                    now,
                    now - rule.window_ms,
                    rule.limit,
                    rule.lock_ms
                ],
                |r| {
                    Ok(Counted {
                        attempts: r.int(0)?,
                        locked_until: r.opt_int(1)?,
                    })
                },
            )
            .await?;
        row.ok_or_else(|| StoreError::Conflict("auth_throttle upsert returned no row".into()))
    }

    /// Takes back one counted attempt that proved right (it is no failure); the lock it may
    /// have set is lifted if the count is then under the limit.
    pub async fn throttle_release(
        &self,
        scope: ThrottleScope,
        subject: &str,
        limit: i64,
    ) -> Result<(), StoreError> {
        self.ops_exec(
            "UPDATE auth_throttle SET attempts = attempts - 1, \
             locked_until = CASE WHEN attempts - 1 < $3 THEN NULL ELSE locked_until END \
             WHERE scope = $1 AND subject = $2 AND attempts > 0",
            params![scope.as_str(), subject, limit],
        )
        .await?;
        Ok(())
    }

    /// Forgets a counter (a successful login clears its username's failures and lock).
    pub async fn throttle_clear(
        &self,
        scope: ThrottleScope,
        subject: &str,
    ) -> Result<(), StoreError> {
        self.ops_exec(
            "DELETE FROM auth_throttle WHERE scope = $1 AND subject = $2",
            params![scope.as_str(), subject],
        )
        .await?;
        Ok(())
    }
}
