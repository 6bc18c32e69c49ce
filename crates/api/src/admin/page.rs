//! Rendering admin pages: the HTML error page, the headers every admin
//! answer carries, and small formatting helpers shared by the views.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chatgate_core::Timestamp;
use chatgate_core::message::{Body, Content};

use crate::error::ApiError;

/// An admin page that could not be shown, as an HTML page with the reason.
#[derive(Debug)]
pub struct AdminError {
    status: StatusCode,
    message: String,
}

impl AdminError {
    /// An error with a status and a sentence for the operator.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into() }
    }

    /// A missing thing.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
}

impl From<chatgate_core::Error> for AdminError {
    fn from(error: chatgate_core::Error) -> Self {
        // The API's mapping decides the status and the wording; the admin
        // page shows the same sentence, with the field when there is one.
        let api = ApiError::from(error);
        let message = match api.field {
            Some(field) => format!("{} ({field})", api.detail),
            None => api.detail,
        };
        Self { status: api.status, message }
    }
}

#[derive(Template)]
#[template(path = "admin/error.html")]
struct ErrorPage<'a> {
    status: u16,
    reason: &'a str,
    message: &'a str,
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let page = ErrorPage {
            status: self.status.as_u16(),
            reason: self.status.canonical_reason().unwrap_or("Error"),
            message: &self.message,
        };
        (self.status, render(&page)).into_response()
    }
}

/// What admin handlers answer.
pub type AdminResult<T> = Result<T, AdminError>;

/// Renders a template to an HTML answer (a template that fails to render
/// is a bug: it says so instead of panicking).
pub fn render<T: Template>(template: &T) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(error) => {
            tracing::error!(error = %error, "an admin template failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "the page could not be rendered").into_response()
        }
    }
}

/// Adds the headers every admin answer carries: nothing from other
/// origins (no script, style, frame or form target outside this server),
/// not framed, not cached, no referrer to other sites (same-origin
/// requests keep theirs, so forms carry a real `Origin`).
pub async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    response
}

/// A time as people read it, to the second, in UTC.
pub fn when(at: Timestamp) -> String {
    let text = at.to_rfc3339();
    // 2026-01-01T00:00:00.000Z → 2026-01-01 00:00:00
    text.get(..19).map(|t| t.replace('T', " ")).unwrap_or(text)
}

/// One line saying what a message carries.
pub fn content_summary(content: &Content) -> String {
    match &content.body {
        Body::Text { text } => text.clone(),
        Body::Media(media) => {
            let kind = format!("{:?}", media.kind).to_lowercase();
            match &media.caption {
                Some(caption) => format!("[{kind}] {} — {caption}", media.url),
                None => format!("[{kind}] {}", media.url),
            }
        }
        Body::Template(_) => String::from("[template]"),
        Body::Sticker { .. } => String::from("[sticker]"),
        Body::Location(_) => String::from("[location]"),
        Body::Contact(_) => String::from("[contact card]"),
        other => format!("[{}]", variant_name(other)),
    }
}

fn variant_name(body: &Body) -> String {
    let debug = format!("{body:?}");
    debug.split(|c: char| !c.is_alphanumeric()).next().unwrap_or("message").to_lowercase()
}
