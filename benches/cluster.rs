//! `cargo bench --bench cluster`: three instances sharing a real redis-server on loopback.
//! The added latency of an action routed to the owning instance versus the same action on the
//! owner (median), and session creates per second across the three instances.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use common::{cluster_config, stats, Pp, RedisServer, Ws, ALICE};
use reqwest::Method;
use serde_json::json;

const RUNS: usize = 100;
const CREATES: usize = 90;

#[tokio::main]
async fn main() {
    // Redis's default durability (fsync once a second), as an operator would run it.
    let redis = RedisServer::start_with("everysec").await;
    let start = |pool: usize| {
        let mut cfg = cluster_config(&redis);
        cfg.max_sessions_per_tenant = CREATES;
        cfg.max_sessions = CREATES * 2;
        cfg.pool_size = pool;
        Pp::start(cfg)
    };
    let (a, b, c) = tokio::join!(start(1), start(1), start(1));

    let id = a.session(ALICE, json!({})).await;
    for _ in 0..5 {
        a.ok(ALICE, &id, "title", json!({})).await;
        b.ok(ALICE, &id, "title", json!({})).await;
    }
    let (mut local, mut routed) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let t = Instant::now();
        a.ok(ALICE, &id, "title", json!({})).await;
        local.push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        b.ok(ALICE, &id, "title", json!({})).await;
        routed.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    // The same action on a lone instance without Redis, for what the shared store costs.
    let lone = Pp::start(common::config()).await;
    let lone_id = lone.session(ALICE, json!({})).await;
    let mut alone = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        lone.ok(ALICE, &lone_id, "title", json!({})).await;
        alone.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    lone.stop().await;
    stats("title on a lone instance (no Redis)", alone);
    stats("title on the owning instance A", local.clone());
    stats("title through B, routed to A", routed.clone());
    local.sort_by(|x, y| x.total_cmp(y));
    routed.sort_by(|x, y| x.total_cmp(y));
    println!(
        "added by routing (median): {:.2} ms",
        routed[RUNS / 2] - local[RUNS / 2]
    );
    a.delete(ALICE, &id).await;

    // Creates spread over the three instances, 6 in flight at a time.
    let instances = [&a, &b, &c];
    let t = Instant::now();
    let mut ids = Vec::new();
    for wave in 0..CREATES / 6 {
        let creates = (0..6).map(|i| {
            let pp = instances[(wave * 6 + i) % 3];
            async move {
                let (status, v) = pp
                    .send(Method::POST, "/v1/sessions", Some(ALICE), Some(json!({})))
                    .await;
                assert_eq!(status, 201, "{v}");
                (
                    pp,
                    v["session"]["id"].as_str().unwrap_or_default().to_string(),
                )
            }
        });
        ids.extend(futures_util::future::join_all(creates).await);
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "session creates across 3 instances: {} in {secs:.2} s = {:.1} creates/s",
        ids.len(),
        ids.len() as f64 / secs
    );
    for (pp, id) in ids {
        pp.delete(ALICE, &id).await;
    }

    // The same through WebSocket standard-client sessions (no browser): what the shared store
    // and the registry sustain when Chromium is not the bottleneck.
    let t = Instant::now();
    let mut sockets = Vec::new();
    for wave in 0..CREATES / 6 {
        let opens = (0..6).map(|i| Ws::open(instances[(wave * 6 + i) % 3], ALICE, json!({})));
        sockets.extend(futures_util::future::join_all(opens).await);
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "standard-client sessions opened across 3 instances: {} in {secs:.2} s = {:.0} creates/s",
        sockets.len(),
        sockets.len() as f64 / secs
    );
    for (mut ws, _) in sockets {
        ws.call(json!({ "action": "close" })).await;
    }
    for pp in [a, b, c] {
        pp.stop().await;
    }
}
