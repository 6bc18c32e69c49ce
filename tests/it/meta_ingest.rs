//! Meta's webhook, `/webhooks/meta`, end to end: the subscription
//! handshake, the signature, routing by account, deduplication, reads,
//! echoes and profile lookups. Every fixture of the connector goes through
//! it, and through the Huawei push endpoint, which shares the ingest.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use chatgate_connectors::meta::webhook::sign;
use chatgate_e2e::{
    APP_SECRET, Answer, CUSTOMER, FakeGraph, IG_ACCOUNT, TestApp, TestInstance, VERIFY_TOKEN,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::huawei::{Credentials, push};

/// A second Instagram account, with an entry of its own in `batch.json`.
pub(crate) const OTHER_ACCOUNT: &str = "17841400000000001";
/// The customer writing in `batch.json`'s standby thread.
const OTHER_CUSTOMER: &str = "6543210987654321";

/// The connector's fixtures: Meta's Instagram webhook bodies.
fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/connectors/src/meta/testdata/instagram")
}

/// Every fixture's name (without `.json`), sorted.
fn fixture_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(testdata())
        .unwrap()
        .map(|file| file.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| path.file_stem().unwrap().to_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

/// A fixture's bytes as Meta sends them (signed as they are, never
/// re-serialised).
pub(crate) fn fixture_body(name: &str) -> Vec<u8> {
    let path = testdata().join(format!("{name}.json"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The fixtures' mids share this prefix and end in a readable suffix.
pub(crate) fn mid(suffix: &str) -> String {
    format!(
        "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDAwMDAwMDAwMDAwOjM0MDI4MjM2Njg0MTcxMDMwMTI0NDI1OTk2MjM0MTg3NjI{suffix}"
    )
}

/// The fixtures' attachment URLs.
fn cdn(asset: &str) -> String {
    format!("https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id={asset}&signature=AbzK3f0x9Yq")
}

/// An expected journal event: its type and the data fields that matter.
pub(crate) fn event(kind: &str, data: Value) -> Value {
    json!({"type": kind, "data": data})
}

/// Whether `actual` has every field of `expected` with its value,
/// recursively (an expected `null` also matches an absent field).
fn includes(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::Object(actual), Value::Object(expected)) => expected
            .iter()
            .all(|(key, want)| actual.get(key).map_or(want.is_null(), |have| includes(have, want))),
        _ => actual == expected,
    }
}

/// Asserts that the events are, one for one and in order, the expected ones.
pub(crate) fn assert_events(events: &[Value], expected: &[Value], context: &str) {
    let kinds = |events: &[Value]| -> Vec<String> {
        events.iter().map(|e| e["type"].as_str().unwrap_or_default().to_owned()).collect()
    };
    assert_eq!(kinds(events), kinds(expected), "{context}: {events:#?}");
    for (have, want) in events.iter().zip(expected) {
        assert!(includes(have, want), "{context}: {have:#}\ndoes not include\n{want:#}");
    }
}

/// What ingest journaled for the instance, oldest first: the whole journal
/// (page by page) but the `stateChanged` of its connection.
pub(crate) async fn stored(app: &TestApp, instance: &TestInstance) -> Vec<Value> {
    let mut events = Vec::new();
    let mut after = 0;
    loop {
        let answer = app.get(instance, &format!("/events?afterSeq={after}&limit=1000")).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        let page = answer.body["events"].as_array().cloned().unwrap_or_default();
        let Some(last) = page.last() else { break };
        after = last["seq"].as_u64().unwrap();
        events.extend(page.into_iter().filter(|e| e["type"] != "stateChanged"));
    }
    events
}

/// How many entries for accounts no instance is connected to were dropped.
pub(crate) fn unknown_accounts(app: &TestApp) -> u64 {
    app.app().meta.unknown_accounts.load(Ordering::Relaxed)
}

/// A second instagram instance, connected to [`OTHER_ACCOUNT`].
pub(crate) async fn other_instagram(app: &TestApp, graph: &FakeGraph) -> TestInstance {
    let token = "IGAAother0access0token0for0the0second0account0123456";
    graph.account(token, OTHER_ACCOUNT, "red.scarves");
    let instance = app
        .create_instance(json!({
            "kind": "instagram",
            "name": "other shop",
            "settings": {"delaySendMessagesMilliseconds": 0},
            "connection": {"accountId": OTHER_ACCOUNT, "accessToken": token},
        }))
        .await;
    assert_eq!(instance.body["state"], "authorized", "{}", instance.body);
    instance
}

/// A delivery for `account` carrying these messaging events.
pub(crate) fn delivery(account: &str, messaging: Vec<Value>) -> Value {
    json!({
        "object": "instagram",
        "entry": [{"id": account, "time": 1_767_225_600_000_u64, "messaging": messaging}],
    })
}

/// A customer's text as a messaging event.
pub(crate) fn text_from(customer: &str, mid: &str, text: &str) -> Value {
    json!({
        "sender": {"id": customer},
        "recipient": {"id": IG_ACCOUNT},
        "timestamp": 1_767_225_600_000_u64,
        "message": {"mid": mid, "text": text},
    })
}

/// Posts `body` to `/webhooks/meta` with this signature header (or none).
async fn post_with_signature(app: &TestApp, body: &[u8], signature: Option<&str>) -> Answer {
    let mut request = app
        .raw(Method::POST, "/webhooks/meta")
        .header("content-type", "application/json")
        .body(body.to_vec());
    if let Some(signature) = signature {
        request = request.header("x-hub-signature-256", signature);
    }
    TestApp::answer(request.send().await.unwrap()).await
}

/// Meta delivers these exact bytes, signed; asserts 200.
async fn delivers(app: &TestApp, body: &[u8]) {
    let answer = app.post_signed("/webhooks/meta", body).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
}

/// The handshake's status and raw body.
async fn handshake(app: &TestApp, query: &str) -> (StatusCode, String) {
    let response = app.raw(Method::GET, &format!("/webhooks/meta?{query}")).send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

/// What one fixture leaves in the journal of the instance connected to the
/// fixture's account (`here`), and what its entries for other accounts
/// carry (`elsewhere`, `other_entries` of them): `/webhooks/meta` drops and
/// counts those, the Huawei endpoint given a chanId takes them for it.
struct Case {
    fixture: &'static str,
    here: Vec<Value>,
    elsewhere: Vec<Value>,
    other_entries: u64,
}

fn case(fixture: &'static str, here: Vec<Value>) -> Case {
    Case { fixture, here, elsewhere: Vec::new(), other_entries: 0 }
}

/// One case per fixture.
fn table() -> Vec<Case> {
    let customer = json!({"id": CUSTOMER});
    let jane = json!({"id": CUSTOMER, "username": "jane.doe"});
    let text = |m: &str, text: &str| {
        event(
            "incomingMessage",
            json!({"messageId": m, "from": customer, "kind": "text", "text": text}),
        )
    };
    vec![
        Case {
            fixture: "batch",
            here: vec![
                text(&mid("b1"), "First"),
                event(
                    "incomingReaction",
                    json!({"messageId": mid("b0"), "reaction": "\u{1f44d}", "action": "react"}),
                ),
                event(
                    "incomingMessage",
                    json!({"messageId": mid("b2"), "from": {"id": OTHER_CUSTOMER}, "kind": "text"}),
                ),
            ],
            elsewhere: vec![
                event(
                    "incomingMessage",
                    json!({"messageId": mid("b3"), "kind": "audio", "media": {"url": cdn("17951234567890077")}}),
                ),
                event(
                    "outgoingMessage",
                    json!({"messageId": mid("b4"), "to": customer, "text": "Got it, thanks!"}),
                ),
            ],
            other_entries: 1,
        },
        case(
            "comment_changes",
            vec![event(
                "incomingComment",
                json!({"commentId": "17865799348089039", "from": jane, "text": "Love this! How much?",
                       "mediaId": "18012345678901234", "parentId": null}),
            )],
        ),
        case(
            "comment_flat",
            vec![event(
                "incomingComment",
                json!({"commentId": "17865799348089040", "from": jane, "text": "Is it waterproof?",
                       "parentId": "17865799348089039"}),
            )],
        ),
        case(
            "deleted",
            vec![event("messageDeleted", json!({"messageId": mid("deleted"), "from": customer}))],
        ),
        case(
            "echo",
            vec![event(
                "outgoingMessage",
                json!({"messageId": mid("echo"), "to": customer, "kind": "text",
                       "text": "Thanks for reaching out! We'll reply shortly."}),
            )],
        ),
        case(
            "edit",
            vec![event(
                "messageEdited",
                json!({"messageId": mid("text"), "from": customer,
                       "text": "Hi! Is the red jacket still available?", "edits": 1}),
            )],
        ),
        case(
            "image",
            vec![event(
                "incomingMessage",
                json!({"messageId": mid("image"), "kind": "image", "text": null,
                       "media": {"url": cdn("17951234567890123")}}),
            )],
        ),
        case(
            "live_comment",
            vec![event(
                "incomingComment",
                json!({"commentId": "17865799348089041", "text": "Hello from Porto!",
                       "mediaId": "18098765432109876"}),
            )],
        ),
        case(
            "multiple_attachments",
            vec![
                event(
                    "incomingMessage",
                    json!({"messageId": mid("multi"), "kind": "image",
                           "text": "Here are the photos of the damage",
                           "media": {"url": cdn("17951234567890001")}}),
                ),
                event(
                    "incomingMessage",
                    json!({"messageId": format!("{}#2", mid("multi")), "kind": "image",
                           "text": null, "media": {"url": cdn("17951234567890002")}}),
                ),
                event(
                    "incomingMessage",
                    json!({"messageId": format!("{}#3", mid("multi")), "kind": "video",
                           "text": null, "media": {"url": cdn("17951234567890003")}}),
                ),
            ],
        ),
        case("own_comment", vec![]),
        case(
            "postback",
            vec![event(
                "postback",
                json!({"messageId": mid("postback"), "from": customer,
                       "title": "Talk to a human", "payload": "HUMAN_AGENT"}),
            )],
        ),
        case(
            "quick_reply",
            vec![event(
                "incomingMessage",
                json!({"messageId": mid("quick"), "text": "Track my order",
                       "quickReplyPayload": "TRACK_ORDER"}),
            )],
        ),
        case(
            "reaction",
            vec![event(
                "incomingReaction",
                json!({"messageId": mid("echo"), "from": customer,
                       "reaction": "\u{2764}\u{fe0f}", "action": "react"}),
            )],
        ),
        // A read of a message the gateway did not send changes nothing; see
        // `a_read_marks_the_gateways_message_with_that_mid_read`.
        case("read", vec![]),
        case(
            "referral",
            vec![event(
                "referral",
                json!({"from": customer, "referral": {"ref": "summer_sale", "source": "ADS",
                       "type": "OPEN_THREAD", "adId": "120210000000000001", "productId": null}}),
            )],
        ),
        case(
            "referral_product",
            vec![event(
                "incomingMessage",
                json!({"messageId": mid("product"), "text": "Do you ship to Lisbon?",
                       "referral": {"productId": "7026231504126848", "ref": null}}),
            )],
        ),
        case(
            "reply_to",
            vec![event(
                "incomingMessage",
                json!({"messageId": mid("reply"), "text": "Yes, size M please",
                       "replyTo": mid("question"), "story": null}),
            )],
        ),
        case(
            "seconds_timestamp",
            vec![
                text(&mid("seconds"), "Hello?"),
                event(
                    "postback",
                    json!({"messageId": format!("postback:{CUSTOMER}:1719830401000"),
                           "payload": "GET_STARTED"}),
                ),
            ],
        ),
        Case {
            fixture: "seed_001",
            here: vec![],
            elsewhere: vec![event(
                "messageDeleted",
                json!({"messageId": "MESSAGE-ID", "from": {"id": "IGSID"}}),
            )],
            other_entries: 1,
        },
        case(
            "share_reel",
            vec![event(
                "incomingMessage",
                json!({"messageId": mid("reel"), "kind": "share",
                       "media": {"url": cdn("18023456789012345")}, "story": null}),
            )],
        ),
        case(
            "story_mention",
            vec![event(
                "incomingMessage",
                json!({"messageId": mid("mention"), "kind": "storyMention",
                       "story": {"id": "18034567890123456", "url": cdn("18034567890123456")}}),
            )],
        ),
        case(
            "story_reply",
            vec![event(
                "incomingMessage",
                json!({"messageId": mid("storyreply"), "kind": "text", "text": "Where can I buy this?",
                       "replyTo": null,
                       "story": {"id": "18045678901234567", "url": cdn("18045678901234567")}}),
            )],
        ),
        case("text", vec![text(&mid("text"), "Hi! Is the blue jacket still available?")]),
        case(
            "unknown_kind",
            vec![
                event(
                    "raw",
                    json!({"kind": "optin", "raw": {"sender": customer,
                           "optin": {"payload": "WEEKLY_DEALS"}}}),
                ),
                event(
                    "raw",
                    json!({"kind": "mentions", "raw": {"comment_id": "17865799348089050"}}),
                ),
            ],
        ),
        case(
            "unreact",
            vec![event(
                "incomingReaction",
                json!({"messageId": mid("echo"), "action": "unreact", "reaction": null}),
            )],
        ),
        case(
            "unsupported",
            vec![event(
                "incomingMessage",
                json!({"messageId": mid("unsupported"), "kind": "unsupported",
                       "text": null, "media": null}),
            )],
        ),
    ]
}

#[test]
fn the_table_has_one_case_for_every_fixture() {
    let cases: Vec<String> = table().iter().map(|c| c.fixture.to_owned()).collect();
    assert_eq!(cases, fixture_names());
}

#[tokio::test]
async fn the_handshake_answers_the_challenge_with_the_right_verify_token() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn_meta(&graph).await;
    let response = app
        .raw(
            Method::GET,
            &format!(
                "/webhooks/meta?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1158201444"
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    assert_eq!(response.text().await.unwrap(), "1158201444", "the challenge, raw");
}

#[tokio::test]
async fn the_handshake_is_forbidden_with_a_wrong_verify_token_or_mode() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn_meta(&graph).await;
    for query in [
        "hub.mode=subscribe&hub.verify_token=not-the-token&hub.challenge=42",
        "hub.mode=subscribe&hub.verify_token=&hub.challenge=42",
        "hub.mode=subscribe&hub.challenge=42",
        &format!("hub.mode=unsubscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=42"),
    ] {
        let (status, body) = handshake(&app, query).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{query}: {body}");
        assert!(!body.contains("42"), "{query}: the challenge must not be echoed: {body}");
    }
}

#[tokio::test]
async fn the_handshake_is_forbidden_when_no_verify_token_is_configured() {
    let graph = FakeGraph::start().await;
    let app =
        TestApp::spawn_meta_with(&graph, |config| config.meta.verify_token = Default::default())
            .await;
    for query in [
        "hub.mode=subscribe&hub.verify_token=&hub.challenge=42",
        "hub.mode=subscribe&hub.challenge=42",
        &format!("hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=42"),
    ] {
        let (status, body) = handshake(&app, query).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{query}: {body}");
        assert!(body.contains("meta.verify_token"), "says what to configure: {body}");
    }
}

#[tokio::test]
async fn every_fixture_delivered_to_the_webhook_is_journaled_for_its_accounts_instance() {
    // One server per fixture: each has its own instance of the account.
    for case in table() {
        let graph = FakeGraph::start().await;
        let app = TestApp::spawn_meta(&graph).await;
        let instance = app.instagram(&graph).await;
        let answer = app.post_signed("/webhooks/meta", &fixture_body(case.fixture)).await;
        assert_eq!(answer.status, StatusCode::OK, "{}: {}", case.fixture, answer.body);
        assert_events(&stored(&app, &instance).await, &case.here, case.fixture);
        assert_eq!(unknown_accounts(&app), case.other_entries, "{}", case.fixture);
        app.stop().await;
    }
}

#[tokio::test]
async fn every_fixture_pushed_to_a_huawei_channel_gives_the_same_events() {
    for case in table() {
        let graph = FakeGraph::start().await;
        let app = TestApp::spawn_meta(&graph).await;
        let instance = app.instagram(&graph).await;
        let path = format!("/apiaccess/api/instagram/message/{}", instance.id);
        let answer =
            push(&app, &path, &fixture_body(case.fixture), Credentials::Bearer(&instance.token))
                .await;
        assert_eq!(answer.status, StatusCode::OK, "{}: {}", case.fixture, answer.body);
        assert_eq!(answer.body, json!({"resultMsg": "200"}), "{}", case.fixture);
        // The channel takes every entry, whatever its account.
        let expected: Vec<Value> = case.here.iter().chain(&case.elsewhere).cloned().collect();
        assert_events(&stored(&app, &instance).await, &expected, case.fixture);
        assert_eq!(unknown_accounts(&app), 0, "{}", case.fixture);
        app.stop().await;
    }
}

#[tokio::test]
async fn the_entries_of_one_delivery_go_to_the_instance_of_each_account() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn_meta(&graph).await;
    let first = app.instagram(&graph).await;
    let second = other_instagram(&app, &graph).await;
    let answer = app.post_signed("/webhooks/meta", &fixture_body("batch")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let batch = table().remove(0);
    assert_eq!(batch.fixture, "batch");
    assert_events(&stored(&app, &first).await, &batch.here, "the first account");
    assert_events(&stored(&app, &second).await, &batch.elsewhere, "the second account");
    assert_eq!(unknown_accounts(&app), 0);
}

#[tokio::test]
async fn a_read_marks_the_gateways_message_with_that_mid_read() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn_meta(&graph).await;
    let instance = app.instagram(&graph).await;
    app.customer_writes_on_instagram(CUSTOMER, "Is the blue jacket in stock?").await;
    let id = app.send_ok(&instance, json!({"to": {"id": CUSTOMER}, "text": "Yes, in M!"})).await;
    app.settle().await;
    let sent = app.message(&instance, &id).await;
    assert_eq!(sent["status"], "sent", "{sent}");
    assert_eq!(sent["providerMessageId"], graph.last_mid(), "{sent}");

    // A read of another message changes nothing.
    delivers(&app, &fixture_body("read")).await;
    assert_eq!(app.message(&instance, &id).await["status"], "sent");

    let read = json!({
        "sender": {"id": CUSTOMER},
        "recipient": {"id": IG_ACCOUNT},
        "timestamp": 1_767_225_601_000_u64,
        "read": {"mid": graph.last_mid()},
    });
    app.meta_delivers(&delivery(IG_ACCOUNT, vec![read])).await;
    let message = app.message(&instance, &id).await;
    assert_eq!(message["status"], "read", "{message}");
    assert_eq!(chatgate_e2e::statuses(&message).last().map(String::as_str), Some("read"));
    let last = stored(&app, &instance).await.pop().unwrap();
    assert_events(
        &[last],
        &[event("messageStatus", json!({"messageId": id, "status": "read"}))],
        "the read is journaled as the message's status",
    );
}

/// Asserts a delivery was refused with 401 and nothing was stored.
async fn refused_unsigned(app: &TestApp, instance: &TestInstance, answer: Answer, why: &str) {
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{why}: {}", answer.body);
    assert_eq!(answer.body["code"], "unauthorized", "{why}: {}", answer.body);
    assert_eq!(stored(app, instance).await, Vec::<Value>::new(), "{why}: nothing stored");
}

#[tokio::test]
async fn a_delivery_with_a_wrong_signature_is_refused_and_nothing_is_stored() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn_meta(&graph).await;
    let instance = app.instagram(&graph).await;
    let body = fixture_body("text");
    for signature in [
        sign("another-app-secret", &body),
        format!("sha256={}", "0".repeat(64)),
        "sha256=not-hex".to_owned(),
        sign(APP_SECRET, &body).replace("sha256=", "sha1="),
    ] {
        let answer = post_with_signature(&app, &body, Some(&signature)).await;
        refused_unsigned(&app, &instance, answer, &signature).await;
    }
    // The same body, rightly signed, is taken: the signature was the reason.
    delivers(&app, &body).await;
    assert_eq!(stored(&app, &instance).await.len(), 1);
}

#[tokio::test]
async fn a_delivery_without_a_signature_is_refused_and_nothing_is_stored() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn_meta(&graph).await;
    let instance = app.instagram(&graph).await;
    let body = fixture_body("text");
    let answer = post_with_signature(&app, &body, None).await;
    refused_unsigned(&app, &instance, answer, "no header").await;
    let answer = post_with_signature(&app, &body, Some("")).await;
    refused_unsigned(&app, &instance, answer, "an empty header").await;
}

#[tokio::test]
async fn a_signature_over_another_body_is_refused_and_nothing_is_stored() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn_meta(&graph).await;
    let instance = app.instagram(&graph).await;
    let body = fixture_body("text");
    let answer =
        post_with_signature(&app, &body, Some(&sign(APP_SECRET, &fixture_body("image")))).await;
    refused_unsigned(&app, &instance, answer, "another fixture's signature").await;
    // One byte changed after signing (whitespace: still the same JSON).
    let mut changed = body.clone();
    changed.push(b'\n');
    let answer = post_with_signature(&app, &changed, Some(&sign(APP_SECRET, &body))).await;
    refused_unsigned(&app, &instance, answer, "a trailing newline added").await;
}

#[tokio::test]
async fn without_an_app_secret_every_delivery_is_refused_and_nothing_is_stored() {
    let graph = FakeGraph::start().await;
    let app =
        TestApp::spawn_meta_with(&graph, |config| config.meta.app_secret = Default::default())
            .await;
    let instance = app.instagram(&graph).await;
    let body = fixture_body("text");
    for signature in [sign(APP_SECRET, &body), sign("", &body)] {
        let answer = post_with_signature(&app, &body, Some(&signature)).await;
        assert!(answer.body["detail"].as_str().unwrap().contains("meta.app_secret"));
        refused_unsigned(&app, &instance, answer, &signature).await;
    }
}

#[tokio::test]
async fn a_body_that_is_not_a_json_object_is_refused_and_nothing_is_stored() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn_meta(&graph).await;
    let instance = app.instagram(&graph).await;
    let text = fixture_body("text");
    for body in [&b"not json"[..], b"", b"[]", b"\"instagram\"", &text[..text.len() - 2]] {
        let answer = app.post_signed("/webhooks/meta", body).await;
        let shown = String::from_utf8_lossy(body);
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{shown}: {}", answer.body);
        assert_eq!(answer.body["code"], "invalid_request", "{shown}: {}", answer.body);
    }
    assert_eq!(stored(&app, &instance).await, Vec::<Value>::new());
}

#[tokio::test]
async fn an_entry_for_an_unknown_account_is_answered_200_stored_nowhere_and_counted() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn_meta(&graph).await;
    let instance = app.instagram(&graph).await;
    let sandbox = app.sandbox().await;
    let unknown = "17841499999999999";
    let answer = app
        .post_signed(
            "/webhooks/meta",
            delivery(unknown, vec![text_from(CUSTOMER, "mid.unknown.1", "Hello?")])
                .to_string()
                .as_bytes(),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(stored(&app, &instance).await, Vec::<Value>::new());
    assert_eq!(stored(&app, &sandbox).await, Vec::<Value>::new());
    assert_eq!(unknown_accounts(&app), 1);

    // The seed's example names no real account either.
    delivers(&app, &fixture_body("seed_001")).await;
    assert_eq!(unknown_accounts(&app), 2);
    assert_eq!(stored(&app, &instance).await, Vec::<Value>::new());
}

#[tokio::test]
async fn a_redelivered_delivery_stores_each_event_once() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn_meta(&graph).await;
    let instance = app.instagram(&graph).await;
    let names = fixture_names();
    for name in &names {
        delivers(&app, &fixture_body(name)).await;
    }
    let first = stored(&app, &instance).await;
    assert!(first.len() > 20, "{}", first.len());
    for name in &names {
        let answer = app.post_signed("/webhooks/meta", &fixture_body(name)).await;
        assert_eq!(answer.status, StatusCode::OK, "{name}: {}", answer.body);
    }
    assert_eq!(stored(&app, &instance).await, first, "Meta's redeliveries are duplicates");
}

#[tokio::test]
async fn a_batch_with_the_same_mid_twice_stores_it_once() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn_meta(&graph).await;
    let instance = app.instagram(&graph).await;
    app.meta_delivers(&delivery(
        IG_ACCOUNT,
        vec![
            text_from(CUSTOMER, "mid.twice", "Hello"),
            text_from(CUSTOMER, "mid.once", "Anyone there?"),
            text_from(CUSTOMER, "mid.twice", "Hello"),
        ],
    ))
    .await;
    let messages: Vec<Value> =
        stored(&app, &instance).await.iter().map(|e| e["data"]["messageId"].clone()).collect();
    assert_eq!(messages, [json!("mid.twice"), json!("mid.once")]);
}

#[tokio::test]
async fn a_batch_of_1000_messaging_events_is_stored_completely() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn_meta(&graph).await;
    let instance = app.instagram(&graph).await;
    // Meta's longest texts (1000 characters): more than a megabyte in all,
    // above the API's general body limit, within the webhook's own.
    let long = "x".repeat(990);
    let messaging: Vec<Value> = (0..1000)
        .map(|n| text_from(CUSTOMER, &format!("mid.batch.{n:04}"), &format!("{n:04} {long}")))
        .collect();
    let body = delivery(IG_ACCOUNT, messaging).to_string();
    assert!(body.len() > app.config.http.max_body_bytes, "{}", body.len());
    let answer = app.post_signed("/webhooks/meta", body.as_bytes()).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let ids: Vec<String> = stored(&app, &instance)
        .await
        .iter()
        .map(|e| e["data"]["messageId"].as_str().unwrap().to_owned())
        .collect();
    let expected: Vec<String> = (0..1000).map(|n| format!("mid.batch.{n:04}")).collect();
    assert_eq!(ids, expected, "all of them, in order");
}

#[tokio::test]
async fn timestamps_in_seconds_are_accepted() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn_meta(&graph).await;
    let instance = app.instagram(&graph).await;
    let body = fixture_body("seconds_timestamp");
    let answer = app.post_signed("/webhooks/meta", &body).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let expected = [
        event("incomingMessage", json!({"messageId": mid("seconds"), "text": "Hello?"})),
        // The postback has no mid: its id carries the time, in milliseconds.
        event(
            "postback",
            json!({"messageId": format!("postback:{CUSTOMER}:1719830401000"), "title": "Get started"}),
        ),
    ];
    assert_events(&stored(&app, &instance).await, &expected, "seconds");
    delivers(&app, &body).await;
    assert_eq!(stored(&app, &instance).await.len(), 2, "the fallback id is stable");
}

/// Meta's echo of a message the account sent.
fn echo_of(mid: &str, text: &str) -> Value {
    json!({
        "sender": {"id": IG_ACCOUNT},
        "recipient": {"id": CUSTOMER},
        "timestamp": 1_767_225_601_000_u64,
        "message": {"mid": mid, "text": text, "is_echo": true},
    })
}

#[tokio::test]
async fn the_echo_of_a_message_the_gateway_sent_is_not_journaled_again() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn_meta(&graph).await;
    let instance = app.instagram(&graph).await;
    app.customer_writes_on_instagram(CUSTOMER, "Do you have it in red?").await;
    let id = app.send_ok(&instance, json!({"to": {"id": CUSTOMER}, "text": "We do!"})).await;
    app.settle().await;
    assert_eq!(app.message(&instance, &id).await["providerMessageId"], graph.last_mid());
    let before = stored(&app, &instance).await;
    assert!(before.iter().any(|e| e["type"] == "outgoingApiMessage"), "{before:#?}");

    app.meta_delivers(&delivery(IG_ACCOUNT, vec![echo_of(&graph.last_mid(), "We do!")])).await;
    app.settle().await;
    assert_eq!(stored(&app, &instance).await, before);
}

#[tokio::test]
async fn the_echo_of_a_message_typed_in_the_instagram_app_is_an_outgoing_message() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn_meta(&graph).await;
    let instance = app.instagram(&graph).await;
    app.customer_writes_on_instagram(CUSTOMER, "Do you have it in red?").await;
    app.send_ok(&instance, json!({"to": {"id": CUSTOMER}, "text": "We do!"})).await;
    app.settle().await;
    let before = stored(&app, &instance).await.len();

    app.meta_delivers(&delivery(IG_ACCOUNT, vec![echo_of("mid.typed.in.app", "Size?")])).await;
    let events = stored(&app, &instance).await;
    assert_eq!(events.len(), before + 1, "{events:#?}");
    assert_events(
        &events[before..],
        &[event(
            "outgoingMessage",
            json!({"messageId": "mid.typed.in.app", "to": {"id": CUSTOMER}, "kind": "text",
                   "text": "Size?"}),
        )],
        "the app's echo",
    );
}

#[tokio::test]
async fn a_new_contacts_profile_is_fetched_once_and_later_events_carry_it() {
    let graph = FakeGraph::start().await;
    graph.profile(CUSTOMER, "jane.doe", "Jane Doe");
    let app = TestApp::spawn_meta(&graph).await;
    let instance = app.instagram(&graph).await;
    // Three messages before the lookup runs, then more after it.
    for text in ["Hi", "Are you there?", "Hello?"] {
        app.customer_writes_on_instagram(CUSTOMER, text).await;
    }
    app.settle().await;
    for text in ["Thanks", "Bye"] {
        app.customer_writes_on_instagram(CUSTOMER, text).await;
        app.settle().await;
    }
    let lookups: Vec<_> =
        graph.calls().into_iter().filter(|c| c.method == "GET" && c.path == CUSTOMER).collect();
    assert_eq!(lookups.len(), 1, "{lookups:#?}");

    let senders: Vec<Value> =
        stored(&app, &instance).await.iter().map(|e| e["data"]["from"].clone()).collect();
    let bare = json!({"id": CUSTOMER});
    let known = json!({"id": CUSTOMER, "username": "jane.doe", "name": "Jane Doe"});
    assert_eq!(senders, [bare.clone(), bare.clone(), bare, known.clone(), known]);
}

#[tokio::test]
async fn an_oversized_delivery_is_refused_with_413_and_nothing_is_stored() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn_meta_with(&graph, |config| config.meta.max_body_bytes = 2048).await;
    let instance = app.instagram(&graph).await;
    let big = delivery(IG_ACCOUNT, vec![text_from(CUSTOMER, "mid.big", &"x".repeat(3000))]);
    let answer = app.post_signed("/webhooks/meta", big.to_string().as_bytes()).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", answer.body);
    assert_eq!(answer.body["code"], "payload_too_large", "{}", answer.body);
    assert_eq!(stored(&app, &instance).await, Vec::<Value>::new());

    // Within the limit, a delivery is taken.
    delivers(&app, &fixture_body("text")).await;
    assert_eq!(stored(&app, &instance).await.len(), 1);
}

#[tokio::test]
async fn a_contact_meta_shares_no_profile_for_is_asked_about_once_and_one_meta_could_not_answer_again()
 {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn_meta(&graph).await;
    app.instagram(&graph).await;
    let lookups = |graph: &FakeGraph, who: &str| {
        graph.calls().into_iter().filter(|c| c.method == "GET" && c.path == who).count()
    };
    // No profile at all (Meta answers code 100): settled after one question.
    for text in ["one", "two", "three"] {
        app.customer_writes_on_instagram(OTHER_CUSTOMER, text).await;
        app.settle().await;
    }
    assert_eq!(lookups(&graph, OTHER_CUSTOMER), 1);

    // Meta failing: asked again with the next message.
    graph.fail_next_get(503, json!({"error": "upstream"}));
    app.customer_writes_on_instagram(CUSTOMER, "hello").await;
    app.settle().await;
    graph.profile(CUSTOMER, "jane.doe", "Jane Doe");
    app.customer_writes_on_instagram(CUSTOMER, "hello again").await;
    app.settle().await;
    assert_eq!(lookups(&graph, CUSTOMER), 2);
}
