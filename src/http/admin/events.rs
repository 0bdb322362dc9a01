//! `GET /jobs/{id}/events`: Server-Sent Events with a job's progress and, last, its state.
//!
//! The job row is the source (polled every 250 ms), so any replica can serve the stream of a
//! job another replica runs. Events: `progress` (state and progress, whenever they change) and
//! one final `state` (the job as `GET` shows it) when it ends or is held; then the stream closes.

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use futures_util::Stream;
use serde_json::{Value, json};

use super::auth::Caller;
use super::error::AdminError;
use crate::auth::Scopes;
use crate::http::AppState;
use crate::jobs::{JobKind, JobState};

pub fn routes() -> Router<AppState> {
    Router::new().route("/jobs/{id}/events", get(events))
}

const POLL: Duration = Duration::from_millis(250);

enum Step {
    /// Polling; the last progress sent.
    Watching(Option<Value>),
    Done,
}

async fn events(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, AdminError> {
    // No admin scope at all: refused before the job is looked up (its existence is not told).
    if !caller.scopes.allows_admin(Scopes::IMPORT) && !caller.scopes.allows_admin(Scopes::EXPORT) {
        caller.require(Scopes::IMPORT)?;
    }
    let job = state
        .store
        .job(&caller.tenant, &id)
        .await?
        .ok_or_else(|| AdminError::not_found(format!("no job with id {id:?}")))?;
    caller.require(match job.kind {
        JobKind::Import => Scopes::IMPORT,
        JobKind::Export => Scopes::EXPORT,
    })?;
    let store_ = state.store.clone();
    let tenant = caller.tenant.clone();
    let stream = futures_util::stream::unfold(
        (Step::Watching(None), true),
        move |(step, first)| {
            let store_ = store_.clone();
            let tenant = tenant.clone();
            let id = id.clone();
            async move {
                let Step::Watching(last) = step else {
                    return None;
                };
                let last = last;
                let mut first = first;
                loop {
                    if !first {
                        tokio::time::sleep(POLL).await;
                    }
                    first = false;
                    let job = match store_.job(&tenant, &id).await {
                        Ok(Some(j)) => j,
                        Ok(None) => return None,
                        Err(e) => {
                            tracing::warn!(job = %id, error = %e, "job events: cannot read the job");
                            continue;
                        }
                    };
                    if job.state.is_final() || job.state == JobState::Held {
                        let mut body = job.summary_json();
                        if let Some(r) = &job.report {
                            let mut r = r.clone();
                            if let Some(o) = r.as_object_mut() {
                                let n = o
                                    .remove("findings")
                                    .and_then(|f| f.as_array().map(Vec::len));
                                if let Some(n) = n {
                                    body["findings_total"] = n.into();
                                }
                            }
                            body["report"] = r;
                        }
                        let event = Event::default().event("state").json_data(body).ok()?;
                        return Some((Ok(event), (Step::Done, false)));
                    }
                    let now = json!({"state": job.state.as_str(), "progress": job.progress});
                    if last.as_ref() != Some(&now) {
                        let mut data = now.clone();
                        data["id"] = job.id.clone().into();
                        let event = Event::default().event("progress").json_data(data).ok()?;
                        return Some((Ok(event), (Step::Watching(Some(now)), false)));
                    }
                }
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
