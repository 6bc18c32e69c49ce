//! The partner API (seed 003): `POST|GET /partner/{method}/{partnerToken}`
//! with `createInstance`, `getInstances`, `deleteInstanceAccount`. Errors
//! come as HTTP 200 with `{"code", "description"}`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use chatgate_core::gateway::{CreateInstance, PartnerView};
use chatgate_core::{ConnectorKind, DelayPolicy, InstanceId, Settings, Timestamp, WebhookFormat};
use serde_json::{Map, Value, json};
use time::macros::format_description;

use super::convert::settings_patch;
use super::error::PartnerError;
use crate::AppState;

/// GREEN-API's "not deleted" time.
const NEVER: &str = "0001-01-01T00:00:00";
/// Instances of this gateway do not expire.
const NO_EXPIRY: &str = "9999-12-31T23:59:59";

/// `POST|GET /partner/{method}/{partnerToken}`.
pub async fn call(
    State(state): State<AppState>,
    Path((method, token)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    match handle(&state, &method, &token, &body).await {
        Ok(value) => Json(value).into_response(),
        Err(error) => error.into_response(),
    }
}

async fn handle(
    state: &AppState,
    method: &str,
    token: &str,
    body: &[u8],
) -> Result<Value, PartnerError> {
    if !state.partner.matches(token) {
        return Err(PartnerError::new(401, "Unauthorized"));
    }
    match method.to_ascii_lowercase().as_str() {
        "createinstance" => create(state, object(body)?).await,
        "getinstances" => {
            let all = state.gateway.partner_instances().await?;
            Ok(Value::Array(all.iter().map(listed).collect()))
        }
        "deleteinstanceaccount" => {
            let body = object(body)?;
            let id = body
                .get("idInstance")
                .and_then(|v| v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok())))
                .and_then(InstanceId::new)
                .ok_or_else(|| {
                    PartnerError::new(
                        400,
                        "Validation failed. Details: 'idInstance' must be a 10-digit number",
                    )
                })?;
            state.gateway.delete_instance(id).await?;
            Ok(json!({"deleteInstanceAccount": true}))
        }
        other => Err(PartnerError::new(404, format!("method {other} is not found"))),
    }
}

fn object(body: &[u8]) -> Result<Map<String, Value>, PartnerError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(PartnerError::new(
            400,
            "Validation failed. Details: the body must be a JSON object",
        )),
        Err(e) => Err(PartnerError::new(400, format!("the body is not valid JSON: {e}"))),
    }
}

/// createInstance: every field of seed 003 (at least one), switches off
/// unless given, `typeInstance` choosing the connector.
async fn create(state: &AppState, body: Map<String, Value>) -> Result<Value, PartnerError> {
    if body.is_empty() {
        return Err(PartnerError::new(
            400,
            "Validation failed. Details: at least one parameter must be given",
        ));
    }
    let validation =
        |details: String| PartnerError::new(400, format!("Validation failed. Details: {details}"));
    let name = match body.get("name") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(validation("'name' must be a string".into())),
    };
    let kind = match body.get("typeInstance") {
        None | Some(Value::Null) => state.greenapi.config.default_type_instance,
        Some(Value::String(s)) => {
            s.parse::<ConnectorKind>().map_err(|e| validation(format!("'typeInstance' {e}")))?
        }
        Some(_) => return Err(validation("'typeInstance' must be a string".into())),
    };
    let patch = settings_patch(&body, &["name", "typeInstance"]).map_err(validation)?;
    let settings = patch
        .apply(&Settings::switches_off(), DelayPolicy::Vendor)
        .map_err(|v| validation(format!("'{}' {}", v.field, v.message)))?;
    let created = state
        .gateway
        .create_instance(CreateInstance {
            kind,
            name,
            settings,
            webhook_format: WebhookFormat::Greenapi,
        })
        .await?;
    tracing::info!(instance = %created.instance.id, %kind, "instance created through the partner API");
    Ok(json!({
        "idInstance": created.instance.id.get(),
        "apiTokenInstance": created.token.reveal(),
        "typeInstance": kind.as_str(),
    }))
}

fn zoneless(at: Timestamp) -> String {
    at.to_datetime()
        .format(format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"))
        .unwrap_or_else(|_| NEVER.to_owned())
}

fn listed(view: &PartnerView) -> Value {
    let instance = &view.instance;
    json!({
        "idInstance": instance.id.get(),
        "name": instance.name,
        "typeInstance": instance.kind.as_str(),
        "typeAccount": "",
        "partnerUserUiid": "",
        "timeCreated": zoneless(instance.created_at),
        "timeDeleted": view.deleted_at.map(zoneless).unwrap_or_else(|| NEVER.to_owned()),
        "apiTokenInstance": view.token.clone().unwrap_or_default(),
        "deleted": view.deleted_at.is_some(),
        "tariff": "PARTNER",
        "isFree": false,
        "isPartner": true,
        "expirationDate": NO_EXPIRY,
        "isExpired": false,
    })
}
