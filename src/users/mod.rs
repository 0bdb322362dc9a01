//! Admin users of the web UI: usernames, argon2id passwords, roles per tenant, sessions and the
//! lock-out after failed logins.
//!
//! - [`password`]: the password rules and argon2id hashing ([`Password`] never prints itself).
//! - [`session`]: session tokens (only their SHA-256 is stored) and CSRF tokens.
//! - [`store`]: creating users, the lock-out after failed logins and session lifetimes, over
//!   storage's admin tables (`storage::ops::users`, which also holds [`AdminUser`] and the
//!   [`Role`] vocabulary).
//!
//! A user has a role per tenant ([`Role`]) or is a system admin (every tenant, and the tenants
//! themselves). What a role may do over the admin API:
//!
//! | role | scopes | writes |
//! |---|---|---|
//! | `admin` (and a system admin) | `rosterhub.import` + `rosterhub.export` + `rosterhub.admin` | yes |
//! | `uploader` | `rosterhub.import` + `rosterhub.export` | yes |
//! | `viewer` | `rosterhub.import` + `rosterhub.export` | no: reads only |

pub mod password;
pub mod session;
pub mod store;

use std::fmt;

use serde_json::{Value, json};

use crate::auth::Scopes;
use crate::domain::datetime::format_ms;

pub use crate::storage::ops::users::{AdminUser, Role};
pub use password::Password;
pub use store::UserError;

/// How long a session lives without a request (sliding).
pub const SESSION_IDLE_MS: i64 = 30 * 60 * 1000;
/// How long a session lives at most, however busy.
pub const SESSION_MAX_MS: i64 = 12 * 3600 * 1000;
/// The window failed logins are counted over.
pub const FAILURE_WINDOW_MS: i64 = 15 * 60 * 1000;
/// Failed logins of one account within the window that lock it.
pub const LOCK_AFTER_FAILURES: i64 = 5;
/// How long a locked account stays locked.
pub const LOCK_MS: i64 = 15 * 60 * 1000;

impl Role {
    /// The admin API scopes the role opens (see the module's table).
    pub fn scopes(self) -> Scopes {
        match self {
            Role::Admin => Scopes::IMPORT.union(Scopes::EXPORT).union(Scopes::ADMIN),
            Role::Uploader | Role::Viewer => Scopes::IMPORT.union(Scopes::EXPORT),
        }
    }

    /// Whether the role may only read: every request but GET/HEAD/OPTIONS is refused.
    pub fn read_only(self) -> bool {
        self == Role::Viewer
    }
}

impl AdminUser {
    /// The user's role in `tenant`; a system admin is an admin everywhere.
    pub fn role_in(&self, tenant: &str) -> Option<Role> {
        if self.system_admin {
            return Some(Role::Admin);
        }
        self.roles
            .iter()
            .find(|(t, _)| t == tenant)
            .map(|(_, r)| *r)
    }

    /// Whether the account is locked at `now`.
    pub fn locked_at(&self, now: i64) -> bool {
        self.locked_until.is_some_and(|until| until > now)
    }
}

/// Why an input was refused: the field and a message for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub field: &'static str,
    pub message: String,
}

impl Invalid {
    pub fn new(field: &'static str, message: impl Into<String>) -> Invalid {
        Invalid {
            field,
            message: message.into(),
        }
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Invalid {}

/// A username: 1–64 characters of `A–Z a–z 0–9 . _ @ -`, unique whatever its case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub const MAX_CHARS: usize = 64;

    pub fn parse(s: &str) -> Result<Username, Invalid> {
        let s = s.trim();
        if s.is_empty() || s.len() > Self::MAX_CHARS {
            return Err(Invalid::new(
                "username",
                format!("a username has 1 to {} characters", Self::MAX_CHARS),
            ));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'@' | b'-'))
        {
            return Err(Invalid::new(
                "username",
                "a username has only letters A-Z, digits and . _ @ -",
            ));
        }
        Ok(Username(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The lower-cased form that is unique.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

/// A display name: at most 200 characters, no control characters; blank means none.
pub fn parse_display_name(s: &str) -> Result<Option<String>, Invalid> {
    let s = s.trim();
    if s.chars().count() > 200 || s.chars().any(char::is_control) {
        return Err(Invalid::new(
            "display_name",
            "a display name has at most 200 characters and no control characters",
        ));
    }
    Ok((!s.is_empty()).then(|| s.to_owned()))
}

/// Where a user's notices go: an address (`mail::Address`); blank means none.
pub fn parse_email(s: &str) -> Result<Option<String>, Invalid> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    crate::mail::Address::parse(s)
        .map(|a| Some(a.as_str().to_owned()))
        .map_err(|m| Invalid::new("email", m))
}

/// The language of a user's notices: `ja` or `en`; blank means the server's default.
pub fn parse_language(s: &str) -> Result<Option<String>, Invalid> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    crate::mail::Lang::parse(s)
        .map(|l| Some(l.as_str().to_owned()))
        .ok_or_else(|| Invalid::new("language", "must be ja or en / ja か en を指定してください"))
}

/// A tenant id: 1–64 characters of `a–z 0–9 _ -`.
pub fn check_tenant_id(id: &str) -> Result<(), Invalid> {
    if id.is_empty()
        || id.len() > 64
        || !id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    {
        return Err(Invalid::new(
            "id",
            "a tenant id has 1 to 64 characters of a-z, 0-9, _ and -",
        ));
    }
    Ok(())
}

/// A user as the CLI and the API show it: never the password hash. `roles` limits the roles
/// shown (a tenant admin sees only its tenant's).
pub fn user_json(u: &AdminUser, tenant: Option<&str>) -> Value {
    let roles: Vec<Value> = u
        .roles
        .iter()
        .filter(|(t, _)| tenant.is_none_or(|only| only == t))
        .map(|(t, r)| json!({"tenant": t, "role": r.as_str()}))
        .collect();
    json!({
        "id": u.id,
        "username": u.username,
        "display_name": u.display_name,
        "email": u.email,
        "language": u.language,
        "system_admin": u.system_admin,
        "roles": roles,
        "disabled": u.disabled_at.is_some(),
        "locked_until": u.locked_until.map(format_ms),
        "created_at": format_ms(u.created_at),
        "updated_at": format_ms(u.updated_at),
        "last_login_at": u.last_login_at.map(format_ms),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_map_to_scopes_and_viewers_only_read() {
        for (s, role) in [
            ("admin", Role::Admin),
            ("uploader", Role::Uploader),
            ("viewer", Role::Viewer),
        ] {
            assert_eq!(Role::parse(s), Some(role));
            assert_eq!(role.as_str(), s);
        }
        assert_eq!(Role::parse("Admin"), None);
        assert!(Role::Admin.scopes().contains(Scopes::ADMIN));
        assert!(!Role::Uploader.scopes().allows_admin(Scopes::ADMIN));
        assert!(Role::Uploader.scopes().allows_admin(Scopes::IMPORT));
        assert!(Role::Viewer.read_only() && !Role::Uploader.read_only());
    }

    #[test]
    fn usernames_are_checked_and_keyed_case_insensitively() {
        let u = Username::parse("  Hanako.Yamada@example.jp ").unwrap();
        assert_eq!(u.as_str(), "Hanako.Yamada@example.jp");
        assert_eq!(u.key(), "hanako.yamada@example.jp");
        for bad in ["", "   ", "a b", "名前", "x'--", &"a".repeat(65)] {
            assert!(Username::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Username::parse(&"a".repeat(64)).is_ok());
    }

    #[test]
    fn tenant_ids_and_display_names() {
        for ok in ["default", "a", "city-01_x", &"a".repeat(64)] {
            assert!(check_tenant_id(ok).is_ok(), "{ok:?}");
        }
        for bad in ["", "A", "a b", "a/b", "ü", &"a".repeat(65)] {
            assert!(check_tenant_id(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_display_name("  ").unwrap(), None);
        assert_eq!(
            parse_display_name(" 山田 花子 ").unwrap().as_deref(),
            Some("山田 花子")
        );
        assert!(parse_display_name("a\nb").is_err());
        assert_eq!(
            parse_email(" Kyoiku@City.example.jp ").unwrap().as_deref(),
            Some("Kyoiku@City.example.jp")
        );
        assert_eq!(parse_email("").unwrap(), None);
        assert_eq!(parse_email("no-at-sign").unwrap_err().field, "email");
        assert_eq!(parse_language("EN").unwrap().as_deref(), Some("en"));
        assert_eq!(parse_language(" ").unwrap(), None);
        assert!(parse_language("fr").is_err());
    }
}
