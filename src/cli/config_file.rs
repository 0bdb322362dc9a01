//! The configuration file layer: `rosterhub.toml` fills the settings that neither the command line
//! nor the environment gave. Each key is the lower-case name of a `ROSTERHUB_*` variable without the
//! prefix (`listen`, `workers`, `database_url`), so every setting keeps its one definition — the
//! clap argument and its `env` name — and the file only supplies values for those variables.

use std::collections::BTreeSet;
use std::ffi::OsString;

use clap::CommandFactory;

use super::Cli;

/// Variables read directly by the library rather than through a clap argument: the environment
/// only (a key in the configuration file cannot set them).
pub const EXTRA_VARS: &[&str] = &[
    "ROSTERHUB_ADMIN_PASSWORD",
    "ROSTERHUB_CONFIG",
    "ROSTERHUB_LOG_FORMAT",
    "ROSTERHUB_PII_KEY",
    "ROSTERHUB_PII_KEY_PREVIOUS",
    "ROSTERHUB_SECRET_PEPPER",
    "ROSTERHUB_SMTP_PASSWORD",
    // Not read by the program: the tests' and the benchmark scripts' own, which a shell that
    // runs them passes on to every rosterhub they start.
    "ROSTERHUB_BIN",
    "ROSTERHUB_REQUIRE_BROWSER",
    "ROSTERHUB_REQUIRE_PG",
    "ROSTERHUB_TEST_PG",
];

/// Every `ROSTERHUB_*` variable the program knows.
pub fn known_vars() -> BTreeSet<String> {
    fn walk(cmd: &clap::Command, out: &mut BTreeSet<String>) {
        for arg in cmd.get_arguments() {
            if let Some(env) = arg.get_env() {
                out.insert(env.to_string_lossy().into_owned());
            }
        }
        for sub in cmd.get_subcommands() {
            walk(sub, out);
        }
    }
    let mut out: BTreeSet<String> = EXTRA_VARS.iter().map(|s| s.to_string()).collect();
    walk(&Cli::command(), &mut out);
    out
}

/// The variable a file key stands for: `listen` → `ROSTERHUB_LISTEN`.
fn var_for_key(key: &str) -> String {
    format!("ROSTERHUB_{}", key.to_ascii_uppercase().replace('-', "_"))
}

fn closest<'a>(name: &str, known: &'a BTreeSet<String>) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (strsim::jaro_winkler(name, k), k.as_str()))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

/// (variable, value) pairs.
type Vars = Vec<(String, String)>;

/// What the file contributes: the variables to set (only those not already in the environment)
/// and a warning for each unknown key or unknown `ROSTERHUB_*` variable.
pub fn resolve(
    file: Option<&str>,
    env: &[(String, String)],
    known: &BTreeSet<String>,
) -> Result<(Vars, Vec<String>), String> {
    let mut set = Vec::new();
    let mut warnings = Vec::new();
    if let Some(text) = file {
        let table: toml::Table = text
            .parse()
            .map_err(|e| format!("the configuration file is not valid TOML: {e}"))?;
        for (key, value) in table {
            let var = var_for_key(&key);
            if !known.contains(&var) || var == "ROSTERHUB_CONFIG" {
                let hint = closest(&var, known)
                    .map(|k| {
                        format!(
                            "; did you mean `{}`?",
                            k["ROSTERHUB_".len()..].to_ascii_lowercase()
                        )
                    })
                    .unwrap_or_default();
                warnings.push(format!(
                    "unknown key `{key}` in the configuration file{hint}"
                ));
                continue;
            }
            if EXTRA_VARS.contains(&var.as_str()) {
                warnings.push(format!(
                    "key `{key}` in the configuration file is ignored: it is read from the \
                     environment only; set {var} instead"
                ));
                continue;
            }
            if env.iter().any(|(k, _)| *k == var) {
                continue;
            }
            let text = match value {
                toml::Value::String(s) => s,
                toml::Value::Array(items) => items
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string())
                    })
                    .collect::<Vec<_>>()
                    .join(","),
                other => other.to_string(),
            };
            set.push((var, text));
        }
    }
    for (name, _) in env {
        if name.starts_with("ROSTERHUB_") && !known.contains(name) {
            let hint = closest(name, known)
                .map(|k| format!("; did you mean {k}?"))
                .unwrap_or_default();
            warnings.push(format!("unknown environment variable {name}{hint}"));
        }
    }
    Ok((set, warnings))
}

/// The file named by `--config F` (anywhere on the command line) or `ROSTERHUB_CONFIG`.
pub fn config_path(args: &[OsString]) -> Option<OsString> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--config" {
            return it.next().cloned();
        }
        if let Some(rest) = a.to_str().and_then(|s| s.strip_prefix("--config=")) {
            return Some(rest.into());
        }
    }
    std::env::var_os("ROSTERHUB_CONFIG")
}

/// The subcommand the arguments name (the deepest one), to find its flags.
fn chosen_command(args: &[OsString]) -> clap::Command {
    let mut cmd = Cli::command();
    for a in args.iter().skip(1) {
        let Some(a) = a.to_str() else { continue };
        if let Some(sub) = cmd.find_subcommand(a).cloned() {
            cmd = sub;
        }
    }
    cmd
}

/// Applies the file layer: returns the arguments with a `--flag=value` added for each file value
/// that neither a flag nor the environment gave, and prints the warnings. Adding flags (rather than
/// setting variables) keeps clap the one place that reads every setting.
pub fn apply(args: &[OsString]) -> Result<Vec<OsString>, String> {
    let text = match config_path(args) {
        Some(path) => Some(std::fs::read_to_string(&path).map_err(|e| {
            format!(
                "cannot read the configuration file {}: {e}",
                path.to_string_lossy()
            )
        })?),
        None => None,
    };
    let env: Vec<(String, String)> = std::env::vars().collect();
    let (set, warnings) = resolve(text.as_deref(), &env, &known_vars())?;
    // `config show` and `doctor` report the warnings themselves, as part of their answer.
    if !reports_warnings(args) {
        for w in warnings {
            eprintln!("warning: {w}");
        }
    }
    Ok(with_file_values(args, &set))
}

/// Whether the command is `config show` or `doctor`.
fn reports_warnings(args: &[OsString]) -> bool {
    let name = chosen_command(args).get_name().to_owned();
    name == "show" || name == "doctor"
}

pub fn with_file_values(args: &[OsString], set: &[(String, String)]) -> Vec<OsString> {
    let cmd = chosen_command(args);
    let mut out = args.to_vec();
    let given = |long: &str| {
        args.iter().any(|a| {
            a.to_str()
                .is_some_and(|a| a == format!("--{long}") || a.starts_with(&format!("--{long}=")))
        })
    };
    for (var, value) in set {
        let Some(arg) = cmd
            .get_arguments()
            .find(|a| a.get_env().is_some_and(|e| e == var.as_str()))
        else {
            continue;
        };
        let Some(long) = arg.get_long() else { continue };
        if given(long) {
            continue;
        }
        if arg.get_action().takes_values() {
            out.push(format!("--{long}={value}").into());
        } else if value == "true" {
            out.push(format!("--{long}").into());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn file_fills_only_what_the_environment_did_not_give() {
        let file = "listen = \"0.0.0.0:9000\"\nworkers = 4\ntrusted_proxies = [\"10.0.0.0/8\", \"::1/128\"]\n";
        let (set, warnings) = resolve(
            Some(file),
            &env(&[("ROSTERHUB_WORKERS", "8")]),
            &known_vars(),
        )
        .unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(
            set,
            env(&[
                ("ROSTERHUB_LISTEN", "0.0.0.0:9000"),
                ("ROSTERHUB_TRUSTED_PROXIES", "10.0.0.0/8,::1/128"),
            ])
        );
    }

    #[test]
    fn unknown_keys_and_variables_are_named_with_the_closest_known_name() {
        let (set, warnings) = resolve(
            Some("listn = \"x\"\n"),
            &env(&[("ROSTERHUB_WORKER", "2")]),
            &known_vars(),
        )
        .unwrap();
        assert!(set.is_empty());
        assert_eq!(
            warnings,
            vec![
                "unknown key `listn` in the configuration file; did you mean `listen`?".to_string(),
                "unknown environment variable ROSTERHUB_WORKER; did you mean ROSTERHUB_WORKERS?"
                    .to_string(),
            ]
        );
    }

    #[test]
    fn keys_for_variables_read_from_the_environment_only_are_not_silently_ignored() {
        let (set, warnings) = resolve(Some("pii_key = \"x\"\n"), &[], &known_vars()).unwrap();
        assert!(set.is_empty());
        assert_eq!(
            warnings,
            vec![
                "key `pii_key` in the configuration file is ignored: it is read from the \
                 environment only; set ROSTERHUB_PII_KEY instead"
                    .to_string()
            ]
        );
    }

    #[test]
    fn flags_win_over_environment_and_file_values() {
        // File values become flags only where no flag was given (and, in `resolve`, no variable).
        let args: Vec<OsString> = ["rosterhub", "serve", "--workers", "5"]
            .map(Into::into)
            .into();
        let set = env(&[
            ("ROSTERHUB_WORKERS", "9"),
            ("ROSTERHUB_LISTEN", "0.0.0.0:1"),
        ]);
        let cli = Cli::try_parse_from(with_file_values(&args, &set)).unwrap();
        let text = format!("{cli:?}");
        assert!(text.contains("workers: 5"), "{text}");
        assert!(text.contains("listen: \"0.0.0.0:1\""), "{text}");
        let cli = Cli::try_parse_from(["rosterhub", "serve"]).unwrap();
        assert!(format!("{cli:?}").contains("workers: 2"));
    }

    #[test]
    fn config_path_reads_both_flag_spellings() {
        let args: Vec<OsString> = ["rosterhub", "serve", "--config", "a.toml"]
            .map(Into::into)
            .into();
        assert_eq!(config_path(&args), Some("a.toml".into()));
        let args: Vec<OsString> = ["rosterhub", "--config=b.toml"].map(Into::into).into();
        assert_eq!(config_path(&args), Some("b.toml".into()));
    }
}
