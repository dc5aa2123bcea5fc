//! The command line: `huddle serve`, `huddle demo`, `huddle token`, `huddle kt`, `huddle simulate`. Flags win
//! over environment variables, which win over defaults (clap's `env`). `demo` and `simulate`
//! run the classroom simulator: they exist with the `sim` feature only.

#[cfg(feature = "sim")]
pub mod demo;
pub mod kt;
#[cfg(feature = "sim")]
mod live_demo;
#[cfg(feature = "sim")]
pub mod simulate;
pub mod user;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::auth::{load_or_create_secret, Claims, Keys, Role};
use crate::config::{LogFormat, Settings};
use crate::db::DbUrl;
use crate::startup::Application;

#[derive(Parser)]
#[command(
    name = "huddle",
    version,
    about = "Classroom dashboard service: practice events in, insights for teachers out"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service (migrations are applied at start).
    Serve(ServeArgs),
    /// Create a fresh demo database with a simulated district, print the sign-in details
    /// and serve the dashboard.
    #[cfg(feature = "sim")]
    Demo(demo::DemoArgs),
    /// Print a signed token, for student tools and scripts.
    Token(TokenArgs),
    /// Accounts of teachers and administrators.
    User(user::UserArgs),
    /// Knowledge tracing for researchers: fit and cross-validate BKT from a CSV.
    Kt(kt::KtArgs),
    /// Write simulated practice events and their ground truth.
    #[cfg(feature = "sim")]
    Simulate(simulate::SimulateArgs),
    /// Copy the database while the service runs (SQLite: VACUUM INTO; PostgreSQL: pg_dump).
    Backup(BackupArgs),
}

#[derive(Args)]
struct BackupArgs {
    /// sqlite://PATH or postgres://USER@HOST/DB
    #[arg(
        long,
        env = "HUDDLE_DATABASE_URL",
        default_value = "sqlite://huddle.db"
    )]
    database_url: String,
    /// The file to write (it must not exist): a SQLite database, or a pg_dump archive.
    #[arg(long)]
    out: PathBuf,
}

fn backup(args: BackupArgs) -> anyhow::Result<()> {
    let url = DbUrl::parse(&args.database_url)?;
    let done = crate::db::backup::backup(&url, &args.out)?;
    let events = done
        .events
        .map(|n| format!(", {n} events"))
        .unwrap_or_default();
    print_line(&format!(
        "wrote {} ({} bytes{events})",
        args.out.display(),
        done.bytes
    ))
}

/// Where the data and the signing secret live.
#[derive(Args, Clone)]
pub struct StoreArgs {
    /// sqlite://PATH or postgres://USER@HOST/DB
    #[arg(
        long,
        env = "HUDDLE_DATABASE_URL",
        default_value = "sqlite://huddle.db"
    )]
    pub database_url: String,
    /// File holding the token-signing secret. Without it, a random secret is created beside
    /// the SQLite file (mode 0600) and reused.
    #[arg(long, env = "HUDDLE_JWT_SECRET_FILE")]
    pub jwt_secret_file: Option<PathBuf>,
}

impl StoreArgs {
    fn resolve(&self) -> anyhow::Result<(DbUrl, secrecy::SecretString)> {
        let url = DbUrl::parse(&self.database_url)?;
        let secret = load_or_create_secret(self.jwt_secret_file.as_deref(), &url)?;
        Ok((url, secret))
    }
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// A PostgreSQL streaming replica of the database: the dashboards' pages and reports read
    /// from it (a little behind the primary), everything else from --database-url.
    #[arg(long, env = "HUDDLE_READ_DATABASE_URL")]
    read_database_url: Option<String>,
    /// Address to listen on.
    #[arg(long, env = "HUDDLE_BIND", default_value = "127.0.0.1:8080")]
    bind: String,
    #[arg(long, env = "HUDDLE_LOG_FORMAT", value_enum, default_value = "text")]
    log_format: LogFormat,
    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "HUDDLE_WORKERS", default_value_t = 0)]
    workers: usize,
    /// Database connections kept in the pool.
    #[arg(long, env = "HUDDLE_DB_POOL_SIZE", default_value_t = 8)]
    db_pool_size: u32,
    /// The SQLite writer's page cache in MiB (the server's memory grows by about this plus
    /// 4 MiB per pooled connection as the database is used).
    #[arg(long, env = "HUDDLE_SQLITE_WRITER_CACHE_MIB", default_value_t = crate::db::WRITER_CACHE_MIB)]
    sqlite_writer_cache_mib: u32,
    /// How often to refit the knowledge-tracing models in the background (e.g. 6h, 30m);
    /// 0 disables the background refit.
    #[arg(long, env = "HUDDLE_REFIT_INTERVAL", default_value = "6h", value_parser = humantime::parse_duration)]
    refit_interval: Duration,
    /// A skill is refitted once this many students have answered it.
    #[arg(long, env = "HUDDLE_REFIT_MIN_STUDENTS", default_value_t = 50)]
    refit_min_students: usize,
    /// Requests per minute allowed per token (per client address without one); 0 disables.
    #[arg(long, env = "HUDDLE_RATE_LIMIT_PER_MINUTE", default_value_t = 6000)]
    rate_limit_per_minute: u32,
    /// Requests a token may send at once above the per-minute rate.
    #[arg(long, env = "HUDDLE_RATE_LIMIT_BURST", default_value_t = 1000)]
    rate_limit_burst: u32,
    /// An origin allowed to call the API from a browser (repeat, or comma-separate in the
    /// environment). Without any, CORS stays closed.
    #[arg(
        long = "cors-origin",
        env = "HUDDLE_CORS_ORIGINS",
        value_delimiter = ','
    )]
    cors_origins: Vec<String>,
    /// Delete practice events older than this many days (estimates are kept). Default: keep.
    #[arg(long, env = "HUDDLE_RETENTION_DAYS")]
    retention_days: Option<u32>,
    /// How often the retention purge runs.
    #[arg(long, env = "HUDDLE_RETENTION_INTERVAL", default_value = "1h", value_parser = humantime::parse_duration)]
    retention_interval: Duration,
    /// Behaviour signals (rapid guessing, gaming, ...): `off` skips the detectors and the
    /// rapid-guess exclusion at ingest (to measure their cost; see docs/signals.md).
    #[arg(long, env = "HUDDLE_SIGNALS", value_enum, default_value = "on")]
    signals: Switch,
    /// Stuck (wheel-spinning): at least this many opportunities on a skill (and at least as
    /// many as the skill usually takes), over three days and mostly wrong, raise the flag
    /// (docs/signals.md).
    #[arg(
        long,
        env = "HUDDLE_WHEEL_SPINNING_OPPORTUNITIES",
        default_value_t = 15
    )]
    wheel_spinning_opportunities: u32,
    /// Idle: this many school days (Monday to Friday) without practice raise the flag.
    #[arg(long, env = "HUDDLE_IDLE_SCHOOL_DAYS", default_value_t = 3)]
    idle_school_days: u32,
    /// The token Prometheus sends to read GET /metrics (Authorization: Bearer TOKEN); without
    /// one, /metrics is off. Prefer the environment variable: flags show in `ps`.
    #[arg(long, env = "HUDDLE_METRICS_TOKEN", hide_env_values = true)]
    metrics_token: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Switch {
    On,
    Off,
}

#[derive(Args)]
struct TokenArgs {
    #[arg(long, value_enum)]
    role: Role,
    /// The organisation (district) the token acts for.
    #[arg(long)]
    org: String,
    /// Who holds it: a tool's name or a user's id (default: the role).
    #[arg(long)]
    sub: Option<String>,
    /// How long it is valid, e.g. 30m, 12h, 90d.
    #[arg(long, default_value = "24h", value_parser = humantime::parse_duration)]
    ttl: Duration,
    /// Limit a tool token to these classes (comma-separated): events of other classes are
    /// refused with class_not_allowed.
    #[arg(long, value_delimiter = ',')]
    classes: Vec<String>,
    #[command(flatten)]
    store: StoreArgs,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(args),
        #[cfg(feature = "sim")]
        Command::Demo(args) => demo::run(args),
        Command::Token(args) => token(args),
        Command::User(args) => user::run(args),
        Command::Kt(args) => kt::run(args),
        #[cfg(feature = "sim")]
        Command::Simulate(args) => simulate::run(args),
        Command::Backup(args) => backup(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("huddle: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    crate::telemetry::init(args.log_format);
    let (database, secret) = args.store.resolve()?;
    let mut settings = Settings::new(database, secret);
    settings.read_database = args
        .read_database_url
        .as_deref()
        .map(DbUrl::parse)
        .transpose()?;
    settings.bind = args.bind;
    settings.workers = args.workers;
    settings.pool_size = args.db_pool_size.max(1);
    settings.sqlite_writer_cache_mib = args.sqlite_writer_cache_mib.max(1);
    settings.refit_interval = Some(args.refit_interval).filter(|d| !d.is_zero());
    settings.refit.min_students = args.refit_min_students.max(1);
    settings.signals.enabled = args.signals == Switch::On;
    settings.signals.thresholds.wheel_spinning_opportunities =
        args.wheel_spinning_opportunities.max(1);
    settings.signals.thresholds.idle_school_days = args.idle_school_days.max(1);
    settings.rate_limit = (args.rate_limit_per_minute > 0).then_some(crate::config::RateLimit {
        per_minute: args.rate_limit_per_minute,
        burst: args.rate_limit_burst.max(1),
    });
    settings.cors_origins = args
        .cors_origins
        .into_iter()
        .map(|o| o.trim().to_owned())
        .filter(|o| !o.is_empty())
        .collect();
    settings.retention_days = args.retention_days.filter(|&d| d > 0);
    settings.retention_interval = args.retention_interval.max(Duration::from_secs(60));
    settings.metrics_token = args
        .metrics_token
        .filter(|t| !t.trim().is_empty())
        .map(|t| secrecy::SecretString::from(t.trim().to_owned()));
    // In the server, the fit leaves a core to ingest.
    settings.refit.fit.threads = 1;
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings).await?;
        tracing::info!(port = app.port(), "huddle is listening");
        app.run_until_stopped().await?;
        tracing::info!("huddle stopped");
        Ok(())
    })
}

fn token(args: TokenArgs) -> anyhow::Result<()> {
    anyhow::ensure!(!args.org.trim().is_empty(), "--org must not be empty");
    let (_, secret) = args.store.resolve()?;
    let sub = args.sub.unwrap_or_else(|| args.role.as_str().to_owned());
    let mut claims = Claims::new(sub, args.role, args.org, args.ttl);
    let classes: Vec<String> = args
        .classes
        .into_iter()
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty())
        .collect();
    if !classes.is_empty() {
        anyhow::ensure!(
            args.role == Role::Tool,
            "--classes limits a tool token; teachers' classes come from their account"
        );
        claims = claims.with_classes(classes);
    }
    println!("{}", Keys::new(&secret).sign(&claims)?);
    Ok(())
}

/// Prints one line on stdout; a closed pipe (`huddle kt fit ... | head`) is not an error.
pub(crate) fn print_line(line: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{line}").and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
