//! One supervised Chromium process and its CDP connection.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast;

use super::cdp::Connection;
use super::launch::{self, Launched};
use super::protocol::{GetVersion, SetDiscoverTargets};
use super::EngineError;

/// Sent when a browser dies: every session on that generation has lost its pages.
#[derive(Debug, Clone)]
pub struct BrowserDeath {
    pub generation: u64,
    pub reason: String,
}

pub struct Browser {
    pub conn: Connection,
    pub pid: u32,
    pub generation: u64,
    /// `Chrome/156.0.8078.79` as the browser reports it.
    pub product: String,
    alive: AtomicBool,
    /// Becomes true once the process is reaped and its profile dir removed.
    exited: tokio::sync::watch::Receiver<bool>,
}

impl Browser {
    /// Launches Chromium, connects, and starts a supervisor that reports its death on `deaths`.
    pub async fn start(
        chromium: &Path,
        window: (u32, u32),
        egress: std::net::SocketAddr,
        generation: u64,
        deaths: broadcast::Sender<BrowserDeath>,
    ) -> Result<Arc<Self>, EngineError> {
        let Launched {
            mut child,
            to_browser,
            from_browser,
            pid,
            profile,
        } = launch::launch(chromium, window, egress)?;
        let conn = Connection::over_pipes(to_browser, from_browser);
        let version = conn.exec(&GetVersion {}, Duration::from_secs(20)).await;
        let product = match version {
            Ok(v) => v.product.replace("HeadlessChrome", "Chrome"),
            Err(e) => {
                launch::kill_group(pid);
                return Err(EngineError::Launch(format!("browser did not answer: {e}")));
            }
        };
        // Browser-level crash/detach events arrive only with discovery on.
        let discover = SetDiscoverTargets { discover: true };
        let _ = conn.exec(&discover, Duration::from_secs(10)).await;

        let (exited_tx, exited) = tokio::sync::watch::channel(false);
        let browser = Arc::new(Self {
            conn: conn.clone(),
            pid,
            generation,
            product,
            alive: AtomicBool::new(true),
            exited,
        });
        let weak = Arc::downgrade(&browser);
        tokio::spawn(async move {
            // The profile dir lives exactly as long as the process.
            let profile = profile;
            let reason = loop {
                tokio::select! {
                    status = child.wait() => {
                        break match status {
                            Ok(s) => format!("chromium exited ({s})"),
                            Err(e) => format!("chromium wait failed: {e}"),
                        };
                    }
                    _ = tokio::time::sleep(Duration::from_millis(250)) => {
                        if let Some(r) = conn.closed_reason() {
                            launch::kill_group(pid);
                            let _ = child.wait().await;
                            break format!("browser connection lost: {r}");
                        }
                    }
                }
            };
            tracing::warn!(generation, pid, %reason, "browser died");
            conn.close(&reason);
            if let Some(b) = weak.upgrade() {
                b.alive.store(false, Ordering::SeqCst);
            }
            // The rest of the group (zygote, renderers) goes with the browser.
            launch::kill_group(pid);
            profile.remove().await;
            let _ = exited_tx.send(true);
            let _ = deaths.send(BrowserDeath { generation, reason });
        });
        tracing::info!(generation, pid, product = %browser.product, "browser started");
        Ok(browser)
    }

    pub fn is_alive(&self) -> bool {
        self.alive.load(Ordering::SeqCst) && self.conn.closed_reason().is_none()
    }

    /// Kills the process group; the supervisor then reports the death.
    pub fn kill(&self) {
        launch::kill_group(self.pid);
    }

    /// Kills the browser and waits (up to `timeout`) until it is reaped and its profile removed.
    pub async fn kill_and_wait(&self, timeout: Duration) {
        self.kill();
        let mut exited = self.exited.clone();
        let _ = tokio::time::timeout(timeout, exited.wait_for(|done| *done)).await;
    }

    /// A real-browser user agent for the stealth profile (no "Headless").
    pub fn stealth_user_agent(&self) -> String {
        let major = self
            .product
            .split('/')
            .nth(1)
            .and_then(|v| v.split('.').next())
            .unwrap_or("156");
        format!(
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{major}.0.0.0 Safari/537.36"
        )
    }
}
