//! Standard Webhooks signing (`chatgate_core::webhook`), checked against
//! the reference implementation (the `standardwebhooks` crate). Input: the
//! secret, a newline, the id, a newline, a header value, a newline, the
//! body. A secret the gateway accepts signs exactly as the reference does;
//! the reference verifies the headers the gateway sends (also with two
//! secrets during a rotation) and refuses them for a changed body; any
//! signature header the reference accepts carries the gateway's signature.
#![no_main]

use chatgate_core::webhook::{WebhookSecret, signature_headers};
use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use standardwebhooks::Webhook;

/// The headers, when every value is visible ASCII: `http` takes other
/// bytes (obs-text), but the reference reads a header with `to_str`, and
/// the gateway's ids (event ids) are ASCII.
fn headers(pairs: &[(String, String)]) -> Option<HeaderMap> {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        if !value.bytes().all(|b| b == b'\t' || (b' '..=b'~').contains(&b)) {
            return None;
        }
        map.insert(
            HeaderName::from_bytes(name.as_bytes()).ok()?,
            HeaderValue::from_str(value).ok()?,
        );
    }
    Some(map)
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(4, |b| *b == b'\n');
    let secret = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let id = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let presented = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let body = parts.next().unwrap_or_default();

    let Some(ours) = WebhookSecret::parse(&secret) else { return };
    let reference = Webhook::new(&secret).expect("the reference takes every secret we take");
    let now = i64::try_from(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs(),
    )
    .unwrap();
    let signature = ours.sign(&id, now, body);
    // The reference signs UTF-8 payloads only (webhook bodies are JSON).
    if std::str::from_utf8(body).is_err() {
        return;
    }
    assert_eq!(reference.sign(&id, now, body).ok().as_deref(), Some(signature.as_str()));

    let other = WebhookSecret::generate();
    let sent = signature_headers(&[&other, &ours], &id, now, body);
    let Some(sent_map) = headers(&sent) else { return }; // an id that is no header value
    assert!(reference.verify(body, &sent_map).is_ok(), "the reference verifies what we send");
    let mut changed = body.to_vec();
    changed.push(b' ');
    assert!(reference.verify(&changed, &sent_map).is_err(), "not for a changed body");

    let forged = [
        ("webhook-id".to_owned(), id.clone()),
        ("webhook-timestamp".to_owned(), now.to_string()),
        ("webhook-signature".to_owned(), presented.clone()),
    ];
    if let Some(map) = headers(&forged)
        && reference.verify(body, &map).is_ok()
    {
        assert!(presented.split(' ').any(|s| s == signature), "{presented:?} verified");
    }
});
