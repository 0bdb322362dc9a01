//! Scheduled pulls against a local HTTPS server serving the fixture bundle: a due pull queues
//! one import (actor `intake`) that applies it; replicas pull a run once; an unchanged body
//! (304, or the same SHA-256) queues nothing; missed runs are caught up once; a failed pull is
//! recorded and raises `intake.refused`; the bearer token reaches the server and nowhere else;
//! a blackout window holds the pulled import; a school's list is mapped; `serve` refuses a bad
//! pulls file.

use std::sync::{Arc, Mutex};

use rosterhub::http::ui::zone::Zone;
use rosterhub::intake::Unattended;
use rosterhub::intake::calendar::Window;
use rosterhub::intake::pull::{PullConfig, Run, file, run_due};
use rosterhub::storage::ops::pulls::PullOutcome;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsAcceptor;

use crate::helpers::cli::rosterhub;
use crate::helpers::{Backend, TestDb, fixtures};
use crate::raw_sql::ops_count;
use crate::server::{Server, test_config, zip_dir};

const TOKEN: &str = "pull-token-0123456789abcdef";
const MINUTE: i64 = 60_000;

/// What the bundle server answers, and the requests it saw (headers lower-cased).
#[derive(Default)]
struct Served {
    status: u16,
    body: Vec<u8>,
    etag: Option<String>,
    seen: Vec<Vec<(String, String)>>,
}

/// A local HTTPS server (HTTP/1.1, one request per connection) with a self-signed
/// certificate for `localhost`, written to `ca.pem` in `dir`.
async fn bundle_server(dir: &std::path::Path) -> (u16, Arc<Mutex<Served>>) {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    std::fs::write(dir.join("ca.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
    let tls = rosterhub::http::tls::load_config(&dir.join("ca.pem"), &dir.join("key.pem")).unwrap();
    let mut tls = (*tls).clone();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(tls));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let served = Arc::new(Mutex::new(Served {
        status: 200,
        body: zip_dir(&fixtures().join("jp-profile-v1.2.1")),
        etag: Some("\"v1\"".into()),
        ..Served::default()
    }));
    let state = served.clone();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let (acceptor, state) = (acceptor.clone(), state.clone());
            tokio::spawn(async move {
                let Ok(mut s) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && s.read(&mut byte).await.unwrap_or(0) == 1 {
                    head.push(byte[0]);
                }
                let headers: Vec<(String, String)> = String::from_utf8_lossy(&head)
                    .lines()
                    .skip(1)
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
                    .collect();
                let answer = {
                    let mut st = state.lock().unwrap();
                    let if_none_match = headers.iter().find(|(k, _)| k == "if-none-match");
                    let unchanged = st.etag.is_some()
                        && if_none_match.map(|(_, v)| Some(v)) == Some(st.etag.as_ref());
                    st.seen.push(headers);
                    let (status, body) = if st.status != 200 {
                        (st.status, Vec::new())
                    } else if unchanged {
                        (304, Vec::new())
                    } else {
                        (200, st.body.clone())
                    };
                    let etag = st.etag.as_ref().map(|e| format!("ETag: {e}\r\n"));
                    let mut out = format!(
                        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\n{}Connection: close\r\n\r\n",
                        body.len(),
                        etag.unwrap_or_default()
                    )
                    .into_bytes();
                    out.extend(body);
                    out
                };
                let _ = s.write_all(&answer).await;
                let _ = s.shutdown().await;
            });
        }
    });
    (port, served)
}

/// One pull `nightly` of tenant `default` every minute, from the bundle server, with a bearer
/// token and the server's certificate as its CA.
fn pulls(dir: &std::path::Path, port: u16, owner: &str) -> PullConfig {
    pulls_with(dir, port, owner, "")
}

/// [`pulls`] with more keys in the entry.
fn pulls_with(dir: &std::path::Path, port: u16, owner: &str, more: &str) -> PullConfig {
    std::fs::write(dir.join("token"), format!("{TOKEN}\n")).unwrap();
    let text = format!(
        "[[pull]]\nname = \"nightly\"\ntenant = \"default\"\nschedule = \"* * * * *\"\n\
         url = \"https://localhost:{port}/export/roster.zip\"\n\
         bearer_token_file = \"{}\"\nca_file = \"{}\"\n{more}",
        dir.join("token").display(),
        dir.join("ca.pem").display()
    );
    std::fs::write(dir.join("pulls.toml"), &text).unwrap();
    PullConfig {
        pulls: file::load(&dir.join("pulls.toml")).unwrap(),
        owner: owner.into(),
        blackout: Vec::new(),
        rollover: None,
        zone: Zone::default(),
        since: 0,
    }
}

fn unattended(server: &Server) -> Unattended {
    Unattended {
        store: server.state.store.clone(),
        jobs: server.state.jobs.clone(),
        audit: server.state.audit.clone(),
    }
}

/// The minute that holds the real time now (the queue reads the real clock for blackouts).
fn this_minute() -> i64 {
    let now = rosterhub::domain::datetime::now_ms();
    now - now % MINUTE
}

fn outcomes(runs: &[Run]) -> Vec<(&str, i64, String)> {
    runs.iter()
        .map(|r| {
            let o = match &r.outcome {
                PullOutcome::Queued { .. } => "queued".to_owned(),
                PullOutcome::Unchanged { detail, .. } => format!("unchanged: {detail}"),
                PullOutcome::Failed { reason } => format!("failed: {reason}"),
            };
            (r.pull.as_str(), r.scheduled_at, o)
        })
        .collect()
}

fn job_id(run: &Run) -> String {
    match &run.outcome {
        PullOutcome::Queued { job_id, .. } => job_id.clone(),
        o => panic!("not queued: {o:?}"),
    }
}

fn a_due_pull_is_imported_once_and_an_unchanged_body_queues_nothing(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let server = Server::start(&db, "default", test_config());
    let dir = tempfile::tempdir().unwrap();
    db.rt.block_on(async {
        let (port, served) = bundle_server(dir.path()).await;
        let config = pulls(dir.path(), port, "replica-a");
        let u = unattended(&server);
        // Captures what this task logs while it pulls.
        let log = Arc::new(Mutex::new(Vec::new()));
        let writer = {
            let log = log.clone();
            move || LogWriter(log.clone())
        };
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(writer)
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        let t = this_minute();
        let runs = run_due(&u, &config, t + 5_000).await.unwrap();
        assert_eq!(outcomes(&runs).len(), 1, "{runs:?}");
        assert_eq!(
            (runs[0].pull.as_str(), runs[0].scheduled_at),
            ("nightly", t)
        );
        let job = server
            .wait(&format!("/api/v1/imports/{}", job_id(&runs[0])))
            .await;
        assert_eq!(job["state"], "succeeded", "{job}");
        assert_eq!(job["report"]["status"], "applied", "{job}");
        assert_eq!(job["file_name"], "roster.zip", "{job}");
        let users = &job["report"]["entities"]["users"];
        assert_eq!(
            (&users["inserted"], &users["updated"], &users["tombstoned"]),
            (&json!(36), &json!(0), &json!(0)),
            "{job}"
        );
        assert_eq!(db.count("users", "default"), 36);
        let created_by = "SELECT COUNT(*) FROM jobs WHERE created_by = 'intake'";
        assert_eq!(ops_count(&db, created_by).await, 1);
        // The same minute again: claimed already.
        assert!(run_due(&u, &config, t + 30_000).await.unwrap().is_empty());

        // Ten minutes later (the loop was away): one run, for the latest minute only, and the
        // server's ETag came back: 304.
        let runs = run_due(&u, &config, t + 10 * MINUTE).await.unwrap();
        assert_eq!(
            outcomes(&runs),
            vec![(
                "nightly",
                t + 10 * MINUTE,
                "unchanged: HTTP 304 Not Modified".into()
            )]
        );
        // Without an ETag the same bytes come whole: unchanged by their SHA-256.
        served.lock().unwrap().etag = None;
        let runs = run_due(&u, &config, t + 11 * MINUTE).await.unwrap();
        assert_eq!(
            outcomes(&runs),
            vec![(
                "nightly",
                t + 11 * MINUTE,
                "unchanged: the same SHA-256 as the last pulled body".into()
            )]
        );
        assert_eq!(ops_count(&db, created_by).await, 1, "no second job");
        drop(guard);

        let seen = served.lock().unwrap().seen.clone();
        assert_eq!(seen.len(), 3);
        let header = |i: usize, name: &str| {
            seen[i]
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(header(0, "authorization"), Some(format!("Bearer {TOKEN}")));
        assert_eq!(header(0, "if-none-match"), None);
        assert_eq!(header(1, "if-none-match").as_deref(), Some("\"v1\""));
        // The token is in no log line, run record, job, audit entry or `config show`.
        let logged = String::from_utf8(log.lock().unwrap().clone()).unwrap();
        assert!(logged.contains("intake import queued"), "{logged}");
        assert!(!logged.contains(TOKEN), "{logged}");
        let runs = server.state.store.pull_runs("default", 10).await.unwrap();
        assert_eq!(runs.len(), 3);
        assert!(!format!("{runs:?}").contains(TOKEN));
        assert!(!format!("{config:?}").contains(TOKEN));
        server.state.audit.flush().await;
        for sql in [
            "SELECT COUNT(*) FROM jobs WHERE params LIKE '%pull-token%'",
            "SELECT COUNT(*) FROM audit_log WHERE path LIKE '%pull-token%'",
        ] {
            assert_eq!(ops_count(&db, sql).await, 0, "{sql}");
        }
        let audit = "SELECT COUNT(*) FROM audit_log WHERE actor = 'intake' \
                     AND action = 'intake.import' AND path = 'pull:nightly'";
        assert_eq!(ops_count(&db, audit).await, 1);
    });
    let pulls_file = dir.path().join("pulls.toml");
    let (code, out, err) = rosterhub(&["config", "show"])
        .env(&[("ROSTERHUB_INTAKE_PULLS", pulls_file.to_str().unwrap())])
        .run();
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("intake_pulls = \""), "{out}");
    assert!(!out.contains(TOKEN) && !err.contains(TOKEN), "{out}");
}

/// A `tracing` writer into a shared buffer.
struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Two replicas (each its own store and workers) find the same run due at once: one pulls.
fn two_replicas_pull_a_run_once(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let a = Server::start(&db, "default", test_config());
    let b = Server::start(&db, "default", test_config());
    let dir = tempfile::tempdir().unwrap();
    db.rt.block_on(async {
        let (port, served) = bundle_server(dir.path()).await;
        let (ca, cb) = (
            pulls(dir.path(), port, "replica-a"),
            pulls(dir.path(), port, "replica-b"),
        );
        let (ua, ub) = (unattended(&a), unattended(&b));
        let now = this_minute() + 1_000;
        let (ra, rb) = tokio::join!(run_due(&ua, &ca, now), run_due(&ub, &cb, now));
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        assert_eq!(ra.len() + rb.len(), 1, "{ra:?} {rb:?}");
        let run = ra.first().or(rb.first()).unwrap();
        let job = a.wait(&format!("/api/v1/imports/{}", job_id(run))).await;
        assert_eq!(job["report"]["status"], "applied", "{job}");
        assert_eq!(served.lock().unwrap().seen.len(), 1);
        assert_eq!(ops_count(&db, "SELECT COUNT(*) FROM jobs").await, 1);
        assert_eq!(
            ops_count(&db, "SELECT COUNT(*) FROM intake_pull_runs").await,
            1
        );
    });
}

/// A 404 and a body that is not a bundle: each run recorded as failed with its reason, and
/// `intake.refused` raised for each; nothing queued.
fn a_failed_pull_is_recorded_and_refused(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let server = Server::start(&db, "default", test_config());
    let dir = tempfile::tempdir().unwrap();
    db.rt.block_on(async {
        let (status, hook) = server
            .post_json(
                "/api/v1/webhooks",
                &json!({"url": "http://127.0.0.1:9/hook", "events": ["intake.refused"],
                        "secret": "test-secret-0123456789"}),
            )
            .await;
        assert_eq!(status, 201, "{hook}");
        let (port, served) = bundle_server(dir.path()).await;
        let config = pulls(dir.path(), port, "replica-a");
        let u = unattended(&server);
        served.lock().unwrap().status = 404;
        let t = this_minute();
        let runs = run_due(&u, &config, t).await.unwrap();
        assert_eq!(
            outcomes(&runs),
            vec![(
                "nightly",
                t,
                "failed: localhost answered HTTP 404 Not Found to the pull's GET; nothing was \
                 imported"
                    .into()
            )]
        );
        {
            let mut s = served.lock().unwrap();
            s.status = 200;
            s.body = b"not a zip at all".to_vec();
        }
        let runs = run_due(&u, &config, t + MINUTE).await.unwrap();
        let (_, _, failed) = &outcomes(&runs)[0];
        assert!(
            failed.starts_with("failed: not a OneRoster bundle: "),
            "{failed}"
        );
        let stored = server.state.store.pull_runs("default", 10).await.unwrap();
        let shown: Vec<(Option<&str>, Option<&str>)> = stored
            .iter()
            .map(|r| (r.outcome.as_deref(), r.job_id.as_deref()))
            .collect();
        assert_eq!(shown, vec![(Some("failed"), None), (Some("failed"), None)]);
        assert!(stored[1].detail.as_deref().unwrap().contains("HTTP 404"));
        assert_eq!(ops_count(&db, "SELECT COUNT(*) FROM jobs").await, 0);
        let refused = "SELECT COUNT(*) FROM webhook_deliveries WHERE event = 'intake.refused'";
        assert_eq!(ops_count(&db, refused).await, 2);
        // Past retention, a pull keeps its latest run (what the next one compares with).
        let later = rosterhub::domain::datetime::now_ms() + 1;
        assert_eq!(
            server
                .state
                .store
                .delete_old_pull_runs(later)
                .await
                .unwrap(),
            1
        );
        let kept = server.state.store.pull_runs("default", 10).await.unwrap();
        assert_eq!(kept[0].scheduled_at, t + MINUTE);
    });
}

/// A pull inside a blackout window: imported but held, the hold naming the pull.
fn a_pull_in_a_blackout_window_is_held(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let server = Server::start(&db, "default", test_config());
    let dir = tempfile::tempdir().unwrap();
    let zone = Zone::default();
    let (m, d) = zone
        .month_day(rosterhub::domain::datetime::now_ms())
        .unwrap();
    let today = Window::parse(&format!("{m:02}-{d:02}..{m:02}-{d:02}")).unwrap();
    db.rt.block_on(async {
        let (port, _served) = bundle_server(dir.path()).await;
        let config = PullConfig {
            blackout: vec![today],
            ..pulls(dir.path(), port, "replica-a")
        };
        let runs = run_due(&unattended(&server), &config, this_minute())
            .await
            .unwrap();
        let job: Value = server
            .wait(&format!("/api/v1/imports/{}", job_id(&runs[0])))
            .await;
        assert_eq!(job["state"], "held", "{job}");
        assert_eq!(job["report"]["status"], "held", "{job}");
        let finding = &job["findings"][0];
        assert_eq!(finding["code"], "blackout_hold", "{job}");
        let message = finding["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!(
                "held: roster.zip was pulled by the scheduled pull nightly during the blackout \
                 window {today} (--intake-blackout)"
            )),
            "{message}"
        );
        assert_eq!(db.count("users", "default"), 0, "held: nothing written");
    });
}

/// A school's lists pulled with `mapping = "auto"` are mapped and imported as an upload with
/// `?mapping=auto` is; a stored profile the tenant lacks fails the run.
fn a_pulled_list_is_mapped(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let server = Server::start(&db, "default", test_config());
    let dir = tempfile::tempdir().unwrap();
    let lists = dir.path().join("lists");
    std::fs::create_dir(&lists).unwrap();
    // The built-in layouts know no school type: the grades say 小.
    let students = crate::mapping::lists::STUDENTS.replace(
        "S0005,伊藤　健太,イトウ　ケンタ,２",
        "S0005,伊藤　健太,イトウ　ケンタ,小２",
    );
    let staff = crate::mapping::lists::STAFF
        .replace(",1,1・2", ",小1,1・2")
        .replace(",2,1", ",小2,1");
    std::fs::write(lists.join("児童名簿.csv"), students).unwrap();
    std::fs::write(lists.join("教職員名簿.csv"), staff).unwrap();
    db.rt.block_on(async {
        let (port, served) = bundle_server(dir.path()).await;
        served.lock().unwrap().body = zip_dir(&lists);
        let u = unattended(&server);
        let more = "mapping = \"auto\"\nschool = \"B113210000019\"\nschool_year = 2025\n";
        let config = pulls_with(dir.path(), port, "r", more);
        let t = this_minute();
        let runs = run_due(&u, &config, t).await.unwrap();
        let job = server
            .wait(&format!("/api/v1/imports/{}", job_id(&runs[0])))
            .await;
        assert_eq!(job["report"]["status"], "applied", "{job}");
        assert_eq!(job["report"]["entities"]["users"]["inserted"], 8, "{job}");
        assert_eq!(db.count("users", "default"), 8);

        let config = pulls_with(dir.path(), port, "r", "mapping = \"east-lists\"\n");
        let runs = run_due(&u, &config, t + MINUTE).await.unwrap();
        assert_eq!(
            outcomes(&runs)[0].2,
            "failed: tenant \"default\" has no stored mapping profile \"east-lists\" (mapping \
             in the pulls file)"
        );
    });
}

crate::on_both_backends!(
    a_pulled_list_is_mapped,
    a_due_pull_is_imported_once_and_an_unchanged_body_queues_nothing,
    two_replicas_pull_a_run_once,
    a_failed_pull_is_recorded_and_refused,
    a_pull_in_a_blackout_window_is_held,
);

/// `serve` (and `doctor`) refuse a bad pulls file with the entry and the reason, before
/// opening anything.
#[test]
fn serve_refuses_a_bad_pulls_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pulls.toml");
    std::fs::write(
        &path,
        "[[pull]]\nname = \"east\"\ntenant = \"default\"\nschedule = \"0 25 * * *\"\n\
         url = \"https://sis.example.jp/roster.zip\"\n",
    )
    .unwrap();
    let (code, _, err) = rosterhub(&["serve", "--intake-pulls", path.to_str().unwrap()])
        .dir(dir.path())
        .run();
    assert_ne!(code, 0);
    assert!(
        err.contains("--intake-pulls: pulls file")
            && err.contains("[[pull]] 1 (\"east\"): schedule \"0 25 * * *\": hour field \"25\""),
        "{err}"
    );
}
