//! Navigation policy (docs/security.md). Checked for `goto` before the browser moves and,
//! through CDP Fetch interception, for every request a page makes: redirects, iframes,
//! subresources, fetch/XHR.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use url::{Host, Url};

const DNS_CACHE_TTL: Duration = Duration::from_secs(60);
const DNS_TIMEOUT: Duration = Duration::from_secs(2);
/// Host names cached at most; the cache starts over past this.
const DNS_CACHE_MAX: usize = 10_000;

pub struct Policy {
    allow_private: bool,
    /// Operator-denied hosts: exact host names or IP literals, always refused.
    deny_hosts: Vec<String>,
    /// Static host entries (`hosts`), consulted before DNS like /etc/hosts.
    hosts: HashMap<String, Vec<IpAddr>>,
    dns: Mutex<HashMap<String, (Instant, Vec<IpAddr>)>>,
}

/// Why [`Policy::addresses`] has nothing to connect to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The policy refuses the host or an address it resolves to.
    #[error("{0}")]
    Policy(String),
    /// The name has no address (or the lookup timed out).
    #[error("{0}")]
    Unresolved(String),
}

/// What a URL needs before it can be judged.
enum Verdict {
    Allowed,
    Refused(String),
    /// A host name: judged on the addresses it resolves to.
    Resolve(String),
}

impl Policy {
    pub fn new(allow_private: bool, deny_hosts: Vec<String>) -> Self {
        let deny_hosts = deny_hosts
            .into_iter()
            .map(|h| h.to_ascii_lowercase())
            .collect();
        Self {
            allow_private,
            deny_hosts,
            hosts: HashMap::new(),
            dns: Mutex::new(HashMap::new()),
        }
    }

    /// Adds static host entries: `name` resolves to these addresses, which are then judged
    /// like any DNS answer.
    pub fn with_hosts(mut self, hosts: HashMap<String, Vec<IpAddr>>) -> Self {
        self.hosts = hosts
            .into_iter()
            .map(|(name, ips)| (name.trim_end_matches('.').to_ascii_lowercase(), ips))
            .collect();
        self
    }

    /// The addresses a connection for `url` may go to: the host judged by name, resolved
    /// once (static entries first, then DNS through the same cache the request checks use)
    /// and every address judged. The egress proxy connects only to what this returns, so a
    /// name that resolves to a refused address, or changes its answer between a check and
    /// the connection (DNS rebinding), never reaches that address.
    pub async fn addresses(&self, url: &Url) -> Result<Vec<SocketAddr>, Refusal> {
        let port = url.port_or_known_default().unwrap_or(80);
        match self.judge(url) {
            Verdict::Refused(why) => Err(Refusal::Policy(why)),
            Verdict::Allowed => Ok(match url.host() {
                Some(Host::Ipv4(ip)) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
                Some(Host::Ipv6(ip)) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
                // `localhost` and `*.localhost`, allowed as loopback.
                _ => vec![
                    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
                    SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port),
                ],
            }),
            Verdict::Resolve(host) => {
                let ips = self.resolve(&host, port).await;
                if ips.is_empty() {
                    return Err(Refusal::Unresolved(format!(
                        "host `{host}` does not resolve"
                    )));
                }
                for ip in &ips {
                    self.judge_ip(&host, *ip).map_err(Refusal::Policy)?;
                }
                Ok(ips
                    .into_iter()
                    .map(|ip| SocketAddr::new(ip, port))
                    .collect())
            }
        }
    }

    /// Checks a URL an agent asked to open. Only http, https and about:blank are navigable.
    pub async fn check_navigation(&self, raw: &str) -> Result<(), String> {
        if raw == "about:blank" {
            return Ok(());
        }
        let url = Url::parse(raw).map_err(|e| format!("invalid url `{raw}`: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "url scheme `{}:` is not allowed: only http, https and about:blank",
                url.scheme()
            ));
        }
        self.check_url(&url).await
    }

    /// Checks a request a page makes. Page-internal schemes (data:, blob:, about:) pass.
    pub async fn check_request(&self, raw: &str) -> Result<(), String> {
        let Ok(url) = Url::parse(raw) else {
            return Err(format!("unparseable url `{raw}`"));
        };
        match url.scheme() {
            "http" | "https" | "ws" | "wss" => self.check_url(&url).await,
            "data" | "blob" | "about" => Ok(()),
            other => Err(format!("url scheme `{other}:` is not allowed")),
        }
    }

    async fn check_url(&self, url: &Url) -> Result<(), String> {
        match self.judge(url) {
            Verdict::Allowed => Ok(()),
            Verdict::Refused(why) => Err(why),
            Verdict::Resolve(host) => {
                let port = url.port_or_known_default().unwrap_or(80);
                for ip in self.resolve(&host, port).await {
                    self.judge_ip(&host, ip)?;
                }
                Ok(())
            }
        }
    }

    fn judge(&self, url: &Url) -> Verdict {
        let host = match url.host() {
            Some(h) => h,
            None => return Verdict::Refused(format!("url `{url}` has no host")),
        };
        let name = match &host {
            Host::Domain(d) => d.trim_end_matches('.').to_ascii_lowercase(),
            Host::Ipv4(ip) => ip.to_string(),
            Host::Ipv6(ip) => ip.to_string(),
        };
        if self.deny_hosts.contains(&name) {
            return Verdict::Refused(format!("host `{name}` is denied by the operator"));
        }
        match host {
            Host::Ipv4(ip) => self.verdict_ip(&name, IpAddr::V4(ip)),
            Host::Ipv6(ip) => self.verdict_ip(&name, IpAddr::V6(ip)),
            Host::Domain(_) => {
                if name == "localhost" || name.ends_with(".localhost") {
                    self.verdict_ip(&name, IpAddr::V4(Ipv4Addr::LOCALHOST))
                } else if name == "metadata.google.internal" || name == "metadata" {
                    Verdict::Refused(format!("host `{name}` is a cloud metadata address"))
                } else {
                    Verdict::Resolve(name)
                }
            }
        }
    }

    fn verdict_ip(&self, name: &str, ip: IpAddr) -> Verdict {
        match self.judge_ip(name, ip) {
            Ok(()) => Verdict::Allowed,
            Err(why) => Verdict::Refused(why),
        }
    }

    fn judge_ip(&self, name: &str, ip: IpAddr) -> Result<(), String> {
        // An IPv6 address that carries an IPv4 one is judged as that IPv4 address too: a
        // NAT64 or 6to4 gateway on the path would deliver it there.
        if let IpAddr::V6(v6) = ip {
            if let Some(v4) = embedded_ipv4(v6) {
                self.judge_ip(name, IpAddr::V4(v4))?;
            }
        }
        // A denied address is denied however it is reached: by literal or by a name.
        if self.deny_hosts.contains(&ip.to_string()) {
            return Err(format!(
                "address `{ip}` (of `{name}`) is denied by the operator"
            ));
        }
        if is_link_local_or_metadata(ip) {
            return Err(format!(
                "address `{name}` is link-local or a metadata address and is always refused"
            ));
        }
        if is_private_or_loopback(ip) && !self.allow_private {
            return Err(format!(
                "address `{name}` is private or loopback; the operator must allow it (--allow-private-network)"
            ));
        }
        Ok(())
    }

    async fn resolve(&self, host: &str, port: u16) -> Vec<IpAddr> {
        if let Some(ips) = self.hosts.get(host) {
            return ips.clone();
        }
        if let Ok(cache) = self.dns.lock() {
            if let Some((at, ips)) = cache.get(host) {
                if at.elapsed() < DNS_CACHE_TTL {
                    return ips.clone();
                }
            }
        }
        // A name that does not resolve here will not load in the browser either: let it fail there.
        let ips: Vec<IpAddr> =
            match tokio::time::timeout(DNS_TIMEOUT, tokio::net::lookup_host((host, port))).await {
                Ok(Ok(addrs)) => addrs.map(|a| a.ip()).collect(),
                _ => Vec::new(),
            };
        if let Ok(mut cache) = self.dns.lock() {
            if cache.len() >= DNS_CACHE_MAX {
                cache.clear();
            }
            cache.insert(host.to_string(), (Instant::now(), ips.clone()));
        }
        ips
    }
}

/// The IPv4 address an IPv6 address stands for, in every form a network may translate:
/// IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible `::a.b.c.d`, SIIT-translated
/// `::ffff:0:a.b.c.d`, NAT64 `64:ff9b::/96` and `64:ff9b:1::/48`, 6to4 `2002:AABB:CCDD::/16`
/// and Teredo `2001:0::/32` (client address, inverted, in the last 32 bits).
fn embedded_ipv4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    let low = Ipv4Addr::new(
        (s[6] >> 8) as u8,
        (s[6] & 0xff) as u8,
        (s[7] >> 8) as u8,
        (s[7] & 0xff) as u8,
    );
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(low),
        [0, 0, 0, 0, 0xffff, 0, _, _] => Some(low),
        // ::a.b.c.d, but not :: and ::1 (handled as IPv6 unspecified and loopback).
        [0, 0, 0, 0, 0, 0, hi, lo] if hi != 0 || lo > 1 => Some(low),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(low),
        [0x64, 0xff9b, 1, ..] => Some(low),
        [0x2002, a, b, ..] => Some(Ipv4Addr::new(
            (a >> 8) as u8,
            (a & 0xff) as u8,
            (b >> 8) as u8,
            (b & 0xff) as u8,
        )),
        [0x2001, 0, ..] => {
            let inv = !u32::from(low);
            Some(Ipv4Addr::from(inv))
        }
        _ => None,
    }
}

fn is_link_local_or_metadata(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_link_local() // 169.254.0.0/16, includes 169.254.169.254
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4 == Ipv4Addr::new(100, 100, 100, 200) // Alibaba cloud metadata
        }
        IpAddr::V6(v6) => {
            (v6.segments()[0] & 0xffc0) == 0xfe80 // fe80::/10
                || v6.is_unspecified()
                || v6 == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) // AWS IMDS over IPv6
        }
    }
}

fn is_private_or_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || (o[0] == 100 && (64..128).contains(&o[1])) // carrier-grade NAT 100.64/10
                || o[0] == 0
        }
        IpAddr::V6(v6) => v6.is_loopback() || (v6.segments()[0] & 0xfe00) == 0xfc00, // fc00::/7
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_forms_of_internal_addresses_are_refused() {
        let strict = Policy::new(false, vec![]);
        let open = Policy::new(true, vec![]);
        for always in [
            "64:ff9b::a9fe:a9fe",   // NAT64 of 169.254.169.254
            "64:ff9b:1::a9fe:a9fe", // local-use NAT64
            "::a9fe:a9fe",          // IPv4-compatible
            "::ffff:0:a9fe:a9fe",   // SIIT-translated
            "::ffff:169.254.169.254",
            "2002:a9fe:a9fe::1", // 6to4
        ] {
            let ip: IpAddr = always.parse().unwrap();
            assert!(open.judge_ip(always, ip).is_err(), "{always}");
        }
        for private in [
            "64:ff9b::7f00:1",
            "::ffff:10.0.0.1",
            "2002:0a00:0001::1",
            "::7f00:1",
        ] {
            let ip: IpAddr = private.parse().unwrap();
            assert!(strict.judge_ip(private, ip).is_err(), "{private}");
            assert!(open.judge_ip(private, ip).is_ok(), "{private}");
        }
        let public: IpAddr = "64:ff9b::808:808".parse().unwrap();
        assert!(strict.judge_ip("public", public).is_ok());
        let teredo: IpAddr = "2001:0:4136:e378:8000:63bf:3fff:fdd2".parse().unwrap();
        assert_eq!(
            embedded_ipv4(match teredo {
                IpAddr::V6(v) => v,
                IpAddr::V4(_) => unreachable!(),
            }),
            Some(Ipv4Addr::new(192, 0, 2, 45))
        );
    }

    fn run<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map(|rt| rt.block_on(f))
            .unwrap()
    }

    #[test]
    fn schemes_and_addresses() {
        let strict = Policy::new(false, vec![]);
        let open = Policy::new(true, vec!["127.0.0.2".into()]);
        run(async {
            assert!(strict.check_navigation("about:blank").await.is_ok());
            for bad in [
                "file:///etc/passwd",
                "chrome://version",
                "devtools://x",
                "view-source:http://a.b",
                "javascript:alert(1)",
            ] {
                assert!(strict.check_navigation(bad).await.is_err(), "{bad}");
                assert!(open.check_navigation(bad).await.is_err(), "{bad}");
            }
            for always in [
                "http://169.254.169.254/latest",
                "http://[fe80::1]/",
                "http://metadata.google.internal/",
                "http://0.0.0.0/",
            ] {
                assert!(open.check_navigation(always).await.is_err(), "{always}");
            }
            for private in [
                "http://127.0.0.1:8080/",
                "http://10.1.2.3/",
                "http://192.168.1.1/",
                "http://localhost/",
                "http://[::1]/",
                "http://[::ffff:127.0.0.1]/",
            ] {
                assert!(strict.check_navigation(private).await.is_err(), "{private}");
                assert!(open.check_navigation(private).await.is_ok(), "{private}");
            }
            assert!(open
                .check_navigation("http://127.0.0.2:9/")
                .await
                .unwrap_err()
                .contains("denied"));
            assert!(open.check_request("data:text/plain,hi").await.is_ok());
            assert!(open.check_request("file:///etc/passwd").await.is_err());
        });
    }

    #[test]
    fn addresses_are_judged_after_resolution() {
        let hosts = HashMap::from([
            ("inside.test".to_string(), vec!["10.0.0.7".parse().unwrap()]),
            (
                "denied.test".to_string(),
                vec!["127.0.0.2".parse().unwrap()],
            ),
            (
                "mixed.test".to_string(),
                vec![
                    "8.8.8.8".parse().unwrap(),
                    "169.254.169.254".parse().unwrap(),
                ],
            ),
            ("public.test".to_string(), vec!["8.8.8.8".parse().unwrap()]),
        ]);
        let strict = Policy::new(false, vec![]).with_hosts(hosts.clone());
        let open = Policy::new(true, vec!["127.0.0.2".into()]).with_hosts(hosts);
        let url = |s: &str| Url::parse(s).unwrap();
        run(async {
            // A name is judged by what it resolves to, once, and only that is connected to.
            let inside = url("http://inside.test:8080/");
            assert!(strict
                .addresses(&inside)
                .await
                .unwrap_err()
                .to_string()
                .contains("private"));
            assert_eq!(
                open.addresses(&inside).await.unwrap(),
                vec!["10.0.0.7:8080".parse::<SocketAddr>().unwrap()]
            );
            let denied = url("http://denied.test/");
            assert!(open
                .addresses(&denied)
                .await
                .unwrap_err()
                .to_string()
                .contains("denied"));
            // One refused address among several refuses the name: a connection could pick it.
            let mixed = url("https://mixed.test/");
            assert!(open.addresses(&mixed).await.is_err());
            assert_eq!(
                strict
                    .addresses(&url("https://public.test/"))
                    .await
                    .unwrap(),
                vec!["8.8.8.8:443".parse::<SocketAddr>().unwrap()]
            );
            // Literals and localhost need no lookup.
            assert_eq!(
                open.addresses(&url("http://localhost:9/"))
                    .await
                    .unwrap()
                    .len(),
                2
            );
            assert!(strict.addresses(&url("http://[::1]/")).await.is_err());
            assert!(matches!(
                open.addresses(&url("http://does-not-resolve.invalid/"))
                    .await,
                Err(Refusal::Unresolved(_))
            ));
        });
    }
}
