//! Field mappings from the pages, on both backends: a profile started from an example and
//! saved (version 1 in the database, audited as the API's saves), an invalid one shown with
//! its error's line and the typed text and not stored, a sample Shift_JIS list previewed with
//! its exact mapped values and findings (nothing written), the upload page's mapping choice
//! queuing an import of the list; a viewer reads the profiles and is refused every write.

use std::collections::BTreeMap;

use rosterhub::mapping::engine::{namespace, stable_id};
use rosterhub::users::Role;
use serde_json::json;

use super::{Answer, Visitor};
use crate::helpers::{Backend, TestDb};
use crate::mapping::api::form;
use crate::mapping::lists;
use crate::raw_sql::query;
use crate::server::start_with;
use crate::users::user;

/// A profile whose line 6 names a field no layout has.
const UNKNOWN_FIELD: &str = "{\n  \"version\": 1,\n  \"layouts\": {\n    \"x\": {\n      \"kind\": \"students\",\n      \"columns\": {\"studentid\": \"番号\"}\n    }\n  }\n}";

/// A text as the templates escape it, read back.
fn unescape(s: &str) -> String {
    s.replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The text in the page's profile editor.
fn editor_text(a: &Answer) -> String {
    let at = a.text.find("<textarea id=\"profile\"").expect("an editor");
    let rest = &a.text[at..];
    let rest = &rest[rest.find('>').unwrap() + 1..];
    unescape(&rest[..rest.find("</textarea>").unwrap()])
}

/// The cells of each row (header included) of the table that starts at `marker`.
fn table(text: &str, marker: &str) -> Vec<Vec<String>> {
    let at = text
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker}: {text}"));
    let t = &text[at..];
    let t = &t[..t.find("</table>").unwrap()];
    t.split("<tr")
        .skip(1)
        .map(|row| {
            let row = &row[..row.find("</tr>").unwrap()];
            row.split("<t")
                .skip(1)
                .filter(|c| c.starts_with('d') || c.starts_with('h'))
                .map(|c| {
                    let c = &c[c.find('>').unwrap() + 1..];
                    unescape(&c[..c.find("</t").unwrap()])
                })
                .collect()
        })
        .collect()
}

/// The preview's records of `entity`: per row its non-empty cells by column (`source`: the
/// source file and line).
fn records(text: &str, entity: &str) -> Vec<BTreeMap<String, String>> {
    let rows = table(text, &format!("data-entity=\"{entity}\""));
    let header = &rows[0];
    rows[1..]
        .iter()
        .map(|r| {
            header
                .iter()
                .zip(r)
                .filter(|(_, v)| !v.is_empty())
                .map(|(h, v)| {
                    let h = if h == &header[0] { "source" } else { h };
                    (h.to_owned(), v.clone())
                })
                .collect()
        })
        .collect()
}

/// Saves `text` as `name` from a profile's page.
async fn save(v: &mut Visitor, csrf: &str, name: &str, text: &str) -> Answer {
    let fields = [("csrf_token", csrf), ("name", name), ("profile", text)];
    v.post("/ui/mappings", &fields).await
}

/// Posts the preview form (multipart, the token in its action) with `fields` and the sample.
async fn preview(v: &mut Visitor, csrf: &str, fields: &[(&str, &str)], sample: &[u8]) -> Answer {
    let mut parts: Vec<(&str, Option<&str>, &[u8])> = fields
        .iter()
        .map(|(k, v)| (*k, None, v.as_bytes()))
        .collect();
    parts.push(("file", Some("児童名簿.csv"), sample));
    let (ctype, body) = form(&parts);
    let path = format!("/ui/mappings/preview?csrf_token={csrf}");
    v.post_raw(&path, &ctype, body).await
}

/// `(name, version, body)` of the tenant's stored profiles.
async fn stored(db: &TestDb) -> Vec<(String, i64, String)> {
    let mut out = Vec::new();
    for m in db.store.list_mappings("default").await.unwrap() {
        let full = db.store.mapping("default", &m.name).await.unwrap().unwrap();
        out.push((full.name, full.version, full.body));
    }
    out
}

fn profiles_are_saved_and_refused_from_the_pages(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let server = start_with(&db, |_| {});
    let hanako = user(&db, "hanako", false, &[("default", Role::Admin)]);
    db.block_on(async {
        let mut v = Visitor::new(&server);
        v.sign_in("hanako", "").await;
        let list = v.get("/ui/mappings").await;
        assert_eq!(list.status, 200);
        assert!(list.text.contains("id=\"no-mappings\""), "{}", list.text);
        assert!(
            list.text.contains("href=\"/ui/mappings\""),
            "the nav links it"
        );

        // A new profile starts from the built-in layouts' example; saved, it is version 1.
        let new = v.get("/ui/mappings?new=sakura&example=builtin").await;
        assert_eq!(new.status, 200);
        assert_eq!(editor_text(&new), lists::PROFILE);
        let csrf = new.csrf();
        let saved = save(&mut v, &csrf, "sakura", lists::PROFILE).await;
        assert_eq!(
            (saved.status, saved.header("location")),
            (303, "/ui/mappings/sakura?saved=1")
        );
        let expect = vec![("sakura".to_owned(), 1, lists::PROFILE.to_owned())];
        assert_eq!(stored(&db).await, expect);
        let page = v.get("/ui/mappings/sakura?saved=1").await;
        assert!(page.text.contains("保存しました。版 1"), "{}", page.text);
        assert_eq!(editor_text(&page), lists::PROFILE);
        let list = v.get("/ui/mappings").await;
        let row = &table(&list.text, "id=\"mappings\"")[1];
        assert_eq!(row[0], "<a href=\"/ui/mappings/sakura\">sakura</a>");
        assert_eq!(
            (row[1].as_str(), row[3].as_str()),
            ("1", "hanako"),
            "version, by"
        );
        // A name already taken opens that profile.
        let taken = v.get("/ui/mappings?new=sakura").await;
        assert_eq!(taken.header("location"), "/ui/mappings/sakura");

        // Invalid: the error's line and message, the text as typed, nothing stored.
        let refused = save(&mut v, &csrf, "kita", UNKNOWN_FIELD).await;
        assert_eq!(refused.status, 422);
        let errors = table_free_list(&refused.text);
        assert_eq!(
            errors,
            [
                "行 6: layout \"x\": unknown field \"studentid\"; fields are grade, class, number, \
              name, kana, sex, birth_date, student_id, email, school_code, school_name"
            ]
        );
        assert_eq!(editor_text(&refused), UNKNOWN_FIELD);
        let syntax = "{\n  \"version\": 1,\n  \"school\": {\"code\": }\n}";
        let refused = save(&mut v, &csrf, "sakura", syntax).await;
        assert_eq!(refused.status, 422);
        assert!(table_free_list(&refused.text)[0].starts_with("行 3: "));
        assert_eq!(stored(&db).await, expect, "the stored version stays");
        let bad_name = save(&mut v, &csrf, "auto", lists::PROFILE).await;
        assert_eq!(bad_name.status, 400);
        assert!(bad_name.text.contains("id=\"problem\""));

        // A second save is version 2; then deleted.
        let v2 = lists::PROFILE.replace("2025", "2026");
        let saved = save(&mut v, &csrf, "sakura", &v2).await;
        assert_eq!(saved.header("location"), "/ui/mappings/sakura?saved=2");
        let gone = v
            .post("/ui/mappings/sakura/delete", &[("csrf_token", &csrf)])
            .await;
        assert_eq!(gone.header("location"), "/ui/mappings?deleted=sakura");
        assert_eq!(stored(&db).await, []);

        // Audited as the API's writes, the profile's name as the target.
        server.state.audit.flush().await;
        let rows = query(
            &db,
            "SELECT actor, action, status, target FROM audit_log \
             WHERE action LIKE 'mappings.%' ORDER BY at, id",
            &[],
        )
        .await;
        let me = format!("user:{}", hanako.id);
        let entry = |action: &str, status: u16, target: &str| {
            vec![json!(me), json!(action), json!(status), json!(target)]
        };
        assert_eq!(
            rows,
            [
                entry("mappings.create", 303, "sakura"),
                entry("mappings.create", 422, "kita"),
                entry("mappings.create", 422, "sakura"),
                entry("mappings.create", 400, "auto"),
                entry("mappings.update", 303, "sakura"),
                entry("mappings.delete", 303, "sakura"),
            ]
        );
    });
}

/// The items of the page's list of profile errors.
fn table_free_list(text: &str) -> Vec<String> {
    let at = text
        .find("id=\"profile-errors\"")
        .unwrap_or_else(|| panic!("no errors: {text}"));
    let list = &text[at..text[at..].find("</ul>").unwrap() + at];
    list.split("<li>")
        .skip(1)
        .map(|li| {
            let li = &li[..li.find("</li>").unwrap()];
            let plain = li.replace("<a href=\"#profile\">", "").replace("</a>", "");
            unescape(&plain)
        })
        .collect()
}

fn a_preview_shows_the_mapped_values_of_a_shift_jis_list(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let server = start_with(&db, |_| {});
    user(&db, "hanako", false, &[("default", Role::Admin)]);
    user(&db, "kenta", false, &[("default", Role::Uploader)]);
    let ns = namespace(&lists::profile(), "default");
    let id = |key: &str| stable_id(&ns, key);
    let students = lists::sjis(lists::STUDENTS);
    db.block_on(async {
        let mut admin = Visitor::new(&server);
        admin.sign_in("hanako", "").await;
        let csrf = admin.get("/ui/mappings").await.csrf();
        assert_eq!(save(&mut admin, &csrf, "sakura", lists::PROFILE).await.status, 303);

        // An uploader previews with the stored profile; no form to make one.
        let mut v = Visitor::new(&server);
        v.sign_in("kenta", "").await;
        let list = v.get("/ui/mappings").await;
        assert!(!list.text.contains("id=\"new-mapping\""));
        let csrf = list.csrf_in_action();
        let shown = preview(&mut v, &csrf, &[("mapping", "sakura")], &students).await;
        assert_eq!(shown.status, 200, "{}", shown.text);
        assert_eq!(
            table(&shown.text, "id=\"preview-sources\"")[1],
            ["児童名簿.csv", "児童生徒名簿", "Shift_JIS"]
        );
        let users = records(&shown.text, "users");
        assert_eq!(users.len(), 5);
        let first: BTreeMap<String, String> = [
            ("source", "児童名簿.csv:2".to_owned()),
            ("sourcedId", id("student:B113210000019:S0001")),
            ("enabledUser", "true".to_owned()),
            ("username", "S0001".to_owned()),
            ("givenName", "太郎".to_owned()),
            ("familyName", "山田".to_owned()),
            ("identifier", "S0001".to_owned()),
            ("grades", "P1".to_owned()),
            ("primaryOrgSourcedId", id("org:B113210000019")),
            ("metadata.jp.kanaGivenName", "タロウ".to_owned()),
            ("metadata.jp.kanaFamilyName", "ヤマダ".to_owned()),
            (
                "metadata.jp.homeClass",
                id("class:B113210000019:2025:P1:1"),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        assert_eq!(users[0], first);
        // Half-width kana read in full width, the name split on a half-width space.
        assert_eq!(
            (
                users[1]["familyName"].as_str(),
                users[1]["metadata.jp.kanaGivenName"].as_str()
            ),
            ("佐藤", "ハナコ")
        );
        assert!(shown.text.contains("id=\"preview-no-findings\""));

        // The text typed on a profile's page, unsaved: the finding names the source line.
        let bad = lists::sjis(&lists::STUDENTS.replace("２,女,2018-07-15", "２,不明,2018-07-15"));
        let typed = [("name", "kita"), ("profile", lists::PROFILE)];
        let shown = preview(&mut v, &csrf, &typed, &bad).await;
        assert_eq!(shown.status, 200);
        assert_eq!(editor_text(&shown), lists::PROFILE);
        assert_eq!(
            table(&shown.text, "id=\"preview-findings\"")[1..],
            [[
                "エラー",
                "mapping_value_unmapped",
                "児童名簿.csv",
                "5",
                "性別",
                "不明",
                "\"不明\" is not in the value map \"sex\" (known: 1, 2, F, M, その他, 女, 女性, \
                 未回答, 男, 男性); add it under values.sex in the profile (値の対応表 sex にない値です)",
            ]]
        );
        // A typed profile that cannot be used: its line, no preview.
        let typed = [("name", "kita"), ("profile", UNKNOWN_FIELD)];
        let shown = preview(&mut v, &csrf, &typed, &students).await;
        assert_eq!(shown.status, 422);
        assert!(table_free_list(&shown.text)[0].starts_with("行 6: "));
        assert!(!shown.text.contains("id=\"preview-sources\""));
        assert_eq!(db.count("users", "default"), 0, "a preview writes nothing");
        assert_eq!(db.count("imports", "default"), 0);

        // The upload page offers the stored profile and queues the list with it.
        let up = v.get("/ui/upload").await;
        assert!(up.text.contains("<option value=\"sakura\">sakura</option>"));
        let (ctype, body) = form(&[
            ("mapping", None, b"sakura"),
            ("school_year", None, b"2025"),
            ("bundle", Some("児童名簿.csv"), &students),
        ]);
        let path = format!("/ui/upload?csrf_token={}", up.csrf_in_action());
        let queued = v.post_raw(&path, &ctype, body).await;
        assert_eq!(queued.status, 303, "{}", queued.text);
        let job = queued.header("location").replace("/ui/imports/", "/api/v1/imports/");
        let (_, job) = server.get_json(&job).await;
        assert_eq!(
            (&job["mapping"], &job["mapping_version"], &job["school_year"]),
            (&json!("sakura"), &json!(1), &json!(2025)),
            "{job}"
        );
    });
}

fn a_viewer_reads_profiles_and_is_refused_writes(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let server = start_with(&db, |_| {});
    user(&db, "hanako", false, &[("default", Role::Admin)]);
    user(&db, "miru", false, &[("default", Role::Viewer)]);
    db.block_on(async {
        let mut admin = Visitor::new(&server);
        admin.sign_in("hanako", "").await;
        let csrf = admin.get("/ui/mappings").await.csrf();
        save(&mut admin, &csrf, "sakura", lists::PROFILE).await;

        let mut v = Visitor::new(&server);
        v.sign_in("miru", "").await;
        let list = v.get("/ui/mappings").await;
        assert_eq!(list.status, 200);
        assert!(list.text.contains("data-mapping=\"sakura\""));
        assert!(!list.text.contains("id=\"new-mapping\"") && !list.text.contains("preview-form"));
        let page = v.get("/ui/mappings/sakura").await;
        assert_eq!(editor_text(&page), lists::PROFILE);
        assert!(!page.text.contains("mapping-save") && !page.text.contains("mapping-delete"));
        let csrf = page.csrf();
        let refused = save(&mut v, &csrf, "sakura", "{\"version\": 1}").await;
        assert_eq!(refused.status, 403);
        let refused = save(&mut v, &csrf, "kita", lists::PROFILE).await;
        assert_eq!(refused.status, 403);
        let gone = v
            .post("/ui/mappings/sakura/delete", &[("csrf_token", &csrf)])
            .await;
        assert_eq!(gone.status, 403);
        let tried = preview(&mut v, &csrf, &[("mapping", "auto")], b"x").await;
        assert_eq!(tried.status, 403);
        let expect = vec![("sakura".to_owned(), 1, lists::PROFILE.to_owned())];
        assert_eq!(stored(&db).await, expect);
    });
}

crate::on_both_backends!(
    profiles_are_saved_and_refused_from_the_pages,
    a_preview_shows_the_mapped_values_of_a_shift_jis_list,
    a_viewer_reads_profiles_and_is_refused_writes,
);
