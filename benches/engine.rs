//! `cargo bench --bench engine`: medians (and p90) of the foundation's operations through the
//! real HTTP API, against a fixture page on loopback, plus Chromium's memory per open session
//! (summed PSS of the browser's process group, read from /proc/PID/smaps_rollup).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{config, stats, Fixtures, Pp, ALICE};
use reqwest::Method;
use serde_json::json;

const RUNS: usize = 30;

async fn timed<F, Fut, T>(f: F) -> (f64, T)
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let t = Instant::now();
    let out = f().await;
    (t.elapsed().as_secs_f64() * 1000.0, out)
}

/// Summed PSS (KiB) of every process in the browser's process group.
fn browser_pss_kib(pgid: u64) -> u64 {
    let mut total = 0;
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(|s| s.parse::<u64>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Fields after the parenthesised command: state ppid pgrp ...
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let pgrp = rest
            .split_whitespace()
            .nth(2)
            .and_then(|s| s.parse::<u64>().ok());
        if pgrp != Some(pgid) {
            continue;
        }
        if let Ok(rollup) = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) {
            for line in rollup.lines() {
                if let Some(v) = line.strip_prefix("Pss:") {
                    total += v
                        .trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .unwrap_or(0);
                }
            }
        }
    }
    total
}

async fn wait_pool(pp: &Pp, want: u64) {
    for _ in 0..100 {
        if pp.health().await["browser"]["pooledPages"].as_u64() == Some(want) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let fx = Fixtures::start().await;
    let page = fx.url("/capture/interact.html");
    println!("pagepilot engine benchmark: {RUNS} runs each, fixture {page}");

    // Session create from the warm pool (the pool refills between runs, as in steady use).
    let mut cfg = config();
    cfg.pool_size = 2;
    cfg.max_sessions_per_tenant = 50;
    let pp = Pp::start(cfg).await;
    wait_pool(&pp, 2).await;
    let mut create = Vec::new();
    for _ in 0..RUNS {
        wait_pool(&pp, 2).await;
        let (ms, id) = timed(|| pp.session(ALICE, json!({}))).await;
        create.push(ms);
        pp.delete(ALICE, &id).await;
    }
    stats("session create (pooled)", create);

    // Actions on one session.
    let id = pp.session(ALICE, json!({})).await;
    let mut goto = Vec::new();
    let mut click = Vec::new();
    let mut content = Vec::new();
    let mut shot = Vec::new();
    for _ in 0..RUNS {
        goto.push(
            timed(|| pp.ok(ALICE, &id, "goto", json!({ "url": page })))
                .await
                .0,
        );
        click.push(
            timed(|| pp.ok(ALICE, &id, "click", json!({ "selector": "#btn" })))
                .await
                .0,
        );
        content.push(timed(|| pp.ok(ALICE, &id, "content", json!({}))).await.0);
        shot.push(timed(|| pp.ok(ALICE, &id, "screenshot", json!({}))).await.0);
    }
    stats("goto local page (domcontentloaded)", goto);
    stats("click (trusted, with diagnostics)", click);
    stats("content (text)", content);
    stats("screenshot (viewport png)", shot);
    pp.delete(ALICE, &id).await;

    // Memory: the browser's PSS with 0 and with N sessions open on the fixture page.
    wait_pool(&pp, 2).await;
    let pgid = pp.health().await["browser"]["pid"].as_u64().unwrap_or(0);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let base = browser_pss_kib(pgid);
    const N: usize = 5;
    let mut ids = Vec::new();
    for _ in 0..N {
        let id = pp.session(ALICE, json!({})).await;
        pp.ok(ALICE, &id, "goto", json!({ "url": page })).await;
        ids.push(id);
    }
    wait_pool(&pp, 2).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let loaded = browser_pss_kib(pgid);
    println!(
        "browser PSS: {:.0} MiB with 0 sessions (+2 pooled pages), {:.0} MiB with {N} -> {:.1} MiB per open session",
        base as f64 / 1024.0,
        loaded as f64 / 1024.0,
        (loaded.saturating_sub(base)) as f64 / 1024.0 / N as f64
    );
    for id in &ids {
        pp.delete(ALICE, id).await;
    }

    // A neighbour's page that logs without pause (1,000 lines of 1 KB per task): what it
    // costs another session's actions, and how much of its log crossed the pipe.
    let storm = pp.session(ALICE, json!({})).await;
    pp.ok(
        ALICE,
        &storm,
        "goto",
        json!({ "url": fx.url("/hostile/console-storm.html") }),
    )
    .await;
    let id = pp.session(ALICE, json!({})).await;
    let mut stormed = Vec::new();
    for _ in 0..RUNS {
        stormed.push(
            timed(|| pp.ok(ALICE, &id, "goto", json!({ "url": page })))
                .await
                .0,
        );
    }
    stats("goto next to a console storm", stormed);
    let log = pp.ok(ALICE, &storm, "console", json!({})).await;
    println!(
        "  the storming page's console log: {} entries kept",
        log["count"]
    );
    pp.delete(ALICE, &id).await;
    pp.delete(ALICE, &storm).await;
    pp.stop().await;

    // Session create without a pool: context + tab + renderer start on the request path.
    let mut cfg = config();
    cfg.pool_size = 0;
    cfg.max_sessions_per_tenant = 50;
    let pp = Pp::start(cfg).await;
    let mut cold = Vec::new();
    for _ in 0..RUNS.min(15) {
        let (ms, id) = timed(|| pp.session(ALICE, json!({}))).await;
        cold.push(ms);
        let _ = pp
            .send(
                Method::DELETE,
                &format!("/v1/sessions/{id}"),
                Some(ALICE),
                None,
            )
            .await;
    }
    stats("session create (cold, no pool)", cold);
    pp.stop().await;

    // Crash recovery: kill -9 of Chromium, then how long until a new session is created;
    // between actions, then with an action in flight on the killed browser (a 10 s evaluate).
    let pp = Pp::default().await;
    let mut recovery = Vec::new();
    for _ in 0..5 {
        let id = pp.session(ALICE, json!({})).await;
        recovery.push(kill_then_create(&pp).await);
        pp.delete(ALICE, &id).await;
        wait_pool(&pp, 1).await;
    }
    stats("kill -9 of Chromium -> next session created", recovery);
    let mut mid = Vec::new();
    for _ in 0..5 {
        let id = pp.session(ALICE, json!({})).await;
        let busy = pp.act(
            ALICE,
            &id,
            "evaluate",
            json!({ "expression": "new Promise(r => setTimeout(r, 10000))" }),
        );
        let killed = async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            kill_then_create(&pp).await
        };
        let (_, ms) = tokio::join!(busy, killed);
        mid.push(ms);
        pp.delete(ALICE, &id).await;
        wait_pool(&pp, 1).await;
    }
    stats("kill -9 mid-action -> next session created", mid);
    pp.stop().await;
}

/// Kills the server's browser (-9) and answers how long until a new session is created, in ms.
async fn kill_then_create(pp: &Pp) -> f64 {
    let pid = pp.health().await["browser"]["pid"].as_u64().unwrap_or(0);
    let t = Instant::now();
    // SAFETY: kill only sends a signal to the browser this benchmark's server launched.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGKILL);
    }
    loop {
        let (status, v) = pp
            .send(Method::POST, "/v1/sessions", Some(ALICE), Some(json!({})))
            .await;
        if status == 201 {
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            if let Some(new) = v["session"]["id"].as_str() {
                pp.delete(ALICE, new).await;
            }
            return ms;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
