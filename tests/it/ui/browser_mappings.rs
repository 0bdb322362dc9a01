//! Field mappings in Chromium (part of `browser`'s run, signed in as an administrator): a new
//! profile started from the built-in layouts' example, a Shift_JIS list previewed through the
//! page's own form (no script) with its detected layout and a mapped row, then saved; the
//! upload page sending the list with that profile (its script, a dry run).

use fantoccini::Locator;

use super::chromium::Browser;
use crate::mapping::lists;

pub(super) async fn field_mappings(b: &mut Browser) {
    b.click("a[href=\"/ui/mappings\"]").await;
    b.wait_text("main h1", "項目の対応付け（マッピング）").await;
    b.shot("14a-mappings").await;
    b.fill("#new", "sakura").await;
    b.click("#new-submit").await;
    b.wait_text("#mapping-name", "sakura").await;

    // The sample as a school's system writes it: Shift_JIS.
    let dir = tempfile::tempdir().unwrap();
    let sample = dir.path().join("児童名簿.csv");
    std::fs::write(&sample, lists::sjis(lists::STUDENTS)).unwrap();
    b.client
        .find(Locator::Css("#file"))
        .await
        .unwrap()
        .send_keys(sample.to_str().unwrap())
        .await
        .unwrap();
    b.click("#preview-submit").await;
    b.wait_text("#preview-sources tbody td:nth-child(2)", "児童生徒名簿")
        .await;
    assert_eq!(
        b.text("#preview-sources tbody td:nth-child(3)").await,
        "Shift_JIS"
    );
    let first = "table[data-entity=\"users\"] tbody tr:first-child";
    assert_eq!(
        b.text(&format!("{first} td:first-child")).await,
        "児童名簿.csv:2"
    );
    let row = b.text(first).await;
    for value in ["S0001", "太郎", "山田", "タロウ", "ヤマダ", "P1"] {
        assert!(row.contains(value), "{value} in {row}");
    }
    b.shot("14b-mapping-preview").await;

    // The previewed text saved: version 1.
    b.click("#mapping-save").await;
    b.wait_text("#notice", "保存しました。版 1").await;
    b.shot("14c-mapping-saved").await;

    // The upload page's script sends the list with the profile chosen (a dry run: the
    // tenant's roster stays as the rest of the run expects it).
    b.goto("/ui/upload").await;
    b.click("#mapping option[value=\"sakura\"]").await;
    b.click("#dry_run").await;
    b.client
        .find(Locator::Css("#bundle"))
        .await
        .unwrap()
        .send_keys(sample.to_str().unwrap())
        .await
        .unwrap();
    b.shot("14d-upload-with-mapping").await;
    b.click("#upload-submit").await;
    b.wait_text("#job-state", "成功").await;
    assert_eq!(b.row("users").await[0], "5", "the list's five students");
    b.shot("14e-upload-with-mapping-done").await;
}
