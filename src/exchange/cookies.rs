//! Seed 004's Cookie shape, read from `Set-Cookie` headers and turned into jar entries.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SameSite {
    Lax,
    Strict,
    None,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cookie {
    pub name: String,
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_only: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secure: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_site: Option<SameSite>,
}

impl Cookie {
    /// A cookie a client may send: a token name, a value without separators, a real date.
    pub fn check(&self) -> Result<(), String> {
        let name_ok = !self.name.is_empty()
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b));
        if !name_ok {
            return Err(format!("name: `{}` is not a valid cookie name", self.name));
        }
        if self
            .value
            .bytes()
            .any(|b| b == b';' || b.is_ascii_control())
        {
            return Err(format!(
                "value: the value of `{}` holds `;` or a control character",
                self.name
            ));
        }
        if let Some(e) = &self.expires {
            DateTime::parse_from_rfc3339(e)
                .map_err(|err| format!("expires: `{e}` is not an RFC 3339 date-time ({err})"))?;
        }
        Ok(())
    }

    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.expires
            .as_deref()
            .and_then(|e| DateTime::parse_from_rfc3339(e).ok())
            .map(|d| d.with_timezone(&Utc))
    }

    /// Reads one `Set-Cookie` header value (a hostile site's: any Max-Age or date is taken
    /// without panicking); `None` if it is not a cookie.
    pub fn from_set_cookie(header: &str) -> Option<Cookie> {
        let raw = cookie_store::RawCookie::parse(header.to_string()).ok()?;
        let expires = match (raw.max_age(), raw.expires_datetime()) {
            (Some(age), _) => Some(after_max_age(Utc::now(), age.whole_seconds())),
            (None, Some(at)) => DateTime::<Utc>::from_timestamp(at.unix_timestamp(), 0)
                .map(|t| t.min(latest_expiry())),
            (None, None) => None,
        };
        Some(Cookie {
            name: raw.name().to_string(),
            value: raw.value().to_string(),
            domain: raw.domain().map(str::to_string),
            path: raw.path().map(str::to_string),
            expires: expires.map(|e| e.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            http_only: raw.http_only(),
            secure: raw.secure(),
            same_site: raw.same_site().map(|s| match s.to_string().as_str() {
                "Strict" => SameSite::Strict,
                "None" => SameSite::None,
                _ => SameSite::Lax,
            }),
        })
    }

    /// The `Set-Cookie` form, for putting a client's cookie into a jar.
    pub fn to_set_cookie(&self) -> String {
        let mut s = format!("{}={}", self.name, self.value);
        if let Some(d) = &self.domain {
            s.push_str(&format!("; Domain={d}"));
        }
        s.push_str(&format!("; Path={}", self.path.as_deref().unwrap_or("/")));
        if let Some(e) = self.expires_at() {
            s.push_str(&format!(
                "; Expires={}",
                e.format("%a, %d %b %Y %H:%M:%S GMT")
            ));
        }
        if self.http_only == Some(true) {
            s.push_str("; HttpOnly");
        }
        if self.secure == Some(true) {
            s.push_str("; Secure");
        }
        if let Some(ss) = self.same_site {
            s.push_str(match ss {
                SameSite::Lax => "; SameSite=Lax",
                SameSite::Strict => "; SameSite=Strict",
                SameSite::None => "; SameSite=None",
            });
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_cookie_round_trip() {
        let c = Cookie::from_set_cookie(
            "sid=abc; Path=/app; Domain=example.com; HttpOnly; Secure; SameSite=Strict; Max-Age=60",
        )
        .expect("parses");
        assert_eq!(c.name, "sid");
        assert_eq!(c.value, "abc");
        assert_eq!(c.path.as_deref(), Some("/app"));
        assert_eq!(c.domain.as_deref(), Some("example.com"));
        assert_eq!(c.http_only, Some(true));
        assert_eq!(c.secure, Some(true));
        assert_eq!(c.same_site, Some(SameSite::Strict));
        assert!(c.expires_at().is_some_and(|e| e > Utc::now()));
        let again = Cookie::from_set_cookie(&c.to_set_cookie()).expect("parses back");
        assert_eq!(again.name, c.name);
        assert_eq!(again.path, c.path);
        assert!(Cookie::from_set_cookie("no-equals-sign").is_none());
    }

    #[test]
    fn bad_cookies_name_the_field() {
        let c = |name: &str, value: &str| Cookie {
            name: name.into(),
            value: value.into(),
            ..Default::default()
        };
        assert!(c("a b", "v").check().unwrap_err().starts_with("name:"));
        assert!(c("a", "x;y").check().unwrap_err().starts_with("value:"));
        let mut late = c("a", "v");
        late.expires = Some("tomorrow".into());
        assert!(late.check().unwrap_err().starts_with("expires:"));
    }
}

/// The latest expiry a cookie is reported with (RFC 6265's clients cap dates the same way);
/// wire dates stay four-digit years.
fn latest_expiry() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(253_402_300_799, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// `now` plus a cookie's Max-Age in seconds, within [now - ..., latest_expiry()].
fn after_max_age(now: DateTime<Utc>, secs: i64) -> DateTime<Utc> {
    if secs <= 0 {
        // RFC 6265 5.2.2: a non-positive Max-Age expires the cookie at once.
        return DateTime::<Utc>::UNIX_EPOCH;
    }
    chrono::Duration::try_seconds(secs)
        .and_then(|d| now.checked_add_signed(d))
        .map_or(latest_expiry(), |t| t.min(latest_expiry()))
}

#[cfg(test)]
mod hostile_tests {
    use super::*;

    #[test]
    fn huge_and_odd_max_ages_do_not_panic() {
        for h in [
            "a=b; Max-Age=99999999999999",
            "a=b; Max-Age=9223372036854775807",
            "a=b; Max-Age=-9223372036854775808",
            "a=b; Max-Age=0",
            "a=b; Expires=Fri, 31 Dec 9999 23:59:59 GMT",
        ] {
            let c = Cookie::from_set_cookie(h).expect(h);
            assert!(
                c.expires.as_deref().is_some_and(|e| e.len() <= 20),
                "{h}: {:?}",
                c.expires
            );
        }
    }
}
