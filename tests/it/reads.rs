//! Storage reads of malformed rows: a NULL where a value is required, or a cell of another
//! type, is an error of the read (a 500 for the API), never a panic or a default value.

use rosterhub::domain::Entity;
use rosterhub::storage::list::ListRequest;
use rosterhub::storage::select::Selection;
use rosterhub::storage::{Store, StoreError};

use crate::helpers::{Backend, TestDb, fixtures, opts};
use crate::on_both_backends;

/// A teacher of the `jp-profile-v1.2.1` fixture.
const TEACHER: &str = "570aa3c8-cd28-498c-b2b3-dab02cc3bddf";

fn a_malformed_row_is_an_error_of_the_read(backend: Backend) {
    let Some(db) = TestDb::new(backend) else {
        return;
    };
    db.tenant("default");
    db.import(&fixtures().join("jp-profile-v1.2.1"), opts());
    let store = &db.store;
    let read =
        || db.block_on(store.record("default", Entity::Users, TEACHER, &Selection::All, None));
    assert_eq!(read().unwrap().unwrap().sourced_id, TEACHER);
    // What no import writes, written by hand (through the test helper that runs raw SQL):
    // SQLite keeps a text in an INTEGER column; PostgreSQL a NULL once the constraint is gone.
    let update = |set: &str| format!("UPDATE users SET {set} WHERE sourced_id = '{TEACHER}'");
    let statements = match backend {
        Backend::Sqlite => vec![update("date_last_modified = 'soon'")],
        Backend::Postgres => vec![
            "ALTER TABLE users ALTER COLUMN status DROP NOT NULL".to_owned(),
            update("status = NULL"),
        ],
    };
    for sql in &statements {
        db.rows(sql);
    }
    let err = read().unwrap_err();
    match (store, &err) {
        (Store::Sqlite(_), StoreError::Sqlite(_))
        | (Store::Postgres(_), StoreError::Postgres(_)) => {}
        _ => panic!("{err:?}"),
    }
    // The same through a collection read.
    let request = ListRequest {
        tenant: "default",
        entity: Entity::Users,
        selection: &Selection::All,
        filter: None,
        sort: None,
        desc: false,
        scope: None,
    };
    let query = store.list_query(&request).unwrap();
    assert!(db.block_on(store.list_page(&query, 100, 0, None)).is_err());
}

on_both_backends!(a_malformed_row_is_an_error_of_the_read);
