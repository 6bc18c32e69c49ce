//! Several chatgate nodes on one PostgreSQL database: work is leased, so
//! each message goes out once and each instance's gap holds across nodes; a
//! dead node's work is taken over when its lease runs out; a long poll on
//! one node wakes for an event that arrives on another.
//!
//! These tests always use PostgreSQL (skipped, loudly, outside CI when it
//! cannot be reached; failing in CI).

use std::collections::HashMap;
use std::time::Duration;

use chatgate_core::outbound::Step;
use chatgate_e2e::{TestApp, TestInstance, parse_rfc3339_millis, statuses};
use serde_json::{Value, json};

/// Lets both nodes' outbound workers run at the same moment until neither
/// has anything to do now; returns how many sends each made.
async fn drain_both(a: &TestApp, b: &TestApp) -> (usize, usize) {
    let (mut sent_a, mut sent_b) = (0, 0);
    loop {
        let (step_a, step_b) =
            tokio::join!(a.app().outbound.try_send_next(), b.app().outbound.try_send_next());
        let (step_a, step_b) = (step_a.unwrap(), step_b.unwrap());
        sent_a += usize::from(matches!(step_a, Step::Sent(_)));
        sent_b += usize::from(matches!(step_b, Step::Sent(_)));
        if matches!(step_a, Step::Idle { .. }) && matches!(step_b, Step::Idle { .. }) {
            return (sent_a, sent_b);
        }
    }
}

#[tokio::test]
async fn a_thousand_messages_over_fifty_instances_go_out_once_each_with_every_gap_kept_across_two_nodes()
 {
    let Some(a) = TestApp::spawn_on_postgres().await else { return };
    let b = a.another_node().await;
    const GAP_MS: u64 = 500;
    let mut instances: Vec<TestInstance> = Vec::new();
    for _ in 0..50 {
        instances.push(a.paced(GAP_MS).await);
    }
    // Accepted through both nodes, interleaved.
    let mut ids: Vec<(usize, String)> = Vec::new();
    for n in 0..20 {
        for (i, instance) in instances.iter().enumerate() {
            let node = if (n + i) % 2 == 0 { &a } else { &b };
            let id = node
                .send_ok(instance, json!({"to": {"id": format!("u{i}")}, "text": format!("m{n}")}))
                .await;
            ids.push((i, id));
        }
    }
    let (mut by_a, mut by_b) = (0, 0);
    for _ in 0..(20 * GAP_MS / 100 + 10) {
        let (sa, sb) = drain_both(&a, &b).await;
        by_a += sa;
        by_b += sb;
        a.clock.advance(Duration::from_millis(100));
    }
    assert_eq!(by_a + by_b, 1000, "every message sent exactly once");
    assert!(by_a > 0 && by_b > 0, "both nodes took work: {by_a} / {by_b}");

    let mut sending_times: HashMap<usize, Vec<i64>> = HashMap::new();
    for (i, id) in &ids {
        let message = a.message(&instances[*i], id).await;
        assert_eq!(message["attempts"], 1, "{message}");
        assert!(statuses(&message).contains(&"sent".to_owned()), "{message}");
        let sending = message["transitions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["status"] == "sending")
            .map(|t| parse_rfc3339_millis(t["at"].as_str().unwrap()))
            .unwrap();
        sending_times.entry(*i).or_default().push(sending);
    }
    for (i, mut times) in sending_times {
        times.sort_unstable();
        for pair in times.windows(2) {
            assert!(
                pair[1] - pair[0] >= GAP_MS as i64,
                "instance {i}: two sends {} ms apart",
                pair[1] - pair[0]
            );
        }
    }
}

#[tokio::test]
async fn when_a_node_dies_mid_send_the_other_takes_its_work_over_once_the_lease_runs_out() {
    let Some(a) = TestApp::spawn_on_postgres().await else { return };
    let b = a.another_node().await;
    let instance = a.sandbox().await;
    let first = a.send_ok(&instance, json!({"to": {"id": "u1"}, "text": "in flight"})).await;
    let second = a.send_ok(&instance, json!({"to": {"id": "u1"}, "text": "queued"})).await;
    // Node A claims the first message and dies before sending it.
    let claims = a.app().outbound.claim(1).await.unwrap();
    assert_eq!(claims.len(), 1);
    a.kill();

    assert!(matches!(b.app().outbound.try_send_next().await.unwrap(), Step::Idle { .. }));
    let lease = Duration::from_millis(b.config.outbound.lease_ms);
    b.clock.advance(lease + Duration::from_secs(1));
    b.settle().await;
    let message = b.message(&instance, &first).await;
    assert!(statuses(&message).contains(&"sent".to_owned()), "{message}");
    assert_eq!(message["attempts"], 2);
    let again = message["transitions"].as_array().unwrap().iter().any(|t| {
        t["detail"].as_str().is_some_and(|d| d.contains("previous attempt was interrupted"))
    });
    assert!(again, "{message}");
    let next: Value = b.message(&instance, &second).await;
    assert!(statuses(&next).contains(&"sent".to_owned()), "{next}");
}

#[tokio::test]
async fn a_long_poll_on_one_node_wakes_for_an_event_that_arrives_on_the_other() {
    let Some(a) = TestApp::spawn_on_postgres().await else { return };
    let b = a.another_node().await;
    let instance = a.sandbox().await;
    let url = format!("{}/api/v1/instances/{}/notifications/next?wait=60", a.base, instance.id);
    let poll = tokio::spawn(a.client.get(url).bearer_auth(&instance.token).send());
    a.until_long_poll_waits(&instance).await;
    // The clock does not move: only node B's announcement can wake node A.
    let event = b.customer_writes(&instance, "hello from the other node").await;
    let answer = tokio::time::timeout(Duration::from_secs(10), poll)
        .await
        .expect("node A's long poll was woken")
        .unwrap()
        .unwrap();
    let answer = TestApp::answer(answer).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["event"]["id"], event.as_str());
}

#[tokio::test]
async fn a_webhook_lane_leased_by_a_dead_node_is_pushed_by_the_other_after_the_lease() {
    let Some(a) = TestApp::spawn_on_postgres().await else { return };
    let b = a.another_node().await;
    let receiver = chatgate_e2e::TestReceiver::start().await;
    let instance = a.pushing_to(&receiver.url).await;
    b.customer_writes(&instance, "push me").await;
    let claims = a.app().hooks.claim(10).await.unwrap();
    assert!(!claims.is_empty());
    a.kill();
    b.push_all().await;
    assert!(receiver.received().is_empty(), "the lease still holds");
    let lease = Duration::from_millis(b.config.hooks.lease_ms);
    b.clock.advance(lease + Duration::from_secs(1));
    b.push_all().await;
    let pushed: Vec<Value> = receiver.bodies();
    assert!(pushed.iter().any(|e| e["data"]["text"] == "push me"), "{pushed:#?}");
}
