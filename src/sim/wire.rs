//! The JSON shapes the simulator writes. `PracticeEvent` is the contract's practice event;
//! the ingest module may later provide its own type and this one can give way to it.

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};
use uuid::Uuid;

use crate::kt::Params;

fn rfc3339<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::util::rfc3339_of(t))
}

/// One line of `events.jsonl`: the contract's practice event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PracticeEvent<'a> {
    pub event_id: Uuid,
    #[serde(serialize_with = "rfc3339")]
    pub occurred_at: DateTime<Utc>,
    pub student_id: &'a str,
    pub class_id: &'a str,
    pub skill_id: &'a str,
    pub item_id: &'a str,
    pub outcome: &'a str,
    pub attempt: u32,
    pub response_ms: u32,
    pub hints_used: u32,
    pub hint_bottom_out: bool,
    pub session_id: &'a str,
    pub skill_name: &'a str,
    pub tool: &'a str,
    /// The student's answer as given (none for a skip).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<&'a str>,
}

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
