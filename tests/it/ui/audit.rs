//! The audit log page: filtered by actor, action (a prefix too), a time range typed in the UI's
//! zone, request id and target; keyset pages of 50; the CSV download (BOM, CRLF, formula cells
//! neutralised, every matching entry across its 1,000-entry reads, itself audited); a client
//! created on its page found by its id; administrators only.

use rosterhub::audit::Entry;
use rosterhub::users::Role;

use super::clients::by_id;
use super::{Answer, Visitor};
use crate::clients::token_request;
use crate::helpers::{Backend, TestDb};
use crate::server::start_with;
use crate::users::user;

/// 2026-04-01T00:00:00Z: 09:00 in Tokyo.
const BASE: i64 = 1_775_001_600_000;
/// Entries seeded.
const SEEDED: i64 = 2_200;

/// Entry `i`: at 09:00:30 JST + `i` minutes; actors alternate between a client and `user`;
/// actions cycle through three; entry 4's user agent is a formula.
fn seeded(i: i64, user: &str) -> Entry {
    let action = ["imports.create", "oneroster.read", "clients.create"][(i % 3) as usize];
    Entry {
        id: format!("0190a000-0000-7000-8000-{i:012}"),
        tenant: "default".into(),
        at: BASE + i * 60_000 + 30_000,
        actor: if i % 2 == 0 {
            "client:app1".into()
        } else {
            format!("user:{user}")
        },
        action: action.into(),
        method: "POST".into(),
        path: "/api/v1/x".into(),
        query: (i == 4).then(|| "a=1,b".to_owned()),
        status: 200,
        result_count: None,
        target: (i % 3 == 2).then(|| format!("c-{i}")),
        source_ip: Some("192.0.2.7".into()),
        request_id: Some(format!("r-{i}")),
        user_agent: Some(if i == 4 {
            "=HYPERLINK(\"http://evil.example\")".into()
        } else {
            "ua/1".into()
        }),
    }
}

/// The `data-action` of each row of the page's table.
fn actions(a: &Answer) -> Vec<String> {
    a.text
        .split("<tr data-action=\"")
        .skip(1)
        .map(|r| r[..r.find('"').unwrap()].to_owned())
        .collect()
}

/// The cells of the page's first row, tags removed.
fn first_row(a: &Answer) -> Vec<String> {
    let at = a.text.find("<tr data-action=").expect("a row");
    let row = &a.text[at..];
    let row = &row[..row.find("</tr>").unwrap()];
    row.split("<td")
        .skip(1)
        .map(|c| {
            let c = &c[c.find('>').unwrap() + 1..c.find("</td>").unwrap()];
            c.replace("<code>", "").replace("</code>", "")
        })
        .collect()
}

/// The `href` of the link with `rel`, `&#38;` read as `&`.
fn link(a: &Answer, rel: &str) -> Option<String> {
    let at = a.text.find(&format!("rel=\"{rel}\""))?;
    let before = &a.text[..at];
    let start = before.rfind("href=\"").unwrap() + 6;
    let href = &a.text[start..];
    Some(href[..href.find('"').unwrap()].replace("&#38;", "&"))
}

fn the_audit_log_is_filtered_paged_and_downloaded(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let server = start_with(&db, |_| {});
    let hanako = user(&db, "hanako", false, &[("default", Role::Admin)]);
    user(&db, "miru", false, &[("default", Role::Viewer)]);
    db.block_on(async {
        let seed: Vec<Entry> = (0..SEEDED).map(|i| seeded(i, &hanako.id)).collect();
        server
            .state
            .store
            .insert_audit_entries(&seed)
            .await
            .unwrap();
        let mut v = Visitor::new(&server);
        v.sign_in("hanako", "").await;

        // One action: 733 entries, newest first, 50 a page, the next page after the last.
        let page = v.get("/ui/audit?action=oneroster.read").await;
        assert_eq!(page.status, 200);
        assert_eq!(actions(&page).len(), 50);
        assert!(actions(&page).iter().all(|a| a == "oneroster.read"));
        // Entry 2197: 2026-04-01 09:00:30 JST + 2,197 minutes.
        assert_eq!(
            first_row(&page),
            [
                "2026-04-02 21:37:30",
                &format!("user:{} (hanako)", hanako.id),
                "oneroster.read",
                "POST /api/v1/x",
                "200",
                "",
                "r-2197",
                "192.0.2.7"
            ]
        );
        assert_eq!(link(&page, "first"), None);
        let mut pages = 1;
        let mut seen = 50;
        let mut next = link(&page, "next");
        while let Some(href) = next {
            let p = v.get(&href).await;
            assert_eq!(
                link(&p, "first").as_deref(),
                Some("/ui/audit?action=oneroster.read")
            );
            seen += actions(&p).len();
            pages += 1;
            next = link(&p, "next");
        }
        assert_eq!((pages, seen), (15, 733), "every entry once");

        // A prefix, an actor and a request id.
        let prefix = v
            .get("/ui/audit?action=imports.*&actor=client%3Aapp1")
            .await;
        // i divisible by 6: the newest is 2196.
        assert_eq!(first_row(&prefix)[6], "r-2196");
        assert!(actions(&prefix).iter().all(|a| a == "imports.create"));
        let one = v.get("/ui/audit?request_id=r-7").await;
        assert_eq!(actions(&one), ["oneroster.read"]);
        assert!(
            one.text.contains("value=\"r-7\""),
            "the form keeps the filter"
        );

        // A time range in Tokyo time: 09:10 to 09:14 holds entries 10 to 14 (09:14:30
        // included: the minute typed is included whole).
        let range = v
            .get("/ui/audit?from=2026-04-01T09%3A10&to=2026-04-01T09%3A14")
            .await;
        let ids: Vec<String> = range
            .text
            .split("<td><code>r-")
            .skip(1)
            .map(|r| r[..r.find('<').unwrap()].to_owned())
            .collect();
        assert_eq!(ids, ["14", "13", "12", "11", "10"]);
        let bad = v.get("/ui/audit?from=2026-13-01T09%3A10").await;
        assert_eq!(bad.status, 400);
        assert!(bad.text.contains("id=\"problem\""), "{}", bad.text);
        assert!(bad.text.contains("`from` must be"), "{}", bad.text);

        // The download: every matching entry (1,100: two reads), BOM, CRLF, the formula
        // neutralised, the times in the zone.
        let csv = v.get("/ui/audit.csv?actor=client%3Aapp1").await;
        assert_eq!(csv.status, 200);
        assert_eq!(csv.header("content-type"), "text/csv; charset=utf-8");
        assert!(
            csv.header("content-disposition")
                .starts_with("attachment; filename=\"rosterhub-audit-default-"),
        );
        let text = csv.text.strip_prefix('\u{feff}').expect("a BOM");
        let lines: Vec<&str> = text.split_terminator("\r\n").collect();
        assert_eq!(
            lines[0],
            "at (Asia/Tokyo),actor,action,method,path,query,status,result_count,target,\
             source_ip,request_id,user_agent,id"
        );
        assert_eq!(lines.len(), 1 + 1_100);
        assert!(!text.replace("\r\n", "").contains('\n'), "CRLF only");
        assert_eq!(
            lines[1_100 - 2],
            "2026-04-01 09:04:30,client:app1,oneroster.read,POST,/api/v1/x,\"a=1,b\",200,,,\
             192.0.2.7,r-4,\"'=HYPERLINK(\"\"http://evil.example\"\")\",\
             0190a000-0000-7000-8000-000000000004"
        );
        server.state.audit.flush().await;
        let all = v.get("/ui/audit.csv").await;
        // Every seeded entry and two more: the sign-in and the first download (pages viewed
        // are not audited).
        let rows = all.text.split_terminator("\r\n").count() - 1;
        assert_eq!(rows as i64, SEEDED + 2, "{}", &all.text[..300]);

        // A client made on its page, found by its id; its token requests by it as the actor.
        let made = v
            .post(
                "/ui/clients",
                &[
                    ("csrf_token", &page.csrf()),
                    ("name", "学習アプリ"),
                    ("scope", "core"),
                ],
            )
            .await;
        let id = by_id(&made, "client-id");
        let secret = by_id(&made, "client-secret");
        assert_eq!(token_request(&server.base, &id, &secret).await.0, 200);
        server.state.audit.flush().await;
        let found = v.get(&format!("/ui/audit?target={id}")).await;
        assert_eq!(actions(&found), ["clients.create"]);
        assert_eq!(first_row(&found)[1], format!("user:{} (hanako)", hanako.id));
        let by = v.get(&format!("/ui/audit?actor=client%3A{id}")).await;
        assert_eq!(actions(&by), ["token.issue"]);
        let exports = v.get("/ui/audit?action=audit.export").await;
        assert_eq!(actions(&exports).len(), 2, "each download is audited");

        // A viewer: no link, the page and the download refused.
        let mut viewer = Visitor::new(&server);
        viewer.sign_in("miru", "").await;
        assert!(!viewer.get("/ui").await.text.contains("href=\"/ui/audit\""));
        assert_eq!(viewer.get("/ui/audit").await.status, 403);
        assert_eq!(viewer.get("/ui/audit.csv").await.status, 403);
    });
}

crate::on_both_backends!(the_audit_log_is_filtered_paged_and_downloaded);
