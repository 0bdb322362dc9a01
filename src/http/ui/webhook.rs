//! `/ui/webhooks/{id}` (administrators): one subscription — edit its URL, events, note and
//! secret; disable or enable it; send it a test event (`webhooks::store::send_test`); and its
//! delivery log (state, attempts, the last response code and error, times), newest first, a
//! keyset page at a time (`Store::webhook_delivery_page`: no count, the same cost at any
//! depth).

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::chrome::{Chrome, Member, enc};
use super::view::Params;
use super::webhooks::{EVENT_CHOICES, Typed, WebhookView, admin_tenant, typed_secret};
use crate::http::AppState;
use crate::http::admin::error::AdminError;
use crate::http::admin::session::form_fields;
use crate::webhooks::store::{self, TestRefused};
use crate::webhooks::{Delivery, DeliveryState, WebhookPatch};

/// Deliveries per page.
const PAGE: u64 = 25;

/// A delivery as the log shows it.
pub struct DeliveryView {
    pub id: String,
    pub event: String,
    /// `pending`, `succeeded` or `failed`: the CSS class, and `delivery.<state>` its words.
    pub state: &'static str,
    pub attempts: i64,
    /// The last response's HTTP status; empty when none came.
    pub status: String,
    pub error: String,
    pub created: String,
    /// When it ended, or (pending) when the next attempt is due.
    pub next_or_finished: String,
}

impl DeliveryView {
    fn of(d: &Delivery, state: &AppState) -> DeliveryView {
        let zone = &state.ui_zone;
        DeliveryView {
            id: d.id.clone(),
            event: d.event.clone(),
            state: d.state.as_str(),
            attempts: d.attempts,
            status: d.last_status.map(|s| s.to_string()).unwrap_or_default(),
            error: d.last_error.clone().unwrap_or_default(),
            created: zone.datetime(d.created_at),
            next_or_finished: match (d.state, d.finished_at) {
                (DeliveryState::Pending, _) => zone.datetime(d.next_attempt_at),
                (_, Some(t)) => zone.datetime(t),
                (_, None) => String::new(),
            },
        }
    }

    pub fn state_key(&self) -> String {
        format!("delivery.{}", self.state)
    }
}

#[derive(Template)]
#[template(path = "pages/webhook.html")]
struct WebhookPage {
    c: Chrome,
    hook: WebhookView,
    choices: [&'static str; 5],
    /// The form as typed when it came back refused; else the stored values.
    typed: Typed,
    problem: String,
    /// A note after an action (`sent`: a test event was queued).
    notice: &'static str,
    deliveries: Vec<DeliveryView>,
    /// Back to the newest (on a later page).
    first_href: String,
    next_href: String,
}

async fn page(
    state: &AppState,
    member: &Member,
    id: &str,
    after: Option<(i64, String)>,
    typed: Option<Typed>,
    problem: String,
    notice: &'static str,
) -> Response {
    let tenant = match admin_tenant(member) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    let hook = match state.store.webhook(&tenant, id).await {
        Ok(Some(h)) => h,
        Ok(None) => return member.visit.error_page(&no_such(id)),
        Err(e) => return member.visit.error_page(&e.into()),
    };
    let cursor = after.as_ref().map(|(at, d)| (*at, d.as_str()));
    let mut log = match state
        .store
        .webhook_delivery_page(&tenant, id, cursor, PAGE + 1)
        .await
    {
        Ok(Some(l)) => l,
        Ok(None) => return member.visit.error_page(&no_such(id)),
        Err(e) => return member.visit.error_page(&e.into()),
    };
    // One more than shown: whether there is a next page.
    let more = log.len() as u64 > PAGE;
    log.truncate(PAGE as usize);
    let here = format!("/ui/webhooks/{}", enc(id));
    let view = WebhookPage {
        c: member.chrome("webhook.title", "webhooks"),
        typed: typed.unwrap_or_else(|| Typed {
            url: hook.url.clone(),
            events: hook.events.clone(),
            description: hook.description.clone(),
        }),
        hook: WebhookView::of(&hook, state),
        choices: EVENT_CHOICES,
        problem: problem.clone(),
        notice,
        deliveries: log.iter().map(|d| DeliveryView::of(d, state)).collect(),
        first_href: if after.is_some() {
            here.clone()
        } else {
            String::new()
        },
        next_href: match (more, log.last()) {
            (true, Some(last)) => format!("{here}?after={}_{}", last.created_at, enc(&last.id)),
            _ => String::new(),
        },
    };
    let status = if problem.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    member.visit.html(status, view.render())
}

fn no_such(id: &str) -> AdminError {
    AdminError::not_found(format!("no webhook {id:?}"))
}

/// `GET /ui/webhooks/{id}[?after=<created_at>_<id>][&done=…]`.
pub async fn show(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let params = Params::new(raw.as_deref());
    let after = params.after();
    let notice = match params.get("done") {
        "test" => "webhook.test_sent",
        "update" => "webhook.updated",
        _ => "",
    };
    page(&state, &member, &id, after, None, String::new(), notice).await
}

/// `POST /ui/webhooks/{id}`: saves the form (URL, events, note; a new secret when one is typed).
pub async fn update(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
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
        Err(problem) => return page(&state, &member, &id, None, Some(typed), problem, "").await,
    };
    let patch = WebhookPatch {
        url: Some(url),
        events: Some(events),
        secret,
        active: None,
        description: Some(description),
    };
    match store::update(&state.store, &tenant, &id, patch).await {
        Ok(Some(_)) => {
            tracing::info!(webhook_id = %id, "webhook changed from the web UI");
            let to = format!("/ui/webhooks/{}?done=update", enc(&id));
            member.visit.see_other(&to)
        }
        Ok(None) => member.visit.error_page(&no_such(&id)),
        Err(e) => member.visit.error_page(&e.into()),
    }
}

/// `POST /ui/webhooks/{id}/{enable|disable|test}`.
pub async fn act(
    State(state): State<AppState>,
    member: Member,
    Path((id, action)): Path<(String, String)>,
) -> Response {
    let tenant = match admin_tenant(&member) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    let here = format!("/ui/webhooks/{}", enc(&id));
    let active = match action.as_str() {
        "enable" => true,
        "disable" => false,
        "test" => {
            return match store::send_test(&state.store, &tenant, &id).await {
                Ok(d) => {
                    // The delivery worker sends it within its poll interval.
                    tracing::info!(webhook_id = %id, delivery_id = %d.id, "test event queued from the web UI");
                    member.visit.see_other(&format!("{here}?done=test"))
                }
                Err(TestRefused::NotFound) => member.visit.error_page(&no_such(&id)),
                Err(e @ TestRefused::Inactive) => {
                    page(&state, &member, &id, None, None, e.to_string(), "").await
                }
                Err(TestRefused::Store(e)) => member.visit.error_page(&e.into()),
            };
        }
        _ => {
            return member
                .visit
                .error_page(&AdminError::not_found("no such action"));
        }
    };
    let patch = WebhookPatch {
        active: Some(active),
        ..WebhookPatch::default()
    };
    match store::update(&state.store, &tenant, &id, patch).await {
        Ok(Some(_)) => {
            tracing::info!(webhook_id = %id, active, "webhook switched from the web UI");
            member.visit.see_other(&here)
        }
        Ok(None) => member.visit.error_page(&no_such(&id)),
        Err(e) => member.visit.error_page(&e.into()),
    }
}
