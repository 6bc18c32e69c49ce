//! The native API's `POST …/messages` body: `MessageIn` from JSON, its
//! conversion to the core, and the core's content rules for every
//! connector. A request the core takes round-trips: the message as answers
//! show it (`to` + the content fields) parses back to the same recipient
//! and content.
#![no_main]

use chatgate_api::extract::parse_json;
use chatgate_api::native::wire::{MessageIn, MessageOut, recipient_out};
use chatgate_core::ConnectorKind;
use chatgate_core::rules::{ContentLimits, check_message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(message) = parse_json::<MessageIn>(data) else { return };
    let Ok((recipient, content)) = message.into_core() else { return };
    for kind in [ConnectorKind::Sandbox, ConnectorKind::Instagram, ConnectorKind::Whatsapp] {
        let _ = check_message(&recipient, &content, &ContentLimits::for_kind(kind));
    }
    let mut shown = MessageOut::content_json(&content);
    let object = shown.as_object_mut().expect("content is shown as an object");
    object.remove("kind");
    object.insert("to".into(), serde_json::to_value(recipient_out(&recipient)).unwrap());
    let body = serde_json::to_vec(&shown).unwrap();
    let again = parse_json::<MessageIn>(&body)
        .unwrap_or_else(|e| panic!("the shown message does not parse: {e:?}"));
    let (recipient_again, content_again) =
        again.into_core().unwrap_or_else(|e| panic!("the shown message does not convert: {e:?}"));
    assert_eq!(recipient, recipient_again);
    assert_eq!(content, content_again);
});
