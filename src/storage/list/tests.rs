//! The cache keys of a request: equal for equal requests, different whenever the rows could be.

use super::*;
use crate::filter::{Resource, parse_filter, parse_sort};

/// The parts the cases vary, owned so that a request can borrow them.
struct Parts {
    tenant: &'static str,
    selection: Selection,
    filter: Option<Expr>,
    sort: Option<SortField>,
    desc: bool,
    scope: Option<OrgScope>,
}

fn base() -> Parts {
    Parts {
        tenant: "t1",
        selection: Selection::UsersInClass {
            class: "c1".into(),
            role: "student",
            school: None,
        },
        filter: Some(parse_filter(Resource::Users, "givenName='Taro'").unwrap()),
        sort: parse_sort(Resource::Users, "familyName").unwrap(),
        desc: false,
        scope: Some(OrgScope(vec!["s1".into()])),
    }
}

impl Parts {
    fn request(&self) -> ListRequest<'_> {
        ListRequest {
            tenant: self.tenant,
            entity: Entity::Users,
            selection: &self.selection,
            filter: self.filter.as_ref(),
            sort: self.sort,
            desc: self.desc,
            scope: self.scope.as_ref(),
        }
    }
}

/// A named change of the base parts.
type Change = (&'static str, fn(&mut Parts));

/// The base parts and, for each change, the changed ones.
fn each_change(changes: &[Change], check: impl Fn(&str, ListRequest<'_>, ListRequest<'_>)) {
    let base = base();
    for (what, change) in changes {
        let mut other = self::base();
        change(&mut other);
        check(what, base.request(), other.request());
    }
}

#[test]
fn equal_requests_have_equal_keys() {
    let (a, b) = (base(), base());
    assert_eq!(a.request().key(7), b.request().key(7));
    assert_eq!(a.request().total_key(7), b.request().total_key(7));
    // A filter written differently but parsed alike is the same request.
    let mut c = base();
    c.filter = Some(parse_filter(Resource::Users, "givenName = 'Taro'").unwrap());
    assert_eq!(a.request().key(7), c.request().key(7));
}

#[test]
fn keys_differ_whenever_the_selected_rows_may() {
    let changes: &[Change] = &[
        ("tenant", |p| p.tenant = "t2"),
        ("selection id", |p| {
            p.selection = Selection::UsersInClass {
                class: "c2".into(),
                role: "student",
                school: None,
            }
        }),
        ("selection", |p| p.selection = Selection::All),
        ("filter", |p| {
            p.filter = Some(parse_filter(Resource::Users, "givenName='Hanako'").unwrap())
        }),
        ("no filter", |p| p.filter = None),
        ("scope", |p| p.scope = Some(OrgScope(vec!["s2".into()]))),
        ("no scope", |p| p.scope = None),
        ("empty scope", |p| p.scope = Some(OrgScope(Vec::new()))),
    ];
    each_change(changes, |what, a, b| {
        assert_ne!(a.key(7), b.key(7), "{what}");
        assert_ne!(a.total_key(7), b.total_key(7), "{what}");
    });
    let base = base();
    let a = base.request();
    assert_ne!(a.key(7), a.key(8), "generation");
    assert_ne!(a.total_key(7), a.total_key(8), "generation");
}

#[test]
fn the_order_changes_the_key_but_not_the_total_key() {
    let orders: &[Change] = &[
        ("sort", |p| {
            p.sort = parse_sort(Resource::Users, "givenName").unwrap()
        }),
        ("no sort", |p| p.sort = None),
        ("direction", |p| p.desc = true),
    ];
    each_change(orders, |what, a, b| {
        assert_ne!(a.key(7), b.key(7), "{what}");
        // The same rows in another order: their total is shared.
        assert_eq!(a.total_key(7), b.total_key(7), "{what}");
    });
}

#[test]
fn texts_cannot_run_into_each_other() {
    // Without quoting, ("a", Eq(x, "b c")) and ("a b", Eq(x, "c")) could write one key.
    let mut a = base();
    a.tenant = "t1\u{1f}x";
    let b = base();
    assert_ne!(a.request().key(7), b.request().key(7));
    let eq = |v: &str| Selection::Eq("school_sourced_id", v.into());
    let (mut c, mut d) = (base(), base());
    c.selection = eq("s1\", \"s2");
    d.selection = Selection::Eq2("school_sourced_id", "s1".into(), "x", "s2".into());
    assert_ne!(c.request().key(7), d.request().key(7));
}
