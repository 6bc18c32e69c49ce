//! Admin endpoints (partner token): create, list, show and delete
//! instances, and connect them to their platform account.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, put};
use chatgate_core::gateway::{CreateInstance, check_connection};
use chatgate_core::instance::UnknownKind;
use chatgate_core::{
    ConnectorKind, DelayPolicy, FieldPath, Settings, SettingsPatch, Violation, WebhookFormat,
};

use super::wire::{ConnectionIn, CreatedInstanceOut, InstanceIn, InstanceOut};
use crate::AppState;
use crate::auth::Partner;
use crate::error::{ApiError, ApiResult};
use crate::extract::{InstancePath, JsonBody};

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
        check_connection(&connection.account_id, &connection.access_token)
            .map_err(|e| prefixed(e, "connection"))?;
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

/// `PUT /api/v1/instances/{id}/connection`: connects an instance to its
/// platform account, checked with the platform; answers the instance,
/// `authorized` or `notAuthorized` with the platform's reason.
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
    let instance =
        state.gateway.connect(id, &connection.account_id, &connection.access_token).await?;
    tracing::info!(
        instance = %id,
        account = %connection.account_id,
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

async fn list(State(state): State<AppState>, _: Partner) -> ApiResult<Json<Vec<InstanceOut>>> {
    let instances = state.gateway.instances().await?;
    Ok(Json(instances.iter().map(InstanceOut::from).collect()))
}

async fn show(
    State(state): State<AppState>,
    _: Partner,
    InstancePath(id): InstancePath,
) -> ApiResult<Json<InstanceOut>> {
    Ok(Json(InstanceOut::from(&state.gateway.instance(id).await?)))
}

async fn delete(
    State(state): State<AppState>,
    _: Partner,
    InstancePath(id): InstancePath,
) -> ApiResult<StatusCode> {
    state.gateway.delete_instance(id).await?;
    tracing::info!(instance = %id, "instance deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// The admin routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/instances", get(list).post(create))
        .route("/api/v1/instances/{id}", get(show).delete(delete))
        .route("/api/v1/instances/{id}/connection", put(connect))
}
