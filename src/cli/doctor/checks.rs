//! The checks of `doctor`, in the order a person fixes things: the configuration, the database
//! and its migrations, the keys, disk space, the clock, the workers. A check whose ground is
//! missing (no database) is left out rather than reported as a second failure.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::{Line, Status};
use crate::cli::config_show::{Effective, effective};
use crate::cli::keys::TURN_ON;
use crate::domain::datetime::now_ms;
use crate::pii::PiiError;
use crate::storage::health::{Reach, SchemaState, reach};
use crate::storage::{DEFAULT_DATABASE_URL, Store, StoreError, redact_url};

/// Disk space below these shares of the volume is a warning, then a failure.
const DISK_WARN: f64 = 0.10;
const DISK_FAIL: f64 = 0.02;
/// Clock differences (ms) from which the clock check warns, then fails: leases assume clocks
/// agree within a fraction of a lease (30 s by default).
const SKEW_WARN_MS: i64 = 2_000;
const SKEW_FAIL_MS: i64 = 10_000;
/// A queued job nobody claimed for this long (ms) means no worker is running.
const QUEUED_TOO_LONG_MS: i64 = 60_000;

fn ok(check: &'static str, en: String, ja: String) -> Line {
    Line::new(Status::Ok, check, en, ja)
}
fn warn(check: &'static str, en: String, ja: String) -> Line {
    Line::new(Status::Warn, check, en, ja)
}
fn fail(check: &'static str, en: String, ja: String) -> Line {
    Line::new(Status::Fail, check, en, ja)
}

/// Every check's line.
pub(super) async fn all(args: &[OsString], serve_flags: &[OsString]) -> Vec<Line> {
    let mut lines = Vec::new();
    let eff = match effective(args, serve_flags) {
        Ok(eff) => eff,
        Err(e) => {
            lines.push(fail(
                "config",
                format!("{e} — fix the file, or name another with --config"),
                format!("{e} — ファイルを直すか、--config で別のファイルを指定してください"),
            ));
            return lines;
        }
    };
    let Some(serve) = config(&eff, &mut lines) else {
        return lines;
    };
    let url = serve
        .db
        .database_url
        .clone()
        .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
    if let Some(store) = database(&url, &mut lines).await {
        lines.push(pii_key(&store, &serve.pii.settings()).await);
        lines.push(signing_key(&store).await);
        lines.push(disk(&crate::storage::data_dir(&url)));
        lines.push(clock(&store).await);
        lines.push(workers(&store).await);
    } else {
        lines.push(disk(&crate::storage::data_dir(&url)));
    }
    lines
}

/// The configuration file's warnings and `serve`'s own checks; the settings when they parse.
fn config(eff: &Effective, lines: &mut Vec<Line>) -> Option<crate::cli::ServeArgs> {
    for w in &eff.warnings {
        lines.push(warn(
            "config",
            format!("{w} — correct or remove it"),
            format!("{w} — 直すか削除してください"),
        ));
    }
    let serve = match &eff.serve {
        Ok(serve) => serve.clone(),
        Err(e) => {
            let e = e
                .lines()
                .next()
                .unwrap_or_default()
                .trim_start_matches("error: ");
            lines.push(fail(
                "config",
                format!("{e} — `rosterhub config show` shows each value and where it came from"),
                format!("{e} — 各値とその出所は `rosterhub config show` で確認できます"),
            ));
            return None;
        }
    };
    let file = match &eff.file {
        Some(f) => format!("file {}", f.display()),
        None => "no configuration file".to_owned(),
    };
    let file_ja = match &eff.file {
        Some(f) => format!("ファイル {}", f.display()),
        None => "設定ファイルなし".to_owned(),
    };
    match crate::cli::serve::check(&serve) {
        Ok(()) => lines.push(ok(
            "config",
            format!("serve settings are valid ({file})"),
            format!("serve の設定は有効です ({file_ja})"),
        )),
        Err(e) => lines.push(fail(
            "config",
            format!("{e:#} — `rosterhub config show` shows where the value came from"),
            format!("{e:#} — 値の出所は `rosterhub config show` で確認できます"),
        )),
    }
    Some(serve)
}

/// Reaches the database and reads its migrations; the store when the schema is current.
async fn database(url: &str, lines: &mut Vec<Line>) -> Option<Store> {
    let shown = redact_url(url);
    let states = match reach(url).await {
        Ok(Reach::Found(states)) => states,
        Ok(Reach::Missing(path)) => {
            let path = std::path::absolute(&path).unwrap_or(path);
            let p = path.display();
            lines.push(fail(
                "database",
                format!(
                    "no database at {p} — create it with `rosterhub migrate` (serve creates it \
                     at its first start), or set database_url to the existing one"
                ),
                format!(
                    "{p} にデータベースがありません — `rosterhub migrate` で作成するか \
                     (serve も初回起動時に作成します)、database_url に既存のデータベースを指定\
                     してください"
                ),
            ));
            return None;
        }
        Err(e) => {
            lines.push(fail(
                "database",
                format!(
                    "cannot reach {shown}: {e} — check the URL (`rosterhub config show`), that \
                     the server runs and that this machine may connect to it"
                ),
                format!(
                    "{shown} に接続できません: {e} — URL (`rosterhub config show`)、サーバーが\
                     動いていること、このマシンから接続できることを確認してください"
                ),
            ));
            return None;
        }
    };
    lines.push(ok(
        "database",
        format!("{shown} answers"),
        format!("{shown} に接続できます"),
    ));
    let line = migrations(&states);
    let current = line.status == Status::Ok;
    lines.push(line);
    if !current {
        return None;
    }
    match Store::open_as_is(url).await {
        Ok(store) => Some(store),
        Err(e) => {
            lines.push(fail(
                "database",
                format!("cannot open {shown}: {e} — check the database server's log"),
                format!("{shown} を開けません: {e} — データベースサーバーのログを確認してください"),
            ));
            None
        }
    }
}

/// The migration state of each schema.
pub(super) fn migrations(states: &[SchemaState]) -> Line {
    let parts: Vec<String> = states
        .iter()
        .map(|s| format!("{} {} of {}", s.part, s.current, s.latest))
        .collect();
    let parts_ja: Vec<String> = states
        .iter()
        .map(|s| {
            let part = if s.part == "database" {
                "データベース"
            } else {
                "運用ファイル"
            };
            format!("{part} {}/{}", s.current, s.latest)
        })
        .collect();
    let (en, ja) = (parts.join(", "), parts_ja.join("、"));
    if states.iter().any(|s| s.current > s.latest) {
        return fail(
            "migrations",
            format!(
                "schema {en}: the database is newer than this rosterhub — run the rosterhub \
                 version that migrated it, or a later one"
            ),
            format!(
                "スキーマ {ja}: データベースがこの rosterhub より新しい版です — 移行した版以降の \
                 rosterhub を使ってください"
            ),
        );
    }
    if states.iter().any(|s| s.current < s.latest) {
        return warn(
            "migrations",
            format!(
                "schema {en}: not migrated; the other database checks wait for it — run \
                 `rosterhub migrate` (serve also migrates at start), then doctor again"
            ),
            format!(
                "スキーマ {ja}: 移行されていないため、ほかのデータベースの確認は行っていません — \
                 `rosterhub migrate` を実行してから (serve も起動時に移行します)、もう一度 doctor \
                 を実行してください"
            ),
        );
    }
    ok(
        "migrations",
        format!("schema {en}: up to date"),
        format!("スキーマ {ja}: 最新です"),
    )
}

/// Whether the configured PII keys open the database and decrypt a stored value.
async fn pii_key(store: &Store, settings: &crate::pii::PiiSettings) -> Line {
    const C: &str = "pii-key";
    let config = match settings.load() {
        Ok(c) => c,
        Err(e) => return pii_failure(C, &e),
    };
    let id = config.as_ref().map(|c| c.current.id().to_owned());
    let pii = match store.pii_check(config).await {
        Ok(p) => p,
        Err(StoreError::Pii(e)) => return pii_failure(C, &e),
        Err(e) => return store_failure(C, &e),
    };
    let Some(pii) = pii else {
        return warn(
            C,
            format!("personal data encryption is off — {TURN_ON}"),
            "個人情報の暗号化がオフです — `rosterhub keys generate` で鍵を作り、すべての rosterhub \
             コマンドに ROSTERHUB_PII_KEY (またはファイル: pii_key_file) として渡してください \
             (SECURITY.md)"
                .to_owned(),
        );
    };
    let id = id.unwrap_or_default();
    match store.decrypt_sample(&pii).await {
        Ok(Some(place)) => ok(
            C,
            format!("key {id} decrypts a stored value ({place})"),
            format!("鍵 {id} で保存済みの値を復号できます ({place})"),
        ),
        Ok(None) => ok(
            C,
            format!("key {id} is configured; no value is encrypted yet"),
            format!("鍵 {id} が設定されています。暗号化された値はまだありません"),
        ),
        Err(StoreError::Pii(e)) => pii_failure(C, &e),
        Err(e) => store_failure(C, &e),
    }
}

/// A PII key problem, with what to do.
fn pii_failure(check: &'static str, e: &PiiError) -> Line {
    let ja = match e {
        PiiError::Config(m) => format!("PII 鍵の設定に誤りがあります: {m}"),
        PiiError::KeyRequired => {
            "このデータベースには暗号化された個人情報がありますが、鍵が設定されていません — \
             ROSTERHUB_PII_KEY または pii_key_file にその鍵を設定してください (鍵 ID は \
             `rosterhub keys status` で分かります)"
                .to_owned()
        }
        PiiError::KeyNotConfigured { needed, .. } => format!(
            "個人情報は鍵 {needed} で暗号化されていますが、その鍵が設定されていません — \
             鍵の切り替え中なら古い鍵を ROSTERHUB_PII_KEY_PREVIOUS に設定してください"
        ),
        PiiError::KeyCheckFailed(id) => format!(
            "鍵 {id} はこのデータベースの鍵の確認に合いません — データを暗号化した鍵を設定して\
             ください"
        ),
        PiiError::UnknownKey { table, column, key } => format!(
            "{table}.{column} の値は設定されていない鍵 {key} で暗号化されています — その鍵を \
             ROSTERHUB_PII_KEY_PREVIOUS に設定し、`rosterhub keys rotate` を実行してください"
        ),
        PiiError::Authentication { table, column } => format!(
            "{table}.{column} の値を復号できません (鍵の誤り、改ざん、または別の行からの複製) — \
             データを暗号化した鍵を設定してください"
        ),
    };
    let todo = match e {
        PiiError::KeyRequired => " — `rosterhub keys status` lists the key ids in use",
        PiiError::UnknownKey { .. } => {
            " — set that key as ROSTERHUB_PII_KEY_PREVIOUS and run `rosterhub keys rotate`"
        }
        PiiError::Authentication { .. } | PiiError::KeyCheckFailed(_) => {
            " — configure the key the data was encrypted with"
        }
        PiiError::Config(_) | PiiError::KeyNotConfigured { .. } => "",
    };
    fail(check, format!("{e}{todo}"), ja)
}

fn store_failure(check: &'static str, e: &StoreError) -> Line {
    fail(
        check,
        format!("cannot read the database: {e} — check the database server's log"),
        format!("データベースを読めません: {e} — データベースサーバーのログを確認してください"),
    )
}

async fn signing_key(store: &Store) -> Line {
    const C: &str = "signing-key";
    match store.current_signing_key().await {
        Ok(Some(key)) => ok(
            C,
            format!("key {} signs access tokens", key.kid),
            format!("鍵 {} がアクセストークンに署名します", key.kid),
        ),
        Ok(None) => warn(
            C,
            "no key signs access tokens yet — serve makes one at its first start, or run \
             `rosterhub signing-key rotate`"
                .to_owned(),
            "アクセストークンの署名鍵がまだありません — serve が初回起動時に作成します。\
             `rosterhub signing-key rotate` でも作成できます"
                .to_owned(),
        ),
        Err(e) => fail(
            C,
            format!(
                "the signing key cannot be read: {e} — run `rosterhub signing-key rotate` \
                 (tokens it signed stop working)"
            ),
            format!(
                "署名鍵を読めません: {e} — `rosterhub signing-key rotate` を実行してください \
                 (その鍵で署名したトークンは使えなくなります)"
            ),
        ),
    }
}

/// The nearest existing folder at or above `path` (the data directory may not exist yet).
fn existing_ancestor(path: &Path) -> PathBuf {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    abs.ancestors()
        .find(|p| p.exists())
        .map(Path::to_owned)
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// The status of `free` bytes of `total` on a volume.
pub(super) fn disk_status(free: u64, total: u64) -> Status {
    let share = if total == 0 {
        0.0
    } else {
        free as f64 / total as f64
    };
    if share < DISK_FAIL {
        Status::Fail
    } else if share < DISK_WARN {
        Status::Warn
    } else {
        Status::Ok
    }
}

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
}

fn disk(data_dir: &Path) -> Line {
    const C: &str = "disk";
    let dir = existing_ancestor(data_dir);
    let d = dir.display();
    let stat = match rustix::fs::statvfs(&dir) {
        Ok(s) => s,
        Err(e) => {
            return warn(
                C,
                format!("cannot read the free space of {d}: {e} — check it with `df -h {d}`"),
                format!("{d} の空き容量を読めません: {e} — `df -h {d}` で確認してください"),
            );
        }
    };
    let (free, total) = (stat.f_bavail * stat.f_frsize, stat.f_blocks * stat.f_frsize);
    let pct = (free * 100).checked_div(total).unwrap_or(0);
    let amounts = format!("{d}: {pct}% free ({} of {})", gib(free), gib(total));
    let amounts_ja = format!("{d}: 空き {pct}% ({} / {})", gib(free), gib(total));
    match disk_status(free, total) {
        Status::Ok => ok(C, amounts, amounts_ja),
        status => Line::new(
            status,
            C,
            format!(
                "{amounts} — free space or grow the volume: uploaded and exported files are \
                 kept for retention_days, the audit log for audit_retention_days; SQLite needs \
                 room to write its WAL"
            ),
            format!(
                "{amounts_ja} — 空きを増やすかボリュームを拡張してください (アップロード/エクスポート\
                 のファイルは retention_days、監査ログは audit_retention_days の間保存されます。\
                 SQLite は WAL を書く領域を必要とします)"
            ),
        ),
    }
}

/// This machine's clock against the database server's (PostgreSQL) and against the newest
/// times stamped in the database.
async fn clock(store: &Store) -> Line {
    const C: &str = "clock";
    let before = now_ms();
    let db_now = match store.database_now_ms().await {
        Ok(t) => t,
        Err(e) => return store_failure(C, &e),
    };
    let after = now_ms();
    let todo = "synchronise the clocks with NTP (chrony, systemd-timesyncd): job leases and \
                dateLastModified assume they agree";
    let todo_ja = "NTP (chrony、systemd-timesyncd) で時刻を同期してください: ジョブのリースと \
                   dateLastModified は時刻が合っていることを前提にしています";
    if let Some(db_now) = db_now {
        // The server's time was read between `before` and `after`.
        let skew = (before + after) / 2 - db_now;
        let status = match skew.abs() {
            s if s >= SKEW_FAIL_MS => Status::Fail,
            s if s >= SKEW_WARN_MS => Status::Warn,
            _ => Status::Ok,
        };
        if status != Status::Ok {
            let secs = skew.abs() as f64 / 1000.0;
            let (way, way_ja) = if skew > 0 {
                ("ahead of", "進んでいます")
            } else {
                ("behind", "遅れています")
            };
            return Line::new(
                status,
                C,
                format!("this machine's clock is {secs:.1} s {way} the database server's — {todo}"),
                format!(
                    "このマシンの時計はデータベースサーバーより {secs:.1} 秒{way_ja} — {todo_ja}"
                ),
            );
        }
    }
    let imports = store.newest_import_ms().await;
    let jobs = store.job_liveness(after).await.map(|l| l.newest_update);
    let newest = match (imports, jobs) {
        (Ok(a), Ok(b)) => a.max(b),
        (Err(e), _) | (_, Err(e)) => return store_failure(C, &e),
    };
    if let Some(newest) = newest.filter(|n| *n > after + SKEW_WARN_MS) {
        let secs = (newest - after) as f64 / 1000.0;
        let t = crate::domain::datetime::format_ms(newest);
        return warn(
            C,
            format!(
                "the database holds a time ({t}) {secs:.1} s after this machine's clock: a \
                 replica's clock is ahead or this one is behind — {todo}"
            ),
            format!(
                "データベースにこのマシンの時計より {secs:.1} 秒先の時刻 ({t}) が記録されています。\
                 どこかのレプリカの時計が進んでいるか、このマシンの時計が遅れています — {todo_ja}"
            ),
        );
    }
    match db_now {
        Some(_) => ok(
            C,
            "this machine's clock agrees with the database server's (within 2 s)".to_owned(),
            "このマシンの時計はデータベースサーバーと一致しています (2 秒以内)".to_owned(),
        ),
        None => ok(
            C,
            "no time stamped in the database is ahead of this machine's clock".to_owned(),
            "データベースに記録された時刻はこのマシンの時計より先ではありません".to_owned(),
        ),
    }
}

/// Running jobs whose heartbeat stopped, and queued jobs nobody claims.
async fn workers(store: &Store) -> Line {
    const C: &str = "workers";
    let now = now_ms();
    let l = match store.job_liveness(now).await {
        Ok(l) => l,
        Err(e) => return store_failure(C, &e),
    };
    if let Some(oldest) = l.stale.first() {
        let secs = (now - oldest.lease_until) / 1000;
        let jobs: Vec<String> = l
            .stale
            .iter()
            .map(|j| format!("{} {}", j.kind, j.id))
            .collect();
        let jobs = jobs.join(", ");
        let n = l.stale_count;
        return warn(
            C,
            format!(
                "{n} running job(s) without a heartbeat, the oldest for {secs} s ({jobs}) — \
                 their worker stopped; a replica with workers takes them over, and if none runs, \
                 start `rosterhub serve` with workers ≥ 1"
            ),
            format!(
                "実行中のジョブ {n} 件のハートビートが止まっています (最長 {secs} 秒、{jobs}) — \
                 ワーカーが停止しています。ワーカーのあるレプリカが引き継ぎます。動いていなければ \
                 workers ≥ 1 で `rosterhub serve` を起動してください"
            ),
        );
    }
    if let Some(since) = l
        .oldest_queued_at
        .filter(|t| l.running == 0 && now - *t > QUEUED_TOO_LONG_MS)
    {
        let secs = (now - since) / 1000;
        let q = l.queued;
        return warn(
            C,
            format!(
                "{q} job(s) queued, the oldest for {secs} s, and none running — no worker claims \
                 them: start `rosterhub serve` with workers ≥ 1 (workers = 0 serves the API only)"
            ),
            format!(
                "{q} 件のジョブが待機中 (最長 {secs} 秒) で、実行中のものがありません — ジョブを\
                 取るワーカーがいません。workers ≥ 1 で `rosterhub serve` を起動してください \
                 (workers = 0 は API のみ)"
            ),
        );
    }
    ok(
        C,
        format!(
            "{} running with current heartbeats, {} queued",
            l.running, l.queued
        ),
        format!(
            "実行中 {} 件 (ハートビート正常)、待機中 {} 件",
            l.running, l.queued
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_space_warns_below_ten_percent_and_fails_below_two() {
        assert_eq!(disk_status(50, 100), Status::Ok);
        assert_eq!(disk_status(10, 100), Status::Ok);
        assert_eq!(disk_status(9, 100), Status::Warn);
        assert_eq!(disk_status(2, 100), Status::Warn);
        assert_eq!(disk_status(1, 100), Status::Fail);
        assert_eq!(disk_status(0, 0), Status::Fail);
    }

    #[test]
    fn migrations_behind_warn_and_ahead_fail() {
        let s = |current| SchemaState {
            part: "database",
            current,
            latest: 12,
        };
        let ops = SchemaState {
            part: "operational file",
            current: 5,
            latest: 5,
        };
        let line = migrations(&[s(12), ops.clone()]);
        assert_eq!(
            (line.status, line.en.as_str()),
            (
                Status::Ok,
                "schema database 12 of 12, operational file 5 of 5: up to date"
            )
        );
        assert_eq!(
            line.ja,
            "スキーマ データベース 12/12、運用ファイル 5/5: 最新です"
        );
        assert_eq!(migrations(&[s(0), ops.clone()]).status, Status::Warn);
        assert_eq!(migrations(&[s(13), ops]).status, Status::Fail);
    }
}
