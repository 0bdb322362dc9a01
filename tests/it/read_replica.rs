//! A PostgreSQL read replica (`serve --read-database-url`): the OneRoster API's roster reads go
//! there — totals, pages and single records, cached by the replica's own data generation —
//! while tokens, clients and the audit log stay on the primary and nothing is written to the
//! replica. Two databases stand in for a primary and its replica: each holds its own roster,
//! so what a response shows tells which one it came from.

use std::time::{Duration, Instant};

use rosterhub::auth::Scopes;

use crate::helpers::cli::rosterhub;
use crate::helpers::{Backend, TempBundle, TestDb, fixtures, opts};

/// Rows of `table` in `db`, every tenant.
fn rows(db: &TestDb, table: &str) -> u64 {
    db.scalar(&format!("SELECT CAST(COUNT(*) AS TEXT) FROM {table}"))
        .parse()
        .unwrap()
}

#[test]
fn roster_reads_go_to_the_replica_and_writes_do_not() {
    let Some(primary) = TestDb::new(Backend::Postgres) else {
        return;
    };
    let Some(replica) = TestDb::new(Backend::Postgres) else {
        return;
    };
    // The replica has the district's 36 users; the primary a roster of 5 (a shrunk bundle).
    replica.import(&fixtures().join("jp-profile-v1.2.1"), opts());
    let shrunk = TempBundle::shrinking();
    primary.import(shrunk.path(), opts());
    assert_eq!(primary.count("users", "default"), 5);
    let (audit_before, clients_before) =
        (rows(&replica, "audit_log"), rows(&replica, "api_clients"));

    let opened = primary
        .block_on(primary.store.read_replica(&replica.url))
        .unwrap();
    let server = crate::server::start_with(&primary, |s| s.replica = Some(opened));
    let primary_clients = rows(&primary, "api_clients");
    primary.block_on(async {
        let token = server.token_for("default", Scopes::CORE).await;
        let base = "/ims/oneroster/rostering/v1p2";
        let r = server
            .get_with(&format!("{base}/users?limit=2"), Some(&token))
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-total-count"], "36", "the replica's roster");
        let page: serde_json::Value = r.json().await.unwrap();
        let id = page["users"][0]["sourcedId"].as_str().unwrap().to_owned();
        let one = server
            .get_with(&format!("{base}/users/{id}"), Some(&token))
            .await;
        assert_eq!(one.status(), 200, "a record only the replica has");
        // The same again: served from the cache of the replica's generation.
        let again = server
            .get_with(&format!("{base}/users?limit=2"), Some(&token))
            .await;
        assert_eq!(again.headers()["x-total-count"], "36");
    });

    // The token's client and the reads' audit entries are on the primary; the replica got no
    // row from any of it.
    let started = Instant::now();
    while rows(&primary, "audit_log") < 3 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no audit entries"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(rows(&primary, "api_clients"), primary_clients + 1);
    assert_eq!(rows(&replica, "audit_log"), audit_before);
    assert_eq!(rows(&replica, "api_clients"), clients_before);
    assert_eq!(replica.count("users", "default"), 36);
    assert_eq!(primary.count("users", "default"), 5);
}

/// A SQLite database has no replicas: `serve` refuses the setting before it opens anything.
#[test]
fn serve_refuses_a_replica_of_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("r.db").display());
    let (code, _, err) = rosterhub(&[
        "serve",
        "--database-url",
        &url,
        "--read-database-url",
        "postgres://postgres@127.0.0.1:5432/replica",
    ])
    .run();
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--read-database-url needs PostgreSQL for both"),
        "{err}"
    );
    assert!(err.contains("SQLite では設定を外してください"), "{err}");
    assert!(!dir.path().join("r.db").exists(), "nothing was created");
}
