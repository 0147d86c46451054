//! What went wrong when the egress proxy could not connect, kept briefly so the engine can
//! name it: Chromium sees only "tunnel failed" for an https target behind a proxy, while the
//! agent should read `net::ERR_NAME_NOT_RESOLVED` or `net::ERR_CONNECTION_REFUSED`.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use url::Url;

/// Failures remembered at most (oldest dropped first), and for how long.
const KEPT: usize = 256;
const FRESH: Duration = Duration::from_secs(15);

/// A connection failure in the names Chromium uses (`net::ERR_…`, `Fetch.failRequest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetError {
    NameNotResolved,
    ConnectionRefused,
    TimedOut,
    AddressUnreachable,
    ConnectionFailed,
    /// The navigation policy refused the address the name resolved to.
    BlockedByClient,
}

impl NetError {
    /// The `Fetch.failRequest` reason.
    pub fn reason(self) -> &'static str {
        match self {
            Self::NameNotResolved => "NameNotResolved",
            Self::ConnectionRefused => "ConnectionRefused",
            Self::TimedOut => "TimedOut",
            Self::AddressUnreachable => "AddressUnreachable",
            Self::ConnectionFailed => "ConnectionFailed",
            Self::BlockedByClient => "BlockedByClient",
        }
    }

    pub fn from_reason(s: &str) -> Option<Self> {
        [
            Self::NameNotResolved,
            Self::ConnectionRefused,
            Self::TimedOut,
            Self::AddressUnreachable,
            Self::ConnectionFailed,
            Self::BlockedByClient,
        ]
        .into_iter()
        .find(|e| e.reason() == s)
    }

    /// The error text a direct Chromium would report.
    pub fn net_text(self) -> &'static str {
        match self {
            Self::NameNotResolved => "net::ERR_NAME_NOT_RESOLVED",
            Self::ConnectionRefused => "net::ERR_CONNECTION_REFUSED",
            Self::TimedOut => "net::ERR_CONNECTION_TIMED_OUT",
            Self::AddressUnreachable => "net::ERR_ADDRESS_UNREACHABLE",
            Self::ConnectionFailed => "net::ERR_CONNECTION_FAILED",
            Self::BlockedByClient => "net::ERR_BLOCKED_BY_CLIENT",
        }
    }

    pub fn of_io(e: &std::io::Error) -> Self {
        use std::io::ErrorKind::*;
        match e.kind() {
            ConnectionRefused => Self::ConnectionRefused,
            TimedOut => Self::TimedOut,
            HostUnreachable | NetworkUnreachable | AddrNotAvailable => Self::AddressUnreachable,
            _ => Self::ConnectionFailed,
        }
    }
}

#[derive(Default)]
pub struct Failures {
    recent: Mutex<VecDeque<(Instant, String, NetError, String)>>,
}

impl Failures {
    /// Records that `url`'s host and port could not be reached.
    pub fn record(&self, url: &Url, error: NetError, detail: &str) {
        if let Ok(mut r) = self.recent.lock() {
            if r.len() >= KEPT {
                r.pop_front();
            }
            r.push_back((Instant::now(), authority(url), error, detail.to_string()));
        }
    }

    /// The newest fresh failure for `url`'s host and port, with its detail.
    pub fn recent(&self, url: &Url) -> Option<(NetError, String)> {
        let authority = authority(url);
        let r = self.recent.lock().ok()?;
        r.iter()
            .rev()
            .take_while(|(at, ..)| at.elapsed() < FRESH)
            .find(|(_, a, ..)| *a == authority)
            .map(|(_, _, e, d)| (*e, d.clone()))
    }
}

/// `host:port`, the port explicit: what a CONNECT and a URL to the same place share.
fn authority(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    format!("{host}:{}", url.port_or_known_default().unwrap_or(80))
}
