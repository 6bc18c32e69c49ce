//! `GET` / `PATCH …/settings`.

use chatgate_e2e::TestApp;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn settings_change_only_where_patched_and_persist() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    let path = format!("/api/v1/instances/{}/settings", instance.id);
    let patched = app
        .request(
            Method::PATCH,
            &path,
            Some(&instance.token),
            Some(json!({
                "webhookUrl": "https://crm.example.com/hook",
                "webhookUrlToken": "s3cret",
                "incomingWebhook": false,
                "delaySendMessagesMilliseconds": 0
            })),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.body["webhookUrl"], "https://crm.example.com/hook");
    assert_eq!(patched.body["incomingWebhook"], false);
    assert_eq!(patched.body["outgoingWebhook"], true, "untouched");
    assert_eq!(patched.body["delaySendMessagesMilliseconds"], 0, "0 is allowed natively");

    let shown = app.request(Method::GET, &path, Some(&instance.token), None).await;
    assert_eq!(shown.body, patched.body);

    let cleared = app
        .request(Method::PATCH, &path, Some(&instance.token), Some(json!({"webhookUrl": ""})))
        .await;
    assert_eq!(cleared.body["webhookUrl"], serde_json::Value::Null);
}

#[tokio::test]
async fn bad_settings_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    let path = format!("/api/v1/instances/{}/settings", instance.id);
    let before = app.request(Method::GET, &path, Some(&instance.token), None).await.body;
    for (body, field) in [
        (json!({"delaySendMessagesMilliseconds": 600001}), "delaySendMessagesMilliseconds"),
        (json!({"delaySendMessagesMilliseconds": -1}), "delaySendMessagesMilliseconds"),
        (json!({"delaySendMessagesMilliseconds": "fast"}), "delaySendMessagesMilliseconds"),
        (json!({"webhookUrl": "ftp://crm.example.com"}), "webhookUrl"),
        (json!({"incomingWebhook": "yes"}), "incomingWebhook"),
    ] {
        let answer =
            app.request(Method::PATCH, &path, Some(&instance.token), Some(body.clone())).await;
        assert_eq!(answer.status, 400, "{body}");
        assert_eq!(answer.body["field"], field, "{body} → {}", answer.body);
    }
    let answer = app
        .request(Method::PATCH, &path, Some(&instance.token), Some(json!({"webhookUrll": "x"})))
        .await;
    assert_eq!(answer.status, 400);
    let after = app.request(Method::GET, &path, Some(&instance.token), None).await.body;
    assert_eq!(before, after);
}
