//! Who is refused and who calls: failed credentials, lock-outs, rate-limit and address
//! refusals, and requests per API client — with a bounded number of client labels, so that
//! neither many clients nor made-up client ids can grow `/metrics` without end.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

use axum::http::StatusCode;

pub const AUTH_FAILURES: &str = "rosterhub_auth_failures_total";
pub const LOCKOUTS: &str = "rosterhub_auth_lockouts_total";
pub const RATE_LIMITED: &str = "rosterhub_rate_limited_total";
pub const IP_REFUSED: &str = "rosterhub_ip_refused_total";
pub const CLIENT_REQUESTS: &str = "rosterhub_client_requests_total";

/// Distinct client labels at most; the requests of any further client count as `other`.
pub const MAX_CLIENT_LABELS: usize = 100;
/// The label of the clients past [`MAX_CLIENT_LABELS`].
pub const OTHER_CLIENTS: &str = "other";

/// The APIs the guard protects (the `area` label).
pub const AREAS: [&str; 3] = ["oneroster", "admin", "token"];

/// A credential that did not prove right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// `/oauth/token`: unknown client, revoked client or wrong secret (401).
    Token,
    /// A request without a valid bearer token (missing, malformed, expired, bad signature).
    Bearer,
    /// A valid token of a client revoked since it was issued.
    Revoked,
    /// An admin login with a wrong username or password (API or web UI).
    Login,
}

impl AuthFailure {
    pub const ALL: [AuthFailure; 4] = [
        AuthFailure::Token,
        AuthFailure::Bearer,
        AuthFailure::Revoked,
        AuthFailure::Login,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuthFailure::Token => "token",
            AuthFailure::Bearer => "bearer",
            AuthFailure::Revoked => "revoked",
            AuthFailure::Login => "login",
        }
    }
}

/// An attempt refused by the failed-credential limits (`auth::throttle`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lockout {
    /// `/oauth/token` past the failures of its client id or address.
    Token,
    /// A login to a username locked after repeated failures.
    LoginAccount,
    /// A wrong password from an address past its failures.
    LoginAddress,
}

impl Lockout {
    pub const ALL: [Lockout; 3] = [Lockout::Token, Lockout::LoginAccount, Lockout::LoginAddress];

    pub fn as_str(self) -> &'static str {
        match self {
            Lockout::Token => "token",
            Lockout::LoginAccount => "login_account",
            Lockout::LoginAddress => "login_address",
        }
    }
}

pub fn auth_failure(kind: AuthFailure) {
    metrics::counter!(AUTH_FAILURES, "kind" => kind.as_str()).increment(1);
}

pub fn lockout(kind: Lockout) {
    metrics::counter!(LOCKOUTS, "kind" => kind.as_str()).increment(1);
}

/// A request refused by its client's rate limit; `area` is one of [`AREAS`].
pub fn rate_limited(area: &'static str) {
    metrics::counter!(RATE_LIMITED, "area" => area).increment(1);
}

/// A request refused by its client's IP allow-list; `area` is one of [`AREAS`].
pub fn ip_refused(area: &'static str) {
    metrics::counter!(IP_REFUSED, "area" => area).increment(1);
}

/// A request of an identified API client, answered with `status`.
pub fn client_request(client_id: &str, area: &'static str, status: StatusCode) {
    let code = match status.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    };
    let client = client_label(client_id);
    metrics::counter!(CLIENT_REQUESTS, "client" => client, "area" => area, "code" => code)
        .increment(1);
}

/// The client's own id while fewer than [`MAX_CLIENT_LABELS`] were seen by this process (a
/// client keeps its label once it has one), else [`OTHER_CLIENTS`].
fn client_label(client_id: &str) -> String {
    static SEEN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let mut seen = SEEN
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    label_in(&mut seen, client_id, MAX_CLIENT_LABELS)
}

fn label_in(seen: &mut HashSet<String>, client_id: &str, max: usize) -> String {
    if seen.contains(client_id) {
        return client_id.to_owned();
    }
    if seen.len() < max {
        seen.insert(client_id.to_owned());
        return client_id.to_owned();
    }
    OTHER_CLIENTS.to_owned()
}

/// Help texts, and every series with known labels at 0.
pub(super) fn describe_and_zero() {
    metrics::describe_counter!(
        AUTH_FAILURES,
        "Credentials that did not prove right, by kind (token, bearer, revoked, login)"
    );
    metrics::describe_counter!(
        LOCKOUTS,
        "Attempts refused by the failed-credential limits, by kind"
    );
    metrics::describe_counter!(
        RATE_LIMITED,
        "Requests refused by their client's rate limit (429), by area"
    );
    metrics::describe_counter!(
        IP_REFUSED,
        "Requests refused by their client's IP allow-list (403), by area"
    );
    metrics::describe_counter!(
        CLIENT_REQUESTS,
        "Requests of identified API clients, by client (at most 100, then \"other\"), area and status class"
    );
    for kind in AuthFailure::ALL {
        metrics::counter!(AUTH_FAILURES, "kind" => kind.as_str()).increment(0);
    }
    for kind in Lockout::ALL {
        metrics::counter!(LOCKOUTS, "kind" => kind.as_str()).increment(0);
    }
    for area in AREAS {
        metrics::counter!(RATE_LIMITED, "area" => area).increment(0);
        metrics::counter!(IP_REFUSED, "area" => area).increment(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_labels_stop_growing_at_the_cap() {
        let mut seen = HashSet::new();
        assert_eq!(label_in(&mut seen, "a", 2), "a");
        assert_eq!(label_in(&mut seen, "b", 2), "b");
        assert_eq!(label_in(&mut seen, "c", 2), "other");
        // A client seen before the cap keeps its own label.
        assert_eq!(label_in(&mut seen, "a", 2), "a");
        assert_eq!(seen.len(), 2);
    }
}
