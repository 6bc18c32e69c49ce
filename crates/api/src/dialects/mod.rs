//! The vendor-compatible API surfaces, one folder each. A dialect converts
//! its vendor's wire format to core calls and back; it keeps no rules of its
//! own beyond its vendor's documented ones.
//!
//! Inside a dialect: `routes.rs` (handlers), `wire.rs` (serde types exactly
//! as the vendor documents them), `convert.rs` (wire ↔ core), `hooks.rs`
//! (event → vendor webhook body), `error.rs` (the vendor's error envelope).

pub mod getloo;
pub mod greenapi;
pub mod huawei;
pub mod imiconnect;

use axum::Router;

use crate::AppState;

/// Every dialect's routes.
pub fn router(max_upload_bytes: usize, meta_max_body_bytes: usize) -> Router<AppState> {
    Router::new()
        .merge(getloo::router())
        .merge(greenapi::router(max_upload_bytes))
        .merge(huawei::router(meta_max_body_bytes))
        .merge(imiconnect::router())
}
