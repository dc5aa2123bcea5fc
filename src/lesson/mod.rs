//! The lesson as it happens: is the class practising (the sitting), each student's state in it,
//! whom the teacher has attended to, and what followed the teacher's help. Plain Rust over plain
//! data, so every rule is tested without a database; the rules in words: docs/lesson.md.

pub mod attention;
pub mod followup;
pub mod live;
pub mod sitting;
pub mod state;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

pub use live::LiveClass;
pub use sitting::{latest_sitting, Beat, Sitting, SittingScan};
pub use state::{student_now, Answer, State, StudentFold, StudentNow};

/// How far back the sitting is looked for (ms): a practice block is shorter than this. The Now
/// view reads the answers and check-ins since then.
pub const LOOKBACK_MS: i64 = 4 * 3_600_000;

/// Every threshold of the lesson rules, with the defaults documented in docs/lesson.md.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rules {
    /// A class is in a sitting while at least this many students answered ...
    pub sitting_students: usize,
    /// ... within this window (ms).
    pub sitting_window_ms: i64,
    /// A student with no answer for this long while the class is in a sitting is idle (ms).
    pub idle_after_ms: i64,
    /// Needs a person: `stuck_wrong` of the last `stuck_of` first tries on the current skill
    /// wrong (rapid guesses and skips left out) ...
    pub stuck_wrong: usize,
    pub stuck_of: usize,
    /// ... or `spin_tries` first tries on the current skill in the sitting without
    /// `progress_run` right in a row.
    pub spin_tries: usize,
    pub progress_run: usize,
    /// Guessing and hints look at the last `recent` answers: at least `guesses_min` rapid
    /// guesses, or at least `hints_min` hints clicked through to the answer (faster than
    /// `hint_ms_per_hint` per hint).
    pub recent: usize,
    pub guesses_min: usize,
    pub hints_min: usize,
    pub hint_ms_per_hint: i32,
    /// Giving up: at least `skips_min` skips among the last `skips_of` answers.
    pub skips_min: usize,
    pub skips_of: usize,
    /// Doing well: `well_right` of the last `well_of` first tries on the current skill right,
    /// without hints.
    pub well_right: usize,
    pub well_of: usize,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            sitting_students: 3,
            sitting_window_ms: 10 * 60_000,
            idle_after_ms: 3 * 60_000,
            stuck_wrong: 3,
            stuck_of: 4,
            spin_tries: 10,
            progress_run: 3,
            recent: 5,
            guesses_min: 3,
            hints_min: 2,
            hint_ms_per_hint: 4_000,
            skips_min: 2,
            skips_of: 4,
            well_right: 4,
            well_of: 5,
        }
    }
}

/// What the Now view is computed from: the class's recent answers and check-ins.
pub struct ClassAnswers {
    /// Every enrolled student (those without answers are "not here").
    pub students: Vec<String>,
    /// Answers of enrolled students in this class, by student, each list sorted by time (and
    /// `seq` at the same time).
    pub answers: HashMap<String, Vec<Answer>>,
    /// The latest check-in time per student.
    pub checkins: HashMap<String, i64>,
}

/// The class now: its sitting (if any) and every student's state in it, in the Now page's order.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassNow {
    pub sitting: Option<Sitting>,
    pub students: Vec<(String, StudentNow)>,
}

/// Works out the sitting and each student's state in it at `now`.
pub fn class_now(data: &ClassAnswers, now: i64, rules: &Rules) -> ClassNow {
    let mut beats: Vec<Beat> = data
        .answers
        .iter()
        .flat_map(|(s, list)| {
            list.iter().map(move |a| Beat {
                at: a.at,
                student_id: s,
            })
        })
        .collect();
    beats.sort_by_key(|b| b.at);
    let sitting = latest_sitting(&beats, now, rules.sitting_students, rules.sitting_window_ms);
    let mut students: Vec<(String, StudentNow)> = data
        .students
        .iter()
        .map(|id| {
            let answers: Vec<Answer> = match (&sitting, data.answers.get(id)) {
                (Some(s), Some(list)) => {
                    list.iter().filter(|a| s.contains(a.at)).cloned().collect()
                }
                _ => Vec::new(),
            };
            let checked = data
                .checkins
                .get(id)
                .copied()
                .filter(|&at| sitting.is_some_and(|s| s.contains(at)));
            let active = sitting.is_some_and(|s| s.is_active());
            (
                id.clone(),
                student_now(&answers, checked, active, now, rules),
            )
        })
        .collect();
    in_need_order(&mut students);
    ClassNow { sitting, students }
}

/// Most in need first; within a state, the longest waiting first.
fn in_need_order(students: &mut [(String, StudentNow)]) {
    students.sort_by(|a, b| (a.1.state, a.1.since, &a.0).cmp(&(b.1.state, b.1.since, &b.0)));
}

#[cfg(test)]
mod tests;
