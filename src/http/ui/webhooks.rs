//! `/ui/webhooks` (administrators): the tenant's webhook subscriptions — list and create. A
//! subscription's own page (edit, enable/disable, a test event, its delivery log) is
//! `webhook`. The field rules and the storage are the admin API's (`webhooks::spec`,
//! `webhooks::store`). The secret is shown once, on the page answering the post that made it.

use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::chrome::{Chrome, Member, noted};
use crate::http::AppState;
use crate::http::admin::session::form_fields;
use crate::webhooks::spec::parse_description;
use crate::webhooks::{EVENTS, Events, NewWebhook, Secret, Webhook, WebhookUrl, store};

/// The event choices of the forms: every event, and `*` (all, including later ones).
pub const EVENT_CHOICES: [&str; 5] = ["*", EVENTS[0], EVENTS[1], EVENTS[2], EVENTS[3]];

/// A subscription as the pages show it.
pub struct WebhookView {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub active: bool,
    pub description: String,
    pub created: String,
    pub updated: String,
}

impl WebhookView {
    pub fn of(w: &Webhook, state: &AppState) -> WebhookView {
        WebhookView {
            id: w.id.clone(),
            url: w.url.clone(),
            events: w.events.clone(),
            active: w.active,
            description: w.description.clone(),
            created: state.ui_zone.datetime(w.created_at),
            updated: state.ui_zone.datetime(w.updated_at),
        }
    }
}

/// The fields of a subscription form, as typed (kept when the form comes back refused).
#[derive(Default)]
pub struct Typed {
    pub url: String,
    pub events: Vec<String>,
    pub description: String,
}

impl Typed {
    pub fn of(fields: &[(String, String)]) -> Typed {
        let one = |k: &str| {
            fields
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.trim().to_owned())
                .unwrap_or_default()
        };
        Typed {
            url: one("url"),
            events: fields
                .iter()
                .filter(|(n, _)| n == "event")
                .map(|(_, v)| v.clone())
                .collect(),
            description: one("description"),
        }
    }

    /// Whether the form's box for `event` is ticked.
    pub fn has(&self, event: &&str) -> bool {
        self.events.iter().any(|e| e == *event)
    }

    /// The checked subscription (the admin API's rules), or what is wrong (its words).
    pub fn check(&self) -> Result<(WebhookUrl, Events, String), String> {
        let url = WebhookUrl::parse(&self.url).map_err(|e| e.to_string())?;
        let events = Events::parse(&self.events).map_err(|e| e.to_string())?;
        let description = parse_description(&self.description).map_err(|e| e.to_string())?;
        Ok((url, events, description))
    }
}

/// A secret typed in a form: none (one is generated, or the stored one kept), or a checked one.
pub fn typed_secret(fields: &[(String, String)]) -> Result<Option<Secret>, String> {
    match fields.iter().find(|(n, _)| n == "secret") {
        Some((_, v)) if !v.trim().is_empty() => {
            Secret::parse(v.trim()).map(Some).map_err(|e| e.to_string())
        }
        _ => Ok(None),
    }
}

#[derive(Template)]
#[template(path = "pages/webhooks.html")]
struct WebhooksPage {
    c: Chrome,
    hooks: Vec<WebhookView>,
    choices: [&'static str; 5],
    typed: Typed,
    /// A refused form's message (the admin API's words).
    problem: String,
}

#[derive(Template)]
#[template(path = "pages/webhook_secret.html")]
struct SecretPage {
    c: Chrome,
    hook: WebhookView,
    secret: String,
}

/// The member's tenant when they administer it; otherwise the page saying why not.
pub fn admin_tenant(member: &Member) -> Result<String, Box<Response>> {
    member.admin_tenant("managing webhooks")
}

async fn list_page(state: &AppState, member: &Member, typed: Typed, problem: String) -> Response {
    let tenant = match admin_tenant(member) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    let hooks = match state.store.list_webhooks(&tenant).await {
        Ok(h) => h,
        Err(e) => return member.visit.error_page(&e.into()),
    };
    let status = if problem.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let typed = if problem.is_empty() {
        // A new form ticks every event.
        Typed {
            events: vec!["*".to_owned()],
            ..typed
        }
    } else {
        typed
    };
    let view = WebhooksPage {
        c: member.chrome("webhooks.title", "webhooks"),
        hooks: hooks.iter().map(|w| WebhookView::of(w, state)).collect(),
        choices: EVENT_CHOICES,
        typed,
        problem,
    };
    member.visit.html(status, view.render())
}

/// `GET /ui/webhooks`.
pub async fn show(State(state): State<AppState>, member: Member) -> Response {
    list_page(&state, &member, Typed::default(), String::new()).await
}

/// `POST /ui/webhooks`: creates a subscription and shows its secret once.
pub async fn create(State(state): State<AppState>, member: Member, body: Bytes) -> Response {
    let tenant = match admin_tenant(&member) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    let fields = form_fields(&body);
    let typed = Typed::of(&fields);
    let checked = typed
        .check()
        .and_then(|c| typed_secret(&fields).map(|s| (c, s)));
    let ((url, events, description), secret) = match checked {
        Ok(x) => x,
        Err(problem) => return list_page(&state, &member, typed, problem).await,
    };
    let new = NewWebhook {
        url,
        events,
        secret: secret.unwrap_or_else(Secret::generate),
        active: true,
        description,
    };
    match store::create(&state.store, &tenant, new).await {
        Ok(hook) => {
            tracing::info!(webhook_id = %hook.id, "webhook created from the web UI");
            let page = SecretPage {
                c: member.chrome("webhooks.secret_title", "webhooks"),
                hook: WebhookView::of(&hook, &state),
                secret: hook.secret.clone(),
            };
            noted(
                member.visit.html(StatusCode::OK, page.render()),
                "webhooks.create",
                Some(hook.id),
            )
        }
        Err(e) => member.visit.error_page(&e.into()),
    }
}
