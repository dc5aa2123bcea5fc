//! Insights: from the maintained state of a class (estimates, flags, teachers' decisions) to
//! what a teacher reads before the lesson — plain sentences ranked by usefulness
//! ([`class::insights`]), small groups ([`groups::suggest`]), the review queue
//! ([`reviews::queue`]) and a student's estimate over time ([`history`]).
//!
//! Pure Rust over the plain structs below: no SQL, no HTTP. The store fills a [`ClassData`];
//! the handlers serialise what comes out. How the sentences are chosen: docs/insights.md.

pub mod class;
pub mod groups;
pub mod history;
pub mod present;
pub mod reviews;
pub mod student;
pub mod wording;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::kt::Estimate;

pub use class::{Insight, InsightKind};
pub use groups::{GroupBounds, Suggestions};
pub use reviews::{ReviewItem, ReviewKind, ReviewStatus};

/// Milliseconds in a day: recency is measured in days.
pub use crate::util::DAY_MS;

/// A skill as sentences name it.
#[derive(Debug, Clone, PartialEq)]
pub struct SkillInfo {
    pub skill_id: String,
    /// The name a tool sent ("Adding fractions with unlike denominators"), if any.
    pub name: Option<String>,
    pub domain: String,
}

/// A student as sentences name them.
#[derive(Debug, Clone, PartialEq)]
pub struct StudentInfo {
    pub student_id: String,
    /// What sentences call the student (the roster's name once there is one).
    pub name: String,
}

/// One student × skill of the maintained state, as the insights need it.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub student_id: String,
    pub skill_id: String,
    /// The per-skill object of the overview (the kt module's rules).
    pub estimate: Estimate,
    /// Opportunities that count as evidence, and the correct ones among them.
    pub evidence: u32,
    pub correct: u32,
    /// Rapid guesses left out of the evidence (behaviour signals).
    pub excluded: u32,
    /// The latest event of the student on the skill (ms since the epoch).
    pub last_at: i64,
    /// The latest day with a correct answer (days since 1970-01-01), if any.
    pub last_correct_day: Option<i32>,
}

/// A behaviour flag, as the insights read it. The detectors (`signals`) produce flags; the
/// store maps its rows onto this struct (`store::classes::class_flags`).
#[derive(Debug, Clone, PartialEq)]
pub struct FlagView {
    pub student_id: String,
    /// rapid_guessing, hint_abuse, gaming, rushing, giving_up, idle, wheel_spinning,
    /// shared_account (others are worded generically).
    pub kind: String,
    pub skill_id: Option<String>,
    /// When the behaviour started (ms since the epoch).
    pub since: i64,
    /// When it ended, if it has.
    pub ended_at: Option<i64>,
    /// The detector's plain sentence about its evidence.
    pub sentence: String,
    /// "8 of the last 10 answers": how many answers showed the behaviour, out of how many.
    pub count: Option<u32>,
    pub of: Option<u32>,
    /// The time threshold behind rushing or rapid guessing, in seconds ("under 2 seconds").
    pub seconds: Option<u32>,
}

/// A teacher's decision: confirm or dismiss a call; `done` marks an insight acted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Confirm,
    Dismiss,
    /// The teacher did what an insight asked (insights only; it feeds the follow-up).
    Done,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Confirm => "confirm",
            Decision::Dismiss => "dismiss",
            Decision::Done => "done",
        }
    }

    pub fn parse(s: &str) -> Option<Decision> {
        match s {
            "confirm" => Some(Decision::Confirm),
            "dismiss" => Some(Decision::Dismiss),
            "done" => Some(Decision::Done),
            _ => None,
        }
    }

    /// Done and dismissed insights stay away until the evidence changes.
    pub fn silences(self) -> bool {
        matches!(self, Decision::Dismiss | Decision::Done)
    }
}

/// A stored decision (the latest one for its key).
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionRecord {
    pub student_id: String,
    /// "" when the decision is not about one skill.
    pub skill_id: String,
    /// `estimate`, `flag:<kind>` or `insight:<kind>`.
    pub kind: String,
    pub decision: Decision,
    pub note: Option<String>,
    /// The evidence when decided: opportunities for estimates and insights, the decision
    /// time (ms) for flags.
    pub marker: i64,
    pub decided_by: String,
    pub decided_at: i64,
    /// The insight it was taken on; None for a decision on a review item.
    pub insight_id: Option<String>,
}

/// What a decision is keyed by, and the evidence marker it is compared with.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Basis {
    pub student_id: String,
    pub skill_id: String,
    pub kind: String,
    pub marker: i64,
}

/// The latest decisions of a class, by key.
#[derive(Debug, Clone, Default)]
pub struct Decisions {
    latest: HashMap<(String, String, String), DecisionRecord>,
    /// When each decision on a review item was taken (not those taken on an insight): the
    /// day's review limit counts them.
    reviewed_at: Vec<i64>,
}

impl Decisions {
    /// From stored decisions in any order: the latest per key wins (ties: the later in the list).
    pub fn new(records: impl IntoIterator<Item = DecisionRecord>) -> Self {
        let mut latest: HashMap<(String, String, String), DecisionRecord> = HashMap::new();
        let mut reviewed_at = Vec::new();
        for r in records {
            let on_review_item = r.insight_id.is_none() && reviews::parse_kind(&r.kind).is_some();
            if on_review_item {
                reviewed_at.push(r.decided_at);
            }
            let key = (r.student_id.clone(), r.skill_id.clone(), r.kind.clone());
            match latest.get(&key) {
                Some(old) if old.decided_at > r.decided_at => {}
                _ => {
                    latest.insert(key, r);
                }
            }
        }
        Decisions {
            latest,
            reviewed_at,
        }
    }

    /// Decisions on review items taken at or after `since` (ms), every one of them counted
    /// (a later decision on the same item included).
    pub fn reviewed_since(&self, since: i64) -> usize {
        self.reviewed_at.iter().filter(|&&at| at >= since).count()
    }

    /// Every latest decision, in no order.
    pub fn all(&self) -> impl Iterator<Item = &DecisionRecord> {
        self.latest.values()
    }

    /// The latest decision on a key, whatever the evidence since.
    pub fn latest(&self, student: &str, skill: &str, kind: &str) -> Option<&DecisionRecord> {
        self.latest
            .get(&(student.to_owned(), skill.to_owned(), kind.to_owned()))
    }

    /// The decision that still holds for an estimate or insight key: one taken when the
    /// evidence was `marker` (no new evidence since).
    pub fn holding(
        &self,
        student: &str,
        skill: &str,
        kind: &str,
        marker: i64,
    ) -> Option<&DecisionRecord> {
        self.latest(student, skill, kind)
            .filter(|d| d.marker == marker)
    }

    /// The decision that still holds for a flag that started at `since`: one taken after the
    /// flag started (a flag that starts after the decision is new evidence).
    pub fn holding_flag(
        &self,
        student: &str,
        skill: &str,
        kind: &str,
        since: i64,
    ) -> Option<&DecisionRecord> {
        self.latest(student, skill, kind)
            .filter(|d| d.marker >= since)
    }

    pub fn dismissed(&self, student: &str, skill: &str, kind: &str, marker: i64) -> bool {
        self.holding(student, skill, kind, marker)
            .is_some_and(|d| d.decision == Decision::Dismiss)
    }

    pub fn confirmed(&self, student: &str, skill: &str, kind: &str, marker: i64) -> bool {
        self.holding(student, skill, kind, marker)
            .is_some_and(|d| d.decision == Decision::Confirm)
    }
}

/// Everything the insights of one class are built from.
#[derive(Debug, Clone, Default)]
pub struct ClassData {
    pub class_id: String,
    /// The time of the read (ms since the epoch): recency is measured from it.
    pub now: i64,
    pub skills: Vec<SkillInfo>,
    /// Sorted by id.
    pub students: Vec<StudentInfo>,
    pub cells: Vec<Cell>,
    pub flags: Vec<FlagView>,
    pub decisions: Decisions,
    /// Recent help on a skill and what followed (for the follow-up insight); filled only where
    /// the insights are read (`store::attention::helps`), empty elsewhere.
    pub helps: Vec<crate::lesson::followup::Help>,
}

impl ClassData {
    /// The state of a student on a skill, if they practised it.
    pub fn cell(&self, student: &str, skill: &str) -> Option<&Cell> {
        self.cells
            .iter()
            .find(|c| c.student_id == student && c.skill_id == skill)
    }

    pub fn skill(&self, id: &str) -> Option<&SkillInfo> {
        self.skills.iter().find(|s| s.skill_id == id)
    }

    /// The name sentences use for a student (the id when the student is unknown).
    pub fn name_of(&self, student: &str) -> String {
        self.students
            .iter()
            .find(|s| s.student_id == student)
            .map_or_else(|| student.to_owned(), |s| s.name.clone())
    }

    /// The skill's name as a sentence uses it (see [`wording::skill_phrase`]).
    pub fn skill_phrase(&self, id: &str) -> String {
        match self.skill(id) {
            Some(s) => wording::skill_phrase(s.name.as_deref(), &s.skill_id),
            None => wording::skill_phrase(None, id),
        }
    }

    /// An estimate needs the teacher's review unless a decision on it still holds.
    pub fn needs_review(&self, cell: &Cell) -> bool {
        cell.estimate.needs_review
            && self
                .decisions
                .holding(
                    &cell.student_id,
                    &cell.skill_id,
                    reviews::ESTIMATE,
                    i64::from(cell.estimate.opportunities),
                )
                .is_none()
    }

    /// A teacher dismissed this estimate and nothing new has come in since.
    pub fn estimate_dismissed(&self, cell: &Cell) -> bool {
        self.decisions.dismissed(
            &cell.student_id,
            &cell.skill_id,
            reviews::ESTIMATE,
            i64::from(cell.estimate.opportunities),
        )
    }
}

/// A stable short id: FNV-1a (64 bits) of the parts, NUL-separated, in hex.
pub fn stable_id(prefix: &str, parts: &[&str]) -> String {
    format!("{prefix}-{:016x}", crate::util::stable_hash(parts))
}

#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
mod wording_check;
