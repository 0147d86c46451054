//! The action space on fixture pages: what must and must not be an action, ids that stay
//! stable and are never reused, stale ids refused, and a multi-step flow solved by ids only.

mod common;

use common::{Fixtures, Pp, ALICE};
use serde_json::{json, Value};

async fn snapshot(pp: &Pp, id: &str) -> Value {
    pp.ok(ALICE, id, "snapshot", json!({ "maxNbActions": 500 }))
        .await
}

/// The action whose description starts with `name` (the accessible name comes first).
fn find<'a>(snap: &'a Value, name: &str) -> Option<&'a Value> {
    snap["actions"].as_array()?.iter().find(|a| {
        a["description"]
            .as_str()
            .is_some_and(|d| d.starts_with(name))
    })
}

/// Steps on the action named `name` in the snapshot `snap`, with `value`.
async fn step_on(pp: &Pp, id: &str, snap: &Value, name: &str, value: Value) -> Value {
    let body = json!({ "id": id_of(snap, name), "value": value });
    pp.ok(ALICE, id, "step", body).await
}

/// What the fixture's `#said` status line says now (Capture's query).
async fn said(pp: &Pp, id: &str) -> String {
    let (_, v) = pp
        .act(
            ALICE,
            id,
            "query",
            json!({ "selector": "#said", "fields": ["text"] }),
        )
        .await;
    v.to_string()
}

/// The description of the action named `name`, or "" when there is none.
fn description<'a>(snap: &'a Value, name: &str) -> &'a str {
    find(snap, name)
        .and_then(|a| a["description"].as_str())
        .unwrap_or_default()
}

fn id_of(snap: &Value, name: &str) -> String {
    find(snap, name)
        .and_then(|a| a["id"].as_str())
        .map(str::to_string)
        .unwrap_or_else(|| {
            panic!(
                "no action named {name:?} in:\n{}",
                snap["markdown"].as_str().unwrap_or_default()
            )
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_is_and_is_not_an_action() {
    let fx = Fixtures::start().await;
    let pp = Pp::default().await;
    let id = pp
        .session_at(
            ALICE,
            json!({ "url": fx.url("/agent/widgets.html"), "waitUntil": "load" }),
        )
        .await;
    let s = snapshot(&pp, &id).await;
    let md = s["markdown"].as_str().unwrap();

    // (name, id prefix, type)
    let must = [
        ("Home", "L", "click"),
        ("Role button", "B", "click"),
        ("Clickable div", "M", "click"),
        ("Pointer card", "M", "click"),
        ("Focusable div", "M", "click"),
        ("Edit me", "I", "fill"),
        ("Fancy checkbox", "B", "check"),
        ("Disabled button", "B", "click"),
        ("Text", "I", "fill"),
        ("Email address", "I", "fill"),
        ("Password", "I", "fill"),
        ("Number", "I", "fill"),
        ("Birthday", "I", "fill"),
        ("Search", "I", "fill"),
        ("Phone", "I", "fill"),
        ("Website", "I", "fill"),
        ("Volume", "I", "fill"),
        ("Colour", "I", "fill"),
        ("Bio", "I", "fill"),
        ("Country", "I", "select_dropdown_option"),
        ("Free", "B", "check"),
        ("Pro", "B", "check"),
        ("Newsletter", "B", "check"),
        ("Terms", "B", "check"),
        ("Save", "B", "click"),
        ("Inside frame", "B", "click"),
        ("Shadow button", "B", "click"),
        ("Far link", "L", "click"),
    ];
    for (name, prefix, kind) in must {
        let a = find(&s, name).unwrap_or_else(|| panic!("{name} must be an action:\n{md}"));
        assert!(a["id"].as_str().unwrap().starts_with(prefix), "{name}: {a}");
        assert_eq!(a["type"], kind, "{name}: {a}");
    }
    for name in [
        "inner span",
        "Display none",
        "Visibility hidden",
        "Opacity zero",
        "Zero size",
        "No pointer events",
        "Hidden by parent",
        "Under overlay",
        "secret",
    ] {
        assert!(
            find(&s, name).is_none(),
            "{name} must not be an action:\n{md}"
        );
    }
    // Off-screen actions are kept and flagged; disabled ones are marked.
    assert_eq!(find(&s, "Far link").unwrap()["inViewport"], false);
    assert!(
        md.contains("Far link — link → ") && md.contains("(off-screen)"),
        "{md}"
    );
    assert_eq!(find(&s, "Disabled button").unwrap()["disabled"], true);
    assert!(find(&s, "Inside frame").unwrap()["description"]
        .as_str()
        .unwrap()
        .contains("(in iframe)"));
    // Descriptions carry what an agent needs.
    let email = find(&s, "Email address").unwrap()["description"]
        .as_str()
        .unwrap();
    assert!(
        email.contains("email input") && email.contains("placeholder \"you@example.com\""),
        "{email}"
    );
    let country = find(&s, "Country").unwrap();
    assert!(
        country["description"]
            .as_str()
            .unwrap()
            .starts_with("Country — dropdown"),
        "a label's name leaves out its select's options: {country}"
    );
    assert!(
        country["description"]
            .as_str()
            .unwrap()
            .contains("\"France\" \"Germany\" \"Japan\""),
        "{country}"
    );
    assert_eq!(
        country["params"][0]["values"],
        json!(["France", "Germany", "Japan"])
    );
    assert!(find(&s, "Terms").unwrap()["description"]
        .as_str()
        .unwrap()
        .ends_with("checked"));
    // Grouped under headings, landmarks and forms.
    assert_eq!(find(&s, "Home").unwrap()["category"], "navigation: Main");
    assert_eq!(
        find(&s, "Role button").unwrap()["category"],
        "Custom controls"
    );
    assert_eq!(
        find(&s, "Email address").unwrap()["category"],
        "form: All inputs"
    );
    assert!(md.contains("## form: All inputs"), "{md}");
    assert_eq!(
        s["category"], "auth",
        "a password field makes it an auth page"
    );
    pp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steps_by_id_and_id_stability() {
    let fx = Fixtures::start().await;
    let pp = Pp::default().await;
    let id = pp
        .session_at(
            ALICE,
            json!({ "url": fx.url("/agent/widgets.html"), "waitUntil": "load" }),
        )
        .await;
    let first = snapshot(&pp, &id).await;
    let again = snapshot(&pp, &id).await;
    assert_eq!(
        first["actions"], again["actions"],
        "the same page observed twice: the same ids"
    );

    // Steps by id, each kind doing its own thing.
    let step = |action: &str, value: Value| json!({ "id": action, "value": value });
    step_on(&pp, &id, &first, "Clickable div", Value::Null).await;
    assert_eq!(pp.text(ALICE, &id, "#oc-state").await, "clicked");
    for (name, value) in [
        ("Email address", json!("ada@example.com")),
        ("Edit me", json!("Edited text")),
        ("Country", json!("Japan")),
        ("Newsletter", json!(true)),
        ("Pro", Value::Null),
        ("Fancy checkbox", json!(true)),
        ("Inside frame", Value::Null),
        ("Shadow button", Value::Null),
    ] {
        pp.ok(ALICE, &id, "step", step(&id_of(&first, name), value))
            .await;
    }
    let q = |sel: &str| json!({ "selector": sel, "fields": ["value", "text"] });
    assert_eq!(
        pp.ok(ALICE, &id, "query", q("#t-email")).await["elements"][0]["value"],
        "ada@example.com"
    );
    assert_eq!(
        pp.ok(ALICE, &id, "query", q("#t-select")).await["elements"][0]["value"],
        "jp"
    );
    assert_eq!(pp.text(ALICE, &id, "#ce").await, "Edited text");
    let s = snapshot(&pp, &id).await;
    assert!(find(&s, "Newsletter").unwrap()["description"]
        .as_str()
        .unwrap()
        .ends_with(", checked"));
    assert!(find(&s, "Pro").unwrap()["description"]
        .as_str()
        .unwrap()
        .ends_with(", checked"));
    assert!(find(&s, "Free").unwrap()["description"]
        .as_str()
        .unwrap()
        .ends_with(", unchecked"));
    assert!(find(&s, "Fancy checkbox").unwrap()["description"]
        .as_str()
        .unwrap()
        .ends_with(", checked"));
    assert!(
        find(&s, "Shadow clicked").is_some(),
        "the shadow button was clicked"
    );
    assert!(
        find(&s, "Frame clicked").is_some(),
        "the iframe button was clicked"
    );
    // A bare step on a text field clicks it (issue 11: focusing a field is a normal act).
    let (status, v) = pp
        .act(
            ALICE,
            &id,
            "step",
            step(&id_of(&first, "Email address"), Value::Null),
        )
        .await;
    assert_eq!((status, v["focused"].clone()), (200, json!(true)), "{v}");
    // Values the kind cannot take are refused clearly.
    let (status, v) = pp
        .act(
            ALICE,
            &id,
            "step",
            json!({ "id": id_of(&first, "Email address"), "type": "fill" }),
        )
        .await;
    assert_eq!(status, 400, "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("give a `value`"),
        "{v}"
    );

    // New elements get new numbers; ids are never reused; a removed element's id is stale.
    let doomed = id_of(&first, "Doomed button");
    step_on(&pp, &id, &first, "Add a button", Value::Null).await;
    step_on(&pp, &id, &first, "Remove doomed", Value::Null).await;
    let after = snapshot(&pp, &id).await;
    let added = id_of(&after, "Added 1");
    let max_before = first["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["id"].as_str()?.strip_prefix('B')?.parse::<u32>().ok())
        .max()
        .unwrap();
    assert!(
        added.strip_prefix('B').unwrap().parse::<u32>().unwrap() > max_before,
        "{added} after B{max_before}"
    );
    assert!(find(&after, "Doomed button").is_none());
    assert_eq!(
        id_of(&after, "Role button"),
        id_of(&first, "Role button"),
        "ids survive other changes"
    );
    let (status, v) = pp.act(ALICE, &id, "step", step(&doomed, Value::Null)).await;
    assert_eq!(status, 400, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("stale action id, observe again"),
        "{v}"
    );
    let (status, v) = pp.act(ALICE, &id, "step", step("B9999", Value::Null)).await;
    assert_eq!(status, 400, "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("observe again"),
        "{v}"
    );

    // A cross-document navigation starts afresh: old ids are stale, numbering restarts.
    let role_button = id_of(&first, "Role button");
    pp.ok(
        ALICE,
        &id,
        "goto",
        json!({ "url": fx.url("/agent/login.html") }),
    )
    .await;
    let (status, v) = pp
        .act(ALICE, &id, "step", step(&role_button, Value::Null))
        .await;
    assert_eq!(status, 400, "an id of the previous document: {v}");
    let login = snapshot(&pp, &id).await;
    assert_eq!(id_of(&login, "Email address"), "I1");
    assert_eq!(id_of(&login, "Sign in"), "B1");
    pp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_step_flow_by_ids_only() {
    let fx = Fixtures::start().await;
    let pp = Pp::default().await;
    let id = pp
        .session_at(ALICE, json!({ "url": fx.url("/agent/login.html") }))
        .await;
    let step = |action: String, value: Value| json!({ "id": action, "value": value });

    // Log in.
    let s = snapshot(&pp, &id).await;
    assert_eq!(s["category"], "auth");
    step_on(&pp, &id, &s, "Email address", json!("ada@example.com")).await;
    step_on(&pp, &id, &s, "Password", json!("hunter2")).await;
    let v = pp
        .ok(ALICE, &id, "step", step(id_of(&s, "Sign in"), Value::Null))
        .await;
    assert!(
        v["url"].as_str().unwrap().contains("/agent/search.html"),
        "{v}"
    );

    // Search, submitting with Enter.
    let s = snapshot(&pp, &id).await;
    let search = id_of(&s, "Search products");
    let v = pp
        .ok(
            ALICE,
            &id,
            "step",
            json!({ "id": search, "value": "mug", "enter": true }),
        )
        .await;
    assert!(v["url"].as_str().unwrap().contains("q=mug"), "{v}");

    // Open an item from the results.
    let s = snapshot(&pp, &id).await;
    assert!(
        find(&s, "Desk lamp").is_none(),
        "filtered out by the search"
    );
    step_on(&pp, &id, &s, "Blue mug", Value::Null).await;

    // Fill the order form and submit.
    let s = snapshot(&pp, &id).await;
    assert_eq!(s["title"], "Blue mug — Fixture shop");
    step_on(&pp, &id, &s, "Full name", json!("Ada Lovelace")).await;
    step_on(&pp, &id, &s, "Delivery address", json!("12 Analytical Row")).await;
    step_on(&pp, &id, &s, "Quantity", json!("2")).await;
    step_on(&pp, &id, &s, "Gift wrap", json!(true)).await;
    let v = pp
        .ok(
            ALICE,
            &id,
            "step",
            step(id_of(&s, "Place order"), Value::Null),
        )
        .await;
    assert!(
        v["url"].as_str().unwrap().contains("/agent/done.html"),
        "{v}"
    );
    let order = pp.text(ALICE, &id, "#order").await;
    for part in [
        "item=2",
        "user=ada@example.com",
        "fullname=Ada Lovelace",
        "address=12 Analytical Row",
        "qty=2",
        "gift=on",
    ] {
        assert!(order.contains(part), "{part} missing from {order}");
    }
    pp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_pages_are_capped_viewport_first_and_say_so() {
    let fx = Fixtures::start().await;
    let pp = Pp::default().await;
    let id = pp
        .session_at(
            ALICE,
            json!({ "url": fx.url("/agent/big.html?n=5000"), "waitUntil": "load" }),
        )
        .await;
    let s = pp
        .ok(ALICE, &id, "snapshot", json!({ "maxNbActions": 100 }))
        .await;
    let actions = s["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 100);
    assert!(
        actions.iter().all(|a| a["inViewport"] == true),
        "viewport first"
    );
    assert_eq!(s["omitted"], 4900);
    let md = s["markdown"].as_str().unwrap();
    assert!(
        md.contains("… 4900 more actions not listed"),
        "{}",
        &md[md.len().saturating_sub(300)..]
    );
    assert!(
        s["description"].as_str().unwrap().contains("5000 actions"),
        "{}",
        s["description"]
    );
    // An unlisted off-screen id (a light record) can still be stepped on: the last button.
    let v = pp.ok(ALICE, &id, "step", json!({ "id": "B1667" })).await;
    assert_eq!(v["elementText"], "Button 4998", "{v}");
    // An explicit count is honoured, whatever the page's size: every action is listed.
    let s = pp
        .ok(ALICE, &id, "snapshot", json!({ "maxNbActions": 100000 }))
        .await;
    assert_eq!(s["actions"].as_array().unwrap().len(), 5000);
    assert_eq!(s["omitted"], 0);
    // A character budget cuts the listing, and what is cut is still said.
    let s = pp
        .ok(
            ALICE,
            &id,
            "snapshot",
            json!({ "maxNbActions": 5000, "maxChars": 20000, "pageContent": true }),
        )
        .await;
    let listed = s["actions"].as_array().unwrap().len();
    assert!(listed > 100 && listed < 5000, "{listed}");
    assert_eq!(s["omitted"].as_u64().unwrap() as usize, 5000 - listed);
    let md = s["markdown"].as_str().unwrap();
    assert!(md.chars().count() <= 20_000, "{}", md.chars().count());
    assert!(md.contains(&format!("… {} more actions not listed", 5000 - listed)));
    // The readable page gets the same budget, and says how much it left out.
    let page = s["pageMarkdown"].as_str().unwrap();
    assert!(page.chars().count() <= 20_200, "{}", page.chars().count());
    assert!(
        page.contains("more characters of the page not shown (max_chars 20000)"),
        "{}",
        &page[page.len().saturating_sub(300)..]
    );
    pp.stop().await;
}

/// A link is described by where it goes, as the browser resolves it: a plain same-origin path
/// as written, dot segments (also percent-encoded) resolved, a space encoded, another host in full.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_are_described_by_the_url_they_resolve_to() {
    let fx = Fixtures::start().await;
    let pp = Pp::default().await;
    let id = pp
        .session_at(ALICE, json!({ "url": fx.url("/agent/link-urls.html") }))
        .await;
    let s = snapshot(&pp, &id).await;
    for (name, to) in [
        ("Plain path", "→ /plain/1?q=1#top"),
        ("Dot segment", "→ /a/b"),
        ("Encoded dot segments", "→ /b"),
        ("With a space", "→ /p/a%20b"),
        ("Other host", "→ http://other.test/x"),
    ] {
        let d = description(&s, name);
        assert!(d.ends_with(to), "{name}: {d:?}");
    }
    pp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_without_a_box_of_their_own_are_seen_and_clicked() {
    let fx = Fixtures::start().await;
    let pp = Pp::default().await;
    let id = pp
        .session_at(ALICE, json!({ "url": fx.url("/agent/icon-row.html") }))
        .await;
    let s = snapshot(&pp, &id).await;
    let listed: Vec<&str> = s["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["description"].as_str())
        .collect();
    // The two links with content in the row, the link and the button without a box of their
    // own, and the paragraph under the pointer-cursor wrapper (the wrapper, with no box, is not
    // one more); not the empty link.
    assert_eq!(listed.len(), 5, "{listed:?}");
    for (name, what) in [
        ("Home", "link"),
        ("Docs", "link"),
        ("Card title", "link"),
        ("Flat button", "button"),
        ("Plain paragraph", "clickable p"),
    ] {
        assert!(
            description(&s, name).contains(what),
            "{name} is a {what}: {listed:?}"
        );
    }
    let after = step_on(&pp, &id, &s, "Home", Value::Null).await;
    assert!(after["url"].as_str().unwrap().ends_with("#home"), "{after}");
    let after = step_on(&pp, &id, &s, "Card title", Value::Null).await;
    assert!(after["url"].as_str().unwrap().ends_with("#card"), "{after}");
    step_on(&pp, &id, &s, "Flat button", Value::Null).await;
    let status_line = said(&pp, &id).await;
    assert!(status_line.contains("Flat pressed"), "{status_line}");
    // By selector too (Capture's click), and a visible wait sees it.
    let (status, v) = pp
        .act(ALICE, &id, "click", json!({ "selector": "#docs" }))
        .await;
    assert_eq!(status, 200, "{v}");
    let (status, v) = pp
        .act(
            ALICE,
            &id,
            "wait_for_selector",
            json!({ "selector": "#docs", "visible": true, "timeoutMs": 1000 }),
        )
        .await;
    assert_eq!((status, v["visible"].as_bool()), (200, Some(true)), "{v}");
    // And a query's box and visibility are those of what the link holds.
    let (_, v) = pp
        .act(
            ALICE,
            &id,
            "query",
            json!({ "selector": "#docs", "fields": ["visible", "bbox"], "visibleOnly": true }),
        )
        .await;
    let docs = &v["elements"][0];
    assert_eq!(docs["visible"], true, "{v}");
    assert!(docs["bbox"]["height"].as_f64().unwrap_or(0.0) > 10.0, "{v}");
    let status_line = said(&pp, &id).await;
    assert!(status_line.contains("Opened docs"), "{status_line}");
    pp.stop().await;
}
