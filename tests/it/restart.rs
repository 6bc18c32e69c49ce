//! A restart keeps instances, queues and statuses.

use std::time::Duration;

use chatgate_e2e::{TestApp, statuses};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn a_restart_keeps_instances_queue_and_statuses() {
    let app = TestApp::spawn().await;
    let instance = app
        .create_instance(json!({"kind": "sandbox", "name": "kept", "settings": {"delaySendMessagesMilliseconds": 5000}}))
        .await;
    let first = app.send_ok(&instance, json!({"to": {"id": "u1"}, "text": "before"})).await;
    let second = app.send_ok(&instance, json!({"to": {"id": "u1"}, "text": "waiting"})).await;
    app.advance(Duration::from_secs(1)).await;
    assert_eq!(app.message(&instance, &first).await["status"], "read");
    assert_eq!(app.message(&instance, &second).await["status"], "queued");

    let app = app.restart().await;

    // The instance, its token and its settings survived.
    let path = format!("/api/v1/instances/{}/settings", instance.id);
    let settings = app.request(Method::GET, &path, Some(&instance.token), None).await;
    assert_eq!(settings.status, 200, "{}", settings.body);
    assert_eq!(settings.body["delaySendMessagesMilliseconds"], 5000);
    // The history of the sent message and the queue survived.
    let read = app.message(&instance, &first).await;
    assert_eq!(statuses(&read), ["queued", "sending", "sent", "delivered", "read"]);
    assert_eq!(app.queue_count(&instance).await, 1);
    // The pacing gap still counts from the send before the restart.
    app.settle().await;
    assert_eq!(app.message(&instance, &second).await["status"], "queued");
    app.advance(Duration::from_secs(5)).await;
    assert_eq!(app.message(&instance, &second).await["status"], "read");
}

#[tokio::test]
async fn receipts_promised_before_a_restart_arrive_after_it() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    let id = app.send_ok(&instance, json!({"to": {"id": "u1"}, "text": "hi"})).await;
    app.settle().await;
    assert_eq!(app.message(&instance, &id).await["status"], "sent");
    let app = app.restart().await;
    app.advance(Duration::from_secs(1)).await;
    assert_eq!(app.message(&instance, &id).await["status"], "read");
}

#[tokio::test]
async fn a_message_whose_worker_died_mid_send_is_sent_again_after_the_lease() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    let id = app.send_ok(&instance, json!({"to": {"id": "u1"}, "text": "hi"})).await;
    // A worker claims the message and dies before recording the outcome.
    let claims = app.app().outbound.claim(1).await.unwrap();
    assert_eq!(claims.len(), 1);
    drop(claims);
    let app = app.crash_and_restart().await;
    assert_eq!(app.message(&instance, &id).await["status"], "sending");

    // Nobody takes it over while the lease holds…
    app.settle().await;
    assert_eq!(app.message(&instance, &id).await["status"], "sending");
    // …and the next worker does once it expires.
    app.advance(Duration::from_millis(app.config.outbound.lease_ms + 1000)).await;
    let m = app.message(&instance, &id).await;
    assert_eq!(m["status"], "read", "{m}");
    assert_eq!(m["attempts"], 2);
    let resent = &m["transitions"][2];
    assert_eq!(resent["status"], "sending");
    assert!(resent["detail"].as_str().unwrap().contains("interrupted"), "{resent}");
}

#[tokio::test]
async fn a_message_sent_again_after_an_interrupted_attempt_is_flagged_as_a_possible_duplicate() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    let once = app.send_ok(&instance, json!({"to": {"id": "u1"}, "text": "once"})).await;
    app.settle().await;
    let twice = app.send_ok(&instance, json!({"to": {"id": "u1"}, "text": "maybe twice"})).await;
    // The attempt dies after the platform may have got the message.
    let claims = app.app().outbound.claim(1).await.unwrap();
    assert_eq!(claims.len(), 1);
    drop(claims);
    let app = app.crash_and_restart().await;
    app.advance(Duration::from_millis(app.config.outbound.lease_ms + 1000)).await;
    assert_eq!(app.message(&instance, &twice).await["status"], "read");

    let sent_of = |id: &str, journal: &[serde_json::Value]| {
        journal
            .iter()
            .find(|e| {
                e["type"] == "messageStatus"
                    && e["data"]["messageId"] == id
                    && e["data"]["status"] == "sent"
            })
            .cloned()
            .unwrap_or_else(|| panic!("no sent status of {id}"))
    };
    let journal = app.journal(&instance).await;
    let flagged = sent_of(&twice, &journal);
    assert_eq!(flagged["data"]["possibleDuplicate"], true, "{flagged}");
    let plain = sent_of(&once, &journal);
    assert_eq!(plain["data"]["possibleDuplicate"], false, "{plain}");
    // Later statuses of the message are about the one it became.
    let read = journal
        .iter()
        .find(|e| e["data"]["messageId"] == twice.as_str() && e["data"]["status"] == "read")
        .unwrap();
    assert_eq!(read["data"]["possibleDuplicate"], false, "{read}");
}
