//! `Idempotency-Key`: the same key returns the same message and sends once.

use std::time::Duration;

use chatgate_e2e::TestApp;
use reqwest::Method;
use serde_json::json;

async fn send_with_key(
    app: &TestApp,
    instance: &chatgate_e2e::TestInstance,
    key: &str,
    text: &str,
) -> chatgate_e2e::Answer {
    let response = app
        .raw(Method::POST, &format!("/api/v1/instances/{}/messages", instance.id))
        .bearer_auth(&instance.token)
        .header("Idempotency-Key", key)
        .json(&json!({"to": {"id": "u1"}, "text": text}))
        .send()
        .await
        .unwrap();
    TestApp::answer(response).await
}

#[tokio::test]
async fn the_same_idempotency_key_returns_the_same_message_and_sends_once() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    let first = send_with_key(&app, &instance, "order-42", "Your order shipped").await;
    assert_eq!(first.status, 202);
    assert!(first.headers.get("idempotent-replayed").is_none());
    let again = send_with_key(&app, &instance, "order-42", "Your order shipped").await;
    assert_eq!(again.status, 202);
    assert_eq!(again.body["id"], first.body["id"]);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(app.queue_count(&instance).await, 1);

    app.advance(Duration::from_secs(1)).await;
    let sends: Vec<_> = app.advance(Duration::from_secs(1)).await;
    assert!(sends.is_empty());
    // A replay after sending answers with the current status, still no resend.
    let late = send_with_key(&app, &instance, "order-42", "Your order shipped").await;
    assert_eq!(late.body["id"], first.body["id"]);
    assert_eq!(late.body["status"], "read");
    assert!(app.settle().await.is_empty(), "nothing new to send");
}

#[tokio::test]
async fn reusing_an_idempotency_key_for_a_different_message_is_a_conflict() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    assert_eq!(send_with_key(&app, &instance, "k1", "one").await.status, 202);
    let other = send_with_key(&app, &instance, "k1", "two").await;
    assert_eq!(other.status, 409);
    assert_eq!(other.body["code"], "conflict");
    assert_eq!(app.queue_count(&instance).await, 1);
}

#[tokio::test]
async fn idempotency_keys_belong_to_one_instance() {
    let app = TestApp::spawn().await;
    let a = app.sandbox().await;
    let b = app.sandbox().await;
    let from_a = send_with_key(&app, &a, "same", "hi").await;
    let from_b = send_with_key(&app, &b, "same", "hi").await;
    assert_eq!(from_b.status, 202);
    assert_ne!(from_a.body["id"], from_b.body["id"]);
}

#[tokio::test]
async fn concurrent_requests_with_one_key_store_one_message() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    let answers = futures_join(&app, &instance).await;
    let ids: std::collections::BTreeSet<_> =
        answers.iter().map(|a| a.body["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids.len(), 1, "{answers:?}");
    assert_eq!(app.queue_count(&instance).await, 1);
}

async fn futures_join(
    app: &TestApp,
    instance: &chatgate_e2e::TestInstance,
) -> Vec<chatgate_e2e::Answer> {
    let mut handles = Vec::new();
    for _ in 0..20 {
        handles.push(send_with_key(app, instance, "race", "same body"));
    }
    futures::future::join_all(handles).await
}
