//! `/ui/password` (every signed-in user): change one's own password — the current one checked
//! (`admin::users::verify_password`), the new one under the password rules. Setting it ends all
//! the user's sessions (`Store::set_admin_password`, as the admin API does), this one too: the
//! answer says to sign in again.

use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::Response;

use super::chrome::{Chrome, Member, noted};
use crate::http::AppState;
use crate::http::admin::session::{form_fields, set_cookie};
use crate::http::admin::users::{hash, verify_password};
use crate::users::Password;

#[derive(Template)]
#[template(path = "pages/password.html")]
struct PasswordPage {
    c: Chrome,
    /// The catalogue key of why the form was refused.
    problem: &'static str,
    /// The rule's words when the new password broke one.
    detail: String,
    /// The password was changed (the session has ended).
    done: bool,
}

fn form(member: &Member, status: StatusCode, problem: &'static str, detail: String) -> Response {
    let page = PasswordPage {
        c: member.chrome("password.title", "password"),
        problem,
        detail,
        done: false,
    };
    member.visit.html(status, page.render())
}

/// `GET /ui/password`.
pub async fn show(member: Member) -> Response {
    form(&member, StatusCode::OK, "", String::new())
}

/// `POST /ui/password` (`current`, `new`, `confirm`); audited as `users.password`, whatever
/// the outcome.
pub async fn change(State(state): State<AppState>, member: Member, body: Bytes) -> Response {
    let target = format!("user:{}", member.session.user.id);
    noted(
        try_change(&state, &member, &body).await,
        "users.password",
        Some(target),
    )
}

async fn try_change(state: &AppState, member: &Member, body: &[u8]) -> Response {
    let fields = form_fields(body);
    // Passwords are taken as typed: spaces may be part of one.
    let field = |k: &str| {
        fields
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let (current, new, confirm) = (field("current"), field("new"), field("confirm"));
    if new != confirm {
        return form(
            member,
            StatusCode::BAD_REQUEST,
            "password.mismatch",
            String::new(),
        );
    }
    let new = match Password::new(new) {
        Ok(p) => p,
        Err(e) => {
            return form(member, StatusCode::BAD_REQUEST, "password.rules", e.message);
        }
    };
    let user = &member.session.user;
    match verify_password(state, &user.username, Password::offered(current)).await {
        Ok(true) => {}
        Ok(false) => {
            return form(
                member,
                StatusCode::FORBIDDEN,
                "password.wrong",
                String::new(),
            );
        }
        Err(e) => return member.visit.error_page(&e),
    }
    let stored = match hash(new).await {
        Ok(phc) => state.store.set_admin_password(&user.id, &phc).await,
        Err(e) => return member.visit.error_page(&e),
    };
    if let Err(e) = stored {
        return member.visit.error_page(&e.into());
    }
    tracing::info!(user_id = %user.id, "admin user changed its password in the web UI");
    // Every session of the user has ended, this one too: the page is drawn signed out.
    let page = PasswordPage {
        c: member.visit.chrome("password.title"),
        problem: "",
        detail: String::new(),
        done: true,
    };
    let mut r = member.visit.html(StatusCode::OK, page.render());
    r.headers_mut()
        .append(header::SET_COOKIE, set_cookie(state, None));
    r
}
