//! [`MediaProbe`] over the guarded client: HEAD, then a one-byte ranged GET
//! when HEAD tells no size; redirects followed by hand (at most
//! [`MAX_REDIRECTS`]), each target checked against the policy like the
//! first URL.

use async_trait::async_trait;
use chatgate_core::media::{MediaProbe, ProbeError, RemoteFile};
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, LOCATION, RANGE};
use reqwest::{Method, StatusCode, Url};

use super::{BlockedAddress, HttpWebhookTransport, find_in_chain, root_cause};

/// Most redirects followed while probing.
pub const MAX_REDIRECTS: usize = 5;

impl HttpWebhookTransport {
    /// One request, following redirects by hand.
    async fn probe_request(
        &self,
        method: Method,
        url: &str,
        ranged: bool,
    ) -> Result<reqwest::Response, ProbeError> {
        let mut url = Url::parse(url)
            .map_err(|e| ProbeError::Unreachable(format!("the URL is not valid: {e}")))?;
        for _ in 0..=MAX_REDIRECTS {
            self.policy.check_url(url.as_str()).map_err(ProbeError::Blocked)?;
            let mut request = self.client.request(method.clone(), url.clone());
            if ranged {
                request = request.header(RANGE, "bytes=0-0");
            }
            let response = request.send().await.map_err(|e| {
                let e = e.without_url();
                match find_in_chain::<BlockedAddress>(&e) {
                    Some(blocked) => ProbeError::Blocked(blocked.reason.clone()),
                    None if e.is_timeout() => ProbeError::Unreachable("no answer in time".into()),
                    None => ProbeError::Unreachable(root_cause(&e)),
                }
            })?;
            if response.status().is_redirection() {
                let next = response
                    .headers()
                    .get(LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .and_then(|l| url.join(l).ok())
                    .ok_or(ProbeError::Status(response.status().as_u16()))?;
                url = next;
                continue;
            }
            return Ok(response);
        }
        Err(ProbeError::Unreachable(format!("more than {MAX_REDIRECTS} redirects")))
    }
}

fn content_type(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|v| !v.is_empty())
}

fn content_length(response: &reqwest::Response) -> Option<u64> {
    response.headers().get(CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

/// The total of `Content-Range: bytes 0-0/12345`.
fn range_total(response: &reqwest::Response) -> Option<u64> {
    let value = response.headers().get(CONTENT_RANGE)?.to_str().ok()?;
    value.rsplit_once('/')?.1.trim().parse().ok()
}

#[async_trait]
impl MediaProbe for HttpWebhookTransport {
    async fn probe(&self, url: &str) -> Result<RemoteFile, ProbeError> {
        let head = self.probe_request(Method::HEAD, url, false).await?;
        if head.status().is_success()
            && let Some(size) = content_length(&head)
        {
            return Ok(RemoteFile { size: Some(size), content_type: content_type(&head) });
        }
        // HEAD refused or told no size: ask for one byte.
        let get = self.probe_request(Method::GET, url, true).await?;
        let status = get.status();
        if !status.is_success() {
            return Err(ProbeError::Status(status.as_u16()));
        }
        let size = if status == StatusCode::PARTIAL_CONTENT {
            range_total(&get)
        } else {
            content_length(&get)
        };
        // The body is not read: dropping the response closes the connection.
        Ok(RemoteFile { size, content_type: content_type(&get).or_else(|| content_type(&head)) })
    }
}
