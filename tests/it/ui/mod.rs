//! The web admin UI over a real socket: sign-in and sign-out on the admin sessions, the
//! language, the security headers of every page, role gating; `browser` drives headless
//! Chromium through the same pages.

mod audit;
mod browser;
mod browser_mappings;
mod chromium;
mod clients;
mod gating;
mod mappings;
mod pages;
mod roster;
mod users;
mod webhooks;

use std::collections::BTreeMap;

use reqwest::header::HeaderMap;

use crate::server::Server;

/// A cookie-keeping client that does not follow redirects: a person's browser, seen from the
/// server.
pub struct Visitor {
    http: reqwest::Client,
    base: String,
    pub cookies: BTreeMap<String, String>,
}

/// An answer: status, headers, body text.
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }

    /// The value of the hidden `csrf_token` field of the page's forms.
    pub fn csrf(&self) -> String {
        let at = self
            .text
            .find("name=\"csrf_token\" value=\"")
            .expect("a form with a token");
        let rest = &self.text[at + 25..];
        rest[..rest.find('"').unwrap()].to_owned()
    }
}

impl Answer {
    /// The CSRF token in the upload form's action (`?csrf_token=`).
    pub fn csrf_in_action(&self) -> String {
        let at = self
            .text
            .find("?csrf_token=")
            .expect("a form with a token in its action");
        let rest = &self.text[at + 12..];
        // The action may end with a fragment (`#preview`).
        rest[..rest.find(['"', '#']).unwrap()].to_owned()
    }
}

impl Visitor {
    pub fn new(server: &Server) -> Visitor {
        Visitor {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: server.base.clone(),
            cookies: BTreeMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn send(&mut self, req: reqwest::RequestBuilder) -> Answer {
        let req = if self.cookies.is_empty() {
            req
        } else {
            req.header("cookie", self.cookie_header())
        };
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        for set in headers.get_all("set-cookie") {
            let set = set.to_str().unwrap();
            let pair = set.split(';').next().unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            if set.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
        Answer {
            status,
            headers,
            text: r.text().await.unwrap(),
        }
    }

    pub async fn get(&mut self, path: &str) -> Answer {
        let req = self.http.get(format!("{}{path}", self.base));
        self.send(req).await
    }

    /// A GET as htmx makes it (`HX-Request: true`).
    pub async fn get_hx(&mut self, path: &str) -> Answer {
        let req = self
            .http
            .get(format!("{}{path}", self.base))
            .header("hx-request", "true");
        self.send(req).await
    }

    /// Posts an urlencoded form as a browser would (with this server as `Origin`).
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("origin", self.base.clone())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_body(fields));
        self.send(req).await
    }

    /// Posts a body of `content_type` with this server as `Origin`.
    pub async fn post_raw(&mut self, path: &str, content_type: &str, body: Vec<u8>) -> Answer {
        let req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("origin", self.base.clone())
            .header("content-type", content_type.to_owned())
            .body(body);
        self.send(req).await
    }

    /// Signs in with the test password; the answer to the form.
    pub async fn sign_in(&mut self, username: &str, tenant: &str) -> Answer {
        self.post(
            "/ui/login",
            &[
                ("username", username),
                ("password", crate::users::PASSWORD),
                ("tenant", tenant),
            ],
        )
        .await
    }
}

/// An urlencoded form body.
pub fn form_body(fields: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect::<String>()
    };
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}
