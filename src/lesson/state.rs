//! Each student's one state in the current sitting, with the moment it began and a plain reason.
//!
//! The rules read only this sitting's answers; after the teacher checks in with a student, only
//! the answers since the check-in count towards a problem (needs a person, guessing, clicking
//! through hints, giving up), so a check-in clears the tile until new evidence arrives.

use std::collections::{HashMap, VecDeque};
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
    pub fn first_try(&self) -> bool {
        self.attempt == 1
    }

    /// A first try that says something about knowledge: answered, and not a rapid guess.
    pub fn evidence(&self) -> bool {
        self.first_try() && self.outcome != Outcome::Skipped && !self.rapid
    }

    pub fn rapid_guess(&self) -> bool {
        self.first_try() && self.rapid && self.outcome != Outcome::Skipped && self.hints_used == 0
    }

    /// Reached the last hint (the answer) quicker than the hints can be read.
    pub fn clicked_through(&self, rules: &Rules) -> bool {
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
    fold.finish(sitting_active, now, rules)
}

/// [`student_now`] taken one answer at a time: the state after each answer and at the
/// check-in, the current one having begun at the first point of its run. It keeps counts and
/// the last few answers' marks per skill, not the answers, so a sitting of any length costs the
/// same: the Now view folds each student's answers as they are read, and a class's live view
/// keeps one per student and feeds it only the answers that came since.
#[derive(Debug, Clone)]
pub struct StudentFold {
    /// The check-in the answers are read against (`i64::MIN` when none).
    checked: i64,
    /// Answers taken in, first tries among them, and first tries right.
    answers: usize,
    first_tries: usize,
    first_tries_right: usize,
    /// The latest answer taken in: its time and skill.
    last: Option<(i64, Arc<str>)>,
    /// Per skill answered in the sitting.
    skills: HashMap<Arc<str>, SkillMarks>,
    /// The latest answers that count towards a problem (since the check-in), newest last: as
    /// many as the guessing, hints and giving-up rules look at.
    recent: VecDeque<Marks>,
    state: Option<(State, String)>,
    since: i64,
}

/// What the rules read of one skill's answers.
#[derive(Debug, Clone, Default)]
struct SkillMarks {
    /// Evidence (answered first tries that are not rapid guesses) since the check-in: how many,
    /// the current and the longest run right, and whether each of the latest `stuck_of` was
    /// wrong.
    evidence: usize,
    run: usize,
    longest_run: usize,
    latest_wrong: VecDeque<bool>,
    /// Whether each of the latest `well_of` first tries in the sitting (check-in or not) was
    /// right without hints and not rapid.
    latest_well: VecDeque<bool>,
}

impl SkillMarks {
    /// Only the answers since the check-in count towards a problem.
    fn forget_evidence(&mut self) {
        self.evidence = 0;
        self.run = 0;
        self.longest_run = 0;
        self.latest_wrong.clear();
    }
}

/// What the guessing, hints and giving-up rules read of one answer.
#[derive(Debug, Clone, Copy)]
struct Marks {
    rapid_guess: bool,
    clicked_through: bool,
    skipped: bool,
}

/// Pushes `value`, keeping only the latest `keep`.
fn push_latest<T>(list: &mut VecDeque<T>, value: T, keep: usize) {
    list.push_back(value);
    while list.len() > keep {
        list.pop_front();
    }
}

impl StudentFold {
    pub fn new(checked_in_at: Option<i64>) -> Self {
        StudentFold {
            checked: checked_in_at.unwrap_or(i64::MIN),
            answers: 0,
            first_tries: 0,
            first_tries_right: 0,
            last: None,
            skills: HashMap::new(),
            recent: VecDeque::new(),
            state: None,
            since: 0,
        }
    }

    /// How many answers it has taken in.
    pub fn seen(&self) -> usize {
        self.answers
    }

    /// Takes in `answers[self.seen()..]`; `answers[..self.seen()]` must be the answers it took
    /// in before.
    pub fn advance(&mut self, answers: &[Answer], rules: &Rules) {
        for a in answers.get(self.answers..).unwrap_or_default() {
            self.push(a, rules);
        }
    }

    /// Takes in the next answer: no earlier, in (time, seq), than any before it.
    pub fn push(&mut self, a: &Answer, rules: &Rules) {
        let checked = self.checked;
        if self
            .last
            .as_ref()
            .is_some_and(|(at, _)| *at <= checked && checked < a.at)
        {
            // The check-in: from its moment on, only the answers after it count towards a
            // problem. Before it, every answer is evidence.
            for marks in self.skills.values_mut() {
                marks.forget_evidence();
            }
            self.recent.clear();
            let next = self.classify(true, rules);
            step(&mut self.state, &mut self.since, next, checked);
        }
        self.take(a, rules);
        let next = self.classify(true, rules);
        step(&mut self.state, &mut self.since, next, a.at);
    }

    fn take(&mut self, a: &Answer, rules: &Rules) {
        self.answers += 1;
        if a.first_try() {
            self.first_tries += 1;
            self.first_tries_right += usize::from(a.outcome == Outcome::Correct);
        }
        let marks = self.skills.entry(Arc::clone(&a.skill_id)).or_default();
        if a.evidence() {
            marks.evidence += 1;
            marks.run = if a.outcome == Outcome::Correct {
                marks.run + 1
            } else {
                0
            };
            marks.longest_run = marks.longest_run.max(marks.run);
            push_latest(
                &mut marks.latest_wrong,
                a.outcome == Outcome::Incorrect,
                rules.stuck_of,
            );
        }
        if a.first_try() {
            let well = a.outcome == Outcome::Correct && a.hints_used == 0 && !a.rapid;
            push_latest(&mut marks.latest_well, well, rules.well_of);
        }
        let m = Marks {
            rapid_guess: a.rapid_guess(),
            clicked_through: a.clicked_through(rules),
            skipped: a.outcome == Outcome::Skipped,
        };
        push_latest(&mut self.recent, m, rules.recent.max(rules.skips_of));
        self.last = Some((a.at, Arc::clone(&a.skill_id)));
    }

    /// The student now, from the answers taken in, whether the class is still in the sitting,
    /// and the current time.
    pub fn finish(&self, sitting_active: bool, now: i64, rules: &Rules) -> StudentNow {
        let Some((last_at, skill)) = &self.last else {
            return StudentNow::not_here();
        };
        let (checked, last_at) = (self.checked, *last_at);
        let (mut state, mut since) = (self.state.clone(), self.since);
        if checked >= last_at {
            step(&mut state, &mut since, self.classify(false, rules), checked);
        }
        let (state, since) = settle(state, since, checked, last_at, sitting_active, now, rules);
        StudentNow {
            state: state.0,
            since: Some(since),
            reason: state.1,
            skill_id: Some(skill.to_string()),
            answers: self.answers,
            first_tries: self.first_tries,
            first_tries_right: self.first_tries_right,
            last_answer_at: Some(last_at),
        }
    }

    /// The state the answers taken in show, with its reason. `fresh`: whether the answers since
    /// the check-in are read for problems (needs a person, guessing, hints, giving up); without
    /// them only doing well can show.
    fn classify(&self, fresh: bool, rules: &Rules) -> (State, String) {
        static UNSEEN: SkillMarks = SkillMarks {
            evidence: 0,
            run: 0,
            longest_run: 0,
            latest_wrong: VecDeque::new(),
            latest_well: VecDeque::new(),
        };
        static NO_ANSWERS: VecDeque<Marks> = VecDeque::new();
        let Some((_, current)) = &self.last else {
            return (State::Working, String::new());
        };
        let marks = self.skills.get(current).unwrap_or(&UNSEEN);
        let (evidence, recent) = if fresh {
            (marks, &self.recent)
        } else {
            (&UNSEEN, &NO_ANSWERS)
        };
        // Needs a person: recent first tries on the current skill mostly wrong ...
        let latest = &evidence.latest_wrong;
        let wrong = latest.iter().filter(|&&w| w).count();
        if latest.len() >= rules.stuck_of && wrong >= rules.stuck_wrong {
            return (
                State::NeedsPerson,
                format!(
                    "{wrong} of the last {} first tries on this skill were wrong.",
                    latest.len()
                ),
            );
        }
        // ... or many tries without progress (never `progress_run` right in a row).
        if evidence.evidence >= rules.spin_tries && evidence.longest_run < rules.progress_run {
            return (
                State::NeedsPerson,
                format!(
                    "{} tries on this skill in this sitting without {} right in a row.",
                    evidence.evidence, rules.progress_run
                ),
            );
        }
        let latest = |n: usize| recent.iter().rev().take(n);
        let seen = |n: usize| n.min(recent.len());
        let guesses = latest(rules.recent).filter(|m| m.rapid_guess).count();
        if guesses >= rules.guesses_min {
            return (
                State::Guessing,
                format!(
                    "{guesses} of the last {} answers came faster than the question can be read.",
                    seen(rules.recent)
                ),
            );
        }
        let clicked = latest(rules.recent).filter(|m| m.clicked_through).count();
        if clicked >= rules.hints_min {
            return (
                State::Hints,
                format!(
                    "Clicked through the hints to the answer {clicked} times in the last {} answers.",
                    seen(rules.recent)
                ),
            );
        }
        let skips = latest(rules.skips_of).filter(|m| m.skipped).count();
        if skips >= rules.skips_min {
            return (
                State::GivingUp,
                format!(
                    "Skipped {skips} of the last {} questions.",
                    seen(rules.skips_of)
                ),
            );
        }
        // Doing well: the last first tries on the current skill right, without hints.
        let right = marks.latest_well.iter().filter(|&&w| w).count();
        if marks.latest_well.len() >= rules.well_of && right >= rules.well_right {
            return (
                State::DoingWell,
                format!(
                    "{right} of the last {} first tries on this skill right, without hints.",
                    marks.latest_well.len()
                ),
            );
        }
        (State::Working, "Answering.".into())
    }
}

impl StudentNow {
    /// A student with no answer in the sitting.
    pub(super) fn not_here() -> Self {
        StudentNow {
            state: State::NotHere,
            since: None,
            reason: "No answer in this sitting.".into(),
            skill_id: None,
            answers: 0,
            first_tries: 0,
            first_tries_right: 0,
            last_answer_at: None,
        }
    }
}

/// The state once every answer (and a check-in after the last) is taken in, and what the
/// clock adds: a check-in with no answer since is said so, and a student with no problem who
/// stopped answering while the class practises is idle. Gives the state and when it began.
pub(super) fn settle(
    state: Option<(State, String)>,
    since: i64,
    checked: i64,
    last_at: i64,
    sitting_active: bool,
    now: i64,
    rules: &Rules,
) -> ((State, String), i64) {
    let mut state = state.unwrap_or((State::Working, String::new()));
    if state.0 == State::Working && checked >= last_at {
        state.1 = "You checked in; no answer since.".into();
    }
    if !state.0.is_problem() && sitting_active && now - last_at >= rules.idle_after_ms {
        let minutes = (now - last_at) / 60_000;
        let idle = (
            State::Idle,
            format!("No answer for {minutes} minutes while the class is practising."),
        );
        return (idle, last_at + rules.idle_after_ms);
    }
    (state, since)
}

/// Moves to `next` at `at`; a new state begins there, the same one goes on.
pub(super) fn step(
    state: &mut Option<(State, String)>,
    since: &mut i64,
    next: (State, String),
    at: i64,
) {
    if state.as_ref().is_none_or(|s| s.0 != next.0) {
        *since = at;
    }
    *state = Some(next);
}
