//! The imiconnect dialect (seed 002): the seed's bodies on Meta's wire,
//! the seed's limits, Service Key and JWT authentication, message status,
//! and status callbacks with callbackData and correlationId.

use std::time::Duration;

use base64::Engine;
use chatgate_core::clock::Clock;
use chatgate_e2e::{
    Answer, FakeGraph, IG_ACCOUNT, TestApp, TestInstance, TestReceiver, fixture, meta_error,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const MESSAGES: &str = "/v1/instagram/messages";

/// How a request proves who sends it.
enum Auth<'a> {
    None,
    Key(&'a str),
    Jwt(String),
    Both { key: &'a str, jwt: String },
}

async fn post(app: &TestApp, body: &Value, auth: Auth<'_>) -> Answer {
    let mut request = app.raw(Method::POST, MESSAGES).json(body);
    request = match auth {
        Auth::None => request,
        Auth::Key(key) => request.header("key", key),
        Auth::Jwt(jwt) => request.bearer_auth(jwt),
        Auth::Both { key, jwt } => request.header("key", key).bearer_auth(jwt),
    };
    TestApp::answer(request.send().await.unwrap()).await
}

async fn status(app: &TestApp, instance: &TestInstance, id: &str) -> Answer {
    let request = app.raw(Method::GET, &format!("{MESSAGES}/{id}")).header("key", &instance.token);
    TestApp::answer(request.send().await.unwrap()).await
}

/// The instance's service secret, as its owner reads it.
async fn service_secret(app: &TestApp, instance: &TestInstance) -> String {
    let settings = app.get(instance, "/settings").await;
    assert_eq!(settings.status, StatusCode::OK, "{}", settings.body);
    settings.body["serviceSecret"].as_str().unwrap().to_owned()
}

fn jwt_with(claims: Value, secret_b64: &str, alg: Algorithm) -> String {
    let key = base64::engine::general_purpose::STANDARD.decode(secret_b64).unwrap();
    jsonwebtoken::encode(&Header::new(alg), &claims, &EncodingKey::from_secret(&key)).unwrap()
}

fn now_secs(app: &TestApp) -> i64 {
    app.clock.now().as_secs()
}

/// A valid JWT for the instance.
async fn jwt(app: &TestApp, instance: &TestInstance) -> String {
    let secret = service_secret(app, instance).await;
    jwt_with(
        json!({"iss": instance.id.to_string(), "iat": now_secs(app)}),
        &secret,
        Algorithm::HS256,
    )
}

fn text(to: &str, content: &str) -> Value {
    json!({"content": content, "contentType": "TEXT", "from": "app-id", "to": to})
}

fn refused(answer: &Answer, status: u16, code: &str, field: Option<&str>) {
    assert_eq!(answer.status.as_u16(), status, "{}", answer.body);
    assert_eq!(answer.body["code"], code, "{}", answer.body);
    assert!(answer.body["description"].as_str().is_some_and(|d| !d.is_empty()), "{}", answer.body);
    match field {
        Some(field) => assert_eq!(answer.body["field"], field, "{}", answer.body),
        None => assert!(answer.body.get("field").is_none(), "{}", answer.body),
    }
}

#[tokio::test]
async fn every_example_of_the_seed_is_accepted_and_reaches_meta_in_its_wire_format() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn_meta(&graph).await;
    let instance = app.instagram(&graph).await;
    let receiver = TestReceiver::start().await;
    for name in ["text", "template", "media", "sticker", "quick_replies"] {
        let mut body = fixture(&format!("imiconnect/{name}.json"));
        body["callbackUrl"] = json!(receiver.url);
        let answer = post(&app, &body, Auth::Key(&instance.token)).await;
        assert_eq!(answer.status, StatusCode::ACCEPTED, "{name}: {}", answer.body);
        assert_eq!(answer.body["correlationId"], "de36bb32-3f5d-46c9-b132-15e010a80ccc");
        assert_eq!(answer.body["status"], "QUEUED");
        assert!(answer.body["messageId"].as_str().is_some());
        assert!(answer.body["acceptedTime"].as_str().is_some());
    }
    app.settle().await;
    let sends: Vec<Value> = graph.sends();
    assert_eq!(sends.len(), 5, "{sends:#?}");
    let recipient = json!({"id": "7947908538583264"});
    assert_eq!(sends[0]["recipient"], recipient);
    assert!(sends[0]["message"]["text"].as_str().unwrap().starts_with("A while back"));
    assert_eq!(
        sends[1]["message"]["attachment"]["payload"]["elements"][0],
        json!({
            "title": "Welcome!",
            "subtitle": "We have the right hat for everyone.",
            "image_url": "https://sample-videos.com/img/Sample-jpg-image-2mb.jpg",
            "default_action": {"type": "web_url", "url": "https://www.originalcoastclothing.com"},
            "buttons": [
                {"type": "web_url", "title": "View Website", "url": "https://www.google.com"},
                {"type": "postback", "title": "Start Chatting", "payload": "DEVELOPER_DEFINED_PAYLOAD"},
                {"type": "postback", "title": "Start Chatting", "payload": "DEVELOPER_DEFINED_PAYLOAD"},
            ],
        })
    );
    assert_eq!(
        sends[2]["message"]["attachment"],
        json!({"type": "image", "payload": {"url": "https://www.learningcontainer.com/wp-content/uploads/2020/08/Sample-Image-file-Download.png"}})
    );
    assert_eq!(sends[3]["message"]["attachment"], json!({"type": "like_heart"}));
    assert_eq!(sends[4]["recipient"], json!({"id": "igsid"}));
    assert_eq!(
        sends[4]["message"],
        json!({"text": "Please confirm to proceed.", "quick_replies": [
            {"content_type": "text", "title": "Confirm", "payload": "confirm"},
            {"content_type": "text", "title": "Cancel", "payload": "cancel"},
        ]})
    );
    // Each message called back once it was sent.
    let sent: Vec<Value> =
        receiver.bodies().into_iter().filter(|b| b["status"] == "SENT").collect();
    assert_eq!(sent.len(), 5, "{:#?}", receiver.bodies());
    assert!(sent.iter().all(|b| b["callbackData"] == "customerID123|1234|new_sale"));
}

#[tokio::test]
async fn the_seed_s_limits_are_refused_with_the_field_that_breaks_them() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    let reply =
        |title: &str, payload: &str| json!({"type": "TEXT", "title": title, "payload": payload});
    let element = |title: &str| json!({"title": title});
    let with = |key: &str, value: Value| {
        let mut body = text("u1", "hi");
        body[key] = value;
        body
    };
    let template = |elements: Value| json!({"contentType": "TEMPLATE", "from": "app", "to": "u1", "template": elements});
    let cases = [
        (with("quickReplies", json!(vec![reply("a", "a"); 11])), "quickReplies"),
        (with("quickReplies", json!([reply(&"t".repeat(21), "p")])), "quickReplies[0].title"),
        (with("quickReplies", json!([reply("t", &"p".repeat(1001))])), "quickReplies[0].payload"),
        (with("quickReplies", json!([{"type": "TEXT", "title": "t"}])), "quickReplies[0].payload"),
        (template(json!(vec![element("t"); 11])), "template"),
        (template(json!([element(&"t".repeat(81))])), "template[0].title"),
        (template(json!([{"title": "t", "subtitle": "s".repeat(81)}])), "template[0].subtitle"),
        (
            template(
                json!([{"title": "t", "buttons": vec![json!({"type": "postback", "title": "b", "payload": "p"}); 4]}]),
            ),
            "template[0].buttons",
        ),
        (
            template(json!([{"title": "t", "buttons": [{"type": "call", "title": "b"}]}])),
            "template[0].buttons[0].type",
        ),
        (
            template(
                json!([{"title": "t", "defaultAction": {"type": "POSTBACK", "url": "https://x.example"}}]),
            ),
            "template[0].defaultAction.type",
        ),
        (json!({"contentType": "STICKER", "from": "a", "to": "u1", "type": "thumbs_up"}), "type"),
        (json!({"contentType": "VIDEO", "from": "a", "to": "u1"}), "contentType"),
        (json!({"contentType": "TEXT", "from": "a", "content": "hi"}), "to"),
        (json!({"contentType": "TEXT", "to": "u1", "content": "hi"}), "from"),
        (json!({"contentType": "TEXT", "from": "a", "to": "u1"}), "content"),
        (json!({"contentType": "MEDIA", "from": "a", "to": "u1"}), "url"),
        (with("content", json!("x".repeat(1001))), "content"),
        (with("messagingType", json!("PROMOTION")), "messagingType"),
        (with("callbackUrl", json!("ftp://x.example/cb")), "callbackUrl"),
        (with("callbackUrl", json!("http://10.0.0.5/cb")), "callbackUrl"),
        (with("content", json!(42)), "content"),
    ];
    for (body, field) in cases {
        let answer = post(&app, &body, Auth::Key(&instance.token)).await;
        refused(&answer, 400, "INVALID_REQUEST", Some(field));
    }
    let malformed = app
        .raw(Method::POST, MESSAGES)
        .header("key", &instance.token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    refused(&TestApp::answer(malformed).await, 400, "MALFORMED_JSON", None);
    assert_eq!(app.queue_count(&instance).await, 0, "nothing was queued");
}

#[tokio::test]
async fn a_service_key_or_a_jwt_authenticates_and_the_jwt_decides_when_both_come() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    let other = app.sandbox().await;
    let body = text("u1", "hi");
    assert_eq!(post(&app, &body, Auth::Key(&instance.token)).await.status, StatusCode::ACCEPTED);
    let token = jwt(&app, &instance).await;
    assert_eq!(post(&app, &body, Auth::Jwt(token.clone())).await.status, StatusCode::ACCEPTED);

    // A valid JWT wins over a wrong key; a bad JWT loses even with a right key.
    let both = Auth::Both { key: "not-a-key", jwt: token };
    assert_eq!(post(&app, &body, both).await.status, StatusCode::ACCEPTED);
    let secret = service_secret(&app, &instance).await;
    let expired = jwt_with(
        json!({"iss": instance.id.to_string(), "iat": now_secs(&app), "exp": now_secs(&app) - 1}),
        &secret,
        Algorithm::HS256,
    );
    let both = Auth::Both { key: &instance.token, jwt: expired };
    refused(&post(&app, &body, both).await, 401, "UNAUTHORIZED", None);

    // The JWT names its instance: another instance's JWT sends as that one.
    let theirs = jwt(&app, &other).await;
    let answer = post(&app, &body, Auth::Jwt(theirs)).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED);
    assert_eq!(app.queue_count(&other).await, 1);
}

#[tokio::test]
async fn bad_keys_and_bad_jwts_are_refused_with_401_each_for_its_reason() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    let other = app.sandbox().await;
    let secret = service_secret(&app, &instance).await;
    let iss = instance.id.to_string();
    let now = now_secs(&app);
    let other_secret = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    let unsigned = {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
        format!(
            "{}.{}.",
            B64.encode(r#"{"alg":"none","typ":"JWT"}"#),
            B64.encode(format!(r#"{{"iss":"{iss}","iat":{now}}}"#))
        )
    };
    let cases = [
        ("no credentials", Auth::None),
        ("a wrong key", Auth::Key("not-a-key")),
        (
            "expired",
            Auth::Jwt(jwt_with(
                json!({"iss": iss, "iat": now, "exp": now - 10}),
                &secret,
                Algorithm::HS256,
            )),
        ),
        (
            "issued an hour ago",
            Auth::Jwt(jwt_with(json!({"iss": iss, "iat": now - 3600}), &secret, Algorithm::HS256)),
        ),
        (
            "issued in the future",
            Auth::Jwt(jwt_with(json!({"iss": iss, "iat": now + 3600}), &secret, Algorithm::HS256)),
        ),
        ("without iat", Auth::Jwt(jwt_with(json!({"iss": iss}), &secret, Algorithm::HS256))),
        (
            "another instance as issuer",
            Auth::Jwt(jwt_with(
                json!({"iss": other.id.to_string(), "iat": now}),
                &secret,
                Algorithm::HS256,
            )),
        ),
        (
            "a malformed exp",
            Auth::Jwt(jwt_with(
                json!({"iss": iss, "iat": now, "exp": "soon"}),
                &secret,
                Algorithm::HS256,
            )),
        ),
        (
            "a string iat",
            Auth::Jwt(jwt_with(
                json!({"iss": iss, "iat": now.to_string()}),
                &secret,
                Algorithm::HS256,
            )),
        ),
        (
            "an unknown issuer",
            Auth::Jwt(jwt_with(
                json!({"iss": "1234567890", "iat": now}),
                &secret,
                Algorithm::HS256,
            )),
        ),
        ("without issuer", Auth::Jwt(jwt_with(json!({"iat": now}), &secret, Algorithm::HS256))),
        (
            "a wrong signature",
            Auth::Jwt(jwt_with(json!({"iss": iss, "iat": now}), &other_secret, Algorithm::HS256)),
        ),
        ("alg none", Auth::Jwt(unsigned)),
        (
            "alg HS512",
            Auth::Jwt(jwt_with(json!({"iss": iss, "iat": now}), &secret, Algorithm::HS512)),
        ),
        ("garbage", Auth::Jwt("a.b.c".into())),
    ];
    for (why, auth) in cases {
        let answer = post(&app, &text("u1", "hi"), auth).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{why}: {}", answer.body);
        assert_eq!(answer.body["code"], "UNAUTHORIZED", "{why}");
        let description = answer.body["description"].as_str().unwrap();
        assert!(!description.contains(&secret) && !description.contains(&instance.token), "{why}");
    }
    assert_eq!(app.queue_count(&instance).await, 0);
    assert_eq!(app.queue_count(&other).await, 0);
}

#[tokio::test]
async fn an_unknown_issuer_and_a_wrong_signature_get_the_same_answer() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    let now = now_secs(&app);
    let key = base64::engine::general_purpose::STANDARD.encode([9u8; 32]);
    let unknown = jwt_with(json!({"iss": "1234567890", "iat": now}), &key, Algorithm::HS256);
    let wrong =
        jwt_with(json!({"iss": instance.id.to_string(), "iat": now}), &key, Algorithm::HS256);
    let a = post(&app, &text("u1", "hi"), Auth::Jwt(unknown)).await;
    let b = post(&app, &text("u1", "hi"), Auth::Jwt(wrong)).await;
    assert_eq!((a.status, &a.body), (b.status, &b.body));
}

#[tokio::test]
async fn a_numeric_iss_names_the_instance_and_the_skew_is_configurable() {
    let app = TestApp::spawn_with(|config| config.imiconnect.jwt_skew_secs = 10).await;
    let instance = app.sandbox().await;
    let secret = service_secret(&app, &instance).await;
    let now = now_secs(&app);
    let numeric = jwt_with(json!({"iss": instance.id, "iat": now - 5}), &secret, Algorithm::HS256);
    assert_eq!(
        post(&app, &text("u1", "hi"), Auth::Jwt(numeric)).await.status,
        StatusCode::ACCEPTED
    );
    let late = jwt_with(json!({"iss": instance.id, "iat": now - 11}), &secret, Algorithm::HS256);
    refused(&post(&app, &text("u1", "hi"), Auth::Jwt(late)).await, 401, "UNAUTHORIZED", None);
}

#[tokio::test]
async fn rotating_the_service_secret_ends_the_old_one_at_once() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    let old = jwt(&app, &instance).await;
    let rotated = app
        .request(
            Method::POST,
            &format!("/api/v1/instances/{}/settings/service-secret", instance.id),
            Some(&instance.token),
            None,
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    refused(&post(&app, &text("u1", "hi"), Auth::Jwt(old)).await, 401, "UNAUTHORIZED", None);
    let new = jwt(&app, &instance).await;
    assert_eq!(post(&app, &text("u1", "hi"), Auth::Jwt(new)).await.status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn the_template_is_read_as_the_table_s_object_too_and_a_whatsapp_instance_is_refused() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    let object = json!({"contentType": "TEMPLATE", "from": "a", "to": "u1",
        "template": {"template_type": "generic", "elements": [{"title": "Hats"}]}});
    assert_eq!(post(&app, &object, Auth::Key(&instance.token)).await.status, StatusCode::ACCEPTED);
    let button = json!({"contentType": "TEMPLATE", "from": "a", "to": "u1",
        "template": {"template_type": "button", "elements": [{"title": "Hats"}]}});
    refused(
        &post(&app, &button, Auth::Key(&instance.token)).await,
        400,
        "INVALID_REQUEST",
        Some("template.template_type"),
    );
    let whatsapp = app.create_instance(json!({"kind": "whatsapp"})).await;
    let answer = post(&app, &text("79001234567", "hi"), Auth::Key(&whatsapp.token)).await;
    refused(&answer, 400, "WRONG_CHANNEL", None);
}

#[tokio::test]
async fn deleting_an_instance_still_calls_back_for_its_pending_messages() {
    let app = TestApp::spawn().await;
    let instance = app.paced(60_000).await;
    let receiver = TestReceiver::start().await;
    let mut body = text("u1", "first");
    post(&app, &body, Auth::Key(&instance.token)).await;
    body["content"] = json!("waits");
    body["callbackUrl"] = json!(receiver.url);
    body["correlationId"] = json!("c-9");
    post(&app, &body, Auth::Key(&instance.token)).await;
    app.settle().await; // the first goes, the second waits its turn
    let path = format!("/api/v1/instances/{}", instance.id);
    let deleted = app.request(Method::DELETE, &path, Some(&app.partner_token), None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    app.settle().await;
    let bodies = receiver.bodies();
    assert_eq!(bodies.len(), 1, "{bodies:#?}");
    assert_eq!(bodies[0]["status"], "FAILED");
    assert_eq!(bodies[0]["correlationId"], "c-9");
}

#[tokio::test]
async fn a_dead_callback_url_does_not_hold_back_another_callback_url_of_the_instance() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    let dead = TestReceiver::start().await;
    dead.respond_with(500);
    let alive = TestReceiver::start().await;
    for (url, content) in [(&dead.url, "one"), (&alive.url, "two")] {
        let mut body = text("u1", content);
        body["callbackUrl"] = json!(url);
        post(&app, &body, Auth::Key(&instance.token)).await;
    }
    app.settle().await;
    app.advance(Duration::from_secs(2)).await;
    let statuses: Vec<Value> = alive.bodies().iter().map(|b| b["status"].clone()).collect();
    assert_eq!(statuses, ["SENT", "DELIVERED", "READ"]);
    assert_eq!(dead.received().len(), 1, "still waiting for its first retry");
}

#[tokio::test]
async fn the_service_secret_is_the_instance_s_own_and_stays_the_same() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    let other = app.sandbox().await;
    let first = service_secret(&app, &instance).await;
    assert_eq!(base64::engine::general_purpose::STANDARD.decode(&first).unwrap().len(), 32);
    assert_eq!(service_secret(&app, &instance).await, first);
    assert_ne!(service_secret(&app, &other).await, first);
    let app = app.restart().await;
    assert_eq!(service_secret(&app, &instance).await, first, "kept across restarts");
}

#[tokio::test]
async fn the_status_of_a_message_is_answered_with_its_correlation_id() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    let mut body = text("u1", "hi");
    body["correlationId"] = json!("order-42");
    let accepted = post(&app, &body, Auth::Key(&instance.token)).await;
    let id = accepted.body["messageId"].as_str().unwrap().to_owned();
    let queued = status(&app, &instance, &id).await;
    assert_eq!(queued.body["status"], "QUEUED");
    assert_eq!(queued.body["correlationId"], "order-42");
    app.settle().await;
    app.advance(Duration::from_secs(2)).await;
    let read = status(&app, &instance, &id).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body["status"], "READ", "{}", read.body);
    assert!(read.body["providerMessageId"].as_str().is_some());

    let other = app.sandbox().await;
    let foreign = app
        .raw(Method::GET, &format!("{MESSAGES}/{id}"))
        .header("key", &other.token)
        .send()
        .await
        .unwrap();
    refused(&TestApp::answer(foreign).await, 404, "NOT_FOUND", None);
    refused(&status(&app, &instance, "not-a-message-id").await, 404, "NOT_FOUND", None);
}

#[tokio::test]
async fn callbacks_carry_callback_data_and_correlation_id_in_status_order_and_are_retried() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    let receiver = TestReceiver::start().await;
    receiver.respond_with(500);
    let mut body = text("u1", "hi");
    body["callbackUrl"] = json!(receiver.url);
    body["callbackData"] = json!("customerID123|1234|new_sale");
    body["correlationId"] = json!("de36bb32");
    let accepted = post(&app, &body, Auth::Key(&instance.token)).await;
    let id = accepted.body["messageId"].as_str().unwrap().to_owned();
    app.settle().await;
    assert_eq!(receiver.received().len(), 1, "the first callback failed");

    receiver.respond_with(200);
    app.advance(Duration::from_secs(10)).await;
    let bodies = receiver.bodies();
    let statuses: Vec<&str> = bodies.iter().map(|b| b["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["SENT", "SENT", "DELIVERED", "READ"], "retried first, then in order");
    for body in &bodies {
        assert_eq!(body["messageId"], id);
        assert_eq!(body["callbackData"], "customerID123|1234|new_sale");
        assert_eq!(body["correlationId"], "de36bb32");
        assert_eq!(body["to"], "u1");
    }
    // Signed with the service secret (not the webhook secret), under an id
    // of its own that a retry keeps.
    let secret = format!("whsec_{}", service_secret(&app, &instance).await);
    let received = receiver.received();
    let first = &received[0];
    let expected = standardwebhooks::Webhook::new(&secret)
        .unwrap()
        .sign(
            first.header("webhook-id").unwrap(),
            first.header("webhook-timestamp").unwrap().parse().unwrap(),
            &first.raw,
        )
        .unwrap();
    assert_eq!(first.header("webhook-signature"), Some(expected.as_str()));
    assert!(first.header("webhook-id").unwrap().starts_with("cb_"));
    assert_eq!(first.header("webhook-id"), received[1].header("webhook-id"));
    assert_ne!(received[1].header("webhook-id"), received[2].header("webhook-id"));
    assert!(first.header("authorization").is_none());

    // Callbacks are the caller's, never a pull consumer's: the pull queue
    // holds one notification per journal event.
    let pending = app.get(&instance, "/notifications/count").await;
    assert_eq!(pending.status, StatusCode::OK);
    let journal = app.journal(&instance).await;
    assert_eq!(pending.body["pending"].as_u64().unwrap(), journal.len() as u64, "{journal:#?}");
}

#[tokio::test]
async fn a_failed_message_calls_back_with_its_reason_and_a_dead_callback_url_never_holds_back_the_webhook()
 {
    let app = TestApp::spawn().await;
    let webhook = TestReceiver::start().await;
    let instance = app.pushing_to(&webhook.url).await;
    let dead = TestReceiver::start().await;
    dead.respond_with(503);
    let mut body = text("fail-ann", "hi");
    body["callbackUrl"] = json!(dead.url);
    post(&app, &body, Auth::Key(&instance.token)).await;
    app.settle().await;
    let callback = &dead.bodies()[0];
    assert_eq!(callback["status"], "FAILED");
    assert!(callback["reason"].as_str().unwrap().contains("recipient unavailable"), "{callback}");
    // The webhook got the same status while the callback URL keeps failing.
    let statuses: Vec<Value> = webhook.bodies().iter().map(|b| b["type"].clone()).collect();
    assert!(statuses.contains(&json!("messageStatus")), "{statuses:?}");
    app.customer_writes(&instance, "still there?").await;
    app.settle().await;
    assert!(webhook.bodies().iter().any(|b| b["type"] == "incomingMessage"));
}

#[tokio::test]
async fn a_callback_url_answering_410_ends_that_callback_only() {
    let app = TestApp::spawn().await;
    let webhook = TestReceiver::start().await;
    let instance = app.pushing_to(&webhook.url).await;
    let gone = TestReceiver::start().await;
    gone.respond_with(410);
    let mut body = text("u1", "hi");
    body["callbackUrl"] = json!(gone.url);
    post(&app, &body, Auth::Key(&instance.token)).await;
    app.settle().await;
    app.advance(Duration::from_secs(2)).await;
    let settings = app.get(&instance, "/settings").await;
    assert_eq!(settings.body["webhookUrl"], webhook.url, "the instance's webhook stays on");
    // Each callback was tried once and ended; none is retried.
    let tried: Vec<Value> = gone.bodies().iter().map(|b| b["status"].clone()).collect();
    assert_eq!(tried, ["SENT", "DELIVERED", "READ"]);
    app.advance(Duration::from_secs(3600)).await;
    assert_eq!(gone.received().len(), 3);
}

#[tokio::test]
async fn other_paths_and_methods_answer_in_the_dialect_s_envelope() {
    let app = TestApp::spawn().await;
    let get = TestApp::answer(app.raw(Method::GET, MESSAGES).send().await.unwrap()).await;
    refused(&get, 405, "METHOD_NOT_ALLOWED", None);
    let other =
        TestApp::answer(app.raw(Method::POST, "/v1/instagram/other").send().await.unwrap()).await;
    refused(&other, 404, "NOT_FOUND", None);
}

#[tokio::test]
async fn an_instagram_instance_outside_the_window_fails_and_calls_back_with_meta_s_words() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn_meta(&graph).await;
    let instance = app.instagram(&graph).await;
    let receiver = TestReceiver::start().await;
    graph.fail_next(400, meta_error(551, None, "This person isn't available right now."));
    let mut body = text("7947908538583264", "hi");
    body["callbackUrl"] = json!(receiver.url);
    body["from"] = json!(IG_ACCOUNT);
    post(&app, &body, Auth::Key(&instance.token)).await;
    app.settle().await;
    let callback = &receiver.bodies()[0];
    assert_eq!(callback["status"], "FAILED");
    assert_eq!(callback["from"], IG_ACCOUNT);
    assert!(callback["reason"].as_str().unwrap().contains("isn't available"), "{callback}");
}
