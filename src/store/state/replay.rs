//! Replaying students from their stored events: the ingest's answer to a late event (and to a
//! student without a detector state), and rebuilds ([`rebuild`], after a refit or to check the
//! online path). The replay itself is pure ([`replay`]); a rebuild loads, replays and saves a
//! few hundred students per transaction.

use std::collections::{BTreeMap, HashMap, HashSet};

use diesel::prelude::*;

use crate::db::{to_millis, DbConnection};
use crate::on_backend;
use crate::signals::{self, Thresholds, Tracker};
use crate::store::events::StoredEvent;

use super::sql::{self, StateSql};
use super::step::{new_item, step_event, Context, Ev, Kt, Writes};
use super::REBUILD_CHUNK;

/// Replays `history` (per student in time order) into `out`. With signals (`cx.signals`), every
/// student of the history is replayed whole: all their skills and their detectors (the
/// trackers and every episode, open or closed). Without, only the student × skill pairs that
/// `wanted` keeps.
///
/// `batch`, for the ingest's replay, holds the seqs of the batch's events: only items first met
/// by one of them are written (one first met by a stored event is stored with that time
/// already, and rewriting a replayed student's every item cost hundreds of upserts a batch),
/// and only their predictions are added (the others were counted when they arrived).
pub(super) fn replay(
    cx: &Context,
    history: &[StoredEvent],
    wanted: impl Fn(&str, &str) -> bool,
    batch: Option<&HashSet<i64>>,
    out: &mut Writes,
) {
    let default_t = Thresholds::default();
    let t = cx.signals.unwrap_or(&default_t);
    // Group by student, keeping time order within each.
    let mut groups: BTreeMap<&str, Vec<Ev>> = BTreeMap::new();
    for row in history {
        let ev = Ev::stored(row);
        if cx.signals.is_some() || wanted(ev.student(), ev.skill()) {
            groups.entry(ev.student()).or_default().push(ev);
        }
    }
    for (student, evs) in groups {
        let mut kts: BTreeMap<&str, Kt> = BTreeMap::new();
        let mut met: HashSet<(&str, &str)> = HashSet::new();
        let mut tracker = cx.signals.map(|_| Tracker::default());
        let mut closed = Vec::new();
        for ev in &evs {
            let model = cx.model(ev.skill());
            let kt = kts.entry(ev.skill()).or_insert_with(|| Kt::new(model));
            let first = met.insert((ev.skill(), ev.item()));
            let in_batch = batch.is_none_or(|seqs| seqs.contains(&ev.seq));
            if first && in_batch {
                out.items.push(new_item(cx.org, ev));
            }
            let typical = cx.typical_ms(ev.skill(), ev.item());
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
            if let (Some((p, correct)), Some(seqs)) = (counted, batch) {
                if seqs.contains(&ev.seq) {
                    out.predictions.add(student, ev.skill(), ev.at, p, correct);
                }
            }
        }
        for (skill, kt) in kts {
            out.states.push(kt.row(cx.org, student, skill, cx.now));
        }
        if let Some(tracker) = tracker {
            out.episodes
                .extend(closed.into_iter().map(|e| (student.to_owned(), e)));
            out.episodes
                .extend(tracker.open.iter().map(|e| (student.to_owned(), e.clone())));
            out.trackers.push((student.to_owned(), tracker));
            out.flags_replaced.push(student.to_owned());
        }
    }
}

/// Rebuilds these students' states (and, with signals, their detectors and flags) from their
/// events, in one transaction.
fn rebuild_students_in<C: StateSql>(
    c: &mut C,
    org: &str,
    students: &[&str],
    now: i64,
    sig: &signals::Settings,
) -> QueryResult<usize> {
    if students.is_empty() {
        return Ok(0);
    }
    c.transaction(|c| {
        c.lock_students(org, students)?;
        let models = c.load_models(org)?;
        let history = c.load_history(org, students)?;
        let norms = if sig.enabled {
            sql::history_norms(c, org, &history)?
        } else {
            HashMap::new()
        };
        let cx = Context::new(
            org,
            now,
            &models,
            &norms,
            sig.enabled.then_some(&sig.thresholds),
        );
        let mut writes = Writes::default();
        replay(&cx, &history, |_, _| true, None, &mut writes);
        // Students without events keep no flags either.
        writes.flags_replaced = students.iter().map(|s| (*s).to_owned()).collect();
        sql::save(c, org, &writes, sig, now)?;
        Ok(writes.states.len())
    })
}

/// Rebuilds these students' states (and, with signals, their detectors and flags) from their
/// events, in one transaction. Returns how many student × skill states were written.
pub fn rebuild_students(
    conn: &mut DbConnection,
    org: &str,
    students: &[&str],
    sig: &signals::Settings,
) -> anyhow::Result<usize> {
    let now = to_millis(chrono::Utc::now());
    Ok(on_backend!(conn, |c| rebuild_students_in(
        c, org, students, now, sig
    ))?)
}

/// Recomputes the states of the organisation (or of one student) from the events, a few
/// hundred students per transaction. Returns how many student × skill states were written.
pub fn rebuild(
    conn: &mut DbConnection,
    org: &str,
    student: Option<&str>,
    sig: &signals::Settings,
) -> anyhow::Result<usize> {
    let students = super::reads::students_of(conn, org, student)?;
    let mut written = 0;
    for chunk in students.chunks(REBUILD_CHUNK) {
        let ids: Vec<&str> = chunk.iter().map(String::as_str).collect();
        written += rebuild_students(conn, org, &ids, sig)?;
    }
    Ok(written)
}
