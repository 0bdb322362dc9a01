//! Admin users, one's own password and tenants from the pages: users created (a typed
//! password, or one generated and shown once), their role changed, disabled and enabled,
//! their password reset — under the admin API's rules (nobody disables themselves); every user
//! changes their own password; system admins list and create tenants; every write audited;
//! a viewer and a tenant admin see no link to what is not theirs and are refused it.

use rosterhub::users::Role;
use serde_json::json;

use super::clients::by_id;
use super::pages::escaped;
use super::{Answer, Visitor};
use crate::helpers::{Backend, TestDb};
use crate::raw_sql::query;
use crate::server::start_with;
use crate::users::{PASSWORD, user};

/// Signs in with `password`; whether the server took it (a redirect to the dashboard).
async fn signs_in(server: &crate::server::Server, username: &str, password: &str) -> bool {
    let mut v = Visitor::new(server);
    let a = v
        .post(
            "/ui/login",
            &[("username", username), ("password", password)],
        )
        .await;
    a.status == 303 && a.header("location") == "/ui"
}

/// A form's fields as the visitor posts them.
fn pairs<'a>(fields: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    fields.iter().map(|(n, v)| (*n, v.as_str())).collect()
}

/// The state cell of the users list's row of `username`.
fn state_of(a: &Answer, username: &str) -> String {
    let at = a
        .text
        .find(&format!("<tr data-user=\"{username}\">"))
        .unwrap_or_else(|| panic!("no row {username}: {}", a.text));
    let row = &a.text[at..];
    let cell = &row[row.find("class=\"user-state\">").unwrap() + 19..];
    cell[..cell.find("</td>").unwrap()].to_owned()
}

fn users_are_managed_from_the_pages(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let server = start_with(&db, |_| {});
    let hanako = user(&db, "hanako", false, &[("default", Role::Admin)]);
    db.block_on(async {
        let mut v = Visitor::new(&server);
        v.sign_in("hanako", "").await;
        let list = v.get("/ui/users").await;
        assert_eq!(list.status, 200);
        assert_eq!(list.text.matches("<tr data-user=").count(), 1);
        // No control to disable or demote oneself.
        assert!(
            !list
                .text
                .contains(&format!("/ui/users/{}/disable", hanako.id))
        );
        let csrf = list.csrf();

        // A short password comes back with the rule; nothing is created.
        let bad = v
            .post(
                "/ui/users",
                &[
                    ("csrf_token", &csrf),
                    ("username", "taro"),
                    ("role", "uploader"),
                    ("password", "short"),
                ],
            )
            .await;
        assert_eq!(bad.status, 400);
        assert!(
            bad.text
                .contains("password: a password has at least 12 characters")
        );
        assert!(bad.text.contains("value=\"taro\""));

        // Created with a typed password: it signs in.
        let made = v
            .post(
                "/ui/users",
                &[
                    ("csrf_token", &csrf),
                    ("username", "taro"),
                    ("display_name", "山田 太郎"),
                    ("role", "uploader"),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!((made.status, made.header("location")), (303, "/ui/users"));
        assert!(signs_in(&server, "taro", PASSWORD).await);
        let taro = rosterhub::users::store::by_username(&server.state.store, "taro")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(taro.display_name.as_deref(), Some("山田 太郎"));
        assert_eq!(taro.roles, [("default".to_owned(), Role::Uploader)]);
        // The name is taken whatever its case.
        let taken = v
            .post(
                "/ui/users",
                &[
                    ("csrf_token", &csrf),
                    ("username", "TARO"),
                    ("role", "viewer"),
                ],
            )
            .await;
        assert_eq!(taken.status, 409);
        assert!(
            taken
                .text
                .contains(&escaped("the username \"TARO\" is taken"))
        );

        // Created without a password: one is generated, shown once, and works.
        let made = v
            .post(
                "/ui/users",
                &[
                    ("csrf_token", &csrf),
                    ("username", "jiro"),
                    ("role", "viewer"),
                ],
            )
            .await;
        assert_eq!(made.status, 200);
        assert_eq!(by_id(&made, "user-name"), "jiro");
        let generated = by_id(&made, "user-password");
        assert_eq!(generated.len(), 23, "{generated}");
        assert!(
            made.text
                .contains("このパスワードが表示されるのは今回だけです")
        );
        assert!(signs_in(&server, "jiro", &generated).await);
        assert!(!v.get("/ui/users").await.text.contains(&generated));

        // taro's role changed to viewer; then disabled (his session ends) and enabled.
        let mut t = Visitor::new(&server);
        t.sign_in("taro", "").await;
        assert_eq!(t.get("/ui").await.status, 200);
        let role = v
            .post(
                &format!("/ui/users/{}/role", taro.id),
                &[("csrf_token", &csrf), ("role", "viewer")],
            )
            .await;
        assert_eq!(role.status, 303);
        let list = v.get("/ui/users").await;
        assert!(
            list.text
                .contains("<option value=\"viewer\" selected>閲覧のみ</option>")
        );
        let off = v
            .post(
                &format!("/ui/users/{}/disable", taro.id),
                &[("csrf_token", &csrf)],
            )
            .await;
        assert_eq!(off.status, 303);
        assert_eq!(
            state_of(&v.get("/ui/users").await, "taro"),
            "<span class=\"tag deleted\">無効</span>"
        );
        let gone = t.get("/ui").await;
        assert_eq!((gone.status, gone.header("location")), (303, "/ui/login"));
        assert!(!signs_in(&server, "taro", PASSWORD).await);
        let on = v
            .post(
                &format!("/ui/users/{}/enable", taro.id),
                &[("csrf_token", &csrf)],
            )
            .await;
        assert_eq!(on.status, 303);
        assert_eq!(state_of(&v.get("/ui/users").await, "taro"), "有効");

        // taro's password reset: generated, shown once; the old one no longer works.
        let reset = v
            .post(
                &format!("/ui/users/{}/reset", taro.id),
                &[("csrf_token", &csrf), ("password", "")],
            )
            .await;
        assert_eq!(reset.status, 200);
        let fresh = by_id(&reset, "user-password");
        assert!(reset.text.contains("パスワードを再設定しました"));
        assert!(!signs_in(&server, "taro", PASSWORD).await);
        assert!(signs_in(&server, "taro", &fresh).await);

        // taro's notices: an address and English, then a refused address that changes nothing.
        let contact = |email, language| {
            [
                ("csrf_token", csrf.clone()),
                ("email", email),
                ("language", language),
            ]
        };
        let path = format!("/ui/users/{}/contact", taro.id);
        let set_en = contact("Taro@School.example.jp".into(), "en".into());
        assert_eq!(v.post(&path, &pairs(&set_en)).await.status, 303);
        let stored = || async {
            let u = db.store.admin_user(&taro.id).await.unwrap().unwrap();
            (u.email, u.language)
        };
        let set = (Some("Taro@School.example.jp".into()), Some("en".into()));
        assert_eq!(stored().await, set);
        let list = v.get("/ui/users").await;
        assert!(list.text.contains("value=\"Taro@School.example.jp\""));
        assert!(
            list.text
                .contains("<option value=\"en\" selected>English</option>")
        );
        let bad = v
            .post(&path, &pairs(&contact("no-at-sign".into(), String::new())))
            .await;
        assert_eq!(bad.status, 400);
        assert!(bad.text.contains("id=\"problem\""), "{}", bad.text);
        assert_eq!(stored().await, set);

        // The API's rules hold: a forged post cannot disable oneself.
        let me = v
            .post(
                &format!("/ui/users/{}/disable", hanako.id),
                &[("csrf_token", &csrf)],
            )
            .await;
        assert_eq!(me.status, 409);
        assert!(
            me.text
                .contains("you cannot disable yourself; ask another admin")
        );

        // A viewer: no link, the page and the posts refused.
        let mut jiro = Visitor::new(&server);
        assert_eq!(
            jiro.post(
                "/ui/login",
                &[("username", "jiro"), ("password", &generated)]
            )
            .await
            .status,
            303
        );
        let home = jiro.get("/ui").await;
        assert!(!home.text.contains("href=\"/ui/users\""));
        assert!(home.text.contains("href=\"/ui/password\""));
        assert_eq!(jiro.get("/ui/users").await.status, 403);
        let token = home.csrf();
        for path in [
            "/ui/users".to_owned(),
            format!("/ui/users/{}/role", taro.id),
            format!("/ui/users/{}/reset", taro.id),
        ] {
            let forged = jiro
                .post(
                    &path,
                    &[("csrf_token", &token), ("username", "x"), ("role", "admin")],
                )
                .await;
            assert_eq!(forged.status, 403, "{path}");
        }
        let roles = query(
            &db,
            "SELECT role FROM admin_roles WHERE user_id = $1",
            &[taro.id.as_str()],
        )
        .await;
        assert_eq!(roles, [[json!("viewer")]]);

        server.state.audit.flush().await;
        let me = format!("user:{}", hanako.id);
        let rows = query(
            &db,
            "SELECT action, status, target FROM audit_log \
             WHERE actor = $1 AND action LIKE 'users.%' ORDER BY at, id",
            &[me.as_str()],
        )
        .await;
        let target = format!("user:{}", taro.id);
        let jiro_id = rosterhub::users::store::by_username(&server.state.store, "jiro")
            .await
            .unwrap()
            .unwrap()
            .id;
        let e = |action: &str, status: u16, target: Option<String>| {
            vec![json!(action), json!(status), json!(target)]
        };
        assert_eq!(
            rows,
            [
                e("users.create", 400, None),
                e("users.create", 303, Some(target.clone())),
                e("users.create", 409, None),
                e("users.create", 200, Some(format!("user:{jiro_id}"))),
                e("users.role", 303, Some(target.clone())),
                e("users.disable", 303, Some(target.clone())),
                e("users.enable", 303, Some(target.clone())),
                e("users.reset", 200, Some(target.clone())),
                e("users.contact", 303, Some(target.clone())),
                e("users.contact", 400, Some(taro.id.clone())),
                e("users.disable", 409, Some(hanako.id.clone())),
            ]
        );
    });
}

fn everyone_changes_their_own_password(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let server = start_with(&db, |_| {});
    let miru = user(&db, "miru", false, &[("default", Role::Viewer)]);
    let new = "a new and longer passphrase";
    db.block_on(async {
        let mut v = Visitor::new(&server);
        v.sign_in("miru", "").await;
        let form = v.get("/ui/password").await;
        assert_eq!(form.status, 200);
        let csrf = form.csrf();
        let post = |current: &'static str, new: &'static str, confirm: &'static str| {
            [
                ("csrf_token", csrf.clone()),
                ("current", current.to_owned()),
                ("new", new.to_owned()),
                ("confirm", confirm.to_owned()),
            ]
        };
        for (fields, status, says) in [
            (
                post(
                    PASSWORD,
                    "a new and longer passphrase",
                    "another one entirely",
                ),
                400,
                "新しいパスワードが確認欄と一致しません",
            ),
            (
                post(PASSWORD, "too short", "too short"),
                400,
                "a password has at least 12 characters",
            ),
            (
                post(
                    "not my password",
                    "a new and longer passphrase",
                    "a new and longer passphrase",
                ),
                403,
                "今のパスワードが違います",
            ),
        ] {
            let f: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let a = v.post("/ui/password", &f).await;
            assert_eq!(a.status, status, "{says}");
            assert!(a.text.contains(says), "{says}: {}", a.text);
        }
        assert!(
            signs_in(&server, "miru", PASSWORD).await,
            "unchanged so far"
        );
        let fields = post(
            PASSWORD,
            "a new and longer passphrase",
            "a new and longer passphrase",
        );
        let f: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let done = v.post("/ui/password", &f).await;
        assert_eq!(done.status, 200);
        assert!(
            done.text
                .contains("新しいパスワードでもう一度サインインしてください")
        );
        // Every session ended, this one too.
        let after = v.get("/ui").await;
        assert_eq!((after.status, after.header("location")), (303, "/ui/login"));
        assert!(!signs_in(&server, "miru", PASSWORD).await);
        assert!(signs_in(&server, "miru", new).await);
        server.state.audit.flush().await;
        let rows = query(
            &db,
            "SELECT action, status, target FROM audit_log WHERE action = 'users.password' \
             ORDER BY at, id",
            &[],
        )
        .await;
        let target = json!(format!("user:{}", miru.id));
        let e = |status: u16| vec![json!("users.password"), json!(status), target.clone()];
        assert_eq!(rows, [e(400), e(400), e(403), e(200)]);
    });
}

fn system_admins_manage_tenants(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let server = start_with(&db, |_| {});
    user(&db, "root", true, &[]);
    user(&db, "hanako", false, &[("default", Role::Admin)]);
    db.block_on(async {
        let mut root = Visitor::new(&server);
        assert_eq!(root.sign_in("root", "default").await.status, 303);
        let home = root.get("/ui").await;
        assert!(home.text.contains("href=\"/ui/tenants\""));
        let list = root.get("/ui/tenants").await;
        assert_eq!(list.status, 200);
        assert!(list.text.contains("<tr data-tenant=\"default\">"));
        let csrf = list.csrf();
        let bad = root
            .post(
                "/ui/tenants",
                &[("csrf_token", &csrf), ("id", "City 01"), ("name", "")],
            )
            .await;
        assert_eq!(bad.status, 400);
        assert!(bad.text.contains("id: a tenant id has 1 to 64 characters"));
        let made = root
            .post(
                "/ui/tenants",
                &[
                    ("csrf_token", &csrf),
                    ("id", "city-01"),
                    ("name", "○○市教育委員会"),
                ],
            )
            .await;
        assert_eq!((made.status, made.header("location")), (303, "/ui/tenants"));
        let tenants = server.state.store.tenants().await.unwrap();
        assert!(tenants.contains(&("city-01".to_owned(), "○○市教育委員会".to_owned())));
        let again = root
            .post("/ui/tenants", &[("csrf_token", &csrf), ("id", "city-01")])
            .await;
        assert_eq!(again.status, 409);
        assert!(
            again
                .text
                .contains(&escaped("tenant \"city-01\" exists already"))
        );

        // A tenant admin: no link, the page and the post refused.
        let mut v = Visitor::new(&server);
        v.sign_in("hanako", "").await;
        let home = v.get("/ui").await;
        assert!(!home.text.contains("href=\"/ui/tenants\""));
        assert_eq!(v.get("/ui/tenants").await.status, 403);
        let forged = v
            .post(
                "/ui/tenants",
                &[("csrf_token", &home.csrf()), ("id", "city-02")],
            )
            .await;
        assert_eq!(forged.status, 403);
        assert!(!server.state.store.tenant_exists("city-02").await.unwrap());

        // Recorded in the new tenant's log, as the admin API records it.
        server.state.audit.flush().await;
        let rows = query(
            &db,
            "SELECT tenant_id, action, status, target FROM audit_log \
             WHERE action = 'tenants.create' AND status = 303",
            &[],
        )
        .await;
        assert_eq!(
            rows,
            [[
                json!("city-01"),
                json!("tenants.create"),
                json!(303),
                json!("city-01")
            ]]
        );
    });
}

crate::on_both_backends!(
    users_are_managed_from_the_pages,
    everyone_changes_their_own_password,
    system_admins_manage_tenants,
);
