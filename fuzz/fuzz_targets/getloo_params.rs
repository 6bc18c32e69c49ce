//! Getloo's POST parameters (`Params::parse`) and the reading of
//! `sendMsg`'s and `setWebHook`'s fields. Input: the lowercased
//! `Content-Type`, a newline, the body. Never panics; a form body always
//! parses.
#![no_main]

use chatgate_api::dialects::getloo::convert;
use chatgate_api::dialects::getloo::wire::Params;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (content_type, body) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (String::from_utf8_lossy(&data[..i]).to_ascii_lowercase(), &data[i + 1..]),
        None => (String::new(), data),
    };
    let params = match Params::parse(&content_type, body) {
        Ok(params) => params,
        Err(_) => {
            assert!(
                content_type.contains("json") || content_type.is_empty(),
                "a form body always parses"
            );
            return;
        }
    };
    for name in ["username", "user_id", "caption", "url"] {
        let _ = params.text(name);
    }
    if let Ok(Some(file)) = params.text("file") {
        let _ = convert::extension(file.trim());
    }
    let _ = params.list("options");
});
