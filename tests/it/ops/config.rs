//! `rosterhub config show`: each value with where it came from — default < file < environment <
//! flag — and secrets masked; the example file as `config example` prints it.

use crate::helpers::cli::rosterhub;

/// The lines of `config show` for `key`s, in the order asked.
fn lines_of<'a>(out: &'a str, keys: &[&str]) -> Vec<&'a str> {
    keys.iter()
        .map(|k| {
            out.lines()
                .find(|l| l.starts_with(&format!("{k} = ")) || l.starts_with(&format!("# {k}  ")))
                .unwrap_or_else(|| panic!("no line for {k} in:\n{out}"))
        })
        .collect()
}

#[test]
fn a_flag_beats_the_environment_which_beats_the_file_which_beats_the_default() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rosterhub.toml");
    std::fs::write(
        &file,
        "listen = \"0.0.0.0:9000\"\nworkers = 4\nmax_limit = 500\nnested_metadata = true\n\
         trusted_proxies = [\"10.0.0.0/8\", \"::1/128\"]\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let (code, out, err) = rosterhub(&["config", "show", "--max-limit", "50"])
        .env(&[
            ("ROSTERHUB_CONFIG", path),
            ("ROSTERHUB_WORKERS", "8"),
            ("ROSTERHUB_MAX_LIMIT", "700"),
        ])
        .run();
    assert_eq!((code, err.as_str()), (0, ""), "{out}");
    assert_eq!(
        out.lines().next(),
        Some(format!("# configuration file: {path}").as_str())
    );
    let keys = [
        "listen",
        "workers",
        "max_limit",
        "nested_metadata",
        "trusted_proxies",
        "job_lease_secs",
        "time_zone",
        "public_url",
    ];
    assert_eq!(
        lines_of(&out, &keys),
        vec![
            format!("listen = \"0.0.0.0:9000\"  # file {path}"),
            "workers = 8  # env ROSTERHUB_WORKERS".to_owned(),
            "max_limit = 50  # flag".to_owned(),
            format!("nested_metadata = true  # file {path}"),
            format!("trusted_proxies = \"10.0.0.0/8,::1/128\"  # file {path}"),
            "job_lease_secs = 30  # default".to_owned(),
            "time_zone = \"Asia/Tokyo\"  # default".to_owned(),
            "# public_url  (not set)".to_owned(),
        ]
    );

    // Without the file and the variables, the same keys are their defaults.
    let (code, out, _) = rosterhub(&["config", "show"]).run();
    assert_eq!(code, 0);
    assert_eq!(
        out.lines().next(),
        Some("# no configuration file (--config or ROSTERHUB_CONFIG)")
    );
    assert_eq!(
        lines_of(&out, &["listen", "workers", "max_limit", "nested_metadata"]),
        vec![
            "listen = \"127.0.0.1:8080\"  # default",
            "workers = 2  # default",
            "max_limit = 10000  # default",
            "nested_metadata = false  # default",
        ]
    );
}

#[test]
fn secrets_are_masked_wherever_they_come_from() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rosterhub.toml");
    std::fs::write(
        &file,
        "database_url = \"postgres://app:file-secret@db.example/roster?sslmode=require&password=query-secret\"\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let key = rosterhub::pii::Key::generate().to_base64();
    let (code, out, err) = rosterhub(&["--config", path, "config", "show"])
        .env(&[
            ("ROSTERHUB_PII_KEY", key.as_str()),
            ("ROSTERHUB_SECRET_PEPPER", "pepper-secret"),
            ("ROSTERHUB_LOG_FORMAT", "json"),
        ])
        .run();
    assert_eq!((code, err.as_str()), (0, ""), "{out}");
    assert_eq!(
        lines_of(
            &out,
            &[
                "database_url",
                "pii_key",
                "pii_key_previous",
                "secret_pepper",
                "log_format"
            ]
        ),
        vec![
            format!(
                "database_url = \"postgres://app:***@db.example/roster?sslmode=require&password=***\"  # file {path}"
            ),
            "pii_key = \"***\"  # env ROSTERHUB_PII_KEY".to_owned(),
            "# pii_key_previous  (not set)".to_owned(),
            "secret_pepper = \"***\"  # env ROSTERHUB_SECRET_PEPPER".to_owned(),
            "log_format = \"json\"  # env ROSTERHUB_LOG_FORMAT".to_owned(),
        ]
    );
    for secret in ["file-secret", "query-secret", key.as_str(), "pepper-secret"] {
        assert!(!out.contains(secret), "{secret} shown:\n{out}");
    }

    // From the environment, the database password is masked too.
    let (_, out, _) = rosterhub(&["config", "show"])
        .env(&[("ROSTERHUB_DATABASE_URL", "postgres://app:env-secret@h/db")])
        .run();
    assert_eq!(
        lines_of(&out, &["database_url"]),
        vec!["database_url = \"postgres://app:***@h/db\"  # env ROSTERHUB_DATABASE_URL"]
    );
}

#[test]
fn unknown_keys_and_variables_and_env_only_keys_are_warned_about_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rosterhub.toml");
    std::fs::write(&file, "wokers = 3\npii_key = \"x\"\n").unwrap();
    let (code, out, err) = rosterhub(&["config", "show"])
        .env(&[
            ("ROSTERHUB_CONFIG", file.to_str().unwrap()),
            ("ROSTERHUB_LISTN", "x"),
        ])
        .run();
    assert_eq!(code, 1, "{out}");
    assert_eq!(
        err.lines().collect::<Vec<_>>(),
        vec![
            // The file's keys in name order, then the variables.
            "warning: key `pii_key` in the configuration file is ignored: it is read from the \
             environment only; set ROSTERHUB_PII_KEY instead",
            "warning: unknown key `wokers` in the configuration file; did you mean `workers`?",
            "warning: unknown environment variable ROSTERHUB_LISTN; did you mean ROSTERHUB_LISTEN?",
        ]
    );
    assert_eq!(lines_of(&out, &["workers"]), vec!["workers = 2  # default"]);
}

#[test]
fn an_invalid_value_exits_2_naming_it() {
    let (code, _, err) = rosterhub(&["config", "show", "--workers", "many"]).run();
    assert_eq!(code, 2);
    assert!(
        err.starts_with("error: invalid value 'many' for '--workers <WORKERS>'"),
        "{err}"
    );
}

#[test]
fn config_example_prints_the_example_file() {
    let (code, out, _) = rosterhub(&["config", "example"]).run();
    assert_eq!(code, 0);
    assert_eq!(
        out,
        std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/rosterhub.example.toml"
        ))
        .unwrap()
    );
}
