//! Settings. Layering (flags over environment over defaults) is done by clap in `cli`; this is
//! the typed result the application is built from.

use std::time::Duration;

use secrecy::SecretString;

use crate::db::DbUrl;

/// The most bytes one request body may carry (contract: 8 MiB).
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// The most bytes of any other body: a plan, a decision, check-ins.
pub const MAX_SMALL_BODY_BYTES: usize = 256 * 1024;

/// The most bytes of a sign-in body (an email and a password).
pub const MAX_LOGIN_BYTES: usize = 16 * 1024;

/// The most bytes of a roster upload (about 100,000 students).
pub const MAX_ROSTER_BYTES: usize = 8 * 1024 * 1024;

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
    /// A PostgreSQL streaming replica of `database` for the dashboards' reads
    /// (`Db::read_replica`); None reads from `database`.
    pub read_database: Option<DbUrl>,
    /// Address to listen on; port 0 picks a free port (tests).
    pub bind: String,
    pub jwt_secret: SecretString,
    /// Connections kept open for reads (and, on PostgreSQL, writes).
    pub pool_size: u32,
    /// The SQLite writer's page cache, in MiB: the hot index pages of a large district's
    /// ingest (each pooled reader keeps 4 MiB). Ignored on PostgreSQL.
    pub sqlite_writer_cache_mib: u32,
    /// HTTP worker threads; 0 means one per core.
    pub workers: usize,
    /// How often the background job refits the skills' models; None disables it.
    pub refit_interval: Option<Duration>,
    /// Which skills are refitted (enough students), and how.
    pub refit: crate::kt::RefitOptions,
    /// Behaviour signals: on or off, and their thresholds.
    pub signals: crate::signals::Settings,
    /// Requests per token (or per client address without a token); None disables the limit.
    pub rate_limit: Option<RateLimit>,
    /// Origins allowed to call the API from a browser (CORS); empty: none, CORS stays closed.
    pub cors_origins: Vec<String>,
    /// Keep practice events this many days; None keeps them for ever.
    pub retention_days: Option<u32>,
    /// How often the retention purge runs (when `retention_days` is set).
    pub retention_interval: Duration,
    /// How failed sign-ins are slowed and locked.
    pub login: crate::auth::throttle::LoginPolicy,
    /// How long a client has to send a request's headers (408 after that).
    pub header_deadline: Duration,
    /// How long a client has to send a request's body, from its arrival (408 after that).
    pub body_deadline: Duration,
    /// Requests handled at once; more are answered 503 (`/healthz` is never refused).
    pub max_in_flight: usize,
    /// Connections open at once, over all workers; a request on a further connection is
    /// answered 503 and its connection closed (beyond twice this, connections wait in the
    /// listen queue).
    pub max_connections: usize,
    /// Event batches waiting for the writer or being written; a further batch is answered 503
    /// `writer_busy` with `Retry-After`, so a writer that falls behind holds neither memory
    /// nor connections without bound.
    pub max_queued_batches: usize,
    /// The operators' token for `GET /metrics`; None turns metrics off (404).
    pub metrics_token: Option<SecretString>,
    /// The lesson's rules: when a class is in a sitting, when a student is idle, ...
    pub lesson: crate::lesson::Rules,
}

/// A token bucket per caller: `per_minute` on average, bursts of up to `burst`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    pub per_minute: u32,
    pub burst: u32,
}

impl Default for RateLimit {
    /// Generous: a tool sending a batch of events every 10 ms stays under it.
    fn default() -> Self {
        RateLimit {
            per_minute: 6000,
            burst: 1000,
        }
    }
}

impl Settings {
    /// Defaults for everything but where the data lives and the secret.
    pub fn new(database: DbUrl, jwt_secret: SecretString) -> Self {
        Settings {
            database,
            read_database: None,
            bind: "127.0.0.1:8080".into(),
            jwt_secret,
            pool_size: 8,
            sqlite_writer_cache_mib: crate::db::WRITER_CACHE_MIB,
            workers: 0,
            refit_interval: Some(DEFAULT_REFIT_INTERVAL),
            refit: crate::kt::RefitOptions::default(),
            signals: crate::signals::Settings::default(),
            rate_limit: Some(RateLimit::default()),
            cors_origins: Vec::new(),
            retention_days: None,
            retention_interval: Duration::from_secs(3600),
            login: crate::auth::throttle::LoginPolicy::default(),
            header_deadline: Duration::from_secs(5),
            // 8 MiB over a slow school line (about 2 Mbit/s) takes about 30 s.
            body_deadline: Duration::from_secs(60),
            max_in_flight: 256,
            max_connections: 1024,
            max_queued_batches: 64,
            metrics_token: None,
            lesson: crate::lesson::Rules::default(),
        }
    }
}
