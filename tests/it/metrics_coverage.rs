//! Every metric that a Grafana dashboard panel or a Prometheus alert under `deploy/` names is
//! on `/metrics` of a real server that ran an import job: a metric renamed in the code (or
//! misspelt in a panel) fails here instead of leaving an empty graph or an alert that can never
//! fire. Names are compared as exposed: a panel on `x_bucket` needs `x` to be a histogram.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use rosterhub::auth::Scopes;
use rosterhub::jobs::JobState;
use serde_json::Value;

use crate::helpers::{Backend, TestDb, fixtures};
use crate::raw_sql::exec;
use crate::server::{Server, test_config, zip_dir};

/// Series Prometheus makes itself (not the server's to expose).
const MADE_BY_PROMETHEUS: [&str; 1] = ["up"];

/// PromQL words that are never metric names: aggregations, set and comparison keywords.
const KEYWORDS: [&str; 24] = [
    "sum",
    "min",
    "max",
    "avg",
    "count",
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "quantile",
    "count_values",
    "group",
    "limitk",
    "limit_ratio",
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "inf",
    "nan",
    "atan2",
    "start",
    "end",
];

/// Keywords followed by a list of label names in parentheses.
const LABEL_LISTS: [&str; 6] = [
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy")
}

/// The index just past the bracket that closes the one at `open` (strings inside skipped).
fn past_closing(chars: &[char], open: usize) -> usize {
    let (opening, closing) = (
        chars[open],
        match chars[open] {
            '{' => '}',
            '[' => ']',
            _ => ')',
        },
    );
    let mut depth = 0;
    let mut i = open;
    while i < chars.len() {
        match chars[i] {
            '"' | '\'' | '`' => i = past_string(chars, i) - 1,
            c if c == opening => depth += 1,
            c if c == closing => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    chars.len()
}

/// The index just past the string literal starting at `start`.
fn past_string(chars: &[char], start: usize) -> usize {
    let quote = chars[start];
    let mut i = start + 1;
    while i < chars.len() && chars[i] != quote {
        if chars[i] == '\\' && quote != '`' {
            i += 1;
        }
        i += 1;
    }
    i + 1
}

/// The metric names a PromQL expression selects: identifiers that are not functions,
/// keywords, label names, label values or durations.
pub fn metric_names(expr: &str) -> BTreeSet<String> {
    let chars: Vec<char> = expr.chars().collect();
    let is_start = |c: char| c.is_ascii_alphabetic() || c == '_' || c == ':';
    let is_part = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let next_visible = |mut i: usize| {
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        i
    };
    let mut names = BTreeSet::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' || c == '`' {
            i = past_string(&chars, i);
        } else if c == '{' || c == '[' {
            // Label matchers and ranges: label names, values, `$variables`, durations.
            i = past_closing(&chars, i);
        } else if c.is_ascii_digit() || c == '.' {
            // A number or a duration (`5m`, `1e9`).
            while i < chars.len() && (is_part(chars[i]) || chars[i] == '.') {
                i += 1;
            }
        } else if is_start(c) {
            let start = i;
            while i < chars.len() && is_part(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let next = next_visible(i);
            let lower = word.to_ascii_lowercase();
            if LABEL_LISTS.contains(&lower.as_str()) {
                if chars.get(next) == Some(&'(') {
                    i = past_closing(&chars, next);
                }
            } else if KEYWORDS.contains(&lower.as_str()) || chars.get(next) == Some(&'(') {
                // An aggregation, a keyword or a function call.
            } else {
                names.insert(word);
            }
        } else {
            i += 1;
        }
    }
    names
}

/// Every `expr` of the dashboards (panels nested in rows included) and the metric of every
/// `label_values(metric, label)` variable, with where it was found.
fn dashboard_exprs() -> Vec<(String, String)> {
    fn walk(v: &Value, at: &str, out: &mut Vec<(String, String)>) {
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    match (k.as_str(), v) {
                        ("expr", Value::String(e)) => out.push((at.to_owned(), e.clone())),
                        ("definition", Value::String(d)) if d.starts_with("label_values(") => {
                            let metric = d["label_values(".len()..].split(',').next().unwrap();
                            out.push((at.to_owned(), metric.trim().to_owned()));
                        }
                        _ => walk(v, at, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, at, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    let dir = deploy().join("grafana/dashboards");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    for path in files {
        let dash: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let before = out.len();
        walk(&dash, &name, &mut out);
        assert!(out.len() > before, "{name}: no panel expression found");
    }
    out
}

/// Every `expr:` of the alert rules: on one line, or a block scalar (`>-`, `|`) on the lines
/// indented below it.
fn alert_exprs() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(deploy().join("prometheus/rules.yml")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let mut out = Vec::new();
    let mut alert = String::new();
    for (n, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        if let Some(name) = t.strip_prefix("- alert:") {
            alert = name.trim().to_owned();
        }
        let Some(rest) = t.strip_prefix("expr:") else {
            continue;
        };
        let rest = rest.trim();
        let expr = if rest.starts_with('>') || rest.starts_with('|') {
            lines[n + 1..]
                .iter()
                .take_while(|l| l.trim().is_empty() || indent(l) > indent(line))
                .map(|l| l.trim())
                .collect::<Vec<_>>()
                .join(" ")
        } else {
            rest.trim_matches('\'').to_owned()
        };
        out.push((format!("rules.yml {alert}"), expr));
    }
    let alerts = lines
        .iter()
        .filter(|l| l.trim_start().starts_with("- alert:"))
        .count();
    assert_eq!(out.len(), alerts, "one expr per alert: {out:?}");
    out
}

/// The sample names of a Prometheus text exposition.
fn exposed(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split(['{', ' ']).next().unwrap().to_owned())
        .collect()
}

#[test]
fn metric_names_are_read_from_promql() {
    let names = |e: &str| metric_names(e).into_iter().collect::<Vec<_>>();
    assert_eq!(
        names(
            r#"histogram_quantile(0.95, sum by (le, route) (rate(http_request_duration_seconds_bucket{instance=~"$instance",route!~".*/(events|download)"}[$__rate_interval]))) > 0.5"#
        ),
        ["http_request_duration_seconds_bucket"]
    );
    assert_eq!(
        names(
            r#"sum(increase(jobs_finished_total{kind="import",state="failed"}[1d])) / sum without (instance) (increase(jobs_finished_total[1d])) > 0.10"#
        ),
        ["jobs_finished_total"]
    );
    assert_eq!(
        names(
            "time() - rosterhub_worker_heartbeat_timestamp_seconds > 300 and on (instance) up == 1 or vector(0)"
        ),
        ["rosterhub_worker_heartbeat_timestamp_seconds", "up"]
    );
    assert_eq!(
        names("a / b offset 5m < 0.25 and predict_linear(a[6h], 24 * 3600) < 0 unless c:recorded"),
        ["a", "b", "c:recorded"]
    );
    assert_eq!(
        names(r#"count(sum by (client) (rate(x{l="}"}[5m])) > 0)"#),
        ["x"]
    );
}

#[test]
fn the_deploy_files_name_the_metrics_this_test_checks() {
    let mut all = BTreeSet::new();
    for (_, expr) in dashboard_exprs().into_iter().chain(alert_exprs()) {
        all.extend(metric_names(&expr));
    }
    // The extractor sees the files: a broken reader cannot pass the coverage test vacuously.
    for name in [
        "http_request_duration_seconds_bucket",
        "rosterhub_client_requests_total",
        "rosterhub_import_held_oldest_seconds",
        "rosterhub_worker_heartbeat_timestamp_seconds",
        "rosterhub_disk_free_bytes",
        "process_cpu_seconds_total",
    ] {
        assert!(all.contains(name), "{name} not found in deploy/: {all:?}");
    }
    assert!(all.len() >= 30, "{} names: {all:?}", all.len());
}

fn every_metric_of_the_dashboards_and_alerts_is_exposed(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let server = Server::start(&db, "default", test_config());
    let text = db.rt.block_on(async {
        let (status, body, headers) = server
            .upload("", zip_dir(&fixtures().join("jp-profile-v1.2.1")))
            .await;
        assert_eq!(status, 202, "{body}");
        let job = server.wait(headers["location"].to_str().unwrap()).await;
        assert_eq!(job["state"], "succeeded", "{job}");
        // A OneRoster read by a client of its own: the per-client and route series.
        let reader = server.token_for("default", Scopes::ALL).await;
        let users = server
            .get_with("/ims/oneroster/rostering/v1p2/users?limit=1", Some(&reader))
            .await;
        assert_eq!(users.status(), 200);
        server
            .get_with("/metrics", None)
            .await
            .text()
            .await
            .unwrap()
    });
    let exposed = exposed(&text);
    let mut missing = Vec::new();
    let mut checked = BTreeSet::new();
    for (at, expr) in dashboard_exprs().into_iter().chain(alert_exprs()) {
        for name in metric_names(&expr) {
            if MADE_BY_PROMETHEUS.contains(&name.as_str()) {
                continue;
            }
            if !exposed.contains(&name) {
                missing.push(format!("{at}: {name}"));
            }
            checked.insert(name);
        }
    }
    assert!(
        missing.is_empty(),
        "named under deploy/ but not on /metrics:\n{}\n\n/metrics:\n{text}",
        missing.join("\n")
    );
    assert!(checked.len() >= 30, "{checked:?}");
    // The import ran on this server: its rows and duration are counted, with bounded labels.
    assert!(
        text.lines().any(
            |l| l.starts_with("rosterhub_import_rows_total{entity=\"users\"}")
                && !l.ends_with(" 0")
        ),
        "{text}"
    );
    assert!(
        text.contains("rosterhub_job_duration_seconds_count{kind=\"import\",outcome=\"applied\"}"),
        "{text}"
    );
}

/// What `/metrics` reads of the database at each scrape: every state counted (0 included), the
/// held import that has waited longest, the size and the pools.
fn the_scrape_counts_jobs_by_state_and_finds_the_oldest_held_import(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    db.tenant("t1");
    db.block_on(async {
        let empty = db.store.ops_gauges().await.unwrap();
        assert!(empty.jobs.iter().all(|(_, n)| *n == 0), "{empty:?}");
        assert_eq!(empty.oldest_held_ms, None);
        for (id, state, updated_at) in [
            ("j1", "queued", 1_000),
            ("j2", "queued", 2_000),
            ("j3", "held", 5_000),
            ("j4", "held", 3_000),
            ("j5", "succeeded", 4_000),
        ] {
            let sql = format!(
                "INSERT INTO jobs (id, tenant_id, kind, state, params, created_at, updated_at) \
                 VALUES ('{id}', 't1', 'import', '{state}', '{{}}', 1, {updated_at})"
            );
            assert_eq!(exec(&db, &sql, &[]).await, 1);
        }
        let gauges = db.store.ops_gauges().await.unwrap();
        assert_eq!(
            gauges.jobs,
            vec![
                (JobState::Queued, 2),
                (JobState::Running, 0),
                (JobState::Held, 2),
                (JobState::Succeeded, 1),
                (JobState::Failed, 0),
                (JobState::Cancelled, 0),
                (JobState::Discarded, 0),
            ]
        );
        assert_eq!(gauges.oldest_held_ms, Some(3_000));
        assert!(gauges.database_bytes > 0, "{gauges:?}");
    });
    let pools: Vec<(&str, u64)> = db
        .store
        .pool_gauges()
        .iter()
        .map(|p| (p.name, p.max))
        .collect();
    match backend {
        Backend::Sqlite => assert_eq!(pools, [("sqlite_read", 16), ("sqlite_ops", 8)]),
        Backend::Postgres => assert_eq!(pools, [("postgres", 16)]),
    }
}

crate::on_both_backends!(
    every_metric_of_the_dashboards_and_alerts_is_exposed,
    the_scrape_counts_jobs_by_state_and_finds_the_oldest_held_import,
);
