//! The GREEN-API dialect: partner API (seed 003), instance API, statuses
//! (seed 004), notifications, limits.

use std::time::Duration;

use chatgate_e2e::{Answer, TestApp, TestReceiver, assert_matches_fixture, fixture};
use reqwest::Method;
use serde_json::{Value, json};

/// An instance created through the partner API.
struct Green {
    id: u64,
    token: String,
}

async fn partner(app: &TestApp, method: &str, body: Option<Value>) -> Answer {
    let mut request = app.raw(Method::POST, &format!("/partner/{method}/{}", app.partner_token));
    if let Some(body) = body {
        request = request.json(&body);
    }
    TestApp::answer(request.send().await.unwrap()).await
}

async fn create(app: &TestApp, body: Value) -> Green {
    let answer = partner(app, "createInstance", Some(body)).await;
    assert_eq!(answer.status, 200);
    Green {
        id: answer.body["idInstance"].as_u64().unwrap_or_else(|| panic!("{}", answer.body)),
        token: answer.body["apiTokenInstance"].as_str().unwrap().to_owned(),
    }
}

async fn call(
    app: &TestApp,
    green: &Green,
    http: Method,
    method: &str,
    body: Option<Value>,
) -> Answer {
    // A `?query` after the method goes after the token.
    let (method, query) =
        method.split_once('?').map_or((method, String::new()), |(m, q)| (m, format!("?{q}")));
    let path = format!("/waInstance{}/{method}/{}{query}", green.id, green.token);
    let mut request = app.raw(http, &path);
    if let Some(body) = body {
        request = request.json(&body);
    }
    TestApp::answer(request.send().await.unwrap()).await
}

async fn get(app: &TestApp, green: &Green, method: &str) -> Answer {
    call(app, green, Method::GET, method, None).await
}

async fn post(app: &TestApp, green: &Green, method: &str, body: Value) -> Answer {
    call(app, green, Method::POST, method, Some(body)).await
}

/// The native view of a GREEN-API instance, to play its customer.
fn native(green: &Green) -> chatgate_e2e::TestInstance {
    chatgate_e2e::TestInstance { id: green.id, token: green.token.clone(), body: Value::Null }
}

fn rejected(answer: &Answer, status: u16, mentions: &str) {
    assert_eq!(answer.status, status, "{}", answer.body);
    let message = answer.body["message"].as_str().unwrap_or_else(|| panic!("{}", answer.body));
    assert!(message.contains(mentions), "{message:?} should mention {mentions:?}");
    assert_eq!(answer.body["statusCode"], status);
    assert!(!answer.body.to_string().contains("apiToken"), "no token in errors");
}

#[tokio::test]
async fn the_partner_creates_uses_lists_and_deletes_an_instance() {
    let app = TestApp::spawn().await;
    let answer =
        partner(&app, "createInstance", Some(fixture("greenapi/createInstance.request.json")))
            .await;
    assert_eq!(answer.status, 200);
    assert_matches_fixture(&fixture("greenapi/createInstance.json"), &answer.body, &[], &[]);
    let green = Green {
        id: answer.body["idInstance"].as_u64().unwrap(),
        token: answer.body["apiTokenInstance"].as_str().unwrap().to_owned(),
    };
    assert_eq!(green.id.to_string().len(), 10);
    assert_eq!(answer.body["typeInstance"], "sandbox", "the embedded default connector");

    // The seed's settings took effect, as yes/no strings.
    let settings = get(&app, &green, "getSettings").await.body;
    assert_eq!(settings["incomingWebhook"], "yes");
    assert_eq!(settings["editedMessageWebhook"], "no");
    assert_eq!(settings["delaySendMessagesMilliseconds"], 3000);
    assert_eq!(settings["webhookUrl"], "");

    let sent =
        post(&app, &green, "sendMessage", json!({"chatId": "79001234567@c.us", "message": "hi"}))
            .await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    assert!(sent.body["idMessage"].is_string());

    let listed = partner(&app, "getInstances", None).await.body;
    let mine =
        listed.as_array().unwrap().iter().find(|i| i["idInstance"] == green.id).unwrap().clone();
    assert_eq!(mine["apiTokenInstance"], green.token.as_str(), "the partner sees the token again");
    assert_eq!(mine["name"], "first instance");
    assert_eq!(mine["deleted"], false);
    assert_eq!(mine["timeDeleted"], "0001-01-01T00:00:00");
    for (field, kind) in [
        ("timeCreated", "string"),
        ("isFree", "bool"),
        ("expirationDate", "string"),
        ("tariff", "string"),
    ] {
        assert!(
            if kind == "bool" { mine[field].is_boolean() } else { mine[field].is_string() },
            "{field}"
        );
    }

    let deleted =
        partner(&app, "deleteInstanceAccount", Some(json!({"idInstance": green.id}))).await;
    assert_eq!(deleted.body, json!({"deleteInstanceAccount": true}));
    rejected(&get(&app, &green, "getSettings").await, 403, "Forbidden");
    let again = partner(&app, "deleteInstanceAccount", Some(json!({"idInstance": green.id}))).await;
    assert_eq!((again.status.as_u16(), again.body["code"].clone()), (200, json!(404)));
    let listed = partner(&app, "getInstances", None).await.body;
    let gone =
        listed.as_array().unwrap().iter().find(|i| i["idInstance"] == green.id).unwrap().clone();
    assert_eq!(gone["deleted"], true);
    assert_ne!(gone["timeDeleted"], "0001-01-01T00:00:00");
}

#[tokio::test]
async fn the_seeds_short_body_creates_an_instance_with_every_field() {
    let app = TestApp::spawn().await;
    let green = create(&app, fixture("greenapi/createInstance.request.short.json")).await;
    let settings = get(&app, &green, "getSettings").await.body;
    assert_eq!(settings["webhookUrl"], "https://mysite.com/webhook/green-api/");
    assert_eq!(settings["webhookUrlToken"], "f93537eb3e8fed66847b5bd");
    assert_eq!(settings["delaySendMessagesMilliseconds"], 1000);
    assert_eq!(settings["stateWebhook"], "no");
    assert_eq!(settings["outgoingAPIMessageWebhook"], "yes");
}

#[tokio::test]
async fn a_created_instance_has_every_switch_off_unless_given() {
    let app = TestApp::spawn().await;
    let green = create(&app, json!({"name": "minimal"})).await;
    let settings = get(&app, &green, "getSettings").await.body;
    for switch in [
        "incomingWebhook",
        "outgoingWebhook",
        "outgoingAPIMessageWebhook",
        "stateWebhook",
        "outgoingMessageWebhook",
    ] {
        assert_eq!(settings[switch], "no", "{switch}");
    }
    assert_eq!(settings["delaySendMessagesMilliseconds"], 3000);
}

#[tokio::test]
async fn partner_errors_come_as_http_200_with_a_code() {
    let app = TestApp::spawn().await;
    let bad_token = TestApp::answer(
        app.raw(Method::POST, "/partner/createInstance/wrong")
            .json(&json!({"name": "x"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(bad_token.status, 200);
    assert_matches_fixture(
        &fixture("greenapi/error.json"),
        &bad_token.body,
        &["code", "description"],
        &[],
    );
    for (body, mentions) in [
        (json!({}), "at least one"),
        (json!({"delaySendMessagesMilliseconds": 499}), "delaySendMessagesMilliseconds"),
        (json!({"delaySendMessagesMilliseconds": 600_001}), "delaySendMessagesMilliseconds"),
        (json!({"incomingWebhook": "maybe"}), "incomingWebhook"),
        (json!({"incomingWebhook": 1}), "incomingWebhook"),
        (json!({"typeInstance": "telegram"}), "typeInstance"),
        (json!({"name": 5}), "name"),
        (json!({"nmae": "typo"}), "nmae"),
        (json!({"webhookUrl": "http://10.0.0.1/hook"}), "webhookUrl"),
    ] {
        let answer = partner(&app, "createInstance", Some(body.clone())).await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.body["code"], 400, "{body} → {}", answer.body);
        assert!(
            answer.body["description"].as_str().unwrap().contains(mentions),
            "{body} → {}",
            answer.body
        );
    }
    assert_eq!(partner(&app, "getInstances", None).await.body.as_array().unwrap().len(), 0);
    assert_eq!(partner(&app, "explode", None).await.body["code"], 404);
    let bad_id = partner(&app, "deleteInstanceAccount", Some(json!({"idInstance": 12}))).await;
    assert_eq!(bad_id.body["code"], 400);
}

#[tokio::test]
async fn instance_errors_follow_green_api() {
    let app = TestApp::spawn().await;
    let green = create(&app, json!({"name": "e"})).await;
    let wrong_token = Green { id: green.id, token: "0".repeat(50) };
    rejected(&get(&app, &wrong_token, "getSettings").await, 401, "Unauthorized");
    let other = Green {
        id: if green.id == 1_000_000_000 { 1_000_000_001 } else { 1_000_000_000 },
        token: green.token.clone(),
    };
    rejected(&get(&app, &other, "getSettings").await, 403, "Forbidden");
    let malformed = TestApp::answer(
        app.raw(Method::GET, &format!("/waInstanceabc/getSettings/{}", green.token))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(malformed.status, 403);
    rejected(&get(&app, &green, "explode").await, 404, "explode");

    rejected(
        &post(&app, &green, "sendMessage", json!({"message": "hi"})).await,
        400,
        "'chatId' is required",
    );
    rejected(
        &post(&app, &green, "sendMessage", json!({"chatId": "7900@c.us"})).await,
        400,
        "'message' is required",
    );
    rejected(
        &post(&app, &green, "sendMessage", json!({"chatId": "7900@c.us", "message": 5})).await,
        400,
        "'message' must be a string",
    );
    rejected(
        &post(&app, &green, "sendMessage", json!({"chatId": "1203@g.us", "message": "hi"})).await,
        400,
        "group",
    );
    rejected(
        &post(
            &app,
            &green,
            "sendMessage",
            json!({"chatId": "7900@c.us", "message": "a".repeat(1001)}),
        )
        .await,
        400,
        "'message'",
    );
    rejected(
        &post(
            &app,
            &green,
            "sendLocation",
            json!({"chatId": "7900@c.us", "latitude": 55.7, "longitude": 37.6}),
        )
        .await,
        400,
        "sandbox connector cannot send locations",
    );
    rejected(
        &post(&app, &green, "sendContact", json!({"chatId": "7900@c.us", "contact": {"phoneContact": 79001234567_u64, "firstName": "Ann"}})).await,
        400,
        "cannot send contact",
    );
    let url_button = json!({"chatId": "7900@c.us", "body": "Visit", "buttons": [{"type": "url", "buttonId": "1", "buttonText": "Site", "url": "https://x.example"}]});
    rejected(
        &post(&app, &green, "sendInteractiveButtons", url_button).await,
        400,
        "sandbox connector",
    );
    rejected(&post(&app, &green, "setSettings", json!({})).await, 400, "at least one");
    rejected(
        &post(&app, &green, "setSettings", json!({"delaySendMessagesMilliseconds": 100})).await,
        400,
        "delaySendMessagesMilliseconds",
    );
    let malformed_json = TestApp::answer(
        app.raw(Method::POST, &format!("/waInstance{}/sendMessage/{}", green.id, green.token))
            .body("{\"chatId\":")
            .send()
            .await
            .unwrap(),
    )
    .await;
    rejected(&malformed_json, 400, "JSON");
    assert_eq!(get(&app, &green, "getMessagesCount").await.body["count"], 0, "nothing was queued");
}

#[tokio::test]
async fn sending_methods_queue_messages_that_the_journals_and_queue_show() {
    let app = TestApp::spawn().await;
    let green = create(&app, json!({"name": "s", "delaySendMessagesMilliseconds": 60000})).await;
    let chat = "79001234567@c.us";
    let first = post(&app, &green, "SendMessage", json!({"chatId": chat, "message": "one"})).await;
    assert_eq!(first.status, 200, "method names are case-insensitive: {}", first.body);
    let file = post(&app, &green, "sendFileByUrl", json!({"chatId": "79001234567", "urlFile": "https://cdn.example.com/p.jpg", "fileName": "p.jpg", "caption": "look"})).await;
    assert_eq!(file.status, 200, "{}", file.body);
    let buttons = post(&app, &green, "sendInteractiveButtons", json!({"chatId": chat, "header": "Hi", "body": "Book?", "footer": "Shop", "buttons": [
        {"type": "reply", "buttonId": "yes", "buttonText": "Yes"}, {"type": "reply", "buttonId": "no", "buttonText": "No"}]})).await;
    assert_eq!(buttons.status, 200, "{}", buttons.body);
    app.settle().await; // the first leaves; the rest wait for the gap

    let queue = get(&app, &green, "showMessagesQueue").await.body;
    let items = queue.as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["messageID"], file.body["idMessage"]);
    assert_eq!(items[0]["type"], "sendFileByUrl");
    assert_eq!(items[0]["body"]["urlFile"], "https://cdn.example.com/p.jpg");
    assert_eq!(get(&app, &green, "getMessagesCount").await.body, json!({"count": 2}));

    let history = post(&app, &green, "getChatHistory", json!({"chatId": chat})).await.body;
    let history = history.as_array().unwrap();
    assert_eq!(history.len(), 3);
    assert_eq!(history[2]["idMessage"], first.body["idMessage"], "newest first");
    assert_eq!(history[2]["statusMessage"], "sent");
    assert_eq!(history[2]["textMessage"], "one");
    assert_eq!(history[1]["typeMessage"], "imageMessage");
    assert_eq!(history[0]["textMessage"], "Hi\nBook?\nShop");
    let one = post(
        &app,
        &green,
        "getMessage",
        json!({"chatId": chat, "idMessage": first.body["idMessage"]}),
    )
    .await
    .body;
    assert_eq!(one["sendByApi"], true);
    assert_eq!(one["type"], "outgoing");
    let missing =
        post(&app, &green, "getMessage", json!({"chatId": chat, "idMessage": "nope"})).await;
    assert_eq!(missing.status, 400);

    let outgoing =
        call(&app, &green, Method::GET, "lastOutgoingMessages?minutes=5", None).await.body;
    assert_eq!(outgoing.as_array().unwrap().len(), 3);

    assert_eq!(get(&app, &green, "clearMessagesQueue").await.body, json!({"isCleared": true}));
    assert_eq!(get(&app, &green, "getMessagesCount").await.body, json!({"count": 0}));
}

#[tokio::test]
async fn files_can_be_uploaded_and_sent_by_upload() {
    let app = TestApp::spawn().await;
    let green = create(&app, json!({"name": "f", "delaySendMessagesMilliseconds": 500})).await;
    let uploaded = TestApp::answer(
        app.raw(Method::POST, &format!("/waInstance{}/uploadFile/{}", green.id, green.token))
            .header("content-type", "image/png")
            .header("GA-Filename", "pic.png")
            .body(b"\x89PNG fake".to_vec())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(uploaded.status, 200, "{}", uploaded.body);
    let url = uploaded.body["urlFile"].as_str().unwrap().to_owned();
    assert!(url.ends_with("/pic.png"), "{url}");
    let path = url.split_once("/files/").map(|(_, p)| format!("/files/{p}")).unwrap();
    let served = app.raw(Method::GET, &path).send().await.unwrap();
    assert_eq!(served.headers()["content-type"], "image/png");
    assert_eq!(served.bytes().await.unwrap().as_ref(), b"\x89PNG fake");
    assert_eq!(app.raw(Method::GET, "/files/0000/pic.png").send().await.unwrap().status(), 404);

    let boundary = "GreenBoundary";
    let mut body = Vec::new();
    for (name, value) in [("chatId", "79001234567@c.us"), ("caption", "a document")] {
        body.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .bytes(),
        );
    }
    body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"price.pdf\"\r\nContent-Type: application/pdf\r\n\r\n").bytes());
    body.extend(b"%PDF-1.4 fake\r\n");
    body.extend(format!("--{boundary}--\r\n").bytes());
    let sent = TestApp::answer(
        app.raw(Method::POST, &format!("/waInstance{}/sendFileByUpload/{}", green.id, green.token))
            .header("content-type", format!("multipart/form-data; boundary={boundary}"))
            .body(body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    assert!(sent.body["urlFile"].as_str().unwrap().ends_with("/price.pdf"));
    let queue = get(&app, &green, "showMessagesQueue").await.body;
    assert_eq!(queue[0]["type"], "sendFileByUrl");
    assert_eq!(queue[0]["body"]["caption"], "a document");
}

#[tokio::test]
async fn receive_notification_returns_the_head_until_it_is_deleted_and_null_after_the_timeout() {
    let app = TestApp::spawn().await;
    let green = create(&app, json!({"incomingWebhook": "yes"})).await;
    let customer = native(&green);
    app.customer_writes(&customer, "first").await;
    app.customer_writes(&customer, "second").await;

    let head = get(&app, &green, "receiveNotification").await;
    assert_eq!(head.status, 200);
    let receipt = head.body["receiptId"].as_u64().unwrap();
    let body = &head.body["body"];
    assert_eq!(body["typeWebhook"], "incomingMessageReceived");
    assert_eq!(body["instanceData"]["idInstance"], green.id);
    assert_eq!(body["instanceData"]["typeInstance"], "sandbox");
    assert_eq!(body["senderData"]["chatId"], "17841400000000001@c.us");
    assert_eq!(body["messageData"]["typeMessage"], "textMessage");
    assert_eq!(body["messageData"]["textMessageData"]["textMessage"], "first");
    assert!(body["timestamp"].is_u64() && body["idMessage"].is_string());
    assert_eq!(
        get(&app, &green, "receiveNotification").await.body["receiptId"],
        receipt,
        "until deleted"
    );
    assert_eq!(get(&app, &green, "getWebhooksCount").await.body, json!({"count": 2}));

    let delete = TestApp::answer(
        app.raw(
            Method::DELETE,
            &format!("/waInstance{}/deleteNotification/{}/{receipt}", green.id, green.token),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(delete.body, json!({"result": true}));
    let again = TestApp::answer(
        app.raw(
            Method::DELETE,
            &format!("/waInstance{}/deleteNotification/{}/{receipt}", green.id, green.token),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(again.body, json!({"result": false}));
    let next = get(&app, &green, "receiveNotification").await.body;
    assert_eq!(next["body"]["messageData"]["textMessageData"]["textMessage"], "second");
    let receipt = next["receiptId"].as_u64().unwrap();
    TestApp::answer(
        app.raw(
            Method::DELETE,
            &format!("/waInstance{}/deleteNotification/{}/{receipt}/", green.id, green.token),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;

    // Nothing left: a long poll waits its receiveTimeout, then answers null.
    let url = format!(
        "{}/waInstance{}/receiveNotification/{}?receiveTimeout=7",
        app.base, green.id, green.token
    );
    let poll = tokio::spawn(app.client.get(url).send());
    app.until_long_poll_waits(&customer).await;
    app.clock.advance(Duration::from_secs(7));
    let answer = TestApp::answer(poll.await.unwrap().unwrap()).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, Value::Null);

    for timeout in ["4", "61", "x"] {
        let answer = call(
            &app,
            &green,
            Method::GET,
            &format!("receiveNotification?receiveTimeout={timeout}"),
            None,
        )
        .await;
        assert_eq!(answer.status, 400, "receiveTimeout={timeout}");
    }
}

#[tokio::test]
async fn receive_notification_is_refused_while_a_webhook_url_is_set() {
    let app = TestApp::spawn().await;
    let green = create(&app, json!({"webhookUrl": "https://crm.example.com/hook"})).await;
    rejected(&get(&app, &green, "receiveNotification").await, 400, "webhookUrl");
}

#[tokio::test]
async fn webhooks_take_green_apis_shape_and_follow_the_switches() {
    let app = TestApp::spawn().await;
    let receiver = TestReceiver::start().await;
    let green = create(&app, json!({"name": "w", "delaySendMessagesMilliseconds": 500})).await;
    let settings = json!({"webhookUrl": receiver.url, "webhookUrlToken": "secret-of-the-crm", "incomingWebhook": "yes",
        "outgoingWebhook": "yes", "outgoingAPIMessageWebhook": "yes", "stateWebhook": "yes"});
    assert_eq!(
        post(&app, &green, "setSettings", settings).await.body,
        json!({"saveSettings": true})
    );
    app.customer_writes(&native(&green), "hello").await;
    let sent = post(
        &app,
        &green,
        "sendMessage",
        json!({"chatId": "17841400000000001@c.us", "message": "hi there"}),
    )
    .await;
    let id = sent.body["idMessage"].as_str().unwrap().to_owned();
    app.advance(Duration::from_secs(2)).await;
    assert_eq!(get(&app, &green, "logout").await.body, json!({"isLogout": true}));
    app.settle().await;

    let received = receiver.received();
    assert!(received.iter().all(|r| r.header("authorization") == Some("Bearer secret-of-the-crm")));
    let bodies: Vec<Value> = received.into_iter().map(|r| r.body).collect();
    let types: Vec<&str> = bodies.iter().map(|b| b["typeWebhook"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "incomingMessageReceived",
            "outgoingAPIMessageReceived",
            "outgoingMessageStatus",
            "outgoingMessageStatus",
            "outgoingMessageStatus",
            "stateInstanceChanged"
        ]
    );
    for body in &bodies {
        assert_eq!(body["instanceData"]["idInstance"], green.id);
        assert_eq!(body["instanceData"]["wid"], format!("17841{}@c.us", green.id));
        assert!(body["timestamp"].is_u64());
    }
    assert_eq!(bodies[1]["idMessage"], id.as_str());
    assert_eq!(bodies[1]["messageData"]["extendedTextMessageData"]["text"], "hi there");
    let statuses: Vec<&str> = bodies[2..5].iter().map(|b| b["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["sent", "delivered", "read"]);
    assert!(bodies[2..5].iter().all(|b| b["idMessage"] == id.as_str()
        && b["sendByApi"] == true
        && b["chatId"] == "17841400000000001@c.us"));
    assert_eq!(bodies[5]["stateInstance"], "notAuthorized");
    assert_eq!(
        get(&app, &green, "getStateInstance").await.body,
        json!({"stateInstance": "notAuthorized"})
    );
    assert_eq!(get(&app, &green, "reboot").await.body, json!({"isReboot": true}));
    assert_eq!(
        get(&app, &green, "getStateInstance").await.body,
        json!({"stateInstance": "authorized"})
    );
}

#[tokio::test]
async fn a_switched_off_kind_of_notification_is_not_sent() {
    let app = TestApp::spawn().await;
    let receiver = TestReceiver::start().await;
    let green = create(&app, json!({"webhookUrl": receiver.url, "incomingWebhook": "yes", "delaySendMessagesMilliseconds": 500})).await;
    app.customer_writes(&native(&green), "hello").await;
    post(&app, &green, "sendMessage", json!({"chatId": "u1", "message": "quiet"})).await;
    app.advance(Duration::from_secs(2)).await;
    let types: Vec<String> =
        receiver.bodies().iter().map(|b| b["typeWebhook"].as_str().unwrap().to_owned()).collect();
    assert_eq!(types, ["incomingMessageReceived"]);
}

#[tokio::test]
async fn incoming_statuses_follow_seed_004_and_need_the_feature() {
    let app = TestApp::spawn().await;
    let green = create(&app, json!({"name": "st"})).await;
    rejected(&get(&app, &green, "getIncomingStatuses").await, 403, "not enabled");
    rejected(&get(&app, &green, "getOutgoingStatuses").await, 403, "not enabled");
    post(&app, &green, "setSettings", json!({"statusesEnabled": "yes"})).await;

    let customer = native(&green);
    let from = json!({"id": "70000000001", "name": "Николай"});
    app.incoming(&customer, json!({"from": from, "type": "status", "text": "Прекрасное утро!"}))
        .await;
    app.incoming(&customer, json!({"from": from, "type": "status", "text": "Прекрасное утро!",
        "url": "https://sw-media.storage.greenapi.net/1101000000/dcf81410.jpg", "mimeType": "image/jpeg"})).await;
    let statuses = get(&app, &green, "getIncomingStatuses").await;
    assert_eq!(statuses.status, 200, "{}", statuses.body);
    let seed = fixture("greenapi/getIncomingStatuses.json");
    let items = statuses.body.as_array().unwrap();
    assert_eq!(items.len(), 2);
    // Newest first: the picture, then the text.
    assert_matches_fixture(
        &seed[1],
        &items[0],
        &["type", "typeMessage", "chatId", "caption", "mimeType", "senderId", "senderName"],
        &[],
    );
    assert_matches_fixture(
        &seed[0],
        &items[1],
        &[
            "type",
            "typeMessage",
            "chatId",
            "textMessage",
            "extendedTextMessage.text",
            "senderId",
            "senderName",
        ],
        &[],
    );
    assert_eq!(get(&app, &green, "getOutgoingStatuses").await.body, json!([]));

    app.clock.advance(Duration::from_secs(2 * 24 * 3600));
    assert_eq!(
        get(&app, &green, "getIncomingStatuses").await.body,
        json!([]),
        "default 1440 minutes"
    );
    let wider = call(&app, &green, Method::GET, "getIncomingStatuses?minutes=4000", None).await;
    assert_eq!(wider.body.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn incoming_messages_appear_in_the_journals_and_their_files_can_be_downloaded() {
    let app = TestApp::spawn().await;
    let green = create(&app, json!({"name": "j"})).await;
    let customer = native(&green);
    app.incoming(
        &customer,
        json!({"from": {"id": "7900", "name": "Ann"}, "type": "image", "id": "mid.img",
        "url": "https://cdn.example.com/a.jpg", "mimeType": "image/jpeg", "text": "look"}),
    )
    .await;
    app.incoming(
        &customer,
        json!({"from": {"id": "7900"}, "type": "text", "id": "mid.txt", "text": "hi"}),
    )
    .await;
    let last = get(&app, &green, "lastIncomingMessages").await.body;
    let last = last.as_array().unwrap();
    assert_eq!(last.len(), 2);
    assert_eq!(last[1]["typeMessage"], "imageMessage");
    assert_eq!(last[1]["senderName"], "Ann");
    assert_eq!(last[1]["caption"], "look");
    let download =
        post(&app, &green, "downloadFile", json!({"chatId": "7900@c.us", "idMessage": "mid.img"}))
            .await;
    assert_eq!(download.body, json!({"downloadUrl": "https://cdn.example.com/a.jpg"}));
    rejected(
        &post(&app, &green, "downloadFile", json!({"chatId": "7900@c.us", "idMessage": "mid.txt"}))
            .await,
        400,
        "not found",
    );
    let message =
        post(&app, &green, "getMessage", json!({"chatId": "7900@c.us", "idMessage": "mid.txt"}))
            .await
            .body;
    assert_eq!(message["type"], "incoming");
    assert_eq!(message["textMessage"], "hi");
    let contact = post(&app, &green, "getContactInfo", json!({"chatId": "7900@c.us"})).await.body;
    assert_eq!(contact["name"], "Ann");
    assert_eq!(contact["chatId"], "7900@c.us");
    assert_eq!(
        post(&app, &green, "readChat", json!({"chatId": "7900@c.us"})).await.body,
        json!({"setRead": true})
    );
    assert_eq!(post(&app, &green, "sendTyping", json!({"chatId": "7900@c.us"})).await.status, 200);
}

#[tokio::test]
async fn the_webhook_queue_can_be_counted_and_cleared() {
    let app = TestApp::spawn().await;
    let green = create(&app, json!({"incomingWebhook": "yes"})).await;
    for n in 0..3 {
        app.customer_writes(&native(&green), &format!("#{n}")).await;
    }
    assert_eq!(get(&app, &green, "getWebhooksCount").await.body, json!({"count": 3}));
    let cleared = call(&app, &green, Method::DELETE, "clearWebhooksQueue", None).await;
    assert_eq!(cleared.body, json!({"isCleared": true, "reason": ""}));
    assert_eq!(get(&app, &green, "getWebhooksCount").await.body, json!({"count": 0}));
}

#[tokio::test]
async fn each_method_has_its_own_per_second_limit() {
    let app = TestApp::spawn_with(|c| c.greenapi.rate_limits = true).await;
    let green = create(&app, json!({"name": "limited"})).await;
    assert_eq!(get(&app, &green, "getSettings").await.status, 200);
    rejected(&get(&app, &green, "getSettings").await, 429, "Too Many Requests");
    assert_eq!(
        get(&app, &green, "getStateInstance").await.status,
        200,
        "another method, another budget"
    );
    // A burst of 120 sends at once: 50 a second pass, the rest are refused.
    let burst = (0..120).map(|n| {
        post(&app, &green, "sendMessage", json!({"chatId": "u1", "message": format!("#{n}")}))
    });
    let statuses: Vec<u16> =
        futures::future::join_all(burst).await.iter().map(|a| a.status.as_u16()).collect();
    let accepted = statuses.iter().filter(|s| **s == 200).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(accepted + refused, 120, "{statuses:?}");
    assert!((50..120).contains(&accepted), "{accepted} accepted");
    let count = get(&app, &green, "getMessagesCount").await.body["count"].clone();
    assert_eq!(count, accepted, "refused sends queued nothing");
}

#[tokio::test]
async fn a_monthly_quota_answers_466_when_used_up() {
    let app = TestApp::spawn_with(|c| c.greenapi.monthly_message_quota = 2).await;
    let green = create(&app, json!({"name": "quota"})).await;
    for _ in 0..2 {
        assert_eq!(
            post(&app, &green, "sendMessage", json!({"chatId": "u1", "message": "hi"}))
                .await
                .status,
            200
        );
    }
    let over = post(&app, &green, "sendMessage", json!({"chatId": "u1", "message": "hi"})).await;
    assert_eq!(over.status.as_u16(), 466);
    assert_eq!(over.body["invokeStatus"]["status"], "QUOTE_EXCEEDED");
    assert_eq!(over.body["invokeStatus"]["used"], 2);
    assert_eq!(over.body["invokeStatus"]["total"], 2);
    assert_eq!(get(&app, &green, "getSettings").await.status, 200, "other methods are not counted");
}
