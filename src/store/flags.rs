//! Behaviour flags and what the detectors keep: item timing norms, each student's detector
//! state, and the flag episodes. The detectors run in `store::state` (in the ingest
//! transaction, and in replays); this module holds their SQL and the reads others use.
//!
//! The insights (groups, reviews) read flags with [`for_students`]; erasing a student deletes
//! their `flags` and `student_signals` rows with their events (`item_norms` are per item and
//! hold no student data).

use std::collections::{BTreeSet, HashMap};

use diesel::prelude::*;
use diesel::upsert::excluded;
use serde::Serialize;

use crate::db::schema::{flags, item_norms, student_signals, students};
use crate::db::DbConnection;
use crate::on_backend;
use crate::signals::{self, Episode, Kind, Norm, Thresholds, Tracker};

use super::column as col;
use super::sqlite_values;

/// Rows per multi-row statement (at most 9 binds a row: under both backends' limits).
const CHUNK: usize = 2_000;

/// A flag as stored (or, for an idle student, as worked out on read).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredFlag {
    pub student_id: String,
    /// `rapid_guessing`, `hint_abuse`, `gaming`, `rushing`, `giving_up`, `idle`,
    /// `wheel_spinning` or `shared_account`.
    pub kind: String,
    /// None for student-wide flags.
    pub skill_id: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub started_at: i64,
    /// None while the behaviour goes on.
    pub ended_at: Option<i64>,
    /// The evidence as data (`signals::Evidence`).
    pub evidence: serde_json::Value,
    /// The plain sentence a teacher reads.
    pub sentence: String,
}

impl StoredFlag {
    pub fn active(&self) -> bool {
        self.ended_at.is_none()
    }

    fn from_episode(student: &str, e: &Episode) -> StoredFlag {
        StoredFlag {
            student_id: student.to_owned(),
            kind: e.kind.as_str().to_owned(),
            skill_id: e.skill_id.clone(),
            started_at: e.started_at,
            ended_at: e.ended_at,
            evidence: serde_json::to_value(&e.evidence).unwrap_or_default(),
            sentence: e.sentence(),
        }
    }
}

/// The flags of these students that were still going on at `since` (all of them with None),
/// newest first per student; idle students (by `t`'s school days) get their idle flag as of
/// now. Scoped by org.
pub fn for_students(
    conn: &mut DbConnection,
    org: &str,
    students: &[String],
    since: Option<i64>,
    t: &Thresholds,
) -> anyhow::Result<Vec<StoredFlag>> {
    if students.is_empty() {
        return Ok(Vec::new());
    }
    let now = crate::db::to_millis(chrono::Utc::now());
    let mut out = Vec::new();
    for chunk in students.chunks(CHUNK) {
        let mut query = flags::table
            .filter(flags::org_id.eq(org))
            .filter(flags::student_id.eq_any(chunk))
            .select((
                flags::student_id,
                flags::kind,
                flags::skill_id,
                flags::started_at,
                flags::ended_at,
                flags::evidence,
                flags::sentence,
            ))
            .into_boxed();
        if let Some(since) = since {
            query = query.filter(flags::ended_at.is_null().or(flags::ended_at.ge(since)));
        }
        type Row = (String, String, String, i64, Option<i64>, String, String);
        let rows: Vec<Row> = query.load(conn)?;
        out.extend(rows.into_iter().map(
            |(student_id, kind, skill, started_at, ended_at, evidence, sentence)| StoredFlag {
                student_id,
                kind,
                skill_id: (!skill.is_empty()).then_some(skill),
                started_at,
                ended_at,
                evidence: serde_json::from_str(&evidence).unwrap_or_default(),
                sentence,
            },
        ));
        out.extend(idle_flags(conn, org, chunk, now, t)?);
    }
    out.sort_by(|a, b| {
        (&a.student_id, std::cmp::Reverse(a.started_at), &a.kind).cmp(&(
            &b.student_id,
            std::cmp::Reverse(b.started_at),
            &b.kind,
        ))
    });
    Ok(out)
}

/// One student's flags (all of them).
pub fn for_student(
    conn: &mut DbConnection,
    org: &str,
    student: &str,
    t: &Thresholds,
) -> anyhow::Result<Vec<StoredFlag>> {
    for_students(conn, org, &[student.to_owned()], None, t)
}

/// Idle is a matter of time passing: worked out here, at read time, from the latest practice
/// (or, for a student who never practised, from when they were added).
fn idle_flags(
    conn: &mut DbConnection,
    org: &str,
    students_: &[String],
    now: i64,
    t: &Thresholds,
) -> anyhow::Result<Vec<StoredFlag>> {
    let last: HashMap<String, i64> = student_signals::table
        .filter(student_signals::org_id.eq(org))
        .filter(student_signals::student_id.eq_any(students_))
        .select((
            student_signals::student_id,
            student_signals::last_occurred_at,
        ))
        .load::<(String, i64)>(conn)?
        .into_iter()
        .collect();
    let added: Vec<(String, i64)> = students::table
        .filter(students::org_id.eq(org))
        .filter(students::student_id.eq_any(students_))
        .select((students::student_id, students::created_at))
        .load(conn)?;
    Ok(added
        .into_iter()
        .filter_map(|(student, created)| {
            let since = last.get(&student).copied().unwrap_or(created);
            let e = signals::idle_episode(since, now, t)?;
            Some(StoredFlag::from_episode(&student, &e))
        })
        .collect())
}

/// An item norm row to add to: (skill, item or '' for the skill) → the batch's sums.
pub(crate) type NormKey = (String, String);

/// The statements of the signals, for each backend's concrete connection.
pub(crate) trait FlagSql: Connection {
    /// The norms of these items and of their skills ('' item rows).
    fn load_norms(
        &mut self,
        org: &str,
        skills: &BTreeSet<&str>,
        items: &BTreeSet<&str>,
    ) -> QueryResult<HashMap<NormKey, Norm>>;
    /// Adds the batch's samples to the norms (count and sum of logs).
    fn add_norms(&mut self, org: &str, add: &HashMap<NormKey, Norm>, now: i64) -> QueryResult<()>;
    fn load_trackers(
        &mut self,
        org: &str,
        students: &BTreeSet<&str>,
    ) -> QueryResult<HashMap<String, Tracker>>;
    fn save_trackers(&mut self, org: &str, rows: &[(&str, &Tracker)], now: i64) -> QueryResult<()>;
    /// Inserts or updates episodes (keyed by org, student, kind, skill, start).
    fn save_flags(&mut self, org: &str, rows: &[(&str, &Episode)], now: i64) -> QueryResult<()>;
    /// Removes these students' stored flags (before a replay writes them again).
    fn delete_flags(&mut self, org: &str, students: &[&str]) -> QueryResult<()>;
}

macro_rules! shared_flag_sql {
    () => {
        fn load_norms(
            &mut self,
            org: &str,
            skills: &BTreeSet<&str>,
            items: &BTreeSet<&str>,
        ) -> QueryResult<HashMap<NormKey, Norm>> {
            // By skill only: a skill has tens of items, and an IN list on both key columns
            // makes SQLite probe every skill × item pair.
            let rows: Vec<(String, String, i32, f64)> = item_norms::table
                .filter(item_norms::org_id.eq(org))
                .filter(item_norms::skill_id.eq_any(skills))
                .select((
                    item_norms::skill_id,
                    item_norms::item_id,
                    item_norms::responses,
                    item_norms::sum_log_ms,
                ))
                .load(self)?;
            Ok(rows
                .into_iter()
                .filter(|(_, item, _, _)| item.is_empty() || items.contains(item.as_str()))
                .map(|(skill, item, n, sum)| {
                    let norm = Norm {
                        responses: u32::try_from(n).unwrap_or(0),
                        sum_log_ms: sum,
                    };
                    ((skill, item), norm)
                })
                .collect())
        }

        fn load_trackers(
            &mut self,
            org: &str,
            students: &BTreeSet<&str>,
        ) -> QueryResult<HashMap<String, Tracker>> {
            let rows: Vec<(String, String)> = student_signals::table
                .filter(student_signals::org_id.eq(org))
                .filter(student_signals::student_id.eq_any(students))
                .select((student_signals::student_id, student_signals::state))
                .load(self)?;
            // An unreadable state (an older format) is left out: the student is replayed.
            Ok(rows
                .into_iter()
                .filter_map(|(s, json)| Some((s, serde_json::from_str(&json).ok()?)))
                .collect())
        }

        fn save_flags(
            &mut self,
            org: &str,
            rows: &[(&str, &Episode)],
            now: i64,
        ) -> QueryResult<()> {
            // One row per key: an upsert may not touch a row twice in one statement.
            let mut unique: HashMap<(&str, Kind, &str, i64), &Episode> = HashMap::new();
            for (student, e) in rows {
                let skill = e.skill_id.as_deref().unwrap_or("");
                unique.insert((student, e.kind, skill, e.started_at), e);
            }
            let mut unique: Vec<_> = unique.into_iter().collect();
            unique.sort_by(|a, b| a.0.cmp(&b.0));
            for chunk in unique.chunks(CHUNK) {
                let values: Vec<_> = chunk
                    .iter()
                    .map(|((student, kind, skill, started), e)| {
                        (
                            flags::org_id.eq(org),
                            flags::student_id.eq(*student),
                            flags::kind.eq(kind.as_str()),
                            flags::skill_id.eq(*skill),
                            flags::started_at.eq(*started),
                            flags::ended_at.eq(e.ended_at),
                            flags::evidence
                                .eq(serde_json::to_string(&e.evidence).unwrap_or_default()),
                            flags::sentence.eq(e.sentence()),
                            flags::updated_at.eq(now),
                        )
                    })
                    .collect();
                diesel::insert_into(flags::table)
                    .values(&values)
                    .on_conflict((
                        flags::org_id,
                        flags::student_id,
                        flags::kind,
                        flags::skill_id,
                        flags::started_at,
                    ))
                    .do_update()
                    .set((
                        flags::ended_at.eq(excluded(flags::ended_at)),
                        flags::evidence.eq(excluded(flags::evidence)),
                        flags::sentence.eq(excluded(flags::sentence)),
                        flags::updated_at.eq(excluded(flags::updated_at)),
                    ))
                    .execute(self)?;
            }
            Ok(())
        }

        fn delete_flags(&mut self, org: &str, students: &[&str]) -> QueryResult<()> {
            for chunk in students.chunks(CHUNK) {
                diesel::delete(
                    flags::table
                        .filter(flags::org_id.eq(org))
                        .filter(flags::student_id.eq_any(chunk)),
                )
                .execute(self)?;
            }
            Ok(())
        }
    };
}

impl FlagSql for diesel::SqliteConnection {
    shared_flag_sql!();

    // Statements that stay prepared (store::sqlite_values), not parsed again for every batch.
    fn save_trackers(&mut self, org: &str, rows: &[(&str, &Tracker)], now: i64) -> QueryResult<()> {
        let rows: Vec<_> = rows
            .iter()
            .map(|(student, tracker)| {
                let state = serde_json::to_string(tracker).unwrap_or_default();
                (org, student, state, tracker.last_at.unwrap_or(0), now)
            })
            .collect();
        sqlite_values::execute(
            self,
            "INSERT INTO student_signals (org_id, student_id, state, last_occurred_at, updated_at) \
             VALUES",
            "ON CONFLICT (org_id, student_id) DO UPDATE SET state = excluded.state, \
             last_occurred_at = excluded.last_occurred_at, updated_at = excluded.updated_at",
            &rows,
        )?;
        Ok(())
    }

    fn add_norms(&mut self, org: &str, add: &HashMap<NormKey, Norm>, now: i64) -> QueryResult<()> {
        // Sorted: two nodes then update shared rows in the same order (no deadlock).
        let mut rows: Vec<_> = add
            .iter()
            .map(|((skill, item), n)| {
                let responses = i32::try_from(n.responses).unwrap_or(i32::MAX);
                (org, skill, item, responses, n.sum_log_ms, now)
            })
            .collect();
        rows.sort_by(|a, b| (a.1, a.2).cmp(&(b.1, b.2)));
        sqlite_values::execute(
            self,
            "INSERT INTO item_norms (org_id, skill_id, item_id, responses, sum_log_ms, updated_at) \
             VALUES",
            "ON CONFLICT (org_id, skill_id, item_id) DO UPDATE SET \
             responses = item_norms.responses + excluded.responses, \
             sum_log_ms = item_norms.sum_log_ms + excluded.sum_log_ms, \
             updated_at = excluded.updated_at",
            &rows,
        )?;
        Ok(())
    }
}

impl FlagSql for diesel::PgConnection {
    shared_flag_sql!();

    fn save_trackers(&mut self, org: &str, rows: &[(&str, &Tracker)], now: i64) -> QueryResult<()> {
        use diesel::sql_types::{Array, BigInt, Text};
        if rows.is_empty() {
            return Ok(());
        }
        // Column arrays (see add_norms).
        diesel::sql_query(
            "INSERT INTO student_signals (org_id, student_id, state, last_occurred_at, updated_at) \
             SELECT $1, u.*, $2 FROM unnest($3::text[], $4::text[], $5::bigint[]) AS u \
             ON CONFLICT (org_id, student_id) DO UPDATE SET state = excluded.state, \
             last_occurred_at = excluded.last_occurred_at, updated_at = excluded.updated_at",
        )
        .bind::<Text, _>(org)
        .bind::<BigInt, _>(now)
        .bind::<Array<Text>, _>(col(rows, |(s, _)| *s))
        .bind::<Array<Text>, _>(
            col(rows, |(_, t)| serde_json::to_string(t).unwrap_or_default()),
        )
        .bind::<Array<BigInt>, _>(
            col(rows, |(_, t)| t.last_at.unwrap_or(0)),
        )
        .execute(self)?;
        Ok(())
    }

    fn add_norms(&mut self, org: &str, add: &HashMap<NormKey, Norm>, now: i64) -> QueryResult<()> {
        use diesel::sql_types::{Array, BigInt, Double, Integer, Text};
        if add.is_empty() {
            return Ok(());
        }
        // Sorted: two nodes then update shared rows in the same order (no deadlock); unnest
        // keeps the arrays' order. Column arrays rather than a VALUES list of hundreds of rows,
        // which cost PostgreSQL more to parse than to write.
        let mut rows: Vec<(&NormKey, &Norm)> = add.iter().collect();
        rows.sort_by(|a, b| a.0.cmp(b.0));
        diesel::sql_query(
            "INSERT INTO item_norms (org_id, skill_id, item_id, responses, sum_log_ms, updated_at) \
             SELECT $1, u.*, $2 FROM unnest($3::text[], $4::text[], $5::int[], $6::float8[]) AS u \
             ON CONFLICT (org_id, skill_id, item_id) DO UPDATE SET \
             responses = item_norms.responses + excluded.responses, \
             sum_log_ms = item_norms.sum_log_ms + excluded.sum_log_ms, \
             updated_at = excluded.updated_at",
        )
        .bind::<Text, _>(org)
        .bind::<BigInt, _>(now)
        .bind::<Array<Text>, _>(col(&rows, |((skill, _), _)| skill.as_str()))
        .bind::<Array<Text>, _>(col(&rows, |((_, item), _)| item.as_str()))
        .bind::<Array<Integer>, _>(
            col(&rows, |(_, n)| i32::try_from(n.responses).unwrap_or(i32::MAX)),
        )
        .bind::<Array<Double>, _>(col(&rows, |(_, n)| n.sum_log_ms))
        .execute(self)?;
        Ok(())
    }
}

/// Every item norm of the organisation (for a refit's replays).
pub(crate) fn all_norms(
    conn: &mut DbConnection,
    org: &str,
) -> anyhow::Result<HashMap<NormKey, Norm>> {
    let rows: Vec<(String, String, i32, f64)> = on_backend!(conn, |c| item_norms::table
        .filter(item_norms::org_id.eq(org))
        .select((
            item_norms::skill_id,
            item_norms::item_id,
            item_norms::responses,
            item_norms::sum_log_ms,
        ))
        .load(c))?;
    Ok(rows
        .into_iter()
        .map(|(skill, item, n, sum)| {
            (
                (skill, item),
                Norm {
                    responses: u32::try_from(n).unwrap_or(0),
                    sum_log_ms: sum,
                },
            )
        })
        .collect())
}

/// The typical time of `item` of `skill` from loaded norms.
pub(crate) fn typical_of(
    norms: &HashMap<NormKey, Norm>,
    skill: &str,
    item: &str,
    t: &Thresholds,
) -> Option<f64> {
    // Keys are owned strings: look up without allocating twice per event by building once.
    let item_norm = norms.get(&(skill.to_owned(), item.to_owned()));
    let skill_norm = norms.get(&(skill.to_owned(), String::new()));
    signals::typical_ms(item_norm, skill_norm, t)
}

/// Whether the behaviour signals judge `e` a rapid guess against its item's norm (never with
/// signals off): such an answer counts as an opportunity but not as evidence.
pub(crate) fn is_rapid_guess(
    e: &crate::ingest::Event,
    norms: &HashMap<NormKey, Norm>,
    sig: &signals::Settings,
) -> bool {
    sig.enabled && {
        let typical = typical_of(norms, &e.skill_id, &e.item_id, &sig.thresholds);
        signals::Action::of(e, typical).is_rapid_guess(&sig.thresholds)
    }
}

/// Every stored flag of the organisation, by student: for tests and checks.
pub fn all_flags(conn: &mut DbConnection, org: &str) -> anyhow::Result<Vec<StoredFlag>> {
    let ids: Vec<String> = students::table
        .filter(students::org_id.eq(org))
        .select(students::student_id)
        .order(students::student_id)
        .load(conn)?;
    // Idle flags worked out on read are left out: any thresholds do.
    let mut flags = for_students(conn, org, &ids, None, &Thresholds::default())?;
    flags.retain(|f| f.kind != Kind::Idle.as_str() || f.ended_at.is_some());
    Ok(flags)
}
