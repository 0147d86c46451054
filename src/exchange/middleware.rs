//! Request middleware of a WebSocket session (seed 004), applied in order to each request a
//! navigation sends. Header middleware applies to every hop, redirects included; method and
//! path middleware apply to the request as the client issued it, not to redirect hops (a path
//! rewrite on a redirect hop would undo the redirect).

use serde::Deserialize;

use super::{check_header, check_header_name, check_method, HttpRequest};

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Middleware {
    /// Sends `Accept-Language: <language>`.
    SetLanguage { language: String },
    /// Sets (replacing) and removes headers.
    MutateHeaders {
        #[serde(default)]
        set: Vec<(String, String)>,
        #[serde(default)]
        remove: Vec<String>,
    },
    /// Sends the request with this method instead.
    MutateMethod { method: String },
    /// Sends the request to this path (and query, if it has one) on the same origin.
    MutatePath { path: String },
}

impl Middleware {
    /// Checks one middleware's fields; the error is relative to the middleware object.
    pub fn check(&self) -> Result<(), String> {
        match self {
            Middleware::SetLanguage { language } => {
                if language.trim().is_empty() {
                    return Err("language: must not be empty".into());
                }
                check_header("Accept-Language", language).map_err(|e| format!("language: {e}"))
            }
            Middleware::MutateHeaders { set, remove } => {
                for (i, (n, v)) in set.iter().enumerate() {
                    check_header(n, v).map_err(|e| format!("set[{i}]: {e}"))?;
                }
                for (i, n) in remove.iter().enumerate() {
                    check_header_name(n).map_err(|e| format!("remove[{i}]: {e}"))?;
                }
                Ok(())
            }
            Middleware::MutateMethod { method } => check_method(method)
                .map(|_| ())
                .map_err(|e| format!("method: {e}")),
            Middleware::MutatePath { path } => {
                if !path.starts_with('/') || path.chars().any(|c| c.is_whitespace()) {
                    return Err(format!(
                        "path: `{path}` must start with `/` and hold no whitespace"
                    ));
                }
                Ok(())
            }
        }
    }

    /// Applies this middleware to a request; `first_hop` is false on redirect hops.
    pub fn apply(&self, req: &mut HttpRequest, first_hop: bool) {
        match self {
            Middleware::SetLanguage { language } => req.set_header("Accept-Language", language),
            Middleware::MutateHeaders { set, remove } => {
                for (n, v) in set {
                    req.set_header(n, v);
                }
                for n in remove {
                    req.remove_header(n);
                }
            }
            Middleware::MutateMethod { method } if first_hop => {
                req.method = method.trim().to_ascii_uppercase();
            }
            Middleware::MutatePath { path } if first_hop => match path.split_once('?') {
                Some((p, q)) => {
                    req.url.set_path(p);
                    req.url.set_query(Some(q));
                }
                None => req.url.set_path(path),
            },
            _ => {}
        }
    }
}

/// Applies every middleware, in order.
pub fn apply_all(chain: &[Middleware], req: &mut HttpRequest, first_hop: bool) {
    for m in chain {
        m.apply(req, first_hop);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> HttpRequest {
        HttpRequest::get(url::Url::parse("http://a.test/old?x=1").expect("url"))
    }

    #[test]
    fn applied_in_order() {
        let chain: Vec<Middleware> = serde_json::from_value(serde_json::json!([
            {"type": "set_language", "language": "fr-FR"},
            {"type": "mutate_headers", "set": [["X-One", "1"], ["Accept-Language", "de"]], "remove": ["x-gone"]},
            {"type": "mutate_method", "method": "post"},
            {"type": "mutate_path", "path": "/new?y=2"}
        ]))
        .expect("parses");
        let mut r = req();
        r.set_header("X-Gone", "bye");
        apply_all(&chain, &mut r, true);
        assert_eq!(r.header("accept-language"), Some("de"));
        assert_eq!(r.header("x-one"), Some("1"));
        assert_eq!(r.header("x-gone"), None);
        assert_eq!(r.method, "POST");
        assert_eq!(r.url.as_str(), "http://a.test/new?y=2");

        let mut hop = req();
        apply_all(&chain, &mut hop, false);
        assert_eq!(hop.method, "GET");
        assert_eq!(hop.url.path(), "/old");
        assert_eq!(hop.header("x-one"), Some("1"));
    }

    #[test]
    fn unsupported_and_bad_middleware_are_named() {
        let e = serde_json::from_value::<Middleware>(
            serde_json::json!({"type": "mutate_json_body", "set": {}}),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("mutate_json_body"), "{e}");
        let bad = Middleware::MutatePath {
            path: "relative".into(),
        };
        assert!(bad.check().unwrap_err().starts_with("path:"));
        let bad = Middleware::MutateHeaders {
            set: vec![("Content-Length".into(), "1".into())],
            remove: vec![],
        };
        assert!(bad.check().unwrap_err().starts_with("set[0]:"));
    }
}
