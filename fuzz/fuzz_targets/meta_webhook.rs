//! Meta's webhook parser (`chatgate_connectors::meta::webhook::parse`) on
//! any body: it never panics; every entry has one time per item; and it is
//! a function of the JSON value, not of its spelling (the body re-serialised
//! parses to the same webhook).
#![no_main]

use chatgate_connectors::meta::webhook;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(parsed) = webhook::parse(data) else { return };
    for entry in &parsed.entries {
        assert_eq!(entry.items.len(), entry.occurred_ms.len(), "one time per item");
    }
    let value: serde_json::Value = serde_json::from_slice(data).expect("parse accepted it");
    let again = webhook::parse(&serde_json::to_vec(&value).expect("a value serialises"))
        .expect("a re-serialised body parses");
    assert_eq!(parsed, again, "parse → serialise → parse is stable");
});
