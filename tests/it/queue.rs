//! The outbound queue: show, count, clear, expiry.

use std::time::Duration;

use chatgate_e2e::{TestApp, statuses};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn the_queue_lists_pending_messages_in_send_order_and_counts_them() {
    let app = TestApp::spawn().await;
    let instance = app.paced(10000).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(
            app.send_ok(&instance, json!({"to": {"id": "u1"}, "text": format!("#{n}")})).await,
        );
    }
    app.settle().await; // the first leaves
    let path = format!("/api/v1/instances/{}/queue", instance.id);
    let queue = app.request(Method::GET, &path, Some(&instance.token), None).await;
    assert_eq!(queue.status, 200);
    let listed: Vec<_> = queue.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(listed, ids[1..]);
    assert_eq!(queue.body["messages"][0]["text"], "#1");
    assert_eq!(app.queue_count(&instance).await, 2);
}

#[tokio::test]
async fn clearing_the_queue_fails_the_queued_messages_and_sends_nothing_more() {
    let app = TestApp::spawn().await;
    let instance = app.paced(10000).await;
    let sent = app.send_ok(&instance, json!({"to": {"id": "u1"}, "text": "one"})).await;
    let dropped = app.send_ok(&instance, json!({"to": {"id": "u1"}, "text": "two"})).await;
    app.settle().await;
    let path = format!("/api/v1/instances/{}/queue", instance.id);
    let cleared = app.request(Method::DELETE, &path, Some(&instance.token), None).await;
    assert_eq!(cleared.status, 200);
    assert_eq!(cleared.body["removed"], 1);
    assert_eq!(app.queue_count(&instance).await, 0);

    app.advance(Duration::from_secs(60)).await;
    assert_eq!(app.message(&instance, &sent).await["status"], "read");
    let m = app.message(&instance, &dropped).await;
    assert_eq!(m["status"], "failed");
    assert_eq!(statuses(&m), ["queued", "failed"]);
    assert!(m["failure"].as_str().unwrap().contains("removed from the queue"));
}

#[tokio::test]
async fn a_message_queued_for_24_hours_expires() {
    let app = TestApp::spawn().await;
    // An Instagram instance without a connection holds its queue.
    let instance = app.create_instance(json!({"kind": "instagram"})).await;
    let id = app.send_ok(&instance, json!({"to": {"id": "u1"}, "text": "waiting"})).await;
    app.advance(Duration::from_secs(23 * 3600)).await;
    assert_eq!(app.app().outbound.expire_stale().await.unwrap(), 0);
    assert_eq!(app.message(&instance, &id).await["status"], "queued");

    app.advance(Duration::from_secs(3600 + 1)).await;
    assert_eq!(app.app().outbound.expire_stale().await.unwrap(), 1);
    let m = app.message(&instance, &id).await;
    assert_eq!(m["status"], "expired");
    assert_eq!(statuses(&m), ["queued", "expired"]);
    assert_eq!(app.queue_count(&instance).await, 0);
}

#[tokio::test]
async fn a_message_that_waited_too_long_behind_a_gap_expires_instead_of_leaving() {
    let app = TestApp::spawn_with(|c| c.outbound.message_ttl_ms = 5_000).await;
    let instance = app.paced(10000).await;
    app.send_ok(&instance, json!({"to": {"id": "u1"}, "text": "one"})).await;
    let late = app.send_ok(&instance, json!({"to": {"id": "u1"}, "text": "two"})).await;
    app.advance(Duration::from_secs(20)).await;
    assert_eq!(app.message(&instance, &late).await["status"], "expired");
}
