//! Admin users, their roles, sessions and failed logins (`admin_users`, `admin_roles`,
//! `admin_sessions`, `admin_login_failures`): the role vocabulary, the stored rows and every
//! statement on them. Passwords, the lock-out rules and session lifetimes are the `users`
//! feature's; the numbers those rules need come in as parameters.
//!
//! On SQLite these tables live in the `-ops.db` file, beside no `tenants` table: a role's
//! tenant is checked by the caller before it is written. [`AdminUser`] never carries the
//! password hash: only [`Store::admin_user_credentials`] reads it, for a login.

use std::fmt;

use super::Stmt;
use crate::domain::datetime::now_ms;
use crate::storage::value::{Row, params};
use crate::storage::{Store, StoreError};

/// A user's role in one tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Admin,
    Uploader,
    Viewer,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "uploader" => Some(Role::Uploader),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Uploader => "uploader",
            Role::Viewer => "viewer",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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
    /// Where notices go (`mail`); `None`: the user gets none.
    pub email: Option<String>,
    /// The language of the user's notices (`ja`, `en`); `None`: the server's default.
    pub language: Option<String>,
}

const COLUMNS: &str = "id, username, display_name, system_admin, created_at, updated_at, \
                       disabled_at, failed_logins, locked_until, last_login_at, email, language";

impl AdminUser {
    /// A row selected as [`COLUMNS`], without its roles yet.
    fn from_row(row: &Row) -> Result<AdminUser, StoreError> {
        Ok(AdminUser {
            id: row.text(0)?,
            username: row.text(1)?,
            display_name: row.opt_text(2)?,
            system_admin: row.flag(3)?,
            created_at: row.int(4)?,
            updated_at: row.int(5)?,
            disabled_at: row.opt_int(6)?,
            failed_logins: row.int(7)?,
            locked_until: row.opt_int(8)?,
            last_login_at: row.opt_int(9)?,
            roles: Vec::new(),
            email: row.opt_text(10)?,
            language: row.opt_text(11)?,
        })
    }
}

/// A user to create, its username already checked and its password already hashed.
#[derive(Debug)]
pub struct NewAdminUser<'a> {
    pub username: &'a str,
    /// The form that is unique (lower-cased).
    pub username_key: &'a str,
    pub display_name: Option<&'a str>,
    /// The argon2id PHC string.
    pub password_hash: &'a str,
    pub system_admin: bool,
    pub roles: &'a [(String, Role)],
}

/// A failed login and the lock-out rule it is counted under.
#[derive(Debug)]
pub struct LoginFailure<'a> {
    pub ip: &'a str,
    /// The user whose password was wrong; `None` when there is no such user.
    pub user_id: Option<&'a str>,
    pub at: i64,
    /// Failures at or before this are forgotten.
    pub window_start: i64,
    /// The failures in the window (since the last login) that lock the account…
    pub lock_after: i64,
    /// …until this time.
    pub lock_until: i64,
}

/// A row of `admin_sessions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// hex(SHA-256(token)).
    pub id: String,
    pub user_id: String,
    /// The tenant chosen at login.
    pub tenant: Option<String>,
    pub csrf_token: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
}

fn grant_stmt(user_id: &str, tenant: &str, role: Role, now: i64) -> Stmt {
    Stmt::new(
        "INSERT INTO admin_roles (user_id, tenant_id, role, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (user_id, tenant_id) DO UPDATE SET role = excluded.role",
        params![user_id, tenant, role.as_str(), now],
    )
}

fn delete_sessions_stmt(user_id: &str) -> Stmt {
    Stmt::new(
        "DELETE FROM admin_sessions WHERE user_id = $1",
        params![user_id],
    )
}

fn delete_failures_stmt(user_id: &str) -> Stmt {
    Stmt::new(
        "DELETE FROM admin_login_failures WHERE user_id = $1",
        params![user_id],
    )
}

/// Lifts the login lock of a user's username (`auth_throttle`, counted per submitted name).
fn lift_lock_stmt(user_id: &str) -> Stmt {
    Stmt::new(
        "DELETE FROM auth_throttle WHERE scope = 'login_user' AND subject = \
         (SELECT username_key FROM admin_users WHERE id = $1)",
        params![user_id],
    )
}

impl Store {
    /// Creates a user and its roles, all or nothing; `None` when the username is taken
    /// (whatever its case).
    pub async fn create_admin_user(
        &self,
        new: &NewAdminUser<'_>,
    ) -> Result<Option<AdminUser>, StoreError> {
        let id = uuid::Uuid::new_v4().to_string();
        let now = now_ms();
        let mut stmts = vec![Stmt::guard(
            "INSERT INTO admin_users (id, username, username_key, display_name, password_hash, \
             system_admin, created_at, updated_at, failed_logins) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7, 0) ON CONFLICT (username_key) DO NOTHING",
            params![
                id.as_str(),
                new.username,
                new.username_key,
                new.display_name,
                new.password_hash,
                new.system_admin,
                now,
            ],
        )];
        for (tenant, role) in new.roles {
            stmts.push(grant_stmt(&id, tenant, *role, now));
        }
        match self.ops_atomic(stmts).await {
            Ok(_) => self.admin_user(&id).await,
            Err(StoreError::Conflict(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Fills in the roles of `users`.
    async fn with_roles(&self, mut users: Vec<AdminUser>) -> Result<Vec<AdminUser>, StoreError> {
        let (sql, p) = match users.as_slice() {
            [] => return Ok(users),
            [one] => (
                "SELECT user_id, tenant_id, role FROM admin_roles WHERE user_id = $1 \
                 ORDER BY tenant_id",
                params![one.id.as_str()],
            ),
            _ => (
                "SELECT user_id, tenant_id, role FROM admin_roles ORDER BY tenant_id",
                vec![],
            ),
        };
        let roles = self
            .ops_fetch_as(sql, p, |r| {
                Ok((r.text(0)?, r.text(1)?, r.parse(2, "a role", Role::parse)?))
            })
            .await?;
        for (user_id, tenant, role) in roles {
            if let Some(u) = users.iter_mut().find(|u| u.id == user_id) {
                u.roles.push((tenant, role));
            }
        }
        Ok(users)
    }

    /// A user by id.
    pub async fn admin_user(&self, id: &str) -> Result<Option<AdminUser>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM admin_users WHERE id = $1");
        let Some(user) = self
            .ops_fetch_opt_as(&sql, params![id], AdminUser::from_row)
            .await?
        else {
            return Ok(None);
        };
        Ok(self.with_roles(vec![user]).await?.pop())
    }

    /// A user and its password hash by the unique (lower-cased) form of its username.
    pub async fn admin_user_credentials(
        &self,
        username_key: &str,
    ) -> Result<Option<(AdminUser, String)>, StoreError> {
        let sql =
            format!("SELECT {COLUMNS}, password_hash FROM admin_users WHERE username_key = $1");
        let found = self
            .ops_fetch_opt_as(&sql, params![username_key], |r| {
                Ok((AdminUser::from_row(r)?, r.text(12)?))
            })
            .await?;
        let Some((user, hash)) = found else {
            return Ok(None);
        };
        let user = self.with_roles(vec![user]).await?.pop();
        Ok(user.map(|u| (u, hash)))
    }

    /// Every user (`tenant: None`), or those with a role in `tenant`; by username.
    pub async fn list_admin_users(
        &self,
        tenant: Option<&str>,
    ) -> Result<Vec<AdminUser>, StoreError> {
        let users = match tenant {
            None => {
                let sql = format!("SELECT {COLUMNS} FROM admin_users ORDER BY username_key");
                self.ops_fetch_as(&sql, vec![], AdminUser::from_row).await?
            }
            Some(t) => {
                let sql = format!(
                    "SELECT {COLUMNS} FROM admin_users WHERE id IN \
                     (SELECT user_id FROM admin_roles WHERE tenant_id = $1) \
                     ORDER BY username_key"
                );
                self.ops_fetch_as(&sql, params![t], AdminUser::from_row)
                    .await?
            }
        };
        self.with_roles(users).await
    }

    /// Sets a new password hash; the user's sessions end and a lock is lifted. Whether the
    /// user exists.
    pub async fn set_admin_password(&self, id: &str, hash: &str) -> Result<bool, StoreError> {
        let counts = self
            .ops_atomic(vec![
                Stmt::new(
                    "UPDATE admin_users SET password_hash = $2, updated_at = $3, \
                     failed_logins = 0, locked_until = NULL WHERE id = $1",
                    params![id, hash, now_ms()],
                ),
                delete_sessions_stmt(id),
                delete_failures_stmt(id),
                lift_lock_stmt(id),
            ])
            .await?;
        Ok(counts[0] == 1)
    }

    /// Disables a user (its sessions end at once) or enables it again (and lifts a lock).
    /// Whether the user exists.
    pub async fn set_admin_disabled(&self, id: &str, disabled: bool) -> Result<bool, StoreError> {
        let now = now_ms();
        let stmts = if disabled {
            vec![
                Stmt::new(
                    "UPDATE admin_users SET disabled_at = COALESCE(disabled_at, $2), \
                     updated_at = $2 WHERE id = $1",
                    params![id, now],
                ),
                delete_sessions_stmt(id),
            ]
        } else {
            vec![
                Stmt::new(
                    "UPDATE admin_users SET disabled_at = NULL, failed_logins = 0, \
                     locked_until = NULL, updated_at = $2 WHERE id = $1",
                    params![id, now],
                ),
                delete_failures_stmt(id),
                lift_lock_stmt(id),
            ]
        };
        Ok(self.ops_atomic(stmts).await?[0] == 1)
    }

    /// Whether the user exists.
    pub async fn set_admin_display_name(
        &self,
        id: &str,
        display_name: Option<&str>,
    ) -> Result<bool, StoreError> {
        let n = self
            .ops_exec(
                "UPDATE admin_users SET display_name = $2, updated_at = $3 WHERE id = $1",
                params![id, display_name, now_ms()],
            )
            .await?;
        Ok(n == 1)
    }

    /// Sets where the user's notices go and their language (both checked by the caller);
    /// whether the user exists.
    pub async fn set_admin_contact(
        &self,
        id: &str,
        email: Option<&str>,
        language: Option<&str>,
    ) -> Result<bool, StoreError> {
        let n = self
            .ops_exec(
                "UPDATE admin_users SET email = $2, language = $3, updated_at = $4 WHERE id = $1",
                params![id, email, language, now_ms()],
            )
            .await?;
        Ok(n == 1)
    }

    /// The users who get a tenant's notices: enabled, with an address and the `admin` role in
    /// that tenant; `(address, language)` by username.
    pub async fn notice_recipients(
        &self,
        tenant: &str,
    ) -> Result<Vec<(String, Option<String>)>, StoreError> {
        self.ops_fetch_as(
            "SELECT u.email, u.language FROM admin_users u \
             JOIN admin_roles r ON r.user_id = u.id \
             WHERE r.tenant_id = $1 AND r.role = 'admin' AND u.disabled_at IS NULL \
             AND u.email IS NOT NULL ORDER BY u.username_key",
            params![tenant],
            |r| Ok((r.text(0)?, r.opt_text(1)?)),
        )
        .await
    }

    /// Gives the user `role` in `tenant` (replacing its role there; the tenant is the caller's
    /// to check). `false`: no such user.
    pub async fn grant_admin_role(
        &self,
        id: &str,
        tenant: &str,
        role: Role,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let result = self
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
            Err(e) => Err(e),
        }
    }

    /// Takes the user's role in `tenant` away; whether it had one.
    pub async fn revoke_admin_role(&self, id: &str, tenant: &str) -> Result<bool, StoreError> {
        let counts = self
            .ops_atomic(vec![
                Stmt::new(
                    "DELETE FROM admin_roles WHERE user_id = $1 AND tenant_id = $2",
                    params![id, tenant],
                ),
                Stmt::new(
                    "UPDATE admin_users SET updated_at = $2 WHERE id = $1",
                    params![id, now_ms()],
                ),
            ])
            .await?;
        Ok(counts[0] == 1)
    }

    /// Deletes a user with its roles and sessions; whether it existed.
    pub async fn delete_admin_user(&self, id: &str) -> Result<bool, StoreError> {
        let counts = self
            .ops_atomic(vec![
                delete_sessions_stmt(id),
                Stmt::new("DELETE FROM admin_roles WHERE user_id = $1", params![id]),
                delete_failures_stmt(id),
                Stmt::new("DELETE FROM admin_users WHERE id = $1", params![id]),
            ])
            .await?;
        Ok(counts[3] == 1)
    }

    /// How many logins failed from `ip` after `since`, and when the oldest of them was.
    pub async fn login_failures_from(
        &self,
        ip: &str,
        since: i64,
    ) -> Result<(u64, Option<i64>), StoreError> {
        let found = self
            .ops_fetch_opt_as(
                "SELECT COUNT(*), MIN(at) FROM admin_login_failures WHERE ip = $1 AND at > $2",
                params![ip, since],
                |r| Ok((r.int_as(0, "a count")?, r.opt_int(1)?)),
            )
            .await?;
        Ok(found.unwrap_or((0, None)))
    }

    /// Records a failed login and forgets those before the window; for a known user, counts
    /// its failures in the window since its last login and locks it when they reach the rule's
    /// number (unless it is locked already). Returns the user's `locked_until` as it is then.
    pub async fn record_login_failure(
        &self,
        f: &LoginFailure<'_>,
    ) -> Result<Option<i64>, StoreError> {
        let mut stmts = vec![
            Stmt::new(
                "INSERT INTO admin_login_failures (ip, user_id, at) VALUES ($1, $2, $3)",
                params![f.ip, f.user_id, f.at],
            ),
            Stmt::new(
                "DELETE FROM admin_login_failures WHERE at <= $1",
                params![f.window_start],
            ),
        ];
        let Some(id) = f.user_id else {
            self.ops_atomic(stmts).await?;
            return Ok(None);
        };
        stmts.push(Stmt::new(
            "UPDATE admin_users SET failed_logins = (SELECT COUNT(*) FROM admin_login_failures f \
             WHERE f.user_id = $1 AND f.at > $2 AND f.at > COALESCE(admin_users.last_login_at, 0)) \
             WHERE id = $1",
            params![id, f.window_start],
        ));
        stmts.push(Stmt::new(
            "UPDATE admin_users SET locked_until = $2 WHERE id = $1 AND failed_logins >= $3 \
             AND (locked_until IS NULL OR locked_until <= $4)",
            params![id, f.lock_until, f.lock_after, f.at],
        ));
        self.ops_atomic(stmts).await?;
        let locked = self
            .ops_fetch_opt_as(
                "SELECT locked_until FROM admin_users WHERE id = $1",
                params![id],
                |r| r.opt_int(0),
            )
            .await?;
        Ok(locked.flatten())
    }

    /// Opens a session for a successful login, in one transaction: drops the sessions that
    /// expired (`expires_at` passed, or idle since `idle_since`), records the login on the user
    /// (clearing failures and a lock) and stores the session. [`StoreError::Conflict`] when the
    /// user is gone or disabled.
    pub async fn open_admin_session(
        &self,
        session: &SessionRecord,
        ip: Option<&str>,
        idle_since: i64,
    ) -> Result<(), StoreError> {
        let now = session.created_at;
        self.ops_atomic(vec![
            Stmt::new(
                "DELETE FROM admin_sessions WHERE expires_at <= $1 OR last_seen_at <= $2",
                params![now, idle_since],
            ),
            Stmt::guard(
                "UPDATE admin_users SET last_login_at = $2, failed_logins = 0, \
                 locked_until = NULL WHERE id = $1 AND disabled_at IS NULL",
                params![session.user_id.as_str(), now],
            ),
            Stmt::new(
                "INSERT INTO admin_sessions (id, user_id, tenant_id, csrf_token, created_at, \
                 last_seen_at, expires_at, ip) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                params![
                    session.id.as_str(),
                    session.user_id.as_str(),
                    session.tenant.as_deref(),
                    session.csrf_token.as_str(),
                    now,
                    session.last_seen_at,
                    session.expires_at,
                    ip,
                ],
            ),
        ])
        .await
        .map(|_| ())
    }

    /// The stored session with this id (expired or not: the caller decides).
    pub async fn admin_session(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        self.ops_fetch_opt_as(
            "SELECT user_id, tenant_id, csrf_token, created_at, last_seen_at, expires_at \
             FROM admin_sessions WHERE id = $1",
            params![id],
            |r| {
                Ok(SessionRecord {
                    id: id.to_owned(),
                    user_id: r.text(0)?,
                    tenant: r.opt_text(1)?,
                    csrf_token: r.text(2)?,
                    created_at: r.int(3)?,
                    last_seen_at: r.int(4)?,
                    expires_at: r.int(5)?,
                })
            },
        )
        .await
    }

    /// Records that the session was used at `now` (its idle timer starts again).
    pub async fn touch_admin_session(&self, id: &str, now: i64) -> Result<(), StoreError> {
        self.ops_exec(
            "UPDATE admin_sessions SET last_seen_at = $2 WHERE id = $1",
            params![id, now],
        )
        .await
        .map(|_| ())
    }

    /// Ends a session (logout, expiry); whether it existed.
    pub async fn close_admin_session(&self, id: &str) -> Result<bool, StoreError> {
        let n = self
            .ops_exec("DELETE FROM admin_sessions WHERE id = $1", params![id])
            .await?;
        Ok(n == 1)
    }

    /// Sets the tenant a session acts on (the web UI's tenant choice; the caller checked the
    /// user may act there); whether the session existed.
    pub async fn set_admin_session_tenant(
        &self,
        id: &str,
        tenant: &str,
    ) -> Result<bool, StoreError> {
        let n = self
            .ops_exec(
                "UPDATE admin_sessions SET tenant_id = $2 WHERE id = $1",
                params![id, tenant],
            )
            .await?;
        Ok(n == 1)
    }
}
