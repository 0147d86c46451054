//! `cargo bench --bench observe`: observe latency on fixture pages with ~50, ~500 and ~5,000
//! interactive elements (median and p90), split into the collector inside the page, the CDP
//! transfer, and Rust (parse + action space + markdown); then step+observe of a click, and the
//! same observe end to end through the HTTP API.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use action_space::{Options, Snapshot};
use common::{Fixtures, Pp, ALICE};
use pagepilot::engine::{Action, ContextOptions, Engine, EngineConfig, PageOptions};
use serde_json::json;

const RUNS: usize = 30;

fn pct(v: &mut [f64], p: usize) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() * p) / 100).min(v.len() - 1)]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let fx = Fixtures::start().await;
    let cfg = common::config();
    let engine = Engine::start(EngineConfig {
        chromium: cfg.chromium.clone(),
        pool_size: 0,
        viewport: (1280, 800),
        allow_private_network: true,
        deny_hosts: vec![],
        max_tabs: 10,
        hosts: Default::default(),
        upstream_proxies: vec![],
        files_root: std::env::temp_dir()
            .join(format!("pagepilot-bench-files-{}", std::process::id())),
        file_caps: pagepilot::engine::files::FileCaps {
            max_file_bytes: 1 << 20,
            max_total_bytes: 1 << 22,
            max_files: 10,
        },
    })
    .await
    .expect("engine");
    let page = engine
        .open(
            &ContextOptions::default(),
            &PageOptions {
                viewport: (1280, 800),
                stealth: false,
                user_agent: None,
                middleware: Vec::new(),
            },
        )
        .await
        .expect("page");
    let deadline = Duration::from_secs(60);
    println!("observe latency, {RUNS} runs each (ms): total = in page + transfer + rust");
    println!(
        "{:<26} {:>8} {:>8} | {:>8} {:>9} {:>7}",
        "page", "median", "p90", "in page", "transfer", "rust"
    );
    for n in [50, 500, 5000] {
        let goto = Action::from_parts(
            "goto",
            json!({ "url": fx.url(&format!("/agent/big.html?n={n}")), "waitUntil": "load" }),
        )
        .unwrap();
        engine.run(&page, &goto, deadline).await.expect("goto");
        let (mut total, mut inpage, mut transfer, mut rust) = (vec![], vec![], vec![], vec![]);
        let mut listed = 0;
        // What observe passes by default (max_nb_actions 100, no page content).
        let args = json!({ "maxListed": 100 });
        // Warm-up: the first observes of a page pay for the isolated world and the JIT.
        for _ in 0..5 {
            let raw = page
                .eval(action_space::COLLECTOR, &args)
                .await
                .expect("collect");
            std::hint::black_box(raw);
        }
        for _ in 0..RUNS {
            let t0 = Instant::now();
            let raw = page
                .eval(action_space::COLLECTOR, &args)
                .await
                .expect("collect");
            let evaluated = t0.elapsed().as_secs_f64() * 1000.0;
            let t1 = Instant::now();
            let snap: Snapshot =
                serde_json::from_str(raw.as_str().unwrap_or_default()).expect("snapshot");
            let view = action_space::view(&snap, &Options::default());
            let r = t1.elapsed().as_secs_f64() * 1000.0;
            listed = snap.nodes.len();
            std::hint::black_box(&view);
            inpage.push(snap.took_ms);
            transfer.push(evaluated - snap.took_ms);
            rust.push(r);
            total.push(evaluated + r);
        }
        let (m, p90) = (pct(&mut total, 50), pct(&mut total, 90));
        println!(
            "{:<26} {m:>8.1} {p90:>8.1} | {:>8.1} {:>9.1} {:>7.1}",
            format!("{n} elements ({listed} actions)"),
            pct(&mut inpage, 50),
            pct(&mut transfer, 50),
            pct(&mut rust, 50)
        );
    }
    page.close().await;
    engine.shutdown().await;

    // End to end through HTTP: observe alone, and step (click) + observe, on the widgets page.
    let pp = Pp::default().await;
    let id = pp
        .session_at(
            ALICE,
            json!({ "url": fx.url("/agent/widgets.html"), "waitUntil": "load" }),
        )
        .await;
    let snap = pp.ok(ALICE, &id, "snapshot", json!({})).await;
    let target = snap["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| {
            a["description"]
                .as_str()
                .unwrap()
                .starts_with("Clickable div")
        })
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (mut obs, mut step) = (vec![], vec![]);
    for _ in 0..RUNS {
        let t = Instant::now();
        pp.ok(ALICE, &id, "snapshot", json!({})).await;
        obs.push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        pp.ok(ALICE, &id, "step", json!({ "id": target })).await;
        pp.ok(ALICE, &id, "snapshot", json!({})).await;
        step.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    println!(
        "HTTP snapshot, widgets page     median {:>7.1}  p90 {:>7.1}",
        pct(&mut obs, 50),
        pct(&mut obs, 90)
    );
    println!(
        "HTTP step (click) + snapshot    median {:>7.1}  p90 {:>7.1}",
        pct(&mut step, 50),
        pct(&mut step, 90)
    );
    pp.stop().await;
}
