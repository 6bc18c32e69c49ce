//! Graceful shutdown: what is in flight when a stop begins finishes and is
//! recorded once, what has not started waits for the next start, and the
//! leases a stopping server holds are given up at once.

use std::time::Duration;

use chatgate::{Config, Stopped};
use chatgate_e2e::{CUSTOMER, FakeGraph, Gate, TestApp, TestReceiver, graph, statuses};
use serde_json::json;

fn meta(graph: &FakeGraph) -> impl FnOnce(&mut Config) {
    let url = graph.url.clone();
    move |config| {
        config.meta.graph_base_url = url;
        config.meta.graph_version = graph::VERSION.into();
        config.meta.app_secret = chatgate_e2e::APP_SECRET.into();
        config.meta.verify_token = chatgate_e2e::VERIFY_TOKEN.into();
    }
}

#[tokio::test]
async fn a_send_in_flight_when_the_stop_begins_is_recorded_once_and_a_queued_one_waits_for_the_next_start()
 {
    let graph = FakeGraph::start().await;
    let mut app = TestApp::spawn_running(meta(&graph)).await;
    let instance = app.instagram_with(&graph, json!({"delaySendMessagesMilliseconds": 5000})).await;
    let gate = Gate::new();
    graph.hold_sends(&gate);
    let first = app.send_ok(&instance, json!({"to": {"id": CUSTOMER}, "text": "in flight"})).await;
    gate.arrived(1).await; // the worker's send is at the platform
    let second =
        app.send_ok(&instance, json!({"to": {"id": CUSTOMER}, "text": "not started"})).await;

    let server = app.take_server();
    let mut stopping = server.stopping();
    let stop = tokio::spawn(server.stop());
    stopping.wait_for(|stopping| *stopping).await.unwrap();
    gate.open(); // the platform answers only now, during the stop
    assert_eq!(stop.await.unwrap(), Stopped::Finished);

    let app = app.start_again().await;
    let sent = app.message(&instance, &first).await;
    assert_eq!(statuses(&sent), ["queued", "sending", "sent"], "{sent}");
    assert_eq!(sent["attempts"], 1);
    assert_eq!(graph.sends().len(), 1);
    assert_eq!(app.message(&instance, &second).await["status"], "queued");
    // The pacing gap counts from the first send, across the restart.
    app.settle().await;
    assert_eq!(app.message(&instance, &second).await["status"], "queued");
    app.advance(Duration::from_secs(5)).await;
    let later = app.message(&instance, &second).await;
    assert_eq!(later["status"], "sent", "{later}");
    assert_eq!(later["attempts"], 1);
    let sends = graph.sends();
    assert_eq!(sends.len(), 2, "each message went out exactly once");
    assert_eq!(sends[1]["message"]["text"], "not started");
    app.stop().await;
}

#[tokio::test]
async fn a_lease_held_at_a_stop_is_released_so_the_next_start_sends_at_once() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    let id = app.send_ok(&instance, json!({"to": {"id": "u1"}, "text": "hi"})).await;
    // A worker of this server claims the message and never finishes it.
    let claims = app.app().outbound.claim(1).await.unwrap();
    assert_eq!(claims.len(), 1);
    drop(claims);
    let app = app.restart().await;
    assert_eq!(app.message(&instance, &id).await["status"], "sending");
    // No lease to wait for: the restarted server sends it now.
    app.settle().await;
    let m = app.message(&instance, &id).await;
    assert_eq!(m["status"], "sent", "{m}");
    assert_eq!(m["attempts"], 2);
    app.stop().await;
}

#[tokio::test]
async fn a_lease_released_at_a_stop_is_taken_by_another_node_at_once() {
    let Some(a) = TestApp::spawn_on_postgres().await else { return };
    let b = a.another_node().await;
    let instance = a.sandbox().await;
    let id = a.send_ok(&instance, json!({"to": {"id": "u1"}, "text": "hi"})).await;
    drop(a.app().outbound.claim(1).await.unwrap());
    assert!(b.app().outbound.claim(1).await.unwrap().is_empty(), "a holds the lane");
    a.stop().await;
    b.settle().await;
    let m = b.message(&instance, &id).await;
    assert_eq!(m["status"], "sent", "{m}");
    assert_eq!(m["attempts"], 2);
    b.stop().await;
}

#[tokio::test]
async fn when_the_grace_runs_out_the_cut_short_send_is_released_and_sent_again_after_the_start() {
    let graph = FakeGraph::start().await;
    let mut app = TestApp::spawn_running(meta(&graph)).await;
    let instance = app.instagram(&graph).await;
    let gate = Gate::new();
    graph.hold_sends(&gate);
    let id = app.send_ok(&instance, json!({"to": {"id": CUSTOMER}, "text": "stuck"})).await;
    gate.arrived(1).await;

    let stopped = app.take_server().stop_within(Duration::ZERO).await;
    assert_eq!(stopped, Stopped::GraceRanOut);

    let app = app.start_again().await;
    assert_eq!(app.message(&instance, &id).await["status"], "sending");
    gate.open();
    app.settle().await; // no lease to wait for
    let m = app.message(&instance, &id).await;
    assert_eq!(m["status"], "sent", "{m}");
    assert_eq!(m["attempts"], 2);
    assert!(m["transitions"][2]["detail"].as_str().unwrap().contains("interrupted"), "{m}");
    app.stop().await;
}

#[tokio::test]
async fn a_webhook_push_in_flight_when_the_stop_begins_is_delivered_once() {
    let receiver = TestReceiver::start().await;
    let mut app = TestApp::spawn_running(|_| {}).await;
    let instance = app.pushing_to(&receiver.url).await;
    let gate = Gate::new();
    receiver.hold(&gate);
    app.customer_writes(&instance, "hello").await;
    gate.arrived(1).await;

    let server = app.take_server();
    let mut stopping = server.stopping();
    let stop = tokio::spawn(server.stop());
    stopping.wait_for(|stopping| *stopping).await.unwrap();
    gate.open();
    assert_eq!(stop.await.unwrap(), Stopped::Finished);

    let app = app.start_again().await;
    assert!(app.push_all().await.is_empty(), "nothing left to push");
    assert_eq!(receiver.received().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn a_webhook_push_cut_short_by_the_grace_is_pushed_after_the_start() {
    let receiver = TestReceiver::start().await;
    let mut app = TestApp::spawn_running(|_| {}).await;
    let instance = app.pushing_to(&receiver.url).await;
    let gate = Gate::new();
    receiver.hold(&gate);
    app.customer_writes(&instance, "hello").await;
    gate.arrived(1).await;

    let stopped = app.take_server().stop_within(Duration::ZERO).await;
    assert_eq!(stopped, Stopped::GraceRanOut);

    let app = app.start_again().await;
    gate.open();
    let steps = app.push_all().await;
    assert_eq!(steps.len(), 1, "pushed again at once, no lease to wait for: {steps:?}");
    let texts: Vec<_> = receiver.bodies();
    assert!(!texts.is_empty());
    assert!(texts.iter().all(|b| b == &texts[0]), "the same notification: {texts:?}");
    app.stop().await;
}

#[tokio::test]
async fn a_long_poll_in_flight_is_answered_at_once_when_the_stop_begins() {
    let mut app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    let request = app
        .raw(
            reqwest::Method::GET,
            &format!("/api/v1/instances/{}/notifications/next?wait=60", instance.id),
        )
        .bearer_auth(&instance.token)
        .send();
    let poll = tokio::spawn(request);
    app.until_long_poll_waits(&instance).await;

    // The long poll's 60 s are on the manual clock, which stands still: only
    // the stop can end it, well within the grace.
    assert_eq!(app.take_server().stop().await, Stopped::Finished);
    let answer = poll.await.unwrap().unwrap();
    assert_eq!(answer.status(), 204, "nothing yet: the client polls again");
}
