//! The native API's JSON, exactly as documented in README.md. Request types
//! are `…In` / `…Patch` and refuse unknown fields (a typo is an error, not a
//! silent no-op); answers are `…Out`.

use chatgate_core::message::{
    Body, ContactCard, Content, GenericTemplate, ListMessage, ListRow, ListSection, Location,
    Media, MediaKind, MessageTemplate, QuickReply, Sticker, TemplateButton, TemplateElement,
    Transition,
};
use chatgate_core::{
    FieldPath, Instance, OutboundMessage, Recipient, Settings, SettingsPatch, Violation,
};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

/// `POST /api/v1/instances`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InstanceIn {
    /// `sandbox`, `instagram` or `whatsapp`.
    pub kind: String,
    /// A name for people.
    #[serde(default)]
    pub name: Option<String>,
    /// Settings that differ from the native defaults.
    #[serde(default)]
    pub settings: Option<SettingsPatchIn>,
    /// The platform account to connect at once (instagram, whatsapp).
    #[serde(default)]
    pub connection: Option<ConnectionIn>,
}

/// `PUT /api/v1/instances/{id}/connection`: the platform account and its
/// access token. An instagram instance takes `accountId` and
/// `accessToken`; a whatsapp instance `phoneNumberId`, `wabaId` and
/// `accessToken`. `Debug` never shows the token.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectionIn {
    /// Instagram: the professional account's user id.
    #[serde(default)]
    #[schema(nullable = false)]
    pub account_id: Option<String>,
    /// WhatsApp: the phone number id (WhatsApp Manager → API Setup).
    #[serde(default)]
    #[schema(nullable = false)]
    pub phone_number_id: Option<String>,
    /// WhatsApp: the WhatsApp Business Account id the number belongs to.
    #[serde(default)]
    #[schema(nullable = false)]
    pub waba_id: Option<String>,
    /// The access token (Instagram user token; WhatsApp system user
    /// token).
    pub access_token: String,
}

impl ConnectionIn {
    /// The connection in the core's words, for an instance of `kind`, or
    /// the field that does not belong to it.
    pub fn for_kind(
        &self,
        kind: chatgate_core::ConnectorKind,
    ) -> Result<chatgate_core::connector::Connection<'_>, Violation> {
        use chatgate_core::ConnectorKind;
        let account = match (kind, &self.account_id, &self.phone_number_id) {
            (ConnectorKind::Whatsapp, None, Some(phone)) => phone,
            (ConnectorKind::Whatsapp, Some(_), _) => {
                return Err(Violation::new(
                    FieldPath::key("accountId"),
                    "a whatsapp instance is connected with phoneNumberId and wabaId",
                ));
            }
            (ConnectorKind::Whatsapp, None, None) => {
                return Err(Violation::new(FieldPath::key("phoneNumberId"), "is required"));
            }
            (_, _, Some(_)) => {
                return Err(Violation::new(
                    FieldPath::key("phoneNumberId"),
                    format!("the {kind} connector is connected with accountId"),
                ));
            }
            (_, Some(account), None) => account,
            (_, None, None) => {
                return Err(Violation::new(FieldPath::key("accountId"), "is required"));
            }
        };
        Ok(chatgate_core::connector::Connection {
            account_id: account,
            business_id: self.waba_id.as_deref(),
            access_token: &self.access_token,
        })
    }
}

impl std::fmt::Debug for ConnectionIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionIn")
            .field("account_id", &self.account_id)
            .field("phone_number_id", &self.phone_number_id)
            .field("waba_id", &self.waba_id)
            .finish_non_exhaustive()
    }
}

/// Settings in answers.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct SettingsOut {
    #[schema(required = true)]
    pub webhook_url: Option<String>,
    #[schema(required = true)]
    pub webhook_url_token: Option<String>,
    pub delay_send_messages_milliseconds: u32,
    pub mark_incoming_messages_readed: bool,
    pub mark_incoming_messages_readed_on_reply: bool,
    pub outgoing_webhook: bool,
    pub outgoing_message_webhook: bool,
    #[serde(rename = "outgoingAPIMessageWebhook")]
    pub outgoing_api_message_webhook: bool,
    pub state_webhook: bool,
    pub incoming_webhook: bool,
    pub keep_online_status: bool,
    pub poll_message_webhook: bool,
    pub incoming_call_webhook: bool,
    pub edited_message_webhook: bool,
    pub deleted_message_webhook: bool,
    /// The statuses (stories) methods are enabled (GREEN-API's beta feature).
    pub statuses_enabled: bool,
    /// Instagram: send with the HUMAN_AGENT tag outside the 24-hour window.
    pub human_agent_tag: bool,
}

impl From<&Settings> for SettingsOut {
    fn from(s: &Settings) -> Self {
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
            human_agent_tag,
        } = s.clone();
        Self {
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
            human_agent_tag,
        }
    }
}

/// `PATCH …/settings` (and `settings` in `POST /api/v1/instances`): only the
/// fields present change. `webhookUrl` / `webhookUrlToken` set to `null` or
/// `""` are cleared.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct SettingsPatchIn {
    /// Where to push notifications; `null` or `""` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub webhook_url: Option<Option<String>>,
    /// The `Authorization` header value sent with every push; `null` or
    /// `""` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub webhook_url_token: Option<Option<String>>,
    #[schema(minimum = 0, maximum = 600000)]
    pub delay_send_messages_milliseconds: Option<i64>,
    pub mark_incoming_messages_readed: Option<bool>,
    pub mark_incoming_messages_readed_on_reply: Option<bool>,
    pub outgoing_webhook: Option<bool>,
    pub outgoing_message_webhook: Option<bool>,
    #[serde(rename = "outgoingAPIMessageWebhook")]
    pub outgoing_api_message_webhook: Option<bool>,
    pub state_webhook: Option<bool>,
    pub incoming_webhook: Option<bool>,
    pub keep_online_status: Option<bool>,
    pub poll_message_webhook: Option<bool>,
    pub incoming_call_webhook: Option<bool>,
    pub edited_message_webhook: Option<bool>,
    pub deleted_message_webhook: Option<bool>,
    pub statuses_enabled: Option<bool>,
    pub human_agent_tag: Option<bool>,
}

/// A field that is present (even as `null`) becomes `Some(..)`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

impl From<SettingsPatchIn> for SettingsPatch {
    fn from(p: SettingsPatchIn) -> Self {
        let SettingsPatchIn {
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
            human_agent_tag,
        } = p;
        SettingsPatch {
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
            human_agent_tag,
        }
    }
}

/// An instance in answers.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct InstanceOut {
    pub id: u64,
    pub kind: &'static str,
    pub name: String,
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub state_reason: Option<String>,
    pub active: bool,
    /// The messenger account, once known: Instagram user id and username;
    /// WhatsApp phone number id, display number (digits) and WABA id.
    #[schema(required = true)]
    pub account: Option<AccountOut>,
    /// The shape of its webhooks: `native`, `getloo`, …
    pub webhook_format: &'static str,
    pub created_at: String,
    pub settings: SettingsOut,
}

/// The messenger account behind an instance.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct AccountOut {
    pub id: String,
    #[schema(required = true)]
    pub username: Option<String>,
    /// WhatsApp: the WhatsApp Business Account id.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub business_id: Option<String>,
}

impl From<&Instance> for InstanceOut {
    fn from(i: &Instance) -> Self {
        Self {
            id: i.id.get(),
            kind: i.kind.as_str(),
            name: i.name.clone(),
            state: i.state.as_str(),
            state_reason: i.state_reason.clone(),
            active: i.active,
            account: i.account.as_ref().map(|a| AccountOut {
                id: a.id.clone(),
                username: a.username.clone(),
                business_id: a.business_id.clone(),
            }),
            webhook_format: i.webhook_format.as_str(),
            created_at: i.created_at.to_rfc3339(),
            settings: SettingsOut::from(&i.settings),
        }
    }
}

/// The answer to `POST /api/v1/instances`: the instance and its API token,
/// shown this once.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedInstanceOut {
    /// The instance's API token.
    pub api_token: String,
    /// The instance.
    #[serde(flatten)]
    pub instance: InstanceOut,
}

/// `to` of a message: a person's id or a comment's id.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecipientIn {
    /// The person's platform id (Instagram-scoped id, WhatsApp id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// A comment's id, for a private reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment_id: Option<String>,
}

/// A media attachment by URL.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct MediaIn {
    /// `image`, `audio`, `video` or `file`.
    pub kind: String,
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    /// The file name the recipient sees (WhatsApp documents; the URL's
    /// last segment when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
}

/// A WhatsApp list message: a text and a button that opens up to 10 rows
/// in titled sections.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct ListIn {
    /// The message text (≤ 1024 characters).
    pub text: String,
    /// The label of the button that opens the list (≤ 20 characters).
    pub button: String,
    pub sections: Vec<ListSectionIn>,
}

/// A section of a list (a title is required when there are several).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct ListSectionIn {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub rows: Vec<ListRowIn>,
}

/// A row of a list: its `id` comes back when the customer picks it.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct ListRowIn {
    pub id: String,
    /// ≤ 24 characters.
    pub title: String,
    /// ≤ 72 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A WhatsApp message template approved for the business account: the only
/// message WhatsApp delivers outside the 24-hour customer-service window.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct MessageTemplateIn {
    /// The template's name.
    pub name: String,
    /// The language code of the translation (`en_US`, `ru`).
    pub language: String,
    /// The Cloud API's `components` as they are
    /// (`[{"type":"body","parameters":[{"type":"text","text":"Ann"}]}]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    pub components: Vec<serde_json::Value>,
}

/// A quick reply.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct QuickReplyIn {
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
}

/// A generic template.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct TemplateIn {
    pub elements: Vec<ElementIn>,
}

/// One card of a template.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct ElementIn {
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtitle: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_action_url: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<ButtonIn>,
}

/// A template button: `{"type": "web_url", "title", "url"}` or
/// `{"type": "postback", "title", "payload"}`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[allow(missing_docs)]
pub enum ButtonIn {
    WebUrl { title: String, url: String },
    Postback { title: String, payload: String },
}

/// `POST /api/v1/instances/{id}/messages`: `to` and exactly one of `text`,
/// `media`, `template`, `sticker`; `quickReplies` may go with any of them.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct MessageIn {
    pub to: RecipientIn,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub media: Option<MediaIn>,
    #[serde(default)]
    pub quick_replies: Option<Vec<QuickReplyIn>>,
    #[serde(default)]
    pub template: Option<TemplateIn>,
    /// `like_heart`.
    #[serde(default)]
    pub sticker: Option<String>,
    /// A place (WhatsApp).
    #[serde(default)]
    pub location: Option<LocationIn>,
    /// A contact card (WhatsApp).
    #[serde(default)]
    pub contact: Option<ContactIn>,
    /// A reaction to one of the customer's messages.
    #[serde(default)]
    pub reaction: Option<ReactionIn>,
    /// A list of choices (WhatsApp).
    #[serde(default)]
    pub list: Option<ListIn>,
    /// A message template by name (WhatsApp).
    #[serde(default)]
    pub message_template: Option<MessageTemplateIn>,
    /// The platform id (`providerMessageId` or an incoming `messageId`) of
    /// the message this one answers.
    #[serde(default)]
    pub reply_to: Option<String>,
}

/// A place.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct LocationIn {
    pub latitude: f64,
    pub longitude: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// A reaction: `messageId` of the customer's message, `emoji` (absent to
/// take the reaction back).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct ReactionIn {
    pub message_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emoji: Option<String>,
}

/// A contact card.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct ContactIn {
    pub phone: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
}

impl MessageIn {
    /// The core's view of the request, or the first thing wrong with its
    /// shape (the content rules are checked by the core).
    pub fn into_core(self) -> Result<(Recipient, Content), Violation> {
        let MessageIn {
            to,
            text,
            media,
            quick_replies,
            template,
            sticker,
            location,
            contact,
            reaction,
            list,
            message_template,
            reply_to,
        } = self;
        let recipient = match (to.id, to.comment_id) {
            (Some(id), None) => Recipient::User(id),
            (None, Some(comment)) => Recipient::Comment(comment),
            _ => {
                return Err(Violation::new(
                    FieldPath::key("to"),
                    "must have exactly one of id (a person) or commentId (a comment)",
                ));
            }
        };
        let given = [
            text.is_some(),
            media.is_some(),
            template.is_some(),
            sticker.is_some(),
            location.is_some(),
            contact.is_some(),
            reaction.is_some(),
            list.is_some(),
            message_template.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err(Violation::new(
                FieldPath::default(),
                "a message needs exactly one of text, media, template, sticker, location, contact, \
                 reaction, list or messageTemplate",
            ));
        }
        let body = if let Some(text) = text {
            Body::Text { text }
        } else if let Some(media) = media {
            let kind = media.kind.parse::<MediaKind>().map_err(|()| {
                Violation::new(
                    FieldPath::key("media").then("kind"),
                    "must be one of image, audio, video, file",
                )
            })?;
            Body::Media(Media {
                kind,
                url: media.url,
                caption: media.caption,
                file_name: media.file_name,
            })
        } else if let Some(ListIn { text, button, sections }) = list {
            Body::List(ListMessage {
                text,
                button,
                sections: sections
                    .into_iter()
                    .map(|ListSectionIn { title, rows }| ListSection {
                        title,
                        rows: rows
                            .into_iter()
                            .map(|ListRowIn { id, title, description }| ListRow {
                                id,
                                title,
                                description,
                            })
                            .collect(),
                    })
                    .collect(),
            })
        } else if let Some(MessageTemplateIn { name, language, components }) = message_template {
            Body::MessageTemplate(MessageTemplate { name, language, components })
        } else if let Some(ReactionIn { message_id, emoji }) = reaction {
            Body::Reaction { message_id, emoji }
        } else if let Some(LocationIn { latitude, longitude, name, address }) = location {
            Body::Location(Location { latitude, longitude, name, address })
        } else if let Some(ContactIn { phone, first_name, middle_name, last_name, company }) =
            contact
        {
            Body::Contact(ContactCard { phone, first_name, middle_name, last_name, company })
        } else if let Some(template) = template {
            Body::Template(GenericTemplate {
                elements: template.elements.into_iter().map(element_into_core).collect(),
            })
        } else {
            match sticker.as_deref() {
                Some("like_heart") => Body::Sticker { sticker: Sticker::LikeHeart },
                _ => {
                    return Err(Violation::new(
                        FieldPath::key("sticker"),
                        "must be like_heart (the only sticker Instagram has)",
                    ));
                }
            }
        };
        let quick_replies = quick_replies
            .unwrap_or_default()
            .into_iter()
            .map(|q| QuickReply { title: q.title, payload: q.payload })
            .collect();
        Ok((recipient, Content { body, quick_replies, reply_to }))
    }
}

fn element_into_core(e: ElementIn) -> TemplateElement {
    let ElementIn { title, subtitle, image_url, default_action_url, buttons } = e;
    TemplateElement {
        title,
        subtitle,
        image_url,
        default_action_url,
        buttons: buttons
            .into_iter()
            .map(|b| match b {
                ButtonIn::WebUrl { title, url } => TemplateButton::WebUrl { title, url },
                ButtonIn::Postback { title, payload } => {
                    TemplateButton::Postback { title, payload }
                }
            })
            .collect(),
    }
}

/// The answer to a send: 202 with the message id and its status.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcceptedOut {
    /// The message id.
    pub id: String,
    /// `queued` for a new message; the current status for a replay.
    pub status: &'static str,
}

/// One step of a message's history.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct TransitionOut {
    pub status: &'static str,
    pub at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub detail: Option<String>,
}

impl From<&Transition> for TransitionOut {
    fn from(t: &Transition) -> Self {
        Self { status: t.status.as_str(), at: t.at.to_rfc3339(), detail: t.detail.clone() }
    }
}

/// What a message says, as answers show it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct ContentOut {
    /// `text`, `image`, `audio`, `video`, `file`, `template` or `sticker`.
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub media: Option<MediaIn>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub template: Option<TemplateIn>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub sticker: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub quick_replies: Vec<QuickReplyIn>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub location: Option<LocationIn>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub contact: Option<ContactIn>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub reaction: Option<ReactionIn>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub list: Option<ListIn>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub message_template: Option<MessageTemplateIn>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub reply_to: Option<String>,
}

impl From<&Content> for ContentOut {
    fn from(content: &Content) -> Self {
        let (mut text, mut media, mut template, mut sticker) = (None, None, None, None);
        let (mut location, mut contact, mut reaction) = (None, None, None);
        let (mut list, mut message_template) = (None, None);
        match &content.body {
            Body::List(l) => {
                list = Some(ListIn {
                    text: l.text.clone(),
                    button: l.button.clone(),
                    sections: l
                        .sections
                        .iter()
                        .map(|s| ListSectionIn {
                            title: s.title.clone(),
                            rows: s
                                .rows
                                .iter()
                                .map(|r| ListRowIn {
                                    id: r.id.clone(),
                                    title: r.title.clone(),
                                    description: r.description.clone(),
                                })
                                .collect(),
                        })
                        .collect(),
                })
            }
            Body::MessageTemplate(t) => {
                message_template = Some(MessageTemplateIn {
                    name: t.name.clone(),
                    language: t.language.clone(),
                    components: t.components.clone(),
                })
            }
            Body::Reaction { message_id, emoji } => {
                reaction = Some(ReactionIn { message_id: message_id.clone(), emoji: emoji.clone() })
            }
            Body::Location(l) => {
                location = Some(LocationIn {
                    latitude: l.latitude,
                    longitude: l.longitude,
                    name: l.name.clone(),
                    address: l.address.clone(),
                })
            }
            Body::Contact(c) => {
                contact = Some(ContactIn {
                    phone: c.phone.clone(),
                    first_name: c.first_name.clone(),
                    middle_name: c.middle_name.clone(),
                    last_name: c.last_name.clone(),
                    company: c.company.clone(),
                })
            }
            Body::Text { text: t } => text = Some(t.clone()),
            Body::Media(x) => {
                media = Some(MediaIn {
                    kind: x.kind.as_str().to_owned(),
                    url: x.url.clone(),
                    caption: x.caption.clone(),
                    file_name: x.file_name.clone(),
                })
            }
            Body::Template(t) => {
                template =
                    Some(TemplateIn { elements: t.elements.iter().map(element_out).collect() })
            }
            Body::Sticker { sticker: s } => sticker = Some(s.as_str()),
        }
        Self {
            kind: content.body.kind(),
            text,
            media,
            template,
            sticker,
            quick_replies: content
                .quick_replies
                .iter()
                .map(|q| QuickReplyIn { title: q.title.clone(), payload: q.payload.clone() })
                .collect(),
            location,
            contact,
            reaction,
            list,
            message_template,
            reply_to: content.reply_to.clone(),
        }
    }
}

/// The recipient as answers show it.
pub fn recipient_out(recipient: &Recipient) -> RecipientIn {
    match recipient {
        Recipient::User(id) => RecipientIn { id: Some(id.clone()), comment_id: None },
        Recipient::Comment(id) => RecipientIn { id: None, comment_id: Some(id.clone()) },
    }
}

/// A message in answers.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct MessageOut {
    pub id: String,
    pub instance_id: u64,
    pub to: RecipientIn,
    #[serde(flatten)]
    pub content: ContentOut,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub failure: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub provider_message_id: Option<String>,
    pub attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub idempotency_key: Option<String>,
    pub created_at: String,
    /// Every status the message went through, oldest first, each with its
    /// time (present on `GET …/messages/{messageId}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub transitions: Option<Vec<TransitionOut>>,
}

impl MessageOut {
    /// A message with its history.
    pub fn with_history(m: &OutboundMessage) -> Self {
        let mut out = Self::summary(m);
        out.transitions = Some(m.transitions.iter().map(TransitionOut::from).collect());
        out
    }

    /// A message without its history (queue listings).
    pub fn summary(m: &OutboundMessage) -> Self {
        Self {
            id: m.id.to_string(),
            instance_id: m.instance_id.get(),
            to: recipient_out(&m.recipient),
            content: ContentOut::from(&m.content),
            status: m.status.as_str(),
            failure: m.failure.clone(),
            provider_message_id: m.provider_message_id.clone(),
            attempts: m.attempts,
            idempotency_key: m.idempotency_key.clone(),
            created_at: m.created_at.to_rfc3339(),
            transitions: None,
        }
    }

    /// The content fields alone, as JSON (for events).
    pub fn content_json(content: &Content) -> serde_json::Value {
        serde_json::to_value(ContentOut::from(content)).unwrap_or_default()
    }
}

fn element_out(e: &TemplateElement) -> ElementIn {
    ElementIn {
        title: e.title.clone(),
        subtitle: e.subtitle.clone(),
        image_url: e.image_url.clone(),
        default_action_url: e.default_action_url.clone(),
        buttons: e
            .buttons
            .iter()
            .map(|b| match b {
                TemplateButton::WebUrl { title, url } => {
                    ButtonIn::WebUrl { title: title.clone(), url: url.clone() }
                }
                TemplateButton::Postback { title, payload } => {
                    ButtonIn::Postback { title: title.clone(), payload: payload.clone() }
                }
            })
            .collect(),
    }
}

/// `GET …/queue`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueueOut {
    /// Pending messages in send order (at most 1000).
    pub messages: Vec<MessageOut>,
}

/// `GET …/queue/count`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CountOut {
    /// How many messages are pending.
    pub count: u64,
}

/// `DELETE …/queue`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClearedOut {
    /// How many queued messages were removed.
    pub removed: u64,
}

/// `GET …/contacts/{contactId}`: what is known of a contact.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContactOut {
    /// The platform's id of the contact.
    pub id: String,
    /// Their username, when known.
    #[schema(required = true)]
    pub username: Option<String>,
    /// Their profile name, when known.
    #[schema(required = true)]
    pub name: Option<String>,
    /// When they last wrote (RFC 3339), which opens the 24-hour window.
    #[schema(required = true)]
    pub last_inbound_at: Option<String>,
}

/// An event: the body of every native webhook push and of every pulled
/// notification.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventOut {
    /// The event's id (the `webhook-id` of its pushes); deduplicate on it.
    pub id: String,
    /// The instance it happened to.
    pub instance_id: u64,
    /// Its place in the instance's journal, from 1.
    pub seq: u64,
    /// `incomingMessage`, `incomingComment`, `incomingReaction`,
    /// `incomingStatus`, `outgoingApiMessage`, `messageStatus`,
    /// `stateChanged`, `webhookDisabled`, …
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// When it happened (RFC 3339).
    pub timestamp: String,
    /// What happened; its fields depend on `type` (see README.md).
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

/// `GET …/notifications/next`: a pulled notification.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationOut {
    /// The id to acknowledge it with (`DELETE …/notifications/{receiptId}`).
    pub receipt_id: u64,
    /// The event.
    pub event: EventOut,
}

/// `GET …/notifications/count`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PendingOut {
    /// How many notifications wait to be pulled or pushed.
    pub pending: u64,
}

/// `GET …/events`.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventsOut {
    /// The journal, oldest first.
    pub events: Vec<EventOut>,
}

/// `POST …/events/{eventId}/redeliver`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptOut {
    /// The new notification's id.
    pub receipt_id: u64,
}

/// `POST …/events/replay`.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueuedOut {
    /// How many events were queued again.
    pub queued: u64,
}

/// One push attempt of a notification.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttemptOut {
    /// 1 for the first try.
    pub attempt: u32,
    /// When it started (RFC 3339).
    pub at: String,
    /// Where it went.
    pub url: String,
    /// The receiver's status code, if it answered.
    #[schema(required = true)]
    pub status_code: Option<u16>,
    /// How long it took.
    pub latency_ms: u64,
    /// What went wrong, if anything.
    #[schema(required = true)]
    pub error: Option<String>,
}

/// A notification with its push attempts.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryOut {
    /// The notification's id.
    pub receipt_id: u64,
    /// The event's id.
    pub event_id: String,
    /// The event's type.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The event's sequence number.
    pub seq: u64,
    /// `pending`, `delivered` or `dead`.
    pub state: &'static str,
    /// When it was queued (RFC 3339).
    pub created_at: String,
    /// When the next push is due, while pending (RFC 3339).
    #[schema(required = true)]
    pub next_attempt_at: Option<String>,
    /// Every push so far, oldest first.
    pub attempts: Vec<AttemptOut>,
}

/// `GET …/deliveries`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveriesOut {
    /// Notifications, newest first.
    pub deliveries: Vec<DeliveryOut>,
}

/// `POST …/sandbox/incoming`: the event the customer's action produced.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IngestedOut {
    /// The stored event's id; `null` for a duplicate.
    #[schema(required = true)]
    pub event_id: Option<String>,
    /// Whether the platform id was seen before (a redelivery, stored once).
    pub duplicate: bool,
}
