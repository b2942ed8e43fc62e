//! The IP allowlist (S9): each request's client IP is checked against `allow_origins`:
//! `local`, `tailscale`, `github`, `anthropic`, `openai`, CIDRs (or single IPs), and
//! ISO 3166-1 alpha-2 country codes. Named origins and CIDRs are checked first; the
//! country database is consulted only when none of them matched. Every decision says
//! why, for one log line per request.

use crate::geo::GeoDb;
use crate::github_meta::GitHubRanges;
use crate::Error;
use ipnet::IpNet;
use serde::Deserialize;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::OnceLock;

/// One `allow_origins` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Loopback, RFC 1918, IPv6 ULA (fc00::/7).
    Local,
    /// Tailscale: 100.64.0.0/10 and fd7a:115c:a1e0::/48.
    Tailscale,
    /// GitHub's webhook ranges (meta API `hooks`).
    GitHub,
    /// Anthropic's published outbound ranges.
    Anthropic,
    /// OpenAI's published egress ranges.
    OpenAI,
    /// A country, upper-case ISO 3166-1 alpha-2.
    Country(String),
    /// A network.
    Cidr(IpNet),
}

impl FromStr for Origin {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let t = s.trim();
        Ok(match t.to_ascii_lowercase().as_str() {
            "local" => Origin::Local,
            "tailscale" => Origin::Tailscale,
            "github" => Origin::GitHub,
            "anthropic" => Origin::Anthropic,
            "openai" => Origin::OpenAI,
            c if c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()) => {
                Origin::Country(c.to_ascii_uppercase())
            }
            _ => {
                if let Ok(net) = t.parse::<IpNet>() {
                    Origin::Cidr(net.trunc())
                } else if let Ok(ip) = t.parse::<IpAddr>() {
                    Origin::Cidr(IpNet::from(ip))
                } else {
                    return Err(Error::Origin(format!(
                        "{s:?} is not local, tailscale, github, anthropic, openai, a two-letter country code or a CIDR"
                    )));
                }
            }
        })
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Local => f.write_str("local"),
            Origin::Tailscale => f.write_str("tailscale"),
            Origin::GitHub => f.write_str("github"),
            Origin::Anthropic => f.write_str("anthropic"),
            Origin::OpenAI => f.write_str("openai"),
            Origin::Country(c) => write!(f, "country {c}"),
            Origin::Cidr(n) => write!(f, "{n}"),
        }
    }
}

fn nets(list: &[&str]) -> Vec<IpNet> {
    list.iter().filter_map(|s| s.parse().ok()).collect()
}

/// The ranges behind `local`.
pub fn local_ranges() -> &'static [IpNet] {
    static R: OnceLock<Vec<IpNet>> = OnceLock::new();
    R.get_or_init(|| {
        nets(&[
            "127.0.0.0/8",
            "10.0.0.0/8",
            "172.16.0.0/12",
            "192.168.0.0/16",
            "::1/128",
            "fc00::/7",
        ])
    })
}

/// The ranges behind `tailscale`.
pub fn tailscale_ranges() -> &'static [IpNet] {
    static R: OnceLock<Vec<IpNet>> = OnceLock::new();
    R.get_or_init(|| nets(&["100.64.0.0/10", "fd7a:115c:a1e0::/48"]))
}

/// The Anthropic and OpenAI ranges shipped in `data/provider_ranges.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct ProviderRanges {
    /// The date the ranges were taken (YYYY-MM-DD).
    pub taken: String,
    /// Anthropic's outbound ranges.
    pub anthropic: RangeSet,
    /// OpenAI's egress ranges.
    pub openai: RangeSet,
}

/// One provider's documented ranges.
#[derive(Debug, Clone, Deserialize)]
pub struct RangeSet {
    /// Where they are documented.
    pub sources: Vec<String>,
    /// Caveats.
    pub note: String,
    /// The ranges.
    pub ranges: Vec<IpNet>,
}

/// The shipped provider ranges.
pub fn provider_ranges() -> &'static ProviderRanges {
    static R: OnceLock<ProviderRanges> = OnceLock::new();
    R.get_or_init(|| {
        serde_json::from_str(include_str!("../data/provider_ranges.json"))
            .expect("data/provider_ranges.json is valid (checked by a test)")
    })
}

/// The verdict on one client IP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The client IP judged.
    pub ip: IpAddr,
    /// Whether it may proceed (else HTTP 403).
    pub allowed: bool,
    /// Why: the origin that matched, or what the IP was found to be.
    pub reason: String,
}

impl std::fmt::Display for Decision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verdict = if self.allowed { "allowed" } else { "refused" };
        write!(f, "{verdict} {}: {}", self.ip, self.reason)
    }
}

impl Decision {
    /// Logs the decision as one line: info when allowed, warn when refused.
    pub fn log(&self) {
        if self.allowed {
            tracing::info!(ip = %self.ip, allowed = true, "allowlist: {self}");
        } else {
            tracing::warn!(ip = %self.ip, allowed = false, "allowlist: {self}");
        }
    }
}

/// The allowlist built from `allow_origins`.
#[derive(Debug)]
pub struct Allowlist {
    origins: Vec<Origin>,
    github: GitHubRanges,
    geo: Option<GeoDb>,
}

impl Allowlist {
    /// Parses `entries`; country codes need `geo`.
    pub fn new<S: AsRef<str>>(
        entries: &[S],
        github: GitHubRanges,
        geo: Option<GeoDb>,
    ) -> Result<Self, Error> {
        let origins = entries
            .iter()
            .map(|e| e.as_ref().parse())
            .collect::<Result<Vec<Origin>, Error>>()?;
        if geo.is_none() {
            if let Some(c) = origins.iter().find(|o| matches!(o, Origin::Country(_))) {
                return Err(Error::Origin(format!(
                    "{c} needs a GeoIP database (geoip_db)"
                )));
            }
        }
        Ok(Allowlist {
            origins,
            github,
            geo,
        })
    }

    /// The parsed entries.
    pub fn origins(&self) -> &[Origin] {
        &self.origins
    }

    /// Judges `ip`: named origins and CIDRs first, then the country.
    pub fn decide(&self, ip: IpAddr) -> Decision {
        let ip = ip.to_canonical();
        let allow = |reason: String| Decision {
            ip,
            allowed: true,
            reason,
        };
        let within = |set: &[IpNet]| set.iter().any(|n| n.contains(&ip));
        for o in &self.origins {
            let hit = match o {
                Origin::Local => within(local_ranges()),
                Origin::Tailscale => within(tailscale_ranges()),
                Origin::GitHub => self.github.contains(ip),
                Origin::Anthropic => within(&provider_ranges().anthropic.ranges),
                Origin::OpenAI => within(&provider_ranges().openai.ranges),
                Origin::Country(_) => false,
                Origin::Cidr(n) => n.contains(&ip),
            };
            if hit {
                return allow(o.to_string());
            }
        }
        let wants_country = self.origins.iter().any(|o| matches!(o, Origin::Country(_)));
        let country = match (&self.geo, wants_country) {
            (Some(db), true) => db.country(ip),
            _ => None,
        };
        if let Some(c) = &country {
            if self.origins.contains(&Origin::Country(c.clone())) {
                return allow(format!("country {c}"));
            }
        }
        let reason = match (wants_country, country) {
            (true, Some(c)) => format!("country {c} is not in allow_origins"),
            (true, None) => "no known country and no origin matched".to_string(),
            (false, _) => "no origin in allow_origins matched".to_string(),
        };
        Decision {
            ip,
            allowed: false,
            reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::capture_logs;
    use std::path::Path;

    fn geo() -> GeoDb {
        GeoDb::open(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/GeoIP2-Country-Test.mmdb"),
        )
        .unwrap()
    }

    fn github() -> GitHubRanges {
        GitHubRanges::new(vec![
            "140.82.112.0/20".parse().unwrap(),
            "2606:50c0::/32".parse().unwrap(),
        ])
    }

    fn verdict(list: &Allowlist, ip: &str) -> (bool, String) {
        let d = list.decide(ip.parse().unwrap());
        (d.allowed, d.reason)
    }

    #[test]
    fn s09_default_list_local_tailscale_github() {
        let entries = crate::config::DEFAULT_ALLOW_ORIGINS;
        let list = Allowlist::new(entries, github(), None).unwrap();
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.20.0.1",
            "192.168.1.1",
            "::1",
            "fd00::1",
            "::ffff:192.168.1.1",
        ] {
            assert_eq!(verdict(&list, ip), (true, "local".to_string()), "{ip}");
        }
        for ip in ["100.64.0.1", "100.127.255.254"] {
            assert_eq!(verdict(&list, ip), (true, "tailscale".to_string()), "{ip}");
        }
        // Tailscale's IPv6 range is inside the ULA block, so `local` matches it first;
        // on its own, `tailscale` covers it but not the rest of fc00::/7.
        assert_eq!(
            verdict(&list, "fd7a:115c:a1e0::1"),
            (true, "local".to_string())
        );
        let ts = Allowlist::new(&["tailscale"], GitHubRanges::default(), None).unwrap();
        assert_eq!(
            verdict(&ts, "fd7a:115c:a1e0::1"),
            (true, "tailscale".to_string())
        );
        assert!(!ts.decide("fd00::1".parse().unwrap()).allowed);
        assert!(!ts.decide("192.168.1.1".parse().unwrap()).allowed);
        for ip in ["140.82.115.9", "2606:50c0::5"] {
            assert_eq!(verdict(&list, ip), (true, "github".to_string()), "{ip}");
        }
        for ip in [
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2001:db8::1",
            "fe80::1",
        ] {
            let (ok, why) = verdict(&list, ip);
            assert!(!ok, "{ip}");
            assert_eq!(why, "no origin in allow_origins matched");
        }
    }

    #[test]
    fn s09_countries_v4_and_v6_after_named_origins() {
        let list =
            Allowlist::new(&["local", "SE", "jp"], GitHubRanges::default(), Some(geo())).unwrap();
        assert_eq!(
            verdict(&list, "89.160.20.112"),
            (true, "country SE".to_string())
        );
        assert_eq!(
            verdict(&list, "2001:218::1"),
            (true, "country JP".to_string())
        );
        assert_eq!(
            verdict(&list, "81.2.69.142"),
            (false, "country GB is not in allow_origins".to_string())
        );
        assert_eq!(
            verdict(&list, "203.0.113.1"),
            (false, "no known country and no origin matched".to_string())
        );
        // Named origins win before any lookup.
        assert_eq!(verdict(&list, "127.0.0.1"), (true, "local".to_string()));
    }

    #[test]
    fn s09_cidrs_and_single_ips() {
        let list = Allowlist::new(
            &["198.51.100.0/24", "2001:db8::/32", "203.0.113.7"],
            GitHubRanges::default(),
            None,
        )
        .unwrap();
        assert!(list.decide("198.51.100.200".parse().unwrap()).allowed);
        assert!(list.decide("2001:db8:1::1".parse().unwrap()).allowed);
        assert!(list.decide("203.0.113.7".parse().unwrap()).allowed);
        assert!(!list.decide("203.0.113.8".parse().unwrap()).allowed);
        assert!(!list.decide("127.0.0.1".parse().unwrap()).allowed);
    }

    #[test]
    fn s09_anthropic_and_openai_from_data_file() {
        let r = provider_ranges();
        assert_eq!(r.taken.len(), 10);
        assert!(!r.anthropic.ranges.is_empty() && !r.openai.ranges.is_empty());
        let list = Allowlist::new(&["anthropic", "openai"], GitHubRanges::default(), None).unwrap();
        assert_eq!(
            verdict(&list, "160.79.104.10"),
            (true, "anthropic".to_string())
        );
        assert_eq!(
            verdict(&list, "23.102.140.115"),
            (true, "openai".to_string())
        );
        assert_eq!(
            verdict(&list, "40.84.180.140"),
            (true, "openai".to_string())
        );
        assert!(!list.decide("40.84.180.144".parse().unwrap()).allowed);
        assert!(!list.decide("127.0.0.1".parse().unwrap()).allowed);
    }

    #[test]
    fn s09_bad_entries_refused() {
        assert!(Allowlist::new(&["moon"], GitHubRanges::default(), None).is_err());
        assert!(Allowlist::new(&["10.0.0.0/33"], GitHubRanges::default(), None).is_err());
        let e = Allowlist::new(&["FR"], GitHubRanges::default(), None).unwrap_err();
        assert!(e.to_string().contains("geoip_db"), "{e}");
    }

    #[test]
    fn s09_each_decision_is_one_log_line() {
        let list = Allowlist::new(&["local"], GitHubRanges::default(), None).unwrap();
        let out = capture_logs(|| {
            list.decide("127.0.0.1".parse().unwrap()).log();
            list.decide("8.8.8.8".parse().unwrap()).log();
        });
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        assert!(lines[0].contains("allowed 127.0.0.1: local"), "{out}");
        assert!(
            lines[1].contains("WARN") && lines[1].contains("refused 8.8.8.8"),
            "{out}"
        );
    }
}
