//! The lesson as it happens: is the class practising (the sitting), each student's state in it,
//! whom the teacher has attended to, and what followed the teacher's help. Plain Rust over plain
//! data, so every rule is tested without a database; the rules in words: docs/lesson.md.

pub mod attention;
pub mod followup;
pub mod live;
pub mod sitting;
pub mod state;

use std::collections::HashMap;
use std::hash::Hash;

use serde::{Deserialize, Serialize};

pub use live::LiveClass;
pub use sitting::{latest_sitting, Sitting, SittingScan};
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
    let beats: Vec<(i64, &str)> = data
        .answers
        .iter()
        .flat_map(|(s, list)| list.iter().map(move |a| (a.at, s.as_str())))
        .collect();
    let mut class = ClassFold::new(sitting_of(beats, now, rules), &data.checkins, *rules);
    for (student, list) in &data.answers {
        for a in list {
            class.push(student, a);
        }
    }
    class.finish(&data.students, now)
}

/// The class's latest sitting at `now` (see [`latest_sitting`]), from each answer's time and
/// student in any order.
pub fn sitting_of<K: Clone + Eq + Hash + Ord>(
    mut beats: Vec<(i64, K)>,
    now: i64,
    rules: &Rules,
) -> Option<Sitting> {
    beats.sort_unstable();
    latest_sitting(beats, now, rules.sitting_students, rules.sitting_window_ms)
}

/// A class's sitting worked out student by student as its answers are read: one
/// [`StudentFold`] per student, not the answers, so the Now view costs the same for a sitting
/// of any length.
pub struct ClassFold {
    sitting: Option<Sitting>,
    /// Each student's latest check-in within the sitting.
    checkins: HashMap<String, i64>,
    folds: HashMap<String, StudentFold>,
    rules: Rules,
}

impl ClassFold {
    /// `checkins`: each student's latest check-in in the class (those outside the sitting are
    /// left out).
    pub fn new(sitting: Option<Sitting>, checkins: &HashMap<String, i64>, rules: Rules) -> Self {
        let checkins = checkins
            .iter()
            .filter(|(_, &at)| sitting.is_some_and(|s| s.contains(at)))
            .map(|(s, &at)| (s.clone(), at))
            .collect();
        ClassFold {
            sitting,
            checkins,
            folds: HashMap::new(),
            rules,
        }
    }

    /// Takes in one of `student`'s answers, each student's in (time, seq) order; answers outside
    /// the sitting are left out.
    pub fn push(&mut self, student: &str, answer: &Answer) {
        if !self.sitting.is_some_and(|s| s.contains(answer.at)) {
            return;
        }
        let fold = match self.folds.get_mut(student) {
            Some(fold) => fold,
            None => {
                let checked = self.checkins.get(student).copied();
                self.folds
                    .entry(student.to_owned())
                    .or_insert_with(|| StudentFold::new(checked))
            }
        };
        fold.push(answer, &self.rules);
    }

    /// Each of `students` now, in the Now page's order.
    pub fn finish(&self, students: &[String], now: i64) -> ClassNow {
        let active = self.sitting.is_some_and(|s| s.is_active());
        let absent = StudentFold::new(None);
        let mut out: Vec<(String, StudentNow)> = students
            .iter()
            .map(|id| {
                let fold = self.folds.get(id).unwrap_or(&absent);
                (id.clone(), fold.finish(active, now, &self.rules))
            })
            .collect();
        in_need_order(&mut out);
        ClassNow {
            sitting: self.sitting,
            students: out,
        }
    }
}

/// Most in need first; within a state, the longest waiting first.
fn in_need_order(students: &mut [(String, StudentNow)]) {
    students.sort_by(|a, b| (a.1.state, a.1.since, &a.0).cmp(&(b.1.state, b.1.since, &b.0)));
}

#[cfg(test)]
mod as_written;
#[cfg(test)]
mod tests;
