//! The WebSocket protocol's `standard` client: plain HTTP, no browser (seed 004). A session of
//! this kind runs the engine's action vocabulary on a fetched document instead of a page:
//! goto, click (links and form submissions), fill, content; screenshot answers none, and what
//! needs a browser (evaluate, observe, ...) says so.

pub mod document;
pub mod http;

use std::sync::{Arc, Mutex};

use crate::engine::actions::output::{Bytes, FetchClick, PageContent, PageUrl};
use crate::engine::actions::{ActionOutput, Outcome};
use crate::engine::egress::Egress;
use crate::engine::policy::Policy;
use crate::engine::{Action, EngineError};
use crate::exchange::{Exchanged, HttpRequest, Middleware};
use base64::Engine as _;
use cookie_store::CookieStore;
use document::{Click, Document};
pub use http::Settings;

pub struct Fetcher {
    settings: Settings,
    /// The session's request middleware, applied to every request in order.
    middleware: Vec<Middleware>,
    transport: http::Transport,
    policy: Arc<Policy>,
    jar: Mutex<CookieStore>,
    /// The current document; actions are serialised per session, so the lock is never contended.
    doc: tokio::sync::Mutex<Option<Document>>,
}

impl Fetcher {
    pub fn new(
        settings: Settings,
        middleware: Vec<Middleware>,
        policy: Arc<Policy>,
        egress: &Egress,
    ) -> Result<Self, EngineError> {
        Ok(Self {
            transport: http::Transport::new(&settings, egress)?,
            settings,
            middleware,
            policy,
            jar: Mutex::new(CookieStore::default()),
            doc: tokio::sync::Mutex::new(None),
        })
    }

    pub async fn run(&self, action: &Action) -> Result<ActionOutput, EngineError> {
        match action {
            Action::Goto(g) => {
                let req = match &g.exchange {
                    Some(nav) => nav.request.clone(),
                    None => {
                        let url = url::Url::parse(g.url.trim()).map_err(|e| {
                            EngineError::BadInput(format!("url: `{}` is not a URL ({e})", g.url))
                        })?;
                        HttpRequest::get(url)
                    }
                };
                Ok(Outcome::Exchanged(Box::new(self.fetch(req).await?)).into())
            }
            Action::Click(t) => {
                let click = {
                    let doc = self.doc.lock().await;
                    current(&doc)?.click(&t.selector)?
                };
                let clicked = match click {
                    Click::Navigate(req) => FetchClick {
                        navigated: true,
                        note: None,
                        exchange: Some(self.fetch(*req).await?),
                    },
                    Click::Nothing(why) => FetchClick {
                        navigated: false,
                        note: Some(why),
                        exchange: None,
                    },
                };
                Ok(Outcome::FetchClick(Box::new(clicked)).into())
            }
            Action::Fill(f) => {
                let mut doc = self.doc.lock().await;
                let d = doc.as_mut().ok_or_else(no_document)?;
                d.fill(&f.selector, &f.value)?;
                Ok(ActionOutput::default())
            }
            Action::Content(_) => {
                let doc = self.doc.lock().await;
                let d = current(&doc)?;
                Ok(Outcome::Content(PageContent {
                    format: "raw",
                    content: None,
                    content_base64: Some(
                        base64::engine::general_purpose::STANDARD.encode(d.content()),
                    ),
                })
                .into())
            }
            Action::Url(_) => {
                let doc = self.doc.lock().await;
                Ok(Outcome::Url(PageUrl {
                    url: current(&doc)?.url.to_string(),
                })
                .into())
            }
            // Nothing is rendered without a browser.
            Action::Screenshot(_) => Ok(Outcome::Bytes(Bytes {
                content_type: "image/png".into(),
                body_base64: None,
                file: None,
            })
            .into()),
            other => Err(EngineError::Unsupported(format!(
                "`{}` needs the browser client: this session uses the standard client (plain HTTP, no browser); open one with client: browser",
                other.kind()
            ))),
        }
    }

    /// Sends the request (following redirects) and keeps its document for later actions.
    async fn fetch(&self, req: HttpRequest) -> Result<Exchanged, EngineError> {
        let got: Exchanged = http::navigate(
            &self.transport,
            &self.settings,
            &self.middleware,
            &self.policy,
            &self.jar,
            req,
        )
        .await?;
        let url = url::Url::parse(&got.url)
            .map_err(|e| EngineError::Internal(format!("response URL `{}`: {e}", got.url)))?;
        let (content_type, body) = (
            got.content_type.clone(),
            got.body.clone().unwrap_or_default(),
        );
        // Parsing up to 16 MiB of HTML is heavy: off the async runtime.
        let doc = tokio::task::spawn_blocking(move || Document::new(url, content_type, body))
            .await
            .map_err(|e| EngineError::Internal(format!("document parse failed: {e}")))?;
        *self.doc.lock().await = Some(doc);
        Ok(got)
    }
}

fn no_document() -> EngineError {
    EngineError::BadInput("no document yet: send a goto first".into())
}

fn current(doc: &Option<Document>) -> Result<&Document, EngineError> {
    doc.as_ref().ok_or_else(no_document)
}
