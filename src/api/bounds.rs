//! Range checks for the numbers clients send, shared by every protocol: each answer names the
//! field (as the protocol spells it) and the allowed range, so a client can fix its request.

/// The longest duration any client may ask for, in minutes (a year). Durations past the
/// operator's own caps (e.g. `max_ttl_seconds`) are then capped, as each protocol documents;
/// this bound only keeps every later time computation far from overflowing.
pub const MAX_MINUTES: i64 = 525_600;

/// Sessions in one list answer when the client names no size.
pub const DEFAULT_PAGE_SIZE: usize = 100;

/// A list's page size as `field` names it: 1..[`MAX_PAGE_SIZE`](crate::sessions::MAX_PAGE_SIZE),
/// default [`DEFAULT_PAGE_SIZE`].
pub fn page_size(field: &str, v: Option<i64>) -> Result<usize, String> {
    let max = i64::try_from(crate::sessions::MAX_PAGE_SIZE).unwrap_or(i64::MAX);
    Ok(opt_int_in(field, v, 1, max)?
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(DEFAULT_PAGE_SIZE))
}

/// `v` when `min <= v <= max`; otherwise a message naming `field` and the range.
pub fn int_in(field: &str, v: i64, min: i64, max: i64) -> Result<u64, String> {
    if (min..=max).contains(&v) {
        // min >= 0 at every call site, so the value is non-negative.
        u64::try_from(v).map_err(|_| range_message(field, v, min, max))
    } else {
        Err(range_message(field, v, min, max))
    }
}

/// An optional field, checked when present.
pub fn opt_int_in(field: &str, v: Option<i64>, min: i64, max: i64) -> Result<Option<u64>, String> {
    v.map(|n| int_in(field, n, min, max)).transpose()
}

fn range_message(field: &str, v: i64, min: i64, max: i64) -> String {
    format!("{field} must be between {min} and {max}, got {v}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extremes_are_named() {
        assert_eq!(int_in("a", 5, 1, 10), Ok(5));
        let e = int_in("idle_timeout_minutes", i64::MAX, 1, MAX_MINUTES).unwrap_err();
        assert!(
            e.contains("idle_timeout_minutes") && e.contains("525600"),
            "{e}"
        );
        assert!(int_in("a", -1, 0, 10).is_err());
        assert!(int_in("a", 0, 1, 10).is_err());
        assert_eq!(opt_int_in("a", None, 1, 2), Ok(None));
    }
}
