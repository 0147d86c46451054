//! Launching one Chromium process: flags, its own profile dir, its own process group, and the
//! DevTools pipes (`--remote-debugging-pipe`: fd 3 carries our commands in, fd 4 its messages
//! out). No DevTools port is opened, so no other local process can drive the browser.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::EngineError;

/// A launched Chromium: the child, its DevTools pipes and the profile dir removed on drop.
pub struct Launched {
    pub child: Child,
    /// Our end of the browser's fd 3 (commands to the browser).
    pub to_browser: tokio::net::unix::pipe::Sender,
    /// Our end of the browser's fd 4 (answers and events from the browser).
    pub from_browser: tokio::net::unix::pipe::Receiver,
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

/// A pipe as (read end, write end), both close-on-exec.
fn pipe_pair() -> Result<(OwnedFd, OwnedFd), EngineError> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe2 writes two new descriptors into `fds`; we own them from here on.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    if rc != 0 {
        return Err(EngineError::Launch(format!(
            "cannot create the DevTools pipe: {}",
            std::io::Error::last_os_error()
        )));
    }
    // SAFETY: both descriptors were just created and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Starts Chromium headless with its DevTools pipes in place. Whether it came up is seen by the
/// caller's first command over the pipe (an early exit reads as end-of-pipe).
pub fn launch(
    chromium: &Path,
    window: (u32, u32),
    egress: std::net::SocketAddr,
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
        // Chromium's own calls home nobody asked for (seen at the egress proxy while pages were
        // observed): autofill asking Google about the forms it sees (content-autofill.
        // googleapis.com, every ~13 s) and the optimization guide's hints and models
        // (optimizationguide-pa.googleapis.com), and the network clock (clients2.google.com/
        // time). The account list each profile asks for (accounts.google.com/ListAccounts) has
        // no switch; the egress policy judges it like any request.
        "--disable-features=BackForwardCache,AutofillServerCommunication,OptimizationHints,OptimizationGuideModelDownloading,NetworkTimeServiceQuerying",
        "--remote-debugging-pipe",
    ])
    // Every request goes through the egress proxy (engine/egress), loopback included: an
    // empty bypass list minus Chromium's implicit loopback rule. WebRTC may use UDP only
    // through a proxy, which ours is not, so it falls back to TCP through the proxy or fails.
    .arg(format!("--proxy-server=http://{egress}"))
    .arg("--proxy-bypass-list=<-loopback>")
    .arg("--webrtc-ip-handling-policy=disable_non_proxied_udp")
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

    // fd 3: the browser reads our commands; fd 4: it writes its messages.
    let (cmd_read, cmd_write) = pipe_pair()?;
    let (msg_read, msg_write) = pipe_pair()?;
    let (child_in, child_out) = (cmd_read.as_raw_fd(), msg_write.as_raw_fd());
    // SAFETY: only async-signal-safe calls (dup2) run between fork and exec. dup2 leaves the
    // new descriptors without close-on-exec, so exactly fds 3 and 4 reach Chromium.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(child_in, 3) < 0 || libc::dup2(child_out, 4) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }

    let mut child = cmd
        .spawn()
        .map_err(|e| EngineError::Launch(format!("cannot start {}: {e}", chromium.display())))?;
    let pid = child.id().unwrap_or(0);
    let stderr = child
        .stderr
        .take()
        .ok_or_else(|| EngineError::Launch("chromium stderr not captured".into()))?;
    // The child holds its ends now; ours close here so a dead browser reads as end-of-pipe.
    drop(cmd_read);
    drop(msg_write);
    let to_browser = tokio::net::unix::pipe::Sender::from_owned_fd(cmd_write)
        .map_err(|e| EngineError::Launch(format!("DevTools pipe: {e}")))?;
    let from_browser = tokio::net::unix::pipe::Receiver::from_owned_fd(msg_read)
        .map_err(|e| EngineError::Launch(format!("DevTools pipe: {e}")))?;

    // Keep draining stderr so Chromium never blocks on a full pipe; log at debug level.
    let mut lines = BufReader::new(stderr).lines();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            tracing::debug!(target: "chromium", "{line}");
        }
    });

    Ok(Launched {
        child,
        to_browser,
        from_browser,
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
