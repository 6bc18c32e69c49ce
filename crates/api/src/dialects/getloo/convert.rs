//! Getloo wire ↔ core: field names, queue ids, and the seed's file table.

use chatgate_core::event::EventId;
use chatgate_core::media::RemoteFile;
use chatgate_core::message::MediaKind;
use chatgate_core::{FieldPath, MessageId, PathSegment};
use sha2::{Digest, Sha256};

/// The 40-hex `queue_id` / `queueId` of an outbound message.
pub fn message_queue_id(id: &MessageId) -> String {
    queue_id(&format!("message:{id}"))
}

/// The 40-hex `queueId` of an incoming event.
pub fn event_queue_id(id: &EventId) -> String {
    queue_id(&format!("event:{id}"))
}

fn queue_id(seed: &str) -> String {
    hex::encode(&Sha256::digest(seed.as_bytes())[..20])
}

/// The direct link of an Instagram account (getUrl).
pub fn direct_url(username: &str) -> String {
    format!("https://ig.me/m/{username}")
}

/// A core field path in Getloo's parameter names: `text` and
/// `media.caption` are `caption`, `media.url` is `file`, quick replies are
/// `options`, the recipient is `user_id`.
pub fn getloo_field(path: &FieldPath) -> String {
    let segments = path.segments();
    match segments {
        [] => String::new(),
        [PathSegment::Key("text"), ..]
        | [PathSegment::Key("media"), PathSegment::Key("caption")] => "caption".into(),
        [PathSegment::Key("media"), ..] => "file".into(),
        [PathSegment::Key("quickReplies"), PathSegment::Index(i), ..] => format!("options[{i}]"),
        [PathSegment::Key("quickReplies")] => "options".into(),
        [PathSegment::Key("to"), ..] => "user_id".into(),
        _ => path.to_string(),
    }
}

/// A kind of file the seed's table allows, with its size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileRule {
    /// What Instagram receives it as.
    pub kind: MediaKind,
    /// Largest size in bytes.
    pub max_bytes: u64,
    /// The seed's name for the group, for messages.
    pub group: &'static str,
}

const MB: u64 = 1024 * 1024;
const IMAGE: FileRule = FileRule { kind: MediaKind::Image, max_bytes: 8 * MB, group: "images" };
const VOICE: FileRule =
    FileRule { kind: MediaKind::Audio, max_bytes: 25 * MB, group: "voice messages" };
const VIDEO: FileRule = FileRule { kind: MediaKind::Video, max_bytes: 25 * MB, group: "videos" };

/// The extensions the seed lists, for messages.
pub const SUPPORTED: &str = "images .jpg .png .ico .bmp (up to 8 MB); voice .mp3 .aac .m4a .wav .mp4 \
                             (up to 25 MB); video .mp4 (up to 25 MB)";

/// The lowercase extension of a URL's path, if any.
pub fn extension(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    let last = parsed.path_segments()?.next_back()?.to_owned();
    let (_, ext) = last.rsplit_once('.')?;
    Some(ext.to_ascii_lowercase())
}

/// The rule for a file, from its extension and what its server reports, or
/// why it is refused.
pub fn file_rule(url: &str, remote: &RemoteFile) -> Result<FileRule, String> {
    let ext = extension(url)
        .ok_or_else(|| format!("the file's URL has no extension; supported: {SUPPORTED}"))?;
    let reported = remote.content_type.as_deref().filter(|t| *t != "application/octet-stream");
    let rule = match ext.as_str() {
        "jpg" | "jpeg" | "png" | "ico" | "bmp" => IMAGE,
        "mp3" | "aac" | "acc" | "m4a" | "wav" => VOICE,
        "mp4" => match reported {
            Some(t) if t.starts_with("audio/") => VOICE,
            _ => VIDEO,
        },
        other => {
            return Err(format!("files of type .{other} cannot be sent; supported: {SUPPORTED}"));
        }
    };
    let fits = match (rule.kind, reported) {
        (_, None) => true,
        (MediaKind::Image, Some(t)) => t.starts_with("image/"),
        (MediaKind::Audio, Some(t)) => t.starts_with("audio/") || t == "video/mp4",
        (MediaKind::Video, Some(t)) => t.starts_with("video/"),
        (MediaKind::File, Some(_)) => false,
    };
    if !fits {
        return Err(format!(
            "the file's server says it is {}, which is not one of the {} its .{ext} name promises",
            reported.unwrap_or_default(),
            rule.group
        ));
    }
    let size = remote.size.ok_or_else(|| {
        "the file's size could not be learnt from its server (no Content-Length)".to_owned()
    })?;
    if size > rule.max_bytes {
        return Err(format!(
            "the file is {:.1} MB; {} may be at most {} MB",
            size as f64 / MB as f64,
            rule.group,
            rule.max_bytes / MB
        ));
    }
    Ok(rule)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote(size: u64, content_type: &str) -> RemoteFile {
        RemoteFile { size: Some(size), content_type: Some(content_type.into()) }
    }

    #[test]
    fn queue_ids_are_40_hex_and_stable() {
        let id = MessageId::generate();
        let q = message_queue_id(&id);
        assert_eq!(q.len(), 40);
        assert!(q.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(q, message_queue_id(&id));
        assert_ne!(q, message_queue_id(&MessageId::generate()));
    }

    #[test]
    fn the_seed_table_decides_kind_and_size() {
        assert_eq!(
            file_rule("https://x.ru/a.JPG", &remote(8 * MB, "image/jpeg")).unwrap().kind,
            MediaKind::Image
        );
        assert!(file_rule("https://x.ru/a.png", &remote(8 * MB + 1, "image/png")).is_err());
        assert_eq!(
            file_rule("https://x.ru/v.mp4", &remote(MB, "video/mp4")).unwrap().kind,
            MediaKind::Video
        );
        assert_eq!(
            file_rule("https://x.ru/v.mp4", &remote(MB, "audio/mp4")).unwrap().kind,
            MediaKind::Audio
        );
        assert_eq!(
            file_rule("https://x.ru/v.acc", &remote(MB, "audio/aac")).unwrap().kind,
            MediaKind::Audio
        );
        assert!(file_rule("https://x.ru/v.wav", &remote(26 * MB, "audio/wav")).is_err());
        assert!(file_rule("https://x.ru/f.pdf", &remote(1, "application/pdf")).is_err());
        assert!(file_rule("https://x.ru/a.jpg", &remote(1, "text/html")).is_err());
        assert!(
            file_rule("https://x.ru/a.jpg", &RemoteFile { size: None, content_type: None })
                .is_err()
        );
        assert!(file_rule("https://x.ru/a.jpg", &remote(1, "application/octet-stream")).is_ok());
        assert!(file_rule("https://x.ru/noext", &remote(1, "image/png")).is_err());
    }

    #[test]
    fn core_fields_are_named_as_getloo_names_them() {
        assert_eq!(getloo_field(&FieldPath::key("text")), "caption");
        assert_eq!(getloo_field(&FieldPath::key("media").then("caption")), "caption");
        assert_eq!(getloo_field(&FieldPath::key("quickReplies").at(2).then("title")), "options[2]");
        assert_eq!(getloo_field(&FieldPath::key("to").then("commentId")), "user_id");
    }
}
