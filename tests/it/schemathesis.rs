//! schemathesis (PyPI) against the native API's OpenAPI document on a
//! running server: generated requests, valid and invalid, must never get a
//! 5xx, and every answer must match the document (status, content type,
//! schema). Two passes: with an instance's token (every per-instance
//! operation) and with the partner token (the admin operations, tag
//! `instances`; it may delete the instance, so it runs last).
//!
//! `.ci/run` installs schemathesis into its virtual environment and sets
//! `SCHEMATHESIS_PYTHON`; outside CI the test is skipped, loudly, when it
//! is unset.

use std::process::Stdio;
use std::time::Duration;

use chatgate_e2e::TestApp;
use serde_json::json;

/// A Python with schemathesis installed, prepared by `.ci/run`.
const PYTHON: &str = "SCHEMATHESIS_PYTHON";

/// Runs schemathesis' CLI against `base` with `token` as bearer; panics
/// with its report unless it passes.
async fn schemathesis(
    python: &str,
    base: &str,
    instance: u64,
    token: &str,
    seed: u32,
    only_tag: Option<&str>,
) {
    let dir = tempfile::tempdir().unwrap();
    // Every operation about an instance is about this one, so generated
    // requests get past the 404 to the handlers. A notification is
    // pending, so a generated long poll answers at once; `wait` is fixed
    // to bound a poll that finds none.
    let config = dir.path().join("schemathesis.toml");
    std::fs::write(
        &config,
        format!("[parameters]\n\"path.id\" = {instance}\n\"query.wait\" = 5\n"),
    )
    .unwrap();
    let mut command = tokio::process::Command::new(python);
    command
        .current_dir(dir.path())
        .args([
            "-c",
            "import sys; from schemathesis.cli import schemathesis; \
             sys.argv[0] = 'schemathesis'; sys.exit(schemathesis())",
        ])
        .arg("--config-file")
        .arg(&config)
        .args(["run", &format!("{base}/api/openapi.json")])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--max-examples", "20", "--seed", &seed.to_string()])
        .args([
            "--checks",
            "not_a_server_error,response_schema_conformance,status_code_conformance,\
             content_type_conformance",
        ])
        .args(["--request-timeout", "20", "--workers", "1", "--no-color"])
        .args(["--generation-database", "none"])
        // Health checks of the generator itself (too many generated path
        // values filtered by their patterns; slow generation on a loaded
        // CI machine), not findings about the API.
        .args(["--suppress-health-check", "filter_too_much,too_slow"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(tag) = only_tag {
        command.args(["--include-tag", tag]);
    }
    let run = command.output();
    let output = tokio::time::timeout(Duration::from_secs(150), run)
        .await
        .expect("schemathesis finished within 150 s")
        .expect("schemathesis ran");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "schemathesis found failures:\n{stdout}\n{stderr}");
    assert!(stdout.contains("passed"), "{stdout}\n{stderr}");
}

#[tokio::test]
async fn schemathesis_finds_no_server_error_and_no_answer_outside_the_document() {
    let Ok(python) = std::env::var(PYTHON) else {
        assert!(
            std::env::var("CI").is_err(),
            "{PYTHON} is not set: .ci/run installs schemathesis into a virtual environment and sets it"
        );
        eprintln!(
            "\n*** SKIPPED: schemathesis needs {PYTHON} (a Python with schemathesis installed); \
             .ci/run sets it up ***\n"
        );
        return;
    };
    let (app, _) = TestApp::spawn_live(|_| {}).await;
    let instance = app.sandbox().await;
    for i in 0..10 {
        app.customer_writes(&instance, &format!("pending {i}")).await;
    }
    assert_eq!(
        app.get(&instance, "/notifications/count").await.body["pending"],
        json!(10),
        "notifications are pending for the long polls"
    );
    schemathesis(&python, &app.base, instance.id, &instance.token, 1, None).await;
    // The partner token reaches every operation too; this pass covers the
    // ones only it may call.
    let partner = app.partner_token.clone();
    schemathesis(&python, &app.base, instance.id, &partner, 2, Some("instances")).await;
    app.stop().await;
}
