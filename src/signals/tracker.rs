//! The per-student detector state, stepped one action at a time in time order. The same
//! steps run online (on top of the stored state) and in a replay from the events, so both
//! give the same episodes.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{idle, Action, Kind, Thresholds};
use crate::ingest::Outcome;
use crate::kt::evidence::SESSION_GAP_MS;

/// What the knowledge tracing says of the action's skill once the action is applied.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KtAfter {
    /// Opportunities that count as evidence (rapid guesses excluded).
    pub evidence: u32,
    /// The estimate has reached the mastery threshold (progress; the spaced-practice part of
    /// the mastery rule is not needed to stop calling it wheel-spinning).
    pub mastered: bool,
    pub estimate: f64,
    /// The skill model's learning rate (the chance of learning the skill on a try): the
    /// skill's pace, for the stuck rule.
    pub learn: f64,
}

/// One answer behind a flag, to show the teacher.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Example {
    pub item_id: String,
    pub skill_id: String,
    pub outcome: Outcome,
    pub attempt: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_ms: Option<i32>,
    pub hints_used: i32,
}

/// A flag's evidence as data (the `data` of the API, the `evidence` column).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Evidence {
    /// Actions that showed the behaviour.
    #[serde(default)]
    pub hits: u32,
    /// Actions seen while the flag was raised.
    #[serde(default)]
    pub actions: u32,
    /// The rapid-guess threshold of the latest hit (rapid guessing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold_ms: Option<i32>,
    /// Accuracy of the run, and the student's usual accuracy (rushing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usual_accuracy: Option<f64>,
    /// Giving up: the sitting ended after this many wrong or skipped answers in a row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abandoned_after_errors: Option<u32>,
    /// Wheel-spinning: opportunities so far and the current estimate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opportunities: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate: Option<f64>,
    /// Stuck: separate days of practice on the skill, and the latest first tries looked at
    /// (`hits` of them right).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recent: Option<u32>,
    /// Stuck: the tries this skill usually takes ([`super::tries_needed`] from the lowest
    /// estimate the student has had on it), when the flag was raised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub needed: Option<u32>,
    /// Idle: school days without practice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub school_days: Option<u32>,
    /// The skills involved (at most 5).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skills: Vec<String>,
    /// The first few answers that showed the behaviour (at most 3).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<Example>,
}

/// One flag episode: from `started_at` until `ended_at` (None while it goes on).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Episode {
    pub kind: Kind,
    /// Set for per-skill flags (wheel-spinning); None for student-wide ones.
    pub skill_id: Option<String>,
    pub started_at: i64,
    pub ended_at: Option<i64>,
    /// The latest action that showed the behaviour.
    pub last_at: i64,
    pub evidence: Evidence,
}

const MAX_EXAMPLES: usize = 3;
const MAX_SKILLS: usize = 5;

fn weekday_date(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%a %-d %b")
        .to_string()
}

fn seconds(ms: i32) -> String {
    let s = f64::from(ms) / 1000.0;
    if s < 10.0 {
        format!("{s:.1} seconds")
    } else {
        format!("{s:.0} seconds")
    }
}

fn percent(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

impl Episode {
    /// The plain sentence a teacher reads (about 20 words at most, everyday words).
    pub fn sentence(&self) -> String {
        let e = &self.evidence;
        let n = |k: u32, one: &str, many: &str| format!("{k} {}", if k == 1 { one } else { many });
        match self.kind {
            Kind::RapidGuessing => format!(
                "Answered {} too fast to have read them (under {}).",
                n(e.hits, "question", "questions"),
                seconds(e.threshold_ms.unwrap_or(0))
            ),
            Kind::HintAbuse => format!(
                "Clicked straight through the hints to the answer on {}.",
                n(e.hits, "question", "questions")
            ),
            Kind::Gaming => format!(
                "Guessed and quickly tried again on {} instead of working them out.",
                n(e.hits, "answer", "answers")
            ),
            Kind::Rushing => format!(
                "Rushed {} and got {} right, not the usual {}.",
                n(e.hits, "answer", "answers"),
                percent(e.accuracy.unwrap_or(0.0)),
                percent(e.usual_accuracy.unwrap_or(0.0))
            ),
            Kind::GivingUp => {
                let wrong = |k| n(k, "wrong answer", "wrong answers in a row");
                match (e.hits, e.abandoned_after_errors) {
                    (0, Some(k)) => format!("Stopped practising after {}.", wrong(k)),
                    (h, Some(k)) => format!(
                        "Skipped {}, then stopped after {}.",
                        n(h, "question", "questions"),
                        wrong(k)
                    ),
                    (h, None) => {
                        format!("Skipped {} without trying.", n(h, "question", "questions"))
                    }
                }
            }
            Kind::Idle => format!(
                "No practice for {}, since {}.",
                n(e.school_days.unwrap_or(0), "school day", "school days"),
                weekday_date(self.started_at)
            ),
            Kind::WheelSpinning => {
                let skill = self.skill_id.as_deref().unwrap_or("this skill");
                let answers = n(e.opportunities.unwrap_or(0), "answer", "answers");
                let told = match (e.days, e.recent) {
                    (Some(days), Some(recent)) => format!(
                        "{answers} on {skill} over {}, with {} of the last {recent} right.",
                        n(days, "day", "days"),
                        if e.hits == 0 {
                            "none".to_owned()
                        } else {
                            e.hits.to_string()
                        }
                    ),
                    _ => format!("{answers} on {skill} without mastering it yet."),
                };
                match e.needed {
                    Some(_) => format!("{told} That is more tries than this skill usually takes."),
                    None => told,
                }
            }
            Kind::SharedAccount => format!(
                "Answers came from two sessions at once {}: the account may be shared.",
                n(e.hits, "time", "times")
            ),
        }
    }

    fn note(&mut self, m: &Mark) {
        if self.evidence.examples.len() < MAX_EXAMPLES {
            self.evidence.examples.push(m.example());
        }
        let skill = &m.example.1;
        if self.evidence.skills.len() < MAX_SKILLS && !self.evidence.skills.contains(skill) {
            self.evidence.skills.push(skill.clone());
        }
    }
}

// What one action showed, as bits.
const RAPID: u16 = 1;
const QUICK_WRONG: u16 = 1 << 1;
const QUICK_RETRY: u16 = 1 << 2;
const HINT_ABUSE: u16 = 1 << 3;
const SKIP: u16 = 1 << 4;
const FIRST: u16 = 1 << 5;
const CORRECT: u16 = 1 << 6;
const FAST: u16 = 1 << 7;
const SWITCH: u16 = 1 << 8;

/// The window kinds: the bit of an action that shows each behaviour.
const WINDOW_KINDS: [(Kind, u16); 6] = [
    (Kind::RapidGuessing, RAPID),
    (Kind::HintAbuse, HINT_ABUSE),
    (Kind::Gaming, QUICK_WRONG | QUICK_RETRY),
    (Kind::Rushing, FAST),
    (Kind::GivingUp, SKIP),
    (Kind::SharedAccount, SWITCH),
];

/// One recent action of the sitting. Short names and a tuple: it is stored in every
/// student's row, rewritten with each batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Mark {
    #[serde(rename = "t")]
    at: i64,
    #[serde(rename = "b")]
    bits: u16,
    /// The rapid-guess threshold that applied.
    #[serde(rename = "h")]
    threshold_ms: i32,
    /// (item, skill, outcome, attempt, response_ms, hints_used)
    #[serde(rename = "e")]
    example: (String, String, Outcome, i32, Option<i32>, i32),
}

impl Mark {
    fn example(&self) -> Example {
        let (item_id, skill_id, outcome, attempt, response_ms, hints_used) = self.example.clone();
        Example {
            item_id,
            skill_id,
            outcome,
            attempt,
            response_ms,
            hints_used,
        }
    }
}

/// One skill's answers as the stuck rule sees them: the separate days with a first try, and
/// the latest first tries (not rapid guesses) as bits, newest in bit 0 (1 = right).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
struct SkillTrack {
    #[serde(rename = "d")]
    days: u32,
    /// The latest day with a first try (days since 1970-01-01, UTC).
    #[serde(rename = "l")]
    last_day: i64,
    #[serde(rename = "r")]
    recent: u32,
    /// First tries in `recent` (at most 32).
    #[serde(rename = "n")]
    seen: u32,
    /// The lowest estimate the student has had on the skill (none before the first answer,
    /// and in a state stored before it was kept: the next answer starts it).
    #[serde(rename = "lo", default, skip_serializing_if = "Option::is_none")]
    lowest: Option<f64>,
}

impl SkillTrack {
    fn push(&mut self, at: i64, right: bool) {
        let day = at.div_euclid(crate::util::DAY_MS) + 1;
        if day != self.last_day {
            self.days += 1;
            self.last_day = day;
        }
        self.recent = (self.recent << 1) | u32::from(right);
        self.seen = (self.seen + 1).min(32);
    }

    /// Right answers among the latest `window` first tries, and how many there are.
    fn latest(&self, window: u32) -> (u32, u32) {
        let n = self.seen.min(window);
        let mask = if n >= 32 { u32::MAX } else { (1u32 << n) - 1 };
        ((self.recent & mask).count_ones(), n)
    }
}

/// A student's detector state (stored as JSON per student).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Tracker {
    /// The latest action applied.
    #[serde(rename = "l")]
    pub last_at: Option<i64>,
    /// The current sitting: actions without a 30-minute gap.
    #[serde(rename = "ss")]
    sitting_start: i64,
    /// First attempts in the sitting.
    #[serde(rename = "sl")]
    sitting_len: u32,
    /// Wrong or skipped first attempts in a row at the end of the sitting, since when.
    #[serde(rename = "te")]
    trailing_errors: u32,
    #[serde(rename = "ts")]
    trailing_since: i64,
    /// Sittings closed so far and their mean length (first attempts).
    #[serde(rename = "n")]
    sittings: u32,
    #[serde(rename = "m")]
    mean_sitting: f64,
    /// First attempts that were not rapid guesses, and how many were right: the student's
    /// usual accuracy.
    #[serde(rename = "a")]
    answered: u32,
    #[serde(rename = "c")]
    correct: u32,
    /// The latest actions of the sitting, at most `window`.
    #[serde(rename = "w")]
    window: VecDeque<Mark>,
    /// The session of the latest action, and the sessions live lately with their last action.
    #[serde(rename = "p")]
    prev_session: Option<u64>,
    #[serde(rename = "v")]
    live: Vec<(u64, i64)>,
    /// Per skill: what the stuck rule looks at.
    #[serde(rename = "sk", default)]
    skills: std::collections::BTreeMap<String, SkillTrack>,
    /// Flags still going on.
    #[serde(rename = "o")]
    pub open: Vec<Episode>,
}

impl Tracker {
    /// Whether an action at `at` comes before actions already applied (then the student's
    /// history is replayed instead).
    pub fn is_late(&self, at: i64) -> bool {
        self.last_at.is_some_and(|last| at < last)
    }

    /// Applies one action (in time order); episodes that end are pushed to `closed`.
    pub fn step(&mut self, a: &Action, t: &Thresholds, closed: &mut Vec<Episode>) {
        if let Some(last) = self.last_at {
            let missed = idle::school_days_between(last, a.at);
            if missed >= t.idle_school_days {
                closed.push(Episode {
                    kind: Kind::Idle,
                    skill_id: None,
                    started_at: last,
                    ended_at: Some(a.at),
                    last_at: last,
                    evidence: Evidence {
                        school_days: Some(missed),
                        ..Evidence::default()
                    },
                });
            }
        }
        if self.last_at.is_none_or(|last| a.at - last > SESSION_GAP_MS) {
            self.end_sitting(t, closed);
            self.sitting_start = a.at;
        }
        let mark = self.mark(a, t);
        let first = mark.bits & FIRST != 0;
        if first {
            self.sitting_len += 1;
            if mark.bits & CORRECT == 0 {
                if self.trailing_errors == 0 {
                    self.trailing_since = a.at;
                }
                self.trailing_errors += 1;
            } else {
                self.trailing_errors = 0;
            }
        }
        self.window.push_back(mark);
        while self.window.len() > t.window.max(1) {
            self.window.pop_front();
        }
        for (kind, bits) in WINDOW_KINDS {
            self.update_window_kind(kind, bits, t, closed);
        }
        if first && self.window.back().is_some_and(|m| m.bits & RAPID == 0) {
            self.answered += 1;
            self.correct += u32::from(self.window.back().is_some_and(|m| m.bits & CORRECT != 0));
        }
        if let Some(kt) = a.kt {
            self.wheel_spinning(a, kt, t, closed);
        }
        self.last_at = Some(a.at);
    }

    /// What the action shows.
    fn mark(&mut self, a: &Action, t: &Thresholds) -> Mark {
        let threshold = a.rapid_threshold_ms(t);
        let ms = a.response_ms;
        let quick_limit = a
            .typical_ms
            .map_or(f64::from(t.gaming_fallback_ms), |m| m * t.gaming_fraction)
            .max(f64::from(threshold));
        let quick = ms.is_some_and(|ms| f64::from(ms) < quick_limit);
        let fast = match (ms, a.typical_ms) {
            (Some(ms), Some(m)) => f64::from(ms) < m * t.rushing_fraction,
            _ => false,
        };
        let answered_right = a.outcome == Outcome::Correct && !a.hint_bottom_out;
        let mut bits = 0;
        if a.is_rapid_guess(t) {
            bits |= RAPID;
        }
        if a.outcome == Outcome::Incorrect && quick {
            bits |= QUICK_WRONG;
        }
        if a.attempt > 1 && quick {
            bits |= QUICK_RETRY;
        }
        if a.hint_bottom_out && a.hints_used > 0 {
            let per_hint = ms.map(|ms| ms / a.hints_used.max(1));
            if per_hint.is_some_and(|p| p < t.hint_ms_per_hint) {
                bits |= HINT_ABUSE;
            }
        }
        if a.attempt == 1 {
            bits |= FIRST;
            if a.outcome == Outcome::Skipped {
                bits |= SKIP;
            }
            if answered_right {
                bits |= CORRECT;
            }
            if fast && a.outcome != Outcome::Skipped {
                bits |= FAST;
            }
        }
        if self.switched_session(a, t) {
            bits |= SWITCH;
        }
        Mark {
            at: a.at,
            bits,
            threshold_ms: threshold,
            example: (
                a.item_id.to_owned(),
                a.skill_id.to_owned(),
                a.outcome,
                a.attempt,
                a.response_ms,
                a.hints_used,
            ),
        }
    }

    /// Whether the action goes back to another session that is still live (or comes at the
    /// very moment of an answer in another session): one account used in two places.
    fn switched_session(&mut self, a: &Action, t: &Thresholds) -> bool {
        let Some(id) = a.session_id else {
            return false;
        };
        let key = crate::kt::session_key(id);
        self.live.retain(|&(_, at)| a.at - at <= t.shared_gap_ms);
        let prev_at = self.last_at.unwrap_or(i64::MIN);
        let switched = match self.prev_session {
            Some(prev) if prev != key => {
                let back_to_live = self.live.iter().any(|&(s, _)| s == key);
                let same_moment = a.at - prev_at < 1_000;
                back_to_live || same_moment
            }
            _ => false,
        };
        match self.live.iter_mut().find(|(s, _)| *s == key) {
            Some(entry) => entry.1 = a.at,
            None => {
                self.live.push((key, a.at));
                // A handful of sessions is plenty to tell two at once.
                if self.live.len() > 4 {
                    self.live.remove(0);
                }
            }
        }
        self.prev_session = Some(key);
        switched
    }

    fn open_index(&self, kind: Kind, skill: Option<&str>) -> Option<usize> {
        self.open
            .iter()
            .position(|e| e.kind == kind && e.skill_id.as_deref() == skill)
    }

    fn triggered(&self, kind: Kind, bits: u16, t: &Thresholds) -> bool {
        let count = |b: u16| self.window.iter().filter(|m| m.bits & b != 0).count();
        match kind {
            Kind::RapidGuessing => count(RAPID) >= t.rapid_min,
            Kind::HintAbuse => count(HINT_ABUSE) >= t.hint_abuse_min,
            Kind::Gaming => {
                count(bits) >= t.gaming_min && count(QUICK_RETRY) >= t.gaming_min_retries
            }
            Kind::GivingUp => count(SKIP) >= t.skips_min,
            Kind::SharedAccount => count(SWITCH) >= t.shared_switches,
            Kind::Rushing => self.rushing(t).is_some(),
            Kind::Idle | Kind::WheelSpinning => false,
        }
    }

    /// A run of `rushing_run` fast first attempts whose accuracy is well below the student's
    /// usual: (run accuracy, usual accuracy).
    fn rushing(&self, t: &Thresholds) -> Option<(f64, f64)> {
        if self.answered < t.rushing_min_history || t.rushing_run == 0 {
            return None;
        }
        let run: Vec<&Mark> = self
            .window
            .iter()
            .rev()
            .filter(|m| m.bits & FIRST != 0)
            .take(t.rushing_run)
            .collect();
        if run.len() < t.rushing_run || run.iter().any(|m| m.bits & FAST == 0) {
            return None;
        }
        let right = run.iter().filter(|m| m.bits & CORRECT != 0).count();
        let accuracy = right as f64 / run.len() as f64;
        // The usual accuracy leaves the run out (all but the latest answer are counted in).
        let counted: Vec<&&Mark> = run.iter().skip(1).filter(|m| m.bits & RAPID == 0).collect();
        let counted_right = counted.iter().filter(|m| m.bits & CORRECT != 0).count() as u32;
        let before = self.answered.saturating_sub(counted.len() as u32);
        if before < t.rushing_min_history {
            return None;
        }
        let usual = f64::from(self.correct.saturating_sub(counted_right)) / f64::from(before);
        (accuracy <= usual - t.rushing_drop).then_some((accuracy, usual))
    }

    fn update_window_kind(
        &mut self,
        kind: Kind,
        bits: u16,
        t: &Thresholds,
        closed: &mut Vec<Episode>,
    ) {
        let Some(latest) = self.window.back() else {
            return;
        };
        let hit = latest.bits & bits != 0;
        match self.open_index(kind, None) {
            Some(i) => {
                let e = &mut self.open[i];
                e.evidence.actions += 1;
                if hit {
                    e.evidence.hits += 1;
                    e.last_at = latest.at;
                    e.note(latest);
                    if kind == Kind::RapidGuessing {
                        e.evidence.threshold_ms = Some(latest.threshold_ms);
                    }
                }
                if kind == Kind::Rushing {
                    if let Some((acc, usual)) = self.rushing(t) {
                        let e = &mut self.open[i];
                        e.evidence.accuracy = Some(acc);
                        e.evidence.usual_accuracy = Some(usual);
                    }
                }
                let calm = t.calm_actions.max(1);
                let quiet = self.window.len() >= calm
                    && self
                        .window
                        .iter()
                        .rev()
                        .take(calm)
                        .all(|m| m.bits & bits == 0);
                if quiet {
                    let mut e = self.open.remove(i);
                    e.ended_at = Some(e.last_at);
                    closed.push(e);
                    // Hits before the end must not raise the flag again.
                    for m in &mut self.window {
                        m.bits &= !bits;
                    }
                }
            }
            // Only an action that shows the behaviour can raise its flag.
            None if !hit => {}
            None if self.triggered(kind, bits, t) => {
                let hits: Vec<&Mark> = self.window.iter().filter(|m| m.bits & bits != 0).collect();
                let Some(first) = hits.first() else {
                    return;
                };
                let started_at = first.at;
                let mut e = Episode {
                    kind,
                    skill_id: None,
                    started_at,
                    ended_at: None,
                    last_at: hits.last().map_or(started_at, |m| m.at),
                    evidence: Evidence {
                        hits: hits.len() as u32,
                        actions: self.window.iter().filter(|m| m.at >= started_at).count() as u32,
                        ..Evidence::default()
                    },
                };
                for m in &hits {
                    e.note(m);
                }
                if kind == Kind::RapidGuessing {
                    e.evidence.threshold_ms = hits.last().map(|m| m.threshold_ms);
                }
                if kind == Kind::Rushing {
                    if let Some((acc, usual)) = self.rushing(t) {
                        e.evidence.accuracy = Some(acc);
                        e.evidence.usual_accuracy = Some(usual);
                    }
                }
                self.open.push(e);
            }
            None => {}
        }
    }

    fn wheel_spinning(
        &mut self,
        a: &Action,
        kt: KtAfter,
        t: &Thresholds,
        closed: &mut Vec<Episode>,
    ) {
        let track = self.skills.entry(a.skill_id.to_owned()).or_default();
        if a.attempt == 1 && !a.is_rapid_guess(t) {
            track.push(a.at, a.outcome == Outcome::Correct && !a.hint_bottom_out);
        }
        let lowest = track.lowest.map_or(kt.estimate, |l| l.min(kt.estimate));
        track.lowest = Some(lowest);
        let window = t.wheel_spinning_window.clamp(1, 32);
        let (right, seen) = track.latest(window);
        let days = track.days;
        // The skill's pace: a slow skill takes many tries even for a diligent student.
        let needed = super::tries_needed(lowest, kt.learn, t.wheel_spinning_tail);
        let stuck = !kt.mastered
            && kt.evidence >= t.wheel_spinning_opportunities.max(needed)
            && days >= t.wheel_spinning_days
            && seen >= window
            && f64::from(right) < t.wheel_spinning_accuracy * f64::from(window);
        let getting_there = kt.mastered || (seen >= window && 2 * right >= window);
        let note = |e: &mut Episode| {
            e.last_at = a.at;
            e.evidence.opportunities = Some(kt.evidence);
            e.evidence.estimate = Some(kt.estimate);
            e.evidence.days = Some(days);
            e.evidence.hits = right;
            e.evidence.recent = Some(seen.min(window));
        };
        match self.open_index(Kind::WheelSpinning, Some(a.skill_id)) {
            Some(i) if getting_there => {
                let mut e = self.open.remove(i);
                e.ended_at = Some(a.at);
                note(&mut e);
                closed.push(e);
            }
            Some(i) => {
                let e = &mut self.open[i];
                e.evidence.actions += 1;
                note(e);
            }
            None if stuck => {
                let mut e = Episode {
                    kind: Kind::WheelSpinning,
                    skill_id: Some(a.skill_id.to_owned()),
                    started_at: a.at,
                    ended_at: None,
                    last_at: a.at,
                    evidence: Evidence {
                        actions: 1,
                        needed: Some(needed),
                        skills: vec![a.skill_id.to_owned()],
                        ..Evidence::default()
                    },
                };
                note(&mut e);
                self.open.push(e);
            }
            None => {}
        }
    }

    /// Ends the sitting: behaviours seen in it end with it, and a sitting cut short after a
    /// run of errors is a giving-up episode.
    fn end_sitting(&mut self, t: &Thresholds, closed: &mut Vec<Episode>) {
        if self.sitting_len > 0 {
            let abandoned = self.trailing_errors >= t.abandon_errors.max(1)
                && self.sittings >= 2
                && f64::from(self.sitting_len) < t.abandon_fraction * self.mean_sitting;
            if abandoned {
                let end = self.last_at.unwrap_or(self.trailing_since);
                match self.open_index(Kind::GivingUp, None) {
                    Some(i) => {
                        let e = &mut self.open[i];
                        e.evidence.abandoned_after_errors = Some(self.trailing_errors);
                        e.last_at = end;
                    }
                    None => closed.push(Episode {
                        kind: Kind::GivingUp,
                        skill_id: None,
                        started_at: self.trailing_since,
                        ended_at: Some(end),
                        last_at: end,
                        evidence: Evidence {
                            actions: self.trailing_errors,
                            abandoned_after_errors: Some(self.trailing_errors),
                            ..Evidence::default()
                        },
                    }),
                }
            }
            // The usual sitting is learnt from the sittings not cut short.
            if !abandoned {
                let n = f64::from(self.sittings);
                self.mean_sitting =
                    (self.mean_sitting * n + f64::from(self.sitting_len)) / (n + 1.0);
                self.sittings += 1;
            }
        }
        let (ending, going_on): (Vec<Episode>, Vec<Episode>) = std::mem::take(&mut self.open)
            .into_iter()
            .partition(|e| e.kind.is_sitting_scoped());
        self.open = going_on;
        for mut e in ending {
            e.ended_at = Some(e.last_at);
            closed.push(e);
        }
        self.window.clear();
        self.sitting_len = 0;
        self.trailing_errors = 0;
        self.prev_session = None;
        self.live.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_763_370_000_000; // a Monday morning, Nov 2025
    const S: i64 = 1_000;

    struct Script {
        tracker: Tracker,
        t: Thresholds,
        closed: Vec<Episode>,
        now: i64,
        n: usize,
    }

    impl Script {
        fn new() -> Self {
            Script {
                tracker: Tracker::default(),
                t: Thresholds::default(),
                closed: Vec::new(),
                now: T0,
                n: 0,
            }
        }

        /// One answer `gap` seconds after the previous one.
        fn act(&mut self, gap: i64, f: impl FnOnce(&mut Action<'static>)) {
            self.now += gap * S;
            self.n += 1;
            let item: &'static str = Box::leak(format!("item-{}", self.n).into_boxed_str());
            let mut a = Action {
                at: self.now,
                skill_id: "fractions.add",
                item_id: item,
                session_id: Some("sess-1"),
                attempt: 1,
                outcome: Outcome::Correct,
                response_ms: Some(20_000),
                hints_used: 0,
                hint_bottom_out: false,
                typical_ms: Some(20_000.0),
                kt: None,
            };
            f(&mut a);
            self.tracker.step(&a, &self.t, &mut self.closed);
        }

        fn normal(&mut self, n: usize) {
            for i in 0..n {
                self.act(25, |a| {
                    if i % 4 == 3 {
                        a.outcome = Outcome::Incorrect;
                    }
                });
            }
        }

        fn open(&self, kind: Kind) -> bool {
            self.tracker.open.iter().any(|e| e.kind == kind)
        }

        fn all(&self) -> Vec<&Episode> {
            self.closed.iter().chain(&self.tracker.open).collect()
        }

        fn kinds(&self) -> Vec<Kind> {
            self.all().iter().map(|e| e.kind).collect()
        }
    }

    #[test]
    fn diligent_work_raises_nothing() {
        let mut s = Script::new();
        s.normal(40);
        s.act(3600 * 20, |_| {});
        s.normal(40);
        assert!(s.kinds().is_empty(), "{:?}", s.all());
    }

    #[test]
    fn rapid_guessing_starts_at_the_first_guess_and_ends_when_it_stops() {
        let mut s = Script::new();
        s.normal(5);
        let first_guess = s.now + 5 * S;
        for _ in 0..2 {
            s.act(5, |a| a.response_ms = Some(900));
        }
        assert!(
            !s.open(Kind::RapidGuessing),
            "two guesses are not a pattern"
        );
        s.act(5, |a| {
            a.response_ms = Some(700);
            a.outcome = Outcome::Incorrect;
        });
        assert!(s.open(Kind::RapidGuessing));
        let e = &s.tracker.open[0];
        assert_eq!(e.started_at, first_guess);
        assert_eq!(e.evidence.hits, 3);
        assert_eq!(e.evidence.threshold_ms, Some(2_000));
        assert_eq!(e.evidence.examples.len(), 3);
        assert_eq!(
            e.sentence(),
            "Answered 3 questions too fast to have read them (under 2.0 seconds)."
        );
        let last_guess = s.now;
        s.normal(5);
        assert!(
            !s.open(Kind::RapidGuessing),
            "five considered answers end it"
        );
        let e = s.closed.iter().find(|e| e.kind == Kind::RapidGuessing);
        assert_eq!(e.and_then(|e| e.ended_at), Some(last_guess));
        s.normal(5);
        assert_eq!(s.kinds(), vec![Kind::RapidGuessing], "not raised again");
    }

    #[test]
    fn a_flag_ends_with_the_sitting() {
        let mut s = Script::new();
        for _ in 0..4 {
            s.act(5, |a| a.response_ms = Some(500));
        }
        assert!(s.open(Kind::RapidGuessing));
        s.act(3600, |_| {});
        assert!(!s.open(Kind::RapidGuessing));
        assert_eq!(s.closed.len(), 1);
    }

    #[test]
    fn gaming_needs_quick_retries_not_only_fast_answers() {
        let mut s = Script::new();
        // Fast wrong first answers alone: rapid guessing, not gaming.
        for _ in 0..6 {
            s.act(5, |a| {
                a.response_ms = Some(4_000);
                a.outcome = Outcome::Incorrect;
            });
        }
        assert!(!s.open(Kind::Gaming));
        let mut s = Script::new();
        for _ in 0..3 {
            s.act(5, |a| {
                a.response_ms = Some(4_000);
                a.outcome = Outcome::Incorrect;
            });
            let item = s.tracker.window.back().map(|m| m.example.0.clone());
            let item: &'static str = Box::leak(item.unwrap_or_default().into_boxed_str());
            s.act(2, |a| {
                a.item_id = item;
                a.attempt = 2;
                a.response_ms = Some(1_500);
            });
        }
        assert!(s.open(Kind::Gaming), "{:?}", s.all());
        assert!(
            !s.open(Kind::RapidGuessing),
            "4 s answers are not rapid here"
        );
    }

    #[test]
    fn hint_abuse_is_clicking_through_to_the_answer() {
        let mut s = Script::new();
        s.act(5, |a| {
            a.hints_used = 3;
            a.hint_bottom_out = true;
            a.response_ms = Some(12_000);
        });
        s.act(5, |a| {
            a.hints_used = 4;
            a.hint_bottom_out = true;
            a.response_ms = Some(2_000);
        });
        assert!(
            !s.open(Kind::HintAbuse),
            "one considered, one clicked through"
        );
        s.act(5, |a| {
            a.hints_used = 3;
            a.hint_bottom_out = true;
            a.response_ms = Some(2_400);
        });
        assert!(s.open(Kind::HintAbuse));
    }

    #[test]
    fn rushing_is_fast_and_below_the_students_own_accuracy() {
        let mut s = Script::new();
        for _ in 0..25 {
            s.act(25, |_| {});
        }
        for i in 0..6 {
            s.act(8, |a| {
                a.response_ms = Some(6_000);
                a.outcome = if i == 0 {
                    Outcome::Correct
                } else {
                    Outcome::Incorrect
                };
            });
        }
        assert!(s.open(Kind::Rushing), "{:?}", s.all());
        let e = s.tracker.open.iter().find(|e| e.kind == Kind::Rushing);
        assert!(e.is_some_and(|e| e.sentence().contains("not the usual 100%")));
    }

    #[test]
    fn skips_and_abandoned_sittings_are_giving_up() {
        let mut s = Script::new();
        for _ in 0..3 {
            s.act(5, |a| a.outcome = Outcome::Skipped);
        }
        assert!(s.open(Kind::GivingUp));
        let mut s = Script::new();
        for _ in 0..3 {
            s.normal(10);
            s.act(3600 * 24, |_| {});
        }
        s.normal(1);
        for _ in 0..3 {
            s.act(20, |a| a.outcome = Outcome::Incorrect);
        }
        s.act(3600 * 24, |_| {}); // the next day: the short sitting ended after errors
        let e = s.closed.iter().find(|e| e.kind == Kind::GivingUp);
        assert_eq!(e.and_then(|e| e.evidence.abandoned_after_errors), Some(3));
    }

    #[test]
    fn idle_gaps_are_recorded_when_the_student_returns() {
        let mut s = Script::new();
        s.normal(3);
        s.act(7 * 24 * 3600, |_| {}); // a week later: four school days missed
        let e = s.closed.iter().find(|e| e.kind == Kind::Idle);
        assert_eq!(e.and_then(|e| e.evidence.school_days), Some(4));
    }

    /// A skill learnt fast: its pace asks for fewer tries than `wheel_spinning_opportunities`.
    const FAST: f64 = 0.4;

    /// Five answers a day on one skill for `days` days after `done` answers (each day after
    /// the first answer starts a day later), right when `right(n)` says (n counts from 1); the
    /// estimate is `estimate` and never mastered, the skill's learning rate `learn`. Returns the
    /// answers so far.
    fn practise(
        s: &mut Script,
        done: u32,
        days: u32,
        right: impl Fn(u32) -> bool,
        estimate: f64,
        learn: f64,
    ) -> u32 {
        let mut n = done;
        for _ in 0..days {
            for i in 0..5 {
                let gap = if i == 0 && n > 0 { 24 * 3600 } else { 25 };
                n += 1;
                let ok = right(n);
                s.act(gap, |a| {
                    a.outcome = if ok {
                        Outcome::Correct
                    } else {
                        Outcome::Incorrect
                    };
                    a.kt = Some(KtAfter {
                        evidence: n,
                        mastered: false,
                        estimate,
                        learn,
                    })
                });
            }
        }
        n
    }

    #[test]
    fn stuck_needs_many_answers_over_three_days_mostly_wrong() {
        // Two days of wrong answers: many tries, but too soon to call it stuck.
        let mut s = Script::new();
        let done = practise(&mut s, 0, 2, |n| n % 5 == 0, 0.2, FAST);
        assert!(!s.open(Kind::WheelSpinning), "{:?}", s.all());
        // The third day: 15 answers over 3 days, 2 of the last 10 right.
        practise(&mut s, done, 1, |n| n % 5 == 0, 0.2, FAST);
        let e = s
            .tracker
            .open
            .iter()
            .find(|e| e.kind == Kind::WheelSpinning)
            .expect("stuck");
        assert_eq!(e.evidence.opportunities, Some(15));
        assert_eq!(e.evidence.days, Some(3));
        assert_eq!((e.evidence.hits, e.evidence.recent), (2, Some(10)));
        assert_eq!(e.skill_id.as_deref(), Some("fractions.add"));
        assert_eq!(
            e.sentence(),
            "15 answers on fractions.add over 3 days, with 2 of the last 10 right. \
             That is more tries than this skill usually takes."
        );
        // (1 − 0.2)(1 − 0.4)^n ≤ 1/150 from n = 10: the 15 tries of the rule are the bar.
        assert_eq!(e.evidence.needed, Some(10));
        // Half of the latest first tries right: getting there, the flag ends.
        for n in 16..=20 {
            s.act(25, |a| {
                a.kt = Some(KtAfter {
                    evidence: n,
                    mastered: false,
                    estimate: 0.5,
                    learn: FAST,
                })
            });
        }
        assert!(!s.open(Kind::WheelSpinning));
        assert!(s.closed.iter().any(|e| e.kind == Kind::WheelSpinning));
    }

    #[test]
    fn stuck_ends_at_mastery_and_a_slow_start_is_not_stuck() {
        let mut s = Script::new();
        let n = practise(&mut s, 0, 4, |_| false, 0.1, FAST);
        assert!(s.open(Kind::WheelSpinning));
        s.act(25, |a| {
            a.outcome = Outcome::Incorrect;
            a.kt = Some(KtAfter {
                evidence: n + 1,
                mastered: true,
                estimate: 0.96,
                learn: FAST,
            })
        });
        assert!(!s.open(Kind::WheelSpinning));
        // Wrong at first, then mostly right: many answers over several days, not stuck.
        let mut s = Script::new();
        practise(&mut s, 0, 4, |n| n > 8 && n % 4 != 0, 0.6, FAST);
        assert!(
            !s.all().iter().any(|e| e.kind == Kind::WheelSpinning),
            "{:?}",
            s.all()
        );
    }

    #[test]
    fn stuck_waits_for_the_tries_a_slow_skill_takes() {
        // A skill learnt at 0.05 a try, from an estimate of 0.2: (0.8)(0.95)^n ≤ 1/150 from
        // n = 94. Fifteen tries over three days, mostly wrong, are what learning it looks like.
        let needed = crate::signals::tries_needed(0.2, 0.05, 1.0 / 150.0);
        assert_eq!(needed, 94);
        let mut s = Script::new();
        let done = practise(&mut s, 0, 18, |n| n % 5 == 0, 0.2, 0.05);
        assert_eq!(done, 90);
        assert!(!s.open(Kind::WheelSpinning), "{:?}", s.all());
        let done = practise(&mut s, done, 1, |n| n % 5 == 0, 0.2, 0.05);
        let e = s
            .tracker
            .open
            .iter()
            .find(|e| e.kind == Kind::WheelSpinning);
        let e = e.expect("stuck once past the skill's pace");
        assert_eq!(e.started_at, s.now - 25 * S, "raised at the 94th answer");
        assert_eq!(e.evidence.opportunities, Some(done));
        assert_eq!(e.evidence.needed, Some(needed));
        assert!(e
            .sentence()
            .ends_with("more tries than this skill usually takes."));
    }

    #[test]
    fn the_pace_is_taken_from_the_lowest_estimate() {
        // An estimate that fell to 0.02 before rising to 0.3: the bar is the one from 0.02
        // (ceil(ln((1/150) / 0.98) / ln(0.95)) = 98), not from 0.3 (91).
        let mut s = Script::new();
        let done = practise(&mut s, 0, 1, |_| false, 0.02, 0.05);
        let done = practise(&mut s, done, 18, |n| n % 5 == 0, 0.3, 0.05);
        assert_eq!(done, 95);
        assert!(!s.open(Kind::WheelSpinning), "{:?}", s.all());
        practise(&mut s, done, 1, |n| n % 5 == 0, 0.3, 0.05);
        let e = s
            .tracker
            .open
            .iter()
            .find(|e| e.kind == Kind::WheelSpinning);
        assert_eq!(e.and_then(|e| e.evidence.needed), Some(98));
    }

    #[test]
    fn a_state_stored_without_the_lowest_estimate_loads() {
        let mut s = Script::new();
        let done = practise(&mut s, 0, 2, |n| n % 5 == 0, 0.2, FAST);
        let mut json = serde_json::to_value(&s.tracker).unwrap_or_default();
        let skills = json.get_mut("sk").and_then(|v| v.as_object_mut());
        let mut stripped = 0;
        for track in skills.into_iter().flat_map(|m| m.values_mut()) {
            stripped += usize::from(track.as_object_mut().and_then(|t| t.remove("lo")).is_some());
        }
        assert_eq!(stripped, 1);
        let loaded: Result<Tracker, _> = serde_json::from_value(json);
        let Ok(tracker) = loaded else {
            panic!("an older state does not load: {loaded:?}");
        };
        s.tracker = tracker;
        practise(&mut s, done, 1, |n| n % 5 == 0, 0.2, FAST);
        assert!(s.open(Kind::WheelSpinning), "{:?}", s.all());
    }

    #[test]
    fn two_sessions_at_once_are_a_shared_account() {
        let mut s = Script::new();
        for i in 0..6 {
            s.act(20, |a| {
                a.session_id = Some(if i % 2 == 0 { "tab-a" } else { "tab-b" })
            });
        }
        assert!(s.open(Kind::SharedAccount), "{:?}", s.all());
        let mut s = Script::new();
        for i in 0..6 {
            // One tool after the other is no sharing.
            s.act(20, |a| {
                a.session_id = Some(if i < 3 { "tab-a" } else { "tab-b" })
            });
        }
        assert!(!s.open(Kind::SharedAccount));
    }

    #[test]
    fn the_state_round_trips_through_json_mid_episode() {
        let mut s = Script::new();
        let mut copy = Script::new();
        for i in 0..12 {
            let ms = if i % 2 == 0 { 500 } else { 20_000 };
            s.act(5, |a| a.response_ms = Some(ms));
            copy.act(5, |a| a.response_ms = Some(ms));
            let json = serde_json::to_string(&copy.tracker).unwrap_or_default();
            copy.tracker = serde_json::from_str(&json).unwrap_or_default();
        }
        assert_eq!(s.tracker, copy.tracker);
        assert_eq!(s.closed, copy.closed);
    }
}
