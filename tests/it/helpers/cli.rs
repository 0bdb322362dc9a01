//! The `rosterhub` binary as the tests run it: one command to its end, or `rosterhub serve` as a
//! process on a free port. The binary sees only the `ROSTERHUB_*` variables a test gives it, never
//! the shell's (a key or database URL there would change what the tests check).

use std::io::Write as _;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::TestDb;

/// A `rosterhub` command being set up; [`Rosterhub::run`] or [`Rosterhub::serve`] starts it.
pub struct Rosterhub {
    cmd: Command,
    stdin: Option<String>,
}

/// `rosterhub` with `args`.
pub fn rosterhub(args: &[&str]) -> Rosterhub {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rosterhub"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("ROSTERHUB_") {
            cmd.env_remove(name);
        }
    }
    cmd.args(args);
    Rosterhub { cmd, stdin: None }
}

/// `rosterhub import <bundle> --database-url <url> --format json`.
pub fn import_json(bundle: &std::path::Path, url: &str) -> Rosterhub {
    rosterhub(&[
        "import",
        bundle.to_str().unwrap(),
        "--database-url",
        url,
        "--format",
        "json",
    ])
}

impl Rosterhub {
    /// On `db` (`--database-url`).
    pub fn db(mut self, db: &TestDb) -> Rosterhub {
        self.cmd.args(["--database-url", &db.url]);
        self
    }

    /// Run in `dir` (the default database path is relative to it).
    pub fn dir(mut self, dir: &std::path::Path) -> Rosterhub {
        self.cmd.current_dir(dir);
        self
    }

    /// With these environment variables.
    pub fn env(mut self, vars: &[(&str, &str)]) -> Rosterhub {
        self.cmd.envs(vars.iter().copied());
        self
    }

    /// With `text` on stdin (otherwise stdin is empty).
    pub fn stdin(mut self, text: &str) -> Rosterhub {
        self.stdin = Some(text.to_owned());
        self
    }

    /// Runs to the end: the exit code (-1 for a signal), stdout and stderr.
    pub fn run(mut self) -> (i32, String, String) {
        let stdin = if self.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        };
        let mut child = self
            .cmd
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(text) = self.stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
        }
        let out = child.wait_with_output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    }

    /// Starts the command and returns at once; its output is collected by
    /// `Child::wait_with_output`.
    pub fn start(mut self) -> Child {
        self.cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Starts the command (`serve` and its options) listening on a free port, and waits until
    /// the port answers. Its log (stderr) goes to `log`, or nowhere.
    pub fn serve(mut self, log: Option<std::fs::File>) -> ServeProcess {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let temp = tempfile::tempdir().unwrap();
        let child = self
            .cmd
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .arg("--temp-dir")
            .arg(temp.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log.map_or_else(Stdio::null, Stdio::from))
            .spawn()
            .unwrap();
        let mut process = ServeProcess {
            child,
            base: format!("http://127.0.0.1:{port}"),
            _temp: temp,
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "rosterhub serve did not start"
            );
            assert!(
                process.child.try_wait().unwrap().is_none(),
                "rosterhub serve exited"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        process
    }
}

/// A `rosterhub serve` process, killed (SIGKILL: no graceful shutdown) when dropped.
pub struct ServeProcess {
    pub child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The process's `--temp-dir` (a PostgreSQL server would default to `./data/tmp`).
    _temp: tempfile::TempDir,
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The log at `path` once it holds `needle` (a server writes it shortly after the event).
pub fn wait_for_log(path: &std::path::Path, needle: &str) -> String {
    let started = Instant::now();
    loop {
        let log = std::fs::read_to_string(path).unwrap_or_default();
        if log.contains(needle) {
            return log;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no {needle:?} in the log: {log}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A new API client of the default tenant on `url` (`rosterhub client create`): its JSON, with
/// `client_id` and the one-time `client_secret`. `scopes`: the CLI's default when `None`.
pub fn create_client(url: &str, scopes: Option<&str>) -> serde_json::Value {
    let mut args = vec!["client", "create", "--name", "test", "--database-url", url];
    if let Some(s) = scopes {
        args.extend(["--scopes", s]);
    }
    let (code, out, err) = rosterhub(&args).run();
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

/// An access token of `client` from the `rosterhub serve` at `base`.
pub async fn token_of(base: &str, client: &serde_json::Value) -> String {
    let token: serde_json::Value = reqwest::Client::new()
        .post(format!("{base}/oauth/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=client_credentials&client_id={}&client_secret={}",
            client["client_id"].as_str().unwrap(),
            client["client_secret"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    token["access_token"].as_str().expect("a token").to_owned()
}
