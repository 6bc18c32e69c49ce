//! Events as GREEN-API notifications: the webhook bodies of the `greenapi`
//! format, and the `body` of `receiveNotification`.

use chatgate_core::event::{
    EventPayload, InboundKind, IncomingMessage, IncomingReaction, MessageStatusChange,
    OutgoingApiMessage, StateChange,
};
use chatgate_core::event::{MessageDeleted, MessageEdited, OutgoingMessage, Postback};
use chatgate_core::hooks::HookFormat;
use chatgate_core::message::{Body, Content};
use chatgate_core::{Event, Instance, MessageStatus};
use serde_json::{Value, json};

use super::convert::{
    chat_id, display_name, file_name_of, file_type_message, instance_data, mime_of,
    recipient_chat_id, vcard, wid,
};

/// Renders events as GREEN-API webhooks.
#[derive(Debug, Clone, Copy, Default)]
pub struct GreenApiHooks;

impl HookFormat for GreenApiHooks {
    fn render(&self, instance: &Instance, event: &Event) -> Option<Vec<u8>> {
        notification(instance, event).and_then(|body| serde_json::to_vec(&body).ok())
    }
}

/// The notification for an event, or `None` when GREEN-API has none for
/// it (comments, stories, a switched-off webhook).
pub fn notification(instance: &Instance, event: &Event) -> Option<Value> {
    let base = |type_webhook: &str| {
        json!({
            "typeWebhook": type_webhook,
            "instanceData": instance_data(instance),
            "timestamp": event.at.as_secs(),
        })
    };
    match &event.payload {
        EventPayload::IncomingMessage(m) => {
            let mut body = base("incomingMessageReceived");
            body["idMessage"] = json!(m.message_id);
            body["senderData"] =
                sender_data(&m.from.id, m.from.name.as_deref().or(m.from.username.as_deref()));
            body["messageData"] = incoming_message_data(m);
            Some(body)
        }
        EventPayload::IncomingReaction(r) => {
            let IncomingReaction { message_id, from, reaction, action: _ } = r;
            let mut body = base("incomingMessageReceived");
            body["idMessage"] = json!(event.id.to_string());
            body["senderData"] =
                sender_data(&from.id, from.name.as_deref().or(from.username.as_deref()));
            body["messageData"] = json!({
                "typeMessage": "reactionMessage",
                "extendedTextMessageData": {"text": reaction.clone().unwrap_or_default()},
                "quotedMessage": {"stanzaId": message_id, "participant": wid(instance)},
            });
            Some(body)
        }
        EventPayload::OutgoingApiMessage(OutgoingApiMessage {
            message_id,
            provider_message_id: _,
            to,
            contact,
            content,
        }) => {
            let mut body = base("outgoingAPIMessageReceived");
            body["idMessage"] = json!(message_id.to_string());
            body["senderData"] = json!({
                "chatId": recipient_chat_id(to),
                "chatName": contact.as_ref().and_then(|c| c.name.clone()).unwrap_or_default(),
                "sender": wid(instance),
                "senderName": "",
                "senderContactName": "",
            });
            body["messageData"] = outgoing_message_data(content);
            Some(body)
        }
        EventPayload::MessageStatus(MessageStatusChange {
            message_id,
            provider_message_id: _,
            to,
            contact: _,
            status,
            failure,
            possible_duplicate: _,
        }) => {
            let status = match status {
                MessageStatus::Sent => "sent",
                MessageStatus::Delivered => "delivered",
                MessageStatus::Read => "read",
                MessageStatus::Failed | MessageStatus::Expired => "failed",
                MessageStatus::Queued | MessageStatus::Sending => return None,
            };
            let mut body = base("outgoingMessageStatus");
            body["chatId"] = json!(recipient_chat_id(to));
            body["idMessage"] = json!(message_id.to_string());
            body["status"] = json!(status);
            body["sendByApi"] = json!(true);
            if let Some(failure) = failure {
                body["description"] = json!(failure);
            }
            Some(body)
        }
        EventPayload::StateChanged(StateChange { state, reason: _ }) => {
            let mut body = base("stateInstanceChanged");
            body["stateInstance"] = json!(state.as_str());
            Some(body)
        }
        EventPayload::OutgoingMessage(OutgoingMessage { message_id, to, kind, text, media }) => {
            let mut body = base("outgoingMessageReceived");
            body["idMessage"] = json!(message_id);
            body["senderData"] = json!({
                "chatId": chat_id(&to.id),
                "chatName": to.name.clone().unwrap_or_default(),
                "sender": wid(instance),
                "senderName": "",
                "senderContactName": "",
            });
            let echo = IncomingMessage {
                message_id: message_id.clone(),
                from: to.clone(),
                kind: *kind,
                text: text.clone(),
                media: media.clone(),
                reply_to: None,
                quick_reply_payload: None,
                location: None,
                contact: None,
                story: None,
                referral: None,
            };
            body["messageData"] = incoming_message_data(&echo);
            Some(body)
        }
        EventPayload::MessageDeleted(MessageDeleted { message_id, from }) => {
            let mut body = base("incomingMessageReceived");
            body["idMessage"] = json!(event.id.to_string());
            body["senderData"] =
                sender_data(&from.id, from.name.as_deref().or(from.username.as_deref()));
            body["messageData"] = json!({"typeMessage": "deletedMessage", "deletedMessageData": {"stanzaId": message_id}});
            Some(body)
        }
        EventPayload::MessageEdited(MessageEdited { message_id, from, text, edits: _ }) => {
            let mut body = base("incomingMessageReceived");
            body["idMessage"] = json!(event.id.to_string());
            body["senderData"] =
                sender_data(&from.id, from.name.as_deref().or(from.username.as_deref()));
            body["messageData"] = json!({
                "typeMessage": "editedMessage",
                "editedMessageData": {"textMessage": text, "stanzaId": message_id},
            });
            Some(body)
        }
        EventPayload::Postback(Postback { message_id, from, title, payload }) => {
            let mut body = base("incomingMessageReceived");
            body["idMessage"] = json!(message_id);
            body["senderData"] =
                sender_data(&from.id, from.name.as_deref().or(from.username.as_deref()));
            body["messageData"] = json!({
                "typeMessage": "templateButtonsReplyMessage",
                "templateButtonReplyMessage": {
                    "stanzaId": "", "selectedIndex": 0, "selectedId": payload, "selectedDisplayText": title,
                },
            });
            Some(body)
        }
        EventPayload::IncomingComment(_)
        | EventPayload::IncomingStatus(_)
        | EventPayload::WebhookDisabled(_)
        | EventPayload::Referral(_)
        | EventPayload::Raw(_) => None,
    }
}

fn sender_data(contact: &str, name: Option<&str>) -> Value {
    let chat = chat_id(contact);
    json!({
        "chatId": chat,
        "chatName": name.unwrap_or_default(),
        "sender": chat,
        "senderName": name.unwrap_or_default(),
        "senderContactName": "",
    })
}

fn incoming_message_data(m: &IncomingMessage) -> Value {
    let IncomingMessage {
        message_id: _,
        from: _,
        kind,
        text,
        media,
        reply_to,
        quick_reply_payload,
        location,
        contact,
        story: _,
        referral: _,
    } = m;
    let mut data = match (kind, media, location, contact) {
        // A tapped reply button or list row (WhatsApp; an Instagram quick
        // reply): GREEN-API's buttons response, with the button's id.
        (_, None, None, None) if quick_reply_payload.is_some() => json!({
            "typeMessage": "buttonsResponseMessage",
            "buttonsResponseMessage": {
                "stanzaId": reply_to.clone().unwrap_or_default(),
                "selectedButtonId": quick_reply_payload,
                "selectedButtonText": text.clone().unwrap_or_default(),
            },
        }),
        (_, _, Some(l), _) => json!({
            "typeMessage": "locationMessage",
            "locationMessageData": {
                "nameLocation": l.name.clone().unwrap_or_default(),
                "address": l.address.clone().unwrap_or_default(),
                "latitude": l.latitude, "longitude": l.longitude, "jpegThumbnail": "",
            },
        }),
        (_, _, _, Some(c)) => json!({
            "typeMessage": "contactMessage",
            "contactMessageData": {"displayName": c.display_name, "vcard": c.vcard,
                                   "isForwarded": false, "forwardingScore": 0},
        }),
        (_, Some(media), _, _) => {
            let name = media.file_name.clone().unwrap_or_else(|| file_name_of(&media.url));
            let type_message = match kind {
                InboundKind::Image => "imageMessage",
                InboundKind::Video => "videoMessage",
                InboundKind::Audio => "audioMessage",
                _ => "documentMessage",
            };
            json!({
                "typeMessage": type_message,
                "fileMessageData": {
                    "downloadUrl": media.url,
                    "caption": text.clone().unwrap_or_default(),
                    "fileName": name,
                    "jpegThumbnail": "",
                    "mimeType": media.mime_type.clone().unwrap_or_else(|| mime_of(&name).to_owned()),
                    "isForwarded": false,
                    "forwardingScore": 0,
                },
            })
        }
        _ => json!({
            "typeMessage": "textMessage",
            "textMessageData": {"textMessage": text.clone().unwrap_or_default()},
        }),
    };
    if let Some(quoted) = reply_to {
        // A reply to an earlier message: GREEN-API's quoted form.
        data["quotedMessage"] =
            json!({"stanzaId": quoted, "participant": "", "typeMessage": "textMessage"});
    }
    data
}

fn outgoing_message_data(content: &Content) -> Value {
    let mut data = match &content.body {
        Body::Text { text } => json!({
            "typeMessage": "extendedTextMessage",
            "extendedTextMessageData": {
                "text": text, "description": "", "title": "", "previewType": "None",
                "jpegThumbnail": "", "forwardingScore": 0, "isForwarded": false,
            },
        }),
        Body::Media(media) => {
            let name = media.file_name.clone().unwrap_or_else(|| file_name_of(&media.url));
            json!({
                "typeMessage": file_type_message(media.kind),
                "fileMessageData": {
                    "downloadUrl": media.url,
                    "caption": media.caption.clone().unwrap_or_default(),
                    "fileName": name,
                    "jpegThumbnail": "",
                    "mimeType": mime_of(&name),
                    "isForwarded": false,
                    "forwardingScore": 0,
                },
            })
        }
        Body::Location(l) => json!({
            "typeMessage": "locationMessage",
            "locationMessageData": {
                "nameLocation": l.name.clone().unwrap_or_default(),
                "address": l.address.clone().unwrap_or_default(),
                "latitude": l.latitude, "longitude": l.longitude, "jpegThumbnail": "",
            },
        }),
        Body::Contact(c) => json!({
            "typeMessage": "contactMessage",
            "contactMessageData": {"displayName": display_name(c), "vcard": vcard(c),
                                   "isForwarded": false, "forwardingScore": 0},
        }),
        Body::Template(t) => json!({
            "typeMessage": "textMessage",
            "textMessageData": {
                "textMessage": t.elements.iter().map(|e| e.title.as_str()).collect::<Vec<_>>().join("\n"),
            },
        }),
        Body::Sticker { .. } => json!({
            "typeMessage": "textMessage",
            "textMessageData": {"textMessage": "❤️"},
        }),
        Body::List(list) => json!({
            "typeMessage": "listMessage",
            "listMessage": super::convert::list_message(list),
        }),
        Body::MessageTemplate(template) => json!({
            "typeMessage": "templateMessage",
            "templateMessage": super::convert::template_message(template),
        }),
        Body::Reaction { message_id, emoji } => json!({
            "typeMessage": "reactionMessage",
            "extendedTextMessageData": {"text": emoji.clone().unwrap_or_default()},
            "quotedMessage": {"stanzaId": message_id, "participant": ""},
        }),
    };
    if let Some(quoted) = &content.reply_to {
        data["quotedMessage"] =
            json!({"stanzaId": quoted, "participant": "", "typeMessage": "textMessage"});
    }
    data
}
