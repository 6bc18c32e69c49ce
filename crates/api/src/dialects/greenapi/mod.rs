//! The GREEN-API dialect: the partner API (seed 003), the instance API
//! `{host}/waInstance{idInstance}/{method}/{apiTokenInstance}` with
//! account, sending, receiving, journals, queues and statuses (seed 004),
//! and notifications in GREEN-API's shape.
//!
//! Decisions (GREEN-API is a WhatsApp product; chatgate carries it over
//! Instagram and WhatsApp):
//! - **chatId** is the connector's contact id with GREEN-API's suffix:
//!   `<Instagram-scoped id>@c.us`, on WhatsApp `<wa_id>@c.us` (the phone
//!   number, as on GREEN-API). A chatId is accepted with or without the
//!   suffix; group chats (`@g.us`) are refused.
//! - **idMessage** of a sent message is chatgate's message id; of an
//!   incoming one, the platform's message id.
//! - **wid** is the instance's account id with `@c.us` (WhatsApp: the
//!   number's display phone, not its Cloud API phone number id);
//!   **typeInstance** is the connector (`sandbox`, `instagram`, `whatsapp`).
//! - **On WhatsApp**, a tapped reply button or list row arrives as
//!   `buttonsResponseMessage` (`selectedButtonId` is the button or row id);
//!   incoming files carry a `downloadUrl` of the gateway that fetches them
//!   from Meta's media API when followed; list messages and templates sent
//!   through the native API show in journals and queues as `listMessage`
//!   (GREEN-API's shape) and `templateMessage` (`templateName`, `language`,
//!   `components`: GREEN-API has no template of the Cloud API's kind).
//!   readChat without `idMessage` marks the customer's newest message read.
//! - **Method names** are matched case-insensitively (old clients call
//!   `SendMessage`), and any of GET, POST, DELETE is accepted for any method.
//! - **A method the connector cannot carry** (a location or contact on
//!   Instagram, url/call/copy buttons) is a 400 naming the connector, never
//!   a silent success. Reply buttons of `sendInteractiveButtons` become
//!   Instagram quick replies or WhatsApp reply buttons (header, body and
//!   footer joined as the body).
//! - **Errors** follow GREEN-API: 400 `{"statusCode", "timestamp", "path",
//!   "message": "Validation failed. Details: …"}`, 401 bad token, 403 unknown
//!   instance, 429 over the per-method limit, 466 over the monthly quota.
//!   The `path` leaves the token out (GREEN-API echoes it).
//! - **Statuses** (seed 004) answer 403 unless the instance's
//!   `statusesEnabled` setting is on (off by default; the operator turns it
//!   on with the native settings API or setSettings). Stories cannot be
//!   posted through the gateway, so getOutgoingStatuses lists none.
//! - **Uploaded files** (uploadFile, sendFileByUpload) are stored in the
//!   database and served at `{public_url}/files/{id}/{name}`, where the
//!   platform fetches them.
//! - **receiveNotification** answers `null` after `receiveTimeout` seconds;
//!   events GREEN-API has no notification for (comments, stories) are
//!   acknowledged and passed over. It is refused while a webhookUrl is set.
//! - **getInstances** shows each instance's API token: chatgate keeps it
//!   sealed with the server key for exactly this.

pub mod convert;
pub mod error;
pub mod hooks;
pub mod limits;
pub mod partner;
pub mod routes;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{any, get};
use chatgate_core::ConnectorKind;

pub use hooks::GreenApiHooks;

use crate::AppState;

/// What the dialect needs from the configuration (section `greenapi`).
#[derive(Debug, Clone)]
pub struct GreenApiConfig {
    /// Enforce GREEN-API's per-method limits (429).
    pub rate_limits: bool,
    /// Messages an instance may send per calendar month; 0 means no quota.
    pub monthly_message_quota: u64,
    /// The connector of instances created without `typeInstance`.
    pub default_type_instance: ConnectorKind,
    /// The base URL uploaded files are served under.
    pub public_url: String,
    /// Largest upload, in bytes.
    pub max_upload_bytes: usize,
    /// Largest JSON body, in bytes.
    pub max_json_bytes: usize,
}

/// The dialect's shared state.
pub struct GreenApiState {
    /// Its configuration.
    pub config: GreenApiConfig,
    /// Its rate limiters.
    pub limits: limits::Limits,
}

impl GreenApiState {
    /// The state for a configuration.
    pub fn new(config: GreenApiConfig) -> Self {
        Self { config, limits: limits::Limits::new() }
    }
}

/// The partner and instance routes.
pub fn router(max_upload_bytes: usize) -> Router<AppState> {
    Router::new()
        .route("/partner/{method}/{token}", get(partner::call).post(partner::call))
        .route("/{instance}/{method}/{token}", any(routes::call3))
        .route("/{instance}/{method}/{token}/", any(routes::call3))
        .route("/{instance}/{method}/{token}/{receipt}", any(routes::call4))
        .route("/{instance}/{method}/{token}/{receipt}/", any(routes::call4))
        .layer(DefaultBodyLimit::max(max_upload_bytes))
}
