//! Reads of a class for the teacher's pages: the enrolled students, their maintained
//! knowledge-tracing state, the skills' names, the flags and the teachers' decisions —
//! a handful of indexed queries whatever the number of stored events:
//!
//! 1. `classes` by primary key (the class exists in the organisation);
//! 2. `enrolments` by primary-key prefix (org, class) → the students;
//! 3. `skill_states` by primary-key prefix (org, student) for those students;
//! 4. `skills` by primary key for the skills met;
//! 5. `review_decisions` by (org, student, decided_at) for those students;
//! 6. the flags (`flags`, through [`class_flags`]).

use std::collections::{BTreeSet, HashMap};

use diesel::prelude::*;

use crate::db::schema::{
    classes, enrolments, flags, review_decisions, skill_states, skills, students,
};
use crate::db::DbConnection;
use crate::insights::{
    Cell, ClassData, DecisionRecord, Decisions, FlagView, SkillInfo, StudentInfo,
};
use crate::kt::{Rules, SkillState};
use crate::signals::Thresholds;

/// SQL `IN` lists are sent in chunks of this many ids (well under both backends' limits).
const IN_CHUNK: usize = 500;

/// The flags of these students since `since` (ms), as the insights read them: the counts and
/// the time threshold come from the flag's evidence data (docs/signals.md); idle by `t`.
pub fn class_flags(
    conn: &mut DbConnection,
    org: &str,
    students: &[String],
    since: i64,
    t: &Thresholds,
) -> anyhow::Result<Vec<FlagView>> {
    let count =
        |v: &serde_json::Value, key: &str| v.get(key).and_then(|n| n.as_u64()).map(|n| n as u32);
    Ok(
        super::flags::for_students(conn, org, students, Some(since), t)?
            .into_iter()
            .map(|f| FlagView {
                count: count(&f.evidence, "hits"),
                of: count(&f.evidence, "actions"),
                // "under 3 seconds" stays true of a 2.5-second threshold.
                seconds: count(&f.evidence, "threshold_ms").map(|ms| ms.div_ceil(1000)),
                student_id: f.student_id,
                kind: f.kind,
                skill_id: f.skill_id,
                since: f.started_at,
                ended_at: f.ended_at,
                sentence: f.sentence,
            })
            .collect(),
    )
}

/// How far back flags are read for a class page.
pub const FLAGS_WINDOW_MS: i64 = 14 * crate::insights::DAY_MS;

/// Whether the organisation has this class.
pub fn class_exists(conn: &mut DbConnection, org: &str, class: &str) -> anyhow::Result<bool> {
    let n: i64 = classes::table
        .filter(classes::org_id.eq(org))
        .filter(classes::class_id.eq(class))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// The students enrolled in the class, sorted by id.
pub fn class_students(
    conn: &mut DbConnection,
    org: &str,
    class: &str,
) -> anyhow::Result<Vec<String>> {
    Ok(enrolments::table
        .filter(enrolments::org_id.eq(org))
        .filter(enrolments::class_id.eq(class))
        .select(enrolments::student_id)
        .order(enrolments::student_id)
        .load(conn)?)
}

/// A state row turned into what the insights read (the kt module's rules decide the estimate).
fn cell(student: String, skill: String, json: &str, last_at: i64, rules: &Rules) -> Option<Cell> {
    let state: SkillState = serde_json::from_str(json).ok()?;
    Some(Cell {
        estimate: state.estimate(rules),
        evidence: state.evidence(),
        correct: state.correct,
        excluded: state.excluded,
        last_at,
        last_correct_day: state.correct_days.last().map(|d| d.day),
        student_id: student,
        skill_id: skill,
    })
}

/// The states of these students (all their skills).
fn states_of(
    conn: &mut DbConnection,
    org: &str,
    students: &[String],
    rules: &Rules,
) -> anyhow::Result<Vec<Cell>> {
    let mut cells = Vec::new();
    for chunk in students.chunks(IN_CHUNK) {
        let rows: Vec<(String, String, String, i64)> = skill_states::table
            .filter(skill_states::org_id.eq(org))
            .filter(skill_states::student_id.eq_any(chunk))
            .select((
                skill_states::student_id,
                skill_states::skill_id,
                skill_states::state,
                skill_states::last_occurred_at,
            ))
            .load(conn)?;
        cells.extend(
            rows.into_iter()
                .filter_map(|(st, sk, json, at)| cell(st, sk, &json, at, rules)),
        );
    }
    cells.sort_by(|a, b| {
        (a.student_id.as_str(), a.skill_id.as_str())
            .cmp(&(b.student_id.as_str(), b.skill_id.as_str()))
    });
    Ok(cells)
}

/// The named skills among `ids`, sorted by id (a skill missing from `skills` gets its domain
/// from its id).
pub fn skill_infos(
    conn: &mut DbConnection,
    org: &str,
    ids: &BTreeSet<&str>,
) -> anyhow::Result<Vec<SkillInfo>> {
    let list: Vec<&str> = ids.iter().copied().collect();
    let mut found: HashMap<String, (Option<String>, String)> = HashMap::new();
    for chunk in list.chunks(IN_CHUNK) {
        let rows: Vec<(String, Option<String>, String)> = skills::table
            .filter(skills::org_id.eq(org))
            .filter(skills::skill_id.eq_any(chunk))
            .select((skills::skill_id, skills::name, skills::domain))
            .load(conn)?;
        found.extend(rows.into_iter().map(|(id, n, d)| (id, (n, d))));
    }
    Ok(list
        .into_iter()
        .map(|id| {
            let (name, domain) = found
                .remove(id)
                .unwrap_or_else(|| (None, crate::ingest::domain_of(id).to_owned()));
            SkillInfo {
                skill_id: id.to_owned(),
                name,
                domain,
            }
        })
        .collect())
}

/// Everything the insights, groups, overview and review queue of these students need (`t`:
/// the signals' thresholds, which say when a student is idle).
pub fn data_for_students(
    conn: &mut DbConnection,
    org: &str,
    class_id: &str,
    students: Vec<String>,
    now: i64,
    t: &Thresholds,
) -> anyhow::Result<ClassData> {
    let rules = Rules::default();
    let cells = states_of(conn, org, &students, &rules)?;
    let skill_ids: BTreeSet<&str> = cells.iter().map(|c| c.skill_id.as_str()).collect();
    let skills = skill_infos(conn, org, &skill_ids)?;
    let decisions: Vec<DecisionRecord> = super::reviews::decisions_of(conn, org, &students)?;
    let flags = class_flags(conn, org, &students, now - FLAGS_WINDOW_MS, t)?;
    // Names only from the roster; the pseudonymous id otherwise (docs/privacy.md).
    let ids: Vec<&str> = students.iter().map(String::as_str).collect();
    let mut names = super::privacy::display_names(conn, org, &ids)?;
    Ok(ClassData {
        class_id: class_id.to_owned(),
        now,
        skills,
        students: students
            .into_iter()
            .map(|s| StudentInfo {
                name: names.remove(&s).unwrap_or_else(|| s.clone()),
                student_id: s,
            })
            .collect(),
        cells,
        flags,
        decisions: Decisions::new(decisions),
        helps: Vec::new(),
    })
}

/// A class's data; None when the organisation has no such class.
pub fn class_data(
    conn: &mut DbConnection,
    org: &str,
    class: &str,
    now: i64,
    t: &Thresholds,
) -> anyhow::Result<Option<ClassData>> {
    if !class_exists(conn, org, class)? {
        return Ok(None);
    }
    let students = class_students(conn, org, class)?;
    data_for_students(conn, org, class, students, now, t).map(Some)
}

/// Every student of the organisation, sorted (the organisation-wide review queue).
pub fn org_students(conn: &mut DbConnection, org: &str) -> anyhow::Result<Vec<String>> {
    Ok(students::table
        .filter(students::org_id.eq(org))
        .select(students::student_id)
        .order(students::student_id)
        .load(conn)?)
}

/// Whether the organisation has this student.
pub fn student_exists(conn: &mut DbConnection, org: &str, student: &str) -> anyhow::Result<bool> {
    let n: i64 = students::table
        .filter(students::org_id.eq(org))
        .filter(students::student_id.eq(student))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// What a class's overview is computed from, in one cheap aggregate over the students' state
/// rows: the latest event applied, the latest write (refits and rebuilds rewrite states
/// without new events) and the number of states. Equal versions give equal overviews.
/// The latest flag change and decision count too, and the hour: idle flags grow with time
/// alone, and ended flags leave after a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateVersion {
    pub students: Vec<String>,
    pub last_seq: Option<i64>,
    pub updated_at: Option<i64>,
    pub states: i64,
    pub flags_updated: Option<i64>,
    /// The latest teacher's decision: a decision changes the review marks and flags shown.
    pub decided: Option<i64>,
    /// Hours since the epoch: flags that ended leave the page after a window of hours.
    pub hour: i64,
    pub day: i64,
}

/// The class's version; None when the organisation has no such class.
pub fn class_version(
    conn: &mut DbConnection,
    org: &str,
    class: &str,
) -> anyhow::Result<Option<StateVersion>> {
    let students = class_students(conn, org, class)?;
    if students.is_empty() && !class_exists(conn, org, class)? {
        return Ok(None);
    }
    let mut v = StateVersion {
        students,
        last_seq: None,
        updated_at: None,
        states: 0,
        flags_updated: None,
        decided: None,
        hour: chrono::Utc::now().timestamp() / 3_600,
        day: chrono::Utc::now().timestamp() / 86_400,
    };
    for chunk in v.students.chunks(IN_CHUNK) {
        let (seq, updated, n): (Option<i64>, Option<i64>, i64) = skill_states::table
            .filter(skill_states::org_id.eq(org))
            .filter(skill_states::student_id.eq_any(chunk))
            .select((
                diesel::dsl::max(skill_states::last_seq),
                diesel::dsl::max(skill_states::updated_at),
                diesel::dsl::count_star(),
            ))
            .first(conn)?;
        v.last_seq = v.last_seq.max(seq);
        v.updated_at = v.updated_at.max(updated);
        v.states += n;
        let flagged: Option<i64> = flags::table
            .filter(flags::org_id.eq(org))
            .filter(flags::student_id.eq_any(chunk))
            .select(diesel::dsl::max(flags::updated_at))
            .first(conn)?;
        v.flags_updated = v.flags_updated.max(flagged);
        let decided: Option<i64> = review_decisions::table
            .filter(review_decisions::org_id.eq(org))
            .filter(review_decisions::student_id.eq_any(chunk))
            .select(diesel::dsl::max(review_decisions::decided_at))
            .first(conn)?;
        v.decided = v.decided.max(decided);
    }
    Ok(Some(v))
}
