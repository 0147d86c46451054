//! A session's record: what every protocol shows of it, and what a store keeps.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Active,
    Closed,
    Expired,
    Error,
}

impl Status {
    /// Its name as a metrics label.
    pub fn label(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Closed => "closed",
            Status::Expired => "expired",
            Status::Error => "error",
        }
    }
}

/// Why a session ended.
pub mod reason {
    pub const CLOSED: &str = "closed";
    pub const EXPIRED: &str = "expired";
    pub const IDLE_TIMEOUT: &str = "idle_timeout";
    pub const BROWSER_CRASHED: &str = "browser_crashed";
    pub const PAGE_CRASHED: &str = "page_crashed";
    /// The page kept its main thread busy even after its script was stopped.
    pub const PAGE_UNRESPONSIVE: &str = "page_unresponsive";
    pub const START_FAILED: &str = "start_failed";
    pub const SHUTDOWN: &str = "server_shutdown";
    /// A WebSocket session's socket went away without a `close` frame.
    pub const DISCONNECTED: &str = "client_disconnected";
    /// The instance holding the session's browser stopped heartbeating (crashed, killed).
    pub const OWNER_LOST: &str = "owner_lost";
    /// Something inside the server failed while serving this session (a bug: logged); the
    /// session ends, the others never notice.
    pub const INTERNAL_ERROR: &str = "internal_error";
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub total: u64,
    pub success: u64,
    pub error: u64,
}

impl Counts {
    pub fn add(&mut self, ok: bool) {
        self.total = self.total.saturating_add(1);
        if ok {
            self.success = self.success.saturating_add(1);
        } else {
            self.error = self.error.saturating_add(1);
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionOptions {
    pub max_ttl_seconds: u64,
    pub proxy: bool,
    pub bypass_bot_detection: bool,
    /// Ends the session after this long without an action (agent API's idle timeout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout_seconds: Option<u64>,
    /// Refuses actions past this many (agent API's max_steps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_steps: Option<u64>,
    /// The WebSocket fetch client (`standard` or `browser`); absent for the other protocols.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionRecord {
    pub id: String,
    pub tenant: String,
    /// The instance holding its browser (several instances sharing a Redis store).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    pub status: Status,
    /// Which API created it (a metrics label; never shown on the wire).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<String>,
    pub close_reason: Option<String>,
    /// Which error ended it, when `status` is `error`.
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    /// Last time a client acted on the session (the idle timeout runs from it).
    pub last_accessed_at: DateTime<Utc>,
    pub billed_credits: u64,
    pub actions: Counts,
    pub action_breakdown: BTreeMap<String, Counts>,
    pub options: SessionOptions,
}

impl SessionRecord {
    pub fn new(tenant: &str, options: SessionOptions, now: DateTime<Utc>) -> Self {
        Self {
            id: format!("sess_{}", uuid::Uuid::new_v4()),
            tenant: tenant.to_string(),
            owner: None,
            status: Status::Active,
            api: None,
            close_reason: None,
            error: None,
            created_at: now,
            started_at: None,
            expires_at: after_seconds(now, options.max_ttl_seconds),
            closed_at: None,
            last_accessed_at: now,
            billed_credits: 0,
            actions: Counts::default(),
            action_breakdown: BTreeMap::new(),
            options,
        }
    }

    /// The page is ready: the TTL runs from now (a slow start does not eat into it).
    pub fn mark_started(&mut self, at: DateTime<Utc>) {
        self.started_at = Some(at);
        self.last_accessed_at = at;
        self.expires_at = after_seconds(at, self.options.max_ttl_seconds);
    }

    pub fn is_active(&self) -> bool {
        self.status == Status::Active
    }

    /// Whole seconds the session has lived (until now, or until it ended).
    pub fn duration_seconds(&self, now: DateTime<Utc>) -> u64 {
        let end = self.closed_at.unwrap_or(now);
        u64::try_from(end.signed_duration_since(self.created_at).num_seconds()).unwrap_or(0)
    }

    /// Seconds left before the TTL ends it (rounded up), 0 once it is not active.
    pub fn expires_in_seconds(&self, now: DateTime<Utc>) -> u64 {
        if !self.is_active() {
            return 0;
        }
        let ms = self
            .expires_at
            .signed_duration_since(now)
            .num_milliseconds();
        u64::try_from(ms).unwrap_or(0).div_ceil(1000)
    }

    /// Agent steps taken: every action but observing (a `snapshot` changes nothing).
    pub fn steps(&self) -> u64 {
        let observed = self.action_breakdown.get("snapshot").map_or(0, |c| c.total);
        self.actions.total.saturating_sub(observed)
    }

    /// Records an action's outcome in the counters and the per-type breakdown.
    /// Why the session is due to end at `now`, if it is: its TTL, or its idle timeout.
    pub fn due(&self, now: DateTime<Utc>) -> Option<&'static str> {
        if !self.is_active() || self.started_at.is_none() {
            return None;
        }
        if self.expires_at <= now {
            return Some(reason::EXPIRED);
        }
        let idle = self.options.idle_timeout_seconds?;
        let idle_for = now
            .signed_duration_since(self.last_accessed_at)
            .num_seconds();
        (idle_for >= i64::try_from(idle).unwrap_or(i64::MAX)).then_some(reason::IDLE_TIMEOUT)
    }

    pub fn count_action(&mut self, kind: &str, ok: bool) {
        self.actions.add(ok);
        self.last_accessed_at = Utc::now().max(self.last_accessed_at);
        self.action_breakdown
            .entry(kind.to_string())
            .or_default()
            .add(ok);
    }

    /// Ends the session: sets status, times, and charges credits. Only the first call counts;
    /// it returns false when the session had already ended.
    pub fn finish(
        &mut self,
        status: Status,
        reason: &str,
        error: Option<String>,
        at: DateTime<Utc>,
    ) -> bool {
        if !self.is_active() {
            return false;
        }
        self.status = status;
        self.close_reason = Some(reason.to_string());
        self.error = error;
        self.closed_at = Some(at.max(self.created_at));
        self.billed_credits = credits(self.created_at, at);
        true
    }
}

/// 1 credit per started minute of a session's life, at least 1.
pub fn credits(from: DateTime<Utc>, to: DateTime<Utc>) -> u64 {
    let ms = u64::try_from(to.signed_duration_since(from).num_milliseconds()).unwrap_or(0);
    ms.div_ceil(60_000).max(1)
}

/// `at` plus `secs` seconds, saturating at the latest time chrono represents: a client's
/// duration never panics or wraps (validated ranges keep it far from the edge anyway).
pub fn after_seconds(at: DateTime<Utc>, secs: u64) -> DateTime<Utc> {
    i64::try_from(secs)
        .ok()
        .and_then(chrono::Duration::try_seconds)
        .and_then(|d| at.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credits_per_started_minute() {
        let t = Utc::now();
        let s = |secs: i64| t + chrono::Duration::milliseconds(secs);
        assert_eq!(credits(t, t), 1);
        assert_eq!(credits(t, s(59_999)), 1);
        assert_eq!(credits(t, s(60_000)), 1);
        assert_eq!(credits(t, s(60_001)), 2);
        assert_eq!(credits(t, s(900_000)), 15);
    }

    #[test]
    fn finish_charges_once() {
        let now = Utc::now();
        let mut r = SessionRecord::new(
            "t",
            SessionOptions {
                max_ttl_seconds: 60,
                ..Default::default()
            },
            now,
        );
        assert!(r.finish(
            Status::Closed,
            reason::CLOSED,
            None,
            now + chrono::Duration::seconds(61)
        ));
        assert_eq!(r.billed_credits, 2);
        assert!(!r.finish(
            Status::Expired,
            reason::EXPIRED,
            None,
            now + chrono::Duration::seconds(600)
        ));
        assert_eq!((r.status, r.billed_credits), (Status::Closed, 2));
        assert_eq!(r.expires_in_seconds(now), 0);
    }
}

#[cfg(test)]
mod idle_tests {
    use super::*;

    #[test]
    fn idle_timeout_runs_from_the_last_action() {
        let t0 = Utc::now();
        let opts = SessionOptions {
            max_ttl_seconds: 900,
            idle_timeout_seconds: Some(60),
            ..Default::default()
        };
        let mut r = SessionRecord::new("t", opts, t0);
        assert_eq!(
            r.due(t0 + chrono::Duration::seconds(3600)),
            None,
            "not due before it started"
        );
        r.mark_started(t0);
        assert_eq!(r.due(t0 + chrono::Duration::seconds(59)), None);
        assert_eq!(
            r.due(t0 + chrono::Duration::seconds(60)),
            Some(reason::IDLE_TIMEOUT)
        );
        r.last_accessed_at = t0 + chrono::Duration::seconds(50);
        assert_eq!(
            r.due(t0 + chrono::Duration::seconds(100)),
            None,
            "an action resets the idle clock"
        );
        assert_eq!(
            r.due(t0 + chrono::Duration::seconds(900)),
            Some(reason::EXPIRED),
            "the TTL still holds"
        );
        r.count_action("snapshot", true);
        r.count_action("click", true);
        assert_eq!(r.steps(), 1, "observing is not a step");
    }

    #[test]
    fn extreme_durations_neither_panic_nor_wrap() {
        let t0 = Utc::now();
        let opts = SessionOptions {
            max_ttl_seconds: u64::MAX,
            idle_timeout_seconds: Some(u64::MAX),
            ..Default::default()
        };
        let mut r = SessionRecord::new("t", opts, t0);
        r.mark_started(t0);
        assert_eq!(r.expires_at, DateTime::<Utc>::MAX_UTC);
        assert_eq!(r.due(t0 + chrono::Duration::days(365)), None);
        assert!(r.expires_in_seconds(t0) > 0);
        assert_eq!(
            after_seconds(t0, i64::MAX as u64 / 2),
            DateTime::<Utc>::MAX_UTC
        );
    }
}
