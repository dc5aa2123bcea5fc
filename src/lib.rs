//! Huddle: practice events in, plain-language insights for teachers out.
//!
//! The binary (`main.rs`) only calls [`cli::main`]. Domain modules (`ingest`, and the ones to
//! come: knowledge tracing, signals, insights) are plain Rust; `store` and `db` hold the SQL,
//! `api` the HTTP.

pub mod api;
pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod error;
pub mod ingest;
pub mod startup;
pub mod store;
pub mod telemetry;
