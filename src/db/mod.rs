//! The database: one binary for SQLite (embedded, the default) and PostgreSQL (production).
//!
//! Everything else talks to [`Db`]: `read` and `write` run a closure with a connection on the
//! blocking thread pool, carrying the caller's tracing span. Queries that need types outside
//! diesel's `MultiConnection` subset (bytes, booleans, upserts) are written once and compiled
//! for both backends with [`on_backend!`](crate::on_backend).

pub mod backup;
mod migrate;
pub mod page_memory;
pub mod schema;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use diesel::connection::SimpleConnection;
use diesel::r2d2::{ManageConnection, Pool, PooledConnection};
use diesel::{Connection, PgConnection, RunQueryDsl, SqliteConnection};

pub use migrate::{revert_all_migrations, run_migrations};

/// A connection to either backend; the variant is chosen from the URL scheme.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

/// Runs the same block against the concrete connection of either backend, so backend-specific
/// features (upserts, byte columns, `RETURNING`) stay typed and written once.
#[macro_export]
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConnection::Sqlite($c) => $body,
            $crate::db::DbConnection::Postgresql($c) => $body,
        }
    };
}

/// Hands each row of a query to a closure without holding the result: SQLite steps the
/// statement, PostgreSQL reads in single-row mode (its default keeps the whole result in
/// memory until the last row is read).
#[macro_export]
macro_rules! for_each_row {
    ($conn:expr, $query:expr, $each:expr) => {
        match $conn {
            $crate::db::DbConnection::Sqlite(c) => {
                for row in diesel::RunQueryDsl::load_iter::<
                    _,
                    diesel::connection::DefaultLoadingMode,
                >($query, c)?
                {
                    ($each)(row?);
                }
            }
            $crate::db::DbConnection::Postgresql(c) => {
                for row in diesel::RunQueryDsl::load_iter::<_, diesel::pg::PgRowByRowLoadingMode>(
                    $query, c,
                )? {
                    ($each)(row?);
                }
            }
        }
    };
}

/// Where the data lives, parsed from `sqlite://PATH` or `postgres://…`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DbUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

impl DbUrl {
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            anyhow::ensure!(
                !path.is_empty(),
                "the SQLite URL names no file: use sqlite://PATH"
            );
            Ok(DbUrl::Sqlite(PathBuf::from(path)))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(DbUrl::Postgres(url.to_owned()))
        } else {
            anyhow::bail!("unsupported database URL {url:?}: use sqlite://PATH or postgres://…")
        }
    }

    pub fn is_sqlite(&self) -> bool {
        matches!(self, DbUrl::Sqlite(_))
    }

    fn connect(&self) -> diesel::ConnectionResult<DbConnection> {
        match self {
            DbUrl::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(&path.to_string_lossy())?;
                // 4 KiB pages (set when the file is created; SQLite's default). Without a unique
                // index on the random event ids (store::event_ids) a batch's rows sit together,
                // and larger pages mean fewer WAL frames and B-tree levels.
                // WAL lets dashboards read while a batch is written. synchronous=FULL syncs the
                // WAL on every commit, so an acknowledged write survives a power cut, not only a
                // crash (docs/operations.md); the writer connection syncs in its own way
                // (`Db::open`). busy_timeout, set first, covers the rare writer outside
                // `Db::write` and another connection's lock while this one sets up (switching to
                // WAL takes a lock).
                // Each pooled reader keeps a small page cache (4 MiB): the operating system's
                // file cache holds the rest, shared, and the server's memory stays bounded
                // (the writer's cache, larger, is set in `Db::open`).
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = 10000;
                     PRAGMA page_size = {PAGE_SIZE};
                     PRAGMA journal_mode = WAL;
                     PRAGMA synchronous = FULL;
                     PRAGMA foreign_keys = ON;
                     PRAGMA temp_store = MEMORY;
                     PRAGMA cache_size = -{};
                     PRAGMA secure_delete = ON;",
                    READER_CACHE_MIB * 1024
                ))
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConnection::Sqlite(conn))
            }
            DbUrl::Postgres(url) => PgConnection::establish(url).map(DbConnection::Postgresql),
        }
    }
}

/// Creates the SQLite file readable by its owner only (0600), or narrows an existing one: it
/// holds children's data, like the signing secret beside it. SQLite gives its `-wal` and `-shm`
/// files the database file's mode.
fn owner_only(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        let file = PathBuf::from(file);
        if file.exists() {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
                .with_context(|| format!("narrowing the mode of {}", file.display()))?;
        }
    }
    Ok(())
}

/// An r2d2 manager that picks the backend from the URL scheme (diesel's own tries each in turn).
pub struct Manager(DbUrl);

impl ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConnection, Self::Error> {
        self.0
            .connect()
            .map_err(diesel::r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), Self::Error> {
        conn.batch_execute("SELECT 1")
            .map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, _conn: &mut DbConnection) -> bool {
        false
    }
}

pub type PooledConn = PooledConnection<Manager>;

/// How long a read waits for a replica connection before it goes to the primary.
pub const REPLICA_WAIT: Duration = Duration::from_millis(500);

/// The PostgreSQL channel on which a write that changes entities is announced to every node
/// (`cluster`).
pub const CHANGES_CHANNEL: &str = "huddle_changes";

/// The page size of the SQLite files Huddle creates.
pub const PAGE_SIZE: usize = 4096;

/// Each pooled SQLite reader's page cache.
pub const READER_CACHE_MIB: usize = 4;

/// The SQLite writer's page cache unless set otherwise ([`Db::set_writer_cache`]).
pub const WRITER_CACHE_MIB: u32 = 16;

/// The database handle shared by the whole application.
#[derive(Clone)]
pub struct Db {
    url: DbUrl,
    pool: Pool<Manager>,
    /// Connections to a streaming replica for [`Db::read_replica`] (`--read-database-url`).
    replica: Option<Pool<Manager>>,
    /// SQLite has one writer: every write goes through this connection, in turn, so batches
    /// never spin on SQLite's lock and the hot index pages stay in one cache.
    writer: Option<Arc<Mutex<DbConnection>>>,
    /// The SQLite WAL file, synced after each write once the writer is free ([`Db::write`]).
    wal: Option<PathBuf>,
    /// How many writes through this handle declared [`Changes::Entities`].
    entity_writes: Arc<AtomicU64>,
}

/// What a write changes, declared by its caller. What is remembered of the database between
/// writes (on SQLite, the single writer's memory of the entities it knows are stored) is
/// dropped by what a write says it changes, not by every write: the audit row of each page a
/// teacher opens leaves it whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Changes {
    /// Rows nothing remembers between writes: an audit row, a sign-in attempt, refusal
    /// counts, a review decision, a plan, a refit job, models and the state derived from
    /// events.
    Records,
    /// Appends events and creates the entities they name (`store::events::append`, whose
    /// memory records what it adds itself).
    Events,
    /// May delete or rewrite organisations, classes, students, enrolments, skills, items or
    /// events: an erasure, a roster import, a retention purge, the demo's district.
    Entities,
}

impl Db {
    /// Opens the database and applies pending migrations.
    pub fn open(url: &DbUrl, pool_size: u32) -> anyhow::Result<Self> {
        if let DbUrl::Sqlite(path) = url {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating the directory {}", dir.display()))?;
            }
            owner_only(path)?;
        }
        let mut first = url
            .connect()
            .with_context(|| format!("connecting to {}", describe(url)))?;
        run_migrations(&mut first).context("applying migrations")?;
        let writer = match url {
            DbUrl::Sqlite(_) => {
                // The writer gets a page cache of its own size (`set_writer_cache`: it holds the
                // hot index pages) and leaves checkpoints to a thread of their own, so copying the WAL back into the
                // database never holds up a batch.
                // It commits without syncing: `write_events_blocking` syncs the WAL after the
                // writer's lock is released (group commit, docs/operations.md).
                first
                    .batch_execute("PRAGMA wal_autocheckpoint = 0; PRAGMA synchronous = NORMAL;")?;
                let writer = Arc::new(Mutex::new(first));
                spawn_checkpointer(url, Arc::downgrade(&writer))?;
                Some(writer)
            }
            DbUrl::Postgres(_) => None,
        };
        let pool = Pool::builder()
            .max_size(pool_size)
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(10))
            .build(Manager(url.clone()))
            .with_context(|| format!("opening a connection pool to {}", describe(url)))?;
        let wal = match url {
            DbUrl::Sqlite(path) => Some(PathBuf::from(format!("{}-wal", path.display()))),
            DbUrl::Postgres(_) => None,
        };
        let db = Db {
            url: url.clone(),
            pool,
            replica: None,
            writer,
            wal,
            entity_writes: Arc::default(),
        };
        db.set_writer_cache(WRITER_CACHE_MIB)?;
        Ok(db)
    }

    /// The same handle with reads of [`Db::read_replica`] sent to a PostgreSQL streaming
    /// replica of this database: migrations and writes stay on the primary.
    pub fn with_replica(mut self, url: &DbUrl, pool_size: u32) -> anyhow::Result<Self> {
        anyhow::ensure!(
            matches!(url, DbUrl::Postgres(_)) && !self.url.is_sqlite(),
            "a read replica is a PostgreSQL server beside a PostgreSQL primary"
        );
        let pool = Pool::builder()
            .max_size(pool_size)
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(10))
            // Unchecked: a node starts while its replica is down, and reads from the primary.
            .build_unchecked(Manager(url.clone()));
        self.replica = Some(pool);
        Ok(self)
    }

    /// Sets the SQLite writer's page cache (no-op on PostgreSQL). Its pages are allocated as
    /// they are first used, so the server's memory grows by up to this much as it writes.
    pub fn set_writer_cache(&self, mib: u32) -> anyhow::Result<()> {
        if let Some(writer) = &self.writer {
            let mut conn = writer.lock().unwrap_or_else(|p| p.into_inner());
            conn.batch_execute(&format!("PRAGMA cache_size = -{}", u64::from(mib) * 1024))?;
        }
        Ok(())
    }

    pub fn url(&self) -> &DbUrl {
        &self.url
    }

    /// Runs a read that may be a little stale (the dashboards' pages and reports) on the read
    /// replica when there is one, else like [`Db::read`]. A replica lags the primary by its
    /// replication delay (docs/operations.md): never use it for a read that must see a write
    /// just made (access checks, sign-in, a job's status). When the replica gives no
    /// connection within [`REPLICA_WAIT`] (down, or every connection busy), the read goes to
    /// the primary.
    pub async fn read_replica<T, F>(&self, f: F) -> anyhow::Result<T>
    where
        F: FnOnce(&mut DbConnection) -> anyhow::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let (replica, primary) = (self.replica.clone(), self.pool.clone());
        blocking(move || {
            let replica = replica.and_then(|pool| match pool.get_timeout(REPLICA_WAIT) {
                Ok(conn) => Some(conn),
                Err(e) => {
                    tracing::warn!(error = %e, "no replica connection: reading from the primary");
                    None
                }
            });
            let mut conn = match replica {
                Some(conn) => conn,
                None => primary.get().context("no database connection available")?,
            };
            f(&mut conn)
        })
        .await
    }

    /// Runs a read on a pooled connection, off the async workers.
    pub async fn read<T, F>(&self, f: F) -> anyhow::Result<T>
    where
        F: FnOnce(&mut DbConnection) -> anyhow::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        blocking(move || {
            let mut conn = pool.get().context("no database connection available")?;
            f(&mut conn)
        })
        .await
    }

    /// Runs a write that changes what `changes` says: on SQLite through the single writer
    /// connection, on PostgreSQL on any pooled connection (PostgreSQL serialises conflicting
    /// rows itself).
    pub async fn write<T, F>(&self, changes: Changes, f: F) -> anyhow::Result<T>
    where
        F: FnOnce(&mut DbConnection) -> anyhow::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let db = self.clone();
        blocking(move || db.write_blocking(changes, f)).await
    }

    /// The same as [`Db::write`] for callers already off the async workers (CLI, benchmarks).
    pub fn write_blocking<T>(
        &self,
        changes: Changes,
        f: impl FnOnce(&mut DbConnection) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let _queued = QueuedWrite::enter();
        let written = self.write_through(changes, f)?;
        if changes == Changes::Entities {
            // Counted again once committed: a cache filled during the write, from what was
            // there before it, carries the earlier count and is not used.
            self.entity_writes.fetch_add(1, Ordering::Relaxed);
        }
        Ok(written)
    }

    fn write_through<T>(
        &self,
        changes: Changes,
        f: impl FnOnce(&mut DbConnection) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        match &self.writer {
            Some(writer) => {
                // A panic while writing poisons the lock but leaves the connection usable:
                // the transaction it was in has been rolled back by diesel.
                let written = {
                    let mut conn = writer
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                    // Counted before the write, under the writer's lock: whoever reads the
                    // count in a later write sees it, whether this one succeeds or not.
                    if changes == Changes::Entities {
                        self.entity_writes.fetch_add(1, Ordering::Relaxed);
                    }
                    f(&mut conn)?
                };
                // Group commit: the writer commits without waiting for the disk, and the WAL
                // is synced here, with the lock released, before the caller answers. The next
                // batch is written meanwhile, and one sync may cover several commits; what was
                // acknowledged is on disk all the same, as with synchronous=FULL.
                if let Some(wal) = &self.wal {
                    sync_file(wal).context("syncing the SQLite WAL")?;
                }
                Ok(written)
            }
            None => {
                if changes == Changes::Entities {
                    self.entity_writes.fetch_add(1, Ordering::Relaxed);
                }
                let mut conn = self
                    .pool
                    .get()
                    .context("no database connection available")?;
                let written = f(&mut conn)?;
                if changes == Changes::Entities {
                    // The other nodes forget what they remember of the entities (`cluster`).
                    if let Err(e) = conn.batch_execute(&format!("NOTIFY {CHANGES_CHANNEL}")) {
                        tracing::warn!(error = %e, "the other nodes could not be told of a change");
                    }
                }
                Ok(written)
            }
        }
    }

    /// How many writes through this handle (and its clones) have declared
    /// [`Changes::Entities`]. Read inside a write on SQLite, it counts every earlier write:
    /// what a writer remembers of those tables holds while the count stays the same.
    pub fn entity_writes(&self) -> u64 {
        self.entity_writes.load(Ordering::Relaxed)
    }

    /// Counts a write that changed entities through another handle or node (`cluster` hears
    /// of them), so what is remembered of the entities is forgotten as after a write of ours.
    pub fn entities_changed_elsewhere(&self) {
        self.entity_writes.fetch_add(1, Ordering::Relaxed);
    }

    /// A pooled connection for callers already off the async workers.
    pub fn conn(&self) -> anyhow::Result<PooledConn> {
        self.pool.get().context("no database connection available")
    }
}

/// One write waiting for the writer or being written, counted in `huddle_writer_queue_depth`.
struct QueuedWrite;

impl QueuedWrite {
    fn enter() -> Self {
        crate::metrics::metrics().writer_queue.inc();
        QueuedWrite
    }
}

impl Drop for QueuedWrite {
    fn drop(&mut self) {
        crate::metrics::metrics().writer_queue.dec();
    }
}

/// Above this many WAL pages (256 MiB of 4 KiB pages; 64 MiB in an older file made with 1 KiB
/// pages), the checkpointer pauses the writer and restarts the WAL from its beginning, so the
/// file cannot grow without bound. Each pause costs the frames not yet copied (about half a
/// second's worth), however long the WAL: a larger bound means fewer pauses.
const WAL_RESTART_PAGES: i64 = 65_536;

/// Copies the SQLite WAL back into the database file in the background (a passive checkpoint
/// every half second), until the writer connection is gone.
///
/// A passive checkpoint copies frames while batches go on, but the WAL only starts over once
/// a checkpoint has copied *every* frame, which never happens while batches keep coming: under
/// sustained ingest the file grew by gigabytes (3.4 GB after 2,000,000 events). So when the WAL
/// is long, the checkpointer takes the writer's lock (no batch is half-written then) and runs
/// a RESTART checkpoint: only the frames written since the last passive one are left to copy,
/// so the pause is short, and the next batch writes the WAL from its beginning again.
fn spawn_checkpointer(
    url: &DbUrl,
    writer: std::sync::Weak<Mutex<DbConnection>>,
) -> anyhow::Result<()> {
    use diesel::sql_types::BigInt;
    #[derive(diesel::QueryableByName)]
    struct Checkpoint {
        #[diesel(sql_type = BigInt)]
        log: i64,
    }
    let mut conn = url.connect()?;
    std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            while writer.strong_count() > 0 {
                std::thread::sleep(Duration::from_millis(500));
                let DbConnection::Sqlite(c) = &mut conn else {
                    return;
                };
                let passive: Result<Vec<Checkpoint>, _> =
                    diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)").load(c);
                let wal_pages = passive.ok().and_then(|r| r.first().map(|c| c.log));
                if wal_pages.is_some_and(|pages| pages > WAL_RESTART_PAGES) {
                    let Some(writer) = writer.upgrade() else {
                        break;
                    };
                    // Held until the checkpoint is done: no batch starts meanwhile.
                    let _paused = writer.lock().unwrap_or_else(|p| p.into_inner());
                    let _ = c.batch_execute("PRAGMA wal_checkpoint(RESTART)");
                }
            }
            // No last checkpoint here: a TRUNCATE takes the write lock and starts the WAL over,
            // which fails the transaction of any writer that had begun reading meanwhile (a
            // server opened on the same file, as `huddle demo` does after filling it). SQLite
            // checkpoints and removes the WAL itself when the file's last connection closes.
        })?;
    Ok(())
}

/// Runs `f` in one read-only transaction that sees the database as it was at its first read,
/// for reads of several statements that must agree with one another (a student's export): a
/// write committed meanwhile shows in none of them. PostgreSQL: REPEATABLE READ, READ ONLY;
/// SQLite: one read transaction (WAL keeps its snapshot until it ends). Not for use inside
/// another transaction (PostgreSQL sets the isolation level before a transaction's first query).
pub fn read_snapshot<T>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    conn.transaction(|conn| {
        if matches!(conn, DbConnection::Postgresql(_)) {
            conn.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")?;
        }
        f(conn)
    })
}

/// `fsync`s a file's data (it covers every write to the file, from any descriptor). Opened
/// each time (microseconds, against a millisecond sync) so that a WAL SQLite has recreated is
/// never synced through a stale descriptor. A missing file holds nothing to sync.
fn sync_file(path: &Path) -> std::io::Result<()> {
    match std::fs::File::open(path) {
        Ok(file) => file.sync_data(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Runs blocking work on the blocking pool, inside the caller's tracing span.
pub async fn blocking<T, F>(f: F) -> anyhow::Result<T>
where
    F: FnOnce() -> anyhow::Result<T> + Send + 'static,
    T: Send + 'static,
{
    let span = tracing::Span::current();
    actix_web::rt::task::spawn_blocking(move || span.in_scope(f))
        .await
        .context("a blocking task panicked")?
}

/// The URL without its password, for logs and errors.
fn describe(url: &DbUrl) -> String {
    match url {
        DbUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
        DbUrl::Postgres(url) => match url.split_once('@') {
            Some((_, host)) => format!("postgres://…@{host}"),
            None => url.clone(),
        },
    }
}

/// Milliseconds since the Unix epoch: the one way times are stored (both backends, compact).
pub fn to_millis(t: chrono::DateTime<chrono::Utc>) -> i64 {
    t.timestamp_millis()
}

pub fn from_millis(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}
