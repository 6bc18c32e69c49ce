//! imiconnect's `POST /v1/instagram/messages` body: `MessageIn` from JSON,
//! `outgoing` (wire → core), and the core's Instagram rules on the
//! result. Never panics.
#![no_main]

use chatgate_api::dialects::imiconnect::convert::outgoing;
use chatgate_api::dialects::imiconnect::wire::MessageIn;
use chatgate_api::extract::parse_json;
use chatgate_core::ConnectorKind;
use chatgate_core::rules::{ContentLimits, check_message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(message) = parse_json::<MessageIn>(data) else { return };
    let Ok(outgoing) = outgoing(message) else { return };
    let limits = ContentLimits::for_kind(ConnectorKind::Instagram);
    let _ = check_message(&outgoing.recipient, &outgoing.content, &limits);
});
