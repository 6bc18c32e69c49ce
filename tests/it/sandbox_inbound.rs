//! Playing the customer of a sandbox instance.

use std::time::Duration;

use chatgate_e2e::TestApp;
use serde_json::{Value, json};

#[tokio::test]
async fn every_kind_of_customer_action_produces_its_event() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    let from = json!({"id": "17841400000000001", "username": "ann", "name": "Ann"});
    let sent =
        app.send_ok(&instance, json!({"to": {"id": "17841400000000001"}, "text": "hello"})).await;
    app.settle().await;
    let mid = app.message(&instance, &sent).await["providerMessageId"].as_str().unwrap().to_owned();
    let actions = [
        json!({"from": from, "type": "text", "text": "hi"}),
        json!({"from": from, "type": "image", "url": "https://cdn.example.com/a.jpg", "mimeType": "image/jpeg", "text": "look"}),
        json!({"from": from, "type": "video", "url": "https://cdn.example.com/v.mp4", "mimeType": "video/mp4"}),
        json!({"from": from, "type": "audio", "url": "https://cdn.example.com/v.m4a"}),
        json!({"from": from, "type": "file", "url": "https://cdn.example.com/f.pdf", "fileName": "price.pdf"}),
        json!({"from": from, "type": "comment", "text": "price?", "commentId": "17900000000000042", "mediaId": "post-1"}),
        json!({"from": from, "type": "reaction", "text": "🔥", "reactTo": mid}),
        json!({"from": from, "type": "status", "url": "https://cdn.example.com/story.jpg", "text": "my story"}),
    ];
    for action in actions {
        let answer = app.incoming(&instance, action.clone()).await;
        assert_eq!(answer.status, 200, "{action} → {}", answer.body);
        assert_eq!(answer.body["duplicate"], false);
    }
    let journal = app.get(&instance, "/events").await.body;
    let inbound: Vec<&Value> = journal["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"].as_str().unwrap().starts_with("incoming"))
        .collect();
    let kinds: Vec<String> = inbound
        .iter()
        .map(|e| {
            format!("{}/{}", e["type"].as_str().unwrap(), e["data"]["kind"].as_str().unwrap_or("-"))
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "incomingMessage/text",
            "incomingMessage/image",
            "incomingMessage/video",
            "incomingMessage/audio",
            "incomingMessage/file",
            "incomingComment/-",
            "incomingReaction/-",
            "incomingStatus/image"
        ]
    );
    assert_eq!(inbound[1]["data"]["media"]["url"], "https://cdn.example.com/a.jpg");
    assert_eq!(inbound[1]["data"]["text"], "look");
    assert_eq!(inbound[0]["data"]["from"]["username"], "ann");
    assert_eq!(inbound[5]["data"]["commentId"], "17900000000000042");
    assert_eq!(inbound[6]["data"]["messageId"], mid.as_str());
    assert_eq!(inbound[6]["data"]["reaction"], "🔥");

    // The commenter can be answered privately through the comment's id.
    let reply = app
        .send_ok(
            &instance,
            json!({"to": {"commentId": "17900000000000042"}, "text": "Sent you the price!"}),
        )
        .await;
    app.advance(Duration::from_secs(1)).await;
    assert_eq!(app.message(&instance, &reply).await["status"], "read");
    // Instagram allows one private reply per comment.
    let again = app
        .send(&instance, json!({"to": {"commentId": "17900000000000042"}, "text": "again"}))
        .await;
    assert_eq!(again.status, 400, "{}", again.body);
    assert_eq!(again.body["field"], "to.commentId");
    // The customer is now a contact.
    let contact =
        app.app().gateway.contact(instance.id.to_string().parse().unwrap(), "17841400000000001");
    let contact = contact.await.unwrap().unwrap();
    assert_eq!(contact.name.as_deref(), Some("Ann"));
}

#[tokio::test]
async fn a_redelivered_platform_event_is_stored_once() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    let body = json!({"from": {"id": "u1"}, "type": "text", "text": "hi", "id": "mid.same"});
    let first = app.incoming(&instance, body.clone()).await;
    let again = app.incoming(&instance, body).await;
    assert_eq!(first.body["duplicate"], false);
    assert_eq!(again.body["duplicate"], true);
    assert_eq!(app.get(&instance, "/events").await.body["events"].as_array().unwrap().len(), 1);
    assert_eq!(app.get(&instance, "/notifications/count").await.body["pending"], 1);
}

#[tokio::test]
async fn bad_customer_actions_are_refused_and_store_nothing() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    for (body, field) in [
        (json!({"from": {"id": "u1"}, "type": "text"}), "text"),
        (json!({"from": {"id": "u1"}, "type": "image"}), "url"),
        (json!({"from": {"id": "u1"}, "type": "image", "url": "javascript:alert(1)"}), "url"),
        (json!({"from": {"id": "u1"}, "type": "shout", "text": "hi"}), "type"),
        (json!({"from": {"id": ""}, "type": "text", "text": "hi"}), "from.id"),
        (json!({"from": {"id": "u1"}, "type": "reaction"}), "reactTo"),
        (json!({"from": {"id": "u1"}, "type": "text", "text": 5}), "text"),
    ] {
        let answer = app.incoming(&instance, body.clone()).await;
        assert_eq!(answer.status, 400, "{body}");
        assert_eq!(answer.body["field"], field, "{body} → {}", answer.body);
    }
    assert!(app.get(&instance, "/events").await.body["events"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn only_a_sandbox_instance_has_a_customer_to_play() {
    let app = TestApp::spawn().await;
    let instagram = app.create_instance(json!({"kind": "instagram"})).await;
    let answer =
        app.incoming(&instagram, json!({"from": {"id": "u1"}, "type": "text", "text": "hi"})).await;
    assert_eq!(answer.status, 409);
    assert_eq!(answer.body["code"], "instance_unavailable");
}
