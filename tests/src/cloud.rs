//! A fake of Meta's WhatsApp Cloud API on loopback, for the whatsapp
//! connector.
//!
//! It checks what the real API checks and the tests care about: the bearer
//! token belongs to the phone number (or business account) in the path; a
//! message body has `messaging_product: whatsapp`, `recipient_type`, `to`
//! in digits, a `type` and the object of that type within the Cloud API's
//! limits (text ≤ 4096, caption ≤ 1024, ≤ 3 reply buttons of ≤ 20
//! characters, ≤ 10 list rows, a template with name and language); a read
//! receipt names a message. It answers with Meta's success bodies
//! (`{"messaging_product","contacts","messages":[{"id":"wamid…"}]}`,
//! `{"success":true}`) and error envelopes, serves media (`GET /{media-id}`
//! → `url`, then the bytes, both wanting the token), and records every
//! call. Tests script failures with [`FakeCloud::fail_next`].

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::graph::{GraphCall, VERSION};

/// A phone number of a WhatsApp Business Account.
#[derive(Debug, Clone)]
struct Number {
    phone_number_id: String,
    waba_id: String,
    display: String,
    verified_name: String,
}

#[derive(Default)]
struct Inner {
    /// By token.
    numbers: HashMap<String, Number>,
    /// By media id: bytes and MIME type.
    media: HashMap<String, (Vec<u8>, String)>,
    calls: Vec<GraphCall>,
    failures: VecDeque<(u16, Value)>,
    wamids: u64,
}

/// The running fake.
#[derive(Clone)]
pub struct FakeCloud {
    /// Its base URL (`meta.whatsapp_graph_base_url`).
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

impl FakeCloud {
    /// Starts the fake on a free loopback port.
    pub async fn start() -> FakeCloud {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let router = Router::new()
            .route("/{version}/{node}", get(node))
            .route("/{version}/{node}/phone_numbers", get(phone_numbers))
            .route("/{version}/{node}/messages", axum::routing::post(messages))
            .route("/download/{media}", get(download))
            .with_state(inner.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        FakeCloud { url, inner }
    }

    /// A phone number of a business account, reachable with `token`.
    pub fn number(
        &self,
        token: &str,
        phone_number_id: &str,
        waba_id: &str,
        display: &str,
    ) -> &Self {
        self.inner.lock().unwrap().numbers.insert(
            token.to_owned(),
            Number {
                phone_number_id: phone_number_id.to_owned(),
                waba_id: waba_id.to_owned(),
                display: display.to_owned(),
                verified_name: "Blue Jackets".to_owned(),
            },
        );
        self
    }

    /// Revokes a token: later calls with it fail with code 190.
    pub fn revoke(&self, token: &str) {
        self.inner.lock().unwrap().numbers.remove(token);
    }

    /// A file a customer sent, by its media id.
    pub fn media(&self, media_id: &str, bytes: &[u8], mime: &str) -> &Self {
        self.inner
            .lock()
            .unwrap()
            .media
            .insert(media_id.to_owned(), (bytes.to_vec(), mime.to_owned()));
        self
    }

    /// The next call (of any kind) answers this instead.
    pub fn fail_next(&self, status: u16, body: Value) -> &Self {
        self.inner.lock().unwrap().failures.push_back((status, body));
        self
    }

    /// Every call so far, oldest first.
    pub fn calls(&self) -> Vec<GraphCall> {
        self.inner.lock().unwrap().calls.clone()
    }

    /// The bodies of every `POST …/messages` so far.
    pub fn sends(&self) -> Vec<Value> {
        self.calls().into_iter().filter(|c| c.method == "POST").map(|c| c.body).collect()
    }

    /// The wamid the fake gave the latest message it accepted.
    pub fn last_wamid(&self) -> String {
        wamid(self.inner.lock().unwrap().wamids)
    }
}

fn wamid(n: u64) -> String {
    format!("wamid.HBgLNzkwMDEyMzQ1NjcVAgARGBI{n:08}")
}

/// The Cloud API's error envelope.
pub fn cloud_error(code: i64, message: &str, details: &str) -> Value {
    json!({ "error": {
        "message": message,
        "type": "OAuthException",
        "code": code,
        "error_data": { "messaging_product": "whatsapp", "details": details },
        "fbtrace_id": "AZjbgBEmXxJZ",
    }})
}

fn reply(status: u16, body: Value) -> Response {
    (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response()
}

fn invalid_token() -> Response {
    reply(
        401,
        json!({ "error": {
            "message": "Error validating access token: Session has expired on Friday, 02-Jan-26.",
            "type": "OAuthException", "code": 190, "error_subcode": 463, "fbtrace_id": "Aq1",
        }}),
    )
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned)
}

/// Records the call; answers a scripted failure, a wrong version or a
/// token it does not know, else hands the number on.
fn admit(
    inner: &mut Inner,
    call: GraphCall,
    version: &str,
) -> Result<(Number, String), Box<Response>> {
    let token = call.token.clone();
    inner.calls.push(call);
    if let Some((status, body)) = inner.failures.pop_front() {
        return Err(Box::new(reply(status, body)));
    }
    if version != VERSION {
        return Err(Box::new(reply(400, cloud_error(2635, "unknown API version", version))));
    }
    let token = token.ok_or_else(|| Box::new(invalid_token()))?;
    let number = inner.numbers.get(&token).cloned().ok_or_else(|| Box::new(invalid_token()))?;
    Ok((number, token))
}

async fn node(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path((version, node)): Path<(String, String)>,
    query: axum::extract::Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut inner = inner.lock().unwrap();
    let call = GraphCall {
        method: "GET".into(),
        path: node.clone(),
        token: bearer(&headers),
        fields: query.get("fields").cloned(),
        body: Value::Null,
    };
    let (number, _) = match admit(&mut inner, call, &version) {
        Ok(found) => found,
        Err(response) => return *response,
    };
    if node == number.phone_number_id {
        return reply(
            200,
            json!({
                "verified_name": number.verified_name,
                "code_verification_status": "VERIFIED",
                "display_phone_number": format!("+{} {}", &number.display[..1], &number.display[1..]),
                "quality_rating": "GREEN",
                "id": number.phone_number_id,
            }),
        );
    }
    if let Some((bytes, mime)) = inner.media.get(&node) {
        return reply(
            200,
            json!({
                "messaging_product": "whatsapp",
                "url": format!("{}/download/{node}", host(&headers)),
                "mime_type": mime,
                "sha256": "c2hh",
                "file_size": bytes.len(),
                "id": node,
            }),
        );
    }
    reply(400, cloud_error(100, "Unsupported get request. Object does not exist", "no such node"))
}

fn host(headers: &HeaderMap) -> String {
    format!("http://{}", headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or_default())
}

async fn phone_numbers(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path((version, node)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let mut inner = inner.lock().unwrap();
    let call = GraphCall {
        method: "GET".into(),
        path: format!("{node}/phone_numbers"),
        token: bearer(&headers),
        fields: None,
        body: Value::Null,
    };
    let (number, token) = match admit(&mut inner, call, &version) {
        Ok(found) => found,
        Err(response) => return *response,
    };
    if node != number.waba_id {
        return reply(400, cloud_error(100, "Object does not exist or missing permissions", &node));
    }
    let data: Vec<Value> = inner
        .numbers
        .iter()
        .filter(|(t, n)| n.waba_id == node && **t == token)
        .map(|(_, n)| json!({ "id": n.phone_number_id, "display_phone_number": n.display }))
        .collect();
    reply(200, json!({ "data": data }))
}

async fn download(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(media): Path<String>,
    headers: HeaderMap,
) -> Response {
    let mut inner = inner.lock().unwrap();
    let token = bearer(&headers);
    inner.calls.push(GraphCall {
        method: "GET".into(),
        path: format!("download/{media}"),
        token: token.clone(),
        fields: None,
        body: Value::Null,
    });
    if !token.is_some_and(|t| inner.numbers.contains_key(&t)) {
        return invalid_token();
    }
    match inner.media.get(&media) {
        Some((bytes, mime)) => {
            ([(axum::http::header::CONTENT_TYPE, mime.clone())], bytes.clone()).into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn messages(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path((version, node)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut inner = inner.lock().unwrap();
    let call = GraphCall {
        method: "POST".into(),
        path: format!("{node}/messages"),
        token: bearer(&headers),
        fields: None,
        body: body.clone(),
    };
    let (number, _) = match admit(&mut inner, call, &version) {
        Ok(found) => found,
        Err(response) => return *response,
    };
    if node != number.phone_number_id {
        return reply(
            400,
            cloud_error(
                100,
                "(#100) Invalid parameter",
                "the token does not belong to this number",
            ),
        );
    }
    if let Err(problem) = check_message(&body) {
        return reply(400, cloud_error(100, "(#100) Invalid parameter", &problem));
    }
    if body.get("status").is_some() {
        return reply(200, json!({ "success": true }));
    }
    inner.wamids += 1;
    let to = body["to"].as_str().unwrap_or_default();
    reply(
        200,
        json!({
            "messaging_product": "whatsapp",
            "contacts": [{ "input": to, "wa_id": to }],
            "messages": [{ "id": wamid(inner.wamids) }],
        }),
    )
}

fn chars(value: &Value) -> usize {
    value.as_str().map_or(0, |s| s.chars().count())
}

/// The Cloud API's own checks.
fn check_message(body: &Value) -> Result<(), String> {
    if body["messaging_product"] != "whatsapp" {
        return Err("messaging_product must be whatsapp".into());
    }
    if body.get("status").is_some() {
        if body["status"] != "read" || !body["message_id"].is_string() {
            return Err("a status update is {status: read, message_id}".into());
        }
        return Ok(());
    }
    if body["recipient_type"] != "individual" {
        return Err("recipient_type must be individual".into());
    }
    let to = body["to"].as_str().unwrap_or_default();
    if to.is_empty() || !to.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("to must be a phone number in digits, not {to:?}"));
    }
    let kind = body["type"].as_str().ok_or("type is required")?;
    let object = body.get(kind).ok_or_else(|| format!("{kind} object is required"))?;
    match kind {
        "text" => {
            if !(1..=4096).contains(&chars(&object["body"])) {
                return Err("text.body must be 1 to 4096 characters".into());
            }
        }
        "image" | "audio" | "video" | "document" | "sticker" => {
            if !object["link"].is_string() && !object["id"].is_string() {
                return Err(format!("{kind} needs link or id"));
            }
            if chars(&object["caption"]) > 1024 {
                return Err("caption is at most 1024 characters".into());
            }
            if kind == "audio" && object.get("caption").is_some() {
                return Err("audio takes no caption".into());
            }
            if kind != "document" && object.get("filename").is_some() {
                return Err("only a document has a filename".into());
            }
        }
        "interactive" => match object["type"].as_str() {
            Some("button") => {
                let buttons = object["action"]["buttons"].as_array().ok_or("buttons required")?;
                if buttons.is_empty() || buttons.len() > 3 {
                    return Err("1 to 3 buttons".into());
                }
                if buttons.iter().any(|b| {
                    b["type"] != "reply"
                        || !(1..=20).contains(&chars(&b["reply"]["title"]))
                        || !(1..=256).contains(&chars(&b["reply"]["id"]))
                }) {
                    return Err("reply buttons have titles of 1 to 20 characters".into());
                }
            }
            Some("list") => {
                let sections =
                    object["action"]["sections"].as_array().ok_or("sections required")?;
                let rows: usize =
                    sections.iter().map(|s| s["rows"].as_array().map_or(0, Vec::len)).sum();
                if rows == 0 || rows > 10 {
                    return Err("1 to 10 rows".into());
                }
                if !(1..=20).contains(&chars(&object["action"]["button"])) {
                    return Err("the list button is 1 to 20 characters".into());
                }
            }
            other => return Err(format!("unknown interactive type {other:?}")),
        },
        "location" => {
            if !object["latitude"].is_number() || !object["longitude"].is_number() {
                return Err("latitude and longitude are required".into());
            }
        }
        "contacts" => {
            let cards = object.as_array().ok_or("contacts is an array")?;
            if cards.iter().any(|c| !c["name"]["formatted_name"].is_string()) {
                return Err("every contact needs name.formatted_name".into());
            }
        }
        "template" => {
            if !object["name"].is_string() || !object["language"]["code"].is_string() {
                return Err("a template needs name and language.code".into());
            }
        }
        "reaction" => {
            if !object["message_id"].is_string() || !object["emoji"].is_string() {
                return Err("a reaction needs message_id and emoji".into());
            }
        }
        other => return Err(format!("unknown type {other}")),
    }
    Ok(())
}
