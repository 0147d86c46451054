//! Where a proxied request may go, and the connection there: straight to a checked address,
//! or through the operator's upstream proxy, asked for the checked address (never for the
//! name, which the upstream would resolve again).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use url::Url;

use super::failures::NetError;
use crate::engine::policy::{Policy, Refusal};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// An upstream's answer to our CONNECT, head only.
const MAX_UPSTREAM_HEAD: usize = 8 * 1024;

/// An operator's upstream HTTP proxy: `http://[user:password@]host:port`.
#[derive(Debug, Clone)]
pub struct Upstream {
    host: String,
    port: u16,
    /// `Proxy-Authorization` value, when the URL carries credentials.
    pub(super) auth: Option<String>,
}

impl Upstream {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let url = Url::parse(raw.trim()).map_err(|e| format!("upstream proxy `{raw}`: {e}"))?;
        if url.scheme() != "http" {
            return Err(format!(
                "upstream proxy `{raw}`: only http:// proxies can be chained (pagepilot's egress proxy speaks to it in HTTP/1.1)"
            ));
        }
        let host = url
            .host_str()
            .ok_or_else(|| format!("upstream proxy `{raw}` has no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = url.port().unwrap_or(80);
        let auth = (!url.username().is_empty()).then(|| {
            let user = percent_decode(url.username());
            let pass = percent_decode(url.password().unwrap_or(""));
            let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
            format!("Basic {token}")
        });
        Ok(Self { host, port, auth })
    }

    async fn connect(&self) -> Result<TcpStream, DialError> {
        let connect = TcpStream::connect((self.host.as_str(), self.port));
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, connect)
            .await
            .map_err(|_| {
                DialError::Failed(
                    NetError::ConnectionFailed,
                    "the upstream proxy did not accept in time".into(),
                )
            })?
            .map_err(|e| {
                DialError::Failed(
                    NetError::ConnectionFailed,
                    format!("cannot reach the upstream proxy: {e}"),
                )
            })?;
        let _ = stream.set_nodelay(true);
        Ok(stream)
    }
}

fn percent_decode(s: &str) -> String {
    // Form decoding also turns `+` into a space; userinfo keeps `+` literal.
    let s = s.replace('+', "%2B");
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// What one listener does with a request: the policy, and the upstream it chains to.
pub(super) struct Route {
    pub policy: Arc<Policy>,
    pub upstream: Option<Upstream>,
    pub failures: Arc<super::Failures>,
}

#[derive(Debug)]
pub(super) enum DialError {
    /// The navigation policy refused the host or every address it resolves to.
    Refused(String),
    /// Allowed, but nothing answered.
    Failed(NetError, String),
}

/// An open connection for one request, and the checked address it stands for.
pub(super) struct Dialed {
    pub stream: TcpStream,
    pub addr: SocketAddr,
}

impl Route {
    /// A connection whose far end is `url`'s host at a checked address: a raw TCP stream
    /// (direct), or a stream to the upstream for an absolute-form request to `addr`.
    pub async fn dial_http(&self, url: &Url) -> Result<Dialed, DialError> {
        let addrs = self.policy.addresses(url).await.map_err(refusal)?;
        match &self.upstream {
            None => direct(&addrs).await,
            Some(up) => {
                let first = *addrs.first().ok_or_else(|| {
                    DialError::Failed(NetError::NameNotResolved, "no address".into())
                })?;
                Ok(Dialed {
                    stream: up.connect().await?,
                    addr: first,
                })
            }
        }
    }

    /// A byte stream to `url`'s host at a checked address, for a `CONNECT` tunnel.
    pub async fn dial_tunnel(&self, url: &Url) -> Result<Dialed, DialError> {
        let addrs = self.policy.addresses(url).await.map_err(refusal)?;
        let Some(up) = &self.upstream else {
            return direct(&addrs).await;
        };
        let mut last = DialError::Failed(NetError::NameNotResolved, "no address".into());
        for addr in addrs {
            let mut stream = up.connect().await?;
            match tunnel(&mut stream, addr, up.auth.as_deref()).await {
                Ok(()) => return Ok(Dialed { stream, addr }),
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}

fn refusal(r: Refusal) -> DialError {
    match r {
        Refusal::Policy(why) => DialError::Refused(why),
        Refusal::Unresolved(why) => DialError::Failed(NetError::NameNotResolved, why),
    }
}

async fn direct(addrs: &[SocketAddr]) -> Result<Dialed, DialError> {
    let mut last = DialError::Failed(NetError::NameNotResolved, "no address".into());
    for &addr in addrs {
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                return Ok(Dialed { stream, addr });
            }
            Ok(Err(e)) => last = DialError::Failed(NetError::of_io(&e), format!("{addr}: {e}")),
            Err(_) => {
                last = DialError::Failed(
                    NetError::TimedOut,
                    format!("{addr}: no answer within {} s", CONNECT_TIMEOUT.as_secs()),
                )
            }
        }
    }
    Err(last)
}

/// Asks the upstream for a tunnel to `addr` and reads its answer's head, byte by byte so
/// nothing of the tunnel itself is consumed.
async fn tunnel(
    stream: &mut TcpStream,
    addr: SocketAddr,
    auth: Option<&str>,
) -> Result<(), DialError> {
    let mut head = format!("CONNECT {addr} HTTP/1.1\r\nHost: {addr}\r\n");
    if let Some(a) = auth {
        head.push_str(&format!("Proxy-Authorization: {a}\r\n"));
    }
    head.push_str("\r\n");
    let failed = |e: std::io::Error| {
        DialError::Failed(NetError::ConnectionFailed, format!("upstream proxy: {e}"))
    };
    let fail = |why: &str| DialError::Failed(NetError::ConnectionFailed, why.to_string());
    let exchange = async {
        stream.write_all(head.as_bytes()).await.map_err(failed)?;
        let mut answer = Vec::with_capacity(256);
        let mut byte = [0u8; 1];
        while !answer.ends_with(b"\r\n\r\n") {
            if answer.len() >= MAX_UPSTREAM_HEAD {
                return Err(fail("upstream proxy answer head too large"));
            }
            if stream.read(&mut byte).await.map_err(failed)? == 0 {
                return Err(fail("upstream proxy closed the connection"));
            }
            answer.push(byte[0]);
        }
        Ok(answer)
    };
    let answer = tokio::time::timeout(CONNECT_TIMEOUT, exchange)
        .await
        .map_err(|_| fail("upstream proxy did not answer CONNECT in time"))??;
    let line = String::from_utf8_lossy(&answer);
    let status = line.split_whitespace().nth(1).unwrap_or("");
    if status.starts_with('2') && status.len() == 3 {
        Ok(())
    } else {
        let first = line.lines().next().unwrap_or("").to_string();
        Err(fail(&format!("upstream proxy refused the tunnel: {first}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_urls() {
        let u = Upstream::parse("http://al%40ice:s%3Acret@proxy.internal:3128").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("proxy.internal", 3128));
        let token = base64::engine::general_purpose::STANDARD.encode("al@ice:s:cret");
        assert_eq!(u.auth.as_deref(), Some(format!("Basic {token}").as_str()));
        assert!(Upstream::parse("http://[::1]:8080").unwrap().auth.is_none());
        assert!(Upstream::parse("socks5://proxy:1080").is_err());
        assert!(Upstream::parse("not a url").is_err());
    }
}
