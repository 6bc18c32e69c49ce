//! `GET|POST /insta/{TOKEN}/{METHOD}`.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::Method;
use axum::routing::get;
use chatgate_core::gateway::SendRequest;
use chatgate_core::message::{Body, Content, Media, QuickReply};
use chatgate_core::{DelayPolicy, Instance, Recipient, WebhookFormat};
use serde_json::json;

use super::convert::{direct_url, file_rule, message_queue_id};
use super::error::GetlooError;
use super::wire::{AnswerOut, ChannelOut, Params, ResultOut};
use crate::AppState;

/// The characters of an option Instagram shows.
pub const OPTION_TITLE_CHARS: usize = 20;

/// The methods of seed 000.
const METHODS: &str = "getInfo, sendMsg, getUrl, getWebHook, setWebHook";

/// The one route of the dialect; the method is a path segment.
pub fn router() -> Router<AppState> {
    Router::new().route("/insta/{token}/{method}", get(call).post(call))
}

async fn call(
    State(state): State<AppState>,
    Path((token, name)): Path<(String, String)>,
    method: Method,
    params: Params,
) -> Result<Json<AnswerOut>, GetlooError> {
    let instance = state.gateway.authenticate_token(&token).await.map_err(GetlooError::from)?;
    let post_only = |what: &str| -> Result<(), GetlooError> {
        if method == Method::POST {
            Ok(())
        } else {
            Err(GetlooError::bad_request(format!("{what} is called with POST")))
        }
    };
    match name.as_str() {
        "getInfo" => info(&instance).map(Json),
        "getUrl" => url(&instance).map(Json),
        "getWebHook" => webhook(&instance).map(Json),
        "setWebHook" => {
            post_only("setWebHook")?;
            set_webhook(&state, &instance, &params).await.map(Json)
        }
        "sendMsg" => {
            post_only("sendMsg")?;
            send(&state, &instance, &params).await.map(Json)
        }
        other => {
            Err(GetlooError::bad_request(format!("unknown method {other:?}; methods: {METHODS}")))
        }
    }
}

fn channel_id(instance: &Instance) -> String {
    instance.id.to_string()
}

/// 402 unless the instance is paid (active) and authorized.
fn require_active(instance: &Instance, channel: Option<ChannelOut>) -> Result<(), GetlooError> {
    if instance.can_send() {
        Ok(())
    } else {
        let channel = channel.and_then(|c| serde_json::to_value(c).ok());
        Err(GetlooError::inactive(channel))
    }
}

fn success(channel: Option<ChannelOut>) -> AnswerOut {
    AnswerOut { result: ResultOut { success: true, queue_id: None }, channel, error: None }
}

fn account_fields(instance: &Instance) -> (serde_json::Value, serde_json::Value) {
    match &instance.account {
        Some(account) => (json!(account.id), json!(account.username)),
        None => (serde_json::Value::Null, serde_json::Value::Null),
    }
}

fn info(instance: &Instance) -> Result<AnswerOut, GetlooError> {
    let (user_id, username) = account_fields(instance);
    let channel = ChannelOut {
        id: channel_id(instance),
        user_id: Some(user_id),
        username: Some(username),
        status: Some(instance.can_send()),
        url: None,
        webhook: None,
    };
    require_active(instance, Some(channel.clone()))?;
    Ok(success(Some(channel)))
}

fn url(instance: &Instance) -> Result<AnswerOut, GetlooError> {
    let (user_id, username) = account_fields(instance);
    let link = instance.account.as_ref().and_then(|a| a.username.as_deref()).map(direct_url);
    let channel = ChannelOut {
        id: channel_id(instance),
        user_id: Some(user_id),
        username: Some(username),
        status: None,
        url: link,
        webhook: None,
    };
    require_active(instance, Some(channel.clone()))?;
    Ok(success(Some(channel)))
}

fn webhook_channel(instance: &Instance) -> ChannelOut {
    ChannelOut {
        id: channel_id(instance),
        user_id: None,
        username: None,
        status: None,
        url: None,
        webhook: Some(json!(instance.settings.webhook_url)),
    }
}

fn webhook(instance: &Instance) -> Result<AnswerOut, GetlooError> {
    let channel = webhook_channel(instance);
    require_active(instance, Some(channel.clone()))?;
    Ok(success(Some(channel)))
}

async fn set_webhook(
    state: &AppState,
    instance: &Instance,
    params: &Params,
) -> Result<AnswerOut, GetlooError> {
    require_active(instance, None)?;
    let url = params
        .text("url")?
        .map(|u| u.trim().to_owned())
        .filter(|u| !u.is_empty())
        .ok_or_else(|| GetlooError::bad_request("url: the webhook address is required"))?;
    let updated = state
        .gateway
        .set_webhook(instance.id, Some(url), WebhookFormat::Getloo, DelayPolicy::Vendor)
        .await
        .map_err(|e| match e {
            chatgate_core::Error::Invalid(v) => {
                GetlooError::bad_request(format!("url: {}", v.message))
            }
            other => GetlooError::from(other),
        })?;
    tracing::info!(instance = %instance.id, "getloo webhook set");
    Ok(success(Some(webhook_channel(&updated))))
}

async fn send(
    state: &AppState,
    instance: &Instance,
    params: &Params,
) -> Result<AnswerOut, GetlooError> {
    require_active(instance, None)?;
    let required = |name: &str, value: Option<String>| {
        value
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| GetlooError::bad_request(format!("{name}: is required")))
    };
    let username = required("username", params.text("username")?)?;
    let user_id = required("user_id", params.text("user_id")?)?;
    let file = params.text("file")?.map(|f| f.trim().to_owned()).filter(|f| !f.is_empty());
    let caption = params.text("caption")?.filter(|c| !c.is_empty());
    let options = params.list("options")?;

    let is_comment = state.gateway.knows_comment(instance.id, &user_id).await?;
    if is_comment && file.is_some() {
        return Err(GetlooError::bad_request(
            "file: a comment can be answered only with a text message (caption)",
        ));
    }
    let body = match (file, caption) {
        (Some(url), caption) => {
            chatgate_core::rules::check_http_url(
                &url,
                chatgate_core::FieldPath::key("media").then("url"),
            )
            .map_err(|v| GetlooError::bad_request(format!("file: {}", v.message)))?;
            let remote = state.media.probe(&url).await.map_err(|e| {
                GetlooError::bad_request(format!("file: the file could not be checked: {e}"))
            })?;
            let rule = file_rule(&url, &remote)
                .map_err(|e| GetlooError::bad_request(format!("file: {e}")))?;
            Body::Media(Media { kind: rule.kind, url, caption, file_name: None })
        }
        (None, Some(text)) => Body::Text { text },
        (None, None) => {
            return Err(GetlooError::bad_request(
                "file or caption: a message needs a file or a caption",
            ));
        }
    };
    let recipient = if is_comment { Recipient::Comment(user_id) } else { Recipient::User(user_id) };
    // Instagram shows at most 20 characters of a button and cuts the rest;
    // the seed's own example has 24-character options, so they are cut the
    // same way here (the payload keeps the whole text).
    let quick_replies = options
        .into_iter()
        .map(|option| QuickReply {
            title: option.chars().take(OPTION_TITLE_CHARS).collect(),
            payload: Some(option),
        })
        .collect();
    let accepted = state
        .gateway
        .send(
            instance,
            SendRequest {
                recipient,
                content: Content { body, quick_replies, reply_to: None },
                idempotency_key: None,
                recipient_username: Some(username),
                callback: None,
            },
        )
        .await?;
    Ok(AnswerOut {
        result: ResultOut { success: true, queue_id: Some(message_queue_id(&accepted.message.id)) },
        channel: None,
        error: None,
    })
}
