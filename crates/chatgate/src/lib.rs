//! The chatgate binary's library: configuration, wiring, worker loops,
//! first start and the CLI. `main.rs` only parses the command line and
//! calls [`run`]; the end-to-end tests start a [`app::Server`] the same way.

#![forbid(unsafe_code)]

pub mod app;
pub mod bootstrap;
pub mod cli;
pub mod commands;
pub mod config;
pub mod serve;
pub mod workers;

pub use app::{App, Server, Stopped, Workers};
pub use commands::run;
pub use config::Config;
