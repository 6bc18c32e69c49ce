//! `X-Hub-Signature-256` (`webhook::verify_signature`). Input: the app
//! secret, a newline, a header value, a newline, the body. Any header is
//! checked without a panic; the body's own signature verifies (in either
//! case of hex); a header that verifies is the body's own signature; and
//! that signature does not verify a changed body.
#![no_main]

use chatgate_connectors::meta::webhook::{self, SignatureError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |b| *b == b'\n');
    let secret = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let header = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let body = parts.next().unwrap_or_default();

    let own = webhook::sign(&secret, body);
    if webhook::verify_signature(&secret, body, Some(&header)).is_ok() {
        let digest = header.trim().split_once('=').map(|(_, d)| d.trim().to_ascii_lowercase());
        assert_eq!(digest.as_deref(), own.split_once('=').map(|(_, d)| d), "only its own body");
    }
    assert_eq!(webhook::verify_signature(&secret, body, Some(&own)), Ok(()));
    assert_eq!(webhook::verify_signature(&secret, body, Some(&own.to_ascii_uppercase())), Ok(()));
    let mut changed = body.to_vec();
    match changed.first_mut() {
        Some(first) => *first ^= 1,
        None => changed.push(b' '),
    }
    assert_eq!(
        webhook::verify_signature(&secret, &changed, Some(&own)),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(webhook::verify_signature(&secret, body, None), Err(SignatureError::Missing));
});
