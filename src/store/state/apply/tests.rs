//! The apply step without a database: a store kept in memory takes what each batch writes,
//! and what it ends with is compared with a replay of every event.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::*;
use crate::ingest::{Event, Outcome};
use crate::kt::SkillState;
use crate::signals::Settings;
use crate::store::state::sql::NewState;

const ORG: &str = "district";
const T0: i64 = 1_763_000_000_000;
const MINUTE: i64 = 60_000;

/// An answer at `minute`, unhurried (well above every rapid-guess threshold).
fn answer(student: &str, skill: &str, item: &str, minute: i64, outcome: Outcome) -> Event {
    Event {
        event_id: uuid::Uuid::new_v4(),
        occurred_at: DateTime::<Utc>::from_timestamp_millis(T0 + minute * MINUTE).unwrap(),
        student_id: student.into(),
        class_id: "c1".into(),
        skill_id: skill.into(),
        item_id: item.into(),
        outcome,
        attempt: 1,
        response_ms: Some(20_000),
        hints_used: 0,
        hint_bottom_out: false,
        session_id: None,
        skill_name: None,
        tool: None,
        response: None,
    }
}

/// Three students on two skills, a few answers each, in time order.
fn practice() -> Vec<Event> {
    let mut events = Vec::new();
    for minute in 0..12 {
        for (s, student) in ["s1", "s2", "s3"].into_iter().enumerate() {
            let skill = if minute % 3 == 0 { "k.b" } else { "k.a" };
            let item = format!("i{}", (minute as usize + s) % 7);
            let outcome = match (minute as usize + s) % 4 {
                0 => Outcome::Incorrect,
                3 if s == 2 => Outcome::Skipped,
                _ => Outcome::Correct,
            };
            events.push(answer(
                student,
                skill,
                &item,
                minute * 2 + s as i64,
                outcome,
            ));
        }
    }
    events
}

/// What the tables the apply step reads would hold once the writes are saved.
#[derive(Default)]
struct Memory {
    events: Vec<StoredEvent>,
    states: BTreeMap<(String, String), NewState>,
    seen: BTreeSet<(String, String, String)>,
    trackers: HashMap<String, Tracker>,
    norms: HashMap<NormKey, Norm>,
}

impl Memory {
    /// Stores `batch` and applies it, as one ingest transaction does; gives back whom it
    /// replayed (`late`, `whole`, as owned names).
    fn ingest(&mut self, batch: &[Event], sig: &Settings) -> (Vec<(String, String)>, Vec<String>) {
        let first = self.events.len() as i64 + 1;
        let inserted: Vec<(&Event, i64)> = batch.iter().zip(first..).collect();
        let new = NewEvents::of(&inserted);
        let loaded = self.loaded(&new, sig);
        let replays = replays(&new, &loaded, sig.enabled);
        let names = (
            replays
                .late
                .iter()
                .map(|(s, k)| ((*s).to_owned(), (*k).to_owned()))
                .collect(),
            replays.whole.iter().map(|s| (*s).to_owned()).collect(),
        );
        self.events
            .extend(batch.iter().zip(first..).map(|(e, seq)| StoredEvent {
                seq,
                org_id: ORG.into(),
                received_at: 0,
                event: e.clone(),
            }));
        let students = replays.students();
        let mut events: Vec<StoredEvent> = self
            .events
            .iter()
            .filter(|e| students.contains(&e.event.student_id.as_str()))
            .cloned()
            .collect();
        events.sort_by_key(|e| (e.event.student_id.clone(), e.event.occurred_at, e.seq));
        let history = History {
            events,
            norms: self.norms.clone(),
        };
        let writes = apply(ORG, 0, sig, &new, loaded, &replays, &history);
        self.save(writes);
        names
    }

    fn loaded(&self, batch: &NewEvents, sig: &Settings) -> Loaded {
        let pairs = batch.pairs();
        let mut loaded = Loaded {
            states: self
                .states
                .values()
                .filter(|s| pairs.contains(&(s.student_id.as_str(), s.skill_id.as_str())))
                .map(|s| StateRow {
                    student_id: s.student_id.clone(),
                    skill_id: s.skill_id.clone(),
                    state: s.state.clone(),
                    last_occurred_at: s.last_occurred_at,
                    last_seq: s.last_seq,
                    session_start: s.session_start,
                })
                .collect(),
            seen: self
                .seen
                .iter()
                .filter(|(s, k, _)| pairs.contains(&(s.as_str(), k.as_str())))
                .map(|(s, k, i)| SeenRow {
                    student_id: s.clone(),
                    skill_id: k.clone(),
                    item_id: i.clone(),
                })
                .collect(),
            ..Loaded::default()
        };
        if sig.enabled {
            loaded.norms = self.norms.clone();
            for student in batch.students() {
                match self.trackers.get(student) {
                    Some(t) => {
                        loaded.trackers.insert(student.to_owned(), t.clone());
                    }
                    None if self.states.keys().any(|(s, _)| s == student) => {
                        loaded.with_history.insert(student.to_owned());
                    }
                    None => {}
                }
            }
        }
        loaded
    }

    fn save(&mut self, w: Writes) {
        for s in w.states {
            self.states
                .insert((s.student_id.clone(), s.skill_id.clone()), s);
        }
        for i in w.items {
            self.seen.insert((i.student_id, i.skill_id, i.item_id));
        }
        self.trackers.extend(w.trackers);
        for (key, n) in w.norms {
            let norm = self.norms.entry(key).or_insert(Norm::EMPTY);
            norm.responses += n.responses;
            norm.sum_log_ms += n.sum_log_ms;
        }
    }

    /// Every state as a replay of all the events writes it.
    fn replayed(&self, sig: &Settings) -> BTreeMap<(String, String), NewState> {
        let mut events = self.events.clone();
        events.sort_by_key(|e| (e.event.student_id.clone(), e.event.occurred_at, e.seq));
        let models = HashMap::new();
        let cx = Context::new(
            ORG,
            0,
            &models,
            &self.norms,
            sig.enabled.then_some(&sig.thresholds),
        );
        let mut out = Writes::default();
        replay(&cx, &events, |_, _| true, None, &mut out);
        out.states
            .into_iter()
            .map(|s| ((s.student_id.clone(), s.skill_id.clone()), s))
            .collect()
    }
}

fn off() -> Settings {
    Settings {
        enabled: false,
        ..Settings::default()
    }
}

#[test]
fn batches_in_time_order_end_where_a_replay_of_every_event_does() {
    for sig in [Settings::default(), off()] {
        let mut memory = Memory::default();
        for batch in practice().chunks(5) {
            let (late, whole) = memory.ingest(batch, &sig);
            assert!(late.is_empty() && whole.is_empty(), "{late:?} {whole:?}");
        }
        assert_eq!(memory.states.len(), 6);
        assert_eq!(memory.states, memory.replayed(&sig));
    }
}

#[test]
fn a_late_event_replays_its_student_and_ends_as_in_order_arrival() {
    let events = practice();
    // s2's answer at minute 5 arrives with the last batch.
    let late = events
        .iter()
        .position(|e| e.student_id == "s2" && e.skill_id == "k.a")
        .unwrap();
    let mut in_order = Memory::default();
    for batch in events.chunks(6) {
        in_order.ingest(batch, &Settings::default());
    }
    for sig in [Settings::default(), off()] {
        let mut memory = Memory::default();
        let mut rest: Vec<Event> = events.clone();
        let held = rest.remove(late);
        for batch in rest.chunks(6) {
            memory.ingest(batch, &sig);
        }
        let (late_pairs, whole) = memory.ingest(std::slice::from_ref(&held), &sig);
        assert_eq!(late_pairs, [("s2".to_owned(), "k.a".to_owned())]);
        if sig.enabled {
            assert_eq!(whole, ["s2"], "signals replay the student whole");
        } else {
            assert!(whole.is_empty());
        }
        assert_eq!(memory.states, memory.replayed(&sig));
        let of = |m: &Memory| -> SkillState {
            let row = &m.states[&("s2".to_owned(), "k.a".to_owned())];
            serde_json::from_str(&row.state).unwrap()
        };
        assert_eq!(of(&memory), of(&in_order));
    }
}

#[test]
fn an_item_met_before_is_written_once_and_is_no_new_evidence() {
    let mut memory = Memory::default();
    memory.ingest(&[answer("s1", "k.a", "i1", 0, Outcome::Incorrect)], &off());
    let batch = [
        answer("s1", "k.a", "i1", 1, Outcome::Correct),
        answer("s1", "k.a", "i2", 2, Outcome::Correct),
    ];
    let inserted: Vec<(&Event, i64)> = batch.iter().zip(2..).collect();
    let new = NewEvents::of(&inserted);
    let loaded = memory.loaded(&new, &off());
    let replays = replays(&new, &loaded, false);
    let w = apply(ORG, 0, &off(), &new, loaded, &replays, &History::default());
    let items: Vec<&str> = w.items.iter().map(|i| i.item_id.as_str()).collect();
    assert_eq!(items, ["i2"]);
    let state: SkillState = serde_json::from_str(&w.states[0].state).unwrap();
    assert_eq!(
        state.opportunities, 2,
        "i1 again is a retry, i2 an opportunity"
    );
    assert_eq!(w.states[0].last_seq, 3);
    assert!(w.trackers.is_empty() && w.episodes.is_empty() && w.norms.is_empty());
}

#[test]
fn signals_keep_each_students_detectors_and_the_norms_of_unhurried_right_answers() {
    let sig = Settings::default();
    let mut memory = Memory::default();
    let batch = [
        answer("s1", "k.a", "i1", 0, Outcome::Correct),
        answer("s1", "k.a", "i2", 1, Outcome::Incorrect),
        Event {
            response_ms: Some(300),
            ..answer("s2", "k.a", "i1", 0, Outcome::Correct)
        },
    ];
    memory.ingest(&batch, &sig);
    let students: HashSet<&str> = memory.trackers.keys().map(String::as_str).collect();
    assert_eq!(students, HashSet::from(["s1", "s2"]));
    // Only s1's right answer at i1 joins the norms: the wrong one and the rapid guess do not.
    let key = |item: &str| ("k.a".to_owned(), item.to_owned());
    assert_eq!(memory.norms[&key("i1")].responses, 1);
    assert_eq!(memory.norms[&key("")].responses, 1);
    assert!(!memory.norms.contains_key(&key("i2")));
    // The rapid guess is an opportunity without evidence.
    let s2: SkillState =
        serde_json::from_str(&memory.states[&("s2".to_owned(), "k.a".to_owned())].state).unwrap();
    assert_eq!((s2.opportunities, s2.evidence()), (1, 0));
}

#[test]
fn a_student_whose_events_were_applied_with_signals_off_is_replayed_when_they_come_on() {
    let mut memory = Memory::default();
    let events = practice();
    let (first, second) = events.split_at(18);
    memory.ingest(first, &off());
    let (late, whole) = memory.ingest(second, &Settings::default());
    assert!(late.is_empty());
    assert_eq!(whole, ["s1", "s2", "s3"]);
    assert_eq!(memory.trackers.len(), 3);
    assert_eq!(memory.states, memory.replayed(&Settings::default()));
}
