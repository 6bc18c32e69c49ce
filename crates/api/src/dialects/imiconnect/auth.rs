//! Who is calling: a Service Key in the `key` header (the instance's API
//! token), or a JWT in `Authorization: Bearer`. When both come, the JWT
//! decides, even when the key alone would have passed (the seed: "JWT
//! authentication takes priority, and the Service Key is ignored").
//!
//! The JWT is HS256 only (`alg: none` and every other algorithm are
//! refused), its `iss` is the instance id (imiconnect's service id), its
//! `iat` within the configured skew of the gateway's clock, and its `exp`,
//! when present, not past; it is signed with the instance's service secret,
//! which is base64 and decoded before use.

use axum::http::{HeaderMap, header};
use base64::Engine;
use chatgate_core::{Instance, InstanceId};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;

use super::error::ImiError;
use crate::AppState;

/// The header that carries a Service Key.
pub const SERVICE_KEY_HEADER: &str = "key";

/// A NumericDate: a JSON integer of seconds.
fn integer(value: &Option<Value>) -> Option<i64> {
    match value {
        Some(Value::Number(n)) => n.as_i64(),
        _ => None,
    }
}

/// The instance the request is made for.
pub async fn caller(state: &AppState, headers: &HeaderMap) -> Result<Instance, ImiError> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|t| !t.is_empty());
    if let Some(jwt) = bearer {
        return from_jwt(state, jwt).await;
    }
    let key = headers
        .get(SERVICE_KEY_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| {
            ImiError::unauthorized(
                "send the Service Key in the key header or a JWT as Authorization: Bearer",
            )
        })?;
    state
        .gateway
        .authenticate_token(key)
        .await
        .map_err(|_| ImiError::unauthorized("the Service Key is not valid"))
}

/// The one answer for every JWT whose issuer or signature is wrong: which
/// of the two is not told, so instance ids cannot be probed.
fn not_verified() -> ImiError {
    ImiError::unauthorized("the JWT's signature does not verify for its iss (the service id)")
}

/// The claims of an imiconnect JWT that the gateway reads, each as it came
/// (a wrong type is refused where it is used, not when decoding).
#[derive(Debug, Deserialize)]
pub struct Claims {
    /// `iss`: the service id (the instance id), a string or a number.
    pub iss: Option<Value>,
    /// `iat`: issued at, in whole seconds.
    pub iat: Option<Value>,
    /// `exp`: expires at, in whole seconds, when given.
    pub exp: Option<Value>,
}

/// The JWT's issuer, read before its signature is checked (it names the
/// instance whose secret checks it): trust it only after
/// [`verified_claims`].
///
/// # Errors
///
/// 401 when the JWT is malformed, is not HS256, has unreadable claims or no
/// `iss`.
pub fn unverified_issuer(jwt: &str) -> Result<String, ImiError> {
    let header = jsonwebtoken::decode_header(jwt)
        .map_err(|_| ImiError::unauthorized("the JWT is malformed (or its alg is not HS256)"))?;
    if header.alg != Algorithm::HS256 {
        return Err(ImiError::unauthorized("the JWT must be signed with HS256"));
    }
    let unverified: Claims = jsonwebtoken::dangerous::insecure_decode_claims(jwt)
        .map_err(|_| ImiError::unauthorized("the JWT's claims cannot be read"))?;
    match &unverified.iss {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        _ => Err(ImiError::unauthorized("the JWT has no iss (the service id)")),
    }
}

/// The JWT's claims when its HS256 signature verifies under `key` (the
/// decoded service secret). Times are not checked here: see
/// [`check_times`].
///
/// # Errors
///
/// 401 (the one answer for a wrong issuer or signature) when it does not
/// verify.
pub fn verified_claims(jwt: &str, key: &[u8]) -> Result<Claims, ImiError> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_exp = false; // checked in check_times, on the gateway's clock
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<Claims>(jwt, &DecodingKey::from_secret(key), &validation)
        .map(|data| data.claims)
        .map_err(|_| not_verified())
}

/// Checks verified claims against the gateway's clock: `iat` within `skew`
/// seconds of `now`, `exp` (when given) after `now`.
///
/// # Errors
///
/// 401 naming the claim that fails.
pub fn check_times(claims: &Claims, now: i64, skew: u64) -> Result<(), ImiError> {
    let issued = integer(&claims.iat)
        .ok_or_else(|| ImiError::unauthorized("the JWT needs iat (issued-at) as whole seconds"))?;
    if now.abs_diff(issued) > skew {
        return Err(ImiError::unauthorized(format!(
            "the JWT's iat is more than {skew} s away from the gateway's clock"
        )));
    }
    match &claims.exp {
        None => Ok(()),
        Some(exp) => match integer(&Some(exp.clone())) {
            Some(expires) if expires > now => Ok(()),
            Some(_) => Err(ImiError::unauthorized("the JWT has expired")),
            None => Err(ImiError::unauthorized("the JWT's exp is not whole seconds")),
        },
    }
}

async fn from_jwt(state: &AppState, jwt: &str) -> Result<Instance, ImiError> {
    // The issuer names the instance whose secret checks the signature; it is
    // read before the signature is, and trusted only after.
    let issuer = unverified_issuer(jwt)?;
    // An unknown issuer is checked against a throwaway key, so that it takes
    // as long and answers the same as a wrong signature.
    let known = match issuer.parse::<InstanceId>() {
        Ok(id) => match state.gateway.existing_service_secret(id).await {
            Ok(Some(secret)) => Some((id, secret)),
            Ok(None) | Err(chatgate_core::Error::NotFound(_)) => None,
            Err(other) => return Err(other.into()),
        },
        Err(_) => None,
    };
    let key = match &known {
        Some((_, secret)) => base64::engine::general_purpose::STANDARD
            .decode(secret.as_bytes())
            .map_err(|_| not_verified())?,
        None => chatgate_core::ids::random_bytes::<32>().to_vec(),
    };
    let verified = verified_claims(jwt, &key)?;
    let Some((id, _)) = known else { return Err(not_verified()) };
    let now = state.gateway.clock().now().as_secs();
    let skew = state.imiconnect.jwt_skew.as_secs();
    check_times(&verified, now, skew)?;
    state.gateway.instance(id).await.map_err(|_| not_verified())
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::json;

    use super::*;

    fn token(key: &[u8], claims: &Value) -> String {
        encode(&Header::default(), claims, &EncodingKey::from_secret(key)).unwrap()
    }

    #[test]
    fn a_token_verifies_under_its_own_secret_only_and_names_its_issuer() {
        let signed = token(b"service secret", &json!({"iss": 1234567890, "iat": 100}));
        assert_eq!(unverified_issuer(&signed).unwrap(), "1234567890");
        let claims = verified_claims(&signed, b"service secret").unwrap();
        check_times(&claims, 100, 0).unwrap();
        assert!(verified_claims(&signed, b"service secret\x01").is_err());
        assert!(verified_claims(&signed, b"").is_err());
    }

    #[test]
    fn iat_outside_the_skew_and_a_past_exp_are_refused() {
        let claims = Claims { iss: None, iat: Some(json!(100)), exp: Some(json!(150)) };
        assert!(check_times(&claims, 160, 60).is_err(), "expired");
        assert!(check_times(&claims, 149, 60).is_ok());
        assert!(check_times(&claims, 149, 10).is_err());
        let no_iat = Claims { iss: None, iat: None, exp: None };
        assert!(check_times(&no_iat, 0, u64::MAX).is_err());
    }
}
