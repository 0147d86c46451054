//! Launching one Chromium process: flags, its own profile dir, its own process group, and the
//! DevTools URL read from stderr.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::EngineError;

/// A launched Chromium: the child, its DevTools URL and the profile dir removed on drop.
pub struct Launched {
    pub child: Child,
    pub ws_url: String,
    pub pid: u32,
    pub profile: ProfileDir,
}

/// A fresh `--user-data-dir`, removed when dropped (left-over profiles pile up in /tmp otherwise).
pub struct ProfileDir(PathBuf);

impl ProfileDir {
    fn create() -> Result<Self, EngineError> {
        let dir = std::env::temp_dir().join(format!("pagepilot-profile-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).map_err(|e| {
            EngineError::Launch(format!("cannot create profile dir {}: {e}", dir.display()))
        })?;
        Ok(Self(dir))
    }
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Removes the dir once the browser has exited. Its child processes may still be writing
    /// for a moment, so a failed removal is retried briefly.
    pub async fn remove(self) {
        for _ in 0..20 {
            if std::fs::remove_dir_all(&self.0).is_ok() || !self.0.exists() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        tracing::warn!(dir = %self.0.display(), "could not remove the browser profile dir");
    }
}

impl Drop for ProfileDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Starts Chromium headless and waits (up to `timeout`) for its DevTools endpoint.
pub async fn launch(
    chromium: &Path,
    window: (u32, u32),
    timeout: Duration,
) -> Result<Launched, EngineError> {
    let profile = ProfileDir::create()?;
    let mut cmd = Command::new(chromium);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-quic",
        "--disable-dev-shm-usage",
        "--disable-extensions",
        "--disable-background-timer-throttling",
        "--disable-renderer-backgrounding",
        "--disable-backgrounding-occluded-windows",
        "--mute-audio",
        "--hide-scrollbars",
        "--password-store=basic",
        // A back/forward-cache restore fires no load events; history actions wait for them.
        "--disable-features=BackForwardCache",
        "--remote-debugging-port=0",
        "--remote-allow-origins=*",
    ])
    .arg(format!("--window-size={},{}", window.0, window.1))
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .arg("about:blank")
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    // Own process group: a Ctrl-C delivered to the server's group does not kill the browser
    // while the server is still closing sessions; shutdown kills the group itself.
    .process_group(0)
    .kill_on_drop(true);

    let mut child = cmd
        .spawn()
        .map_err(|e| EngineError::Launch(format!("cannot start {}: {e}", chromium.display())))?;
    let pid = child.id().unwrap_or(0);
    let stderr = child
        .stderr
        .take()
        .ok_or_else(|| EngineError::Launch("chromium stderr not captured".into()))?;
    let mut lines = BufReader::new(stderr).lines();

    let found = tokio::time::timeout(timeout, async {
        let mut tail = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(url) = line.strip_prefix("DevTools listening on ") {
                return Ok(url.trim().to_string());
            }
            if tail.len() < 20 {
                tail.push(line);
            }
        }
        Err(tail.join("\n"))
    })
    .await;

    let ws_url = match found {
        Ok(Ok(url)) => url,
        Ok(Err(tail)) => {
            let _ = child.kill().await;
            return Err(EngineError::Launch(format!(
                "chromium exited before DevTools was ready: {tail}"
            )));
        }
        Err(_) => {
            let _ = child.kill().await;
            return Err(EngineError::Launch(format!(
                "chromium did not open DevTools within {} ms",
                timeout.as_millis()
            )));
        }
    };

    // Keep draining stderr so Chromium never blocks on a full pipe; log at debug level.
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            tracing::debug!(target: "chromium", "{line}");
        }
    });

    Ok(Launched {
        child,
        ws_url,
        pid,
        profile,
    })
}

/// Kills the whole process group of a Chromium launched by [`launch`].
pub fn kill_group(pid: u32) {
    if pid == 0 {
        return;
    }
    // SAFETY: killpg only sends a signal; pid is the group leader we spawned.
    unsafe {
        libc::killpg(pid as libc::pid_t, libc::SIGKILL);
    }
}
