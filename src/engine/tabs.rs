//! A session's tabs: pages in one browser context, one of them active. Actions run on the
//! active tab; `new_tab`, `switch_tab` and `close_tab` act on the set; a tab a click opened
//! (`target=_blank`, `window.open`) is adopted and becomes the active one.

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::files::SessionFiles;
use super::page::Page;
use super::EngineError;

#[derive(Debug, Clone, Deserialize)]
pub struct NewTab {
    pub url: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SwitchTab {
    #[serde(alias = "tab_index")]
    pub index: usize,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct CloseTab {
    /// The tab to close (default: the active one).
    #[serde(default, alias = "tab_index")]
    pub index: Option<usize>,
}

/// A tab as clients see it.
#[derive(Debug, Clone, Serialize)]
pub struct TabInfo {
    pub tab_id: usize,
    pub title: String,
    pub url: String,
    pub active: bool,
}

pub struct Tabs {
    inner: Mutex<(Vec<Arc<Page>>, usize)>,
    /// Browser generation of the session's context.
    pub generation: u64,
    /// The session's files (uploads, PDFs), shared by its tabs.
    pub files: Arc<SessionFiles>,
}

impl Tabs {
    pub fn new(first: Page, files: SessionFiles) -> Self {
        let generation = first.generation;
        Self {
            inner: Mutex::new((vec![Arc::new(first)], 0)),
            generation,
            files: Arc::new(files),
        }
    }

    pub fn active(&self) -> Option<Arc<Page>> {
        let g = self.inner.lock().ok()?;
        g.0.get(g.1).cloned()
    }

    pub fn count(&self) -> usize {
        self.inner.lock().map(|g| g.0.len()).unwrap_or(0)
    }

    pub fn all(&self) -> Vec<Arc<Page>> {
        self.inner.lock().map(|g| g.0.clone()).unwrap_or_default()
    }

    /// Adds a tab and makes it the active one; answers its index.
    pub fn push(&self, page: Page) -> usize {
        self.push_arc(Arc::new(page))
    }

    pub fn push_arc(&self, page: Arc<Page>) -> usize {
        match self.inner.lock() {
            Ok(mut g) => {
                g.0.push(page);
                g.1 = g.0.len() - 1;
                g.1
            }
            Err(_) => 0,
        }
    }

    pub fn switch(&self, index: usize) -> Result<(), EngineError> {
        let mut g = self
            .inner
            .lock()
            .map_err(|_| EngineError::Internal("tabs lock poisoned".into()))?;
        if index >= g.0.len() {
            return Err(EngineError::BadInput(format!(
                "tab_index {index} does not exist: this session has {} tab(s), 0 to {}",
                g.0.len(),
                g.0.len() - 1
            )));
        }
        g.1 = index;
        Ok(())
    }

    /// Removes a tab (never the last one) and answers it, to be closed by the caller.
    pub fn remove(&self, index: Option<usize>) -> Result<Arc<Page>, EngineError> {
        let mut g = self
            .inner
            .lock()
            .map_err(|_| EngineError::Internal("tabs lock poisoned".into()))?;
        let index = index.unwrap_or(g.1);
        if g.0.len() <= 1 {
            return Err(EngineError::BadInput(
                "cannot close the session's last tab; close the session".into(),
            ));
        }
        if index >= g.0.len() {
            return Err(EngineError::BadInput(format!(
                "tab_index {index} does not exist"
            )));
        }
        let page = g.0.remove(index);
        if g.1 >= g.0.len() || g.1 > index {
            g.1 = g.1.saturating_sub(1);
        }
        Ok(page)
    }

    pub async fn info(&self) -> Vec<TabInfo> {
        let (pages, active) = match self.inner.lock() {
            Ok(g) => (g.0.clone(), g.1),
            Err(_) => return Vec::new(),
        };
        let mut out = Vec::with_capacity(pages.len());
        for (i, p) in pages.iter().enumerate() {
            let (title, url) = p.info().await;
            out.push(TabInfo {
                tab_id: i,
                title,
                url,
                active: i == active,
            });
        }
        out
    }

    /// Puts `new` where the tab of CDP session `old` was (a hung tab replaced); false if that
    /// tab is no longer in the set.
    pub fn replace(&self, old: &str, new: Arc<Page>) -> bool {
        let Ok(mut g) = self.inner.lock() else {
            return false;
        };
        match g.0.iter().position(|p| p.session == old) {
            Some(i) => {
                g.0[i] = new;
                true
            }
            None => false,
        }
    }

    /// Drops the tab of this CDP session (it closed itself); false if it was the last tab.
    pub fn forget(&self, cdp_session: &str) -> bool {
        let Ok(mut g) = self.inner.lock() else {
            return false;
        };
        if g.0.len() <= 1 {
            return false;
        }
        if let Some(i) = g.0.iter().position(|p| p.session == cdp_session) {
            g.0.remove(i);
            if g.1 >= g.0.len() || g.1 > i {
                g.1 = g.1.saturating_sub(1);
            }
        }
        true
    }

    /// Whether one of the tabs is the page of this CDP session.
    pub fn has_session(&self, cdp_session: &str) -> bool {
        self.inner
            .lock()
            .map(|g| g.0.iter().any(|p| p.session == cdp_session))
            .unwrap_or(false)
    }
}
