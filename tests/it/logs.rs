//! Logs: every line written while a request is handled carries its request
//! id, in both formats, and no token reaches a log line.

use chatgate::config::LogFormat;
use chatgate_e2e::{LogBuffer, TestApp};
use reqwest::Method;
use serde_json::{Value, json};
use tracing_subscriber::EnvFilter;

/// Logs (at debug) what the server writes while answering a send with the
/// token in the header and a GREEN-API call with the token in the path;
/// returns the log and the two answers' request ids.
async fn logged(format: LogFormat) -> (String, [String; 2], Vec<String>) {
    let buffer = LogBuffer::default();
    let writer = buffer.clone();
    let subscriber =
        chatgate::commands::subscriber(EnvFilter::new("debug"), format, false, move || {
            writer.clone()
        });
    let _guard = tracing::subscriber::set_default(subscriber);
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    let sent = app
        .raw(Method::POST, &format!("/api/v1/instances/{}/messages", instance.id))
        .bearer_auth(&instance.token)
        .json(&json!({"to": {"id": "u1"}, "text": "hello"}))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 202, "{:?}", sent.text().await);
    let green = app
        .raw(
            Method::GET,
            &format!("/waInstance{}/getStateInstance/{}", instance.id, instance.token),
        )
        .send()
        .await
        .unwrap();
    let ids = [&sent, &green].map(|r| r.headers()["x-request-id"].to_str().unwrap().to_owned());
    let secrets = vec![instance.token.clone(), app.partner_token.clone()];
    app.stop().await;
    (buffer.text(), ids, secrets)
}

#[tokio::test(flavor = "current_thread")]
async fn json_log_lines_of_a_request_carry_its_request_id_and_no_token() {
    let (log, ids, secrets) = logged(LogFormat::Json).await;
    let lines: Vec<Value> = log.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let request_of = |line: &Value| -> Option<String> {
        let spans = line["spans"].as_array()?;
        let http = spans.iter().find(|s| s["name"] == "http")?;
        Some(http["request_id"].as_str().unwrap_or_default().to_owned())
    };
    // Every line written inside a request (the harness makes some too)
    // carries a request id…
    let in_requests: Vec<(String, &Value)> =
        lines.iter().filter_map(|line| request_of(line).map(|id| (id, line))).collect();
    for (id, line) in &in_requests {
        assert!(id.len() >= 32, "a line inside a request without its id: {line}");
    }
    // …and each request wrote its own lines, from its start to its end.
    for id in &ids {
        let messages: Vec<&str> = in_requests
            .iter()
            .filter(|(of, _)| of == id)
            .filter_map(|(_, line)| line["fields"]["message"].as_str())
            .collect();
        for expected in ["started processing request", "finished processing request"] {
            assert!(messages.contains(&expected), "request {id} has no {expected:?}: {messages:?}");
        }
    }
    for secret in &secrets {
        assert!(!log.contains(secret.as_str()), "a token in the log:\n{log}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn text_log_lines_of_a_request_carry_its_request_id_and_no_token() {
    let (log, ids, secrets) = logged(LogFormat::Text).await;
    for id in &ids {
        let needle = format!("request_id=\"{id}\"");
        for expected in ["started processing request", "finished processing request"] {
            assert!(
                log.lines().any(|l| l.contains(&needle) && l.contains(expected)),
                "no {expected:?} line with {needle} in\n{log}"
            );
        }
    }
    for secret in &secrets {
        assert!(!log.contains(secret.as_str()), "a token in the log:\n{log}");
    }
}
