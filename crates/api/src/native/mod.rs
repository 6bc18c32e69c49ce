//! chatgate's own REST API under `/api/v1` (JSON; errors
//! `{"code", "detail", "field"?}`).
//!
//! - admin, with the partner token: `/api/v1/instances[/{id}]`;
//! - per instance, with its API token (or the partner token):
//!   `…/settings`, `…/messages`, `…/queue`, `…/notifications`, `…/events`,
//!   `…/deliveries`, `…/sandbox/incoming`.

pub mod chats;
pub mod events;
pub mod hooks;
pub mod instances;
pub mod messages;
pub mod sandbox;
pub mod settings;
pub mod wire;

use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

/// Every native route, each with its OpenAPI documentation.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(instances::router())
        .merge(settings::router())
        .merge(messages::router())
        .merge(chats::router())
        .merge(events::router())
        .merge(sandbox::router())
}
