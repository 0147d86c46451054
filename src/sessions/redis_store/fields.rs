//! A session record as a Redis hash: counters are their own fields so Lua can bump them
//! atomically (`n`, `ok`, `err`, `k:<kind>:ok`, `k:<kind>:err`), times are epoch milliseconds.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use crate::sessions::record::{Counts, SessionRecord, Status};

fn ms(t: DateTime<Utc>) -> String {
    t.timestamp_millis().to_string()
}

fn time(v: Option<&String>) -> Option<DateTime<Utc>> {
    v.and_then(|s| s.parse::<i64>().ok())
        .and_then(DateTime::<Utc>::from_timestamp_millis)
}

/// The fields a new record is written with.
pub fn to_fields(r: &SessionRecord) -> Vec<(String, String)> {
    let mut f = vec![
        ("id".into(), r.id.clone()),
        ("tenant".into(), r.tenant.clone()),
        ("status".into(), r.status.label().into()),
        ("created".into(), ms(r.created_at)),
        ("expires".into(), ms(r.expires_at)),
        ("last".into(), ms(r.last_accessed_at)),
        ("credits".into(), r.billed_credits.to_string()),
        ("n".into(), r.actions.total.to_string()),
        ("ok".into(), r.actions.success.to_string()),
        ("err".into(), r.actions.error.to_string()),
        (
            "options".into(),
            serde_json::to_string(&r.options).unwrap_or_default(),
        ),
    ];
    if let Some(o) = &r.owner {
        f.push(("owner".into(), o.clone()));
    }
    if let Some(a) = &r.api {
        f.push(("api".into(), a.clone()));
    }
    if let Some(t) = r.started_at {
        f.push(("started".into(), ms(t)));
    }
    f
}

/// Rebuilds a record from its hash; `None` for an empty (missing) hash.
pub fn from_fields(h: &HashMap<String, String>) -> Option<SessionRecord> {
    let id = h.get("id")?.clone();
    let num = |k: &str| h.get(k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    let text = |k: &str| h.get(k).filter(|v| !v.is_empty()).cloned();
    let status = match h.get("status").map(String::as_str) {
        Some("active") => Status::Active,
        Some("closed") => Status::Closed,
        Some("expired") => Status::Expired,
        _ => Status::Error,
    };
    let mut breakdown: BTreeMap<String, Counts> = BTreeMap::new();
    for (k, v) in h {
        let Some(rest) = k.strip_prefix("k:") else {
            continue;
        };
        let Some((kind, outcome)) = rest.rsplit_once(':') else {
            continue;
        };
        let n = v.parse::<u64>().unwrap_or(0);
        let c = breakdown.entry(kind.to_string()).or_default();
        c.total += n;
        if outcome == "ok" {
            c.success += n;
        } else {
            c.error += n;
        }
    }
    let created_at = time(h.get("created"))?;
    Some(SessionRecord {
        id,
        tenant: h.get("tenant")?.clone(),
        owner: text("owner"),
        status,
        api: text("api"),
        close_reason: text("close_reason"),
        error: text("error"),
        created_at,
        started_at: time(h.get("started")),
        expires_at: time(h.get("expires")).unwrap_or(created_at),
        closed_at: time(h.get("closed")),
        last_accessed_at: time(h.get("last")).unwrap_or(created_at),
        billed_credits: num("credits"),
        actions: Counts {
            total: num("n"),
            success: num("ok"),
            error: num("err"),
        },
        action_breakdown: breakdown,
        options: h
            .get("options")
            .and_then(|o| serde_json::from_str(o).ok())
            .unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sessions::record::SessionOptions;

    #[test]
    fn round_trip() {
        let opts = SessionOptions {
            max_ttl_seconds: 60,
            client: Some("standard".into()),
            ..Default::default()
        };
        let mut r = SessionRecord::new("acme", opts, Utc::now());
        r.owner = Some("i-1".into());
        r.mark_started(Utc::now());
        let mut h: HashMap<String, String> = to_fields(&r).into_iter().collect();
        h.insert("n".into(), "3".into());
        h.insert("ok".into(), "2".into());
        h.insert("err".into(), "1".into());
        h.insert("k:goto:ok".into(), "2".into());
        h.insert("k:click:err".into(), "1".into());
        let back = from_fields(&h).expect("a record");
        assert_eq!(back.id, r.id);
        assert_eq!(back.owner.as_deref(), Some("i-1"));
        assert_eq!(back.options, r.options);
        assert_eq!(back.actions.total, 3);
        assert_eq!(back.action_breakdown["goto"].success, 2);
        assert_eq!(back.action_breakdown["click"].error, 1);
        assert_eq!(
            back.expires_at.timestamp_millis(),
            r.expires_at.timestamp_millis()
        );
        assert!(from_fields(&HashMap::new()).is_none());
    }
}
