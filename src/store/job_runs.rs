//! `job_runs`: one row per organisation per run of a background job (`jobs`), with the node that
//! ran it. The leader reads when a job last started to know when it is next due, so a node that
//! takes the lead over keeps the schedule of the one before it.

use diesel::prelude::*;

use crate::db::schema::job_runs;
use crate::db::DbConnection;

/// A stored run.
#[derive(Queryable, Selectable, Debug, Clone, PartialEq, Eq)]
#[diesel(table_name = job_runs)]
pub struct JobRun {
    pub org_id: String,
    pub run_id: String,
    pub job: String,
    pub node: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    /// `ok`, `failed`, `skipped` (a refit while another refit of the organisation ran) or
    /// `interrupted` (its node stopped mid-way); None while running.
    pub result: Option<String>,
}

/// Records that `node` starts `job` for `org`; gives back the run's id.
pub fn start(
    conn: &mut DbConnection,
    org: &str,
    job: &str,
    node: &str,
    now: i64,
) -> QueryResult<String> {
    let run_id = uuid::Uuid::new_v4().to_string();
    diesel::insert_into(job_runs::table)
        .values((
            job_runs::org_id.eq(org),
            job_runs::run_id.eq(&run_id),
            job_runs::job.eq(job),
            job_runs::node.eq(node),
            job_runs::started_at.eq(now),
        ))
        .execute(conn)?;
    Ok(run_id)
}

/// Records the end of a run and how it went (`ok`, `failed`, `skipped`).
pub fn finish(
    conn: &mut DbConnection,
    org: &str,
    run_id: &str,
    result: &str,
    now: i64,
) -> QueryResult<()> {
    diesel::update(
        job_runs::table
            .filter(job_runs::org_id.eq(org))
            .filter(job_runs::run_id.eq(run_id)),
    )
    .set((job_runs::finished_at.eq(now), job_runs::result.eq(result)))
    .execute(conn)?;
    Ok(())
}

/// Closes the runs of `job` that another node started and never finished, as `interrupted`;
/// gives back how many. Called by a node that has just taken the lead: only the leader runs
/// jobs, so such a run's node died (or stopped leading) mid-way.
pub fn close_interrupted(
    conn: &mut DbConnection,
    job: &str,
    node: &str,
    now: i64,
) -> QueryResult<usize> {
    diesel::update(
        job_runs::table
            .filter(job_runs::job.eq(job))
            .filter(job_runs::finished_at.is_null())
            .filter(job_runs::node.ne(node)),
    )
    .set((
        job_runs::finished_at.eq(now),
        job_runs::result.eq("interrupted"),
    ))
    .execute(conn)
}

/// When `job` last started, for any organisation, on any node.
pub fn last_started(conn: &mut DbConnection, job: &str) -> QueryResult<Option<i64>> {
    job_runs::table
        .filter(job_runs::job.eq(job))
        .select(diesel::dsl::max(job_runs::started_at))
        .first(conn)
}

/// Forgets runs that started before `before`; gives back how many.
pub fn prune(conn: &mut DbConnection, before: i64) -> QueryResult<usize> {
    diesel::delete(job_runs::table.filter(job_runs::started_at.lt(before))).execute(conn)
}

/// Every run, in the order they started (tests and audits).
pub fn all(conn: &mut DbConnection) -> QueryResult<Vec<JobRun>> {
    job_runs::table
        .order((job_runs::started_at, job_runs::run_id))
        .select(JobRun::as_select())
        .load(conn)
}
