//! Issue 11, names and the readable page: accessible names resolved as browsers do (in the
//! element's own iframe or shadow root, in accname's order, never from hidden text); labels
//! and SVG drawings are not actions of their own; the readable page is what is rendered —
//! hidden text never, iframes and shadow roots in order, status lines and toasts wherever
//! they sit, and the browser's validation messages.

mod common;

use std::time::Duration;

use common::{Fixtures, Pp, ALICE};
use serde_json::{json, Value};

async fn snapshot(pp: &Pp, id: &str) -> Value {
    pp.ok(
        ALICE,
        id,
        "snapshot",
        json!({ "maxNbActions": 500, "pageContent": true }),
    )
    .await
}

fn descriptions(s: &Value) -> Vec<String> {
    s["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .filter_map(|a| a["description"].as_str().map(str::to_string))
        .collect()
}

fn named<'a>(s: &'a Value, name: &str) -> Vec<&'a Value> {
    s["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .filter(|a| {
            a["description"]
                .as_str()
                .is_some_and(|d| d.starts_with(&format!("{name} — ")))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_come_from_what_a_person_reads() {
    let fx = Fixtures::start().await;
    let pp = Pp::default().await;
    let id = pp
        .session_at(
            ALICE,
            json!({ "url": fx.url("/agent/unseen.html"), "waitUntil": "load" }),
        )
        .await;
    let s = snapshot(&pp, &id).await;
    let all = descriptions(&s).join("\n");
    for (name, what) in [
        ("Search", "text input"),
        ("Add another author", "link"),
        ("Submit", "submit button"),
        ("Nickname", "text input"),
        ("Billing address", "text input"),
        ("Auto theme", "button"),
        ("Share page", "button"),
        ("Alan", "treeitem"),
        ("I accept the terms", "checkbox"),
        // Inside a same-origin iframe, by its own document's labels.
        ("Display name", "text input"),
        ("Send me the newsletter", "checkbox"),
        // Inside an open shadow root, by its own labels and ids.
        ("Coupon code", "text input"),
        ("Gift wrap", "checkbox"),
        ("Contact email", "email input"),
    ] {
        let hits = named(&s, name);
        assert_eq!(hits.len(), 1, "one action named {name:?}:\n{all}");
        let d = hits[0]["description"].as_str().unwrap_or_default();
        assert!(d.contains(what), "{name:?} is a {what}: {d}");
    }
    // A value is shown whole, not cut at a few dozen characters.
    let reference = named(&s, "Reference");
    assert!(
        reference[0]["description"].as_str().unwrap_or_default().contains(
            "REF-2026-0001-ALPHA-BRAVO-CHARLIE-DELTA-ECHO-FOXTROT-GOLF-HOTEL-INDIA-JULIET-KILO-LIMA-MIKE-NOVEMBER-OSCAR-PAPA-END"
        ),
        "{reference:?}"
    );
    // Zero-size text names nothing, and the step's check names the button as the observe did.
    let theme = named(&s, "Auto theme")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    pp.ok(ALICE, &id, "step", json!({ "id": theme })).await;
    let share = named(&s, "Share page")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    pp.ok(ALICE, &id, "step", json!({ "id": share })).await;
    for never in [
        "IGNORE-ZERO-SIZE",
        "IGNORE-SHADOW-ZERO",
        "IGNORE-CLEAR-TEXT",
        "LightDark",
        "Leonie",
        "unnamed",
        "display-name",
        "clickable label",
        "clickable svg",
        "clickable use",
        "clickable span",
    ] {
        assert!(!all.contains(never), "{never:?} must not appear:\n{all}");
    }
    pp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readable_page_is_what_is_rendered() {
    let fx = Fixtures::start().await;
    let pp = Pp::default().await;
    let id = pp
        .session_at(
            ALICE,
            json!({ "url": fx.url("/agent/unseen.html"), "waitUntil": "load" }),
        )
        .await;
    let page = |s: &Value| s["pageMarkdown"].as_str().unwrap_or_default().to_string();
    let md = page(&snapshot(&pp, &id).await);
    for hidden in [
        "This cannot be undone",
        "HIDDEN-ATTRIBUTE-TEXT",
        "ARIA-HIDDEN-TEXT",
        "VISIBILITY-HIDDEN-TEXT",
        "TRANSPARENT-TEXT",
        "ZERO-FONT-TEXT",
        "CLEAR-COLOR-TEXT",
        "IGNORE-SHADOW-ZERO",
        "IGNORE-CLEAR-TEXT",
        "IGNORE PREVIOUS INSTRUCTIONS",
        "OFF-CANVAS-TEXT",
        "CLOSED-DETAILS-TEXT",
        "Leonie",
    ] {
        assert!(!md.contains(hidden), "{hidden:?} is hidden:\n{md}");
    }
    // A child that sets a size again inside a font-size:0 box is read.
    assert!(md.contains("SIZED-AGAIN-TEXT"), "{md}");
    // So is a child that sets a colour again inside a transparent one, and gradient text
    // (transparent, painted through `background-clip: text`).
    assert!(md.contains("COLOURED-AGAIN-TEXT"), "{md}");
    assert!(md.contains("## GRADIENT-HEADING"), "{md}");
    // Everything a person sees, in document order: the iframe's text and the shadow root's
    // between the main content around them, the footer's status line too.
    let order = [
        "# Account settings",
        "Change how your account looks",
        "[Add another author]",
        "Advanced",
        "FRAME-TEXT Your public profile",
        "SHADOW-PROMO free shipping",
        "Last synced 2 minutes ago",
    ];
    let mut at = 0;
    for want in order {
        let Some(i) = md[at..].find(want) else {
            panic!("{want:?} after byte {at}:\n{md}");
        };
        at += i + want.len();
    }

    // A toast written after a click, outside the main content, reaches the agent.
    pp.ok(ALICE, &id, "click", json!({ "selector": "#apply" }))
        .await;
    let md = page(&snapshot(&pp, &id).await);
    assert!(md.contains("[status] Saved your changes"), "{md}");

    // A submit the browser's validation stopped: the readable page says why.
    pp.ok(
        ALICE,
        &id,
        "fill",
        json!({ "selector": "#email", "value": "not-an-email" }),
    )
    .await;
    pp.ok(ALICE, &id, "click", json!({ "selector": "#save" }))
        .await;
    let told = pp
        .eventually(Duration::from_secs(3), || async {
            let md = page(&snapshot(&pp, &id).await);
            md.contains("[invalid] Contact email:")
        })
        .await;
    assert!(told, "{}", page(&snapshot(&pp, &id).await));

    // The agent API answers the same readable page.
    let (status, obs) = pp
        .send(
            reqwest::Method::POST,
            &format!("/sessions/{id}/page/observe"),
            Some(ALICE),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200, "{obs}");
    let md = obs["data"]["markdown"].as_str().unwrap_or_default();
    assert!(
        md.contains("SHADOW-PROMO") && !md.contains("IGNORE PREVIOUS"),
        "{md}"
    );
    // And scrape reads the same rendered text, of the whole page or the main content.
    for (body, footer) in [
        (json!({ "only_main_content": false }), true),
        (json!({}), false),
    ] {
        let (status, r) = pp
            .send(
                reqwest::Method::POST,
                &format!("/sessions/{id}/page/scrape"),
                Some(ALICE),
                Some(body),
            )
            .await;
        assert_eq!(status, 200, "{r}");
        let md = r["markdown"].as_str().unwrap_or_default();
        assert!(
            md.contains("FRAME-TEXT") && !md.contains("This cannot be undone"),
            "{md}"
        );
        assert_eq!(md.contains("Last synced"), footer, "{md}");
    }
    pp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steps_act_like_a_person_and_never_report_a_blocked_submit_as_done() {
    let fx = Fixtures::start().await;
    let pp = Pp::default().await;
    let id = pp
        .session_at(
            ALICE,
            json!({ "url": fx.url("/agent/unseen.html"), "waitUntil": "load" }),
        )
        .await;
    let s = snapshot(&pp, &id).await;
    let id_of = |name: &str| {
        named(&s, name)
            .first()
            .and_then(|a| a["id"].as_str())
            .unwrap_or_else(|| panic!("no {name:?}"))
            .to_string()
    };
    let step = |aid: String, value: Value| {
        let (pp, id) = (&pp, id.clone());
        async move {
            let mut body = json!({ "id": aid });
            if !value.is_null() {
                body["value"] = value;
            }
            pp.act(ALICE, &id, "step", body).await
        }
    };

    // A bare step on a text field clicks it (focus), it does not refuse.
    let (status, v) = step(id_of("Contact email"), Value::Null).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["focused"], true, "{v}");

    // Checking what is checked succeeds and says so; a bare step on a checkbox toggles;
    // `value: false` on an unchecked one is already done.
    let (status, v) = step(id_of("Free plan"), Value::Null).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (v["checked"].clone(), v["changed"].clone()),
        (json!(true), json!(false)),
        "{v}"
    );
    assert!(
        v["note"]
            .as_str()
            .unwrap_or_default()
            .contains("already checked"),
        "{v}"
    );
    let terms = id_of("I accept the terms");
    let (status, v) = step(terms.clone(), json!(false)).await;
    assert_eq!((status, v["changed"].clone()), (200, json!(false)), "{v}");
    let (status, v) = step(terms.clone(), Value::Null).await;
    assert_eq!((status, v["checked"].clone()), (200, json!(true)), "{v}");
    let (status, v) = step(id_of("Pro plan"), Value::Null).await;
    assert_eq!((status, v["checked"].clone()), (200, json!(true)), "{v}");

    // A submit the browser's validation stops is a failed step naming the field and why.
    let (status, v) = step(id_of("Contact email"), json!("not-an-email")).await;
    assert_eq!(status, 200, "{v}");
    let (status, v) = step(id_of("Save"), Value::Null).await;
    assert_ne!(status, 200, "{v}");
    let err = v["error"].as_str().unwrap_or_default();
    assert!(
        err.contains("validation stopped it") && err.contains("Contact email"),
        "{v}"
    );
    assert_eq!(
        pp.text(ALICE, &id, "#toast").await,
        "",
        "nothing was submitted"
    );
    // Once valid, the same step submits and succeeds.
    step(id_of("Contact email"), json!("ada@example.com")).await;
    let (status, v) = step(id_of("Save"), Value::Null).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(pp.text(ALICE, &id, "#toast").await, "Contact saved");
    pp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_names_are_told_apart_by_their_context() {
    let fx = Fixtures::start().await;
    let pp = Pp::default().await;
    let id = pp
        .session_at(
            ALICE,
            json!({ "url": fx.url("/agent/shop-cards.html"), "waitUntil": "load" }),
        )
        .await;
    let s = snapshot(&pp, &id).await;
    let all = descriptions(&s);
    for want in [
        "Add to cart — button (Blue mug)",
        "Add to cart — button (Red mug)",
        "Add to cart — button (Green mug)",
        "Add — button (Ada Lovelace)",
        "Add — button (Alan Turing)",
    ] {
        assert!(
            all.iter().any(|d| d.starts_with(want)),
            "{want:?} in {all:#?}"
        );
    }
    // A name no other action has needs no context.
    assert!(
        all.iter()
            .any(|d| d.starts_with("Checkout — button") && !d.contains('(')),
        "{all:#?}"
    );
    pp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_clicks_only_its_own_element() {
    let fx = Fixtures::start().await;
    let pp = Pp::default().await;
    let id = pp
        .session_at(
            ALICE,
            json!({ "url": fx.url("/agent/clicks.html"), "waitUntil": "load" }),
        )
        .await;
    let log = || pp.text(ALICE, &id, "#log");
    let s = snapshot(&pp, &id).await;
    let id_of = |s: &Value, name: &str| {
        named(s, name)
            .first()
            .and_then(|a| a["id"].as_str())
            .unwrap_or_else(|| panic!("no {name:?} in {:#?}", descriptions(s)))
            .to_string()
    };
    // Its centre is covered, its right part is free: listed, and the step hits the free part.
    let (status, v) = pp
        .act(
            ALICE,
            &id,
            "step",
            json!({ "id": id_of(&s, "Half covered") }),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(log().await, "half");

    // Covered everywhere: the step fails, says by what, and clicks nothing.
    let (status, v) = pp
        .act(
            ALICE,
            &id,
            "step",
            json!({ "id": id_of(&snapshot_with_covered(&pp, &id).await, "Fully covered") }),
        )
        .await;
    assert_ne!(status, 200, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap_or_default()
            .contains("covered by div#full-cover"),
        "{v}"
    );
    assert_eq!(
        log().await,
        "half",
        "neither the button nor the cover was clicked"
    );

    // A panel expanding under the click: the step waits for the target to stop moving.
    let s = snapshot(&pp, &id).await;
    let target = id_of(&s, "Target");
    pp.act(
        ALICE,
        &id,
        "step",
        json!({ "id": id_of(&s, "Open details") }),
    )
    .await;
    let (status, v) = pp.act(ALICE, &id, "step", json!({ "id": target })).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        log().await,
        "half target",
        "the click landed on the target, not the panel: {v}"
    );

    // An id whose element became something else since the observe is stale, and not acted on.
    let s = snapshot(&pp, &id).await;
    let (target, toggle) = (id_of(&s, "Target"), id_of(&s, "Open details"));
    pp.ok(
        ALICE,
        &id,
        "evaluate",
        json!({ "expression": "document.getElementById('target').textContent = 'Delete everything'; document.getElementById('toggle').setAttribute('role', 'tab')" }),
    )
    .await;
    for (aid, was) in [(target, "\"Target\""), (toggle, "\"button\"")] {
        let (status, v) = pp.act(ALICE, &id, "step", json!({ "id": aid })).await;
        assert_eq!(status, 400, "{v}");
        let err = v["error"].as_str().unwrap_or_default();
        assert!(err.contains("stale action id") && err.contains(was), "{v}");
    }
    assert_eq!(log().await, "half target", "nothing was clicked");
    pp.stop().await;
}

/// A snapshot in which the fully covered button still has an id: observe lists what a person
/// can reach, so the cover is lifted for the observe and put back before the step.
async fn snapshot_with_covered(pp: &Pp, id: &str) -> Value {
    pp.ok(
        ALICE,
        id,
        "evaluate",
        json!({ "expression": "document.getElementById('full-cover').style.display = 'none'" }),
    )
    .await;
    let s = snapshot(pp, id).await;
    pp.ok(
        ALICE,
        id,
        "evaluate",
        json!({ "expression": "document.getElementById('full-cover').style.display = ''" }),
    )
    .await;
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aria_combobox_acts_like_its_role() {
    let fx = Fixtures::start().await;
    let pp = Pp::default().await;
    let id = pp
        .session_at(
            ALICE,
            json!({ "url": fx.url("/agent/combobox.html"), "waitUntil": "load" }),
        )
        .await;
    let s = snapshot(&pp, &id).await;
    let fruit = named(&s, "Fruit");
    assert_eq!(fruit.len(), 1, "{:#?}", descriptions(&s));
    assert_eq!(fruit[0]["type"], "select_dropdown_option", "{}", fruit[0]);
    let fruit = fruit[0]["id"].as_str().unwrap_or_default().to_string();

    // With a value: opens it and picks the option in one step.
    let (status, v) = pp
        .act(
            ALICE,
            &id,
            "step",
            json!({ "id": fruit, "value": "Banana" }),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["selected"], "Banana", "{v}");
    assert_eq!(pp.text(ALICE, &id, "#chosen").await, "banana");

    // A bare step opens it, and its options are listed for the next step.
    let (status, v) = pp.act(ALICE, &id, "step", json!({ "id": fruit })).await;
    assert_eq!(status, 200, "{v}");
    let opened = pp
        .eventually(Duration::from_secs(3), || async {
            let s = snapshot(&pp, &id).await;
            named(&s, "Cherry").first().is_some_and(|a| {
                a["description"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("option")
            })
        })
        .await;
    assert!(opened, "{:#?}", descriptions(&snapshot(&pp, &id).await));

    // An option that does not exist is named, with the ones that do.
    let (status, v) = pp
        .act(
            ALICE,
            &id,
            "step",
            json!({ "id": fruit, "value": "Durian" }),
        )
        .await;
    assert_ne!(status, 200, "{v}");
    let err = v["error"].as_str().unwrap_or_default();
    assert!(err.contains("Durian") && err.contains("Cherry"), "{v}");
    pp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elements_scrolled_out_of_a_scroll_box_are_listed_and_steppable() {
    let fx = Fixtures::start().await;
    let pp = Pp::default().await;
    let id = pp
        .session_at(
            ALICE,
            json!({ "url": fx.url("/agent/inbox.html"), "waitUntil": "load" }),
        )
        .await;
    let s = snapshot(&pp, &id).await;
    let all = descriptions(&s);
    for i in 1..=20 {
        assert_eq!(
            named(&s, &format!("Open message {i}")).len(),
            1,
            "message {i} is listed: {all:#?}"
        );
    }
    let far = named(&s, "Open message 15")[0];
    assert!(
        far["description"]
            .as_str()
            .unwrap_or_default()
            .contains("scrolled out of view in Inbox"),
        "{far}"
    );
    assert_eq!(far["inViewport"], false, "{far}");
    let (status, v) = pp.act(ALICE, &id, "step", json!({ "id": far["id"] })).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(pp.text(ALICE, &id, "#opened").await, "15");
    pp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrolling_reaches_the_scroll_box_when_the_page_cannot_move() {
    let fx = Fixtures::start().await;
    let pp = Pp::default().await;
    let id = pp
        .session_at(
            ALICE,
            json!({ "url": fx.url("/agent/inbox.html"), "waitUntil": "load" }),
        )
        .await;
    // The page fits the viewport: a scroll down moves the inbox, and says so.
    let v = pp
        .ok(
            ALICE,
            &id,
            "scroll",
            json!({ "direction": "down", "amount": 200 }),
        )
        .await;
    assert_eq!(v["scrolled"], "Inbox", "{v}");
    assert_eq!(v["scrollY"], 200, "{v}");
    let s = snapshot(&pp, &id).await;
    let now_seen = named(&s, "Open message 8")[0];
    assert_eq!(now_seen["inViewport"], true, "{now_seen}");
    let v = pp
        .ok(
            ALICE,
            &id,
            "scroll",
            json!({ "direction": "up", "amount": 1000 }),
        )
        .await;
    assert_eq!(
        (v["scrolled"].clone(), v["scrollY"].clone()),
        (json!("Inbox"), json!(0)),
        "{v}"
    );
    pp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calendar_days_say_their_month_and_field() {
    let fx = Fixtures::start().await;
    let pp = Pp::default().await;
    let id = pp
        .session_at(
            ALICE,
            json!({ "url": fx.url("/agent/datepicker.html"), "waitUntil": "load" }),
        )
        .await;
    let s = snapshot(&pp, &id).await;
    let day = named(&s, "5");
    assert_eq!(day.len(), 1, "{:#?}", descriptions(&s));
    let d = day[0]["description"].as_str().unwrap_or_default();
    assert!(
        d.starts_with("5 — button (December 2026, for Check-in date)"),
        "{d}"
    );
    let (status, v) = pp
        .act(ALICE, &id, "step", json!({ "id": day[0]["id"] }))
        .await;
    assert_eq!(status, 200, "{v}");
    let v = pp
        .ok(
            ALICE,
            &id,
            "evaluate",
            json!({ "expression": "document.getElementById('checkin').value" }),
        )
        .await;
    assert_eq!(v["value"], "2026-12-05", "{v}");
    pp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_clickables_each_get_their_own_id() {
    let fx = Fixtures::start().await;
    let pp = Pp::default().await;
    let id = pp
        .session_at(
            ALICE,
            json!({ "url": fx.url("/agent/nested.html"), "waitUntil": "load" }),
        )
        .await;
    let s = snapshot(&pp, &id).await;
    let all = descriptions(&s).join("\n");
    // Each icon, tree item and inner handler is one action with its own name; a container
    // keeps one only for its own text.
    for name in [
        "Alice Meeting tomorrow",
        "Reply",
        "Forward",
        "Like",
        "Mute",
        "Docs",
        "Guide",
        "API",
        "Weekly report",
        "☆ Star",
        "Open the archive",
        "Account settings",
    ] {
        assert_eq!(
            named(&s, name).len(),
            1,
            "one action named {name:?}:\n{all}"
        );
    }
    for merged in ["Reply Forward", "Like Mute", "Guide API", "Weekly report ☆"] {
        assert!(!all.contains(merged), "{merged:?} must not appear:\n{all}");
    }
    // Parts that only inherit a target's cursor, or sit in a link, are not targets.
    for part in ["Open —", "the archive —", "Account —", "settings —"] {
        assert!(
            !descriptions(&s).iter().any(|d| d.starts_with(part)),
            "{part:?} is not an action:\n{all}"
        );
    }
    assert_eq!(
        s["actions"].as_array().map(Vec::len),
        Some(12),
        "twelve targets, the icon toolbar is not one:\n{all}"
    );
    // A step on each runs that element's own handler.
    for (name, said) in [
        ("Forward", "Forwarded"),
        ("Mute", "Muted"),
        ("API", "API open"),
        ("☆ Star", "Starred"),
        ("Alice Meeting tomorrow", "Opened message"),
        ("Open the archive", "Single opened"),
    ] {
        let s = snapshot(&pp, &id).await;
        let aid = named(&s, name)[0]["id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let (status, v) = pp.act(ALICE, &id, "step", json!({ "id": aid })).await;
        assert_eq!(status, 200, "{name}: {v}");
        assert_eq!(pp.text(ALICE, &id, "#status").await, said, "{name}");
    }
    pp.stop().await;
}
