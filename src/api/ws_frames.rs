//! Seed 004's frames: the open frame and its checks, action frames -> engine actions, engine
//! outputs -> response frames, and error frames. No I/O here.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::engine::actions::{ActionOutput, Outcome};
use crate::engine::actions::{
    Content, Evaluate, Fill, Format, Goto, Screenshot, Target, WaitUntil,
};
use crate::engine::Action;
use crate::exchange::{GotoRequest, HttpRequest, Middleware, Navigation};

/// Longest `timeout` an open frame may ask for.
const MAX_TIMEOUT: Duration = Duration::from_secs(600);
const MAX_REDIRECTS: u32 = 50;
const MAX_RETRIES: u32 = 10;

/// Actions a client may send (seed 004).
pub const ACTIONS: &[&str] = &[
    "goto",
    "click",
    "fill",
    "content",
    "evaluate",
    "screenshot",
    "close",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    Standard,
    Browser,
}

impl ClientKind {
    pub fn name(self) -> &'static str {
        match self {
            ClientKind::Standard => "standard",
            ClientKind::Browser => "browser",
        }
    }
}

/// A checked open frame.
#[derive(Debug, Clone)]
pub struct Open {
    pub client: ClientKind,
    pub middleware: Vec<Middleware>,
    /// Proxy URLs of the operator-named proxies asked for.
    pub proxies: Vec<String>,
    pub timeout: Duration,
    pub max_redirects: usize,
    pub max_retries: usize,
    /// pagepilot's extension: the session's TTL (default: the server's default TTL).
    pub ttl: Option<Duration>,
    /// pagepilot's extension: a saved profile to start from (browser client).
    pub profile: Option<String>,
}

/// A duration as `30s`, `5m`, `1500ms` (or a number of seconds).
#[derive(Deserialize)]
#[serde(untagged)]
enum DurationField {
    Text(String),
    Seconds(f64),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOpen {
    /// `"standard"` or `{"type": "standard"}`.
    client: Option<Value>,
    #[serde(default)]
    middleware: Vec<Middleware>,
    #[serde(default)]
    proxies: Vec<String>,
    timeout: Option<DurationField>,
    max_redirects: Option<u32>,
    max_retries: Option<u32>,
    ttl: Option<DurationField>,
    profile: Option<String>,
}

/// Reads the first frame; the error names the field (the socket then gets a fatal frame).
pub fn parse_open(text: &str, named_proxies: &HashMap<String, String>) -> Result<Open, String> {
    let v: Value =
        serde_json::from_str(text).map_err(|e| format!("the open frame is not JSON: {e}"))?;
    if let Some(a) = v.get("action") {
        return Err(format!(
            "an action frame ({}) came before the handshake: send an open frame first, e.g. {{\"client\": \"standard\"}}",
            a.as_str().unwrap_or("?")
        ));
    }
    if !v.is_object() {
        return Err("the open frame must be a JSON object".into());
    }
    let raw: RawOpen = serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            format!("open frame: {}", e.into_inner())
        } else {
            format!("open frame field {path}: {}", e.into_inner())
        }
    })?;
    let client = match raw.client {
        None | Some(Value::Null) => ClientKind::Standard,
        Some(v) => client_kind(&v)?,
    };
    for (i, m) in raw.middleware.iter().enumerate() {
        m.check()
            .map_err(|e| format!("open frame field middleware[{i}].{e}"))?;
    }
    let mut proxies = Vec::new();
    for (i, name) in raw.proxies.iter().enumerate() {
        match named_proxies.get(name) {
            Some(url) => proxies.push(url.clone()),
            None => {
                let mut known: Vec<&str> = named_proxies.keys().map(String::as_str).collect();
                known.sort_unstable();
                let known = if known.is_empty() {
                    "the operator has configured none (fetch_proxies)".to_string()
                } else {
                    format!("configured: {}", known.join(", "))
                };
                return Err(format!(
                    "open frame field proxies[{i}]: `{name}` is not a proxy this server offers; {known}"
                ));
            }
        }
    }
    if client == ClientKind::Browser && proxies.len() > 1 {
        return Err(
            "open frame field proxies: the browser client uses one proxy per session; name one"
                .into(),
        );
    }
    let timeout = match raw.timeout {
        None => Duration::from_secs(30),
        Some(t) => duration(&t).map_err(|e| format!("open frame field timeout: {e}"))?,
    };
    if timeout.is_zero() || timeout > MAX_TIMEOUT {
        return Err(format!(
            "open frame field timeout: must be more than 0 and at most {}s",
            MAX_TIMEOUT.as_secs()
        ));
    }
    let max_redirects = raw.max_redirects.unwrap_or(10);
    if max_redirects > MAX_REDIRECTS {
        return Err(format!(
            "open frame field max_redirects: at most {MAX_REDIRECTS}, got {max_redirects}"
        ));
    }
    let max_retries = raw.max_retries.unwrap_or(3);
    if max_retries > MAX_RETRIES {
        return Err(format!(
            "open frame field max_retries: at most {MAX_RETRIES}, got {max_retries}"
        ));
    }
    let ttl = match raw.ttl {
        None => None,
        Some(t) => Some(duration(&t).map_err(|e| format!("open frame field ttl: {e}"))?),
    };
    if ttl.is_some_and(|t| t < Duration::from_secs(1)) {
        return Err("open frame field ttl: must be at least 1s".into());
    }
    Ok(Open {
        client,
        middleware: raw.middleware,
        proxies,
        timeout,
        max_redirects: max_redirects as usize,
        max_retries: max_retries as usize,
        ttl,
        profile: raw.profile,
    })
}

fn client_kind(v: &Value) -> Result<ClientKind, String> {
    let name = match v {
        Value::String(n) => n.as_str(),
        Value::Object(o) => {
            if let Some(extra) = o.keys().find(|k| *k != "type") {
                return Err(format!(
                    "open frame field client.{extra}: unknown field; a client object holds only `type`"
                ));
            }
            o.get("type")
                .and_then(Value::as_str)
                .ok_or("open frame field client.type: missing, or not a string".to_string())?
        }
        _ => return Err("open frame field client: a kind name or {\"type\": kind}".into()),
    };
    match name.trim().to_ascii_lowercase().as_str() {
        "standard" => Ok(ClientKind::Standard),
        "browser" => Ok(ClientKind::Browser),
        _ => Err(format!(
            "open frame field client: `{name}` is not a client kind; use standard or browser"
        )),
    }
}

/// The longest duration an open frame may name (a year); each field's own, tighter bound is
/// checked after parsing.
const MAX_DURATION_SECS: f64 = 31_536_000.0;

fn duration(d: &DurationField) -> Result<Duration, String> {
    match d {
        DurationField::Seconds(s) if s.is_finite() && *s >= 0.0 && *s <= MAX_DURATION_SECS => {
            Duration::try_from_secs_f64(*s).map_err(|e| format!("{s:?} is not a duration ({e})"))
        }
        DurationField::Seconds(s) => Err(format!(
            "{s:?} is not a duration: a number of seconds between 0 and {MAX_DURATION_SECS}"
        )),
        DurationField::Text(t) => humantime::parse_duration(t.trim())
            .map_err(|e| format!("`{t}` is not a duration like 30s, 5m or 1500ms ({e})"))
            .and_then(|d| {
                if d.as_secs_f64() <= MAX_DURATION_SECS {
                    Ok(d)
                } else {
                    Err(format!("`{t}` is longer than {MAX_DURATION_SECS} seconds"))
                }
            }),
    }
}

/// An action frame, checked.
pub enum Frame {
    Act { name: &'static str, action: Action },
    Close,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Selector {
    selector: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FillFrame {
    selector: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EvaluateFrame {
    script: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Nothing {}

fn fields<T: serde::de::DeserializeOwned>(action: &str, v: Value) -> Result<T, String> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            format!("{action}: {}", e.into_inner())
        } else {
            format!("{action}: field {path}: {}", e.into_inner())
        }
    })
}

/// Reads an action frame into the engine action it asks for.
pub fn parse_action(text: &str, max_redirects: usize) -> Result<Frame, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("the frame is not JSON: {e}"))?;
    let Value::Object(mut obj) = v else {
        return Err("a frame must be a JSON object with an `action` field".into());
    };
    let name = match obj.remove("action") {
        Some(Value::String(s)) => s,
        Some(_) => return Err("the frame's `action` must be a string".into()),
        None => return Err("missing field `action`".into()),
    };
    let Some(&name) = ACTIONS.iter().find(|a| **a == name) else {
        return Err(format!(
            "unknown action `{name}`; known: {}",
            ACTIONS.join(", ")
        ));
    };
    let rest = Value::Object(obj);
    let action = match name {
        "goto" => {
            let g: GotoRequest = fields(name, rest)?;
            let request = HttpRequest::from_goto(&g).map_err(|e| format!("goto: field {e}"))?;
            // Built as the engine's type directly: the exchange (the client's request and
            // the redirect limit) is the WebSocket protocol's own part of a goto.
            Action::Goto(Goto {
                url: g.url.clone(),
                wait_until: WaitUntil::default(),
                exchange: Some(Box::new(Navigation {
                    request,
                    max_redirects,
                })),
            })
        }
        "click" => {
            let s: Selector = fields(name, rest)?;
            Action::Click(Target::selector(s.selector))
        }
        "fill" => {
            let f: FillFrame = fields(name, rest)?;
            Action::Fill(Fill {
                selector: f.selector,
                value: f.value,
                timeout_ms: None,
            })
        }
        "content" => {
            fields::<Nothing>(name, rest)?;
            Action::Content(Content {
                format: Format::Html,
            })
        }
        "evaluate" => {
            let e: EvaluateFrame = fields(name, rest)?;
            Action::Evaluate(Evaluate {
                expression: e.script,
            })
        }
        "screenshot" => {
            fields::<Nothing>(name, rest)?;
            Action::Screenshot(Screenshot { full_page: false })
        }
        _ => {
            fields::<Nothing>(name, rest)?;
            return Ok(Frame::Close);
        }
    };
    Ok(Frame::Act { name, action })
}

/// The response frame of an action that succeeded (seed 004's server responses).
pub fn response(name: &str, out: ActionOutput) -> Value {
    let mut frame = Map::new();
    let tag = match name {
        "goto" => "goto",
        "click" => "clicked",
        "fill" => "filled",
        "content" => "content",
        "evaluate" => "evaluated",
        "screenshot" => "screenshot",
        _ => "closed",
    };
    frame.insert("action".into(), Value::from(tag));
    match (name, &out.result) {
        // The document's bytes, base64 (the browser's text is encoded here).
        ("content", Outcome::Content(c)) => {
            let b64 = match (&c.content_base64, &c.content) {
                (Some(b), _) => b.clone(),
                (None, Some(text)) => base64::engine::general_purpose::STANDARD.encode(text),
                (None, None) => String::new(),
            };
            frame.insert("content".into(), Value::from(b64));
        }
        ("evaluate", Outcome::Evaluated(e)) => {
            frame.insert("result".into(), e.value.clone());
        }
        ("screenshot", Outcome::Bytes(b)) => {
            frame.insert(
                "screenshot".into(),
                b.body_base64
                    .clone()
                    .map(Value::from)
                    .unwrap_or(Value::Null),
            );
        }
        _ => {
            for (k, v) in out.fields() {
                frame.entry(k).or_insert(v);
            }
        }
    }
    Value::Object(frame)
}

/// `{type: error|fatal, message, code}`.
pub fn error_frame(fatal: bool, message: &str, code: u16) -> Value {
    json!({
        "type": if fatal { "fatal" } else { "error" },
        "message": message,
        "code": code,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies() -> HashMap<String, String> {
        HashMap::from([("eu".to_string(), "http://127.0.0.1:9".to_string())])
    }

    #[test]
    fn open_frame_defaults_and_forms() {
        let o = parse_open("{}", &proxies()).expect("defaults");
        assert_eq!(o.client, ClientKind::Standard);
        assert_eq!(o.timeout, Duration::from_secs(30));
        assert_eq!((o.max_redirects, o.max_retries), (10, 3));
        let o = parse_open(
            r#"{"client": {"type": "browser"}, "timeout": "1500ms", "proxies": ["eu"]}"#,
            &proxies(),
        )
        .expect("object form");
        assert_eq!(o.client, ClientKind::Browser);
        assert_eq!(o.timeout, Duration::from_millis(1500));
        assert_eq!(o.proxies, vec!["http://127.0.0.1:9".to_string()]);
        assert_eq!(
            parse_open(r#"{"timeout": "5m"}"#, &proxies())
                .expect("5m")
                .timeout,
            Duration::from_secs(300)
        );
    }

    #[test]
    fn bad_open_frames_name_the_field() {
        let err = |t: &str| parse_open(t, &proxies()).unwrap_err();
        assert!(err(r#"{"timeout": "soon"}"#).contains("timeout"));
        assert!(err(r#"{"client": "chrome"}"#).contains("client"));
        assert!(err(r#"{"proxies": ["us"]}"#).contains("proxies[0]"));
        assert!(err(r#"{"max_redirects": -1}"#).contains("max_redirects"));
        assert!(err(r#"{"timout": "1s"}"#).contains("timout"));
        assert!(err(r#"{"max_redirects": 51}"#).contains("max_redirects: at most 50"));
        assert!(err(r#"{"max_retries": 11}"#).contains("max_retries: at most 10"));
        assert!(err(r#"{"timeout": "11m"}"#).contains("timeout: must be more than 0"));
        assert!(err(r#"{"timeout": "0s"}"#).contains("timeout: must be more than 0"));
        assert!(err(r#"{"ttl": "500ms"}"#).contains("ttl: must be at least 1s"));
        assert!(err(r#"{"client": {"kind": "browser"}}"#).contains("client.kind"));
        assert!(
            err(r#"{"client": {"type": "browser"}, "proxies": ["eu", "eu"]}"#)
                .contains("one proxy")
        );
        assert!(err(r#"{"middleware": [{"type": "mutate_json_body"}]}"#).contains("middleware[0]"));
        assert!(
            err(r#"{"middleware": [{"type": "mutate_path", "path": "x"}]}"#)
                .contains("middleware[0].path")
        );
        assert!(err(r#"{"action": "goto", "url": "http://a/"}"#).contains("before the handshake"));
        assert!(err("[1]").contains("object"));
    }

    #[test]
    fn action_frames() {
        assert!(matches!(
            parse_action(r#"{"action": "close"}"#, 10),
            Ok(Frame::Close)
        ));
        let Ok(Frame::Act { name, action }) = parse_action(
            r#"{"action": "goto", "url": "http://a.test/", "method": "POST", "body": "aGk="}"#,
            10,
        ) else {
            panic!("goto parses");
        };
        assert_eq!(name, "goto");
        let Action::Goto(g) = action else {
            panic!("a goto");
        };
        assert_eq!(g.exchange.map(|n| n.request.method), Some("POST".into()));
        let err = |t: &str| parse_action(t, 10).err().unwrap_or_default();
        assert!(err(r#"{"action": "fly"}"#).contains("unknown action `fly`"));
        assert!(err(r#"{"action": "goto"}"#).contains("url"));
        assert!(err(r##"{"action": "fill", "selector": "#a"}"##).contains("value"));
        assert!(err("{not json").contains("not JSON"));
        assert!(err(r#"{"url": "x"}"#).contains("action"));
    }
}
