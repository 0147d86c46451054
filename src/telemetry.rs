//! What the server does, as Prometheus metrics (`GET /metrics`). One process-wide recorder
//! (the `metrics` facade); every name and label set lives here, so the layers that count only
//! call these functions. Labels take values from fixed sets (protocols, action types, end
//! reasons, outcomes): never a tenant, session id or URL, whose number has no bound.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Latency buckets, in seconds: a CDP call (sub-millisecond) to a slow navigation (a minute).
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0,
];

/// Installs the recorder once per process (several servers in one test process share it).
pub fn install() {
    HANDLE.get_or_init(|| {
        PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &BUCKETS)
            .ok()?
            .install_recorder()
            .map_err(|e| tracing::warn!(error = %e, "metrics are off: no recorder"))
            .ok()
    });
}

/// The Prometheus text of every metric, or `None` when no recorder could be installed.
pub fn render() -> Option<String> {
    HANDLE.get().and_then(|h| h.as_ref()).map(|h| h.render())
}

pub fn session_created(protocol: &'static str) {
    counter!("pagepilot_sessions_created_total", "protocol" => protocol).increment(1);
    gauge!("pagepilot_sessions_active", "protocol" => protocol).increment(1.0);
}

/// A session ended (once per session); `reason` is one of `sessions::reason`.
pub fn session_ended(protocol: &'static str, reason: &str, status: &'static str) {
    counter!(
        "pagepilot_sessions_ended_total",
        "protocol" => protocol,
        "reason" => known_reason(reason),
        "status" => status
    )
    .increment(1);
    gauge!("pagepilot_sessions_active", "protocol" => protocol).decrement(1.0);
}

/// One action ran (`kind` is the engine's action type: `goto`, `snapshot`, `step`, ...).
pub fn action(kind: &'static str, ok: bool, took: Duration) {
    let outcome = if ok { "ok" } else { "error" };
    counter!("pagepilot_actions_total", "type" => kind, "outcome" => outcome).increment(1);
    histogram!("pagepilot_action_duration_seconds", "type" => kind).record(took.as_secs_f64());
}

/// One MCP tool call, by tool (`unknown` for a name that is not a tool).
pub fn mcp_call(tool: &'static str, ok: bool, took: Duration) {
    let outcome = if ok { "ok" } else { "error" };
    counter!("pagepilot_mcp_calls_total", "tool" => tool, "outcome" => outcome).increment(1);
    histogram!("pagepilot_mcp_call_duration_seconds", "tool" => tool).record(took.as_secs_f64());
}

pub fn credits_charged(credits: u64) {
    counter!("pagepilot_credits_charged_total").increment(credits);
}

pub fn browser_launched() {
    counter!("pagepilot_browser_launches_total").increment(1);
}

pub fn browser_crashed() {
    counter!("pagepilot_browser_crashes_total").increment(1);
}

/// Warm pages ready in the pool, set whenever the pool changes.
pub fn pool_size(pages: usize) {
    gauge!("pagepilot_pool_pages").set(pages as f64);
}

/// One CDP command's round trip.
pub fn cdp_call(took: Duration) {
    histogram!("pagepilot_cdp_call_duration_seconds").record(took.as_secs_f64());
}

pub fn redis_error() {
    counter!("pagepilot_redis_errors_total").increment(1);
}

/// An action or session call sent on to the instance that owns the session.
pub fn forwarded() {
    counter!("pagepilot_forwarded_total").increment(1);
}

/// The reasons a session can end with, as labels; anything else is `other`.
fn known_reason(reason: &str) -> &'static str {
    use crate::sessions::reason;
    [
        reason::CLOSED,
        reason::EXPIRED,
        reason::IDLE_TIMEOUT,
        reason::BROWSER_CRASHED,
        reason::PAGE_CRASHED,
        reason::PAGE_UNRESPONSIVE,
        reason::START_FAILED,
        reason::SHUTDOWN,
        reason::DISCONNECTED,
        reason::OWNER_LOST,
        reason::INTERNAL_ERROR,
    ]
    .into_iter()
    .find(|r| *r == reason)
    .unwrap_or("other")
}
