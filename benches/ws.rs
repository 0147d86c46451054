//! `cargo bench --bench ws`: the WebSocket protocol over a real socket against a fixture page
//! on loopback. The standard client: frames per second of goto+content pairs (one socket,
//! sequential, as a client drives it) and their median; the browser client: goto, click and
//! content medians.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use common::{config, stats, Fixtures, Pp, Ws, ALICE};
use serde_json::{json, Value};

const PAIRS: usize = 300;
const RUNS: usize = 30;

async fn call_ms(ws: &mut Ws, frame: Value) -> f64 {
    let t = Instant::now();
    let v = ws.call(frame).await;
    assert!(v.get("type").is_none(), "error frame: {v}");
    t.elapsed().as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let fx = Fixtures::start().await;
    let pp = Pp::start(config()).await;
    let page = fx.url("/ws/form.html");

    let (mut ws, _) = Ws::open(&pp, ALICE, json!({ "client": "standard" })).await;
    // Warm up the connection pool.
    call_ms(&mut ws, json!({ "action": "goto", "url": page })).await;
    let mut pairs = Vec::with_capacity(PAIRS);
    let start = Instant::now();
    for _ in 0..PAIRS {
        let a = call_ms(&mut ws, json!({ "action": "goto", "url": page })).await;
        let b = call_ms(&mut ws, json!({ "action": "content" })).await;
        pairs.push(a + b);
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "standard client: {} frames in {secs:.2} s = {:.0} frames/s ({:.0} goto+content pairs/s)",
        PAIRS * 2,
        (PAIRS * 2) as f64 / secs,
        PAIRS as f64 / secs
    );
    stats("standard goto+content", pairs);

    let (mut ws, _) = Ws::open(&pp, ALICE, json!({ "client": "browser" })).await;
    call_ms(&mut ws, json!({ "action": "goto", "url": page })).await;
    let (mut goto, mut click, mut content) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        goto.push(call_ms(&mut ws, json!({ "action": "goto", "url": page })).await);
        click.push(call_ms(&mut ws, json!({ "action": "click", "selector": "#plain" })).await);
        content.push(call_ms(&mut ws, json!({ "action": "content" })).await);
    }
    // The same page through the REST API's goto, for comparison (no exchange report).
    let rest = pp.session(ALICE, json!({})).await;
    let mut rest_goto = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        pp.ok(ALICE, &rest, "goto", json!({ "url": page })).await;
        rest_goto.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    stats("browser goto (with exchange report)", goto);
    stats("REST goto, same page (no report)", rest_goto);
    stats("browser click", click);
    stats("browser content", content);
    pp.stop().await;
}
