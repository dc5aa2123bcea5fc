//! Refit jobs: a refit started from the model-health report runs in the background and keeps
//! its status, progress and result in `refit_jobs`, so any node can answer how it goes.
//!
//! At most one job per organisation is queued or running (a partial unique index enforces it
//! even between nodes). A job whose server stopped mid-way would stay "running" for ever: one
//! not updated for [`STALE_MS`] is marked failed when the next job is asked for.

use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::refit_jobs;
use crate::db::{to_millis, Db, DbConnection};
use crate::kt::RefitOptions;
use crate::signals;
use crate::store::state::{self, RefitSummary};

/// A running job updates its row at least once per skill fitted and per 200 students
/// recomputed; silence this long means its server is gone.
pub const STALE_MS: i64 = 30 * 60 * 1000;

#[derive(Queryable, Selectable, Debug, Clone, PartialEq)]
#[diesel(table_name = refit_jobs)]
pub struct JobRow {
    pub job_id: String,
    pub org_id: String,
    pub status: String,
    pub phase: String,
    pub skills_done: i32,
    pub skills_total: i32,
    pub students_done: i32,
    pub students_total: i32,
    /// The `RefitSummary` as JSON, once done.
    pub result: Option<String>,
    pub error: Option<String>,
    pub requested_by: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub finished_at: Option<i64>,
}

impl JobRow {
    pub fn summary(&self) -> Option<RefitSummary> {
        self.result
            .as_deref()
            .and_then(|r| serde_json::from_str(r).ok())
    }

    pub fn is_active(&self) -> bool {
        self.status == "queued" || self.status == "running"
    }
}

/// What asking for a job gives.
#[derive(Debug)]
pub enum Started {
    New(JobRow),
    /// One is queued or running already.
    Busy(JobRow),
}

fn now() -> i64 {
    to_millis(chrono::Utc::now())
}

fn active(conn: &mut DbConnection, org: &str) -> QueryResult<Option<JobRow>> {
    refit_jobs::table
        .filter(refit_jobs::org_id.eq(org))
        .filter(refit_jobs::status.eq_any(["queued", "running"]))
        .select(JobRow::as_select())
        .first(conn)
        .optional()
}

/// Queues a refit of `org`, unless one is queued or running.
pub fn create(conn: &mut DbConnection, org: &str, requested_by: &str) -> anyhow::Result<Started> {
    let now = now();
    let job_id = uuid::Uuid::new_v4().to_string();
    let attempt = conn.transaction(|conn| {
        diesel::update(
            refit_jobs::table
                .filter(refit_jobs::org_id.eq(org))
                .filter(refit_jobs::status.eq_any(["queued", "running"]))
                .filter(refit_jobs::updated_at.lt(now - STALE_MS)),
        )
        .set((
            refit_jobs::status.eq("failed"),
            refit_jobs::error.eq("the server stopped before the refit finished"),
            refit_jobs::finished_at.eq(now),
            refit_jobs::updated_at.eq(now),
        ))
        .execute(conn)?;
        if let Some(job) = active(conn, org)? {
            return Ok(Started::Busy(job));
        }
        diesel::insert_into(refit_jobs::table)
            .values((
                refit_jobs::job_id.eq(&job_id),
                refit_jobs::org_id.eq(org),
                refit_jobs::status.eq("queued"),
                refit_jobs::phase.eq("queued"),
                refit_jobs::skills_done.eq(0),
                refit_jobs::skills_total.eq(0),
                refit_jobs::students_done.eq(0),
                refit_jobs::students_total.eq(0),
                refit_jobs::requested_by.eq(requested_by),
                refit_jobs::created_at.eq(now),
                refit_jobs::updated_at.eq(now),
            ))
            .execute(conn)?;
        let job = refit_jobs::table
            .find(&job_id)
            .select(JobRow::as_select())
            .first(conn)?;
        Ok::<_, diesel::result::Error>(Started::New(job))
    });
    match attempt {
        Ok(started) => Ok(started),
        // Another node queued one between our check and our insert (the unique index).
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => match active(conn, org)? {
            Some(job) => Ok(Started::Busy(job)),
            None => anyhow::bail!("a refit job was started and ended meanwhile; ask again"),
        },
        Err(e) => Err(e.into()),
    }
}

/// One job of the organisation.
pub fn get(conn: &mut DbConnection, org: &str, job_id: &str) -> anyhow::Result<Option<JobRow>> {
    Ok(refit_jobs::table
        .filter(refit_jobs::org_id.eq(org))
        .filter(refit_jobs::job_id.eq(job_id))
        .select(JobRow::as_select())
        .first(conn)
        .optional()?)
}

/// The organisation's latest job.
pub fn latest(conn: &mut DbConnection, org: &str) -> anyhow::Result<Option<JobRow>> {
    Ok(refit_jobs::table
        .filter(refit_jobs::org_id.eq(org))
        .order((refit_jobs::created_at.desc(), refit_jobs::job_id.desc()))
        .select(JobRow::as_select())
        .first(conn)
        .optional()?)
}

/// Progress of a running job.
#[derive(Debug, Clone, Copy, Default, Serialize)]
struct Progress {
    skills_done: usize,
    skills_total: usize,
    students_done: usize,
    students_total: usize,
}

fn set_progress(db: &Db, job_id: &str, phase: &str, p: Progress) -> anyhow::Result<()> {
    let n = |x: usize| i32::try_from(x).unwrap_or(i32::MAX);
    db.write_blocking(crate::db::Changes::Records, |conn| {
        diesel::update(refit_jobs::table.find(job_id))
            .set((
                refit_jobs::status.eq("running"),
                refit_jobs::phase.eq(phase),
                refit_jobs::skills_done.eq(n(p.skills_done)),
                refit_jobs::skills_total.eq(n(p.skills_total)),
                refit_jobs::students_done.eq(n(p.students_done)),
                refit_jobs::students_total.eq(n(p.students_total)),
                refit_jobs::updated_at.eq(now()),
            ))
            .execute(conn)?;
        Ok(())
    })
}

fn finish(db: &Db, job_id: &str, outcome: &anyhow::Result<RefitSummary>) -> anyhow::Result<()> {
    let now = now();
    db.write_blocking(crate::db::Changes::Records, |conn| {
        let target = refit_jobs::table.find(job_id);
        match outcome {
            Ok(summary) => diesel::update(target)
                .set((
                    refit_jobs::status.eq("done"),
                    refit_jobs::phase.eq("done"),
                    refit_jobs::result.eq(serde_json::to_string(summary).ok()),
                    refit_jobs::updated_at.eq(now),
                    refit_jobs::finished_at.eq(now),
                ))
                .execute(conn)?,
            Err(e) => diesel::update(target)
                .set((
                    refit_jobs::status.eq("failed"),
                    refit_jobs::error.eq(format!("{e:#}")),
                    refit_jobs::updated_at.eq(now),
                    refit_jobs::finished_at.eq(now),
                ))
                .execute(conn)?,
        };
        Ok(())
    })
}

/// Runs a queued job to its end (blocking: call it off the async workers): fails at once while
/// another refit of the organisation runs (`cluster::RefitClaim`); otherwise the same steps as
/// [`state::refit_db`], recording progress after each skill fitted and each chunk of students
/// recomputed, then the result or the error.
pub fn run(
    db: &Db,
    org: &str,
    job_id: &str,
    opts: &RefitOptions,
    sig: &signals::Settings,
) -> anyhow::Result<()> {
    let outcome = match crate::cluster::claim_refit(db, org) {
        Ok(Some(_claim)) => run_steps(db, org, job_id, opts, sig),
        Ok(None) => Err(anyhow::anyhow!(crate::jobs::REFIT_BUSY)),
        Err(e) => Err(e),
    };
    if let Err(e) = &outcome {
        tracing::error!(error = format!("{e:#}"), job_id, "refit job failed");
    }
    finish(db, job_id, &outcome)
}

fn run_steps(
    db: &Db,
    org: &str,
    job_id: &str,
    opts: &RefitOptions,
    sig: &signals::Settings,
) -> anyhow::Result<RefitSummary> {
    let mut p = Progress::default();
    set_progress(db, job_id, "gathering", p)?;
    let fitted = {
        let mut conn = db.conn()?;
        let mut failed = None;
        let fitted = state::fit_models_with(&mut conn, org, opts, sig, &mut |done, total| {
            p.skills_done = done;
            p.skills_total = total;
            if let Err(e) = set_progress(db, job_id, "fitting", p) {
                failed.get_or_insert(e);
            }
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        fitted
    };
    db.write_blocking(crate::db::Changes::Records, |conn| fitted.save_models(conn))?;
    p.students_total = fitted.students_to_recompute();
    set_progress(db, job_id, "recomputing", p)?;
    let mut written = 0;
    for chunk in fitted.student_chunks() {
        written += db.write_blocking(crate::db::Changes::Records, |conn| {
            state::rebuild_students(conn, org, &chunk, sig)
        })?;
        p.students_done += chunk.len();
        set_progress(db, job_id, "recomputing", p)?;
    }
    db.write_blocking(crate::db::Changes::Records, |conn| fitted.states_done(conn))?;
    Ok(fitted.summary(written))
}
