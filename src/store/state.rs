//! The knowledge-tracing state derived from the events: kept up to date in the ingest
//! transaction (`apply_in`), rebuilt from the events ([`rebuild`]), and recomputed after the
//! skills' models are refitted ([`refit`]). The rules are `kt`'s; this module only loads and
//! saves, in bulk: a batch costs a handful of statements whatever its size.
//!
//! Late events: an event earlier than the latest one applied to its student × skill cannot be
//! applied on top of the state; that student × skill is replayed from its events instead, so
//! the result equals in-order arrival.
//!
//! Concurrency: on PostgreSQL, the transaction takes an advisory lock per student of the batch
//! (sorted, so two nodes never wait on each other in a cycle) before it reads any state, so two
//! nodes never update one student's state at once. SQLite has a single writer already.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Instant;

use diesel::prelude::*;
use diesel::upsert::excluded;
use serde::Serialize;

use crate::db::schema::{
    events, refit_pending, skill_models, skill_states, skills, student_items, students,
};
use crate::db::{to_millis, DbConnection};
use crate::ingest::Event;
use crate::kt::evidence::{self, Attempt, Track};
use crate::kt::{self, FitOptions, Params, Rules, SkillModel, SkillState};
use crate::on_backend;
use crate::reports::model_health::{in_sample, Accuracy};
use crate::signals::{self, Action, Episode, KtAfter, Norm, Thresholds, Tracker};

use super::column as col;
use super::events::StoredEvent;
use super::flags::{self, FlagSql};
use super::predictions::{PredictionSql, Tally};
use super::sqlite_values;

/// Students rebuilt per transaction: keeps each write short, so ingest goes on in between.
const REBUILD_CHUNK: usize = 200;
/// Rows per multi-row upsert (at most 8 binds a row: under SQLite's and PostgreSQL's limits).
const UPSERT_CHUNK: usize = 2_000;

/// A stored state row.
#[derive(Queryable, QueryableByName, Selectable, Debug, Clone)]
#[diesel(table_name = skill_states)]
pub struct StateRow {
    pub student_id: String,
    pub skill_id: String,
    pub state: String,
    pub last_occurred_at: i64,
    pub last_seq: i64,
    pub session_start: i64,
}

impl StateRow {
    pub fn skill_state(&self) -> Option<SkillState> {
        serde_json::from_str(&self.state).ok()
    }
}

/// An item a student has met in a skill, as the ingest path reads it.
#[derive(QueryableByName, Debug)]
#[diesel(table_name = student_items)]
pub(crate) struct SeenRow {
    student_id: String,
    skill_id: String,
    item_id: String,
}

#[derive(Debug, Clone)]
pub(crate) struct NewState {
    org_id: String,
    student_id: String,
    skill_id: String,
    state: String,
    last_occurred_at: i64,
    last_seq: i64,
    session_start: i64,
    updated_at: i64,
}

#[derive(Debug, Clone)]
pub(crate) struct NewItem {
    org_id: String,
    student_id: String,
    skill_id: String,
    item_id: String,
    first_occurred_at: i64,
}

#[derive(Debug, Clone)]
pub(crate) struct NewModel {
    org_id: String,
    skill_id: String,
    model: String,
    fitted_at: Option<i64>,
    students: i32,
    rows: i32,
    log_likelihood: Option<f64>,
    accuracy: Option<String>,
}

/// A stored event while it is applied: the event with its `seq` and its time in ms.
#[derive(Debug, Clone, Copy)]
struct Ev<'a> {
    seq: i64,
    at: i64,
    event: &'a Event,
}

impl<'a> Ev<'a> {
    fn of(event: &'a Event, seq: i64) -> Self {
        Ev {
            seq,
            at: to_millis(event.occurred_at),
            event,
        }
    }

    fn stored(e: &'a StoredEvent) -> Self {
        Ev::of(&e.event, e.seq)
    }

    fn student(&self) -> &'a str {
        &self.event.student_id
    }

    fn skill(&self) -> &'a str {
        &self.event.skill_id
    }

    fn item(&self) -> &'a str {
        &self.event.item_id
    }

    fn attempt(&self, rapid_guess: bool) -> Attempt<'a> {
        Attempt::of(self.event, rapid_guess)
    }

    fn action(&self, typical_ms: Option<f64>) -> Action<'a> {
        Action::of(self.event, typical_ms)
    }
}

/// A student × skill's knowledge-tracing state while events are applied.
struct Kt {
    state: SkillState,
    track: Track,
    last_seq: i64,
}

/// Applies one event of a student, in time order: the knowledge tracing of its skill (a rapid
/// guess counts as an opportunity but not as evidence), then, when `tracker` is given, the
/// behaviour detectors (episodes that end go to `closed`). Returns, for an answer that counts
/// as evidence, the P(correct) the model predicted before it and whether it was right.
#[allow(clippy::too_many_arguments)]
fn step_event(
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
        .step(&mut kt.state, model, &ev.attempt(rapid), first)
        .filter(|obs| !obs.excluded)
        .map(|obs| (predicted, obs.correct));
    kt.last_seq = kt.last_seq.max(ev.seq);
    if let Some(tracker) = tracker {
        action.kt = Some(KtAfter {
            evidence: kt.state.evidence(),
            mastered: kt.state.p_known >= Rules::default().mastery_threshold,
            estimate: kt.state.p_known,
        });
        tracker.step(&action, t, closed);
    }
    counted
}

fn to_json(state: &SkillState) -> String {
    serde_json::to_string(state).unwrap_or_default()
}

/// The statements of the state, for each backend's concrete connection.
pub(crate) trait StateSql: Connection + FlagSql + PredictionSql {
    /// Serialises the updates of these students' state across connections (PostgreSQL; a
    /// student may be named more than once).
    fn lock_students(&mut self, org: &str, students: &[&str]) -> QueryResult<()>;
    /// The stored states of these student × skill pairs (those that have one).
    fn load_states(
        &mut self,
        org: &str,
        pairs: &BTreeSet<(&str, &str)>,
    ) -> QueryResult<Vec<StateRow>>;
    /// The items each of these student × skill pairs has met.
    fn load_seen(&mut self, org: &str, pairs: &BTreeSet<(&str, &str)>)
        -> QueryResult<Vec<SeenRow>>;
    /// Which of these students have any stored state.
    fn students_with_state(
        &mut self,
        org: &str,
        students: &BTreeSet<&str>,
    ) -> QueryResult<HashSet<String>>;
    fn load_models(&mut self, org: &str) -> QueryResult<HashMap<String, SkillModel>>;
    /// The students' events, per student in time order (`occurred_at`, then arrival).
    fn load_history(&mut self, org: &str, students: &[&str]) -> QueryResult<Vec<StoredEvent>>;
    fn save_states(&mut self, rows: &[NewState]) -> QueryResult<()>;
    fn save_items(&mut self, rows: &[NewItem]) -> QueryResult<()>;
    fn save_models(&mut self, rows: &[NewModel]) -> QueryResult<()>;
}

macro_rules! shared_state_sql {
    () => {
        fn load_models(&mut self, org: &str) -> QueryResult<HashMap<String, SkillModel>> {
            let rows: Vec<(String, String)> = skill_models::table
                .filter(skill_models::org_id.eq(org))
                .select((skill_models::skill_id, skill_models::model))
                .load(self)?;
            Ok(rows
                .into_iter()
                .filter_map(|(skill, json)| Some((skill, serde_json::from_str(&json).ok()?)))
                .collect())
        }

        fn load_history(&mut self, org: &str, students: &[&str]) -> QueryResult<Vec<StoredEvent>> {
            // The (org_id, student_id, occurred_at) index gives each student's history in order.
            events::table
                .filter(events::org_id.eq(org))
                .filter(events::student_id.eq_any(students))
                .order((events::student_id, events::occurred_at, events::seq))
                .select(StoredEvent::as_select())
                .load(self)
        }

        fn save_models(&mut self, rows: &[NewModel]) -> QueryResult<()> {
            for chunk in rows.chunks(UPSERT_CHUNK) {
                let values: Vec<_> = chunk
                    .iter()
                    .map(|r| {
                        (
                            skill_models::org_id.eq(&r.org_id),
                            skill_models::skill_id.eq(&r.skill_id),
                            skill_models::model.eq(&r.model),
                            skill_models::fitted_at.eq(r.fitted_at),
                            skill_models::students.eq(r.students),
                            skill_models::rows.eq(r.rows),
                            skill_models::log_likelihood.eq(r.log_likelihood),
                            skill_models::accuracy.eq(&r.accuracy),
                        )
                    })
                    .collect();
                diesel::insert_into(skill_models::table)
                    .values(&values)
                    .on_conflict((skill_models::org_id, skill_models::skill_id))
                    .do_update()
                    .set((
                        skill_models::model.eq(excluded(skill_models::model)),
                        skill_models::fitted_at.eq(excluded(skill_models::fitted_at)),
                        skill_models::students.eq(excluded(skill_models::students)),
                        skill_models::rows.eq(excluded(skill_models::rows)),
                        skill_models::log_likelihood.eq(excluded(skill_models::log_likelihood)),
                        skill_models::accuracy.eq(excluded(skill_models::accuracy)),
                    ))
                    .execute(self)?;
            }
            Ok(())
        }
    };
}

// The ingest path reads states and items met by the batch's student × skill pairs: IN lists
// on students and on skills made SQLite probe every student × skill combination (or read every
// item a student had met), most of them not in the batch. A pair list is one index seek each.
const STATE_COLUMNS: &str =
    "s.student_id, s.skill_id, s.state, s.last_occurred_at, s.last_seq, s.session_start";

/// Runs a pair query on SQLite: the pairs become `WITH p(org_id, student_id, skill_id) AS
/// (VALUES …`, and `select` follows them: it closes that list with `)` and reads `p`.
fn sqlite_pair_query<T: QueryableByName<diesel::sqlite::Sqlite> + 'static>(
    c: &mut diesel::SqliteConnection,
    org: &str,
    pairs: &BTreeSet<(&str, &str)>,
    select: &'static str,
) -> QueryResult<Vec<T>> {
    let rows: Vec<(&str, &str, &str)> = pairs.iter().map(|&(s, k)| (org, s, k)).collect();
    sqlite_values::load(
        c,
        "WITH p(org_id, student_id, skill_id) AS (VALUES",
        select,
        &rows,
    )
}

/// Keeps PostgreSQL from flattening a per-pair subquery into a join: the join's plan rests on
/// the tables' statistics, which say nothing useful while a table grows (or autovacuum is off),
/// and a hash join over the organisation's whole table was picked, read again by every batch
/// (most installations hold one organisation). Unflattened, each pair is one primary-key seek.
const ONE_SEEK_EACH: &str = "OFFSET 0";

/// Runs a pair query on PostgreSQL: `$1` and `$2` the pairs as two arrays, `$3` the org.
fn pg_pair_query<T: QueryableByName<diesel::pg::Pg> + 'static>(
    c: &mut diesel::PgConnection,
    org: &str,
    pairs: &BTreeSet<(&str, &str)>,
    select: &str,
) -> QueryResult<Vec<T>> {
    use diesel::sql_types::{Array, Text};
    let (students, skills): (Vec<&str>, Vec<&str>) = pairs.iter().copied().unzip();
    diesel::sql_query(select)
        .bind::<Array<Text>, _>(students)
        .bind::<Array<Text>, _>(skills)
        .bind::<Text, _>(org)
        .load(c)
}

impl StateSql for diesel::SqliteConnection {
    shared_state_sql!();

    fn save_states(&mut self, rows: &[NewState]) -> QueryResult<()> {
        let rows: Vec<_> = rows
            .iter()
            .map(|r| {
                (
                    &r.org_id,
                    &r.student_id,
                    &r.skill_id,
                    &r.state,
                    r.last_occurred_at,
                    r.last_seq,
                    r.session_start,
                    r.updated_at,
                )
            })
            .collect();
        sqlite_values::execute(
            self,
            "INSERT INTO skill_states (org_id, student_id, skill_id, state, last_occurred_at, \
             last_seq, session_start, updated_at) VALUES",
            "ON CONFLICT (org_id, student_id, skill_id) DO UPDATE SET \
             state = excluded.state, last_occurred_at = excluded.last_occurred_at, \
             last_seq = excluded.last_seq, session_start = excluded.session_start, \
             updated_at = excluded.updated_at",
            &rows,
        )?;
        Ok(())
    }

    fn save_items(&mut self, rows: &[NewItem]) -> QueryResult<()> {
        let rows: Vec<_> = rows
            .iter()
            .map(|r| {
                (
                    &r.org_id,
                    &r.student_id,
                    &r.skill_id,
                    &r.item_id,
                    r.first_occurred_at,
                )
            })
            .collect();
        sqlite_values::execute(
            self,
            "INSERT INTO student_items (org_id, student_id, skill_id, item_id, first_occurred_at) \
             VALUES",
            "ON CONFLICT (org_id, student_id, skill_id, item_id) DO UPDATE SET \
             first_occurred_at = excluded.first_occurred_at",
            &rows,
        )?;
        Ok(())
    }

    fn load_states(
        &mut self,
        org: &str,
        pairs: &BTreeSet<(&str, &str)>,
    ) -> QueryResult<Vec<StateRow>> {
        // CROSS JOIN keeps the pairs the outer loop: one primary-key seek per pair.
        sqlite_pair_query(
            self,
            org,
            pairs,
            ") SELECT s.student_id, s.skill_id, s.state, s.last_occurred_at, s.last_seq, \
             s.session_start FROM p CROSS JOIN skill_states s ON s.org_id = p.org_id \
             AND s.student_id = p.student_id AND s.skill_id = p.skill_id",
        )
    }

    fn load_seen(
        &mut self,
        org: &str,
        pairs: &BTreeSet<(&str, &str)>,
    ) -> QueryResult<Vec<SeenRow>> {
        sqlite_pair_query(
            self,
            org,
            pairs,
            ") SELECT s.student_id, s.skill_id, s.item_id FROM p CROSS JOIN student_items s \
             ON s.org_id = p.org_id AND s.student_id = p.student_id AND s.skill_id = p.skill_id",
        )
    }

    fn lock_students(&mut self, _org: &str, _students: &[&str]) -> QueryResult<()> {
        // One writer at a time already (Db::write and SQLite's own lock).
        Ok(())
    }

    fn students_with_state(
        &mut self,
        org: &str,
        students: &BTreeSet<&str>,
    ) -> QueryResult<HashSet<String>> {
        let rows: Vec<String> = skill_states::table
            .filter(skill_states::org_id.eq(org))
            .filter(skill_states::student_id.eq_any(students))
            .select(skill_states::student_id)
            .distinct()
            .load(self)?;
        Ok(rows.into_iter().collect())
    }
}

impl StateSql for diesel::PgConnection {
    shared_state_sql!();

    fn save_states(&mut self, rows: &[NewState]) -> QueryResult<()> {
        use diesel::sql_types::{Array, BigInt, Text};
        if rows.is_empty() {
            return Ok(());
        }
        // Column arrays (see save_items).
        diesel::sql_query(
            "INSERT INTO skill_states (org_id, student_id, skill_id, state, last_occurred_at, \
             last_seq, session_start, updated_at) \
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], \
             $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[]) \
             ON CONFLICT (org_id, student_id, skill_id) DO UPDATE SET \
             state = excluded.state, last_occurred_at = excluded.last_occurred_at, \
             last_seq = excluded.last_seq, session_start = excluded.session_start, \
             updated_at = excluded.updated_at",
        )
        .bind::<Array<Text>, _>(col(rows, |r| r.org_id.as_str()))
        .bind::<Array<Text>, _>(col(rows, |r| r.student_id.as_str()))
        .bind::<Array<Text>, _>(col(rows, |r| r.skill_id.as_str()))
        .bind::<Array<Text>, _>(col(rows, |r| r.state.as_str()))
        .bind::<Array<BigInt>, _>(col(rows, |r| r.last_occurred_at))
        .bind::<Array<BigInt>, _>(col(rows, |r| r.last_seq))
        .bind::<Array<BigInt>, _>(col(rows, |r| r.session_start))
        .bind::<Array<BigInt>, _>(col(rows, |r| r.updated_at))
        .execute(self)?;
        Ok(())
    }

    fn save_items(&mut self, rows: &[NewItem]) -> QueryResult<()> {
        use diesel::sql_types::{Array, BigInt, Text};
        if rows.is_empty() {
            return Ok(());
        }
        // Column arrays, as for the events: a batch meets hundreds of items for the first time,
        // and a VALUES list of thousands of binds cost PostgreSQL more to parse than to insert.
        diesel::sql_query(
            "INSERT INTO student_items (org_id, student_id, skill_id, item_id, first_occurred_at) \
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[]) \
             ON CONFLICT (org_id, student_id, skill_id, item_id) \
             DO UPDATE SET first_occurred_at = excluded.first_occurred_at",
        )
        .bind::<Array<Text>, _>(col(rows, |r| r.org_id.as_str()))
        .bind::<Array<Text>, _>(col(rows, |r| r.student_id.as_str()))
        .bind::<Array<Text>, _>(col(rows, |r| r.skill_id.as_str()))
        .bind::<Array<Text>, _>(col(rows, |r| r.item_id.as_str()))
        .bind::<Array<BigInt>, _>(col(rows, |r| r.first_occurred_at))
        .execute(self)?;
        Ok(())
    }

    fn load_states(
        &mut self,
        org: &str,
        pairs: &BTreeSet<(&str, &str)>,
    ) -> QueryResult<Vec<StateRow>> {
        let select = format!(
            "SELECT {STATE_COLUMNS} FROM unnest($1::text[], $2::text[]) AS p(student_id, skill_id) \
             CROSS JOIN LATERAL (SELECT * FROM skill_states s WHERE s.org_id = $3 \
             AND s.student_id = p.student_id AND s.skill_id = p.skill_id {ONE_SEEK_EACH}) s"
        );
        pg_pair_query(self, org, pairs, &select)
    }

    fn load_seen(
        &mut self,
        org: &str,
        pairs: &BTreeSet<(&str, &str)>,
    ) -> QueryResult<Vec<SeenRow>> {
        pg_pair_query(
            self,
            org,
            pairs,
            &format!(
                "SELECT s.student_id, s.skill_id, s.item_id \
                 FROM unnest($1::text[], $2::text[]) AS p(student_id, skill_id) \
                 CROSS JOIN LATERAL (SELECT * FROM student_items s WHERE s.org_id = $3 \
                 AND s.student_id = p.student_id AND s.skill_id = p.skill_id {ONE_SEEK_EACH}) s"
            ),
        )
    }

    fn students_with_state(
        &mut self,
        org: &str,
        students: &BTreeSet<&str>,
    ) -> QueryResult<HashSet<String>> {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Text)]
            student_id: String,
        }
        let students: Vec<&str> = students.iter().copied().collect();
        // LIMIT 1 (not EXISTS, which becomes a semi-join like the pair queries' joins): one
        // seek per student.
        let rows: Vec<Row> = diesel::sql_query(
            "SELECT u.student_id FROM unnest($1::text[]) AS u(student_id) \
             CROSS JOIN LATERAL (SELECT 1 FROM skill_states s WHERE s.org_id = $2 \
             AND s.student_id = u.student_id LIMIT 1) s",
        )
        .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(students)
        .bind::<diesel::sql_types::Text, _>(org)
        .load(self)?;
        Ok(rows.into_iter().map(|r| r.student_id).collect())
    }

    fn lock_students(&mut self, org: &str, students: &[&str]) -> QueryResult<()> {
        // Sorted keys: two batches never hold one lock each while waiting for the other's.
        let mut keys: Vec<i64> = students.iter().map(|s| lock_key(org, s)).collect();
        keys.sort_unstable();
        keys.dedup();
        // One round trip; unnest yields the keys in array order, so locks are taken sorted.
        diesel::sql_query("SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS k")
            .bind::<diesel::sql_types::Array<diesel::sql_types::BigInt>, _>(keys)
            .execute(self)?;
        Ok(())
    }
}

/// The advisory-lock key of a student: FNV-1a of "org NUL student", as a signed 64-bit key.
fn lock_key(org: &str, student: &str) -> i64 {
    crate::util::stable_hash(&[org, student]) as i64
}

/// Updates the state with the events this transaction inserted (`seq` is each one's events
/// row): called by `events::append_in`, inside the batch's transaction, which holds the
/// students' locks ([`StateSql::lock_students`]) already.
///
/// With behaviour signals on (`sig`), each event is also checked
/// against its item's timing norm (a rapid guess is no evidence of knowledge), fed to its
/// student's detectors, and the flags they raise or end are saved. A student with an event
/// earlier than their latest (or without a detector state yet) is replayed from the events.
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
    let t = &sig.thresholds;
    let evs: Vec<Ev> = inserted.iter().map(|&(e, seq)| Ev::of(e, seq)).collect();
    let mut students = BTreeSet::new();
    let mut skills = BTreeSet::new();
    let mut items = BTreeSet::new();
    // Each student's new events, in time order then arrival order.
    let mut by_student: BTreeMap<&str, Vec<Ev>> = BTreeMap::new();
    for ev in &evs {
        students.insert(ev.student());
        skills.insert(ev.skill());
        items.insert(ev.item());
        by_student.entry(ev.student()).or_default().push(*ev);
    }
    for list in by_student.values_mut() {
        list.sort_by_key(|ev| (ev.at, ev.seq));
    }
    let pairs: BTreeSet<(&str, &str)> = evs.iter().map(|ev| (ev.student(), ev.skill())).collect();
    let stored: HashMap<(String, String), StateRow> = c
        .load_states(org, &pairs)?
        .into_iter()
        .map(|row| ((row.student_id.clone(), row.skill_id.clone()), row))
        .collect();
    let seen_rows = c.load_seen(org, &pairs)?;
    let mut seen: HashSet<(&str, &str, &str)> = seen_rows
        .iter()
        .map(|r| {
            (
                r.student_id.as_str(),
                r.skill_id.as_str(),
                r.item_id.as_str(),
            )
        })
        .collect();
    let models = c.load_models(org)?;
    let default_model = SkillModel::default();
    let (norms, mut trackers) = if sig.enabled {
        (
            c.load_norms(org, &skills, &items)?,
            c.load_trackers(org, &students)?,
        )
    } else {
        Default::default()
    };

    // Each item's typical time, once per item of the batch.
    let mut typicals: HashMap<(&str, &str), Option<f64>> = HashMap::new();
    if sig.enabled {
        for ev in &evs {
            typicals
                .entry((ev.skill(), ev.item()))
                .or_insert_with(|| flags::typical_of(&norms, ev.skill(), ev.item(), t));
        }
    }

    // Which student × skill states cannot take the new events on top (late events, an
    // unreadable state), and, with signals, which students are replayed whole.
    let mut late: BTreeSet<(&str, &str)> = BTreeSet::new();
    let mut earliest: HashMap<(&str, &str), i64> = HashMap::new();
    for ev in &evs {
        let at = earliest.entry((ev.student(), ev.skill())).or_insert(ev.at);
        *at = (*at).min(ev.at);
    }
    for ((student, skill), at) in earliest {
        match stored.get(&(student.to_owned(), skill.to_owned())) {
            Some(row) if at < row.last_occurred_at || row.skill_state().is_none() => {
                late.insert((student, skill));
            }
            _ => {}
        }
    }
    let mut replayed: BTreeSet<&str> = BTreeSet::new();
    if sig.enabled {
        // Students without a detector state: those with a history (signals were off) are
        // replayed; the others (new students) start from nothing.
        let untracked: BTreeSet<&str> = students
            .iter()
            .copied()
            .filter(|s| !trackers.contains_key(*s))
            .collect();
        let with_history = if untracked.is_empty() {
            HashSet::new()
        } else {
            c.students_with_state(org, &untracked)?
        };
        for (student, list) in &by_student {
            let behind = match trackers.get(*student) {
                Some(tracker) => list.iter().any(|ev| tracker.is_late(ev.at)),
                None => with_history.contains(*student),
            };
            if behind || late.iter().any(|(s, _)| s == student) {
                replayed.insert(student);
            }
        }
    }

    let mut tally = Tally::default();
    let mut states = Vec::new();
    let mut new_items = Vec::new();
    let mut episodes: Vec<(String, Episode)> = Vec::new();
    let mut saved_trackers: Vec<(String, Tracker)> = Vec::new();
    for (student, list) in &by_student {
        if replayed.contains(student) {
            continue;
        }
        let mut kts: BTreeMap<&str, Kt> = BTreeMap::new();
        let mut tracker = sig
            .enabled
            .then(|| trackers.remove(*student).unwrap_or_default());
        let open_before: Vec<Episode> = tracker.as_ref().map_or_else(Vec::new, |t| t.open.clone());
        let mut closed = Vec::new();
        for ev in list {
            if late.contains(&(student, ev.skill())) {
                continue; // replayed below (signals off)
            }
            let model = models.get(ev.skill()).unwrap_or(&default_model);
            let kt = kts.entry(ev.skill()).or_insert_with(|| {
                match stored.get(&(student.to_string(), ev.skill().to_owned())) {
                    Some(row) => Kt {
                        state: row.skill_state().unwrap_or_else(|| SkillState::new(model)),
                        track: Track {
                            last_at: row.last_occurred_at,
                            session_start: row.session_start,
                        },
                        last_seq: row.last_seq,
                    },
                    None => Kt {
                        state: SkillState::new(model),
                        track: Track::NONE,
                        last_seq: 0,
                    },
                }
            });
            let first = seen.insert((*student, ev.skill(), ev.item()));
            if first {
                new_items.push(NewItem {
                    org_id: org.to_owned(),
                    student_id: student.to_string(),
                    skill_id: ev.skill().to_owned(),
                    item_id: ev.item().to_owned(),
                    first_occurred_at: ev.at,
                });
            }
            let typical = typicals.get(&(ev.skill(), ev.item())).copied().flatten();
            if let Some((p, correct)) = step_event(
                ev,
                first,
                kt,
                model,
                tracker.as_mut(),
                typical,
                t,
                &mut closed,
            ) {
                tally.add(student, ev.skill(), ev.at, p, correct);
            }
        }
        for (skill, kt) in kts {
            states.push(new_state(
                org,
                student,
                skill,
                &kt.state,
                kt.track,
                kt.last_seq,
                now,
            ));
        }
        if let Some(tracker) = tracker {
            episodes.extend(closed.into_iter().map(|e| (student.to_string(), e)));
            // Flags going on are written when they started or changed in this batch.
            let changed = tracker.open.iter().filter(|e| !open_before.contains(e));
            episodes.extend(changed.map(|e| (student.to_string(), e.clone())));
            saved_trackers.push((student.to_string(), tracker));
        }
    }

    // The new events' response times join their items' norms (after they were judged).
    let mut norm_add: HashMap<flags::NormKey, Norm> = HashMap::new();
    if sig.enabled {
        for ev in &evs {
            let typical = typicals.get(&(ev.skill(), ev.item())).copied().flatten();
            if let Some(ms) = ev.action(typical).norm_sample(t) {
                for item in [ev.item(), ""] {
                    norm_add
                        .entry((ev.skill().to_owned(), item.to_owned()))
                        .or_insert(Norm::EMPTY)
                        .add(ms);
                }
            }
        }
    }

    let mut replay_students: BTreeSet<&str> = replayed.clone();
    replay_students.extend(late.iter().map(|(s, _)| *s));
    if !replay_students.is_empty() {
        let ids: Vec<&str> = replay_students.iter().copied().collect();
        let inserted_seqs: HashSet<i64> = inserted.iter().map(|&(_, seq)| seq).collect();
        let history = c.load_history(org, &ids)?;
        let norms = if sig.enabled {
            history_norms(c, org, &history)?
        } else {
            HashMap::new()
        };
        let r = replay_rows(
            org,
            &history,
            &models,
            &norms,
            sig.enabled.then_some(t),
            now,
            |student, skill| replayed.contains(student) || late.contains(&(student, skill)),
            Some((&inserted_seqs, &mut tally)),
        );
        states.extend(r.states);
        new_items.extend(r.items);
        if sig.enabled {
            let whole: Vec<&str> = replayed.iter().copied().collect();
            c.delete_flags(org, &whole)?;
            episodes.extend(r.episodes);
            saved_trackers.extend(r.trackers);
        }
    }
    c.save_items(&new_items)?;
    c.save_states(&states)?;
    if sig.enabled {
        save_signals(c, org, &saved_trackers, &episodes, now)?;
    }
    // Rows every batch shares (prediction bins per skill × day, item norms) come last: on
    // PostgreSQL a concurrent batch waits for their row locks until this one commits.
    c.save_predictions(org, &tally)?;
    if sig.enabled {
        c.add_norms(org, &norm_add, now)?;
    }
    Ok(())
}

fn save_signals<C: StateSql>(
    c: &mut C,
    org: &str,
    trackers: &[(String, Tracker)],
    episodes: &[(String, Episode)],
    now: i64,
) -> QueryResult<()> {
    let rows: Vec<(&str, &Tracker)> = trackers.iter().map(|(s, t)| (s.as_str(), t)).collect();
    c.save_trackers(org, &rows, now)?;
    let rows: Vec<(&str, &Episode)> = episodes.iter().map(|(s, e)| (s.as_str(), e)).collect();
    c.save_flags(org, &rows, now)
}

/// The norms of the items (and skills) of a history.
fn history_norms<C: StateSql>(
    c: &mut C,
    org: &str,
    history: &[StoredEvent],
) -> QueryResult<HashMap<flags::NormKey, Norm>> {
    let skills: BTreeSet<&str> = history.iter().map(|r| r.event.skill_id.as_str()).collect();
    let items: BTreeSet<&str> = history.iter().map(|r| r.event.item_id.as_str()).collect();
    if skills.is_empty() {
        return Ok(HashMap::new());
    }
    c.load_norms(org, &skills, &items)
}

fn new_state(
    org: &str,
    student: &str,
    skill: &str,
    state: &SkillState,
    track: Track,
    last_seq: i64,
    now: i64,
) -> NewState {
    NewState {
        org_id: org.to_owned(),
        student_id: student.to_owned(),
        skill_id: skill.to_owned(),
        state: to_json(state),
        last_occurred_at: track.last_at,
        last_seq,
        session_start: track.session_start,
        updated_at: now,
    }
}

/// What a replay gives: states, items met (with their first time) and, with signals, each
/// student's detector state and all their flag episodes.
#[derive(Default)]
struct Replay {
    states: Vec<NewState>,
    items: Vec<NewItem>,
    trackers: Vec<(String, Tracker)>,
    episodes: Vec<(String, Episode)>,
}

/// Replays `rows` (per student in time order). With signals (`thresholds`), every student of
/// `rows` is replayed whole: all their skills and their detectors. Without, only the student ×
/// skill pairs that `wanted` keeps.
#[allow(clippy::too_many_arguments)]
fn replay_rows(
    org: &str,
    rows: &[StoredEvent],
    models: &HashMap<String, SkillModel>,
    norms: &HashMap<flags::NormKey, Norm>,
    thresholds: Option<&Thresholds>,
    now: i64,
    wanted: impl Fn(&str, &str) -> bool,
    mut record: Option<(&HashSet<i64>, &mut Tally)>,
) -> Replay {
    let default_model = SkillModel::default();
    let default_t = Thresholds::default();
    let t = thresholds.unwrap_or(&default_t);
    // Group by student, keeping time order within each.
    let mut groups: BTreeMap<&str, Vec<Ev>> = BTreeMap::new();
    for row in rows {
        let ev = Ev::stored(row);
        if thresholds.is_some() || wanted(ev.student(), ev.skill()) {
            groups.entry(ev.student()).or_default().push(ev);
        }
    }
    let mut out = Replay::default();
    for (student, evs) in groups {
        let mut kts: BTreeMap<&str, Kt> = BTreeMap::new();
        let mut met: HashSet<(&str, &str)> = HashSet::new();
        let mut tracker = thresholds.map(|_| Tracker::default());
        let mut closed = Vec::new();
        for ev in &evs {
            let model = models.get(ev.skill()).unwrap_or(&default_model);
            let kt = kts.entry(ev.skill()).or_insert_with(|| Kt {
                state: SkillState::new(model),
                track: Track::NONE,
                last_seq: 0,
            });
            let first = met.insert((ev.skill(), ev.item()));
            // The ingest's replay (`record`) writes only items first met by one of the batch's
            // events: one first met by a stored event is stored with that time already, and
            // rewriting a replayed student's every item cost hundreds of upserts a batch.
            let changed = record.as_ref().is_none_or(|(new, _)| new.contains(&ev.seq));
            if first && changed {
                out.items.push(NewItem {
                    org_id: org.to_owned(),
                    student_id: student.to_owned(),
                    skill_id: ev.skill().to_owned(),
                    item_id: ev.item().to_owned(),
                    first_occurred_at: ev.at,
                });
            }
            let typical =
                thresholds.and_then(|t| flags::typical_of(norms, ev.skill(), ev.item(), t));
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
            // Only the batch's own events add their prediction: the others were counted
            // when they arrived (store::predictions).
            if let (Some((p, correct)), Some((new, tally))) = (counted, record.as_mut()) {
                if new.contains(&ev.seq) {
                    tally.add(student, ev.skill(), ev.at, p, correct);
                }
            }
        }
        for (skill, kt) in kts {
            out.states.push(new_state(
                org,
                student,
                skill,
                &kt.state,
                kt.track,
                kt.last_seq,
                now,
            ));
        }
        if let Some(tracker) = tracker {
            out.episodes
                .extend(closed.into_iter().map(|e| (student.to_owned(), e)));
            out.episodes
                .extend(tracker.open.iter().map(|e| (student.to_owned(), e.clone())));
            out.trackers.push((student.to_owned(), tracker));
        }
    }
    out
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
            history_norms(c, org, &history)?
        } else {
            HashMap::new()
        };
        let r = replay_rows(
            org,
            &history,
            &models,
            &norms,
            sig.enabled.then_some(&sig.thresholds),
            now,
            |_, _| true,
            None,
        );
        c.save_items(&r.items)?;
        c.save_states(&r.states)?;
        if sig.enabled {
            c.delete_flags(org, students)?;
            save_signals(c, org, &r.trackers, &r.episodes, now)?;
        }
        Ok(r.states.len())
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

/// The organisation's students, or only `student`.
fn students_of(
    conn: &mut DbConnection,
    org: &str,
    student: Option<&str>,
) -> anyhow::Result<Vec<String>> {
    let mut query = students::table
        .filter(students::org_id.eq(org))
        .select(students::student_id)
        .order(students::student_id)
        .into_boxed();
    if let Some(student) = student {
        query = query.filter(students::student_id.eq(student.to_owned()));
    }
    Ok(query.load(conn)?)
}

/// Recomputes the states of the organisation (or of one student) from the events, a few
/// hundred students per transaction. Returns how many student × skill states were written.
pub fn rebuild(
    conn: &mut DbConnection,
    org: &str,
    student: Option<&str>,
    sig: &signals::Settings,
) -> anyhow::Result<usize> {
    let students = students_of(conn, org, student)?;
    let mut written = 0;
    for chunk in students.chunks(REBUILD_CHUNK) {
        let ids: Vec<&str> = chunk.iter().map(String::as_str).collect();
        written += rebuild_students(conn, org, &ids, sig)?;
    }
    Ok(written)
}

/// Settings of a refit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RefitOptions {
    /// A skill is refitted once this many students have answered it.
    pub min_students: usize,
    pub fit: FitOptions,
}

impl Default for RefitOptions {
    fn default() -> Self {
        RefitOptions {
            min_students: 50,
            fit: FitOptions::default(),
        }
    }
}

/// One refitted skill, in the summary.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct RefittedSkill {
    pub skill_id: String,
    pub students: usize,
    pub rows: usize,
    pub log_likelihood: f64,
    pub params: Params,
}

/// What a refit did.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct RefitSummary {
    pub org: String,
    /// Skills refitted (those with at least `min_students` students).
    pub skills: Vec<RefittedSkill>,
    /// Skills left on their current model for lack of students.
    pub skills_skipped: usize,
    /// Skills whose refit was not applied, and why: they keep the model in use.
    #[serde(default)]
    pub refused: Vec<kt::guard::Refusal>,
    /// Students whose states were recomputed, and the states written.
    pub students_recomputed: usize,
    pub states_written: usize,
    pub seconds: f64,
}

/// The fitted models, before they are stored.
pub struct Fitted {
    org: String,
    started: Instant,
    /// Each fitted skill's in-sample accuracy (one-step-ahead predictions with its new model).
    accuracy: HashMap<String, Accuracy>,
    fits: Vec<kt::SkillFit>,
    /// Refits not applied (non-finite, or worse on held-out students than the model in use).
    refused: Vec<kt::guard::Refusal>,
    skipped: usize,
    students: Vec<String>,
}

/// Step 1 of a refit, reads only (no transaction; run it on a reading connection): gathers
/// every student's opportunities by the evidence rules and fits each skill that has enough
/// students. CPU-heavy; holds no lock.
pub fn fit_models(
    conn: &mut DbConnection,
    org: &str,
    opts: &RefitOptions,
    sig: &signals::Settings,
) -> anyhow::Result<Fitted> {
    fit_models_with(conn, org, opts, sig, &mut |_, _| {})
}

/// [`fit_models`], telling `progress(skills fitted, skills to fit)` before the first skill and
/// after each one (a refit job shows it).
pub fn fit_models_with(
    conn: &mut DbConnection,
    org: &str,
    opts: &RefitOptions,
    sig: &signals::Settings,
    progress: &mut dyn FnMut(usize, usize),
) -> anyhow::Result<Fitted> {
    let started = Instant::now();
    let all = students_of(conn, org, None)?;
    let mut builder = kt::load::DatasetBuilder::default();
    let model = SkillModel::default(); // observations do not depend on the model
    let norms = if sig.enabled {
        flags::all_norms(conn, org)?
    } else {
        HashMap::new()
    };
    for chunk in all.chunks(REBUILD_CHUNK) {
        let ids: Vec<&str> = chunk.iter().map(String::as_str).collect();
        let history = on_backend!(conn, |c| c.load_history(org, &ids))?;
        let mut groups: BTreeMap<(&str, &str), Vec<Attempt>> = BTreeMap::new();
        for row in &history {
            let ev = Ev::stored(row);
            // The same exclusions as the online path: rapid guesses are no evidence.
            let rapid = flags::is_rapid_guess(&row.event, &norms, sig);
            groups
                .entry((ev.student(), ev.skill()))
                .or_default()
                .push(ev.attempt(rapid));
        }
        for ((student, skill), attempts) in groups {
            let replayed = evidence::replay(&model, attempts);
            let kept = replayed.observations.iter().filter(|o| !o.excluded);
            for (i, o) in kept.enumerate() {
                builder.push(student, skill, o.correct, i as f64);
            }
        }
    }
    let mut data = builder.finish();
    let before = data.skills.len();
    data.skills.retain(|s| s.sequences() >= opts.min_students);
    let skipped = before - data.skills.len();
    // One skill at a time, so progress can be told; seeds depend on the skill id and the
    // restart, not on the other skills, so the fits are the same as all at once.
    let total = data.skills.len();
    progress(0, total);
    let mut fits: Vec<kt::SkillFit> = Vec::new();
    let mut refused = Vec::new();
    let current = on_backend!(conn, |c| c.load_models(org))?;
    let mut accuracy = HashMap::new();
    let all_skills = std::mem::take(&mut data.skills);
    let mut one = kt::Dataset {
        students: std::mem::take(&mut data.students),
        skills: Vec::with_capacity(1),
    };
    for (i, skill) in all_skills.into_iter().enumerate() {
        one.skills.push(skill);
        for f in kt::fit_dataset(&one, None, &opts.fit) {
            if f.fitted {
                let s = &one.skills[0];
                // The live service keeps its model unless the refit is finite and predicts
                // held-out students at least as well (kt::guard).
                let in_use = current.get(&f.skill_id).map(|m| &m.params);
                let fit = (&f.model.params, f.log_likelihood);
                if let Some(r) = kt::guard::check(s, fit, in_use, &opts.fit) {
                    tracing::warn!(org, skill = %r.skill_id, reason = %r.reason, "refit not applied");
                    refused.push(r);
                    continue;
                }
                let h = in_sample(&f.model.params, (0..s.sequences()).map(|k| s.sequence(k)));
                if let Some(a) = h.accuracy() {
                    accuracy.insert(f.skill_id.clone(), a);
                }
                fits.push(f);
            }
        }
        data.skills.append(&mut one.skills);
        progress(i + 1, total);
    }
    data.students = one.students;
    let fitted_skills: HashSet<&str> = fits.iter().map(|f| f.skill_id.as_str()).collect();
    let mut students: BTreeSet<&str> = BTreeSet::new();
    for skill in data
        .skills
        .iter()
        .filter(|s| fitted_skills.contains(s.skill_id.as_str()))
    {
        students.extend(
            skill
                .students
                .iter()
                .map(|&i| data.students[i as usize].as_str()),
        );
    }
    let students = students.into_iter().map(str::to_owned).collect();
    Ok(Fitted {
        org: org.to_owned(),
        started,
        accuracy,
        skipped: skipped + data.skills.len() - fits.len() - refused.len(),
        fits,
        refused,
        students,
    })
}

impl Fitted {
    /// How many students step 2 recomputes.
    pub fn students_to_recompute(&self) -> usize {
        self.students.len()
    }

    /// The students whose states step 2 recomputes, in chunks of one transaction each.
    pub fn student_chunks(&self) -> impl Iterator<Item = Vec<&str>> {
        self.students
            .chunks(REBUILD_CHUNK)
            .map(|c| c.iter().map(String::as_str).collect())
    }

    /// Step 2a (a short write): stores the models, and in the same transaction marks the
    /// organisation's states as behind them (`refit_pending`) until [`Fitted::states_done`]:
    /// a refit cut short between the two is finished at the next start
    /// ([`finish_interrupted_refits`]).
    pub fn save_models(&self, conn: &mut DbConnection) -> anyhow::Result<()> {
        let now = to_millis(chrono::Utc::now());
        let rows: Vec<NewModel> = self
            .fits
            .iter()
            .map(|f| NewModel {
                org_id: self.org.clone(),
                skill_id: f.skill_id.clone(),
                model: serde_json::to_string(&f.model).unwrap_or_default(),
                fitted_at: Some(now),
                students: i32::try_from(f.students).unwrap_or(i32::MAX),
                rows: i32::try_from(f.rows).unwrap_or(i32::MAX),
                log_likelihood: Some(f.log_likelihood),
                accuracy: self
                    .accuracy
                    .get(&f.skill_id)
                    .and_then(|a| serde_json::to_string(a).ok()),
            })
            .collect();
        on_backend!(conn, |c| c.transaction(|c| {
            c.save_models(&rows)?;
            diesel::insert_into(refit_pending::table)
                .values((
                    refit_pending::org_id.eq(&self.org),
                    refit_pending::since.eq(now),
                ))
                .on_conflict(refit_pending::org_id)
                .do_update()
                .set(refit_pending::since.eq(now))
                .execute(c)
                .map(|_| ())
        }))?;
        Ok(())
    }

    /// Step 3 (a short write): every state of step 2 is recomputed; the mark goes.
    pub fn states_done(&self, conn: &mut DbConnection) -> anyhow::Result<()> {
        clear_refit_pending(conn, &self.org)
    }

    pub fn summary(self, states_written: usize) -> RefitSummary {
        RefitSummary {
            org: self.org,
            skills: self
                .fits
                .into_iter()
                .map(|f| RefittedSkill {
                    skill_id: f.skill_id,
                    students: f.students,
                    rows: f.rows,
                    log_likelihood: f.log_likelihood,
                    params: f.model.params,
                })
                .collect(),
            skills_skipped: self.skipped,
            refused: self.refused,
            students_recomputed: self.students.len(),
            states_written,
            seconds: self.started.elapsed().as_secs_f64(),
        }
    }
}

/// Refits the organisation's skills that have enough students, stores the models and
/// recomputes the states of those skills' students, all on one connection (the CLI). The
/// server runs the same steps through [`crate::db::Db`] so ingest goes on in between.
pub fn refit(
    conn: &mut DbConnection,
    org: &str,
    opts: &RefitOptions,
    sig: &signals::Settings,
) -> anyhow::Result<RefitSummary> {
    let fitted = fit_models(conn, org, opts, sig)?;
    fitted.save_models(conn)?;
    let mut written = 0;
    for chunk in fitted.student_chunks() {
        written += rebuild_students(conn, org, &chunk, sig)?;
    }
    fitted.states_done(conn)?;
    Ok(fitted.summary(written))
}

/// Refits through the application's database handle: the reads and the fit on a pooled
/// connection, then each write as its own short transaction (on SQLite, through the single
/// writer, between ingest batches).
pub fn refit_db(
    db: &crate::db::Db,
    org: &str,
    opts: &RefitOptions,
    sig: &signals::Settings,
) -> anyhow::Result<RefitSummary> {
    let fitted = {
        let mut conn = db.conn()?;
        fit_models(&mut conn, org, opts, sig)?
    };
    db.write_blocking(crate::db::Changes::Records, |conn| fitted.save_models(conn))?;
    let mut written = 0;
    for chunk in fitted.student_chunks() {
        written += db.write_blocking(crate::db::Changes::Records, |conn| {
            rebuild_students(conn, org, &chunk, sig)
        })?;
    }
    db.write_blocking(crate::db::Changes::Records, |conn| fitted.states_done(conn))?;
    Ok(fitted.summary(written))
}

fn clear_refit_pending(conn: &mut DbConnection, org: &str) -> anyhow::Result<()> {
    diesel::delete(refit_pending::table.filter(refit_pending::org_id.eq(org))).execute(conn)?;
    Ok(())
}

/// Finishes the refits that a crash cut short between storing their models and recomputing
/// the states (`refit_pending`): recomputes every state of each such organisation from its
/// events under the stored models, a chunk of students per write so ingest goes on, then
/// clears the mark. Run at start; gives back how many states were written.
pub fn finish_interrupted_refits(
    db: &crate::db::Db,
    sig: &signals::Settings,
) -> anyhow::Result<usize> {
    let orgs: Vec<String> = refit_pending::table
        .select(refit_pending::org_id)
        .order(refit_pending::org_id)
        .load(&mut *db.conn()?)?;
    let mut written = 0;
    for org in &orgs {
        // A refit running now, on any node, recomputes the states and clears the mark itself.
        let Some(_claim) = crate::cluster::claim_refit(db, org)? else {
            continue;
        };
        let students = students_of(&mut *db.conn()?, org, None)?;
        for chunk in students.chunks(REBUILD_CHUNK) {
            let ids: Vec<&str> = chunk.iter().map(String::as_str).collect();
            written += db.write_blocking(crate::db::Changes::Records, |conn| {
                rebuild_students(conn, org, &ids, sig)
            })?;
        }
        db.write_blocking(crate::db::Changes::Records, |conn| {
            clear_refit_pending(conn, org)
        })?;
    }
    Ok(written)
}

/// Every organisation with data.
pub fn orgs(conn: &mut DbConnection) -> anyhow::Result<Vec<String>> {
    use crate::db::schema::orgs;
    Ok(orgs::table
        .select(orgs::org_id)
        .order(orgs::org_id)
        .load(conn)?)
}

/// One skill of a student, as the reads show it.
#[derive(Debug, Clone)]
pub struct StudentSkill {
    pub skill_id: String,
    pub name: Option<String>,
    pub domain: String,
    pub state: SkillState,
}

/// A student's states with their skills' names; None when the organisation has no such student.
pub fn student_skills(
    conn: &mut DbConnection,
    org: &str,
    student: &str,
) -> anyhow::Result<Option<Vec<StudentSkill>>> {
    let known: i64 = students::table
        .filter(students::org_id.eq(org))
        .filter(students::student_id.eq(student))
        .count()
        .get_result(conn)?;
    if known == 0 {
        return Ok(None);
    }
    let rows: Vec<(String, String)> = skill_states::table
        .filter(skill_states::org_id.eq(org))
        .filter(skill_states::student_id.eq(student))
        .order(skill_states::skill_id)
        .select((skill_states::skill_id, skill_states::state))
        .load(conn)?;
    let ids: Vec<&str> = rows.iter().map(|(s, _)| s.as_str()).collect();
    let names: HashMap<String, (Option<String>, String)> = skills::table
        .filter(skills::org_id.eq(org))
        .filter(skills::skill_id.eq_any(&ids))
        .select((skills::skill_id, skills::name, skills::domain))
        .load::<(String, Option<String>, String)>(conn)?
        .into_iter()
        .map(|(id, name, domain)| (id, (name, domain)))
        .collect();
    Ok(Some(
        rows.into_iter()
            .filter_map(|(skill_id, json)| {
                let state: SkillState = serde_json::from_str(&json).ok()?;
                let (name, domain) = names
                    .get(&skill_id)
                    .cloned()
                    .unwrap_or_else(|| (None, crate::ingest::domain_of(&skill_id).to_owned()));
                Some(StudentSkill {
                    skill_id,
                    name,
                    domain,
                    state,
                })
            })
            .collect(),
    ))
}

/// Every stored state of the organisation, by (student, skill): for tests and checks.
pub fn all_states(
    conn: &mut DbConnection,
    org: &str,
) -> anyhow::Result<BTreeMap<(String, String), StateRow>> {
    let rows: Vec<StateRow> = skill_states::table
        .filter(skill_states::org_id.eq(org))
        .select(StateRow::as_select())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| ((r.student_id.clone(), r.skill_id.clone()), r))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_keys_depend_on_org_and_student() {
        assert_eq!(lock_key("o", "s"), lock_key("o", "s"));
        assert_ne!(lock_key("o", "s"), lock_key("o2", "s"));
        assert_ne!(lock_key("os", ""), lock_key("o", "s"));
    }
}
