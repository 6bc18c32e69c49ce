//! GREEN-API wire ↔ core: chat ids, yes/no flags, settings, file kinds, and
//! the journal's flat message objects.

use chatgate_core::event::{
    EventPayload, InboundKind, InboundMedia, IncomingMessage, IncomingReaction, IncomingStatus,
};
use chatgate_core::message::{Body, Content, MediaKind, MessageStatus};
use chatgate_core::store::ChatEntry;
use chatgate_core::{Event, Instance, OutboundMessage, Recipient, Settings, SettingsPatch};
use serde_json::{Map, Value, json};

/// GREEN-API's suffix of a person's chat id.
pub const CHAT_SUFFIX: &str = "@c.us";

/// A contact id as a GREEN-API chat id: `<id>@c.us`.
pub fn chat_id(contact: &str) -> String {
    format!("{contact}{CHAT_SUFFIX}")
}

/// The recipient of a message as a chat id.
pub fn recipient_chat_id(recipient: &Recipient) -> String {
    chat_id(recipient.id())
}

/// The contact id in a chat id, which may come with or without `@c.us`.
/// Group chats (`@g.us`) and other suffixes are refused.
pub fn contact_of(chat: &str) -> Result<String, String> {
    let chat = chat.trim();
    let id = match chat.split_once('@') {
        None => chat,
        Some((id, "c.us")) => id,
        Some((_, "g.us")) => {
            return Err("group chats (…@g.us) are not supported by this gateway".into());
        }
        Some((_, other)) => return Err(format!("'chatId' must end in @c.us, not @{other}")),
    };
    if id.is_empty() {
        return Err("'chatId' is not allowed to be empty".into());
    }
    Ok(id.to_owned())
}

/// The instance's own id in GREEN-API's form (`wid`): its account with
/// `@c.us`, or empty before it has one. A WhatsApp number is named by its
/// phone number, as on GREEN-API, not by its Cloud API phone number id.
pub fn wid(instance: &Instance) -> String {
    let Some(account) = instance.account.as_ref() else { return String::new() };
    match (instance.kind, &account.username) {
        (chatgate_core::ConnectorKind::Whatsapp, Some(phone)) => chat_id(phone),
        _ => chat_id(&account.id),
    }
}

/// `instanceData` of every notification.
pub fn instance_data(instance: &Instance) -> Value {
    json!({
        "idInstance": instance.id.get(),
        "wid": wid(instance),
        "typeInstance": instance.kind.as_str(),
    })
}

/// A boolean as GREEN-API writes it.
pub fn yes_no(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}

/// Parses a GREEN-API yes/no flag (a JSON boolean is accepted too).
pub fn parse_yes_no(field: &str, value: &Value) -> Result<bool, String> {
    match value {
        Value::String(s) if s == "yes" => Ok(true),
        Value::String(s) if s == "no" => Ok(false),
        Value::Bool(b) => Ok(*b),
        _ => Err(format!("'{field}' must be one of [yes, no]")),
    }
}

/// The settings as getSettings shows them.
pub fn settings_json(instance: &Instance) -> Value {
    let Settings {
        webhook_url,
        webhook_url_token,
        delay_send_messages_milliseconds,
        mark_incoming_messages_readed,
        mark_incoming_messages_readed_on_reply,
        outgoing_webhook,
        outgoing_message_webhook,
        outgoing_api_message_webhook,
        state_webhook,
        incoming_webhook,
        keep_online_status,
        poll_message_webhook,
        incoming_call_webhook,
        edited_message_webhook,
        deleted_message_webhook,
        statuses_enabled,
        human_agent_tag: _,
    } = &instance.settings;
    json!({
        "wid": wid(instance),
        "countryInstance": "",
        "typeAccount": "",
        "webhookUrl": webhook_url.clone().unwrap_or_default(),
        "webhookUrlToken": webhook_url_token.clone().unwrap_or_default(),
        "delaySendMessagesMilliseconds": delay_send_messages_milliseconds,
        "markIncomingMessagesReaded": yes_no(*mark_incoming_messages_readed),
        "markIncomingMessagesReadedOnReply": yes_no(*mark_incoming_messages_readed_on_reply),
        "sharedSession": "no",
        "proxyInstance": "",
        "outgoingWebhook": yes_no(*outgoing_webhook),
        "outgoingMessageWebhook": yes_no(*outgoing_message_webhook),
        "outgoingAPIMessageWebhook": yes_no(*outgoing_api_message_webhook),
        "incomingWebhook": yes_no(*incoming_webhook),
        "deviceWebhook": "no",
        "statusInstanceWebhook": "no",
        "stateWebhook": yes_no(*state_webhook),
        "enableMessagesHistory": "no",
        "keepOnlineStatus": yes_no(*keep_online_status),
        "pollMessageWebhook": yes_no(*poll_message_webhook),
        "incomingBlockWebhook": "no",
        "incomingCallWebhook": yes_no(*incoming_call_webhook),
        "editedMessageWebhook": yes_no(*edited_message_webhook),
        "deletedMessageWebhook": yes_no(*deleted_message_webhook),
        "statusesEnabled": yes_no(*statuses_enabled),
    })
}

/// Fields GREEN-API documents but chatgate has no use for: accepted and
/// ignored, so a client that sends them is not refused.
const IGNORED_SETTINGS: [&str; 8] = [
    "sharedSession",
    "deviceWebhook",
    "statusInstanceWebhook",
    "enableMessagesHistory",
    "incomingBlockWebhook",
    "countryInstance",
    "proxyInstance",
    "typeAccount",
];

/// A settings object (setSettings, createInstance) as a core patch. Every
/// field must have its documented type; unknown fields are refused.
pub fn settings_patch(body: &Map<String, Value>, extra: &[&str]) -> Result<SettingsPatch, String> {
    let mut patch = SettingsPatch::default();
    for (key, value) in body {
        let flag = |field: &mut Option<bool>| -> Result<(), String> {
            *field = Some(parse_yes_no(key, value)?);
            Ok(())
        };
        match key.as_str() {
            "webhookUrl" => patch.webhook_url = Some(optional_string(key, value)?),
            "webhookUrlToken" => patch.webhook_url_token = Some(optional_string(key, value)?),
            "delaySendMessagesMilliseconds" => {
                patch.delay_send_messages_milliseconds =
                    Some(value.as_i64().ok_or_else(|| format!("'{key}' must be a number"))?)
            }
            "markIncomingMessagesReaded" => flag(&mut patch.mark_incoming_messages_readed)?,
            "markIncomingMessagesReadedOnReply" => {
                flag(&mut patch.mark_incoming_messages_readed_on_reply)?
            }
            "outgoingWebhook" => flag(&mut patch.outgoing_webhook)?,
            "outgoingMessageWebhook" => flag(&mut patch.outgoing_message_webhook)?,
            "outgoingAPIMessageWebhook" => flag(&mut patch.outgoing_api_message_webhook)?,
            "stateWebhook" => flag(&mut patch.state_webhook)?,
            "incomingWebhook" => flag(&mut patch.incoming_webhook)?,
            "keepOnlineStatus" => flag(&mut patch.keep_online_status)?,
            "pollMessageWebhook" => flag(&mut patch.poll_message_webhook)?,
            "incomingCallWebhook" => flag(&mut patch.incoming_call_webhook)?,
            "editedMessageWebhook" => flag(&mut patch.edited_message_webhook)?,
            "deletedMessageWebhook" => flag(&mut patch.deleted_message_webhook)?,
            "statusesEnabled" => flag(&mut patch.statuses_enabled)?,
            other if IGNORED_SETTINGS.contains(&other) || extra.contains(&other) => {}
            other => return Err(format!("'{other}' is not a setting")),
        }
    }
    Ok(patch)
}

fn optional_string(key: &str, value: &Value) -> Result<Option<String>, String> {
    match value {
        Value::String(s) => Ok(Some(s.clone())),
        Value::Null => Ok(None),
        _ => Err(format!("'{key}' must be a string")),
    }
}

/// The kind of a file by its name, as GREEN-API decides by extension.
pub fn kind_of_file(name: &str) -> MediaKind {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "jpg" | "jpeg" | "png" | "gif" | "webp" | "bmp" => MediaKind::Image,
        "mp4" | "mov" | "3gp" | "avi" | "mkv" | "webm" => MediaKind::Video,
        "mp3" | "ogg" | "oga" | "opus" | "m4a" | "aac" | "wav" | "amr" => MediaKind::Audio,
        _ => MediaKind::File,
    }
}

/// A MIME type by file name, for files whose server did not say.
pub fn mime_of(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "mp4" => "video/mp4",
        "mov" => "video/quicktime",
        "mp3" => "audio/mpeg",
        "ogg" | "oga" | "opus" => "audio/ogg",
        "m4a" => "audio/mp4",
        "wav" => "audio/wav",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        _ => "application/octet-stream",
    }
}

/// The last path segment of a URL (a file name).
pub fn file_name_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.path_segments().and_then(|mut s| s.next_back().map(str::to_owned)))
        .filter(|n| !n.is_empty())
        .unwrap_or_default()
}

/// GREEN-API's `typeMessage` of a file kind.
pub fn file_type_message(kind: MediaKind) -> &'static str {
    match kind {
        MediaKind::Image => "imageMessage",
        MediaKind::Video => "videoMessage",
        MediaKind::Audio => "audioMessage",
        MediaKind::File => "documentMessage",
    }
}

fn inbound_file_type(kind: InboundKind) -> &'static str {
    match kind {
        InboundKind::Image => "imageMessage",
        InboundKind::Video => "videoMessage",
        InboundKind::Audio => "audioMessage",
        _ => "documentMessage",
    }
}

/// A journal's `statusMessage`.
pub fn status_message(status: MessageStatus) -> &'static str {
    match status {
        MessageStatus::Queued | MessageStatus::Sending => "pending",
        MessageStatus::Sent => "sent",
        MessageStatus::Delivered => "delivered",
        MessageStatus::Read => "read",
        MessageStatus::Failed | MessageStatus::Expired => "failed",
    }
}

fn file_fields(out: &mut Map<String, Value>, media: &InboundMedia, caption: Option<&str>) {
    let name = media.file_name.clone().unwrap_or_else(|| file_name_of(&media.url));
    out.insert("downloadUrl".into(), json!(media.url));
    out.insert("caption".into(), json!(caption.unwrap_or_default()));
    out.insert("fileName".into(), json!(name));
    out.insert("jpegThumbnail".into(), json!(""));
    out.insert(
        "mimeType".into(),
        json!(media.mime_type.clone().unwrap_or_else(|| mime_of(&name).to_owned())),
    );
    out.insert("isAnimated".into(), json!(false));
    out.insert("isForwarded".into(), json!(false));
    out.insert("forwardingScore".into(), json!(0));
}

fn journal_base(
    kind: &str,
    id: &str,
    at: i64,
    type_message: &str,
    chat: &str,
) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("type".into(), json!(kind));
    out.insert("idMessage".into(), json!(id));
    out.insert("timestamp".into(), json!(at));
    out.insert("typeMessage".into(), json!(type_message));
    out.insert("chatId".into(), json!(chat));
    out
}

fn journal_tail(out: &mut Map<String, Value>) {
    out.insert("deletedMessageId".into(), json!(""));
    out.insert("editedMessageId".into(), json!(""));
    out.insert("isEdited".into(), json!(false));
    out.insert("isDeleted".into(), json!(false));
}

/// A customer's message as the journals show it (getChatHistory, getMessage,
/// lastIncomingMessages).
pub fn incoming_journal(event: &Event) -> Option<Value> {
    let at = event.at.as_secs();
    let (mut out, from) = match &event.payload {
        EventPayload::IncomingMessage(m) => {
            let IncomingMessage {
                message_id,
                from,
                kind,
                text,
                media,
                reply_to,
                quick_reply_payload: _,
                location,
                contact,
                story: _,
                referral: _,
            } = m;
            let chat = chat_id(&from.id);
            let mut out = match (kind, media, location, contact) {
                (_, _, Some(l), _) => {
                    let mut out =
                        journal_base("incoming", message_id, at, "locationMessage", &chat);
                    out.insert(
                        "location".into(),
                        json!({"nameLocation": l.name.clone().unwrap_or_default(),
                               "address": l.address.clone().unwrap_or_default(), "jpegThumbnail": "",
                               "latitude": l.latitude, "longitude": l.longitude,
                               "forwardingScore": 0, "isForwarded": false}),
                    );
                    out
                }
                (_, _, _, Some(c)) => {
                    let mut out = journal_base("incoming", message_id, at, "contactMessage", &chat);
                    out.insert(
                        "contact".into(),
                        json!({"displayName": c.display_name, "vcard": c.vcard,
                               "forwardingScore": 0, "isForwarded": false}),
                    );
                    out
                }
                (_, Some(media), _, _) => {
                    let mut out =
                        journal_base("incoming", message_id, at, inbound_file_type(*kind), &chat);
                    file_fields(&mut out, media, text.as_deref());
                    out
                }
                _ => {
                    let mut out = journal_base("incoming", message_id, at, "textMessage", &chat);
                    out.insert("textMessage".into(), json!(text.clone().unwrap_or_default()));
                    out
                }
            };
            if let Some(quoted) = reply_to {
                out.insert(
                    "quotedMessage".into(),
                    json!({"stanzaId": quoted, "participant": "", "typeMessage": "textMessage"}),
                );
            }
            (out, from)
        }
        EventPayload::IncomingReaction(IncomingReaction {
            message_id,
            from,
            reaction,
            action: _,
        }) => {
            let mut out = journal_base(
                "incoming",
                &event.id.to_string(),
                at,
                "reactionMessage",
                &chat_id(&from.id),
            );
            out.insert(
                "extendedTextMessage".into(),
                json!({"text": reaction.clone().unwrap_or_default()}),
            );
            out.insert("quotedMessage".into(), json!({"stanzaId": message_id, "participant": ""}));
            (out, from)
        }
        _ => return None,
    };
    out.insert("senderId".into(), json!(chat_id(&from.id)));
    out.insert(
        "senderName".into(),
        json!(from.name.clone().or_else(|| from.username.clone()).unwrap_or_default()),
    );
    out.insert("senderContactName".into(), json!(""));
    journal_tail(&mut out);
    Some(Value::Object(out))
}

/// What an outbound message says, in the journal's flat fields, with its
/// `typeMessage`.
fn outgoing_fields(content: &Content, out: &mut Map<String, Value>) -> &'static str {
    match &content.body {
        Body::Text { text } => {
            out.insert("textMessage".into(), json!(text));
            out.insert(
                "extendedTextMessage".into(),
                json!({"text": text, "description": "", "title": "", "previewType": "None",
                       "jpegThumbnail": "", "forwardingScore": 0, "isForwarded": false}),
            );
            "extendedTextMessage"
        }
        Body::Media(media) => {
            let name = media.file_name.clone().unwrap_or_else(|| file_name_of(&media.url));
            let inbound =
                InboundMedia { url: media.url.clone(), mime_type: None, file_name: Some(name) };
            file_fields(out, &inbound, media.caption.as_deref());
            file_type_message(media.kind)
        }
        Body::Location(l) => {
            out.insert(
                "location".into(),
                json!({"nameLocation": l.name.clone().unwrap_or_default(),
                       "address": l.address.clone().unwrap_or_default(), "jpegThumbnail": "",
                       "latitude": l.latitude, "longitude": l.longitude,
                       "forwardingScore": 0, "isForwarded": false}),
            );
            "locationMessage"
        }
        Body::Contact(c) => {
            out.insert(
                "contact".into(),
                json!({"displayName": display_name(c), "vcard": vcard(c),
                       "forwardingScore": 0, "isForwarded": false}),
            );
            "contactMessage"
        }
        Body::Template(t) => {
            let text = t.elements.iter().map(|e| e.title.as_str()).collect::<Vec<_>>().join("\n");
            out.insert("textMessage".into(), json!(text));
            "textMessage"
        }
        Body::Sticker { .. } => {
            out.insert("textMessage".into(), json!("❤️"));
            "textMessage"
        }
        Body::List(list) => {
            out.insert("textMessage".into(), json!(list.text));
            out.insert("listMessage".into(), list_message(list));
            "listMessage"
        }
        Body::MessageTemplate(template) => {
            out.insert("templateMessage".into(), template_message(template));
            "templateMessage"
        }
        Body::Reaction { message_id, emoji } => {
            out.insert(
                "extendedTextMessage".into(),
                json!({"text": emoji.clone().unwrap_or_default()}),
            );
            out.insert("quotedMessage".into(), json!({"stanzaId": message_id, "participant": ""}));
            "reactionMessage"
        }
    }
}

/// A contact card's name.
pub fn display_name(c: &chatgate_core::message::ContactCard) -> String {
    let parts: Vec<&str> =
        [c.first_name.as_deref(), c.middle_name.as_deref(), c.last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect();
    if parts.is_empty() {
        c.company.clone().unwrap_or_else(|| c.phone.clone())
    } else {
        parts.join(" ")
    }
}

/// A contact card as a vCard.
pub fn vcard(c: &chatgate_core::message::ContactCard) -> String {
    let mut card = format!("BEGIN:VCARD\nVERSION:3.0\nFN:{}\n", display_name(c));
    if let Some(company) = &c.company {
        card.push_str(&format!("ORG:{company}\n"));
    }
    card.push_str(&format!("TEL;type=CELL;waid={0}:+{0}\nEND:VCARD", c.phone));
    card
}

/// A message the instance sent, as the journals show it.
pub fn outgoing_journal(message: &OutboundMessage) -> Value {
    let mut out = Map::new();
    let type_message = outgoing_fields(&message.content, &mut out);
    let mut base = journal_base(
        "outgoing",
        &message.id.to_string(),
        message.created_at.as_secs(),
        type_message,
        &recipient_chat_id(&message.recipient),
    );
    base.extend(out);
    base.insert("statusMessage".into(), json!(status_message(message.status)));
    base.insert("sendByApi".into(), json!(true));
    journal_tail(&mut base);
    Value::Object(base)
}

/// A chat entry as the journals show it.
pub fn chat_entry_journal(entry: &ChatEntry) -> Option<Value> {
    match entry {
        ChatEntry::Incoming(event) => incoming_journal(event),
        ChatEntry::Outgoing(message) => Some(outgoing_journal(message)),
    }
}

/// An incoming status (story) as getIncomingStatuses shows it (seed 004).
pub fn incoming_status(event: &Event) -> Option<Value> {
    let EventPayload::IncomingStatus(IncomingStatus { status_id, from, kind, text, media }) =
        &event.payload
    else {
        return None;
    };
    let chat = chat_id(&from.id);
    let type_message = match (kind, media) {
        (_, None) | (InboundKind::Text, _) => "extendedTextMessage",
        (InboundKind::Video, Some(_)) => "videoMessage",
        (InboundKind::Audio, Some(_)) => "audioMessage",
        (_, Some(_)) => "imageMessage",
    };
    let mut out = journal_base("incoming", status_id, event.at.as_secs(), type_message, &chat);
    match media {
        None => {
            let text = text.clone().unwrap_or_default();
            out.insert("textMessage".into(), json!(text));
            out.insert(
                "extendedTextMessage".into(),
                json!({"text": text, "backgroundColor": "#FFFFFF", "font": "SANS_SERIF"}),
            );
        }
        Some(media) => {
            let name = media.file_name.clone().unwrap_or_else(|| file_name_of(&media.url));
            out.insert("downloadUrl".into(), json!(media.url));
            out.insert("caption".into(), json!(text.clone().unwrap_or_default()));
            out.insert("fileName".into(), json!(name));
            out.insert("jpegThumbnail".into(), json!(""));
            out.insert(
                "mimeType".into(),
                json!(media.mime_type.clone().unwrap_or_else(|| mime_of(&name).to_owned())),
            );
        }
    }
    out.insert("senderId".into(), json!(chat));
    out.insert(
        "senderName".into(),
        json!(from.name.clone().or_else(|| from.username.clone()).unwrap_or_default()),
    );
    out.insert("senderContactName".into(), json!(""));
    Some(Value::Object(out))
}

/// A WhatsApp list message in GREEN-API's `listMessage` shape.
pub fn list_message(list: &chatgate_core::message::ListMessage) -> Value {
    let sections: Vec<Value> = list
        .sections
        .iter()
        .map(|s| {
            let rows: Vec<Value> = s
                .rows
                .iter()
                .map(|r| {
                    json!({"rowId": r.id, "title": r.title,
                           "description": r.description.clone().unwrap_or_default()})
                })
                .collect();
            json!({"title": s.title.clone().unwrap_or_default(), "rows": rows})
        })
        .collect();
    json!({"contentText": list.text, "title": "", "footer": "", "buttonText": list.button,
           "sections": sections})
}

/// A WhatsApp message template as GREEN-API's `templateMessage` (its name,
/// language and the Cloud API components as given).
pub fn template_message(template: &chatgate_core::message::MessageTemplate) -> Value {
    json!({"templateName": template.name, "language": template.language,
           "components": template.components})
}

/// A queued message as showMessagesQueue shows it.
pub fn queue_item(message: &OutboundMessage) -> Value {
    let chat = recipient_chat_id(&message.recipient);
    let (kind, body) = match &message.content.body {
        Body::Text { text } => ("sendMessage", json!({"chatId": chat, "message": text})),
        Body::Media(media) => (
            "sendFileByUrl",
            json!({"chatId": chat, "urlFile": media.url,
                   "fileName": media.file_name.clone().unwrap_or_else(|| file_name_of(&media.url)),
                   "caption": media.caption.clone().unwrap_or_default()}),
        ),
        Body::Location(l) => (
            "sendLocation",
            json!({"chatId": chat, "latitude": l.latitude, "longitude": l.longitude,
                   "nameLocation": l.name.clone().unwrap_or_default(),
                   "address": l.address.clone().unwrap_or_default()}),
        ),
        Body::Contact(c) => (
            "sendContact",
            json!({"chatId": chat, "contact": {"phoneContact": c.phone, "firstName": c.first_name,
                   "middleName": c.middle_name, "lastName": c.last_name, "company": c.company}}),
        ),
        Body::List(list) => ("sendListMessage", {
            let mut body = list_message(list);
            body["chatId"] = json!(chat);
            body
        }),
        Body::MessageTemplate(template) => ("sendTemplate", {
            let mut body = template_message(template);
            body["chatId"] = json!(chat);
            body
        }),
        Body::Template(_) | Body::Sticker { .. } | Body::Reaction { .. } => {
            ("sendMessage", json!({"chatId": chat}))
        }
    };
    json!({"messageID": message.id.to_string(), "type": kind, "body": body})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_ids_come_with_or_without_the_suffix() {
        assert_eq!(contact_of("79001234567@c.us").unwrap(), "79001234567");
        assert_eq!(contact_of("79001234567").unwrap(), "79001234567");
        assert!(contact_of("120363@g.us").is_err());
        assert!(contact_of("@c.us").is_err());
        assert_eq!(chat_id("17841400000000001"), "17841400000000001@c.us");
    }

    #[test]
    fn flags_are_yes_or_no() {
        assert!(parse_yes_no("x", &json!("yes")).unwrap());
        assert!(!parse_yes_no("x", &json!("no")).unwrap());
        assert!(parse_yes_no("x", &json!("maybe")).is_err());
    }

    #[test]
    fn a_settings_object_becomes_a_patch_and_unknown_keys_are_refused() {
        let body = json!({"incomingWebhook": "yes", "delaySendMessagesMilliseconds": 1000, "sharedSession": "no"});
        let patch = settings_patch(body.as_object().unwrap(), &[]).unwrap();
        assert_eq!(patch.incoming_webhook, Some(true));
        assert_eq!(patch.delay_send_messages_milliseconds, Some(1000));
        let bad = json!({"incomingWebhok": "yes"});
        assert!(
            settings_patch(bad.as_object().unwrap(), &[]).unwrap_err().contains("incomingWebhok")
        );
    }

    #[test]
    fn files_are_kinded_by_their_extension() {
        assert_eq!(kind_of_file("a.JPG"), MediaKind::Image);
        assert_eq!(kind_of_file("v.mp4"), MediaKind::Video);
        assert_eq!(kind_of_file("voice.ogg"), MediaKind::Audio);
        assert_eq!(kind_of_file("doc.pdf"), MediaKind::File);
    }
}
