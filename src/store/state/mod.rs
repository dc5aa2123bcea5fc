//! The knowledge-tracing state derived from the events, with the behaviour signals' detector
//! states and flags: kept up to date in the ingest transaction (`apply_in`), rebuilt from the
//! events ([`rebuild`]), and recomputed after the skills' models are refitted ([`refit`]). The
//! rules are `kt`'s and `signals`'; this module loads, applies and saves, in bulk: a batch
//! costs a handful of statements whatever its size.
//!
//! - `apply`: the ingest's step (load, who is replayed, apply: pure, save).
//! - `replay`: replaying students from their events (pure), and rebuilds.
//! - `step`: one event through knowledge tracing and the detectors, shared by both.
//! - `refit`: refits in the service (the fitting itself is `kt::refit`).
//! - `reads`: a student's skills, every state of an organisation.
//! - `sql`: the statements, for each backend's connection.
//!
//! Late events: an event earlier than the latest one applied to its student × skill cannot be
//! applied on top of the state; that student × skill is replayed from its events instead, so
//! the result equals in-order arrival.
//!
//! Concurrency: on PostgreSQL, the transaction takes an advisory lock per student of the batch
//! (sorted, so two nodes never wait on each other in a cycle) before it reads any state, so two
//! nodes never update one student's state at once. SQLite has a single writer already.

mod apply;
mod reads;
mod refit;
mod replay;
mod sql;
mod step;

pub(crate) use apply::apply_in;
pub use reads::{all_states, orgs, student_skills, StudentSkill};
pub use refit::{
    finish_interrupted_refits, fit_models, fit_models_with, refit, refit_db, Fitted, RefitSummary,
    RefittedSkill,
};
pub use replay::{rebuild, rebuild_students};
pub use sql::StateRow;
pub(crate) use sql::StateSql;

/// Students rebuilt per transaction: keeps each write short, so ingest goes on in between.
const REBUILD_CHUNK: usize = 200;
