//! Knowledge tracing: Bayesian Knowledge Tracing (BKT) per student and skill.
//!
//! Pure Rust over plain data: no HTTP, no SQL, no I/O except the CSV loader of the
//! `huddle kt` tool. How it works, in plain words and in detail: docs/knowledge-tracing.md.
//!
//! # The online path (what the store calls, in the ingest transaction)
//!
//! ```text
//! model  = SkillModel for the skill (fitted, or SkillModel::default() for a new skill)
//! state  = the stored SkillState, or SkillState::new(&model) for a new student
//! state.apply(&model, &Observation { correct, at, session: session_key(id), excluded })
//! shown  = state.estimate(&Rules::default())   // estimate, low, high, status, ...
//! ```
//! After a refit or a late event, `SkillState::replay(&model, &observations)` rebuilds the
//! state from the events; it equals applying them one by one.
//!
//! The types involved: [`SkillModel`] (parameters + [`Spread`], store it per skill as JSON),
//! [`SkillState`] (store it per student × skill as JSON, ~100 bytes), [`Observation`],
//! [`Rules`] (thresholds, `Default`), [`Estimate`] (what the overview shows per skill:
//! estimate, low, high, status, confidence, needs_review, opportunities).
//! Refitting: build a [`Dataset`] with [`load::DatasetBuilder`] from the opportunities
//! (student id, skill id, correct, time), call [`fit_dataset`] with [`FitOptions::default()`],
//! keep each [`SkillFit::model`]; [`refit`] does it for the service (the evidence rules on each
//! history, enough students per skill, the guard against a worse model).
//!
//! # Evidence rules (applied by the caller when it turns events into observations)
//!
//! 1. **One opportunity per student per item**: only the student's *first* attempt at an
//!    item (`attempt == 1`, or the earliest event for that student and item) is an
//!    opportunity. Retries after feedback show what the feedback taught, not what the
//!    student knew.
//! 2. **Skipped counts as incorrect**, and so does a first attempt on which the student
//!    took the bottom-out hint (the hint that gives the answer away): see
//!    [`observation_outcome`].
//! 3. **Rapid guesses are excluded**: when the behaviour-signals module marks a first
//!    attempt as a rapid guess (or part of a gaming episode), the observation is sent with
//!    `excluded: true`. It is counted (`opportunities`, `excluded`) but does not move
//!    P(known) and does not count towards mastery.
//! 4. Observations are applied in time order (`occurred_at`, then arrival). A late event
//!    is handled by replaying the student's observations for that skill.
//! 5. `session` is [`session_key`] of the event's `session_id`, or, without one, of a
//!    session derived from 30 minutes of inactivity of the student on the skill.
//!
//! [`evidence`] applies these rules one event at a time ([`evidence::Track::step`]); the
//! store's online path and its replays both go through it.

pub mod confidence;
pub mod cv;
pub mod evidence;
pub mod fit;
pub mod guard;
pub mod load;
pub mod params;
pub mod refit;
pub mod state;
mod trie;

pub use confidence::{Confidence, Spread};

use crate::ingest::Outcome;
pub use cv::{auc, cross_validate, CvResult};
pub use fit::{fit_dataset, Dataset, FitOptions, SkillData, SkillFit, SkillModel};
pub use params::Params;
pub use refit::RefitOptions;
pub use state::{status_for, Estimate, Observation, Rules, SkillState, Status};

/// Whether a first attempt counts as correct evidence: a skip is incorrect, and a bottom-out
/// hint makes any outcome incorrect, since the answer was given away.
pub fn observation_outcome(outcome: Outcome, hint_bottom_out: bool) -> bool {
    outcome == Outcome::Correct && !hint_bottom_out
}

/// A stable 64-bit key for a session id (FNV-1a), stored in [`SkillState`] to tell
/// sessions apart without storing the ids.
pub fn session_key(session_id: &str) -> u64 {
    fit::stable_hash(session_id)
}

#[cfg(test)]
mod tests;
