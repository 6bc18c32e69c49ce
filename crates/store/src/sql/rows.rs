//! Rows ↔ domain values. The column lists live here, beside the decoders
//! that depend on their order-free names.

use super::backend::RowExt;
use super::backend::{DbRow, Decode};
use chatgate_core::clock::Timestamp;
use chatgate_core::ids::{InstanceId, MessageId, TokenHash};
use chatgate_core::instance::{
    Account, ConnectorKind, Instance, InstanceState, SealedToken, WebhookFormat, WebhookSecrets,
};
use chatgate_core::message::{Content, MessageStatus, OutboundMessage, Recipient, Transition};
use chatgate_core::store::{StoreError, StoreResult};

use crate::at_rest::SecretsAtRest;

/// The columns every instance query selects.
macro_rules! instance_columns {
    () => {
        "id, kind, name, token_hash, state, state_reason, active, settings, created_at, \
         webhook_format, webhook_secret, webhook_secret_previous, webhook_secret_previous_until, \
         account_id, account_username, account_business_id, access_token_sealed"
    };
}
pub(crate) use instance_columns;

/// The columns every message query selects.
macro_rules! message_columns {
    () => {
        "seq, id, instance_id, recipient_kind, recipient_id, content, status, failure, \
         provider_message_id, attempts, parts_sent, transient_failures, idempotency_key, created_at, \
         callback"
    };
}
pub(crate) use message_columns;

/// Maps a database failure to the store's error classes.
pub(crate) fn db_error(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Duplicate(db.message().to_owned())
        }
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_) => StoreError::Corrupt(error.to_string()),
        _ => StoreError::Unavailable(error.to_string()),
    }
}

fn corrupt(what: &str, value: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("bad {what}: {value}"))
}

fn get<'r, T: Decode<'r>>(row: &'r DbRow, column: &str) -> StoreResult<T> {
    row.try_get(column).map_err(db_error)
}

/// The integer form of an instance id.
pub(crate) fn id_value(id: InstanceId) -> i64 {
    // 10-digit ids always fit.
    i64::try_from(id.get()).unwrap_or(i64::MAX)
}

pub(crate) fn instance_id(value: i64) -> StoreResult<InstanceId> {
    u64::try_from(value).ok().and_then(InstanceId::new).ok_or_else(|| corrupt("instance id", value))
}

pub(crate) fn status(value: &str) -> StoreResult<MessageStatus> {
    value.parse().map_err(|()| corrupt("message status", value))
}

/// Decodes an instance row (see [`instance_columns`]), opening its sealed
/// secrets.
pub(crate) fn instance(row: &DbRow, secrets: &SecretsAtRest) -> StoreResult<(Instance, TokenHash)> {
    let id = instance_id(get(row, "id")?)?;
    let kind: String = get(row, "kind")?;
    let state: String = get(row, "state")?;
    let settings: String = get(row, "settings")?;
    let format: String = get(row, "webhook_format")?;
    let secret: String = get(row, "webhook_secret")?;
    let previous: Option<String> = get(row, "webhook_secret_previous")?;
    let previous_until: Option<i64> = get(row, "webhook_secret_previous_until")?;
    let previous = match (previous, previous_until) {
        (Some(secret), Some(until)) => {
            Some((secrets.open_webhook_secret(id, &secret)?, Timestamp::from_millis(until)))
        }
        _ => None,
    };
    let instance = Instance {
        id,
        kind: kind.parse::<ConnectorKind>().map_err(|_| corrupt("connector kind", &kind))?,
        name: get(row, "name")?,
        state: state.parse::<InstanceState>().map_err(|_| corrupt("state", &state))?,
        state_reason: get(row, "state_reason")?,
        active: get::<bool>(row, "active")?,
        settings: secrets.open_settings(id, &settings)?,
        webhook_format: format
            .parse::<WebhookFormat>()
            .map_err(|()| corrupt("webhook format", &format))?,
        webhook_secrets: WebhookSecrets {
            current: secrets.open_webhook_secret(id, &secret)?,
            previous,
        },
        account: get::<Option<String>>(row, "account_id")?
            .map(|id| {
                Ok::<_, StoreError>(Account {
                    id,
                    username: get(row, "account_username")?,
                    business_id: get(row, "account_business_id")?,
                })
            })
            .transpose()?,
        access_token: get::<Option<String>>(row, "access_token_sealed")?.map(SealedToken),
        created_at: Timestamp::from_millis(get(row, "created_at")?),
    };
    Ok((instance, TokenHash::from_stored(get(row, "token_hash")?)))
}

/// Encodes a recipient as (kind, id) columns.
pub(crate) fn recipient_columns(recipient: &Recipient) -> (&'static str, &str) {
    match recipient {
        Recipient::User(id) => ("user", id),
        Recipient::Comment(id) => ("comment", id),
    }
}

/// Encodes content for the `content` column.
pub(crate) fn content_json(content: &Content) -> String {
    serde_json::to_string(content).unwrap_or_else(|_| String::from("{}"))
}

/// Encodes a message's callback for the `callback` columns.
pub(crate) fn callback_json(callback: &chatgate_core::message::Callback) -> String {
    serde_json::to_string(callback).unwrap_or_else(|_| String::from("{}"))
}

/// Decodes a message row (see [`message_columns`]) into its sequence number
/// and the message, without its history.
pub(crate) fn message(row: &DbRow) -> StoreResult<(i64, OutboundMessage)> {
    let id: String = get(row, "id")?;
    let recipient_kind: String = get(row, "recipient_kind")?;
    let recipient_id: String = get(row, "recipient_id")?;
    let content: String = get(row, "content")?;
    let status_name: String = get(row, "status")?;
    let message = OutboundMessage {
        id: id.parse::<MessageId>().map_err(|_| corrupt("message id", &id))?,
        instance_id: instance_id(get(row, "instance_id")?)?,
        recipient: match recipient_kind.as_str() {
            "user" => Recipient::User(recipient_id),
            "comment" => Recipient::Comment(recipient_id),
            other => return Err(corrupt("recipient kind", other)),
        },
        content: serde_json::from_str(&content).map_err(|e| corrupt("content", e))?,
        status: status(&status_name)?,
        failure: get(row, "failure")?,
        provider_message_id: get(row, "provider_message_id")?,
        attempts: u32::try_from(get::<i64>(row, "attempts")?).unwrap_or(u32::MAX),
        parts_sent: u32::try_from(get::<i64>(row, "parts_sent")?).unwrap_or(u32::MAX),
        transient_failures: u32::try_from(get::<i64>(row, "transient_failures")?)
            .unwrap_or(u32::MAX),
        callback: get::<Option<String>>(row, "callback")?
            .map(|json| serde_json::from_str(&json).map_err(|e| corrupt("callback", e)))
            .transpose()?,
        idempotency_key: get(row, "idempotency_key")?,
        created_at: Timestamp::from_millis(get(row, "created_at")?),
        transitions: Vec::new(),
    };
    Ok((get(row, "seq")?, message))
}

/// Decodes a `message_transitions` row.
pub(crate) fn transition(row: &DbRow) -> StoreResult<Transition> {
    let status_name: String = get(row, "status")?;
    Ok(Transition {
        status: status(&status_name)?,
        at: Timestamp::from_millis(get(row, "at")?),
        detail: get(row, "detail")?,
    })
}
