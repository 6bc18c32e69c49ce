//! Redaction: an instance's whole working day — created, connected,
//! configured, its webhook secret rotated, sending and receiving, pushing
//! to its receiver, failing in every way a caller can make it fail — and
//! not one secret in the logs, the webhook bodies, the error messages, the
//! stored delivery log and journal, or the database itself.
//!
//! Each secret is also shown to have been live (the receiver saw the URL
//! token, the Graph API saw the access token, the pushes verify with the
//! webhook secret), so the test cannot pass by not using them.

use chatgate::config::LogFormat;
use chatgate_e2e::{
    APP_SECRET, CUSTOMER, FakeGraph, IG_ACCOUNT, IG_TOKEN, LogBuffer, TestApp, TestReceiver,
    on_postgres,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tracing_subscriber::EnvFilter;

/// A secret of the scenario, by name, for the failure message.
struct Secret {
    name: &'static str,
    value: String,
}

/// Everything a person other than the secret's owner could read.
#[derive(Default)]
struct Exposed {
    places: Vec<(String, Vec<u8>)>,
}

impl Exposed {
    fn add(&mut self, place: impl Into<String>, text: impl AsRef<[u8]>) {
        self.places.push((place.into(), text.as_ref().to_vec()));
    }

    fn answer(&mut self, what: &str, response: (StatusCode, String)) {
        let (status, body) = response;
        assert!(status.is_client_error(), "{what} should be refused, got {status}: {body}");
        self.add(format!("the error answer to {what}"), body);
    }

    /// Panics naming the place of the first secret found anywhere.
    fn assert_holds_none_of(&self, secrets: &[Secret]) {
        for secret in secrets {
            assert!(secret.value.len() >= 16, "{} is too short to search for", secret.name);
            for (place, text) in &self.places {
                let found = text.windows(secret.value.len()).any(|w| w == secret.value.as_bytes());
                assert!(!found, "the {} appears in {place}", secret.name);
            }
        }
    }
}

async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, String) {
    let mut request = app.raw(method, path);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

/// The text of every row of every table of the run's database: on SQLite
/// the raw bytes of the database file and its write-ahead log (so even a
/// freed page would show), on PostgreSQL every row cast to text.
async fn database_contents(app: &TestApp) -> Vec<(String, Vec<u8>)> {
    if on_postgres() {
        let rows = crate::instagram::postgres_rows(app.config.database_url.expose()).await;
        vec![("the database's rows (every table)".to_owned(), rows.into_bytes())]
    } else {
        let mut contents = Vec::new();
        for name in ["chatgate.db", "chatgate.db-wal"] {
            let path = app.config.data_dir.join(name);
            if let Ok(bytes) = std::fs::read(&path) {
                contents.push((format!("the database file {name}"), bytes));
            }
        }
        assert!(!contents.is_empty(), "no database file in {}", app.config.data_dir.display());
        contents
    }
}

#[tokio::test(flavor = "current_thread")]
async fn no_secret_reaches_a_log_a_webhook_an_error_or_the_database() {
    let buffer = LogBuffer::default();
    let writer = buffer.clone();
    let subscriber = chatgate::commands::subscriber(
        EnvFilter::new("debug"),
        LogFormat::Json,
        false,
        move || writer.clone(),
    );
    let _guard = tracing::subscriber::set_default(subscriber);

    let graph = FakeGraph::start().await;
    let receiver = TestReceiver::start().await;
    let app = TestApp::spawn_meta_with(&graph, |config| {
        config.partner_token = "partner-token-of-the-operator-0a1b2c3d".into();
    })
    .await;
    let url_token = "url-token-of-the-receiver-9f8e7d6c5b4a";
    let mut exposed = Exposed::default();

    // An instagram instance pushing to the receiver with a URL token, and a
    // sandbox instance configured through GREEN-API (its token in the path).
    let shop = app
        .instagram_with(&graph, json!({"webhookUrl": receiver.url, "webhookUrlToken": url_token}))
        .await;
    let sandbox = app.sandbox().await;
    let green = format!("/waInstance{}/setSettings/{}", sandbox.id, sandbox.token);
    let set =
        call(&app, Method::POST, &green, None, Some(json!({"webhookUrlToken": url_token}))).await;
    assert_eq!(set.0, StatusCode::OK, "{}", set.1);

    // The owner reads the webhook secret, rotates it, and reads the new one.
    let path = format!("/api/v1/instances/{}/settings", shop.id);
    let first: Value =
        serde_json::from_str(&call(&app, Method::GET, &path, Some(&shop.token), None).await.1)
            .unwrap();
    let rotate = format!("/api/v1/instances/{}/settings/webhook-secret", shop.id);
    let rotated: Value =
        serde_json::from_str(&call(&app, Method::POST, &rotate, Some(&shop.token), None).await.1)
            .unwrap();
    let (old_secret, new_secret) = (
        first["webhookSecret"].as_str().unwrap().to_owned(),
        rotated["webhookSecret"].as_str().unwrap().to_owned(),
    );
    assert_ne!(old_secret, new_secret);

    // A day of work: a reply sent, the customer writes, everything pushed.
    let message = app.send_ok(&shop, json!({"to": {"id": CUSTOMER}, "text": "hello"})).await;
    app.settle().await;
    app.customer_writes_on_instagram(CUSTOMER, "thanks").await;
    app.push_all().await;

    // Every way a caller fails: a token off by one character, a GREEN-API
    // call with it, a connection whose access token Meta refuses, a URL
    // token that is not printable (its value must not be echoed), a Meta
    // webhook signed with another secret.
    let near = format!("{}x", &shop.token[..shop.token.len() - 1]);
    let messages = format!("/api/v1/instances/{}/messages", shop.id);
    let body = json!({"to": {"id": CUSTOMER}, "text": "hi"});
    exposed.answer(
        "a send with a wrong token",
        call(&app, Method::POST, &messages, Some(&near), Some(body)).await,
    );
    let green_state = format!("/waInstance{}/getStateInstance/{}", sandbox.id, near);
    exposed.answer(
        "a GREEN-API call with a wrong token",
        call(&app, Method::GET, &green_state, None, None).await,
    );
    let refused_token = "IGAArefused0access0token0of0another0app0000000000";
    let connection = format!("/api/v1/instances/{}/connection", shop.id);
    exposed.answer(
        "a connection Meta refuses",
        call(
            &app,
            Method::PUT,
            &connection,
            Some(&shop.token),
            Some(json!({"accountId": IG_ACCOUNT, "accessToken": refused_token})),
        )
        .await,
    );
    let bad_url_token = "url-token-with-a-newline-1234\n5678";
    let bad_url_token_text = &bad_url_token[..bad_url_token.find('\n').unwrap()];
    exposed.answer(
        "a URL token that is not printable",
        call(
            &app,
            Method::PATCH,
            &path,
            Some(&shop.token),
            Some(json!({"webhookUrlToken": bad_url_token})),
        )
        .await,
    );
    let forged = chatgate_connectors::meta::webhook::sign("another-app-secret-0000", b"{}");
    let meta = app
        .raw(Method::POST, "/webhooks/meta")
        .header("x-hub-signature-256", forged)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    exposed.answer(
        "a Meta webhook signed with another secret",
        (meta.status(), meta.text().await.unwrap()),
    );

    // Meta revokes the access token: the next send fails and the instance
    // says why, in words that name no token.
    graph.revoke(IG_TOKEN);
    app.send_ok(&shop, json!({"to": {"id": CUSTOMER}, "text": "still there?"})).await;
    app.settle().await;
    app.push_all().await;
    let path = format!("/api/v1/instances/{}", shop.id);
    let instance = call(&app, Method::GET, &path, Some(&app.partner_token), None).await;
    assert!(instance.1.contains("notAuthorized"), "{}", instance.1);
    // (That view is the operator's, and shows the settings whole,
    // webhookUrlToken included, as GREEN-API's getSettings does: not
    // counted as exposed.)

    // The secrets were live.
    let pushes = receiver.received();
    assert!(pushes.len() >= 3, "sent, incoming and state change pushed: {}", pushes.len());
    let authorization = format!("Bearer {url_token}");
    assert!(pushes.iter().all(|p| p.header("authorization") == Some(authorization.as_str())));
    let signer = standardwebhooks::Webhook::new(&new_secret).unwrap();
    for push in &pushes {
        let id = push.header("webhook-id").unwrap();
        let at = push.header("webhook-timestamp").unwrap().parse().unwrap();
        let expected = signer.sign(id, at, &push.raw).unwrap();
        let signatures = push.header("webhook-signature").unwrap();
        assert!(signatures.split(' ').any(|s| s == expected), "signed with the rotated secret");
    }
    assert!(graph.calls().iter().any(|c| c.token.as_deref() == Some(IG_TOKEN)));
    let message_path = format!("/api/v1/instances/{}/messages/{message}", shop.id);
    assert!(
        call(&app, Method::GET, &message_path, Some(&shop.token), None).await.1.contains("sent")
    );

    // What anyone but the owner could read: the receiver's bodies, the
    // delivery log and the journal (what an operator's screen shows), the
    // logs, and the database.
    for push in &pushes {
        exposed.add("a webhook body", &push.raw);
    }
    for what in ["deliveries", "events"] {
        let path = format!("/api/v1/instances/{}/{what}", shop.id);
        let (status, body) = call(&app, Method::GET, &path, Some(&shop.token), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        exposed.add(format!("the stored {what}"), body);
    }
    let database = database_contents(&app).await;
    let holds = |text: &str| {
        database.iter().any(|(_, c)| c.windows(text.len()).any(|w| w == text.as_bytes()))
    };
    assert!(holds("thanks") && holds(IG_ACCOUNT), "the scan reads the stored rows");
    for (place, contents) in database {
        exposed.add(place, contents);
    }
    let partner_token = app.partner_token.clone();
    app.stop().await;
    let log = buffer.bytes();
    assert!(
        String::from_utf8_lossy(&log).contains("webhook secret rotated"),
        "the log was captured"
    );
    exposed.add("the log", log);

    let key_part = |secret: &str| secret.trim_start_matches("whsec_").to_owned();
    exposed.assert_holds_none_of(&[
        Secret { name: "instagram instance's API token", value: shop.token.clone() },
        Secret { name: "sandbox instance's API token", value: sandbox.token.clone() },
        Secret { name: "partner token", value: partner_token },
        Secret { name: "access token", value: IG_TOKEN.into() },
        Secret { name: "refused access token", value: refused_token.into() },
        Secret { name: "Meta app secret", value: APP_SECRET.into() },
        Secret { name: "webhook URL token", value: url_token.into() },
        Secret { name: "refused webhook URL token", value: bad_url_token_text.into() },
        Secret { name: "webhook secret", value: key_part(&new_secret) },
        Secret { name: "rotated-out webhook secret", value: key_part(&old_secret) },
    ]);
}
