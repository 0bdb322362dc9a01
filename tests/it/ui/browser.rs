//! The UI in real headless Chromium, driven through chromedriver (WebDriver): sign in, upload
//! the Japan Profile fixture and watch it succeed, find a finding of the many-defect bundle by
//! filtering, approve a held import and see the dashboard change, switch to English and back,
//! and a viewer with no upload or approve control whose forged post is refused; then the
//! administration pages: a webhook's test event delivered to a local receiver and shown in its
//! log, users, one's own password, the audit log filtered to a client made on its page,
//! tenants, and a viewer refused client, user and webhook management; field mappings
//! (`browser_mappings`): a sample list previewed and the profile saved. Each page is saved as a
//! screenshot under `target/ui-screenshots/` (the harness is `chromium`).
//!
//! Without Chromium and chromedriver the tests say what they skipped and pass, unless
//! `ROSTERHUB_REQUIRE_BROWSER=1` (CI installs them).

use fantoccini::Locator;
use rosterhub::users::Role;
use serde_json::json;

use super::chromium::Browser;
use super::pages::{assert_no_external_urls, assert_nothing_loaded_from_elsewhere};
use super::roster::{CLASS_1_1, HANAKO};
use crate::clients::token_request;
use crate::helpers::{Backend, TempBundle, TestDb, fixtures};
use crate::server::{Server, test_config};
use crate::users::user;

/// On SQLite only: the pages' storage is tested on both backends over HTTP (`pages`,
/// `gating`); one browser at a time is what a CI machine affords.
#[test]
fn the_ui_works_in_chromium() {
    let Some(db) = TestDb::new(Backend::Sqlite) else {
        return;
    };
    let server = Server::start(&db, "default", test_config());
    user(&db, "hanako", false, &[("default", Role::Admin)]);
    user(&db, "miru", false, &[("default", Role::Viewer)]);
    db.block_on(async {
        let Some(mut b) = Browser::start(&server.base).await else {
            return;
        };
        // Sign in (the UI asks for it first).
        b.goto("/").await;
        b.wait_text("main h1", "サインイン").await;
        b.shot("01-login").await;
        b.sign_in("hanako").await;
        b.shot("02-dashboard-empty").await;

        // The Japan Profile fixture: uploaded, followed live, succeeded with its counts.
        b.goto("/ui/upload").await;
        b.shot("03-upload").await;
        let ok = b
            .upload(&fixtures().join("jp-profile-v1.2.1"), "成功")
            .await;
        assert_eq!(b.row("users").await, ["36", "0", "0", "0"]);
        assert_eq!(b.row("enrollments").await[0], "36");
        b.shot("04-upload-succeeded").await;

        // The roster: a student found by her kana, her page, her class in 出席番号 order.
        b.click("a[href=\"/ui/roster\"]").await;
        b.wait_text("main h1", "名簿").await;
        b.shot("04a-roster-schools").await;
        b.goto("/ui/roster?kind=users").await;
        b.fill("#q", "タカハシ").await;
        b.click("#roster-search button").await;
        b.wait_text("main h1", "名簿").await;
        b.shot("04b-roster-search-kana").await;
        b.click(&format!("tr[data-id=\"{HANAKO}\"] a")).await;
        b.wait_text("main h1", "高橋 花子").await;
        b.shot("04c-roster-user").await;
        b.click(&format!(
            "[data-section=\"roster.classes\"] a[href$=\"{CLASS_1_1}\"]"
        ))
        .await;
        b.wait_text("main h1", "1年1組").await;
        assert_eq!(
            b.text("[data-section=\"roster.students\"] li:last-child a")
                .await,
            "高橋 花子"
        );
        b.shot("04d-roster-class").await;

        // The many-defect bundle: rejected; one finding found by filtering.
        let bad = b
            .upload(&fixtures().join("invalid/many-defects-v1.2"), "失敗")
            .await;
        b.goto(&format!("/ui/imports/{bad}")).await;
        b.shot("05-import-failed").await;
        b.client
            .find(Locator::Css("#f-file"))
            .await
            .unwrap()
            .select_by_value("classes.csv")
            .await
            .unwrap();
        b.fill("#f-code", "invalid_vocabulary").await;
        b.click("#finding-filter button").await;
        b.wait_text("#finding-table tbody td:nth-child(6)", "Scheduled")
            .await;
        assert_eq!(
            b.client
                .find_all(Locator::Css("#finding-table tbody tr"))
                .await
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            b.text("#finding-table tbody td:nth-child(5)").await,
            "classType"
        );
        b.shot("06-findings-filtered").await;

        // English and back.
        b.click("a.lang").await;
        b.wait_text("main h1", "Import").await;
        let lang = b
            .client
            .find(Locator::Css("html"))
            .await
            .unwrap()
            .attr("lang")
            .await
            .unwrap();
        assert_eq!(lang.as_deref(), Some("en"));
        b.shot("07-import-english").await;
        b.goto("/ui").await;
        b.wait_text("main h1", "Dashboard").await;
        b.click("a.lang").await;
        b.wait_text("main h1", "ダッシュボード").await;

        // A bundle withdrawing most students: held, approved after the confirmation, applied.
        let held = b.upload(TempBundle::shrinking().path(), "承認待ち").await;
        b.goto(&format!("/ui/imports/{held}")).await;
        // Who would be withdrawn, by name: 20 of the 31 listed, the rest counted.
        let gone = b.text("#tombstoned-users").await;
        assert!(gone.contains("中村 さくら（ナカムラ サクラ）"), "{gone}");
        assert_eq!(
            b.client
                .find_all(Locator::Css("#tombstoned-users li"))
                .await
                .unwrap()
                .len(),
            20
        );
        assert!(
            b.text("#changes-users").await.contains("11"),
            "the 11 not listed are counted"
        );
        b.shot("08-held").await;
        b.client
            .execute(
                "document.getElementById('changes').scrollIntoView();",
                vec![],
            )
            .await
            .unwrap();
        b.shot("08-held-what-would-change").await;
        b.click("#approve").await;
        b.wait_text("main h1", "この取り込みを承認しますか").await;
        assert_eq!(b.row("users").await, ["0", "0", "5", "31"]);
        b.shot("09-confirm").await;
        b.click("#confirm").await;
        b.wait_text("#job-state", "成功").await;
        b.goto("/ui").await;
        assert_eq!(b.row("users").await, ["5", "31"]);
        b.shot("10-dashboard").await;
        b.goto("/ui/history").await;
        b.shot("11-history").await;

        // A bulk export: started, watched (the list refreshes itself), ready to download.
        b.goto("/ui/exports").await;
        b.click("#export-submit").await;
        b.wait_text("#export-list tbody tr:first-child .state", "成功")
            .await;
        assert!(
            b.exists("#export-list tbody tr:first-child a[download]")
                .await
        );
        b.shot("11-exports").await;
        // At phone width nothing needs sideways scrolling but the wide tables.
        b.client.set_window_size(390, 844).await.unwrap();
        b.goto("/ui").await;
        let overflow = b
            .client
            .execute(
                "return document.documentElement.scrollWidth > window.innerWidth;",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(overflow, json!(false), "the dashboard fits a phone");
        b.shot("11-phone-dashboard").await;
        b.client.set_window_size(1280, 900).await.unwrap();

        // An API client made on its page: the secret shown once works at /oauth/token until
        // the client is revoked on the same page.
        b.click("a[href=\"/ui/clients\"]").await;
        b.wait_text("main h1", "APIクライアント").await;
        b.fill("#name", "学習アプリ").await;
        b.fill("#rate_limit_per_min", "120").await;
        b.shot("14-clients").await;
        b.click("#client-submit").await;
        b.wait_text("main h1", "クライアントのシークレット").await;
        let id = b.text("#client-id").await;
        let secret = b.text("#client-secret").await;
        b.shot("15-client-secret").await;
        assert_eq!(token_request(&server.base, &id, &secret).await.0, 200);
        b.click("a[href=\"/ui/clients\"]").await;
        b.wait_text("main h1", "APIクライアント").await;
        b.click(&format!("tr[data-client=\"{id}\"] button.revoke"))
            .await;
        b.wait_text(
            &format!("tr[data-client=\"{id}\"] .client-state .tag"),
            "失効",
        )
        .await;
        b.shot("16-client-revoked").await;
        assert_eq!(token_request(&server.base, &id, &secret).await.0, 401);

        super::browser_mappings::field_mappings(&mut b).await;

        // A viewer: no upload or approve control, and a forged post is refused.
        b.click("form[action=\"/ui/logout\"] button").await;
        b.wait_text("main h1", "サインイン").await;
        b.sign_in("miru").await;
        assert!(!b.exists("a[href=\"/ui/upload\"]").await);
        b.shot("12-viewer-dashboard").await;
        b.goto(&format!("/ui/imports/{bad}")).await;
        assert!(!b.exists("#approve").await && !b.exists("#discard").await);
        let status = b
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 const csrf = document.querySelector('meta[name=csrf-token]').content;
                 fetch(arguments[0], {method: 'POST',
                   headers: {'Content-Type': 'application/x-www-form-urlencoded'},
                   body: 'confirm=yes&csrf_token=' + encodeURIComponent(csrf)})
                   .then(r => done(r.status));",
                vec![json!(format!("/ui/imports/{held}/approve"))],
            )
            .await
            .unwrap();
        assert_eq!(status, json!(403));
        b.goto("/ui/upload").await;
        b.wait_text("main h1", "操作できませんでした").await;
        b.shot("13-viewer-upload-refused").await;
        // Nor does a viewer reach client management: no link, the page refused.
        assert!(!b.exists("a[href=\"/ui/clients\"]").await);
        b.goto("/ui/clients").await;
        b.wait_text("main h1", "操作できませんでした").await;
        b.shot("17-viewer-clients-refused").await;

        // No page loads anything from elsewhere.
        for (name, src) in &b.sources {
            assert_no_external_urls(name, src, &server.base);
        }
        let _ = ok;
    });
}

/// The administration pages in Chromium (on SQLite, as above): a webhook created against a
/// local receiver, its test event delivered and shown in its log; users and one's own
/// password; an API client made on its page and the audit log filtered to it; tenants for a
/// system admin; and a viewer who sees no link to client, user or webhook management and is
/// refused each page. Every page is saved as a screenshot.
#[test]
fn the_admin_pages_work_in_chromium() {
    let Some(db) = TestDb::new(Backend::Sqlite) else {
        return;
    };
    let server = crate::server::start_with(&db, |_| {});
    user(&db, "hanako", false, &[("default", Role::Admin)]);
    user(&db, "miru", false, &[("default", Role::Viewer)]);
    user(&db, "root", true, &[]);
    db.block_on(async {
        let Some(mut b) = Browser::start(&server.base).await else {
            return;
        };
        let (url, receiver) = crate::webhooks::Receiver::start(0).await;
        let worker = rosterhub::webhooks::spawn_delivery_worker(
            server.state.store.clone(),
            super::webhooks::quick_deliveries(),
        );
        b.sign_in("hanako").await;

        // A webhook against the local receiver: its secret once, then its page.
        b.click("a[href=\"/ui/webhooks\"]").await;
        b.wait_text("main h1", "Webhook").await;
        b.fill("#url", &url).await;
        b.fill("#description", "校務支援システム").await;
        b.shot("18-webhooks").await;
        b.click("#webhook-submit").await;
        b.wait_text("main h1", "Webhookの署名シークレット").await;
        assert!(b.text("#webhook-secret").await.starts_with("whsec_"));
        b.shot("19-webhook-secret").await;
        b.click("#webhook-page").await;
        b.wait_text("main h1", "Webhookの設定と配信記録").await;
        let page = b.client.current_url().await.unwrap().path().to_owned();

        // The test event reaches the receiver and its delivery shows in the log.
        b.click("#webhook-test").await;
        b.wait_text(
            "#notice",
            "テスト通知を送信待ちにしました。数秒後にこのページを再読み込みすると結果が見えます。",
        )
        .await;
        b.wait_reloaded(&page, "#deliveries tbody tr:first-child .state", "成功")
            .await;
        assert_eq!(
            b.text("#deliveries tbody tr:first-child .response").await,
            "200"
        );
        assert_eq!(
            b.text("#deliveries tbody tr:first-child .attempts").await,
            "1"
        );
        let got = receiver.requests();
        assert_eq!(got.len(), 1);
        let body: serde_json::Value = serde_json::from_slice(&got[0].body).unwrap();
        assert_eq!(body["event"], "webhook.test");
        b.shot("20-webhook-delivered").await;
        b.click("#webhook-disable").await;
        b.wait_text("#webhook-state .tag", "停止中").await;
        b.shot("21-webhook-disabled").await;
        b.click("#webhook-enable").await;
        b.wait_text("#webhook-state", "有効").await;
        worker.abort();

        // Users: one created with a generated password, shown once.
        b.click("a[href=\"/ui/users\"]").await;
        b.wait_text("main h1", "管理ユーザー").await;
        b.fill("#username", "taro").await;
        b.fill("#display_name", "山田 太郎").await;
        b.shot("22-users").await;
        b.click("#user-submit").await;
        b.wait_text("main h1", "新しいパスワード").await;
        assert_eq!(b.text("#user-password").await.len(), 23);
        b.shot("23-user-password").await;
        b.goto("/ui/users").await;
        assert!(b.exists("tr[data-user=\"taro\"] button.disable").await);
        b.goto("/ui/password").await;
        b.wait_text("main h1", "パスワード変更").await;
        b.shot("24-password").await;

        // An API client made on its page; the audit log filtered to it shows its creation.
        b.goto("/ui/clients").await;
        b.fill("#name", "学習アプリ").await;
        b.click("#client-submit").await;
        b.wait_text("main h1", "クライアントのシークレット").await;
        let id = b.text("#client-id").await;
        let secret = b.text("#client-secret").await;
        assert_eq!(token_request(&server.base, &id, &secret).await.0, 200);
        server.state.audit.flush().await;
        b.click("a[href=\"/ui/audit\"]").await;
        b.wait_text("main h1", "監査ログ").await;
        b.shot("25-audit").await;
        b.fill("#f-target", &id).await;
        b.click("#audit-filter button[type=submit]").await;
        b.wait_text("#audit tbody tr:first-child .action", "clients.create")
            .await;
        assert_eq!(
            b.client
                .find_all(Locator::Css("#audit tbody tr"))
                .await
                .unwrap()
                .len(),
            1
        );
        assert!(
            b.text("#audit tbody tr:first-child .actor")
                .await
                .ends_with("(hanako)")
        );
        b.shot("26-audit-filtered-to-client").await;
        // By the client as the actor: its token request.
        b.goto(&format!("/ui/audit?actor=client%3A{id}&lang=en"))
            .await;
        b.wait_text("#audit tbody tr:first-child .action", "token.issue")
            .await;
        b.shot("27-audit-english").await;
        b.goto("/ui?lang=ja").await;

        // A viewer: no link to client, user or webhook management, and each page refused.
        b.click("form[action=\"/ui/logout\"] button").await;
        b.wait_text("main h1", "サインイン").await;
        b.sign_in("miru").await;
        for path in ["/ui/clients", "/ui/users", "/ui/webhooks", "/ui/audit"] {
            assert!(!b.exists(&format!("a[href=\"{path}\"]")).await, "{path}");
        }
        assert!(b.exists("a[href=\"/ui/password\"]").await);
        b.shot("28-viewer-dashboard").await;
        for (path, shot) in [
            ("/ui/webhooks", "29-viewer-webhooks-refused"),
            ("/ui/users", "30-viewer-users-refused"),
            ("/ui/audit", "31-viewer-audit-refused"),
        ] {
            b.goto(path).await;
            b.wait_text("main h1", "操作できませんでした").await;
            b.shot(shot).await;
        }

        // A system admin: the tenants page (the refusal page has no sign-out: from the
        // dashboard).
        b.goto("/ui").await;
        b.click("form[action=\"/ui/logout\"] button").await;
        b.wait_text("main h1", "サインイン").await;
        b.fill("#username", "root").await;
        b.fill("#password", crate::users::PASSWORD).await;
        b.fill("#tenant", "default").await;
        b.click("button[type=submit].primary").await;
        b.wait_text("main h1", "ダッシュボード").await;
        b.click("a[href=\"/ui/tenants\"]").await;
        b.wait_text("main h1", "テナント").await;
        b.fill("#id", "city-01").await;
        b.fill("#name", "○○市教育委員会").await;
        b.click("#tenant-submit").await;
        b.wait_text(
            "tr[data-tenant=\"city-01\"] td:nth-child(2)",
            "○○市教育委員会",
        )
        .await;
        b.shot("32-tenants").await;

        // Only the webhook pages show another server's URL (as text and form values).
        for (name, src) in &b.sources {
            if ["18-", "19-", "20-", "21-"]
                .iter()
                .any(|p| name.starts_with(p))
            {
                assert_nothing_loaded_from_elsewhere(name, src, &server.base);
            } else {
                assert_no_external_urls(name, src, &server.base);
            }
        }
    });
}
