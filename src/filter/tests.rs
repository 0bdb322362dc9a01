use super::*;
use crate::domain::Entity;

fn entity(r: Resource) -> Entity {
    match r {
        Resource::Orgs => Entity::Orgs,
        Resource::AcademicSessions => Entity::AcademicSessions,
        Resource::Courses => Entity::Courses,
        Resource::Classes => Entity::Classes,
        Resource::Users => Entity::Users,
        Resource::Enrollments => Entity::Enrollments,
        Resource::Demographics => Entity::Demographics,
    }
}

#[test]
fn every_field_resolves_to_itself_and_names_a_real_column() {
    for r in Resource::ALL {
        let own: Vec<&str> = entity(r).columns().iter().map(|c| c.db).collect();
        let roles: Vec<&str> = Entity::Roles.columns().iter().map(|c| c.db).collect();
        for f in Field::all(r) {
            assert_eq!(Field::resolve(r, &f.name()).as_ref(), Some(&f), "{r:?} {f}");
            let (col, table) = match &f {
                Field::Scalar(c) | Field::List(c) => (c.column(), &own),
                Field::Role(c) => (c.column(), &roles),
                Field::Metadata(_) => unreachable!("not listed"),
            };
            let leading = ["sourced_id", "status", "date_last_modified"];
            assert!(
                table.contains(&col) || leading.contains(&col),
                "{r:?}.{f} maps to {col}, which is not a column"
            );
        }
    }
}

#[test]
fn json_names_that_differ_from_csv_map_to_the_csv_columns() {
    let cases = [
        (
            Resource::Users,
            "preferredFirstName",
            "preferred_given_name",
        ),
        (
            Resource::Users,
            "preferredLastName",
            "preferred_family_name",
        ),
        (
            Resource::Users,
            "primaryOrg.sourcedId",
            "primary_org_sourced_id",
        ),
        (Resource::Enrollments, "primary", "is_primary"),
        (Resource::Classes, "school.sourcedId", "school_sourced_id"),
        (
            Resource::Courses,
            "schoolYear.sourcedId",
            "school_year_sourced_id",
        ),
        (Resource::Classes, "terms.sourcedId", "term_sourced_ids"),
        (Resource::Users, "agents.sourcedId", "agent_sourced_ids"),
        (Resource::Users, "roles.org.sourcedId", "org_sourced_id"),
        (Resource::Users, "role", "role"),
    ];
    for (r, name, col) in cases {
        match Field::resolve(r, name) {
            Some(Field::Scalar(c) | Field::List(c) | Field::Role(c)) => {
                assert_eq!(c.column(), col, "{name}")
            }
            other => panic!("{name} resolved to {other:?}"),
        }
    }
    assert_eq!(
        Field::resolve(Resource::Users, "password"),
        None,
        "password"
    );
    assert_eq!(Field::resolve(Resource::Orgs, "role"), None, "role on orgs");
    assert_eq!(Field::resolve(Resource::Users, "givenname"), None, "case");
}

/// (case, input, canonical text of the parse) on users.
const ACCEPTED: &[(&str, &str, &str)] = &[
    ("simple", "givenName='Taro'", "givenName='Taro'"),
    (
        "spaces around the operator",
        "  givenName = 'Taro'  ",
        "givenName='Taro'",
    ),
    ("tabs", "givenName\t=\t'Taro'", "givenName='Taro'"),
    (
        "plus inside quotes is literal",
        "email='a+b@example.com'",
        "email='a+b@example.com'",
    ),
    (
        "plus outside quotes is a space",
        "familyName='jones'+AND+dateLastModified>'2015-01-01T00:00:00.000Z'",
        "familyName='jones' AND dateLastModified>'2015-01-01T00:00:00.000Z'",
    ),
    (
        "doubled quote",
        "familyName='O''Brien'",
        "familyName='O''Brien'",
    ),
    ("only a quote", "familyName=''''", "familyName=''''"),
    ("empty value", "middleName=''", "middleName=''"),
    (
        "quoted number stays text",
        "sourcedId='12345'",
        "sourcedId='12345'",
    ),
    (
        "keywords inside quotes",
        "givenName='A AND B OR (c)'",
        "givenName='A AND B OR (c)'",
    ),
    ("legacy role", "role='student'", "roles.role='student'"),
    (
        "lower-case and",
        "status='active' and role='teacher'",
        "status='active' AND roles.role='teacher'",
    ),
    (
        "mixed-case Or",
        "givenName='a' Or givenName='b'",
        "givenName='a' OR givenName='b'",
    ),
    (
        "no spaces",
        "givenName='a'AND familyName='b'",
        "givenName='a' AND familyName='b'",
    ),
    (
        "chain of three",
        "sms='1' AND sms='2' AND sms='3'",
        "sms='1' AND sms='2' AND sms='3'",
    ),
    (
        "grouping",
        "(sms='1' AND sms='2') OR sms='3'",
        "(sms='1' AND sms='2') OR sms='3'",
    ),
    ("redundant parentheses", "((sms='1'))", "sms='1'"),
    (
        "metadata key with dots",
        "metadata.jp.kanaGivenName~'タロ'",
        "metadata.jp.kanaGivenName~'タロ'",
    ),
    (
        "every operator",
        "sms!='1' OR sms>'1' OR sms>='1' OR sms<'1' OR sms<='1'",
        "sms!='1' OR sms>'1' OR sms>='1' OR sms<'1' OR sms<='1'",
    ),
    (
        "datetime with offset",
        "dateLastModified>='2024-04-01T09:00:00+09:00'",
        "dateLastModified>='2024-04-01T09:00:00+09:00'",
    ),
    ("list equals", "grades='P3'", "grades='P3'"),
    ("list contains a comma", "grades~'P3,P4'", "grades~'P3,P4'"),
    (
        "roles dotted path",
        "roles.org.sourcedId='s1'",
        "roles.org.sourcedId='s1'",
    ),
];

#[test]
fn accepted_filters_print_canonically() {
    for (case, input, canonical) in ACCEPTED {
        match parse_filter(Resource::Users, input) {
            Ok(e) => assert_eq!(e.to_string(), *canonical, "case {case:?}"),
            Err(err) => panic!("case {case:?}: {input:?} rejected: {err}"),
        }
    }
}

#[test]
fn values_are_unquoted_and_chains_are_flat() {
    let e = parse_filter(
        Resource::Users,
        "familyName='O''Brien' AND email='a+b@x.jp' AND sms='1'",
    )
    .unwrap();
    let Expr::And(items) = e else {
        panic!("expected AND, got {e:?}")
    };
    let values: Vec<&str> = items
        .iter()
        .map(|i| match i {
            Expr::Pred(p) => p.value.as_str(),
            other => panic!("nested {other:?}"),
        })
        .collect();
    assert_eq!(values, ["O'Brien", "a+b@x.jp", "1"]);
    let e = parse_filter(Resource::Users, "metadata.jp.kanaGivenName='タロウ'").unwrap();
    assert_eq!(
        e,
        Expr::Pred(Predicate {
            field: Field::Metadata("jp.kanaGivenName".into()),
            op: Op::Eq,
            value: "タロウ".into(),
        })
    );
}

fn syntax() -> fn(&FilterError) -> bool {
    |e| matches!(e, FilterError::Syntax { .. })
}

#[test]
fn rejected_filters_say_why() {
    let unknown =
        |name: &'static str| move |e: &FilterError| *e == FilterError::UnknownField(name.into());
    let invalid = |e: &FilterError| matches!(e, FilterError::InvalidValue { .. });
    let unsupported = |e: &FilterError| matches!(e, FilterError::UnsupportedOperator { .. });
    let deep = format!(
        "{}sms='1'{}",
        "(".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    let many = vec!["sms='1'"; MAX_PREDICATES + 1].join(" OR ");
    type Expected = Box<dyn Fn(&FilterError) -> bool>;
    let cases: Vec<(&str, Resource, &str, Expected)> = vec![
        ("empty", Resource::Users, "", Box::new(syntax())),
        ("blank", Resource::Users, " + ", Box::new(syntax())),
        (
            "unknown field",
            Resource::Users,
            "foo='x'",
            Box::new(unknown("foo")),
        ),
        (
            "password is not filterable",
            Resource::Users,
            "password='x'",
            Box::new(unknown("password")),
        ),
        (
            "legacy role only on users",
            Resource::Orgs,
            "role='x'",
            Box::new(unknown("role")),
        ),
        (
            "metadata without a key",
            Resource::Users,
            "metadata.='x'",
            Box::new(unknown("metadata.")),
        ),
        (
            "mixed AND/OR",
            Resource::Users,
            "sms='1' AND sms='2' OR sms='3'",
            Box::new(syntax()),
        ),
        (
            "unterminated",
            Resource::Users,
            "sms='1",
            Box::new(syntax()),
        ),
        (
            "unquoted value",
            Resource::Users,
            "sms=1",
            Box::new(syntax()),
        ),
        (
            "double-quoted value",
            Resource::Users,
            "sms=\"1\"",
            Box::new(syntax()),
        ),
        (
            "missing operator",
            Resource::Users,
            "sms '1'",
            Box::new(syntax()),
        ),
        (
            "dangling AND",
            Resource::Users,
            "sms='1' AND",
            Box::new(syntax()),
        ),
        (
            "leading AND",
            Resource::Users,
            "AND sms='1'",
            Box::new(syntax()),
        ),
        (
            "unclosed parenthesis",
            Resource::Users,
            "(sms='1'",
            Box::new(syntax()),
        ),
        (
            "stray parenthesis",
            Resource::Users,
            "sms='1')",
            Box::new(syntax()),
        ),
        (
            "empty parentheses",
            Resource::Users,
            "()",
            Box::new(syntax()),
        ),
        ("bang alone", Resource::Users, "sms!'1'", Box::new(syntax())),
        (
            "double equals",
            Resource::Users,
            "sms=='1'",
            Box::new(syntax()),
        ),
        (
            "two predicates without a keyword",
            Resource::Users,
            "sms='1' sms='2'",
            Box::new(syntax()),
        ),
        (
            "ampersand",
            Resource::Users,
            "sms='1' && sms='2'",
            Box::new(syntax()),
        ),
        (
            "bad datetime",
            Resource::Users,
            "dateLastModified>'yesterday'",
            Box::new(invalid),
        ),
        (
            "datetime contains",
            Resource::Users,
            "dateLastModified~'2024'",
            Box::new(unsupported),
        ),
        (
            "list ordering",
            Resource::Classes,
            "grades>'P1'",
            Box::new(unsupported),
        ),
        (
            "list element with comma",
            Resource::Classes,
            "grades='P1,P2'",
            Box::new(invalid),
        ),
        ("too deep", Resource::Users, &deep, Box::new(syntax())),
        (
            "too many predicates",
            Resource::Users,
            &many,
            Box::new(syntax()),
        ),
    ];
    for (case, r, input, expected) in cases {
        match parse_filter(r, input) {
            Ok(e) => panic!("case {case:?}: {input:?} accepted as {e}"),
            Err(err) => assert!(expected(&err), "case {case:?}: unexpected error {err:?}"),
        }
    }
}

#[test]
fn syntax_errors_point_at_the_character() {
    let cases = [
        ("sms='1' AND sms='2' OR sms='3'", 21),
        ("givenName='タロウ' & x", 17),
        ("sms='1", 5),
        ("", 1),
    ];
    for (input, position) in cases {
        match parse_filter(Resource::Users, input) {
            Err(FilterError::Syntax {
                position: p,
                message,
            }) => {
                assert_eq!(p, position, "{input:?}: {message}")
            }
            other => panic!("{input:?}: {other:?}"),
        }
    }
    let err = parse_filter(Resource::Users, "nope='1'").unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
}

#[test]
fn sort_accepts_scalar_fields_only() {
    let cases = [
        (Resource::Users, "familyName", Some("family_name")),
        (
            Resource::Users,
            " preferredFirstName ",
            Some("preferred_given_name"),
        ),
        (Resource::Users, "sourcedId", Some("sourced_id")),
        (
            Resource::Users,
            "dateLastModified",
            Some("date_last_modified"),
        ),
        (Resource::Users, "familyName,givenName", Some("family_name")),
        (
            Resource::Classes,
            "school.sourcedId",
            Some("school_sourced_id"),
        ),
        (Resource::Users, "grades", None),
        (Resource::Users, "roles.role", None),
        (Resource::Users, "role", None),
        (Resource::Users, "metadata.jp.kanaGivenName", None),
        (Resource::Users, "password", None),
        (Resource::Users, "nope", None),
        (Resource::Users, "", None),
    ];
    for (r, input, column) in cases {
        assert_eq!(
            parse_sort(r, input).ok().flatten().map(|s| s.column()),
            column,
            "sort={input:?}"
        );
    }
    assert_eq!(
        parse_sort(Resource::Users, "familyName")
            .unwrap()
            .unwrap()
            .name(),
        "familyName"
    );
}

#[test]
fn fields_reject_blank_entries_and_keep_names_as_given() {
    let cases: &[(&str, Result<&[&str], FieldsError>)] = &[
        ("sourcedId,givenName", Ok(&["sourcedId", "givenName"])),
        ("sourcedId, givenName", Ok(&["sourcedId", "givenName"])),
        ("sourcedId,+givenName", Ok(&["sourcedId", "givenName"])),
        ("sourcedId,sourcedId", Ok(&["sourcedId"])),
        ("noSuchField", Ok(&["noSuchField"])),
        ("", Err(FieldsError::Blank)),
        (" ", Err(FieldsError::Blank)),
        ("a,,b", Err(FieldsError::Blank)),
        ("a,", Err(FieldsError::Blank)),
        (",a", Err(FieldsError::Blank)),
    ];
    for (input, expected) in cases {
        let got = parse_fields(input);
        let want = expected.map(|v| v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(got, want, "fields={input:?}");
    }
}

#[test]
fn an_unsortable_sort_names_the_field_and_the_sortable_ones() {
    let e = parse_sort(Resource::Orgs, "nosuch").unwrap_err();
    assert_eq!(
        e.to_string(),
        "cannot sort by `nosuch` (invalid_sort_field): this collection has no such field; \
         sortable fields: sourcedId, status, dateLastModified, name, type, identifier, \
         parent.sourcedId"
    );
    let e = parse_sort(Resource::Users, "familyName,grades").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("cannot sort by `grades` (invalid_sort_field): lists, roles"),
        "{e}"
    );
    assert_eq!(parse_sort(Resource::Users, " , ").unwrap(), None);
}

#[test]
fn an_unquoted_value_is_answered_with_the_quoted_filter() {
    let cases = [
        (
            "givenName=Bob",
            "malformed filter at position 11: expected a value after givenName= but found \
             \"Bob\" (values go in single quotes); did you mean givenName='Bob'",
        ),
        (
            "status:active",
            "malformed filter at position 7: unexpected character ':' (values go in single \
             quotes); did you mean status='active'",
        ),
        (
            "dateLastModified>2024-01-01T00:00:00Z AND status='active'",
            "malformed filter at position 31: unexpected character ':' (values go in single \
             quotes); did you mean dateLastModified>'2024-01-01T00:00:00Z' AND status='active'",
        ),
        (
            "email=o'neil@x.jp",
            "malformed filter at position 8: unterminated quoted value (values go in single \
             quotes); did you mean email='o''neil@x.jp'",
        ),
        // No guess that parses: the rule alone.
        (
            "givenName=Bob AND",
            "malformed filter at position 11: expected a value after givenName= but found \
             \"Bob\" (values go in single quotes)",
        ),
        (
            "givenName='Bob' :",
            "malformed filter at position 17: unexpected character ':'",
        ),
    ];
    for (input, want) in cases {
        let e = parse_filter(Resource::Users, input).unwrap_err();
        assert_eq!(e.to_string(), want, "{input}");
    }
}
