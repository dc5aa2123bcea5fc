//! Several `huddle serve` nodes on one PostgreSQL database: which node leads (runs the
//! background jobs), and hearing of the other nodes' writes that change entities.
//!
//! **Leadership.** Each node keeps a connection of its own and tries, once a second, to take a
//! session-level advisory lock ([`LEADER_LOCK`]). The node holding it leads; PostgreSQL releases
//! it when that session ends, so when the leader dies (even by SIGKILL: the server sees its
//! socket close) another node takes it at its next try. The leader checks its connection every
//! second and stops leading as soon as a query on it fails or the connection stalls for
//! [`STALL`]. On SQLite the one process leads.
//!
//! **Changes.** A write that declares [`Changes::Entities`](crate::db::Changes::Entities) is
//! announced with `NOTIFY huddle_changes` (`db::Db::write_blocking`); the same connection
//! `LISTEN`s and counts each notice as an entity write of its own handle
//! ([`Db::entities_changed_elsewhere`](crate::db::Db::entities_changed_elsewhere)), which is
//! what the in-process caches watch. See docs/operations.md for every cache and why it is safe.
//!
//! **Refits.** A refit of one organisation runs on one node at a time, whoever asked for it (the
//! leader's schedule, an administrator, a refit job, the CLI): each takes a [`RefitClaim`]
//! first, and one that cannot is refused or skipped rather than run beside the other. Two
//! refits at once would recompute the same states from different models and leave whichever
//! wrote last, and double the work of the longest job there is.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use crate::db::{Db, DbUrl};

/// An arbitrary constant naming the leader's advisory lock (the migrations' lock is another).
pub const LEADER_LOCK: i64 = 0x4855_4444_4c46;
/// An arbitrary constant naming the refit locks: an organisation's is the advisory lock
/// `(REFIT_LOCKS, hashtext(org_id))`, in PostgreSQL's two-key space, apart from [`LEADER_LOCK`].
pub const REFIT_LOCKS: i32 = 0x4855_5246;
/// How often a node tries to lead, and the leader checks its connection.
pub const TICK: Duration = Duration::from_secs(1);

/// How long the cluster connection may stall (unacknowledged data, no keepalive answer)
/// before it is given up, and with it the lead.
pub const STALL: Duration = Duration::from_secs(10);

/// This node's place in the cluster.
pub struct Cluster {
    node: String,
    leading: AtomicBool,
}

impl Cluster {
    /// Starts this node's part: on PostgreSQL a thread with a connection of its own (ends when
    /// the returned handle is dropped, which releases the lock); on SQLite the node leads.
    pub fn start(db: &Db) -> Arc<Cluster> {
        let node = format!(
            "{}-{}",
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let cluster = Arc::new(Cluster {
            node,
            leading: AtomicBool::new(db.url().is_sqlite()),
        });
        set_leader_metric(db.url().is_sqlite());
        if let DbUrl::Postgres(url) = db.url() {
            let (url, weak, db) = (url.clone(), Arc::downgrade(&cluster), db.clone());
            std::thread::Builder::new()
                .name("huddle-cluster".into())
                .spawn(move || run(&url, &weak, &db))
                .ok();
        }
        cluster
    }

    /// This process's name in `job_runs` and the logs: its pid and a random suffix.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Whether this node holds the leader's lock now.
    pub fn is_leader(&self) -> bool {
        self.leading.load(Ordering::SeqCst)
    }

    fn set_leading(&self, leading: bool) {
        if self.leading.swap(leading, Ordering::SeqCst) != leading {
            set_leader_metric(leading);
            if leading {
                tracing::info!(node = %self.node, "this node leads: it runs the background jobs");
            } else {
                tracing::warn!(node = %self.node, "this node no longer leads");
            }
        }
    }
}

fn set_leader_metric(leading: bool) {
    crate::metrics::metrics().leader.set(i64::from(leading));
}

/// The cluster connection's life: connect, `LISTEN`, then every [`TICK`] try to lead (or check
/// the lead) and hand on the notices; after a failure, stop leading and start over.
fn run(url: &str, cluster: &Weak<Cluster>, db: &Db) {
    while cluster.strong_count() > 0 {
        if let Err(e) = session(url, cluster, db) {
            tracing::warn!(error = %e, "the cluster connection failed; reconnecting");
        }
        if let Some(c) = cluster.upgrade() {
            c.set_leading(false);
        }
        std::thread::sleep(TICK);
    }
}

fn session(url: &str, cluster: &Weak<Cluster>, db: &Db) -> Result<(), postgres::Error> {
    use postgres::fallible_iterator::FallibleIterator;
    let mut config: postgres::Config = url.parse()?;
    // A partition is noticed by this side well before the server gives the lock away (its
    // keepalives, docs/operations.md): a leader stops leading when its connection stalls.
    config
        .connect_timeout(STALL)
        .tcp_user_timeout(STALL)
        .keepalives_idle(STALL)
        .keepalives_interval(TICK)
        .keepalives_retries(3);
    let mut client = config.connect(postgres::NoTls)?;
    client.batch_execute(&format!("LISTEN {}", crate::db::CHANGES_CHANNEL))?;
    // Whatever changed while this node was not listening.
    db.entities_changed_elsewhere();
    loop {
        let Some(c) = cluster.upgrade() else {
            return Ok(());
        };
        if c.is_leader() {
            client.batch_execute("SELECT 1")?;
        } else {
            let row = client.query_one("SELECT pg_try_advisory_lock($1)", &[&LEADER_LOCK])?;
            c.set_leading(row.get(0));
        }
        drop(c);
        // Wait a tick for a notice; then take those already received, and count them once.
        let mut notices = client.notifications();
        if notices.timeout_iter(TICK).next()?.is_some() {
            let mut rest = notices.iter();
            while rest.next()?.is_some() {}
            db.entities_changed_elsewhere();
        }
    }
}

/// The right to refit one organisation, held until dropped; at most one exists per
/// organisation at a time.
///
/// On PostgreSQL it is an advisory lock held by a session of its own, so it spans every node,
/// and PostgreSQL releases it when the session ends, even when its node is killed. Two
/// organisations whose ids hash alike share a lock: their refits then take turns, which costs
/// time, not correctness. On SQLite the one process is the only node: a set in memory, keyed
/// by the database file.
pub struct RefitClaim {
    _held: Held,
}

/// What is held for its drop.
enum Held {
    /// The session holding the lock: closing it releases the lock.
    Postgres {
        _session: Box<postgres::Client>,
    },
    Sqlite {
        _entry: SqliteClaim,
    },
}

/// The organisations being refitted on this process, by SQLite file.
static SQLITE_CLAIMS: Mutex<Option<HashSet<(PathBuf, String)>>> = Mutex::new(None);

struct SqliteClaim(PathBuf, String);

impl Drop for SqliteClaim {
    fn drop(&mut self) {
        let mut claims = SQLITE_CLAIMS.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(set) = claims.as_mut() {
            set.remove(&(std::mem::take(&mut self.0), std::mem::take(&mut self.1)));
        }
    }
}

/// Claims the refit of `org` (blocking): None while another refit of it runs, on any node.
pub fn claim_refit(db: &Db, org: &str) -> anyhow::Result<Option<RefitClaim>> {
    let held = match db.url() {
        DbUrl::Postgres(url) => {
            let mut config: postgres::Config = url.parse()?;
            config.connect_timeout(STALL);
            let mut client = config.connect(postgres::NoTls)?;
            let row = client.query_one(
                "SELECT pg_try_advisory_lock($1, hashtext($2))",
                &[&REFIT_LOCKS, &org],
            )?;
            row.get::<_, bool>(0).then(|| Held::Postgres {
                _session: Box::new(client),
            })
        }
        DbUrl::Sqlite(path) => {
            let file = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
            let mut claims = SQLITE_CLAIMS.lock().unwrap_or_else(|p| p.into_inner());
            claims
                .get_or_insert_with(HashSet::new)
                .insert((file.clone(), org.to_owned()))
                .then(|| Held::Sqlite {
                    _entry: SqliteClaim(file, org.to_owned()),
                })
        }
    };
    Ok(held.map(|held| RefitClaim { _held: held }))
}
