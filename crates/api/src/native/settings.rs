//! `GET` / `PATCH /api/v1/instances/{id}/settings` (with the webhook and
//! service secrets) and the webhook secret's rotation.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use chatgate_core::{DelayPolicy, Instance};
use serde::Serialize;

use super::wire::{SettingsOut, SettingsPatchIn};
use crate::AppState;
use crate::auth::InstanceCaller;
use crate::error::{ApiError, ApiResult};
use crate::extract::JsonBody;

/// The settings and the webhook signing secret, as the owner sees them.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceSettingsOut {
    /// The settings.
    #[serde(flatten)]
    pub settings: SettingsOut,
    /// The `whsec_…` secret that signs every webhook (Standard Webhooks).
    pub webhook_secret: String,
    /// Until when the previous secret also signs, after a rotation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_webhook_secret_valid_until: Option<String>,
    /// The service secret (base64) that signs the instance's JWTs for the
    /// imiconnect dialect and its status callbacks (absent when this
    /// server's key cannot open it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_secret: Option<String>,
}

impl InstanceSettingsOut {
    async fn of(state: &AppState, instance: &Instance) -> ApiResult<Self> {
        let now = state.gateway.clock().now();
        // A secret this server cannot open must not break the settings.
        let service_secret = match state.gateway.service_secret(instance.id).await {
            Ok(secret) => Some(secret),
            Err(chatgate_core::Error::Internal(detail)) => {
                tracing::error!(instance = %instance.id, %detail, "the service secret cannot be shown");
                None
            }
            Err(other) => return Err(other.into()),
        };
        Ok(Self {
            service_secret,
            settings: SettingsOut::from(&instance.settings),
            webhook_secret: instance.webhook_secrets.current.reveal().to_owned(),
            previous_webhook_secret_valid_until: instance
                .webhook_secrets
                .previous
                .as_ref()
                .filter(|(_, until)| *until > now)
                .map(|(_, until)| until.to_rfc3339()),
        })
    }
}

async fn show(
    State(state): State<AppState>,
    InstanceCaller(instance): InstanceCaller,
) -> ApiResult<Json<InstanceSettingsOut>> {
    Ok(Json(InstanceSettingsOut::of(&state, &instance).await?))
}

async fn patch(
    State(state): State<AppState>,
    InstanceCaller(instance): InstanceCaller,
    JsonBody(body): JsonBody<SettingsPatchIn>,
) -> ApiResult<Json<InstanceSettingsOut>> {
    let patch = body.into();
    let updated = state
        .gateway
        .update_settings(instance.id, &patch, DelayPolicy::Native)
        .await
        .map_err(ApiError::from)?;
    Ok(Json(InstanceSettingsOut::of(&state, &updated).await?))
}

/// `POST …/settings/webhook-secret`: a new secret; the old one keeps
/// signing (both signatures are sent) for the configured grace period.
async fn rotate(
    State(state): State<AppState>,
    InstanceCaller(instance): InstanceCaller,
) -> ApiResult<Json<InstanceSettingsOut>> {
    let updated = state.gateway.rotate_webhook_secret(instance.id).await?;
    tracing::info!(instance = %instance.id, "webhook secret rotated");
    Ok(Json(InstanceSettingsOut::of(&state, &updated).await?))
}

/// `POST …/settings/service-secret`: a new service secret; JWTs signed
/// with the old one stop working at once.
async fn rotate_service(
    State(state): State<AppState>,
    InstanceCaller(instance): InstanceCaller,
) -> ApiResult<Json<InstanceSettingsOut>> {
    state.gateway.rotate_service_secret(instance.id).await?;
    tracing::info!(instance = %instance.id, "service secret rotated");
    Ok(Json(InstanceSettingsOut::of(&state, &instance).await?))
}

/// The settings routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/instances/{id}/settings", get(show).patch(patch))
        .route("/api/v1/instances/{id}/settings/webhook-secret", post(rotate))
        .route("/api/v1/instances/{id}/settings/service-secret", post(rotate_service))
}
