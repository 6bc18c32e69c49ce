//! The platforms' own webhooks: where Meta posts what happens on the
//! accounts the instances are connected to. (Dialects, in
//! [`crate::dialects`], are the APIs businesses call; these routes are
//! called by the platforms.)

pub mod meta;
pub mod whatsapp_media;

use axum::Router;

use crate::AppState;

/// Every platform webhook route.
pub fn router(meta_max_body_bytes: usize) -> Router<AppState> {
    Router::new().merge(meta::router(meta_max_body_bytes)).merge(whatsapp_media::router())
}
