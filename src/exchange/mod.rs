//! What one HTTP exchange is, independent of who performs it: the request a client asks for
//! (method, headers, cookies, body, user agent), the session's request middleware, and the
//! response it got (status, headers, cookies, redirects, body). The WebSocket protocol's two
//! fetch clients share it: `fetcher` (plain HTTP) performs exchanges itself, the engine's
//! browser performs them through Chromium. Both report the same [`Exchanged`] shape.

pub mod cookies;
pub mod middleware;
pub mod user_agent;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

pub use cookies::Cookie;
pub use middleware::Middleware;

/// Largest response body kept, by either client; a bigger one fails the navigation instead of
/// filling memory.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// The failure of a navigation whose response body is over [`MAX_BODY_BYTES`].
pub fn body_too_large(url: &str) -> crate::engine::EngineError {
    crate::engine::EngineError::Navigation(format!(
        "the response body of {url} is larger than {MAX_BODY_BYTES} bytes"
    ))
}

/// Methods a request may use (seed 004's list).
pub const METHODS: &[&str] = &[
    "GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "TRACE", "CONNECT",
];

/// Headers a client may not set itself: the transport owns them.
const TRANSPORT_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
    "te",
    "trailer",
    "keep-alive",
    "proxy-connection",
];

/// The request a `goto` frame asks for, as the client sent it (WebSocket wire names).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GotoRequest {
    pub url: String,
    #[serde(default = "get")]
    pub method: String,
    pub referrer: Option<String>,
    /// A keyword (`inndx`, `chrome`, `firefox`, `safari`, `random`) or a literal user agent.
    pub user_agent: Option<String>,
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    #[serde(default)]
    pub cookies: Vec<Cookie>,
    /// Base64 of the request body.
    pub body: Option<String>,
}

fn get() -> String {
    "GET".into()
}

/// A request ready to send: validated, user agent resolved, body decoded. Middleware is applied
/// by whoever sends it, to every request it sends.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub method: String,
    pub url: url::Url,
    pub headers: Vec<(String, String)>,
    pub cookies: Vec<Cookie>,
    pub body: Option<Vec<u8>>,
    pub referrer: Option<String>,
    /// `None`: the client's own default (the browser keeps its user agent).
    pub user_agent: Option<String>,
}

impl HttpRequest {
    /// Checks and resolves what a client sent; the error names the field.
    pub fn from_goto(g: &GotoRequest) -> Result<Self, String> {
        let url = g.url.as_str();
        let parsed =
            url::Url::parse(url.trim()).map_err(|e| format!("url: `{url}` is not a URL ({e})"))?;
        let method = check_method(&g.method).map_err(|e| format!("method: {e}"))?;
        for (i, (name, value)) in g.headers.iter().enumerate() {
            check_header(name, value).map_err(|e| format!("headers[{i}]: {e}"))?;
        }
        for (i, c) in g.cookies.iter().enumerate() {
            c.check().map_err(|e| format!("cookies[{i}]: {e}"))?;
        }
        let body = match &g.body {
            None => None,
            Some(b) => Some(
                base64::engine::general_purpose::STANDARD
                    .decode(b.trim())
                    .map_err(|e| format!("body: not base64 ({e})"))?,
            ),
        };
        if body.is_some() && matches!(method.as_str(), "GET" | "HEAD") {
            return Err(format!("body: a {method} request cannot carry a body"));
        }
        if let Some(r) = &g.referrer {
            url::Url::parse(r).map_err(|e| format!("referrer: `{r}` is not a URL ({e})"))?;
        }
        Ok(Self {
            method,
            url: parsed,
            headers: g.headers.clone(),
            cookies: g.cookies.clone(),
            body,
            referrer: g.referrer.clone(),
            user_agent: g.user_agent.as_deref().map(user_agent::resolve),
        })
    }

    /// A plain GET of `url`, as a link click or a redirect makes.
    pub fn get(url: url::Url) -> Self {
        Self {
            method: "GET".into(),
            url,
            headers: Vec::new(),
            cookies: Vec::new(),
            body: None,
            referrer: None,
            user_agent: None,
        }
    }

    /// Sets a header, replacing any of the same name (names are case-insensitive).
    pub fn set_header(&mut self, name: &str, value: &str) {
        self.remove_header(name);
        self.headers.push((name.to_string(), value.to_string()));
    }

    pub fn remove_header(&mut self, name: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A goto that sends a request of the client's making and reports what came back.
#[derive(Debug, Clone)]
pub struct Navigation {
    pub request: HttpRequest,
    pub max_redirects: usize,
}

/// An upper-cased method from seed 004's list.
pub fn check_method(m: &str) -> Result<String, String> {
    let up = m.trim().to_ascii_uppercase();
    if METHODS.contains(&up.as_str()) {
        Ok(up)
    } else {
        Err(format!(
            "`{m}` is not a supported method; use one of {}",
            METHODS.join(", ")
        ))
    }
}

/// A header a client may send: a valid name and value, not one the transport owns.
pub fn check_header(name: &str, value: &str) -> Result<(), String> {
    check_header_name(name)?;
    if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(format!("the value of `{name}` holds a line break or NUL"));
    }
    Ok(())
}

pub fn check_header_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !valid {
        return Err(format!("`{name}` is not a valid header name"));
    }
    if TRANSPORT_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(format!(
            "`{name}` is set by the transport and cannot be sent"
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Server,
    Client,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RedirectKind {
    Permanent,
    Temporary,
}

impl RedirectKind {
    /// 301 and 308 are permanent; 302, 303 and 307 temporary.
    pub fn of_status(status: u16) -> Self {
        if matches!(status, 301 | 308) {
            RedirectKind::Permanent
        } else {
            RedirectKind::Temporary
        }
    }
}

/// One redirect that was followed.
#[derive(Debug, Clone, Serialize)]
pub struct Redirect {
    pub url: String,
    pub location: String,
    pub side: Side,
    #[serde(rename = "type")]
    pub kind: RedirectKind,
}

/// What a navigation got back: the final response and the way there.
#[derive(Debug, Clone, Default)]
pub struct Exchanged {
    pub url: String,
    pub status_code: u16,
    pub headers: Vec<(String, String)>,
    /// Cookies set by every response on the way (redirect hops included).
    pub cookies: Vec<Cookie>,
    pub body: Option<Vec<u8>>,
    pub redirects: Vec<Redirect>,
    pub content_type: Option<String>,
}

/// The goto result's fields (seed 004): the body as base64.
impl Serialize for Exchanged {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Exchanged", 7)?;
        st.serialize_field("url", &self.url)?;
        st.serialize_field("status_code", &self.status_code)?;
        st.serialize_field("headers", &self.headers)?;
        st.serialize_field("cookies", &self.cookies)?;
        st.serialize_field(
            "body",
            &self
                .body
                .as_ref()
                .map(|b| base64::engine::general_purpose::STANDARD.encode(b)),
        )?;
        st.serialize_field("redirects", &self.redirects)?;
        st.serialize_field("content_type", &self.content_type)?;
        st.end()
    }
}

/// The MIME type of a Content-Type header value, without its parameters.
pub fn mime_of(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goto_requests_are_checked_field_by_field() {
        let ok = GotoRequest {
            method: "post".into(),
            body: Some("aGk=".into()),
            headers: vec![("X-A".into(), "1".into())],
            user_agent: Some("firefox".into()),
            ..Default::default()
        };
        let r = HttpRequest::from_goto(&GotoRequest {
            url: "http://127.0.0.1/x".into(),
            ..ok
        })
        .expect("valid");
        assert_eq!(r.method, "POST");
        assert_eq!(r.body.as_deref(), Some(&b"hi"[..]));
        assert!(r.user_agent.as_deref().unwrap_or("").contains("Firefox"));

        let bad = |g: GotoRequest, url: &str| {
            HttpRequest::from_goto(&GotoRequest {
                url: url.into(),
                ..g
            })
            .unwrap_err()
        };
        assert!(bad(GotoRequest::default(), "nope").starts_with("url:"));
        let m = GotoRequest {
            method: "FETCH".into(),
            ..Default::default()
        };
        assert!(bad(m, "http://a/").starts_with("method:"));
        let h = GotoRequest {
            method: "GET".into(),
            headers: vec![("Bad Name".into(), "v".into())],
            ..Default::default()
        };
        assert!(bad(h, "http://a/").starts_with("headers[0]:"));
        let host = GotoRequest {
            method: "GET".into(),
            headers: vec![("Host".into(), "evil".into())],
            ..Default::default()
        };
        assert!(bad(host, "http://a/").contains("transport"));
        let b = GotoRequest {
            method: "POST".into(),
            body: Some("***".into()),
            ..Default::default()
        };
        assert!(bad(b, "http://a/").starts_with("body:"));
        let get_body = GotoRequest {
            method: "GET".into(),
            body: Some("aGk=".into()),
            ..Default::default()
        };
        assert!(bad(get_body, "http://a/").contains("cannot carry a body"));
    }

    #[test]
    fn redirect_kinds() {
        assert_eq!(RedirectKind::of_status(301), RedirectKind::Permanent);
        assert_eq!(RedirectKind::of_status(308), RedirectKind::Permanent);
        assert_eq!(RedirectKind::of_status(302), RedirectKind::Temporary);
        assert_eq!(RedirectKind::of_status(307), RedirectKind::Temporary);
    }
}
