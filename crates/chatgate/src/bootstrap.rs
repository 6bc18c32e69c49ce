//! First start: with an empty data directory, `serve` creates a ready
//! sandbox instance and (when none is configured) a partner token, writes
//! them to the data directory and prints them once.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use chatgate_core::gateway::CreateInstance;
use chatgate_core::vault::{KEY_LEN, Vault};
use chatgate_core::{ApiToken, ConnectorKind, InstanceId, Settings, WebhookFormat};
use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::config::Config;

/// The file holding the generated partner token.
pub const PARTNER_TOKEN_FILE: &str = "partner-token";
/// The file holding the first-start sandbox instance's credentials.
pub const SANDBOX_INSTANCE_FILE: &str = "sandbox-instance.json";

/// Where the partner token came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartnerTokenSource {
    /// `partner_token` / `CHATGATE_PARTNER_TOKEN`.
    Configured,
    /// `<data-dir>/partner-token`, written at an earlier start.
    File(PathBuf),
    /// Generated now and written to that file.
    Generated(PathBuf),
}

/// The partner token to use, generating and saving one when none is
/// configured or saved.
pub fn partner_token(config: &Config) -> anyhow::Result<(String, PartnerTokenSource)> {
    if !config.partner_token.is_empty() {
        return Ok((config.partner_token.expose().to_owned(), PartnerTokenSource::Configured));
    }
    let path = config.data_dir.join(PARTNER_TOKEN_FILE);
    if path.exists() {
        let token = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?
            .trim()
            .to_owned();
        anyhow::ensure!(!token.is_empty(), "{} is empty", path.display());
        return Ok((token, PartnerTokenSource::File(path)));
    }
    let token = ApiToken::generate().reveal().to_owned();
    write_secret(&path, format!("{token}\n").as_bytes())?;
    Ok((token, PartnerTokenSource::Generated(path)))
}

/// The file holding the generated server key.
pub const SERVER_KEY_FILE: &str = "secret-key";

/// The key that seals secrets shown again later (API tokens for the
/// partner): `secret_key` from the configuration, else
/// `<data-dir>/secret-key`, generated on first use. Several nodes on one
/// database must share it through the configuration.
pub fn server_key(config: &Config) -> anyhow::Result<[u8; KEY_LEN]> {
    if !config.secret_key.is_empty() {
        return Vault::parse_key(config.secret_key.expose())
            .ok_or_else(|| anyhow::anyhow!("secret_key must be 32 bytes in base64"));
    }
    let path = config.data_dir.join(SERVER_KEY_FILE);
    if !path.exists() {
        write_secret(&path, format!("{}\n", Vault::generate_key()).as_bytes())?;
    }
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Vault::parse_key(&text)
        .ok_or_else(|| anyhow::anyhow!("{} does not hold a 32-byte base64 key", path.display()))
}

/// The credentials in `sandbox-instance.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SandboxInstanceFile {
    /// The instance id.
    pub id: u64,
    /// Its API token.
    pub api_token: String,
}

/// Creates the first-start sandbox instance (no pacing gap, every
/// notification switch on) and writes its credentials file.
pub async fn create_sandbox_instance(
    app: &App,
    config: &Config,
) -> anyhow::Result<SandboxInstanceFile> {
    let settings = Settings { delay_send_messages_milliseconds: 0, ..Settings::switches_on() };
    let created = app
        .gateway
        .create_instance(CreateInstance {
            kind: ConnectorKind::Sandbox,
            name: "sandbox".into(),
            settings,
            webhook_format: WebhookFormat::Native,
        })
        .await?;
    let file = SandboxInstanceFile {
        id: created.instance.id.get(),
        api_token: created.token.reveal().to_owned(),
    };
    let path = config.data_dir.join(SANDBOX_INSTANCE_FILE);
    write_secret(&path, format!("{}\n", serde_json::to_string_pretty(&file)?).as_bytes())?;
    Ok(file)
}

/// Writes a file only its owner may read, atomically (temp file + rename).
fn write_secret(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
    file.write_all(contents)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// The text printed once at first start: the credentials and a curl
/// example that works as pasted — or, without `show_secrets` (stdout kept
/// by a journal), only where the credentials are.
pub fn first_start_banner(
    addr: SocketAddr,
    data_dir: &Path,
    sandbox: Option<&SandboxInstanceFile>,
    partner: &(String, PartnerTokenSource),
    show_secrets: bool,
) -> String {
    let base = format!("http://{addr}");
    let mut out = format!(
        "\nchatgate is listening on {base}\n\
         Admin UI: {base}/admin (sign in with the partner token) · API docs: {base}/api/docs\n"
    );
    match &partner.1 {
        PartnerTokenSource::Generated(path) if show_secrets => out.push_str(&format!(
            "\nPartner (admin) token, generated now and saved to {}:\n  {}\n",
            path.display(),
            partner.0
        )),
        PartnerTokenSource::Generated(path) => out.push_str(&format!(
            "\nPartner (admin) token: generated now and saved to {}\n",
            path.display()
        )),
        PartnerTokenSource::File(path) => {
            out.push_str(&format!("Partner token: in {}\n", path.display()))
        }
        PartnerTokenSource::Configured => out.push_str("Partner token: from the configuration\n"),
    }
    if sandbox.is_some() && !show_secrets {
        out.push_str(&format!(
            "\nA sandbox instance is ready; its id and API token are in {}\n",
            data_dir.join(SANDBOX_INSTANCE_FILE).display()
        ));
    } else if let Some(sandbox) = sandbox {
        let id = InstanceId::new(sandbox.id).map(|i| i.to_string()).unwrap_or_default();
        out.push_str(&format!(
            "\nA sandbox instance is ready (credentials saved to {}):\n  \
             instance id: {id}\n  API token:   {token}\n\n\
             Send a message:\n  \
             curl -s -X POST {base}/api/v1/instances/{id}/messages \\\n    \
             -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' \\\n    \
             -d '{{\"to\": {{\"id\": \"17841400000000001\"}}, \"text\": \"Hello from chatgate\"}}'\n\n\
             Then follow it (queued → sending → sent → delivered → read), with the id it answered:\n  \
             curl -s {base}/api/v1/instances/{id}/messages/<message id> -H 'Authorization: Bearer {token}'\n",
            data_dir.join(SANDBOX_INSTANCE_FILE).display(),
            token = sandbox.api_token,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_banner_for_a_journal_names_the_files_but_no_token() {
        let dir = Path::new("/var/lib/chatgate");
        let sandbox = SandboxInstanceFile { id: 1_234_567_890, api_token: "sandbox-secret".into() };
        let partner = (
            String::from("partner-secret"),
            PartnerTokenSource::Generated(dir.join("partner-token")),
        );
        let addr: SocketAddr = ([127, 0, 0, 1], 7780).into();
        let shown = first_start_banner(addr, dir, Some(&sandbox), &partner, true);
        assert!(shown.contains("partner-secret") && shown.contains("sandbox-secret"));
        let journal = first_start_banner(addr, dir, Some(&sandbox), &partner, false);
        assert!(!journal.contains("partner-secret") && !journal.contains("sandbox-secret"));
        assert!(journal.contains("/var/lib/chatgate/partner-token"), "{journal}");
        assert!(journal.contains("/var/lib/chatgate/sandbox-instance.json"), "{journal}");
    }
}
