//! The imiconnect / Webex Connect Instagram dialect (seed 002): enterprises
//! that send Instagram messages with imiconnect's JSON switch by host.
//!
//! `POST /v1/instagram/messages` takes the seed's bodies (`contentType`
//! TEXT, TEMPLATE, MEDIA, STICKER; `quickReplies`; `from`, `to`;
//! `callbackUrl`, `callbackData`, `correlationId`, `notificationType`,
//! `messagingType`) and answers **202** `{"messageId", "acceptedTime",
//! "correlationId", "status": "QUEUED"}`; `GET /v1/instagram/messages/
//! {messageId}` answers the message's current status. Each status change
//! of a message with a `callbackUrl` is posted there (see [`hooks`]).
//!
//! Decisions where the seed is silent or contradicts itself (tested in
//! `tests/it/imiconnect.rs`):
//! - **Auth**: a Service Key is the instance's API token in the `key`
//!   header; a JWT (HS256) names the instance id as `iss` and is signed with
//!   the instance's service secret (base64, shown as `serviceSecret` in
//!   `GET /api/v1/instances/{id}/settings`). With both, only the JWT counts
//!   (see [`auth`]). `iat` must be within `imiconnect.jwt_skew_secs`.
//! - **`from`** is mandatory as the seed says, but not matched: the
//!   authenticated instance is the sender (its account id is what
//!   imiconnect calls the app id).
//! - **TEMPLATE with `content`**: the seed's example carries `"content":
//!   "hello"` next to the template; Instagram's generic template has no
//!   text, so it is ignored.
//! - **URLs without a scheme** (`"url": "www.google.com"` in the seed's
//!   button) are taken as `https://`.
//! - **`image_url` / `imageUrl`**, **`content_type` / `type`** of quick
//!   replies: the table and the example disagree; both spellings are read.
//! - **MEDIA** is an image ("the channel only supports image").
//! - **`template`** is read as the example's array of elements or as the
//!   table's object `{template_type: generic, elements}` (the `button`
//!   template is refused).
//! - **Instances**: instagram and sandbox instances send; a WhatsApp
//!   instance is refused (`WRONG_CHANNEL`).
//! - **Callbacks** (the seed is silent on their shape): see [`hooks`]; they
//!   are signed with the service secret and have their own ids.
//! - **Limits** are the seed's: ≤ 10 quick replies (Instagram allows 13),
//!   titles ≤ 20, payloads ≤ 1000; ≤ 10 elements with title and subtitle
//!   ≤ 80 and ≤ 3 buttons. Text follows Instagram's 1000 characters.
//! - **`messagingType`** (RESPONSE, UPDATE, MESSAGE_TAG) and
//!   **`notificationType`** (REGULAR, SILENT_PUSH, NO_PUSH) are checked and
//!   recorded nowhere else: the 24-hour window and the HUMAN_AGENT setting
//!   of the instance decide what Meta is told.
//! - **Errors** are `{"code", "description", "field"?}` (see [`error`]).

pub mod auth;
pub mod convert;
pub mod error;
pub mod hooks;
pub mod routes;
pub mod wire;

use std::time::Duration;

pub use hooks::ImiconnectCallbacks;
pub use routes::router;

/// The dialect's configuration (section `imiconnect`).
#[derive(Debug, Clone)]
pub struct ImiconnectConfig {
    /// How far a JWT's `iat` may be from the gateway's clock.
    pub jwt_skew: Duration,
}

impl Default for ImiconnectConfig {
    fn default() -> Self {
        Self { jwt_skew: Duration::from_secs(300) }
    }
}
