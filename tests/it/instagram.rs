//! The instagram connector against a fake Graph API: connecting an
//! account, every content variant on Meta's wire, the messaging windows,
//! and what each class of Meta error does to a message and an instance.

use std::time::Duration;

use chatgate_e2e::{
    CUSTOMER, FakeGraph, Gate, IG_ACCOUNT, IG_TOKEN, LogBuffer, TestApp, meta_error,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(24 * 3600);

async fn connect(app: &TestApp, id: u64, account: &str, token: &str) -> (StatusCode, Value) {
    let answer = app
        .request(
            Method::PUT,
            &format!("/api/v1/instances/{id}/connection"),
            Some(&app.partner_token),
            Some(json!({"accountId": account, "accessToken": token})),
        )
        .await;
    (answer.status, answer.body)
}

/// The instance as the admin API shows it.
async fn shown(app: &TestApp, instance: &chatgate_e2e::TestInstance) -> chatgate_e2e::Answer {
    let path = format!("/api/v1/instances/{}", instance.id);
    app.request(Method::GET, &path, Some(&app.partner_token), None).await
}

/// An instagram instance the customer has just written to.
async fn chatting() -> (FakeGraph, TestApp, chatgate_e2e::TestInstance) {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn_meta(&graph).await;
    let instance = app.instagram(&graph).await;
    app.customer_writes_on_instagram(CUSTOMER, "Hi! Is the blue jacket still available?").await;
    app.settle().await;
    (graph, app, instance)
}

fn sends_to_messages(graph: &FakeGraph) -> Vec<Value> {
    graph
        .calls()
        .into_iter()
        .filter(|c| c.method == "POST" && c.path == format!("{IG_ACCOUNT}/messages"))
        .map(|c| c.body)
        .collect()
}

#[tokio::test]
async fn connecting_checks_the_token_with_me_and_records_the_account() {
    let graph = FakeGraph::start().await;
    graph.account(IG_TOKEN, IG_ACCOUNT, "blue.jackets");
    let app = TestApp::spawn_meta(&graph).await;
    let instance = app.create_instance(json!({"kind": "instagram"})).await;
    assert_eq!(instance.body["state"], "notAuthorized");

    let (status, body) = connect(&app, instance.id, IG_ACCOUNT, IG_TOKEN).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["state"], "authorized");
    assert_eq!(body["account"], json!({"id": IG_ACCOUNT, "username": "blue.jackets"}));

    let me = graph.calls().into_iter().find(|c| c.path == "me").expect("a /me call");
    assert_eq!(me.token.as_deref(), Some(IG_TOKEN));
    assert!(me.fields.unwrap().contains("user_id"));
    let shown = shown(&app, &instance).await;
    assert!(!shown.body.to_string().contains(IG_TOKEN), "the token is never shown again");
}

#[tokio::test]
async fn getloo_get_info_answers_with_the_connected_account() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn_meta(&graph).await;
    let instance = app.instagram(&graph).await;
    let answer =
        app.request(Method::GET, &format!("/insta/{}/getInfo", instance.token), None, None).await;
    let text = answer.body.to_string();
    assert!(text.contains(IG_ACCOUNT) && text.contains("blue.jackets"), "{text}");
}

#[tokio::test]
async fn a_refused_token_leaves_the_instance_not_authorized_with_meta_s_reason() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn_meta(&graph).await;
    let instance = app.create_instance(json!({"kind": "instagram"})).await;
    let (status, body) = connect(&app, instance.id, IG_ACCOUNT, "IGAA-unknown-token").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["state"], "notAuthorized");
    let reason = body["stateReason"].as_str().unwrap();
    assert!(reason.contains("Session has expired"), "{reason}");
    assert!(!reason.contains("IGAA-unknown-token"));
    assert_eq!(body["account"], Value::Null);
}

#[tokio::test]
async fn a_token_of_another_account_is_not_accepted_for_this_one() {
    let graph = FakeGraph::start().await;
    graph.account(IG_TOKEN, IG_ACCOUNT, "blue.jackets");
    let app = TestApp::spawn_meta(&graph).await;
    let instance = app.create_instance(json!({"kind": "instagram"})).await;
    let (_, body) = connect(&app, instance.id, "17841499999999999", IG_TOKEN).await;
    assert_eq!(body["state"], "notAuthorized");
    assert!(body["stateReason"].as_str().unwrap().contains(IG_ACCOUNT), "{body}");
    assert_eq!(body["account"], Value::Null, "the account named is not claimed");

    // The account's webhooks do not reach this instance, and its real owner
    // can still connect it.
    let claimed = json!({"object": "instagram", "entry": [{"id": "17841499999999999", "time": 1,
        "messaging": [{"sender": {"id": CUSTOMER}, "recipient": {"id": "17841499999999999"},
                       "timestamp": 1, "message": {"mid": "mid.elsewhere", "text": "hi"}}]}]});
    app.meta_delivers(&claimed).await;
    assert!(app.journal(&instance).await.iter().all(|e| e["type"] != "incomingMessage"));
    graph.account("IGAA-owner-token", "17841499999999999", "owner");
    let owner = app.create_instance(json!({"kind": "instagram"})).await;
    let (status, body) = connect(&app, owner.id, "17841499999999999", "IGAA-owner-token").await;
    assert_eq!((status, &body["state"]), (StatusCode::OK, &json!("authorized")), "{body}");
}

#[tokio::test]
async fn a_refused_new_token_leaves_a_working_connection_in_place() {
    let (graph, app, instance) = chatting().await;
    let (status, body) = connect(&app, instance.id, IG_ACCOUNT, "IGAA-wrong-new-token").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["field"], "accessToken");
    assert!(body["detail"].as_str().unwrap().contains("keeps its current connection"), "{body}");
    let id = app.send_ok(&instance, json!({"to": {"id": CUSTOMER}, "text": "still here"})).await;
    app.settle().await;
    assert_eq!(app.message(&instance, &id).await["status"], "sent");
    assert_eq!(graph.calls().last().unwrap().token.as_deref(), Some(IG_TOKEN));
}

#[tokio::test]
async fn when_meta_cannot_be_reached_a_connection_changes_nothing() {
    let (graph, app, instance) = chatting().await;
    graph.fail_next_get(503, json!({"error": "upstream"}));
    let (status, body) = connect(&app, instance.id, IG_ACCOUNT, IG_TOKEN).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("nothing was changed"), "{body}");
    let shown = shown(&app, &instance).await;
    assert_eq!(shown.body["state"], "authorized");
}

#[tokio::test]
async fn creating_an_instance_for_a_taken_account_fails_whole_and_leaves_no_instance() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn_meta(&graph).await;
    app.instagram(&graph).await;
    let answer = app
        .request(
            Method::POST,
            "/api/v1/instances",
            Some(&app.partner_token),
            Some(json!({"kind": "instagram", "connection": {"accountId": IG_ACCOUNT, "accessToken": IG_TOKEN}})),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CONFLICT, "{}", answer.body);
    let all = app.request(Method::GET, "/api/v1/instances", Some(&app.partner_token), None).await;
    assert_eq!(all.body.as_array().unwrap().len(), 1, "{}", all.body);
}

#[tokio::test]
async fn a_refusal_of_the_old_token_does_not_undo_a_connection_made_during_the_send() {
    let (graph, app, instance) = chatting().await;
    let id = app.send_ok(&instance, json!({"to": {"id": CUSTOMER}, "text": "in flight"})).await;
    let claim = app.app().outbound.claim(1).await.unwrap().pop().unwrap();
    graph.account("IGAA-renewed-token", IG_ACCOUNT, "blue.jackets");
    let (_, body) = connect(&app, instance.id, IG_ACCOUNT, "IGAA-renewed-token").await;
    assert_eq!(body["state"], "authorized");
    graph.revoke(IG_TOKEN);
    app.app().outbound.process(claim).await.unwrap();
    app.settle().await;

    let message = app.message(&instance, &id).await;
    assert_eq!(message["status"], "sent", "{message}");
    assert_eq!(graph.calls().last().unwrap().token.as_deref(), Some("IGAA-renewed-token"));
    let shown = shown(&app, &instance).await;
    assert_eq!(shown.body["state"], "authorized");
}

#[tokio::test]
async fn a_connection_with_spaces_or_on_a_sandbox_is_refused_and_changes_nothing() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn_meta(&graph).await;
    let refused = app
        .request(
            Method::POST,
            "/api/v1/instances",
            Some(&app.partner_token),
            Some(json!({"kind": "instagram", "connection": {"accountId": IG_ACCOUNT, "accessToken": "a b"}})),
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert_eq!(refused.body["field"], "connection.accessToken");
    let sandbox = app
        .request(
            Method::POST,
            "/api/v1/instances",
            Some(&app.partner_token),
            Some(json!({"kind": "sandbox", "connection": {"accountId": "1", "accessToken": "t"}})),
        )
        .await;
    assert_eq!(sandbox.status, StatusCode::BAD_REQUEST);
    assert_eq!(sandbox.body["field"], "connection");
    let all = app.request(Method::GET, "/api/v1/instances", Some(&app.partner_token), None).await;
    assert_eq!(all.body.as_array().unwrap().len(), 0, "no instance was created");
    assert!(graph.calls().is_empty(), "Meta was not asked");
}

#[tokio::test]
async fn a_text_goes_to_the_send_api_with_the_bearer_token_and_records_meta_s_mid() {
    let (graph, app, instance) = chatting().await;
    let id =
        app.send_ok(&instance, json!({"to": {"id": CUSTOMER}, "text": "Yes, in all sizes!"})).await;
    app.settle().await;

    let call = graph.calls().into_iter().find(|c| c.method == "POST").unwrap();
    assert_eq!(call.path, format!("{IG_ACCOUNT}/messages"));
    assert_eq!(call.token.as_deref(), Some(IG_TOKEN));
    assert_eq!(
        call.body,
        json!({
            "recipient": {"id": CUSTOMER},
            "message": {"text": "Yes, in all sizes!"},
            "messaging_type": "RESPONSE",
        })
    );
    let message = app.message(&instance, &id).await;
    assert_eq!(message["status"], "sent");
    assert_eq!(message["providerMessageId"], graph.last_mid());
}

#[tokio::test]
async fn every_content_variant_is_put_on_meta_s_wire() {
    let (graph, app, instance) = chatting().await;
    let to = json!({"id": CUSTOMER});
    let requests = [
        json!({"to": to, "media": {"kind": "image", "url": "https://cdn.example.com/a.png"}}),
        json!({"to": to, "media": {"kind": "audio", "url": "https://cdn.example.com/v.m4a"}}),
        json!({"to": to, "media": {"kind": "video", "url": "https://cdn.example.com/v.mp4"}}),
        json!({"to": to, "media": {"kind": "file", "url": "https://cdn.example.com/f.pdf"}}),
        json!({"to": to, "text": "Pick one", "quickReplies": [{"title": "Yes", "payload": "YES"}, {"title": "No"}]}),
        json!({"to": to, "template": {"elements": [{
            "title": "Welcome!", "subtitle": "Hats", "imageUrl": "https://cdn.example.com/hat.jpg",
            "defaultActionUrl": "https://shop.example.com",
            "buttons": [
                {"type": "web_url", "title": "View", "url": "https://shop.example.com/hat"},
                {"type": "postback", "title": "Start", "payload": "START"}
            ]
        }]}}),
        json!({"to": to, "sticker": "like_heart"}),
        json!({"to": to, "reaction": {"messageId": "mid.customer.1", "emoji": "❤"}}),
        json!({"to": to, "reaction": {"messageId": "mid.customer.1"}}),
    ];
    let mut ids = Vec::new();
    for request in requests {
        ids.push(app.send_ok(&instance, request).await);
    }
    app.settle().await;
    for id in &ids {
        assert_eq!(app.message(&instance, id).await["status"], "sent", "{id}");
    }
    let recipient = json!({"id": CUSTOMER});
    let message =
        |m: Value| json!({"recipient": recipient, "message": m, "messaging_type": "RESPONSE"});
    let attachment = |kind: &str, url: &str| {
        message(json!({"attachment": {"type": kind, "payload": {"url": url}}}))
    };
    assert_eq!(
        sends_to_messages(&graph),
        [
            attachment("image", "https://cdn.example.com/a.png"),
            attachment("audio", "https://cdn.example.com/v.m4a"),
            attachment("video", "https://cdn.example.com/v.mp4"),
            attachment("file", "https://cdn.example.com/f.pdf"),
            message(json!({"text": "Pick one", "quick_replies": [
                {"content_type": "text", "title": "Yes", "payload": "YES"},
                {"content_type": "text", "title": "No", "payload": "No"},
            ]})),
            message(json!({"attachment": {"type": "template", "payload": {
                "template_type": "generic",
                "elements": [{
                    "title": "Welcome!", "subtitle": "Hats", "image_url": "https://cdn.example.com/hat.jpg",
                    "default_action": {"type": "web_url", "url": "https://shop.example.com"},
                    "buttons": [
                        {"type": "web_url", "title": "View", "url": "https://shop.example.com/hat"},
                        {"type": "postback", "title": "Start", "payload": "START"},
                    ],
                }],
            }}})),
            message(json!({"attachment": {"type": "like_heart"}})),
            json!({"recipient": recipient, "sender_action": "react",
                   "payload": {"message_id": "mid.customer.1", "reaction": "❤"}}),
            json!({"recipient": recipient, "sender_action": "unreact",
                   "payload": {"message_id": "mid.customer.1"}}),
        ]
    );
}

#[tokio::test]
async fn a_caption_follows_its_attachment_and_a_long_text_is_split_under_1000_bytes() {
    let (graph, app, instance) = chatting().await;
    app.send_ok(
        &instance,
        json!({"to": {"id": CUSTOMER}, "media": {"kind": "image", "url": "https://cdn.example.com/a.png", "caption": "New in!"},
               "quickReplies": [{"title": "Want"}]}),
    )
    .await;
    let long = "Привет, ".repeat(125); // 1000 characters, 1875 bytes
    let id = app.send_ok(&instance, json!({"to": {"id": CUSTOMER}, "text": long})).await;
    app.settle().await;

    let sends = sends_to_messages(&graph);
    assert_eq!(sends.len(), 4, "{sends:#?}");
    assert!(sends[0]["message"]["attachment"].is_object());
    assert!(sends[0]["message"].get("quick_replies").is_none());
    assert_eq!(sends[1]["message"]["text"], "New in!");
    assert_eq!(
        sends[1]["message"]["quick_replies"][0]["title"], "Want",
        "quick replies ride on the last part"
    );
    let parts: Vec<&str> =
        sends[2..].iter().map(|s| s["message"]["text"].as_str().unwrap()).collect();
    assert!(parts.iter().all(|p| p.len() <= 1000));
    assert_eq!(parts.concat(), long);
    assert_eq!(app.message(&instance, &id).await["providerMessageId"], graph.last_mid());
}

#[tokio::test]
async fn outside_the_24_hour_window_a_send_fails_as_window_closed_without_calling_meta() {
    let (graph, app, instance) = chatting().await;
    app.advance(DAY + HOUR).await;
    let id = app.send_ok(&instance, json!({"to": {"id": CUSTOMER}, "text": "Still there?"})).await;
    app.settle().await;
    let message = app.message(&instance, &id).await;
    assert_eq!(message["status"], "failed");
    let failure = message["failure"].as_str().unwrap();
    assert!(failure.contains("window closed") && failure.contains("humanAgentTag"), "{failure}");
    assert!(sends_to_messages(&graph).is_empty(), "Meta was not called");
}

#[tokio::test]
async fn within_the_window_a_send_is_a_response_even_23_hours_later() {
    let (graph, app, instance) = chatting().await;
    app.advance(23 * HOUR).await;
    let id =
        app.send_ok(&instance, json!({"to": {"id": CUSTOMER}, "text": "Sorry for the wait"})).await;
    app.settle().await;
    assert_eq!(app.message(&instance, &id).await["status"], "sent");
    assert_eq!(sends_to_messages(&graph)[0]["messaging_type"], "RESPONSE");
}

#[tokio::test]
async fn the_human_agent_tag_extends_the_window_to_seven_days_when_enabled() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn_meta(&graph).await;
    let instance = app.instagram_with(&graph, json!({"humanAgentTag": true})).await;
    app.customer_writes_on_instagram(CUSTOMER, "Hello?").await;
    app.advance(3 * DAY).await;
    let tagged =
        app.send_ok(&instance, json!({"to": {"id": CUSTOMER}, "text": "An agent here"})).await;
    app.settle().await;
    assert_eq!(app.message(&instance, &tagged).await["status"], "sent");
    let sent = &sends_to_messages(&graph)[0];
    assert_eq!(sent["messaging_type"], "MESSAGE_TAG");
    assert_eq!(sent["tag"], "HUMAN_AGENT");

    app.advance(5 * DAY).await;
    let late = app.send_ok(&instance, json!({"to": {"id": CUSTOMER}, "text": "Too late"})).await;
    app.settle().await;
    let message = app.message(&instance, &late).await;
    assert_eq!(message["status"], "failed");
    assert!(message["failure"].as_str().unwrap().contains("7 days"), "{message}");
    assert_eq!(sends_to_messages(&graph).len(), 1);
}

#[tokio::test]
async fn meta_s_window_error_fails_a_message_to_a_person_the_gateway_never_heard_from() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn_meta(&graph).await;
    let instance = app.instagram(&graph).await;
    graph.fail_next(
        400,
        meta_error(10, Some(2_534_022), "(#10) This message is sent outside of allowed window."),
    );
    let id = app.send_ok(&instance, json!({"to": {"id": "9999999999999999"}, "text": "Hi"})).await;
    app.settle().await;
    let message = app.message(&instance, &id).await;
    assert_eq!(message["status"], "failed");
    assert!(
        message["failure"].as_str().unwrap().contains("outside of allowed window"),
        "{message}"
    );
}

#[tokio::test]
async fn a_private_reply_names_the_comment_goes_once_and_only_within_seven_days() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn_meta(&graph).await;
    let instance = app.instagram(&graph).await;
    let now = chatgate_core::clock::Clock::now(&app.clock).as_millis();
    let comment = |id: &str| {
        json!({"object": "instagram", "entry": [{"id": IG_ACCOUNT, "time": now, "changes": [{
            "field": "comments",
            "value": {"id": id, "from": {"id": CUSTOMER, "username": "ann"}, "text": "Price?",
                      "media": {"id": "1790000", "media_product_type": "FEED"}}
        }]}]})
    };
    app.meta_delivers(&comment("17900000000000001")).await;
    app.meta_delivers(&comment("17900000000000002")).await;
    let id = app
        .send_ok(
            &instance,
            json!({"to": {"commentId": "17900000000000001"}, "text": "Sent you the price!"}),
        )
        .await;
    app.settle().await;
    assert_eq!(app.message(&instance, &id).await["status"], "sent");
    assert_eq!(
        sends_to_messages(&graph),
        [
            json!({"recipient": {"comment_id": "17900000000000001"}, "message": {"text": "Sent you the price!"}})
        ]
    );
    let again = app
        .send(&instance, json!({"to": {"commentId": "17900000000000001"}, "text": "again"}))
        .await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "{}", again.body);

    app.advance(8 * DAY).await;
    let late = app
        .send_ok(&instance, json!({"to": {"commentId": "17900000000000002"}, "text": "late"}))
        .await;
    app.settle().await;
    let message = app.message(&instance, &late).await;
    assert_eq!(message["status"], "failed");
    assert!(
        message["failure"].as_str().unwrap().contains("comment is older than 7 days"),
        "{message}"
    );
    assert_eq!(sends_to_messages(&graph).len(), 1);
}

#[tokio::test]
async fn an_expired_token_makes_the_instance_not_authorized_and_holds_its_queue_until_reconnected()
{
    let (graph, app, instance) = chatting().await;
    graph.revoke(IG_TOKEN);
    let first = app.send_ok(&instance, json!({"to": {"id": CUSTOMER}, "text": "one"})).await;
    let second = app.send_ok(&instance, json!({"to": {"id": CUSTOMER}, "text": "two"})).await;
    app.settle().await;
    app.advance(Duration::from_secs(600)).await;

    let calls = sends_to_messages(&graph).len();
    assert_eq!(calls, 1, "one refused call, then the queue is held");
    assert_eq!(app.message(&instance, &first).await["status"], "queued");
    assert_eq!(app.message(&instance, &second).await["status"], "queued");
    let shown = shown(&app, &instance).await;
    assert_eq!(shown.body["state"], "notAuthorized");
    assert!(shown.body["stateReason"].as_str().unwrap().contains("access token"), "{}", shown.body);
    let journal = app.journal(&instance).await;
    assert!(
        journal
            .iter()
            .any(|e| e["type"] == "stateChanged" && e["data"]["state"] == "notAuthorized"),
        "{journal:#?}"
    );

    graph.account(IG_TOKEN, IG_ACCOUNT, "blue.jackets");
    let (_, body) = connect(&app, instance.id, IG_ACCOUNT, IG_TOKEN).await;
    assert_eq!(body["state"], "authorized");
    app.settle().await;
    assert_eq!(app.message(&instance, &first).await["status"], "sent");
    assert_eq!(app.message(&instance, &second).await["status"], "sent");
    let texts: Vec<_> =
        sends_to_messages(&graph).iter().map(|b| b["message"]["text"].clone()).collect();
    assert_eq!(texts, ["one", "one", "two"], "in order, the refused one again first");
}

#[tokio::test]
async fn throttling_backs_off_and_honours_retry_after() {
    let (graph, app, instance) = chatting().await;
    graph.fail_next(400, meta_error(4, None, "(#4) Application request limit reached"));
    graph.fail_next_with_retry_after(429, meta_error(613, None, "Calls limit reached"), "30");
    let id = app.send_ok(&instance, json!({"to": {"id": CUSTOMER}, "text": "hi"})).await;
    app.settle().await;
    assert_eq!(sends_to_messages(&graph).len(), 1);
    assert_eq!(app.message(&instance, &id).await["status"], "queued");

    app.advance(Duration::from_secs(1)).await; // the first backoff, no Retry-After
    assert_eq!(sends_to_messages(&graph).len(), 2);
    app.advance(Duration::from_secs(29)).await;
    assert_eq!(sends_to_messages(&graph).len(), 2, "Retry-After: 30 is honoured");
    app.advance(Duration::from_secs(1)).await;
    assert_eq!(sends_to_messages(&graph).len(), 3);
    assert_eq!(app.message(&instance, &id).await["status"], "sent");
}

#[tokio::test]
async fn transient_errors_are_retried_and_permanent_ones_fail_with_meta_s_code_and_message() {
    let (graph, app, instance) = chatting().await;
    graph.fail_next(500, meta_error(2, None, "Service temporarily unavailable"));
    let retried = app.send_ok(&instance, json!({"to": {"id": CUSTOMER}, "text": "retried"})).await;
    app.settle().await;
    app.advance(Duration::from_secs(1)).await;
    assert_eq!(app.message(&instance, &retried).await["status"], "sent");

    graph.fail_next(400, meta_error(100, Some(2_534_014), "No matching Instagram user"));
    let failed = app.send_ok(&instance, json!({"to": {"id": CUSTOMER}, "text": "lost"})).await;
    app.settle().await;
    let message = app.message(&instance, &failed).await;
    assert_eq!(message["status"], "failed");
    let failure = message["failure"].as_str().unwrap();
    assert!(
        failure.contains("No matching Instagram user") && failure.contains("100/2534014"),
        "{failure}"
    );
    let journal = app.journal(&instance).await;
    let status = journal
        .iter()
        .find(|e| e["type"] == "messageStatus" && e["data"]["status"] == "failed")
        .expect("a failed status event");
    assert!(status.to_string().contains("2534014"), "{status}");
}

#[tokio::test]
async fn an_account_s_audio_and_video_sends_are_paced_to_its_budget() {
    let graph = FakeGraph::start().await;
    let app =
        TestApp::spawn_meta_with(&graph, |config| config.meta.media_sends_per_second = 2).await;
    let instance = app.instagram(&graph).await;
    app.customer_writes_on_instagram(CUSTOMER, "send videos").await;
    for n in 0..3 {
        app.send_ok(
            &instance,
            json!({"to": {"id": CUSTOMER}, "media": {"kind": "video", "url": format!("https://cdn.example.com/{n}.mp4")}}),
        )
        .await;
    }
    app.settle().await;
    assert_eq!(sends_to_messages(&graph).len(), 2, "the budget of 2 per second is spent");
    app.advance(Duration::from_millis(500)).await;
    assert_eq!(sends_to_messages(&graph).len(), 3);
}

#[tokio::test]
async fn typing_and_mark_read_are_sender_actions() {
    let (graph, app, instance) = chatting().await;
    for (path, action) in [("typing", "typing_on"), ("read", "mark_seen")] {
        let answer = app
            .request(
                Method::POST,
                &format!("/api/v1/instances/{}/chats/{CUSTOMER}/{path}", instance.id),
                Some(&instance.token),
                None,
            )
            .await;
        assert!(answer.status.is_success(), "{path}: {} {}", answer.status, answer.body);
        let last = sends_to_messages(&graph).pop().unwrap();
        assert_eq!(last, json!({"recipient": {"id": CUSTOMER}, "sender_action": action}));
    }
}

/// Every row of every table of the test's PostgreSQL schema, as text.
pub(crate) async fn postgres_rows(url: &str) -> String {
    use sqlx::{Connection, Row};
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let tables: Vec<String> = sqlx::query(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema()",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect();
    let mut all = String::new();
    for table in tables {
        let sql = format!("SELECT t::text FROM {table} t");
        for row in sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&mut conn).await.unwrap() {
            all.push_str(&row.get::<String, _>(0));
            all.push('\n');
        }
    }
    all
}

pub(crate) fn files_contain(dir: &std::path::Path, needle: &[u8]) -> Vec<String> {
    let mut hits = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            if bytes.windows(needle.len()).any(|w| w == needle) {
                hits.push(path.display().to_string());
            }
        }
    }
    hits
}

#[tokio::test]
async fn the_access_token_appears_in_no_log_line_no_stored_row_and_no_answer() {
    let logs = LogBuffer::default();
    let sink = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let (graph, app, instance) = chatting().await;
    graph.profile(CUSTOMER, "ann", "Ann");
    app.customer_writes_on_instagram(CUSTOMER, "more").await;
    app.send_ok(&instance, json!({"to": {"id": CUSTOMER}, "text": "ok"})).await;
    app.settle().await;
    // A refused token, a connection refused by Meta, and a failing send.
    let (_, refused) = connect(&app, instance.id, IG_ACCOUNT, "IGAA-refused-token-value").await;
    graph.revoke(IG_TOKEN);
    let (_, body) = connect(&app, instance.id, IG_ACCOUNT, IG_TOKEN).await;
    app.send_ok(&instance, json!({"to": {"id": CUSTOMER}, "text": "held"})).await;
    app.settle().await;
    let journal = app.journal(&instance).await;
    // The database files (SQLite; in PostgreSQL the rows are checked below).
    let stored_in_clear = files_contain(&app.config.data_dir, IG_TOKEN.as_bytes());
    let scan_works = chatgate_e2e::on_postgres()
        || !files_contain(&app.config.data_dir, b"Is the blue jacket").is_empty();

    let logged = logs.text();
    assert!(logged.contains("instance connected"), "the logs were captured");
    assert!(!logged.contains(IG_TOKEN), "the token is in the logs");
    assert!(!logged.contains("IGAA-refused-token-value"));
    assert!(!refused.to_string().contains("IGAA-refused-token-value"));
    assert!(!body.to_string().contains(IG_TOKEN));
    assert!(!serde_json::to_string(&journal).unwrap().contains(IG_TOKEN));
    assert!(scan_works, "the scan finds what is stored");
    assert_eq!(stored_in_clear, Vec::<String>::new(), "stored in the clear");
    if chatgate_e2e::on_postgres() {
        let rows = postgres_rows(app.config.database_url.expose()).await;
        assert!(rows.contains("Is the blue jacket"), "the scan finds what is stored");
        assert!(!rows.contains(IG_TOKEN), "stored in the clear in PostgreSQL");
    }
}

#[tokio::test]
async fn an_account_connected_to_one_instance_cannot_be_connected_to_another() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn_meta(&graph).await;
    let first = app.instagram(&graph).await;
    let second = app.create_instance(json!({"kind": "instagram"})).await;
    let (status, body) = connect(&app, second.id, IG_ACCOUNT, IG_TOKEN).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["detail"].as_str().unwrap().contains(&first.id.to_string()), "{body}");
    let (status, body) = connect(&app, first.id, IG_ACCOUNT, IG_TOKEN).await;
    assert_eq!(status, StatusCode::OK, "reconnecting the same instance is fine: {body}");
}

#[tokio::test]
async fn reading_the_newest_message_marks_the_earlier_ones_read_too() {
    let (graph, app, instance) = chatting().await;
    let first = app.send_ok(&instance, json!({"to": {"id": CUSTOMER}, "text": "one"})).await;
    let second = app.send_ok(&instance, json!({"to": {"id": CUSTOMER}, "text": "two"})).await;
    let other =
        app.send_ok(&instance, json!({"to": {"id": "5555555555555555"}, "text": "else"})).await;
    app.settle().await;
    let second_mid = app.message(&instance, &second).await["providerMessageId"].clone();
    assert_ne!(second_mid, graph.last_mid(), "the other chat's message went last");
    app.meta_delivers(
        &json!({"object": "instagram", "entry": [{"id": IG_ACCOUNT, "time": 1, "messaging": [{
            "sender": {"id": CUSTOMER}, "recipient": {"id": IG_ACCOUNT}, "timestamp": 1,
            "read": {"mid": second_mid},
        }]}]}),
    )
    .await;
    assert_eq!(app.message(&instance, &first).await["status"], "read");
    assert_eq!(app.message(&instance, &second).await["status"], "read");
    assert_eq!(app.message(&instance, &other).await["status"], "sent", "another chat is not read");
}

#[tokio::test]
async fn an_echo_that_outruns_meta_s_answer_is_still_taken_for_the_gateway_s_own() {
    let (graph, app, instance) = chatting().await;
    let id = app.send_ok(&instance, json!({"to": {"id": CUSTOMER}, "text": "racing"})).await;
    let claim = app.app().outbound.claim(1).await.unwrap().pop().expect("the message is claimed");
    assert_eq!(app.message(&instance, &id).await["status"], "sending");
    let echo = |mid: &str, text: &str| {
        json!({"object": "instagram", "entry": [{"id": IG_ACCOUNT, "time": 1, "messaging": [{
            "sender": {"id": IG_ACCOUNT}, "recipient": {"id": CUSTOMER}, "timestamp": 1,
            "message": {"mid": mid, "text": text, "is_echo": true},
        }]}]})
    };
    app.meta_delivers(&echo("aWdfZAG1faWQ.racing", "racing")).await;
    app.app().outbound.process(claim).await.unwrap();
    app.settle().await;
    app.meta_delivers(&echo("aWdfZAG1faWQ.typed", "typed in the app")).await;

    let echoes: Vec<Value> = app
        .journal(&instance)
        .await
        .into_iter()
        .filter(|e| e["type"] == "outgoingMessage")
        .collect();
    assert_eq!(echoes.len(), 1, "{echoes:#?}");
    assert!(echoes[0].to_string().contains("typed in the app"));
    assert_eq!(sends_to_messages(&graph).len(), 1);
}

#[tokio::test]
async fn a_message_delivered_late_keeps_meta_s_time_and_opens_no_window_it_no_longer_has() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn_meta(&graph).await;
    let instance = app.instagram(&graph).await;
    app.advance(2 * DAY).await;
    let written = chatgate_e2e::START.plus(HOUR); // 47 hours ago, in seconds as Meta may send
    app.meta_delivers(
        &json!({"object": "instagram", "entry": [{"id": IG_ACCOUNT, "time": written.as_secs(),
        "messaging": [{"sender": {"id": CUSTOMER}, "recipient": {"id": IG_ACCOUNT},
                       "timestamp": written.as_secs(),
                       "message": {"mid": "mid.late.1", "text": "sent during your outage"}}]}]}),
    )
    .await;
    let journal = app.journal(&instance).await;
    let event = journal.iter().find(|e| e["type"] == "incomingMessage").unwrap();
    assert_eq!(
        chatgate_e2e::parse_rfc3339_millis(event["timestamp"].as_str().unwrap()),
        written.as_millis(),
        "{event}"
    );
    let id = app.send_ok(&instance, json!({"to": {"id": CUSTOMER}, "text": "Sorry!"})).await;
    app.settle().await;
    assert_eq!(app.message(&instance, &id).await["status"], "failed");
    assert!(sends_to_messages(&graph).is_empty());
}

#[tokio::test]
async fn a_message_in_several_parts_resumes_after_the_parts_already_delivered() {
    let (graph, app, instance) = chatting().await;
    graph.fail_send_number(2, 500, meta_error(2, None, "Service temporarily unavailable"));
    let id = app
        .send_ok(
            &instance,
            json!({"to": {"id": CUSTOMER}, "media": {"kind": "image", "url": "https://cdn.example.com/a.png", "caption": "New in!"}}),
        )
        .await;
    app.settle().await;
    let message = app.message(&instance, &id).await;
    assert_eq!(message["status"], "queued", "{message}");
    let image_mid = graph.last_mid();

    app.advance(Duration::from_secs(1)).await;
    let sends = sends_to_messages(&graph);
    let kinds: Vec<&str> = sends
        .iter()
        .map(|b| if b["message"]["attachment"].is_object() { "image" } else { "caption" })
        .collect();
    assert_eq!(kinds, ["image", "caption", "caption"], "the image is not sent twice");
    let message = app.message(&instance, &id).await;
    assert_eq!(message["status"], "sent");
    assert_eq!(message["providerMessageId"], graph.last_mid());

    // The first part's mid still finds the message: its echo is the
    // gateway's own and its read marks the message read.
    let echo = json!({"object": "instagram", "entry": [{"id": IG_ACCOUNT, "time": 1, "messaging": [{
        "sender": {"id": IG_ACCOUNT}, "recipient": {"id": CUSTOMER}, "timestamp": 1,
        "message": {"mid": image_mid, "is_echo": true,
                    "attachments": [{"type": "image", "payload": {"url": "https://cdn.example.com/a.png"}}]},
    }]}]});
    app.meta_delivers(&echo).await;
    assert!(app.journal(&instance).await.iter().all(|e| e["type"] != "outgoingMessage"));
    app.meta_delivers(&json!({"object": "instagram", "entry": [{"id": IG_ACCOUNT, "time": 1, "messaging": [{
        "sender": {"id": CUSTOMER}, "recipient": {"id": IG_ACCOUNT}, "timestamp": 1, "read": {"mid": image_mid},
    }]}]}))
    .await;
    assert_eq!(app.message(&instance, &id).await["status"], "read");
}

#[tokio::test]
async fn a_message_failing_after_some_parts_says_how_many_were_delivered() {
    let (graph, app, instance) = chatting().await;
    graph.fail_send_number(2, 400, meta_error(551, None, "This person isn't available right now."));
    let long = "слово ".repeat(150); // 900 characters, 1650 bytes: two parts
    let id = app.send_ok(&instance, json!({"to": {"id": CUSTOMER}, "text": long})).await;
    app.settle().await;
    let message = app.message(&instance, &id).await;
    assert_eq!(message["status"], "failed");
    let failure = message["failure"].as_str().unwrap();
    assert!(failure.contains("isn't available") && failure.contains("1 part(s)"), "{failure}");
}

#[tokio::test]
async fn an_echo_of_a_message_typed_in_the_app_during_a_send_is_kept() {
    let (graph, app, instance) = chatting().await;
    app.send_ok(&instance, json!({"to": {"id": CUSTOMER}, "text": "from the API"})).await;
    let claim = app.app().outbound.claim(1).await.unwrap().pop().unwrap();
    app.meta_delivers(
        &json!({"object": "instagram", "entry": [{"id": IG_ACCOUNT, "time": 1, "messaging": [{
            "sender": {"id": IG_ACCOUNT}, "recipient": {"id": CUSTOMER}, "timestamp": 1,
            "message": {"mid": "mid.typed.by.agent", "text": "typed by an agent", "is_echo": true},
        }]}]}),
    )
    .await;
    app.app().outbound.process(claim).await.unwrap();
    let echoes: Vec<Value> = app
        .journal(&instance)
        .await
        .into_iter()
        .filter(|e| e["type"] == "outgoingMessage")
        .collect();
    assert_eq!(echoes.len(), 1, "{echoes:#?}");
    assert_eq!(sends_to_messages(&graph).len(), 1);
}

#[tokio::test]
async fn a_send_running_out_of_time_stops_between_parts_and_the_retry_sends_the_rest() {
    let graph = FakeGraph::start().await;
    // A Graph timeout as long as the whole attempt: after the first call of
    // any attempt less than one is left, so each attempt sends one part.
    let app = TestApp::spawn_meta_with(&graph, |config| {
        config.meta.timeout_ms = config.outbound.send_timeout_ms;
    })
    .await;
    let instance = app.instagram(&graph).await;
    app.customer_writes_on_instagram(CUSTOMER, "tell me everything").await;
    let long = "слово ".repeat(150);
    let id = app.send_ok(&instance, json!({"to": {"id": CUSTOMER}, "text": long})).await;
    app.settle().await;
    assert_eq!(sends_to_messages(&graph).len(), 1, "{:#}", app.message(&instance, &id).await);
    assert_eq!(app.message(&instance, &id).await["status"], "queued");
    app.advance(Duration::from_secs(1)).await;
    let parts: Vec<String> = sends_to_messages(&graph)
        .iter()
        .map(|b| b["message"]["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(parts.concat(), long, "each part once, in order");
    assert_eq!(app.message(&instance, &id).await["status"], "sent");
}

#[tokio::test]
async fn a_send_whose_answer_is_lost_is_sent_again_and_flagged_as_a_possible_duplicate() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn_meta_with(&graph, |config| config.meta.timeout_ms = 300).await;
    let instance = app.instagram(&graph).await;
    app.customer_writes_on_instagram(CUSTOMER, "hi").await;
    let gate = Gate::new();
    graph.hold_sends(&gate);
    let id = app.send_ok(&instance, json!({"to": {"id": CUSTOMER}, "text": "maybe twice"})).await;
    // Meta gets the call but its answer never comes back in time.
    app.settle().await;
    gate.arrived(1).await;
    let m = app.message(&instance, &id).await;
    assert_eq!(m["status"], "queued", "{m}");
    let retry = m["transitions"].as_array().unwrap().last().unwrap().clone();
    assert!(
        retry["detail"].as_str().unwrap().starts_with("the platform may have received"),
        "{retry}"
    );
    // The retry reaches Meta a second time.
    gate.open();
    app.advance(Duration::from_secs(120)).await;
    gate.arrived(2).await;
    assert_eq!(app.message(&instance, &id).await["status"], "sent");
    let sent = app
        .journal(&instance)
        .await
        .into_iter()
        .find(|e| e["type"] == "messageStatus" && e["data"]["status"] == "sent")
        .unwrap();
    assert_eq!(sent["data"]["possibleDuplicate"], true, "{sent}");
}

#[tokio::test]
async fn a_send_the_platform_turned_down_for_a_passing_reason_is_sent_again_unflagged() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn_meta(&graph).await;
    let instance = app.instagram(&graph).await;
    app.customer_writes_on_instagram(CUSTOMER, "hi").await;
    // The platform answers 500 with Meta's transient error: it said no.
    graph.fail_next(500, meta_error(2, None, "Service temporarily unavailable"));
    let id = app.send_ok(&instance, json!({"to": {"id": CUSTOMER}, "text": "once"})).await;
    app.settle().await;
    app.advance(Duration::from_secs(120)).await;
    assert_eq!(app.message(&instance, &id).await["status"], "sent");
    let sent = app
        .journal(&instance)
        .await
        .into_iter()
        .find(|e| e["type"] == "messageStatus" && e["data"]["status"] == "sent")
        .unwrap();
    assert_eq!(sent["data"]["possibleDuplicate"], false, "{sent}");
}

fn messaging(at: i64, event: Value) -> Value {
    let mut messaging =
        json!({"sender": {"id": CUSTOMER}, "recipient": {"id": IG_ACCOUNT}, "timestamp": at});
    for (key, value) in event.as_object().unwrap() {
        messaging[key] = value.clone();
    }
    json!({"object": "instagram", "entry": [{"id": IG_ACCOUNT, "time": at, "messaging": [messaging]}]})
}

#[tokio::test]
async fn reacting_again_and_clicking_a_link_again_are_new_events_but_redeliveries_are_not() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn_meta(&graph).await;
    let instance = app.instagram(&graph).await;
    let t0 = chatgate_e2e::START.as_millis();
    let react = |at: i64, action: &str| {
        messaging(
            at,
            json!({"reaction": {"mid": "mid.liked", "action": action, "reaction": "love", "emoji": "❤"}}),
        )
    };
    let referral = |at: i64| {
        messaging(
            at,
            json!({"referral": {"ref": "spring", "source": "ADS", "type": "OPEN_THREAD"}}),
        )
    };
    for body in [
        react(t0, "react"),
        react(t0 + 1000, "unreact"),
        react(t0 + 2000, "react"),
        referral(t0),
        referral(t0 + 60_000),
    ] {
        app.meta_delivers(&body).await;
        app.meta_delivers(&body).await; // Meta's redelivery
    }
    let journal = app.journal(&instance).await;
    let count = |kind: &str| journal.iter().filter(|e| e["type"] == kind).count();
    assert_eq!(count("incomingReaction"), 3, "{journal:#?}");
    assert_eq!(count("referral"), 2);
}

#[tokio::test]
async fn a_read_of_a_message_typed_in_the_app_reads_the_gateway_s_messages_sent_before_it() {
    let (_graph, app, instance) = chatting().await;
    let first = app.send_ok(&instance, json!({"to": {"id": CUSTOMER}, "text": "one"})).await;
    app.settle().await;
    app.advance(Duration::from_secs(60)).await;
    let read_at = chatgate_core::clock::Clock::now(&app.clock).as_millis();
    app.advance(Duration::from_secs(60)).await;
    let later = app.send_ok(&instance, json!({"to": {"id": CUSTOMER}, "text": "two"})).await;
    app.settle().await;
    app.meta_delivers(&messaging(read_at, json!({"read": {"mid": "mid.typed.in.the.app"}}))).await;
    assert_eq!(app.message(&instance, &first).await["status"], "read");
    assert_eq!(app.message(&instance, &later).await["status"], "sent", "sent after the read");

    // Messenger's watermark form reads up to its time.
    let now = chatgate_core::clock::Clock::now(&app.clock).as_millis();
    app.meta_delivers(&messaging(now, json!({"read": {"watermark": now}}))).await;
    assert_eq!(app.message(&instance, &later).await["status"], "read");
}

#[tokio::test]
async fn throttling_does_not_use_up_the_retries_of_transient_failures() {
    let (graph, app, instance) = chatting().await;
    for _ in 0..6 {
        graph.fail_next(400, meta_error(4, None, "(#4) Application request limit reached"));
    }
    graph.fail_next(500, meta_error(2, None, "Service temporarily unavailable"));
    let id = app.send_ok(&instance, json!({"to": {"id": CUSTOMER}, "text": "patience"})).await;
    app.settle().await;
    app.advance(Duration::from_secs(600)).await;
    let message = app.message(&instance, &id).await;
    assert_eq!(message["status"], "sent", "{message:#}");
    assert_eq!(message["attempts"], 8);
}

#[tokio::test]
async fn private_replies_are_paced_to_the_hourly_budget_of_the_account() {
    let graph = FakeGraph::start().await;
    let app =
        TestApp::spawn_meta_with(&graph, |config| config.meta.comment_replies_per_hour = 2).await;
    let instance = app.instagram(&graph).await;
    let now = chatgate_core::clock::Clock::now(&app.clock).as_millis();
    for n in 0..3 {
        app.meta_delivers(&json!({"object": "instagram", "entry": [{"id": IG_ACCOUNT, "time": now, "changes": [{
            "field": "comments",
            "value": {"id": format!("1790000000000000{n}"), "from": {"id": CUSTOMER, "username": "ann"}, "text": "Price?"}
        }]}]}))
        .await;
        app.send_ok(
            &instance,
            json!({"to": {"commentId": format!("1790000000000000{n}")}, "text": "Sent!"}),
        )
        .await;
    }
    app.settle().await;
    assert_eq!(sends_to_messages(&graph).len(), 2, "two replies per hour");
    app.advance(Duration::from_secs(29 * 60)).await;
    assert_eq!(sends_to_messages(&graph).len(), 2);
    app.advance(Duration::from_secs(31 * 60)).await;
    assert_eq!(sends_to_messages(&graph).len(), 3);
}
