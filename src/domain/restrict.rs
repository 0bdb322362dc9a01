//! What an API client is restricted to, as typed values: the IP allow-list (CIDR ranges, IPv4
//! and IPv6), the rate limit (requests per minute) and the org scope (org sourcedIds).
//!
//! Each list is parsed from an administrator's input (space- or comma-separated) and stored as
//! one space-separated text column of `api_clients`; `None` means "no restriction" (any
//! address, the server's default limit, every org of the tenant).

use std::net::IpAddr;

use ipnet::IpNet;

use crate::domain::ids::check_sourced_id;

/// The most ranges one allow-list may hold.
pub const MAX_ALLOWED_IPS: usize = 100;
/// The most orgs one org scope may name.
pub const MAX_ORG_SCOPE: usize = 1000;
/// The largest per-client rate limit accepted (requests per minute).
pub const MAX_RATE_LIMIT_PER_MIN: u32 = 1_000_000;

fn items(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
}

/// An allow-list from `10.0.0.0/8, 2001:db8::/32 192.0.2.7`: CIDR ranges, or single addresses
/// (as /32 or /128). Host bits are cleared (`10.1.2.3/8` is `10.0.0.0/8`), duplicates dropped;
/// an empty list is an error (no restriction is `None`, not an empty list).
pub fn parse_allowed_ips(text: &str) -> Result<Vec<IpNet>, String> {
    let nets = items(text).map(|item| match item.parse::<IpNet>() {
        Ok(net) => Ok(net.trunc()),
        Err(_) => match item.parse::<IpAddr>() {
            Ok(ip) => Ok(IpNet::from(ip.to_canonical())),
            Err(_) => Err(format!(
                "{item:?} is not an IP address or a CIDR range (like 192.0.2.0/24 or \
                 2001:db8::/32)"
            )),
        },
    });
    distinct(nets, MAX_ALLOWED_IPS, "names no address range", || {
        format!("has more than {MAX_ALLOWED_IPS} ranges")
    })
}

/// The items without duplicates (else the first item's error), at least one (else `none`) and
/// at most `max` (else `too_many`).
fn distinct<T: PartialEq>(
    items: impl Iterator<Item = Result<T, String>>,
    max: usize,
    none: &str,
    too_many: impl FnOnce() -> String,
) -> Result<Vec<T>, String> {
    let mut out: Vec<T> = Vec::new();
    for item in items {
        let item = item?;
        if !out.contains(&item) {
            out.push(item);
        }
    }
    if out.is_empty() {
        return Err(none.into());
    }
    if out.len() > max {
        return Err(too_many());
    }
    Ok(out)
}

/// The stored form of an allow-list: space-separated ranges.
pub fn allowed_ips_text(list: &[IpNet]) -> String {
    list.iter()
        .map(IpNet::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// An allow-list as stored. An entry that does not parse (a hand-edited row) is dropped with a
/// warning: that narrows the list, so a broken row fails closed (an empty list allows nobody).
pub fn stored_allowed_ips(text: &str) -> Vec<IpNet> {
    items(text)
        .filter_map(|item| match item.parse::<IpNet>() {
            Ok(net) => Some(net),
            Err(_) => {
                tracing::warn!(
                    entry = item,
                    "api_clients.allowed_ips holds an entry that is no CIDR range; ignored"
                );
                None
            }
        })
        .collect()
}

/// Whether `ip` may call for a client with this allow-list (`None`: any address).
/// IPv4-mapped IPv6 addresses (`::ffff:192.0.2.7`) count as their IPv4 address.
pub fn ip_allowed(list: Option<&[IpNet]>, ip: IpAddr) -> bool {
    let ip = ip.to_canonical();
    match list {
        None => true,
        Some(list) => list.iter().any(|net| net.contains(&ip)),
    }
}

/// A per-client rate limit: 1 to [`MAX_RATE_LIMIT_PER_MIN`] requests per minute (0 would lock
/// the client out: revoke it instead).
pub fn check_rate_limit(n: i64) -> Result<u32, String> {
    match u32::try_from(n) {
        Ok(n) if (1..=MAX_RATE_LIMIT_PER_MIN).contains(&n) => Ok(n),
        _ => Err(format!(
            "must be a whole number of requests per minute from 1 to {MAX_RATE_LIMIT_PER_MIN}"
        )),
    }
}

/// An org scope from `org-1, org-2`: org sourcedIds, duplicates dropped, at least one.
pub fn parse_org_scope<'a>(ids: impl IntoIterator<Item = &'a str>) -> Result<Vec<String>, String> {
    let ids = ids.into_iter().flat_map(items).map(|id| {
        check_sourced_id(id).map_err(|e| format!("{id:?} is not a sourcedId: {e}"))?;
        Ok(id.to_owned())
    });
    distinct(ids, MAX_ORG_SCOPE, "names no org", || {
        format!("names more than {MAX_ORG_SCOPE} orgs")
    })
}

/// The stored form of an org scope, and the list it holds.
pub fn org_scope_text(ids: &[String]) -> String {
    ids.join(" ")
}

pub fn stored_org_scope(text: &str) -> Vec<String> {
    items(text).map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn allow_lists_parse_v4_and_v6_ranges_and_single_addresses() {
        let list =
            parse_allowed_ips("10.1.2.3/8, 2001:db8::1/32 192.0.2.7\n::1 10.0.0.0/8").unwrap();
        assert_eq!(
            allowed_ips_text(&list),
            "10.0.0.0/8 2001:db8::/32 192.0.2.7/32 ::1/128"
        );
        assert_eq!(stored_allowed_ips(&allowed_ips_text(&list)), list);
        for (bad, case) in [
            ("", "empty"),
            (" , ", "only separators"),
            ("10.0.0.0/33", "prefix too long"),
            ("example.com", "a host name"),
            ("10.0.0.0/8 nope", "one bad entry"),
        ] {
            assert!(parse_allowed_ips(bad).is_err(), "{case}");
        }
        let many: Vec<String> = (0..=MAX_ALLOWED_IPS)
            .map(|i| format!("10.0.{i}.0/24"))
            .collect();
        assert!(parse_allowed_ips(&many.join(" ")).is_err(), "too many");
    }

    #[test]
    fn addresses_match_their_ranges_only() {
        let list = parse_allowed_ips("192.0.2.0/24 2001:db8:1::/48").unwrap();
        let list = Some(&list[..]);
        for (addr, allowed) in [
            ("192.0.2.1", true),
            ("192.0.2.255", true),
            ("192.0.3.1", false),
            ("2001:db8:1::5", true),
            ("2001:db8:2::5", false),
            ("::ffff:192.0.2.9", true),
            ("::1", false),
        ] {
            assert_eq!(ip_allowed(list, ip(addr)), allowed, "{addr}");
        }
        assert!(ip_allowed(None, ip("203.0.113.1")), "no list: any address");
        assert!(
            !ip_allowed(Some(&[]), ip("203.0.113.1")),
            "empty list: nobody"
        );
    }

    #[test]
    fn a_broken_stored_list_fails_closed() {
        assert_eq!(stored_allowed_ips("garbage"), Vec::<IpNet>::new());
        assert_eq!(
            stored_allowed_ips("garbage 10.0.0.0/8"),
            vec!["10.0.0.0/8".parse::<IpNet>().unwrap()]
        );
    }

    #[test]
    fn rate_limits_are_positive_and_bounded() {
        assert_eq!(check_rate_limit(1), Ok(1));
        assert_eq!(check_rate_limit(600), Ok(600));
        for bad in [0, -1, i64::from(MAX_RATE_LIMIT_PER_MIN) + 1, i64::MAX] {
            assert!(check_rate_limit(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn org_scopes_are_sourced_ids() {
        assert_eq!(
            parse_org_scope(["org-1,org-2", "org-1 org-3"]).unwrap(),
            ["org-1", "org-2", "org-3"]
        );
        assert!(parse_org_scope([""]).is_err());
        assert!(parse_org_scope(["a".repeat(300).as_str()]).is_err());
        assert_eq!(stored_org_scope("a b  c"), ["a", "b", "c"]);
        assert_eq!(org_scope_text(&["a".into(), "b".into()]), "a b");
    }
}
