//! The online state of one student on one skill, updated one opportunity at a time.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::confidence::{interval, target_width, Confidence};
use super::fit::SkillModel;
use super::params::{logit, sigmoid};

/// One opportunity, as the caller decided it from the events (see the evidence rules in
/// [`crate::kt`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    /// Correct first attempt (a skip or a bottom-out hint is already `false` here).
    pub correct: bool,
    pub at: DateTime<Utc>,
    /// A stable hash of the session id ([`crate::kt::session_key`]).
    pub session: u64,
    /// Counted as an opportunity but not as evidence of knowledge (e.g. a rapid guess).
    pub excluded: bool,
}

/// Thresholds of the statuses, the confidence levels and the review flag.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rules {
    /// Mastered needs P(known) at least this...
    pub mastery_threshold: f64,
    /// ... and at least this many correct first attempts (not excluded) ...
    pub mastery_min_correct: u32,
    /// ... on at least this many different days, in different sessions.
    pub mastery_min_days: u32,
    /// Struggling: P(known) below this ...
    pub struggling_threshold: f64,
    /// ... after at least this many opportunities that count as evidence.
    pub struggling_min_opportunities: u32,
    /// Confidence is high when the interval is at most this wide, medium up to the next.
    pub high_confidence_width: f64,
    pub medium_confidence_width: f64,
    /// With enough evidence to call a student struggling, an estimate from
    /// `struggling_threshold - review_margin` up to `mastery_threshold + mastery_review_margin`
    /// has not settled on either side: it is sent to review.
    pub review_margin: f64,
    pub mastery_review_margin: f64,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            mastery_threshold: 0.95,
            mastery_min_correct: 3,
            mastery_min_days: 2,
            struggling_threshold: 0.4,
            struggling_min_opportunities: 5,
            high_confidence_width: 0.2,
            medium_confidence_width: 0.4,
            review_margin: 0.1,
            mastery_review_margin: 0.02,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    NotStarted,
    Learning,
    Struggling,
    Mastered,
}

/// At most this many distinct days of correct answers are remembered: enough for any
/// sensible `mastery_min_days`, and it keeps the stored state small.
pub const MAX_DAYS_KEPT: usize = 8;

/// A day (days since 1970-01-01, UTC) and the session of the first correct answer that day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorrectDay {
    #[serde(rename = "d")]
    pub day: i32,
    #[serde(rename = "s")]
    pub session: u64,
}

/// What is stored per student and skill. Short field names: it lives in a database row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkillState {
    /// P(known) at the next opportunity, σ(`log_odds`).
    #[serde(rename = "p")]
    pub p_known: f64,
    /// ln(P(known) / P(not known)), the belief the update works on: `p_known` alone
    /// rounds to 1.0 after a run of right answers and then no wrong answer could lower it.
    /// Optional so that a state stored without it still reads (it is then taken from `p`).
    #[serde(rename = "l", default, skip_serializing_if = "Option::is_none")]
    pub log_odds: Option<f64>,
    /// Width of the interval; never grows (see [`crate::kt::confidence`]).
    #[serde(rename = "w")]
    pub width: f64,
    /// All opportunities, excluded ones included.
    #[serde(rename = "n")]
    pub opportunities: u32,
    /// Correct opportunities that were not excluded.
    #[serde(rename = "c")]
    pub correct: u32,
    /// Opportunities excluded from the evidence (rapid guesses, ...).
    #[serde(rename = "x")]
    pub excluded: u32,
    /// The most recent distinct days with a correct answer, oldest first, at most
    /// [`MAX_DAYS_KEPT`].
    #[serde(rename = "d", default)]
    pub correct_days: Vec<CorrectDay>,
}

/// What a reader shows for one student and skill (the contract's per-skill object).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
    pub status: Status,
    pub confidence: Confidence,
    pub needs_review: bool,
    pub opportunities: u32,
}

impl SkillState {
    /// Cold start: a student not seen yet on this skill starts at the skill's prior, with
    /// the widest interval the skill allows (so low confidence).
    pub fn new(model: &SkillModel) -> SkillState {
        let p = model.params.prior;
        SkillState {
            p_known: p,
            log_odds: Some(logit(p)),
            width: target_width(&model.spread, p, 0),
            opportunities: 0,
            correct: 0,
            excluded: 0,
            correct_days: Vec::new(),
        }
    }

    /// P(correct) at the next opportunity, from the exact belief.
    pub fn predict(&self, params: &super::Params) -> f64 {
        params.predict_log_odds(self.log_odds.unwrap_or_else(|| logit(self.p_known)))
    }

    /// Opportunities that count as evidence of knowledge.
    pub fn evidence(&self) -> u32 {
        self.opportunities - self.excluded
    }

    /// Applies one opportunity.
    pub fn apply(&mut self, model: &SkillModel, obs: &Observation) {
        self.opportunities = self.opportunities.saturating_add(1);
        if obs.excluded {
            self.excluded = self.excluded.saturating_add(1);
            return;
        }
        let belief = self.log_odds.unwrap_or_else(|| logit(self.p_known));
        let belief = model.params.update_log_odds(belief, obs.correct);
        self.log_odds = Some(belief);
        self.p_known = sigmoid(belief);
        if obs.correct {
            self.correct = self.correct.saturating_add(1);
            self.remember_day(obs);
        }
        self.width = self
            .width
            .min(target_width(&model.spread, self.p_known, self.evidence()));
    }

    /// Rebuilds the state from a student's whole history on the skill, in time order.
    pub fn replay(model: &SkillModel, observations: &[Observation]) -> SkillState {
        let mut s = SkillState::new(model);
        for o in observations {
            s.apply(model, o);
        }
        s
    }

    fn remember_day(&mut self, obs: &Observation) {
        let day = obs.at.timestamp().div_euclid(86_400) as i32;
        if self.correct_days.iter().any(|d| d.day == day) {
            return;
        }
        self.correct_days.push(CorrectDay {
            day,
            session: obs.session,
        });
        // Late events may arrive out of order: keep the most recent days.
        self.correct_days.sort_by_key(|d| d.day);
        if self.correct_days.len() > MAX_DAYS_KEPT {
            self.correct_days.remove(0);
        }
    }

    /// Days with a correct answer, counted only when their sessions differ too (a session
    /// that runs past midnight is one sitting, not spaced practice).
    pub fn spaced_days(&self) -> u32 {
        let mut sessions: Vec<u64> = self.correct_days.iter().map(|d| d.session).collect();
        sessions.sort_unstable();
        sessions.dedup();
        sessions.len() as u32
    }

    pub fn status(&self, rules: &Rules) -> Status {
        status_for(self.p_known, self, rules)
    }

    pub fn confidence(&self, rules: &Rules) -> Confidence {
        if self.evidence() == 0 {
            // Cold start: whatever the skill's prior, nothing is known of this student yet.
            Confidence::Low
        } else if self.width <= rules.high_confidence_width {
            Confidence::High
        } else if self.width <= rules.medium_confidence_width {
            Confidence::Medium
        } else {
            Confidence::Low
        }
    }

    /// Review when confidence is low, or when, after enough answers to call a student
    /// struggling, the estimate still sits between the two decision boundaries (or has
    /// only just crossed the mastery one): the evidence has not settled the status.
    pub fn needs_review(&self, rules: &Rules) -> bool {
        if self.opportunities == 0 {
            // Nothing to review yet: "not started" is a fact, not an estimate.
            return false;
        }
        let p = self.p_known;
        let unsettled = self.evidence() >= rules.struggling_min_opportunities
            && p >= rules.struggling_threshold - rules.review_margin
            && p < rules.mastery_threshold + rules.mastery_review_margin;
        self.confidence(rules) == Confidence::Low || unsettled
    }

    pub fn estimate(&self, rules: &Rules) -> Estimate {
        let (low, high) = interval(self.p_known, self.width);
        Estimate {
            estimate: self.p_known,
            low,
            high,
            status: self.status(rules),
            confidence: self.confidence(rules),
            needs_review: self.needs_review(rules),
            opportunities: self.opportunities,
        }
    }
}

/// The status rule for a given P(known) and the evidence in `state`. Used with the true
/// state (1 or 0) in place of the estimate, it gives the status a perfect model would show,
/// which is how docs/quality.md measures status accuracy.
pub fn status_for(p_known: f64, state: &SkillState, rules: &Rules) -> Status {
    if state.opportunities == 0 {
        Status::NotStarted
    } else if p_known >= rules.mastery_threshold
        && state.correct >= rules.mastery_min_correct
        && state.spaced_days() >= rules.mastery_min_days
    {
        Status::Mastered
    } else if state.evidence() >= rules.struggling_min_opportunities
        && p_known < rules.struggling_threshold
    {
        Status::Struggling
    } else {
        Status::Learning
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn obs(correct: bool, day: i64, session: u64) -> Observation {
        Observation {
            correct,
            at: Utc
                .timestamp_opt(1_700_000_000 + day * 86_400, 0)
                .single()
                .unwrap_or_default(),
            session,
            excluded: false,
        }
    }

    #[test]
    fn one_lucky_streak_is_never_mastery() {
        let model = SkillModel::default();
        let rules = Rules::default();
        let streak: Vec<_> = (0..12).map(|_| obs(true, 0, 1)).collect();
        let s = SkillState::replay(&model, &streak);
        assert!(s.p_known >= 0.95);
        assert_eq!(s.status(&rules), Status::Learning);
        let mut s2 = s.clone();
        s2.apply(&model, &obs(true, 1, 2));
        assert_eq!(s2.status(&rules), Status::Mastered);
    }

    #[test]
    fn struggling_needs_enough_opportunities() {
        let model = SkillModel::default();
        let rules = Rules::default();
        let mut s = SkillState::new(&model);
        assert_eq!(s.status(&rules), Status::NotStarted);
        assert_eq!(s.confidence(&rules), Confidence::Low);
        for i in 0..4 {
            s.apply(&model, &obs(false, 0, 1));
            assert_eq!(s.status(&rules), Status::Learning, "after {}", i + 1);
        }
        s.apply(&model, &obs(false, 0, 1));
        assert_eq!(s.status(&rules), Status::Struggling);
    }

    #[test]
    fn excluded_answers_count_but_do_not_move_the_estimate() {
        let model = SkillModel::default();
        let mut s = SkillState::new(&model);
        let before = s.clone();
        s.apply(
            &model,
            &Observation {
                excluded: true,
                ..obs(true, 0, 1)
            },
        );
        assert_eq!(s.opportunities, 1);
        assert_eq!(s.excluded, 1);
        assert_eq!(s.correct, 0);
        assert_eq!(s.p_known, before.p_known);
        assert_eq!(s.width, before.width);
    }

    #[test]
    fn state_serialises_compactly_and_round_trips() {
        let model = SkillModel::default();
        let s = SkillState::replay(&model, &[obs(true, 0, 7), obs(false, 1, 8)]);
        let json = serde_json::to_string(&s).unwrap_or_default();
        assert!(json.len() < 120, "{json}");
        let back: SkillState =
            serde_json::from_str(&json).unwrap_or_else(|_| SkillState::new(&model));
        // serde_json's default float parser may differ from the printed value in the last bit.
        assert!((back.p_known - s.p_known).abs() < 1e-15);
        assert_eq!((back.opportunities, back.correct, back.excluded), (2, 1, 0));
        assert_eq!(back.correct_days, s.correct_days);
        let e = serde_json::to_value(s.estimate(&Rules::default())).unwrap_or_default();
        assert_eq!(e["status"], "learning");
        assert_eq!(
            serde_json::to_value(Status::NotStarted).unwrap_or_default(),
            "not_started"
        );
    }

    #[test]
    fn days_kept_are_bounded() {
        let model = SkillModel::default();
        let seq: Vec<_> = (0..20).map(|d| obs(true, d, d as u64)).collect();
        let s = SkillState::replay(&model, &seq);
        assert_eq!(s.correct_days.len(), MAX_DAYS_KEPT);
        assert_eq!(
            s.correct_days.last().map(|d| d.day),
            Some(seq[19].at.timestamp().div_euclid(86_400) as i32)
        );
    }
}
