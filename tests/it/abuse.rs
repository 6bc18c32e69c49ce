//! Abuse limits: per-instance request rates (native and GREEN-API), body
//! sizes on every family of routes, long polls per instance, slow clients
//! (slowloris on headers and on bodies), and the size of hosted files.
//! Each answers in the error format of the API it hits.

use std::time::{Duration, Instant};

use chatgate_e2e::{Answer, TestApp, TestInstance};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn text_of(bytes: usize) -> String {
    "x".repeat(bytes)
}

async fn green(
    app: &TestApp,
    instance: &TestInstance,
    method: &str,
    body: Option<Value>,
) -> Answer {
    let path = format!("/waInstance{}/{method}/{}", instance.id, instance.token);
    let mut request = app.raw(Method::POST, &path);
    if let Some(body) = body {
        request = request.json(&body);
    }
    TestApp::answer(request.send().await.unwrap()).await
}

fn retry_after(answer: &Answer) -> u64 {
    answer
        .headers
        .get("retry-after")
        .unwrap_or_else(|| panic!("no Retry-After on {}", answer.body))
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

fn hello() -> Value {
    json!({"to": {"id": "17841400000000001"}, "text": "hello"})
}

#[tokio::test]
async fn an_instance_sending_faster_than_its_limit_is_answered_429_with_retry_after() {
    let app = TestApp::spawn_with(|c| c.limits.sends_per_second = 1).await;
    let instance = app.sandbox().await;
    let other = app.sandbox().await;

    app.send_ok(&instance, hello()).await;
    let refused = app.send(&instance, hello()).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS, "{}", refused.body);
    assert_eq!(refused.body["code"], "rate_limited");
    assert!((1..=1).contains(&retry_after(&refused)), "{:?}", refused.headers);

    // The limit is the instance's, not the caller's address: another
    // instance on the same connection still sends, and the first one's
    // other requests have their own budget.
    app.send_ok(&other, hello()).await;
    assert_eq!(app.get(&instance, "/settings").await.status, StatusCode::OK);
    // The operator is not limited.
    let path = format!("/api/v1/instances/{}/messages", instance.id);
    let by_partner =
        app.request(Method::POST, &path, Some(&app.partner_token), Some(hello())).await;
    assert_eq!(by_partner.status, StatusCode::ACCEPTED, "{}", by_partner.body);
    app.stop().await;
}

#[tokio::test]
async fn an_instance_over_its_request_limit_is_answered_429_but_may_still_send() {
    let app = TestApp::spawn_with(|c| c.limits.requests_per_second = 1).await;
    let instance = app.sandbox().await;

    assert_eq!(app.get(&instance, "/settings").await.status, StatusCode::OK);
    let refused = app.get(&instance, "/queue/count").await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS, "{}", refused.body);
    assert_eq!(refused.body["code"], "rate_limited");
    assert!(retry_after(&refused) >= 1);
    app.send_ok(&instance, hello()).await;
    app.stop().await;
}

#[tokio::test]
async fn greenapi_answers_429_in_its_own_format_over_its_per_method_limit() {
    let app = TestApp::spawn_with(|c| c.greenapi.rate_limits = true).await;
    let instance = app.sandbox().await;

    assert_eq!(green(&app, &instance, "getSettings", None).await.status, StatusCode::OK);
    let refused = green(&app, &instance, "getSettings", None).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS, "{}", refused.body);
    assert_eq!(refused.body["statusCode"], 429, "{}", refused.body);
    assert_eq!(refused.body["message"], "Too Many Requests");
    assert!(!refused.body["path"].as_str().unwrap().contains(&instance.token));
    // Another method has its own budget.
    assert_eq!(green(&app, &instance, "getStateInstance", None).await.status, StatusCode::OK);
    app.stop().await;
}

/// Small limits, so that "too large" is cheap to send.
async fn small_bodies() -> TestApp {
    TestApp::spawn_with(|c| {
        c.http.max_body_bytes = 1024;
        c.greenapi.max_upload_bytes = 4096;
        c.meta.max_body_bytes = 2048;
    })
    .await
}

#[tokio::test]
async fn an_oversized_body_is_refused_413_on_every_family_of_routes_in_its_own_format() {
    let app = small_bodies().await;
    let instance = app.sandbox().await;
    let big = json!({"to": {"id": "1"}, "text": text_of(4000)});

    // Native.
    let native = app.send(&instance, big.clone()).await;
    assert_eq!(native.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", native.body);
    assert_eq!(native.body["code"], "payload_too_large");

    // GREEN-API.
    let body = json!({"chatId": "1@c.us", "message": text_of(4000)});
    let greenapi = green(&app, &instance, "sendMessage", Some(body)).await;
    assert_eq!(greenapi.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", greenapi.body);
    assert_eq!(greenapi.body["statusCode"], 413);

    // Getloo.
    let getloo = app
        .raw(Method::POST, &format!("/insta/{}/sendMessage", instance.token))
        .json(&json!({"userId": "1", "text": text_of(4000)}))
        .send()
        .await
        .unwrap();
    let getloo = TestApp::answer(getloo).await;
    assert_eq!(getloo.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", getloo.body);
    assert_eq!(getloo.body["result"]["success"], false, "{}", getloo.body);

    // imiconnect.
    let imiconnect = app
        .raw(Method::POST, "/v1/instagram/messages")
        .header("key", &instance.token)
        .json(&big)
        .send()
        .await
        .unwrap();
    let imiconnect = TestApp::answer(imiconnect).await;
    assert_eq!(imiconnect.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", imiconnect.body);
    assert_eq!(imiconnect.body["code"], "PAYLOAD_TOO_LARGE", "{}", imiconnect.body);

    // Meta's webhook (meta.max_body_bytes).
    let meta = app.post_signed("/webhooks/meta", text_of(3000).as_bytes()).await;
    assert_eq!(meta.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", meta.body);
    assert_eq!(meta.body["code"], "payload_too_large");

    // Huawei's push endpoint: its seed knows no 413, so an oversized body
    // is its 400 — but it is bounded.
    let huawei = app
        .raw(Method::POST, "/apiaccess/api/instagram/message")
        .bearer_auth(&instance.token)
        .header("content-type", "application/json")
        .body(text_of(3000))
        .send()
        .await
        .unwrap();
    let huawei = TestApp::answer(huawei).await;
    assert_eq!(huawei.status, StatusCode::BAD_REQUEST, "{}", huawei.body);
    assert!(huawei.body.to_string().contains("larger than 2048 bytes"), "{}", huawei.body);

    // The admin UI's sign-in form: its own HTML page.
    let admin = app
        .raw(Method::POST, "/admin/login")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={}&csrf=x", text_of(4000)))
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(admin.text().await.unwrap().contains("The form is too large."));

    // Uploads (GREEN-API uploadFile, greenapi.max_upload_bytes).
    let upload = app
        .raw(Method::POST, &format!("/waInstance{}/uploadFile/{}", instance.id, instance.token))
        .header("content-type", "image/png")
        .header("ga-filename", "big.png")
        .body(vec![7u8; 8192])
        .send()
        .await
        .unwrap();
    let upload = TestApp::answer(upload).await;
    assert_eq!(upload.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", upload.body);
    assert_eq!(upload.body["statusCode"], 413);
    app.stop().await;
}

#[tokio::test]
async fn a_file_over_the_upload_cap_is_not_hosted_and_one_under_it_is() {
    let app = small_bodies().await;
    let instance = app.sandbox().await;
    let upload = |bytes: usize| {
        app.raw(Method::POST, &format!("/waInstance{}/uploadFile/{}", instance.id, instance.token))
            .header("content-type", "image/png")
            .header("ga-filename", "photo.png")
            .body(vec![7u8; bytes])
            .send()
    };
    let kept = TestApp::answer(upload(4096).await.unwrap()).await;
    assert_eq!(kept.status, StatusCode::OK, "{}", kept.body);
    assert!(kept.body["urlFile"].as_str().unwrap().contains("/files/"));

    let refused = TestApp::answer(upload(4097).await.unwrap()).await;
    assert_eq!(refused.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", refused.body);
    assert!(refused.body["message"].as_str().unwrap().contains("4096 bytes"), "{}", refused.body);

    // sendFileByUpload's multipart file counts against the same cap.
    let mut form = Vec::new();
    form.extend_from_slice(
        b"--b0undary\r\nContent-Disposition: form-data; name=\"chatId\"\r\n\r\n\
          17841400000000001@c.us\r\n--b0undary\r\nContent-Disposition: form-data; \
          name=\"file\"; filename=\"big.png\"\r\nContent-Type: image/png\r\n\r\n",
    );
    form.extend_from_slice(&[7u8; 8192]);
    form.extend_from_slice(b"\r\n--b0undary--\r\n");
    let multipart = app
        .raw(
            Method::POST,
            &format!("/waInstance{}/sendFileByUpload/{}", instance.id, instance.token),
        )
        .header("content-type", "multipart/form-data; boundary=b0undary")
        .body(form)
        .send()
        .await
        .unwrap();
    let multipart = TestApp::answer(multipart).await;
    assert_eq!(multipart.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", multipart.body);
    assert_eq!(multipart.body["statusCode"], 413);
    assert_eq!(app.queue_count(&instance).await, 0, "nothing was queued");
    app.stop().await;
}

#[tokio::test]
async fn a_long_poll_beyond_the_instance_limit_is_answered_429_at_once_in_either_dialect() {
    let app = TestApp::spawn_with(|c| c.limits.long_polls_per_instance = 1).await;
    let instance = app.sandbox().await;
    let other = app.sandbox().await;

    let path = format!("{}/api/v1/instances/{}/notifications/next?wait=30", app.base, instance.id);
    let first = tokio::spawn(app.client.get(&path).bearer_auth(&instance.token).send());
    app.until_long_poll_waits(&instance).await;

    let started = Instant::now();
    let native = app.get(&instance, "/notifications/next?wait=30").await;
    assert_eq!(native.status, StatusCode::TOO_MANY_REQUESTS, "{}", native.body);
    assert_eq!(native.body["code"], "rate_limited");
    assert!(retry_after(&native) >= 1);
    let path = format!(
        "/waInstance{}/receiveNotification/{}?receiveTimeout=30",
        instance.id, instance.token
    );
    let greenapi = TestApp::answer(app.raw(Method::GET, &path).send().await.unwrap()).await;
    assert_eq!(greenapi.status, StatusCode::TOO_MANY_REQUESTS, "{}", greenapi.body);
    assert_eq!(greenapi.body["statusCode"], 429);
    assert!(started.elapsed() < Duration::from_secs(5), "answered at once, not after the wait");

    // Another instance is not held back by this one's polls.
    app.customer_writes(&other, "hi").await;
    assert_eq!(app.get(&other, "/notifications/next").await.status, StatusCode::OK);

    // When the waiting poll answers, its place is free again.
    app.customer_writes(&instance, "hello").await;
    let first = first.await.unwrap().unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let again = app.get(&instance, "/notifications/next").await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    app.stop().await;
}

/// Reads until the server closes the connection; what it answered.
async fn until_closed(stream: &mut TcpStream, within: Duration) -> String {
    let mut seen = Vec::new();
    let read = async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(within, read).await.expect("the server kept the slow connection open");
    String::from_utf8_lossy(&seen).into_owned()
}

#[tokio::test]
async fn a_client_sending_its_headers_too_slowly_is_disconnected_within_the_header_timeout() {
    let app = TestApp::spawn_with(|c| c.http.header_timeout_ms = 500).await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&addr).await.unwrap();
    let started = Instant::now();
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: chatgate\r\n").await.unwrap();
    // One header line every 100 ms: bytes keep coming, the headers never
    // end. The writes stop mattering once the server hangs up.
    let (mut reader, mut writer) = stream.into_split();
    let trickle = tokio::spawn(async move {
        for i in 0..50 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if writer.write_all(format!("X-Slow-{i}: y\r\n").as_bytes()).await.is_err() {
                return;
            }
        }
    });
    let closed = tokio::time::timeout(Duration::from_secs(3), async {
        let mut buf = [0u8; 1024];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    trickle.abort();
    assert!(closed.is_ok(), "the server kept the slow connection open");
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(400), "closed before the timeout: {took:?}");

    // A client that is not slow is served as before.
    assert_eq!(app.raw(Method::GET, "/healthz").send().await.unwrap().status(), StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn a_client_trickling_its_body_in_is_answered_408_and_disconnected() {
    let app = TestApp::spawn_with(|c| c.http.body_timeout_ms = 500).await;
    let instance = app.sandbox().await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /api/v1/instances/{}/messages HTTP/1.1\r\nHost: chatgate\r\n\
         Authorization: Bearer {}\r\nContent-Type: application/json\r\n\
         Content-Length: 1000\r\n\r\n{{\"to\":",
        instance.id, instance.token
    );
    let started = Instant::now();
    stream.write_all(head.as_bytes()).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let trickle = tokio::spawn(async move {
        for _ in 0..50 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if writer.write_all(b" ").await.is_err() {
                return;
            }
        }
    });
    let answer = tokio::time::timeout(Duration::from_secs(3), async {
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => return String::from_utf8_lossy(&seen).into_owned(),
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .expect("the server kept the slow connection open");
    trickle.abort();
    assert!(started.elapsed() >= Duration::from_millis(400), "{:?}", started.elapsed());
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#""code":"request_timeout""#), "{answer}");
    assert_eq!(app.queue_count(&instance).await, 0);
    app.stop().await;
}

#[tokio::test]
async fn a_long_poll_outlives_the_header_and_body_timeouts() {
    let app = TestApp::spawn_with(|c| {
        c.http.header_timeout_ms = 300;
        c.http.body_timeout_ms = 300;
    })
    .await;
    let instance = app.sandbox().await;
    let path = format!(
        "{}/waInstance{}/receiveNotification/{}?receiveTimeout=30",
        app.base, instance.id, instance.token
    );
    let poll = tokio::spawn(app.client.get(&path).send());
    app.until_long_poll_waits(&instance).await;
    // The timeouts are on the wall clock: let them pass for real while the
    // poll waits (on the test's clock).
    tokio::time::sleep(Duration::from_millis(800)).await;
    app.customer_writes(&instance, "still there?").await;
    let answer = TestApp::answer(poll.await.unwrap().unwrap()).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["body"]["typeWebhook"], "incomingMessageReceived", "{}", answer.body);

    let mut raw = TcpStream::connect(app.base.trim_start_matches("http://")).await.unwrap();
    raw.write_all(b"GET /healthz HTTP/1.1\r\nHost: chatgate\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let health = until_closed(&mut raw, Duration::from_secs(3)).await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    app.stop().await;
}
