//! Trusted proxies: the client IP and whether the request came over HTTPS. The
//! `X-Forwarded-For` and `X-Forwarded-Proto` headers are believed only when the socket
//! peer is in `trusted_proxies`; anyone else could forge them.

use ipnet::IpNet;
use std::net::IpAddr;

/// True when `ip` is in one of `trusted`.
pub fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    let ip = ip.to_canonical();
    trusted.iter().any(|n| n.contains(&ip))
}

/// The client's IP: the socket peer, unless the peer is a trusted proxy, in which case
/// `X-Forwarded-For` is read right to left and the first hop that is not itself a
/// trusted proxy is the client. IPv4-mapped IPv6 addresses come back as IPv4.
pub fn client_ip(peer: IpAddr, x_forwarded_for: Option<&str>, trusted: &[IpNet]) -> IpAddr {
    let peer = peer.to_canonical();
    if !is_trusted(peer, trusted) {
        return peer;
    }
    let Some(xff) = x_forwarded_for else {
        return peer;
    };
    let mut client = peer;
    for hop in xff.rsplit(',') {
        let Ok(ip) = hop.trim().parse::<IpAddr>() else {
            // An unparsable hop: stop at the last address we could trust.
            break;
        };
        client = ip.to_canonical();
        if !is_trusted(client, trusted) {
            break;
        }
    }
    client
}

/// Whether the request arrived over HTTPS (S2): directly (`direct_https`), or through a
/// trusted proxy whose `X-Forwarded-Proto` says `https`. The header from any other peer
/// is ignored.
pub fn is_https(
    direct_https: bool,
    peer: IpAddr,
    x_forwarded_proto: Option<&str>,
    trusted: &[IpNet],
) -> bool {
    if direct_https {
        return true;
    }
    if !is_trusted(peer, trusted) {
        return false;
    }
    // A proxy chain may append: "https, http"; the first is what the client used.
    x_forwarded_proto
        .and_then(|v| v.split(',').next())
        .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn s09_spoofed_forwarded_for_from_untrusted_peer_ignored() {
        let trusted = nets(&["10.0.0.5/32"]);
        let peer: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(client_ip(peer, Some("127.0.0.1"), &trusted), peer);
        assert_eq!(client_ip(peer, Some("127.0.0.1"), &[]), peer);
    }

    #[test]
    fn s09_forwarded_for_from_trusted_proxy_honoured() {
        let trusted = nets(&["10.0.0.0/8", "::1/128"]);
        let proxy: IpAddr = "10.0.0.5".parse().unwrap();
        // The client prepended a lie; the proxy appended the real peer.
        assert_eq!(
            client_ip(proxy, Some("127.0.0.1, 198.51.100.7, 10.0.0.4"), &trusted),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        assert_eq!(client_ip(proxy, None, &trusted), proxy);
        let v6proxy: IpAddr = "::1".parse().unwrap();
        assert_eq!(
            client_ip(v6proxy, Some("2001:db8::1"), &trusted),
            "2001:db8::1".parse::<IpAddr>().unwrap()
        );
        // IPv4-mapped peers count as their IPv4 address.
        let mapped: IpAddr = "::ffff:10.0.0.5".parse().unwrap();
        assert_eq!(
            client_ip(mapped, Some("198.51.100.7"), &trusted),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn s02_https_detection_honours_only_trusted_proxies() {
        let trusted = nets(&["127.0.0.1/32"]);
        let proxy: IpAddr = "127.0.0.1".parse().unwrap();
        let stranger: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(is_https(true, stranger, None, &trusted));
        assert!(!is_https(false, proxy, None, &trusted));
        assert!(is_https(false, proxy, Some("https"), &trusted));
        assert!(is_https(false, proxy, Some("HTTPS, http"), &trusted));
        assert!(!is_https(false, proxy, Some("http"), &trusted));
        assert!(!is_https(false, stranger, Some("https"), &trusted));
    }
}
