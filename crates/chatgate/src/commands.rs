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
use tokio::sync::mpsc;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::util::SubscriberInitExt;

use crate::app::{App, Server, Stopped, Workers};
use crate::bootstrap;
use crate::cli::{Cli, Command, ConfigCommand, InstanceCommand, SendArgs};
use crate::config::{Config, LogFormat, LogOverrides, Overrides};

/// Runs one command line to completion.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Config { command } = &cli.command {
        // Documentation of the defaults: no file, environment or database.
        let text = match command {
            ConfigCommand::Reference => crate::config::reference(),
            ConfigCommand::Example => crate::config::example(),
        };
        print!("{text}");
        return Ok(());
    }
    let listen = match &cli.command {
        Command::Serve { listen } => *listen,
        _ => None,
    };
    let overrides = Overrides {
        listen,
        data_dir: cli.data_dir.clone(),
        database_url: cli.database_url.clone(),
        log: cli.log_format.map(|format| LogOverrides { format }),
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
        Command::Config { .. } => Ok(()),
    }
}

fn init_logging(config: &Config, serving: bool) {
    let default = if serving { config.log.level.as_str() } else { "warn" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    // try_init also forwards the `log` records of dependencies.
    let _ = subscriber(filter, config.log.format, ansi, std::io::stderr).try_init();
}

/// The log subscriber of `serve`: every line written while a request is
/// handled carries the request's span (`http{method, route, request_id}`),
/// in both formats. `ansi` colours the text format (for a terminal). Tests
/// build it on a buffer.
pub fn subscriber<W>(
    filter: EnvFilter,
    format: LogFormat,
    ansi: bool,
    writer: W,
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let builder =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer).with_ansi(ansi);
    match format {
        LogFormat::Json => {
            Box::new(builder.json().with_current_span(true).with_span_list(true).finish())
        }
        LogFormat::Text => Box::new(builder.finish()),
    }
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
    let mut signals = stop_signals()?;
    let server = Server::start(app, listener, &partner.0, Workers::Run).await?;
    // Printed on stdout, never logged: it carries the tokens. A closed
    // stdout is no reason to stop serving. Under systemd stdout is the
    // journal, which keeps what it gets: there the banner names the files
    // that hold the tokens instead.
    let show_secrets = std::env::var_os("JOURNAL_STREAM").is_none();
    let banner = bootstrap::first_start_banner(
        server.addr,
        &data_dir,
        sandbox.as_ref(),
        &partner,
        show_secrets,
    );
    let _ = writeln!(std::io::stdout().lock(), "{banner}");
    tracing::info!(addr = %server.addr, data_dir = %data_dir.display(), "chatgate is serving");
    match stop_on_signals(&mut signals, || server.stop()).await {
        Shutdown::Stopped(Stopped::Finished) => tracing::info!("stopped"),
        Shutdown::Stopped(Stopped::GraceRanOut) => {
            tracing::warn!("stopped after the grace ran out; unfinished work was released")
        }
        Shutdown::Forced => return Err(ForcedExit.into()),
    }
    Ok(())
}

/// The error of a stop cut short by a second signal: `main` exits at once
/// with [`ForcedExit::CODE`], finishing nothing more.
#[derive(Debug, Clone, Copy)]
pub struct ForcedExit;

impl ForcedExit {
    /// The exit code (128 + SIGINT, as shells report an interrupted command).
    pub const CODE: i32 = 130;
}

impl std::fmt::Display for ForcedExit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a second stop signal arrived during shutdown: exited at once")
    }
}

impl std::error::Error for ForcedExit {}

/// How a serving process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shutdown {
    /// The stop ran to its end.
    Stopped(Stopped),
    /// A second signal arrived during the stop.
    Forced,
}

/// Waits for the first stop signal, then runs `stop` to its end, unless a
/// second signal arrives first. Each signal is the name of the signal.
pub async fn stop_on_signals<F>(
    signals: &mut mpsc::UnboundedReceiver<&'static str>,
    stop: impl FnOnce() -> F,
) -> Shutdown
where
    F: std::future::Future<Output = Stopped>,
{
    let first = signals.recv().await.unwrap_or("none (no signal source)");
    tracing::info!(
        signal = first,
        "shutting down: finishing requests, sends and webhook pushes in flight \
         (a second signal exits at once)"
    );
    let stop = stop();
    tokio::select! {
        stopped = stop => Shutdown::Stopped(stopped),
        Some(second) = signals.recv() => {
            tracing::error!(
                signal = second,
                "a second signal during shutdown: exiting at once, unfinished work waits for \
                 its lease to run out"
            );
            Shutdown::Forced
        }
    }
}

/// Registers for Ctrl-C and SIGTERM now and forwards every one that
/// arrives, by name.
fn stop_signals() -> anyhow::Result<mpsc::UnboundedReceiver<&'static str>> {
    let (tx, rx) = mpsc::unbounded_channel();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
        let mut interrupt = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
        tokio::spawn(async move {
            loop {
                let name = tokio::select! {
                    Some(()) = terminate.recv() => "SIGTERM",
                    Some(()) = interrupt.recv() => "SIGINT",
                    else => break,
                };
                if tx.send(name).is_err() {
                    break;
                }
            }
        });
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        while tokio::signal::ctrl_c().await.is_ok() {
            if tx.send("Ctrl-C").is_err() {
                break;
            }
        }
    });
    Ok(rx)
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
            Body::Media(Media { kind, url, caption, file_name: None })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_signal_lets_the_stop_finish() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        tx.send("SIGTERM").unwrap();
        let (done, stopped) = tokio::sync::oneshot::channel();
        done.send(Stopped::Finished).unwrap();
        let outcome = stop_on_signals(&mut rx, || async { stopped.await.unwrap() }).await;
        assert_eq!(outcome, Shutdown::Stopped(Stopped::Finished));
    }

    #[tokio::test]
    async fn a_second_signal_during_the_stop_exits_at_once() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        tx.send("SIGTERM").unwrap();
        tx.send("SIGINT").unwrap();
        // A stop that would never end on its own.
        let outcome = stop_on_signals(&mut rx, std::future::pending::<Stopped>).await;
        assert_eq!(outcome, Shutdown::Forced);
    }

    #[tokio::test]
    async fn the_stop_does_not_begin_before_the_first_signal() {
        let (tx, mut rx) = mpsc::unbounded_channel::<&'static str>();
        let began = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = began.clone();
        let waiting = stop_on_signals(&mut rx, move || {
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
            async { Stopped::Finished }
        });
        tokio::pin!(waiting);
        assert!(futures_poll_once(waiting.as_mut()).await.is_none());
        assert!(!began.load(std::sync::atomic::Ordering::SeqCst));
        tx.send("SIGINT").unwrap();
        assert_eq!(waiting.await, Shutdown::Stopped(Stopped::Finished));
    }

    /// Polls a future once: its output if it was ready.
    async fn futures_poll_once<F: std::future::Future + Unpin>(mut f: F) -> Option<F::Output> {
        std::future::poll_fn(|cx| {
            std::task::Poll::Ready(match std::pin::Pin::new(&mut f).poll(cx) {
                std::task::Poll::Ready(v) => Some(v),
                std::task::Poll::Pending => None,
            })
        })
        .await
    }
}
