//! Outages of the things chatgate depends on: a webhook receiver down for an
//! hour (on the manual clock) loses nothing and reorders nothing.

use std::time::Duration;

use chatgate_e2e::{TestApp, TestReceiver};

#[tokio::test]
async fn after_a_receiver_outage_of_an_hour_everything_arrives_in_order_per_instance() {
    let app = TestApp::spawn().await;
    let mut shops = Vec::new();
    for _ in 0..3 {
        let receiver = TestReceiver::start().await;
        receiver.respond_with(503);
        let instance = app.pushing_to(&receiver.url).await;
        shops.push((instance, receiver));
    }
    // An hour of customers writing, one message a minute to each shop,
    // while every receiver answers 503.
    for minute in 0..60 {
        for (instance, _) in &shops {
            app.customer_writes(instance, &format!("minute {minute}")).await;
        }
        app.advance(Duration::from_secs(60)).await;
    }
    let during: Vec<usize> = shops.iter().map(|(_, r)| r.received().len()).collect();
    for (_, receiver) in &shops {
        receiver.respond_with(200);
    }
    // The retry schedule brings the head of each queue back within hours.
    app.advance(Duration::from_secs(4 * 3600)).await;

    for ((instance, receiver), before) in shops.iter().zip(during) {
        let after: Vec<_> = receiver.bodies().into_iter().skip(before).collect();
        let seqs: Vec<u64> = after.iter().map(|b| b["seq"].as_u64().unwrap()).collect();
        assert_eq!(
            seqs,
            (1..=60).collect::<Vec<u64>>(),
            "instance {}: every event once, in order, after the outage",
            instance.id
        );
        let texts: Vec<&str> = after.iter().map(|b| b["data"]["text"].as_str().unwrap()).collect();
        assert_eq!(texts.first(), Some(&"minute 0"));
        assert_eq!(texts.last(), Some(&"minute 59"));
        let pending = app.get(instance, "/notifications/count").await.body;
        assert_eq!(pending["pending"], 0, "nothing left behind");
    }
}
