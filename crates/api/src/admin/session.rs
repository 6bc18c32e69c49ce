//! Signing in to the admin UI: the partner token buys a session cookie, and
//! every form carries a CSRF token bound to that session.
//!
//! Sessions are stateless: the cookie is `<expires>.<nonce>.<mac>`, signed
//! with a key derived from the partner token ([`PartnerToken`]), so every
//! node that shares the partner token accepts it and changing the token ends
//! every session. The cookie is `HttpOnly` (no script reads it),
//! `SameSite=Strict` (no other site's page sends it) and scoped to
//! `/admin`. The CSRF token of a session is the MAC of its nonce; the login
//! form, which has no session yet, is bound the same way to a short-lived
//! login cookie (double submit, signed).

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chatgate_core::Timestamp;
use hmac::{Hmac, KeyInit, Mac};
use serde::de::DeserializeOwned;
use sha2::Sha256;

use super::page::AdminError;
use crate::AppState;
use crate::auth::PartnerToken;

/// The session cookie's name.
pub(crate) const SESSION_COOKIE: &str = "chatgate_admin";
/// The login form's cookie.
pub(crate) const LOGIN_COOKIE: &str = "chatgate_admin_login";
/// The cookie that carries a new instance's token, sealed, from the create
/// form to the page that shows it once.
pub(crate) const CREATED_COOKIE: &str = "chatgate_admin_created";
/// How long a session lasts.
const SESSION_TTL_MS: i64 = 12 * 3600 * 1000;
/// How long a login form stays valid.
const LOGIN_TTL_SECS: u32 = 15 * 60;
/// The largest admin form accepted (settings are the largest).
const FORM_MAX_BYTES: usize = 64 * 1024;

/// A signed-in operator (the partner).
#[derive(Debug, Clone)]
pub struct AdminSession {
    csrf: String,
}

impl AdminSession {
    /// The CSRF token every form of this session carries.
    pub fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// The hex HMAC-SHA256 of `parts` joined by `|`.
fn mac(key: &[u8; 32], parts: &[&str]) -> String {
    hex::encode(mac_bytes(key, parts))
}

fn mac_bytes(key: &[u8; 32], parts: &[&str]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(parts.join("|").as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// Whether `presented` (hex) is the MAC of `parts`, compared in constant
/// time.
fn verify(key: &[u8; 32], parts: &[&str], presented: &str) -> bool {
    let Ok(presented) = hex::decode(presented) else { return false };
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(parts.join("|").as_bytes());
    mac.verify_slice(&presented).is_ok()
}

/// A new session starting at `now`: the cookie value and the session.
pub(crate) fn issue(partner: &PartnerToken, now: Timestamp) -> (String, AdminSession) {
    let nonce = hex::encode(chatgate_core::ids::random_bytes::<16>());
    let expires = (now.as_millis() + SESSION_TTL_MS).to_string();
    let signature = mac(partner.session_key(), &["session", &expires, &nonce]);
    let csrf = mac(partner.session_key(), &["csrf", &nonce]);
    (format!("{expires}.{nonce}.{signature}"), AdminSession { csrf })
}

/// The session a cookie value stands for, if it is genuine and not expired.
pub(crate) fn open(partner: &PartnerToken, value: &str, now: Timestamp) -> Option<AdminSession> {
    let mut fields = value.split('.');
    let (expires, nonce, signature) = (fields.next()?, fields.next()?, fields.next()?);
    if fields.next().is_some()
        || !verify(partner.session_key(), &["session", expires, nonce], signature)
    {
        return None;
    }
    if expires.parse::<i64>().ok()? <= now.as_millis() {
        return None;
    }
    Some(AdminSession { csrf: mac(partner.session_key(), &["csrf", nonce]) })
}

/// A login form's nonce (for its cookie) and CSRF token (for the form).
pub(crate) fn login_form(partner: &PartnerToken) -> (String, String) {
    let nonce = hex::encode(chatgate_core::ids::random_bytes::<16>());
    let csrf = mac(partner.session_key(), &["login", &nonce]);
    (nonce, csrf)
}

/// Whether a login form's CSRF token matches its cookie.
pub(crate) fn login_form_genuine(partner: &PartnerToken, nonce: &str, csrf: &str) -> bool {
    !nonce.is_empty() && verify(partner.session_key(), &["login", nonce], csrf)
}

/// The value of a cookie of the request.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// A `Set-Cookie` header value for the admin UI: `HttpOnly`,
/// `SameSite=Strict`, path `/admin`, `Secure` when the request came over
/// HTTPS (as a proxy in front reports it). `max_age` 0 removes the cookie.
pub(crate) fn set_cookie(
    headers: &HeaderMap,
    name: &str,
    value: &str,
    max_age: u32,
) -> HeaderValue {
    set_cookie_at(headers, name, value, "/admin", max_age)
}

/// Like [`set_cookie`] for a narrower path.
pub(crate) fn set_cookie_at(
    headers: &HeaderMap,
    name: &str,
    value: &str,
    path: &str,
    max_age: u32,
) -> HeaderValue {
    let secure = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    let mut cookie =
        format!("{name}={value}; Path={path}; HttpOnly; SameSite=Strict; Max-Age={max_age}");
    if secure {
        cookie.push_str("; Secure");
    }
    HeaderValue::from_str(&cookie).expect("cookie values are hex and digits")
}

/// The `Set-Cookie` value of a new login form.
pub(crate) fn login_cookie(headers: &HeaderMap, nonce: &str) -> HeaderValue {
    set_cookie(headers, LOGIN_COOKIE, nonce, LOGIN_TTL_SECS)
}

/// The `Set-Cookie` value of a new session.
pub(crate) fn session_cookie(headers: &HeaderMap, value: &str) -> HeaderValue {
    let ttl = u32::try_from(SESSION_TTL_MS / 1000).unwrap_or(u32::MAX);
    set_cookie(headers, SESSION_COOKIE, value, ttl)
}

/// Refuses a form posted from another site: a second line behind
/// `SameSite` and the CSRF token. Browsers say where a request comes from in
/// `Sec-Fetch-Site` (right behind a proxy too, as they judge by the URL they
/// show); without it, the `Origin` must name the host the request was sent
/// to (`Host`, or `X-Forwarded-Host` from a proxy that rewrites `Host`).
fn same_origin(headers: &HeaderMap) -> bool {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text("sec-fetch-site") {
        return matches!(site, "same-origin" | "none");
    }
    // No Origin, or the opaque `null` some privacy settings send: nothing
    // to compare, and the CSRF token still decides.
    let Some(origin) = text("origin").filter(|o| *o != "null") else {
        return true;
    };
    let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    [text("host"), text("x-forwarded-host")]
        .into_iter()
        .flatten()
        .any(|host| origin_host.eq_ignore_ascii_case(host))
}

/// Where a visitor without a session is sent.
fn to_login() -> Response {
    Redirect::to("/admin/login").into_response()
}

impl FromRequestParts<AppState> for AdminSession {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let now = state.gateway.clock().now();
        cookie(&parts.headers, SESSION_COOKIE)
            .and_then(|value| open(&state.partner, value, now))
            .ok_or_else(to_login)
    }
}

/// A form posted by a signed-in operator, its CSRF token checked: every
/// admin handler that changes something takes its input through this.
#[derive(Debug)]
pub struct AdminForm<T> {
    /// The session that posted it.
    pub session: AdminSession,
    /// The form's fields.
    pub form: T,
}

impl<T: DeserializeOwned> FromRequest<AppState> for AdminForm<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let session = AdminSession::from_request_parts(&mut parts, state).await?;
        if !same_origin(&parts.headers) {
            return Err(AdminError::new(
                StatusCode::FORBIDDEN,
                "This form was posted from another site.",
            )
            .into_response());
        }
        let bytes = axum::body::to_bytes(body, FORM_MAX_BYTES).await.map_err(|_| {
            AdminError::new(StatusCode::PAYLOAD_TOO_LARGE, "The form is too large.").into_response()
        })?;
        let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes).map_err(|_| {
            AdminError::new(StatusCode::BAD_REQUEST, "The form could not be read.").into_response()
        })?;
        let csrf = fields.iter().find(|(k, _)| k == "csrf").map(|(_, v)| v.as_str());
        // Constant time: the token is compared through its bytes, not `==`.
        let genuine = csrf.is_some_and(|c| {
            use subtle::ConstantTimeEq;
            c.len() == session.csrf.len() && bool::from(c.as_bytes().ct_eq(session.csrf.as_bytes()))
        });
        if !genuine {
            return Err(AdminError::new(
                StatusCode::FORBIDDEN,
                "This form has expired or did not come from this admin page. Go back, reload the page and try again.",
            )
            .into_response());
        }
        let form = serde_urlencoded::from_bytes(&bytes).map_err(|e| {
            AdminError::new(StatusCode::BAD_REQUEST, format!("The form is not valid: {e}."))
                .into_response()
        })?;
        Ok(AdminForm { session, form })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const NOW: Timestamp = Timestamp::from_millis(1_767_225_600_000);

    #[test]
    fn a_session_opens_with_its_own_key_until_it_expires() {
        let partner = PartnerToken::new("partner-token");
        let (value, session) = issue(&partner, NOW);
        let opened = open(&partner, &value, NOW).unwrap();
        assert_eq!(opened.csrf(), session.csrf());
        assert!(
            open(&partner, &value, NOW.plus(std::time::Duration::from_secs(11 * 3600))).is_some()
        );
        assert!(
            open(&partner, &value, NOW.plus(std::time::Duration::from_secs(12 * 3600))).is_none()
        );
        assert!(open(&PartnerToken::new("another token"), &value, NOW).is_none());
    }

    #[test]
    fn a_forged_or_stretched_session_does_not_open() {
        let partner = PartnerToken::new("partner-token");
        let (value, _) = issue(&partner, NOW);
        let (expires, rest) = value.split_once('.').unwrap();
        let later: i64 = expires.parse::<i64>().unwrap() + 1;
        assert!(open(&partner, &format!("{later}.{rest}"), NOW).is_none());
        assert!(open(&partner, &format!("{value}.x"), NOW).is_none());
        assert!(open(&partner, "", NOW).is_none());
        assert!(open(&partner, "1.2.3", NOW).is_none());
    }

    #[test]
    fn a_login_form_is_genuine_only_with_its_own_cookie() {
        let partner = PartnerToken::new("partner-token");
        let (nonce, csrf) = login_form(&partner);
        assert!(login_form_genuine(&partner, &nonce, &csrf));
        let (other, _) = login_form(&partner);
        assert!(!login_form_genuine(&partner, &other, &csrf));
        assert!(!login_form_genuine(&partner, "", &csrf));
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("a=1; chatgate_admin=xyz; b=2"));
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("xyz"));
        assert_eq!(cookie(&headers, LOGIN_COOKIE), None);
    }

    #[test]
    fn a_post_from_another_origin_is_refused() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("gw.example:8080"));
        assert!(same_origin(&headers));
        headers.insert(header::ORIGIN, HeaderValue::from_static("http://gw.example:8080"));
        assert!(same_origin(&headers));
        headers.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(same_origin(&headers), "an opaque origin leaves it to the CSRF token");
        headers.insert(header::ORIGIN, HeaderValue::from_static("https://evil.example"));
        assert!(!same_origin(&headers));
    }

    #[test]
    fn behind_a_proxy_that_rewrites_the_host_a_post_from_the_page_is_taken() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:7780"));
        headers.insert(header::ORIGIN, HeaderValue::from_static("https://gw.example.com"));
        assert!(!same_origin(&headers), "nothing says the page is this server's");
        headers.insert("x-forwarded-host", HeaderValue::from_static("gw.example.com"));
        assert!(same_origin(&headers));
        headers.remove("x-forwarded-host");
        headers.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(same_origin(&headers), "the browser says it is the same origin");
        headers.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(!same_origin(&headers));
    }
}
