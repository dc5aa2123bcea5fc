//! From a student's events on one skill to observations: the evidence rules of [`crate::kt`]
//! applied to one event at a time, so that the online path (the store, in the ingest
//! transaction) and a replay from the stored events run the very same steps.
//!
//! A [`Track`] is everything a student × skill carries between events besides the stored
//! [`SkillState`]: the time of the latest event (to tell late events and to derive sessions)
//! and the start of the current derived session. Which items the student has met is kept by
//! the caller (the store keeps a table of them); [`Track::step`] is told whether the event is
//! the first at its item.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::{observation_outcome, session_key, Observation, SkillModel, SkillState};
use crate::ingest::{Event, Outcome};

/// Without a `session_id`, a gap longer than this between two events of a student on a skill
/// starts a new session (contract: sessions are split at 30 minutes of inactivity).
pub const SESSION_GAP_MS: i64 = 30 * 60 * 1000;

/// One stored event, as far as the evidence rules are concerned.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    pub item_id: &'a str,
    /// Milliseconds since the Unix epoch.
    pub occurred_at: i64,
    pub attempt: i32,
    pub outcome: Outcome,
    pub hint_bottom_out: bool,
    pub session_id: Option<&'a str>,
    /// The behaviour signals judged this answer a rapid guess (`signals::Action::is_rapid_guess`):
    /// it counts as an opportunity but not as evidence of knowledge.
    pub rapid_guess: bool,
}

impl<'a> Attempt<'a> {
    /// What the evidence rules read of `e`; `rapid_guess` as the behaviour signals judged it.
    pub fn of(e: &'a Event, rapid_guess: bool) -> Self {
        Attempt {
            item_id: &e.item_id,
            occurred_at: e.occurred_at.timestamp_millis(),
            attempt: e.attempt,
            outcome: e.outcome,
            hint_bottom_out: e.hint_bottom_out,
            session_id: e.session_id.as_deref(),
            rapid_guess,
        }
    }
}

/// Where a student × skill's history stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Track {
    /// `occurred_at` of the latest event applied (retries included).
    pub last_at: i64,
    /// Start of the session derived from inactivity that the latest event belongs to.
    pub session_start: i64,
}

impl Track {
    /// The track before any event.
    pub const NONE: Track = Track {
        last_at: i64::MIN,
        session_start: i64::MIN,
    };

    /// Whether `occurred_at` comes before events already applied: such an event cannot be
    /// applied on top of the state, the history has to be replayed (events at the same
    /// millisecond are ordered by arrival, so they are not late).
    pub fn is_late(&self, occurred_at: i64) -> bool {
        occurred_at < self.last_at
    }

    /// Moves the track to `a` (which must not be late) and gives the session key of `a`: the
    /// hash of its `session_id`, or, without one, of the derived session's start time.
    fn advance(&mut self, a: &Attempt) -> u64 {
        if self.last_at == i64::MIN || a.occurred_at - self.last_at > SESSION_GAP_MS {
            self.session_start = a.occurred_at;
        }
        self.last_at = a.occurred_at;
        match a.session_id {
            Some(id) => session_key(id),
            // The NUL keeps a derived key apart from any session id a tool could send.
            None => session_key(&format!("\0derived:{}", self.session_start)),
        }
    }

    /// Applies one event in time order: moves the track, and when the event is the student's
    /// first at its item (`first`), turns it into an observation and applies it to `state`.
    /// Returns the observation applied, if any.
    pub fn step(
        &mut self,
        state: &mut SkillState,
        model: &SkillModel,
        a: &Attempt,
        first: bool,
    ) -> Option<Observation> {
        let session = self.advance(a);
        let obs = observation(a, first, session)?;
        state.apply(model, &obs);
        Some(obs)
    }
}

/// The observation an event gives, if any: only the first event at an item counts, and only
/// when it is a first attempt (`attempt == 1`: an earlier attempt that never reached Huddle
/// means the student has had feedback already). Skips and bottom-out hints are incorrect.
pub fn observation(a: &Attempt, first: bool, session: u64) -> Option<Observation> {
    if !first || a.attempt != 1 {
        return None;
    }
    Some(Observation {
        correct: observation_outcome(a.outcome, a.hint_bottom_out),
        at: DateTime::<Utc>::from_timestamp_millis(a.occurred_at).unwrap_or_default(),
        session,
        // A rapid guess counts as an opportunity without moving the estimate.
        excluded: is_excluded(a),
    })
}

/// Whether the behaviour signals exclude this answer from the evidence: rapid guesses. (Other
/// answers of a gaming episode still count: they are slow enough to have been read.)
fn is_excluded(a: &Attempt) -> bool {
    a.rapid_guess
}

/// What a replay of a student × skill's whole history gives.
#[derive(Debug, Clone, PartialEq)]
pub struct Replayed {
    pub state: SkillState,
    pub track: Track,
    /// The observations, in the order applied (for fitting).
    pub observations: Vec<Observation>,
}

/// Replays a student's events on one skill, given in time order (`occurred_at`, then
/// arrival): the same steps as the online path, from scratch.
pub fn replay<'a>(model: &SkillModel, attempts: impl IntoIterator<Item = Attempt<'a>>) -> Replayed {
    let mut state = SkillState::new(model);
    let mut track = Track::NONE;
    let mut seen: HashSet<&str> = HashSet::new();
    let mut observations = Vec::new();
    for a in attempts {
        let first = seen.insert(a.item_id);
        if let Some(obs) = track.step(&mut state, model, &a, first) {
            observations.push(obs);
        }
    }
    Replayed {
        state,
        track,
        observations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;
    const T0: i64 = 1_763_000_000_000;

    fn at(item: &'static str, minutes: i64, outcome: Outcome) -> Attempt<'static> {
        Attempt {
            item_id: item,
            occurred_at: T0 + minutes * MIN,
            attempt: 1,
            outcome,
            hint_bottom_out: false,
            session_id: None,
            rapid_guess: false,
        }
    }

    #[test]
    fn only_the_first_event_at_an_item_is_an_observation() {
        let model = SkillModel::default();
        let r = replay(
            &model,
            [
                at("a", 0, Outcome::Incorrect),
                at("a", 1, Outcome::Correct),
                at("b", 2, Outcome::Correct),
            ],
        );
        assert_eq!(r.observations.len(), 2);
        assert!(!r.observations[0].correct);
        assert!(r.observations[1].correct);
        assert_eq!(r.state.opportunities, 2);
    }

    #[test]
    fn a_first_event_that_is_not_attempt_one_is_not_evidence() {
        let a = Attempt {
            attempt: 2,
            ..at("a", 0, Outcome::Correct)
        };
        assert_eq!(observation(&a, true, 1), None);
        assert!(observation(&at("a", 0, Outcome::Correct), true, 1).is_some());
        assert_eq!(observation(&at("a", 0, Outcome::Correct), false, 1), None);
    }

    #[test]
    fn skips_and_bottom_out_hints_are_incorrect() {
        let skipped = observation(&at("a", 0, Outcome::Skipped), true, 1).map(|o| o.correct);
        assert_eq!(skipped, Some(false));
        let bottom = Attempt {
            hint_bottom_out: true,
            ..at("a", 0, Outcome::Correct)
        };
        assert_eq!(
            observation(&bottom, true, 1).map(|o| o.correct),
            Some(false)
        );
        let excluded = observation(&at("a", 0, Outcome::Correct), true, 1).map(|o| o.excluded);
        assert_eq!(excluded, Some(false));
        let rapid = Attempt {
            rapid_guess: true,
            ..at("a", 0, Outcome::Correct)
        };
        assert_eq!(observation(&rapid, true, 1).map(|o| o.excluded), Some(true));
    }

    #[test]
    fn sessions_split_after_thirty_minutes_of_inactivity() {
        let model = SkillModel::default();
        let r = replay(
            &model,
            [
                at("a", 0, Outcome::Correct),
                at("b", 25, Outcome::Correct),
                at("c", 50, Outcome::Correct), // 25 minutes after b: same session
                at("d", 81, Outcome::Correct), // 31 minutes after c: a new one
                at("d", 100, Outcome::Correct), // a retry keeps the session alive
                at("e", 125, Outcome::Correct),
            ],
        );
        let s: Vec<u64> = r.observations.iter().map(|o| o.session).collect();
        assert_eq!(s[0], s[1]);
        assert_eq!(s[1], s[2]);
        assert_ne!(s[2], s[3]);
        assert_eq!(s[3], s[4]);
        assert_eq!(r.track.session_start, T0 + 81 * MIN);
        assert_eq!(r.track.last_at, T0 + 125 * MIN);
    }

    #[test]
    fn a_session_id_wins_over_the_derived_session() {
        let model = SkillModel::default();
        let with = |m, id| Attempt {
            session_id: Some(id),
            ..at("x", m, Outcome::Correct)
        };
        let mut track = Track::NONE;
        let mut state = SkillState::new(&model);
        let o1 = track.step(&mut state, &model, &with(0, "s1"), true);
        let o2 = track.step(&mut state, &model, &with(1, "s2"), true);
        assert_eq!(o1.map(|o| o.session), Some(session_key("s1")));
        assert_eq!(o2.map(|o| o.session), Some(session_key("s2")));
    }

    #[test]
    fn online_steps_equal_the_replay() {
        let model = SkillModel::default();
        let events = [
            at("a", 0, Outcome::Correct),
            at("b", 5, Outcome::Incorrect),
            at("b", 6, Outcome::Correct),
            at("c", 3000, Outcome::Skipped),
            at("d", 3001, Outcome::Correct),
        ];
        let whole = replay(&model, events);
        // Online: the first three, stored, then the rest on top.
        let first = replay(&model, events[..3].iter().copied());
        let (mut state, mut track) = (first.state, first.track);
        let mut seen: HashSet<&str> = events[..3].iter().map(|a| a.item_id).collect();
        for a in &events[3..] {
            assert!(!track.is_late(a.occurred_at));
            track.step(&mut state, &model, a, seen.insert(a.item_id));
        }
        assert_eq!(state, whole.state);
        assert_eq!(track, whole.track);
        assert!(track.is_late(T0));
    }
}
