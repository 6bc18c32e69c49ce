//! `GET` / `PATCH /api/v1/instances/{id}/settings` (with the webhook and
//! service secrets) and the webhook secret's rotation.

use axum::Json;
use axum::extract::State;
use chatgate_core::{DelayPolicy, Instance};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::wire::{SettingsOut, SettingsPatchIn};
use crate::AppState;
use crate::auth::InstanceCaller;
use crate::error::{ApiError, ApiResult, ErrorOut};
use crate::extract::JsonBody;

/// The settings and the webhook signing secret, as the owner sees them.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstanceSettingsOut {
    /// The settings.
    #[serde(flatten)]
    pub settings: SettingsOut,
    /// The `whsec_…` secret that signs every webhook (Standard Webhooks).
    pub webhook_secret: String,
    /// Until when the previous secret also signs, after a rotation.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub previous_webhook_secret_valid_until: Option<String>,
    /// The service secret (base64) that signs the instance's JWTs for the
    /// imiconnect dialect and its status callbacks (absent when this
    /// server's key cannot open it).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
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

/// Shows the settings, the webhook signing secret and the service secret.
#[utoipa::path(
    get,
    path = "/api/v1/instances/{id}/settings",
    operation_id = "showSettings",
    tag = "settings",
    security(("instanceToken" = []), ("partnerToken" = [])),
    params(("id" = u64, Path, description = "The instance id (10 digits)")),
    responses(
        (status = 200, description = "The settings and secrets", body = InstanceSettingsOut),
        (status = 400, description = "The id is not a 10-digit number", body = ErrorOut),
        (status = 401, description = "No token, or not this instance's", body = ErrorOut),
        (status = 404, description = "No instance has this id", body = ErrorOut),
        (status = 503, description = "The database is unavailable", body = ErrorOut),
    )
)]
async fn show(
    State(state): State<AppState>,
    InstanceCaller(instance): InstanceCaller,
) -> ApiResult<Json<InstanceSettingsOut>> {
    Ok(Json(InstanceSettingsOut::of(&state, &instance).await?))
}

/// Changes the settings given; the others stay.
#[utoipa::path(
    patch,
    path = "/api/v1/instances/{id}/settings",
    operation_id = "changeSettings",
    tag = "settings",
    security(("instanceToken" = []), ("partnerToken" = [])),
    params(("id" = u64, Path, description = "The instance id (10 digits)")),
    request_body = SettingsPatchIn,
    responses(
        (status = 200, description = "The settings and secrets after the change", body = InstanceSettingsOut),
        (status = 400, description = "The id is wrong, the body is malformed, or a field is wrong", body = ErrorOut),
        (status = 401, description = "No token, or not this instance's", body = ErrorOut),
        (status = 404, description = "No instance has this id", body = ErrorOut),
        (status = 413, description = "The body is too large", body = ErrorOut),
        (status = 415, description = "The body is not JSON", body = ErrorOut),
        (status = 503, description = "The database is unavailable", body = ErrorOut),
    )
)]
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

/// Rotates the webhook signing secret.
///
/// The old secret keeps signing (both signatures are sent) for the
/// configured grace period.
#[utoipa::path(
    post,
    path = "/api/v1/instances/{id}/settings/webhook-secret",
    operation_id = "rotateWebhookSecret",
    tag = "settings",
    security(("instanceToken" = []), ("partnerToken" = [])),
    params(("id" = u64, Path, description = "The instance id (10 digits)")),
    responses(
        (status = 200, description = "The settings and the new secret", body = InstanceSettingsOut),
        (status = 400, description = "The id is not a 10-digit number", body = ErrorOut),
        (status = 401, description = "No token, or not this instance's", body = ErrorOut),
        (status = 404, description = "No instance has this id", body = ErrorOut),
        (status = 503, description = "The database is unavailable", body = ErrorOut),
    )
)]
async fn rotate(
    State(state): State<AppState>,
    InstanceCaller(instance): InstanceCaller,
) -> ApiResult<Json<InstanceSettingsOut>> {
    let updated = state.gateway.rotate_webhook_secret(instance.id).await?;
    tracing::info!(instance = %instance.id, "webhook secret rotated");
    Ok(Json(InstanceSettingsOut::of(&state, &updated).await?))
}

/// Rotates the service secret; JWTs signed with the old one stop working
/// at once.
#[utoipa::path(
    post,
    path = "/api/v1/instances/{id}/settings/service-secret",
    operation_id = "rotateServiceSecret",
    tag = "settings",
    security(("instanceToken" = []), ("partnerToken" = [])),
    params(("id" = u64, Path, description = "The instance id (10 digits)")),
    responses(
        (status = 200, description = "The settings and the new service secret", body = InstanceSettingsOut),
        (status = 400, description = "The id is not a 10-digit number", body = ErrorOut),
        (status = 401, description = "No token, or not this instance's", body = ErrorOut),
        (status = 404, description = "No instance has this id", body = ErrorOut),
        (status = 503, description = "The database is unavailable", body = ErrorOut),
    )
)]
async fn rotate_service(
    State(state): State<AppState>,
    InstanceCaller(instance): InstanceCaller,
) -> ApiResult<Json<InstanceSettingsOut>> {
    state.gateway.rotate_service_secret(instance.id).await?;
    tracing::info!(instance = %instance.id, "service secret rotated");
    Ok(Json(InstanceSettingsOut::of(&state, &instance).await?))
}

/// The settings routes, with their documentation.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(show, patch))
        .routes(routes!(rotate))
        .routes(routes!(rotate_service))
}
