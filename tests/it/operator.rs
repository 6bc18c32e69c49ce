//! The operator's tools: journal, replay, retention.

use std::time::Duration;

use chatgate_e2e::{TestApp, TestReceiver};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn replaying_since_a_sequence_number_queues_those_events_again() {
    let app = TestApp::spawn().await;
    let receiver = TestReceiver::start().await;
    let instance = app.pushing_to(&receiver.url).await;
    for n in 1..=4 {
        app.customer_writes(&instance, &format!("#{n}")).await;
    }
    app.settle().await;
    assert_eq!(receiver.received().len(), 4);

    let path = format!("/api/v1/instances/{}/events/replay", instance.id);
    let answer =
        app.request(Method::POST, &path, Some(&instance.token), Some(json!({"afterSeq": 2}))).await;
    assert_eq!(answer.status, 202, "{}", answer.body);
    assert_eq!(answer.body["queued"], 2);
    app.settle().await;
    let seqs: Vec<u64> = receiver.bodies().iter().map(|b| b["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 3, 4]);

    let since = app
        .request(
            Method::POST,
            &path,
            Some(&instance.token),
            Some(json!({"since": "2020-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(since.body["queued"], 4);
    for bad in [
        json!({}),
        json!({"afterSeq": 1, "since": "2020-01-01T00:00:00Z"}),
        json!({"since": "yesterday"}),
    ] {
        let answer =
            app.request(Method::POST, &path, Some(&instance.token), Some(bad.clone())).await;
        assert_eq!(answer.status, 400, "{bad}");
    }
}

#[tokio::test]
async fn the_journal_lists_events_after_a_sequence_number() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    for n in 1..=3 {
        app.customer_writes(&instance, &format!("#{n}")).await;
    }
    let page = app.get(&instance, "/events?afterSeq=1&limit=1").await.body;
    let events = page["events"].as_array().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["seq"], 2);
    assert_eq!(app.get(&instance, "/events?afterSeq=x").await.status, 400);
}

#[tokio::test]
async fn notifications_go_after_a_day_and_the_journal_after_thirty() {
    let app = TestApp::spawn().await;
    let receiver = TestReceiver::start().await;
    let pushing = app.pushing_to(&receiver.url).await;
    let pulling = app.sandbox().await;
    app.customer_writes(&pushing, "pushed").await;
    app.customer_writes(&pulling, "never pulled").await;
    app.settle().await;

    app.clock.advance(Duration::from_secs(25 * 3600));
    let purged = app.app().janitor.purge_once().await.unwrap();
    assert_eq!(purged.notifications, 2, "the delivered one and the unpulled one");
    assert_eq!(app.get(&pulling, "/notifications/count").await.body["pending"], 0);
    assert_eq!(purged.events, 0, "the journal stays");
    assert_eq!(app.get(&pulling, "/events").await.body["events"].as_array().unwrap().len(), 1);

    app.clock.advance(Duration::from_secs(30 * 24 * 3600));
    let purged = app.app().janitor.purge_once().await.unwrap();
    assert_eq!(purged.events, 2);
    assert!(app.get(&pulling, "/events").await.body["events"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_pending_push_outlives_the_notification_retention_until_it_is_delivered_or_dead() {
    let app = TestApp::spawn().await;
    let receiver = TestReceiver::start().await;
    receiver.respond_with(500);
    let instance = app.pushing_to(&receiver.url).await;
    app.customer_writes(&instance, "still trying").await;
    app.advance(Duration::from_secs(25 * 3600)).await;
    assert_eq!(app.app().janitor.purge_once().await.unwrap().notifications, 0);
    assert_eq!(app.get(&instance, "/notifications/count").await.body["pending"], 1);
}
