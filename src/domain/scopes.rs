//! The OneRoster 1.2 rostering scopes (ONEROSTER.md §3.8) and RosterHub's own admin API scopes
//! (`rosterhub.import`, `rosterhub.export`, `rosterhub.admin`) as a small set type.
//!
//! A set of scopes, not a hierarchy: which scope opens which endpoint is the API layer's rule
//! (`roster.readonly` covers every rostering read except demographics, so it also opens the
//! core endpoints; `roster-demographics.readonly` opens only the demographics endpoints).

use std::fmt;

const PREFIX: &str = "https://purl.imsglobal.org/spec/or/v1p2/scope/";

/// A set of the rostering scopes this server serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Scopes(u8);

impl Scopes {
    pub const NONE: Scopes = Scopes(0);
    /// `roster-core.readonly`: the core getAll*/get* operations.
    pub const CORE: Scopes = Scopes(1);
    /// `roster.readonly`: every rostering read except demographics.
    pub const ROSTER: Scopes = Scopes(2);
    /// `roster-demographics.readonly`: the demographics endpoints.
    pub const DEMOGRAPHICS: Scopes = Scopes(4);
    /// Every OneRoster read scope (not RosterHub's own).
    pub const ALL: Scopes = Scopes(7);
    /// `rosterhub.import`: upload, inspect, approve and discard imports.
    pub const IMPORT: Scopes = Scopes(8);
    /// `rosterhub.export`: create and download exports.
    pub const EXPORT: Scopes = Scopes(16);
    /// `rosterhub.admin`: webhooks and everything `import` and `export` allow.
    pub const ADMIN: Scopes = Scopes(32);

    pub const CORE_URI: &str = "https://purl.imsglobal.org/spec/or/v1p2/scope/roster-core.readonly";
    pub const ROSTER_URI: &str = "https://purl.imsglobal.org/spec/or/v1p2/scope/roster.readonly";
    pub const DEMOGRAPHICS_URI: &str =
        "https://purl.imsglobal.org/spec/or/v1p2/scope/roster-demographics.readonly";

    pub const IMPORT_NAME: &str = "rosterhub.import";
    pub const EXPORT_NAME: &str = "rosterhub.export";
    pub const ADMIN_NAME: &str = "rosterhub.admin";

    /// Each single scope with its URI, in the order of [`Scopes::to_list_string`].
    const EACH: [(Scopes, &'static str); 6] = [
        (Scopes::CORE, Scopes::CORE_URI),
        (Scopes::ROSTER, Scopes::ROSTER_URI),
        (Scopes::DEMOGRAPHICS, Scopes::DEMOGRAPHICS_URI),
        (Scopes::IMPORT, Scopes::IMPORT_NAME),
        (Scopes::EXPORT, Scopes::EXPORT_NAME),
        (Scopes::ADMIN, Scopes::ADMIN_NAME),
    ];

    /// Whether the set opens an admin API operation that needs `need` (`rosterhub.admin`
    /// opens them all).
    pub fn allows_admin(self, need: Scopes) -> bool {
        self.contains(need) || self.contains(Scopes::ADMIN)
    }

    /// Whether every scope of `other` is in `self`.
    pub fn contains(self, other: Scopes) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn union(self, other: Scopes) -> Scopes {
        Scopes(self.0 | other.0)
    }

    pub fn intersection(self, other: Scopes) -> Scopes {
        Scopes(self.0 & other.0)
    }

    /// The scopes of `self` that are not in `other`.
    pub fn without(self, other: Scopes) -> Scopes {
        Scopes(self.0 & !other.0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The scopes named in a space-separated list of scope URIs or their short names (a token
    /// request's `scope`). Unknown entries (gradebook, resources, typos) are ignored: a client
    /// may ask for more than this server serves and still get what it serves (§3.8).
    pub fn parse_list(list: &str) -> Scopes {
        Scopes::parse_request(list).0
    }

    /// [`Scopes::parse_list`], with the entries it did not know (to tell the caller).
    pub fn parse_request(list: &str) -> (Scopes, Vec<&str>) {
        let mut scopes = Scopes::NONE;
        let mut unknown = Vec::new();
        for item in list.split_ascii_whitespace() {
            match Scopes::from_name(item) {
                Some(s) => scopes = scopes.union(s),
                None => unknown.push(item),
            }
        }
        (scopes, unknown)
    }

    /// A scope by its URI, or by the short name the README uses (`roster.readonly`: the URI's
    /// last segment, as administrators type it) — an alias, never written back: tokens and
    /// responses carry the URIs.
    fn from_name(item: &str) -> Option<Scopes> {
        Scopes::from_uri(item).or_else(|| {
            let short = Scopes::EACH[..3]
                .iter()
                .find(|(_, uri)| uri.strip_prefix(PREFIX) == Some(item))?;
            Some(short.0)
        })
    }

    /// Like [`Scopes::parse_list`], for an administrator's input: also accepts the short names
    /// (`roster-core.readonly`, `roster.readonly`, `roster-demographics.readonly`), and commas
    /// as separators; any unknown entry is an error, naming it.
    pub fn parse_strict(list: &str) -> Result<Scopes, String> {
        let mut scopes = Scopes::NONE;
        for item in list
            .split(|c: char| c == ',' || c.is_ascii_whitespace())
            .filter(|s| !s.is_empty())
        {
            let full = if item.contains('/') || item.starts_with("rosterhub.") {
                item.to_owned()
            } else {
                format!("{PREFIX}{item}")
            };
            let scope = Scopes::from_uri(&full).ok_or_else(|| {
                format!(
                    "unknown scope {item:?}: use roster-core.readonly, roster.readonly, \
                     roster-demographics.readonly (or their full URIs), rosterhub.import, \
                     rosterhub.export or rosterhub.admin"
                )
            })?;
            scopes = scopes.union(scope);
        }
        Ok(scopes)
    }

    /// The scope URIs of the set, space-separated, in a fixed order.
    pub fn to_list_string(self) -> String {
        let mut out = String::new();
        for (scope, uri) in Scopes::EACH {
            if self.contains(scope) {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(uri);
            }
        }
        out
    }

    fn from_uri(uri: &str) -> Option<Scopes> {
        Scopes::EACH
            .iter()
            .find(|(_, u)| *u == uri)
            .map(|(scope, _)| *scope)
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_list_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRADEBOOK: &str = "https://purl.imsglobal.org/spec/or/v1p2/scope/gradebook.readonly";

    #[test]
    fn uris_share_the_1p2_prefix() {
        for (_, uri) in &Scopes::EACH[..3] {
            assert!(uri.starts_with(PREFIX), "{uri}");
        }
    }

    #[test]
    fn a_request_list_keeps_the_served_scopes_and_ignores_the_rest() {
        let cases = [
            ("", Scopes::NONE, "empty"),
            ("   ", Scopes::NONE, "blank"),
            (Scopes::ROSTER_URI, Scopes::ROSTER, "one"),
            (
                &format!("{GRADEBOOK}  {}\t{}", Scopes::ROSTER_URI, Scopes::CORE_URI),
                Scopes::ROSTER.union(Scopes::CORE),
                "gradebook ignored, any whitespace",
            ),
            (GRADEBOOK, Scopes::NONE, "only unknown"),
            (
                "roster.readonly",
                Scopes::ROSTER,
                "a short name is an alias",
            ),
            (
                "roster-core.readonly roster-demographics.readonly",
                Scopes::CORE.union(Scopes::DEMOGRAPHICS),
                "short names",
            ),
            ("gradebook.readonly", Scopes::NONE, "an unknown short name"),
            (
                &format!("{0} {0}", Scopes::DEMOGRAPHICS_URI),
                Scopes::DEMOGRAPHICS,
                "repeated",
            ),
        ];
        for (input, want, case) in cases {
            assert_eq!(Scopes::parse_list(input), want, "{case}");
        }
    }

    #[test]
    fn the_list_string_is_ordered_and_round_trips() {
        let all = Scopes::ALL.to_list_string();
        assert_eq!(
            all,
            format!(
                "{} {} {}",
                Scopes::CORE_URI,
                Scopes::ROSTER_URI,
                Scopes::DEMOGRAPHICS_URI
            )
        );
        for bits in 0..64 {
            let s = Scopes(bits);
            assert_eq!(Scopes::parse_list(&s.to_list_string()), s);
        }
        assert_eq!(Scopes::NONE.to_list_string(), "");
    }

    #[test]
    fn a_request_says_which_entries_it_did_not_know() {
        let list = format!("roster.readonly {GRADEBOOK} rosterhub.nothing");
        let (scopes, unknown) = Scopes::parse_request(&list);
        assert_eq!(scopes, Scopes::ROSTER);
        assert_eq!(unknown, vec![GRADEBOOK, "rosterhub.nothing"]);
        assert_eq!(
            Scopes::ALL.without(Scopes::CORE),
            Scopes::ROSTER.union(Scopes::DEMOGRAPHICS)
        );
    }

    #[test]
    fn set_operations() {
        let cr = Scopes::CORE.union(Scopes::ROSTER);
        assert!(cr.contains(Scopes::CORE));
        assert!(cr.contains(cr));
        assert!(!cr.contains(Scopes::ALL));
        assert!(cr.contains(Scopes::NONE));
        assert_eq!(
            cr.intersection(Scopes::ROSTER.union(Scopes::DEMOGRAPHICS)),
            Scopes::ROSTER
        );
        assert!(cr.intersection(Scopes::DEMOGRAPHICS).is_empty());
        assert!(!Scopes::ALL.is_empty());
    }

    #[test]
    fn strict_parsing_takes_short_names_and_rejects_unknown_ones() {
        assert_eq!(
            Scopes::parse_strict("roster-core.readonly, roster.readonly").unwrap(),
            Scopes::CORE.union(Scopes::ROSTER)
        );
        assert_eq!(
            Scopes::parse_strict(Scopes::DEMOGRAPHICS_URI).unwrap(),
            Scopes::DEMOGRAPHICS
        );
        assert_eq!(Scopes::parse_strict("").unwrap(), Scopes::NONE);
        let err = Scopes::parse_strict("roster.readonly gradebook.readonly").unwrap_err();
        assert!(err.contains("\"gradebook.readonly\""), "{err}");
        assert!(Scopes::parse_strict(GRADEBOOK).is_err());
        assert_eq!(
            Scopes::parse_strict("rosterhub.import,rosterhub.export").unwrap(),
            Scopes::IMPORT.union(Scopes::EXPORT)
        );
        assert!(Scopes::parse_strict("rosterhub.everything").is_err());
    }

    #[test]
    fn admin_opens_every_admin_operation() {
        assert!(Scopes::ADMIN.allows_admin(Scopes::IMPORT));
        assert!(Scopes::ADMIN.allows_admin(Scopes::EXPORT));
        assert!(Scopes::IMPORT.allows_admin(Scopes::IMPORT));
        assert!(!Scopes::IMPORT.allows_admin(Scopes::EXPORT));
        assert!(!Scopes::ALL.allows_admin(Scopes::IMPORT));
        assert!(!Scopes::EXPORT.allows_admin(Scopes::ADMIN));
    }
}
