//! Failed logins: one answer for every wrong credential, the account lock-out, the per-address
//! limit (wrong passwords only), and which tenant a login opens.

use rosterhub::domain::datetime::now_ms;
use rosterhub::users::Role;
use serde_json::{Value, json};

use super::{PASSWORD, hanako_served, login, ops_exec, ops_rows, send, start_with, user};
use crate::helpers::{Backend, TestDb};

fn wrong() -> Value {
    json!({"error": "invalid_credentials", "message": "wrong username or password"})
}

fn wrong_credentials_get_one_answer_and_logins_pick_a_tenant(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    db.tenant("t2");
    let server = start_with(&db, |_| {});
    let hanako = user(&db, "hanako", false, &[("default", Role::Admin)]);
    let gone = user(&db, "gone", false, &[("default", Role::Admin)]);
    db.block_on(db.store.set_admin_disabled(&gone.id, true))
        .unwrap();
    user(
        &db,
        "two",
        false,
        &[("default", Role::Viewer), ("t2", Role::Admin)],
    );
    user(&db, "roleless", false, &[]);
    db.rt.block_on(async {
        for (name, password, case) in [
            ("hanako", "wrong password 123", "a wrong password"),
            ("nobody", PASSWORD, "an unknown user"),
            ("gone", PASSWORD, "a disabled user"),
        ] {
            let r = login(&server, name, password, None).await;
            assert_eq!((r.status, &r.body), (401, &wrong()), "{case}");
            assert_eq!(r.header("set-cookie"), "", "{case}");
        }
        // Each failure is recorded; only an existing, enabled account's counts towards its lock.
        let failures = ops_rows(
            &db,
            "SELECT user_id FROM admin_login_failures ORDER BY at, user_id",
        );
        let mut ids: Vec<Value> = failures.into_iter().map(|r| r[0].clone()).collect();
        ids.sort_by_key(|v| v.to_string());
        assert_eq!(ids, vec![json!(hanako.id), Value::Null, Value::Null]);
        let counts = ops_rows(
            &db,
            &format!(
                "SELECT failed_logins, locked_until FROM admin_users WHERE id = '{}'",
                hanako.id
            ),
        );
        assert_eq!(counts, vec![vec![json!(1), Value::Null]]);

        // Malformed requests.
        let r = send(
            server
                .http
                .post(server.url("/api/v1/session"))
                .json(&json!({"username": "hanako"})),
        )
        .await;
        assert_eq!(
            (r.status, &r.body),
            (
                400,
                &json!({"error": "invalid_field", "message": "password: is required"})
            )
        );
        let r = send(server.http.post(server.url("/api/v1/session")).body("{")).await;
        assert_eq!((r.status, r.error()), (400, "invalid_json"));

        // Which tenant: the only one; else it must be named, and be one of the user's.
        let r = login(&server, "two", PASSWORD, None).await;
        assert_eq!(
            (r.status, &r.body),
            (
                400,
                &json!({"error": "tenant_required",
                        "message": "choose a tenant: one of default, t2"})
            )
        );
        let r = login(&server, "two", PASSWORD, Some("t2")).await;
        assert_eq!((r.status, &r.body["role"]), (200, &json!("admin")));
        let r = login(&server, "hanako", PASSWORD, Some("t2")).await;
        assert_eq!(
            (r.status, &r.body),
            (
                403,
                &json!({"error": "no_role", "message": "you have no role in tenant \"t2\""})
            )
        );
        let r = login(&server, "roleless", PASSWORD, None).await;
        assert_eq!((r.status, r.error()), (403, "no_role"));
        assert_eq!(r.header("set-cookie"), "");
    });
}

fn five_failures_lock_the_account(backend: Backend) {
    let Some((db, server, hanako)) = hanako_served(backend) else {
        return;
    };
    let state = |db: &TestDb| {
        ops_rows(
            db,
            &format!(
                "SELECT failed_logins, locked_until FROM admin_users WHERE id = '{}'",
                hanako.id
            ),
        )[0]
        .clone()
    };
    db.rt.block_on(async {
        for attempt in 1..=5 {
            let r = login(&server, "hanako", "wrong password 123", None).await;
            assert_eq!((r.status, &r.body), (401, &wrong()), "attempt {attempt}");
        }
        let row = state(&db);
        assert_eq!(row[0], json!(5));
        let until = row[1].as_i64().expect("locked");
        let left = until - now_ms();
        assert!((14 * 60_000..=15 * 60_000).contains(&left), "{left} ms");

        // Locked: the right password does not open it, nor does a wrong one count.
        for password in [PASSWORD, "wrong password 123"] {
            let r = login(&server, "hanako", password, None).await;
            assert_eq!(
                (r.status, &r.body),
                (
                    429,
                    &json!({"error": "account_locked",
                            "message": "the account is locked after repeated failed logins; \
                                        try again later"})
                )
            );
            let secs: i64 = r.header("retry-after").parse().unwrap();
            assert!((840..=900).contains(&secs), "Retry-After {secs}");
            assert_eq!(r.header("set-cookie"), "");
        }
        assert_eq!(
            state(&db)[1].as_i64(),
            Some(until),
            "the lock is not extended"
        );

        // Once the lock has passed, the right password works and clears the count.
        let past = now_ms() - 1000;
        ops_exec(
            &db,
            &format!(
                "UPDATE admin_users SET locked_until = {past} WHERE id = '{}'",
                hanako.id
            ),
        );
        ops_exec(
            &db,
            &format!(
                "UPDATE auth_throttle SET locked_until = {past}, window_start = {} \
                 WHERE scope = 'login_user' AND subject = 'hanako'",
                past - 15 * 60 * 1000
            ),
        );
        let r = login(&server, "hanako", PASSWORD, None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(state(&db), vec![json!(0), Value::Null]);
        // Failures before the login no longer count: one more failure is one.
        let r = login(&server, "hanako", "wrong password 123", None).await;
        assert_eq!(r.status, 401);
        assert_eq!(state(&db), vec![json!(1), Value::Null]);
    });
}

fn an_address_past_its_limit_refuses_only_wrong_passwords(backend: Backend) {
    let Some((db, server, _)) = hanako_served(backend) else {
        return;
    };
    db.rt.block_on(async {
        for i in 0..20 {
            let r = login(&server, &format!("guess{i}"), PASSWORD, None).await;
            assert_eq!((r.status, &r.body), (401, &wrong()), "guess {i}");
        }
        // Past 20 failures from the address, a wrong password is refused with 429…
        let too_many = json!({"error": "too_many_attempts",
            "message": "too many failed logins from this address; check the username and \
                        password and try again later"});
        for name in ["guess20", "hanako"] {
            let r = login(&server, name, "wrong password 123", None).await;
            assert_eq!((r.status, &r.body), (429, &too_many), "{name}");
            let secs: i64 = r.header("retry-after").parse().unwrap();
            assert!((840..=900).contains(&secs), "Retry-After {secs}");
        }
        // …but a right password of an account that is not locked still logs in: everyone
        // behind one school NAT is not locked out by one person's guesses.
        let r = login(&server, "hanako", PASSWORD, None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["user"]["username"], "hanako", "{}", r.body);
        // No account was locked by guesses at other names, and hanako's failure was cleared
        // by the login.
        assert_eq!(
            ops_rows(&db, "SELECT failed_logins, locked_until FROM admin_users"),
            vec![vec![json!(0), Value::Null]]
        );
    });
}

crate::on_both_backends!(
    wrong_credentials_get_one_answer_and_logins_pick_a_tenant,
    five_failures_lock_the_account,
    an_address_past_its_limit_refuses_only_wrong_passwords,
);
