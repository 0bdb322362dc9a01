//! A stored row that is not what its table promises — text outside a vocabulary, a flag that
//! is neither 0 nor 1, NULL where a value is required — is refused with `StoreError::Decode`
//! naming the column, never read as a default. The rows are broken with raw SQL behind
//! storage's back.

use rosterhub::jobs::{JobKind, JobParams};
use rosterhub::storage::StoreError;
use rosterhub::storage::ops::jobs::NewJob;
use rosterhub::users::Role;

use crate::helpers::{Backend, TestDb};
use crate::raw_sql::exec;

crate::on_both_backends!(
    a_job_in_an_unknown_state_is_an_error,
    a_job_with_null_where_a_value_is_required_is_an_error,
    an_admin_user_with_a_bad_flag_is_an_error,
);

/// The message of a decode error (anything else fails the test).
fn decode_message<T: std::fmt::Debug>(result: Result<T, StoreError>) -> String {
    match result {
        Err(e @ StoreError::Decode { .. }) => e.to_string(),
        other => panic!("expected a decode error, got {other:?}"),
    }
}

/// A queued import job of the default tenant; its id.
async fn job(db: &TestDb) -> String {
    let params = JobParams::default();
    let new = NewJob {
        tenant: "default",
        kind: JobKind::Import,
        params: &params,
        idempotency_key: None,
        upload_blob: None,
        created_by: "test",
    };
    db.store.create_job(new).await.unwrap().0.id
}

fn a_job_in_an_unknown_state_is_an_error(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    db.rt.block_on(async {
        let id = job(&db).await;
        assert_eq!(
            exec(&db, "UPDATE jobs SET state = 'bogus' WHERE id = $1", &[&id]).await,
            1
        );
        let message = decode_message(db.store.job("default", &id).await);
        assert_eq!(
            message,
            r#"column 3 (state): expected a job state, found the text "bogus""#
        );
        let listed = db
            .store
            .list_jobs("default", JobKind::Import, None, 10, 0)
            .await;
        decode_message(listed);
    });
}

fn a_job_with_null_where_a_value_is_required_is_an_error(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    db.rt.block_on(async {
        let id = job(&db).await;
        let (column, message) = match backend {
            // SQLite lets a TEXT PRIMARY KEY hold NULL.
            Backend::Sqlite => ("id", "column 0 (id): expected a text, found NULL"),
            Backend::Postgres => {
                exec(
                    &db,
                    "ALTER TABLE jobs ALTER COLUMN params DROP NOT NULL",
                    &[],
                )
                .await;
                (
                    "params",
                    "column 4 (params): expected job parameters (JSON), found NULL",
                )
            }
        };
        let sql = format!("UPDATE jobs SET {column} = NULL WHERE id = $1");
        assert_eq!(exec(&db, &sql, &[&id]).await, 1);
        let listed = db
            .store
            .list_jobs("default", JobKind::Import, None, 10, 0)
            .await;
        assert_eq!(decode_message(listed), message);
    });
}

fn an_admin_user_with_a_bad_flag_is_an_error(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    let user = crate::users::user(&db, "hanako", false, &[("default", Role::Admin)]);
    db.rt.block_on(async {
        let sql = "UPDATE admin_users SET system_admin = 7 WHERE id = $1";
        assert_eq!(exec(&db, sql, &[&user.id]).await, 1);
        let message = decode_message(db.store.admin_user(&user.id).await);
        assert_eq!(
            message,
            "column 3 (system_admin): expected 0 or 1, found the integer 7"
        );
        decode_message(db.store.list_admin_users(None).await);
    });
}
