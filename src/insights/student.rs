//! What a student's page says about each skill, beyond the estimate: how far the student is
//! along the mastery rule ("right on 1 of the 2 separate days needed"), how sure Huddle is in
//! one vocabulary used everywhere, and why an estimate fell suddenly ("4 wrong answers today
//! after 9 right ones over 2 weeks").

use serde::Serialize;
use utoipa::ToSchema;

use super::history::Point;
use super::wording::{capitalise, count};
use super::DAY_MS;
use crate::kt::{Confidence, Rules, SkillState, Status};

/// How far a student is along the mastery rule (docs/knowledge-tracing.md): enough right
/// answers, on enough separate days, and an estimate at the mastery line.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct MasteryProgress {
    /// Separate days (in different sittings) with a right answer, and how many are needed.
    pub right_days: u32,
    pub days_needed: u32,
    /// Right first tries, and how many are needed.
    pub right_answers: u32,
    pub answers_needed: u32,
    /// The estimate is at the mastery line.
    pub estimate_reached: bool,
    /// The same in a sentence: "Right on 1 of the 2 separate days needed."
    #[schema(example = "Right on 1 of the 2 separate days needed.")]
    pub sentence: String,
}

/// Progress toward mastery of one skill.
pub fn mastery_progress(state: &SkillState, rules: &Rules) -> MasteryProgress {
    let days = state.spaced_days();
    let needed = rules.mastery_min_days;
    let reached = state.p_known >= rules.mastery_threshold;
    let mastered = state.status(rules) == Status::Mastered;
    let sentence = if mastered {
        format!("Mastered: right on {} separate days.", days.max(needed))
    } else if days == 0 {
        format!("No right answer yet: mastery needs right answers on {needed} separate days.")
    } else if days < needed {
        format!("Right on {days} of the {needed} separate days needed.")
    } else if state.correct < rules.mastery_min_correct {
        format!(
            "Right on enough days; {} of the {} right answers needed.",
            state.correct, rules.mastery_min_correct
        )
    } else {
        format!("Right on {days} separate days; more right answers will show it is known.")
    };
    MasteryProgress {
        right_days: days,
        days_needed: needed,
        right_answers: state.correct,
        answers_needed: rules.mastery_min_correct,
        estimate_reached: reached,
        sentence,
    }
}

/// How sure a call is, in the words every page uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Certainty {
    /// A teacher confirmed the call and nothing new has come in since.
    Confirmed,
    Sure,
    FairlySure,
    /// Low confidence, or an estimate that has not settled: it waits for the teacher.
    NotSureYet,
}

impl Certainty {
    /// A call needing review is never "sure", whatever the width of its interval.
    pub fn of(confidence: Confidence, needs_review: bool, confirmed: bool) -> Certainty {
        if confirmed {
            Certainty::Confirmed
        } else if needs_review || confidence == Confidence::Low {
            Certainty::NotSureYet
        } else if confidence == Confidence::High {
            Certainty::Sure
        } else {
            Certainty::FairlySure
        }
    }

    /// The sentence a page shows.
    pub fn sentence(self) -> &'static str {
        match self {
            Certainty::Confirmed => "You checked this.",
            Certainty::Sure => "Huddle is sure of this.",
            Certainty::FairlySure => "Huddle is fairly sure of this.",
            Certainty::NotSureYet => "Huddle is not sure yet.",
        }
    }
}

/// Wrong answers on the latest day that make a fall worth explaining.
const FALL_MIN_WRONG: usize = 3;
/// Right answers before it (at least this many, mostly right).
const FALL_MIN_BEFORE: usize = 4;

/// "4 wrong answers today after 10 right ones over 2 weeks": the latest day's first tries were
/// mostly wrong and the ones before mostly right. Told from the answers, not the estimate:
/// after a long run of right answers the estimate may hardly move, and the teacher still sees
/// the wrong answers. None when nothing fell.
pub fn sudden_fall(points: &[Point], now: i64) -> Option<String> {
    let day_of = |p: &Point| p.at.timestamp_millis().div_euclid(DAY_MS);
    let last = points.last()?;
    let last_day = day_of(last);
    let split = points.iter().rposition(|p| day_of(p) != last_day)? + 1;
    let (before, today) = points.split_at(split);
    let counted = |ps: &[Point]| ps.iter().filter(|p| !p.excluded).count();
    let wrong = today.iter().filter(|p| !p.excluded && !p.correct).count();
    let right_before = before.iter().filter(|p| !p.excluded && p.correct).count();
    // At least three in four right before.
    let mostly_right = right_before * 4 >= counted(before) * 3;
    if wrong < FALL_MIN_WRONG
        || wrong * 2 < counted(today)
        || right_before < FALL_MIN_BEFORE
        || !mostly_right
    {
        return None;
    }
    let first = before.iter().find(|p| !p.excluded).map_or(last_day, day_of);
    let over = match last_day - first {
        1 => " the day before".to_owned(),
        span @ 2..=13 => format!(" over {span} days"),
        span => format!(" over {}", count((span / 7) as usize, "week", "weeks")),
    };
    let when = match now.div_euclid(DAY_MS) - last_day {
        0 => "today",
        1 => "yesterday",
        _ => "on the latest day",
    };
    let n = counted(before);
    let right = if right_before == n {
        format!("{n} right ones")
    } else {
        format!("{right_before} of {n} right")
    };
    Some(format!(
        "{} {when} after {right}{over}.",
        capitalise(&count(wrong, "wrong answer", "wrong answers")),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kt::{Observation, SkillModel};
    use chrono::TimeZone;

    const DAY0: i64 = 1_795_392_000_000; // a midnight, UTC

    fn point(day: i64, minute: i64, correct: bool, estimate: f64) -> Point {
        Point {
            at: chrono::Utc
                .timestamp_millis_opt(DAY0 + day * DAY_MS + minute * 60_000)
                .single()
                .unwrap_or_default(),
            item_id: format!("i{day}-{minute}"),
            correct,
            excluded: false,
            estimate,
            low: 0.0,
            high: 1.0,
        }
    }

    #[test]
    fn a_fall_after_two_weeks_of_right_answers_is_explained() {
        let mut points: Vec<Point> = (0..10).map(|d| point(d, 0, true, 0.97)).collect();
        for m in 0..4 {
            points.push(point(14, m, false, 0.9 - 0.2 * m as f64));
        }
        let now = DAY0 + 14 * DAY_MS + 3_600_000;
        assert_eq!(
            sudden_fall(&points, now).as_deref(),
            Some("4 wrong answers today after 10 right ones over 2 weeks.")
        );
        // A day later it is yesterday's fall.
        assert_eq!(
            sudden_fall(&points, now + DAY_MS).as_deref(),
            Some("4 wrong answers yesterday after 10 right ones over 2 weeks.")
        );
    }

    #[test]
    fn no_fall_without_a_drop_or_a_run_of_right_answers() {
        let now = DAY0 + 3 * DAY_MS;
        // Wrong all along: nothing fell.
        let mut points: Vec<Point> = (0..6).map(|d| point(d / 3, d, false, 0.2)).collect();
        points.push(point(3, 0, false, 0.1));
        assert_eq!(sudden_fall(&points, now), None);
        // Two wrong answers today are not yet a fall.
        let mut points: Vec<Point> = (0..6).map(|d| point(0, d, true, 0.9)).collect();
        points.push(point(3, 0, false, 0.6));
        points.push(point(3, 1, false, 0.4));
        assert_eq!(sudden_fall(&points, now), None);
        points.push(point(3, 2, false, 0.3));
        assert_eq!(
            sudden_fall(&points, now).as_deref(),
            Some("3 wrong answers today after 6 right ones over 3 days.")
        );
        // One day only: nothing before to fall from.
        assert_eq!(sudden_fall(&points[6..], now), None);
    }

    fn obs(correct: bool, day: i64) -> Observation {
        Observation {
            correct,
            at: chrono::Utc
                .timestamp_millis_opt(DAY0 + day * DAY_MS)
                .single()
                .unwrap_or_default(),
            session: day as u64,
            excluded: false,
        }
    }

    #[test]
    fn progress_counts_the_separate_days_of_the_mastery_rule() {
        let rules = Rules::default();
        let model = SkillModel::default();
        let s = SkillState::replay(&model, &[obs(true, 0), obs(true, 0), obs(true, 0)]);
        let p = mastery_progress(&s, &rules);
        assert_eq!((p.right_days, p.days_needed), (1, 2));
        assert_eq!(p.sentence, "Right on 1 of the 2 separate days needed.");
        let s = SkillState::replay(
            &model,
            &[
                obs(true, 0),
                obs(true, 0),
                obs(true, 0),
                obs(true, 1),
                obs(true, 1),
            ],
        );
        let p = mastery_progress(&s, &rules);
        assert_eq!(s.status(&rules), Status::Mastered);
        assert_eq!(p.sentence, "Mastered: right on 2 separate days.");
        let p = mastery_progress(&SkillState::new(&model), &rules);
        assert_eq!(
            p.sentence,
            "No right answer yet: mastery needs right answers on 2 separate days."
        );
    }

    #[test]
    fn a_call_waiting_for_review_is_never_sure() {
        assert_eq!(
            Certainty::of(Confidence::High, true, false),
            Certainty::NotSureYet
        );
        assert_eq!(
            Certainty::of(Confidence::High, false, false),
            Certainty::Sure
        );
        assert_eq!(
            Certainty::of(Confidence::Medium, false, false),
            Certainty::FairlySure
        );
        assert_eq!(
            Certainty::of(Confidence::Low, true, true),
            Certainty::Confirmed
        );
    }
}
