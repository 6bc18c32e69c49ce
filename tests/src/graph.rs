//! A fake of Meta's Graph API on loopback, for the instagram connector.
//!
//! It checks what the real API checks and the tests care about: the bearer
//! token (or `access_token` query parameter) belongs to the account in the
//! path, a Send API body has a `recipient` and exactly one of `message` or
//! `sender_action`, texts are at most 1000 bytes, quick replies at most 13.
//! It answers with Meta's success bodies (`{"recipient_id","message_id"}`)
//! and error envelopes, and records every call so tests can assert the
//! exact wire format. Tests script failures with [`FakeGraph::fail_next`].

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// One call the fake received.
#[derive(Debug, Clone)]
pub struct GraphCall {
    /// `GET` or `POST`.
    pub method: String,
    /// The path after the version, e.g. `17841400000000000/messages`.
    pub path: String,
    /// The token presented (header or query).
    pub token: Option<String>,
    /// The `fields` query parameter of a GET.
    pub fields: Option<String>,
    /// The JSON body of a POST.
    pub body: Value,
}

/// A scripted answer.
#[derive(Debug, Clone)]
pub struct Scripted {
    pub status: u16,
    pub body: Value,
    pub retry_after: Option<String>,
}

#[derive(Debug, Clone)]
struct Account {
    user_id: String,
    username: String,
    name: String,
}

#[derive(Default)]
struct Inner {
    accounts: HashMap<String, Account>,
    profiles: HashMap<String, Value>,
    calls: Vec<GraphCall>,
    failures: VecDeque<Scripted>,
    get_failures: VecDeque<Scripted>,
    /// Failures for the Send API call with this number (1 = the first).
    numbered: HashMap<u64, Scripted>,
    posts: u64,
    replied_comments: std::collections::HashSet<String>,
    mids: u64,
    gate: Option<crate::Gate>,
}

/// The running fake.
#[derive(Clone)]
pub struct FakeGraph {
    /// Its base URL (`meta.graph_base_url`).
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

/// The Graph API version the tests configure.
pub const VERSION: &str = "v25.0";

impl FakeGraph {
    /// Starts the fake on a free loopback port.
    pub async fn start() -> FakeGraph {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let router = Router::new()
            .route("/{version}/{node}", get(node))
            .route("/{version}/{node}/messages", axum::routing::post(messages))
            .with_state(inner.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        FakeGraph { url, inner }
    }

    /// An Instagram professional account reachable with `token`.
    pub fn account(&self, token: &str, user_id: &str, username: &str) -> &Self {
        self.inner.lock().unwrap().accounts.insert(
            token.to_owned(),
            Account {
                user_id: user_id.to_owned(),
                username: username.to_owned(),
                name: format!("{username} shop"),
            },
        );
        self
    }

    /// Revokes a token: later calls with it fail with code 190.
    pub fn revoke(&self, token: &str) {
        self.inner.lock().unwrap().accounts.remove(token);
    }

    /// The public profile of a customer.
    pub fn profile(&self, igsid: &str, username: &str, name: &str) -> &Self {
        self.inner
            .lock()
            .unwrap()
            .profiles
            .insert(igsid.to_owned(), json!({ "id": igsid, "username": username, "name": name }));
        self
    }

    /// The next Send API call answers this instead of succeeding.
    pub fn fail_next(&self, status: u16, body: Value) -> &Self {
        self.inner.lock().unwrap().failures.push_back(Scripted { status, body, retry_after: None });
        self
    }

    /// The `n`-th Send API call from now (1 = the next) answers this.
    pub fn fail_send_number(&self, n: u64, status: u16, body: Value) -> &Self {
        let mut inner = self.inner.lock().unwrap();
        let at = inner.posts + n;
        inner.numbered.insert(at, Scripted { status, body, retry_after: None });
        drop(inner);
        self
    }

    /// The next GET (`/me`, a profile) answers this.
    pub fn fail_next_get(&self, status: u16, body: Value) -> &Self {
        self.inner.lock().unwrap().get_failures.push_back(Scripted {
            status,
            body,
            retry_after: None,
        });
        self
    }

    /// Like [`FakeGraph::fail_next`] with a `Retry-After` header.
    pub fn fail_next_with_retry_after(&self, status: u16, body: Value, retry_after: &str) -> &Self {
        self.inner.lock().unwrap().failures.push_back(Scripted {
            status,
            body,
            retry_after: Some(retry_after.to_owned()),
        });
        self
    }

    /// Holds every later Send API call at `gate` (recorded once it passes).
    pub fn hold_sends(&self, gate: &crate::Gate) -> &Self {
        self.inner.lock().unwrap().gate = Some(gate.clone());
        self
    }

    /// Every call so far, oldest first.
    pub fn calls(&self) -> Vec<GraphCall> {
        self.inner.lock().unwrap().calls.clone()
    }

    /// The bodies of every Send API call so far.
    pub fn sends(&self) -> Vec<Value> {
        self.calls().into_iter().filter(|c| c.method == "POST").map(|c| c.body).collect()
    }

    /// The mid the fake gave the latest message it accepted.
    pub fn last_mid(&self) -> String {
        format!("aWdfZAG1faWQ.{}", self.inner.lock().unwrap().mids)
    }
}

/// Meta's error envelope.
pub fn meta_error(code: i64, subcode: Option<i64>, message: &str) -> Value {
    let mut error = json!({
        "message": message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "AbCdEfGhIjK",
    });
    if let Some(subcode) = subcode {
        error["error_subcode"] = json!(subcode);
    }
    json!({ "error": error })
}

fn presented_token(headers: &HeaderMap, query: &HashMap<String, String>) -> Option<String> {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned)
        .or_else(|| query.get("access_token").cloned())
}

fn reply(status: u16, body: Value) -> Response {
    (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response()
}

fn invalid_token() -> Response {
    reply(400, meta_error(190, Some(463), "Error validating access token: Session has expired"))
}

async fn node(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path((version, node)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let token = presented_token(&headers, &query);
    let mut inner = inner.lock().unwrap();
    inner.calls.push(GraphCall {
        method: "GET".into(),
        path: node.clone(),
        token: token.clone(),
        fields: query.get("fields").cloned(),
        body: Value::Null,
    });
    if version != VERSION {
        return reply(400, meta_error(2635, None, "unknown API version"));
    }
    if let Some(failure) = inner.get_failures.pop_front() {
        return reply(failure.status, failure.body);
    }
    let Some(account) = token.as_ref().and_then(|t| inner.accounts.get(t)).cloned() else {
        return invalid_token();
    };
    if node == "me" {
        return reply(
            200,
            json!({
                "id": format!("app-scoped-{}", account.user_id),
                "user_id": account.user_id,
                "username": account.username,
                "name": account.name,
            }),
        );
    }
    match inner.profiles.get(&node) {
        Some(profile) => reply(200, profile.clone()),
        None => {
            reply(400, meta_error(100, Some(33), "Unsupported get request. Object does not exist"))
        }
    }
}

async fn messages(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path((version, node)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let token = presented_token(&headers, &query);
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let gate = inner.lock().unwrap().gate.clone();
    if let Some(gate) = gate {
        gate.pass().await;
    }
    let mut inner = inner.lock().unwrap();
    inner.calls.push(GraphCall {
        method: "POST".into(),
        path: format!("{node}/messages"),
        token: token.clone(),
        fields: None,
        body: body.clone(),
    });
    if version != VERSION {
        return reply(400, meta_error(2635, None, "unknown API version"));
    }
    let Some(account) = token.as_ref().and_then(|t| inner.accounts.get(t)).cloned() else {
        return invalid_token();
    };
    if node != account.user_id && node != "me" {
        return reply(400, meta_error(100, None, "the token does not belong to this account"));
    }
    inner.posts += 1;
    let number = inner.posts;
    if let Some(failure) = inner.numbered.remove(&number) {
        return reply(failure.status, failure.body);
    }
    if let Some(failure) = inner.failures.pop_front() {
        let mut response = reply(failure.status, failure.body);
        if let Some(after) = failure.retry_after {
            response.headers_mut().insert("retry-after", HeaderValue::from_str(&after).unwrap());
        }
        return response;
    }
    if let Err(problem) = check_send(&body) {
        return reply(400, meta_error(100, None, &format!("(#100) {problem}")));
    }
    if let Some(comment) = body["recipient"]["comment_id"].as_str()
        && !inner.replied_comments.insert(comment.to_owned())
    {
        return reply(
            400,
            meta_error(10, Some(2_534_023), "(#10) This comment already has a private reply"),
        );
    }
    let recipient_id = body["recipient"]["id"]
        .as_str()
        .or(body["recipient"]["comment_id"].as_str())
        .unwrap_or_default()
        .to_owned();
    if body.get("sender_action").is_some() {
        return reply(200, json!({ "recipient_id": recipient_id }));
    }
    inner.mids += 1;
    let mid = format!("aWdfZAG1faWQ.{}", inner.mids);
    reply(200, json!({ "recipient_id": recipient_id, "message_id": mid }))
}

/// The Send API's own checks.
fn check_send(body: &Value) -> Result<(), String> {
    let recipient = body.get("recipient").ok_or("recipient is required")?;
    if recipient.get("id").is_none() && recipient.get("comment_id").is_none() {
        return Err("recipient needs id or comment_id".into());
    }
    match (body.get("message"), body.get("sender_action")) {
        (Some(_), Some(_)) | (None, None) => {
            return Err("exactly one of message and sender_action is required".into());
        }
        (None, Some(action)) => {
            let action = action.as_str().unwrap_or_default();
            if !["typing_on", "typing_off", "mark_seen", "react", "unreact"].contains(&action) {
                return Err(format!("unknown sender_action {action}"));
            }
            return Ok(());
        }
        (Some(message), None) => {
            if let Some(text) = message.get("text").and_then(Value::as_str)
                && text.len() > 1000
            {
                return Err("message text must be at most 1000 bytes".into());
            }
            if message.get("text").is_none() && message.get("attachment").is_none() {
                return Err("message needs text or attachment".into());
            }
            if let Some(replies) = message.get("quick_replies").and_then(Value::as_array) {
                if replies.len() > 13 {
                    return Err("at most 13 quick replies".into());
                }
                if replies
                    .iter()
                    .any(|r| r["title"].as_str().is_some_and(|t| t.chars().count() > 20))
                {
                    return Err("quick reply titles are at most 20 characters".into());
                }
            }
            if body["recipient"].get("comment_id").is_some()
                && (body.get("messaging_type").is_some() || message.get("attachment").is_some())
            {
                return Err("a private reply is text only, without messaging_type".into());
            }
            match (body["messaging_type"].as_str(), body["tag"].as_str()) {
                (None | Some("RESPONSE" | "UPDATE"), None)
                | (Some("MESSAGE_TAG"), Some("HUMAN_AGENT")) => {}
                (kind, tag) => return Err(format!("bad messaging_type {kind:?} with tag {tag:?}")),
            }
        }
    }
    Ok(())
}
