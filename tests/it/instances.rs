//! The admin API: create, list, show, delete instances.

use std::time::Duration;

use chatgate_e2e::TestApp;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn creating_an_instance_answers_its_id_token_and_native_defaults() {
    let app = TestApp::spawn().await;
    let created = app.create_instance(json!({"kind": "sandbox", "name": "Shop"})).await;
    let body = &created.body;
    assert_eq!(created.id.to_string().len(), 10, "a 10-digit id: {body}");
    assert_eq!(created.token.len(), 50);
    assert!(created.token.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(body["kind"], "sandbox");
    assert_eq!(body["name"], "Shop");
    assert_eq!(body["state"], "authorized", "a sandbox is ready at once");
    assert_eq!(body["active"], true);
    assert_eq!(body["webhookFormat"], "native");
    assert_eq!(
        body["account"]["id"],
        format!("17841{}", created.id),
        "a sandbox is its own account"
    );
    let settings = &body["settings"];
    assert_eq!(settings["delaySendMessagesMilliseconds"], 3000);
    for switch in [
        "incomingWebhook",
        "outgoingWebhook",
        "outgoingAPIMessageWebhook",
        "outgoingMessageWebhook",
        "stateWebhook",
    ] {
        assert_eq!(settings[switch], true, "{switch} is on for native instances");
    }
    assert_eq!(settings["markIncomingMessagesReaded"], false);
    assert_eq!(settings["webhookUrl"], serde_json::Value::Null);
}

#[tokio::test]
async fn instances_are_listed_and_shown_without_their_tokens() {
    let app = TestApp::spawn().await;
    let a = app.create_instance(json!({"kind": "sandbox", "name": "a"})).await;
    app.clock.advance(std::time::Duration::from_millis(1)); // listed oldest first
    let b = app.create_instance(json!({"kind": "instagram", "name": "b"})).await;
    assert_eq!(b.body["state"], "notAuthorized", "a Meta account waits for its connection");

    let list = app.request(Method::GET, "/api/v1/instances", Some(&app.partner_token), None).await;
    assert_eq!(list.status, 200);
    let ids: Vec<u64> =
        list.body.as_array().unwrap().iter().map(|i| i["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, [a.id, b.id]);
    assert!(!list.body.to_string().contains(&a.token), "tokens are shown once, at creation");

    let one = app
        .request(
            Method::GET,
            &format!("/api/v1/instances/{}", b.id),
            Some(&app.partner_token),
            None,
        )
        .await;
    assert_eq!(one.status, 200);
    assert_eq!(one.body["kind"], "instagram");
    assert!(one.body.get("apiToken").is_none());
}

#[tokio::test]
async fn creating_an_instance_refuses_bad_input() {
    let app = TestApp::spawn().await;
    let app = &app;
    let bad = |body| async move {
        app.request(Method::POST, "/api/v1/instances", Some(&app.partner_token), Some(body)).await
    };
    let answer = bad(json!({"kind": "telegram"})).await;
    assert_eq!((answer.status.as_u16(), answer.body["field"].clone()), (400, json!("kind")));
    let answer = bad(json!({"name": "no kind"})).await;
    assert_eq!(answer.status, 400);
    let answer =
        bad(json!({"kind": "sandbox", "settings": {"delaySendMessagesMilliseconds": 600001}}))
            .await;
    assert_eq!(answer.body["field"], "delaySendMessagesMilliseconds");
    let answer = bad(json!({"kind": "sandbox", "name": "x".repeat(201)})).await;
    assert_eq!(answer.body["field"], "name");
    let list = app.request(Method::GET, "/api/v1/instances", Some(&app.partner_token), None).await;
    assert_eq!(list.body.as_array().unwrap().len(), 0, "nothing was created");
}

#[tokio::test]
async fn deleting_an_instance_revokes_its_token_and_fails_its_queue() {
    let app = TestApp::spawn().await;
    let instance = app.paced(60000).await;
    app.send_ok(&instance, json!({"to": {"id": "u1"}, "text": "sent"})).await;
    let queued = app.send_ok(&instance, json!({"to": {"id": "u1"}, "text": "queued"})).await;
    app.settle().await;

    let path = format!("/api/v1/instances/{}", instance.id);
    let answer = app.request(Method::DELETE, &path, Some(&app.partner_token), None).await;
    assert_eq!(answer.status, 204);
    let answer = app.request(Method::DELETE, &path, Some(&app.partner_token), None).await;
    assert_eq!(answer.status, 404, "deleting twice");

    let settings = format!("/api/v1/instances/{}/settings", instance.id);
    let answer = app.request(Method::GET, &settings, Some(&instance.token), None).await;
    assert_eq!(answer.status, 404, "{}", answer.body);
    let answer = app.request(Method::GET, &path, Some(&app.partner_token), None).await;
    assert_eq!(answer.status, 404);

    // The queued message will never leave.
    app.advance(Duration::from_secs(120)).await;
    let message = app
        .app()
        .gateway
        .store()
        .message(instance.id.to_string().parse().unwrap(), queued.parse().unwrap());
    let message = message.await.unwrap().unwrap();
    assert_eq!(message.status.as_str(), "failed");
    assert_eq!(message.failure.as_deref(), Some("the instance was deleted"));
}

#[tokio::test]
async fn the_partner_token_may_act_on_any_instance() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    let path = format!("/api/v1/instances/{}/messages", instance.id);
    let answer = app
        .request(
            Method::POST,
            &path,
            Some(&app.partner_token),
            Some(json!({"to": {"id": "u1"}, "text": "from the operator"})),
        )
        .await;
    assert_eq!(answer.status, 202, "{}", answer.body);
}
