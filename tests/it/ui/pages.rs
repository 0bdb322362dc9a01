//! Pages over HTTP: sign-in on the admin sessions (cookie, lock-out, audit), the language,
//! the headers every page carries, no external URL anywhere.

use rosterhub::users::Role;
use serde_json::{Value, json};

use super::{Answer, Visitor};
use crate::helpers::{Backend, TestDb, fixtures};
use crate::server::{Server, start_with, test_config, zip_dir};
use crate::users::user;

/// What every UI answer must carry.
fn assert_ui_headers(path: &str, a: &Answer) {
    assert_eq!(
        a.header("content-security-policy"),
        rosterhub::http::hardening::CONTENT_SECURITY_POLICY,
        "{path}"
    );
    assert!(
        a.header("content-security-policy")
            .starts_with("default-src 'self';"),
        "{path}"
    );
    assert_eq!(a.header("x-frame-options"), "DENY", "{path}");
    // Browsers then send this server's Origin with a form post (not `null`).
    assert_eq!(a.header("referrer-policy"), "same-origin", "{path}");
    assert!(
        a.header("vary").contains("HX-Request"),
        "{path}: {:?}",
        a.header("vary")
    );
}

/// Every `http://` or `https://` in a body names this server.
pub fn assert_no_external_urls(path: &str, body: &str, base: &str) {
    for scheme in ["http://", "https://"] {
        for (i, _) in body.match_indices(scheme) {
            let rest = &body[i..];
            assert!(
                rest.starts_with(base),
                "{path}: an external URL: {:?}",
                &rest[..rest.len().min(80)]
            );
        }
    }
}

/// Nothing a body links to, loads or posts to (`href`, `src`, `action`) is elsewhere: for the
/// pages that show other servers' URLs as data (a webhook's address).
pub fn assert_nothing_loaded_from_elsewhere(path: &str, body: &str, base: &str) {
    for attr in ["href=\"", "src=\"", "action=\""] {
        for (i, _) in body.match_indices(attr) {
            let value = &body[i + attr.len()..];
            let value = &value[..value.find('"').unwrap_or(value.len())];
            let absolute = value.starts_with("http://") || value.starts_with("https://");
            assert!(
                !absolute || value.starts_with(base),
                "{path}: {attr}{value}\" is elsewhere"
            );
            assert!(!value.starts_with("//"), "{path}: {attr}{value}\"");
        }
    }
}

fn sign_in_in_japanese_then_english_and_out(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let server = start_with(&db, |_| {});
    user(&db, "hanako", false, &[("default", Role::Admin)]);
    db.block_on(async {
        let mut v = Visitor::new(&server);
        // `/` leads to the UI, which asks to sign in first.
        let root = v.get("/").await;
        assert_eq!((root.status, root.header("location")), (303, "/ui"));
        let ui = v.get("/ui").await;
        assert_eq!((ui.status, ui.header("location")), (303, "/ui/login"));
        let form = v.get("/ui/login").await;
        assert_eq!(form.status, 200);
        assert_eq!(form.header("content-type"), "text/html; charset=utf-8");
        assert_eq!(form.header("cache-control"), "no-store");
        assert!(
            form.text.contains("<html lang=\"ja\">"),
            "Japanese by default"
        );
        assert!(
            form.text
                .contains("<label for=\"username\">ユーザー名</label>")
        );

        // A wrong password: the form again, saying so, with the admin API's counting.
        let wrong = v
            .post(
                "/ui/login",
                &[("username", "hanako"), ("password", "nope-nope-nope")],
            )
            .await;
        assert_eq!(wrong.status, 401);
        assert!(
            wrong.text.contains("ユーザー名またはパスワードが違います"),
            "{}",
            wrong.text
        );
        assert!(
            wrong.text.contains("value=\"hanako\""),
            "the username is kept"
        );
        assert!(!v.cookies.contains_key("rosterhub_session"));

        let signed = v.sign_in("hanako", "").await;
        assert_eq!((signed.status, signed.header("location")), (303, "/ui"));
        let set = signed.header("set-cookie");
        assert!(set.starts_with("rosterhub_session="), "{set}");
        let dash = v.get("/ui").await;
        assert_eq!(dash.status, 200, "{}", dash.text);
        assert!(
            dash.text.contains("<h1>ダッシュボード</h1>"),
            "{}",
            dash.text
        );
        assert!(
            dash.text
                .contains("<span class=\"tenant\">テナント: default</span>")
        );
        assert!(dash.text.contains("権限: 管理者"));
        // The session is the admin API's: the same cookie reads the API.
        let api = v.get("/api/v1/session").await;
        assert_eq!(api.status, 200);
        assert!(api.text.contains("\"username\":\"hanako\""), "{}", api.text);

        // `?lang=en` switches and is kept in a cookie; `?lang=ja` switches back.
        let en = v.get("/ui?lang=en").await;
        assert!(en.text.contains("<html lang=\"en\">") && en.text.contains("<h1>Dashboard</h1>"));
        assert!(
            en.header("set-cookie")
                .starts_with("rosterhub_lang=en; Path=/")
        );
        let still = v.get("/ui").await;
        assert!(still.text.contains("Role: Administrator"), "{}", still.text);
        assert!(
            still.text.contains("href=\"/ui?lang=ja\""),
            "the switch offers Japanese"
        );
        let ja = v.get("/ui?lang=ja").await;
        assert!(ja.text.contains("<h1>ダッシュボード</h1>"));

        // Sign-out needs the CSRF token; without it nothing ends.
        let csrf = ja.csrf();
        let forged = v.post("/ui/logout", &[]).await;
        assert_eq!(forged.status, 403);
        assert!(
            forged.text.contains("画面の有効期限が切れたか"),
            "{}",
            forged.text
        );
        assert_eq!(v.get("/ui").await.status, 200, "still signed in");
        let out = v.post("/ui/logout", &[("csrf_token", csrf.as_str())]).await;
        assert_eq!((out.status, out.header("location")), (303, "/ui/login"));
        assert!(
            !v.cookies.contains_key("rosterhub_session"),
            "the cookie is cleared"
        );
        let after = v.get("/ui").await;
        assert_eq!((after.status, after.header("location")), (303, "/ui/login"));
    });
}

fn the_ui_sign_in_counts_towards_the_lock_out(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let server = start_with(&db, |_| {});
    user(&db, "taro", false, &[("default", Role::Uploader)]);
    db.block_on(async {
        let mut v = Visitor::new(&server);
        for _ in 0..5 {
            let r = v
                .post(
                    "/ui/login?lang=en",
                    &[("username", "taro"), ("password", "wrong-password")],
                )
                .await;
            assert_eq!(r.status, 401);
        }
        // Locked: the right password does not open it, in the UI or the API.
        let locked = v.sign_in("taro", "").await;
        assert_eq!(locked.status, 429);
        assert!(locked.header("retry-after").parse::<u64>().unwrap() > 800);
        assert!(
            locked.text.contains("This account is locked"),
            "{}",
            locked.text
        );
        let api = crate::users::login(&server, "taro", crate::users::PASSWORD, None).await;
        assert_eq!((api.status, api.error()), (429, "account_locked"));
    });
}

fn a_system_admin_picks_the_tenant(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    db.tenant("east");
    let server = start_with(&db, |_| {});
    user(&db, "root", true, &[]);
    db.block_on(async {
        let mut v = Visitor::new(&server);
        assert_eq!(v.sign_in("root", "").await.status, 303);
        let dash = v.get("/ui").await;
        assert!(
            dash.text.contains("作業するテナントを選んでください"),
            "{}",
            dash.text
        );
        assert!(!dash.text.contains("class=\"tenant\""));
        let csrf = dash.csrf();
        let bad = v
            .post(
                "/ui/tenant",
                &[("csrf_token", &csrf), ("tenant", "nowhere")],
            )
            .await;
        assert_eq!(bad.status, 404);
        let ok = v
            .post("/ui/tenant", &[("csrf_token", &csrf), ("tenant", "east")])
            .await;
        assert_eq!((ok.status, ok.header("location")), (303, "/ui"));
        let dash = v.get("/ui").await;
        assert!(
            dash.text
                .contains("<span class=\"tenant\">テナント: east</span>")
        );
    });
}

fn every_page_is_self_contained(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let server = start_with(&db, |_| {});
    user(&db, "hanako", false, &[("default", Role::Admin)]);
    db.block_on(async {
        let mut v = Visitor::new(&server);
        let login = v.get("/ui/login").await;
        let mut seen = vec![("/ui/login".to_owned(), login)];
        v.sign_in("hanako", "").await;
        for path in [
            "/ui",
            "/ui?lang=en",
            "/ui/upload",
            "/ui/exports",
            "/ui/history",
            "/ui/history?kind=exports&state=failed",
            "/ui/roster",
            "/ui/clients",
            "/ui/roster?kind=users&q=x&tombstoned=1",
            "/ui/webhooks",
            "/ui/mappings",
            "/ui/mappings?new=sakura&example=docs",
            "/ui/users",
            "/ui/password",
            "/ui/audit",
            "/ui/audit?action=imports.*&from=2026-04-01T09%3A00&lang=en",
        ] {
            seen.push((path.to_owned(), v.get(path).await));
        }
        // The assets each page links to: served here, cached for long.
        let assets: Vec<String> = seen[1]
            .1
            .text
            .match_indices("/ui/assets/")
            .map(|(i, _)| {
                let rest = &seen[1].1.text[i..];
                rest[..rest.find('"').unwrap()].to_owned()
            })
            .collect();
        assert_eq!(assets.len(), 3, "{assets:?}");
        for a in &assets {
            let r = v.get(a).await;
            assert_eq!(r.status, 200, "{a}");
            assert_eq!(
                r.header("cache-control"),
                "public, max-age=31536000, immutable"
            );
            seen.push((a.clone(), r));
        }
        assert!(v.get("/ui/assets/nothing.js").await.status == 404);
        for (path, a) in &seen {
            assert_ui_headers(path, a);
            assert_no_external_urls(path, &a.text, &server.base);
            if a.header("content-type").starts_with("text/html") {
                // No inline script or style: the CSP forbids them.
                assert!(!a.text.contains("<style"), "{path}");
                assert!(!a.text.contains(" style="), "{path}");
                for (i, _) in a.text.match_indices("<script") {
                    assert!(
                        a.text[i..].starts_with("<script src=\"/ui/assets/"),
                        "{path}"
                    );
                }
            }
        }
    });
}

fn ui_sign_ins_and_sign_outs_are_audited(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let server = start_with(&db, |_| {});
    let hanako = user(&db, "hanako", false, &[("default", Role::Admin)]);
    db.block_on(async {
        let mut v = Visitor::new(&server);
        let wrong = v
            .post(
                "/ui/login",
                &[("username", "Hanako"), ("password", "wrong password 1")],
            )
            .await;
        assert_eq!(wrong.status, 401);
        assert_eq!(v.sign_in("hanako", "").await.status, 303);
        let csrf = v.get("/ui").await.csrf();
        assert_eq!(
            v.post("/ui/logout", &[("csrf_token", &csrf)]).await.status,
            303
        );
        server.state.audit.flush().await;
    });
    let rows = crate::users::ops_rows(
        &db,
        "SELECT tenant_id, actor, action, status, target FROM audit_log \
         WHERE action LIKE 'session.%' ORDER BY action",
    );
    let me = format!("user:{}", hanako.id);
    assert_eq!(
        rows,
        vec![
            vec![
                json!("default"),
                json!("login:hanako"),
                json!("session.login"),
                json!(303),
                json!(me)
            ],
            vec![
                json!("default"),
                json!("login:Hanako"),
                json!("session.login_failed"),
                json!(401),
                Value::Null
            ],
            vec![
                json!("default"),
                json!(me),
                json!("session.logout"),
                json!(303),
                Value::Null
            ],
        ]
    );
}

/// Text as askama escapes it in a page.
pub fn escaped(text: &str) -> String {
    text.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

/// The findings grouped by code explain each code in the page's language, with what to do next
/// in the UI (`assets/i18n/findings.{ja,en}.json`).
fn each_finding_code_is_explained_in_the_page_language(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let server = Server::start(&db, "default", test_config());
    user(&db, "hanako", false, &[("default", Role::Viewer)]);
    let bad = zip_dir(&fixtures().join("invalid/many-defects-v1.2"));
    db.block_on(async {
        let (_, body, _) = server.upload("", bad).await;
        let id = body["id"].as_str().unwrap().to_owned();
        assert_eq!(
            server.wait(&format!("/api/v1/imports/{id}")).await["state"],
            "failed"
        );
        let mut v = Visitor::new(&server);
        v.sign_in("hanako", "").await;
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        for (lang, heading) in [("ja", "対処"), ("en", "What to do")] {
            let path = root.join(format!("assets/i18n/findings.{lang}.json"));
            let catalogue: std::collections::HashMap<String, String> =
                serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
            let page = v.get(&format!("/ui/imports/{id}?lang={lang}")).await;
            assert_eq!(page.status, 200);
            assert!(page.text.contains(heading), "{lang}");
            let rows: Vec<&str> = page.text.split("<tr data-code=\"").skip(1).collect();
            assert!(rows.len() >= 5, "{lang}: {} codes", rows.len());
            for row in rows {
                let code = &row[..row.find('"').unwrap()];
                let row = &row[..row.find("</tr>").unwrap()];
                let want = escaped(&catalogue[code]);
                assert!(row.contains(&want), "{lang} {code}: {row}");
            }
        }
    });
}

crate::on_both_backends!(
    each_finding_code_is_explained_in_the_page_language,
    ui_sign_ins_and_sign_outs_are_audited,
    sign_in_in_japanese_then_english_and_out,
    the_ui_sign_in_counts_towards_the_lock_out,
    a_system_admin_picks_the_tenant,
    every_page_is_self_contained,
);
