//! What each command does.

use std::io::Write;
use std::sync::Arc;

use anyhow::Context;
use chatgate_core::gateway::{CreateInstance, SendRequest};
use chatgate_core::message::{Body, Media, MediaKind, QuickReply};
use chatgate_core::{
    ConnectorKind, Content, DelayPolicy, Error, Recipient, Settings, SettingsPatch, SystemClock,
    WebhookFormat,
};
use serde_json::json;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

use crate::app::{App, Server, Workers};
use crate::bootstrap;
use crate::cli::{Cli, Command, InstanceCommand, SendArgs};
use crate::config::{Config, LogFormat, Overrides};

/// Runs one command line to completion.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let listen = match &cli.command {
        Command::Serve { listen } => *listen,
        _ => None,
    };
    let overrides = Overrides {
        listen,
        data_dir: cli.data_dir.clone(),
        database_url: cli.database_url.clone(),
    };
    let config = Config::load(cli.config.as_deref(), &overrides)?;
    let serving = matches!(cli.command, Command::Serve { .. });
    init_logging(&config, serving);
    match cli.command {
        Command::Serve { .. } => serve(config).await,
        Command::Migrate => {
            let what = config.database_description();
            let app = App::open(config, Arc::new(SystemClock)).await?;
            app.close().await;
            println!("{what} is up to date");
            Ok(())
        }
        Command::Instance { command } => instance(config, command).await,
        Command::Send(args) => send(config, args).await,
    }
}

fn init_logging(config: &Config, serving: bool) {
    let default = if serving { config.log.level.as_str() } else { "warn" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match config.log.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

async fn serve(config: Config) -> anyhow::Result<()> {
    // The first start on SQLite makes a sandbox instance; a PostgreSQL
    // database is shared by nodes, which create instances through the API.
    let fresh = !config.uses_postgres() && !config.database_path().exists();
    let partner = bootstrap::partner_token(&config)?;
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let data_dir = config.data_dir.clone();
    let app = App::open(config.clone(), Arc::new(SystemClock)).await?;
    let sandbox =
        if fresh { Some(bootstrap::create_sandbox_instance(&app, &config).await?) } else { None };
    // Listen for the stop signals before anyone can know the address.
    let stop = shutdown_signal()?;
    let server = Server::start(app, listener, &partner.0, Workers::Run).await?;
    // Printed on stdout, never logged: it carries the tokens. A closed
    // stdout is no reason to stop serving.
    let banner = bootstrap::first_start_banner(server.addr, &data_dir, sandbox.as_ref(), &partner);
    let _ = writeln!(std::io::stdout().lock(), "{banner}");
    tracing::info!(addr = %server.addr, data_dir = %data_dir.display(), "chatgate is serving");
    stop.await;
    tracing::info!("shutting down: finishing requests and sends in flight");
    server.stop().await;
    tracing::info!("stopped");
    Ok(())
}

/// Registers for Ctrl-C and SIGTERM now and returns a future that ends
/// when either arrives.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot listen for SIGTERM")?;
    Ok(async move {
        #[cfg(unix)]
        let terminate = terminate.recv();
        #[cfg(not(unix))]
        let terminate = std::future::pending::<Option<()>>();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate => {}
        }
    })
}

async fn instance(config: Config, command: InstanceCommand) -> anyhow::Result<()> {
    let app = App::open(config, Arc::new(SystemClock)).await?;
    let result = instance_command(&app, command).await;
    app.close().await;
    result
}

async fn instance_command(app: &App, command: InstanceCommand) -> anyhow::Result<()> {
    match command {
        InstanceCommand::Create { kind, name, delay_ms } => {
            let kind = kind.parse::<ConnectorKind>()?;
            let patch = SettingsPatch {
                delay_send_messages_milliseconds: delay_ms,
                ..SettingsPatch::default()
            };
            let settings =
                patch.apply(&Settings::switches_on(), DelayPolicy::Native).map_err(Error::from)?;
            let created = app
                .gateway
                .create_instance(CreateInstance {
                    kind,
                    name: name.unwrap_or_default(),
                    settings,
                    webhook_format: WebhookFormat::Native,
                })
                .await?;
            println!(
                "{}",
                json!({
                    "id": created.instance.id.get(),
                    "apiToken": created.token.reveal(),
                    "kind": kind.as_str(),
                    "name": created.instance.name,
                    "state": created.instance.state.as_str(),
                })
            );
        }
        InstanceCommand::List => {
            for i in app.gateway.instances().await? {
                println!(
                    "{}",
                    json!({
                        "id": i.id.get(),
                        "kind": i.kind.as_str(),
                        "name": i.name,
                        "state": i.state.as_str(),
                        "queue": app.gateway.queue_count(i.id).await?,
                        "createdAt": i.created_at.to_rfc3339(),
                    })
                );
            }
        }
        InstanceCommand::Delete { id } => {
            app.gateway.delete_instance(id).await?;
            println!("{}", json!({"deleted": id.get()}));
        }
    }
    Ok(())
}

async fn send(config: Config, args: SendArgs) -> anyhow::Result<()> {
    let app = App::open(config, Arc::new(SystemClock)).await?;
    let result = send_command(&app, args).await;
    app.close().await;
    result
}

async fn send_command(app: &App, args: SendArgs) -> anyhow::Result<()> {
    let SendArgs { instance, to, comment, text, media_url, media_kind, caption, quick_replies } =
        args;
    let instance = app.gateway.instance(instance).await?;
    let recipient = match (to, comment) {
        (Some(to), _) => Recipient::User(to),
        (None, Some(comment)) => Recipient::Comment(comment),
        (None, None) => anyhow::bail!("give --to or --comment"),
    };
    let body = match (text, media_url) {
        (Some(text), _) => Body::Text { text },
        (None, Some(url)) => {
            let kind = media_kind.parse::<MediaKind>().map_err(|()| {
                anyhow::anyhow!("--media-kind must be image, audio, video or file")
            })?;
            Body::Media(Media { kind, url, caption })
        }
        (None, None) => anyhow::bail!("give --text or --media-url"),
    };
    let quick_replies =
        quick_replies.into_iter().map(|title| QuickReply { title, payload: None }).collect();
    let accepted = app
        .gateway
        .send(
            &instance,
            SendRequest {
                recipient,
                content: Content { body, quick_replies, reply_to: None },
                idempotency_key: None,
                recipient_username: None,
                callback: None,
            },
        )
        .await?;
    println!(
        "{}",
        json!({"id": accepted.message.id.to_string(), "status": accepted.message.status.as_str()})
    );
    Ok(())
}
