//! The agent API (Notte's wire) over real HTTP: sessions, observe, step (element and browser
//! ids), execute, scrape, limits and errors.

mod common;

use base64::Engine as _;
use common::{action_id, Fixtures, Pp, ALICE, BOB};
use reqwest::Method;
use serde_json::{json, Value};

async fn post(pp: &Pp, who: (&str, &str), path: &str, body: Value) -> (u16, Value) {
    pp.send(Method::POST, path, Some(who), Some(body)).await
}

async fn start(pp: &Pp, body: Value) -> String {
    let (status, v) = post(pp, ALICE, "/sessions/start", body).await;
    assert_eq!(status, 200, "{v}");
    v["session_id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_and_observe() {
    let fx = Fixtures::start().await;
    let pp = Pp::default().await;
    let (status, s) = post(
        &pp,
        ALICE,
        "/sessions/start",
        json!({
            "idle_timeout_minutes": 4, "max_duration_minutes": 10, "viewport_width": 900, "viewport_height": 700,
            "user_agent": "pagepilot-test-agent/1.0", "solve_captchas": false, "chrome_args": ["--evil"], "headless": true,
        }),
    )
    .await;
    assert_eq!(status, 200, "{s}");
    for key in [
        "session_id",
        "created_at",
        "last_accessed_at",
        "duration",
        "status",
        "proxies",
        "browser_type",
    ] {
        assert!(s.get(key).is_some(), "{key} missing: {s}");
    }
    assert_eq!(
        (
            s["idle_timeout_minutes"].as_u64(),
            s["timeout_minutes"].as_u64()
        ),
        (Some(4), Some(4))
    );
    assert_eq!(s["max_duration_minutes"], 10);
    assert_eq!(s["status"], "active");
    assert!(s["closed_at"].is_null());
    let id = s["session_id"].as_str().unwrap().to_string();

    let (status, obs) = post(
        &pp,
        ALICE,
        &format!("/sessions/{id}/page/observe"),
        json!({ "url": fx.url("/agent/login.html") }),
    )
    .await;
    assert_eq!(status, 200, "{obs}");
    assert_eq!(obs["metadata"]["title"], "Sign in — Fixture shop");
    assert_eq!(obs["metadata"]["viewport"]["viewport_width"], 900);
    assert_eq!(obs["metadata"]["viewport"]["viewport_height"], 700);
    assert_eq!(
        obs["metadata"]["tabs"][0]["url"],
        fx.url("/agent/login.html")
    );
    assert_eq!(obs["space"]["category"], "auth");
    assert!(obs["space"]["markdown"]
        .as_str()
        .unwrap()
        .contains("* I1: Email address — email input"));
    let ia = obs["space"]["interaction_actions"].as_array().unwrap();
    assert!(
        ia.iter()
            .all(|a| a["type"] == "click" || a.get("value").is_some()),
        "fill/check/select carry a value"
    );
    // Each action is said once as text and once as a typed list; the other two lists are
    // opt-in (the SDK computes them from interaction_actions).
    assert!(obs["space"].get("actions").is_none(), "{}", obs["space"]);
    assert!(obs["space"].get("browser_actions").is_none());
    assert!(obs["space"]["markdown"]
        .as_str()
        .unwrap()
        .contains("S1 goto(url)"));
    let (status, full) = post(
        &pp,
        ALICE,
        &format!("/sessions/{id}/page/observe"),
        json!({ "full_space": true }),
    )
    .await;
    assert_eq!(status, 200, "{full}");
    assert_eq!(full["space"]["actions"][0]["status"], "valid");
    assert_eq!(
        full["space"]["browser_actions"].as_array().unwrap().len(),
        12
    );
    assert_eq!(full["space"]["browser_actions"][0]["id"], "S1");
    assert!(obs["data"]["markdown"]
        .as_str()
        .unwrap()
        .contains("# Sign in"));
    assert_eq!(
        obs["progress"]["current_step"], 1,
        "the goto; observing is not a step"
    );
    assert_eq!(obs["screenshot"], "", "no screenshot unless asked");
    assert!(obs.get("detail").is_none());
    let (_, obs) = post(
        &pp,
        ALICE,
        &format!("/sessions/{id}/page/observe"),
        json!({ "screenshot": true }),
    )
    .await;
    let png = base64::engine::general_purpose::STANDARD
        .decode(obs["screenshot"].as_str().unwrap())
        .unwrap();
    assert!(png.starts_with(&[0x89, b'P', b'N', b'G']));

    // The user agent asked for is the page's.
    let (_, r) = post(
        &pp,
        ALICE,
        &format!("/sessions/{id}/page/execute"),
        json!({ "type": "evaluate_js", "code": "navigator.userAgent" }),
    )
    .await;
    assert_eq!(r["data"]["markdown"], "pagepilot-test-agent/1.0", "{r}");

    let (_, list) = pp.send(Method::GET, "/sessions", Some(ALICE), None).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let (status, _) = pp
        .send(Method::GET, &format!("/sessions/{id}"), Some(BOB), None)
        .await;
    assert_eq!(status, 404, "another tenant's session");
    let (status, _) = post(&pp, BOB, &format!("/sessions/{id}/page/observe"), json!({})).await;
    assert_eq!(status, 404);

    let (status, stopped) = pp
        .send(
            Method::DELETE,
            &format!("/sessions/{id}/stop?close_reason=manual"),
            Some(ALICE),
            None,
        )
        .await;
    assert_eq!(status, 200, "{stopped}");
    assert_eq!(stopped["status"], "closed");
    assert_eq!(stopped["close_reason"], "manual");
    assert!(stopped["closed_at"].is_string());
    let (status, again) = pp
        .send(
            Method::DELETE,
            &format!("/sessions/{id}/stop"),
            Some(ALICE),
            None,
        )
        .await;
    assert_eq!(
        (status, again["status"].as_str()),
        (200, Some("closed")),
        "stop is idempotent"
    );
    let (status, v) = post(
        &pp,
        ALICE,
        &format!("/sessions/{id}/page/observe"),
        json!({}),
    )
    .await;
    assert_eq!(status, 409, "{v}");
    pp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_and_execute() {
    let fx = Fixtures::start().await;
    let pp = Pp::default().await;
    let id = start(&pp, json!({})).await;
    let page = |p: &str| format!("/sessions/{id}/page/{p}");
    let (_, obs) = post(
        &pp,
        ALICE,
        &page("observe"),
        json!({ "url": fx.url("/agent/widgets.html") }),
    )
    .await;

    // step (seed 002): an element id, then browser ids; each answers the new observation.
    let (status, r) = post(
        &pp,
        ALICE,
        &page("step"),
        json!({ "action_id": action_id(&obs, "Clickable div") }),
    )
    .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(
        (r["success"].as_bool(), r["metadata"]["title"].as_str()),
        (Some(true), Some("Widgets"))
    );
    let (_, r) = post(
        &pp,
        ALICE,
        &page("step"),
        json!({ "action_id": action_id(&obs, "Email address"), "value": "a@b.c" }),
    )
    .await;
    assert_eq!(r["success"], true, "{}", r["message"]);
    let before = r["metadata"]["viewport"]["scroll_y"].as_i64().unwrap();
    let (_, r) = post(
        &pp,
        ALICE,
        &page("step"),
        json!({ "action_id": "S10", "value": 500 }),
    )
    .await;
    assert_eq!(
        r["metadata"]["viewport"]["scroll_y"].as_i64().unwrap(),
        before + 500,
        "S10 scrolls down"
    );
    let (_, r) = post(
        &pp,
        ALICE,
        &page("step"),
        json!({ "action_id": "S1", "value": fx.url("/agent/login.html") }),
    )
    .await;
    assert_eq!(
        r["metadata"]["url"],
        fx.url("/agent/login.html"),
        "S1 goes to the url"
    );
    let (_, r) = post(&pp, ALICE, &page("step"), json!({ "action_id": "S3" })).await;
    assert_eq!(
        r["metadata"]["url"],
        fx.url("/agent/widgets.html"),
        "S3 goes back"
    );
    let (_, r) = post(&pp, ALICE, &page("step"), json!({ "action_id": "B999" })).await;
    assert_eq!(r["success"], false);
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .starts_with("Action with id 'B999' is invalid"),
        "{}",
        r["message"]
    );
    assert!(
        r["space"]["markdown"].is_string(),
        "a failed step still answers the page"
    );
    let (status, r) = post(
        &pp,
        ALICE,
        &page("step"),
        json!({ "action_id": "S7", "value": 5 }),
    )
    .await;
    assert_eq!(
        (status, r["success"].as_bool()),
        (200, Some(false)),
        "no tab 5: {r}"
    );
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("tab_index 5 does not exist"),
        "{r}"
    );

    // A step and the observation it answers run in one turn of the session: a goto another
    // client queued while the step ran comes after both, so the answer is the page the step
    // left. Each is counted as an action of its own.
    let (_, rec) = pp.get(ALICE, &id).await;
    let waits_before = rec["session"]["actionBreakdown"]["wait_for_timeout"]["total"]
        .as_u64()
        .unwrap_or(0);
    let snaps_before = rec["session"]["actionBreakdown"]["snapshot"]["total"]
        .as_u64()
        .unwrap_or(0);
    let here = r["metadata"]["url"].as_str().unwrap().to_string();
    let step_path = page("step");
    let step = post(
        &pp,
        ALICE,
        &step_path,
        json!({ "action_id": "S11", "value": 1200 }),
    );
    let elsewhere = async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        pp.act(
            ALICE,
            &id,
            "goto",
            json!({ "url": fx.url("/agent/login.html") }),
        )
        .await
    };
    let ((status, r), (went, _)) = tokio::join!(step, elsewhere);
    assert_eq!((status, went), (200, 200), "{r}");
    assert_eq!(r["success"], true, "{r}");
    assert_eq!(
        r["metadata"]["url"], here,
        "the goto queued during the step ran after its observation"
    );
    let (_, rec) = pp.get(ALICE, &id).await;
    let breakdown = &rec["session"]["actionBreakdown"];
    assert_eq!(
        (
            breakdown["wait_for_timeout"]["total"].as_u64(),
            breakdown["snapshot"]["total"].as_u64()
        ),
        (Some(waits_before + 1), Some(snaps_before + 1)),
        "{breakdown}"
    );
    let (_, r) = post(&pp, ALICE, &page("step"), json!({ "action_id": "S3" })).await;
    assert_eq!(r["metadata"]["url"], here, "{r}");

    // execute (today's API): by id, by selector, browser actions, evaluate_js, scrape.
    let (_, obs) = post(&pp, ALICE, &page("observe"), json!({})).await;
    let exec_path = page("execute");
    let ex = |body: Value| post(&pp, ALICE, &exec_path, body);
    let (_, r) = ex(json!({ "type": "fill", "id": action_id(&obs, "Bio"), "value": "Hello", "category": "x", "description": "y" })).await;
    assert_eq!(r["success"], true, "{r}");
    assert!(
        r["action"].get("category").is_none()
            && r["started_at"].is_string()
            && r["ended_at"].is_string()
    );
    let (_, r) =
        ex(json!({ "type": "check", "id": action_id(&obs, "Newsletter"), "value": true })).await;
    assert_eq!(r["success"], true, "{r}");
    let (_, r) = ex(json!({ "type": "select_dropdown_option", "id": action_id(&obs, "Country"), "value": "Germany" })).await;
    assert_eq!(r["success"], true, "{r}");
    let (_, r) = ex(json!({ "type": "click", "id": "", "selector": { "css_selector": "#rb", "xpath_selector": "", "in_iframe": false } })).await;
    assert_eq!(r["success"], true, "{r}");
    let (_, r) = ex(json!({ "type": "evaluate_js", "code": "[document.getElementById('t-area').value, document.getElementById('c-news').checked, document.getElementById('t-select').value].join('|')" })).await;
    assert_eq!(r["data"]["markdown"], "Hello|true|de", "{r}");
    let (_, r) = ex(json!({ "type": "scroll_down", "amount": 300 })).await;
    assert_eq!(r["success"], true);
    let (_, r) = ex(json!({ "type": "press_key", "key": "Tab" })).await;
    assert_eq!(r["success"], true);
    let (_, r) = ex(json!({ "type": "wait", "time_ms": 50 })).await;
    assert_eq!(r["success"], true);
    let (_, r) = ex(json!({ "type": "scrape" })).await;
    assert!(
        r["data"]["markdown"]
            .as_str()
            .unwrap()
            .contains("Custom controls"),
        "{r}"
    );
    let (_, r) = ex(json!({ "type": "goto", "url": fx.url("/agent/login.html") })).await;
    assert_eq!(r["success"], true);
    let (_, r) = ex(json!({ "type": "go_back" })).await;
    assert_eq!(r["success"], true);
    // Failures: an invalid id is InvalidActionError; a throwing script; a refused URL.
    let (status, r) = ex(json!({ "type": "click", "id": "B999" })).await;
    assert_eq!(status, 200);
    assert_eq!(r["success"], false);
    assert_eq!(r["exception_detail"]["error_type"], "InvalidActionError");
    assert!(
        r["exception"]
            .as_str()
            .unwrap()
            .contains("Action with id 'B999' is invalid"),
        "{r}"
    );
    let (_, r) = ex(json!({ "type": "evaluate_js", "code": "throw new Error('boom')" })).await;
    assert_eq!(r["success"], false);
    assert!(r["message"].as_str().unwrap().contains("boom"), "{r}");
    let (_, r) = ex(json!({ "type": "goto", "url": "file:///etc/passwd" })).await;
    assert_eq!(
        (
            r["success"].as_bool(),
            r["exception_detail"]["error_type"].as_str()
        ),
        (Some(false), Some("NavigationError"))
    );
    // Requests that are not actions at all.
    let (status, r) = ex(json!({ "type": "teleport" })).await;
    assert_eq!(status, 400, "{r}");
    let (status, r) = ex(json!({ "type": "click" })).await;
    assert_eq!(status, 400, "{r}");
    assert!(
        r["error"].as_str().unwrap().contains("needs an `id`"),
        "{r}"
    );
    // upload_file names a file uploaded to the session, never a path on the server.
    let (status, r) =
        ex(json!({ "type": "upload_file", "id": "I1", "file_path": "/etc/passwd" })).await;
    assert_eq!((status, r["success"].clone()), (200, json!(false)), "{r}");
    assert!(
        r["message"].as_str().unwrap().contains("never a path"),
        "{r}"
    );
    let (status, r) = pp.raw(Method::POST, &page("execute"), ALICE, "[1]").await;
    assert_eq!(status, 400, "{r}");
    pp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrape_limits_and_errors() {
    let fx = Fixtures::start().await;
    let pp = Pp::default().await;
    let id = start(&pp, json!({ "max_steps": 5 })).await;
    let page = |p: &str| format!("/sessions/{id}/page/{p}");

    // scrape: main content as markdown with links; structured data without an LLM.
    let (status, r) = post(
        &pp,
        ALICE,
        &page("scrape"),
        json!({ "url": fx.url("/agent/product.html") }),
    )
    .await;
    assert_eq!(status, 200, "{r}");
    let md = r["markdown"].as_str().unwrap();
    assert!(
        md.contains("# Blue mug")
            && md.contains("Order it")
            && md.contains("/agent/item.html?id=2"),
        "{md}"
    );
    assert!(
        !md.contains("Footer text"),
        "only the main content by default: {md}"
    );
    let data = &r["structured"]["data"];
    assert_eq!(r["structured"]["success"], true);
    assert_eq!(data["jsonld"][0]["offers"]["price"], "12.50");
    assert_eq!(data["meta"]["og:title"], "Blue mug");
    assert_eq!(data["tables"][0][2], json!(["Large", "350 ml"]));
    let (_, r) = post(
        &pp,
        ALICE,
        &page("scrape"),
        json!({ "only_main_content": false, "scrape_links": false, "scrape_images": true }),
    )
    .await;
    let md = r["markdown"].as_str().unwrap();
    assert!(
        md.contains("Footer text") && !md.contains("/agent/item.html"),
        "{md}"
    );
    assert_eq!(r["images"][0]["description"], "The blue mug");
    let (_, r) = post(&pp, ALICE, &page("scrape"), json!({ "selector": "table" })).await;
    assert!(
        r["markdown"].as_str().unwrap().contains("Small")
            && !r["markdown"].as_str().unwrap().contains("Blue mug")
    );
    let (_, r) = post(
        &pp,
        ALICE,
        &page("scrape"),
        json!({ "instructions": "extract the price" }),
    )
    .await;
    assert_eq!(r["structured"]["success"], false);
    assert!(
        r["structured"]["error"]
            .as_str()
            .unwrap()
            .contains("needs an LLM"),
        "{r}"
    );

    // max_steps 5: goto and four scrapes above; the sixth action is refused.
    let (status, r) = post(&pp, ALICE, &page("execute"), json!({ "type": "reload" })).await;
    assert_eq!(status, 400, "{r}");
    assert!(
        r["error"].as_str().unwrap().contains("max_steps (5)"),
        "{r}"
    );
    let (status, _) = post(&pp, ALICE, &page("observe"), json!({})).await;
    assert_eq!(status, 200, "observing is not a step: still allowed");

    // Bad start options.
    for (body, words) in [
        (
            json!({ "idle_timeout_minutes": 0 }),
            "idle_timeout_minutes must be between 1 and 525600, got 0",
        ),
        (
            json!({ "idle_timeout_minutes": 200000000000000i64 }),
            "idle_timeout_minutes must be between 1 and 525600",
        ),
        (
            json!({ "idle_timeout_minutes": i64::MAX }),
            "idle_timeout_minutes must be between 1 and 525600",
        ),
        (
            json!({ "idle_timeout_minutes": 1e300 }),
            "idle_timeout_minutes",
        ),
        (
            json!({ "max_duration_minutes": 9223372036854775808u64 }),
            "max_duration_minutes",
        ),
        (
            json!({ "viewport_width": 4294967297i64 }),
            "viewport_width must be between 1 and 5000",
        ),
        (json!({ "max_steps": -1 }), "max_steps"),
        (json!({ "viewport_width": 9000 }), "viewport"),
        (json!({ "browser_type": "firefox" }), "only chromium"),
        (json!({ "proxies": true }), "upstream proxy"),
        (json!({ "proxies": "yes" }), "proxies"),
        (json!({ "timeout_minutes": "soon" }), "timeout_minutes"),
    ] {
        let (status, v) = post(&pp, ALICE, "/sessions/start", body.clone()).await;
        assert_eq!(status, 400, "{body}: {v}");
        assert!(v["error"].as_str().unwrap().contains(words), "{body}: {v}");
    }
    // Bodies of the wrong shape name the field (on a fresh session: this one is out of steps).
    let fresh = start(&pp, json!({})).await;
    for (path, body, words) in [
        (
            "observe",
            json!({ "max_nb_actions": "many" }),
            "max_nb_actions",
        ),
        (
            "observe",
            json!({ "max_nb_actions": 0 }),
            "max_nb_actions must be at least 1",
        ),
        (
            "observe",
            json!({ "min_nb_actions": 9, "max_nb_actions": 3 }),
            "must not exceed",
        ),
        (
            "observe",
            json!({ "max_chars": 0 }),
            "max_chars must be between 200 and 10000000, got 0",
        ),
        ("observe", json!({ "max_chars": -5 }), "max_chars"),
        ("observe", json!({ "max_chars": 1e300 }), "max_chars"),
        (
            "observe",
            json!({ "max_chars": 9_223_372_036_854_775_808u64 }),
            "max_chars must be between 200 and 10000000",
        ),
        ("observe", json!({ "max_nb_actions": -1 }), "max_nb_actions"),
        ("observe", json!({ "diff": "yes" }), "diff"),
        (
            "scrape",
            json!({ "only_main_content": "yes" }),
            "only_main_content",
        ),
        (
            "scrape",
            json!({ "selector": "##(" }),
            "not a valid CSS selector",
        ),
        ("step", json!({ "action_id": 7 }), "action_id"),
    ] {
        let (status, v) = post(
            &pp,
            ALICE,
            &format!("/sessions/{fresh}/page/{path}"),
            body.clone(),
        )
        .await;
        assert_eq!(status, 400, "{path} {body}: {v}");
        assert!(
            v["error"].as_str().unwrap().contains(words),
            "{path} {body}: {v}"
        );
    }
    let ghost = "sess_00000000-0000-0000-0000-000000000000";
    for path in ["page/observe", "page/step", "page/execute", "page/scrape"] {
        let (status, _) = post(
            &pp,
            ALICE,
            &format!("/sessions/{ghost}/{path}"),
            json!({ "type": "reload", "action_id": "S5" }),
        )
        .await;
        assert_eq!(status, 404, "{path}");
    }
    let (status, v) = post(&pp, ALICE, &page("step"), json!({ "value": 1 })).await;
    assert_eq!(status, 400, "{v}");
    assert!(v["error"].as_str().unwrap().contains("action_id"), "{v}");
    let (status, _) = pp
        .send(Method::POST, "/sessions/start", None, Some(json!({})))
        .await;
    assert_eq!(status, 401);
    pp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tabs() {
    let fx = Fixtures::start().await;
    let pp = Pp::default().await;
    let id = start(&pp, json!({})).await;
    let page = |p: &str| format!("/sessions/{id}/page/{p}");
    let tabs = |o: &Value| {
        o["metadata"]["tabs"]
            .as_array()
            .unwrap_or_else(|| panic!("no tabs in {o}"))
            .iter()
            .map(|t| t["url"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let (_, obs) = post(
        &pp,
        ALICE,
        &page("observe"),
        json!({ "url": fx.url("/agent/tabs.html") }),
    )
    .await;
    assert_eq!(tabs(&obs), vec![fx.url("/agent/tabs.html")]);

    // A target=_blank link opens a tab in the same session; it becomes the active one.
    let (_, r) = post(
        &pp,
        ALICE,
        &page("step"),
        json!({ "action_id": action_id(&obs, "Open login in a new tab") }),
    )
    .await;
    assert_eq!(r["success"], true, "{}", r["message"]);
    assert_eq!(
        tabs(&r),
        vec![fx.url("/agent/tabs.html"), fx.url("/agent/login.html")]
    );
    assert_eq!(
        r["metadata"]["url"],
        fx.url("/agent/login.html"),
        "the new tab is active"
    );
    assert_eq!(r["metadata"]["tabs"][1]["active"], true);

    // switch_tab, goto_new_tab, close_tab through execute; S7 through step.
    let exec_path = page("execute");
    let ex = |body: Value| post(&pp, ALICE, &exec_path, body);
    let (_, r) = ex(json!({ "type": "switch_tab", "tab_index": 0 })).await;
    assert_eq!(r["success"], true, "{r}");
    let (_, o) = post(&pp, ALICE, &page("observe"), json!({})).await;
    assert_eq!(o["metadata"]["url"], fx.url("/agent/tabs.html"));
    // window.open from a click is a tab too.
    let (_, r) = post(
        &pp,
        ALICE,
        &page("step"),
        json!({ "action_id": action_id(&o, "Open search popup") }),
    )
    .await;
    assert_eq!(tabs(&r).len(), 3, "{:?}", tabs(&r));
    assert!(r["metadata"]["url"]
        .as_str()
        .unwrap()
        .contains("/agent/search.html"));
    let (_, r) = ex(json!({ "type": "goto_new_tab", "url": fx.url("/agent/product.html") })).await;
    assert_eq!(r["success"], true, "{r}");
    let (_, o) = post(&pp, ALICE, &page("observe"), json!({})).await;
    assert_eq!(tabs(&o).len(), 4);
    assert_eq!(o["metadata"]["url"], fx.url("/agent/product.html"));
    let (_, r) = ex(json!({ "type": "close_tab" })).await;
    assert_eq!(r["success"], true, "{r}");
    let (_, r) = post(
        &pp,
        ALICE,
        &page("step"),
        json!({ "action_id": "S7", "value": 1 }),
    )
    .await;
    assert_eq!(tabs(&r).len(), 3);
    assert_eq!(
        r["metadata"]["url"],
        fx.url("/agent/login.html"),
        "S7 switched to tab 1"
    );
    // Bad tab requests are clear failures and leave nothing behind.
    let (_, r) = ex(json!({ "type": "goto_new_tab", "url": "file:///etc/passwd" })).await;
    assert_eq!(r["success"], false);
    let (_, o) = post(&pp, ALICE, &page("observe"), json!({})).await;
    assert_eq!(tabs(&o).len(), 3, "a refused new tab leaves no tab behind");
    for _ in 0..2 {
        ex(json!({ "type": "close_tab" })).await;
    }
    let (_, r) = ex(json!({ "type": "close_tab" })).await;
    assert_eq!(r["success"], false);
    assert!(r["message"].as_str().unwrap().contains("last tab"), "{r}");

    // Closing the session closes every tab: only the pool's context remains.
    pp.send(
        Method::DELETE,
        &format!("/sessions/{id}/stop"),
        Some(ALICE),
        None,
    )
    .await;
    let released = pp
        .eventually(std::time::Duration::from_secs(5), || async {
            pp.health().await["browserContexts"].as_u64() == Some(1)
        })
        .await;
    assert!(released);
    pp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_since_the_last_observation_and_diff() {
    let fx = Fixtures::start().await;
    let pp = Pp::default().await;
    let id = start(&pp, json!({})).await;
    let observe = |body: Value| {
        let pp = &pp;
        let id = id.clone();
        async move {
            let (status, obs) =
                post(pp, ALICE, &format!("/sessions/{id}/page/observe"), body).await;
            assert_eq!(status, 200, "{obs}");
            obs
        }
    };
    let obs = observe(json!({ "url": fx.url("/agent/changes.html") })).await;
    assert_eq!(obs["changes"]["navigated"], true, "{}", obs["changes"]);
    let delete = action_id(&obs, "Delete draft");
    let keep = action_id(&obs, "Keep me");

    // The step removes its button and shows a toast: the changes name exactly those.
    let (status, step) = post(
        &pp,
        ALICE,
        &format!("/sessions/{id}/page/step"),
        json!({ "action_id": delete }),
    )
    .await;
    assert_eq!(
        (status, step["success"].clone()),
        (200, json!(true)),
        "{step}"
    );
    let c = &step["changes"];
    assert_eq!(c["navigated"], false, "{c}");
    assert_eq!(c["new"], json!([]), "{c}");
    assert_eq!(c["changed"], json!([]), "{c}");
    assert_eq!(
        c["removed"],
        json!([{ "id": delete, "description": "Delete draft — button" }]),
        "{c}"
    );
    assert_eq!(c["said"], json!(["[status] Draft deleted"]), "{c}");
    let md = step["space"]["markdown"].as_str().unwrap();
    assert!(md.contains("## Changes since the last observation"), "{md}");
    assert!(
        md.contains(&format!("- {delete}: Delete draft — button")),
        "{md}"
    );
    assert!(md.contains("! [status] Draft deleted"), "{md}");

    // Nothing happened since: an empty change set, said so.
    let again = observe(json!({})).await;
    assert!(again["space"]["markdown"]
        .as_str()
        .unwrap()
        .contains("Nothing changed."));

    // diff: only the changes and the page line; ids of the full view still resolve.
    let add = action_id(&again, "Add item");
    let (status, _) = post(
        &pp,
        ALICE,
        &format!("/sessions/{id}/page/execute"),
        json!({ "type": "click", "id": add }),
    )
    .await;
    assert_eq!(status, 200);
    let d = observe(json!({ "diff": true })).await;
    let ia = d["space"]["interaction_actions"].as_array().unwrap();
    assert_eq!(ia.len(), 1, "only the new action: {ia:?}");
    assert!(ia[0]["description"]
        .as_str()
        .unwrap()
        .starts_with("Remove item 1 — button"));
    let md = d["space"]["markdown"].as_str().unwrap();
    assert!(md.starts_with("# "), "{md}");
    assert!(
        !md.contains("Keep me"),
        "unchanged actions are not repeated: {md}"
    );
    assert!(md.contains("+ "), "{md}");
    assert!(
        d["data"]["markdown"].as_str().unwrap().contains("Item 1"),
        "{}",
        d["data"]["markdown"]
    );
    assert!(!d["data"]["markdown"]
        .as_str()
        .unwrap()
        .contains("Quarterly notes"));
    // An id the diff did not repeat still works, and its change shows up next time.
    let (status, step) = post(
        &pp,
        ALICE,
        &format!("/sessions/{id}/page/step"),
        json!({ "action_id": keep }),
    )
    .await;
    assert_eq!(
        (status, step["success"].clone()),
        (200, json!(true)),
        "{step}"
    );
    assert_eq!(
        step["changes"]["changed"][0]["id"],
        json!(keep),
        "{}",
        step["changes"]
    );
    assert_eq!(
        step["changes"]["changed"][0]["description"],
        "Kept — button"
    );
    assert_eq!(step["changes"]["changed"][0]["was"], "Keep me — button");
    // The Capture snapshot answers the same section.
    let snap = pp.ok(ALICE, &id, "snapshot", json!({ "diff": true })).await;
    assert_eq!(snap["changes"]["navigated"], false, "{snap}");
    assert_eq!(snap["actions"], json!([]), "{snap}");
    // A Capture step says what it changed when asked (`changes: true`), and only then.
    for bad in [
        json!("yes"),
        json!(1e300),
        json!(-1),
        json!(9223372036854775808u64),
    ] {
        let (status, v) = pp
            .act(ALICE, &id, "step", json!({ "id": add, "changes": bad }))
            .await;
        assert_eq!(status, 400, "changes {bad}: {v}");
        assert!(
            v["error"].as_str().unwrap_or_default().contains("changes"),
            "{v}"
        );
    }
    let plain = pp.ok(ALICE, &id, "step", json!({ "id": add })).await;
    assert!(plain.get("changes").is_none(), "{plain}");
    let _ = pp.ok(ALICE, &id, "snapshot", json!({})).await;
    let told = pp
        .ok(ALICE, &id, "step", json!({ "id": add, "changes": true }))
        .await;
    let c = &told["changes"];
    assert_eq!(c["navigated"], false, "{told}");
    let new = c["new"].as_array().unwrap();
    assert_eq!(new.len(), 1, "{c}");
    assert!(
        new[0]["description"]
            .as_str()
            .unwrap()
            .starts_with("Remove item 3 — button"),
        "{c}"
    );
    assert_eq!(c["removed"], json!([]), "{c}");
    // Its observation is the new baseline, and its ids resolve.
    let remove = new[0]["id"].as_str().unwrap().to_string();
    let _ = pp.ok(ALICE, &id, "step", json!({ "id": remove })).await;
    pp.stop().await;
}
