//! The background jobs: the refit of the knowledge-tracing models and the retention purge.
//!
//! Only the leading node runs them (`cluster`), one after the other, each organisation's run
//! recorded in `job_runs` with the node that ran it. A job is due `every` after it last started
//! on any node, so a node that takes the lead over keeps the schedule; a job that has never run
//! is due `first_after` the node started leading (the refit after a period, the purge at once).
//! A run that a node's death cut short (`job_runs` row never finished) is closed as
//! `interrupted` by the next leader, which runs the job again at once: a purge resumes where
//! it stopped rather than a period later.
//! The leader checks it still leads before each organisation, so when it stops leading it
//! finishes at most the organisation it is on; both jobs are idempotent (a refit recomputes
//! from the events, a purge deletes what is past the cut), so even that overlap costs work,
//! not correctness. A refit also takes the organisation's [`RefitClaim`]: when an
//! administrator's refit (or one still running on a node that stopped leading) holds it, the
//! scheduled one skips that organisation (`job_runs.result` = `skipped`) until the next time.
//!
//! [`RefitClaim`]: crate::cluster::RefitClaim

use std::sync::Arc;
use std::time::Duration;

use crate::cluster::Cluster;
use crate::db::{to_millis, Changes, Db};
use crate::kt::RefitOptions;
use crate::store::job_runs;

/// Runs are kept this long in `job_runs`.
const KEEP_RUNS: Duration = Duration::from_secs(90 * 86_400);
/// Events deleted per transaction by the purge, so ingest goes on.
const PURGE_CHUNK: i64 = 5_000;

/// One background job and its period.
// A handful of jobs per process, copied once a tick: the refit's settings need no box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Copy)]
pub enum Job {
    /// Refits every organisation's models, then recomputes the refitted skills' states.
    Refit {
        every: Duration,
        opts: RefitOptions,
        /// The behaviour signals the replays run (and whose rapid guesses are no evidence).
        signals: crate::signals::Settings,
    },
    /// Deletes the events that occurred more than `days` days ago.
    Retention { days: u32, every: Duration },
}

impl Job {
    pub fn name(&self) -> &'static str {
        match self {
            Job::Refit { .. } => "refit",
            Job::Retention { .. } => "retention",
        }
    }

    fn every(&self) -> Duration {
        match self {
            Job::Refit { every, .. } | Job::Retention { every, .. } => *every,
        }
    }

    /// How long after a node starts leading a job that has never run is due.
    fn first_after(&self) -> Duration {
        match self {
            Job::Refit { every, .. } => *every,
            Job::Retention { .. } => Duration::ZERO,
        }
    }

    /// Runs the job for one organisation (blocking).
    fn run_org(&self, db: &Db, org: &str) -> anyhow::Result<Ran> {
        match self {
            Job::Refit { opts, signals, .. } => {
                let Some(_claim) = crate::cluster::claim_refit(db, org)? else {
                    tracing::info!(org, "background refit skipped: {}", REFIT_BUSY);
                    return Ok(Ran::Skipped);
                };
                let started = std::time::Instant::now();
                let done = crate::store::state::refit_db(db, org, opts, signals);
                let m = crate::metrics::metrics();
                m.refit_seconds.observe(started.elapsed().as_secs_f64());
                m.refit_runs
                    .with_label_values(&[if done.is_ok() { "ok" } else { "failed" }])
                    .inc();
                let s = done?;
                tracing::info!(
                    org = %s.org,
                    skills = s.skills.len(),
                    states = s.states_written,
                    seconds = s.seconds,
                    "background refit"
                );
            }
            Job::Retention { days, .. } => {
                let n = purge_org(db, org, *days)?;
                tracing::info!(org, events = n, days, "retention purge");
            }
        }
        Ok(Ran::Done)
    }
}

/// How one organisation's run ended, when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ran {
    Done,
    /// Another refit of the organisation held its claim.
    Skipped,
}

/// Why a refit was refused or skipped.
pub const REFIT_BUSY: &str =
    "a refit of this organisation is already running (on this node or another); \
     ask again when it has finished";

/// Refits `org` unless another refit of it is running on any node (blocking): None then.
/// Every refit the server starts goes through here or takes the claim itself.
pub fn refit_exclusive(
    db: &Db,
    org: &str,
    opts: &RefitOptions,
    signals: &crate::signals::Settings,
) -> anyhow::Result<Option<crate::store::state::RefitSummary>> {
    let Some(_claim) = crate::cluster::claim_refit(db, org)? else {
        return Ok(None);
    };
    crate::store::state::refit_db(db, org, opts, signals).map(Some)
}

/// Runs `jobs` on this node whenever it leads, each when due. The task ends with the server's
/// runtime.
pub fn spawn(db: Db, cluster: Arc<Cluster>, jobs: Vec<Job>) {
    if jobs.is_empty() {
        return;
    }
    actix_web::rt::spawn(async move {
        let mut due: Vec<Option<i64>> = vec![None; jobs.len()];
        let mut leading_since = None;
        loop {
            actix_web::rt::time::sleep(crate::cluster::TICK).await;
            if !cluster.is_leader() {
                // Another node may run them meanwhile: read the schedule again when leading.
                due.fill(None);
                leading_since = None;
                continue;
            }
            let since = *leading_since.get_or_insert_with(now);
            for (job, due) in jobs.iter().zip(due.iter_mut()) {
                let (db2, job2, cluster2) = (db.clone(), *job, cluster.clone());
                let known = *due;
                let next = crate::db::blocking(move || {
                    let next = match known {
                        Some(at) => at,
                        None => next_due(&db2, &job2, cluster2.node(), since)?,
                    };
                    if now() < next {
                        return Ok(next);
                    }
                    let started = now();
                    run(&db2, &cluster2, &job2)?;
                    Ok(started.saturating_add(millis(job2.every())))
                })
                .await;
                match next {
                    Ok(at) => *due = Some(at),
                    Err(e) => {
                        tracing::error!(error = format!("{e:#}"), job = job.name(), "job failed");
                        *due = None;
                    }
                }
            }
        }
    });
}

/// When `job` is next due: at once if a run of it was cut short (its node killed mid-way: a
/// purge left half done, a refit's models not all fitted), else `every` after it last started
/// on any node, or `first_after` the time this node started leading if it never ran.
fn next_due(db: &Db, job: &Job, node: &str, leading_since: i64) -> anyhow::Result<i64> {
    let interrupted = db.write_blocking(Changes::Records, |conn| {
        Ok(job_runs::close_interrupted(conn, job.name(), node, now())?)
    })?;
    if interrupted > 0 {
        tracing::info!(
            job = job.name(),
            runs = interrupted,
            "a run was cut short: it runs again now"
        );
        return Ok(leading_since);
    }
    let mut conn = db.conn()?;
    Ok(match job_runs::last_started(&mut conn, job.name())? {
        Some(at) => at.saturating_add(millis(job.every())),
        None => leading_since.saturating_add(millis(job.first_after())),
    })
}

/// One run of `job` over every organisation, each recorded in `job_runs`; stops early if this
/// node no longer leads.
fn run(db: &Db, cluster: &Cluster, job: &Job) -> anyhow::Result<()> {
    let orgs = {
        let mut conn = db.conn()?;
        crate::store::state::orgs(&mut conn)?
    };
    for org in orgs {
        if !cluster.is_leader() {
            tracing::warn!(job = job.name(), "no longer leading: the run stops here");
            break;
        }
        let run_id = db.write_blocking(Changes::Records, |conn| {
            Ok(job_runs::start(
                conn,
                &org,
                job.name(),
                cluster.node(),
                now(),
            )?)
        })?;
        let result = match job.run_org(db, &org) {
            Ok(Ran::Done) => "ok",
            Ok(Ran::Skipped) => "skipped",
            Err(e) => {
                tracing::error!(error = format!("{e:#}"), job = job.name(), "job failed");
                "failed"
            }
        };
        db.write_blocking(Changes::Records, |conn| {
            Ok(job_runs::finish(conn, &org, &run_id, result, now())?)
        })?;
    }
    db.write_blocking(Changes::Records, |conn| {
        Ok(job_runs::prune(conn, now() - millis(KEEP_RUNS))?)
    })?;
    Ok(())
}

/// Purges one organisation's events older than `days` days, in chunks so ingest goes on; gives
/// back how many. The estimates (derived state) are kept; `retention_marks` records the cut,
/// which the student page shows.
pub fn purge_org(db: &Db, org: &str, days: u32) -> anyhow::Result<usize> {
    let cutoff = crate::privacy::retention_cutoff(now(), days);
    let mut total = 0;
    loop {
        let n = db.write_blocking(Changes::Entities, |conn| {
            crate::store::privacy::purge_events_chunk(conn, org, cutoff, PURGE_CHUNK)
        })?;
        total += n;
        if n == 0 {
            return Ok(total);
        }
    }
}

/// Purges every organisation's events older than `days` days; gives back how many.
pub fn purge_all(db: &Db, days: u32) -> anyhow::Result<usize> {
    let orgs = {
        let mut conn = db.conn()?;
        crate::store::state::orgs(&mut conn)?
    };
    let mut total = 0;
    for org in orgs {
        total += purge_org(db, &org, days)?;
    }
    Ok(total)
}

fn now() -> i64 {
    to_millis(chrono::Utc::now())
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
