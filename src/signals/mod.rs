//! Behaviour signals: rapid guessing, hint abuse, gaming, rushing, giving up, idle,
//! wheel-spinning and shared accounts, detected over one student's actions in time order.
//!
//! Pure Rust over plain data: no SQL, no HTTP. The store feeds each stored event of a student
//! to that student's [`Tracker`] (in the ingest transaction, or in a replay of the student's
//! events after a late event or for a rebuild) and saves the [`Episode`]s it reports. How each
//! detector works, its defaults and the research it follows: docs/signals.md.
//!
//! Item timing norms: the rapid-guess threshold of an item is a fraction of the item's typical
//! response time ([`Norm`], kept by the store from correct first attempts), with a floor, a cap
//! and a fallback while the item (and its skill) has too few responses: see
//! [`rapid_threshold_ms`].

pub mod idle;
mod tracker;

use serde::{Deserialize, Serialize};

use crate::ingest::{Event, Outcome};

pub use idle::{idle_episode, school_days_between};
pub use tracker::{Episode, Evidence, Example, KtAfter, Tracker};

/// The kinds of flags (contract: `kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    RapidGuessing,
    HintAbuse,
    Gaming,
    Rushing,
    GivingUp,
    Idle,
    WheelSpinning,
    SharedAccount,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::RapidGuessing,
        Kind::HintAbuse,
        Kind::Gaming,
        Kind::Rushing,
        Kind::GivingUp,
        Kind::Idle,
        Kind::WheelSpinning,
        Kind::SharedAccount,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::RapidGuessing => "rapid_guessing",
            Kind::HintAbuse => "hint_abuse",
            Kind::Gaming => "gaming",
            Kind::Rushing => "rushing",
            Kind::GivingUp => "giving_up",
            Kind::Idle => "idle",
            Kind::WheelSpinning => "wheel_spinning",
            Kind::SharedAccount => "shared_account",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Behaviours seen within one sitting: they end when the sitting ends.
    pub fn is_sitting_scoped(self) -> bool {
        !matches!(self, Kind::Idle | Kind::WheelSpinning)
    }
}

/// Every threshold of the detectors, with the defaults documented in docs/signals.md.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    // Rapid guessing (normative threshold, Wise & Ma 2012: NT10).
    /// The rapid-guess threshold is this fraction of the item's typical response time ...
    pub rapid_fraction: f64,
    /// ... but never below this (nobody reads and answers in less) ...
    pub rapid_floor_ms: i32,
    /// ... nor above this (a long item's 10% is no longer a guess).
    pub rapid_cap_ms: i32,
    /// An item's norm is used once it has this many correct first attempts; before that, the
    /// skill's norm (pooled over its items), and before that, `rapid_fallback_ms`.
    pub norm_min_responses: u32,
    pub rapid_fallback_ms: i32,
    /// Actions of the current sitting the window-based detectors look at.
    pub window: usize,
    /// Rapid guesses in the window that raise `rapid_guessing`.
    pub rapid_min: usize,
    /// A sitting-scoped flag ends after this many actions in a row without its behaviour.
    pub calm_actions: usize,

    // Hint abuse (Aleven et al. 2006, help-seeking model: "clicking through hints").
    /// A bottom-out hint reached at less than this many ms per hint is clicked through.
    pub hint_ms_per_hint: i32,
    /// Clicked-through bottom-out hints in the window that raise `hint_abuse`.
    pub hint_abuse_min: usize,

    // Gaming the system (Baker et al. 2004, 2008: fast wrong answers, quick retries).
    /// "Quick" for gaming: under this fraction of the item's typical time (at least the
    /// rapid-guess threshold; `gaming_fallback_ms` while the item has no norm).
    pub gaming_fraction: f64,
    pub gaming_fallback_ms: i32,
    /// Quick wrong answers or quick retries in the window that raise `gaming` ...
    pub gaming_min: usize,
    /// ... of which at least this many are quick retries (guess-and-check on one item).
    pub gaming_min_retries: usize,

    // Rushing: a run of fast answers well below the student's own accuracy.
    /// "Fast" for rushing: under this fraction of the item's typical time.
    pub rushing_fraction: f64,
    /// First attempts in a row that must all be fast.
    pub rushing_run: usize,
    /// Their accuracy must be at least this far below the student's usual accuracy ...
    pub rushing_drop: f64,
    /// ... measured over at least this many earlier first attempts.
    pub rushing_min_history: u32,

    // Giving up.
    /// Skips in the window that raise `giving_up`.
    pub skips_min: usize,
    /// A sitting that ends with this many wrong or skipped first attempts in a row ...
    pub abandon_errors: u32,
    /// ... and is shorter than this fraction of the student's usual sitting is abandoned.
    pub abandon_fraction: f64,

    // Idle (school days are Monday to Friday, UTC dates).
    pub idle_school_days: u32,

    // Stuck (wheel-spinning, after Beck & Gong 2013, made stricter so that it means "practice
    // alone is not helping" rather than "slower than most"): at least this many opportunities
    // on the skill, on at least `wheel_spinning_days` separate days, and fewer than
    // `wheel_spinning_accuracy` of the latest `wheel_spinning_window` first tries right (a
    // student who does not know a skill is right about as often as a guess), and at least as
    // many opportunities as the skill's own pace asks (`wheel_spinning_tail`). It ends at
    // mastery, or once at least half of the latest first tries are right.
    pub wheel_spinning_opportunities: u32,
    pub wheel_spinning_days: u32,
    /// At most 32.
    pub wheel_spinning_window: u32,
    pub wheel_spinning_accuracy: f64,
    /// The skill's own pace: stuck also needs at least [`tries_needed`] opportunities, from
    /// the lowest estimate the student has had on the skill at the skill's learning rate, with
    /// this chance left of a diligent student still not knowing the skill (on a skill learnt
    /// slowly, many tries without progress are what learning it looks like).
    #[serde(default = "default_wheel_spinning_tail")]
    pub wheel_spinning_tail: f64,

    // Shared account.
    /// Switches back to another live session (or answers in two sessions at the same
    /// moment) within one sitting that raise `shared_account`.
    pub shared_switches: usize,
    /// Two sessions are both live when their actions are this close.
    pub shared_gap_ms: i64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            rapid_fraction: 0.10,
            rapid_floor_ms: 1_000,
            rapid_cap_ms: 10_000,
            norm_min_responses: 20,
            rapid_fallback_ms: 1_500,
            window: 10,
            rapid_min: 3,
            calm_actions: 5,
            hint_ms_per_hint: 1_500,
            hint_abuse_min: 2,
            gaming_fraction: 0.35,
            gaming_fallback_ms: 3_000,
            gaming_min: 4,
            gaming_min_retries: 2,
            rushing_fraction: 0.5,
            rushing_run: 6,
            rushing_drop: 0.35,
            rushing_min_history: 20,
            skips_min: 3,
            abandon_errors: 2,
            abandon_fraction: 0.6,
            idle_school_days: 3,
            wheel_spinning_opportunities: 15,
            wheel_spinning_days: 3,
            wheel_spinning_window: 10,
            wheel_spinning_accuracy: 0.4,
            wheel_spinning_tail: default_wheel_spinning_tail(),
            shared_switches: 3,
            shared_gap_ms: 120_000,
        }
    }
}

fn default_wheel_spinning_tail() -> f64 {
    1.0 / 150.0
}

/// The most tries [`tries_needed`] asks for: past it, a skill's pace says nothing a teacher
/// can use (a learning rate near zero), and many tries without progress are worth a look.
pub const MAX_TRIES_NEEDED: u32 = 200;

/// The tries after which a student who starts at the estimate `p_start` and learns at the
/// skill's rate `learn` (the chance of learning it on each try, as in the knowledge tracing)
/// would still not know the skill with a chance of at most `tail`: the smallest n with
/// (1 − p_start)(1 − learn)^n ≤ tail. 0 when the start alone is enough; at most
/// [`MAX_TRIES_NEEDED`] (a learning rate under 0.001 counts as 0.001). Inputs out of range
/// are clamped; NaN reads as the most cautious value (no knowledge, slowest learning).
pub fn tries_needed(p_start: f64, learn: f64, tail: f64) -> u32 {
    let unknown = if p_start.is_nan() {
        1.0
    } else {
        (1.0 - p_start).clamp(0.0, 1.0)
    };
    let tail = if tail.is_nan() {
        1e-12
    } else {
        tail.clamp(1e-12, 1.0)
    };
    if unknown <= tail {
        return 0;
    }
    let learn = if learn.is_nan() {
        1e-3
    } else {
        learn.clamp(1e-3, 1.0)
    };
    if learn >= 1.0 {
        return 1;
    }
    // A hair below the exact ratio so that a product landing on `tail` counts as reaching it.
    let n = ((tail / unknown).ln() / (1.0 - learn).ln() - 1e-9).ceil();
    if n >= f64::from(MAX_TRIES_NEEDED) {
        MAX_TRIES_NEEDED
    } else {
        n.max(0.0) as u32
    }
}

/// How detection is set up: on or off (for measuring its cost), and the thresholds. Part of the
/// configuration (`config::Settings::signals`), handed to what derives state from the events
/// (the ingest writer, replays and refits) and to the reads that judge idleness.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    pub enabled: bool,
    pub thresholds: Thresholds,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            enabled: true,
            thresholds: Thresholds::default(),
        }
    }
}

/// The typical response time of an item: the geometric mean of its correct first attempts
/// (robust to the long right tail of response times; kept as a count and a sum of logs, so
/// it updates in O(1) and does not depend on arrival order).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Norm {
    pub responses: u32,
    pub sum_log_ms: f64,
}

impl Norm {
    pub const EMPTY: Norm = Norm {
        responses: 0,
        sum_log_ms: 0.0,
    };

    pub fn typical_ms(&self) -> Option<f64> {
        (self.responses > 0).then(|| (self.sum_log_ms / f64::from(self.responses)).exp())
    }

    pub fn add(&mut self, response_ms: i32) {
        self.responses = self.responses.saturating_add(1);
        self.sum_log_ms += f64::from(response_ms.max(1)).ln();
    }
}

/// The typical time to use for an item: its own norm once it has enough responses, else its
/// skill's, else none.
pub fn typical_ms(item: Option<&Norm>, skill: Option<&Norm>, t: &Thresholds) -> Option<f64> {
    let usable = |n: Option<&Norm>| {
        n.filter(|n| n.responses >= t.norm_min_responses)
            .and_then(Norm::typical_ms)
    };
    usable(item).or_else(|| usable(skill))
}

/// The rapid-guess threshold: `rapid_fraction` of the typical time within [floor, cap], or
/// the fallback while the item has no usable norm.
pub fn rapid_threshold_ms(typical_ms: Option<f64>, t: &Thresholds) -> i32 {
    match typical_ms {
        Some(m) => {
            let raw = (m * t.rapid_fraction).round();
            (raw.min(f64::from(i32::MAX)) as i32).clamp(t.rapid_floor_ms, t.rapid_cap_ms)
        }
        None => t.rapid_fallback_ms,
    }
}

/// One stored event as the detectors see it.
#[derive(Debug, Clone, Copy)]
pub struct Action<'a> {
    /// `occurred_at`, milliseconds since the Unix epoch.
    pub at: i64,
    pub skill_id: &'a str,
    pub item_id: &'a str,
    pub session_id: Option<&'a str>,
    pub attempt: i32,
    pub outcome: Outcome,
    pub response_ms: Option<i32>,
    pub hints_used: i32,
    pub hint_bottom_out: bool,
    /// The item's typical response time ([`typical_ms`]), if known.
    pub typical_ms: Option<f64>,
    /// The knowledge-tracing state of the skill after this event (for wheel-spinning).
    pub kt: Option<KtAfter>,
}

impl<'a> Action<'a> {
    /// The detectors' view of `e` (before knowledge tracing has seen it: `kt` is none).
    pub fn of(e: &'a Event, typical_ms: Option<f64>) -> Self {
        Action {
            at: e.occurred_at.timestamp_millis(),
            skill_id: &e.skill_id,
            item_id: &e.item_id,
            session_id: e.session_id.as_deref(),
            attempt: e.attempt,
            outcome: e.outcome,
            response_ms: e.response_ms,
            hints_used: e.hints_used,
            hint_bottom_out: e.hint_bottom_out,
            typical_ms,
            kt: None,
        }
    }

    pub fn rapid_threshold_ms(&self, t: &Thresholds) -> i32 {
        rapid_threshold_ms(self.typical_ms, t)
    }

    /// A rapid guess: a first attempt answered (not skipped), without hints, faster than the
    /// item's rapid-guess threshold. Such answers say nothing about knowledge.
    pub fn is_rapid_guess(&self, t: &Thresholds) -> bool {
        self.attempt == 1
            && self.outcome != Outcome::Skipped
            && self.hints_used == 0
            && !self.hint_bottom_out
            && self
                .response_ms
                .is_some_and(|ms| ms < self.rapid_threshold_ms(t))
    }

    /// The response time this event adds to its item's norm: correct first attempts without
    /// hints that are not rapid guesses (so guessers do not drag the norm down).
    pub fn norm_sample(&self, t: &Thresholds) -> Option<i32> {
        let ms = self.response_ms?;
        (self.attempt == 1
            && self.outcome == Outcome::Correct
            && self.hints_used == 0
            && !self.hint_bottom_out
            && !self.is_rapid_guess(t))
        .then_some(ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_their_names() {
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.as_str()), Some(k));
            let json = serde_json::to_string(&k).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", k.as_str()));
        }
        assert_eq!(Kind::parse("bored"), None);
    }

    #[test]
    fn the_threshold_is_a_tenth_of_the_norm_within_floor_and_cap() {
        let t = Thresholds::default();
        assert_eq!(rapid_threshold_ms(Some(25_000.0), &t), 2_500);
        assert_eq!(rapid_threshold_ms(Some(4_000.0), &t), 1_000, "floor");
        assert_eq!(rapid_threshold_ms(Some(300_000.0), &t), 10_000, "cap");
        assert_eq!(rapid_threshold_ms(None, &t), 1_500, "fallback");
    }

    #[test]
    fn an_item_norm_is_used_once_it_has_enough_responses() {
        let t = Thresholds::default();
        let mut item = Norm::EMPTY;
        let mut skill = Norm::EMPTY;
        for _ in 0..19 {
            item.add(20_000);
        }
        for _ in 0..50 {
            skill.add(10_000);
        }
        let typical = typical_ms(Some(&item), Some(&skill), &t).unwrap_or(0.0);
        assert!(
            (typical - 10_000.0).abs() < 1.0,
            "the skill's norm: {typical}"
        );
        item.add(20_000);
        let typical = typical_ms(Some(&item), Some(&skill), &t).unwrap_or(0.0);
        assert!(
            (typical - 20_000.0).abs() < 1.0,
            "the item's own: {typical}"
        );
        assert_eq!(typical_ms(None, None, &t), None);
    }

    #[test]
    fn tries_needed_follows_the_skills_pace() {
        let tail = 1.0 / 150.0;
        // (1 − 0.3)(1 − 0.05)^n ≤ 1/150: n = ceil(ln(1/105) / ln(0.95)) = 91.
        assert_eq!(tries_needed(0.3, 0.05, tail), 91);
        let unknown = |n: u32| 0.7 * 0.95f64.powi(n as i32);
        assert!(unknown(91) <= tail && unknown(90) > tail);
        // A fast skill needs a few tries; a lower start needs more.
        assert_eq!(tries_needed(0.3, 0.5, tail), 7);
        assert!(tries_needed(0.05, 0.05, tail) > tries_needed(0.3, 0.05, tail));
        assert!(tries_needed(0.3, 0.1, tail) < tries_needed(0.3, 0.05, tail));
        // Exactly on the tail: (1 − 0.5)(1 − 0.5)^2 = 1/8.
        assert_eq!(tries_needed(0.5, 0.5, 0.125), 2);
        // Known at the start with at least 1 − tail: no tries needed.
        assert_eq!(tries_needed(0.999, 0.05, tail), 0);
        assert_eq!(tries_needed(1.5, 0.05, tail), 0);
        // Certain learning on the first try.
        assert_eq!(tries_needed(0.2, 1.0, tail), 1);
        // No learning, or no sense: the cap, never a panic or an endless bar.
        assert_eq!(tries_needed(0.2, 0.0, tail), MAX_TRIES_NEEDED);
        assert_eq!(tries_needed(0.2, -1.0, tail), MAX_TRIES_NEEDED);
        assert_eq!(tries_needed(f64::NAN, f64::NAN, f64::NAN), MAX_TRIES_NEEDED);
        assert_eq!(tries_needed(0.2, 0.05, 0.0), MAX_TRIES_NEEDED);
        assert_eq!(
            tries_needed(-3.0, 0.05, tail),
            tries_needed(0.0, 0.05, tail)
        );
    }

    #[test]
    fn the_norm_is_a_geometric_mean() {
        let mut n = Norm::EMPTY;
        n.add(1_000);
        n.add(100_000);
        assert!((n.typical_ms().unwrap_or(0.0) - 10_000.0).abs() < 1e-6);
    }

    fn action(outcome: Outcome, ms: i32) -> Action<'static> {
        Action {
            at: 0,
            skill_id: "s",
            item_id: "i",
            session_id: None,
            attempt: 1,
            outcome,
            response_ms: Some(ms),
            hints_used: 0,
            hint_bottom_out: false,
            typical_ms: Some(20_000.0),
            kt: None,
        }
    }

    #[test]
    fn rapid_guesses_are_fast_unaided_first_answers() {
        let t = Thresholds::default();
        assert!(action(Outcome::Correct, 1_500).is_rapid_guess(&t));
        assert!(action(Outcome::Incorrect, 1_999).is_rapid_guess(&t));
        assert!(!action(Outcome::Incorrect, 2_000).is_rapid_guess(&t));
        assert!(
            !action(Outcome::Skipped, 500).is_rapid_guess(&t),
            "a skip is no guess"
        );
        let retry = Action {
            attempt: 2,
            ..action(Outcome::Correct, 500)
        };
        assert!(!retry.is_rapid_guess(&t));
        let hinted = Action {
            hints_used: 1,
            ..action(Outcome::Correct, 500)
        };
        assert!(!hinted.is_rapid_guess(&t));
        let unknown = Action {
            response_ms: None,
            ..action(Outcome::Correct, 0)
        };
        assert!(!unknown.is_rapid_guess(&t));
    }

    #[test]
    fn only_considered_correct_answers_feed_the_norm() {
        let t = Thresholds::default();
        assert_eq!(
            action(Outcome::Correct, 15_000).norm_sample(&t),
            Some(15_000)
        );
        assert_eq!(action(Outcome::Correct, 500).norm_sample(&t), None);
        assert_eq!(action(Outcome::Incorrect, 15_000).norm_sample(&t), None);
    }
}
