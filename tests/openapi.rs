//! The OpenAPI document against the running server: it validates as OpenAPI 3.1
//! (`openapi-spec-validator`), and schemathesis runs every operation with generated inputs
//! (its examples, coverage, fuzzing and stateful phases, a bounded number of examples each)
//! with real Chromium behind, checking that no answer is a server error, every answer's
//! status and schema are documented, and auth is enforced. Zero failures.

mod common;

use common::{config, token, Pp, ALICE};
use reqwest::Method;
use serde_json::{json, Value};

fn schemathesis() -> std::path::PathBuf {
    common::venv_python().with_file_name("schemathesis")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_spec_is_valid_and_the_server_keeps_to_it() {
    let mut cfg = config();
    cfg.metrics_token = Some("metrics-token-0123456789".into());
    cfg.max_sessions_per_tenant = 4;
    let pp = Pp::start(cfg).await;

    // Served at both addresses, the same document, OpenAPI 3.1, every protocol in it.
    let (status, spec) = pp.send(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(status, 200);
    let (_, again) = pp
        .send(Method::GET, "/.well-known/openapi.json", None, None)
        .await;
    assert_eq!(spec, again);
    assert_eq!(spec["openapi"], "3.1.0");
    let paths = spec["paths"].as_object().unwrap();
    for p in [
        "/v1/sessions",
        "/v1/sessions/{id}/actions",
        "/sessions/{id}/page/observe",
        "/v1/sessions/ws",
        "/oauth/token",
        "/healthz",
        "/metrics",
    ] {
        assert!(paths.contains_key(p), "{p} is not in the spec");
    }
    // The human docs page works offline: its assets come from the binary.
    let docs = pp
        .http
        .get(format!("{}/docs/", pp.base))
        .send()
        .await
        .unwrap();
    assert_eq!(docs.status(), 200);
    let html = docs.text().await.unwrap();
    assert!(
        html.contains("swagger-ui") && !html.contains("cdn"),
        "{html:.300}"
    );

    let dir = std::env::temp_dir().join(format!("pagepilot-openapi-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let spec_file = dir.join("openapi.json");
    std::fs::write(&spec_file, serde_json::to_vec(&spec).unwrap()).unwrap();
    let valid = tokio::process::Command::new(common::venv_python())
        .args([
            "-c",
            "import json,sys; from openapi_spec_validator import validate; \
             validate(json.load(open(sys.argv[1]))); print('valid')",
        ])
        .arg(&spec_file)
        .output()
        .await
        .unwrap();
    assert!(
        valid.status.success(),
        "{}",
        String::from_utf8_lossy(&valid.stderr)
    );

    // A real session, so that the operations on `{id}` reach a browser (schemathesis may
    // close it on the way: what follows then answers 409, which is documented too).
    let (status, created) = pp
        .send(
            Method::POST,
            "/v1/sessions",
            Some(ALICE),
            Some(json!({ "maxTtlSeconds": 600 })),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["session"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(!id.is_empty(), "{created}");
    std::fs::write(
        dir.join("schemathesis.toml"),
        format!("[parameters]\n\"path.id\" = \"{id}\"\n"),
    )
    .unwrap();
    // First with the real session kept alive (no DELETE): every operation on `{id}` then
    // runs its generated inputs against a live page. Then every operation.
    for extra in [&["--exclude-method", "DELETE"][..], &[][..]] {
        let out = tokio::process::Command::new(schemathesis())
            .current_dir(&dir)
            .args([
                "run",
                &format!("{}/openapi.json", pp.base),
                "-H",
                &format!("Authorization: Bearer {}", token(ALICE)),
                "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,ignored_auth",
                "--max-examples",
                "10",
                "--request-timeout",
                "40",
                "--no-color",
                "--seed",
                "1",
            ])
            .args(extra)
            .output()
            .await
            .unwrap();
        let report = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "schemathesis {extra:?} found failures:\n{report}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            report.contains(" passed") && !report.contains('❌') && !report.contains("FAILURES"),
            "{report}"
        );
    }
    // The instance is still serving afterwards.
    let (status, health): (u16, Value) = pp.send(Method::GET, "/healthz", None, None).await;
    assert_eq!(
        (status, health["status"].clone()),
        (200, json!("ok")),
        "{health}"
    );
    let _ = std::fs::remove_dir_all(dir);
    pp.stop().await;
}
