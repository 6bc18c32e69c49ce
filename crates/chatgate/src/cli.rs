//! The command line: `serve`, `migrate`, `instance create|list|delete`,
//! `send`, `config reference|example`.

use std::net::SocketAddr;
use std::path::PathBuf;

use chatgate_core::InstanceId;
use clap::{Args, Parser, Subcommand};

/// chatgate: a self-hosted, multi-tenant messenger API gateway.
#[derive(Debug, Parser)]
#[command(name = "chatgate", version, about, long_about = None)]
pub struct Cli {
    /// A TOML configuration file (see config.default.toml for every key).
    #[arg(long, global = true, env = "CHATGATE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Where the database and the first-start files live [env: CHATGATE_DATA_DIR]
    /// [default: ./chatgate-data].
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// A postgres:// URL: keep everything in PostgreSQL instead of SQLite
    /// [env: CHATGATE_DATABASE_URL].
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// How logs are written: text for people, json (one object per line,
    /// with the request id of the request being handled) for log
    /// collectors; overrides `log.format` [env: CHATGATE_LOG_FORMAT].
    #[arg(long, global = true, value_name = "FORMAT")]
    pub log_format: Option<crate::config::LogFormat>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway: HTTP API and workers. On the first start with an empty
    /// data directory, creates a sandbox instance and a partner token.
    Serve {
        /// Address to listen on [env: CHATGATE_LISTEN] [default: 127.0.0.1:7780].
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
    },
    /// Create or upgrade the database, then exit.
    Migrate,
    /// Manage instances directly in the database.
    Instance {
        /// What to do with instances.
        #[command(subcommand)]
        command: InstanceCommand,
    },
    /// Queue a message for an instance (the running server sends it).
    Send(SendArgs),
    /// Print documentation of the configuration.
    Config {
        /// What to print.
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

/// `chatgate config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the configuration reference (Markdown, generated from the
    /// configuration's documentation; committed as docs/configuration.md).
    Reference,
    /// Print an example configuration file with every key, commented
    /// (committed as docs/chatgate.example.toml).
    Example,
}

/// `chatgate instance …`.
#[derive(Debug, Subcommand)]
pub enum InstanceCommand {
    /// Create an instance; prints its id and API token (shown only now).
    Create {
        /// sandbox, instagram or whatsapp.
        #[arg(long, default_value = "sandbox")]
        kind: String,
        /// A name for people.
        #[arg(long)]
        name: Option<String>,
        /// delaySendMessagesMilliseconds (0 … 600000; default 3000).
        #[arg(long, value_name = "MS")]
        delay_ms: Option<i64>,
    },
    /// List instances as JSON lines.
    List,
    /// Delete an instance; its queued messages fail.
    Delete {
        /// The 10-digit instance id.
        id: InstanceId,
    },
}

/// `chatgate send …`.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// The 10-digit instance id.
    #[arg(long)]
    pub instance: InstanceId,
    /// The recipient's platform id.
    #[arg(long, required_unless_present = "comment", conflicts_with = "comment")]
    pub to: Option<String>,
    /// A comment id to answer privately (text only).
    #[arg(long)]
    pub comment: Option<String>,
    /// The text to send.
    #[arg(long, required_unless_present = "media_url", conflicts_with = "media_url")]
    pub text: Option<String>,
    /// A file to send by URL.
    #[arg(long)]
    pub media_url: Option<String>,
    /// What kind of file: image, audio, video or file.
    #[arg(long, default_value = "image")]
    pub media_kind: String,
    /// A caption for the file.
    #[arg(long)]
    pub caption: Option<String>,
    /// A quick reply (repeat for several).
    #[arg(long = "quick-reply", value_name = "TITLE")]
    pub quick_replies: Vec<String>,
}
