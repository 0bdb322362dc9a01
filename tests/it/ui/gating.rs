//! The dashboard's counts, a held import's approval through the pages, and role gating: a
//! viewer sees no upload or approve control and a forged post is refused.

use rosterhub::users::Role;

use super::{Answer, Visitor};
use crate::helpers::{Backend, TempBundle, TestDb, fixtures, opts};
use crate::server::{Server, test_config, zip_dir};
use crate::users::user;
use serde_json::json;

/// The `<td>` cells of the table row `data-entity="{entity}"`.
fn row(a: &Answer, entity: &str) -> Vec<String> {
    cells(a, &format!("data-entity=\"{entity}\""))
}

/// The numbers of the table row marked by the attribute `marker`.
fn cells(a: &Answer, marker: &str) -> Vec<String> {
    let at = a
        .text
        .find(marker)
        .unwrap_or_else(|| panic!("no row {marker}: {}", a.text));
    let rest = &a.text[at..];
    let rest = &rest[..rest.find("</tr>").unwrap()];
    rest.split("<td class=\"num\">")
        .skip(1)
        .map(|c| c[..c.find('<').unwrap()].to_owned())
        .collect()
}

fn dd(a: &Answer, id: &str) -> String {
    let at = a.text.find(&format!("id=\"{id}\">")).unwrap();
    let rest = &a.text[at + id.len() + 6..];
    rest[..rest.find('<').unwrap()].to_owned()
}

fn the_dashboard_counts_records_and_sanity(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    // One student without enrollments, one class without its teacher.
    let b = TempBundle::from_fixture("jp-profile-v1.2.1");
    let student = b
        .read("enrollments.csv")
        .lines()
        .find(|l| l.contains(",student,"))
        .unwrap()
        .split(',')
        .nth(5)
        .unwrap()
        .to_owned();
    b.drop_rows("enrollments.csv", |l| l.contains(&student));
    let teacher_row = b
        .read("enrollments.csv")
        .lines()
        .find(|l| l.contains(",teacher,"))
        .unwrap()
        .to_owned();
    b.drop_rows("enrollments.csv", |l| l == teacher_row);
    db.import(b.path(), opts());
    let server = crate::server::start_with(&db, |_| {});
    user(&db, "hanako", false, &[("default", Role::Viewer)]);
    db.block_on(async {
        let mut v = Visitor::new(&server);
        v.sign_in("hanako", "").await;
        let dash = v.get("/ui").await;
        assert_eq!(dash.status, 200);
        assert_eq!(row(&dash, "users"), ["36", "0"], "active, tombstoned");
        assert_eq!(row(&dash, "orgs"), ["2", "0"]);
        assert_eq!(row(&dash, "classes"), ["4", "0"]);
        assert_eq!(dd(&dash, "students-without-enrollment"), "1", "{student}");
        assert_eq!(dd(&dash, "classes-without-teacher"), "1");
        assert_eq!(dd(&dash, "schools-without-students"), "0");
        // No user of the fixture has a userMasterIdentifier: all 36 fall short of every model.
        for name in ["eportal-3", "eportal-4", "interop-5", "interop-6"] {
            assert_eq!(
                cells(&dash, &format!("data-target=\"{name}\"")),
                ["36", "36", "0", "36"],
                "{name}: total, users, enrollments, with homeClass"
            );
        }
        assert!(
            dash.text.contains("まだ反映された取り込みはありません"),
            "no job applied yet"
        );
        // A viewer: no upload in the navigation, and the upload page refuses.
        assert!(!dash.text.contains("href=\"/ui/upload\""));
        let up = v.get("/ui/upload").await;
        assert_eq!(up.status, 403);
        assert!(up.text.contains("閲覧のみの権限では"), "{}", up.text);
    });
}

fn a_held_import_is_approved_by_an_admin_and_not_by_a_viewer(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    db.import(&fixtures().join("jp-profile-v1.2.1"), opts());
    let server = Server::start(&db, "default", test_config());
    user(&db, "viewer", false, &[("default", Role::Viewer)]);
    user(&db, "uploader", false, &[("default", Role::Uploader)]);
    user(&db, "admin", false, &[("default", Role::Admin)]);
    let shrink = zip_dir(TempBundle::shrinking().path());
    db.block_on(async {
        let (_, body, _) = server.upload("", shrink).await;
        let id = body["id"].as_str().unwrap().to_owned();
        let held = server.wait(&format!("/api/v1/imports/{id}")).await;
        assert_eq!(held["state"], "held");
        let page = format!("/ui/imports/{id}");

        // The viewer reads the page but has no control, and a forged post is refused.
        let mut viewer = Visitor::new(&server);
        viewer.sign_in("viewer", "").await;
        let seen = viewer.get(&page).await;
        assert_eq!(seen.status, 200, "{}", seen.text);
        assert!(seen.text.contains("承認待ち"));
        assert!(
            !seen.text.contains("/approve\""),
            "no approve form for a viewer"
        );
        assert!(!seen.text.contains("/discard\""));
        let csrf = viewer.get("/ui").await.csrf();
        for action in ["approve", "discard"] {
            let forged = viewer
                .post(
                    &format!("{page}/{action}"),
                    &[("csrf_token", &csrf), ("confirm", "yes")],
                )
                .await;
            assert_eq!(forged.status, 403, "{action}");
            assert!(
                forged.text.contains("閲覧のみの権限では"),
                "{}",
                forged.text
            );
        }
        // An uploader uploads but does not approve.
        let mut uploader = Visitor::new(&server);
        uploader.sign_in("uploader", "").await;
        let seen = uploader.get(&page).await;
        assert!(seen.text.contains("href=\"/ui/upload\""));
        assert!(!seen.text.contains("/approve\""));
        let csrf = seen.csrf();
        let refused = uploader
            .post(
                &format!("{page}/approve"),
                &[("csrf_token", &csrf), ("confirm", "yes")],
            )
            .await;
        assert_eq!(refused.status, 403);
        let (_, still) = server.get_json(&format!("/api/v1/imports/{id}")).await;
        assert_eq!(still["state"], "held", "nothing changed");

        // The admin: a confirmation naming the counts, then the approval.
        let mut admin = Visitor::new(&server);
        admin.sign_in("admin", "").await;
        let seen = admin.get(&page).await;
        assert!(seen.text.contains(&format!("action=\"{page}/approve\"")));
        let csrf = seen.csrf();
        let ask = admin
            .post(&format!("{page}/approve"), &[("csrf_token", &csrf)])
            .await;
        assert_eq!(ask.status, 200);
        assert!(
            ask.text.contains("この取り込みを承認しますか"),
            "{}",
            ask.text
        );
        assert_eq!(
            row(&ask, "users"),
            ["0", "0", "5", "31"],
            "inserted, updated, unchanged, tombstoned"
        );
        let (_, still) = server.get_json(&format!("/api/v1/imports/{id}")).await;
        assert_eq!(still["state"], "held", "asking changes nothing");
        let done = admin
            .post(
                &format!("{page}/approve"),
                &[("csrf_token", &csrf), ("confirm", "yes")],
            )
            .await;
        assert_eq!((done.status, done.header("location")), (303, page.as_str()));
        let applied = server.wait(&format!("/api/v1/imports/{id}")).await;
        assert_eq!(applied["state"], "succeeded", "{applied}");
        let dash = admin.get("/ui").await;
        assert_eq!(row(&dash, "users"), ["5", "31"]);
        assert!(
            dash.text.contains(&format!("href=\"/ui/imports/{id}\"")),
            "the last applied"
        );
        let history = admin.get("/ui/history?kind=imports&state=succeeded").await;
        assert!(history.text.contains(&format!("href=\"/ui/imports/{id}\"")));
        let none = admin.get("/ui/history?kind=imports&state=failed").await;
        assert!(!none.text.contains(&format!("href=\"/ui/imports/{id}\"")));
    });
}

fn exports_start_from_the_page_in_the_configured_zone(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    db.import(&fixtures().join("jp-profile-v1.2.1"), opts());
    let server = Server::start(&db, "default", test_config());
    user(&db, "viewer", false, &[("default", Role::Viewer)]);
    user(&db, "uploader", false, &[("default", Role::Uploader)]);
    db.block_on(async {
        let mut viewer = Visitor::new(&server);
        viewer.sign_in("viewer", "").await;
        let page = viewer.get("/ui/exports").await;
        assert_eq!(page.status, 200);
        assert!(
            !page.text.contains("id=\"export-form\""),
            "a viewer starts no export"
        );
        let csrf = viewer.get("/ui").await.csrf();
        let refused = viewer
            .post("/ui/exports", &[("csrf_token", &csrf), ("mode", "bulk")])
            .await;
        assert_eq!(refused.status, 403);

        let mut v = Visitor::new(&server);
        v.sign_in("uploader", "").await;
        let page = v.get("/ui/exports").await;
        assert!(page.text.contains("id=\"export-form\""));
        let csrf = page.csrf();
        // Midnight of 1 April in Tokyo is 15:00 UTC the day before.
        let started = v
            .post(
                "/ui/exports",
                &[
                    ("csrf_token", &csrf),
                    ("mode", "delta"),
                    ("since", "2026-04-01T00:00"),
                    ("profile", "jp-k12"),
                ],
            )
            .await;
        assert_eq!(
            (started.status, started.header("location")),
            (303, "/ui/exports")
        );
        let (_, list) = server.get_json("/api/v1/exports").await;
        let job = &list["exports"][0];
        assert_eq!(
            (&job["mode"], &job["since"], &job["profile"]),
            (
                &json!("delta"),
                &json!("2026-03-31T15:00:00.000Z"),
                &json!("jp-k12")
            ),
            "{job}"
        );
        let id = job["id"].as_str().unwrap();
        let done = server.wait(&format!("/api/v1/exports/{id}")).await;
        assert_eq!(done["state"], "succeeded", "{done}");
        let page = v.get("/ui/exports").await;
        assert!(
            page.text
                .contains(&format!("href=\"/api/v1/exports/{id}/download\"")),
            "{}",
            page.text
        );
        assert!(page.text.contains("差分 (2026-04-01 00:00)"));
        // htmx asks for the list alone.
        let fragment = v.get_hx("/ui/exports").await;
        assert!(
            fragment
                .text
                .starts_with("<section class=\"card\" id=\"export-list\""),
            "{}",
            fragment.text
        );
        assert!(fragment.header("vary").contains("HX-Request"));
        // A bad date is refused with a page, and queues nothing.
        let bad = v
            .post(
                "/ui/exports",
                &[
                    ("csrf_token", &csrf),
                    ("mode", "delta"),
                    ("since", "yesterday"),
                ],
            )
            .await;
        assert_eq!(bad.status, 400);
        let (_, list) = server.get_json("/api/v1/exports").await;
        assert_eq!(list["total"], 1);
    });
}

/// A multipart form as a browser sends it: the text fields, then the file.
fn multipart(fields: &[(&str, &str)], zip: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----rosterhub-test-boundary";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"bundle\"; \
             filename=\"sjis.zip\"\r\nContent-Type: application/zip\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(zip);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

fn the_upload_form_works_without_script(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let server = Server::start(&db, "default", test_config());
    user(&db, "viewer", false, &[("default", Role::Viewer)]);
    user(&db, "uploader", false, &[("default", Role::Uploader)]);
    let zip = std::fs::read(fixtures().join("encodings/sjis.zip")).unwrap();
    let (content_type, body) = multipart(&[("encoding", "cp932"), ("dry_run", "true")], &zip);
    db.block_on(async {
        let mut v = Visitor::new(&server);
        v.sign_in("uploader", "").await;
        let page = v.get("/ui/upload").await;
        let csrf = page.csrf_in_action();
        assert!(
            page.text
                .contains(&format!("action=\"/ui/upload?csrf_token={csrf}\""))
        );
        // Without the token: refused, nothing queued.
        let forged = v.post_raw("/ui/upload", &content_type, body.clone()).await;
        assert_eq!(forged.status, 403);
        let sent = v
            .post_raw(
                &format!("/ui/upload?csrf_token={csrf}"),
                &content_type,
                body.clone(),
            )
            .await;
        assert_eq!(sent.status, 303, "{}", sent.text);
        let location = sent.header("location").to_owned();
        let id = location.strip_prefix("/ui/imports/").unwrap();
        // Without script the page of a running import reloads itself.
        let watching = v.get(&location).await;
        if watching.text.contains("data-state=\"queued\"")
            || watching.text.contains("data-state=\"running\"")
        {
            assert!(
                watching
                    .text
                    .contains("<noscript><meta http-equiv=\"refresh\" content=\"3\"></noscript>")
            );
        }
        let done = server.wait(&format!("/api/v1/imports/{id}")).await;
        assert_eq!(
            (
                &done["state"],
                &done["dry_run"],
                &done["encoding"],
                &done["file_name"]
            ),
            (
                &json!("succeeded"),
                &json!(true),
                &json!("cp932"),
                &json!("sjis.zip")
            ),
            "{done}"
        );
        assert_eq!(db.count("users", "default"), 0, "a dry run writes nothing");
        let page = v.get(&location).await;
        assert!(page.text.contains("試行（反映なし）") && !page.text.contains("http-equiv"));
        // htmx (and the upload page's script) asks for the body alone.
        let fragment = v.get_hx(&location).await;
        assert!(
            fragment.text.starts_with("<section class=\"card\""),
            "{}",
            fragment.text
        );
        assert!(!fragment.text.contains("<html"));
        assert!(fragment.header("vary").contains("HX-Request"));
        let (_, list) = server.get_json("/api/v1/imports").await;
        assert_eq!(list["total"], 1);

        // A viewer's post with a valid token is refused too.
        let mut viewer = Visitor::new(&server);
        viewer.sign_in("viewer", "").await;
        let token = viewer.get("/ui").await.csrf();
        let refused = viewer
            .post_raw(
                &format!("/ui/upload?csrf_token={token}"),
                &content_type,
                body,
            )
            .await;
        assert_eq!(refused.status, 403);
        let (_, list) = server.get_json("/api/v1/imports").await;
        assert_eq!(list["total"], 1);
    });
}

crate::on_both_backends!(
    the_dashboard_counts_records_and_sanity,
    a_held_import_is_approved_by_an_admin_and_not_by_a_viewer,
    exports_start_from_the_page_in_the_configured_zone,
    the_upload_form_works_without_script,
);
