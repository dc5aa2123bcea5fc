//! The statements of the derived state, for each backend's concrete connection: the state
//! rows (`skill_states`, `student_items`), the models read, the students' events read back,
//! the per-student locks; and [`save`], which writes what applying events gives.

use std::collections::{BTreeSet, HashMap, HashSet};

use diesel::dsl::auto_type;
use diesel::prelude::*;
use diesel::query_dsl::methods::LoadQuery;

use crate::db::schema::{events, skill_models, skill_states, student_items};
use crate::kt::{SkillModel, SkillState};
use crate::signals::{self, Episode, Norm, Tracker};
use crate::store::column as col;
use crate::store::events::StoredEvent;
use crate::store::flags::{FlagSql, NormKey};
use crate::store::predictions::PredictionSql;
use crate::store::sqlite_values;

use super::step::Writes;

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
#[derive(QueryableByName, Debug, Clone)]
#[diesel(table_name = student_items)]
pub(crate) struct SeenRow {
    pub student_id: String,
    pub skill_id: String,
    pub item_id: String,
}

/// A state to write.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NewState {
    pub org_id: String,
    pub student_id: String,
    pub skill_id: String,
    pub state: String,
    pub last_occurred_at: i64,
    pub last_seq: i64,
    pub session_start: i64,
    pub updated_at: i64,
}

/// An item met for the first time, to write.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NewItem {
    pub org_id: String,
    pub student_id: String,
    pub skill_id: String,
    pub item_id: String,
    pub first_occurred_at: i64,
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
    /// The organisation's fitted models, by skill ([`load_models`]).
    fn load_models(&mut self, org: &str) -> QueryResult<HashMap<String, SkillModel>>;
    /// The students' events, per student in time order ([`load_history`]).
    fn load_history(&mut self, org: &str, students: &[&str]) -> QueryResult<Vec<StoredEvent>>;
    fn save_states(&mut self, rows: &[NewState]) -> QueryResult<()>;
    fn save_items(&mut self, rows: &[NewItem]) -> QueryResult<()>;
}

#[auto_type]
fn models_of<'a>(org: &'a str) -> _ {
    skill_models::table
        .filter(skill_models::org_id.eq(org))
        .select((skill_models::skill_id, skill_models::model))
}

/// The organisation's fitted models, by skill (a model that does not read is left out: its
/// skill gets the default). The same statement on both backends.
pub(crate) fn load_models<'a, C: Connection>(
    c: &mut C,
    org: &'a str,
) -> QueryResult<HashMap<String, SkillModel>>
where
    models_of<'a>: LoadQuery<'a, C, (String, String)>,
{
    let rows: Vec<(String, String)> = models_of(org).load(c)?;
    Ok(rows
        .into_iter()
        .filter_map(|(skill, json)| Some((skill, serde_json::from_str(&json).ok()?)))
        .collect())
}

#[auto_type]
fn history_of<'a>(org: &'a str, students: &'a [&'a str]) -> _ {
    events::table
        .filter(events::org_id.eq(org))
        .filter(events::student_id.eq_any(students))
        .order((events::student_id, events::occurred_at, events::seq))
}

/// The students' events, per student in time order (`occurred_at`, then arrival), through the
/// (org_id, student_id, occurred_at) index. The same statement on both backends.
pub(crate) fn load_history<'a, C: Connection>(
    c: &mut C,
    org: &'a str,
    students: &'a [&'a str],
) -> QueryResult<Vec<StoredEvent>>
where
    history_of<'a>: LoadQuery<'a, C, StoredEvent>,
{
    history_of(org, students).load(c)
}

/// The norms of the items (and skills) of a history.
pub(super) fn history_norms<C: StateSql>(
    c: &mut C,
    org: &str,
    history: &[StoredEvent],
) -> QueryResult<HashMap<NormKey, Norm>> {
    let skills: BTreeSet<&str> = history.iter().map(|r| r.event.skill_id.as_str()).collect();
    let items: BTreeSet<&str> = history.iter().map(|r| r.event.item_id.as_str()).collect();
    if skills.is_empty() {
        return Ok(HashMap::new());
    }
    c.load_norms(org, &skills, &items)
}

/// Writes what applying events gave. With signals, the replaced students' flags go first and
/// the detectors' state and episodes follow. Rows every batch shares (prediction bins per
/// skill × day, item norms) come last: on PostgreSQL a concurrent batch waits for their row
/// locks until this one commits.
pub(super) fn save<C: StateSql>(
    c: &mut C,
    org: &str,
    w: &Writes,
    sig: &signals::Settings,
    now: i64,
) -> QueryResult<()> {
    c.save_items(&w.items)?;
    c.save_states(&w.states)?;
    if sig.enabled {
        let replaced: Vec<&str> = w.flags_replaced.iter().map(String::as_str).collect();
        c.delete_flags(org, &replaced)?;
        let rows: Vec<(&str, &Tracker)> = w.trackers.iter().map(|(s, t)| (s.as_str(), t)).collect();
        c.save_trackers(org, &rows, now)?;
        let rows: Vec<(&str, &Episode)> = w.episodes.iter().map(|(s, e)| (s.as_str(), e)).collect();
        c.save_flags(org, &rows, now)?;
    }
    c.save_predictions(org, &w.predictions)?;
    if sig.enabled {
        c.add_norms(org, &w.norms, now)?;
    }
    Ok(())
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
    fn load_models(&mut self, org: &str) -> QueryResult<HashMap<String, SkillModel>> {
        load_models(self, org)
    }

    fn load_history(&mut self, org: &str, students: &[&str]) -> QueryResult<Vec<StoredEvent>> {
        load_history(self, org, students)
    }

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
    fn load_models(&mut self, org: &str) -> QueryResult<HashMap<String, SkillModel>> {
        load_models(self, org)
    }

    fn load_history(&mut self, org: &str, students: &[&str]) -> QueryResult<Vec<StoredEvent>> {
        load_history(self, org, students)
    }

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
