//! Messages of every kind travel queued → sending → sent → delivered → read.

use std::time::Duration;

use chatgate_e2e::{TestApp, statuses, transition_at};
use serde_json::json;

#[tokio::test]
async fn a_text_message_reaches_read_with_every_transition_timestamped() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    let id =
        app.send_ok(&instance, json!({"to": {"id": "17841400000000001"}, "text": "Hello"})).await;

    let queued = app.message(&instance, &id).await;
    assert_eq!(queued["status"], "queued");
    assert_eq!(statuses(&queued), ["queued"]);

    app.advance(Duration::from_millis(1000)).await;
    let read = app.message(&instance, &id).await;
    assert_eq!(read["status"], "read", "{read}");
    assert_eq!(statuses(&read), ["queued", "sending", "sent", "delivered", "read"]);
    let sent = transition_at(&read, "sent");
    assert_eq!(
        transition_at(&read, "delivered") - sent,
        200,
        "delivered after sandbox.deliver_after_ms"
    );
    assert_eq!(transition_at(&read, "read") - sent, 1000, "read after sandbox.read_after_ms");
    assert!(read["providerMessageId"].as_str().unwrap().starts_with("sandbox."));
    assert_eq!(read["attempts"], 1);
    assert_eq!(read["text"], "Hello");
}

#[tokio::test]
async fn a_message_is_delivered_but_not_yet_read_between_the_two_receipts() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    let id = app.send_ok(&instance, json!({"to": {"id": "u1"}, "text": "Hi"})).await;
    app.settle().await;
    assert_eq!(app.message(&instance, &id).await["status"], "sent");
    app.advance(Duration::from_millis(500)).await;
    assert_eq!(app.message(&instance, &id).await["status"], "delivered");
    app.advance(Duration::from_millis(500)).await;
    assert_eq!(app.message(&instance, &id).await["status"], "read");
}

#[tokio::test]
async fn media_quick_reply_template_sticker_and_comment_replies_all_reach_read() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    let bodies = [
        json!({"to": {"id": "u1"}, "media": {"kind": "image", "url": "https://cdn.example.com/a.png", "caption": "look"}}),
        json!({"to": {"id": "u1"}, "media": {"kind": "video", "url": "https://cdn.example.com/v.mp4"}}),
        json!({"to": {"id": "u1"}, "media": {"kind": "audio", "url": "https://cdn.example.com/v.m4a"}}),
        json!({"to": {"id": "u1"}, "media": {"kind": "file", "url": "https://cdn.example.com/f.pdf"}}),
        json!({"to": {"id": "u1"}, "text": "Pick one", "quickReplies": [
            {"title": "Yes", "payload": "YES"}, {"title": "No"}
        ]}),
        json!({"to": {"id": "u1"}, "template": {"elements": [{
            "title": "Welcome!", "subtitle": "We have the right hat for everyone.",
            "imageUrl": "https://cdn.example.com/hat.jpg",
            "defaultActionUrl": "https://shop.example.com",
            "buttons": [
                {"type": "web_url", "title": "View", "url": "https://shop.example.com/hat"},
                {"type": "postback", "title": "Start Chatting", "payload": "START"}
            ]
        }]}}),
        json!({"to": {"id": "u1"}, "sticker": "like_heart"}),
        json!({"to": {"commentId": "17900000000000001"}, "text": "Thanks for your comment!"}),
    ];
    let mut ids = Vec::new();
    for body in bodies {
        ids.push(app.send_ok(&instance, body).await);
    }
    app.advance(Duration::from_secs(1)).await;
    let kinds: Vec<_> = {
        let mut kinds = Vec::new();
        for id in &ids {
            let m = app.message(&instance, id).await;
            assert_eq!(m["status"], "read", "{m}");
            kinds.push(m["kind"].as_str().unwrap().to_owned());
        }
        kinds
    };
    assert_eq!(kinds, ["image", "video", "audio", "file", "text", "template", "sticker", "text"]);

    let template = app.message(&instance, &ids[5]).await;
    assert_eq!(template["template"]["elements"][0]["buttons"][1]["payload"], "START");
    let comment = app.message(&instance, &ids[7]).await;
    assert_eq!(comment["to"]["commentId"], "17900000000000001");
    let quick = app.message(&instance, &ids[4]).await;
    assert_eq!(quick["quickReplies"][0]["payload"], "YES");
}

#[tokio::test]
async fn a_fail_recipient_reaches_failed_with_the_reason() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    let id = app.send_ok(&instance, json!({"to": {"id": "fail-nobody"}, "text": "Hi"})).await;
    app.advance(Duration::from_secs(2)).await;
    let m = app.message(&instance, &id).await;
    assert_eq!(m["status"], "failed");
    assert!(m["failure"].as_str().unwrap().contains("recipient unavailable"), "{m}");
    assert_eq!(statuses(&m), ["queued", "sending", "failed"]);
}

#[tokio::test]
async fn a_slow_recipient_is_retried_after_throttling_and_then_sent() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    let id = app.send_ok(&instance, json!({"to": {"id": "slow-ann"}, "text": "Hi"})).await;

    app.settle().await;
    let throttled = app.message(&instance, &id).await;
    assert_eq!(throttled["status"], "queued", "back in the queue after a throttle: {throttled}");
    assert_eq!(throttled["attempts"], 1);

    app.advance(Duration::from_secs(5)).await;
    let m = app.message(&instance, &id).await;
    assert_eq!(m["status"], "read", "{m}");
    assert_eq!(m["attempts"], 3);
    assert_eq!(
        statuses(&m),
        [
            "queued",
            "sending",
            "queued",
            "sending",
            "queued",
            "sending",
            "sent",
            "delivered",
            "read"
        ]
    );
    // Each retry waited the sandbox's Retry-After (1000 ms).
    let transitions = m["transitions"].as_array().unwrap();
    let sending: Vec<i64> = transitions
        .iter()
        .filter(|t| t["status"] == "sending")
        .map(|t| chatgate_e2e::parse_rfc3339_millis(t["at"].as_str().unwrap()))
        .collect();
    assert!(sending.windows(2).all(|w| w[1] - w[0] >= 1000), "{sending:?}");
}

#[tokio::test]
async fn a_throttled_instance_holds_its_whole_queue_in_order() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    let slow = app.send_ok(&instance, json!({"to": {"id": "slow-ann"}, "text": "first"})).await;
    let next = app.send_ok(&instance, json!({"to": {"id": "u2"}, "text": "second"})).await;
    app.settle().await;
    assert_eq!(
        app.message(&instance, &next).await["status"],
        "queued",
        "FIFO: waits behind the throttled head"
    );
    app.advance(Duration::from_secs(5)).await;
    let slow_sent = transition_at(&app.message(&instance, &slow).await, "sent");
    let next_sent = transition_at(&app.message(&instance, &next).await, "sent");
    assert!(next_sent >= slow_sent, "second left after first");
}

#[tokio::test]
async fn instances_progress_independently_of_each_other() {
    let app = TestApp::spawn().await;
    let throttled = app.sandbox().await;
    let healthy = app.sandbox().await;
    app.send_ok(&throttled, json!({"to": {"id": "slow-ann"}, "text": "held"})).await;
    let id = app.send_ok(&healthy, json!({"to": {"id": "u1"}, "text": "free"})).await;
    app.settle().await;
    assert_eq!(app.message(&healthy, &id).await["status"], "sent", "not held by another instance");
}
