//! Getloo's wire format, exactly as seed 000 shows it: the answers
//! (`result`, `channel`, `error`) and the POST parameters, which come as
//! JSON, as `application/x-www-form-urlencoded` (with `options[]` repeated)
//! or as a multipart form.

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{StatusCode, header};
use serde::Serialize;
use serde_json::Value;

use super::error::GetlooError;

/// `result` of every answer.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ResultOut {
    /// Whether the call worked.
    pub success: bool,
    /// `sendMsg`: the message's queue id (40 hex characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_id: Option<String>,
}

/// `channel` of `getInfo`, `getUrl`, `getWebHook` and `setWebHook`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ChannelOut {
    /// The channel (instance) id, as a string.
    pub id: String,
    /// The Instagram user id of the account (getInfo, getUrl).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Value>,
    /// The account's username (getInfo, getUrl).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<Value>,
    /// Paid (active) and authorized (getInfo).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<bool>,
    /// The direct link (getUrl).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The webhook URL (getWebHook, setWebHook).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook: Option<Value>,
}

/// A whole answer: `{"result", "channel"?, "error"}`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AnswerOut {
    /// The outcome.
    pub result: ResultOut,
    /// The channel, for the methods that show it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<ChannelOut>,
    /// Always `null` on success.
    pub error: Option<String>,
}

/// The POST parameters of a call, whatever their encoding: each name with
/// its values in order (a JSON array gives several values).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params(Vec<(String, ParamValue)>);

/// One parameter value.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    /// Text (or a JSON number, as its text).
    Text(String),
    /// A JSON value that is neither text nor a number nor a list of them.
    Other(&'static str),
    /// A file uploaded in a multipart form (Getloo takes links only).
    Upload,
}

impl Params {
    /// The first value of a parameter.
    pub fn one(&self, name: &str) -> Option<&ParamValue> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// A text parameter; a value of another type is a 400 naming it.
    pub fn text(&self, name: &str) -> Result<Option<String>, GetlooError> {
        match self.one(name) {
            None => Ok(None),
            Some(ParamValue::Text(t)) => Ok(Some(t.clone())),
            Some(ParamValue::Other(kind)) => {
                Err(GetlooError::bad_request(format!("{name}: must be a string, not {kind}")))
            }
            Some(ParamValue::Upload) => Err(GetlooError::bad_request(format!(
                "{name}: must be a link (URL) to the file, not an uploaded file"
            ))),
        }
    }

    /// Every value of a list parameter, from `options`, `options[]` or
    /// `options[0]`, `options[1]`, … in order.
    pub fn list(&self, name: &str) -> Result<Vec<String>, GetlooError> {
        let bracket = format!("{name}[");
        let mut values = Vec::new();
        for (key, value) in &self.0 {
            let matches = key == name || (key.starts_with(&bracket) && key.ends_with(']'));
            if !matches {
                continue;
            }
            match value {
                ParamValue::Text(t) => values.push(t.clone()),
                ParamValue::Other(kind) => {
                    return Err(GetlooError::bad_request(format!(
                        "{name}: each option must be a string, not {kind}"
                    )));
                }
                ParamValue::Upload => {
                    return Err(GetlooError::bad_request(format!("{name}: must be text")));
                }
            }
        }
        Ok(values)
    }

    fn push(&mut self, name: String, value: ParamValue) {
        self.0.push((name, value));
    }

    /// The parameters of a body that is not a multipart form, by its
    /// lowercased `Content-Type`: JSON (`application/json`, `…+json`, or no
    /// type and a body that starts with `{`), else a URL-encoded form. A
    /// blank body has no parameters.
    ///
    /// # Errors
    ///
    /// 400 when a JSON body is not JSON or not an object.
    pub fn parse(content_type: &str, bytes: &[u8]) -> Result<Self, GetlooError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Params::default());
        }
        if content_type.starts_with("application/json")
            || content_type.contains("+json")
            || (content_type.is_empty() && bytes.trim_ascii_start().starts_with(b"{"))
        {
            Params::from_json(bytes)
        } else {
            Ok(Params::from_form(bytes))
        }
    }

    fn from_json(bytes: &[u8]) -> Result<Self, GetlooError> {
        let value: Value = serde_json::from_slice(bytes).map_err(|e| {
            GetlooError::bad_request(format!(
                "the body is not valid JSON: {}",
                strip_position(&e.to_string())
            ))
        })?;
        let Value::Object(object) = value else {
            return Err(GetlooError::bad_request("the JSON body must be an object"));
        };
        let mut params = Params::default();
        for (name, value) in object {
            match value {
                Value::Array(items) => {
                    for item in items {
                        params.push(name.clone(), json_value(item));
                    }
                }
                other => params.push(name, json_value(other)),
            }
        }
        Ok(params)
    }

    fn from_form(bytes: &[u8]) -> Self {
        let mut params = Params::default();
        for (name, value) in form_urlencoded::parse(bytes) {
            params.push(name.into_owned(), ParamValue::Text(value.into_owned()));
        }
        params
    }
}

fn json_value(value: Value) -> ParamValue {
    match value {
        Value::String(s) => ParamValue::Text(s),
        Value::Number(n) => ParamValue::Text(n.to_string()),
        Value::Null => ParamValue::Other("null"),
        Value::Bool(_) => ParamValue::Other("a boolean"),
        Value::Array(_) => ParamValue::Other("a list"),
        Value::Object(_) => ParamValue::Other("an object"),
    }
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = GetlooError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.to_ascii_lowercase())
            .unwrap_or_default();
        if content_type.starts_with("multipart/form-data") {
            let mut multipart = Multipart::from_request(req, state).await.map_err(|e| {
                GetlooError::bad_request(format!("bad multipart form: {}", e.body_text()))
            })?;
            let multipart_error = |e: axum::extract::multipart::MultipartError| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    GetlooError::payload_too_large()
                } else {
                    GetlooError::bad_request(format!("bad multipart form: {}", e.body_text()))
                }
            };
            let mut params = Params::default();
            while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
                let name = field.name().unwrap_or_default().to_owned();
                if field.file_name().is_some() {
                    params.push(name, ParamValue::Upload);
                    continue;
                }
                let text = field.text().await.map_err(multipart_error)?;
                params.push(name, ParamValue::Text(text));
            }
            return Ok(params);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                GetlooError::payload_too_large()
            } else {
                GetlooError::bad_request(format!(
                    "the body could not be read: {}",
                    rejection.body_text()
                ))
            }
        })?;
        Params::parse(&content_type, &bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_come_from_a_json_list_or_repeated_form_fields() {
        let json = Params::from_json(br#"{"options": ["a", "b"], "user_id": 1234556}"#).unwrap();
        assert_eq!(json.list("options").unwrap(), ["a", "b"]);
        assert_eq!(json.text("user_id").unwrap().as_deref(), Some("1234556"));
        let form = Params::from_form(b"options%5B%5D=a&options%5B%5D=b&username=x");
        assert_eq!(form.list("options").unwrap(), ["a", "b"]);
        let indexed = Params::from_form(b"options[0]=a&options[1]=b");
        assert_eq!(indexed.list("options").unwrap(), ["a", "b"]);
    }

    #[test]
    fn a_wrong_json_type_is_named() {
        let params = Params::from_json(br#"{"caption": true}"#).unwrap();
        let err = params.text("caption").unwrap_err();
        assert_eq!(err.message, "caption: must be a string, not a boolean");
    }
}
