//! Outages of the things chatgate depends on: a webhook receiver down for an
//! hour (on the manual clock) loses nothing and reorders nothing; while
//! PostgreSQL is away (every connection cut through a proxy) the API answers
//! 503 at once and work resumes when it returns, nothing acknowledged lost.

use std::net::SocketAddr;
use std::time::Duration;

use chatgate_e2e::{TcpProxy, TestApp, TestReceiver};
use serde_json::json;

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

/// A server whose PostgreSQL is reached through a proxy the test can cut, or `None` (after a
/// loud message) where PostgreSQL cannot be reached outside CI.
async fn behind_a_proxy() -> Option<(TestApp, TcpProxy)> {
    let url = chatgate_store::testing::fresh_postgres_schema().await?;
    let mut url = reqwest::Url::parse(&url).unwrap();
    let upstream: SocketAddr = format!(
        "{}:{}",
        url.host_str().unwrap().replace("localhost", "127.0.0.1"),
        url.port().unwrap_or(5432)
    )
    .parse()
    .unwrap();
    let proxy = TcpProxy::start(upstream).await;
    url.set_port(Some(proxy.addr.port())).unwrap();
    let app = TestApp::spawn_with(|config| {
        config.database_url = url.to_string().into();
        config.secret_key = chatgate_core::vault::Vault::generate_key().into();
    })
    .await;
    Some((app, proxy))
}

#[tokio::test]
async fn while_postgresql_is_away_the_api_answers_503_and_work_resumes_when_it_returns() {
    let Some((app, proxy)) = behind_a_proxy().await else { return };
    let instance = app.sandbox().await;
    let mut accepted = Vec::new();
    for n in 0..5 {
        accepted.push(
            app.send_ok(&instance, json!({"to": {"id": "u1"}, "text": format!("before {n}")}))
                .await,
        );
    }

    proxy.cut();
    // Bounded: an outage must be answered, not waited out.
    let during = tokio::time::timeout(
        Duration::from_secs(20),
        app.send(&instance, json!({"to": {"id": "u1"}, "text": "during"})),
    )
    .await
    .expect("an answer while the database is away, not a hang");
    assert_eq!(during.status, 503, "{}", during.body);
    assert!(!during.body["detail"].as_str().unwrap_or_default().is_empty(), "{}", during.body);
    let ready = app.raw(reqwest::Method::GET, "/readyz").send().await.unwrap();
    assert_eq!(ready.status(), 503);

    proxy.restore();
    // The first request after the database returns is served.
    accepted.push(app.send_ok(&instance, json!({"to": {"id": "u1"}, "text": "after"})).await);
    app.settle().await;
    for id in &accepted {
        let message = app.message(&instance, id).await;
        assert_ne!(message["status"], "queued", "{message}");
        assert_ne!(message["status"], "failed", "{message}");
    }
    let answer = app.get(&instance, "/queue").await;
    assert_eq!(answer.status, 200);
}
