//! Admin endpoints (partner token): create, list, show and delete
//! instances, and connect them to their platform account.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chatgate_core::gateway::{CreateInstance, check_connection};
use chatgate_core::instance::UnknownKind;
use chatgate_core::{
    ConnectorKind, DelayPolicy, FieldPath, Settings, SettingsPatch, Violation, WebhookFormat,
};

use super::wire::{ConnectionIn, CreatedInstanceOut, InstanceIn, InstanceOut};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::Partner;
use crate::error::{ApiError, ApiResult, ErrorOut};
use crate::extract::{InstancePath, JsonBody};

/// Creates an instance.
///
/// The answer carries the instance's API token, shown this once (it is
/// stored hashed). With `connection`, the instance is connected at once;
/// if that fails it is not created.
#[utoipa::path(
    post,
    path = "/api/v1/instances",
    operation_id = "createInstance",
    tag = "instances",
    security(("partnerToken" = [])),
    request_body = InstanceIn,
    responses(
        (status = 201, description = "The instance, with its API token", body = CreatedInstanceOut),
        (status = 400, description = "A malformed body or a wrong field", body = ErrorOut),
        (status = 401, description = "No partner token", body = ErrorOut),
        (status = 409, description = "Another instance is connected to the account", body = ErrorOut),
        (status = 413, description = "The body is too large", body = ErrorOut),
        (status = 415, description = "The body is not JSON", body = ErrorOut),
        (status = 502, description = "The platform could not be reached", body = ErrorOut),
        (status = 503, description = "The database is unavailable", body = ErrorOut),
    )
)]
async fn create(
    State(state): State<AppState>,
    _: Partner,
    JsonBody(body): JsonBody<InstanceIn>,
) -> ApiResult<(StatusCode, Json<CreatedInstanceOut>)> {
    let InstanceIn { kind, name, settings, connection } = body;
    let kind = kind
        .parse::<ConnectorKind>()
        .map_err(|e: UnknownKind| ApiError::invalid("kind", e.to_string()))?;
    if let Some(connection) = &connection {
        if kind == ConnectorKind::Sandbox {
            return Err(ApiError::invalid(
                "connection",
                "a sandbox instance is its own account and takes no connection",
            ));
        }
        let shaped = connection
            .for_kind(kind)
            .map_err(|v| prefixed(chatgate_core::Error::Invalid(v), "connection"))?;
        check_connection(kind, &shaped).map_err(|e| prefixed(e, "connection"))?;
    }
    let patch: SettingsPatch = settings.map(Into::into).unwrap_or_default();
    let settings = patch
        .apply(&Settings::switches_on(), DelayPolicy::Native)
        .map_err(ApiError::from_violation)?;
    let created = state
        .gateway
        .create_instance(CreateInstance {
            kind,
            name: name.unwrap_or_default(),
            settings,
            webhook_format: WebhookFormat::Native,
        })
        .await?;
    tracing::info!(instance = %created.instance.id, kind = %kind, "instance created");
    let instance = match connection {
        // All or nothing: an instance whose connection fails (an account
        // taken, the platform unreachable) is removed again, as its token
        // would never be shown.
        Some(connection) => match connect_logged(&state, created.instance.id, &connection).await {
            Ok(instance) => instance,
            Err(error) => {
                state.gateway.delete_instance(created.instance.id).await?;
                return Err(error);
            }
        },
        None => created.instance,
    };
    Ok((
        StatusCode::CREATED,
        Json(CreatedInstanceOut {
            api_token: created.token.reveal().to_owned(),
            instance: InstanceOut::from(&instance),
        }),
    ))
}

/// Connects an instance to its platform account.
///
/// An instagram instance takes `{"accountId", "accessToken"}`; a whatsapp
/// instance `{"phoneNumberId", "wabaId", "accessToken"}` (checked with
/// `GET /{phone-number-id}` and the WABA's phone numbers). The access
/// token is checked with the platform; answers the instance, `authorized`,
/// or `notAuthorized` with the platform's reason.
#[utoipa::path(
    put,
    path = "/api/v1/instances/{id}/connection",
    operation_id = "connectInstance",
    tag = "instances",
    security(("partnerToken" = [])),
    params(("id" = u64, Path, description = "The instance id (10 digits)")),
    request_body = ConnectionIn,
    responses(
        (status = 200, description = "The instance", body = InstanceOut),
        (status = 400, description = "A malformed body, a wrong field, or a token refused while a working connection is kept", body = ErrorOut),
        (status = 401, description = "No partner token", body = ErrorOut),
        (status = 404, description = "No instance has this id", body = ErrorOut),
        (status = 409, description = "Another instance is connected to the account", body = ErrorOut),
        (status = 413, description = "The body is too large", body = ErrorOut),
        (status = 415, description = "The body is not JSON", body = ErrorOut),
        (status = 502, description = "The platform could not be reached; nothing changed", body = ErrorOut),
        (status = 503, description = "The database is unavailable", body = ErrorOut),
    )
)]
async fn connect(
    State(state): State<AppState>,
    _: Partner,
    InstancePath(id): InstancePath,
    JsonBody(body): JsonBody<ConnectionIn>,
) -> ApiResult<Json<InstanceOut>> {
    Ok(Json(InstanceOut::from(&connect_logged(&state, id, &body).await?)))
}

async fn connect_logged(
    state: &AppState,
    id: chatgate_core::InstanceId,
    connection: &ConnectionIn,
) -> ApiResult<chatgate_core::Instance> {
    let kind = state.gateway.instance(id).await?.kind;
    let shaped = connection.for_kind(kind).map_err(ApiError::from_violation)?;
    let instance = state.gateway.connect(id, shaped).await?;
    tracing::info!(
        instance = %id,
        account = %shaped.account_id,
        state = instance.state.as_str(),
        reason = instance.state_reason.as_deref().unwrap_or(""),
        "instance connected"
    );
    Ok(instance)
}

/// A violation of a nested object, named from the top.
fn prefixed(error: chatgate_core::Error, field: &'static str) -> ApiError {
    match error {
        chatgate_core::Error::Invalid(violation) => ApiError::from_violation(Violation::new(
            FieldPath::key(field).join(&violation.field),
            violation.message,
        )),
        other => other.into(),
    }
}

/// Lists every instance, oldest first (no tokens).
#[utoipa::path(
    get,
    path = "/api/v1/instances",
    operation_id = "listInstances",
    tag = "instances",
    security(("partnerToken" = [])),
    responses(
        (status = 200, description = "Every instance", body = Vec<InstanceOut>),
        (status = 401, description = "No partner token", body = ErrorOut),
        (status = 503, description = "The database is unavailable", body = ErrorOut),
    )
)]
async fn list(State(state): State<AppState>, _: Partner) -> ApiResult<Json<Vec<InstanceOut>>> {
    let instances = state.gateway.instances().await?;
    Ok(Json(instances.iter().map(InstanceOut::from).collect()))
}

/// Shows one instance.
#[utoipa::path(
    get,
    path = "/api/v1/instances/{id}",
    operation_id = "showInstance",
    tag = "instances",
    security(("partnerToken" = [])),
    params(("id" = u64, Path, description = "The instance id (10 digits)")),
    responses(
        (status = 200, description = "The instance", body = InstanceOut),
        (status = 400, description = "The id is not a 10-digit number", body = ErrorOut),
        (status = 401, description = "No partner token", body = ErrorOut),
        (status = 404, description = "No instance has this id", body = ErrorOut),
        (status = 503, description = "The database is unavailable", body = ErrorOut),
    )
)]
async fn show(
    State(state): State<AppState>,
    _: Partner,
    InstancePath(id): InstancePath,
) -> ApiResult<Json<InstanceOut>> {
    Ok(Json(InstanceOut::from(&state.gateway.instance(id).await?)))
}

/// Deletes an instance: its token stops working and its queued messages
/// fail.
#[utoipa::path(
    delete,
    path = "/api/v1/instances/{id}",
    operation_id = "deleteInstance",
    tag = "instances",
    security(("partnerToken" = [])),
    params(("id" = u64, Path, description = "The instance id (10 digits)")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "The id is not a 10-digit number", body = ErrorOut),
        (status = 401, description = "No partner token", body = ErrorOut),
        (status = 404, description = "No instance has this id", body = ErrorOut),
        (status = 503, description = "The database is unavailable", body = ErrorOut),
    )
)]
async fn delete(
    State(state): State<AppState>,
    _: Partner,
    InstancePath(id): InstancePath,
) -> ApiResult<StatusCode> {
    state.gateway.delete_instance(id).await?;
    tracing::info!(instance = %id, "instance deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// The admin routes, with their documentation.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, delete))
        .routes(routes!(connect))
}
