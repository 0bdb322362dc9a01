//! `/users`: the admin users of the caller's tenant. Every operation needs `rosterhub.admin`
//! (a tenant admin's session, a system admin acting in the tenant, or a client with that scope).
//!
//! - Only users with a role in the tenant are seen; another user is 404.
//! - `POST` creates a user with a role here (never a system admin); `PATCH` changes `role`,
//!   `display_name`, `email` and `language` (where its notices go, docs/notifications.md),
//!   `password` (ends the user's sessions) or `disabled`; `DELETE` takes the role away (and deletes the user when it has no role left).
//! - A user with roles in other tenants, or a system admin, can be changed here only in its
//!   role — its password, name and state belong to all its tenants — unless the caller is a
//!   system admin. A logged-in user cannot change its own role, disable or remove itself, and
//!   changes its own password only with `current_password`.
//!
//! The rules are [`create_user`] and [`change_user`] over checked fields, which the web UI's
//! users pages call too; the handlers here read JSON into those fields.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Map, Value, json};

use super::auth::Caller;
use super::common::{json_object, only_fields};
use super::error::AdminError;
use super::session::HASHING;
use crate::audit::AuditNote;
use crate::auth::Scopes;
use crate::domain::datetime::format_ms;
use crate::http::AppState;
use crate::users::store::{self, NewUser, UserError};
use crate::users::{
    AdminUser, Invalid, Password, Role, Username, parse_display_name, parse_email, parse_language,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/users", get(list).post(create))
        .route("/users/{id}", get(show).patch(update).delete(remove))
}

/// A user as this tenant sees it: its role here only.
fn wire(u: &AdminUser, tenant: &str) -> Value {
    json!({
        "id": u.id,
        "username": u.username,
        "display_name": u.display_name,
        "email": u.email,
        "language": u.language,
        "role": u.roles.iter().find(|(t, _)| t == tenant).map(|(_, r)| r.as_str()),
        "disabled": u.disabled_at.is_some(),
        "locked_until": u.locked_until.map(format_ms),
        "last_login_at": u.last_login_at.map(format_ms),
        "created_at": format_ms(u.created_at),
        "updated_at": format_ms(u.updated_at),
    })
}

pub(crate) fn noted(mut response: Response, action: &'static str, target: &str) -> Response {
    response.extensions_mut().insert(AuditNote {
        action: Some(action),
        target: Some(format!("user:{target}")),
        ..AuditNote::default()
    });
    response
}

fn bad_field(e: Invalid) -> AdminError {
    let code = match e.field {
        "username" => "invalid_username",
        "password" => "invalid_password",
        "display_name" => "invalid_display_name",
        "role" => "invalid_role",
        "disabled" => "invalid_disabled",
        "email" => "invalid_email",
        "language" => "invalid_language",
        _ => "invalid_field",
    };
    AdminError::bad_request(code, format!("{}: {}", e.field, e.message))
}

/// The body as a JSON object with only `fields`.
fn object(body: &[u8], fields: &[&str]) -> Result<Map<String, Value>, AdminError> {
    let map = json_object(body)?;
    if map.contains_key("system_admin") {
        return Err(AdminError::bad_request(
            "unknown_field",
            "system_admin: system admins are created with `rosterhub admin create --system` only",
        ));
    }
    only_fields(&map, fields)?;
    Ok(map)
}

fn string<'a>(
    map: &'a Map<String, Value>,
    field: &'static str,
) -> Result<Option<&'a str>, AdminError> {
    match map.get(field) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(bad_field(Invalid::new(field, "must be a string"))),
    }
}

/// A field that may be set (a string, checked by `parse`) or cleared (`null`); `None` when
/// absent.
fn nullable(
    map: &Map<String, Value>,
    field: &'static str,
    parse: fn(&str) -> Result<Option<String>, Invalid>,
) -> Result<Option<Option<String>>, AdminError> {
    match map.get(field) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) => Ok(Some(parse(s).map_err(bad_field)?)),
        Some(_) => Err(bad_field(Invalid::new(field, "must be a string or null"))),
    }
}

fn role_field(map: &Map<String, Value>) -> Result<Option<Role>, AdminError> {
    string(map, "role")?
        .map(|r| {
            Role::parse(r)
                .ok_or_else(|| bad_field(Invalid::new("role", "must be admin, uploader or viewer")))
        })
        .transpose()
}

fn password_field(
    map: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<Password>, AdminError> {
    string(map, field)?
        .map(|p| Password::new(p.to_owned()).map_err(|e| bad_field(Invalid { field, ..e })))
        .transpose()
}

/// Hashes on a blocking thread, a few at a time.
pub(crate) async fn hash(password: Password) -> Result<String, AdminError> {
    let _permit = HASHING
        .acquire()
        .await
        .expect("the semaphore is never closed");
    tokio::task::spawn_blocking(move || password.hash())
        .await
        .map_err(|_| AdminError::internal("hashing the password failed"))
}

fn no_such(id: &str) -> AdminError {
    AdminError::not_found(format!("no user {id:?} in this tenant"))
}

/// The user `id` if it has a role in the caller's tenant.
async fn find(state: &AppState, caller: &Caller, id: &str) -> Result<AdminUser, AdminError> {
    state
        .store
        .admin_user(id)
        .await?
        .filter(|u| u.roles.iter().any(|(t, _)| *t == caller.tenant))
        .ok_or_else(|| no_such(id))
}

fn is_self(caller: &Caller, user: &AdminUser) -> bool {
    caller.user.as_ref().is_some_and(|u| u.id == user.id)
}

fn caller_is_system_admin(caller: &Caller) -> bool {
    caller.user.as_ref().is_some_and(|u| u.system_admin)
}

fn not_yourself(what: &str) -> AdminError {
    AdminError::new(
        StatusCode::CONFLICT,
        "self",
        format!("you cannot {what} yourself; ask another admin"),
    )
}

/// A user to create with a role in one tenant, its fields already checked (the API's `POST`
/// body, the web UI's form).
pub(crate) struct NewMember {
    pub username: Username,
    pub display_name: Option<String>,
    pub password: Password,
    pub role: Role,
    /// Where the user's notices go, and in which language (`ja`/`en`; none: the server's).
    pub email: Option<String>,
    pub language: Option<String>,
}

/// Creates a user with a role in `tenant` (never a system admin).
pub(crate) async fn create_user(
    state: &AppState,
    tenant: &str,
    new: NewMember,
) -> Result<AdminUser, AdminError> {
    let role = new.role;
    let new = NewUser {
        username: new.username,
        display_name: new.display_name,
        password_hash: hash(new.password).await?,
        system_admin: false,
        roles: vec![(tenant.to_owned(), role)],
        email: new.email,
        language: new.language,
    };
    let user = match store::create(&state.store, new).await {
        Ok(u) => u,
        Err(UserError::Exists(name)) => {
            return Err(AdminError::conflict(format!(
                "the username {name:?} is taken"
            )));
        }
        Err(UserError::UnknownTenant(t)) => {
            return Err(AdminError::not_found(format!("unknown tenant {t:?}")));
        }
        Err(UserError::Store(e)) => return Err(e.into()),
    };
    tracing::info!(user_id = %user.id, tenant = %tenant, role = %role, "admin user created");
    Ok(user)
}

/// What to change of a user, its fields already checked (the API's `PATCH` body, the web UI's
/// forms); `None` keeps a field.
#[derive(Default)]
pub(crate) struct UserChange {
    pub role: Option<Role>,
    /// `Some(None)` clears the display name.
    pub display_name: Option<Option<String>>,
    pub password: Option<Password>,
    /// Needed when callers change their own password.
    pub current_password: Option<Password>,
    pub disabled: Option<bool>,
    /// `Some(None)` clears the address, or the language.
    pub email: Option<Option<String>>,
    pub language: Option<Option<String>>,
}

/// Changes user `id` of the caller's tenant under the rules of this module's docs; the user as
/// it is then.
pub(crate) async fn change_user(
    state: &AppState,
    caller: &Caller,
    id: &str,
    change: UserChange,
) -> Result<AdminUser, AdminError> {
    let UserChange {
        role,
        display_name,
        password,
        current_password: current,
        disabled,
        email,
        language,
    } = change;
    let user = find(state, caller, id).await?;
    let shared = user.system_admin || user.roles.iter().any(|(t, _)| *t != caller.tenant);
    if user.system_admin && !caller_is_system_admin(caller) {
        return Err(AdminError::forbidden(
            "a system admin is changed by a system admin only",
        ));
    }
    if shared
        && !caller_is_system_admin(caller)
        && (display_name.is_some()
            || password.is_some()
            || disabled.is_some()
            || email.is_some()
            || language.is_some())
    {
        return Err(AdminError::forbidden(
            "the user has roles in other tenants too: only its role here can be changed",
        ));
    }
    if is_self(caller, &user) {
        if role.is_some_and(|r| user.role_in(&caller.tenant) != Some(r)) {
            return Err(not_yourself("change the role of"));
        }
        if disabled == Some(true) {
            return Err(not_yourself("disable"));
        }
        if password.is_some() {
            let Some(current) = current else {
                return Err(bad_field(Invalid::new(
                    "current_password",
                    "is required to change your own password",
                )));
            };
            let ok = verify_password(state, &user.username, current).await?;
            if !ok {
                return Err(AdminError::forbidden("current_password: wrong password"));
            }
        }
    }

    if let Some(role) = role {
        match store::grant(&state.store, &user.id, &caller.tenant, role).await {
            Ok(true) => {}
            Ok(false) => return Err(no_such(id)),
            Err(UserError::Store(e)) => return Err(e.into()),
            Err(e) => return Err(AdminError::internal(e.to_string())),
        }
    }
    if let Some(name) = &display_name {
        state
            .store
            .set_admin_display_name(&user.id, name.as_deref())
            .await?;
    }
    if email.is_some() || language.is_some() {
        let email = email.unwrap_or(user.email.clone());
        let language = language.unwrap_or(user.language.clone());
        state
            .store
            .set_admin_contact(&user.id, email.as_deref(), language.as_deref())
            .await?;
    }
    if let Some(password) = password {
        let phc = hash(password).await?;
        state.store.set_admin_password(&user.id, &phc).await?;
    }
    if let Some(disabled) = disabled {
        state.store.set_admin_disabled(&user.id, disabled).await?;
    }
    let user = find(state, caller, id).await?;
    tracing::info!(user_id = %user.id, tenant = %caller.tenant, "admin user changed");
    Ok(user)
}

/// Whether `offered` is the password of the user named `username` (checked on a blocking
/// thread, a few at a time); false when there is no such user.
pub(crate) async fn verify_password(
    state: &AppState,
    username: &str,
    offered: Password,
) -> Result<bool, AdminError> {
    let Some((_, stored)) = store::credentials(&state.store, username).await? else {
        return Ok(false);
    };
    let _permit = HASHING
        .acquire()
        .await
        .expect("the semaphore is never closed");
    tokio::task::spawn_blocking(move || offered.verify(&stored))
        .await
        .map_err(|_| AdminError::internal("the password check failed"))
}

async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, AdminError> {
    caller.require(Scopes::ADMIN)?;
    let users = state.store.list_admin_users(Some(&caller.tenant)).await?;
    Ok(Json(json!({
        "users": users.iter().map(|u| wire(u, &caller.tenant)).collect::<Vec<_>>(),
    })))
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, AdminError> {
    caller.require(Scopes::ADMIN)?;
    let user = find(&state, &caller, &id).await?;
    Ok(Json(wire(&user, &caller.tenant)))
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, AdminError> {
    caller.require(Scopes::ADMIN)?;
    caller.require_write()?;
    let map = object(
        &body,
        &[
            "username",
            "password",
            "display_name",
            "role",
            "email",
            "language",
        ],
    )?;
    let username = Username::parse(
        string(&map, "username")?
            .ok_or_else(|| bad_field(Invalid::new("username", "is required")))?,
    )
    .map_err(bad_field)?;
    let password = password_field(&map, "password")?
        .ok_or_else(|| bad_field(Invalid::new("password", "is required")))?;
    let role = role_field(&map)?.ok_or_else(|| bad_field(Invalid::new("role", "is required")))?;
    let display_name = match string(&map, "display_name")? {
        Some(n) => parse_display_name(n).map_err(bad_field)?,
        None => None,
    };
    let email = string(&map, "email")?
        .map(parse_email)
        .transpose()
        .map_err(bad_field)?
        .flatten();
    let language = string(&map, "language")?
        .map(parse_language)
        .transpose()
        .map_err(bad_field)?
        .flatten();
    let user = create_user(
        &state,
        &caller.tenant,
        NewMember {
            username,
            display_name,
            password,
            role,
            email,
            language,
        },
    )
    .await?;
    let location = format!("{}{}/users/{}", caller.base, super::BASE_PATH, user.id);
    let response = (
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(wire(&user, &caller.tenant)),
    )
        .into_response();
    Ok(noted(response, "users.create", &user.id))
}

async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, AdminError> {
    caller.require(Scopes::ADMIN)?;
    caller.require_write()?;
    let map = object(
        &body,
        &[
            "role",
            "display_name",
            "password",
            "current_password",
            "disabled",
            "email",
            "language",
        ],
    )?;
    let role = role_field(&map)?;
    let display_name = match map.get("display_name") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(n)) => Some(parse_display_name(n).map_err(bad_field)?),
        Some(_) => return Err(bad_field(Invalid::new("display_name", "must be a string"))),
    };
    let email = nullable(&map, "email", parse_email)?;
    let language = nullable(&map, "language", parse_language)?;
    let password = password_field(&map, "password")?;
    let current = string(&map, "current_password")?.map(|p| Password::offered(p.to_owned()));
    let disabled = match map.get("disabled") {
        None => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => return Err(bad_field(Invalid::new("disabled", "must be true or false"))),
    };

    let change = UserChange {
        role,
        display_name,
        password,
        current_password: current,
        disabled,
        email,
        language,
    };
    let user = change_user(&state, &caller, &id, change).await?;
    Ok(noted(
        Json(wire(&user, &caller.tenant)).into_response(),
        "users.update",
        &user.id,
    ))
}

async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, AdminError> {
    caller.require(Scopes::ADMIN)?;
    caller.require_write()?;
    let user = find(&state, &caller, &id).await?;
    if is_self(&caller, &user) {
        return Err(not_yourself("remove"));
    }
    if user.system_admin && !caller_is_system_admin(&caller) {
        return Err(AdminError::forbidden(
            "a system admin is changed by a system admin only",
        ));
    }
    state
        .store
        .revoke_admin_role(&user.id, &caller.tenant)
        .await?;
    let others = user.roles.iter().any(|(t, _)| *t != caller.tenant);
    if !others && !user.system_admin {
        state.store.delete_admin_user(&user.id).await?;
    }
    tracing::info!(user_id = %user.id, tenant = %caller.tenant, "admin user removed from tenant");
    Ok(noted(
        StatusCode::NO_CONTENT.into_response(),
        "users.delete",
        &user.id,
    ))
}
