//! The real Python client `capture-sdk` 1.2 (PyPI), unmodified, against pagepilot.
//! `./dev.sh test` installs it in a venv and sets PAGEPILOT_TEST_VENV.

mod common;

use std::path::PathBuf;

use common::{Fixtures, Pp, ALICE};

fn venv_python() -> PathBuf {
    let venv = std::env::var_os("PAGEPILOT_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/pagepilot/venv")
        });
    let python = venv.join("bin/python");
    assert!(
        python.exists(),
        "{} is missing: run the suite with ./dev.sh test, which installs capture-sdk in a venv",
        python.display()
    );
    python
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unmodified_capture_sdk_works() {
    let python = venv_python();
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
