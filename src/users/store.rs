//! Admin users, their roles, sessions and failed logins in the operational tables
//! (`admin_users`, `admin_roles`, `admin_sessions`, `admin_login_failures`; see
//! `storage::plain`). On SQLite they live in the `-ops.db` file, beside no `tenants` table: a
//! role's tenant is checked here before it is written.
//!
//! [`AdminUser`] never carries the password hash: only [`credentials`] reads it, for a login.

use super::session::{SessionToken, csrf_token};
use super::{
    FAILURE_WINDOW_MS, LOCK_AFTER_FAILURES, LOCK_MS, Role, SESSION_IDLE_MS, SESSION_MAX_MS,
    Username,
};
use crate::params;
use crate::storage::{Store, StoreError};
use crate::storage::{plain::Stmt, value::Row};

/// A session's `last_seen_at` is written at most this often (the idle timeout is 30 minutes:
/// a minute of slack saves a write per request).
const TOUCH_EVERY_MS: i64 = 60_000;

const COLUMNS: &str = "id, username, display_name, system_admin, created_at, updated_at, \
                       disabled_at, failed_logins, locked_until, last_login_at";

/// An admin user, with its roles (by tenant id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminUser {
    pub id: String,
    pub username: String,
    pub display_name: Option<String>,
    pub system_admin: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub disabled_at: Option<i64>,
    /// Failed logins in the last window, as of the last failure.
    pub failed_logins: i64,
    pub locked_until: Option<i64>,
    pub last_login_at: Option<i64>,
    /// `(tenant, role)`, in tenant order.
    pub roles: Vec<(String, Role)>,
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

fn user(row: &Row) -> AdminUser {
    AdminUser {
        id: row.text(0),
        username: row.text(1),
        display_name: row.opt_text(2),
        system_admin: row.int(3) != 0,
        created_at: row.int(4),
        updated_at: row.int(5),
        disabled_at: row.opt_int(6),
        failed_logins: row.int(7),
        locked_until: row.opt_int(8),
        last_login_at: row.opt_int(9),
        roles: Vec::new(),
    }
}

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
}

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
    let id = uuid::Uuid::new_v4().to_string();
    let now = store.ops_now();
    let mut stmts = vec![Stmt::guard(
        "INSERT INTO admin_users (id, username, username_key, display_name, password_hash, \
         system_admin, created_at, updated_at, failed_logins) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, 0) ON CONFLICT (username_key) DO NOTHING",
        params![
            id.as_str(),
            new.username.as_str(),
            new.username.key(),
            new.display_name.clone(),
            new.password_hash.as_str(),
            new.system_admin,
            now,
        ],
    )];
    for (tenant, role) in &new.roles {
        stmts.push(grant_stmt(&id, tenant, *role, now));
    }
    match store.ops_atomic(stmts).await {
        Ok(_) => {}
        Err(StoreError::Conflict(_)) => {
            return Err(UserError::Exists(new.username.as_str().to_owned()));
        }
        Err(e) => return Err(e.into()),
    }
    Ok(get(store, &id).await?.expect("the user was just created"))
}

fn grant_stmt(user_id: &str, tenant: &str, role: Role, now: i64) -> Stmt {
    Stmt::new(
        "INSERT INTO admin_roles (user_id, tenant_id, role, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (user_id, tenant_id) DO UPDATE SET role = excluded.role",
        params![user_id, tenant, role.as_str(), now],
    )
}

/// Fills in the roles of `users`.
async fn with_roles(
    store: &Store,
    mut users: Vec<AdminUser>,
) -> Result<Vec<AdminUser>, StoreError> {
    if users.is_empty() {
        return Ok(users);
    }
    let rows = if users.len() == 1 {
        store
            .ops_fetch(
                "SELECT user_id, tenant_id, role FROM admin_roles WHERE user_id = $1 \
                 ORDER BY tenant_id",
                params![users[0].id.as_str()],
            )
            .await?
    } else {
        store
            .ops_fetch(
                "SELECT user_id, tenant_id, role FROM admin_roles ORDER BY tenant_id",
                vec![],
            )
            .await?
    };
    for row in rows {
        let (user_id, tenant) = (row.text(0), row.text(1));
        let Some(role) = Role::parse(&row.text(2)) else {
            continue;
        };
        if let Some(u) = users.iter_mut().find(|u| u.id == user_id) {
            u.roles.push((tenant, role));
        }
    }
    Ok(users)
}

/// A user by id.
pub async fn get(store: &Store, id: &str) -> Result<Option<AdminUser>, StoreError> {
    let row = store
        .ops_fetch_opt(
            &format!("SELECT {COLUMNS} FROM admin_users WHERE id = $1"),
            params![id],
        )
        .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(with_roles(store, vec![user(&row)]).await?.pop())
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
    let row = store
        .ops_fetch_opt(
            &format!("SELECT {COLUMNS}, password_hash FROM admin_users WHERE username_key = $1"),
            params![username.trim().to_ascii_lowercase()],
        )
        .await?;
    let Some(row) = row else { return Ok(None) };
    let hash = row.text(10);
    let user = with_roles(store, vec![user(&row)]).await?.pop();
    Ok(user.map(|u| (u, hash)))
}

/// Every user (`tenant: None`), or those with a role in `tenant`; by username.
pub async fn list(store: &Store, tenant: Option<&str>) -> Result<Vec<AdminUser>, StoreError> {
    let rows = match tenant {
        None => {
            store
                .ops_fetch(
                    &format!("SELECT {COLUMNS} FROM admin_users ORDER BY username_key"),
                    vec![],
                )
                .await?
        }
        Some(t) => {
            store
                .ops_fetch(
                    &format!(
                        "SELECT {COLUMNS} FROM admin_users WHERE id IN \
                         (SELECT user_id FROM admin_roles WHERE tenant_id = $1) \
                         ORDER BY username_key"
                    ),
                    params![t],
                )
                .await?
        }
    };
    with_roles(store, rows.iter().map(user).collect()).await
}

/// Sets a new password hash; the user's sessions end and a lock is lifted.
pub async fn set_password(store: &Store, id: &str, hash: &str) -> Result<bool, StoreError> {
    let now = store.ops_now();
    let counts = store
        .ops_atomic(vec![
            Stmt::new(
                "UPDATE admin_users SET password_hash = $2, updated_at = $3, failed_logins = 0, \
                 locked_until = NULL WHERE id = $1",
                params![id, hash, now],
            ),
            Stmt::new("DELETE FROM admin_sessions WHERE user_id = $1", params![id]),
            Stmt::new(
                "DELETE FROM admin_login_failures WHERE user_id = $1",
                params![id],
            ),
        ])
        .await?;
    Ok(counts[0] == 1)
}

/// Disables a user (its sessions end at once) or enables it again (and lifts a lock).
pub async fn set_disabled(store: &Store, id: &str, disabled: bool) -> Result<bool, StoreError> {
    let now = store.ops_now();
    let stmts = if disabled {
        vec![
            Stmt::new(
                "UPDATE admin_users SET disabled_at = COALESCE(disabled_at, $2), updated_at = $2 \
                 WHERE id = $1",
                params![id, now],
            ),
            Stmt::new("DELETE FROM admin_sessions WHERE user_id = $1", params![id]),
        ]
    } else {
        vec![
            Stmt::new(
                "UPDATE admin_users SET disabled_at = NULL, failed_logins = 0, \
                 locked_until = NULL, updated_at = $2 WHERE id = $1",
                params![id, now],
            ),
            Stmt::new(
                "DELETE FROM admin_login_failures WHERE user_id = $1",
                params![id],
            ),
        ]
    };
    Ok(store.ops_atomic(stmts).await?[0] == 1)
}

pub async fn set_display_name(
    store: &Store,
    id: &str,
    display_name: Option<&str>,
) -> Result<bool, StoreError> {
    let n = store
        .ops_exec(
            "UPDATE admin_users SET display_name = $2, updated_at = $3 WHERE id = $1",
            params![id, display_name, store.ops_now()],
        )
        .await?;
    Ok(n == 1)
}

/// Gives the user `role` in `tenant` (replacing its role there). `Ok(false)`: no such user.
pub async fn grant(store: &Store, id: &str, tenant: &str, role: Role) -> Result<bool, UserError> {
    check_tenant(store, tenant).await?;
    let now = store.ops_now();
    let result = store
        .ops_atomic(vec![
            Stmt::guard(
                "UPDATE admin_users SET updated_at = $2 WHERE id = $1",
                params![id, now],
            ),
            grant_stmt(id, tenant, role, now),
        ])
        .await;
    match result {
        Ok(_) => Ok(true),
        Err(StoreError::Conflict(_)) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Takes the user's role in `tenant` away; whether it had one. Its sessions in that tenant
/// stop working at their next request (roles are read per request).
pub async fn revoke(store: &Store, id: &str, tenant: &str) -> Result<bool, StoreError> {
    let now = store.ops_now();
    let counts = store
        .ops_atomic(vec![
            Stmt::new(
                "DELETE FROM admin_roles WHERE user_id = $1 AND tenant_id = $2",
                params![id, tenant],
            ),
            Stmt::new(
                "UPDATE admin_users SET updated_at = $2 WHERE id = $1",
                params![id, now],
            ),
        ])
        .await?;
    Ok(counts[0] == 1)
}

/// Deletes a user with its roles and sessions.
pub async fn delete(store: &Store, id: &str) -> Result<bool, StoreError> {
    let counts = store
        .ops_atomic(vec![
            Stmt::new("DELETE FROM admin_sessions WHERE user_id = $1", params![id]),
            Stmt::new("DELETE FROM admin_roles WHERE user_id = $1", params![id]),
            Stmt::new(
                "DELETE FROM admin_login_failures WHERE user_id = $1",
                params![id],
            ),
            Stmt::new("DELETE FROM admin_users WHERE id = $1", params![id]),
        ])
        .await?;
    Ok(counts[3] == 1)
}

/// `Some(ms)` to wait when `ip` has failed [`super::IP_FAILURE_LIMIT`] logins or more within
/// the window.
pub async fn ip_backoff(store: &Store, ip: &str, now: i64) -> Result<Option<i64>, StoreError> {
    let row = store
        .ops_fetch_opt(
            "SELECT COUNT(*), MIN(at) FROM admin_login_failures WHERE ip = $1 AND at > $2",
            params![ip, now - FAILURE_WINDOW_MS],
        )
        .await?;
    let Some(row) = row else { return Ok(None) };
    if row.int(0) < super::IP_FAILURE_LIMIT {
        return Ok(None);
    }
    let oldest = row.opt_int(1).unwrap_or(now);
    Ok(Some((oldest + FAILURE_WINDOW_MS - now).max(1000)))
}

/// Records a failed login from `ip` (of `user_id`, when the user exists and was not locked
/// already); returns the user's `locked_until` when this failure locked (or it is) locked.
pub async fn login_failed(
    store: &Store,
    ip: &str,
    user_id: Option<&str>,
    now: i64,
) -> Result<Option<i64>, StoreError> {
    let since = now - FAILURE_WINDOW_MS;
    let mut stmts = vec![
        Stmt::new(
            "INSERT INTO admin_login_failures (ip, user_id, at) VALUES ($1, $2, $3)",
            params![ip, user_id, now],
        ),
        Stmt::new(
            "DELETE FROM admin_login_failures WHERE at <= $1",
            params![since],
        ),
    ];
    let Some(id) = user_id else {
        store.ops_atomic(stmts).await?;
        return Ok(None);
    };
    // The failures in the window since the last login; five lock the account.
    stmts.push(Stmt::new(
        "UPDATE admin_users SET failed_logins = (SELECT COUNT(*) FROM admin_login_failures f \
         WHERE f.user_id = $1 AND f.at > $2 AND f.at > COALESCE(admin_users.last_login_at, 0)) \
         WHERE id = $1",
        params![id, since],
    ));
    stmts.push(Stmt::new(
        "UPDATE admin_users SET locked_until = $2 WHERE id = $1 AND failed_logins >= $3 \
         AND (locked_until IS NULL OR locked_until <= $4)",
        params![id, now + LOCK_MS, LOCK_AFTER_FAILURES, now],
    ));
    store.ops_atomic(stmts).await?;
    let row = store
        .ops_fetch_opt(
            "SELECT locked_until FROM admin_users WHERE id = $1",
            params![id],
        )
        .await?;
    Ok(row.and_then(|r| r.opt_int(0)).filter(|&until| until > now))
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
    let now = store.ops_now();
    let token = SessionToken::generate();
    let session = Session {
        id: token.id(),
        user: AdminUser {
            last_login_at: Some(now),
            failed_logins: 0,
            locked_until: None,
            ..user.clone()
        },
        tenant: tenant.map(str::to_owned),
        csrf_token: csrf_token(),
        created_at: now,
        last_seen_at: now,
        expires_at: now + SESSION_MAX_MS,
    };
    store
        .ops_atomic(vec![
            Stmt::new(
                "DELETE FROM admin_sessions WHERE expires_at <= $1 OR last_seen_at <= $2",
                params![now, now - SESSION_IDLE_MS],
            ),
            Stmt::guard(
                "UPDATE admin_users SET last_login_at = $2, failed_logins = 0, \
                 locked_until = NULL WHERE id = $1 AND disabled_at IS NULL",
                params![user.id.as_str(), now],
            ),
            Stmt::new(
                "INSERT INTO admin_sessions (id, user_id, tenant_id, csrf_token, created_at, \
                 last_seen_at, expires_at, ip) VALUES ($1, $2, $3, $4, $5, $5, $6, $7)",
                params![
                    session.id.as_str(),
                    user.id.as_str(),
                    tenant,
                    session.csrf_token.as_str(),
                    now,
                    session.expires_at,
                    ip,
                ],
            ),
        ])
        .await?;
    Ok((token, session))
}

/// The live session of a token: `None` when there is none, it is expired (it is deleted then),
/// or its user is disabled. Refreshes its idle timer.
pub async fn session(store: &Store, token: &SessionToken) -> Result<Option<Session>, StoreError> {
    let id = token.id();
    let row = store
        .ops_fetch_opt(
            "SELECT user_id, tenant_id, csrf_token, created_at, last_seen_at, expires_at \
             FROM admin_sessions WHERE id = $1",
            params![id.as_str()],
        )
        .await?;
    let Some(row) = row else { return Ok(None) };
    let now = store.ops_now();
    let (last_seen_at, expires_at) = (row.int(4), row.int(5));
    if now >= expires_at || now - last_seen_at >= SESSION_IDLE_MS {
        close_session(store, &id).await?;
        return Ok(None);
    }
    let Some(user) = get(store, &row.text(0)).await? else {
        return Ok(None);
    };
    if user.disabled_at.is_some() {
        return Ok(None);
    }
    let mut session = Session {
        id,
        user,
        tenant: row.opt_text(1),
        csrf_token: row.text(2),
        created_at: row.int(3),
        last_seen_at,
        expires_at,
    };
    if now - last_seen_at >= TOUCH_EVERY_MS {
        store
            .ops_exec(
                "UPDATE admin_sessions SET last_seen_at = $2 WHERE id = $1",
                params![session.id.as_str(), now],
            )
            .await?;
        session.last_seen_at = now;
    }
    Ok(Some(session))
}

/// Ends a session (logout); whether it existed.
pub async fn close_session(store: &Store, id: &str) -> Result<bool, StoreError> {
    Ok(store
        .ops_exec("DELETE FROM admin_sessions WHERE id = $1", params![id])
        .await?
        == 1)
}
