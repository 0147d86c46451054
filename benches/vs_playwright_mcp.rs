//! `cargo bench --bench vs_playwright_mcp`: pagepilot's observe with a full listing against
//! Playwright MCP's `browser_snapshot`, side by side in one run, on the generated pages of
//! `benches/pages/gen_pages.py` (the team's deterministic generator, byte-for-byte the pages
//! every comparison uses: small, medium, large, xlarge), same Chromium
//! (`/usr/bin/chromium`), same viewport (1280×800), both over their own wire (HTTP here,
//! MCP stdio there). Prints per page: both medians, the ratio, actions listed against the
//! page's visible interactive elements, and characters (what an agent would read: pagepilot's
//! `space.markdown` + `data.markdown`, Playwright MCP's snapshot text).
//!
//! Playwright MCP comes from the npm registry (`@playwright/mcp`, installed once into
//! `$PAGEPILOT_PWMCP_DIR`, default `~/.cache/pagepilot/pwmcp`, with
//! `PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1`: it never downloads a browser). Without node or npm the
//! peer's columns say so and pagepilot's are still printed.

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{Pp, ALICE};
use reqwest::Method;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

const RUNS: usize = 10;
const WARMUP: usize = 2;
const PAGES: [&str; 4] = ["small", "medium", "large", "xlarge"];

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Writes the generated pages into the target dir and answers their folder and manifest.
fn generate_pages() -> (PathBuf, Value) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("benches/pages/gen_pages.py");
    let out = std::env::temp_dir().join(format!("pagepilot-bench-pages-{}", std::process::id()));
    let st = std::process::Command::new("python3")
        .arg(&script)
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::null())
        .status()
        .expect("python3 runs gen_pages.py");
    assert!(st.success(), "gen_pages.py failed");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).expect("manifest.json"))
            .expect("manifest is JSON");
    (out, manifest)
}

/// Serves `dir` on 127.0.0.1 (a free port); answers the base URL.
async fn serve(dir: PathBuf) -> String {
    let app = axum::Router::new().fallback_service(tower_http::services::ServeDir::new(dir));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

/// Playwright MCP's CLI script, installed from npm on first use.
fn playwright_mcp() -> Result<PathBuf, String> {
    let dir = std::env::var_os("PAGEPILOT_PWMCP_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/pagepilot/pwmcp")))
        .ok_or("no HOME")?;
    let cli = dir.join("node_modules/@playwright/mcp/cli.js");
    if cli.exists() {
        return Ok(cli);
    }
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let st = std::process::Command::new("npm")
        .args([
            "install",
            "--no-audit",
            "--no-fund",
            "@playwright/mcp@0.0.83",
        ])
        .current_dir(&dir)
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("npm: {e}"))?;
    if !st.success() || !cli.exists() {
        return Err("npm install @playwright/mcp failed".into());
    }
    Ok(cli)
}

/// A Playwright MCP server over stdio (newline-delimited JSON-RPC).
struct Peer {
    child: Child,
    stdin: ChildStdin,
    stdout: tokio::io::Lines<BufReader<ChildStdout>>,
    next: u64,
}

impl Peer {
    /// Playwright MCP (node, its CLI).
    async fn start(cli: &Path) -> Result<Self, String> {
        let cli = cli.to_string_lossy().into_owned();
        Self::spawn(
            "node",
            &[
                cli.as_str(),
                "--headless",
                "--executable-path",
                "/usr/bin/chromium",
                "--no-sandbox",
                "--isolated",
                "--viewport-size",
                "1280x800",
            ],
        )
        .await
    }

    /// pagepilot's own MCP over stdio (`pagepilot mcp`, its embedded server).
    async fn pagepilot() -> Result<Self, String> {
        let state =
            std::env::temp_dir().join(format!("pagepilot-mcp-bench-{}", std::process::id()));
        let state = state.to_string_lossy().into_owned();
        Self::spawn(
            env!("CARGO_BIN_EXE_pagepilot"),
            &[
                "mcp",
                "--allow-private-network",
                "--state-dir",
                state.as_str(),
            ],
        )
        .await
    }

    async fn spawn(program: &str, args: &[&str]) -> Result<Self, String> {
        let work = std::env::temp_dir().join(format!("pagepilot-pwmcp-{}", std::process::id()));
        std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
        let mut child = Command::new(program)
            .args(args)
            .current_dir(&work)
            .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("{program}: {e}"))?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?).lines();
        let mut peer = Peer {
            child,
            stdin,
            stdout,
            next: 0,
        };
        peer.call(
            "initialize",
            json!({ "protocolVersion": "2025-06-18", "capabilities": {},
                    "clientInfo": { "name": "pagepilot-bench", "version": "1" } }),
        )
        .await?;
        peer.send(&json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }))
            .await?;
        Ok(peer)
    }

    async fn send(&mut self, msg: &Value) -> Result<(), String> {
        let mut line = msg.to_string();
        line.push('\n');
        self.stdin
            .write_all(line.as_bytes())
            .await
            .map_err(|e| e.to_string())
    }

    async fn call(&mut self, method: &str, params: Value) -> Result<Value, String> {
        self.next += 1;
        let id = self.next;
        self.send(&json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }))
            .await?;
        loop {
            let line = tokio::time::timeout(Duration::from_secs(120), self.stdout.next_line())
                .await
                .map_err(|_| format!("{method}: no answer in 120 s"))?
                .map_err(|e| e.to_string())?
                .ok_or("the peer closed its stdout")?;
            let Ok(v) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if v["id"] == json!(id) {
                return match v.get("error") {
                    Some(e) => Err(e.to_string()),
                    None => Ok(v["result"].clone()),
                };
            }
        }
    }

    /// Calls a tool; answers the text of its result.
    async fn tool(&mut self, name: &str, args: Value) -> Result<String, String> {
        let r = self
            .call("tools/call", json!({ "name": name, "arguments": args }))
            .await?;
        Ok(r["content"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"))
    }

    async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

struct Row {
    ms: f64,
    listed: usize,
    chars: usize,
}

async fn pagepilot_observe(pp: &Pp, sid: &str, url: &str) -> Row {
    let path = format!("/sessions/{sid}/page/observe");
    let (status, v) = pp
        .send(
            Method::POST,
            &path,
            Some(ALICE),
            Some(json!({ "url": url })),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let full = json!({ "max_nb_actions": 100000 });
    let mut times = Vec::new();
    let mut last = Value::Null;
    for i in 0..WARMUP + RUNS {
        let t = Instant::now();
        let (status, v) = pp
            .send(Method::POST, &path, Some(ALICE), Some(full.clone()))
            .await;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        assert_eq!(status, 200, "{v}");
        if i >= WARMUP {
            times.push(ms);
        }
        last = v;
    }
    // PP_DUMP=DIR keeps what an agent would read, to look at.
    if let Ok(dir) = std::env::var("PP_DUMP") {
        let name = url.rsplit('/').next().unwrap_or("page");
        let _ = std::fs::write(
            format!("{dir}/{name}.space.md"),
            last["space"]["markdown"].as_str().unwrap_or_default(),
        );
        let _ = std::fs::write(
            format!("{dir}/{name}.data.md"),
            last["data"]["markdown"].as_str().unwrap_or_default(),
        );
    }
    let text = |p: &Value| p.as_str().map_or(0, |s| s.chars().count());
    Row {
        ms: median(times),
        listed: last["space"]["interaction_actions"]
            .as_array()
            .map_or(0, Vec::len),
        chars: text(&last["space"]["markdown"]) + text(&last["data"]["markdown"]),
    }
}

/// pagepilot's MCP `observe` with a full listing (what an agent runtime would call).
async fn mcp_observe(peer: &mut Peer, url: &str) -> Result<f64, String> {
    peer.tool("observe", json!({ "url": url })).await?;
    let full = json!({ "max_nb_actions": 100000, "max_chars": 10000000 });
    let mut times = Vec::new();
    for i in 0..WARMUP + RUNS {
        let t = Instant::now();
        peer.tool("observe", full.clone()).await?;
        if i >= WARMUP {
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    Ok(median(times))
}

async fn peer_snapshot(peer: &mut Peer, url: &str) -> Result<Row, String> {
    peer.tool("browser_navigate", json!({ "url": url })).await?;
    let mut times = Vec::new();
    let mut text = String::new();
    for i in 0..WARMUP + RUNS {
        let t = Instant::now();
        text = peer.tool("browser_snapshot", json!({})).await?;
        if i >= WARMUP {
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    // Its refs: one per element of the accessibility snapshot it lists.
    let refs = text.matches("[ref=").count();
    Ok(Row {
        ms: median(times),
        listed: refs,
        chars: text.chars().count(),
    })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let (dir, manifest) = generate_pages();
    let base = serve(dir.clone()).await;
    let pp = Pp::default().await;
    let (status, s) = pp
        .send(
            Method::POST,
            "/sessions/start",
            Some(ALICE),
            Some(json!({ "viewport_width": 1280, "viewport_height": 800, "idle_timeout_minutes": 30 })),
        )
        .await;
    assert_eq!(status, 200, "{s}");
    let sid = s["session_id"].as_str().unwrap_or_default().to_string();
    let mut peer = match playwright_mcp() {
        Ok(cli) => match Peer::start(&cli).await {
            Ok(p) => Some(p),
            Err(e) => {
                println!("Playwright MCP did not start: {e}");
                None
            }
        },
        Err(e) => {
            println!("Playwright MCP unavailable: {e}");
            None
        }
    };
    let mut own_mcp = Peer::pagepilot()
        .await
        .map_err(|e| println!("pagepilot mcp did not start: {e}"))
        .ok();
    // Three browsers have just started (and pagepilot's pools fill): let them settle so the
    // first page is not measured against their start-up.
    tokio::time::sleep(Duration::from_secs(5)).await;
    println!(
        "observe (full listing) vs Playwright MCP browser_snapshot, median of {RUNS} after {WARMUP} warm-ups"
    );
    println!(
        "(pagepilot over HTTP; pp-mcp: the same observe as an MCP tool over stdio, `pagepilot mcp`, as PW MCP is reached)"
    );
    println!(
        "{:<7} {:>7} | {:>10} {:>10} {:>10} {:>6} {:>6} | {:>15} {:>7} | {:>9} {:>9} | {:>10} {:>10}",
        "page",
        "visible",
        "pagepilot",
        "pp-mcp",
        "pw-mcp",
        "ratio",
        "mcp/mcp",
        "listed",
        "recall",
        "pp chars",
        "pw chars",
        "pp ch/act",
        "pw ch/vis"
    );
    for name in PAGES {
        let url = format!("{base}/{name}.html");
        let visible = manifest[name]["interactive_visible"].as_u64().unwrap_or(0) as usize;
        let ours = pagepilot_observe(&pp, &sid, &url).await;
        let theirs = match peer.as_mut() {
            Some(p) => peer_snapshot(p, &url)
                .await
                .map_err(|e| println!("{name}: {e}"))
                .ok(),
            None => None,
        };
        let recall = 100.0 * ours.listed as f64 / visible.max(1) as f64;
        let per_action = ours.chars as f64 / ours.listed.max(1) as f64;
        let mcp_ms = match own_mcp.as_mut() {
            Some(m) => mcp_observe(m, &url)
                .await
                .map_err(|e| println!("{name}: pagepilot mcp: {e}"))
                .unwrap_or(f64::NAN),
            None => f64::NAN,
        };
        match theirs {
            Some(t) => println!(
                "{name:<7} {visible:>7} | {:>8.1}ms {:>8.1}ms {:>8.1}ms {:>5.1}x {:>5.1}x | {:>6} of {visible:<5} {recall:>6.1}% | {:>9} {:>9} | {per_action:>10.1} {:>10.1}",
                ours.ms,
                mcp_ms,
                t.ms,
                t.ms / ours.ms,
                t.ms / mcp_ms,
                ours.listed,
                ours.chars,
                t.chars,
                t.chars as f64 / visible.max(1) as f64,
            ),
            None => println!(
                "{name:<7} {visible:>7} | {:>8.1}ms {:>8.1}ms {:>10} {:>6} {:>6} | {:>6} of {visible:<5} {recall:>6.1}% | {:>9} {:>9} | {per_action:>10.1} {:>10}",
                ours.ms, mcp_ms, "-", "-", "-", ours.listed, ours.chars, "-", "-"
            ),
        }
    }
    if let Some(p) = peer {
        p.stop().await;
    }
    if let Some(p) = own_mcp {
        p.stop().await;
    }
    pp.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}
