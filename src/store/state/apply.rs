//! The ingest's step on the derived state, in the batch's transaction: load what the batch's
//! students and items have ([`Loaded`]), work out who must be replayed ([`replays`]), apply
//! the batch ([`apply`], pure: loaded state + batch → [`Writes`]) and save the writes.
//!
//! Each new event moves its student × skill's knowledge tracing, is checked against its item's
//! timing norm (a rapid guess is no evidence of knowledge) and fed to its student's detectors;
//! the flags they raise or end are saved. A student × skill with an event earlier than its
//! latest is replayed from the stored events instead, so the result equals in-order arrival;
//! with signals on, such a student (or one whose detectors are behind or missing) is replayed
//! whole.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use diesel::QueryResult;

use crate::ingest::Event;
use crate::signals::{self, Norm, Tracker};
use crate::store::events::StoredEvent;
use crate::store::flags::NormKey;

use super::replay::replay;
use super::sql::{self, SeenRow, StateRow, StateSql};
use super::step::{new_item, step_event, Context, Ev, Kt, Writes};

/// Applies the events this transaction inserted (`seq` is each one's events row) to the
/// derived state: called by `events::append_in`, inside the batch's transaction, which holds
/// the students' locks ([`StateSql::lock_students`]) already. `sig`: whether the detectors
/// run, and their thresholds.
pub(crate) fn apply_in<C: StateSql>(
    c: &mut C,
    org: &str,
    inserted: &[(&Event, i64)],
    now: i64,
    sig: &signals::Settings,
) -> QueryResult<()> {
    if inserted.is_empty() {
        return Ok(());
    }
    let batch = NewEvents::of(inserted);
    let loaded = load(c, org, &batch, sig)?;
    let replays = replays(&batch, &loaded, sig.enabled);
    let history = if replays.is_empty() {
        History::default()
    } else {
        let events = c.load_history(org, &replays.students())?;
        let norms = if sig.enabled {
            sql::history_norms(c, org, &events)?
        } else {
            HashMap::new()
        };
        History { events, norms }
    };
    let writes = apply(org, now, sig, &batch, loaded, &replays, &history);
    sql::save(c, org, &writes, sig, now)
}

/// A batch's new events.
pub(super) struct NewEvents<'a> {
    evs: Vec<Ev<'a>>,
    /// Each student's new events, in time order then arrival order.
    by_student: BTreeMap<&'a str, Vec<Ev<'a>>>,
}

impl<'a> NewEvents<'a> {
    pub fn of(inserted: &[(&'a Event, i64)]) -> Self {
        let evs: Vec<Ev> = inserted.iter().map(|&(e, seq)| Ev::of(e, seq)).collect();
        let mut by_student: BTreeMap<&str, Vec<Ev>> = BTreeMap::new();
        for ev in &evs {
            by_student.entry(ev.student()).or_default().push(*ev);
        }
        for list in by_student.values_mut() {
            list.sort_by_key(|ev| (ev.at, ev.seq));
        }
        NewEvents { evs, by_student }
    }

    fn students(&self) -> BTreeSet<&'a str> {
        self.by_student.keys().copied().collect()
    }

    /// The batch's student × skill pairs.
    fn pairs(&self) -> BTreeSet<(&'a str, &'a str)> {
        self.evs
            .iter()
            .map(|ev| (ev.student(), ev.skill()))
            .collect()
    }
}

/// What the batch's transaction reads before it applies the batch.
#[derive(Debug, Default)]
pub(super) struct Loaded {
    /// The stored states of the batch's student × skill pairs.
    pub states: Vec<StateRow>,
    /// The items those pairs have met.
    pub seen: Vec<SeenRow>,
    /// The organisation's fitted models.
    pub models: HashMap<String, crate::kt::SkillModel>,
    /// The norms of the batch's items and of their skills (signals on).
    pub norms: HashMap<NormKey, Norm>,
    /// The batch's students' detector states (signals on).
    pub trackers: HashMap<String, Tracker>,
    /// The batch's students without a detector state who have stored states (signals on):
    /// their events were applied with signals off, so their detectors start from a replay.
    pub with_history: HashSet<String>,
}

fn load<C: StateSql>(
    c: &mut C,
    org: &str,
    batch: &NewEvents,
    sig: &signals::Settings,
) -> QueryResult<Loaded> {
    let pairs = batch.pairs();
    let mut loaded = Loaded {
        states: c.load_states(org, &pairs)?,
        seen: c.load_seen(org, &pairs)?,
        models: c.load_models(org)?,
        ..Loaded::default()
    };
    if sig.enabled {
        let students = batch.students();
        let skills: BTreeSet<&str> = batch.evs.iter().map(Ev::skill).collect();
        let items: BTreeSet<&str> = batch.evs.iter().map(Ev::item).collect();
        loaded.norms = c.load_norms(org, &skills, &items)?;
        loaded.trackers = c.load_trackers(org, &students)?;
        let untracked: BTreeSet<&str> = students
            .into_iter()
            .filter(|s| !loaded.trackers.contains_key(*s))
            .collect();
        if !untracked.is_empty() {
            loaded.with_history = c.students_with_state(org, &untracked)?;
        }
    }
    Ok(loaded)
}

/// Who is replayed from the stored events instead of taking the batch on top of their state.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Replays<'a> {
    /// Student × skills with an event earlier than the latest applied (or an unreadable state).
    pub late: BTreeSet<(&'a str, &'a str)>,
    /// Students replayed whole (signals on): a late event, or detectors behind the batch or
    /// missing while the student has a history.
    pub whole: BTreeSet<&'a str>,
}

impl<'a> Replays<'a> {
    pub fn is_empty(&self) -> bool {
        self.late.is_empty() && self.whole.is_empty()
    }

    /// The students whose events are loaded.
    pub fn students(&self) -> Vec<&'a str> {
        let mut students = self.whole.clone();
        students.extend(self.late.iter().map(|(s, _)| *s));
        students.into_iter().collect()
    }
}

/// Works out who is replayed (pure).
pub(super) fn replays<'a>(batch: &NewEvents<'a>, loaded: &Loaded, signals_on: bool) -> Replays<'a> {
    let stored: HashMap<(&str, &str), &StateRow> = loaded
        .states
        .iter()
        .map(|r| ((r.student_id.as_str(), r.skill_id.as_str()), r))
        .collect();
    let mut earliest: HashMap<(&str, &str), i64> = HashMap::new();
    for ev in &batch.evs {
        let at = earliest.entry((ev.student(), ev.skill())).or_insert(ev.at);
        *at = (*at).min(ev.at);
    }
    let late: BTreeSet<(&str, &str)> = earliest
        .into_iter()
        .filter(|(pair, at)| {
            stored
                .get(pair)
                .is_some_and(|row| *at < row.last_occurred_at || row.skill_state().is_none())
        })
        .map(|(pair, _)| pair)
        .collect();
    let mut whole = BTreeSet::new();
    if signals_on {
        for (student, list) in &batch.by_student {
            let behind = match loaded.trackers.get(*student) {
                Some(tracker) => list.iter().any(|ev| tracker.is_late(ev.at)),
                None => loaded.with_history.contains(*student),
            };
            if behind || late.iter().any(|(s, _)| s == student) {
                whole.insert(*student);
            }
        }
    }
    Replays { late, whole }
}

/// The stored events of the students replayed, per student in time order, and the norms of
/// their items.
#[derive(Debug, Default)]
pub(super) struct History {
    pub events: Vec<StoredEvent>,
    pub norms: HashMap<NormKey, Norm>,
}

/// Applies the batch to what was loaded (pure): the students not replayed take their new
/// events on top of their stored state; those in `replays` are replayed from `history`, which
/// holds the batch's events too.
pub(super) fn apply(
    org: &str,
    now: i64,
    sig: &signals::Settings,
    batch: &NewEvents,
    mut loaded: Loaded,
    replays: &Replays,
    history: &History,
) -> Writes {
    let t = &sig.thresholds;
    let on = sig.enabled.then_some(t);
    let mut out = Writes::default();
    let cx = Context::new(org, now, &loaded.models, &loaded.norms, on);
    let stored: HashMap<(&str, &str), &StateRow> = loaded
        .states
        .iter()
        .map(|r| ((r.student_id.as_str(), r.skill_id.as_str()), r))
        .collect();
    let mut seen: HashSet<(&str, &str, &str)> = loaded
        .seen
        .iter()
        .map(|r| {
            (
                r.student_id.as_str(),
                r.skill_id.as_str(),
                r.item_id.as_str(),
            )
        })
        .collect();
    // Each item's typical time, once per item of the batch.
    let mut typicals: HashMap<(&str, &str), Option<f64>> = HashMap::new();
    if sig.enabled {
        for ev in &batch.evs {
            typicals
                .entry((ev.skill(), ev.item()))
                .or_insert_with(|| cx.typical_ms(ev.skill(), ev.item()));
        }
    }

    for (student, list) in &batch.by_student {
        if replays.whole.contains(student) {
            continue;
        }
        let mut kts: BTreeMap<&str, Kt> = BTreeMap::new();
        let mut tracker = sig
            .enabled
            .then(|| loaded.trackers.remove(*student).unwrap_or_default());
        let open_before = tracker.as_ref().map_or_else(Vec::new, |t| t.open.clone());
        let mut closed = Vec::new();
        for ev in list {
            if replays.late.contains(&(*student, ev.skill())) {
                continue; // replayed below (signals off)
            }
            let model = cx.model(ev.skill());
            let kt = kts.entry(ev.skill()).or_insert_with(|| {
                match stored.get(&(*student, ev.skill())) {
                    Some(row) => Kt::stored(row, model),
                    None => Kt::new(model),
                }
            });
            let first = seen.insert((*student, ev.skill(), ev.item()));
            if first {
                out.items.push(new_item(org, ev));
            }
            let typical = typicals.get(&(ev.skill(), ev.item())).copied().flatten();
            let counted = step_event(
                ev,
                first,
                kt,
                model,
                tracker.as_mut(),
                typical,
                t,
                &mut closed,
            );
            if let Some((p, correct)) = counted {
                out.predictions.add(student, ev.skill(), ev.at, p, correct);
            }
        }
        for (skill, kt) in kts {
            out.states.push(kt.row(org, student, skill, now));
        }
        if let Some(tracker) = tracker {
            out.episodes
                .extend(closed.into_iter().map(|e| (student.to_string(), e)));
            // Flags going on are written when they started or changed in this batch.
            let changed = tracker.open.iter().filter(|e| !open_before.contains(e));
            out.episodes
                .extend(changed.map(|e| (student.to_string(), e.clone())));
            out.trackers.push((student.to_string(), tracker));
        }
    }

    // The new events' response times join their items' norms (after they were judged).
    if sig.enabled {
        for ev in &batch.evs {
            let typical = typicals.get(&(ev.skill(), ev.item())).copied().flatten();
            if let Some(ms) = ev.action(typical).norm_sample(t) {
                for item in [ev.item(), ""] {
                    out.norms
                        .entry((ev.skill().to_owned(), item.to_owned()))
                        .or_insert(Norm::EMPTY)
                        .add(ms);
                }
            }
        }
    }

    if !replays.is_empty() {
        let seqs: HashSet<i64> = batch.evs.iter().map(|ev| ev.seq).collect();
        let cx = Context::new(org, now, &loaded.models, &history.norms, on);
        let wanted = |student: &str, skill: &str| {
            replays.whole.contains(student) || replays.late.contains(&(student, skill))
        };
        replay(&cx, &history.events, wanted, Some(&seqs), &mut out);
    }
    out
}

#[cfg(test)]
mod tests;
