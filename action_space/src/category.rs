//! A deterministic guess of what kind of page this is, and a one-line summary of it.

use crate::snapshot::Snapshot;
use crate::space::{kind_of, Kind};

/// Whether an action's name (lowercased) contains one of `words`.
fn any_name(names: &[String], words: &[&str]) -> bool {
    names
        .iter()
        .any(|name| words.iter().any(|w| name.contains(w)))
}

/// One of auth, search-results, form, item, data-feed, manage-cookies, overlay, payment,
/// captcha, homepage, other — the first rule that matches, in that order of precedence.
pub fn guess(s: &Snapshot) -> &'static str {
    let url = s.url.to_lowercase();
    let title = s.title.to_lowercase();
    let text_inputs = s.nodes.iter().filter(|n| kind_of(n) == Kind::Fill).count();
    let links = s.nodes.iter().filter(|n| n.role == "link").count();
    // Lowercased once: the rules below ask about names four times (5,000 on a large page).
    let names: Vec<String> = s.nodes.iter().map(|n| n.name.to_lowercase()).collect();
    if title.contains("captcha")
        || url.contains("captcha")
        || any_name(&names, &["i'm not a robot", "captcha"])
    {
        return "captcha";
    }
    if any_name(
        &names,
        &[
            "accept cookies",
            "accept all",
            "reject all",
            "cookie settings",
            "cookie preferences",
        ],
    ) {
        return "manage-cookies";
    }
    if s.nodes.iter().any(|n| {
        n.autocomplete
            .as_deref()
            .is_some_and(|a| a.starts_with("cc-"))
    }) || any_name(
        &names,
        &["card number", "cvv", "cvc", "expiry", "expiration date"],
    ) {
        return "payment";
    }
    if s.counts.passwords > 0
        || ["/login", "/signin", "/sign-in", "/auth"]
            .iter()
            .any(|p| url.contains(p))
    {
        return "auth";
    }
    if s.counts.dialogs > 0 && s.nodes.iter().any(|n| n.context.starts_with("dialog")) {
        return "overlay";
    }
    if ["?q=", "&q=", "search=", "query=", "/search"]
        .iter()
        .any(|p| url.contains(p))
        && links >= 3
    {
        return "search-results";
    }
    if any_name(
        &names,
        &["add to cart", "add to basket", "buy now", "add to bag"],
    ) {
        return "item";
    }
    if s.counts.forms > 0 && text_inputs >= 2 {
        return "form";
    }
    if links >= 40 {
        return "data-feed";
    }
    let path = url
        .split("://")
        .nth(1)
        .and_then(|r| r.split_once('/'))
        .map(|(_, p)| p)
        .unwrap_or("");
    if path.is_empty() || path == "index.html" || path.starts_with('?') || path.starts_with('#') {
        return "homepage";
    }
    "other"
}

/// `Page "Login" (auth): 5 actions — 2 inputs, 1 button, 2 links. <meta description>`
pub fn describe(s: &Snapshot, category: &str) -> String {
    let mut kinds = [0usize; 4];
    let mut links = 0;
    for n in &s.nodes {
        if n.role == "link" {
            links += 1;
            continue;
        }
        kinds[kind_of(n) as usize] += 1;
    }
    let mut parts = Vec::new();
    for (count, what) in [
        (kinds[Kind::Fill as usize], "inputs"),
        (kinds[Kind::SelectDropdownOption as usize], "dropdowns"),
        (kinds[Kind::Check as usize], "checkboxes/radios"),
        (kinds[Kind::Click as usize], "buttons/clickables"),
        (links, "links"),
    ] {
        if count > 0 {
            parts.push(format!("{count} {what}"));
        }
    }
    let title = if s.title.is_empty() {
        s.url.as_str()
    } else {
        s.title.as_str()
    };
    let mut d = format!("Page \"{title}\" ({category}): {} actions", s.nodes.len());
    if !parts.is_empty() {
        d.push_str(" — ");
        d.push_str(&parts.join(", "));
    }
    d.push('.');
    if !s.description.is_empty() {
        d.push(' ');
        d.push_str(&s.description);
    }
    d
}
