//! GREEN-API request bodies: `body_object`, the chat id
//! (`contact_of`), and a settings object (`settings_patch`, for
//! setSettings and createInstance). Never panics; a body that parses is
//! the same object when re-serialised and parsed again.
#![no_main]

use chatgate_api::dialects::greenapi::convert::{contact_of, parse_yes_no, settings_patch};
use chatgate_api::dialects::greenapi::routes::body_object;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = body_object(data) else { return };
    let again = body_object(&serde_json::to_vec(&body).unwrap()).expect("a re-serialised body");
    assert_eq!(body, again, "parse → serialise → parse is stable");
    if let Some(serde_json::Value::String(chat)) = body.get("chatId")
        && let Ok(contact) = contact_of(chat)
    {
        assert!(!contact.is_empty() && !contact.contains('@'), "{contact:?} from {chat:?}");
    }
    let _ = settings_patch(&body, &[]);
    let _ = settings_patch(&body, &["instanceId", "name"]);
    for (key, value) in &body {
        let _ = parse_yes_no(key, value);
    }
});
