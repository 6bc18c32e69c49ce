//! imiconnect's JWT check (`auth::unverified_issuer`, `verified_claims`,
//! `check_times`). Input: the key, a newline, the gateway's clock in
//! seconds, a newline, a token. Any token is checked without a panic; a
//! token the fuzzer's own key signed verifies under that key only, names its
//! issuer, and passes the clock check at its iat.
#![no_main]

use chatgate_api::dialects::imiconnect::auth::{check_times, unverified_issuer, verified_claims};
use jsonwebtoken::{EncodingKey, Header, encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |b| *b == b'\n');
    let key = parts.next().unwrap_or_default();
    let now: i64 =
        String::from_utf8_lossy(parts.next().unwrap_or_default()).trim().parse().unwrap_or(0);
    let token = String::from_utf8_lossy(parts.next().unwrap_or_default());

    let _ = unverified_issuer(&token);
    if let Ok(claims) = verified_claims(&token, key) {
        let _ = check_times(&claims, now, 60);
        let _ = check_times(&claims, now, u64::MAX);
    }

    let issuer = format!("{}", now.unsigned_abs() % 10_000_000_000);
    let claims = serde_json::json!({ "iss": issuer, "iat": now, "exp": now.saturating_add(1) });
    let signed = encode(&Header::default(), &claims, &EncodingKey::from_secret(key)).unwrap();
    assert_eq!(unverified_issuer(&signed).ok(), Some(issuer));
    let verified = verified_claims(&signed, key).expect("verifies under its own key");
    check_times(&verified, now, 0).expect("fresh at its iat");
    // HMAC pads a short key with zeros, so `key` and `key` + 0x00 are the
    // same key: the other key ends in 0x01.
    let mut other = key.to_vec();
    other.push(1);
    assert!(verified_claims(&signed, &other).is_err(), "verifies under its own key only");
});
