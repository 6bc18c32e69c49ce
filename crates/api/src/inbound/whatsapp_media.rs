//! `GET /media/whatsapp/{instance}/{media id}/{signature}`: the files
//! customers send on WhatsApp, fetched from Meta when the link is followed.
//!
//! WhatsApp's webhook names a file by its media id only. Its download URL
//! (`GET /{media-id}` → `url`) lasts five minutes and wants the instance's
//! access token, which must never leave the gateway; asking for it while
//! Meta waits for the webhook's answer would also hold that answer on a
//! second call to Meta. So the event is stored at once with a link of the
//! gateway, and this route asks Meta's media API and streams the file when
//! the link is followed — as often as needed, for as long as Meta keeps the
//! file (30 days).
//!
//! The link carries an HMAC of the instance and media id under a key
//! derived from the server key: it cannot be made up for another file or
//! instance, and it can be handed on like GREEN-API's download URLs.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chatgate_connectors::meta::whatsapp::WhatsappConnector;
use chatgate_connectors::meta::whatsapp::inbound::media_id_of;
use chatgate_core::connector::SendError;
use chatgate_core::event::EventPayload;
use chatgate_core::{ConnectorKind, Instance, InstanceId};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::AppState;
use crate::error::ApiError;

type HmacSha256 = Hmac<Sha256>;

/// Bytes of the HMAC kept in a link (128 bits).
const SIGNATURE_BYTES: usize = 16;

/// Makes and serves the download links of WhatsApp files.
pub struct WhatsappMedia {
    connector: Arc<WhatsappConnector>,
    public_url: String,
    key: [u8; 32],
}

impl std::fmt::Debug for WhatsappMedia {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WhatsappMedia")
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

impl WhatsappMedia {
    /// Links under `public_url`, signed with a key derived from
    /// `server_key`, served through `connector`.
    pub fn new(connector: Arc<WhatsappConnector>, public_url: &str, server_key: &[u8]) -> Self {
        let mut mac = HmacSha256::new_from_slice(server_key).expect("HMAC takes any key");
        mac.update(b"chatgate whatsapp media links v1");
        let key: [u8; 32] = mac.finalize().into_bytes().into();
        Self { connector, public_url: public_url.trim_end_matches('/').to_owned(), key }
    }

    fn mac(&self, instance: InstanceId, media_id: &str) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key");
        mac.update(format!("{instance}/{media_id}").as_bytes());
        mac
    }

    /// The download link of a file of an instance.
    pub fn link(&self, instance: InstanceId, media_id: &str) -> String {
        let tag = self.mac(instance, media_id).finalize().into_bytes();
        let signature = hex::encode(&tag[..SIGNATURE_BYTES]);
        format!("{}/media/whatsapp/{instance}/{media_id}/{signature}", self.public_url)
    }

    fn verify(&self, instance: InstanceId, media_id: &str, signature: &str) -> bool {
        let Ok(tag) = hex::decode(signature) else { return false };
        tag.len() == SIGNATURE_BYTES
            && self.mac(instance, media_id).verify_truncated_left(&tag).is_ok()
    }
}

impl super::meta::MetaInbound {
    /// The event with its WhatsApp file (kept as a media id by the parser)
    /// given a download link of the gateway.
    pub fn link_media(&self, instance: &Instance, mut event: EventPayload) -> EventPayload {
        let Some(media) = &self.whatsapp_media else { return event };
        if instance.kind != ConnectorKind::Whatsapp {
            return event;
        }
        if let EventPayload::IncomingMessage(message) = &mut event
            && let Some(file) = &mut message.media
            && let Some(id) = media_id_of(&file.url)
        {
            file.url = media.link(instance.id, id);
        }
        event
    }
}

async fn serve(
    State(state): State<AppState>,
    Path((instance, media_id, signature)): Path<(String, String, String)>,
) -> Response {
    let not_found = || ApiError::not_found("no such file").into_response();
    let Some(media) = &state.meta.whatsapp_media else { return not_found() };
    let Ok(instance) = instance.parse::<InstanceId>() else { return not_found() };
    if !media.verify(instance, &media_id, &signature) {
        return not_found();
    }
    let instance = match state.gateway.instance(instance).await {
        Ok(instance) if instance.kind == ConnectorKind::Whatsapp => instance,
        Ok(_) => return not_found(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    match media.connector.download_media(&instance, &media_id).await {
        Ok(download) => {
            let mut response = Response::new(Body::from_stream(download.body));
            let headers = response.headers_mut();
            let mime = download.mime_type.unwrap_or_else(|| "application/octet-stream".into());
            if let Ok(value) = mime.parse() {
                headers.insert(header::CONTENT_TYPE, value);
            }
            if let Some(length) = download.content_length {
                headers.insert(header::CONTENT_LENGTH, length.into());
            }
            headers.insert(header::CACHE_CONTROL, header::HeaderValue::from_static("private"));
            response
        }
        Err(error) => {
            tracing::info!(instance = %instance.id, %media_id, "a WhatsApp file could not be fetched: {error}");
            let (status, detail) = match error {
                SendError::Permanent { .. } => {
                    (StatusCode::NOT_FOUND, "Meta has no such file (any more)".to_owned())
                }
                SendError::Unauthorized { .. } => (
                    StatusCode::BAD_GATEWAY,
                    "Meta refused the instance's access token; connect it again".to_owned(),
                ),
                other => (StatusCode::BAD_GATEWAY, format!("Meta could not be asked: {other}")),
            };
            ApiError::new(status, "media_unavailable", detail).into_response()
        }
    }
}

/// The media route.
pub fn router() -> Router<AppState> {
    Router::new().route("/media/whatsapp/{instance}/{media_id}/{signature}", get(serve))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chatgate_connectors::meta::whatsapp::WhatsappConfig;

    fn media() -> WhatsappMedia {
        let clock: Arc<dyn chatgate_core::Clock> = Arc::new(chatgate_core::SystemClock);
        let vault = Arc::new(chatgate_core::vault::Vault::new(&[7; 32]));
        let connector = WhatsappConnector::new(WhatsappConfig::default(), vault, clock);
        WhatsappMedia::new(Arc::new(connector), "https://gw.example.com/", &[1; 32])
    }

    #[test]
    fn a_link_verifies_only_for_its_own_instance_and_file() {
        let media = media();
        let instance: InstanceId = "1100000001".parse().unwrap();
        let other: InstanceId = "1100000002".parse().unwrap();
        let link = media.link(instance, "1234567");
        let prefix = "https://gw.example.com/media/whatsapp/1100000001/1234567/";
        assert!(link.starts_with(prefix), "{link}");
        let signature = &link[prefix.len()..];
        assert_eq!(signature.len(), SIGNATURE_BYTES * 2);
        assert!(media.verify(instance, "1234567", signature));
        assert!(!media.verify(other, "1234567", signature));
        assert!(!media.verify(instance, "1234568", signature));
        assert!(!media.verify(instance, "1234567", &"0".repeat(32)));
        assert!(!media.verify(instance, "1234567", "zz"));
    }
}
