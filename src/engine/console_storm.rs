//! A page that logs without pause costs every session on the browser: each line crosses the
//! shared CDP pipe and is parsed. Past [`STORM`] lines in a second the page's console is
//! limited in the page itself to [`BUDGET`] lines a second (the rest are counted and reported
//! in one line); a page that keeps storming anyway (it kept references to the original
//! console functions) has its scripts stopped, and its tab is replaced before the session's
//! next action, as a dialog storm's is.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Console lines within one [`WINDOW`] that count as a storm.
pub const STORM: u32 = 1000;
/// Lines a second a limited page may still log.
pub const BUDGET: u32 = 100;
const WINDOW: Duration = Duration::from_secs(1);
/// Storm windows after the limit went in before the page's scripts are stopped.
const STORMS_AFTER_LIMIT: u32 = 3;

/// Installed in the storming page's main world. Non-configurable, so the page cannot put its
/// own functions back; a reference it kept to the originals bypasses it (then step two).
pub fn limiter() -> String {
    format!(
        r#"(() => {{
  const c = console, budget = {BUDGET}, warn = console.warn;
  let start = Date.now(), used = 0, dropped = 0;
  for (const m of ['log', 'info', 'warn', 'error', 'debug', 'trace', 'dir', 'dirxml', 'table', 'count', 'timeLog', 'assert']) {{
    const orig = c[m];
    if (typeof orig !== 'function') continue;
    try {{
      Object.defineProperty(c, m, {{ configurable: false, writable: false, value: function (...a) {{
        const now = Date.now();
        if (now - start >= 1000) {{
          if (dropped) warn.call(c, `[pagepilot] ${{dropped}} console lines dropped: this page logs more than ${{budget}} lines a second`);
          start = now; used = 0; dropped = 0;
        }}
        if (used++ < budget) return orig.apply(c, a);
        dropped++;
      }} }});
    }} catch (e) {{}}
  }}
}})()"#
    )
}

/// What the event loop should do about the console line it just saw.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    Nothing,
    /// First storm: limit the console in the page.
    Limit,
    /// Still storming with the limit in: stop the page's scripts.
    Stop,
}

#[derive(Default)]
pub struct ConsoleRate {
    inner: Mutex<Rate>,
}

#[derive(Default)]
struct Rate {
    window: Option<Instant>,
    lines: u32,
    limited: bool,
    stopped: bool,
    storms_since_limit: u32,
}

impl ConsoleRate {
    pub fn line(&self) -> Step {
        let Ok(mut r) = self.inner.lock() else {
            return Step::Nothing;
        };
        let now = Instant::now();
        match r.window {
            Some(start) if now.duration_since(start) < WINDOW => {
                r.lines = r.lines.saturating_add(1);
            }
            _ => {
                r.window = Some(now);
                r.lines = 1;
            }
        }
        if r.lines != STORM || r.stopped {
            return Step::Nothing;
        }
        if !r.limited {
            r.limited = true;
            return Step::Limit;
        }
        r.storms_since_limit = r.storms_since_limit.saturating_add(1);
        if r.storms_since_limit >= STORMS_AFTER_LIMIT {
            r.stopped = true;
            return Step::Stop;
        }
        Step::Nothing
    }

    /// A new document starts with a fresh console: the limit goes with the old one.
    pub fn reset(&self) {
        if let Ok(mut r) = self.inner.lock() {
            *r = Rate::default();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_first_then_stop() {
        let rate = ConsoleRate::default();
        let mut steps = Vec::new();
        for _ in 0..STORM {
            steps.push(rate.line());
        }
        assert_eq!(steps.iter().filter(|s| **s == Step::Limit).count(), 1);
        assert_eq!(steps.last(), Some(&Step::Limit));
        // Three more storm windows with the limit in (simulated by resetting the window).
        let mut stopped = false;
        for _ in 0..STORMS_AFTER_LIMIT {
            if let Ok(mut r) = rate.inner.lock() {
                r.window = None;
            }
            for _ in 0..STORM {
                if rate.line() == Step::Stop {
                    stopped = true;
                }
            }
        }
        assert!(stopped);
        assert!(!limiter().is_empty());
    }
}
