//! `rosterhub admin …`: admin users of the web UI. Passwords come from `ROSTERHUB_ADMIN_PASSWORD`
//! or the first line of stdin — never from a flag, which `ps` and shell histories would show.
//! Output is JSON on stdout, never a password hash.

use std::io::{BufRead as _, IsTerminal as _};

use anyhow::{Context as _, bail};
use clap::Subcommand;
use serde_json::Value;

use super::DbArgs;
use super::audit;
use super::db::open;
use crate::storage::Store;
use crate::users::store::{self, NewUser, UserError};
use crate::users::{
    Password, Role, Username, parse_display_name, parse_email, parse_language, user_json,
};

/// The environment variable a password may come from.
pub const PASSWORD_ENV: &str = "ROSTERHUB_ADMIN_PASSWORD";

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an admin user: with a role per tenant (`--tenant T --role R`, repeatable, paired
    /// in order) or as a system admin (`--system`). The password is read from
    /// ROSTERHUB_ADMIN_PASSWORD or stdin (at least 12 characters). Prints the user as JSON.
    Create {
        username: String,
        #[arg(long)]
        tenant: Vec<String>,
        /// admin, uploader or viewer.
        #[arg(long)]
        role: Vec<String>,
        /// A system admin: every tenant, and the tenants themselves.
        #[arg(long)]
        system: bool,
        #[arg(long)]
        display_name: Option<String>,
        /// Where the user's e-mail notices go (docs/notifications.md).
        #[arg(long)]
        email: Option<String>,
        /// The language of the user's notices: ja or en (default: the server's).
        #[arg(long)]
        language: Option<String>,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Set where a user's e-mail notices go and their language; an empty value clears it
    /// (`--email ""`: no notices).
    SetEmail {
        username: String,
        #[arg(long)]
        email: Option<String>,
        /// ja or en; empty: the server's default.
        #[arg(long)]
        language: Option<String>,
        #[command(flatten)]
        db: DbArgs,
    },
    /// List admin users as a JSON array (never password hashes).
    List {
        /// Only the users with a role in this tenant.
        #[arg(long)]
        tenant: Option<String>,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Set a user's password (from ROSTERHUB_ADMIN_PASSWORD or stdin); its sessions end and a
    /// lock is lifted.
    SetPassword {
        username: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Disable a user: it cannot log in, and its sessions end at once.
    Disable {
        username: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Enable a disabled user again (and lift a lock after failed logins).
    Enable {
        username: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Give a user a role in a tenant (replacing its role there).
    Grant {
        username: String,
        #[arg(long)]
        tenant: String,
        /// admin, uploader or viewer.
        #[arg(long)]
        role: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Take a user's role in a tenant away.
    RevokeRole {
        username: String,
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

fn role(s: &str) -> anyhow::Result<Role> {
    Role::parse(s).with_context(|| format!("unknown --role {s:?}: use admin, uploader or viewer"))
}

/// The password from the environment, else the first line of stdin (echo off on a terminal).
fn read_password() -> anyhow::Result<Password> {
    let text = match std::env::var(PASSWORD_ENV) {
        Ok(p) => p,
        Err(_) => {
            let stdin = std::io::stdin();
            let terminal = stdin.is_terminal();
            if terminal {
                eprint!("Password (at least 12 characters): ");
                set_echo(false);
            }
            let mut line = String::new();
            let read = stdin.lock().read_line(&mut line);
            if terminal {
                set_echo(true);
                eprintln!();
            }
            read.context("cannot read the password from stdin")?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    if text.is_empty() {
        bail!("no password: set {PASSWORD_ENV} or write it to stdin");
    }
    Ok(Password::new(text)?)
}

/// Best effort: `stty -echo` while a password is typed.
fn set_echo(on: bool) {
    let _ = std::process::Command::new("stty")
        .arg(if on { "echo" } else { "-echo" })
        .stdin(std::process::Stdio::inherit())
        .status();
}

async fn hash(password: Password) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || password.hash())
        .await
        .context("hashing the password failed")
}

async fn user_id(store: &Store, username: &str) -> anyhow::Result<Option<String>> {
    Ok(store::by_username(store, username)
        .await
        .context("cannot read the admin users")?
        .map(|u| u.id))
}

fn print(v: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

fn no_user(username: &str) -> i32 {
    eprintln!("no admin user {username:?}");
    1
}

fn tenant_error(e: UserError) -> anyhow::Error {
    match e {
        UserError::UnknownTenant(t) => {
            anyhow::anyhow!(
                "unknown tenant {t:?}: create it first with `rosterhub tenant create {t}`"
            )
        }
        e => anyhow::Error::new(e).context("cannot change the admin user"),
    }
}

/// Runs an `admin` command; returns the exit code.
pub(super) async fn run(command: AdminCommand) -> anyhow::Result<i32> {
    match command {
        AdminCommand::Create {
            username,
            tenant,
            role: roles,
            system,
            display_name,
            email,
            language,
            db,
        } => {
            let username = Username::parse(&username)?;
            let email = email.as_deref().map(parse_email).transpose()?.flatten();
            let language = language
                .as_deref()
                .map(parse_language)
                .transpose()?
                .flatten();
            if tenant.len() != roles.len() {
                bail!("give each --tenant its --role, in order (--tenant T --role R …)");
            }
            if system != tenant.is_empty() {
                bail!("give --tenant T --role R (one or more) or --system, not both nor neither");
            }
            let roles = tenant
                .into_iter()
                .zip(&roles)
                .map(|(t, r)| Ok((t, role(r)?)))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let display_name = match display_name {
                Some(n) => parse_display_name(&n)?,
                None => None,
            };
            let password = read_password()?;
            let store = open(&db).await?;
            let new = NewUser {
                username,
                display_name,
                password_hash: hash(password).await?,
                system_admin: system,
                roles,
                email,
                language,
            };
            let user = match store::create(&store, new).await {
                Ok(u) => u,
                Err(UserError::Exists(name)) => bail!("the username {name:?} is taken"),
                Err(e) => return Err(tenant_error(e)),
            };
            let tenants = if user.system_admin {
                audit::all_tenants(&store).await
            } else {
                user.roles.iter().map(|(t, _)| t.clone()).collect()
            };
            user_action(
                &store,
                tenants,
                "users.create",
                "rosterhub admin create",
                &user.id,
            )
            .await;
            print(&user_json(&user, None))?;
            Ok(0)
        }
        AdminCommand::List { tenant, db } => {
            let store = open(&db).await?;
            let users = store
                .list_admin_users(tenant.as_deref())
                .await
                .context("cannot list the admin users")?;
            print(&Value::Array(
                users.iter().map(|u| user_json(u, None)).collect(),
            ))?;
            Ok(0)
        }
        AdminCommand::SetPassword { username, db } => {
            let password = read_password()?;
            let store = open(&db).await?;
            let Some(id) = user_id(&store, &username).await? else {
                return Ok(no_user(&username));
            };
            store
                .set_admin_password(&id, &hash(password).await?)
                .await?;
            let tenants = user_tenants(&store, &id).await;
            let command = "rosterhub admin set-password";
            user_action(&store, tenants, "users.update", command, &id).await;
            eprintln!("the password of {username} is set; its sessions have ended");
            Ok(0)
        }
        AdminCommand::SetEmail {
            username,
            email,
            language,
            db,
        } => {
            let email = email.as_deref().map(parse_email).transpose()?;
            let language = language.as_deref().map(parse_language).transpose()?;
            let store = open(&db).await?;
            let Some(id) = user_id(&store, &username).await? else {
                return Ok(no_user(&username));
            };
            let user = store
                .admin_user(&id)
                .await?
                .context("the user was deleted meanwhile")?;
            let email = email.unwrap_or(user.email);
            let language = language.unwrap_or(user.language);
            store
                .set_admin_contact(&id, email.as_deref(), language.as_deref())
                .await?;
            let tenants = user_tenants(&store, &id).await;
            let command = "rosterhub admin set-email";
            user_action(&store, tenants, "users.update", command, &id).await;
            let user = store
                .admin_user(&id)
                .await?
                .context("the user was deleted meanwhile")?;
            print(&user_json(&user, None))?;
            Ok(0)
        }
        AdminCommand::Disable { username, db } => set_disabled(&username, &db, true).await,
        AdminCommand::Enable { username, db } => set_disabled(&username, &db, false).await,
        AdminCommand::Grant {
            username,
            tenant,
            role: r,
            db,
        } => {
            let r = role(&r)?;
            let store = open(&db).await?;
            let Some(id) = user_id(&store, &username).await? else {
                return Ok(no_user(&username));
            };
            store::grant(&store, &id, &tenant, r)
                .await
                .map_err(tenant_error)?;
            let command = "rosterhub admin grant";
            user_action(&store, vec![tenant.clone()], "users.update", command, &id).await;
            eprintln!("{username} is {r} in tenant {tenant}");
            Ok(0)
        }
        AdminCommand::RevokeRole {
            username,
            tenant,
            db,
        } => {
            let store = open(&db).await?;
            let Some(id) = user_id(&store, &username).await? else {
                return Ok(no_user(&username));
            };
            if store.revoke_admin_role(&id, &tenant).await? {
                let command = "rosterhub admin revoke-role";
                user_action(&store, vec![tenant.clone()], "users.update", command, &id).await;
                eprintln!("{username} has no role in tenant {tenant} any more");
                Ok(0)
            } else {
                eprintln!("{username} had no role in tenant {tenant}");
                Ok(1)
            }
        }
    }
}

/// The tenants whose audit log shows a change of admin user `id`: those it has a role in, or
/// every tenant for a system admin.
async fn user_tenants(store: &Store, id: &str) -> Vec<String> {
    match store.admin_user(id).await {
        Ok(Some(u)) if !u.system_admin => u.roles.into_iter().map(|(t, _)| t).collect(),
        _ => audit::all_tenants(store).await,
    }
}

/// Records a change of admin user `id` in the audit log of `tenants`.
async fn user_action(
    store: &Store,
    tenants: Vec<String>,
    action: &'static str,
    command: &'static str,
    id: &str,
) {
    let action = audit::Action {
        tenants,
        action,
        command,
        target: Some(id.to_owned()),
        status: 200,
    };
    audit::record(store, action).await;
}

async fn set_disabled(username: &str, db: &DbArgs, disabled: bool) -> anyhow::Result<i32> {
    let store = open(db).await?;
    let Some(id) = user_id(&store, username).await? else {
        return Ok(no_user(username));
    };
    store.set_admin_disabled(&id, disabled).await?;
    let command = if disabled {
        "rosterhub admin disable"
    } else {
        "rosterhub admin enable"
    };
    let tenants = user_tenants(&store, &id).await;
    user_action(&store, tenants, "users.update", command, &id).await;
    if disabled {
        eprintln!("{username} is disabled; its sessions have ended");
    } else {
        eprintln!("{username} is enabled");
    }
    Ok(0)
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
            "admin",
            "create",
            "hanako",
            "--tenant",
            "t1",
            "--role",
            "admin",
            "--tenant",
            "t2",
            "--role",
            "viewer",
        ])
        .unwrap();
        let Command::Admin {
            command:
                AdminCommand::Create {
                    username,
                    tenant,
                    role,
                    system,
                    ..
                },
        } = cli.command
        else {
            panic!("not admin create");
        };
        assert_eq!(username, "hanako");
        assert_eq!(tenant, ["t1", "t2"]);
        assert_eq!(role, ["admin", "viewer"]);
        assert!(!system);
        for args in [
            &["rosterhub", "admin", "create", "root", "--system"][..],
            &["rosterhub", "admin", "list", "--tenant", "t1"],
            &["rosterhub", "admin", "set-password", "hanako"],
            &["rosterhub", "admin", "disable", "hanako"],
            &["rosterhub", "admin", "enable", "hanako"],
            &[
                "rosterhub",
                "admin",
                "grant",
                "hanako",
                "--tenant",
                "t",
                "--role",
                "viewer",
            ],
            &[
                "rosterhub",
                "admin",
                "revoke-role",
                "hanako",
                "--tenant",
                "t",
            ],
        ] {
            assert!(Cli::try_parse_from(args).is_ok(), "{args:?}");
        }
        assert!(
            Cli::try_parse_from(["rosterhub", "admin", "create", "x", "--password", "p"]).is_err(),
            "no password flag"
        );
    }
}
