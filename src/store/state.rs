//! The knowledge-tracing state derived from the events: kept up to date in the ingest
//! transaction ([`apply_in`]), rebuilt from the events ([`rebuild`]), and recomputed after the
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

use crate::db::schema::{events, skill_models, skill_states, skills, student_items, students};
use crate::db::{to_millis, DbConnection};
use crate::ingest::Event;
use crate::kt::evidence::{self, Attempt, Track};
use crate::kt::{self, FitOptions, Params, SkillModel, SkillState};
use crate::on_backend;

/// Students rebuilt per transaction: keeps each write short, so ingest goes on in between.
const REBUILD_CHUNK: usize = 200;
/// Rows per multi-row upsert (at most 8 binds a row: under SQLite's and PostgreSQL's limits).
const UPSERT_CHUNK: usize = 2_000;

/// A stored state row.
#[derive(Queryable, Selectable, Debug, Clone)]
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
}

/// An event as a replay reads it back.
#[derive(Queryable, Selectable, Debug)]
#[diesel(table_name = events)]
pub(crate) struct HistoryRow {
    student_id: String,
    skill_id: String,
    item_id: String,
    occurred_at: i64,
    seq: i64,
    outcome: String,
    attempt: i32,
    hint_bottom_out: bool,
    session_id: Option<String>,
}

impl HistoryRow {
    fn attempt(&self) -> Attempt<'_> {
        Attempt {
            item_id: &self.item_id,
            occurred_at: self.occurred_at,
            attempt: self.attempt,
            outcome: &self.outcome,
            hint_bottom_out: self.hint_bottom_out,
            session_id: self.session_id.as_deref(),
        }
    }
}

fn attempt_of(e: &Event) -> Attempt<'_> {
    Attempt {
        item_id: &e.item_id,
        occurred_at: to_millis(e.occurred_at),
        attempt: e.attempt,
        outcome: e.outcome.as_str(),
        hint_bottom_out: e.hint_bottom_out,
        session_id: e.session_id.as_deref(),
    }
}

fn to_json(state: &SkillState) -> String {
    serde_json::to_string(state).unwrap_or_default()
}

/// The statements of the state, for each backend's concrete connection.
pub(crate) trait StateSql: Connection {
    /// Serialises the updates of these students' state across connections (PostgreSQL).
    fn lock_students(&mut self, org: &str, students: &BTreeSet<&str>) -> QueryResult<()>;
    fn load_states(
        &mut self,
        org: &str,
        students: &BTreeSet<&str>,
        skills: &BTreeSet<&str>,
    ) -> QueryResult<Vec<StateRow>>;
    fn load_seen(
        &mut self,
        org: &str,
        students: &BTreeSet<&str>,
        items: &BTreeSet<&str>,
    ) -> QueryResult<Vec<(String, String, String)>>;
    fn load_models(&mut self, org: &str) -> QueryResult<HashMap<String, SkillModel>>;
    /// The students' events, per student in time order (`occurred_at`, then arrival).
    fn load_history(&mut self, org: &str, students: &[&str]) -> QueryResult<Vec<HistoryRow>>;
    fn save_states(&mut self, rows: &[NewState]) -> QueryResult<()>;
    fn save_items(&mut self, rows: &[NewItem]) -> QueryResult<()>;
    fn save_models(&mut self, rows: &[NewModel]) -> QueryResult<()>;
}

macro_rules! shared_state_sql {
    () => {
        fn load_states(
            &mut self,
            org: &str,
            students: &BTreeSet<&str>,
            skills: &BTreeSet<&str>,
        ) -> QueryResult<Vec<StateRow>> {
            // students × skills over-fetches a little; one query beats one per pair.
            skill_states::table
                .filter(skill_states::org_id.eq(org))
                .filter(skill_states::student_id.eq_any(students))
                .filter(skill_states::skill_id.eq_any(skills))
                .select(StateRow::as_select())
                .load(self)
        }

        fn load_seen(
            &mut self,
            org: &str,
            students: &BTreeSet<&str>,
            items: &BTreeSet<&str>,
        ) -> QueryResult<Vec<(String, String, String)>> {
            student_items::table
                .filter(student_items::org_id.eq(org))
                .filter(student_items::student_id.eq_any(students))
                .filter(student_items::item_id.eq_any(items))
                .select((
                    student_items::student_id,
                    student_items::skill_id,
                    student_items::item_id,
                ))
                .load(self)
        }

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

        fn load_history(&mut self, org: &str, students: &[&str]) -> QueryResult<Vec<HistoryRow>> {
            // The (org_id, student_id, occurred_at) index gives each student's history in order.
            events::table
                .filter(events::org_id.eq(org))
                .filter(events::student_id.eq_any(students))
                .order((events::student_id, events::occurred_at, events::seq))
                .select(HistoryRow::as_select())
                .load(self)
        }

        fn save_states(&mut self, rows: &[NewState]) -> QueryResult<()> {
            for chunk in rows.chunks(UPSERT_CHUNK) {
                // Tuples, not the Insertable struct: SQLite takes multi-row VALUES only of those.
                let values: Vec<_> = chunk
                    .iter()
                    .map(|r| {
                        (
                            skill_states::org_id.eq(&r.org_id),
                            skill_states::student_id.eq(&r.student_id),
                            skill_states::skill_id.eq(&r.skill_id),
                            skill_states::state.eq(&r.state),
                            skill_states::last_occurred_at.eq(r.last_occurred_at),
                            skill_states::last_seq.eq(r.last_seq),
                            skill_states::session_start.eq(r.session_start),
                            skill_states::updated_at.eq(r.updated_at),
                        )
                    })
                    .collect();
                diesel::insert_into(skill_states::table)
                    .values(&values)
                    .on_conflict((
                        skill_states::org_id,
                        skill_states::student_id,
                        skill_states::skill_id,
                    ))
                    .do_update()
                    .set((
                        skill_states::state.eq(excluded(skill_states::state)),
                        skill_states::last_occurred_at.eq(excluded(skill_states::last_occurred_at)),
                        skill_states::last_seq.eq(excluded(skill_states::last_seq)),
                        skill_states::session_start.eq(excluded(skill_states::session_start)),
                        skill_states::updated_at.eq(excluded(skill_states::updated_at)),
                    ))
                    .execute(self)?;
            }
            Ok(())
        }

        fn save_items(&mut self, rows: &[NewItem]) -> QueryResult<()> {
            for chunk in rows.chunks(UPSERT_CHUNK) {
                let values: Vec<_> = chunk
                    .iter()
                    .map(|r| {
                        (
                            student_items::org_id.eq(&r.org_id),
                            student_items::student_id.eq(&r.student_id),
                            student_items::skill_id.eq(&r.skill_id),
                            student_items::item_id.eq(&r.item_id),
                            student_items::first_occurred_at.eq(r.first_occurred_at),
                        )
                    })
                    .collect();
                diesel::insert_into(student_items::table)
                    .values(&values)
                    .on_conflict((
                        student_items::org_id,
                        student_items::student_id,
                        student_items::skill_id,
                        student_items::item_id,
                    ))
                    .do_update()
                    .set(
                        student_items::first_occurred_at
                            .eq(excluded(student_items::first_occurred_at)),
                    )
                    .execute(self)?;
            }
            Ok(())
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
                    ))
                    .execute(self)?;
            }
            Ok(())
        }
    };
}

impl StateSql for diesel::SqliteConnection {
    shared_state_sql!();

    fn lock_students(&mut self, _org: &str, _students: &BTreeSet<&str>) -> QueryResult<()> {
        // One writer at a time already (Db::write and SQLite's own lock).
        Ok(())
    }
}

impl StateSql for diesel::PgConnection {
    shared_state_sql!();

    fn lock_students(&mut self, org: &str, students: &BTreeSet<&str>) -> QueryResult<()> {
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
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in org.bytes().chain([0]).chain(student.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h as i64
}

/// Updates the state with the events this transaction inserted (`seq` is each one's events
/// row): called by `events::append_in`, inside the batch's transaction, which holds the
/// students' locks ([`StateSql::lock_students`]) already.
pub(crate) fn apply_in<C: StateSql>(
    c: &mut C,
    org: &str,
    inserted: &[(&Event, i64)],
    now: i64,
) -> QueryResult<()> {
    if inserted.is_empty() {
        return Ok(());
    }
    let mut students = BTreeSet::new();
    let mut skills = BTreeSet::new();
    let mut items = BTreeSet::new();
    // Each student × skill's new events, in time order then arrival order.
    let mut groups: BTreeMap<(&str, &str), Vec<(Attempt, i64)>> = BTreeMap::new();
    for &(e, seq) in inserted {
        students.insert(e.student_id.as_str());
        skills.insert(e.skill_id.as_str());
        items.insert(e.item_id.as_str());
        groups
            .entry((&e.student_id, &e.skill_id))
            .or_default()
            .push((attempt_of(e), seq));
    }
    let stored: HashMap<(String, String), StateRow> = c
        .load_states(org, &students, &skills)?
        .into_iter()
        .map(|row| ((row.student_id.clone(), row.skill_id.clone()), row))
        .collect();
    let mut seen: HashSet<(String, String, String)> =
        c.load_seen(org, &students, &items)?.into_iter().collect();
    let models = c.load_models(org)?;
    let default_model = SkillModel::default();

    let mut states = Vec::with_capacity(groups.len());
    let mut new_items = Vec::new();
    let mut late: BTreeSet<(&str, &str)> = BTreeSet::new();
    for ((student, skill), mut attempts) in groups {
        attempts.sort_by_key(|(a, seq)| (a.occurred_at, *seq));
        let model = models.get(skill).unwrap_or(&default_model);
        let row = stored.get(&(student.to_owned(), skill.to_owned()));
        let (mut state, mut track, mut last_seq) = match row {
            None => (SkillState::new(model), Track::NONE, 0),
            Some(row) => match row.skill_state() {
                Some(state) => (
                    state,
                    Track {
                        last_at: row.last_occurred_at,
                        session_start: row.session_start,
                    },
                    row.last_seq,
                ),
                // Unreadable (an older format): derive it again from the events.
                None => {
                    late.insert((student, skill));
                    continue;
                }
            },
        };
        if attempts.iter().any(|(a, _)| track.is_late(a.occurred_at)) {
            late.insert((student, skill));
            continue;
        }
        for (a, seq) in &attempts {
            let key = (student.to_owned(), skill.to_owned(), a.item_id.to_owned());
            let first = !seen.contains(&key);
            if first {
                seen.insert(key);
                new_items.push(NewItem {
                    org_id: org.to_owned(),
                    student_id: student.to_owned(),
                    skill_id: skill.to_owned(),
                    item_id: a.item_id.to_owned(),
                    first_occurred_at: a.occurred_at,
                });
            }
            track.step(&mut state, model, a, first);
            last_seq = last_seq.max(*seq);
        }
        states.push(new_state(org, student, skill, &state, track, last_seq, now));
    }

    if !late.is_empty() {
        let late_students: Vec<&str> = late
            .iter()
            .map(|(s, _)| *s)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let history = c.load_history(org, &late_students)?;
        let (replayed, items) = replay_rows(org, &history, &models, now, |student, skill| {
            late.contains(&(student, skill))
        });
        states.extend(replayed);
        new_items.extend(items);
    }
    c.save_items(&new_items)?;
    c.save_states(&states)
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

/// Replays every student × skill of `rows` (per student in time order) that `wanted` keeps:
/// the states to save and the items met, each with its first time.
fn replay_rows(
    org: &str,
    rows: &[HistoryRow],
    models: &HashMap<String, SkillModel>,
    now: i64,
    wanted: impl Fn(&str, &str) -> bool,
) -> (Vec<NewState>, Vec<NewItem>) {
    let default_model = SkillModel::default();
    // Group by student × skill, keeping time order within each.
    let mut groups: BTreeMap<(&str, &str), Vec<&HistoryRow>> = BTreeMap::new();
    for row in rows {
        if wanted(&row.student_id, &row.skill_id) {
            groups
                .entry((&row.student_id, &row.skill_id))
                .or_default()
                .push(row);
        }
    }
    let mut states = Vec::with_capacity(groups.len());
    let mut items = Vec::new();
    for ((student, skill), rows) in groups {
        let model = models.get(skill).unwrap_or(&default_model);
        let replayed = evidence::replay(model, rows.iter().map(|r| r.attempt()));
        let last_seq = rows.iter().map(|r| r.seq).max().unwrap_or(0);
        states.push(new_state(
            org,
            student,
            skill,
            &replayed.state,
            replayed.track,
            last_seq,
            now,
        ));
        let mut met = HashSet::new();
        for r in rows {
            if met.insert(r.item_id.as_str()) {
                items.push(NewItem {
                    org_id: org.to_owned(),
                    student_id: student.to_owned(),
                    skill_id: skill.to_owned(),
                    item_id: r.item_id.clone(),
                    first_occurred_at: r.occurred_at,
                });
            }
        }
    }
    (states, items)
}

/// Rebuilds these students' states from their events, in one transaction.
fn rebuild_students_in<C: StateSql>(
    c: &mut C,
    org: &str,
    students: &[&str],
    now: i64,
) -> QueryResult<usize> {
    if students.is_empty() {
        return Ok(0);
    }
    c.transaction(|c| {
        c.lock_students(org, &students.iter().copied().collect())?;
        let models = c.load_models(org)?;
        let history = c.load_history(org, students)?;
        let (states, items) = replay_rows(org, &history, &models, now, |_, _| true);
        c.save_items(&items)?;
        c.save_states(&states)?;
        Ok(states.len())
    })
}

/// Rebuilds these students' states (all their skills) from the events, in one transaction.
pub fn rebuild_students(
    conn: &mut DbConnection,
    org: &str,
    students: &[&str],
) -> anyhow::Result<usize> {
    let now = to_millis(chrono::Utc::now());
    Ok(on_backend!(conn, |c| rebuild_students_in(
        c, org, students, now
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
pub fn rebuild(conn: &mut DbConnection, org: &str, student: Option<&str>) -> anyhow::Result<usize> {
    let students = students_of(conn, org, student)?;
    let mut written = 0;
    for chunk in students.chunks(REBUILD_CHUNK) {
        let ids: Vec<&str> = chunk.iter().map(String::as_str).collect();
        written += rebuild_students(conn, org, &ids)?;
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
#[derive(Debug, Clone, Serialize)]
pub struct RefittedSkill {
    pub skill_id: String,
    pub students: usize,
    pub rows: usize,
    pub log_likelihood: f64,
    pub params: Params,
}

/// What a refit did.
#[derive(Debug, Clone, Serialize)]
pub struct RefitSummary {
    pub org: String,
    /// Skills refitted (those with at least `min_students` students).
    pub skills: Vec<RefittedSkill>,
    /// Skills left on their current model for lack of students.
    pub skills_skipped: usize,
    /// Students whose states were recomputed, and the states written.
    pub students_recomputed: usize,
    pub states_written: usize,
    pub seconds: f64,
}

/// The fitted models, before they are stored.
pub struct Fitted {
    org: String,
    started: Instant,
    fits: Vec<kt::SkillFit>,
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
) -> anyhow::Result<Fitted> {
    let started = Instant::now();
    let all = students_of(conn, org, None)?;
    let mut builder = kt::load::DatasetBuilder::default();
    let model = SkillModel::default(); // observations do not depend on the model
    for chunk in all.chunks(REBUILD_CHUNK) {
        let ids: Vec<&str> = chunk.iter().map(String::as_str).collect();
        let history = on_backend!(conn, |c| c.load_history(org, &ids))?;
        let mut groups: BTreeMap<(&str, &str), Vec<Attempt>> = BTreeMap::new();
        for row in &history {
            groups
                .entry((&row.student_id, &row.skill_id))
                .or_default()
                .push(row.attempt());
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
    let fits: Vec<kt::SkillFit> = kt::fit_dataset(&data, None, &opts.fit)
        .into_iter()
        .filter(|f| f.fitted)
        .collect();
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
        skipped: skipped + data.skills.len() - fits.len(),
        fits,
        students,
    })
}

impl Fitted {
    /// The students whose states step 2 recomputes, in chunks of one transaction each.
    pub fn student_chunks(&self) -> impl Iterator<Item = Vec<&str>> {
        self.students
            .chunks(REBUILD_CHUNK)
            .map(|c| c.iter().map(String::as_str).collect())
    }

    /// Step 2a (a short write): stores the models.
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
            })
            .collect();
        on_backend!(conn, |c| c.transaction(|c| c.save_models(&rows)))?;
        Ok(())
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
) -> anyhow::Result<RefitSummary> {
    let fitted = fit_models(conn, org, opts)?;
    fitted.save_models(conn)?;
    let mut written = 0;
    for chunk in fitted.student_chunks() {
        written += rebuild_students(conn, org, &chunk)?;
    }
    Ok(fitted.summary(written))
}

/// Refits through the application's database handle: the reads and the fit on a pooled
/// connection, then each write as its own short transaction (on SQLite, through the single
/// writer, between ingest batches).
pub fn refit_db(
    db: &crate::db::Db,
    org: &str,
    opts: &RefitOptions,
) -> anyhow::Result<RefitSummary> {
    let fitted = {
        let mut conn = db.conn()?;
        fit_models(&mut conn, org, opts)?
    };
    db.write_blocking(|conn| fitted.save_models(conn))?;
    let mut written = 0;
    for chunk in fitted.student_chunks() {
        written += db.write_blocking(|conn| rebuild_students(conn, org, &chunk))?;
    }
    Ok(fitted.summary(written))
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
