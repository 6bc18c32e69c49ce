//! The one error type of the core. Every dialect renders it in its vendor's
//! envelope; the core never knows which.

use std::fmt;

/// One step of a path into a request: a field name or a list index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSegment {
    /// A named field, in chatgate's native (camelCase) naming.
    Key(&'static str),
    /// A position in a list, counted from 0.
    Index(usize),
}

/// Where in a request a problem is, in chatgate's native naming, e.g.
/// `quickReplies[3].title`. Dialects rename the first key to their own field
/// names (getloo calls `text` `caption`, imiconnect calls it `content`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldPath(Vec<PathSegment>);

impl FieldPath {
    /// A path of one field.
    pub fn key(name: &'static str) -> Self {
        Self(vec![PathSegment::Key(name)])
    }

    /// This path extended by a field.
    pub fn then(mut self, name: &'static str) -> Self {
        self.0.push(PathSegment::Key(name));
        self
    }

    /// This path extended by a list position.
    pub fn at(mut self, index: usize) -> Self {
        self.0.push(PathSegment::Index(index));
        self
    }

    /// This path followed by another (`connection` + `accountId` →
    /// `connection.accountId`).
    pub fn join(mut self, rest: &FieldPath) -> Self {
        self.0.extend(rest.0.iter().cloned());
        self
    }

    /// The segments.
    pub fn segments(&self) -> &[PathSegment] {
        &self.0
    }

    /// The first field name, if any.
    pub fn root(&self) -> Option<&'static str> {
        match self.0.first() {
            Some(PathSegment::Key(k)) => Some(k),
            _ => None,
        }
    }

    /// Renders the path with the first key renamed by `rename` (a dialect's
    /// field names), e.g. `options[2]`.
    pub fn render_with(&self, rename: impl Fn(&'static str) -> &'static str) -> String {
        let mut out = String::new();
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                PathSegment::Key(k) => {
                    if i > 0 {
                        out.push('.');
                    }
                    out.push_str(if i == 0 { rename(k) } else { k });
                }
                PathSegment::Index(n) => {
                    out.push('[');
                    out.push_str(&n.to_string());
                    out.push(']');
                }
            }
        }
        out
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render_with(|k| k))
    }
}

/// A request that breaks a rule: which field, and a sentence a person
/// understands ("is 25 characters long; at most 20 are allowed").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Violation {
    /// The field that is wrong (empty when the request as a whole is).
    pub field: FieldPath,
    /// What is wrong with it.
    pub message: String,
}

impl Violation {
    /// A violation of `field`.
    pub fn new(field: FieldPath, message: impl Into<String>) -> Self {
        Self { field, message: message.into() }
    }
}

/// What a request was about when it named something that does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// The instance id is unknown (or the instance was deleted).
    Instance,
    /// The message id is unknown for this instance.
    Message,
    /// The receipt id names no pending notification of this instance.
    Notification,
    /// The event id is unknown for this instance.
    Event,
}

/// Every way a core service can fail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The request breaks a rule; nothing was changed.
    #[error("invalid request: {0}")]
    Invalid(#[from] Violation),
    /// The request names something that does not exist.
    #[error("{0:?} not found")]
    NotFound(Missing),
    /// The caller did not prove who it is.
    #[error("unauthorized")]
    Unauthorized,
    /// The request conflicts with an earlier one (an idempotency key reused
    /// for a different request).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The instance cannot do this now (not active, not authorized).
    #[error("instance unavailable: {0}")]
    InstanceUnavailable(String),
    /// The messenger platform could not be reached or failed; nothing was
    /// changed and the caller may retry.
    #[error("platform unavailable: {0}")]
    PlatformUnavailable(String),
    /// The store cannot be reached; the caller may retry.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// A bug or an unexpected state; details are logged, not shown.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Results of core services.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_render_with_indices_and_renamed_roots() {
        let path = FieldPath::key("quickReplies").at(3).then("title");
        assert_eq!(path.to_string(), "quickReplies[3].title");
        let getloo = path.render_with(|k| if k == "quickReplies" { "options" } else { k });
        assert_eq!(getloo, "options[3].title");
    }
}
