//! Huddle: practice events in, plain-language insights for teachers out.
//!
//! The binary (`main.rs`) only calls [`cli::main`]. Domain modules (`ingest`, `kt` for knowledge
//! tracing) are plain Rust; `store` and `db` hold the SQL, `api` the HTTP. The classroom
//! simulator (`sim`) is part of the library only with the `sim` feature (on by default): the
//! demo, the tests and the benchmarks use it, the service does not.

pub mod api;
pub mod auth;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod db;
pub mod error;
pub mod guard;
pub mod ingest;
pub mod insights;
pub mod items;
pub mod jobs;
pub mod kt;
pub mod lesson;
pub mod live;
pub mod metrics;
pub mod privacy;
pub mod ratelimit;
pub mod reports;
pub mod signals;
#[cfg(feature = "sim")]
pub mod sim;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod util;
