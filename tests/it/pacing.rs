//! `delaySendMessagesMilliseconds`: the next message of an instance leaves
//! no earlier than the gap after the previous one.

use std::time::Duration;

use chatgate_e2e::{START, TestApp, transition_at};
use serde_json::json;

#[tokio::test]
async fn three_messages_with_a_1000_ms_gap_leave_at_least_1000_ms_apart() {
    let app = TestApp::spawn().await;
    let instance = app.paced(1000).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(
            app.send_ok(&instance, json!({"to": {"id": "u1"}, "text": format!("#{n}")})).await,
        );
    }

    // An idle instance sends at once; the second must wait for the gap.
    app.settle().await;
    assert_eq!(app.message(&instance, &ids[0]).await["status"], "sent");
    assert_eq!(app.message(&instance, &ids[1]).await["status"], "queued");
    app.advance(Duration::from_millis(999)).await;
    assert_eq!(app.message(&instance, &ids[1]).await["status"], "queued", "not before the gap");

    app.advance(Duration::from_secs(5)).await;
    let mut sent = Vec::new();
    for id in &ids {
        let m = app.message(&instance, id).await;
        assert_eq!(m["status"], "read", "{m}");
        sent.push(transition_at(&m, "sending"));
    }
    assert_eq!(sent[0], START.as_millis(), "the first leaves at once");
    assert!(sent.windows(2).all(|w| w[1] - w[0] >= 1000), "gaps: {sent:?}");
    assert_eq!(sent[2] - sent[0], 2000, "and no later than needed: {sent:?}");
}

#[tokio::test]
async fn an_instance_idle_for_longer_than_its_gap_sends_at_once() {
    let app = TestApp::spawn().await;
    let instance = app.paced(1000).await;
    app.send_ok(&instance, json!({"to": {"id": "u1"}, "text": "one"})).await;
    app.settle().await;
    app.advance(Duration::from_secs(10)).await;
    let id = app.send_ok(&instance, json!({"to": {"id": "u1"}, "text": "two"})).await;
    app.settle().await;
    assert_eq!(app.message(&instance, &id).await["status"], "sent");
}

#[tokio::test]
async fn the_gap_of_one_instance_does_not_slow_another() {
    let app = TestApp::spawn().await;
    let paced = app.paced(60000).await;
    let other = app.sandbox().await;
    app.send_ok(&paced, json!({"to": {"id": "u1"}, "text": "one"})).await;
    let waiting = app.send_ok(&paced, json!({"to": {"id": "u1"}, "text": "two"})).await;
    let mut free = Vec::new();
    for n in 0..5 {
        free.push(app.send_ok(&other, json!({"to": {"id": "u2"}, "text": format!("{n}")})).await);
    }
    app.settle().await;
    assert_eq!(app.message(&paced, &waiting).await["status"], "queued");
    for id in &free {
        assert_eq!(app.message(&other, id).await["status"], "sent");
    }
}

#[tokio::test]
async fn shortening_the_gap_lets_a_waiting_message_leave_sooner() {
    let app = TestApp::spawn().await;
    let instance = app.paced(600000).await;
    app.send_ok(&instance, json!({"to": {"id": "u1"}, "text": "one"})).await;
    let second = app.send_ok(&instance, json!({"to": {"id": "u1"}, "text": "two"})).await;
    app.settle().await;
    let path = format!("/api/v1/instances/{}/settings", instance.id);
    let answer = app
        .request(
            reqwest::Method::PATCH,
            &path,
            Some(&instance.token),
            Some(json!({"delaySendMessagesMilliseconds": 500})),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    app.advance(Duration::from_millis(500)).await;
    assert_eq!(app.message(&instance, &second).await["status"], "sent");
}
