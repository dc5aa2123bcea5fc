//! Settings. Layering (flags over environment over defaults) is done by clap in `cli`; this is
//! the typed result the application is built from.

use std::time::Duration;

use secrecy::SecretString;

use crate::db::DbUrl;

/// The most bytes one request body may carry (contract: 8 MiB).
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// The background refit runs this often unless told otherwise.
pub const DEFAULT_REFIT_INTERVAL: Duration = Duration::from_secs(6 * 3600);

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

pub struct Settings {
    pub database: DbUrl,
    /// Address to listen on; port 0 picks a free port (tests).
    pub bind: String,
    pub jwt_secret: SecretString,
    /// Connections kept open for reads (and, on PostgreSQL, writes).
    pub pool_size: u32,
    /// HTTP worker threads; 0 means one per core.
    pub workers: usize,
    /// How often the background job refits the skills' models; None disables it.
    pub refit_interval: Option<Duration>,
    /// Which skills are refitted (enough students), and how.
    pub refit: crate::store::state::RefitOptions,
    /// Behaviour signals: on or off, and their thresholds.
    pub signals: crate::signals::Settings,
}

impl Settings {
    /// Defaults for everything but where the data lives and the secret.
    pub fn new(database: DbUrl, jwt_secret: SecretString) -> Self {
        Settings {
            database,
            bind: "127.0.0.1:8080".into(),
            jwt_secret,
            pool_size: 8,
            workers: 0,
            refit_interval: Some(DEFAULT_REFIT_INTERVAL),
            refit: crate::store::state::RefitOptions::default(),
            signals: crate::signals::Settings::default(),
        }
    }
}
