//! The address a request comes from: the TCP peer, or — only when the peer is a trusted proxy
//! — the right-most address of `X-Forwarded-For` that is not a trusted proxy.
//!
//! Each proxy appends the address it received the request from, so the entries a client wrote
//! itself are on the left and cannot push out what the trusted proxies appended on the right.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use ipnet::IpNet;

fn trusted(ip: IpAddr, proxies: &[IpNet]) -> bool {
    proxies.iter().any(|net| net.contains(&ip))
}

/// One `X-Forwarded-For` entry: an address, optionally with a port (`192.0.2.7:4711`,
/// `[2001:db8::7]:4711`) or in brackets.
fn entry(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Ok(sa) = text.parse::<SocketAddr>() {
        return Some(sa.ip().to_canonical());
    }
    let inner = text.strip_prefix('[')?.strip_suffix(']')?;
    inner.parse::<IpAddr>().ok().map(|ip| ip.to_canonical())
}

/// The client's address for a request from `peer`.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, proxies: &[IpNet]) -> IpAddr {
    let peer = peer.to_canonical();
    if !trusted(peer, proxies) {
        return peer;
    }
    let forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    let mut candidate = peer;
    for text in forwarded.iter().rev() {
        // An entry that is no address was not written by a proxy we trust: stop at the last
        // address one of them vouched for.
        let Some(ip) = entry(text) else {
            return candidate;
        };
        candidate = ip;
        if !trusted(ip, proxies) {
            return ip;
        }
    }
    candidate
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    #[test]
    fn forwarded_addresses_count_only_from_trusted_proxies() {
        let proxies: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap(), "fd00::/8".parse().unwrap()];
        let cases = [
            (
                "203.0.113.9",
                vec!["198.51.100.1"],
                "203.0.113.9",
                "untrusted peer: header ignored",
            ),
            ("10.0.0.1", vec![], "10.0.0.1", "trusted peer, no header"),
            (
                "10.0.0.1",
                vec!["198.51.100.1"],
                "198.51.100.1",
                "one proxy",
            ),
            (
                "10.0.0.1",
                vec!["1.1.1.1, 198.51.100.1, 10.0.0.2"],
                "198.51.100.1",
                "a spoofed left-most entry and a second proxy",
            ),
            (
                "10.0.0.1",
                vec!["1.1.1.1", "198.51.100.1"],
                "198.51.100.1",
                "two headers are one list",
            ),
            (
                "10.0.0.1",
                vec!["10.0.0.3, 10.0.0.2"],
                "10.0.0.3",
                "only proxies: the left-most",
            ),
            (
                "10.0.0.1",
                vec!["garbage, 10.0.0.2"],
                "10.0.0.2",
                "garbage stops the walk",
            ),
            (
                "fd00::1",
                vec!["[2001:db8::7]:4711"],
                "2001:db8::7",
                "IPv6 with a port",
            ),
            (
                "::ffff:10.0.0.1",
                vec!["198.51.100.1:80"],
                "198.51.100.1",
                "mapped peer",
            ),
        ];
        for (peer, values, want, case) in cases {
            assert_eq!(
                client_ip(ip(peer), &headers(&values), &proxies),
                ip(want),
                "{case}"
            );
        }
        assert_eq!(
            client_ip(ip("10.0.0.1"), &headers(&["198.51.100.1"]), &[]),
            ip("10.0.0.1"),
            "no trusted proxies configured"
        );
    }
}
