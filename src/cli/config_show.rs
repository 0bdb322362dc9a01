//! `rosterhub config show` and `config example`: the configuration `serve` would run with, each
//! value with where it came from (default < file < environment < flag), secrets masked; and the
//! example file, `rosterhub.example.toml`, embedded.
//!
//! The layering is `config_file`'s own (the file's values become flags where neither a flag nor
//! the environment gave one), so what is shown is what `serve` gets; clap says per argument
//! whether its value came from the command line, the environment or a default.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{CommandFactory as _, FromArgMatches as _};

use super::config_file;
use super::{Cli, ConfigCommand, ServeArgs};
use crate::storage::redact_url;

/// The example configuration file: every `serve` key, commented out, with its default.
pub const EXAMPLE: &str = include_str!("../../rosterhub.example.toml");

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Default,
    File(PathBuf),
    Env(String),
    Flag,
    /// Neither given nor defaulted.
    Unset,
}

/// One setting as `serve` sees it; `value` is already masked where secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub key: String,
    pub value: Option<String>,
    pub source: Source,
}

/// The effective `serve` configuration.
pub struct Effective {
    /// The configuration file, when one was named.
    pub file: Option<PathBuf>,
    pub settings: Vec<Setting>,
    /// Unknown keys and variables, keys that the file cannot set.
    pub warnings: Vec<String>,
    /// The settings as `serve` parses them, or why they do not parse.
    pub serve: Result<ServeArgs, String>,
}

/// Variables `serve` reads from the environment only, and whether each is a secret.
const ENV_ONLY: &[(&str, bool)] = &[
    ("ROSTERHUB_PII_KEY", true),
    ("ROSTERHUB_PII_KEY_PREVIOUS", true),
    ("ROSTERHUB_SECRET_PEPPER", true),
    ("ROSTERHUB_SMTP_PASSWORD", true),
    ("ROSTERHUB_LOG_FORMAT", false),
];

/// The file key of a variable: `ROSTERHUB_WORKERS` → `workers`.
fn key_of(var: &str) -> String {
    var.trim_start_matches("ROSTERHUB_").to_ascii_lowercase()
}

/// A value as TOML: numbers and booleans bare, everything else a quoted string.
fn toml_value(raw: &str, bare: bool) -> String {
    if bare {
        raw.to_owned()
    } else {
        serde_json::Value::String(raw.to_owned()).to_string()
    }
}

/// Whether an argument's values are numbers or booleans (written bare).
fn is_bare(arg: &clap::Arg) -> bool {
    use std::any::TypeId;
    let t = arg.get_value_parser().type_id();
    matches!(arg.get_action(), clap::ArgAction::SetTrue)
        || [
            TypeId::of::<u64>(),
            TypeId::of::<u32>(),
            TypeId::of::<usize>(),
            TypeId::of::<i64>(),
            TypeId::of::<f64>(),
            TypeId::of::<bool>(),
        ]
        .iter()
        .any(|id| t == *id)
}

/// The effective configuration of `serve` given `flags` (its own flags), the configuration file
/// named by `args` (`--config`) or `ROSTERHUB_CONFIG`, and the process's environment.
pub fn effective(args: &[OsString], flags: &[OsString]) -> Result<Effective, String> {
    let file = config_file::config_path(args).map(PathBuf::from);
    let text =
        match &file {
            Some(path) => Some(std::fs::read_to_string(path).map_err(|e| {
                format!("cannot read the configuration file {}: {e}", path.display())
            })?),
            None => None,
        };
    let env: Vec<(String, String)> = std::env::vars().collect();
    let (set, warnings) = config_file::resolve(text.as_deref(), &env, &config_file::known_vars())?;
    let given: Vec<OsString> = ["rosterhub".into(), "serve".into()]
        .into_iter()
        .chain(flags.iter().cloned())
        .collect();
    let full = config_file::with_file_values(&given, &set);
    // The flags the file layer added, by long name.
    let from_file: Vec<String> = full[given.len()..]
        .iter()
        .filter_map(|a| a.to_str())
        .filter_map(|a| a.strip_prefix("--"))
        .map(|a| a.split('=').next().unwrap_or(a).to_owned())
        .collect();
    let in_file = |var: &str| set.iter().any(|(v, _)| v == var);
    let file_source = || Source::File(file.clone().unwrap_or_default());

    let root = Cli::command();
    let serve_cmd = root
        .find_subcommand("serve")
        .expect("serve is a command")
        .clone();
    let matches = match Cli::command().try_get_matches_from(&full) {
        Ok(m) => m,
        Err(e) => {
            return Ok(Effective {
                file,
                settings: Vec::new(),
                warnings,
                serve: Err(e.render().to_string().trim_end().to_owned()),
            });
        }
    };
    let sub = matches
        .subcommand_matches("serve")
        .expect("the arguments name serve");
    let mut settings = Vec::new();
    for arg in serve_cmd.get_arguments() {
        let Some(var) = arg.get_env().and_then(|v| v.to_str()) else {
            continue;
        };
        let id = arg.get_id().as_str();
        let raw: Option<String> = sub
            .get_raw(id)
            .map(|vals| {
                vals.map(|v| v.to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .or_else(|| {
                // A flag without a value (SetTrue) reports its boolean.
                matches!(arg.get_action(), clap::ArgAction::SetTrue)
                    .then(|| sub.get_flag(id).to_string())
            });
        let long = arg.get_long().unwrap_or_default();
        let source = match sub.value_source(id) {
            Some(ValueSource::CommandLine) if from_file.iter().any(|l| l == long) => file_source(),
            Some(ValueSource::CommandLine) => Source::Flag,
            Some(ValueSource::EnvVariable) => Source::Env(var.to_owned()),
            // A file value equal to the default adds no flag (`false` for a switch).
            Some(ValueSource::DefaultValue) if in_file(var) => file_source(),
            Some(ValueSource::DefaultValue) => Source::Default,
            _ => Source::Unset,
        };
        let value = raw.map(|raw| {
            if var == "ROSTERHUB_DATABASE_URL" || var == "ROSTERHUB_READ_DATABASE_URL" {
                toml_value(&redact_url(&raw), false)
            } else {
                toml_value(&raw, is_bare(arg))
            }
        });
        settings.push(Setting {
            key: key_of(var),
            value,
            source,
        });
    }
    for (var, secret) in ENV_ONLY {
        let found = env.iter().find(|(k, v)| k == var && !v.is_empty());
        settings.push(Setting {
            key: key_of(var),
            value: found.map(|(_, v)| toml_value(if *secret { "***" } else { v }, false)),
            source: found.map_or(Source::Unset, |_| Source::Env(var.to_string())),
        });
    }
    let serve = ServeArgs::from_arg_matches(sub).map_err(|e| e.to_string());
    Ok(Effective {
        file,
        settings,
        warnings,
        serve,
    })
}

/// `key = value  # source`, or a commented line for a setting without a value.
pub fn line(s: &Setting) -> String {
    let source = match &s.source {
        Source::Default => "default".to_owned(),
        Source::File(p) => format!("file {}", p.display()),
        Source::Env(v) => format!("env {v}"),
        Source::Flag => "flag".to_owned(),
        Source::Unset => "not set".to_owned(),
    };
    match &s.value {
        Some(v) => format!("{} = {v}  # {source}", s.key),
        None => format!("# {}  ({source})", s.key),
    }
}

pub fn run(command: ConfigCommand) -> anyhow::Result<i32> {
    match command {
        ConfigCommand::Example => {
            print!("{EXAMPLE}");
            Ok(0)
        }
        ConfigCommand::Show { serve } => {
            let args: Vec<OsString> = std::env::args_os().collect();
            let eff = effective(&args, &serve).map_err(anyhow::Error::msg)?;
            match &eff.file {
                Some(path) => println!("# configuration file: {}", path.display()),
                None => println!("# no configuration file (--config or ROSTERHUB_CONFIG)"),
            }
            for s in &eff.settings {
                println!("{}", line(s));
            }
            for w in &eff.warnings {
                eprintln!("warning: {w}");
            }
            match eff.serve {
                Ok(_) => Ok(if eff.warnings.is_empty() { 0 } else { 1 }),
                Err(e) => {
                    eprintln!("{e}");
                    Ok(2)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keys a configuration file may set for `serve`: its flags' variables, without the ones
    /// read from the environment only.
    fn serve_keys() -> Vec<String> {
        let cmd = Cli::command();
        let serve = cmd.find_subcommand("serve").expect("serve is a command");
        serve
            .get_arguments()
            .filter_map(|a| a.get_env().and_then(|v| v.to_str()))
            .filter(|v| !config_file::EXTRA_VARS.contains(v))
            .map(key_of)
            .collect()
    }

    /// The example's `# key = value` lines, uncommented: what a person gets by removing `# `.
    fn example_values() -> String {
        EXAMPLE
            .lines()
            .filter_map(|l| l.strip_prefix("# "))
            .filter(|l| {
                l.split_once(" = ")
                    .is_some_and(|(k, _)| k.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn the_example_file_names_every_serve_key_once_and_no_unknown_one() {
        let text = example_values();
        let table: toml::Table = text.parse().expect("the example's values are TOML");
        let (set, warnings) =
            config_file::resolve(Some(&text), &[], &config_file::known_vars()).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        let mut keys: Vec<String> = table.keys().cloned().collect();
        keys.sort();
        let mut expected = serve_keys();
        expected.sort();
        assert_eq!(keys, expected, "every serve key, nothing else");
        assert_eq!(set.len(), expected.len());
    }

    #[test]
    fn the_example_shows_each_default_as_serve_has_it() {
        let table: toml::Table = example_values().parse().unwrap();
        let cmd = Cli::command();
        let serve = cmd.find_subcommand("serve").unwrap();
        for arg in serve.get_arguments() {
            let Some(var) = arg.get_env().and_then(|v| v.to_str()) else {
                continue;
            };
            let Some(default) = arg.get_default_values().first() else {
                continue;
            };
            let key = key_of(var);
            let shown = match &table[&key] {
                toml::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let default = default.to_string_lossy();
            let same = shown == default
                || shown
                    .parse::<f64>()
                    .is_ok_and(|a| default.parse::<f64>().is_ok_and(|b| a == b));
            assert!(
                same,
                "{key}: the example says {shown}, serve's default is {default}"
            );
        }
    }

    #[test]
    fn lines_say_where_each_value_came_from() {
        let s = |value: Option<&str>, source| Setting {
            key: "workers".into(),
            value: value.map(str::to_owned),
            source,
        };
        assert_eq!(
            line(&s(Some("2"), Source::Default)),
            "workers = 2  # default"
        );
        assert_eq!(
            line(&s(Some("4"), Source::File("/etc/r.toml".into()))),
            "workers = 4  # file /etc/r.toml"
        );
        assert_eq!(
            line(&s(Some("8"), Source::Env("ROSTERHUB_WORKERS".into()))),
            "workers = 8  # env ROSTERHUB_WORKERS"
        );
        assert_eq!(line(&s(Some("9"), Source::Flag)), "workers = 9  # flag");
        assert_eq!(line(&s(None, Source::Unset)), "# workers  (not set)");
    }
}
