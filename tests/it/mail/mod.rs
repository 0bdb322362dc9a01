//! E-mail notices through a real SMTP receiver started by the test (`receiver`): a held import
//! reaches each admin of the tenant in their language with its counts and how to approve it;
//! the daily summary, claimed once across two replicas, has the exact counts of the day's
//! imports; a refused drop-folder file is told by e-mail and webhook; STARTTLS with AUTH, and
//! a server without the STARTTLS that is required.

mod receiver;

use std::sync::Arc;
use std::time::Duration;

use rosterhub::jobs::JobsConfig;
use rosterhub::mail::{Lang, MailConfig, Mailbox, SmtpConfig, SmtpPassword, Starttls};
use rosterhub::users::{AdminUser, Role};
use serde_json::{Value, json};

use crate::helpers::{Backend, TempBundle, TestDb, fixtures};
use crate::raw_sql::ops_count;
use crate::server::{Server, test_config, zip_dir};
use crate::users::user;
use receiver::{Offer, Received, SmtpReceiver};

crate::on_both_backends!(
    a_held_import_reaches_each_admin_in_their_language_and_the_summary_counts_the_day,
    a_refused_drop_folder_file_is_told_by_mail_and_webhook,
    starttls_and_auth_and_a_server_without_the_required_starttls,
);

/// Settings for the receiver on `port`, quick to poll and retry.
fn mail_config(port: u16, starttls: Starttls, ca: Option<&std::path::Path>) -> MailConfig {
    let smtp = SmtpConfig {
        host: "localhost".into(),
        port,
        starttls,
        username: None,
        password: None,
        tls: rosterhub::mail::smtp::tls_config(ca).unwrap(),
        hello_name: "rosterhub.test".into(),
        timeout: Duration::from_secs(10),
    };
    let mut c = MailConfig::new(
        smtp,
        Mailbox::parse("RosterHub <roster@example.jp>").unwrap(),
    );
    c.default_language = Lang::Ja;
    c.poll = Duration::from_millis(50);
    c.first_retry = Duration::from_millis(100);
    c
}

/// An admin user of `default` with an address and (maybe) a language.
/// A plain SMTP receiver (offering 8BITMIME or not) and a server whose jobs mail it.
async fn mailing_server(
    db: &TestDb,
    eight_bit_mime: bool,
    starttls: Starttls,
) -> (SmtpReceiver, Arc<MailConfig>, Server) {
    let smtp = SmtpReceiver::start(Offer {
        tls: None,
        eight_bit_mime,
    })
    .await;
    let config = Arc::new(mail_config(smtp.port, starttls, None));
    let server = Server::start(
        db,
        "default",
        JobsConfig {
            mail: Some(config.clone()),
            ..test_config()
        },
    );
    (smtp, config, server)
}

fn admin_with_mail(db: &TestDb, name: &str, role: Role, language: Option<&str>) -> AdminUser {
    let u = user(db, name, false, &[("default", role)]);
    let email = format!("{name}@example.jp");
    db.block_on(db.store.set_admin_contact(&u.id, Some(&email), language))
        .unwrap();
    u
}

/// The message sent to `address` among `got`.
fn to<'a>(got: &'a [Received], address: &str) -> &'a Received {
    let mine: Vec<_> = got.iter().filter(|m| m.to == [address]).collect();
    assert_eq!(mine.len(), 1, "messages to {address}: {got:#?}");
    mine[0]
}

/// The counts line of each entity of a report, as the notices write it.
fn count_lines(report: &Value, lang: Lang) -> Vec<String> {
    report["entities"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(e, c)| {
            let n = |k: &str| c[k].as_u64().unwrap();
            match lang {
                Lang::Ja => format!(
                    "  {e}: 追加 {} / 変更 {} / 削除 {} / 変更なし {}",
                    n("inserted"),
                    n("updated"),
                    n("tombstoned"),
                    n("unchanged")
                ),
                Lang::En => format!(
                    "  {e}: {} inserted, {} updated, {} tombstoned, {} unchanged",
                    n("inserted"),
                    n("updated"),
                    n("tombstoned"),
                    n("unchanged")
                ),
            }
        })
        .collect()
}

fn a_held_import_reaches_each_admin_in_their_language_and_the_summary_counts_the_day(
    backend: Backend,
) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    // hanako chose no language (the server's default, Japanese); john English; the viewer and
    // the disabled admin get nothing.
    admin_with_mail(&db, "hanako", Role::Admin, None);
    admin_with_mail(&db, "john", Role::Admin, Some("en"));
    admin_with_mail(&db, "vera", Role::Viewer, Some("en"));
    let gone = admin_with_mail(&db, "gone", Role::Admin, Some("ja"));
    db.block_on(db.store.set_admin_disabled(&gone.id, true))
        .unwrap();
    db.rt.block_on(async {
        let (smtp, config, server) = mailing_server(&db, true, Starttls::None).await;
        rosterhub::mail::spawn_sender(server.state.store.clone(), config.clone());

        let (_, body, _) = server
            .upload("", zip_dir(&fixtures().join("jp-profile-v1.2.1")))
            .await;
        let first = server
            .wait(&format!("/api/v1/imports/{}", body["id"].as_str().unwrap()))
            .await;
        assert_eq!(first["state"], "succeeded", "{first}");
        let (_, body, _) = server
            .upload("", zip_dir(TempBundle::shrinking().path()))
            .await;
        let id = body["id"].as_str().unwrap().to_owned();
        let path = format!("/api/v1/imports/{id}");
        let held = server.wait(&path).await;
        assert_eq!(held["state"], "held", "{held}");

        let got = smtp.wait_for(2).await;
        let ja = to(&got, "hanako@example.jp");
        assert_eq!(ja.from, "roster@example.jp");
        assert!(ja.eight_bit, "the receiver announced 8BITMIME");
        assert_eq!(
            ja.subject(),
            "【RosterHub】取り込みを保留しました（default）"
        );
        let text = ja.body();
        assert!(
            text.starts_with("テナント「default」の取り込みを保留しました。\n"),
            "{text}"
        );
        for line in count_lines(&held["report"], Lang::Ja) {
            assert!(text.contains(&format!("{line}\n")), "{line:?} in {text}");
        }
        assert!(
            text.contains("  users: 追加 0 / 変更 0 / 削除 31 / "),
            "{text}"
        );
        let approve = format!("  API: POST {}/api/v1/imports/{id}/approve\n", server.base);
        assert!(text.contains(&approve), "{text}");
        assert!(text.contains(&format!("  画面: {}/ui/imports/{id}\n", server.base)));

        let en = to(&got, "john@example.jp");
        assert_eq!(en.subject(), "[RosterHub] Import held (default)");
        let text = en.body();
        for line in count_lines(&held["report"], Lang::En) {
            assert!(text.contains(&format!("{line}\n")), "{line:?} in {text}");
        }
        assert!(text.contains(&approve), "{text}");

        // Approved: two imports applied today.
        let (status, _) = server
            .post_json(&format!("{path}/approve"), &json!({}))
            .await;
        assert_eq!(status, 202, "queued again");
        let second = server.wait(&path).await;
        assert_eq!(second["state"], "succeeded", "{second}");

        // Tomorrow after the summary hour, two replicas look at once: one claims the day.
        let tomorrow = rosterhub::domain::datetime::now_ms() + 24 * 3600 * 1000;
        let mut at_hour = (*config).clone();
        at_hour.summary_hour = 0;
        let store = &server.state.store;
        let (a, b) = tokio::join!(
            rosterhub::mail::summary::send_due(store, &at_hour, "replica-a", tomorrow),
            rosterhub::mail::summary::send_due(store, &at_hour, "replica-b", tomorrow),
        );
        let mut claimed = [a.unwrap(), b.unwrap()].concat();
        claimed.sort();
        assert_eq!(claimed, ["default"], "claimed once across replicas");
        let again = rosterhub::mail::summary::send_due(store, &at_hour, "replica-a", tomorrow)
            .await
            .unwrap();
        assert!(again.is_empty(), "{again:?}");

        let got = smtp.wait_for(4).await;
        assert_eq!(got.len(), 4, "{got:#?}");
        let day = rosterhub::mail::summary::due_day(&at_hour, tomorrow).to_string();
        let summary: Vec<Received> = got[2..].to_vec();
        let ja = to(&summary, "hanako@example.jp");
        assert_eq!(
            ja.subject(),
            format!("【RosterHub】{day} のまとめ（default）")
        );
        let text = ja.body();
        assert!(text.contains("適用された取り込み: 2 件\n"), "{text}");
        // The totals are the sums of the two reports.
        let mut sum = first["report"].clone();
        for (e, c) in sum["entities"].as_object_mut().unwrap() {
            for k in ["inserted", "updated", "tombstoned", "unchanged"] {
                let more = second["report"]["entities"][e][k].as_u64().unwrap_or(0);
                c[k] = (c[k].as_u64().unwrap() + more).into();
            }
        }
        for line in count_lines(&sum, Lang::Ja) {
            assert!(text.contains(&format!("{line}\n")), "{line:?} in {text}");
        }
        assert!(text.contains(&format!("（ジョブ {id}）")), "{text}");
        let en = to(&summary, "john@example.jp");
        assert_eq!(
            en.subject(),
            format!("[RosterHub] Summary of {day} (default)")
        );
        assert!(en.body().contains("Imports applied: 2\n"), "{}", en.body());
        for line in count_lines(&sum, Lang::En) {
            assert!(en.body().contains(&format!("{line}\n")), "{line:?}");
        }

        let rows = store.tenant_mails("default", 10).await.unwrap();
        assert_eq!(rows.len(), 4);
        assert!(
            rows.iter().all(|m| m.state == "sent" && m.attempts == 1),
            "{rows:?}"
        );
        assert_eq!(
            ops_count(&db, "SELECT COUNT(*) FROM mail_summaries").await,
            1
        );
    });
}

fn a_refused_drop_folder_file_is_told_by_mail_and_webhook(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    admin_with_mail(&db, "hanako", Role::Admin, Some("ja"));
    let drop = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(drop.path().join("default")).unwrap();
    db.rt.block_on(async {
        let (smtp, config, server) = mailing_server(&db, false, Starttls::Opportunistic).await;
        let (status, hook) = server
            .post_json(
                "/api/v1/webhooks",
                &json!({"url": "http://127.0.0.1:9/hook", "events": ["intake.refused"],
                        "secret": "test-secret-0123456789"}),
            )
            .await;
        assert_eq!(status, 201, "{hook}");
        rosterhub::mail::spawn_sender(server.state.store.clone(), config.clone());
        rosterhub::intake::spawn(
            server.state.store.clone(),
            server.state.jobs.clone(),
            server.state.audit.clone(),
            crate::intake::config(
                drop.path(),
                Duration::from_millis(100),
                "test-replica".into(),
            ),
        );
        std::fs::write(drop.path().join("default/notes.zip"), b"not a zip at all").unwrap();
        std::fs::write(drop.path().join("default/notes.zip.done"), b"").unwrap();

        let got = smtp.wait_for(1).await;
        let m = to(&got, "hanako@example.jp");
        assert!(!m.eight_bit, "no 8BITMIME offered: base64");
        assert_eq!(m.header("Content-Transfer-Encoding"), "base64");
        assert_eq!(
            m.subject(),
            "【RosterHub】受け取りフォルダーのファイルを受け付けませんでした（default）: notes.zip"
        );
        let text = m.body();
        assert!(
            text.starts_with("テナント「default」の受け取りフォルダーに置かれた notes.zip は"),
            "{text}"
        );
        assert!(text.contains("理由: not a OneRoster bundle: "), "{text}");
        assert!(drop.path().join("default/failed/notes.zip").exists());
        let deliveries = ops_count(
            &db,
            "SELECT COUNT(*) FROM webhook_deliveries WHERE event = 'intake.refused'",
        )
        .await;
        assert_eq!(deliveries, 1);
    });
}

fn starttls_and_auth_and_a_server_without_the_required_starttls(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    admin_with_mail(&db, "hanako", Role::Admin, Some("en"));
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    let tls = rosterhub::http::tls::load_config(&cert_path, &key_path).unwrap();
    db.rt.block_on(async {
        let secure = SmtpReceiver::start(Offer {
            tls: Some(tls),
            eight_bit_mime: true,
        })
        .await;
        let mut config = mail_config(secure.port, Starttls::Required, Some(&cert_path));
        config.smtp.username = Some("roster".into());
        config.smtp.password = Some(SmtpPassword::new("s3cret pass".into()));
        assert!(!format!("{config:?}").contains("s3cret"), "masked");
        let store = db.store.clone();
        let notice = rosterhub::mail::texts::Notice::IntakeRefused {
            tenant: "default".into(),
            file_name: "x.zip".into(),
            error: "not a OneRoster bundle".into(),
        };
        let mails = rosterhub::mail::outbox::mails_for(&store, Some(&config), Some(&notice))
            .await
            .unwrap();
        store.enqueue_outbox(&[], &mails).await.unwrap();
        assert_eq!(
            rosterhub::mail::send::send_due(&store, &config)
                .await
                .unwrap(),
            1
        );
        let got = secure.wait_for(1).await;
        assert!(got[0].tls, "sent after STARTTLS");
        assert_eq!(got[0].auth.as_deref(), Some("roster:s3cret pass"));
        assert_eq!(
            got[0].subject(),
            "[RosterHub] Drop-folder file refused (default): x.zip"
        );

        // STARTTLS required, not offered: given up at once, nothing sent.
        let plain = SmtpReceiver::start(Offer {
            tls: None,
            eight_bit_mime: true,
        })
        .await;
        let config = mail_config(plain.port, Starttls::Required, None);
        let mails = rosterhub::mail::outbox::mails_for(&store, Some(&config), Some(&notice))
            .await
            .unwrap();
        store.enqueue_outbox(&[], &mails).await.unwrap();
        assert_eq!(
            rosterhub::mail::send::send_due(&store, &config)
                .await
                .unwrap(),
            1
        );
        assert!(plain.received().is_empty());
        let rows = store.tenant_mails("default", 1).await.unwrap();
        assert_eq!(rows[0].state, "failed");
        assert_eq!(rows[0].attempts, 1);
        let error = rows[0].last_error.as_deref().unwrap();
        assert!(error.contains("does not offer STARTTLS"), "{error}");
    });
}
