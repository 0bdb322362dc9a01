//! `GET /api/v1/audit` (filters, paging, tenants apart, scope), the retention sweep, and the
//! batched writer under a burst of requests.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use reqwest::Method;
use rosterhub::audit::{Entry, Filter, spawn_retention};
use rosterhub::auth::Scopes;
use rosterhub::domain::datetime::now_ms;
use serde_json::{Value, json};

use super::{OR, entries, req, send};
use crate::helpers::tokens::{TestClient, client};
use crate::helpers::{Backend, TestDb};
use crate::server::{Server, admin_scopes, test_config};

/// 2020-01-01T00:00:00Z.
const T0: i64 = 1_577_836_800_000;
const MINUTE: i64 = 60_000;
const DAY: i64 = 86_400_000;

/// Entry `i` of the seeded log: one a minute from `T0`; actions, actors and statuses cycle.
fn seeded(tenant: &str, i: i64) -> Entry {
    Entry {
        id: format!("{tenant}-{i:02}"),
        tenant: tenant.into(),
        at: T0 + i * MINUTE,
        actor: if i % 2 == 0 { "client:a" } else { "client:b" }.into(),
        action: ["imports.create", "imports.read", "oneroster.read"][(i % 3) as usize].into(),
        method: "GET".into(),
        path: format!("/p/{i}"),
        query: Some("limit=1".into()),
        status: if i % 5 == 0 { 403 } else { 200 },
        result_count: Some(1),
        target: None,
        source_ip: Some("10.0.0.1".into()),
        request_id: Some(format!("seed-{i}")),
        user_agent: None,
    }
}

fn ids(body: &Value) -> Vec<String> {
    body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

/// `default-NN` for each `i`, in the order given.
fn named(is: impl IntoIterator<Item = i64>) -> Vec<String> {
    is.into_iter().map(|i| format!("default-{i:02}")).collect()
}

pub(super) fn the_audit_api_filters_and_pages_exactly(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let server = Server::start(&db, "default", test_config());
    db.rt.block_on(async {
        let st = &server.state.store;
        st.ensure_tenant("other", "Other").await.unwrap();
        let mut seed: Vec<Entry> = (0..30).map(|i| seeded("default", i)).collect();
        seed.extend((0..5).map(|i| seeded("other", i)));
        st.insert_audit_entries(&seed).await.unwrap();
        let TestClient {
            id: admin,
            token: tok,
            ..
        } = client(&server.state, "default", admin_scopes()).await;
        let audit = |q: &str, tok: &str| {
            let (server, q, tok) = (&server, q.to_owned(), tok.to_owned());
            async move {
                let (s, _, body) = send(
                    req(
                        server,
                        Method::GET,
                        &format!("/api/v1/audit?{q}"),
                        Some(&tok),
                    ),
                    "q",
                )
                .await;
                (s, serde_json::from_slice::<Value>(&body).unwrap())
            }
        };
        // The seed is all before 2020-01-02; later entries are this test's own reads.
        let old = "until=2020-01-02T00:00:00Z";

        let (s, page) = audit(&format!("{old}&limit=3"), &tok).await;
        assert_eq!(s, 200, "{page}");
        assert_eq!(page["total"], 30);
        assert_eq!(ids(&page), named([29, 28, 27]), "newest first");
        assert_eq!(
            page["entries"][0],
            json!({
                "id": "default-29", "at": "2020-01-01T00:29:00.000Z", "actor": "client:b",
                "action": "oneroster.read", "method": "GET", "path": "/p/29", "query": "limit=1",
                "status": 200, "result_count": 1, "target": null, "source_ip": "10.0.0.1",
                "request_id": "seed-29", "user_agent": null,
            })
        );
        let (_, page) = audit(&format!("{old}&limit=7&offset=28"), &tok).await;
        assert_eq!((ids(&page), &page["total"]), (named([1, 0]), &json!(30)));
        let (_, page) = audit(&format!("{old}&offset=30"), &tok).await;
        assert_eq!(page, json!({"entries": [], "total": 30}));

        let cases: Vec<(&str, Vec<String>)> = vec![
            (
                "action=imports.*",
                named((0..30).rev().filter(|i| i % 3 != 2)),
            ),
            (
                "action=imports.read",
                named((0..30).rev().filter(|i| i % 3 == 1)),
            ),
            ("actor=client:a&status=4xx", named([20, 10, 0])),
            (
                "status=200&actor=client:b&action=imports.create",
                named([27, 21, 9, 3]),
            ),
            (
                "since=2020-01-01T00:10:00Z&until=2020-01-01T00:20:00Z",
                named((10..20).rev()),
            ),
            ("since=2020-01-01T09:25:00%2B09:00", named((25..30).rev())),
            ("request_id=seed-3", named([3])),
            ("target=nothing", vec![]),
        ];
        for (q, want) in cases {
            let (s, page) = audit(&format!("{old}&{q}"), &tok).await;
            assert_eq!(s, 200, "{q}: {page}");
            assert_eq!(ids(&page), want, "{q}");
            assert_eq!(page["total"], want.len(), "{q}");
        }

        // Another tenant's admin sees its own entries only, and this tenant's none.
        let TestClient { token: other, .. } = client(&server.state, "other", admin_scopes()).await;
        let (_, page) = audit(old, &other).await;
        assert_eq!(
            ids(&page),
            ["other-04", "other-03", "other-02", "other-01", "other-00"]
        );
        let (_, page) = audit("request_id=seed-3", &other).await;
        assert_eq!(ids(&page), ["other-03"]);

        // The audit needs rosterhub.admin; a refusal is audited too.
        let TestClient {
            id: importer,
            token: itok,
            ..
        } = client(&server.state, "default", Scopes::IMPORT).await;
        let (s, body) = audit(old, &itok).await;
        assert_eq!((s, &body["error"]), (403, &json!("forbidden")));
        for (q, needle) in [
            ("status=abc", "`status`"),
            ("actr=client:a", "`actr`"),
            ("since=yesterday", "`since`"),
        ] {
            let (s, body) = audit(q, &tok).await;
            assert_eq!((s, &body["error"]), (400, &json!("bad_query")), "{q}");
            assert!(
                body["message"].as_str().unwrap().contains(needle),
                "{q}: {body}"
            );
        }

        // Reading the audit log is audited: 14 reads by the admin (3 of them refused), one
        // refused read by the importer, 2 by the other tenant's admin.
        let reads = |actor: String| Filter {
            actor: Some(actor),
            action: Some("audit.list".into()),
            ..Filter::default()
        };
        let mine = entries(&server, "default", reads(format!("client:{admin}"))).await;
        assert_eq!(mine.len(), 14);
        assert_eq!(mine.iter().filter(|e| e.status == 400).count(), 3);
        let theirs = entries(&server, "default", reads(format!("client:{importer}"))).await;
        assert_eq!(theirs.iter().map(|e| e.status).collect::<Vec<_>>(), [403]);
        let other_reads = entries(
            &server,
            "other",
            Filter {
                action: Some("audit.list".into()),
                ..Filter::default()
            },
        )
        .await;
        assert_eq!(other_reads.len(), 2);
    });
}

pub(super) fn the_retention_sweep_removes_old_entries_only(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    db.rt.block_on(async {
        let now = now_ms();
        let mut seed = Vec::new();
        for tenant in ["default", "other"] {
            for (n, age_days) in [400, 366, 364, 1].into_iter().enumerate() {
                let mut e = seeded(tenant, n as i64);
                e.at = now - age_days * DAY;
                seed.push(e);
            }
        }
        db.store.insert_audit_entries(&seed).await.unwrap();
        // Kept forever: nothing goes.
        spawn_retention(db.store.clone(), None).await.unwrap();
        let count = || async {
            let mut left = Vec::new();
            for t in ["default", "other"] {
                left.extend(
                    db.store
                        .audit_entries(t, &Filter::default(), 100, 0)
                        .await
                        .unwrap()
                        .0,
                );
            }
            left.into_iter().map(|e| e.id).collect::<BTreeSet<_>>()
        };
        assert_eq!(count().await.len(), 8);

        let sweeper = spawn_retention(db.store.clone(), Some(365 * DAY));
        let started = Instant::now();
        while count().await.len() > 4 {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the sweep did not run"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        sweeper.abort();
        let want: BTreeSet<String> = ["default-02", "default-03", "other-02", "other-03"]
            .map(String::from)
            .into();
        assert_eq!(count().await, want);
        assert_eq!(db.store.sweep_audit_log(now - 365 * DAY).await.unwrap(), 0);
    });
}

pub(super) fn quick_reads_are_written_in_batches_and_none_lost(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let server = Server::start(&db, "default", test_config());
    db.rt.block_on(async {
        let TestClient {
            id: reader,
            token: tok,
            ..
        } = client(&server.state, "default", Scopes::CORE).await;
        let requests = (0..200).map(|i| {
            let rb = req(
                &server,
                Method::GET,
                &format!("{OR}/orgs?limit=1"),
                Some(&tok),
            );
            async move { send(rb, &format!("b-{i:03}")).await.0 }
        });
        let statuses = futures_util::future::join_all(requests).await;
        assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
        let got = entries(&server, "default", Filter::default()).await;
        assert_eq!(got.len(), 200);
        assert!(got.iter().all(|e| e.actor == format!("client:{reader}")
            && e.action == "oneroster.read"
            && e.result_count == Some(0)));
        let rids: BTreeSet<String> = got.into_iter().filter_map(|e| e.request_id).collect();
        assert_eq!(rids, (0..200).map(|i| format!("b-{i:03}")).collect());
        assert_eq!(server.state.audit.aggregated(), 0);
    });
}
