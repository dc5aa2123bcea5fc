//! The queries: appending events and the state derived from them, and the reads. SQL lives
//! here and in `db`; the rules live in the domain modules.

pub mod access;
pub mod attention;
pub mod audit;
pub mod checkins;
pub mod classes;
pub mod event_ids;
pub mod events;
pub mod flags;
pub mod history;
pub mod items;
pub mod job_runs;
pub mod plans;
pub mod predictions;
pub mod privacy;
pub mod refit_jobs;
pub mod reports;
pub mod reports_model;
pub mod reviews;
pub mod schools;
pub(crate) mod sqlite_values;
pub mod state;
pub mod users;
pub mod writer_memory;

/// One column of `rows`, for PostgreSQL statements that take column arrays (`unnest`).
pub(crate) fn column<'a, R, T>(rows: &'a [R], f: impl Fn(&'a R) -> T) -> Vec<T> {
    rows.iter().map(f).collect()
}
