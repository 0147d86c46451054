//! The real Python client `capture-sdk` 1.2 (PyPI), unmodified, against pagepilot.
//! `./dev.sh test` installs it in a venv and sets PAGEPILOT_TEST_VENV.

mod common;

use std::path::PathBuf;

use common::{Fixtures, Pp, ALICE};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unmodified_capture_sdk_works() {
    let python = common::venv_python();
    let fx = Fixtures::start().await;
    let pp = Pp::default().await;
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/capture_sdk_flow.py");
    let fixtures = format!("http://{}", fx.addr);
    let out = tokio::process::Command::new(python)
        .arg(script)
        .args([pp.base.as_str(), ALICE.0, ALICE.1, fixtures.as_str()])
        .output()
        .await
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "capture-sdk flow failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("capture-sdk flow ok"), "{stdout}");
    pp.stop().await;
}
