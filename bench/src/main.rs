//! `chatgate-bench`: runs every benchmark scenario against the release
//! build of chatgate and against a bare axum baseline under the same load,
//! and rewrites BENCHMARKS.md.
//!
//! ```text
//! cargo build --release -p chatgate -p chatgate-bench
//! target/release/chatgate-bench run            # the full suite (minutes)
//! target/release/chatgate-bench run --smoke    # tiny sizes, for CI
//! target/release/chatgate-bench chaos          # the crash test (10 000 + 10 000, 10 kills)
//! target/debug/chatgate-bench chaos --smoke    # the crash test's CI size
//! target/release/chatgate-bench chaos --outage 30          # PostgreSQL cut off for 30 s under load
//! target/debug/chatgate-bench chaos --smoke --outage 3     # its CI size
//! ```

#![allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]

mod chaos;
mod load;
mod outage;
mod process;
mod receiver;
mod report;
mod scenarios;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use scenarios::{Backend, Row, Sizes};

/// The benchmark suite.
#[derive(Debug, Parser)]
#[command(name = "chatgate-bench")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the scenarios and writes the report.
    Run {
        /// Tiny sizes: checks that every scenario runs (CI), measures
        /// nothing worth reading; the report goes to stdout.
        #[arg(long)]
        smoke: bool,
        /// Seconds of load per measurement.
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// Which scenarios: ingest, send, e2e, push, scale (comma-separated).
        #[arg(long, default_value = "ingest,send,e2e,push,scale")]
        only: String,
        /// Also run on PostgreSQL (ingest, send, push), at this server
        /// (a fresh database is made and dropped).
        #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
        postgres: String,
        /// Skip PostgreSQL.
        #[arg(long)]
        no_postgres: bool,
        /// Skip SQLite (with --only, to measure one scenario on
        /// PostgreSQL alone).
        #[arg(long)]
        no_sqlite: bool,
        /// Notifications of the push drain (default 200 000): a smaller
        /// backlog for a quick before/after measurement of one change.
        #[arg(long)]
        push_backlog: Option<usize>,
        /// Where the report goes.
        #[arg(long, default_value = "BENCHMARKS.md")]
        out: PathBuf,
        /// What limits the figures (a Markdown file appended to the
        /// report; `bench/findings.md`, kept by hand from profiles).
        #[arg(long, default_value = "bench/findings.md")]
        findings: PathBuf,
    },
    /// The crash test: sends and Meta webhooks while chatgate is killed
    /// with SIGKILL and restarted; fails (exit code 1) when anything
    /// acknowledged is lost or sent twice without a flag.
    Chaos {
        /// The CI size: 300 sends, 300 webhooks, 3 kills.
        #[arg(long)]
        smoke: bool,
        /// Native sends (default 10 000, 300 with --smoke).
        #[arg(long)]
        sends: Option<u64>,
        /// Signed Meta webhooks (default 10 000, 300 with --smoke).
        #[arg(long)]
        webhooks: Option<u64>,
        /// SIGKILLs during the load (default 10, 3 with --smoke).
        #[arg(long)]
        kills: Option<u32>,
        /// The seed of the kill moments (default: from the clock; printed).
        #[arg(long)]
        seed: Option<u64>,
        /// Instead of kills, cut chatgate off its PostgreSQL (through a
        /// proxy, `CHATGATE_TEST_POSTGRES_URL` or the local `test`
        /// database) for this many seconds (30 for the full test, 3 in CI),
        /// once per kill (one unless --kills says more); fails when a
        /// request goes unanswered or waits longer than 5 s for its 503.
        #[arg(long)]
        outage: Option<u64>,
    },
    /// The bare axum baseline server (started by `run`).
    Baseline {
        /// Where to listen.
        #[arg(long)]
        listen: SocketAddr,
    },
}

/// A progress line on stderr.
pub fn progress(message: &str) {
    eprintln!("[chatgate-bench] {message}");
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Baseline { listen } => receiver::baseline(listen).await,
        Command::Chaos { smoke, sends, webhooks, kills, seed, outage } => {
            let seed = seed.unwrap_or_else(chaos::clock_seed);
            let mut sizes =
                if smoke { chaos::ChaosSizes::small(seed) } else { chaos::ChaosSizes::full(seed) };
            if let Some(seconds) = outage {
                sizes = sizes.with_outages(std::time::Duration::from_secs(seconds));
                sizes.kills = 1;
            }
            sizes.sends = sends.unwrap_or(sizes.sends);
            sizes.webhooks = webhooks.unwrap_or(sizes.webhooks);
            sizes.kills = kills.unwrap_or(sizes.kills);
            let figures = chaos::run(&sizes).await?;
            println!("{}", figures.render());
            if !figures.passed() {
                anyhow::bail!("the crash test lost or duplicated acknowledged work (seed {seed})");
            }
            progress("chaos: nothing acknowledged was lost");
            Ok(())
        }
        Command::Run {
            smoke,
            seconds,
            only,
            postgres,
            no_postgres,
            no_sqlite,
            push_backlog,
            out,
            findings,
        } => {
            let mut sizes = if smoke { Sizes::smoke() } else { Sizes::full(seconds) };
            sizes.push_backlog = push_backlog.unwrap_or(sizes.push_backlog);
            let wanted: Vec<&str> = only.split(',').map(str::trim).collect();
            let started = std::process::Command::new("date")
                .arg("-u")
                .arg("+%Y-%m-%d %H:%M UTC")
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
                .unwrap_or_default();
            let mut rows: Vec<Row> = Vec::new();
            let mut backends = Vec::new();
            if !no_sqlite {
                backends.push(Backend::Sqlite);
            }
            if !no_postgres {
                backends.push(Backend::Postgres(postgres.clone()));
            }
            for backend in &backends {
                for scenario in ["ingest", "send", "e2e", "push", "scale"] {
                    if !wanted.contains(&scenario) {
                        continue;
                    }
                    // (3) and (5) run on SQLite only, as the issue asks.
                    if matches!(backend, Backend::Postgres(_))
                        && matches!(scenario, "e2e" | "scale")
                    {
                        continue;
                    }
                    progress(&format!("{scenario} on {}", backend.name()));
                    let (run_backend, database) = match backend {
                        Backend::Sqlite => (Backend::Sqlite, None),
                        Backend::Postgres(base) => {
                            let (url, name) = scenarios::create_database(base).await?;
                            (Backend::Postgres(url), Some((base.clone(), name)))
                        }
                    };
                    let result = match scenario {
                        "ingest" => scenarios::ingest(&run_backend, &sizes).await,
                        "send" => scenarios::send_accept(&run_backend, &sizes).await,
                        "e2e" => scenarios::end_to_end(&run_backend, &sizes).await,
                        "push" => scenarios::push_drain(&run_backend, &sizes).await,
                        _ => scenarios::scale(&run_backend, &sizes).await,
                    };
                    if let Some((base, name)) = database {
                        scenarios::drop_database(&base, &name).await;
                    }
                    let new =
                        result.with_context(|| format!("{scenario} on {}", backend.name()))?;
                    for row in &new {
                        progress(&format!("  {}: {:.0} {}", row.scenario, row.rate, row.unit));
                    }
                    rows.extend(new);
                }
            }
            let command = if smoke {
                "chatgate-bench run --smoke".to_owned()
            } else {
                format!("chatgate-bench run --seconds {seconds}")
            };
            // Run from elsewhere than the repository, there are no findings
            // to append (the smoke run in CI does not need them).
            let findings = std::fs::read_to_string(&findings).unwrap_or_default();
            let text = report::render(&command, &process::machine(), &started, &rows, &findings);
            if smoke {
                println!("{text}");
            } else {
                std::fs::write(&out, text).with_context(|| format!("writing {}", out.display()))?;
                progress(&format!("wrote {}", out.display()));
            }
            Ok(())
        }
    }
}
