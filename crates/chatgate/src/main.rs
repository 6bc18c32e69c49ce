//! `chatgate`: see `chatgate --help` and README.md.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = chatgate::cli::Cli::parse();
    match chatgate::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error.is::<chatgate::commands::ForcedExit>() => {
            eprintln!("{error}");
            // At once: no destructor waits for anything more.
            std::process::exit(chatgate::commands::ForcedExit::CODE)
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
