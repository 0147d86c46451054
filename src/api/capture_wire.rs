//! The Capture protocol's answer types (seed 000's session object and its envelopes), as
//! serialised and as described in the OpenAPI document.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::sessions::record::Counts;
use crate::sessions::{SessionOptions, SessionRecord, Status};

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A session as Capture shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub id: String,
    /// active, closed, expired or error.
    #[schema(value_type = String)]
    pub status: Status,
    pub close_reason: Option<String>,
    pub created_at: String,
    pub started_at: Option<String>,
    pub expires_at: String,
    pub closed_at: Option<String>,
    pub duration_seconds: u64,
    pub billed_credits: u64,
    pub action_count: u64,
    pub action_success_count: u64,
    pub action_error_count: u64,
    /// Per action type: `{total, success, error}`.
    #[schema(value_type = Object)]
    pub action_breakdown: BTreeMap<String, Counts>,
    #[schema(value_type = Object)]
    pub options: SessionOptions,
    /// What ended it, when `status` is `error`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The create answer also has the options flat on the session (WIRE.md):
    /// `maxTtlSeconds`, `proxy`, `bypassBotDetection`, `cdp`. (Left out of the schema: an
    /// optional flattened struct has no faithful JSON Schema form there.)
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    #[schema(ignore)]
    pub created_with: Option<CreatedWith>,
}

/// The options a create answer repeats on the session object.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedWith {
    pub max_ttl_seconds: u64,
    pub proxy: bool,
    pub bypass_bot_detection: bool,
    pub cdp: bool,
}

impl Session {
    pub fn of(r: &SessionRecord, now: DateTime<Utc>) -> Self {
        Session {
            id: r.id.clone(),
            status: r.status,
            close_reason: r.close_reason.clone(),
            created_at: stamp(r.created_at),
            started_at: r.started_at.map(stamp),
            expires_at: stamp(r.expires_at),
            closed_at: r.closed_at.map(stamp),
            duration_seconds: r.duration_seconds(now),
            billed_credits: r.billed_credits,
            action_count: r.actions.total,
            action_success_count: r.actions.success,
            action_error_count: r.actions.error,
            action_breakdown: r.action_breakdown.clone(),
            options: r.options.clone(),
            error: if r.status == Status::Error {
                r.error.clone()
            } else {
                None
            },
            created_with: None,
        }
    }
}

/// The answer about one session: create, read, close.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionAnswer {
    pub success: bool,
    pub session: Session,
    pub expires_in_seconds: u64,
}

/// `GET /v1/sessions`: a page of the tenant's sessions, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionList {
    pub success: bool,
    pub sessions: Vec<Session>,
    pub active_session_count: usize,
    pub max_concurrent_sessions: usize,
    pub total: usize,
    /// The offset of the next page, or null on the last.
    pub next_offset: Option<usize>,
}
