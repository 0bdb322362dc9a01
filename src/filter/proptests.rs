//! Property tests: the parsers never panic, and printed filters read back unchanged.

use proptest::prelude::*;

use super::*;

const PIECES: &[&str] = &[
    "givenName",
    "grades",
    "role",
    "roles.role",
    "dateLastModified",
    "metadata.jp.x",
    "metadata.",
    "=",
    "!=",
    "!",
    ">",
    ">=",
    "<",
    "<=",
    "~",
    "'",
    "''",
    "'a'",
    "'2024-04-01'",
    "(",
    ")",
    " ",
    "+",
    "AND",
    "or",
    "and",
    "タロウ",
    ",",
    "\"",
    "\\",
    "%27",
    "\u{0}",
];

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 0..24).prop_map(|v| v.concat())
}

fn predicate() -> impl Strategy<Value = Predicate> {
    let fields = Field::all(Resource::Users);
    let datetimes = prop::sample::select(vec![
        "2024-04-01T00:00:00.000Z",
        "2024-04-01",
        "2024-04-01T09:00:00+09:00",
    ]);
    (
        prop::sample::select(fields),
        "[a-z][a-zA-Z0-9._-]{0,12}",
        prop::bool::weighted(0.2),
        prop::sample::select(vec![
            Op::Eq,
            Op::Ne,
            Op::Gt,
            Op::Ge,
            Op::Lt,
            Op::Le,
            Op::Contains,
        ]),
        "(\\PC|[ '+()])*",
        datetimes,
    )
        .prop_map(|(field, key, meta, op, text, dt)| {
            let field = if meta { Field::Metadata(key) } else { field };
            let mut op = op;
            let mut value = text;
            if field.kind() == ValueKind::DateTime {
                value = dt.to_owned();
                if op == Op::Contains {
                    op = Op::Eq;
                }
            }
            if let Field::List(_) = field {
                if op.is_ordering() {
                    op = Op::Contains;
                }
                if op != Op::Contains {
                    value = value.replace(',', "");
                }
            }
            Predicate { field, op, value }
        })
}

fn expr() -> impl Strategy<Value = Expr> {
    predicate()
        .prop_map(Expr::Pred)
        .prop_recursive(4, 32, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 2..4).prop_map(Expr::And),
                prop::collection::vec(inner, 2..4).prop_map(Expr::Or),
            ]
        })
}

proptest! {
    #[test]
    fn any_text_never_panics(s in "\\PC*") {
        for r in Resource::ALL {
            let _ = parse_filter(r, &s);
            let _ = parse_sort(r, &s);
        }
        let _ = parse_fields(&s);
    }

    #[test]
    fn grammar_soup_never_panics(s in soup()) {
        for r in Resource::ALL {
            let _ = parse_filter(r, &s);
        }
    }

    #[test]
    fn printed_filters_read_back_unchanged(e in expr()) {
        let text = e.to_string();
        let back = parse_filter(Resource::Users, &text);
        prop_assert_eq!(back.as_ref(), Ok(&e), "printed as {}", text);
    }

    #[test]
    fn plus_signs_outside_quotes_are_spaces(e in expr()) {
        let text = e.to_string();
        let mut plussed = String::new();
        let mut quoted = false;
        for c in text.chars() {
            if c == '\'' {
                quoted = !quoted;
            }
            plussed.push(if c == ' ' && !quoted { '+' } else { c });
        }
        prop_assert_eq!(parse_filter(Resource::Users, &plussed), Ok(e), "sent as {}", plussed);
    }
}
