//! The admin web UI at `/admin`: server-rendered pages (askama templates,
//! escaped by default) with no outside assets — the stylesheet and the one
//! script are served from the binary — so it works offline and, for
//! everything read-only, without JavaScript.
//!
//! - [`session`]: sign-in with the partner token, the session cookie and
//!   the CSRF token every form carries;
//! - [`pages`]: the instances list, one instance (settings, queue, recent
//!   messages with their status timeline, events, webhook deliveries with
//!   every attempt and a redeliver button), create and delete;
//! - [`chat`]: the sandbox chat page with its live stream.

pub mod chat;
pub mod page;
pub mod pages;
pub mod session;
pub mod views;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::AppState;

const STYLESHEET: &str = include_str!("../../assets/admin/admin.css");
const CHAT_SCRIPT: &str = include_str!("../../assets/admin/chat.js");

/// Every admin route, with the security headers on each answer.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin", get(pages::home))
        .route("/admin/", get(pages::home))
        .route("/admin/login", get(pages::login_page).post(pages::login))
        .route("/admin/logout", post(pages::logout))
        .route("/admin/instances", get(pages::instances).post(pages::create))
        .route("/admin/instances/{id}", get(pages::instance))
        .route("/admin/instances/{id}/created", get(pages::created))
        .route("/admin/instances/{id}/settings", post(pages::settings))
        .route("/admin/instances/{id}/delete", get(pages::confirm_delete).post(pages::delete))
        .route("/admin/instances/{id}/deliveries/{event}/redeliver", post(pages::redeliver))
        .route("/admin/instances/{id}/chat", get(chat::page))
        .route("/admin/instances/{id}/chat/customer", post(chat::customer_writes))
        .route("/admin/instances/{id}/chat/reply", post(chat::reply))
        .route("/admin/instances/{id}/chat/stream", get(chat::stream))
        .route("/admin/assets/{file}", get(asset))
        .layer(middleware::map_response(page::security_headers))
}

/// The stylesheet and the chat script, from the binary.
async fn asset(Path(file): Path<String>) -> Response {
    let (body, kind) = match file.as_str() {
        "admin.css" => (STYLESHEET, "text/css; charset=utf-8"),
        "chat.js" => (CHAT_SCRIPT, "text/javascript; charset=utf-8"),
        _ => return page::AdminError::not_found("There is no such file.").into_response(),
    };
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    response
}
