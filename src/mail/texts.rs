//! What each notice says, in Japanese and English: a subject and a plain-text body that tell
//! the admin what happened, the numbers, and what to do next. Pure: the facts come in as a
//! [`Notice`], built from a job's report by `outbox` and `summary`.

use serde_json::Value as Json;

use super::Lang;

/// One entity's counts in a report (`entities` of the import report).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntityCounts {
    pub entity: String,
    pub inserted: u64,
    pub updated: u64,
    pub tombstoned: u64,
    pub unchanged: u64,
}

impl EntityCounts {
    /// The `entities` object of a report, in its order.
    pub fn of_report(report: &Json) -> Vec<EntityCounts> {
        let Some(map) = report.get("entities").and_then(Json::as_object) else {
            return Vec::new();
        };
        let n = |v: &Json, k: &str| v.get(k).and_then(Json::as_u64).unwrap_or(0);
        map.iter()
            .map(|(entity, c)| EntityCounts {
                entity: entity.clone(),
                inserted: n(c, "inserted"),
                updated: n(c, "updated"),
                tombstoned: n(c, "tombstoned"),
                unchanged: n(c, "unchanged"),
            })
            .collect()
    }

    fn line(&self, lang: Lang) -> String {
        match lang {
            Lang::Ja => format!(
                "  {}: 追加 {} / 変更 {} / 削除 {} / 変更なし {}",
                self.entity, self.inserted, self.updated, self.tombstoned, self.unchanged
            ),
            Lang::En => format!(
                "  {}: {} inserted, {} updated, {} tombstoned, {} unchanged",
                self.entity, self.inserted, self.updated, self.tombstoned, self.unchanged
            ),
        }
    }
}

/// `findings_by_code` of a report: `(code, count)`, most frequent first.
pub fn findings_of_report(report: &Json) -> Vec<(String, u64)> {
    report
        .get("findings_by_code")
        .and_then(Json::as_array)
        .map(|codes| {
            codes
                .iter()
                .filter_map(|c| {
                    Some((
                        c.get("code")?.as_str()?.to_owned(),
                        c.get("count")?.as_u64()?,
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Where a job is seen and decided on: `base` is the server's public URL ("" when unknown:
/// the paths alone are given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobLinks {
    pub page: String,
    pub api: String,
}

impl JobLinks {
    pub fn new(base: &str, job_id: &str) -> JobLinks {
        let base = base.trim_end_matches('/');
        JobLinks {
            page: format!("{base}{}/imports/{job_id}", crate::web::UI_BASE_PATH),
            api: format!("{base}{}/imports/{job_id}", crate::web::ADMIN_BASE_PATH),
        }
    }
}

/// An import of a daily summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryImport {
    /// `HH:MM` in the UI's zone.
    pub time: String,
    pub file_name: Option<String>,
    pub job_id: String,
}

/// What a notice is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    Held {
        tenant: String,
        job_id: String,
        file_name: Option<String>,
        entities: Vec<EntityCounts>,
        links: JobLinks,
    },
    Failed {
        tenant: String,
        job_id: String,
        file_name: Option<String>,
        error: String,
        findings: Vec<(String, u64)>,
        links: JobLinks,
    },
    IntakeRefused {
        tenant: String,
        file_name: String,
        error: String,
    },
    /// A scheduled pull that failed (`intake.refused`, as a refused drop-folder file).
    PullFailed {
        tenant: String,
        pull: String,
        /// The URL without its query.
        url: String,
        error: String,
    },
    Summary {
        tenant: String,
        /// `YYYY-MM-DD` in the UI's zone.
        day: String,
        imports: Vec<SummaryImport>,
        totals: Vec<EntityCounts>,
        findings: Vec<(String, u64)>,
    },
}

const TAG: &str = "【RosterHub】";

impl Notice {
    /// The event name the outbox stores (the webhook event's, or `summary.daily`).
    pub fn event(&self) -> &'static str {
        match self {
            Notice::Held { .. } => "import.held",
            Notice::Failed { .. } => "import.failed",
            Notice::IntakeRefused { .. } | Notice::PullFailed { .. } => "intake.refused",
            Notice::Summary { .. } => "summary.daily",
        }
    }

    pub fn tenant(&self) -> &str {
        match self {
            Notice::Held { tenant, .. }
            | Notice::Failed { tenant, .. }
            | Notice::IntakeRefused { tenant, .. }
            | Notice::PullFailed { tenant, .. }
            | Notice::Summary { tenant, .. } => tenant,
        }
    }

    /// The subject and the body in `lang`.
    pub fn render(&self, lang: Lang) -> (String, String) {
        match lang {
            Lang::Ja => self.ja(),
            Lang::En => self.en(),
        }
    }

    fn ja(&self) -> (String, String) {
        match self {
            Notice::Held {
                tenant,
                job_id,
                file_name,
                entities,
                links,
            } => {
                let (file, suffix) = names(file_name, Lang::Ja);
                let mut b = format!(
                    "テナント「{tenant}」の取り込み{file}を保留しました。\n\
                     在籍者（users または enrollments）の削除が安全のしきい値を超えるためです。\n\
                     まだ何も書き込まれていません。\n\n予定されている変更:\n"
                );
                lines(&mut b, entities, Lang::Ja);
                b.push_str(&format!(
                    "\n内容を確認し、正しければ承認してください。承認すると適用されます:\n\
                     \x20 画面: {page}\n\
                     \x20 API: POST {api}/approve\n\
                     正しくなければ破棄してください（画面の「破棄」、または POST {api}/discard）。\n\
                     \nジョブ ID: {job_id}\n",
                    page = links.page,
                    api = links.api,
                ));
                (
                    format!("{TAG}取り込みを保留しました（{tenant}）{suffix}"),
                    b,
                )
            }
            Notice::Failed {
                tenant,
                job_id,
                file_name,
                error,
                findings,
                links,
            } => {
                let (file, suffix) = names(file_name, Lang::Ja);
                let mut b = format!(
                    "テナント「{tenant}」の取り込み{file}は失敗しました。何も書き込まれていません。\n\
                     理由: {error}\n"
                );
                codes(&mut b, findings, "\n指摘（コード別の件数）:\n");
                b.push_str(&format!(
                    "\n指摘の一覧と各コードの直し方は次の画面にあります。ファイルを直してもう一度\
                     アップロードしてください:\n  {page}\n  指摘の CSV: {api}/findings.csv\n\
                     \nジョブ ID: {job_id}\n",
                    page = links.page,
                    api = links.api,
                ));
                (
                    format!("{TAG}取り込みに失敗しました（{tenant}）{suffix}"),
                    b,
                )
            }
            Notice::IntakeRefused {
                tenant,
                file_name,
                error,
            } => (
                format!(
                    "{TAG}受け取りフォルダーのファイルを受け付けませんでした（{tenant}）: {file_name}"
                ),
                format!(
                    "テナント「{tenant}」の受け取りフォルダーに置かれた {file_name} は取り込めません\
                     でした。何も書き込まれていません。\n理由: {error}\n\n\
                     ファイルは failed/ フォルダーに、理由を書いた {file_name}.report.json と並べて\
                     移してあります。OneRoster の CSV と manifest.csv を入れた ZIP を作り直して、\
                     もう一度フォルダーに置いてください。\n"
                ),
            ),
            Notice::PullFailed {
                tenant,
                pull,
                url,
                error,
            } => (
                format!("{TAG}定期取得に失敗しました（{tenant}）: {pull}"),
                format!(
                    "テナント「{tenant}」の定期取得 {pull}（{url}）は取り込めませんでした。\
                     何も書き込まれていません。\n理由: {error}\n\n\
                     取得先のサーバーと、取得の設定ファイル（--intake-pulls）を確かめてください。\
                     次の予定の時刻に、もう一度取得します。\n"
                ),
            ),
            Notice::Summary {
                tenant,
                day,
                imports,
                totals,
                findings,
            } => {
                let mut b = format!("テナント「{tenant}」の {day} の取り込みのまとめです。\n\n");
                if imports.is_empty() {
                    b.push_str("この日に適用された取り込みはありません。\n");
                } else {
                    b.push_str(&format!("適用された取り込み: {} 件\n", imports.len()));
                    for i in imports {
                        b.push_str(&format!(
                            "  {} {}（ジョブ {}）\n",
                            i.time,
                            i.file_name.as_deref().unwrap_or("(名前なし)"),
                            i.job_id
                        ));
                    }
                    b.push_str("\n件数の合計:\n");
                    lines(&mut b, totals, Lang::Ja);
                    codes(&mut b, findings, "\n指摘（コード別の件数）:\n");
                }
                (format!("{TAG}{day} のまとめ（{tenant}）"), b)
            }
        }
    }

    fn en(&self) -> (String, String) {
        match self {
            Notice::Held {
                tenant,
                job_id,
                file_name,
                entities,
                links,
            } => {
                let (file, suffix) = names(file_name, Lang::En);
                let mut b = format!(
                    "The import{file} of tenant \"{tenant}\" is held: it would tombstone more \
                     users or enrollments than the safety threshold allows.\n\
                     Nothing has been written yet.\n\nThe changes it would make:\n"
                );
                lines(&mut b, entities, Lang::En);
                b.push_str(&format!(
                    "\nCheck them; if they are right, approve the import to apply it:\n\
                     \x20 Page: {page}\n\
                     \x20 API: POST {api}/approve\n\
                     If they are wrong, discard it (\"Discard\" on the page, or POST {api}/discard).\n\
                     \nJob id: {job_id}\n",
                    page = links.page,
                    api = links.api,
                ));
                (format!("[RosterHub] Import held ({tenant}){suffix}"), b)
            }
            Notice::Failed {
                tenant,
                job_id,
                file_name,
                error,
                findings,
                links,
            } => {
                let (file, suffix) = names(file_name, Lang::En);
                let mut b = format!(
                    "The import{file} of tenant \"{tenant}\" failed; nothing was written.\n\
                     Why: {error}\n"
                );
                codes(&mut b, findings, "\nFindings by code:\n");
                b.push_str(&format!(
                    "\nThe findings, and how to fix each code, are on the import's page; fix the \
                     file and upload it again:\n  {page}\n  Findings as CSV: {api}/findings.csv\n\
                     \nJob id: {job_id}\n",
                    page = links.page,
                    api = links.api,
                ));
                (format!("[RosterHub] Import failed ({tenant}){suffix}"), b)
            }
            Notice::IntakeRefused {
                tenant,
                file_name,
                error,
            } => (
                format!("[RosterHub] Drop-folder file refused ({tenant}): {file_name}"),
                format!(
                    "The file {file_name} put in the drop folder of tenant \"{tenant}\" could not \
                     be imported; nothing was written.\nWhy: {error}\n\n\
                     It was moved to the failed/ folder with {file_name}.report.json beside it. \
                     Make a ZIP of the OneRoster CSV files with manifest.csv and put it in the \
                     folder again.\n"
                ),
            ),
            Notice::PullFailed {
                tenant,
                pull,
                url,
                error,
            } => (
                format!("[RosterHub] Scheduled pull failed ({tenant}): {pull}"),
                format!(
                    "The scheduled pull {pull} ({url}) of tenant \"{tenant}\" could not be \
                     imported; nothing was written.\nWhy: {error}\n\n\
                     Check the server it pulls from and the pulls file (--intake-pulls). It is \
                     pulled again at its next scheduled time.\n"
                ),
            ),
            Notice::Summary {
                tenant,
                day,
                imports,
                totals,
                findings,
            } => {
                let mut b = format!("The imports of tenant \"{tenant}\" on {day}.\n\n");
                if imports.is_empty() {
                    b.push_str("No import was applied that day.\n");
                } else {
                    b.push_str(&format!("Imports applied: {}\n", imports.len()));
                    for i in imports {
                        b.push_str(&format!(
                            "  {} {} (job {})\n",
                            i.time,
                            i.file_name.as_deref().unwrap_or("(unnamed)"),
                            i.job_id
                        ));
                    }
                    b.push_str("\nTotals:\n");
                    lines(&mut b, totals, Lang::En);
                    codes(&mut b, findings, "\nFindings by code:\n");
                }
                (format!("[RosterHub] Summary of {day} ({tenant})"), b)
            }
        }
    }
}

/// An upload's file name in a body's sentence and at the end of a subject; nothing when the
/// upload had none (a raw ZIP body).
fn names(file_name: &Option<String>, lang: Lang) -> (String, String) {
    match (file_name, lang) {
        (None, _) => (String::new(), String::new()),
        (Some(f), Lang::Ja) => (format!("（{f}）"), format!(": {f}")),
        (Some(f), Lang::En) => (format!(" {f}"), format!(": {f}")),
    }
}

fn lines(b: &mut String, entities: &[EntityCounts], lang: Lang) {
    for e in entities {
        b.push_str(&e.line(lang));
        b.push('\n');
    }
}

/// The findings by code under `title`, when there are any.
fn codes(b: &mut String, findings: &[(String, u64)], title: &str) {
    if findings.is_empty() {
        return;
    }
    b.push_str(title);
    for (code, n) in findings {
        b.push_str(&format!("  {code}: {n}\n"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_failed_pull_in_both_languages_names_the_pull_and_the_reason() {
        let n = Notice::PullFailed {
            tenant: "city".into(),
            pull: "nightly".into(),
            url: "https://sis.example.jp/roster.zip".into(),
            error: "HTTP 404".into(),
        };
        assert_eq!(n.event(), "intake.refused");
        let (subject, body) = n.render(Lang::Ja);
        assert_eq!(
            subject,
            "【RosterHub】定期取得に失敗しました（city）: nightly"
        );
        assert!(
            body.starts_with(
                "テナント「city」の定期取得 nightly（https://sis.example.jp/roster.zip）は"
            ) && body.contains("\n理由: HTTP 404\n"),
            "{body}"
        );
        let (subject, body) = n.render(Lang::En);
        assert_eq!(subject, "[RosterHub] Scheduled pull failed (city): nightly");
        assert!(body.contains("\nWhy: HTTP 404\n"), "{body}");
    }

    #[test]
    fn a_held_notice_in_both_languages_names_the_counts_and_the_approval() {
        let report = json!({"entities": {"users": {"inserted": 1, "updated": 2,
            "unchanged": 17, "tombstoned": 31}}});
        let n = Notice::Held {
            tenant: "city".into(),
            job_id: "j1".into(),
            file_name: Some("roster.zip".into()),
            entities: EntityCounts::of_report(&report),
            links: JobLinks::new("https://r.example.jp/", "j1"),
        };
        let (subject, body) = n.render(Lang::Ja);
        assert_eq!(
            subject,
            "【RosterHub】取り込みを保留しました（city）: roster.zip"
        );
        assert!(
            body.contains("  users: 追加 1 / 変更 2 / 削除 31 / 変更なし 17\n"),
            "{body}"
        );
        assert!(
            body.contains("  画面: https://r.example.jp/ui/imports/j1\n"),
            "{body}"
        );
        assert!(
            body.contains("  API: POST https://r.example.jp/api/v1/imports/j1/approve\n"),
            "{body}"
        );
        let (subject, body) = n.render(Lang::En);
        assert_eq!(subject, "[RosterHub] Import held (city): roster.zip");
        assert!(body.contains("  users: 1 inserted, 2 updated, 31 tombstoned, 17 unchanged\n"));
    }

    #[test]
    fn findings_by_code_are_read_from_the_report() {
        let report = json!({"findings_by_code": [
            {"code": "missing_reference", "severity": "error", "count": 300},
            {"code": "bad_date", "severity": "warning", "count": 2}]});
        assert_eq!(
            findings_of_report(&report),
            [("missing_reference".into(), 300), ("bad_date".into(), 2)]
        );
        assert!(findings_of_report(&json!({})).is_empty());
    }
}
