//! The browser harness of `browser`: chromedriver and a headless Chromium session
//! (fantoccini), the steps the tests take (go, fill, click, wait for a text) and the
//! screenshots of every page under `target/ui-screenshots/` (or `$CARGO_TARGET_DIR`).
//!
//! Without Chromium and chromedriver [`Browser::start`] says what it skipped and gives none,
//! unless `ROSTERHUB_REQUIRE_BROWSER=1` (CI installs them).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::server::zip_dir;
use crate::users::PASSWORD;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// chromedriver and its browser session; the driver is stopped on drop.
pub(super) struct Browser {
    driver: Child,
    pub(super) client: Client,
    _profile: tempfile::TempDir,
    base: String,
    shots: PathBuf,
    /// Every page's source seen, for the external-URL scan.
    pub(super) sources: Vec<(String, String)>,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        // Killing chromedriver leaves the Chromium it started running (and a panicking test
        // never closes its session): stop every process of this session's own profile.
        let _ = Command::new("pkill")
            .args(["-f", "--"])
            .arg(format!(
                "--user-data-dir={}",
                self._profile.path().display()
            ))
            .status();
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
    pub(super) async fn start(base: &str) -> Option<Browser> {
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

    pub(super) async fn goto(&mut self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap();
    }

    /// Saves the page as `name.png` and keeps its source.
    pub(super) async fn shot(&mut self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
        let src = self.client.source().await.unwrap();
        self.sources.push((name.to_owned(), src));
    }

    pub(super) async fn text(&self, css: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub(super) async fn exists(&self, css: &str) -> bool {
        !self
            .client
            .find_all(Locator::Css(css))
            .await
            .unwrap()
            .is_empty()
    }

    /// Waits until `css` shows `want` (up to 90 s: imports run in the server meanwhile).
    pub(super) async fn wait_text(&self, css: &str, want: &str) {
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

    /// Loads `path` again until `css` shows `want` (up to 30 s: what the page shows is made
    /// meanwhile by another task, such as the webhook delivery worker).
    pub(super) async fn wait_reloaded(&mut self, path: &str, css: &str, want: &str) {
        let started = Instant::now();
        loop {
            self.goto(path).await;
            let found = match self.client.find(Locator::Css(css)).await {
                Ok(e) => e.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if found.trim() == want {
                return;
            }
            if started.elapsed() > Duration::from_secs(30) {
                panic!("{path} {css}: waited for {want:?}, shows {found:?}");
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    pub(super) async fn fill(&self, css: &str, text: &str) {
        let e = self.client.find(Locator::Css(css)).await.unwrap();
        e.clear().await.unwrap();
        e.send_keys(text).await.unwrap();
    }

    pub(super) async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }

    pub(super) async fn sign_in(&mut self, username: &str) {
        self.goto("/ui/login").await;
        self.fill("#username", username).await;
        self.fill("#password", PASSWORD).await;
        self.click("button[type=submit].primary").await;
        self.wait_text("main h1", "ダッシュボード").await;
    }

    /// Uploads a bundle through the page and waits for its result to be shown.
    pub(super) async fn upload(&mut self, bundle: &Path, want_state: &str) -> String {
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
    pub(super) async fn row(&self, entity: &str) -> Vec<String> {
        let mut out = Vec::new();
        let css = format!("[data-entity=\"{entity}\"] td");
        for td in self.client.find_all(Locator::Css(&css)).await.unwrap() {
            out.push(td.text().await.unwrap());
        }
        out
    }
}
