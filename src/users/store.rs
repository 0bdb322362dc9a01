//! The users' rules over storage's admin tables (`storage::ops::users`): a user's tenants
//! checked before its roles are written, usernames matched whatever their case, the record of
//! failed logins (shown on the users API; the limits themselves are `crate::auth::throttle`'s),
//! and session lifetimes. Reads and writes
//! that need no rule are `Store` methods (`admin_user`, `list_admin_users`,
//! `set_admin_password`, …) called directly.

use super::session::{SessionToken, csrf_token};
use super::{
    AdminUser, FAILURE_WINDOW_MS, LOCK_AFTER_FAILURES, LOCK_MS, Role, SESSION_IDLE_MS,
    SESSION_MAX_MS, Username,
};
use crate::domain::datetime::now_ms;
use crate::storage::ops::users::{LoginFailure, NewAdminUser, SessionRecord};
use crate::storage::{Store, StoreError};

/// A session's `last_seen_at` is written at most this often (the idle timeout is 30 minutes:
/// a minute of slack saves a write per request).
const TOUCH_EVERY_MS: i64 = 60_000;

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("a user named {0:?} exists already")]
    Exists(String),
    #[error("unknown tenant {0:?}")]
    UnknownTenant(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A user to create.
#[derive(Debug)]
pub struct NewUser {
    pub username: Username,
    pub display_name: Option<String>,
    /// The argon2id PHC string (`Password::hash`).
    pub password_hash: String,
    pub system_admin: bool,
    pub roles: Vec<(String, Role)>,
    /// Where notices go, and their language (`parse_email`, `parse_language`).
    pub email: Option<String>,
    pub language: Option<String>,
}

/// On SQLite the admin tables live in the `-ops.db` file, beside no `tenants` table: a role's
/// tenant is checked here before it is written.
async fn check_tenant(store: &Store, tenant: &str) -> Result<(), UserError> {
    if store.tenant_exists(tenant).await? {
        Ok(())
    } else {
        Err(UserError::UnknownTenant(tenant.to_owned()))
    }
}

/// Creates a user and its roles, all or nothing.
pub async fn create(store: &Store, new: NewUser) -> Result<AdminUser, UserError> {
    for (tenant, _) in &new.roles {
        check_tenant(store, tenant).await?;
    }
    let stored = NewAdminUser {
        username: new.username.as_str(),
        username_key: &new.username.key(),
        display_name: new.display_name.as_deref(),
        password_hash: &new.password_hash,
        system_admin: new.system_admin,
        roles: &new.roles,
    };
    let Some(user) = store.create_admin_user(&stored).await? else {
        return Err(UserError::Exists(new.username.as_str().to_owned()));
    };
    if new.email.is_none() && new.language.is_none() {
        return Ok(user);
    }
    store
        .set_admin_contact(&user.id, new.email.as_deref(), new.language.as_deref())
        .await?;
    Ok(AdminUser {
        email: new.email,
        language: new.language,
        ..user
    })
}

/// Gives the user `role` in `tenant` (replacing its role there). `Ok(false)`: no such user.
pub async fn grant(store: &Store, id: &str, tenant: &str, role: Role) -> Result<bool, UserError> {
    check_tenant(store, tenant).await?;
    Ok(store.grant_admin_role(id, tenant, role).await?)
}

/// A user by username, whatever its case.
pub async fn by_username(store: &Store, username: &str) -> Result<Option<AdminUser>, StoreError> {
    Ok(credentials(store, username).await?.map(|(u, _)| u))
}

/// A user and its password hash, for a login.
pub async fn credentials(
    store: &Store,
    username: &str,
) -> Result<Option<(AdminUser, String)>, StoreError> {
    store
        .admin_user_credentials(&username.trim().to_ascii_lowercase())
        .await
}

/// Records a failed login from `ip` (of `user_id`, when the user exists and was not locked
/// already); returns the user's `locked_until` when this failure locked (or it is) locked:
/// [`LOCK_AFTER_FAILURES`] failures within the window since the last login lock the account
/// for [`LOCK_MS`].
pub async fn login_failed(
    store: &Store,
    ip: &str,
    user_id: Option<&str>,
    now: i64,
) -> Result<Option<i64>, StoreError> {
    let failure = LoginFailure {
        ip,
        user_id,
        at: now,
        window_start: now - FAILURE_WINDOW_MS,
        lock_after: LOCK_AFTER_FAILURES,
        lock_until: now + LOCK_MS,
    };
    let locked_until = store.record_login_failure(&failure).await?;
    Ok(locked_until.filter(|&until| until > now))
}

/// A session: its user (with roles) and the tenant chosen at login.
#[derive(Debug, Clone)]
pub struct Session {
    /// hex(SHA-256(token)).
    pub id: String,
    pub user: AdminUser,
    pub tenant: Option<String>,
    pub csrf_token: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
}

impl Session {
    /// When the session ends if no request comes: idle timeout or absolute end, the earlier.
    pub fn ends_at(&self) -> i64 {
        (self.last_seen_at + SESSION_IDLE_MS).min(self.expires_at)
    }
}

/// Opens a session for a successful login: records the login (clears failures and a lock) and
/// drops expired sessions. The token goes to the cookie; only its hash is stored.
pub async fn open_session(
    store: &Store,
    user: &AdminUser,
    tenant: Option<&str>,
    ip: Option<&str>,
) -> Result<(SessionToken, Session), StoreError> {
    let now = now_ms();
    let token = SessionToken::generate();
    let record = SessionRecord {
        id: token.id(),
        user_id: user.id.clone(),
        tenant: tenant.map(str::to_owned),
        csrf_token: csrf_token(),
        created_at: now,
        last_seen_at: now,
        expires_at: now + SESSION_MAX_MS,
    };
    store
        .open_admin_session(&record, ip, now - SESSION_IDLE_MS)
        .await?;
    let user = AdminUser {
        last_login_at: Some(now),
        failed_logins: 0,
        locked_until: None,
        ..user.clone()
    };
    Ok((token, session_of(record, user)))
}

fn session_of(record: SessionRecord, user: AdminUser) -> Session {
    Session {
        id: record.id,
        user,
        tenant: record.tenant,
        csrf_token: record.csrf_token,
        created_at: record.created_at,
        last_seen_at: record.last_seen_at,
        expires_at: record.expires_at,
    }
}

/// The live session of a token: `None` when there is none, it is expired (it is deleted then),
/// or its user is disabled. Refreshes its idle timer.
pub async fn session(store: &Store, token: &SessionToken) -> Result<Option<Session>, StoreError> {
    let Some(record) = store.admin_session(&token.id()).await? else {
        return Ok(None);
    };
    let now = now_ms();
    if now >= record.expires_at || now - record.last_seen_at >= SESSION_IDLE_MS {
        store.close_admin_session(&record.id).await?;
        return Ok(None);
    }
    let Some(user) = store.admin_user(&record.user_id).await? else {
        return Ok(None);
    };
    if user.disabled_at.is_some() {
        return Ok(None);
    }
    let mut session = session_of(record, user);
    if now - session.last_seen_at >= TOUCH_EVERY_MS {
        store.touch_admin_session(&session.id, now).await?;
        session.last_seen_at = now;
    }
    Ok(Some(session))
}
