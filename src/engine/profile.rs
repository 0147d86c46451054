//! A session's browser state, read out for a saved profile and written back into a new
//! session: the context's cookies (HttpOnly and session cookies too) and, per origin open in a
//! tab, its localStorage and sessionStorage. Nothing here knows where profiles are kept.
//!
//! Storage can only be written from a document of its origin, and no page of that origin may
//! run while it is: each origin is written from an empty document of ours that the tab's
//! request interception answers at `<origin>/`, so nothing goes to the network and no page
//! script sees a half-restored state. The tab then goes back to `about:blank`, its history
//! cleared.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::actions::{Action, Goto};
use super::page::{Page, CALL_TIMEOUT};
use super::protocol::{ContextCookie, GetCookies, ResetNavigationHistory, SetContextCookies};
use super::tabs::Tabs;
use super::{Engine, EngineError};

/// Origins one profile may carry storage for, at most (one stub document each on restore).
pub const MAX_ORIGINS: usize = 50;
/// Cookies one profile may carry, at most (Chromium keeps ~180 per domain, 3,300 in all).
pub const MAX_COOKIES: usize = 3000;

/// `save_profile`: the session's state becomes the tenant's profile `name`.
#[derive(Debug, Clone, Deserialize)]
pub struct SaveProfile {
    pub name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BrowserState {
    pub cookies: Vec<SavedCookie>,
    pub origins: Vec<OriginStorage>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedCookie {
    pub name: String,
    pub value: String,
    pub domain: String,
    pub path: String,
    /// Seconds since the epoch; `None` for a session cookie.
    pub expires: Option<f64>,
    pub http_only: bool,
    pub secure: bool,
    pub same_site: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OriginStorage {
    /// `scheme://host[:port]`.
    pub origin: String,
    pub local: Vec<(String, String)>,
    pub session: Vec<(String, String)>,
}

impl BrowserState {
    /// Origins with something to write back.
    fn with_items(&self) -> impl Iterator<Item = &OriginStorage> {
        self.origins
            .iter()
            .filter(|o| !o.local.is_empty() || !o.session.is_empty())
    }

    /// Refuses a state past the counts above (a profile comes back from the store, which a
    /// peer with the key may have written: checked before anything is set).
    pub fn check(&self) -> Result<(), EngineError> {
        if self.cookies.len() > MAX_COOKIES {
            return Err(EngineError::TooLarge(format!(
                "the profile holds {} cookies, the limit is {MAX_COOKIES}",
                self.cookies.len()
            )));
        }
        if self.with_items().count() > MAX_ORIGINS {
            return Err(EngineError::TooLarge(format!(
                "the profile holds storage of {} origins, the limit is {MAX_ORIGINS}",
                self.with_items().count()
            )));
        }
        for o in &self.origins {
            let ok = url::Url::parse(&o.origin)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https"))
                .is_some_and(|u| u.origin().ascii_serialization() == o.origin);
            if !ok {
                return Err(EngineError::BadInput(format!(
                    "the profile names `{}`, which is not an http(s) origin",
                    o.origin
                )));
            }
        }
        Ok(())
    }
}

/// Reads the main frame's origin and both storages, in our isolated world (which shares the
/// origin's storage and never runs page code). Opaque origins have none.
const READ_STORAGE: &str = r#"function () {
  const o = location.origin;
  if (!o || o === 'null' || !/^https?:/.test(location.protocol)) return null;
  const read = (s) => { try { const out = []; for (let i = 0; i < s.length; i++) { const k = s.key(i); out.push([k, s.getItem(k)]); } return out; } catch (e) { return []; } };
  let local = [], session = [];
  try { local = read(localStorage); } catch (e) { local = []; }
  try { session = read(sessionStorage); } catch (e) { session = []; }
  return { origin: o, local, session };
}"#;

/// Writes both storages of the (stub) document's origin.
const WRITE_STORAGE: &str = r#"function (s) {
  if (location.origin !== s.origin) return false;
  for (const [k, v] of s.local) localStorage.setItem(k, v);
  for (const [k, v] of s.session) sessionStorage.setItem(k, v);
  return true;
}"#;

impl Engine {
    /// The session's cookies, and the storage of every origin open in one of its tabs (the
    /// first tab showing an origin gives its sessionStorage).
    pub async fn browser_state(&self, tabs: &Tabs) -> Result<BrowserState, EngineError> {
        let Some(first) = tabs.active() else {
            return Err(EngineError::PageGone("the session has no tab".into()));
        };
        let jar = first
            .conn
            .exec(
                &GetCookies {
                    browser_context_id: first.context_id.clone(),
                },
                CALL_TIMEOUT,
            )
            .await?;
        let cookies = jar
            .cookies
            .into_iter()
            .map(|c| SavedCookie {
                name: c.name,
                value: c.value,
                domain: c.domain,
                path: c.path,
                expires: (c.expires > 0.0).then_some(c.expires),
                http_only: c.http_only,
                secure: c.secure,
                same_site: c.same_site,
            })
            .collect();
        let mut origins: Vec<OriginStorage> = Vec::new();
        for page in tabs.all() {
            let read = match page.eval(READ_STORAGE, &Value::Null).await {
                Ok(v) if !v.is_null() => v,
                Ok(_) => continue,
                Err(e) => {
                    tracing::debug!(%e, "a tab's storage could not be read for a profile");
                    continue;
                }
            };
            let Ok(one) = serde_json::from_value::<OriginStorage>(read) else {
                continue;
            };
            if !origins.iter().any(|o| o.origin == one.origin) {
                origins.push(one);
            }
        }
        let state = BrowserState { cookies, origins };
        state.check()?;
        Ok(state)
    }

    /// Writes `state` into a new session's context, through its first tab, which is left on
    /// `about:blank` with no history.
    pub async fn restore_state(
        &self,
        tabs: &Tabs,
        state: &BrowserState,
        deadline: Duration,
    ) -> Result<(), EngineError> {
        state.check()?;
        let Some(page) = tabs.active() else {
            return Err(EngineError::PageGone("the session has no tab".into()));
        };
        if !state.cookies.is_empty() {
            let cookies = state
                .cookies
                .iter()
                .map(|c| ContextCookie {
                    name: c.name.clone(),
                    value: c.value.clone(),
                    domain: c.domain.clone(),
                    path: c.path.clone(),
                    secure: c.secure,
                    http_only: c.http_only,
                    same_site: c
                        .same_site
                        .clone()
                        .filter(|s| matches!(s.as_str(), "Strict" | "Lax" | "None")),
                    expires: c.expires,
                })
                .collect();
            page.conn
                .exec(
                    &SetContextCookies {
                        cookies,
                        browser_context_id: page.context_id.clone(),
                    },
                    CALL_TIMEOUT,
                )
                .await?;
        }
        let mut wrote = false;
        for o in state.with_items() {
            wrote = true;
            let result = self.write_origin(&page, o, deadline).await;
            if let Ok(mut rw) = page.state.rewrites.lock() {
                rw.stub = None;
            }
            result?;
        }
        if wrote {
            let blank = goto("about:blank");
            self.run(&page, &blank, deadline).await?;
            page.exec(&ResetNavigationHistory {}).await?;
        }
        Ok(())
    }

    async fn write_origin(
        &self,
        page: &Page,
        o: &OriginStorage,
        deadline: Duration,
    ) -> Result<(), EngineError> {
        let url = format!("{}/", o.origin);
        if let Ok(mut rw) = page.state.rewrites.lock() {
            rw.stub = Some(url.clone());
        }
        self.run(page, &goto(&url), deadline).await?;
        let arg = json!({ "origin": o.origin, "local": o.local, "session": o.session });
        match page.eval(WRITE_STORAGE, &arg).await? {
            Value::Bool(true) => Ok(()),
            _ => Err(EngineError::Internal(format!(
                "the storage of {} could not be written back",
                o.origin
            ))),
        }
    }
}

fn goto(url: &str) -> Action {
    Action::Goto(Goto {
        url: url.to_string(),
        wait_until: Default::default(),
        exchange: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(o: &str) -> OriginStorage {
        OriginStorage {
            origin: o.into(),
            local: vec![("k".into(), "v".into())],
            session: vec![],
        }
    }

    #[test]
    fn only_http_origins_and_bounded_counts() {
        let ok = BrowserState {
            cookies: vec![],
            origins: vec![origin("http://127.0.0.1:8080"), origin("https://a.example")],
        };
        assert!(ok.check().is_ok());
        for bad in [
            "file:///etc",
            "javascript:alert(1)",
            "http://a.example/path",
            "nonsense",
        ] {
            let s = BrowserState {
                cookies: vec![],
                origins: vec![origin(bad)],
            };
            assert!(matches!(s.check(), Err(EngineError::BadInput(_))), "{bad}");
        }
        let many = BrowserState {
            cookies: vec![],
            origins: (0..=MAX_ORIGINS)
                .map(|i| origin(&format!("http://h{i}.example")))
                .collect(),
        };
        assert!(matches!(many.check(), Err(EngineError::TooLarge(_))));
    }
}
