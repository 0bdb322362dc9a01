//! `rosterhub client …`: API clients of the token endpoint. Output is JSON on stdout; a new
//! client's secret is printed once, at creation, and never stored in clear.

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

use super::ClientCommand;
use super::commands::open;
use crate::auth::Scopes;
use crate::domain::datetime::format_ms;
use crate::storage::clients::ClientRecord;
use crate::storage::{Store, StoreError};

/// Runs a `client` command; returns the exit code.
pub(super) async fn run(command: ClientCommand) -> anyhow::Result<i32> {
    match command {
        ClientCommand::Create {
            name,
            tenant,
            scopes,
            db,
        } => {
            let scopes = parse_scopes(scopes.as_deref())?;
            if name.trim().is_empty() {
                bail!("--name must not be empty");
            }
            let store = open(&db.database_url).await?;
            println!("{}", create(&store, &tenant, &name, scopes).await?);
            Ok(0)
        }
        ClientCommand::List { tenant, db } => {
            let store = open(&db.database_url).await?;
            let clients = store
                .list_clients(tenant.as_deref())
                .await
                .context("cannot list the clients")?;
            let list: Vec<Value> = clients.iter().map(client_json).collect();
            println!("{}", serde_json::to_string_pretty(&list)?);
            Ok(0)
        }
        ClientCommand::Revoke { client_id, db } => {
            let store = open(&db.database_url).await?;
            if store
                .revoke_client(&client_id)
                .await
                .context("cannot revoke the client")?
            {
                eprintln!("client {client_id} is revoked: it gets no new tokens");
                Ok(0)
            } else {
                eprintln!("no client {client_id:?}");
                Ok(1)
            }
        }
    }
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

/// Creates the client; the JSON object to print, with the secret.
async fn create(store: &Store, tenant: &str, name: &str, scopes: Scopes) -> anyhow::Result<Value> {
    let new = match store.create_client(tenant, name, scopes).await {
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

/// A client as `client list` shows it: no secret, no hash.
fn client_json(c: &ClientRecord) -> Value {
    json!({
        "client_id": c.client_id,
        "name": c.name,
        "tenant": c.tenant,
        "scopes": c.scopes.to_list_string(),
        "created_at": format_ms(c.created_at),
        "revoked_at": c.revoked_at.map(format_ms),
    })
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
                    db,
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
        assert_eq!(db.database_url, "sqlite://x.db");
        assert!(Cli::try_parse_from(["rosterhub", "client", "revoke", "abc"]).is_ok());
        assert!(Cli::try_parse_from(["rosterhub", "client", "list", "--tenant", "t"]).is_ok());
        assert!(
            Cli::try_parse_from(["rosterhub", "client", "create"]).is_err(),
            "--name"
        );
    }

    #[test]
    fn scopes_default_to_all_and_typos_are_errors() {
        assert_eq!(parse_scopes(None).unwrap(), Scopes::ALL);
        assert!(parse_scopes(Some("")).is_err());
        assert!(parse_scopes(Some("roster.read")).is_err());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn create_prints_the_secret_once_and_list_never() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("cli.db").display());
        let store = Store::open(&url).await.unwrap();
        let err = create(&store, "nobody", "LMS", Scopes::ALL)
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("rosterhub tenant create nobody"),
            "{err}"
        );

        let created = create(&store, "default", "LMS", Scopes::ROSTER)
            .await
            .unwrap();
        let keys: Vec<&String> = created.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["client_id", "client_secret", "tenant", "scopes"]);
        assert_eq!(created["scopes"], Scopes::ROSTER_URI);
        let secret = created["client_secret"].as_str().unwrap();

        let list: Vec<Value> = store
            .list_clients(None)
            .await
            .unwrap()
            .iter()
            .map(client_json)
            .collect();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0]["client_id"], created["client_id"]);
        assert_eq!(list[0]["revoked_at"], Value::Null);
        let text = serde_json::to_string(&list).unwrap();
        assert!(!text.contains(secret) && !text.contains("secret"), "{text}");
    }
}
