//! The seed's JSON, field for field (seed 002). Every field is optional on
//! the wire so that a missing one is reported by name, in the dialect's
//! envelope, rather than as a parse failure.

use serde::Deserialize;

/// `POST /v1/instagram/messages`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageIn {
    /// The text (TEXT).
    pub content: Option<String>,
    /// `TEXT`, `TEMPLATE`, `MEDIA` or `STICKER`.
    pub content_type: Option<String>,
    /// The sender: the Instagram app or account id.
    pub from: Option<String>,
    /// The recipient's Instagram-scoped id (IGSID).
    pub to: Option<String>,
    /// The image's URL (MEDIA).
    pub url: Option<String>,
    /// The sticker, `like_heart` (STICKER).
    #[serde(rename = "type")]
    pub sticker: Option<String>,
    /// The generic template (TEMPLATE): its elements, as the seed's example
    /// sends them, or the object its table describes.
    pub template: Option<TemplateIn>,
    /// Buttons above the composer.
    pub quick_replies: Option<Vec<QuickReplyIn>>,
    /// Where status callbacks go.
    pub callback_url: Option<String>,
    /// Echoed in every callback.
    pub callback_data: Option<String>,
    /// The caller's id for the message, echoed in answers and callbacks.
    pub correlation_id: Option<String>,
    /// `REGULAR`, `SILENT_PUSH` or `NO_PUSH`.
    pub notification_type: Option<String>,
    /// `RESPONSE`, `UPDATE` or `MESSAGE_TAG`.
    pub messaging_type: Option<String>,
}

/// `template`: the seed's example sends the elements as an array, its
/// table an object `{template_type: generic, elements: […]}`; both are read.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum TemplateIn {
    /// `[element, …]`.
    Elements(Vec<ElementIn>),
    /// `{"template_type": "generic", "elements": […]}`.
    Object {
        /// `generic` (the `button` template is not supported).
        #[serde(alias = "templateType")]
        template_type: Option<String>,
        /// The elements.
        elements: Vec<ElementIn>,
    },
}

/// One element (card) of a generic template.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ElementIn {
    /// The card's title (≤ 80).
    pub title: Option<String>,
    /// The line under it (≤ 80).
    pub subtitle: Option<String>,
    /// The card's picture (the seed's table says `image_url`, its example
    /// `imageUrl`: both are read).
    #[serde(alias = "image_url")]
    pub image_url: Option<String>,
    /// What a tap on the card opens.
    #[serde(alias = "default_action")]
    pub default_action: Option<DefaultActionIn>,
    /// Up to three buttons.
    pub buttons: Option<Vec<ButtonIn>>,
}

/// `defaultAction`: `{type: WEB_URL, url}`.
#[derive(Debug, Default, Deserialize)]
pub struct DefaultActionIn {
    /// `WEB_URL`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// The page.
    pub url: Option<String>,
}

/// A template button: `web_url` (title, url) or `postback` (title, payload).
#[derive(Debug, Default, Deserialize)]
pub struct ButtonIn {
    /// `web_url` or `postback`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// The label.
    pub title: Option<String>,
    /// The page (`web_url`).
    pub url: Option<String>,
    /// Sent back when tapped (`postback`).
    pub payload: Option<String>,
}

/// A quick reply: `{type: TEXT, title, payload}` (the seed's table calls
/// the type `content_type`; both are read).
#[derive(Debug, Default, Deserialize)]
pub struct QuickReplyIn {
    /// `TEXT`.
    #[serde(rename = "type", alias = "content_type", alias = "contentType")]
    pub kind: Option<String>,
    /// The label (≤ 20).
    pub title: Option<String>,
    /// Sent back when tapped (≤ 1000).
    pub payload: Option<String>,
}
