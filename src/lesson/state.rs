//! Each student's one state in the current sitting, with the moment it began and a plain reason.
//!
//! The rules read only this sitting's answers; after the teacher checks in with a student, only
//! the answers since the check-in count towards a problem (needs a person, guessing, clicking
//! through hints, giving up), so a check-in clears the tile until new evidence arrives.

use std::sync::Arc;

use serde::Serialize;

use super::Rules;
use crate::ingest::Outcome;

/// One answer of the sitting, as the rules see it.
#[derive(Debug, Clone)]
pub struct Answer {
    /// `occurred_at`, milliseconds since the Unix epoch.
    pub at: i64,
    /// The event's arrival order: answers at the same moment are taken in this order.
    pub seq: i64,
    /// Shared by the answers on one skill: a class's answers of a lesson are held at once.
    pub skill_id: Arc<str>,
    pub outcome: Outcome,
    pub attempt: i32,
    pub response_ms: Option<i32>,
    pub hints_used: i32,
    pub hint_bottom_out: bool,
    /// Answered faster than anyone reads the item (the item's rapid-guess threshold).
    pub rapid: bool,
}

impl Answer {
    fn first_try(&self) -> bool {
        self.attempt == 1
    }

    /// A first try that says something about knowledge: answered, and not a rapid guess.
    fn evidence(&self) -> bool {
        self.first_try() && self.outcome != Outcome::Skipped && !self.rapid
    }

    fn rapid_guess(&self) -> bool {
        self.first_try() && self.rapid && self.outcome != Outcome::Skipped && self.hints_used == 0
    }

    /// Reached the last hint (the answer) quicker than the hints can be read.
    fn clicked_through(&self, rules: &Rules) -> bool {
        self.hint_bottom_out
            && self.response_ms.is_none_or(|ms| {
                ms < rules
                    .hint_ms_per_hint
                    .saturating_mul(self.hints_used.max(1))
            })
    }
}

/// The states, in the order the Now page lists them (most in need of a person first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Stuck: most recent first tries on the current skill wrong, or many tries without progress.
    NeedsPerson,
    /// Rapid guesses: answers faster than the item can be read.
    Guessing,
    /// Clicking through hints to the answer.
    Hints,
    /// Skipping items.
    GivingUp,
    /// No answer for a while although the class is practising.
    Idle,
    Working,
    /// Most recent first tries on the current skill right, without hints.
    DoingWell,
    /// No answer in this sitting.
    NotHere,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::NeedsPerson => "needs_person",
            State::Guessing => "guessing",
            State::Hints => "hints",
            State::GivingUp => "giving_up",
            State::Idle => "idle",
            State::Working => "working",
            State::DoingWell => "doing_well",
            State::NotHere => "not_here",
        }
    }

    /// The states a check-in answers.
    pub fn is_problem(self) -> bool {
        matches!(
            self,
            State::NeedsPerson | State::Guessing | State::Hints | State::GivingUp
        )
    }
}

/// One student's "now".
#[derive(Debug, Clone, PartialEq)]
pub struct StudentNow {
    pub state: State,
    /// When the state began (ms).
    pub since: Option<i64>,
    /// A plain sentence a teacher reads on the tile.
    pub reason: String,
    /// The skill of the latest answer.
    pub skill_id: Option<String>,
    /// Answers in this sitting (all attempts) and first tries, and how many first tries right.
    pub answers: usize,
    pub first_tries: usize,
    pub first_tries_right: usize,
    pub last_answer_at: Option<i64>,
}

/// The state of one student given their answers in this sitting (sorted by time), the time of
/// the teacher's latest check-in with them during the sitting, whether the class is still in
/// the sitting, and the current time.
pub fn student_now(
    answers: &[Answer],
    checked_in_at: Option<i64>,
    sitting_active: bool,
    now: i64,
    rules: &Rules,
) -> StudentNow {
    let mut fold = StudentFold::new(checked_in_at);
    fold.advance(answers, rules);
    fold.finish(answers, sitting_active, now, rules)
}

/// [`student_now`] taken one answer at a time: the state after each answer and at the
/// check-in, the current one having begun at the first point of its run. A class's live view
/// keeps one per student and feeds it only the answers that came since.
#[derive(Debug, Clone)]
pub struct StudentFold {
    /// The check-in the answers are read against (`i64::MIN` when none).
    checked: i64,
    /// How many answers have been taken in.
    seen: usize,
    state: Option<(State, String)>,
    since: i64,
}

impl StudentFold {
    pub fn new(checked_in_at: Option<i64>) -> Self {
        StudentFold {
            checked: checked_in_at.unwrap_or(i64::MIN),
            seen: 0,
            state: None,
            since: 0,
        }
    }

    /// How many of the answers it has taken in.
    pub fn seen(&self) -> usize {
        self.seen
    }

    /// Takes in `answers[self.seen()..]`; `answers[..self.seen()]` must be the answers it took
    /// in before.
    pub fn advance(&mut self, answers: &[Answer], rules: &Rules) {
        let checked = self.checked;
        for end in self.seen..answers.len() {
            let at = answers[end].at;
            let seen = &answers[..=end];
            if end > 0 && answers[end - 1].at <= checked && checked < at {
                let before = &answers[..end];
                step(
                    &mut self.state,
                    &mut self.since,
                    classify(&[], before, rules),
                    checked,
                );
            }
            // The check-in counts from its moment on: before it, every answer is evidence.
            let fresh_from = if checked < at {
                seen.iter()
                    .position(|a| a.at > checked)
                    .unwrap_or(seen.len())
            } else {
                0
            };
            step(
                &mut self.state,
                &mut self.since,
                classify(&seen[fresh_from..], seen, rules),
                at,
            );
        }
        self.seen = self.seen.max(answers.len());
    }

    /// The student now, from the answers taken in (the same `answers`), whether the class is
    /// still in the sitting, and the current time.
    pub fn finish(
        &self,
        answers: &[Answer],
        sitting_active: bool,
        now: i64,
        rules: &Rules,
    ) -> StudentNow {
        debug_assert_eq!(answers.len(), self.seen, "finish after advance");
        let Some(last) = answers.last() else {
            return StudentNow {
                state: State::NotHere,
                since: None,
                reason: "No answer in this sitting.".into(),
                skill_id: None,
                answers: 0,
                first_tries: 0,
                first_tries_right: 0,
                last_answer_at: None,
            };
        };
        let first_tries = answers.iter().filter(|a| a.first_try()).count();
        let first_tries_right = answers
            .iter()
            .filter(|a| a.first_try() && a.outcome == Outcome::Correct)
            .count();
        let checked = self.checked;
        let (mut state, mut since) = (self.state.clone(), self.since);
        if checked >= last.at {
            step(
                &mut state,
                &mut since,
                classify(&[], answers, rules),
                checked,
            );
        }
        let mut state = state.unwrap_or((State::Working, String::new()));
        if state.0 == State::Working && checked >= last.at {
            state.1 = "You checked in; no answer since.".into();
        }
        if !state.0.is_problem() && sitting_active && now - last.at >= rules.idle_after_ms {
            let minutes = (now - last.at) / 60_000;
            state = (
                State::Idle,
                format!("No answer for {minutes} minutes while the class is practising."),
            );
            since = last.at + rules.idle_after_ms;
        }
        StudentNow {
            state: state.0,
            since: Some(since),
            reason: state.1,
            skill_id: Some(last.skill_id.to_string()),
            answers: answers.len(),
            first_tries,
            first_tries_right,
            last_answer_at: Some(last.at),
        }
    }
}

/// Moves to `next` at `at`; a new state begins there, the same one goes on.
fn step(state: &mut Option<(State, String)>, since: &mut i64, next: (State, String), at: i64) {
    if state.as_ref().is_none_or(|s| s.0 != next.0) {
        *since = at;
    }
    *state = Some(next);
}

/// The state shown by `fresh` (the answers since the latest check-in, for problems) and `all`
/// (this sitting's answers so far, for doing well), with its reason.
fn classify(fresh: &[Answer], all: &[Answer], rules: &Rules) -> (State, String) {
    let Some(current) = all.last().map(|a| &*a.skill_id) else {
        return (State::Working, String::new());
    };
    // Needs a person: recent first tries on the current skill mostly wrong ...
    let on_skill: Vec<&Answer> = fresh
        .iter()
        .filter(|a| &*a.skill_id == current && a.evidence())
        .collect();
    let recent = &on_skill[on_skill.len().saturating_sub(rules.stuck_of)..];
    let wrong = recent
        .iter()
        .filter(|a| a.outcome == Outcome::Incorrect)
        .count();
    if recent.len() >= rules.stuck_of && wrong >= rules.stuck_wrong {
        return (
            State::NeedsPerson,
            format!(
                "{wrong} of the last {} first tries on this skill were wrong.",
                recent.len()
            ),
        );
    }
    // ... or many tries without progress (never `progress_run` right in a row).
    if on_skill.len() >= rules.spin_tries && longest_right_run(&on_skill) < rules.progress_run {
        return (
            State::NeedsPerson,
            format!(
                "{} tries on this skill in this sitting without {} right in a row.",
                on_skill.len(),
                rules.progress_run
            ),
        );
    }
    let last_n = |n: usize| &fresh[fresh.len().saturating_sub(n)..];
    let guesses = last_n(rules.recent)
        .iter()
        .filter(|a| a.rapid_guess())
        .count();
    if guesses >= rules.guesses_min {
        return (
            State::Guessing,
            format!(
                "{guesses} of the last {} answers came faster than the question can be read.",
                last_n(rules.recent).len()
            ),
        );
    }
    let clicked = last_n(rules.recent)
        .iter()
        .filter(|a| a.clicked_through(rules))
        .count();
    if clicked >= rules.hints_min {
        return (
            State::Hints,
            format!(
                "Clicked through the hints to the answer {clicked} times in the last {} answers.",
                last_n(rules.recent).len()
            ),
        );
    }
    let skips = last_n(rules.skips_of)
        .iter()
        .filter(|a| a.outcome == Outcome::Skipped)
        .count();
    if skips >= rules.skips_min {
        return (
            State::GivingUp,
            format!(
                "Skipped {skips} of the last {} questions.",
                last_n(rules.skips_of).len()
            ),
        );
    }
    // Doing well: the last first tries on the current skill right, without hints.
    let mine: Vec<&Answer> = all
        .iter()
        .filter(|a| &*a.skill_id == current && a.first_try())
        .collect();
    let recent = &mine[mine.len().saturating_sub(rules.well_of)..];
    let right = recent
        .iter()
        .filter(|a| a.outcome == Outcome::Correct && a.hints_used == 0 && !a.rapid)
        .count();
    if recent.len() >= rules.well_of && right >= rules.well_right {
        return (
            State::DoingWell,
            format!(
                "{right} of the last {} first tries on this skill right, without hints.",
                recent.len()
            ),
        );
    }
    (State::Working, "Answering.".into())
}

fn longest_right_run(answers: &[&Answer]) -> usize {
    let (mut best, mut run) = (0, 0);
    for a in answers {
        run = if a.outcome == Outcome::Correct {
            run + 1
        } else {
            0
        };
        best = best.max(run);
    }
    best
}
