//! Listen address parsing (SECURITY.md S8): loopback unless all interfaces are asked
//! for explicitly.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Turns a listen setting into socket addresses to bind.
///
/// `localhost:P` and `:P` bind 127.0.0.1 (and ::1 for `localhost`); `0.0.0.0:P` and
/// `[::]:P` bind all interfaces; any other `IP:P` binds that IP.
pub fn parse(listen: &str) -> Result<Vec<SocketAddr>, String> {
    let bad = || format!("invalid listen address {listen:?}: expected HOST:PORT or :PORT");
    let (host, port) = listen.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    match host {
        "" => Ok(vec![SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)]),
        "localhost" => Ok(vec![
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port),
        ]),
        h => {
            let h = h.trim_start_matches('[').trim_end_matches(']');
            let ip: IpAddr = h.parse().map_err(|_| bad())?;
            Ok(vec![SocketAddr::new(ip, port)])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s08_port_only_binds_loopback() {
        let a = parse(":2242").unwrap();
        assert_eq!(a, vec!["127.0.0.1:2242".parse().unwrap()]);
        assert!(a.iter().all(|a| a.ip().is_loopback()));
        let d = parse("localhost:2242").unwrap();
        assert!(d.iter().all(|a| a.ip().is_loopback()));
    }

    #[test]
    fn s08_all_interfaces_only_when_explicit() {
        let a = parse("0.0.0.0:2242").unwrap();
        assert!(a[0].ip().is_unspecified());
        let b = parse("[::]:2242").unwrap();
        assert!(b[0].ip().is_unspecified());
        assert!(parse("2242").is_err());
        assert!(parse("localhost:http").is_err());
    }
}
