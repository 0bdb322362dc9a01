//! The daily summary: for each tenant, the imports applied on a calendar day of the UI's time
//! zone (their counts per entity and findings by code), sent the next day after
//! `summary_hour`. Every replica with mail configured looks once a minute; the day is claimed
//! in the database (`mail_summaries`) in the same transaction that enqueues the messages, so
//! exactly one replica sends it, and a replica that dies before that commit leaves the day for
//! another.

use std::sync::Arc;
use std::time::Duration;

use time::{Date, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use super::MailConfig;
use super::outbox::mails_for;
use super::texts::{EntityCounts, Notice, SummaryImport, findings_of_report};
use crate::domain::datetime::now_ms;
use crate::storage::{Store, StoreError};

/// How often a replica looks for a due summary.
const LOOK_EVERY: Duration = Duration::from_secs(60);

/// The summary loop, until the task is aborted.
pub fn spawn(store: Store, config: Arc<MailConfig>, owner: String) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(e) = send_due(&store, &config, &owner, now_ms()).await {
                tracing::warn!(error = %e, "daily summaries failed; retrying");
            }
            tokio::time::sleep(LOOK_EVERY).await;
        }
    })
}

fn offset(config: &MailConfig) -> UtcOffset {
    UtcOffset::from_whole_seconds(config.utc_offset_secs).unwrap_or(UtcOffset::UTC)
}

fn local(config: &MailConfig, ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .to_offset(offset(config))
}

/// The day whose summary is due at `now`: yesterday once today's `summary_hour` has come, the
/// day before otherwise.
pub fn due_day(config: &MailConfig, now: i64) -> Date {
    let t = local(config, now);
    let back = if t.hour() >= config.summary_hour {
        1
    } else {
        2
    };
    t.date() - time::Duration::days(back)
}

/// Epoch milliseconds of the start of `day` in the UI's zone.
fn day_start(config: &MailConfig, day: Date) -> i64 {
    PrimitiveDateTime::new(day, Time::MIDNIGHT)
        .assume_offset(offset(config))
        .unix_timestamp()
        * 1000
}

/// Claims and enqueues the summary due at `now` for every tenant whose summary of that day is
/// not yet claimed; the tenants this call claimed. Public: tests pass their own `now`.
pub async fn send_due(
    store: &Store,
    config: &MailConfig,
    owner: &str,
    now: i64,
) -> Result<Vec<String>, StoreError> {
    let day = due_day(config, now);
    let mut sent = Vec::new();
    for (tenant, _) in store.tenants().await? {
        if store.summary_claimed(&tenant, &day.to_string()).await? {
            continue;
        }
        if send_day(store, config, owner, &tenant, day).await? {
            sent.push(tenant);
        }
    }
    Ok(sent)
}

/// The summary of `tenant` for `day`: enqueued with the claim of the day, or `false` when a
/// replica claimed it first.
pub async fn send_day(
    store: &Store,
    config: &MailConfig,
    owner: &str,
    tenant: &str,
    day: Date,
) -> Result<bool, StoreError> {
    let notice = notice(store, config, tenant, day).await?;
    let mails = mails_for(store, Some(config), Some(&notice)).await?;
    let claimed = store
        .claim_summary(tenant, &day.to_string(), owner, &mails)
        .await?;
    if claimed {
        tracing::info!(%tenant, %day, messages = mails.len(), "daily summary enqueued");
    }
    Ok(claimed)
}

/// What the summary of `tenant` for `day` says.
pub async fn notice(
    store: &Store,
    config: &MailConfig,
    tenant: &str,
    day: Date,
) -> Result<Notice, StoreError> {
    let from = day_start(config, day);
    let to = day_start(config, day + time::Duration::days(1));
    let applied = store.applied_imports(tenant, from, to).await?;
    let mut totals: Vec<EntityCounts> = Vec::new();
    let mut findings: Vec<(String, u64)> = Vec::new();
    let mut imports = Vec::new();
    for i in &applied {
        for c in EntityCounts::of_report(&i.report) {
            match totals.iter_mut().find(|t| t.entity == c.entity) {
                Some(t) => {
                    t.inserted += c.inserted;
                    t.updated += c.updated;
                    t.tombstoned += c.tombstoned;
                    t.unchanged += c.unchanged;
                }
                None => totals.push(c),
            }
        }
        for (code, n) in findings_of_report(&i.report) {
            match findings.iter_mut().find(|(c, _)| *c == code) {
                Some((_, total)) => *total += n,
                None => findings.push((code, n)),
            }
        }
        let t = local(config, i.finished_at);
        imports.push(SummaryImport {
            time: format!("{:02}:{:02}", t.hour(), t.minute()),
            file_name: i.file_name.clone(),
            job_id: i.job_id.clone(),
        });
    }
    findings.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(Notice::Summary {
        tenant: tenant.to_owned(),
        day: day.to_string(),
        imports,
        totals,
        findings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::{Mailbox, SmtpConfig, Starttls};

    fn config(hour: u8) -> MailConfig {
        let smtp = SmtpConfig {
            host: "localhost".into(),
            port: 25,
            starttls: Starttls::None,
            username: None,
            password: None,
            tls: crate::mail::smtp::tls_config(None).unwrap(),
            hello_name: "localhost".into(),
            timeout: Duration::from_secs(5),
        };
        let mut c = MailConfig::new(smtp, Mailbox::parse("r@example.jp").unwrap());
        c.summary_hour = hour;
        c
    }

    #[test]
    fn the_due_day_turns_at_the_summary_hour_in_the_ui_zone() {
        let c = config(7);
        // 2026-04-02 06:59 and 07:00 in Tokyo (UTC+9).
        let before = OffsetDateTime::parse(
            "2026-04-01T21:59:00Z",
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        let ms = before.unix_timestamp() * 1000;
        assert_eq!(due_day(&c, ms).to_string(), "2026-03-31");
        assert_eq!(due_day(&c, ms + 60_000).to_string(), "2026-04-01");
        let day = due_day(&c, ms + 60_000);
        // 2026-04-01 00:00 in Tokyo is 2026-03-31 15:00 UTC.
        let midnight = OffsetDateTime::parse(
            "2026-03-31T15:00:00Z",
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        assert_eq!(day_start(&c, day), midnight.unix_timestamp() * 1000);
    }
}
