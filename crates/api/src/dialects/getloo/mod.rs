//! The Getloo "Insta API" dialect (seed 000):
//! `GET|POST /insta/{TOKEN}/{METHOD}` with `getInfo`, `sendMsg`, `getUrl`,
//! `getWebHook`, `setWebHook`, and webhooks in Getloo's shape.
//!
//! Decisions where the seed is silent or contradicts itself:
//! - **`file` or `caption`.** The seed lists `file` as mandatory for
//!   `sendMsg` but also says a comment "can be answered only with a text
//!   message": a request needs a `file` or a `caption` (a text-only message
//!   to a person is allowed too).
//! - **Option length.** The seed says "up to 13 buttons, text up to 20
//!   characters", yet its own `sendMsg` example has 24-character options.
//!   More than 13 options is a 400; a longer option is cut to 20 characters
//!   for the button, as Instagram itself cuts quick-reply titles, and sent
//!   whole as the button's payload, so the seed's example works.
//! - **Comment replies.** `user_id` may be a comment id from an
//!   `incomingComment` webhook: then only text is allowed, and only one
//!   reply per comment (a second is a 400).
//! - **File types.** The seed's table: images `.jpg` (and `.jpeg`, the same
//!   type), `.png`, `.ico`, `.bmp` ≤ 8 MB; voice `.mp3`, `.aac` (the seed
//!   writes "acc"; both are accepted), `.m4a`, `.wav`, `.mp4` ≤ 25 MB; video
//!   `.mp4` ≤ 25 MB. An `.mp4` is voice when its server reports `audio/…`,
//!   video otherwise. The size and type come from the file's server (HEAD,
//!   or a one-byte ranged GET) through the SSRF guard; a size that cannot be
//!   learnt is a 400. A reported type that contradicts the extension
//!   (`text/html` for a `.jpg`) is a 400; `application/octet-stream` or no
//!   type is taken as not contradicting.
//! - **402.** Every method answers 402 with `result.success: false` when
//!   the instance is not active or not authorized ("no active channels");
//!   `getInfo`, `getUrl` and `getWebHook` still show the `channel`, with
//!   `status: false`.
//! - **HTTP methods.** `getInfo`, `getUrl` and `getWebHook` answer GET and
//!   POST; `sendMsg` and `setWebHook` need POST (GET is a 400).
//! - **Incoming media webhooks.** The seed's video example has
//!   `"type": "image"` with `mimeType: video/mp4`. Kept as documented: every
//!   incoming file (picture, video, voice, other) is `"type": "image"`, told
//!   apart by `mimeType`; `content.body` carries the caption and is left out
//!   when there is none (as in the video example).
//! - **Delivery webhooks.** The seed's `device` block there carries `mdn`, a
//!   phone number (a copy from Getloo's WhatsApp product). Kept: `mdn` holds
//!   the recipient's Instagram id; `user_id` and `username` are added so an
//!   Instagram client need not know that. `whatsappSuccess` / `pending`
//!   means the platform accepted the message (`sent`); `expired` is reported
//!   as `errorActionFail` / `fail` like `failed`.
//! - **`queueId`.** `sendMsg`'s `queue_id` is 40 hex characters derived from
//!   the message id, and the same value is the `queueId` of its delivery
//!   webhooks; an incoming webhook's `queueId` is derived from the event id
//!   the same way.
//! - **Unknown names.** The seed's `username` and `profileName` are
//!   strings; when chatgate does not know them they are `""`, not `null`.
//! - **`createdAt`.** ISO 8601 with the offset `dialects.getloo.utc_offset`
//!   (default `+03:00`, as in the seed), no fractional seconds.
//! - Events Getloo has no webhook for (reactions, stories, state changes)
//!   are not pushed to a Getloo-format webhook.

pub mod convert;
pub mod error;
pub mod hooks;
pub mod routes;
pub mod wire;

pub use hooks::GetlooHooks;
pub use routes::router;
