//! Seed 004's user-agent keywords and what each one sends.

use rand::seq::IndexedRandom;

/// Our own crawler identity, the `standard` client's default (seed 004's `inndx`).
pub const INNDX: &str = "Mozilla/5.0 (compatible; inndx/1.0; +pagepilot)";
pub const CHROME: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
pub const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
pub const SAFARI: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15";

/// A keyword's user agent (`random` picks one of the three browsers'), or the string itself.
pub fn resolve(keyword_or_literal: &str) -> String {
    match keyword_or_literal.trim().to_ascii_lowercase().as_str() {
        "inndx" => INNDX.into(),
        "chrome" => CHROME.into(),
        "firefox" => FIREFOX.into(),
        "safari" => SAFARI.into(),
        "random" => [CHROME, FIREFOX, SAFARI]
            .choose(&mut rand::rng())
            .copied()
            .unwrap_or(CHROME)
            .into(),
        _ => keyword_or_literal.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_and_literals() {
        assert_eq!(resolve("inndx"), INNDX);
        assert_eq!(resolve("Chrome"), CHROME);
        assert!([CHROME, FIREFOX, SAFARI].contains(&resolve("random").as_str()));
        assert_eq!(resolve("my-bot/2"), "my-bot/2");
    }
}
