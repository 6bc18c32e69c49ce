//! The Getloo Insta API dialect (seed 000), request by request and webhook
//! by webhook, against the seed's own JSON.

use std::time::Duration;

use chatgate_e2e::{
    Answer, FileServer, TestApp, TestInstance, TestReceiver, assert_matches_fixture, fixture,
};
use reqwest::Method;
use serde_json::{Value, json};

/// Calls `/insta/{token}/{method}` with a JSON body (or none).
async fn call(
    app: &TestApp,
    token: &str,
    method: &str,
    http: Method,
    body: Option<Value>,
) -> Answer {
    let mut request = app.raw(http, &format!("/insta/{token}/{method}"));
    if let Some(body) = body {
        request = request.json(&body);
    }
    TestApp::answer(request.send().await.unwrap()).await
}

async fn get(app: &TestApp, instance: &TestInstance, method: &str) -> Answer {
    call(app, &instance.token, method, Method::GET, None).await
}

async fn post(app: &TestApp, instance: &TestInstance, method: &str, body: Value) -> Answer {
    call(app, &instance.token, method, Method::POST, Some(body)).await
}

fn refused(answer: &Answer, status: u16, mentions: &str) {
    assert_eq!(answer.status, status, "{}", answer.body);
    assert_eq!(answer.body["result"]["success"], false);
    let error =
        answer.body["error"].as_str().unwrap_or_else(|| panic!("no error text: {}", answer.body));
    assert!(error.contains(mentions), "{error:?} should mention {mentions:?}");
}

#[tokio::test]
async fn get_info_answers_the_seed_shape_on_get_and_post() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    for answer in
        [get(&app, &instance, "getInfo").await, post(&app, &instance, "getInfo", json!({})).await]
    {
        assert_eq!(answer.status, 200);
        assert_matches_fixture(
            &fixture("getloo/getInfo.json"),
            &answer.body,
            &["result.success", "channel.status", "error"],
            &[],
        );
        assert_eq!(answer.body["channel"]["id"], instance.id.to_string());
        assert_eq!(answer.body["channel"]["user_id"], format!("17841{}", instance.id));
        assert_eq!(answer.body["channel"]["username"], format!("sandbox_{}", instance.id));
    }
}

#[tokio::test]
async fn get_url_links_to_the_accounts_direct() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    let answer = get(&app, &instance, "getUrl").await;
    assert_eq!(answer.status, 200);
    assert_matches_fixture(
        &fixture("getloo/getUrl.json"),
        &answer.body,
        &["result.success", "error"],
        &[],
    );
    assert_eq!(answer.body["channel"]["url"], format!("https://ig.me/m/sandbox_{}", instance.id));
}

#[tokio::test]
async fn set_web_hook_sets_the_url_and_get_web_hook_returns_it() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    let before = get(&app, &instance, "getWebHook").await;
    assert_eq!(before.body["channel"]["webhook"], Value::Null);

    let set =
        post(&app, &instance, "setWebHook", json!({"url": "https://crm.example.com/getloo"})).await;
    assert_eq!(set.status, 200, "{}", set.body);
    assert_matches_fixture(
        &fixture("getloo/setWebHook.json"),
        &set.body,
        &["result.success", "error"],
        &[],
    );
    assert_eq!(set.body["channel"]["webhook"], "https://crm.example.com/getloo");
    let after = get(&app, &instance, "getWebHook").await;
    assert_matches_fixture(
        &fixture("getloo/getWebHook.json"),
        &after.body,
        &["result.success", "error"],
        &[],
    );
    assert_eq!(after.body["channel"]["webhook"], "https://crm.example.com/getloo");

    // As a form, too.
    let form = app
        .raw(Method::POST, &format!("/insta/{}/setWebHook", instance.token))
        .form(&[("url", "https://crm.example.com/form")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        TestApp::answer(form).await.body["channel"]["webhook"],
        "https://crm.example.com/form"
    );
}

#[tokio::test]
async fn send_msg_takes_the_seeds_json_and_answers_a_40_hex_queue_id() {
    let app = TestApp::spawn().await;
    let files = FileServer::start().await;
    let instance = app.sandbox().await;
    let mut request = fixture("getloo/sendMsg.request.json");
    request["file"] = json!(files.url("photo.jpg"));
    let answer = post(&app, &instance, "sendMsg", request).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_matches_fixture(
        &fixture("getloo/sendMsg.json"),
        &answer.body,
        &["result.success", "error"],
        &[],
    );
    let queue_id = answer.body["result"]["queue_id"].as_str().unwrap();
    assert_eq!(queue_id.len(), 40);
    assert!(queue_id.chars().all(|c| c.is_ascii_hexdigit()));

    let queue = app.get(&instance, "/queue").await.body;
    let message = &queue["messages"][0];
    assert_eq!(message["to"]["id"], "1234556");
    assert_eq!(message["kind"], "image");
    assert_eq!(message["media"]["caption"], "Пример текста");
    // The seed's 24-character options are cut to Instagram's 20 for the
    // button and kept whole as its payload.
    assert_eq!(message["quickReplies"][1]["title"], "Кнопка быстрого отве");
    assert_eq!(message["quickReplies"][1]["payload"], "Кнопка быстрого ответа 2");
}

#[tokio::test]
async fn send_msg_takes_form_bodies_with_repeated_options() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    let body = "username=ann&user_id=178414&caption=%D0%9F%D1%80%D0%B8%D0%B2%D0%B5%D1%82&options%5B%5D=Yes&options%5B%5D=No";
    let response = app
        .raw(Method::POST, &format!("/insta/{}/sendMsg", instance.token))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let answer = TestApp::answer(response).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let message = &app.get(&instance, "/queue").await.body["messages"][0];
    assert_eq!(message["text"], "Привет");
    assert_eq!(message["quickReplies"].as_array().unwrap().len(), 2);
    assert_eq!(message["quickReplies"][0]["title"], "Yes");
}

#[tokio::test]
async fn send_msg_takes_multipart_forms() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    let boundary = "XyZ";
    let part = |name: &str, value: &str| {
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        )
    };
    let body = [
        part("username", "ann"),
        part("user_id", "178414"),
        part("caption", "hello"),
        part("options[]", "Ok"),
    ]
    .concat()
        + &format!("--{boundary}--\r\n");
    let response = app
        .raw(Method::POST, &format!("/insta/{}/sendMsg", instance.token))
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(body)
        .send()
        .await
        .unwrap();
    let answer = TestApp::answer(response).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let message = &app.get(&instance, "/queue").await.body["messages"][0];
    assert_eq!(message["text"], "hello");
    assert_eq!(message["quickReplies"][0]["title"], "Ok");
}

#[tokio::test]
async fn send_msg_refuses_bad_requests_with_400_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let files = FileServer::start().await;
    let instance = app.sandbox().await;
    let base = json!({"username": "ann", "user_id": "178414", "caption": "hi"});
    let with = |patch: Value| {
        let mut body = base.clone();
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                body.as_object_mut().unwrap().remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        body
    };
    let cases = [
        (with(json!({"username": null})), "username"),
        (with(json!({"user_id": null})), "user_id"),
        (with(json!({"user_id": ""})), "user_id"),
        (with(json!({"caption": null})), "file or caption"),
        (with(json!({"caption": "я".repeat(1001)})), "caption"),
        (with(json!({"caption": true})), "caption"),
        (with(json!({"options": (0..14).map(|i| format!("o{i}")).collect::<Vec<_>>()})), "options"),
        (with(json!({"options": [true]})), "options"),
        (with(json!({"options": [{"title": "x"}]})), "options"),
        (with(json!({"file": files.url("doc.pdf")})), ".pdf"),
        (with(json!({"file": files.url("big.jpg")})), "8 MB"),
        (with(json!({"file": files.url("huge.mp4")})), "25 MB"),
        (with(json!({"file": files.url("page.jpg")})), "text/html"),
        (with(json!({"file": files.url("nosize.jpg")})), "size"),
        (with(json!({"file": files.url("missing.jpg")})), "404"),
        (with(json!({"file": "ftp://files.example.com/a.jpg"})), "file"),
        (with(json!({"file": "http://127.0.0.1:1/a.jpg"})), "could not be checked"),
    ];
    for (body, mentions) in cases {
        let answer = post(&app, &instance, "sendMsg", body.clone()).await;
        assert_eq!(answer.status, 400, "{body} → {}", answer.body);
        refused(&answer, 400, mentions);
    }
    let malformed = app
        .raw(Method::POST, &format!("/insta/{}/sendMsg", instance.token))
        .header("content-type", "application/json")
        .body("{\"username\": ")
        .send()
        .await
        .unwrap();
    refused(&TestApp::answer(malformed).await, 400, "JSON");
    assert_eq!(app.queue_count(&instance).await, 0);
}

#[tokio::test]
async fn files_are_checked_against_the_seeds_table() {
    let app = TestApp::spawn().await;
    let files = FileServer::start().await;
    let instance = app.sandbox().await;
    for (name, kind) in [
        ("photo.jpg", "image"),
        ("photo.png", "image"),
        ("icon.ico", "image"),
        ("voice.mp3", "audio"),
        ("voice.mp4", "audio"),
        ("clip.mp4", "video"),
        ("rangeonly.mp4", "video"),
    ] {
        let body = json!({"username": "ann", "user_id": "178414", "file": files.url(name)});
        let answer = post(&app, &instance, "sendMsg", body).await;
        assert_eq!(answer.status, 200, "{name}: {}", answer.body);
        let queue = app.get(&instance, "/queue").await.body;
        let last = queue["messages"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["kind"], kind, "{name}");
    }
}

#[tokio::test]
async fn an_unknown_token_is_401_for_every_method() {
    let app = TestApp::spawn().await;
    for method in ["getInfo", "sendMsg", "getUrl", "getWebHook", "setWebHook", "nonsense"] {
        let answer =
            call(&app, "G23SF-AKFH5-H390S-HDRJS-Y5U43", method, Method::POST, Some(json!({})))
                .await;
        refused(&answer, 401, "token");
    }
}

#[tokio::test]
async fn an_instance_that_is_not_authorized_is_402() {
    let app = TestApp::spawn().await;
    let instance = app.create_instance(json!({"kind": "instagram"})).await;
    let info = get(&app, &instance, "getInfo").await;
    refused(&info, 402, "active");
    assert_eq!(info.body["channel"]["status"], false);
    let send =
        post(&app, &instance, "sendMsg", json!({"username": "a", "user_id": "1", "caption": "hi"}))
            .await;
    refused(&send, 402, "active");
    for method in ["getUrl", "getWebHook"] {
        refused(&get(&app, &instance, method).await, 402, "active");
    }
    refused(
        &post(&app, &instance, "setWebHook", json!({"url": "https://crm.example.com/h"})).await,
        402,
        "active",
    );
    assert_eq!(app.queue_count(&instance).await, 0);
}

#[tokio::test]
async fn unknown_methods_and_wrong_http_methods_are_400() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    refused(&get(&app, &instance, "getMessages").await, 400, "getInfo, sendMsg");
    refused(&get(&app, &instance, "sendMsg").await, 400, "POST");
    refused(&get(&app, &instance, "setWebHook").await, 400, "POST");
    refused(&post(&app, &instance, "setWebHook", json!({})).await, 400, "url");
    refused(&post(&app, &instance, "setWebHook", json!({"url": "not a url"})).await, 400, "url");
}

#[tokio::test]
async fn set_web_hook_refuses_private_networks_unless_allowed() {
    let app = TestApp::spawn_with(|c| c.allowed_private_networks = String::new()).await;
    let instance = app.sandbox().await;
    refused(
        &post(&app, &instance, "setWebHook", json!({"url": "http://192.168.0.10/hook"})).await,
        400,
        "url",
    );
    refused(
        &post(&app, &instance, "setWebHook", json!({"url": "http://localhost:8080/hook"})).await,
        400,
        "url",
    );
}

#[tokio::test]
async fn a_comment_is_answered_once_and_with_text_only() {
    let app = TestApp::spawn().await;
    let files = FileServer::start().await;
    let instance = app.sandbox().await;
    let commented = app
        .incoming(&instance, json!({"from": {"id": "178414"}, "type": "comment", "text": "price?", "commentId": "17900042"}))
        .await;
    assert_eq!(commented.status, 200);

    let with_file =
        json!({"username": "ann", "user_id": "17900042", "file": files.url("photo.jpg")});
    refused(&post(&app, &instance, "sendMsg", with_file).await, 400, "only with a text");
    let text =
        json!({"username": "ann", "user_id": "17900042", "caption": "Sent it to your Direct"});
    let first = post(&app, &instance, "sendMsg", text.clone()).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let message = &app.get(&instance, "/queue").await.body["messages"][0];
    assert_eq!(message["to"]["commentId"], "17900042", "a private reply, not a DM to a user");
    refused(&post(&app, &instance, "sendMsg", text).await, 400, "already answered");
    assert_eq!(app.queue_count(&instance).await, 1);
}

/// An instance pushing Getloo webhooks to a receiver.
async fn getloo_instance(app: &TestApp, receiver: &TestReceiver) -> TestInstance {
    let instance = app.sandbox().await;
    let set = post(app, &instance, "setWebHook", json!({"url": receiver.url})).await;
    assert_eq!(set.status, 200, "{}", set.body);
    instance
}

#[tokio::test]
async fn incoming_messages_and_comments_arrive_in_the_seeds_shape() {
    let app = TestApp::spawn().await;
    let receiver = TestReceiver::start().await;
    let instance = getloo_instance(&app, &receiver).await;
    let from = json!({"id": "47367670531", "username": "getcourseru", "name": "Алина из Getloo"});
    let href = "https://files.getloo.ru/ig/20221207/87b1e67ff6ec91a53e17f868ed8f1f4f/пример";
    for body in [
        json!({"from": from, "type": "text", "text": "Отправленный текст"}),
        json!({"from": from, "type": "comment", "text": "Отправленный комментарий", "commentId": "47367670531"}),
        json!({"from": from, "type": "image", "text": "Подпись к картинке", "url": format!("{href}.jpg"), "mimeType": "image/jpeg", "fileName": "пример.jpg"}),
        json!({"from": from, "type": "video", "url": format!("{href}.mp4"), "mimeType": "video/mp4", "fileName": "пример.mp4"}),
    ] {
        assert_eq!(app.incoming(&instance, body).await.status, 200);
    }
    app.settle().await;
    let bodies = receiver.bodies();
    assert_eq!(bodies.len(), 4);
    let fixed = [
        "event.name",
        "event.properties.type",
        "device.user_id",
        "device.username",
        "device.profileName",
    ];
    assert_matches_fixture(
        &fixture("getloo/incomingMessage.text.json"),
        &bodies[0],
        &[&fixed[..], &["event.properties.content.body"]].concat(),
        &[],
    );
    assert_matches_fixture(
        &fixture("getloo/incomingComment.json"),
        &bodies[1],
        &[&fixed[..], &["event.properties.content.body", "device.comment_id"]].concat(),
        &[],
    );
    let content = [
        "event.properties.content.body",
        "event.properties.content.mimeType",
        "event.properties.content.filename",
    ];
    assert_matches_fixture(
        &fixture("getloo/incomingMessage.image.json"),
        &bodies[2],
        &[&fixed[..], &content[..]].concat(),
        &[],
    );
    assert_matches_fixture(
        &fixture("getloo/incomingMessage.video.json"),
        &bodies[3],
        &[&fixed[..], &content[1..]].concat(),
        &[],
    );
    for body in &bodies {
        let queue_id = body["event"]["properties"]["queueId"].as_str().unwrap();
        assert_eq!(queue_id.len(), 40);
        // The seed's createdAt form: 2022-12-07T12:29:21+03:00.
        assert_eq!(body["event"]["createdAt"], "2026-01-01T03:00:00+03:00");
    }
    assert_eq!(bodies[3]["event"]["properties"]["content"]["href"], format!("{href}.mp4"));
}

#[tokio::test]
async fn delivery_reports_carry_the_queue_id_of_send_msg() {
    let app = TestApp::spawn().await;
    let receiver = TestReceiver::start().await;
    let instance = getloo_instance(&app, &receiver).await;
    app.incoming(&instance, json!({"from": {"id": "79955069706", "name": "Алина из Getloo"}, "type": "text", "text": "hi"})).await;
    let sent = post(
        &app,
        &instance,
        "sendMsg",
        json!({"username": "alina", "user_id": "79955069706", "caption": "hello"}),
    )
    .await;
    let queue_id = sent.body["result"]["queue_id"].as_str().unwrap().to_owned();
    let failing = post(
        &app,
        &instance,
        "sendMsg",
        json!({"username": "x", "user_id": "fail-x", "caption": "hello"}),
    )
    .await;
    let failing_id = failing.body["result"]["queue_id"].as_str().unwrap().to_owned();
    app.advance(Duration::from_secs(2)).await;

    let reports: Vec<Value> = receiver
        .bodies()
        .into_iter()
        .filter(|b| b["event"]["properties"]["status"].is_string())
        .collect();
    let ours: Vec<&Value> = reports
        .iter()
        .filter(|b| b["event"]["properties"]["queueId"] == queue_id.as_str())
        .collect();
    let names: Vec<&str> = ours.iter().map(|b| b["event"]["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["whatsappSuccess", "reportActionReceived", "reportActionExecuted"]);
    for (report, file) in
        ours.iter().zip(["whatsappSuccess", "reportActionReceived", "reportActionExecuted"])
    {
        assert_matches_fixture(
            &fixture(&format!("getloo/{file}.json")),
            report,
            &["event.name", "event.properties.status", "device.profileName"],
            &["device.user_id", "device.username"],
        );
        assert_eq!(report["device"]["mdn"], "79955069706");
        assert_eq!(report["device"]["username"], "alina", "the username given to sendMsg");
    }
    let failed: Vec<&Value> = reports
        .iter()
        .filter(|b| b["event"]["properties"]["queueId"] == failing_id.as_str())
        .collect();
    assert_eq!(failed.len(), 1);
    assert_matches_fixture(
        &fixture("getloo/errorActionFail.json"),
        failed[0],
        &["event.name", "event.properties.status"],
        &["device.user_id", "device.username"],
    );
}

#[tokio::test]
async fn events_getloo_has_no_webhook_for_are_not_pushed() {
    let app = TestApp::spawn().await;
    let receiver = TestReceiver::start().await;
    let instance = getloo_instance(&app, &receiver).await;
    app.incoming(&instance, json!({"from": {"id": "u1"}, "type": "status", "text": "my story"}))
        .await;
    app.settle().await;
    assert!(receiver.received().is_empty());
    let deliveries = app.get(&instance, "/deliveries").await.body;
    assert_eq!(deliveries["deliveries"][0]["state"], "delivered");
    assert!(
        deliveries["deliveries"][0]["attempts"][0]["error"]
            .as_str()
            .unwrap()
            .starts_with("skipped")
    );
}
