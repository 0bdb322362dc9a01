//! `/ui/users` (administrators): the admin users of the tenant — list, create with a role
//! here, change the role, disable or enable, reset the password (typed, or generated and
//! shown once), set where its e-mail notices go and in which language. Every change goes through the admin API's rules (`admin::users::create_user`,
//! `change_user`: nobody disables or demotes themselves, a user of other tenants changes only
//! in its role here unless a system admin acts, …). Changing one's own password is `password`.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::chrome::{Chrome, Member, noted, targeted};
use super::view::Params;
use crate::http::AppState;
use crate::http::admin::error::AdminError;
use crate::http::admin::session::form_fields;
use crate::http::admin::users::{NewMember, UserChange, change_user, create_user};
use crate::users::{
    AdminUser, Invalid, Password, Role, Username, parse_display_name, parse_email, parse_language,
};

/// Users per page.
const PAGE: usize = 50;

/// The roles offered, in the order of the form.
pub const ROLES: [&str; 3] = ["viewer", "uploader", "admin"];

/// A user as the list shows it.
pub struct UserView {
    pub id: String,
    pub username: String,
    pub display_name: String,
    /// Where its notices go ("" for none) and their language ("" for the server's).
    pub email: String,
    pub language: String,
    /// The role here (`admin` for a system admin).
    pub role: &'static str,
    pub system_admin: bool,
    pub disabled: bool,
    pub locked_until: String,
    pub last_login: String,
    /// The signed-in user: no disable or role control.
    pub me: bool,
}

impl UserView {
    fn of(u: &AdminUser, tenant: &str, me: &str, state: &AppState) -> UserView {
        let zone = &state.ui_zone;
        let now = crate::domain::datetime::now_ms();
        UserView {
            id: u.id.clone(),
            username: u.username.clone(),
            display_name: u.display_name.clone().unwrap_or_default(),
            email: u.email.clone().unwrap_or_default(),
            language: u.language.clone().unwrap_or_default(),
            role: u.role_in(tenant).unwrap_or(Role::Viewer).as_str(),
            system_admin: u.system_admin,
            disabled: u.disabled_at.is_some(),
            locked_until: u
                .locked_until
                .filter(|_| u.locked_at(now))
                .map(|t| zone.datetime(t))
                .unwrap_or_default(),
            last_login: u
                .last_login_at
                .map(|t| zone.datetime(t))
                .unwrap_or_default(),
            me: u.id == me,
        }
    }

    pub fn role_key(&self) -> String {
        format!("role.{}", self.role)
    }
}

#[derive(Template)]
#[template(path = "pages/users.html")]
struct UsersPage {
    c: Chrome,
    users: Vec<UserView>,
    roles: [&'static str; 3],
    /// The notice languages offered ("" for the server's default).
    languages: [&'static str; 3],
    prev_href: String,
    next_href: String,
    /// Why the last form was refused (the admin API's words).
    problem: String,
    /// The create form as typed, when it came back refused.
    typed_username: String,
    typed_display_name: String,
}

#[derive(Template)]
#[template(path = "pages/user_password.html")]
struct PasswordShown {
    c: Chrome,
    username: String,
    password: String,
    /// A new account (else a reset).
    created: bool,
}

/// The member's tenant when they administer it; otherwise the page saying why not.
fn admin_tenant(member: &Member) -> Result<String, Box<Response>> {
    member.admin_tenant("managing users")
}

async fn list_page(
    state: &AppState,
    member: &Member,
    page: usize,
    problem: (StatusCode, String),
    typed: (String, String),
) -> Response {
    let tenant = match admin_tenant(member) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    // A tenant has tens of admin users, not thousands: read whole, shown a page at a time.
    let all = match state.store.list_admin_users(Some(&tenant)).await {
        Ok(u) => u,
        Err(e) => return member.visit.error_page(&e.into()),
    };
    let me = member.session.user.id.as_str();
    let pages = all.len().div_ceil(PAGE).max(1);
    let page = page.min(pages);
    let view = UsersPage {
        c: member.chrome("users.title", "users"),
        users: all
            .iter()
            .skip((page - 1) * PAGE)
            .take(PAGE)
            .map(|u| UserView::of(u, &tenant, me, state))
            .collect(),
        roles: ROLES,
        languages: ["", "ja", "en"],
        prev_href: if page > 1 {
            format!("/ui/users?page={}", page - 1)
        } else {
            String::new()
        },
        next_href: if page < pages {
            format!("/ui/users?page={}", page + 1)
        } else {
            String::new()
        },
        problem: problem.1,
        typed_username: typed.0,
        typed_display_name: typed.1,
    };
    member.visit.html(problem.0, view.render())
}

fn refused(e: &AdminError) -> (StatusCode, String) {
    (e.status, e.message.clone())
}

fn invalid(e: Invalid) -> (StatusCode, String) {
    (
        StatusCode::BAD_REQUEST,
        format!("{}: {}", e.field, e.message),
    )
}

/// `GET /ui/users[?page=n]`.
pub async fn show(
    State(state): State<AppState>,
    member: Member,
    RawQuery(raw): RawQuery,
) -> Response {
    let page = Params::new(raw.as_deref()).page(10_000) as usize;
    let ok = (StatusCode::OK, String::new());
    list_page(&state, &member, page, ok, Default::default()).await
}

/// A form's field, trimmed; `""` when absent.
fn field(fields: &[(String, String)], name: &str) -> String {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_default()
}

/// The password of a form: the typed one checked, or (left empty) a generated one that the
/// answering page shows once.
fn typed_or_generated(typed: &str) -> Result<(Password, bool), Invalid> {
    if typed.is_empty() {
        Ok((Password::generate(), true))
    } else {
        Password::new(typed.to_owned()).map(|p| (p, false))
    }
}

/// The fields of the create form, checked by the admin API's rules.
fn new_member(fields: &[(String, String)]) -> Result<(NewMember, bool), Invalid> {
    let username = Username::parse(&field(fields, "username"))?;
    let display_name = parse_display_name(&field(fields, "display_name"))?;
    let role = Role::parse(&field(fields, "role"))
        .ok_or_else(|| Invalid::new("role", "must be admin, uploader or viewer"))?;
    let (password, generated) = typed_or_generated(&field(fields, "password"))?;
    let new = NewMember {
        username,
        display_name,
        password,
        role,
        email: parse_email(&field(fields, "email"))?,
        language: parse_language(&field(fields, "language"))?,
    };
    Ok((new, generated))
}

fn shown(member: &Member, username: String, password: &Password, created: bool) -> Response {
    let page = PasswordShown {
        c: member.chrome("users.password_title", "users"),
        username,
        password: password.expose().to_owned(),
        created,
    };
    member.visit.html(StatusCode::OK, page.render())
}

/// `POST /ui/users`: creates a user with a role in the tenant.
pub async fn create(State(state): State<AppState>, member: Member, body: Bytes) -> Response {
    let tenant = match admin_tenant(&member) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    let fields = form_fields(&body);
    let typed = (field(&fields, "username"), field(&fields, "display_name"));
    let (new, generated) = match new_member(&fields) {
        Ok(x) => x,
        Err(e) => return list_page(&state, &member, 1, invalid(e), typed).await,
    };
    let password = new.password.clone();
    let user = match create_user(&state, &tenant, new).await {
        Ok(u) => u,
        Err(e) => return list_page(&state, &member, 1, refused(&e), typed).await,
    };
    let target = Some(format!("user:{}", user.id));
    let answer = if generated {
        shown(&member, user.username, &password, true)
    } else {
        member.visit.see_other("/ui/users")
    };
    noted(answer, "users.create", target)
}

/// `POST /ui/users/{id}/{role|contact|disable|enable|reset}`.
pub async fn act(
    State(state): State<AppState>,
    member: Member,
    Path((id, action)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    if let Err(r) = admin_tenant(&member) {
        return *r;
    }
    let Some(caller) = member.caller() else {
        return member.visit.see_other(super::BASE_PATH);
    };
    let fields = form_fields(&body);
    let mut generated = None;
    let change = match action.as_str() {
        "role" => match Role::parse(&field(&fields, "role")) {
            Some(role) => UserChange {
                role: Some(role),
                ..UserChange::default()
            },
            None => {
                let e = Invalid::new("role", "must be admin, uploader or viewer");
                return list_page(&state, &member, 1, invalid(e), Default::default()).await;
            }
        },
        "contact" => {
            let checked = parse_email(&field(&fields, "email"))
                .and_then(|email| Ok((email, parse_language(&field(&fields, "language"))?)));
            match checked {
                Ok((email, language)) => UserChange {
                    email: Some(email),
                    language: Some(language),
                    ..UserChange::default()
                },
                Err(e) => {
                    return list_page(&state, &member, 1, invalid(e), Default::default()).await;
                }
            }
        }
        "disable" | "enable" => UserChange {
            disabled: Some(action == "disable"),
            ..UserChange::default()
        },
        "reset" => match typed_or_generated(&field(&fields, "password")) {
            Ok((password, was_generated)) => {
                if was_generated {
                    generated = Some(password.clone());
                }
                UserChange {
                    password: Some(password),
                    ..UserChange::default()
                }
            }
            Err(e) => return list_page(&state, &member, 1, invalid(e), Default::default()).await,
        },
        _ => {
            return member
                .visit
                .error_page(&AdminError::not_found("no such action"));
        }
    };
    let user = match change_user(&state, &caller, &id, change).await {
        Ok(u) => u,
        Err(e) => return list_page(&state, &member, 1, refused(&e), Default::default()).await,
    };
    let target = format!("user:{}", user.id);
    let answer = match generated {
        Some(p) => shown(&member, user.username, &p, false),
        None => member.visit.see_other("/ui/users"),
    };
    targeted(answer, target)
}
