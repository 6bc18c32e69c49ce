//! The Huawei push endpoint (seed 001): Meta's webhook envelope pushed to
//! `/apiaccess/api/instagram/message[/{chanId}]`, authenticated by Meta's
//! signature or the channel's API token, answered in the seed's
//! `{"resultMsg": …}` envelope. (Every fixture through it: `meta_ingest.rs`.)

use chatgate_connectors::meta::webhook::sign;
use chatgate_e2e::{APP_SECRET, Answer, CUSTOMER, FakeGraph, IG_ACCOUNT, TestApp, TestInstance};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::meta_ingest::{
    assert_events, delivery, event, fixture_body, mid, other_instagram, stored, text_from,
    unknown_accounts,
};

/// The endpoint without a chanId.
const BY_ACCOUNT: &str = "/apiaccess/api/instagram/message";

/// The endpoint for one channel (an instance id, or anything else).
fn channel(id: impl std::fmt::Display) -> String {
    format!("{BY_ACCOUNT}/{id}")
}

/// How a push proves who sent it.
pub(crate) enum Credentials<'a> {
    /// Nothing.
    None,
    /// `Authorization: Bearer <token>`.
    Bearer(&'a str),
    /// `X-Hub-Signature-256` over the body with the app secret.
    Signed,
    /// This `X-Hub-Signature-256` header.
    Signature(String),
}

/// Pushes `body` as it is to `path`.
pub(crate) async fn push(
    app: &TestApp,
    path: &str,
    body: &[u8],
    credentials: Credentials<'_>,
) -> Answer {
    let mut request =
        app.raw(Method::POST, path).header("content-type", "application/json").body(body.to_vec());
    request = match credentials {
        Credentials::None => request,
        Credentials::Bearer(token) => request.bearer_auth(token),
        Credentials::Signed => request.header("x-hub-signature-256", sign(APP_SECRET, body)),
        Credentials::Signature(header) => request.header("x-hub-signature-256", header),
    };
    TestApp::answer(request.send().await.unwrap()).await
}

/// Asserts the seed's success answer.
fn accepted(answer: &Answer) {
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body, json!({"resultMsg": "200"}));
}

/// Asserts a failure in the seed's envelope: the status, as `resultMsg`
/// too, and a sentence in `resultDesc`.
fn refused(answer: &Answer, status: u16, why: &str) {
    assert_eq!(answer.status, status, "{why}: {}", answer.body);
    assert_eq!(answer.body["resultMsg"], status.to_string(), "{why}: {}", answer.body);
    let description = answer.body["resultDesc"].as_str().unwrap_or_default();
    assert!(!description.is_empty(), "{why}: no resultDesc in {}", answer.body);
    assert_eq!(answer.body.as_object().unwrap().len(), 2, "{why}: {}", answer.body);
}

/// Asserts nothing was journaled for the instances.
async fn nothing_stored(app: &TestApp, instances: &[&TestInstance]) {
    for instance in instances {
        assert_eq!(stored(app, instance).await, Vec::<Value>::new(), "instance {}", instance.id);
    }
}

/// A server with an instagram instance, and the instance.
async fn spawn() -> (FakeGraph, TestApp, TestInstance) {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn_meta(&graph).await;
    let instance = app.instagram(&graph).await;
    (graph, app, instance)
}

#[tokio::test]
async fn the_seeds_example_pushed_to_a_channel_answers_200_and_journals_a_message_deletion() {
    let (_graph, app, instance) = spawn().await;
    let answer = push(
        &app,
        &channel(instance.id),
        &fixture_body("seed_001"),
        Credentials::Bearer(&instance.token),
    )
    .await;
    accepted(&answer);
    assert_events(
        &stored(&app, &instance).await,
        &[event("messageDeleted", json!({"messageId": "MESSAGE-ID", "from": {"id": "IGSID"}}))],
        "the seed's example, every flag set: deletion wins",
    );
    assert_eq!(unknown_accounts(&app), 0, "its \"IGID\" entry went to the channel");
}

#[tokio::test]
async fn without_a_channel_a_signed_push_is_routed_by_entry_id() {
    let (graph, app, first) = spawn().await;
    let second = other_instagram(&app, &graph).await;
    accepted(&push(&app, BY_ACCOUNT, &fixture_body("batch"), Credentials::Signed).await);
    let first_ids: Vec<Value> =
        stored(&app, &first).await.iter().map(|e| e["data"]["messageId"].clone()).collect();
    assert_eq!(first_ids, [json!(mid("b1")), json!(mid("b0")), json!(mid("b2"))]);
    let second_ids: Vec<Value> =
        stored(&app, &second).await.iter().map(|e| e["data"]["messageId"].clone()).collect();
    assert_eq!(second_ids, [json!(mid("b3")), json!(mid("b4"))]);
    assert_eq!(unknown_accounts(&app), 0);

    // The seed's example names an account no instance is connected to.
    let path = format!("{BY_ACCOUNT}/");
    accepted(&push(&app, &path, &fixture_body("seed_001"), Credentials::Signed).await);
    assert_eq!(unknown_accounts(&app), 1);
    assert_eq!(stored(&app, &first).await.len(), 3);
    assert_eq!(stored(&app, &second).await.len(), 2);
}

#[tokio::test]
async fn without_a_channel_a_bearer_token_takes_only_its_own_instances_entries() {
    let (graph, app, first) = spawn().await;
    let second = other_instagram(&app, &graph).await;
    let answer =
        push(&app, BY_ACCOUNT, &fixture_body("batch"), Credentials::Bearer(&first.token)).await;
    accepted(&answer);
    let ids: Vec<Value> =
        stored(&app, &first).await.iter().map(|e| e["data"]["messageId"].clone()).collect();
    assert_eq!(ids, [json!(mid("b1")), json!(mid("b0")), json!(mid("b2"))]);
    nothing_stored(&app, &[&second]).await;
    assert_eq!(unknown_accounts(&app), 0, "another instance's account is not an unknown one");

    let answer =
        push(&app, BY_ACCOUNT, &fixture_body("batch"), Credentials::Bearer(&second.token)).await;
    accepted(&answer);
    assert_eq!(stored(&app, &first).await.len(), 3);
    assert_eq!(stored(&app, &second).await.len(), 2);
}

#[tokio::test]
async fn a_wrong_bearer_token_is_refused_with_401_and_nothing_is_stored() {
    let (graph, app, first) = spawn().await;
    let second = other_instagram(&app, &graph).await;
    let body = fixture_body("text");
    for (path, token, why) in [
        (channel(first.id), "not-a-token", "an unknown token"),
        (channel(first.id), second.token.as_str(), "another channel's token"),
        (channel(first.id), "", "an empty token"),
        (BY_ACCOUNT.to_owned(), "not-a-token", "an unknown token, no channel"),
    ] {
        let answer = push(&app, &path, &body, Credentials::Bearer(token)).await;
        refused(&answer, 401, why);
    }
    nothing_stored(&app, &[&first, &second]).await;
}

#[tokio::test]
async fn the_bearer_scheme_is_read_in_any_case() {
    let (_graph, app, instance) = spawn().await;
    for (n, scheme) in ["Bearer", "bearer", "BEARER"].into_iter().enumerate() {
        let body = delivery(
            IG_ACCOUNT,
            vec![text_from(CUSTOMER, &format!("mid.scheme.{n}"), &format!("{scheme}?"))],
        );
        let answer = app
            .raw(Method::POST, &channel(instance.id))
            .header("authorization", format!("{scheme} {}", instance.token))
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        accepted(&TestApp::answer(answer).await);
    }
    assert_eq!(stored(&app, &instance).await.len(), 3);
    let answer = app
        .raw(Method::POST, &channel(instance.id))
        .header("authorization", format!("Basic {}", instance.token))
        .body(fixture_body("text"))
        .send()
        .await
        .unwrap();
    refused(&TestApp::answer(answer).await, 401, "another scheme");
}

#[tokio::test]
async fn a_push_without_credentials_is_refused_with_401_and_nothing_is_stored() {
    let (_graph, app, instance) = spawn().await;
    let body = fixture_body("text");
    for path in [channel(instance.id), BY_ACCOUNT.to_owned()] {
        refused(&push(&app, &path, &body, Credentials::None).await, 401, &path);
    }
    // The token anywhere but the Authorization header is no credential.
    let answer = app
        .raw(Method::POST, &channel(instance.id))
        .header("x-api-token", &instance.token)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    refused(&TestApp::answer(answer).await, 401, "a token in another header");
    nothing_stored(&app, &[&instance]).await;
}

#[tokio::test]
async fn a_bad_signature_is_refused_with_401_and_nothing_is_stored() {
    let (_graph, app, instance) = spawn().await;
    let body = fixture_body("text");
    for (path, signature, why) in [
        (channel(instance.id), sign("another-app-secret", &body), "another secret"),
        (channel(instance.id), sign(APP_SECRET, &fixture_body("image")), "another body"),
        (BY_ACCOUNT.to_owned(), "sha256=zz".to_owned(), "malformed, no channel"),
    ] {
        let answer = push(&app, &path, &body, Credentials::Signature(signature)).await;
        refused(&answer, 401, why);
    }
    // A signature, when present, must hold, even next to a good token.
    let answer = app
        .raw(Method::POST, &channel(instance.id))
        .bearer_auth(&instance.token)
        .header("x-hub-signature-256", sign("another-app-secret", &body))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    refused(&TestApp::answer(answer).await, 401, "a bad signature and a good token");
    nothing_stored(&app, &[&instance]).await;
}

#[tokio::test]
async fn without_an_app_secret_only_the_channels_token_is_accepted() {
    let graph = FakeGraph::start().await;
    let app =
        TestApp::spawn_meta_with(&graph, |config| config.meta.app_secret = Default::default())
            .await;
    let instance = app.instagram(&graph).await;
    let body = fixture_body("text");
    for signature in [sign(APP_SECRET, &body), sign("", &body)] {
        let answer =
            push(&app, &channel(instance.id), &body, Credentials::Signature(signature)).await;
        refused(&answer, 401, "no app secret to check a signature with");
    }
    nothing_stored(&app, &[&instance]).await;
    accepted(&push(&app, &channel(instance.id), &body, Credentials::Bearer(&instance.token)).await);
    assert_eq!(stored(&app, &instance).await.len(), 1);
}

#[tokio::test]
async fn an_unknown_or_non_numeric_channel_is_404_and_nothing_is_stored() {
    let (_graph, app, instance) = spawn().await;
    let body = fixture_body("text");
    let unknown = if instance.id == 9_999_999_999 { 9_999_999_998_u64 } else { 9_999_999_999 };
    for chan_id in
        [unknown.to_string(), "shop".to_owned(), format!("{}x", instance.id), "-1".into()]
    {
        let answer =
            push(&app, &channel(&chan_id), &body, Credentials::Bearer(&instance.token)).await;
        refused(&answer, 404, &chan_id);
        let answer = push(&app, &channel(&chan_id), &body, Credentials::Signed).await;
        refused(&answer, 404, &chan_id);
    }
    nothing_stored(&app, &[&instance]).await;
    assert_eq!(unknown_accounts(&app), 0);
}

#[tokio::test]
async fn a_malformed_body_is_refused_with_400_and_nothing_is_stored() {
    let (_graph, app, instance) = spawn().await;
    let text = fixture_body("text");
    for body in [&b"not json"[..], b"", b"[]", b"42", &text[..text.len() - 2]] {
        let shown = String::from_utf8_lossy(body).into_owned();
        let answer =
            push(&app, &channel(instance.id), body, Credentials::Bearer(&instance.token)).await;
        refused(&answer, 400, &shown);
        refused(&push(&app, BY_ACCOUNT, body, Credentials::Signed).await, 400, &shown);
    }
    nothing_stored(&app, &[&instance]).await;
}

#[tokio::test]
async fn an_oversized_body_is_refused_with_400_and_nothing_is_stored() {
    let graph = FakeGraph::start().await;
    let app = TestApp::spawn_meta_with(&graph, |config| config.meta.max_body_bytes = 2048).await;
    let instance = app.instagram(&graph).await;
    let big = delivery(IG_ACCOUNT, vec![text_from(CUSTOMER, "mid.big", &"x".repeat(3000))]);
    let big = big.to_string();
    let answer =
        push(&app, &channel(instance.id), big.as_bytes(), Credentials::Bearer(&instance.token))
            .await;
    refused(&answer, 400, "oversized, to a channel");
    refused(&push(&app, BY_ACCOUNT, big.as_bytes(), Credentials::Signed).await, 400, "oversized");
    nothing_stored(&app, &[&instance]).await;

    // Within the limit, a push is taken.
    let body = fixture_body("text");
    accepted(&push(&app, &channel(instance.id), &body, Credentials::Bearer(&instance.token)).await);
    assert_eq!(stored(&app, &instance).await.len(), 1);
}

#[tokio::test]
async fn a_text_pushed_twice_is_stored_once() {
    let (_graph, app, instance) = spawn().await;
    let body = fixture_body("text");
    for _ in 0..2 {
        let answer =
            push(&app, &channel(instance.id), &body, Credentials::Bearer(&instance.token)).await;
        accepted(&answer);
    }
    // Meta delivering it too is the same message.
    accepted(&push(&app, BY_ACCOUNT, &body, Credentials::Signed).await);
    app.meta_delivers(&serde_json::from_slice(&body).unwrap()).await;
    assert_events(
        &stored(&app, &instance).await,
        &[event(
            "incomingMessage",
            json!({"messageId": mid("text"), "text": "Hi! Is the blue jacket still available?"}),
        )],
        "pushed twice",
    );
}

#[tokio::test]
async fn other_methods_and_paths_under_the_endpoint_answer_in_the_seed_envelope() {
    let graph = chatgate_e2e::FakeGraph::start().await;
    let app = chatgate_e2e::TestApp::spawn_meta(&graph).await;
    let instance = app.instagram(&graph).await;
    let get = app
        .raw(reqwest::Method::GET, &format!("/apiaccess/api/instagram/message/{}", instance.id))
        .send()
        .await
        .unwrap();
    let get = chatgate_e2e::TestApp::answer(get).await;
    assert_eq!(get.status, reqwest::StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(get.body["resultMsg"], "405");
    let elsewhere =
        app.raw(reqwest::Method::POST, "/apiaccess/api/instagram/other").send().await.unwrap();
    let elsewhere = chatgate_e2e::TestApp::answer(elsewhere).await;
    assert_eq!(elsewhere.status, reqwest::StatusCode::NOT_FOUND);
    assert_eq!(elsewhere.body["resultMsg"], "404");
    assert!(elsewhere.body["resultDesc"].as_str().unwrap().contains("chanId"));
}

#[tokio::test]
async fn a_signed_push_to_a_channel_takes_only_the_entries_of_its_own_account() {
    let (graph, app, instance) = spawn().await;
    let other = other_instagram(&app, &graph).await;
    let body = delivery(
        crate::meta_ingest::OTHER_ACCOUNT,
        vec![text_from(CUSTOMER, &mid("x1"), "not yours")],
    );
    let body = body.to_string().into_bytes();
    accepted(&push(&app, &channel(instance.id), &body, Credentials::Signed).await);
    nothing_stored(&app, &[&instance, &other]).await;

    let own = delivery(IG_ACCOUNT, vec![text_from(CUSTOMER, &mid("x2"), "yours")]).to_string();
    accepted(&push(&app, &channel(instance.id), own.as_bytes(), Credentials::Signed).await);
    assert_events(
        &stored(&app, &instance).await,
        &[event("incomingMessage", json!({"text": "yours"}))],
        "own",
    );
}

#[tokio::test]
async fn without_credentials_an_unknown_channel_is_401_like_a_known_one() {
    let (_graph, app, instance) = spawn().await;
    let body = fixture_body("text");
    for chan_id in [instance.id, 9_999_999_999] {
        let answer = push(&app, &channel(chan_id), &body, Credentials::None).await;
        refused(&answer, 401, "no credentials");
        let answer = push(&app, &channel(chan_id), &body, Credentials::Bearer("not-a-token")).await;
        refused(&answer, 401, "a token of no instance");
    }
}
