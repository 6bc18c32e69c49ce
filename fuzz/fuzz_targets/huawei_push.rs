//! The Huawei push endpoint's request: the channel id of
//! `/apiaccess/api/instagram/message/{chanId}` and Meta's envelope as the
//! body. Input: the path segment, a newline, the body. A channel id that
//! parses prints back to itself as a number; the body goes through Meta's
//! parser without a panic.
#![no_main]

use chatgate_connectors::meta::webhook;
use chatgate_core::InstanceId;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (channel, body) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    if let Ok(channel) = std::str::from_utf8(channel)
        && let Ok(id) = channel.parse::<InstanceId>()
    {
        assert_eq!(id.to_string().parse::<InstanceId>(), Ok(id), "a channel id round-trips");
    }
    if let Ok(parsed) = webhook::parse(body) {
        for entry in &parsed.entries {
            assert_eq!(entry.items.len(), entry.occurred_ms.len());
        }
    }
});
