//! Webhook push: order, signatures, retries, 410, dead letters, isolation
//! between instances, restarts, the SSRF guard.

use std::time::Duration;

use chatgate_core::{Clock, SystemClock};
use chatgate_e2e::{START, TestApp, TestReceiver};
use reqwest::Method;
use serde_json::{Value, json};

fn types(bodies: &[Value]) -> Vec<String> {
    bodies.iter().map(|b| b["type"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn a_consumer_receives_every_event_in_sequence_order() {
    let app = TestApp::spawn().await;
    let receiver = TestReceiver::start().await;
    let instance = app.pushing_to(&receiver.url).await;
    app.customer_writes(&instance, "hello?").await;
    let first =
        app.send_ok(&instance, json!({"to": {"id": "17841400000000001"}, "text": "hi!"})).await;
    let second = app
        .send_ok(&instance, json!({"to": {"id": "17841400000000001"}, "text": "how can I help?"}))
        .await;
    app.advance(Duration::from_secs(2)).await;

    let bodies = receiver.bodies();
    let seqs: Vec<u64> = bodies.iter().map(|b| b["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "gapless and in order");
    assert_eq!(bodies[0]["type"], "incomingMessage");
    assert_eq!(bodies[0]["data"]["text"], "hello?");
    let statuses_of = |id: &str| -> Vec<String> {
        bodies
            .iter()
            .filter(|b| b["data"]["messageId"] == id && b["type"] == "messageStatus")
            .map(|b| b["data"]["status"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(statuses_of(&first), ["sent", "delivered", "read"]);
    assert_eq!(statuses_of(&second), ["sent", "delivered", "read"]);
    let api = bodies.iter().filter(|b| b["type"] == "outgoingApiMessage").count();
    assert_eq!(api, 2, "one outgoingApiMessage per message sent: {:?}", types(&bodies));
    for body in &bodies {
        assert_eq!(body["instanceId"], instance.id);
        let id = body["id"].as_str().unwrap();
        assert_eq!(
            receiver.received().iter().filter(|r| r.header("webhook-id") == Some(id)).count(),
            1
        );
    }
}

#[tokio::test]
async fn every_push_is_signed_as_standard_webhooks_say_and_carries_the_bearer_token() {
    // The real time, so the library's timestamp tolerance check passes.
    let app = TestApp::spawn_at(SystemClock.now(), |_| {}).await;
    let receiver = TestReceiver::start().await;
    let instance = app
        .create_instance(json!({"kind": "sandbox", "settings": {
            "webhookUrl": receiver.url, "webhookUrlToken": "crm-s3cret"
        }}))
        .await;
    let settings = app.get(&instance, "/settings").await.body;
    let secret = settings["webhookSecret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    app.customer_writes(&instance, "signed?").await;
    app.settle().await;

    let received = receiver.received();
    assert_eq!(received.len(), 1);
    let push = &received[0];
    let webhook = standardwebhooks::Webhook::new(&secret).unwrap();
    webhook.verify(&push.raw, &push.headers).expect("a valid Standard Webhooks signature");
    assert_eq!(push.header("authorization"), Some("Bearer crm-s3cret"));
    assert_eq!(push.header("content-type"), Some("application/json"));
    assert_eq!(push.header("webhook-id"), push.body["id"].as_str());
    // A body signed with another secret does not verify.
    let other = standardwebhooks::Webhook::new("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
    assert!(other.verify(&push.raw, &push.headers).is_err());
    // Secrets never travel in the body.
    let raw = String::from_utf8_lossy(&push.raw);
    assert!(
        !raw.contains("crm-s3cret") && !raw.contains(&secret) && !raw.contains(&instance.token)
    );
}

#[tokio::test]
async fn after_a_secret_rotation_both_signatures_are_sent_until_the_grace_ends() {
    let app = TestApp::spawn_with(|c| c.hooks.secret_grace_ms = 60_000).await;
    let receiver = TestReceiver::start().await;
    let instance = app.pushing_to(&receiver.url).await;
    let old =
        app.get(&instance, "/settings").await.body["webhookSecret"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/instances/{}/settings/webhook-secret", instance.id);
    let rotated = app.request(Method::POST, &path, Some(&instance.token), None).await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let new = rotated.body["webhookSecret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert!(rotated.body["previousWebhookSecretValidUntil"].is_string());

    app.customer_writes(&instance, "during the grace").await;
    app.settle().await;
    app.clock.advance(Duration::from_secs(61));
    app.customer_writes(&instance, "after the grace").await;
    app.settle().await;

    let received = receiver.received();
    let expected = |secret: &str, r: &chatgate_e2e::Received| {
        // The library's own signer, on the header's id and timestamp.
        standardwebhooks::Webhook::new(secret)
            .unwrap()
            .sign(
                r.header("webhook-id").unwrap(),
                r.header("webhook-timestamp").unwrap().parse().unwrap(),
                &r.raw,
            )
            .unwrap()
    };
    let during: Vec<&str> = received[0].header("webhook-signature").unwrap().split(' ').collect();
    assert_eq!(during, [expected(&new, &received[0]), expected(&old, &received[0])]);
    let after: Vec<&str> = received[1].header("webhook-signature").unwrap().split(' ').collect();
    assert_eq!(after, [expected(&new, &received[1])]);
}

#[tokio::test]
async fn a_failed_push_is_retried_with_the_same_webhook_id_and_recovers() {
    let app = TestApp::spawn().await;
    let receiver = TestReceiver::start().await;
    receiver.respond_with(500);
    let instance = app.pushing_to(&receiver.url).await;
    let event = app.customer_writes(&instance, "retry me").await;
    app.settle().await;
    assert_eq!(receiver.received().len(), 1);

    app.advance(Duration::from_millis(4_999)).await;
    assert_eq!(receiver.received().len(), 1, "the first retry waits 5 s");
    receiver.respond_with(200);
    app.advance(Duration::from_millis(1)).await;
    let received = receiver.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].header("webhook-id"), Some(event.as_str()));
    assert_eq!(received[1].header("webhook-id"), Some(event.as_str()));

    let deliveries = app.get(&instance, "/deliveries").await.body;
    let delivery = &deliveries["deliveries"][0];
    assert_eq!(delivery["state"], "delivered");
    let attempts = delivery["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0]["statusCode"], 500);
    assert!(attempts[0]["error"].as_str().unwrap().contains("500"));
    assert_eq!(attempts[1]["statusCode"], 200);
    assert!(attempts[1]["latencyMs"].is_u64());
}

#[tokio::test]
async fn retries_follow_the_schedule_and_a_notification_dies_after_the_last() {
    let app = TestApp::spawn().await;
    let receiver = TestReceiver::start().await;
    receiver.respond_with(503);
    let instance = app.pushing_to(&receiver.url).await;
    app.customer_writes(&instance, "never heard").await;
    app.advance(Duration::from_secs(40 * 3600)).await;

    let received = receiver.received();
    assert_eq!(received.len(), 8, "one try and seven retries");
    let times: Vec<i64> =
        received.iter().map(|r| r.header("webhook-timestamp").unwrap().parse().unwrap()).collect();
    let gaps: Vec<i64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(gaps, [5, 300, 1800, 7200, 18_000, 36_000, 36_000]);
    let dead = app.get(&instance, "/deliveries?state=dead").await.body;
    assert_eq!(dead["deliveries"].as_array().unwrap().len(), 1);
    assert_eq!(dead["deliveries"][0]["attempts"].as_array().unwrap().len(), 8);
    assert_eq!(app.get(&instance, "/notifications/count").await.body["pending"], 0);
}

#[tokio::test]
async fn a_dead_notification_is_redelivered_on_request_with_its_event_id() {
    let app = TestApp::spawn().await;
    let receiver = TestReceiver::start().await;
    receiver.respond_with(500);
    let instance = app.pushing_to(&receiver.url).await;
    let event = app.customer_writes(&instance, "lost?").await;
    app.advance(Duration::from_secs(40 * 3600)).await;
    receiver.respond_with(200);

    let path = format!("/api/v1/instances/{}/events/{event}/redeliver", instance.id);
    let answer = app.request(Method::POST, &path, Some(&instance.token), None).await;
    assert_eq!(answer.status, 202, "{}", answer.body);
    app.settle().await;
    let last = receiver.received().pop().unwrap();
    assert_eq!(last.header("webhook-id"), Some(event.as_str()));
    assert_eq!(last.body["data"]["text"], "lost?");

    let unknown = format!(
        "/api/v1/instances/{}/events/{}/redeliver",
        instance.id,
        chatgate_core::EventId::generate()
    );
    assert_eq!(app.request(Method::POST, &unknown, Some(&instance.token), None).await.status, 404);
}

#[tokio::test]
async fn retry_after_is_honoured_within_base_and_twice_base() {
    let app = TestApp::spawn().await;
    let receiver = TestReceiver::start().await;
    receiver.respond_with(503);
    receiver.retry_after(Some("7"));
    let instance = app.pushing_to(&receiver.url).await;
    app.customer_writes(&instance, "later").await;
    app.settle().await;
    receiver.respond_with(200);
    app.advance(Duration::from_millis(6_999)).await;
    assert_eq!(receiver.received().len(), 1, "Retry-After: 7 is within [5 s, 10 s]");
    app.advance(Duration::from_millis(1)).await;
    assert_eq!(receiver.received().len(), 2);

    // Far beyond twice the base: clamped to 10 s.
    receiver.respond_with(503);
    receiver.retry_after(Some("3600"));
    app.customer_writes(&instance, "much later").await;
    app.settle().await;
    receiver.respond_with(200);
    app.advance(Duration::from_secs(10)).await;
    assert_eq!(receiver.received().len(), 4);
}

#[tokio::test]
async fn a_429_waits_at_least_a_minute() {
    let app = TestApp::spawn().await;
    let receiver = TestReceiver::start().await;
    receiver.respond_with(429);
    let instance = app.pushing_to(&receiver.url).await;
    app.customer_writes(&instance, "slow down").await;
    app.settle().await;
    receiver.respond_with(200);
    app.advance(Duration::from_secs(59)).await;
    assert_eq!(receiver.received().len(), 1);
    app.advance(Duration::from_secs(1)).await;
    assert_eq!(receiver.received().len(), 2);
}

#[tokio::test]
async fn a_410_switches_the_webhook_off_and_the_queue_waits_for_pulling() {
    let app = TestApp::spawn().await;
    let receiver = TestReceiver::start().await;
    receiver.respond_with(410);
    let instance = app.pushing_to(&receiver.url).await;
    let event = app.customer_writes(&instance, "anyone?").await;
    app.settle().await;
    assert_eq!(receiver.received().len(), 1);
    assert_eq!(app.get(&instance, "/settings").await.body["webhookUrl"], Value::Null);

    app.customer_writes(&instance, "still there?").await;
    app.advance(Duration::from_secs(60)).await;
    assert_eq!(receiver.received().len(), 1, "nothing more is pushed");

    // The notification that got the 410 is first in the pull queue, then
    // the webhookDisabled state event, then what came after.
    let next = app.get(&instance, "/notifications/next").await;
    assert_eq!(next.status, 200);
    assert_eq!(next.body["event"]["id"], event.as_str());
    let journal = app.get(&instance, "/events").await.body;
    let disabled = journal["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "webhookDisabled")
        .unwrap();
    assert_eq!(disabled["data"]["url"], receiver.url.as_str());
}

#[tokio::test]
async fn one_dead_endpoint_does_not_delay_a_hundred_healthy_instances() {
    let app = TestApp::spawn().await;
    let dead = TestReceiver::start().await;
    dead.respond_with(500);
    let broken = app.pushing_to(&dead.url).await;
    let healthy_receiver = TestReceiver::start().await;
    let mut healthy = Vec::new();
    for _ in 0..100 {
        healthy.push(app.pushing_to(&healthy_receiver.url).await);
    }
    // The broken instance's events come first, and keep failing.
    for n in 0..5 {
        app.customer_writes(&broken, &format!("broken {n}")).await;
    }
    for instance in &healthy {
        app.customer_writes(instance, "healthy").await;
    }
    app.push_all().await;

    let received = healthy_receiver.received();
    assert_eq!(received.len(), 100, "every healthy instance got its push");
    for r in &received {
        let at: i64 = r.header("webhook-timestamp").unwrap().parse().unwrap();
        assert_eq!(at, START.as_secs(), "without waiting for the dead endpoint's retries");
    }
    assert_eq!(dead.received().len(), 1, "the broken instance's queue waits behind its head");
}

#[tokio::test]
async fn a_restart_in_the_middle_of_retries_loses_nothing() {
    let app = TestApp::spawn().await;
    let receiver = TestReceiver::start().await;
    receiver.respond_with(500);
    let instance = app.pushing_to(&receiver.url).await;
    let first = app.customer_writes(&instance, "one").await;
    let second = app.customer_writes(&instance, "two").await;
    app.settle().await;
    let app = app.restart().await;
    receiver.respond_with(200);
    app.advance(Duration::from_secs(5)).await;
    let ids: Vec<String> =
        receiver.received().iter().map(|r| r.header("webhook-id").unwrap().to_owned()).collect();
    assert_eq!(ids, [first.clone(), first, second], "the retry, then the rest in order");
}

#[tokio::test]
async fn switched_off_events_are_journaled_but_not_notified() {
    let app = TestApp::spawn().await;
    let receiver = TestReceiver::start().await;
    let instance = app
        .create_instance(json!({"kind": "sandbox", "settings": {
            "webhookUrl": receiver.url, "incomingWebhook": false, "delaySendMessagesMilliseconds": 0
        }}))
        .await;
    app.customer_writes(&instance, "quiet").await;
    app.send_ok(&instance, json!({"to": {"id": "u1"}, "text": "loud"})).await;
    app.advance(Duration::from_secs(2)).await;
    let types = types(&receiver.bodies());
    assert!(!types.contains(&"incomingMessage".to_owned()), "{types:?}");
    assert!(types.contains(&"messageStatus".to_owned()));
    let journal = app.get(&instance, "/events").await.body;
    assert_eq!(journal["events"][0]["type"], "incomingMessage", "still in the journal");
}

#[tokio::test]
async fn a_state_change_is_notified() {
    let app = TestApp::spawn().await;
    let receiver = TestReceiver::start().await;
    let instance = app.pushing_to(&receiver.url).await;
    let id = instance.id.to_string().parse().unwrap();
    app.app()
        .gateway
        .set_state(id, chatgate_core::InstanceState::NotAuthorized, Some("token expired"))
        .await
        .unwrap();
    app.settle().await;
    let body = &receiver.bodies()[0];
    assert_eq!(body["type"], "stateChanged");
    assert_eq!(body["data"]["state"], "notAuthorized");
    assert_eq!(body["data"]["reason"], "token expired");
}

#[tokio::test]
async fn webhook_urls_into_private_networks_are_refused_unless_allowed() {
    let strict = TestApp::spawn_with(|c| c.allowed_private_networks = String::new()).await;
    let instance = strict.sandbox().await;
    let path = format!("/api/v1/instances/{}/settings", instance.id);
    for url in [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://10.1.2.3/hook",
        "http://[::1]/hook",
        "http://[::ffff:192.168.0.1]/hook",
    ] {
        let answer = strict
            .request(Method::PATCH, &path, Some(&instance.token), Some(json!({"webhookUrl": url})))
            .await;
        assert_eq!(answer.status, 400, "{url}");
        assert_eq!(answer.body["field"], "webhookUrl", "{url}");
    }
    let created = strict
        .request(
            Method::POST,
            "/api/v1/instances",
            Some(&strict.partner_token),
            Some(json!({"kind": "sandbox", "settings": {"webhookUrl": "http://192.168.1.1/"}})),
        )
        .await;
    assert_eq!(created.status, 400);

    // Allowed by configuration, the same loopback URL is accepted.
    let allowed = TestApp::spawn_with(|c| c.allowed_private_networks = "127.0.0.0/8".into()).await;
    let instance = allowed.sandbox().await;
    let path = format!("/api/v1/instances/{}/settings", instance.id);
    let answer = allowed
        .request(
            Method::PATCH,
            &path,
            Some(&instance.token),
            Some(json!({"webhookUrl": "http://127.0.0.1:8080/hook"})),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

#[tokio::test]
async fn a_name_that_resolves_into_a_private_network_is_blocked_when_connecting() {
    // Names in /etc/hosts that point at loopback pass the URL check and must
    // be caught on the resolved address.
    let Some(name) = ["vm", "runsc"].into_iter().find(|name| {
        std::net::ToSocketAddrs::to_socket_addrs(&(*name, 80))
            .map(|mut a| a.any(|a| a.ip().is_loopback()))
            .unwrap_or(false)
    }) else {
        eprintln!(
            "SKIPPED: no /etc/hosts name points at loopback here; the transport's own test covers it"
        );
        return;
    };
    let app = TestApp::spawn_with(|c| c.allowed_private_networks = String::new()).await;
    let receiver = TestReceiver::start().await;
    let url = format!("http://{name}:{}/hook", receiver.port);
    let instance = app.pushing_to(&url).await;
    app.customer_writes(&instance, "should not arrive").await;
    app.settle().await;
    assert!(receiver.received().is_empty());
    let deliveries = app.get(&instance, "/deliveries").await.body;
    let error = deliveries["deliveries"][0]["attempts"][0]["error"].as_str().unwrap().to_owned();
    assert!(error.starts_with("blocked"), "{error}");
}
