//! The sandbox chat page: the conversation with one contact as a messenger
//! thread. The operator writes as the customer (a sandbox instance's
//! customer is played, exactly as `POST …/sandbox/incoming` does) or replies
//! as the business (a real send through the queue), and watches replies and
//! statuses arrive live over server-sent events.
//!
//! Without JavaScript the page is complete and both forms work (each post
//! comes back to the page); with it, `chat.js` replaces the thread whenever
//! the stream sends a new rendering of it.

use std::convert::Infallible;
use std::time::Duration;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{Redirect, Response};
use chatgate_connectors::sandbox::inbound::{self, IncomingType, SandboxIncoming};
use chatgate_core::event::Sender;
use chatgate_core::gateway::SendRequest;
use chatgate_core::message::{Content, Recipient};
use chatgate_core::{ConnectorKind, InstanceId};
use futures::Stream;
use serde::Deserialize;

use super::page::{AdminError, AdminResult, render};
use super::pages::instance_id;
use super::session::{AdminForm, AdminSession};
use super::views::{Bubble, ChatPage, ThreadView};
use crate::AppState;

/// The contact a chat opens with when none is named.
const DEFAULT_CONTACT: &str = "sandbox-customer";
/// How many entries of the thread are shown.
const THREAD_LIMIT: usize = 100;
/// How often the stream looks at the thread again.
const STREAM_TICK: Duration = Duration::from_secs(1);
/// How long one stream lives; the browser reconnects at once. Bounded so a
/// forgotten tab never holds a connection (or a shutdown) for long.
const STREAM_LIFE: Duration = Duration::from_secs(60);

/// `?contact=`.
#[derive(Debug, Deserialize)]
pub struct ContactQuery {
    contact: Option<String>,
}

/// A contact id as the forms take it: 1–64 characters, no spaces or
/// markup.
fn contact(raw: Option<&str>) -> AdminResult<String> {
    let contact = raw.map(str::trim).filter(|c| !c.is_empty()).unwrap_or(DEFAULT_CONTACT);
    let allowed = |c: char| c.is_ascii_alphanumeric() || "_.:@+-".contains(c);
    if contact.len() > 64 || !contact.chars().all(allowed) {
        return Err(AdminError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "A customer id is 1 to 64 letters, digits or _ . : @ + -.",
        ));
    }
    Ok(contact.to_owned())
}

async fn thread(state: &AppState, id: InstanceId, contact: &str) -> AdminResult<String> {
    let mut entries = state.gateway.chat_history(id, contact, THREAD_LIMIT).await?;
    entries.reverse();
    let view = ThreadView {
        contact: contact.to_owned(),
        entries: entries.iter().map(Bubble::from).collect(),
    };
    view.render().map_err(|e| AdminError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

/// `GET /admin/instances/{id}/chat?contact=`.
pub async fn page(
    State(state): State<AppState>,
    session: AdminSession,
    Path(raw): Path<String>,
    Query(query): Query<ContactQuery>,
) -> AdminResult<Response> {
    let id = instance_id(&raw)?;
    let instance = state.gateway.instance(id).await?;
    let contact = contact(query.contact.as_deref())?;
    let thread = thread(&state, id, &contact).await?;
    Ok(render(&ChatPage {
        csrf: session.csrf().to_owned(),
        id: id.to_string(),
        name: instance.name,
        sandbox: instance.kind == ConnectorKind::Sandbox,
        contact,
        thread,
    }))
}

fn back_to(id: InstanceId, contact: &str) -> Redirect {
    let query = serde_urlencoded::to_string([("contact", contact)]).unwrap_or_default();
    Redirect::to(&format!("/admin/instances/{id}/chat?{query}"))
}

/// The customer's form.
#[derive(Debug, Deserialize)]
pub struct CustomerForm {
    contact: String,
    kind: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    url: String,
}

/// `POST /admin/instances/{id}/chat/customer`: the customer writes.
pub async fn customer_writes(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    AdminForm { form, .. }: AdminForm<CustomerForm>,
) -> AdminResult<Redirect> {
    let id = instance_id(&raw)?;
    let instance = state.gateway.instance(id).await?;
    if instance.kind != ConnectorKind::Sandbox {
        return Err(AdminError::new(
            StatusCode::CONFLICT,
            "Only a sandbox instance has a customer to play; real customers write on the platform.",
        ));
    }
    let contact = contact(Some(&form.contact))?;
    let kind = match form.kind.as_str() {
        "text" => IncomingType::Text,
        "image" => IncomingType::Image,
        "comment" => IncomingType::Comment,
        _ => {
            return Err(AdminError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "The customer can write a text, send an image or comment.",
            ));
        }
    };
    let nonempty = |s: String| (!s.trim().is_empty()).then_some(s);
    let request = SandboxIncoming {
        text: nonempty(form.text),
        url: nonempty(form.url),
        ..SandboxIncoming::new(Sender { id: contact.clone(), username: None, name: None }, kind)
    };
    let event = inbound::event(request).map_err(|violation| {
        AdminError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("The {} {}.", violation.field, violation.message),
        )
    })?;
    state.gateway.ingest(id, vec![event]).await?;
    Ok(back_to(id, &contact))
}

/// The business's reply form.
#[derive(Debug, Deserialize)]
pub struct ReplyForm {
    contact: String,
    text: String,
}

/// `POST /admin/instances/{id}/chat/reply`: the business replies through
/// the gateway, as an API call would.
pub async fn reply(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    AdminForm { form, .. }: AdminForm<ReplyForm>,
) -> AdminResult<Redirect> {
    let id = instance_id(&raw)?;
    let instance = state.gateway.instance(id).await?;
    let contact = contact(Some(&form.contact))?;
    let request = SendRequest {
        recipient: Recipient::User(contact.clone()),
        content: Content::text(form.text),
        idempotency_key: None,
        recipient_username: None,
        callback: None,
    };
    let accepted = state.gateway.send(&instance, request).await?;
    tracing::info!(instance = %id, message = %accepted.message.id, "message sent from the admin chat");
    Ok(back_to(id, &contact))
}

/// `GET /admin/instances/{id}/chat/stream?contact=`: server-sent events,
/// one `thread` event with the thread's HTML whenever it changed.
pub async fn stream(
    State(state): State<AppState>,
    _: AdminSession,
    Path(raw): Path<String>,
    Query(query): Query<ContactQuery>,
) -> AdminResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    let id = instance_id(&raw)?;
    state.gateway.instance(id).await?;
    let contact = contact(query.contact.as_deref())?;
    let ends = tokio::time::Instant::now() + STREAM_LIFE;
    let start = Watch { state, id, contact, last: None, ends, first: true };
    let events = futures::stream::unfold(start, |mut watch| async move {
        loop {
            // A stop ends the stream at once: the browser reconnects to
            // whichever server answers next.
            if tokio::time::Instant::now() >= watch.ends || watch.state.gateway.is_stopping() {
                return None;
            }
            // It looks again every tick rather than waiting on the
            // instance's notification signal: that signal leaves one permit,
            // which a chat page must not take from a long-polling consumer.
            if !watch.first {
                tokio::select! {
                    () = tokio::time::sleep(STREAM_TICK) => {}
                    () = watch.state.gateway.stopped() => return None,
                }
            }
            watch.first = false;
            let Ok(html) = thread(&watch.state, watch.id, &watch.contact).await else {
                continue;
            };
            if watch.last.as_deref() != Some(html.as_str()) {
                watch.last = Some(html.clone());
                // Newlines become several `data:` lines, which the browser
                // joins again (a message's own line breaks survive).
                let event = SseEvent::default().event("thread").data(html.replace('\r', ""));
                return Some((Ok(event), watch));
            }
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

/// What one live stream remembers between looks.
struct Watch {
    state: AppState,
    id: InstanceId,
    contact: String,
    last: Option<String>,
    ends: tokio::time::Instant,
    first: bool,
}
