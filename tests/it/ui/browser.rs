//! The UI in real headless Chromium, driven through chromedriver (WebDriver): sign in, upload
//! the Japan Profile fixture and watch it succeed, find a finding of the many-defect bundle by
//! filtering, approve a held import and see the dashboard change, switch to English and back,
//! and a viewer with no upload or approve control whose forged post is refused. Each page is
//! saved as a screenshot under `target/ui-screenshots/`.
//!
//! Without Chromium and chromedriver the test says what it skipped and passes, unless
//! `ROSTERHUB_REQUIRE_BROWSER=1` (CI installs them).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use rosterhub::users::Role;
use serde_json::{Value, json};

use super::pages::assert_no_external_urls;
use crate::helpers::{Backend, TempBundle, TestDb, fixtures};
use crate::server::{Server, test_config, zip_dir};
use crate::users::{PASSWORD, user};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// chromedriver and its browser session; the driver is stopped on drop.
struct Browser {
    driver: Child,
    client: Client,
    _profile: tempfile::TempDir,
    base: String,
    shots: PathBuf,
    /// Every page's source seen, for the external-URL scan.
    sources: Vec<(String, String)>,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Chromium and chromedriver, or why not.
fn available() -> Result<(), String> {
    for p in [CHROMEDRIVER, CHROMIUM] {
        if !Path::new(p).exists() {
            return Err(format!(
                "{p} is missing; apt-get install chromium chromium-driver"
            ));
        }
    }
    Ok(())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Browser {
    async fn start(base: &str) -> Option<Browser> {
        if let Err(why) = available() {
            if std::env::var("ROSTERHUB_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
                panic!("ROSTERHUB_REQUIRE_BROWSER=1 but {why}");
            }
            eprintln!("SKIPPED: browser tests ({why})");
            return None;
        }
        // fantoccini's TLS stack needs a process-wide provider when several are compiled in.
        let _ = tokio_rustls::rustls::crypto::aws_lc_rs::default_provider().install_default();
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not listen"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let caps = json!({
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.path().display()),
                    "--lang=ja",
                ],
                "prefs": {"intl.accept_languages": "ja"},
            }
        });
        let Value::Object(caps) = caps else {
            unreachable!()
        };
        let client = ClientBuilder::rustls()
            .unwrap()
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a Chromium session");
        let target = std::env::var("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
        let shots = target.join("ui-screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        Some(Browser {
            driver,
            client,
            _profile: profile,
            base: base.to_owned(),
            shots,
            sources: Vec::new(),
        })
    }

    async fn goto(&mut self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap();
    }

    /// Saves the page as `name.png` and keeps its source.
    async fn shot(&mut self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
        let src = self.client.source().await.unwrap();
        self.sources.push((name.to_owned(), src));
    }

    async fn text(&self, css: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    async fn exists(&self, css: &str) -> bool {
        !self
            .client
            .find_all(Locator::Css(css))
            .await
            .unwrap()
            .is_empty()
    }

    /// Waits until `css` shows `want` (up to 90 s: imports run in the server meanwhile).
    async fn wait_text(&self, css: &str, want: &str) {
        let started = Instant::now();
        loop {
            let found = match self.client.find(Locator::Css(css)).await {
                Ok(e) => e.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if found.trim() == want {
                return;
            }
            if started.elapsed() > Duration::from_secs(30) {
                let src = self.client.source().await.unwrap_or_default();
                panic!("{css}: waited for {want:?}, shows {found:?}; the page: {src}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn fill(&self, css: &str, text: &str) {
        let e = self.client.find(Locator::Css(css)).await.unwrap();
        e.clear().await.unwrap();
        e.send_keys(text).await.unwrap();
    }

    async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }

    async fn sign_in(&mut self, username: &str) {
        self.goto("/ui/login").await;
        self.fill("#username", username).await;
        self.fill("#password", PASSWORD).await;
        self.click("button[type=submit].primary").await;
        self.wait_text("main h1", "ダッシュボード").await;
    }

    /// Uploads a bundle through the page and waits for its result to be shown.
    async fn upload(&mut self, bundle: &Path, want_state: &str) -> String {
        self.goto("/ui/upload").await;
        let dir = tempfile::tempdir().unwrap();
        let zip = dir.path().join("bundle.zip");
        std::fs::write(&zip, zip_dir(bundle)).unwrap();
        self.client
            .find(Locator::Css("#bundle"))
            .await
            .unwrap()
            .send_keys(zip.to_str().unwrap())
            .await
            .unwrap();
        self.click("#upload-submit").await;
        self.wait_text("#job-state", want_state).await;
        let job = self.client.find(Locator::Css("[data-job]")).await.unwrap();
        job.attr("data-job").await.unwrap().unwrap()
    }

    /// The numbers of the table row of `entity`.
    async fn row(&self, entity: &str) -> Vec<String> {
        let mut out = Vec::new();
        let css = format!("[data-entity=\"{entity}\"] td");
        for td in self.client.find_all(Locator::Css(&css)).await.unwrap() {
            out.push(td.text().await.unwrap());
        }
        out
    }
}

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
        b.shot("08-held").await;
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

        // No page loads anything from elsewhere.
        for (name, src) in &b.sources {
            assert_no_external_urls(name, src, &server.base);
        }
        let _ = ok;
    });
}
