//! Webhooks from the pages: a subscription created (its secret shown once), a test event sent
//! to a local receiver and seen in the delivery log with its status, attempts and response
//! code; edited, disabled (no test then) and enabled; the log paged; every write audited; a
//! viewer sees no link and is refused the pages and the posts.

use std::time::{Duration, Instant};

use rosterhub::users::Role;
use rosterhub::webhooks::{WebhookConfig, spawn_delivery_worker};
use serde_json::{Value, json};

use super::clients::by_id;
use super::{Answer, Visitor};
use crate::helpers::{Backend, TestDb};
use crate::raw_sql::query;
use crate::server::start_with;
use crate::users::user;
use crate::webhooks::Receiver;

/// Delivers at once and retries quickly.
pub fn quick_deliveries() -> WebhookConfig {
    WebhookConfig {
        max_attempts: 3,
        base_delay_ms: 100,
        max_delay_ms: 1_000,
        timeout_ms: 2_000,
        poll_ms: 20,
        concurrency: 4,
    }
}

/// The cells of the delivery log's row of `delivery`.
fn delivery_row(text: &str, delivery: &str) -> Vec<String> {
    let at = text
        .find(&format!("data-delivery=\"{delivery}\""))
        .unwrap_or_else(|| panic!("no delivery {delivery}: {text}"));
    let row = &text[at..];
    let row = &row[..row.find("</tr>").unwrap()];
    row.split("<td")
        .skip(1)
        .map(|c| {
            let c = &c[c.find('>').unwrap() + 1..];
            let c = &c[..c.find("</td>").unwrap()];
            // The event cell wraps its name in <code>.
            c.replace("<code>", "").replace("</code>", "")
        })
        .collect()
}

fn webhooks_are_managed_from_the_pages(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let server = start_with(&db, |_| {});
    let hanako = user(&db, "hanako", false, &[("default", Role::Admin)]);
    let miru = user(&db, "miru", false, &[("default", Role::Viewer)]);
    db.block_on(async {
        let (url, receiver) = Receiver::start(0).await;
        let mut v = Visitor::new(&server);
        v.sign_in("hanako", "").await;
        let list = v.get("/ui/webhooks").await;
        assert_eq!(list.status, 200);
        assert!(list.text.contains("まだWebhookはありません"));
        let csrf = list.csrf();

        // A wrong URL comes back on the form with the reason and the typed values.
        let bad = v
            .post(
                "/ui/webhooks",
                &[
                    ("csrf_token", &csrf),
                    ("url", "ftp://example.com/x"),
                    ("event", "import.held"),
                    ("description", "SIS"),
                ],
            )
            .await;
        assert_eq!(bad.status, 400);
        assert!(
            bad.text
                .contains("url: must be an absolute http:// or https:// URL with a host, not ftp:"),
            "{}",
            bad.text
        );
        assert!(bad.text.contains("value=\"ftp://example.com/x\""));
        assert!(bad.text.contains("value=\"import.held\" checked"));
        assert!(!bad.text.contains("value=\"*\" checked"));
        assert_eq!(query(&db, "SELECT id FROM webhooks", &[]).await.len(), 0);

        // Created: the generated secret is shown once.
        let made = v
            .post(
                "/ui/webhooks",
                &[
                    ("csrf_token", &csrf),
                    ("url", &url),
                    ("event", "import.completed"),
                    ("event", "import.failed"),
                    ("description", "校務支援システム"),
                ],
            )
            .await;
        assert_eq!(made.status, 200, "{}", made.text);
        let secret = by_id(&made, "webhook-secret");
        assert!(
            secret.starts_with("whsec_") && secret.len() == 49,
            "{secret}"
        );
        let stored = query(
            &db,
            "SELECT id, url, events, secret, active, description FROM webhooks",
            &[],
        )
        .await;
        let id = stored[0][0].as_str().unwrap().to_owned();
        assert_eq!(
            stored[0][1..],
            [
                json!(url),
                json!(r#"["import.completed","import.failed"]"#),
                json!(secret),
                json!(1),
                json!("校務支援システム")
            ]
        );
        let list = v.get("/ui/webhooks").await;
        assert!(list.text.contains(&format!("<tr data-webhook=\"{id}\">")));
        assert!(
            !list.text.contains(&secret),
            "the list never shows the secret"
        );

        // Its page: no delivery yet. A test event goes to the receiver and into the log.
        let page_path = format!("/ui/webhooks/{id}");
        let page = v.get(&page_path).await;
        assert_eq!(page.status, 200);
        assert!(page.text.contains("まだ配信はありません"));
        let sent = v
            .post(&format!("{page_path}/test"), &[("csrf_token", &csrf)])
            .await;
        assert_eq!(
            (sent.status, sent.header("location")),
            (303, format!("{page_path}?done=test").as_str())
        );
        let worker = spawn_delivery_worker(server.state.store.clone(), quick_deliveries());
        let started = Instant::now();
        while receiver.requests().is_empty() {
            assert!(started.elapsed() < Duration::from_secs(20), "no delivery");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let got = &receiver.requests()[0];
        let body: Value = serde_json::from_slice(&got.body).unwrap();
        assert_eq!(body["event"], "webhook.test");
        assert_eq!(body["data"], json!({"webhook_id": id, "test": true}));
        let delivery = body["id"].as_str().unwrap().to_owned();
        // The log shows it once the attempt is recorded.
        let row = loop {
            let page = v.get(&page_path).await;
            let row = delivery_row(&page.text, &delivery);
            if row[2] != "送信待ち" {
                break row;
            }
            assert!(started.elapsed() < Duration::from_secs(20), "not recorded");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(row[1..6], ["webhook.test", "成功", "1", "200", ""]);
        let page = v.get(&format!("{page_path}?lang=en&done=test")).await;
        assert!(page.text.contains("The test event is queued."));
        assert_eq!(delivery_row(&page.text, &delivery)[2], "Delivered");
        worker.abort();

        // Edited: a new URL, all events, no note; the secret kept.
        let saved = v
            .post(
                &page_path,
                &[
                    ("csrf_token", &csrf),
                    ("url", "https://sis.example.jp/rosterhub"),
                    ("event", "*"),
                    ("description", ""),
                ],
            )
            .await;
        assert_eq!(saved.status, 303);
        let stored = query(
            &db,
            "SELECT url, events, secret, description FROM webhooks",
            &[],
        )
        .await;
        assert_eq!(
            stored[0],
            [
                json!("https://sis.example.jp/rosterhub"),
                json!(r#"["*"]"#),
                json!(secret),
                json!("")
            ]
        );

        // Disabled: no test event then, enabled again.
        let off = v
            .post(&format!("{page_path}/disable"), &[("csrf_token", &csrf)])
            .await;
        assert_eq!(
            (off.status, off.header("location")),
            (303, page_path.as_str())
        );
        let page = v.get(&page_path).await;
        assert!(page.text.contains("id=\"webhook-enable\""));
        assert!(!page.text.contains("id=\"webhook-test\""));
        let refused = v
            .post(&format!("{page_path}/test"), &[("csrf_token", &csrf)])
            .await;
        assert_eq!(refused.status, 400);
        assert!(refused.text.contains("the subscription is disabled"));
        let on = v
            .post(&format!("{page_path}/enable"), &[("csrf_token", &csrf)])
            .await;
        assert_eq!(on.status, 303);
        assert_eq!(
            query(&db, "SELECT active FROM webhooks", &[]).await[0][0],
            json!(1)
        );

        // Paged: 26 more test events (none sent: no worker) make 27, 25 on the first page.
        for _ in 0..26 {
            rosterhub::webhooks::store::send_test(&server.state.store, "default", &id)
                .await
                .unwrap();
        }
        let first = v.get(&page_path).await;
        assert_eq!(first.text.matches("<tr data-delivery=").count(), 25);
        assert!(!first.text.contains("rel=\"first\""));
        // The next page starts after the last row shown: older than it, none repeated.
        let next = first
            .text
            .split("rel=\"next\"")
            .next()
            .and_then(|t| t.rsplit("href=\"").next())
            .and_then(|h| h.split('"').next())
            .expect("a next link")
            .replace("&amp;", "&");
        assert!(next.starts_with(&format!("{page_path}?after=")), "{next}");
        let second = v.get(&next).await;
        assert_eq!(second.text.matches("<tr data-delivery=").count(), 2);
        assert!(
            second
                .text
                .contains(&format!("data-delivery=\"{delivery}\""))
        );
        assert!(
            second
                .text
                .contains(&format!("href=\"{page_path}\" rel=\"first\""))
        );
        assert!(!second.text.contains("rel=\"next\""));
        let ids = |a: &Answer| -> Vec<String> {
            a.text
                .split("<tr data-delivery=\"")
                .skip(1)
                .map(|t| t.split('"').next().unwrap().to_owned())
                .collect()
        };
        let mut all = ids(&first);
        all.extend(ids(&second));
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 27, "every delivery once");

        // A viewer: no link; the pages and every post refused; nothing changed.
        let mut viewer = Visitor::new(&server);
        viewer.sign_in("miru", "").await;
        let home = viewer.get("/ui").await;
        assert!(!home.text.contains("href=\"/ui/webhooks\""));
        assert!(v.get("/ui").await.text.contains("href=\"/ui/webhooks\""));
        assert_eq!(viewer.get("/ui/webhooks").await.status, 403);
        assert_eq!(viewer.get(&page_path).await.status, 403);
        let token = home.csrf();
        for path in [
            "/ui/webhooks".to_owned(),
            page_path.clone(),
            format!("{page_path}/disable"),
            format!("{page_path}/test"),
        ] {
            let forged = viewer
                .post(
                    &path,
                    &[("csrf_token", &token), ("url", "https://evil.example/")],
                )
                .await;
            assert_eq!(forged.status, 403, "{path}");
        }
        assert_eq!(
            query(&db, "SELECT url, active FROM webhooks", &[]).await[0],
            [json!("https://sis.example.jp/rosterhub"), json!(1)]
        );

        // Every post was audited as the admin API's writes are.
        server.state.audit.flush().await;
        let me = format!("user:{}", hanako.id);
        let rows = query(
            &db,
            "SELECT actor, action, status, target FROM audit_log \
             WHERE action LIKE 'webhooks.%' ORDER BY at, id",
            &[],
        )
        .await;
        let entry = |actor: &str, action: &str, status: u16, target: Option<&str>| {
            vec![json!(actor), json!(action), json!(status), json!(target)]
        };
        let miru = format!("user:{}", miru.id);
        assert_eq!(
            rows,
            [
                entry(&me, "webhooks.create", 400, None),
                entry(&me, "webhooks.create", 200, Some(&id)),
                entry(&me, "webhooks.test", 303, Some(&id)),
                entry(&me, "webhooks.update", 303, Some(&id)),
                entry(&me, "webhooks.disable", 303, Some(&id)),
                entry(&me, "webhooks.test", 400, Some(&id)),
                entry(&me, "webhooks.enable", 303, Some(&id)),
                entry(&miru, "webhooks.create", 403, None),
                entry(&miru, "webhooks.update", 403, Some(&id)),
                entry(&miru, "webhooks.disable", 403, Some(&id)),
                entry(&miru, "webhooks.test", 403, Some(&id)),
            ]
        );
    });
}

crate::on_both_backends!(webhooks_are_managed_from_the_pages);
