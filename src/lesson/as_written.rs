//! The student rules as docs/lesson.md words them, read over whole lists of answers: each
//! answer's state is worked out again from every answer before it. Slow and plain, it is what
//! [`StudentFold`](super::StudentFold)'s counts are checked against; what the clock adds at
//! the end (`settle`) is the fold's own.

use super::state::{settle, step};
use super::{Answer, Rules, State, StudentNow};
use crate::ingest::Outcome;

/// The student now, from their answers in the sitting (sorted by time), their check-in in it,
/// whether the class still practises, and the time.
pub fn student_now(
    answers: &[Answer],
    checked_in_at: Option<i64>,
    sitting_active: bool,
    now: i64,
    rules: &Rules,
) -> StudentNow {
    let checked = checked_in_at.unwrap_or(i64::MIN);
    let Some(last) = answers.last() else {
        return StudentNow::not_here();
    };
    let (mut state, mut since) = (None, 0);
    for end in 0..answers.len() {
        let at = answers[end].at;
        let seen = &answers[..=end];
        if end > 0 && answers[end - 1].at <= checked && checked < at {
            step(
                &mut state,
                &mut since,
                classify(&[], &answers[..end], rules),
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
            &mut state,
            &mut since,
            classify(&seen[fresh_from..], seen, rules),
            at,
        );
    }
    if checked >= last.at {
        step(
            &mut state,
            &mut since,
            classify(&[], answers, rules),
            checked,
        );
    }
    let (state, since) = settle(state, since, checked, last.at, sitting_active, now, rules);
    StudentNow {
        state: state.0,
        since: Some(since),
        reason: state.1,
        skill_id: Some(last.skill_id.to_string()),
        answers: answers.len(),
        first_tries: answers.iter().filter(|a| a.first_try()).count(),
        first_tries_right: answers
            .iter()
            .filter(|a| a.first_try() && a.outcome == Outcome::Correct)
            .count(),
        last_answer_at: Some(last.at),
    }
}

/// The state shown by `fresh` (the answers since the latest check-in, for problems) and `all`
/// (this sitting's answers so far, for doing well), with its reason.
fn classify(fresh: &[Answer], all: &[Answer], rules: &Rules) -> (State, String) {
    let Some(current) = all.last().map(|a| &*a.skill_id) else {
        return (State::Working, String::new());
    };
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
