//! The whatsapp connector against a fake Cloud API: connecting a number,
//! every content kind on the Cloud API's wire, the 24-hour window and its
//! templates, what each class of error does, statuses and messages coming
//! in through `/webhooks/meta`, customers' files, and the GREEN-API
//! methods on top of it.

use std::time::Duration;

use chatgate_e2e::{
    APP_SECRET, FakeCloud, TestApp, TestInstance, TestReceiver, WA_CUSTOMER, WA_DISPLAY,
    WA_PHONE_ID, WA_TOKEN, WA_WABA, cloud_error,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const HOUR: Duration = Duration::from_secs(3600);

async fn connect(app: &TestApp, id: u64, body: Value) -> (StatusCode, Value) {
    let answer = app
        .request(
            Method::PUT,
            &format!("/api/v1/instances/{id}/connection"),
            Some(&app.partner_token),
            Some(body),
        )
        .await;
    (answer.status, answer.body)
}

/// A whatsapp instance the customer has just written to.
async fn chatting() -> (FakeCloud, TestApp, TestInstance) {
    let cloud = FakeCloud::start().await;
    let app = TestApp::spawn_whatsapp(&cloud).await;
    let instance = app.whatsapp(&cloud).await;
    app.customer_writes_on_whatsapp(WA_CUSTOMER, "Hi! Is the course still open?").await;
    app.settle().await;
    (cloud, app, instance)
}

fn sends(cloud: &FakeCloud) -> Vec<Value> {
    cloud
        .calls()
        .into_iter()
        .filter(|c| c.method == "POST" && c.path == format!("{WA_PHONE_ID}/messages"))
        .map(|c| c.body)
        .collect()
}

fn to_customer(kind: &str, object: Value) -> Value {
    json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": WA_CUSTOMER,
        "type": kind,
        kind: object,
    })
}

#[tokio::test]
async fn connecting_checks_the_number_and_its_business_account_with_the_cloud_api() {
    let cloud = FakeCloud::start().await;
    cloud.number(WA_TOKEN, WA_PHONE_ID, WA_WABA, WA_DISPLAY);
    let app = TestApp::spawn_whatsapp(&cloud).await;
    let instance = app.create_instance(json!({"kind": "whatsapp"})).await;
    assert_eq!(instance.body["state"], "notAuthorized");

    let (status, body) = connect(
        &app,
        instance.id,
        json!({"phoneNumberId": WA_PHONE_ID, "wabaId": WA_WABA, "accessToken": WA_TOKEN}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["state"], "authorized");
    assert_eq!(
        body["account"],
        json!({"id": WA_PHONE_ID, "username": WA_DISPLAY, "businessId": WA_WABA})
    );
    let calls = cloud.calls();
    let number = calls.iter().find(|c| c.path == WA_PHONE_ID).expect("GET /{phone-number-id}");
    assert_eq!(number.token.as_deref(), Some(WA_TOKEN));
    let fields = number.fields.as_deref().unwrap();
    assert!(fields.contains("display_phone_number") && fields.contains("verified_name"));
    let listed = calls.iter().find(|c| c.path == format!("{WA_WABA}/phone_numbers"));
    assert_eq!(listed.expect("the WABA's numbers").token.as_deref(), Some(WA_TOKEN));
    assert!(!body.to_string().contains(WA_TOKEN), "the token is never shown again");
}

#[tokio::test]
async fn a_refused_token_or_a_number_of_another_business_leaves_the_instance_not_authorized() {
    let cloud = FakeCloud::start().await;
    cloud.number(WA_TOKEN, WA_PHONE_ID, WA_WABA, WA_DISPLAY);
    let app = TestApp::spawn_whatsapp(&cloud).await;
    let instance = app.create_instance(json!({"kind": "whatsapp"})).await;

    let (status, body) = connect(
        &app,
        instance.id,
        json!({"phoneNumberId": WA_PHONE_ID, "wabaId": WA_WABA, "accessToken": "EAAG-revoked"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["state"], "notAuthorized");
    let reason = body["stateReason"].as_str().unwrap();
    assert!(reason.contains("Session has expired") && reason.contains("190"), "{reason}");
    assert!(!reason.contains("EAAG-revoked"));

    let (_, body) = connect(
        &app,
        instance.id,
        json!({"phoneNumberId": WA_PHONE_ID, "wabaId": "109999999999999", "accessToken": WA_TOKEN}),
    )
    .await;
    assert_eq!(body["state"], "notAuthorized", "{body}");
    assert_eq!(body["account"], Value::Null, "the number named is not claimed");
}

#[tokio::test]
async fn the_shape_of_a_connection_follows_the_kind_of_the_instance() {
    let cloud = FakeCloud::start().await;
    let app = TestApp::spawn_whatsapp(&cloud).await;
    let whatsapp = app.create_instance(json!({"kind": "whatsapp"})).await;
    let instagram = app.create_instance(json!({"kind": "instagram"})).await;
    for (id, body, field) in [
        (whatsapp.id, json!({"accountId": WA_PHONE_ID, "accessToken": WA_TOKEN}), "accountId"),
        (whatsapp.id, json!({"phoneNumberId": WA_PHONE_ID, "accessToken": WA_TOKEN}), "wabaId"),
        (whatsapp.id, json!({"wabaId": WA_WABA, "accessToken": WA_TOKEN}), "phoneNumberId"),
        (
            whatsapp.id,
            json!({"phoneNumberId": "1 2", "wabaId": WA_WABA, "accessToken": WA_TOKEN}),
            "phoneNumberId",
        ),
        (
            instagram.id,
            json!({"phoneNumberId": WA_PHONE_ID, "wabaId": WA_WABA, "accessToken": WA_TOKEN}),
            "phoneNumberId",
        ),
        (
            instagram.id,
            json!({"accountId": "17841400000000000", "wabaId": WA_WABA, "accessToken": "x"}),
            "wabaId",
        ),
    ] {
        let (status, answer) = connect(&app, id, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_eq!(answer["field"], field, "{body}: {answer}");
    }
    assert!(cloud.calls().is_empty(), "nothing reached Meta");
    let created = app
        .request(
            Method::POST,
            "/api/v1/instances",
            Some(&app.partner_token),
            Some(json!({"kind": "whatsapp", "connection": {"phoneNumberId": WA_PHONE_ID, "accessToken": "x"}})),
        )
        .await;
    assert_eq!(created.status, StatusCode::BAD_REQUEST);
    assert_eq!(created.body["field"], "connection.wabaId", "{}", created.body);
}

#[tokio::test]
async fn every_content_kind_goes_to_the_cloud_api_with_the_bearer_token_and_records_the_wamid() {
    let (cloud, app, instance) = chatting().await;
    let to = json!({"id": WA_CUSTOMER});
    let cases = [
        (
            json!({"to": to, "text": "Yes, it is"}),
            to_customer("text", json!({"body": "Yes, it is", "preview_url": false})),
        ),
        (
            json!({"to": to, "text": "Pick", "quickReplies": [{"title": "Yes", "payload": "Y"}, {"title": "No"}]}),
            to_customer(
                "interactive",
                json!({"type": "button", "body": {"text": "Pick"}, "action": {"buttons": [
                    {"type": "reply", "reply": {"id": "Y", "title": "Yes"}},
                    {"type": "reply", "reply": {"id": "No", "title": "No"}},
                ]}}),
            ),
        ),
        (
            json!({"to": to, "media": {"kind": "image", "url": "https://cdn.example.com/a.jpg", "caption": "look"}}),
            to_customer(
                "image",
                json!({"link": "https://cdn.example.com/a.jpg", "caption": "look"}),
            ),
        ),
        (
            json!({"to": to, "media": {"kind": "file", "url": "https://cdn.example.com/x", "fileName": "price.pdf"}}),
            to_customer(
                "document",
                json!({"link": "https://cdn.example.com/x", "filename": "price.pdf"}),
            ),
        ),
        (
            json!({"to": to, "location": {"latitude": 55.75, "longitude": 37.62, "name": "Office"}}),
            to_customer(
                "location",
                json!({"latitude": 55.75, "longitude": 37.62, "name": "Office"}),
            ),
        ),
        (
            json!({"to": to, "contact": {"phone": "79005554433", "firstName": "Ivan"}}),
            to_customer(
                "contacts",
                json!([{"name": {"formatted_name": "Ivan", "first_name": "Ivan"},
                        "phones": [{"phone": "+79005554433", "type": "CELL", "wa_id": "79005554433"}]}]),
            ),
        ),
        (
            json!({"to": to, "list": {"text": "Courses", "button": "Open", "sections": [
                {"title": "Spring", "rows": [{"id": "c1", "title": "Rust", "description": "8 weeks"}]}]}}),
            to_customer(
                "interactive",
                json!({"type": "list", "body": {"text": "Courses"}, "action": {"button": "Open",
                       "sections": [{"title": "Spring", "rows": [{"id": "c1", "title": "Rust", "description": "8 weeks"}]}]}}),
            ),
        ),
        (
            json!({"to": to, "messageTemplate": {"name": "order_ready", "language": "en_US",
                   "components": [{"type": "body", "parameters": [{"type": "text", "text": "Ann"}]}]}}),
            to_customer(
                "template",
                json!({"name": "order_ready", "language": {"code": "en_US"},
                       "components": [{"type": "body", "parameters": [{"type": "text", "text": "Ann"}]}]}),
            ),
        ),
    ];
    for (request, expected) in cases {
        let id = app.send_ok(&instance, request.clone()).await;
        app.settle().await;
        let message = app.message(&instance, &id).await;
        assert_eq!(message["status"], "sent", "{request}: {message:#}");
        assert_eq!(message["providerMessageId"], cloud.last_wamid(), "{request}");
        assert_eq!(sends(&cloud).pop().unwrap(), expected, "{request}");
    }
    assert!(cloud.calls().iter().all(|c| c.token.as_deref() == Some(WA_TOKEN)));
}

#[tokio::test]
async fn a_reply_quotes_the_message_it_answers_and_read_marks_the_newest_message() {
    let (cloud, app, instance) = chatting().await;
    let wamid = app.customer_writes_on_whatsapp(WA_CUSTOMER, "Which one?").await;
    app.send_ok(
        &instance,
        json!({"to": {"id": WA_CUSTOMER}, "text": "This one", "replyTo": wamid}),
    )
    .await;
    app.settle().await;
    assert_eq!(sends(&cloud).pop().unwrap()["context"], json!({"message_id": wamid}));

    let answer = app
        .request(
            Method::POST,
            &format!("/api/v1/instances/{}/chats/{WA_CUSTOMER}/read", instance.id),
            Some(&instance.token),
            None,
        )
        .await;
    assert!(answer.status.is_success(), "{} {}", answer.status, answer.body);
    assert_eq!(
        sends(&cloud).pop().unwrap(),
        json!({"messaging_product": "whatsapp", "status": "read", "message_id": wamid}),
        "the newest message of the customer stands for the chat"
    );
}

#[tokio::test]
async fn a_template_is_the_only_message_sent_outside_the_window() {
    let (cloud, app, instance) = chatting().await;
    app.advance(23 * HOUR).await;
    let inside =
        app.send_ok(&instance, json!({"to": {"id": WA_CUSTOMER}, "text": "23 h later"})).await;
    app.settle().await;
    assert_eq!(app.message(&instance, &inside).await["status"], "sent");

    app.advance(2 * HOUR).await;
    let before = sends(&cloud).len();
    let text =
        app.send_ok(&instance, json!({"to": {"id": WA_CUSTOMER}, "text": "25 h later"})).await;
    let list = app
        .send_ok(
            &instance,
            json!({"to": {"id": WA_CUSTOMER}, "list": {"text": "t", "button": "b",
                   "sections": [{"rows": [{"id": "1", "title": "one"}]}]}}),
        )
        .await;
    let template = app
        .send_ok(
            &instance,
            json!({"to": {"id": WA_CUSTOMER}, "messageTemplate": {"name": "we_miss_you", "language": "ru"}}),
        )
        .await;
    app.settle().await;
    for id in [&text, &list] {
        let message = app.message(&instance, id).await;
        assert_eq!(message["status"], "failed", "{message:#}");
        let failure = message["failure"].as_str().unwrap();
        assert!(failure.contains("only a message template"), "{failure}");
    }
    assert_eq!(app.message(&instance, &template).await["status"], "sent");
    let after = sends(&cloud);
    assert_eq!(after.len(), before + 1, "only the template reached Meta");
    assert_eq!(after.last().unwrap()["type"], "template");
}

#[tokio::test]
async fn content_beyond_the_cloud_api_s_limits_is_refused_at_accept_time_naming_the_field() {
    let (cloud, app, instance) = chatting().await;
    let to = json!({"id": WA_CUSTOMER});
    let row = |n: usize| json!({"id": n.to_string(), "title": format!("row {n}")});
    let cases = [
        (json!({"to": to, "text": "x".repeat(4097)}), "text"),
        (
            json!({"to": to, "text": "pick", "quickReplies": [{"title": "1"}, {"title": "2"}, {"title": "3"}, {"title": "4"}]}),
            "quickReplies",
        ),
        (
            json!({"to": to, "text": "pick", "quickReplies": [{"title": "x".repeat(21)}]}),
            "quickReplies[0].title",
        ),
        (json!({"to": to, "text": "x".repeat(1025), "quickReplies": [{"title": "ok"}]}), "text"),
        (
            json!({"to": to, "media": {"kind": "image", "url": "https://cdn.example.com/a.jpg"}, "quickReplies": [{"title": "ok"}]}),
            "quickReplies",
        ),
        (
            json!({"to": to, "media": {"kind": "video", "url": "https://cdn.example.com/a.mp4", "caption": "c".repeat(1025)}}),
            "media.caption",
        ),
        (
            json!({"to": to, "list": {"text": "t", "button": "b", "sections": [
                {"title": "a", "rows": (0..6).map(row).collect::<Vec<_>>()},
                {"title": "b", "rows": (6..11).map(row).collect::<Vec<_>>()}]}}),
            "list.sections",
        ),
        (
            json!({"to": to, "list": {"text": "t", "button": "b", "sections": [{"rows": [{"id": "1", "title": "x".repeat(25)}]}]}}),
            "list.sections[0].rows[0].title",
        ),
        (
            json!({"to": to, "messageTemplate": {"name": "Order Ready", "language": "en_US"}}),
            "messageTemplate.name",
        ),
        (json!({"to": to, "sticker": "like_heart"}), "sticker"),
        (json!({"to": {"commentId": "178"}, "text": "x"}), "to.commentId"),
    ];
    for (request, field) in cases {
        let answer = app.send(&instance, request.clone()).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{request}: {}", answer.body);
        assert_eq!(answer.body["field"], field, "{request}: {}", answer.body);
    }
    let fits = app.send(&instance, json!({"to": to, "text": "ж".repeat(4096)})).await;
    assert_eq!(fits.status, StatusCode::ACCEPTED, "{}", fits.body);
    assert_eq!(app.queue_count(&instance).await, 1, "only the fitting message was stored");
    drop(cloud);
}

#[tokio::test]
async fn lists_and_templates_are_refused_on_instagram() {
    let app = TestApp::spawn().await;
    let sandbox = app.sandbox().await;
    let answer = app
        .send(
            &sandbox,
            json!({"to": {"id": "1"}, "messageTemplate": {"name": "hello", "language": "en"}}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.body["field"], "messageTemplate");
}

#[tokio::test]
async fn each_class_of_cloud_api_error_does_what_it_means() {
    let (cloud, app, instance) = chatting().await;
    let send = |text: &'static str| {
        let app = &app;
        let instance = &instance;
        async move { app.send_ok(instance, json!({"to": {"id": WA_CUSTOMER}, "text": text})).await }
    };

    // Throttling (130429) backs off, then goes.
    cloud.fail_next(400, cloud_error(130_429, "Rate limit hit", "throughput reached"));
    let throttled = send("throttled").await;
    app.settle().await;
    assert_eq!(app.message(&instance, &throttled).await["status"], "queued");
    app.advance(Duration::from_secs(1)).await;
    assert_eq!(app.message(&instance, &throttled).await["status"], "sent");

    // A media fetch failure (131053) is retried.
    cloud.fail_next(400, cloud_error(131_053, "Media upload error", "could not fetch the link"));
    let retried = send("retried").await;
    app.settle().await;
    app.advance(Duration::from_secs(1)).await;
    let message = app.message(&instance, &retried).await;
    assert_eq!(message["status"], "sent", "{message:#}");

    // The closed window (131047) fails the message as such.
    cloud.fail_next(400, cloud_error(131_047, "Re-engagement message", "more than 24 hours"));
    let closed = send("closed").await;
    app.settle().await;
    let message = app.message(&instance, &closed).await;
    assert_eq!(message["status"], "failed");
    assert!(message["failure"].as_str().unwrap().contains("131047"), "{message:#}");

    // Any other code fails it with Meta's code and words.
    cloud.fail_next(
        400,
        cloud_error(131_026, "Message undeliverable", "the number is not on WhatsApp"),
    );
    let lost = send("lost").await;
    app.settle().await;
    let message = app.message(&instance, &lost).await;
    assert_eq!(message["status"], "failed");
    let failure = message["failure"].as_str().unwrap();
    assert!(
        failure.contains("131026")
            && failure.contains("Message undeliverable")
            && failure.contains("not on WhatsApp"),
        "{failure}"
    );

    // A revoked token (190) makes the instance not authorized and holds the queue.
    cloud.revoke(WA_TOKEN);
    let held = send("held").await;
    app.settle().await;
    assert_eq!(app.message(&instance, &held).await["status"], "queued");
    let shown = app
        .request(
            Method::GET,
            &format!("/api/v1/instances/{}", instance.id),
            Some(&app.partner_token),
            None,
        )
        .await;
    assert_eq!(shown.body["state"], "notAuthorized", "{}", shown.body);
    cloud.number(WA_TOKEN, WA_PHONE_ID, WA_WABA, WA_DISPLAY);
    let (_, body) = connect(
        &app,
        instance.id,
        json!({"phoneNumberId": WA_PHONE_ID, "wabaId": WA_WABA, "accessToken": WA_TOKEN}),
    )
    .await;
    assert_eq!(body["state"], "authorized");
    app.settle().await;
    assert_eq!(app.message(&instance, &held).await["status"], "sent");
}

#[tokio::test]
async fn a_number_s_sends_are_paced_to_its_throughput() {
    let cloud = FakeCloud::start().await;
    let app =
        TestApp::spawn_whatsapp_with(&cloud, |config| config.meta.whatsapp_sends_per_second = 2)
            .await;
    let instance = app.whatsapp(&cloud).await;
    app.customer_writes_on_whatsapp(WA_CUSTOMER, "go").await;
    for n in 0..3 {
        app.send_ok(&instance, json!({"to": {"id": WA_CUSTOMER}, "text": format!("n{n}")})).await;
    }
    app.settle().await;
    assert_eq!(sends(&cloud).len(), 2, "the budget of 2 per second is spent");
    app.advance(Duration::from_millis(500)).await;
    assert_eq!(sends(&cloud).len(), 3);
}

#[tokio::test]
async fn statuses_move_the_outbound_message_found_by_its_wamid() {
    let (cloud, app, instance) = chatting().await;
    let read = app.send_ok(&instance, json!({"to": {"id": WA_CUSTOMER}, "text": "one"})).await;
    app.settle().await;
    let wamid = cloud.last_wamid();
    app.whatsapp_status(&wamid, "sent", Value::Null).await;
    app.whatsapp_status(&wamid, "delivered", Value::Null).await;
    assert_eq!(app.message(&instance, &read).await["status"], "delivered");
    app.whatsapp_status(&wamid, "read", Value::Null).await;
    app.whatsapp_status(&wamid, "delivered", Value::Null).await; // late, ignored
    let message = app.message(&instance, &read).await;
    assert_eq!(
        chatgate_e2e::statuses(&message),
        ["queued", "sending", "sent", "delivered", "read"]
    );

    let failed = app.send_ok(&instance, json!({"to": {"id": WA_CUSTOMER}, "text": "two"})).await;
    app.settle().await;
    app.whatsapp_status(
        &cloud.last_wamid(),
        "failed",
        json!([{"code": 131_050, "title": "Unable to deliver",
                "error_data": {"details": "the user stopped marketing messages"}}]),
    )
    .await;
    let message = app.message(&instance, &failed).await;
    assert_eq!(message["status"], "failed");
    let failure = message["failure"].as_str().unwrap();
    assert!(failure.contains("131050") && failure.contains("stopped marketing"), "{failure}");
    let journal = app.journal(&instance).await;
    let statuses: Vec<&str> = journal
        .iter()
        .filter(|e| e["type"] == "messageStatus")
        .filter_map(|e| e["data"]["status"].as_str())
        .collect();
    assert!(statuses.ends_with(&["sent", "delivered", "read", "sent", "failed"]), "{statuses:?}");
}

/// The message fixtures, each delivered signed to `/webhooks/meta`, and the
/// event each must become.
#[tokio::test]
async fn every_signed_fixture_is_stored_as_its_event_once() {
    let cloud = FakeCloud::start().await;
    let app = TestApp::spawn_whatsapp(&cloud).await;
    let instance = app.whatsapp(&cloud).await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/connectors/src/meta/testdata/whatsapp");
    let table = [
        ("text", "incomingMessage", "text"),
        ("image", "incomingMessage", "image"),
        ("audio", "incomingMessage", "audio"),
        ("video", "incomingMessage", "video"),
        ("document", "incomingMessage", "file"),
        ("sticker", "incomingMessage", "image"),
        ("location", "incomingMessage", "location"),
        ("contacts", "incomingMessage", "contact"),
        ("button", "incomingMessage", "text"),
        ("button_reply", "incomingMessage", "text"),
        ("list_reply", "incomingMessage", "text"),
        ("reply_context", "incomingMessage", "text"),
        ("unsupported", "incomingMessage", "unsupported"),
        ("reaction", "incomingReaction", ""),
    ];
    for (name, kind, content) in table {
        let body = std::fs::read(dir.join(format!("{name}.json"))).unwrap();
        let before = app.journal(&instance).await.len();
        for _ in 0..2 {
            // Meta redelivers: the second copy is not stored again.
            let answer = app.post_signed("/webhooks/meta", &body).await;
            assert_eq!(answer.status, StatusCode::OK, "{name}: {}", answer.body);
        }
        let journal = app.journal(&instance).await;
        assert_eq!(journal.len(), before + 1, "{name}: stored once");
        let event = journal.last().unwrap();
        assert_eq!(event["type"], kind, "{name}: {event:#}");
        if !content.is_empty() {
            assert_eq!(event["data"]["kind"], content, "{name}: {event:#}");
        }
        assert_eq!(event["data"]["from"]["id"], "16315551181", "{name}");
    }
    let unsigned = app
        .raw(Method::POST, "/webhooks/meta")
        .header("content-type", "application/json")
        .body(std::fs::read(dir.join("text.json")).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_delivery_is_routed_by_phone_number_id_not_by_business_account() {
    let cloud = FakeCloud::start().await;
    let app = TestApp::spawn_whatsapp(&cloud).await;
    let first = app.whatsapp(&cloud).await;
    cloud.number("EAAG-second", "106540352242923", WA_WABA, "15550783882");
    let second = app
        .create_instance(json!({"kind": "whatsapp", "connection": {
            "phoneNumberId": "106540352242923", "wabaId": WA_WABA, "accessToken": "EAAG-second"}}))
        .await;
    assert_eq!(second.body["state"], "authorized", "{}", second.body);
    let body = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../crates/connectors/src/meta/testdata/whatsapp/two_numbers.json"),
    )
    .unwrap();
    assert_eq!(app.post_signed("/webhooks/meta", &body).await.status, StatusCode::OK);
    let texts = |journal: Vec<Value>| -> Vec<String> {
        journal.iter().filter_map(|e| e["data"]["text"].as_str().map(str::to_owned)).collect()
    };
    assert_eq!(texts(app.journal(&first).await), ["to the first number"]);
    assert_eq!(texts(app.journal(&second).await), ["to the second number"]);
}

#[tokio::test]
async fn a_customer_s_file_is_fetched_from_meta_only_when_its_link_is_followed() {
    let cloud = FakeCloud::start().await;
    let app = TestApp::spawn_whatsapp(&cloud).await;
    let instance = app.whatsapp(&cloud).await;
    cloud.media("1003383421387256", b"\xff\xd8jpeg bytes", "image/jpeg");
    let body = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../crates/connectors/src/meta/testdata/whatsapp/image.json"),
    )
    .unwrap();
    let calls_before = cloud.calls().len();
    assert_eq!(app.post_signed("/webhooks/meta", &body).await.status, StatusCode::OK);
    assert_eq!(cloud.calls().len(), calls_before, "answering Meta waits on no call to Meta");

    let journal = app.journal(&instance).await;
    let media = &journal.last().unwrap()["data"]["media"];
    assert_eq!(media["mimeType"], "image/jpeg");
    let url = media["url"].as_str().unwrap();
    let path = &url[url.find("/media/whatsapp/").expect(url)..];
    assert!(path.starts_with(&format!("/media/whatsapp/{}/1003383421387256/", instance.id)));
    assert!(!url.contains(WA_TOKEN));

    let fetched = app.raw(Method::GET, path).send().await.unwrap();
    assert_eq!(fetched.status(), StatusCode::OK);
    assert_eq!(fetched.headers()["content-type"], "image/jpeg");
    assert_eq!(&fetched.bytes().await.unwrap()[..], b"\xff\xd8jpeg bytes");
    let calls = cloud.calls();
    let asked: Vec<(&str, Option<&str>)> =
        calls[calls_before..].iter().map(|c| (c.path.as_str(), c.token.as_deref())).collect();
    assert_eq!(
        asked,
        [("1003383421387256", Some(WA_TOKEN)), ("download/1003383421387256", Some(WA_TOKEN))]
    );

    let forged = path.replace("1003383421387256", "1003383421387257");
    let answer = app.raw(Method::GET, &forged).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::NOT_FOUND, "a link cannot be made up");
    cloud.fail_next(400, cloud_error(100, "Object does not exist", "media expired"));
    let gone = app.raw(Method::GET, path).send().await.unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND, "Meta no longer has it");
}

// GREEN-API on top of the Cloud API.

async fn green(
    app: &TestApp,
    instance: &TestInstance,
    method: &str,
    body: Value,
) -> chatgate_e2e::Answer {
    let path = format!("/waInstance{}/{method}/{}", instance.id, instance.token);
    TestApp::answer(app.raw(Method::POST, &path).json(&body).send().await.unwrap()).await
}

#[tokio::test]
async fn green_api_methods_reach_the_cloud_api_with_chat_ids_of_phone_numbers() {
    let (cloud, app, instance) = chatting().await;
    let chat = format!("{WA_CUSTOMER}@c.us");
    let cases = [
        (
            "sendMessage",
            json!({"chatId": chat, "message": "Hello"}),
            to_customer("text", json!({"body": "Hello", "preview_url": false})),
        ),
        (
            "sendFileByUrl",
            json!({"chatId": chat, "urlFile": "https://cdn.example.com/f/1", "fileName": "price.pdf", "caption": "prices"}),
            to_customer(
                "document",
                json!({"link": "https://cdn.example.com/f/1", "caption": "prices", "filename": "price.pdf"}),
            ),
        ),
        (
            "sendLocation",
            json!({"chatId": chat, "latitude": 55.75, "longitude": 37.62, "nameLocation": "Office", "address": "Tverskaya 1"}),
            to_customer(
                "location",
                json!({"latitude": 55.75, "longitude": 37.62, "name": "Office", "address": "Tverskaya 1"}),
            ),
        ),
        (
            "sendContact",
            json!({"chatId": chat, "contact": {"phoneContact": 79005554433u64, "firstName": "Ivan", "lastName": "Petrov"}}),
            to_customer(
                "contacts",
                json!([{"name": {"formatted_name": "Ivan Petrov", "first_name": "Ivan", "last_name": "Petrov"},
                        "phones": [{"phone": "+79005554433", "type": "CELL", "wa_id": "79005554433"}]}]),
            ),
        ),
        (
            "sendInteractiveButtons",
            json!({"chatId": chat, "body": "Come tomorrow?", "buttons": [
                {"type": "reply", "buttonId": "1", "buttonText": "Yes"},
                {"type": "reply", "buttonId": "2", "buttonText": "No"}]}),
            to_customer(
                "interactive",
                json!({"type": "button", "body": {"text": "Come tomorrow?"}, "action": {"buttons": [
                    {"type": "reply", "reply": {"id": "1", "title": "Yes"}},
                    {"type": "reply", "reply": {"id": "2", "title": "No"}}]}}),
            ),
        ),
    ];
    for (method, body, expected) in cases {
        let answer = green(&app, &instance, method, body).await;
        assert_eq!(answer.status, StatusCode::OK, "{method}: {}", answer.body);
        assert!(answer.body["idMessage"].is_string(), "{method}: {}", answer.body);
        app.settle().await;
        assert_eq!(sends(&cloud).pop().unwrap(), expected, "{method}");
    }

    // sendListMessage becomes a list; a quote of the instance's own message
    // (by GREEN-API's idMessage) names its wamid.
    let list = green(
        &app,
        &instance,
        "sendListMessage",
        json!({"chatId": chat, "message": "Pick a course", "buttonText": "Courses", "title": "Spring",
               "sections": [{"title": "Languages", "rows": [
                   {"rowId": "c1", "title": "Rust", "description": "8 weeks"}, {"rowId": "c2", "title": "Go"}]}]}),
    )
    .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    app.settle().await;
    let list_wamid = cloud.last_wamid();
    assert_eq!(
        sends(&cloud).pop().unwrap(),
        to_customer(
            "interactive",
            json!({"type": "list", "body": {"text": "Spring\nPick a course"}, "action": {"button": "Courses",
                   "sections": [{"title": "Languages", "rows": [
                       {"id": "c1", "title": "Rust", "description": "8 weeks"}, {"id": "c2", "title": "Go"}]}]}}),
        )
    );
    let quoted = green(
        &app,
        &instance,
        "sendMessage",
        json!({"chatId": chat, "message": "see above", "quotedMessageId": list.body["idMessage"]}),
    )
    .await;
    assert_eq!(quoted.status, StatusCode::OK, "{}", quoted.body);
    app.settle().await;
    assert_eq!(sends(&cloud).pop().unwrap()["context"], json!({"message_id": list_wamid}));
    let too_many = green(
        &app,
        &instance,
        "sendListMessage",
        json!({"chatId": chat, "message": "m", "buttonText": "b", "sections": [{"rows": [{"rowId": "1", "title": "x".repeat(25)}]}]}),
    )
    .await;
    assert_eq!(too_many.status, StatusCode::BAD_REQUEST, "{}", too_many.body);
    let message = too_many.body["message"].as_str().unwrap();
    assert!(message.contains("'sections[0].rows[0].title'"), "{message}");

    let settings = green(&app, &instance, "getWaSettings", json!({})).await;
    assert_eq!(settings.body["phone"], WA_DISPLAY, "{}", settings.body);
    assert_eq!(settings.body["stateInstance"], "authorized");

    let wamid = app.customer_writes_on_whatsapp(WA_CUSTOMER, "thanks").await;
    let answer = green(&app, &instance, "readChat", json!({"chatId": chat})).await;
    assert_eq!((answer.status, &answer.body), (StatusCode::OK, &json!({"setRead": true})));
    assert_eq!(sends(&cloud).pop().unwrap()["message_id"], wamid);

    // Beyond the Cloud API's limits, or beyond what it can carry: GREEN-API's
    // own error format.
    let long =
        green(&app, &instance, "sendMessage", json!({"chatId": chat, "message": "x".repeat(4097)}))
            .await;
    assert_eq!(long.status, StatusCode::BAD_REQUEST, "{}", long.body);
    assert!(long.body["message"].as_str().unwrap().contains("'message'"), "{}", long.body);
    let buttons = green(
        &app,
        &instance,
        "sendInteractiveButtons",
        json!({"chatId": chat, "body": "b", "buttons": [{"type": "url", "buttonText": "site", "url": "https://x.test"}]}),
    )
    .await;
    assert_eq!(buttons.status, StatusCode::BAD_REQUEST, "{}", buttons.body);
    assert!(
        buttons.body["message"].as_str().unwrap().contains("buttons[0].type"),
        "{}",
        buttons.body
    );
    let typing = green(&app, &instance, "sendTyping", json!({"chatId": chat})).await;
    assert!(typing.status.is_client_error(), "{} {}", typing.status, typing.body);
    assert!(typing.body["message"].as_str().unwrap().contains("whatsapp"), "{}", typing.body);
    assert_eq!(typing.body["statusCode"], typing.status.as_u16(), "{}", typing.body);
}

#[tokio::test]
async fn green_api_notifications_carry_whatsapp_chat_ids_and_the_number_as_wid() {
    let (cloud, app, instance) = chatting().await;
    let receiver = TestReceiver::start().await;
    let set = green(
        &app,
        &instance,
        "setSettings",
        json!({"webhookUrl": receiver.url, "incomingWebhook": "yes", "outgoingWebhook": "yes"}),
    )
    .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    cloud.media("1003383421387259", b"%PDF-1.7", "application/pdf");
    let body = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../crates/connectors/src/meta/testdata/whatsapp/document.json"),
    )
    .unwrap();
    assert_eq!(app.post_signed("/webhooks/meta", &body).await.status, StatusCode::OK);
    let tapped = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../crates/connectors/src/meta/testdata/whatsapp/button_reply.json"),
    )
    .unwrap();
    assert_eq!(app.post_signed("/webhooks/meta", &tapped).await.status, StatusCode::OK);
    let wamid = app.customer_writes_on_whatsapp(WA_CUSTOMER, "and a question").await;
    app.send_ok(&instance, json!({"to": {"id": WA_CUSTOMER}, "text": "answer"})).await;
    app.settle().await;
    app.whatsapp_status(&cloud.last_wamid(), "read", Value::Null).await;
    app.push_all().await;

    let bodies = receiver.bodies();
    let incoming: Vec<&Value> =
        bodies.iter().filter(|b| b["typeWebhook"] == "incomingMessageReceived").collect();
    // The first message (written before the webhook was set) waited in the
    // queue and goes first.
    assert_eq!(incoming.len(), 4, "{bodies:#?}");
    for hook in &incoming {
        assert_eq!(hook["instanceData"]["wid"], format!("{WA_DISPLAY}@c.us"), "{hook:#}");
        assert_eq!(hook["instanceData"]["typeInstance"], "whatsapp");
        assert_eq!(hook["senderData"]["chatId"], format!("{WA_CUSTOMER}@c.us"), "{hook:#}");
        assert_eq!(hook["senderData"]["senderName"], "Kerry Fisher");
    }
    let file = &incoming[1]["messageData"];
    assert_eq!(file["typeMessage"], "documentMessage", "{file:#}");
    assert_eq!(file["fileMessageData"]["fileName"], "contract.pdf");
    let url = file["fileMessageData"]["downloadUrl"].as_str().unwrap();
    let path = &url[url.find("/media/whatsapp/").unwrap()..];
    let fetched = app.raw(Method::GET, path).send().await.unwrap();
    assert_eq!(&fetched.bytes().await.unwrap()[..], b"%PDF-1.7");
    let reply = &incoming[2]["messageData"];
    assert_eq!(reply["typeMessage"], "buttonsResponseMessage", "{reply:#}");
    assert_eq!(reply["buttonsResponseMessage"]["selectedButtonId"], "YES");
    assert_eq!(reply["buttonsResponseMessage"]["selectedButtonText"], "Yes");
    assert_eq!(incoming[3]["idMessage"], wamid);
    let status = bodies
        .iter()
        .find(|b| b["typeWebhook"] == "outgoingMessageStatus" && b["status"] == "read")
        .unwrap_or_else(|| panic!("{bodies:#?}"));
    assert_eq!(status["chatId"], format!("{WA_CUSTOMER}@c.us"));
    let everything = serde_json::to_string(&bodies).unwrap();
    assert!(!everything.contains(WA_TOKEN) && !everything.contains(APP_SECRET));
}

#[tokio::test]
async fn the_access_token_appears_in_no_log_line_no_stored_row_no_answer_and_no_link() {
    use crate::instagram::files_contain;
    let logs = chatgate_e2e::LogBuffer::default();
    let sink = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let (cloud, app, instance) = chatting().await;
    cloud.media("1003383421387256", b"jpeg", "image/jpeg");
    let image = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../crates/connectors/src/meta/testdata/whatsapp/image.json"),
    )
    .unwrap();
    app.post_signed("/webhooks/meta", &image).await;
    app.send_ok(&instance, json!({"to": {"id": WA_CUSTOMER}, "text": "ok"})).await;
    app.settle().await;
    let journal = app.journal(&instance).await;
    let url = journal
        .iter()
        .find_map(|e| e["data"]["media"]["url"].as_str())
        .expect("the image's link")
        .to_owned();
    let path = &url[url.find("/media/whatsapp/").unwrap()..];
    assert_eq!(app.raw(Method::GET, path).send().await.unwrap().status(), StatusCode::OK);
    // A refused new token, a revoked one, and a send that fails on it.
    let (_, refused) = connect(
        &app,
        instance.id,
        json!({"phoneNumberId": WA_PHONE_ID, "wabaId": WA_WABA, "accessToken": "EAAG-refused-token-value"}),
    )
    .await;
    cloud.revoke(WA_TOKEN);
    app.send_ok(&instance, json!({"to": {"id": WA_CUSTOMER}, "text": "held"})).await;
    app.settle().await;
    let journal = app.journal(&instance).await;

    let logged = logs.text();
    assert!(logged.contains("instance connected"), "the logs were captured");
    assert!(!logged.contains(WA_TOKEN), "the token is in the logs");
    assert!(!logged.contains("EAAG-refused-token-value"));
    assert!(!refused.to_string().contains("EAAG-refused-token-value"));
    assert!(!serde_json::to_string(&journal).unwrap().contains(WA_TOKEN));
    assert!(
        journal
            .iter()
            .any(|e| e["type"] == "stateChanged" && e["data"]["state"] == "notAuthorized"),
        "{journal:#?}"
    );
    if !chatgate_e2e::on_postgres() {
        assert!(
            !files_contain(&app.config.data_dir, b"Is the course").is_empty(),
            "the scan works"
        );
        assert_eq!(files_contain(&app.config.data_dir, WA_TOKEN.as_bytes()), Vec::<String>::new());
    }
}

#[tokio::test]
async fn the_openapi_document_describes_the_whatsapp_connection_and_content() {
    let app = TestApp::spawn().await;
    let doc = app.request(Method::GET, "/api/openapi.json", None, None).await.body;
    let schemas = &doc["components"]["schemas"];
    let connection = &schemas["ConnectionIn"]["properties"];
    for field in ["accountId", "phoneNumberId", "wabaId", "accessToken"] {
        assert!(connection.get(field).is_some(), "ConnectionIn.{field}: {connection:#}");
    }
    let message = &schemas["MessageIn"]["properties"];
    for field in ["list", "messageTemplate", "location", "contact"] {
        assert!(message.get(field).is_some(), "MessageIn.{field}: {message:#}");
    }
    for schema in ["ListIn", "ListSectionIn", "ListRowIn", "MessageTemplateIn"] {
        assert!(schemas.get(schema).is_some(), "{schema} is documented");
    }
    assert!(schemas["MediaIn"]["properties"].get("fileName").is_some());
    let put = &doc["paths"]["/api/v1/instances/{id}/connection"]["put"]["description"];
    assert!(put.as_str().unwrap_or_default().contains("phoneNumberId"), "{put}");
}
