//! Admin users of the web UI, on both backends against a server on a real socket: login and its
//! cookie, CSRF, roles, lock-out, logout and expiry, the users and tenants APIs, and the CLI.

mod api;
mod audited;
mod cli;
mod lockout;
mod session;

use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder};
use rosterhub::users::store::{self, NewUser};
use rosterhub::users::{AdminUser, Password, Role, Username};
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::helpers::TestDb;
pub use crate::raw_sql::{ops_exec, ops_rows};
use crate::server::Server;
// The harness's server without job workers, as this module's tests name it.
pub use crate::server::start_with;

/// Every test user's password.
pub const PASSWORD: &str = "correct horse battery staple";

/// Creates a user whose password is [`PASSWORD`].
pub fn user(db: &TestDb, name: &str, system: bool, roles: &[(&str, Role)]) -> AdminUser {
    let new = NewUser {
        username: Username::parse(name).unwrap(),
        display_name: None,
        password_hash: Password::new(PASSWORD.into()).unwrap().hash(),
        system_admin: system,
        roles: roles.iter().map(|(t, r)| (t.to_string(), *r)).collect(),
        email: None,
        language: None,
    };
    db.block_on(store::create(&db.store, new)).unwrap()
}

/// A new database of `backend` served without job workers, with the user `hanako`, an admin of
/// tenant `default`.
pub fn hanako_served(backend: crate::helpers::Backend) -> Option<(TestDb, Server, AdminUser)> {
    let db = TestDb::new(backend)?;
    let server = start_with(&db, |_| {});
    let hanako = user(&db, "hanako", false, &[("default", Role::Admin)]);
    Some((db, server, hanako))
}

/// A response: status, headers and the JSON body (`Null` when there is none).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }

    /// The body's `error` code.
    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or("")
    }
}

pub async fn send(request: RequestBuilder) -> Reply {
    let r = request.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let bytes = r.bytes().await.unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
    }
}

/// `POST /api/v1/session` with JSON.
pub async fn login(server: &Server, username: &str, password: &str, tenant: Option<&str>) -> Reply {
    let mut body = json!({"username": username, "password": password});
    if let Some(t) = tenant {
        body["tenant"] = json!(t);
    }
    send(server.http.post(server.url("/api/v1/session")).json(&body)).await
}

/// A logged-in browser: its session cookie and CSRF token.
pub struct Browser {
    pub token: String,
    pub csrf: String,
}

/// The session token in a login's `Set-Cookie`.
pub fn cookie_token(reply: &Reply) -> String {
    let set = reply.header("set-cookie");
    let value = set
        .strip_prefix("rosterhub_session=")
        .unwrap_or_else(|| panic!("no session cookie: {set:?}"));
    value.split(';').next().unwrap().to_owned()
}

/// Logs in (asserting success).
pub async fn browser(server: &Server, username: &str, tenant: Option<&str>) -> Browser {
    let r = login(server, username, PASSWORD, tenant).await;
    assert_eq!(r.status, 200, "{}", r.body);
    Browser {
        token: cookie_token(&r),
        csrf: r.body["csrf_token"].as_str().unwrap().to_owned(),
    }
}

impl Browser {
    /// A request with the session cookie, and the CSRF header when `csrf`.
    pub fn request(
        &self,
        server: &Server,
        method: Method,
        path: &str,
        csrf: bool,
    ) -> RequestBuilder {
        let mut r = server.http.request(method, server.url(path)).header(
            "cookie",
            format!("theme=dark; rosterhub_session={}", self.token),
        );
        if csrf {
            r = r.header("x-csrf-token", &self.csrf);
        }
        r
    }

    pub async fn get(&self, server: &Server, path: &str) -> Reply {
        send(self.request(server, Method::GET, path, false)).await
    }

    /// A write with the CSRF token.
    pub async fn write(
        &self,
        server: &Server,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Reply {
        let mut r = self.request(server, method, path, true);
        if let Some(b) = body {
            r = r.json(&b);
        }
        send(r).await
    }
}

/// hex(SHA-256(text)): what the sessions table holds of a token.
pub fn sha256_hex(text: &str) -> String {
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}
