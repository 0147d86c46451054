//! The real Python client `notte-sdk` 1.10 (PyPI), unmodified, against pagepilot's agent API.
//! `./dev.sh test` installs it in a venv and sets PAGEPILOT_TEST_VENV.

mod common;

use common::{token, Fixtures, Pp, ALICE};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unmodified_notte_sdk_works() {
    let fx = Fixtures::start().await;
    let pp = Pp::default().await;
    let fixtures = format!("http://{}", fx.addr);
    let args = [pp.base.as_str(), &token(ALICE), fixtures.as_str()];
    common::run_python_flow("notte_sdk_flow.py", &args, "notte-sdk flow ok").await;
    pp.stop().await;
}
