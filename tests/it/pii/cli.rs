//! `rosterhub keys generate|status|rotate` and the PII settings of `import`/`export`, through
//! the binary.

use serde_json::Value;

use super::bundle;
use crate::helpers::cli::rosterhub;
use crate::helpers::read_zip;

fn generate() -> (String, String) {
    let (code, out, err) = rosterhub(&["keys", "generate"]).run();
    assert_eq!(code, 0, "{err}");
    let key = out.trim().to_owned();
    assert_eq!(key.len(), 44, "base64 of 32 bytes: {key}");
    let id = err.trim().strip_prefix("key id ").unwrap().to_owned();
    assert_eq!(rosterhub::pii::Key::from_base64(&key).unwrap().id(), id);
    (key, id)
}

#[test]
fn keys_generate_status_and_rotate_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("keys.db").display());
    let (old, old_id) = generate();
    let (new, new_id) = generate();
    assert_ne!(old_id, new_id);
    let key_file = dir.path().join("old.key");
    std::fs::write(&key_file, format!("{old}\n")).unwrap();
    let fixture = bundle();
    let (code, _, err) = rosterhub(&[
        "import",
        fixture.to_str().unwrap(),
        "--database-url",
        &url,
        "--pii-key-file",
        key_file.to_str().unwrap(),
    ])
    .run();
    assert_eq!(code, 0, "{err}");

    // Without the key: refused, with the reason, and the key never shows.
    let out_zip = dir.path().join("out.zip");
    let export = |env: &[(&str, &str)]| {
        rosterhub(&["export", out_zip.to_str().unwrap(), "--database-url", &url])
            .env(env)
            .run()
    };
    let (code, _, err) = export(&[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("this database holds encrypted PII; set ROSTERHUB_PII_KEY"),
        "{err}"
    );
    assert!(!out_zip.exists());

    let status = |env: &[(&str, &str)]| {
        let (code, out, err) = rosterhub(&["keys", "status", "--database-url", &url])
            .env(env)
            .run();
        assert_eq!(code, 0, "{err}");
        serde_json::from_str::<Value>(&out).unwrap()
    };
    let s = status(&[]);
    assert_eq!(s["keys"][0]["id"], old_id.as_str());
    // 4 e-mails and 32 birth dates: the default columns.
    assert_eq!(s["keys"][0]["values"], 36);
    assert_eq!(s["plaintext_values"], Value::Null);

    let (code, out, err) = rosterhub(&["keys", "rotate", "--database-url", &url, "--batch", "10"])
        .env(&[
            ("ROSTERHUB_PII_KEY", new.as_str()),
            ("ROSTERHUB_PII_KEY_PREVIOUS", old.as_str()),
        ])
        .run();
    assert_eq!(code, 0, "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["reencrypted"], 36);
    assert_eq!(report["retired"], serde_json::json!([old_id]));
    for text in [&out, &err] {
        assert!(!text.contains(&new) && !text.contains(&old));
    }
    let s = status(&[("ROSTERHUB_PII_KEY", new.as_str())]);
    assert_eq!(s["current_key"], new_id.as_str());
    assert_eq!(s["keys"][1]["values"], 36);
    assert_eq!(s["plaintext_values"], 0);

    // The new key alone exports the plaintext; the old one is refused.
    let (code, _, err) = export(&[("ROSTERHUB_PII_KEY", old.as_str())]);
    assert_eq!(code, 2);
    assert!(
        err.contains(&format!("encrypted under key {new_id}")),
        "{err}"
    );
    let (code, _, err) = export(&[("ROSTERHUB_PII_KEY", new.as_str())]);
    assert_eq!(code, 0, "{err}");
    let users = &read_zip(&out_zip)["users.csv"];
    assert!(users.contains(",t00@example.jp,"), "{users}");

    // A bad key is refused without echoing it.
    let (code, _, err) = export(&[("ROSTERHUB_PII_KEY", "c2hvcnQ=")]);
    assert_eq!(code, 2);
    assert!(
        err.contains("ROSTERHUB_PII_KEY: a PII key must be 32 bytes"),
        "{err}"
    );
    assert!(!err.contains("c2hvcnQ="));
}
