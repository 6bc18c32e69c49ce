//! chatgate end to end: the real server on port 0, a fresh data directory
//! per test, a manual clock, the workers driven step by step.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod abuse;
mod admin;
mod bad_input;
mod getloo;
mod greenapi;
mod greenapi_python;
mod health;
mod huawei;
mod idempotency;
mod imiconnect;
mod instagram;
mod instances;
mod logs;
mod meta_ingest;
mod metrics;
mod nodes;
mod openapi;
mod operator;
mod outages;
mod pacing;
mod pull;
mod queue;
mod redaction;
mod restart;
mod sandbox_inbound;
mod schemathesis;
mod sending;
mod settings;
mod shutdown;
mod webhooks;
mod whatsapp;
