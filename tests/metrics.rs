//! `GET /metrics` after a scripted session: every counter moved by exactly what the script did.
//! Its own test binary (one test): the metrics recorder is process-wide, and another test's
//! sessions in the same process would move the same counters.

mod common;

use std::collections::BTreeMap;

use common::{config, Fixtures, Pp, ALICE};
use reqwest::Method;
use serde_json::json;

const TOKEN: &str = "metrics-token-0123456789";

/// name -> [(labels, value)] of a Prometheus text page.
type Page = BTreeMap<String, Vec<(BTreeMap<String, String>, f64)>>;

fn parse(text: &str) -> Page {
    let mut page = Page::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let (name, labels) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        let labels: BTreeMap<String, String> = labels
            .split(',')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
            .collect();
        page.entry(name.to_string())
            .or_default()
            .push((labels, value.parse().unwrap_or(f64::NAN)));
    }
    page
}

/// The value of `name` with (at least) these labels; 0 when the series is absent.
fn value(page: &Page, name: &str, labels: &[(&str, &str)]) -> f64 {
    page.get(name)
        .into_iter()
        .flatten()
        .filter(|(l, _)| {
            labels
                .iter()
                .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, v)| v)
        .sum()
}

async fn scrape(pp: &Pp) -> Page {
    let resp = pp
        .http
        .get(format!("{}/metrics", pp.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    parse(&resp.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_exactly_what_a_session_did() {
    let fx = Fixtures::start().await;
    // Without a metrics token configured, nothing is served.
    let plain = Pp::default().await;
    let (status, v) = plain.send(Method::GET, "/metrics", None, None).await;
    assert_eq!(status, 404, "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("metrics_token"),
        "{v}"
    );
    plain.stop().await;

    let mut cfg = config();
    cfg.metrics_token = Some(TOKEN.into());
    let pp = Pp::start(cfg).await;
    // A tenant's token is not the metrics token, and neither is a wrong one.
    for auth in [Some(common::token(ALICE)), Some("nope".to_string()), None] {
        let mut req = pp.http.get(format!("{}/metrics", pp.base));
        if let Some(a) = auth {
            req = req.bearer_auth(a);
        }
        assert_eq!(req.send().await.unwrap().status(), 401);
    }

    let before = scrape(&pp).await;
    // The script: a Capture session with one good goto and one failed click, closed; an agent
    // session with one observe, stopped.
    let id = pp.session(ALICE, json!({})).await;
    pp.ok(
        ALICE,
        &id,
        "goto",
        json!({ "url": fx.url("/agent/login.html") }),
    )
    .await;
    let (status, _) = pp
        .act(
            ALICE,
            &id,
            "click",
            json!({ "selector": "#no-such-thing", "timeoutMs": 200 }),
        )
        .await;
    assert_ne!(status, 200);
    let (status, closed) = pp.delete(ALICE, &id).await;
    assert_eq!(status, 200, "{closed}");
    let (status, s) = pp
        .send(
            Method::POST,
            "/sessions/start",
            Some(ALICE),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200, "{s}");
    let sid = s["session_id"].as_str().unwrap().to_string();
    let (status, _) = pp
        .send(
            Method::POST,
            &format!("/sessions/{sid}/page/observe"),
            Some(ALICE),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = pp
        .send(
            Method::DELETE,
            &format!("/sessions/{sid}/stop"),
            Some(ALICE),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let after = scrape(&pp).await;

    let delta = |name: &str, labels: &[(&str, &str)]| {
        value(&after, name, labels) - value(&before, name, labels)
    };
    assert_eq!(
        delta(
            "pagepilot_sessions_created_total",
            &[("protocol", "capture")]
        ),
        1.0
    );
    assert_eq!(
        delta("pagepilot_sessions_created_total", &[("protocol", "agent")]),
        1.0
    );
    assert_eq!(
        delta(
            "pagepilot_sessions_created_total",
            &[("protocol", "websocket")]
        ),
        0.0
    );
    for protocol in ["capture", "agent"] {
        assert_eq!(
            delta(
                "pagepilot_sessions_ended_total",
                &[
                    ("protocol", protocol),
                    ("reason", "closed"),
                    ("status", "closed")
                ]
            ),
            1.0,
            "{protocol}"
        );
        assert_eq!(
            delta("pagepilot_sessions_active", &[("protocol", protocol)]),
            0.0
        );
    }
    assert_eq!(
        delta(
            "pagepilot_actions_total",
            &[("type", "goto"), ("outcome", "ok")]
        ),
        1.0
    );
    assert_eq!(
        delta(
            "pagepilot_actions_total",
            &[("type", "click"), ("outcome", "error")]
        ),
        1.0
    );
    assert_eq!(
        delta(
            "pagepilot_actions_total",
            &[("type", "snapshot"), ("outcome", "ok")]
        ),
        1.0
    );
    assert_eq!(delta("pagepilot_actions_total", &[]), 3.0);
    // Each action's latency is in its histogram, once.
    assert_eq!(
        delta(
            "pagepilot_action_duration_seconds_count",
            &[("type", "goto")]
        ),
        1.0
    );
    assert!(delta("pagepilot_action_duration_seconds_sum", &[("type", "goto")]) > 0.0);
    assert_eq!(delta("pagepilot_action_duration_seconds_count", &[]), 3.0);
    // The credits the two closed sessions were charged, exactly.
    let mut billed = 0.0;
    for s in [&id, &sid] {
        let (_, rec) = pp.get(ALICE, s).await;
        let c = rec["billedCredits"]
            .as_f64()
            .or(rec["session"]["billedCredits"].as_f64());
        billed += c.unwrap_or_else(|| panic!("no billedCredits in {rec}"));
    }
    assert!(billed >= 2.0, "{billed}");
    assert_eq!(delta("pagepilot_credits_charged_total", &[]), billed);
    // The browser talked over CDP; nothing crashed, nothing was forwarded, Redis is not used.
    assert!(delta("pagepilot_cdp_call_duration_seconds_count", &[]) > 10.0);
    assert_eq!(delta("pagepilot_browser_crashes_total", &[]), 0.0);
    assert_eq!(delta("pagepilot_forwarded_total", &[]), 0.0);
    assert_eq!(delta("pagepilot_redis_errors_total", &[]), 0.0);
    assert!(value(&after, "pagepilot_browser_launches_total", &[]) >= 1.0);
    assert!(
        after.contains_key("pagepilot_pool_pages"),
        "{:?}",
        after.keys()
    );
    pp.stop().await;
}
