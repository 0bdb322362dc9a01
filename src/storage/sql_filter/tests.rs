//! The generated SQL, executed against the real SQLite schema; the same fixture and case table
//! run on PostgreSQL in `pg_tests`.

use super::*;
use crate::domain::datetime::parse_datetime;
use crate::filter::{Resource, parse_filter};

/// A cell of a fixture row.
#[derive(Debug, Clone, Copy)]
pub(super) enum Cell {
    T(&'static str),
    N,
    Ms(&'static str),
}
use Cell::{Ms, N, T};

impl Cell {
    pub(super) fn int(self) -> Option<i64> {
        match self {
            Ms(d) => Some(parse_datetime(d).expect("fixture date").ms),
            _ => None,
        }
    }
}

#[rustfmt::skip]
const USER_COLS: &[&str] = &[
    "tenant_id", "sourced_id", "status", "date_last_modified", "given_name", "family_name",
    "middle_name", "email", "grades", "agent_sourced_ids", "enabled_user",
    "preferred_given_name", "primary_org_sourced_id", "metadata",
];

#[rustfmt::skip]
const ROLE_COLS: &[&str] = &[
    "tenant_id", "sourced_id", "status", "date_last_modified", "user_sourced_id", "role_type",
    "role", "org_sourced_id", "begin_date",
];

#[rustfmt::skip]
const USERS: &[&[Cell]] = &[
    &[T("default"), T("u1"), T("active"), Ms("2024-04-01"), T("Taro"), T("Yamada"), N,
      T("taro+news@example.jp"), T("P3"), T("u3"), T("true"), T("Tarō"), T("s1"),
      T(r#"{"jp.kanaGivenName":"タロウ","jp.homeClass":"c1"}"#)],
    &[T("default"), T("u2"), T("active"), Ms("2024-05-01"), T("Hanako"), T("O'Brien"), N,
      T("hanako@example.jp"), T("P3,P4"), N, T("false"), N, N,
      T(r#"{"jp.kanaGivenName":"ハナコ"}"#)],
    &[T("default"), T("u3"), T("tobedeleted"), Ms("2024-03-01"), T("Ken"), T("Suzuki"), N, N,
      N, N, T("true"), N, N, N],
    &[T("default"), T("u4"), T("active"), Ms("2024-06-01"), T("Mika"), T("YAMADA"), N,
      T("MIKA@EXAMPLE.JP"), T("P13"), N, T("true"), N, N, T("{}")],
    // Another tenant's twin of u1: no filter may reach it.
    &[T("t2"), T("u5"), T("active"), Ms("2024-04-01"), T("Taro"), T("Yamada"), N,
      T("taro+news@example.jp"), T("P3"), T("u3"), T("true"), T("Tarō"), T("s1"),
      T(r#"{"jp.kanaGivenName":"タロウ"}"#)],
];

#[rustfmt::skip]
const ROLES: &[&[Cell]] = &[
    &[T("default"), T("r1"), T("active"), Ms("2024-04-01"), T("u1"), T("primary"), T("student"), T("s1"), T("2024-04-01")],
    &[T("default"), T("r2"), T("active"), Ms("2024-04-01"), T("u2"), T("primary"), T("student"), T("s1"), N],
    &[T("default"), T("r3"), T("active"), Ms("2024-04-01"), T("u3"), T("primary"), T("teacher"), T("s1"), N],
    &[T("default"), T("r4"), T("active"), Ms("2024-04-01"), T("u3"), T("secondary"), T("administrator"), T("s2"), N],
    &[T("default"), T("r5"), T("tobedeleted"), Ms("2024-04-01"), T("u4"), T("primary"), T("student"), T("s1"), N],
    &[T("default"), T("r6"), T("active"), Ms("2024-04-01"), T("u4"), T("primary"), T("teacher"), T("s2"), N],
    &[T("t2"), T("r7"), T("active"), Ms("2024-04-01"), T("u5"), T("primary"), T("student"), T("s1"), T("2024-04-01")],
];

/// A fixture table: name, columns, rows.
pub(super) type Table = (
    &'static str,
    &'static [&'static str],
    &'static [&'static [Cell]],
);

pub(super) const FIXTURE: &[Table] = &[("users", USER_COLS, USERS), ("roles", ROLE_COLS, ROLES)];

/// (users filter, the sourcedIds of tenant `default` it selects).
pub(super) const CASES: &[(&str, &[&str])] = &[
    ("givenName='Taro'", &["u1"]),
    ("familyName='O''Brien'", &["u2"]),
    ("email='taro+news@example.jp'", &["u1"]),
    ("email='taro news@example.jp'", &[]),
    ("email~'EXAMPLE'", &["u1", "u2", "u4"]),
    ("familyName~'yamada'", &["u1", "u4"]),
    ("familyName='yamada'", &[]),
    ("preferredFirstName='Tarō'", &["u1"]),
    ("preferredFirstName~'TARŌ'", &[]),
    ("primaryOrg.sourcedId='s1'", &["u1"]),
    ("middleName=''", &["u1", "u2", "u3", "u4"]),
    ("email=''", &["u3"]),
    ("email!=''", &["u1", "u2", "u4"]),
    ("email!='hanako@example.jp'", &["u1", "u3", "u4"]),
    ("givenName>'Ken'", &["u1", "u4"]),
    ("givenName<='Ken'", &["u2", "u3"]),
    ("givenName>='a'", &[]),
    ("status='tobedeleted'", &["u3"]),
    ("enabledUser='false'", &["u2"]),
    ("grades='P3'", &["u1", "u2"]),
    ("grades='P4'", &["u2"]),
    ("grades='P1'", &[]),
    ("grades!='P3'", &["u3", "u4"]),
    ("grades~'p1'", &["u4"]),
    ("grades~'P3,P'", &["u2"]),
    ("grades=''", &["u3"]),
    ("agents.sourcedId='u3'", &["u1"]),
    ("roles.role='student'", &["u1", "u2"]),
    ("role='teacher'", &["u3", "u4"]),
    ("roles.role!='student'", &["u3", "u4"]),
    ("roles.org.sourcedId='s2'", &["u3", "u4"]),
    ("roles.roleType='secondary'", &["u3"]),
    ("roles.beginDate>='2024-04-01'", &["u1"]),
    ("roles.beginDate=''", &["u2", "u3", "u4"]),
    ("roles.role~'ADMIN'", &["u3"]),
    ("dateLastModified>'2024-04-01T00:00:00.000Z'", &["u2", "u4"]),
    (
        "dateLastModified>='2024-04-01T09:00:00+09:00'",
        &["u1", "u2", "u4"],
    ),
    ("dateLastModified<'2024-04-01'", &["u3"]),
    ("dateLastModified='2024-04-01'", &["u1"]),
    ("dateLastModified!='2024-04-01'", &["u2", "u3", "u4"]),
    ("metadata.jp.kanaGivenName='タロウ'", &["u1"]),
    ("metadata.jp.kanaGivenName~'ナ'", &["u2"]),
    ("metadata.jp.kanaGivenName!='タロウ'", &["u2", "u3", "u4"]),
    ("metadata.jp.kanaGivenName>'タ'", &["u1", "u2"]),
    ("metadata.jp.homeClass='c1'", &["u1"]),
    ("metadata.jp='x'", &[]),
    ("sourcedId='u1' OR sourcedId='u3'", &["u1", "u3"]),
    (
        "givenName='x' OR givenName='Hanako' OR givenName='Ken'",
        &["u2", "u3"],
    ),
    (
        "roles.role='student' AND grades='P3' AND email~'taro'",
        &["u1"],
    ),
    (
        "(role='student' OR role='teacher') AND familyName~'yama'",
        &["u1", "u4"],
    ),
    (
        "status='active' and (grades='P3' or grades='P13')",
        &["u1", "u2", "u4"],
    ),
    ("givenName='x'' OR ''1''=''1'", &[]),
    ("givenName='Taro'' --'", &[]),
];

/// The query each case runs: the tenant is parameter 1, the filter's start at 2.
pub(super) fn query(d: Dialect, frag: &SqlFragment) -> String {
    format!(
        "SELECT u.sourced_id FROM users u WHERE u.tenant_id = {} AND {} ORDER BY u.sourced_id",
        d.param(1),
        frag.sql
    )
}

/// The parameters of a case's [`query`]: the tenant, then the filter's.
pub(super) fn params(frag: SqlFragment) -> Vec<Value> {
    let mut params = vec![Value::from("default")];
    params.extend(frag.params);
    params
}

fn sqlite_db() -> rusqlite::Connection {
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    conn.execute_batch(include_str!(
        "../../../migrations/sqlite/0001_rostering.sql"
    ))
    .unwrap();
    conn.execute(
        "INSERT INTO tenants (id, name, created_at) VALUES ('t2', 't2', 0)",
        [],
    )
    .unwrap();
    for (table, cols, rows) in FIXTURE {
        let marks: Vec<String> = (1..=cols.len()).map(|n| format!("?{n}")).collect();
        let sql = format!(
            "INSERT INTO {table} ({}, content_hash, created_at, updated_at) VALUES ({}, x'00', 0, 0)",
            cols.join(", "),
            marks.join(", ")
        );
        for row in *rows {
            let values = row.iter().map(|c| match c {
                T(s) => rusqlite::types::Value::Text((*s).to_owned()),
                N => rusqlite::types::Value::Null,
                Ms(_) => rusqlite::types::Value::Integer(c.int().unwrap()),
            });
            conn.execute(&sql, rusqlite::params_from_iter(values))
                .unwrap();
        }
    }
    conn
}

fn run_sqlite(conn: &rusqlite::Connection, filter: &str) -> Vec<String> {
    let expr = parse_filter(Resource::Users, filter).unwrap_or_else(|e| panic!("{filter}: {e}"));
    let frag = filter_sql(&expr, Dialect::Sqlite, "u", 2).unwrap();
    let sql = query(Dialect::Sqlite, &frag);
    let params = crate::storage::value::sqlite_params(&params(frag));
    let mut stmt = conn
        .prepare(&sql)
        .unwrap_or_else(|e| panic!("{filter}: {e}\n{sql}"));
    stmt.query_map(rusqlite::params_from_iter(params), |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn filters_select_the_expected_users_on_sqlite() {
    let conn = sqlite_db();
    let mut failures = Vec::new();
    for (filter, want) in CASES {
        let got = run_sqlite(&conn, filter);
        if got != *want {
            failures.push(format!("{filter}: got {got:?}, want {want:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Cases whose values must appear in the parameters only.
const SECRET_CASES: &[&str] = &[
    "givenName='zqx1'",
    "email!='zqx1'",
    "grades='zqx1'",
    "grades!='zqx1'",
    "grades~'zqx1'",
    "role='zqx1'",
    "roles.role!='zqx1'",
    "metadata.jp.zqx2~'zqx1'",
    "familyName>'zqx1' OR familyName<'zqx1'",
    "dateLastModified>'2031-01-01T00:00:00.000Z'",
];

#[test]
fn values_never_reach_the_sql_text() {
    for filter in SECRET_CASES {
        let expr = parse_filter(Resource::Users, filter).unwrap();
        for d in [Dialect::Sqlite, Dialect::Postgres] {
            let frag = filter_sql(&expr, d, "u", 3).unwrap();
            let case = format!("{filter} ({d:?}): {}", frag.sql);
            for secret in ["zqx", "2031", "'zqx1'"] {
                assert!(!frag.sql.contains(secret), "{case}");
            }
            let n = frag.params.len();
            assert!(n >= 1, "{case}");
            for k in 3..3 + n {
                assert!(frag.sql.contains(&d.param(k)), "{case} lacks parameter {k}");
            }
            assert!(!frag.sql.contains(&d.param(3 + n)), "{case}");
            match d {
                Dialect::Postgres => assert!(!frag.sql.contains('?'), "{case}"),
                Dialect::Sqlite => assert!(!frag.sql.contains('$'), "{case}"),
            }
        }
    }
}

#[test]
fn metadata_keys_are_quoted_path_steps_on_sqlite_and_bound_keys_on_postgres() {
    let expr = parse_filter(Resource::Users, "metadata.jp.kanaGivenName='タロウ'").unwrap();
    let s = filter_sql(&expr, Dialect::Sqlite, "u", 1).unwrap();
    assert_eq!(s.sql, "json_extract(u.metadata, ?1) = ?2");
    assert_eq!(s.params[0], Value::Text("$.\"jp.kanaGivenName\"".into()));
    let p = filter_sql(&expr, Dialect::Postgres, "u", 1).unwrap();
    assert!(p.sql.contains("u.metadata::json ->> $1::text"), "{}", p.sql);
    assert_eq!(p.params[0], Value::Text("jp.kanaGivenName".into()));
}

#[test]
fn datetimes_bind_as_milliseconds_and_groups_are_parenthesised() {
    let expr = parse_filter(
        Resource::Users,
        "dateLastModified>'1970-01-01T00:00:01.000Z' OR (sms='1' AND sms='2')",
    )
    .unwrap();
    let f = filter_sql(&expr, Dialect::Postgres, "x", 1).unwrap();
    assert_eq!(
        f.sql,
        "(x.date_last_modified > $1 OR (x.sms = $2 AND x.sms = $3))"
    );
    assert_eq!(f.params[0], Value::Int(1000));
}

#[test]
fn hand_built_predicates_are_still_checked() {
    let expr = parse_filter(Resource::Classes, "grades='P1'").unwrap();
    let Expr::Pred(mut p) = expr else { panic!() };
    p.op = Op::Gt;
    let err = filter_sql(&Expr::Pred(p.clone()), Dialect::Sqlite, "c", 1).unwrap_err();
    assert!(
        matches!(err, FilterError::UnsupportedOperator { .. }),
        "{err:?}"
    );
    let dlm = parse_filter(Resource::Classes, "dateLastModified='2024-01-01'").unwrap();
    let Expr::Pred(mut d) = dlm else { panic!() };
    d.value = "soon".into();
    let err = filter_sql(&Expr::Pred(d), Dialect::Postgres, "c", 1).unwrap_err();
    assert!(matches!(err, FilterError::InvalidValue { .. }), "{err:?}");
}

#[test]
fn sort_columns_come_from_the_field_table() {
    let f = crate::filter::parse_sort(Resource::Users, "preferredLastName")
        .unwrap()
        .unwrap();
    assert_eq!(sort_column(&f), "preferred_family_name");
}
