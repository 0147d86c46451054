//! Strict configuration: a key the server does not know — in the TOML file or as a
//! `PAGEPILOT_*` variable — stops the start, naming the key and the nearest valid one. A typo
//! (`max_session_per_tenant = 3`) would otherwise be ignored silently and the default used.

use std::collections::BTreeSet;

use crate::config::Config;

/// `PAGEPILOT_*` variables that are not configuration keys: read by the `token` and `mcp`
/// commands, the test harness, the Playwright MCP bench and `dev.sh`.
const NOT_CONFIG: [&str; 6] = [
    "PAGEPILOT_CLIENT_SECRET",
    "PAGEPILOT_URL",
    "PAGEPILOT_TOKEN",
    "PAGEPILOT_TEST_VENV",
    "PAGEPILOT_PWMCP_DIR",
    "PAGEPILOT_CACHE",
];

/// Keys of an `[[external_issuers]]` entry.
const ISSUER_KEYS: [&str; 5] = [
    "issuer",
    "jwks_url",
    "audience",
    "tenant_claim",
    "tenant_prefix",
];

/// Every top-level key `Config` knows.
pub fn valid_keys() -> BTreeSet<String> {
    match serde_json::to_value(Config::default()) {
        Ok(serde_json::Value::Object(m)) => m.keys().cloned().collect(),
        _ => BTreeSet::new(),
    }
}

/// The valid key closest to `key`, if one is close enough to be a likely typo.
pub fn nearest<'a>(key: &str, valid: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    valid
        .into_iter()
        .map(|v| (strsim::jaro_winkler(key, v), v))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, v)| v)
}

fn unknown(what: &str, key: &str, valid: &BTreeSet<String>) -> String {
    match nearest(key, valid.iter().map(String::as_str)) {
        Some(n) => format!("unknown configuration key `{key}` {what}; did you mean `{n}`?"),
        None => {
            format!("unknown configuration key `{key}` {what}; `pagepilot config` prints every key")
        }
    }
}

/// Checks the TOML text of a config file (named `file` in errors).
pub fn check_file(text: &str, file: &str) -> Result<(), String> {
    let table: toml::Table =
        toml::from_str(text).map_err(|e| format!("config file {file} is not valid TOML: {e}"))?;
    let valid = valid_keys();
    for (key, value) in &table {
        if !valid.contains(key) {
            return Err(unknown(&format!("in {file}"), key, &valid));
        }
        if key == "external_issuers" {
            let issuer_keys: BTreeSet<String> = ISSUER_KEYS.iter().map(|k| k.to_string()).collect();
            for entry in value.as_array().into_iter().flatten() {
                for k in entry.as_table().into_iter().flat_map(|t| t.keys()) {
                    if !issuer_keys.contains(k) {
                        return Err(unknown(
                            &format!("in [[external_issuers]] of {file}"),
                            k,
                            &issuer_keys,
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

/// Checks the environment's `PAGEPILOT_*` variables.
pub fn check_env(vars: impl IntoIterator<Item = (String, String)>) -> Result<(), String> {
    let valid = valid_keys();
    for (name, _) in vars {
        let Some(rest) = name.strip_prefix("PAGEPILOT_") else {
            continue;
        };
        if NOT_CONFIG.contains(&name.as_str()) {
            continue;
        }
        let key = rest.to_ascii_lowercase();
        if !valid.contains(&key) {
            let upper: BTreeSet<String> = valid
                .iter()
                .map(|k| format!("PAGEPILOT_{}", k.to_ascii_uppercase()))
                .collect();
            return Err(unknown("in the environment", &name, &upper));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_is_named_with_the_nearest_key() {
        let e = check_file("max_session_per_tenant = 3\n", "pp.toml").unwrap_err();
        assert_eq!(
            e,
            "unknown configuration key `max_session_per_tenant` in pp.toml; did you mean `max_sessions_per_tenant`?"
        );
        let e = check_env([("PAGEPILOT_POOL_SIZ".to_string(), "3".to_string())]).unwrap_err();
        assert!(
            e.contains("`PAGEPILOT_POOL_SIZ`") && e.contains("`PAGEPILOT_POOL_SIZE`"),
            "{e}"
        );
        let e = check_file(
            "[[external_issuers]]\nissuer = \"x\"\njwks = \"y\"\n",
            "pp.toml",
        )
        .unwrap_err();
        assert!(e.contains("`jwks`") && e.contains("`jwks_url`"), "{e}");
        let e = check_file("zzz = 1\n", "pp.toml").unwrap_err();
        assert!(e.contains("`zzz`") && !e.contains("did you mean"), "{e}");
    }

    #[test]
    fn the_example_file_has_every_key_with_its_default() {
        let text = include_str!("../pagepilot.example.toml");
        check_file(text, "pagepilot.example.toml").unwrap();
        for key in valid_keys() {
            let set = text.lines().any(|l| {
                let l = l.trim_start_matches("# ").trim_start();
                l.starts_with(&format!("{key} =")) || l.starts_with(&format!("[[{key}]]"))
            });
            assert!(set, "pagepilot.example.toml lacks `{key}`");
        }
        // Its values are the embedded defaults (the state dir, which depends on $HOME, aside).
        let example: Config = toml::from_str(text).unwrap();
        let mut want = serde_json::to_value(Config::default()).unwrap();
        let mut got = serde_json::to_value(example).unwrap();
        for v in [&mut want, &mut got] {
            if let Some(m) = v.as_object_mut() {
                m.remove("state_dir");
                m.remove("chromium");
            }
        }
        assert_eq!(got, want);
    }

    #[test]
    fn known_keys_and_other_tools_variables_pass() {
        check_file("port = 9000\nmax_sessions = 3\n", "pp.toml").unwrap();
        check_env([
            ("PAGEPILOT_PORT".to_string(), "1".to_string()),
            ("PAGEPILOT_TEST_VENV".to_string(), "/x".to_string()),
            ("HOME".to_string(), "/root".to_string()),
        ])
        .unwrap();
    }
}
