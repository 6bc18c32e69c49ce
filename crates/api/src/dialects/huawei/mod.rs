//! The Huawei push endpoint (seed 001, "Pushing an Instagram Message"):
//! `POST /apiaccess/api/instagram/message/{chanId}`, where Huawei's customer
//! service platform receives Instagram messages in Meta's own webhook
//! envelope. A system that pushed to Huawei pushes here unchanged.
//!
//! Decisions where the seed is silent (recorded here, tested in
//! `tests/it/huawei.rs`):
//! - `{chanId}` is the chatgate instance id. Pushed with the channel's own
//!   API token, every entry of the body goes to that instance, whatever its
//!   `entry.id` (the seed's example says `"IGID"`). Pushed with Meta's
//!   signature, the channel takes only the entries of its own account (a
//!   signature proves the body is Meta's, not whose it is). Without
//!   `{chanId}` entries are routed by `entry.id` to the instance connected
//!   to that account, as `/webhooks/meta` does.
//! - Authentication ("401 Unauthorized operation"): either Meta's
//!   `X-Hub-Signature-256` with the configured app secret, or the instance's
//!   API token as `Authorization: Bearer`. With a bearer token and no
//!   `{chanId}`, only entries of the token's own instance are taken.
//!   Credentials are checked before the channel: without valid ones the
//!   answer is 401 whether the channel exists or not.
//! - Answers: `200 {"resultMsg": "200"}` as the seed shows; failures use
//!   the same envelope with their status (`"400"`, `"401"`, `"404"`,
//!   `"500"`) and a `resultDesc` sentence saying what is wrong.
//! - The event semantics (echo, deletion, unsupported media, quick reply,
//!   product referral, replies to messages and stories) are those of the
//!   Meta webhook; the seed's example, which sets every flag at once, is
//!   read as a deletion (deletion wins).

mod error;
mod routes;

pub use error::HuaweiError;
pub use routes::router;
