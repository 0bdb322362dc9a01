//! Two `rosterhub serve` processes on one PostgreSQL database share the job queue: every job
//! runs exactly once, and a job whose process was killed is finished by the other one after
//! its lease expires.

use std::time::{Duration, Instant};

use rosterhub::auth::Scopes;
use rosterhub::http::AppState;
use serde_json::Value;

use crate::helpers::cli::{ServeProcess, rosterhub};
use crate::helpers::{Backend, TestDb, fixtures, opts, tokens};
use crate::server::{self, zip_dir};

/// A replica: `rosterhub serve` on `db` with two workers and 2 s leases; `name` is its host
/// name, the first part of its lease owner.
fn start(db: &TestDb, name: &str) -> ServeProcess {
    rosterhub(&["serve", "--workers", "2", "--job-lease-secs", "2"])
        .db(db)
        .env(&[("HOSTNAME", name), ("RUST_LOG", "warn")])
        .serve(None)
}

/// A token of a new importing client of `tenant`.
async fn token(issuer: &AppState, tenant: &str) -> String {
    tokens::client(issuer, tenant, Scopes::IMPORT).await.token
}

async fn upload(http: &reqwest::Client, base: &str, token: &str, zip: Vec<u8>) -> String {
    let r = http
        .post(format!("{base}/api/v1/imports"))
        .bearer_auth(token)
        .header("content-type", "application/zip")
        .body(zip)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let body: Value = r.json().await.unwrap();
    body["id"].as_str().unwrap().to_owned()
}

/// The job's row: (state, attempts, lease owner, progress rows).
fn job_row(db: &TestDb, id: &str) -> (String, i64, String, i64) {
    let r = db.rows(&format!(
        "SELECT state, CAST(attempts AS TEXT), COALESCE(lease_owner, ''), \
         COALESCE(CAST(CAST(progress AS json)->>'rows' AS TEXT), '0') FROM jobs WHERE id = '{id}'"
    ));
    let c = |i: usize| r[0][i].clone().unwrap_or_default();
    (c(0), c(1).parse().unwrap(), c(2), c(3).parse().unwrap_or(0))
}

fn wait_final(db: &TestDb, ids: &[String], limit: Duration) {
    let started = Instant::now();
    loop {
        let pending: Vec<_> = ids
            .iter()
            .filter(|id| matches!(job_row(db, id).0.as_str(), "queued" | "running"))
            .collect();
        if pending.is_empty() {
            return;
        }
        assert!(started.elapsed() < limit, "jobs not finished: {pending:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn two_replicas_share_the_queue_and_take_over_a_dead_ones_job() {
    let Some(db) = TestDb::new(Backend::Postgres) else {
        eprintln!("SKIPPED: the scale-out test needs PostgreSQL");
        return;
    };
    // Tokens are issued here, with the key the replicas load from the database.
    let issuer = db.rt.block_on(server::state(&db, |_| {}));
    let fixture = zip_dir(&fixtures().join("jp-profile-v1.2.1"));
    let http = reqwest::Client::new();

    // 20 imports, each into its own tenant, uploaded alternately to two replicas.
    let a = start(&db, "replica-a");
    let b = start(&db, "replica-b");
    let ids: Vec<String> = db.rt.block_on(async {
        let mut ids = Vec::new();
        for i in 0..20 {
            let tenant = format!("t{i:02}");
            db.store.ensure_tenant(&tenant, &tenant).await.unwrap();
            let token = token(&issuer, &tenant).await;
            let base = if i % 2 == 0 { &a.base } else { &b.base };
            ids.push(upload(&http, base, &token, fixture.clone()).await);
        }
        ids
    });
    wait_final(&db, &ids, Duration::from_secs(180));
    for (i, id) in ids.iter().enumerate() {
        let (state, attempts, _, _) = job_row(&db, id);
        let error = db.scalar(&format!(
            "SELECT COALESCE(error, '') FROM jobs WHERE id = '{id}'"
        ));
        assert_eq!(
            (state.as_str(), attempts),
            ("succeeded", 1),
            "job {i}: {error}"
        );
        let runs = db.rows(&format!(
            "SELECT status, tenant_id FROM imports WHERE job_id = '{id}'"
        ));
        assert_eq!(
            runs,
            vec![vec![Some("applied".into()), Some(format!("t{i:02}"))]],
            "job {i} applied exactly once"
        );
        assert_eq!(db.count("users", &format!("t{i:02}")), 36);
    }
    assert_eq!(
        db.scalar("SELECT CAST(COUNT(*) AS TEXT) FROM imports"),
        "20"
    );
    drop(b);

    // A big import on replica A alone; A is killed mid-import; C takes the job over.
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.zip");
    let options = rosterhub::generate::GenerateOptions {
        students: 15_000,
        seed: 7,
        profile: rosterhub::generate::GenProfile::JpV121,
        delta: false,
    };
    rosterhub::generate::generate_zip(std::fs::File::create(&big).unwrap(), &options).unwrap();
    db.tenant("big");
    db.tenant("reference");
    let id = db.rt.block_on(async {
        let token = token(&issuer, "big").await;
        upload(&http, &a.base, &token, std::fs::read(&big).unwrap()).await
    });
    let a_pid = a.child.id();
    let started = Instant::now();
    loop {
        let (state, _, owner, rows) = job_row(&db, &id);
        if state == "running" && rows > 0 {
            // Progress published by a heartbeat: the import is well under way.
            assert!(owner.starts_with(&format!("replica-a:{a_pid}:")), "{owner}");
            break;
        }
        assert!(
            state == "queued" || state == "running",
            "the import ended before it could be interrupted: {state}"
        );
        assert!(started.elapsed() < Duration::from_secs(60), "never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(a); // SIGKILL: no goodbye, its transaction dies with its connections.
    assert_eq!(
        job_row(&db, &id).0,
        "running",
        "still leased to the dead replica"
    );
    let killed_at = Instant::now();
    let _c = start(&db, "replica-c");
    wait_final(&db, std::slice::from_ref(&id), Duration::from_secs(300));
    let (state, attempts, _, _) = job_row(&db, &id);
    assert_eq!((state.as_str(), attempts), ("succeeded", 2));
    assert!(
        killed_at.elapsed() >= Duration::from_millis(1500),
        "taken over after the lease"
    );
    let runs = db.rows(&format!("SELECT status FROM imports WHERE job_id = '{id}'"));
    assert_eq!(runs, vec![vec![Some("applied".into())]], "one applied run");

    // Complete and consistent: the same data as the CLI import of the same bundle.
    let reference = db.import(
        &big,
        rosterhub::import::ImportOptions {
            tenant: "reference".into(),
            ..opts()
        },
    );
    assert_eq!(reference.status, rosterhub::import::Outcome::Applied);
    assert_eq!(db.dump("big"), db.dump("reference"));
}
