//! The admin web UI: sign-in, sessions and CSRF over plain HTTP (what a
//! browser without JavaScript gets), then the whole operator path in a real
//! headless Chromium driven through chromedriver — sign in, create an
//! instance, chat as the customer and the business on the sandbox chat page
//! and watch the reply reach `read` live, redeliver a dead webhook delivery.
//!
//! The browser tests need Debian's `chromium` and `chromium-driver`
//! (`.ci/run` installs them and sets `CHATGATE_TEST_REQUIRE_BROWSER=1`, so there
//! they fail rather than skip when the browser is missing).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use chatgate_e2e::{TestApp, TestReceiver};
use fantoccini::{Client, ClientBuilder, Locator};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::json;

/// An operator without a browser: a client that does not follow redirects
/// and carries the session cookie by hand.
struct Operator {
    http: reqwest::Client,
    base: String,
    cookie: String,
    csrf: String,
}

/// The `value` of the first `name="csrf"` field of a page.
fn csrf_of(html: &str) -> String {
    let at = html.find(r#"name="csrf" value=""#).expect("the page has a CSRF field");
    let rest = &html[at + r#"name="csrf" value=""#.len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}

/// `name=value` of a `Set-Cookie` header of an answer.
fn cookie_named(answer: &reqwest::Response, name: &str) -> Option<String> {
    answer
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// A fresh sign-in form: its cookie as the server set it (attributes too)
/// and its CSRF token.
async fn login_form(http: &reqwest::Client, base: &str) -> (String, String) {
    let form = http.get(format!("{base}/admin/login")).send().await.unwrap();
    assert_eq!(form.status(), 200);
    let cookie = cookie_named(&form, "chatgate_admin_login").unwrap();
    (cookie, csrf_of(&form.text().await.unwrap()))
}

/// `name=value` of a cookie as set, for a `Cookie` header.
fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

impl Operator {
    async fn sign_in(app: &TestApp) -> Operator {
        let http = no_redirects();
        let (login_cookie, csrf) = login_form(&http, &app.base).await;
        let login_cookie = pair(&login_cookie);
        let answer = http
            .post(format!("{}/admin/login", app.base))
            .header(COOKIE, &login_cookie)
            .form(&[("token", app.partner_token.as_str()), ("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::SEE_OTHER);
        assert_eq!(answer.headers()[LOCATION], "/admin/instances");
        let session = cookie_named(&answer, "chatgate_admin").expect("a session cookie");
        let cookie = session.split(';').next().unwrap().to_owned();
        let mut operator = Operator { http, base: app.base.clone(), cookie, csrf: String::new() };
        let page = operator.get("/admin/instances").await;
        assert_eq!(page.0, 200);
        operator.csrf = csrf_of(&page.1);
        operator
    }

    async fn get(&self, path: &str) -> (StatusCode, String) {
        let answer = self
            .http
            .get(format!("{}{path}", self.base))
            .header(COOKIE, &self.cookie)
            .send()
            .await
            .unwrap();
        (answer.status(), answer.text().await.unwrap())
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .header(COOKIE, &self.cookie)
            .form(form)
            .send()
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn a_visitor_without_a_session_is_sent_to_sign_in() {
    let app = TestApp::spawn().await;
    let http = no_redirects();
    for path in ["/admin", "/admin/instances", "/admin/instances/1000000001"] {
        let answer = http.get(format!("{}{path}", app.base)).send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{path}");
        let to = answer.headers()[LOCATION].to_str().unwrap().to_owned();
        assert!(to == "/admin/login" || to == "/admin/instances", "{path} → {to}");
    }
    let forged = http
        .get(format!("{}/admin/instances", app.base))
        .header(COOKIE, "chatgate_admin=99999999999999.00.00")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.headers()[LOCATION], "/admin/login");
}

#[tokio::test]
async fn signing_in_takes_the_partner_token_and_sets_a_strict_http_only_cookie() {
    let app = TestApp::spawn().await;
    let http = no_redirects();
    let (login_cookie, csrf) = login_form(&http, &app.base).await;
    assert!(login_cookie.contains("HttpOnly") && login_cookie.contains("SameSite=Strict"));
    let login_cookie = pair(&login_cookie);

    let wrong = http
        .post(format!("{}/admin/login", app.base))
        .header(COOKIE, &login_cookie)
        .form(&[("token", "not-the-partner-token"), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(cookie_named(&wrong, "chatgate_admin").is_none());
    let page = wrong.text().await.unwrap();
    assert!(page.contains("That is not the partner token."));
    assert!(!page.contains("not-the-partner-token"), "a presented token is never echoed");

    let without_form_cookie = http
        .post(format!("{}/admin/login", app.base))
        .form(&[("token", app.partner_token.as_str()), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(without_form_cookie.status(), StatusCode::FORBIDDEN, "login CSRF is refused");
    assert!(cookie_named(&without_form_cookie, "chatgate_admin").is_none());

    let right = http
        .post(format!("{}/admin/login", app.base))
        .header(COOKIE, &login_cookie)
        .form(&[("token", app.partner_token.as_str()), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), StatusCode::SEE_OTHER);
    let session = cookie_named(&right, "chatgate_admin").unwrap();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/admin"] {
        assert!(session.contains(attribute), "{session} lacks {attribute}");
    }
    assert!(!session.contains(&app.partner_token), "the cookie does not carry the token");
}

#[tokio::test]
async fn sign_in_attempts_beyond_ten_a_minute_are_refused_without_looking_at_the_token() {
    let app = TestApp::spawn().await;
    let http = no_redirects();
    let attempt = |token: String| {
        let (http, base) = (http.clone(), app.base.clone());
        async move {
            let (cookie, csrf) = login_form(&http, &base).await;
            http.post(format!("{base}/admin/login"))
                .header(COOKIE, pair(&cookie))
                .form(&[("token", token.as_str()), ("csrf", csrf.as_str())])
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let mut statuses = Vec::new();
    for n in 0..10 {
        statuses.push(attempt(format!("guess-{n}")).await);
    }
    assert!(statuses.iter().all(|s| *s == StatusCode::UNAUTHORIZED), "{statuses:?}");
    assert_eq!(attempt("guess-10".into()).await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        attempt(app.partner_token.clone()).await,
        StatusCode::TOO_MANY_REQUESTS,
        "the right token waits too: the answer tells a guesser nothing"
    );
}

#[tokio::test]
async fn a_form_without_its_csrf_token_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let operator = Operator::sign_in(&app).await;
    let before = operator.get("/admin/instances").await.1.matches("data-instance=").count();

    let forged =
        operator.post("/admin/instances", &[("name", "forged"), ("kind", "sandbox")]).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let wrong = operator
        .post("/admin/instances", &[("name", "forged"), ("kind", "sandbox"), ("csrf", "00ff")])
        .await;
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    let other_site = operator
        .http
        .post(format!("{}/admin/instances", app.base))
        .header(COOKIE, &operator.cookie)
        .header("origin", "https://evil.example")
        .form(&[("name", "forged"), ("kind", "sandbox"), ("csrf", operator.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(other_site.status(), StatusCode::FORBIDDEN);

    let after = operator.get("/admin/instances").await.1;
    assert_eq!(after.matches("data-instance=").count(), before);
    assert!(!after.contains("forged"));
}

#[tokio::test]
async fn an_instance_created_in_the_admin_ui_shows_its_token_once_and_the_token_works() {
    let app = TestApp::spawn().await;
    let operator = Operator::sign_in(&app).await;
    let created = operator
        .post(
            "/admin/instances",
            &[("name", "<b>Shop</b>"), ("kind", "sandbox"), ("csrf", operator.csrf.as_str())],
        )
        .await;
    // Post, redirect, get: the token rides a sealed cookie of the page that
    // shows it, so a reload never creates a second instance.
    assert_eq!(created.status(), StatusCode::SEE_OTHER);
    let to = created.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(to.starts_with("/admin/instances/") && to.ends_with("/created"), "{to}");
    let flash = cookie_named(&created, "chatgate_admin_created").unwrap();
    assert!(flash.contains(&format!("Path={to}")) && flash.contains("HttpOnly"), "{flash}");
    let flash = flash.split(';').next().unwrap().to_owned();
    let shown = operator
        .http
        .get(format!("{}{to}", app.base))
        .header(COOKIE, format!("{}; {flash}", operator.cookie))
        .send()
        .await
        .unwrap();
    assert_eq!(shown.status(), 200);
    let cleared = cookie_named(&shown, "chatgate_admin_created").unwrap();
    assert!(cleared.contains("Max-Age=0"), "the page forgets the token: {cleared}");
    let page = shown.text().await.unwrap();
    let (again, _) = operator.get(&to).await;
    assert_eq!(again, StatusCode::SEE_OTHER, "once shown, the page is gone");
    assert!(!page.contains("<b>Shop</b>") && page.contains("Shop"), "names are escaped");
    let grab = |id: &str| {
        let at = page.find(&format!(r#"id="{id}">"#)).unwrap() + id.len() + 6;
        page[at..at + page[at..].find('<').unwrap()].to_owned()
    };
    let (id, token) = (grab("created-id"), grab("created-token"));
    let settings = app
        .request(
            reqwest::Method::GET,
            &format!("/api/v1/instances/{id}/settings"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(settings.status, 200, "the token shown works");

    let instance_page = operator.get(&format!("/admin/instances/{id}")).await.1;
    assert!(!instance_page.contains(&token), "the token is never shown again");
    let list = operator.get("/admin/instances").await.1;
    assert!(list.contains(&format!(r#"data-instance="{id}""#)));
}

#[tokio::test]
async fn the_instances_list_is_filtered_by_id_or_name() {
    let app = TestApp::spawn().await;
    let florist = app.create_instance(json!({"kind": "sandbox", "name": "Florist Riga"})).await;
    app.create_instance(json!({"kind": "sandbox", "name": "Bakery Tartu"})).await;
    let operator = Operator::sign_in(&app).await;

    let (_, by_name) = operator.get("/admin/instances?q=florist").await;
    assert_eq!(by_name.matches("data-instance=").count(), 1);
    assert!(by_name.contains("Florist Riga") && !by_name.contains("Bakery Tartu"));
    let (_, by_id) = operator.get(&format!("/admin/instances?q={}", florist.id)).await;
    assert!(by_id.contains(&format!(r#"data-instance="{}""#, florist.id)));
    let (_, none) = operator.get("/admin/instances?q=nobody&page=7").await;
    assert!(none.contains("No instance matches “nobody”."), "an empty filter says so");
}

#[tokio::test]
async fn the_read_only_pages_are_complete_without_javascript() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    app.incoming(
        &instance,
        json!({"from": {"id": "cust-1"}, "type": "text", "text": "hi <there>"}),
    )
    .await;
    app.send_ok(&instance, json!({"to": {"id": "cust-1"}, "text": "hello back"})).await;
    app.settle().await;
    let operator = Operator::sign_in(&app).await;

    let (status, chat) =
        operator.get(&format!("/admin/instances/{}/chat?contact=cust-1", instance.id)).await;
    assert_eq!(status, 200);
    assert!(!chat.contains("hi <there>") && chat.contains("hi &"), "the customer's words, escaped");
    assert!(chat.contains("hello back"));
    let (_, page) = operator.get(&format!("/admin/instances/{}", instance.id)).await;
    for part in
        ["Settings", "Outbound queue", "Recent messages", "Recent events", "Webhook deliveries"]
    {
        assert!(page.contains(part), "the instance page shows {part}");
    }
    assert!(page.contains("incomingMessage"), "the events are listed");
    assert!(!page.contains("<script"), "the instance page needs no script");
}

#[tokio::test]
async fn admin_pages_forbid_outside_scripts_framing_and_caching() {
    let app = TestApp::spawn().await;
    let answer = reqwest::get(format!("{}/admin/login", app.base)).await.unwrap();
    let headers = answer.headers();
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'self'"));
    assert!(csp.contains("frame-ancestors 'none'"));
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["cache-control"], "no-store");
    let css = reqwest::get(format!("{}/admin/assets/admin.css", app.base)).await.unwrap();
    assert_eq!(css.status(), 200);
    assert!(css.headers()["content-type"].to_str().unwrap().starts_with("text/css"));
    let html = answer.text().await.unwrap();
    assert!(!html.contains("http://") && !html.contains("https://"), "no outside assets");
}

#[tokio::test]
async fn the_settings_form_changes_the_settings_and_a_bad_value_changes_nothing() {
    let app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    let operator = Operator::sign_in(&app).await;
    let path = format!("/admin/instances/{}/settings", instance.id);
    let saved = operator
        .post(
            &path,
            &[
                ("csrf", operator.csrf.as_str()),
                ("webhook_url", "https://crm.example/hooks"),
                ("delay_send_messages_milliseconds", "1500"),
                ("incoming_webhook", "on"),
            ],
        )
        .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let settings = app.get(&instance, "/settings").await.body;
    assert_eq!(settings["webhookUrl"], "https://crm.example/hooks");
    assert_eq!(settings["delaySendMessagesMilliseconds"], 1500);
    assert_eq!(settings["incomingWebhook"], true);
    assert_eq!(settings["outgoingWebhook"], false, "an unticked box is off");

    let bad = operator
        .post(
            &path,
            &[
                ("csrf", operator.csrf.as_str()),
                ("webhook_url", "http://10.0.0.1/private"),
                ("delay_send_messages_milliseconds", "0"),
            ],
        )
        .await;
    assert!(bad.status().is_client_error(), "{}", bad.status());
    let page = bad.text().await.unwrap();
    assert!(page.contains("id=\"error-message\""), "the reason is on the page");
    assert_eq!(app.get(&instance, "/settings").await.body, settings, "nothing changed");
}

#[tokio::test]
async fn a_live_chat_stream_sends_the_thread_and_ends_at_once_when_the_server_stops() {
    let mut app = TestApp::spawn().await;
    let instance = app.sandbox().await;
    app.incoming(
        &instance,
        json!({"from": {"id": "cust-9"}, "type": "text", "text": "still there?"}),
    )
    .await;
    let operator = Operator::sign_in(&app).await;
    let path = format!("/admin/instances/{}/chat/stream?contact=cust-9", instance.id);
    let mut stream = operator
        .http
        .get(format!("{}{path}", app.base))
        .header(COOKIE, &operator.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert!(stream.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let first = String::from_utf8(stream.chunk().await.unwrap().unwrap().to_vec()).unwrap();
    assert!(first.starts_with("event: thread"), "{first}");
    assert!(first.contains("still there?"), "{first}");

    // A stream lives a minute of real time; the stop must not wait for it.
    assert_eq!(app.take_server().stop().await, chatgate::Stopped::Finished);
    let mut rest = Vec::new();
    while let Ok(Some(chunk)) = stream.chunk().await {
        rest.extend_from_slice(&chunk);
    }
    assert!(
        !String::from_utf8_lossy(&rest).contains("event: thread"),
        "nothing new after the stop"
    );
}

// ---------------------------------------------------------------------------
// In a real browser.

/// A headless Chromium under chromedriver, ended with the test.
struct Browser {
    client: Client,
    _driver: tokio::process::Child,
    _profile: tempfile::TempDir,
}

fn executable(env: &str, default: &str) -> Option<PathBuf> {
    let path = std::env::var_os(env).map(PathBuf::from).unwrap_or_else(|| PathBuf::from(default));
    path.exists().then_some(path)
}

/// Starts chromedriver and a headless Chromium, or says why not: without
/// them the browser tests are skipped, unless `CHATGATE_TEST_REQUIRE_BROWSER`
/// is set (CI), where that is a failure.
async fn browser() -> Option<Browser> {
    let driver = executable("CHATGATE_TEST_CHROMEDRIVER", "/usr/bin/chromedriver");
    let chromium = executable("CHATGATE_TEST_CHROMIUM", "/usr/bin/chromium");
    let (Some(driver), Some(chromium)) = (driver, chromium) else {
        assert!(
            std::env::var_os("CHATGATE_TEST_REQUIRE_BROWSER").is_none(),
            "chromium and chromedriver are required (apt-get install chromium chromium-driver)"
        );
        eprintln!("skipped: no /usr/bin/chromium or /usr/bin/chromedriver");
        return None;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = tokio::process::Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("chromedriver starts");
    // chromedriver is another process: wait (bounded) until it listens.
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let profile = tempfile::tempdir().unwrap();
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1280,900",
                format!("--user-data-dir={}", profile.path().display()),
            ]
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let client = ClientBuilder::new(connector)
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a Chromium session");
    Some(Browser { client, _driver: child, _profile: profile })
}

impl Browser {
    /// Waits (bounded) for an element the page will show.
    async fn shows(&self, css: &str) -> fantoccini::elements::Element {
        match self
            .client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(css))
            .await
        {
            Ok(element) => element,
            Err(error) => {
                let url =
                    self.client.current_url().await.map(|u| u.to_string()).unwrap_or_default();
                let page = self.client.source().await.unwrap_or_default();
                panic!("the page never showed {css}: {error}\nat {url}:\n{page}")
            }
        }
    }

    /// The text of an element the page will show; the live thread may
    /// replace it between finding and reading, so a stale one is found again.
    async fn text_of(&self, css: &str) -> String {
        for _ in 0..20 {
            if let Ok(text) = self.shows(css).await.text().await {
                return text;
            }
        }
        panic!("{css} kept being replaced")
    }

    async fn fill(&self, css: &str, text: &str) {
        let field = self.shows(css).await;
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    async fn click(&self, css: &str) {
        self.shows(css).await.click().await.unwrap();
    }

    async fn sign_in(&self, app: &TestApp) {
        self.client.goto(&format!("{}/admin", app.base)).await.unwrap();
        self.fill("#token", &app.partner_token).await;
        self.click("#sign-in").await;
        self.shows("#instances").await;
    }

    /// Saves a screenshot as a test artifact (`target/test-artifacts/`).
    async fn screenshot(&self, name: &str) -> PathBuf {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/test-artifacts");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, self.client.screenshot().await.unwrap()).unwrap();
        path
    }
}

#[tokio::test]
async fn in_a_browser_the_operator_creates_an_instance_and_chats_until_the_reply_is_read() {
    let Some(browser) = browser().await else { return };
    let app = TestApp::spawn().await;
    browser.sign_in(&app).await;

    browser.fill("#new-name", "Browser shop").await;
    browser.click("#create").await;
    let id = browser.text_of("#created-id").await;
    let token = browser.text_of("#created-token").await;
    assert!(!token.is_empty());
    browser.click("#open-chat").await;

    browser.fill("#customer-text", "Do you ship to Lisbon?").await;
    browser.click("#customer-send").await;
    browser.shows(".bubble.customer").await;
    browser.fill("#reply-text", "Yes, in two days.").await;
    browser.click("#reply-send").await;
    assert_eq!(browser.text_of(".bubble.business .status").await, "queued");
    // The live stream is up before anything else happens.
    browser.shows("#thread[data-connected=yes]").await;

    // The worker sends it and the sandbox's customer receives and reads it;
    // the page learns of it only through its stream.
    app.advance(Duration::from_secs(60)).await;
    assert_eq!(browser.text_of(".bubble.business .status-read").await, "read");
    browser.shows("#thread[data-live=yes]").await;
    let shot = browser.screenshot("admin-sandbox-chat").await;
    assert!(std::fs::metadata(&shot).unwrap().len() > 1000, "a real screenshot");

    // The API tells the same story as the page.
    let bubble = browser.shows(".bubble.business").await;
    let message_id = bubble.attr("data-message").await.unwrap().unwrap();
    let path = format!("/api/v1/instances/{id}/messages/{message_id}");
    let message = app.request(reqwest::Method::GET, &path, Some(&token), None).await;
    assert_eq!(message.status, 200, "{}", message.body);
    assert_eq!(message.body["status"], "read");
    assert_eq!(message.body["text"], "Yes, in two days.");
    let _ = browser.client.clone().close().await;
}

#[tokio::test]
async fn in_a_browser_the_operator_redelivers_a_dead_webhook_delivery() {
    let Some(browser) = browser().await else { return };
    let app = TestApp::spawn().await;
    let receiver = TestReceiver::start().await;
    receiver.respond_with(500);
    let instance = app.sandbox().await;
    browser.sign_in(&app).await;

    // The webhook is set through the settings form.
    browser.client.goto(&format!("{}/admin/instances/{}", app.base, instance.id)).await.unwrap();
    browser.fill("input[name=webhook_url]", &receiver.url).await;
    browser.click("#save-settings").await;
    browser.shows("#notice").await;
    let event = app.customer_writes(&instance, "are you there?").await;
    // Every retry fails until the notification is dead (the session, 12 h,
    // expires on the way: the operator signs in again).
    app.advance(Duration::from_secs(40 * 3600)).await;
    assert_eq!(receiver.received().len(), 8);
    receiver.respond_with(200);

    browser.sign_in(&app).await;
    browser.client.goto(&format!("{}/admin/instances/{}", app.base, instance.id)).await.unwrap();
    let row = format!("tr[data-event='{event}']");
    let state = browser.text_of(&format!("{row} .delivery")).await;
    assert_eq!(state, "dead");
    let attempts =
        browser.client.find_all(Locator::Css(&format!("{row} ol.attempts li"))).await.unwrap();
    assert_eq!(attempts.len(), 8, "every attempt is listed");
    browser.click(&format!("{row} button.redeliver")).await;
    browser.shows("#notice").await;
    app.settle().await;

    let last = receiver.received().pop().unwrap();
    assert_eq!(last.header("webhook-id"), Some(event.as_str()));
    assert_eq!(last.body["data"]["text"], "are you there?");
    browser.client.refresh().await.unwrap();
    let states: Vec<String> = futures::future::join_all(
        browser
            .client
            .find_all(Locator::Css(&format!("{row} .delivery")))
            .await
            .unwrap()
            .iter()
            .map(|e| async move { e.text().await.unwrap() }),
    )
    .await;
    assert!(states.contains(&"delivered".to_owned()), "{states:?}");
    browser.screenshot("admin-redelivered").await;
    let _ = browser.client.clone().close().await;
}
