//! The roster browser over HTTP: search (kana, sourcedId, e-mail) through the filter engine,
//! bounded paging, deleted records only on demand and marked in words, a user's and a class's
//! pages (出席番号 order) with the import that last changed them, in both languages.

use rosterhub::import::ImportOptions;
use rosterhub::users::Role;

use super::{Answer, Visitor};
use crate::helpers::{Backend, TempBundle, TestDb, fixtures, opts};
use crate::server::start_with;
use crate::users::user;

/// 高橋 花子 (タカハシ ハナコ), 出席番号 8 in 1年1組.
pub const HANAKO: &str = "7ce19fde-3bb9-4a59-9208-3aa603a04ce1";
/// 1年1組: a teacher and students 1–8 by 出席番号.
pub const CLASS_1_1: &str = "63df3d0e-1fa9-4601-b56a-a91ad2346995";

/// The `data-id` of each row of a list page, in order.
pub fn row_ids(a: &Answer) -> Vec<String> {
    a.text
        .match_indices("<tr data-id=\"")
        .map(|(i, _)| {
            let rest = &a.text[i + 13..];
            rest[..rest.find('"').unwrap()].to_owned()
        })
        .collect()
}

/// The linked record ids of the section `title` (a catalogue key) of a detail page, in order.
fn section_ids(a: &Answer, title: &str) -> Vec<String> {
    let at = a
        .text
        .find(&format!("data-section=\"{title}\""))
        .unwrap_or_else(|| panic!("no section {title}"));
    let rest = &a.text[at..];
    let rest = &rest[..rest.find("</section>").unwrap()];
    rest.match_indices("<a href=\"/ui/roster/")
        .map(|(i, _)| {
            let link = &rest[i + 19..];
            let link = &link[..link.find('"').unwrap()];
            link.rsplit('/').next().unwrap().to_owned()
        })
        .collect()
}

fn the_roster_is_searched_paged_and_opened(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    db.import(&fixtures().join("jp-profile-v1.2.1"), opts());
    let server = start_with(&db, |_| {});
    user(&db, "hanako", false, &[("default", Role::Admin)]);
    user(&db, "miru", false, &[("default", Role::Viewer)]);
    let import_id = db.scalar(
        "SELECT import_id FROM users WHERE sourced_id = '7ce19fde-3bb9-4a59-9208-3aa603a04ce1'",
    );
    db.block_on(async {
        let mut v = Visitor::new(&server);
        v.sign_in("miru", "").await;
        // Every role reads the roster: the link is in the menu.
        assert!(v.get("/ui").await.text.contains("href=\"/ui/roster\""));

        // Kana: six students read ハナコ; the pages link each.
        let found = v
            .get("/ui/roster?kind=users&q=%E3%83%8F%E3%83%8A%E3%82%B3")
            .await;
        assert_eq!(found.status, 200);
        let ids = row_ids(&found);
        assert_eq!(ids.len(), 6, "{ids:?}");
        assert!(ids.contains(&HANAKO.to_owned()));
        assert!(found.text.contains("タカハシ ハナコ"));
        // A part of a sourcedId, and of an e-mail address.
        let by_id = v.get("/ui/roster?kind=users&q=7ce19fde").await;
        assert_eq!(row_ids(&by_id), [HANAKO]);
        let by_mail = v.get("/ui/roster?kind=users&q=s8%40example").await;
        assert_eq!(row_ids(&by_mail), [HANAKO]);
        // Quotes cannot break out of the filter.
        let quote = v
            .get("/ui/roster?kind=users&q=%27%20OR%20sourcedId~%27")
            .await;
        assert_eq!((quote.status, row_ids(&quote).len()), (200, 0));

        // 36 users: two pages of 25, the second with 11 and no next link.
        let first = v.get("/ui/roster?kind=users").await;
        assert_eq!(row_ids(&first).len(), 25);
        assert!(first.text.contains("rel=\"next\""));
        let second = v.get("/ui/roster?kind=users&page=2").await;
        assert_eq!(row_ids(&second).len(), 11);
        assert!(!second.text.contains("rel=\"next\""));
        assert_eq!(row_ids(&v.get("/ui/roster?kind=schools").await).len(), 1);

        // Her page: her class, her enrollment with its number, the import that wrote her.
        let page = v.get(&format!("/ui/roster/users/{HANAKO}")).await;
        assert_eq!(page.status, 200);
        assert!(page.text.contains("<h1>高橋 花子</h1>"), "{}", page.text);
        assert_eq!(section_ids(&page, "roster.classes"), [CLASS_1_1]);
        assert!(page.text.contains("student #8"));
        assert!(page.text.contains(&import_id), "the import id {import_id}");
        assert!(page.text.contains("コマンドラインからの取り込み"));
        // A viewer sees no demographics; an administrator does.
        assert!(!page.text.contains("id=\"demographics\""));
        // No secret column travels to the page.
        assert!(!page.text.contains("<dt>password</dt>"));

        // The class: its teacher, then students 1–8 by 出席番号 (not by sourcedId).
        let class = v.get(&format!("/ui/roster/classes/{CLASS_1_1}")).await;
        let roster = crate::helpers::fixtures().join("jp-profile-v1.2.1/enrollments.csv");
        let mut seats: Vec<(u64, String)> = std::fs::read_to_string(roster)
            .unwrap()
            .lines()
            .filter(|l| l.contains(CLASS_1_1) && l.contains(",student,"))
            .map(|l| {
                let c: Vec<&str> = l.split(',').collect();
                (c[10].parse().unwrap(), c[5].to_owned())
            })
            .collect();
        seats.sort();
        let want: Vec<String> = seats.into_iter().map(|(_, id)| id).collect();
        assert_eq!(section_ids(&class, "roster.students"), want);
        assert_eq!(section_ids(&class, "roster.teachers").len(), 1);
        let english = v
            .get(&format!("/ui/roster/classes/{CLASS_1_1}?lang=en"))
            .await;
        assert!(english.text.contains("Students (by attendance number)"));
        assert!(english.text.contains("Last changed by import"));
        let missing = v.get("/ui/roster/users/nobody").await;
        assert_eq!(missing.status, 404);

        let mut admin = Visitor::new(&server);
        admin.sign_in("hanako", "").await;
        let page = admin.get(&format!("/ui/roster/users/{HANAKO}")).await;
        assert!(page.text.contains("id=\"demographics\""));
    });

    // Most students withdrawn: deleted records are hidden unless asked for, and then marked.
    let shrink = TempBundle::shrinking();
    db.import(
        shrink.path(),
        ImportOptions {
            force: true,
            ..opts()
        },
    );
    db.block_on(async {
        let mut v = Visitor::new(&server);
        v.sign_in("miru", "").await;
        let active = v
            .get("/ui/roster?kind=users&q=%E3%83%8F%E3%83%8A%E3%82%B3")
            .await;
        assert!(!row_ids(&active).contains(&HANAKO.to_owned()));
        let all = v
            .get("/ui/roster?kind=users&q=%E3%83%8F%E3%83%8A%E3%82%B3&tombstoned=1")
            .await;
        assert!(row_ids(&all).contains(&HANAKO.to_owned()));
        assert!(
            all.text
                .contains("<span class=\"tag deleted\">削除済み</span>")
        );
        let page = v.get(&format!("/ui/roster/users/{HANAKO}")).await;
        assert!(page.text.contains("id=\"deleted\">削除済み</span>"));
    });
}

crate::on_both_backends!(the_roster_is_searched_paged_and_opened);
