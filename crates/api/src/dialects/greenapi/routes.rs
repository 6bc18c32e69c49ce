//! The instance API: `{host}/waInstance{idInstance}/{method}/{apiTokenInstance}`
//! (and `…/deleteNotification/{apiTokenInstance}/{receiptId}`).

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chatgate_core::gateway::SendRequest;
use chatgate_core::message::{Body, ContactCard, Content, Location, Media, QuickReply};
use chatgate_core::{
    ConnectorKind, DelayPolicy, Error, Instance, InstanceId, InstanceState, MessageId, Recipient,
    WebhookFormat,
};
use serde_json::{Map, Value, json};

use super::convert::{
    chat_entry_journal, contact_of, incoming_journal, incoming_status, kind_of_file, mime_of,
    outgoing_journal, queue_item, settings_json, settings_patch,
};
use super::error::GreenError;
use super::hooks::notification;
use super::limits::counts_against_quota;
use crate::AppState;

/// Shortest and longest `receiveTimeout`, in seconds.
pub const RECEIVE_TIMEOUT: std::ops::RangeInclusive<u64> = 5..=60;
/// Default window of the "last …" journals, in minutes.
pub const DEFAULT_MINUTES: u64 = 1440;
/// Default `count` of getChatHistory.
pub const DEFAULT_HISTORY: usize = 100;

/// The request, once routed: instance, method, token, optional receipt id.
struct Call {
    instance: Instance,
    query: Map<String, Value>,
}

/// `/{waInstanceN}/{method}/{token}`.
pub async fn call3(
    State(state): State<AppState>,
    Path((segment, method, token)): Path<(String, String, String)>,
    request: Request,
) -> Response {
    dispatch(state, segment, method, token, None, request).await
}

/// `/{waInstanceN}/{method}/{token}/{receiptId}`.
pub async fn call4(
    State(state): State<AppState>,
    Path((segment, method, token, receipt)): Path<(String, String, String, String)>,
    request: Request,
) -> Response {
    dispatch(state, segment, method, token, Some(receipt), request).await
}

async fn dispatch(
    state: AppState,
    segment: String,
    method: String,
    token: String,
    receipt: Option<String>,
    request: Request,
) -> Response {
    // A path that is not GREEN-API's belongs to nobody.
    let Some(raw_id) = segment.strip_prefix("waInstance") else {
        return crate::error::ApiError::not_found("no such route").into_response();
    };
    let path = format!("/{segment}/{method}");
    match handle(&state, raw_id, &method, &token, receipt, request).await {
        Ok(response) => response,
        Err(error) => error.at(&path).into_response(),
    }
}

async fn handle(
    state: &AppState,
    raw_id: &str,
    method: &str,
    token: &str,
    receipt: Option<String>,
    request: Request,
) -> Result<Response, GreenError> {
    let id = raw_id.parse::<InstanceId>().map_err(|_| GreenError::forbidden())?;
    let instance = state.gateway.authenticate(id, token).await?;
    let method = method.to_ascii_lowercase();
    let green = &state.greenapi;
    if green.config.rate_limits && !green.limits.allow(instance.id, &method) {
        return Err(GreenError::too_many_requests());
    }
    if green.config.monthly_message_quota > 0 && counts_against_quota(&method) {
        let used = state.gateway.messages_this_month(instance.id).await?;
        if used >= green.config.monthly_message_quota {
            return Err(GreenError::quota_exceeded(
                &method,
                used,
                green.config.monthly_message_quota,
            ));
        }
    }
    let query = query_map(request.uri().query().unwrap_or_default());
    let call = Call { instance, query };
    match method.as_str() {
        "uploadfile" => return upload_file(state, &call, request).await,
        "sendfilebyupload" => return send_file_by_upload(state, &call, request).await,
        _ => {}
    }
    let bytes = Bytes::from_request(request, state).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            GreenError::payload_too_large(green.config.max_json_bytes)
        } else {
            GreenError::bad_request(format!("the body could not be read: {}", e.body_text()))
        }
    })?;
    if bytes.len() > green.config.max_json_bytes {
        return Err(GreenError::payload_too_large(green.config.max_json_bytes));
    }
    let body = || body_object(&bytes);
    let ok = |value: Value| Ok(Json(value).into_response());
    let gateway = &state.gateway;
    let instance = &call.instance;
    match method.as_str() {
        // Account.
        "getsettings" => ok(settings_json(instance)),
        "setsettings" => {
            let body = body()?;
            if body.is_empty() {
                return Err(GreenError::validation("at least one setting must be given"));
            }
            let patch = settings_patch(&body, &[]).map_err(GreenError::validation)?;
            gateway
                .update_settings(instance.id, &patch, DelayPolicy::Vendor)
                .await
                .map_err(renamed)?;
            gateway
                .set_webhook_format(instance.id, WebhookFormat::Greenapi)
                .await
                .map_err(GreenError::from)?;
            ok(json!({"saveSettings": true}))
        }
        "getstateinstance" => ok(json!({"stateInstance": instance.state.as_str()})),
        "getwasettings" => {
            // The account's own number (WhatsApp) or id, as `wid` names it.
            let wid = super::convert::wid(instance);
            let phone = wid.strip_suffix(super::convert::CHAT_SUFFIX).unwrap_or(&wid);
            ok(json!({
                "avatar": "",
                "phone": phone,
                "stateInstance": instance.state.as_str(),
                "deviceId": "",
            }))
        }
        "reboot" => {
            // A sandbox comes back authorized, as a phone does after a restart.
            if instance.kind == ConnectorKind::Sandbox
                && instance.state != InstanceState::Authorized
            {
                gateway.set_state(instance.id, InstanceState::Authorized, Some("rebooted")).await?;
            }
            ok(json!({"isReboot": true}))
        }
        "logout" => {
            gateway
                .set_state(instance.id, InstanceState::NotAuthorized, Some("logged out"))
                .await?;
            ok(json!({"isLogout": true}))
        }
        // Sending.
        "sendmessage" => {
            let body = body()?;
            let text = required_string(&body, "message")?;
            send(state, &call, &body, Body::Text { text }, Vec::new()).await
        }
        "sendfilebyurl" => {
            let body = body()?;
            let url = required_string(&body, "urlFile")?;
            let name = required_string(&body, "fileName")?;
            let caption = optional_string(&body, "caption")?.filter(|c| !c.is_empty());
            let media = Media { kind: kind_of_file(&name), url, caption, file_name: Some(name) };
            send(state, &call, &body, Body::Media(media), Vec::new()).await
        }
        "sendlocation" => {
            let body = body()?;
            let location = Location {
                latitude: required_number(&body, "latitude")?,
                longitude: required_number(&body, "longitude")?,
                name: optional_string(&body, "nameLocation")?.filter(|s| !s.is_empty()),
                address: optional_string(&body, "address")?.filter(|s| !s.is_empty()),
            };
            send(state, &call, &body, Body::Location(location), Vec::new()).await
        }
        "sendcontact" => {
            let body = body()?;
            let contact = body
                .get("contact")
                .and_then(Value::as_object)
                .ok_or_else(|| GreenError::validation("'contact' is required"))?;
            let phone = match contact.get("phoneContact") {
                Some(Value::Number(n)) => n.to_string(),
                Some(Value::String(s)) => s.clone(),
                _ => return Err(GreenError::validation("'contact.phoneContact' is required")),
            };
            let field = |name: &str| contact.get(name).and_then(Value::as_str).map(str::to_owned);
            let card = ContactCard {
                phone,
                first_name: field("firstName"),
                middle_name: field("middleName"),
                last_name: field("lastName"),
                company: field("company"),
            };
            send(state, &call, &body, Body::Contact(card), Vec::new()).await
        }
        "sendinteractivebuttons" | "sendinteractivebuttonsreply" => {
            let body = body()?;
            let (text, buttons) = interactive(&body, instance)?;
            send(state, &call, &body, Body::Text { text }, buttons).await
        }
        "sendlistmessage" => {
            let body = body()?;
            let list = list_message(&body)?;
            send(state, &call, &body, Body::List(list), Vec::new()).await
        }
        // Service.
        "readchat" => {
            let body = body()?;
            let contact = chat(&body)?;
            let message = optional_string(&body, "idMessage")?;
            gateway
                .mark_read(instance, &contact, message.as_deref())
                .await
                .map_err(GreenError::from)?;
            ok(json!({"setRead": true}))
        }
        "sendtyping" => {
            let body = body()?;
            let contact = chat(&body)?;
            gateway.typing(instance, &contact).await.map_err(GreenError::from)?;
            Ok(StatusCode::OK.into_response())
        }
        "getcontactinfo" => {
            let body = body()?;
            let contact = chat(&body)?;
            let known = gateway.contact(instance.id, &contact).await?;
            let name = known.as_ref().and_then(|c| c.name.clone().or_else(|| c.username.clone()));
            ok(json!({
                "avatar": "",
                "name": name.unwrap_or_default(),
                "contactName": "",
                "email": "",
                "category": "",
                "description": "",
                "products": [],
                "chatId": super::convert::chat_id(&contact),
                "lastSeen": Value::Null,
                "isArchive": false,
                "isDisappearing": false,
                "isMute": false,
                "messageExpiration": 0,
                "muteExpiration": Value::Null,
                "isBusiness": false,
            }))
        }
        // Receiving.
        "receivenotification" => receive(state, &call).await,
        "deletenotification" => {
            let receipt = match receipt.filter(|r| !r.is_empty()) {
                Some(r) => r.parse::<u64>().ok(),
                // Some clients put the receipt id in the body instead.
                None => serde_json::from_slice::<Value>(&bytes).ok().and_then(|v| v.as_u64()),
            }
            .ok_or_else(|| GreenError::validation("'receiptId' must be a number"))?;
            let result = match gateway.ack_notification(instance.id, receipt).await {
                Ok(()) => true,
                Err(Error::NotFound(_)) => false,
                Err(e) => return Err(e.into()),
            };
            ok(json!({"result": result}))
        }
        "downloadfile" => {
            let body = body()?;
            let contact = chat(&body)?;
            let id = required_string(&body, "idMessage")?;
            let url = download_url(state, instance, &contact, &id).await?;
            ok(json!({"downloadUrl": url}))
        }
        // Journals.
        "getchathistory" => {
            let body = body()?;
            let contact = chat(&body)?;
            let count = match body.get("count") {
                None | Some(Value::Null) => DEFAULT_HISTORY,
                Some(v) => usize::try_from(
                    v.as_u64().ok_or_else(|| GreenError::validation("'count' must be a number"))?,
                )
                .unwrap_or(DEFAULT_HISTORY),
            };
            let history = gateway.chat_history(instance.id, &contact, count).await?;
            ok(Value::Array(history.iter().filter_map(chat_entry_journal).collect()))
        }
        "getmessage" => {
            let body = body()?;
            let contact = chat(&body)?;
            let id = required_string(&body, "idMessage")?;
            ok(find_message(state, instance, &contact, &id).await?)
        }
        "lastincomingmessages" => {
            let window = minutes(&call.query, &body_or_empty(&bytes))?;
            let events = gateway.recent_events(instance.id, "incomingMessage", window).await?;
            ok(Value::Array(events.iter().filter_map(incoming_journal).collect()))
        }
        "lastoutgoingmessages" => {
            let window = minutes(&call.query, &body_or_empty(&bytes))?;
            let messages = gateway.recent_messages(instance.id, window).await?;
            ok(Value::Array(messages.iter().map(outgoing_journal).collect()))
        }
        // Queues.
        "showmessagesqueue" => {
            let queue = gateway.queue(instance.id).await?;
            ok(Value::Array(queue.iter().map(queue_item).collect()))
        }
        "clearmessagesqueue" => {
            gateway.clear_queue(instance.id).await?;
            ok(json!({"isCleared": true}))
        }
        "getmessagescount" => ok(json!({"count": gateway.queue_count(instance.id).await?})),
        "getwebhookscount" => {
            ok(json!({"count": gateway.pending_notifications(instance.id).await?}))
        }
        "clearwebhooksqueue" => {
            gateway.clear_notifications(instance.id).await?;
            ok(json!({"isCleared": true, "reason": ""}))
        }
        // Statuses (seed 004).
        "getincomingstatuses" | "getoutgoingstatuses" => {
            if !instance.settings.statuses_enabled {
                return Err(GreenError {
                    status: StatusCode::FORBIDDEN,
                    message:
                        "the statuses methods are a beta feature that is not enabled for this \
                              instance; ask the operator to set statusesEnabled"
                            .into(),
                    path: String::new(),
                    body: None,
                });
            }
            let window = minutes(&call.query, &body_or_empty(&bytes))?;
            if method == "getoutgoingstatuses" {
                // Statuses cannot be posted through this gateway: there are none.
                return ok(json!([]));
            }
            let events = gateway.recent_events(instance.id, "incomingStatus", window).await?;
            ok(Value::Array(events.iter().filter_map(incoming_status).collect()))
        }
        other => Err(GreenError::unknown_method(other)),
    }
}

/// Core field names in GREEN-API's words.
fn renamed(error: Error) -> GreenError {
    match error {
        Error::Invalid(v) => {
            let field = v.field.render_with(|k| match k {
                "text" => "message",
                "to" => "chatId",
                "quickReplies" => "buttons",
                other => other,
            });
            let field = match field.as_str() {
                "media.url" => "urlFile".to_owned(),
                "media.caption" => "caption".to_owned(),
                "media.fileName" => "fileName".to_owned(),
                "list.button" => "buttonText".to_owned(),
                list if list.starts_with("list.") => {
                    list["list.".len()..].replace("].id", "].rowId")
                }
                "to.id" | "to.commentId" => "chatId".to_owned(),
                _ => field,
            };
            if field.is_empty() {
                GreenError::validation(v.message)
            } else {
                GreenError::validation(format!("'{field}' {}", v.message))
            }
        }
        other => other.into(),
    }
}

/// A request body as a JSON object; a blank body is an empty one.
///
/// # Errors
///
/// 400 when the body is not JSON, a validation error when it is JSON but
/// not an object.
pub fn body_object(bytes: &[u8]) -> Result<Map<String, Value>, GreenError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(GreenError::validation("the body must be a JSON object")),
        Err(e) => Err(GreenError::bad_request(format!("the body is not valid JSON: {e}"))),
    }
}

fn body_or_empty(bytes: &[u8]) -> Map<String, Value> {
    body_object(bytes).unwrap_or_default()
}

fn query_map(query: &str) -> Map<String, Value> {
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect()
}

fn required_string(body: &Map<String, Value>, field: &str) -> Result<String, GreenError> {
    match body.get(field) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Value::String(_)) => {
            Err(GreenError::validation(format!("'{field}' is not allowed to be empty")))
        }
        None | Some(Value::Null) => Err(GreenError::validation(format!("'{field}' is required"))),
        Some(_) => Err(GreenError::validation(format!("'{field}' must be a string"))),
    }
}

fn optional_string(body: &Map<String, Value>, field: &str) -> Result<Option<String>, GreenError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(GreenError::validation(format!("'{field}' must be a string"))),
    }
}

fn required_number(body: &Map<String, Value>, field: &str) -> Result<f64, GreenError> {
    body.get(field)
        .and_then(Value::as_f64)
        .ok_or_else(|| GreenError::validation(format!("'{field}' must be a number")))
}

fn chat(body: &Map<String, Value>) -> Result<String, GreenError> {
    let chat = required_string(body, "chatId")?;
    contact_of(&chat).map_err(GreenError::validation)
}

fn minutes(query: &Map<String, Value>, body: &Map<String, Value>) -> Result<Duration, GreenError> {
    // The async Python client sends `minutes` in a JSON body on GET.
    let value = query.get("minutes").or_else(|| body.get("minutes"));
    let minutes = match value {
        None | Some(Value::Null) => DEFAULT_MINUTES,
        Some(Value::String(s)) => {
            s.parse::<u64>().map_err(|_| GreenError::validation("'minutes' must be a number"))?
        }
        Some(v) => {
            v.as_u64().ok_or_else(|| GreenError::validation("'minutes' must be a number"))?
        }
    };
    Ok(Duration::from_secs(minutes.saturating_mul(60)))
}

/// Sends a message built from a GREEN-API body and answers `{idMessage}`.
async fn send(
    state: &AppState,
    call: &Call,
    body: &Map<String, Value>,
    content: Body,
    quick_replies: Vec<QuickReply>,
) -> Result<Response, GreenError> {
    let id = send_message(state, call, body, content, quick_replies).await?;
    Ok(Json(json!({"idMessage": id})).into_response())
}

/// Sends a message built from a GREEN-API body (chatId, quotedMessageId);
/// returns its id.
async fn send_message(
    state: &AppState,
    call: &Call,
    body: &Map<String, Value>,
    content: Body,
    quick_replies: Vec<QuickReply>,
) -> Result<String, GreenError> {
    let contact = chat(body)?;
    let reply_to = optional_string(body, "quotedMessageId")?.filter(|q| !q.is_empty());
    let request = SendRequest {
        recipient: Recipient::User(contact),
        content: Content { body: content, quick_replies, reply_to },
        idempotency_key: None,
        recipient_username: None,
        callback: None,
    };
    let accepted = state.gateway.send(&call.instance, request).await.map_err(renamed)?;
    Ok(accepted.message.id.to_string())
}

/// The text and quick replies of sendInteractiveButtons. Instagram has
/// reply buttons only (quick replies); url, call and copy buttons cannot be
/// carried and are refused.
fn interactive(
    body: &Map<String, Value>,
    instance: &Instance,
) -> Result<(String, Vec<QuickReply>), GreenError> {
    let text = [
        optional_string(body, "header")?,
        Some(required_string(body, "body")?),
        optional_string(body, "footer")?,
    ]
    .into_iter()
    .flatten()
    .filter(|s| !s.is_empty())
    .collect::<Vec<_>>()
    .join("\n");
    let buttons = body
        .get("buttons")
        .and_then(Value::as_array)
        .ok_or_else(|| GreenError::validation("'buttons' is required"))?;
    let mut replies = Vec::with_capacity(buttons.len());
    for (i, button) in buttons.iter().enumerate() {
        let kind = button.get("type").and_then(Value::as_str).unwrap_or("reply");
        if kind != "reply" {
            return Err(GreenError::validation(format!(
                "'buttons[{i}].type' {kind} buttons cannot be sent through the {} connector; it carries reply buttons (as quick replies) only",
                instance.kind
            )));
        }
        let title = button.get("buttonText").and_then(Value::as_str).ok_or_else(|| {
            GreenError::validation(format!("'buttons[{i}].buttonText' is required"))
        })?;
        let id = button.get("buttonId").and_then(|v| {
            v.as_str().map(str::to_owned).or_else(|| v.as_u64().map(|n| n.to_string()))
        });
        replies.push(QuickReply {
            title: title.to_owned(),
            payload: id.or_else(|| Some(title.to_owned())),
        });
    }
    Ok((text, replies))
}

/// sendListMessage's body (`message`, `buttonText`, `title?`, `footer?`,
/// `sections: [{title, rows: [{rowId, title, description?}]}]`) as a list
/// message; title and footer join the text, as WhatsApp's list carries
/// only a body here.
fn list_message(
    body: &Map<String, Value>,
) -> Result<chatgate_core::message::ListMessage, GreenError> {
    use chatgate_core::message::{ListMessage, ListRow, ListSection};
    let text = [
        optional_string(body, "title")?,
        Some(required_string(body, "message")?),
        optional_string(body, "footer")?,
    ]
    .into_iter()
    .flatten()
    .filter(|s| !s.is_empty())
    .collect::<Vec<_>>()
    .join("\n");
    let button = required_string(body, "buttonText")?;
    let sections = body
        .get("sections")
        .and_then(Value::as_array)
        .ok_or_else(|| GreenError::validation("'sections' is required"))?;
    let text_of = |value: &Value, field: String| match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(GreenError::validation(format!("'{field}' is required"))),
    };
    let mut out = Vec::with_capacity(sections.len());
    for (i, section) in sections.iter().enumerate() {
        let rows = section
            .get("rows")
            .and_then(Value::as_array)
            .ok_or_else(|| GreenError::validation(format!("'sections[{i}].rows' is required")))?;
        let mut list_rows = Vec::with_capacity(rows.len());
        for (j, row) in rows.iter().enumerate() {
            let at = |name: &str| format!("sections[{i}].rows[{j}].{name}");
            list_rows.push(ListRow {
                id: text_of(row.get("rowId").unwrap_or(&Value::Null), at("rowId"))?,
                title: text_of(row.get("title").unwrap_or(&Value::Null), at("title"))?,
                description: row
                    .get("description")
                    .and_then(Value::as_str)
                    .filter(|d| !d.is_empty())
                    .map(str::to_owned),
            });
        }
        let title = section.get("title").and_then(Value::as_str).filter(|t| !t.is_empty());
        out.push(ListSection { title: title.map(str::to_owned), rows: list_rows });
    }
    Ok(ListMessage { text, button, sections: out })
}

/// receiveNotification: the oldest unacknowledged notification in
/// GREEN-API's shape, or `null` after `receiveTimeout` seconds. Events
/// GREEN-API has no notification for are acknowledged and passed over.
async fn receive(state: &AppState, call: &Call) -> Result<Response, GreenError> {
    let timeout = match call.query.get("receiveTimeout").and_then(Value::as_str) {
        None => 5,
        Some(t) => t
            .parse::<u64>()
            .map_err(|_| GreenError::validation("'receiveTimeout' must be a number"))?,
    };
    if !RECEIVE_TIMEOUT.contains(&timeout) {
        return Err(GreenError::validation(format!(
            "'receiveTimeout' must be between {} and {} seconds",
            RECEIVE_TIMEOUT.start(),
            RECEIVE_TIMEOUT.end()
        )));
    }
    if call.instance.settings.webhook_url.is_some() {
        return Err(GreenError::bad_request(
            "notifications are pushed to webhookUrl; set webhookUrl to \"\" to receive them with receiveNotification",
        ));
    }
    let _slot = state.limits.long_poll(call.instance.id).ok_or_else(|| {
        GreenError::too_many_requests_because(format!(
            "this instance already has {} receiveNotification calls waiting",
            state.limits.config().long_polls_per_instance
        ))
    })?;
    let deadline = state.gateway.clock().now().plus(Duration::from_secs(timeout));
    loop {
        let left = deadline.since(state.gateway.clock().now());
        let Some(next) = state.gateway.next_notification(call.instance.id, left).await? else {
            return Ok(Json(Value::Null).into_response());
        };
        match notification(&call.instance, &next.event) {
            Some(body) => {
                return Ok(
                    Json(json!({"receiptId": next.receipt_id, "body": body})).into_response()
                );
            }
            None => state.gateway.ack_notification(call.instance.id, next.receipt_id).await?,
        }
        if state.gateway.clock().now() >= deadline {
            return Ok(Json(Value::Null).into_response());
        }
    }
}

async fn find_message(
    state: &AppState,
    instance: &Instance,
    contact: &str,
    id: &str,
) -> Result<Value, GreenError> {
    if let Ok(message_id) = id.parse::<MessageId>()
        && let Ok(message) = state.gateway.message(instance.id, message_id).await
        && message.recipient.id() == contact
    {
        return Ok(outgoing_journal(&message));
    }
    if let Some(event) = state.gateway.inbound_message(instance.id, id).await?
        && event.payload.sender().is_some_and(|s| s.id == contact)
        && let Some(found) = incoming_journal(&event)
    {
        return Ok(found);
    }
    Err(GreenError::bad_request(format!(
        "message not found by chatId {contact}@c.us and idMessage {id}"
    )))
}

async fn download_url(
    state: &AppState,
    instance: &Instance,
    contact: &str,
    id: &str,
) -> Result<String, GreenError> {
    if let Some(event) = state.gateway.inbound_message(instance.id, id).await?
        && let chatgate_core::EventPayload::IncomingMessage(m) = &event.payload
        && m.from.id == contact
        && let Some(media) = &m.media
    {
        return Ok(media.url.clone());
    }
    if let Ok(message_id) = id.parse::<MessageId>()
        && let Ok(message) = state.gateway.message(instance.id, message_id).await
        && message.recipient.id() == contact
        && let Body::Media(media) = &message.content.body
    {
        return Ok(media.url.clone());
    }
    Err(GreenError::bad_request(format!(
        "File message encrypted url not found by chatId {contact}@c.us and idMessage {id}"
    )))
}

/// A file name that is safe in a URL path and on any disk.
fn safe_name(name: &str) -> String {
    let cleaned: String = name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default()
        .chars()
        .map(|c| if c.is_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' })
        .collect();
    if cleaned.trim_matches('.').is_empty() { "file.bin".to_owned() } else { cleaned }
}

/// Keeps an uploaded file and answers its public URL.
async fn keep_file(
    state: &AppState,
    instance: &Instance,
    name: &str,
    content_type: &str,
    data: Vec<u8>,
) -> Result<String, GreenError> {
    if data.is_empty() {
        return Err(GreenError::validation("the file is empty"));
    }
    let name = safe_name(name);
    let id = state.gateway.store_file(instance.id, &name, content_type, data).await?;
    Ok(format!("{}/files/{id}/{name}", state.greenapi.config.public_url.trim_end_matches('/')))
}

/// uploadFile: the raw bytes with `Content-Type` and `GA-Filename`.
async fn upload_file(
    state: &AppState,
    call: &Call,
    request: Request,
) -> Result<Response, GreenError> {
    let headers: HeaderMap = request.headers().clone();
    let bytes = Bytes::from_request(request, state).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            GreenError::payload_too_large(state.greenapi.config.max_upload_bytes)
        } else {
            GreenError::bad_request(format!("the file could not be read: {}", e.body_text()))
        }
    })?;
    let name = headers
        .get("ga-filename")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(|| "file.bin".to_owned());
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(|| mime_of(&name).to_owned());
    let url = keep_file(state, &call.instance, &name, &content_type, bytes.to_vec()).await?;
    Ok(Json(json!({"urlFile": url})).into_response())
}

/// sendFileByUpload: a multipart form with `file`, `chatId`, `fileName`,
/// `caption`, `quotedMessageId`.
async fn send_file_by_upload(
    state: &AppState,
    call: &Call,
    request: Request,
) -> Result<Response, GreenError> {
    let mut multipart = Multipart::from_request(request, state).await.map_err(|e| {
        GreenError::validation(format!("a multipart form is expected: {}", e.body_text()))
    })?;
    let mut fields = Map::new();
    let mut file: Option<(String, String, Vec<u8>)> = None;
    let multipart_error = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            GreenError::payload_too_large(state.greenapi.config.max_upload_bytes)
        } else {
            GreenError::validation(format!("bad multipart form: {}", e.body_text()))
        }
    };
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            let file_name = field.file_name().unwrap_or("file.bin").to_owned();
            let content_type = field
                .content_type()
                .map(str::to_owned)
                .unwrap_or_else(|| mime_of(&file_name).to_owned());
            let data = field.bytes().await.map_err(multipart_error)?;
            file = Some((file_name, content_type, data.to_vec()));
        } else {
            let text = field.text().await.map_err(multipart_error)?;
            fields.insert(name, Value::String(text));
        }
    }
    let (uploaded_name, content_type, data) =
        file.ok_or_else(|| GreenError::validation("'file' is required"))?;
    let name =
        optional_string(&fields, "fileName")?.filter(|n| !n.is_empty()).unwrap_or(uploaded_name);
    chat(&fields)?;
    let url = keep_file(state, &call.instance, &name, &content_type, data).await?;
    let caption = optional_string(&fields, "caption")?.filter(|c| !c.is_empty());
    let media = Media {
        kind: kind_of_file(&name),
        url: url.clone(),
        caption,
        file_name: Some(name.clone()),
    };
    let id = send_message(state, call, &fields, Body::Media(media), Vec::new()).await?;
    Ok(Json(json!({"idMessage": id, "urlFile": url})).into_response())
}
