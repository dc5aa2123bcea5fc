//! One stored event through knowledge tracing and the behaviour detectors: the step the
//! ingest's apply and every replay share, and the writes they both produce.

use std::collections::HashMap;

use crate::ingest::Event;
use crate::kt::evidence::{Attempt, Track};
use crate::kt::{Rules, SkillModel, SkillState};
use crate::signals::{Action, Episode, KtAfter, Norm, Thresholds, Tracker};
use crate::store::events::StoredEvent;
use crate::store::flags::NormKey;
use crate::store::predictions::Tally;

use super::sql::{NewItem, NewState, StateRow};

/// A stored event while it is applied: the event with its `seq` and its time in ms.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ev<'a> {
    pub seq: i64,
    pub at: i64,
    pub event: &'a Event,
}

impl<'a> Ev<'a> {
    pub fn of(event: &'a Event, seq: i64) -> Self {
        Ev {
            seq,
            at: event.occurred_at.timestamp_millis(),
            event,
        }
    }

    pub fn stored(e: &'a StoredEvent) -> Self {
        Ev::of(&e.event, e.seq)
    }

    pub fn student(&self) -> &'a str {
        &self.event.student_id
    }

    pub fn skill(&self) -> &'a str {
        &self.event.skill_id
    }

    pub fn item(&self) -> &'a str {
        &self.event.item_id
    }

    pub fn action(&self, typical_ms: Option<f64>) -> Action<'a> {
        Action::of(self.event, typical_ms)
    }
}

/// What stepping events reads besides the events.
pub(super) struct Context<'a> {
    pub org: &'a str,
    /// When the writes are made (ms).
    pub now: i64,
    /// The organisation's fitted models, by skill.
    models: &'a HashMap<String, SkillModel>,
    /// The model of a skill never fitted.
    default_model: SkillModel,
    /// The norms of the events' items and skills (signals on).
    norms: &'a HashMap<NormKey, Norm>,
    /// The detectors' thresholds; None with signals off.
    pub signals: Option<&'a Thresholds>,
}

impl<'a> Context<'a> {
    pub fn new(
        org: &'a str,
        now: i64,
        models: &'a HashMap<String, SkillModel>,
        norms: &'a HashMap<NormKey, Norm>,
        signals: Option<&'a Thresholds>,
    ) -> Self {
        Context {
            org,
            now,
            models,
            default_model: SkillModel::default(),
            norms,
            signals,
        }
    }

    pub fn model(&self, skill: &str) -> &SkillModel {
        self.models.get(skill).unwrap_or(&self.default_model)
    }

    /// The typical time of `item` of `skill` (signals on, once the item or skill has a norm).
    pub fn typical_ms(&self, skill: &str, item: &str) -> Option<f64> {
        let t = self.signals?;
        crate::store::flags::typical_of(self.norms, skill, item, t)
    }
}

/// A student × skill's knowledge-tracing state while events are applied.
pub(super) struct Kt {
    pub state: SkillState,
    pub track: Track,
    pub last_seq: i64,
}

impl Kt {
    /// Before any event.
    pub fn new(model: &SkillModel) -> Self {
        Kt {
            state: SkillState::new(model),
            track: Track::NONE,
            last_seq: 0,
        }
    }

    /// As stored (an unreadable state starts again from the model).
    pub fn stored(row: &StateRow, model: &SkillModel) -> Self {
        Kt {
            state: row.skill_state().unwrap_or_else(|| SkillState::new(model)),
            track: Track {
                last_at: row.last_occurred_at,
                session_start: row.session_start,
            },
            last_seq: row.last_seq,
        }
    }

    /// The row that saves it.
    pub fn row(&self, org: &str, student: &str, skill: &str, now: i64) -> NewState {
        NewState {
            org_id: org.to_owned(),
            student_id: student.to_owned(),
            skill_id: skill.to_owned(),
            state: serde_json::to_string(&self.state).unwrap_or_default(),
            last_occurred_at: self.track.last_at,
            last_seq: self.last_seq,
            session_start: self.track.session_start,
            updated_at: now,
        }
    }
}

/// Applies one event of a student, in time order: the knowledge tracing of its skill (a rapid
/// guess counts as an opportunity but not as evidence), then, when `tracker` is given, the
/// behaviour detectors (episodes that end go to `closed`). Returns, for an answer that counts
/// as evidence, the P(correct) the model predicted before it and whether it was right.
#[allow(clippy::too_many_arguments)]
pub(super) fn step_event(
    ev: &Ev,
    first: bool,
    kt: &mut Kt,
    model: &SkillModel,
    tracker: Option<&mut Tracker>,
    typical_ms: Option<f64>,
    t: &Thresholds,
    closed: &mut Vec<Episode>,
) -> Option<(f64, bool)> {
    let mut action = ev.action(typical_ms);
    let rapid = tracker.is_some() && action.is_rapid_guess(t);
    let predicted = kt.state.predict(&model.params);
    let counted = kt
        .track
        .step(&mut kt.state, model, &Attempt::of(ev.event, rapid), first)
        .filter(|obs| !obs.excluded)
        .map(|obs| (predicted, obs.correct));
    kt.last_seq = kt.last_seq.max(ev.seq);
    if let Some(tracker) = tracker {
        action.kt = Some(KtAfter {
            evidence: kt.state.evidence(),
            mastered: kt.state.p_known >= Rules::default().mastery_threshold,
            estimate: kt.state.p_known,
            learn: model.params.learn,
        });
        tracker.step(&action, t, closed);
    }
    counted
}

/// The row of an item a student meets for the first time.
pub(super) fn new_item(org: &str, ev: &Ev) -> NewItem {
    NewItem {
        org_id: org.to_owned(),
        student_id: ev.student().to_owned(),
        skill_id: ev.skill().to_owned(),
        item_id: ev.item().to_owned(),
        first_occurred_at: ev.at,
    }
}

/// What applying events writes, in the batch's transaction or a rebuild's.
#[derive(Debug, Default)]
pub(super) struct Writes {
    pub states: Vec<NewState>,
    /// Items met for the first time, with that time.
    pub items: Vec<NewItem>,
    /// Each student's detector state (signals on).
    pub trackers: Vec<(String, Tracker)>,
    /// Flag episodes to insert or update (signals on).
    pub episodes: Vec<(String, Episode)>,
    /// Students replayed whole, whose stored flags the episodes replace (signals on).
    pub flags_replaced: Vec<String>,
    /// The predictions of the answers that count as evidence (ingest only).
    pub predictions: Tally,
    /// The response times to add to the items' norms (ingest only, signals on).
    pub norms: HashMap<NormKey, Norm>,
}
