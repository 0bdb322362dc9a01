//! `rosterhub client …` (API clients of the token endpoint) and `rosterhub signing-key …`
//! (the keys that sign access tokens). Output is JSON on stdout; a client's secret is printed
//! once, at creation or rotation, and never stored in clear; key secrets are never printed.

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

use super::audit;
use super::db::open;
use super::{ClientCommand, SigningKeyCommand};
use crate::auth::Scopes;
use crate::auth::token::TOKEN_LIFETIME_SECS;
use crate::domain::datetime::{format_ms, now_ms};
use crate::domain::restrict::{check_rate_limit, parse_allowed_ips, parse_org_scope};
use crate::storage::clients::{ClientRecord, ClientSettings, ClientUpdate, KeyInfo};
use crate::storage::{Store, StoreError};

/// Runs a `client` command; returns the exit code.
pub(super) async fn run(command: ClientCommand) -> anyhow::Result<i32> {
    match command {
        ClientCommand::Create {
            name,
            tenant,
            scopes,
            allow_ip,
            rate_limit_per_min,
            orgs,
            target,
            db,
        } => {
            let scopes = parse_scopes(scopes.as_deref())?;
            if name.trim().is_empty() {
                bail!("--name must not be empty");
            }
            let settings = ClientSettings {
                allowed_ips: allow_ips(&allow_ip)?,
                rate_limit_per_min: rate_limit_per_min.map(rate_limit).transpose()?,
                org_scope: orgs.as_deref().map(org_scope).transpose()?,
                target: target.as_deref().map(target_name).transpose()?,
            };
            let store = open(&db).await?;
            let created = create(&store, &tenant, &name, scopes, settings).await?;
            let id = created["client_id"].as_str().map(str::to_owned);
            audit::record(
                &store,
                done(&tenant, "clients.create", "rosterhub client create", id),
            )
            .await;
            println!("{created}");
            Ok(0)
        }
        ClientCommand::List { tenant, db } => {
            let store = open(&db).await?;
            let clients = store
                .list_clients(tenant.as_deref())
                .await
                .context("cannot list the clients")?;
            let now = now_ms();
            let list: Vec<Value> = clients.iter().map(|c| client_json(c, now)).collect();
            println!("{}", serde_json::to_string_pretty(&list)?);
            Ok(0)
        }
        ClientCommand::Revoke { client_id, db } => {
            let store = open(&db).await?;
            let tenant = store.find_client(&client_id).await?.map(|c| c.tenant);
            if store
                .revoke_client(&client_id)
                .await
                .context("cannot revoke the client")?
            {
                if let Some(tenant) = tenant {
                    let target = Some(client_id.clone());
                    let action = done(&tenant, "clients.revoke", "rosterhub client revoke", target);
                    audit::record(&store, action).await;
                }
                eprintln!(
                    "client {client_id} is revoked: it gets no new tokens and its tokens are \
                     refused from now on"
                );
                Ok(0)
            } else {
                eprintln!("no client {client_id:?}");
                Ok(1)
            }
        }
        ClientCommand::Update {
            client_id,
            name,
            scopes,
            allow_ip,
            any_ip,
            rate_limit_per_min,
            default_rate_limit,
            orgs,
            all_orgs,
            target,
            db,
        } => {
            let update = ClientUpdate {
                name: match name {
                    Some(n) if n.trim().is_empty() => bail!("--name must not be empty"),
                    n => n,
                },
                scopes: scopes
                    .as_deref()
                    .map(|s| parse_scopes(Some(s)))
                    .transpose()?,
                allowed_ips: if any_ip {
                    Some(None)
                } else {
                    allow_ips(&allow_ip)?.map(Some)
                },
                rate_limit_per_min: if default_rate_limit {
                    Some(None)
                } else {
                    rate_limit_per_min.map(rate_limit).transpose()?.map(Some)
                },
                org_scope: if all_orgs {
                    Some(None)
                } else {
                    orgs.as_deref().map(org_scope).transpose()?.map(Some)
                },
                target: match target.as_deref() {
                    None => None,
                    Some("none") => Some(None),
                    Some(t) => Some(Some(target_name(t)?)),
                },
            };
            if update.is_empty() {
                bail!(
                    "nothing to change: give --name, --scopes, --allow-ip/--any-ip, \
                     --rate-limit-per-min/--default-rate-limit, --orgs/--all-orgs or --target"
                );
            }
            let store = open(&db).await?;
            match store
                .update_client(None, &client_id, &update)
                .await
                .context("cannot update the client")?
            {
                Some(c) => {
                    let target = Some(client_id.clone());
                    let action = done(
                        &c.tenant,
                        "clients.update",
                        "rosterhub client update",
                        target,
                    );
                    audit::record(&store, action).await;
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&client_json(&c, now_ms()))?
                    );
                    Ok(0)
                }
                None => {
                    eprintln!("no client {client_id:?}");
                    Ok(1)
                }
            }
        }
        ClientCommand::RotateSecret {
            client_id,
            overlap_hours,
            db,
        } => {
            let overlap_ms = overlap_ms(overlap_hours)?;
            let store = open(&db).await?;
            let rotated = store
                .rotate_client_secret(None, &client_id, overlap_ms)
                .await
                .context("cannot rotate the client's secret")?;
            let Some(new) = rotated else {
                eprintln!("no active client {client_id:?}");
                return Ok(1);
            };
            let r = &new.record;
            let target = Some(client_id.clone());
            let command = "rosterhub client rotate-secret";
            audit::record(
                &store,
                done(&r.tenant, "clients.rotate_secret", command, target),
            )
            .await;
            println!(
                "{}",
                json!({
                    "client_id": r.client_id,
                    "client_secret": new.client_secret,
                    "tenant": r.tenant,
                    "scopes": r.scopes.to_list_string(),
                    "previous_secret_valid_until":
                        r.previous_secret_valid_until(now_ms()).map(format_ms),
                })
            );
            Ok(0)
        }
    }
}

/// Runs a `signing-key` command; returns the exit code.
pub(super) async fn run_signing_key(command: SigningKeyCommand) -> anyhow::Result<i32> {
    let lifetime_ms = (TOKEN_LIFETIME_SECS * 1000) as i64;
    match command {
        SigningKeyCommand::Rotate { db } => {
            let store = open(&db).await?;
            // A database without keys gets its first one, which the rotation then retires:
            // harmless, and `rotate` always leaves exactly one signing key.
            store.signing_key().await.context("cannot read the keys")?;
            let r = store
                .rotate_signing_key(lifetime_ms)
                .await
                .context("cannot rotate the signing key")?;
            let action = audit::Action {
                tenants: audit::all_tenants(&store).await,
                action: "signing_keys.rotate",
                command: "rosterhub signing-key rotate",
                target: Some(r.kid.clone()),
                status: 200,
            };
            audit::record(&store, action).await;
            println!(
                "{}",
                json!({"kid": r.kid, "retired": r.retired, "deleted": r.deleted})
            );
            eprintln!(
                "new tokens are signed with {}; tokens of the retired keys stay valid until \
                 they expire (at most {} s). Running servers switch within a minute.",
                r.kid, TOKEN_LIFETIME_SECS
            );
            Ok(0)
        }
        SigningKeyCommand::List { db } => {
            let store = open(&db).await?;
            let keys = store
                .list_signing_keys()
                .await
                .context("cannot list the keys")?;
            let list: Vec<Value> = keys.iter().map(|k| key_json(k, lifetime_ms)).collect();
            println!("{}", serde_json::to_string_pretty(&list)?);
            Ok(0)
        }
    }
}

/// A key as `signing-key list` shows it: no secret.
fn key_json(k: &KeyInfo, lifetime_ms: i64) -> Value {
    json!({
        "kid": k.kid,
        "created_at": format_ms(k.created_at),
        "retired_at": k.retired_at.map(format_ms),
        "verifies_until": k.retired_at.map(|r| format_ms(r + lifetime_ms)),
    })
}

/// `--scopes`: full URIs or short names, space- or comma-separated; absent = all three.
fn parse_scopes(arg: Option<&str>) -> anyhow::Result<Scopes> {
    let Some(arg) = arg else {
        return Ok(Scopes::ALL);
    };
    let scopes = Scopes::parse_strict(arg).map_err(anyhow::Error::msg)?;
    if scopes.is_empty() {
        bail!("--scopes names no scope (leave it out to allow all three)");
    }
    Ok(scopes)
}

/// `--allow-ip` (repeatable, each may hold several ranges); none given = no change / any.
fn allow_ips(args: &[String]) -> anyhow::Result<Option<Vec<ipnet::IpNet>>> {
    if args.is_empty() {
        return Ok(None);
    }
    parse_allowed_ips(&args.join(" "))
        .map(Some)
        .map_err(|e| anyhow::anyhow!("--allow-ip {e}"))
}

fn rate_limit(n: i64) -> anyhow::Result<u32> {
    check_rate_limit(n).map_err(|e| anyhow::anyhow!("--rate-limit-per-min {e}"))
}

fn org_scope(arg: &str) -> anyhow::Result<Vec<String>> {
    parse_org_scope([arg]).map_err(|e| anyhow::anyhow!("--orgs {e}"))
}

fn overlap_ms(hours: f64) -> anyhow::Result<i64> {
    if !(0.0..=720.0).contains(&hours) {
        bail!("--overlap-hours must be from 0 to 720");
    }
    Ok((hours * 3_600_000.0) as i64)
}

/// A CLI action on one tenant that succeeded.
fn done(
    tenant: &str,
    action: &'static str,
    command: &'static str,
    target: Option<String>,
) -> audit::Action {
    audit::Action {
        tenants: vec![tenant.to_owned()],
        action,
        command,
        target,
        status: 200,
    }
}

/// Creates the client; the JSON object to print, with the secret.
async fn create(
    store: &Store,
    tenant: &str,
    name: &str,
    scopes: Scopes,
    settings: ClientSettings,
) -> anyhow::Result<Value> {
    let new = match store
        .create_client_with(tenant, name, scopes, settings)
        .await
    {
        Ok(new) => new,
        Err(StoreError::UnknownTenant(t)) => {
            bail!("unknown tenant {t:?}: create it first with `rosterhub tenant create {t}`")
        }
        Err(e) => return Err(e).context("cannot create the client"),
    };
    Ok(json!({
        "client_id": new.record.client_id,
        "client_secret": new.client_secret,
        "tenant": new.record.tenant,
        "scopes": new.record.scopes.to_list_string(),
    }))
}

/// A client as `client list` and `client update` show it: no secret, no hash.
fn client_json(c: &ClientRecord, now: i64) -> Value {
    json!({
        "client_id": c.client_id,
        "name": c.name,
        "tenant": c.tenant,
        "scopes": c.scopes.to_list_string(),
        "allowed_ips": c.allowed_ips.as_ref().map(|l| l.iter().map(|n| n.to_string()).collect::<Vec<_>>()),
        "rate_limit_per_min": c.rate_limit_per_min,
        "org_scope": c.org_scope,
        "created_at": format_ms(c.created_at),
        "revoked_at": c.revoked_at.map(format_ms),
        "previous_secret_valid_until": c.previous_secret_valid_until(now).map(format_ms),
        "target": c.target,
    })
}

/// A `--target` value as stored: a model's name, checked.
fn target_name(name: &str) -> anyhow::Result<String> {
    Ok(super::target::parse(name)?.name().to_owned())
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;
    use crate::cli::{Cli, Command};

    #[test]
    fn the_commands_parse() {
        let cli = Cli::try_parse_from([
            "rosterhub",
            "client",
            "create",
            "--name",
            "LMS",
            "--scopes",
            "roster.readonly roster-core.readonly",
            "--allow-ip",
            "10.0.0.0/8",
            "--allow-ip",
            "2001:db8::/32",
            "--orgs",
            "org-1,org-2",
            "--database-url",
            "sqlite://x.db",
        ])
        .unwrap();
        let Command::Client {
            command:
                ClientCommand::Create {
                    name,
                    tenant,
                    scopes,
                    allow_ip,
                    rate_limit_per_min,
                    orgs,
                    db,
                    ..
                },
        } = cli.command
        else {
            panic!("not client create");
        };
        assert_eq!((name.as_str(), tenant.as_str()), ("LMS", "default"));
        assert_eq!(
            parse_scopes(scopes.as_deref()).unwrap(),
            Scopes::ROSTER.union(Scopes::CORE)
        );
        assert_eq!(
            allow_ips(&allow_ip).unwrap().unwrap(),
            [
                "10.0.0.0/8".parse().unwrap(),
                "2001:db8::/32".parse().unwrap()
            ]
        );
        assert_eq!(rate_limit_per_min, None);
        assert_eq!(org_scope(&orgs.unwrap()).unwrap(), ["org-1", "org-2"]);
        assert_eq!(db.database_url.as_deref(), Some("sqlite://x.db"));
        assert!(Cli::try_parse_from(["rosterhub", "client", "revoke", "abc"]).is_ok());
        assert!(Cli::try_parse_from(["rosterhub", "client", "list", "--tenant", "t"]).is_ok());
        assert!(
            Cli::try_parse_from(["rosterhub", "client", "create"]).is_err(),
            "--name"
        );
        for args in [
            &["update", "abc", "--any-ip", "--allow-ip", "10.0.0.0/8"][..],
            &["update", "abc", "--all-orgs", "--orgs", "x"],
            &[
                "update",
                "abc",
                "--default-rate-limit",
                "--rate-limit-per-min",
                "5",
            ],
        ] {
            let mut argv = vec!["rosterhub", "client"];
            argv.extend_from_slice(args);
            assert!(Cli::try_parse_from(&argv).is_err(), "{args:?} conflict");
        }
        let cli = Cli::try_parse_from(["rosterhub", "client", "rotate-secret", "abc"]).unwrap();
        let Command::Client {
            command: ClientCommand::RotateSecret { overlap_hours, .. },
        } = cli.command
        else {
            panic!("not rotate-secret");
        };
        assert_eq!(overlap_hours, 24.0);
        assert!(Cli::try_parse_from(["rosterhub", "signing-key", "rotate"]).is_ok());
        assert!(Cli::try_parse_from(["rosterhub", "signing-key", "list"]).is_ok());
    }

    #[test]
    fn bad_settings_are_errors_naming_the_flag() {
        assert_eq!(parse_scopes(None).unwrap(), Scopes::ALL);
        assert!(parse_scopes(Some("")).is_err());
        assert!(parse_scopes(Some("roster.read")).is_err());
        let e = allow_ips(&["10.0.0.0/99".into()]).unwrap_err().to_string();
        assert!(e.starts_with("--allow-ip "), "{e}");
        let e = rate_limit(0).unwrap_err().to_string();
        assert!(e.starts_with("--rate-limit-per-min "), "{e}");
        assert!(
            org_scope(",")
                .unwrap_err()
                .to_string()
                .starts_with("--orgs ")
        );
        assert!(overlap_ms(-1.0).is_err());
        assert!(overlap_ms(f64::NAN).is_err());
        assert_eq!(overlap_ms(1.5).unwrap(), 5_400_000);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn create_prints_the_secret_once_and_list_never() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("cli.db").display());
        let store = Store::open(&url).await.unwrap();
        let none = ClientSettings::default;
        let err = create(&store, "nobody", "LMS", Scopes::ALL, none())
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("rosterhub tenant create nobody"),
            "{err}"
        );

        let created = create(&store, "default", "LMS", Scopes::ROSTER, none())
            .await
            .unwrap();
        let keys: Vec<&String> = created.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["client_id", "client_secret", "tenant", "scopes"]);
        assert_eq!(created["scopes"], Scopes::ROSTER_URI);
        let secret = created["client_secret"].as_str().unwrap();

        let listed = store.list_clients(None).await.unwrap();
        let list: Vec<Value> = listed.iter().map(|c| client_json(c, now_ms())).collect();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0]["client_id"], created["client_id"]);
        assert_eq!(list[0]["revoked_at"], Value::Null);
        assert_eq!(list[0]["allowed_ips"], Value::Null);
        let text = serde_json::to_string(&list).unwrap();
        assert!(!text.contains(secret), "{text}");
        assert!(!text.contains(&listed[0].secret_hash), "{text}");
        assert!(!text.contains("client_secret"), "{text}");
    }
}
