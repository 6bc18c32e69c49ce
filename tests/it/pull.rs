//! Pulling notifications: long poll, acknowledge, one at a time.

use std::time::Duration;

use chatgate_e2e::TestApp;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn a_puller_gets_the_same_notification_until_it_acknowledges_it() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    let first = app.customer_writes(&instance, "one").await;
    let second = app.customer_writes(&instance, "two").await;
    assert_eq!(app.get(&instance, "/notifications/count").await.body["pending"], 2);

    let next = app.get(&instance, "/notifications/next").await;
    assert_eq!(next.status, 200);
    assert_eq!(next.body["event"]["id"], first.as_str());
    assert_eq!(next.body["event"]["type"], "incomingMessage");
    assert_eq!(next.body["event"]["data"]["text"], "one");
    let receipt = next.body["receiptId"].as_u64().unwrap();
    let again = app.get(&instance, "/notifications/next").await;
    assert_eq!(again.body["receiptId"], receipt, "not the next one before the ack");

    let ack = format!("/api/v1/instances/{}/notifications/{receipt}", instance.id);
    assert_eq!(app.request(Method::DELETE, &ack, Some(&instance.token), None).await.status, 204);
    assert_eq!(app.request(Method::DELETE, &ack, Some(&instance.token), None).await.status, 404);
    let next = app.get(&instance, "/notifications/next").await;
    assert_eq!(next.body["event"]["id"], second.as_str());
    assert_eq!(app.get(&instance, "/notifications/count").await.body["pending"], 1);
}

#[tokio::test]
async fn a_long_poll_returns_as_soon_as_a_notification_arrives() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    let url = format!("{}/api/v1/instances/{}/notifications/next?wait=60", app.base, instance.id);
    let poll = tokio::spawn(app.client.get(url).bearer_auth(&instance.token).send());
    // The poll is waiting; the clock does not move; a customer writes.
    app.until_long_poll_waits(&instance).await;
    let event = app.customer_writes(&instance, "are you there?").await;
    let answer = TestApp::answer(poll.await.unwrap().unwrap()).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["event"]["id"], event.as_str());
}

#[tokio::test]
async fn a_long_poll_with_nothing_to_return_answers_204_when_its_wait_is_over() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    let url = format!("{}/api/v1/instances/{}/notifications/next?wait=5", app.base, instance.id);
    let poll = tokio::spawn(app.client.get(url).bearer_auth(&instance.token).send());
    app.until_long_poll_waits(&instance).await;
    assert!(!poll.is_finished());
    app.clock.advance(Duration::from_secs(4));
    app.until_long_poll_waits(&instance).await;
    assert!(!poll.is_finished(), "still waiting after 4 s");
    app.clock.advance(Duration::from_secs(1));
    let response = poll.await.unwrap().unwrap();
    assert_eq!(response.status(), 204);
}

#[tokio::test]
async fn a_wait_outside_5_to_60_seconds_is_refused() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    for wait in ["4", "61", "soon"] {
        let answer = app.get(&instance, &format!("/notifications/next?wait={wait}")).await;
        assert_eq!(answer.status, 400, "wait={wait}");
        assert_eq!(answer.body["field"], "wait");
    }
}

#[tokio::test]
async fn an_instance_that_pushes_cannot_also_pull() {
    let app = TestApp::spawn().await;
    let instance = app.pushing_to("https://crm.example.com/hook").await;
    let answer = app.get(&instance, "/notifications/next").await;
    assert_eq!(answer.status, 409);
    assert_eq!(answer.body["code"], "push_mode");
}

#[tokio::test]
async fn outbound_statuses_reach_a_puller_too() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    let id = app.send_ok(&instance, json!({"to": {"id": "u1"}, "text": "hi"})).await;
    app.advance(Duration::from_secs(1)).await;
    let mut seen = Vec::new();
    loop {
        let next = app.get(&instance, "/notifications/next").await;
        if next.status == 204 || seen.len() > 10 {
            break;
        }
        let event = &next.body["event"];
        seen.push(format!(
            "{}:{}",
            event["type"].as_str().unwrap(),
            event["data"]["status"].as_str().unwrap_or("")
        ));
        assert!(event["data"]["messageId"] == id.as_str());
        let receipt = next.body["receiptId"].as_u64().unwrap();
        let ack = format!("/api/v1/instances/{}/notifications/{receipt}", instance.id);
        app.request(Method::DELETE, &ack, Some(&instance.token), None).await;
        if app.get(&instance, "/notifications/count").await.body["pending"] == 0 {
            break;
        }
    }
    assert_eq!(
        seen,
        [
            "outgoingApiMessage:",
            "messageStatus:sent",
            "messageStatus:delivered",
            "messageStatus:read"
        ]
    );
}
