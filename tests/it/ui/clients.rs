//! API clients from the pages: created with restrictions, the secret shown once and working
//! at `/oauth/token`, rotated with an overlap, revoked (its token refused); a viewer sees no
//! link, and the pages and forged posts are refused.

use rosterhub::users::Role;

use super::{Answer, Visitor};
use crate::clients::token_request;
use crate::helpers::{Backend, TestDb};
use crate::server::start_with;
use crate::users::user;

/// The text of the element with `id` (a `<code>` or `<dd>`).
pub fn by_id(a: &Answer, id: &str) -> String {
    let at = a
        .text
        .find(&format!("id=\"{id}\">"))
        .unwrap_or_else(|| panic!("no #{id}: {}", a.text));
    let rest = &a.text[at + id.len() + 6..];
    rest[..rest.find('<').unwrap()].to_owned()
}

fn clients_are_managed_by_admins_only(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let server = start_with(&db, |_| {});
    user(&db, "hanako", false, &[("default", Role::Admin)]);
    user(&db, "miru", false, &[("default", Role::Viewer)]);
    db.block_on(async {
        let mut v = Visitor::new(&server);
        v.sign_in("hanako", "").await;
        let list = v.get("/ui/clients").await;
        assert_eq!(list.status, 200);
        // The server's own test client is listed.
        let before = db.scalar("SELECT CAST(COUNT(*) AS TEXT) FROM api_clients");
        assert_eq!(before, "1");
        assert_eq!(list.text.matches("<tr data-client=").count(), 1);
        let csrf = list.csrf();

        // A wrong address range comes back on the form with the reason; nothing is created.
        let bad = v
            .post(
                "/ui/clients",
                &[
                    ("csrf_token", &csrf),
                    ("name", "学習アプリ"),
                    ("scope", "core"),
                    ("allowed_ips", "not-an-address"),
                ],
            )
            .await;
        assert_eq!(bad.status, 400);
        assert!(bad.text.contains("id=\"problem\""));
        assert_eq!(
            db.scalar("SELECT CAST(COUNT(*) AS TEXT) FROM api_clients"),
            "1"
        );

        let made = v
            .post(
                "/ui/clients",
                &[
                    ("csrf_token", &csrf),
                    ("name", "学習アプリ"),
                    ("scope", "core"),
                    ("scope", "roster"),
                    ("allowed_ips", "127.0.0.1/32 ::1"),
                    ("rate_limit_per_min", "120"),
                ],
            )
            .await;
        assert_eq!(made.status, 200);
        let id = by_id(&made, "client-id");
        let secret = by_id(&made, "client-secret");
        assert_eq!(secret.len(), 43);
        assert!(
            made.text
                .contains("このシークレットが表示されるのは今回だけです")
        );
        let row = db.rows(&format!(
            "SELECT name, scopes, allowed_ips, CAST(rate_limit_per_min AS TEXT) FROM api_clients \
             WHERE client_id = '{id}'"
        ));
        assert_eq!(row[0][0].as_deref(), Some("学習アプリ"));
        assert_eq!(row[0][2].as_deref(), Some("127.0.0.1/32 ::1/128"));
        assert_eq!(row[0][3].as_deref(), Some("120"));
        let (status, _, token) = token_request(&server.base, &id, &secret).await;
        assert_eq!(status, 200, "{token}");
        // The list never shows it again.
        let list = v.get("/ui/clients").await;
        assert!(list.text.contains(&id) && !list.text.contains(&secret));

        // Rotated with a one-hour overlap: both secrets work until then.
        let rotated = v
            .post(
                &format!("/ui/clients/{id}/rotate"),
                &[("csrf_token", &csrf), ("overlap_hours", "1")],
            )
            .await;
        assert_eq!(rotated.status, 200);
        let fresh = by_id(&rotated, "client-secret");
        assert_ne!(fresh, secret);
        assert!(!by_id(&rotated, "overlap").is_empty());
        assert_eq!(token_request(&server.base, &id, &secret).await.0, 200);
        assert_eq!(token_request(&server.base, &id, &fresh).await.0, 200);

        // A viewer: no link, the page and every post refused, nothing changed.
        let mut viewer = Visitor::new(&server);
        viewer.sign_in("miru", "").await;
        let home = viewer.get("/ui").await;
        assert!(!home.text.contains("href=\"/ui/clients\""));
        assert!(v.get("/ui").await.text.contains("href=\"/ui/clients\""));
        assert_eq!(viewer.get("/ui/clients").await.status, 403);
        let token = home.csrf();
        for path in [
            "/ui/clients".to_owned(),
            format!("/ui/clients/{id}/revoke"),
            format!("/ui/clients/{id}/rotate"),
        ] {
            let forged = viewer
                .post(
                    &path,
                    &[("csrf_token", &token), ("name", "x"), ("scope", "admin")],
                )
                .await;
            assert_eq!(forged.status, 403, "{path}");
        }
        assert_eq!(
            db.scalar("SELECT CAST(COUNT(*) AS TEXT) FROM api_clients"),
            "2"
        );
        assert_eq!(token_request(&server.base, &id, &fresh).await.0, 200);

        // Revoked: its secrets no longer get a token.
        let revoked = v
            .post(
                &format!("/ui/clients/{id}/revoke"),
                &[("csrf_token", &csrf)],
            )
            .await;
        assert_eq!(
            (revoked.status, revoked.header("location")),
            (303, "/ui/clients")
        );
        assert_eq!(token_request(&server.base, &id, &fresh).await.0, 401);
        let list = v.get("/ui/clients?lang=en").await;
        assert!(list.text.contains("Revoked"));
    });
}

crate::on_both_backends!(clients_are_managed_by_admins_only);
