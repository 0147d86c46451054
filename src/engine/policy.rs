//! Navigation policy (DESIGN.md, Security). Checked for `goto` before the browser moves and,
//! through CDP Fetch interception, for every request a page makes: redirects, iframes,
//! subresources, fetch/XHR.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
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
    dns: Mutex<HashMap<String, (Instant, Vec<IpAddr>)>>,
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
            dns: Mutex::new(HashMap::new()),
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
        let ip = match ip {
            IpAddr::V6(v6) => v6
                .to_ipv4_mapped()
                .map(IpAddr::V4)
                .unwrap_or(IpAddr::V6(v6)),
            v4 => v4,
        };
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
}
