//! The real Python client `capture-sdk` 1.2 (PyPI), unmodified, against pagepilot.
//! `./dev.sh test` installs it in a venv and sets PAGEPILOT_TEST_VENV.

mod common;

use common::{Fixtures, Pp, ALICE};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unmodified_capture_sdk_works() {
    let fx = Fixtures::start().await;
    let pp = Pp::default().await;
    let fixtures = format!("http://{}", fx.addr);
    let args = [pp.base.as_str(), ALICE.0, ALICE.1, fixtures.as_str()];
    common::run_python_flow("capture_sdk_flow.py", &args, "capture-sdk flow ok").await;
    pp.stop().await;
}
