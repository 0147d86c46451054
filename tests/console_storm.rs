//! A page that logs without pause is limited, then stopped, and its tab replaced. Its own
//! test binary: the storming renderers burn both cores while they run, and test binaries run
//! one after another, so no other test's timing shares the machine with them.

mod common;

use std::time::Duration;

use common::{Fixtures, Pp, ALICE};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_storm_is_limited_then_stopped() {
    let fx = Fixtures::start().await;
    let pp = Pp::default().await;
    let errors_say = |id: String, what: &'static str| {
        let pp = &pp;
        async move {
            let v = pp.ok(ALICE, &id, "errors", json!({})).await;
            v["entries"].as_array().is_some_and(|es| {
                es.iter()
                    .any(|e| e["text"].as_str().is_some_and(|t| t.contains(what)))
            })
        }
    };

    // A page that calls console.log without pause: limited in the page, and it goes on.
    let id = pp
        .session_at(
            ALICE,
            json!({ "url": fx.url("/hostile/console-storm.html") }),
        )
        .await;
    let limited = pp
        .eventually(Duration::from_secs(10), || {
            errors_say(id.clone(), "console storm")
        })
        .await;
    assert!(limited, "the storm is noticed");
    let reported = pp
        .eventually(Duration::from_secs(10), || async {
            let v = pp.ok(ALICE, &id, "console", json!({})).await;
            v["entries"].as_array().is_some_and(|es| {
                es.iter().any(|e| {
                    e["text"]
                        .as_str()
                        .is_some_and(|t| t.contains("[pagepilot]") && t.contains("dropped"))
                })
            })
        })
        .await;
    assert!(
        reported,
        "the page's console says how many lines were dropped"
    );
    assert_eq!(
        pp.ok(ALICE, &id, "title", json!({})).await["title"],
        "Console storm"
    );
    // Its renderer still spins: end it now, so it does not slow other tests on this machine.
    pp.delete(ALICE, &id).await;

    // A page that kept its own reference to console.log: its scripts are stopped, and the
    // next action replaces its tab.
    let stubborn = pp
        .session_at(
            ALICE,
            json!({ "url": fx.url("/hostile/console-storm-stubborn.html") }),
        )
        .await;
    // Any action of the session after the stop replaces the tab first, and says why.
    let replaced = pp
        .eventually(Duration::from_secs(15), || async {
            let (_, v) = pp.act(ALICE, &stubborn, "url", json!({})).await;
            v["tabReplaced"]
                .as_str()
                .is_some_and(|t| t.contains("kept logging") && t.contains("scripts were stopped"))
        })
        .await;
    assert!(
        replaced,
        "the stubborn storm is stopped and its tab replaced"
    );
    pp.ok(
        ALICE,
        &stubborn,
        "goto",
        json!({ "url": fx.url("/capture/basic.html") }),
    )
    .await;
    assert_eq!(pp.text(ALICE, &stubborn, "h1").await, "Fixture shop");
    pp.stop().await;
}
