//! The JSON shapes the simulator writes besides the practice events (`ingest::Event`, one line
//! of `events.jsonl` each): the ground truth behind them.

use serde::Serialize;
use uuid::Uuid;

use crate::kt::Params;

/// One line of `truth.jsonl`: one student on one skill.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TruthLine<'a> {
    /// `"skill"` (the other lines are `"day"`: [`DayLine`]).
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The student's behaviour profile (`diligent`, `rapid_guesser`, ...).
    pub profile: &'a str,
    pub student_id: &'a str,
    pub class_id: &'a str,
    pub skill_id: &'a str,
    /// The skill's true BKT parameters.
    pub params: Params,
    pub known_at_start: bool,
    /// One per opportunity (first attempt), in time order.
    pub steps: Vec<TruthStep>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TruthStep {
    pub event_id: Uuid,
    /// The answer as evidence: a skip or a bottom-out hint is incorrect.
    pub correct: bool,
    /// Known when answering.
    pub known_before: bool,
    /// Known at the next opportunity (after learning or forgetting).
    pub known_after: bool,
}

/// One line of `truth.jsonl` per student and school day: what the student did that day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayLine<'a> {
    /// `"day"`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub student_id: &'a str,
    pub class_id: &'a str,
    pub date: chrono::NaiveDate,
    pub profile: &'a str,
    /// Whether the student practised that day.
    pub practised: bool,
    /// The flags that day's behaviour should raise: `rapid_guessing` (at least 3 answers far
    /// too fast to have been read), `gaming` (guess-and-check on at least 2 items),
    /// `hint_abuse` (clicked through the hints on at least 2 items), `giving_up` (at least 2
    /// skips, or left the session after errors), `idle` (3 school days or more without
    /// practice).
    pub behaviours: Vec<&'static str>,
}
