//! The official GREEN-API Python client, `whatsapp-api-client-python` from
//! PyPI, installed by `.ci/run` into a virtual environment, pointed at a
//! running chatgate with `host=` and exercising every method implemented.

use std::time::Duration;

use chatgate_e2e::TestApp;

/// The Python of the virtual environment `.ci/run` prepares.
const PYTHON: &str = "GREENAPI_CLIENT_PYTHON";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_python_client_works_unchanged() {
    let Ok(python) = std::env::var(PYTHON) else {
        assert!(
            std::env::var("CI").is_err(),
            "{PYTHON} is not set: .ci/run installs whatsapp-api-client-python into a virtual environment and sets it"
        );
        eprintln!(
            "\n*** SKIPPED: the official GREEN-API client test needs {PYTHON} (a Python with \
             whatsapp-api-client-python installed); .ci/run sets it up ***\n"
        );
        return;
    };
    let (app, addr) = TestApp::spawn_live(|_| {}).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/greenapi_client.py");
    let run = tokio::process::Command::new(python)
        .arg(script)
        .arg(format!("http://{addr}"))
        .arg(&app.partner_token)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(240), run)
        .await
        .expect("the Python client finished within 4 minutes")
        .expect("the Python client ran");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stdout}");
    assert!(output.status.success(), "the official client failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("all ") && stdout.contains(" checks passed"), "{stdout}");
    app.stop().await;
}
