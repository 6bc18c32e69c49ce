//! Every bad input gets a clear error in the native envelope and changes
//! nothing.

use chatgate_e2e::{TestApp, TestInstance};
use reqwest::Method;
use serde_json::{Value, json};

/// Sends a raw body and checks the error envelope and that nothing was
/// queued.
async fn refused(
    app: &TestApp,
    instance: &TestInstance,
    body: &str,
    status: u16,
    code: &str,
) -> Value {
    let response = app
        .raw(Method::POST, &format!("/api/v1/instances/{}/messages", instance.id))
        .bearer_auth(&instance.token)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let answer = TestApp::answer(response).await;
    assert_eq!(answer.status, status, "{body} → {}", answer.body);
    assert_eq!(answer.body["code"], code, "{}", answer.body);
    assert!(!answer.body["detail"].as_str().unwrap().is_empty());
    assert_eq!(app.queue_count(instance).await, 0, "nothing stored for {body}");
    answer.body
}

#[tokio::test]
async fn malformed_json_is_refused() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    refused(&app, &instance, r#"{"to": {"id": "u1"}, "text": "hi""#, 400, "malformed_json").await;
    refused(&app, &instance, "not json at all", 400, "malformed_json").await;
    refused(
        &app,
        &instance,
        r#"{"to": {"id": "u1"}, "text": "hi"} trailing"#,
        400,
        "malformed_json",
    )
    .await;
}

#[tokio::test]
async fn a_wrong_type_names_the_field() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    let body =
        refused(&app, &instance, r#"{"to": {"id": "u1"}, "text": 5}"#, 400, "invalid_request")
            .await;
    assert_eq!(body["field"], "text");
    let body = refused(
        &app,
        &instance,
        r#"{"to": {"id": "u1"}, "text": "x", "quickReplies": [{"title": true}]}"#,
        400,
        "invalid_request",
    )
    .await;
    assert_eq!(body["field"], "quickReplies[0].title");
    let body =
        refused(&app, &instance, r#"{"to": "u1", "text": "x"}"#, 400, "invalid_request").await;
    assert_eq!(body["field"], "to");
}

#[tokio::test]
async fn an_unknown_field_is_refused_rather_than_ignored() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    let body =
        refused(&app, &instance, r#"{"to": {"id": "u1"}, "txt": "typo"}"#, 400, "invalid_request")
            .await;
    assert!(body["detail"].as_str().unwrap().contains("txt"), "{body}");
}

#[tokio::test]
async fn over_limit_content_is_refused_with_the_field_and_the_limit() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    let long = json!({"to": {"id": "u1"}, "text": "a".repeat(1001)}).to_string();
    let body = refused(&app, &instance, &long, 400, "invalid_request").await;
    assert_eq!(body["field"], "text");
    assert!(body["detail"].as_str().unwrap().contains("1000"), "{body}");

    let replies: Vec<_> = (0..14).map(|i| json!({"title": format!("o{i}")})).collect();
    let many = json!({"to": {"id": "u1"}, "text": "pick", "quickReplies": replies}).to_string();
    assert_eq!(
        refused(&app, &instance, &many, 400, "invalid_request").await["field"],
        "quickReplies"
    );

    let title =
        json!({"to": {"id": "u1"}, "text": "pick", "quickReplies": [{"title": "x".repeat(21)}]})
            .to_string();
    assert_eq!(
        refused(&app, &instance, &title, 400, "invalid_request").await["field"],
        "quickReplies[0].title"
    );

    let elements: Vec<_> = (0..11).map(|_| json!({"title": "t"})).collect();
    let template = json!({"to": {"id": "u1"}, "template": {"elements": elements}}).to_string();
    assert_eq!(
        refused(&app, &instance, &template, 400, "invalid_request").await["field"],
        "template.elements"
    );

    let buttons: Vec<_> =
        (0..4).map(|_| json!({"type": "postback", "title": "b", "payload": "p"})).collect();
    let four =
        json!({"to": {"id": "u1"}, "template": {"elements": [{"title": "t", "buttons": buttons}]}})
            .to_string();
    assert_eq!(
        refused(&app, &instance, &four, 400, "invalid_request").await["field"],
        "template.elements[0].buttons"
    );

    let caption = json!({"to": {"id": "u1"}, "media": {"kind": "image", "url": "https://x.example/a.png", "caption": "c".repeat(1001)}}).to_string();
    assert_eq!(
        refused(&app, &instance, &caption, 400, "invalid_request").await["field"],
        "media.caption"
    );
}

#[tokio::test]
async fn content_that_makes_no_sense_is_refused() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    // Nothing to send.
    refused(&app, &instance, r#"{"to": {"id": "u1"}}"#, 400, "invalid_request").await;
    // Two things at once.
    refused(
        &app,
        &instance,
        r#"{"to": {"id": "u1"}, "text": "a", "sticker": "like_heart"}"#,
        400,
        "invalid_request",
    )
    .await;
    // Both a person and a comment.
    let body = refused(
        &app,
        &instance,
        r#"{"to": {"id": "u1", "commentId": "c1"}, "text": "a"}"#,
        400,
        "invalid_request",
    )
    .await;
    assert_eq!(body["field"], "to");
    // An empty text, an unknown sticker, an unknown media kind, a non-http URL.
    assert_eq!(
        refused(&app, &instance, r#"{"to": {"id": "u1"}, "text": "   "}"#, 400, "invalid_request")
            .await["field"],
        "text"
    );
    assert_eq!(
        refused(
            &app,
            &instance,
            r#"{"to": {"id": "u1"}, "sticker": "smile"}"#,
            400,
            "invalid_request"
        )
        .await["field"],
        "sticker"
    );
    assert_eq!(
        refused(
            &app,
            &instance,
            r#"{"to": {"id": "u1"}, "media": {"kind": "gif", "url": "https://x.example/a"}}"#,
            400,
            "invalid_request"
        )
        .await["field"],
        "media.kind"
    );
    assert_eq!(
        refused(
            &app,
            &instance,
            r#"{"to": {"id": "u1"}, "media": {"kind": "image", "url": "file:///etc/passwd"}}"#,
            400,
            "invalid_request"
        )
        .await["field"],
        "media.url"
    );
    // A comment can be answered only with text.
    assert_eq!(
        refused(
            &app,
            &instance,
            r#"{"to": {"commentId": "c1"}, "sticker": "like_heart"}"#,
            400,
            "invalid_request"
        )
        .await["field"],
        "to.commentId"
    );
}

#[tokio::test]
async fn a_body_over_the_configured_limit_is_refused_with_413() {
    let app = TestApp::spawn_with(|c| c.http.max_body_bytes = 2048).await;
    let instance = app.sandbox().await;
    let big = json!({"to": {"id": "u1"}, "text": "a".repeat(4000)}).to_string();
    refused(&app, &instance, &big, 413, "payload_too_large").await;
}

#[tokio::test]
async fn a_body_that_is_not_json_is_refused_with_415() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    let response = app
        .raw(Method::POST, &format!("/api/v1/instances/{}/messages", instance.id))
        .bearer_auth(&instance.token)
        .header("content-type", "text/plain")
        .body(r#"{"to": {"id": "u1"}, "text": "hi"}"#)
        .send()
        .await
        .unwrap();
    let answer = TestApp::answer(response).await;
    assert_eq!(answer.status, 415);
    assert_eq!(answer.body["code"], "unsupported_media_type");
    assert_eq!(app.queue_count(&instance).await, 0);
}

#[tokio::test]
async fn an_unknown_instance_is_404_and_a_malformed_id_is_400() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    let other_id = if instance.id == 1_000_000_000 { 1_000_000_001 } else { 1_000_000_000 };
    let answer = app
        .request(
            Method::POST,
            &format!("/api/v1/instances/{other_id}/messages"),
            Some(&instance.token),
            Some(json!({"to": {"id": "u1"}, "text": "hi"})),
        )
        .await;
    assert_eq!(answer.status, 404, "{}", answer.body);
    assert_eq!(answer.body["code"], "not_found");

    let answer = app
        .request(Method::GET, "/api/v1/instances/12ab/settings", Some(&instance.token), None)
        .await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.body["field"], "id");
}

#[tokio::test]
async fn a_wrong_or_missing_token_is_401_and_never_echoed() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    let other = app.sandbox().await;
    let path = format!("/api/v1/instances/{}/messages", instance.id);
    let body = json!({"to": {"id": "u1"}, "text": "hi"});

    let wrong = "0".repeat(50);
    let answer = app.request(Method::POST, &path, Some(&wrong), Some(body.clone())).await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.body["code"], "unauthorized");
    assert_eq!(answer.headers["www-authenticate"], "Bearer");
    assert!(!answer.body.to_string().contains(&wrong));

    // Another instance's token does not open this one.
    let answer = app.request(Method::POST, &path, Some(&other.token), Some(body.clone())).await;
    assert_eq!(answer.status, 401);

    let answer = app.request(Method::POST, &path, None, Some(body.clone())).await;
    assert_eq!(answer.status, 401);
    assert!(answer.body["detail"].as_str().unwrap().contains("Bearer"));

    let response = app
        .raw(Method::POST, &path)
        .header("authorization", format!("Basic {}", instance.token))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(app.queue_count(&instance).await, 0);
}

#[tokio::test]
async fn an_instance_token_cannot_use_the_admin_api() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    let answer = app
        .request(
            Method::POST,
            "/api/v1/instances",
            Some(&instance.token),
            Some(json!({"kind": "sandbox"})),
        )
        .await;
    assert_eq!(answer.status, 401);
    let answer = app.request(Method::GET, "/api/v1/instances", Some(&instance.token), None).await;
    assert_eq!(answer.status, 401);
    let answer = app.request(Method::GET, "/api/v1/instances", None, None).await;
    assert_eq!(answer.status, 401);
}

#[tokio::test]
async fn an_unknown_route_or_method_answers_in_the_envelope() {
    let app = TestApp::spawn().await;
    let answer = app.request(Method::GET, "/api/v1/nothing-here", None, None).await;
    assert_eq!(answer.status, 404);
    assert_eq!(answer.body["code"], "not_found");
    let answer = app.request(Method::PUT, "/api/v1/instances", None, None).await;
    assert_eq!(answer.status, 405);
    assert_eq!(answer.body["code"], "method_not_allowed");
}
