//! The lesson's reads and writes: a teacher's check-ins, and the answers of a class's current
//! practice that the Now view and the live view are computed from (`lesson`).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use diesel::prelude::*;

use crate::db::schema::{checkins, events, item_norms};
use crate::db::DbConnection;
use crate::ingest::Outcome;
use crate::lesson::{Answer, ClassAnswers};
use crate::signals::{self, Norm, Thresholds};
use crate::{for_each_row, on_backend};

/// A stored check-in.
#[derive(Queryable, Selectable, Debug, Clone, PartialEq)]
#[diesel(table_name = checkins)]
pub struct CheckinRow {
    pub checkin_id: String,
    pub class_id: String,
    pub student_id: String,
    pub skill_id: Option<String>,
    pub note: Option<String>,
    pub checked_by: String,
    pub at: i64,
}

/// Stores one check-in per student, all at `at`; gives them back in the order of `students`.
#[allow(clippy::too_many_arguments)]
pub fn insert(
    conn: &mut DbConnection,
    org: &str,
    class: &str,
    students: &[String],
    skill: Option<&str>,
    note: Option<&str>,
    by: &str,
    at: i64,
) -> anyhow::Result<Vec<CheckinRow>> {
    let rows: Vec<CheckinRow> = students
        .iter()
        .map(|s| CheckinRow {
            checkin_id: format!("checkin-{}", uuid::Uuid::new_v4().simple()),
            class_id: class.to_owned(),
            student_id: s.clone(),
            skill_id: skill.map(str::to_owned),
            note: note.map(str::to_owned),
            checked_by: by.to_owned(),
            at,
        })
        .collect();
    for r in &rows {
        diesel::insert_into(checkins::table)
            .values((
                checkins::checkin_id.eq(&r.checkin_id),
                checkins::org_id.eq(org),
                checkins::class_id.eq(&r.class_id),
                checkins::student_id.eq(&r.student_id),
                checkins::skill_id.eq(&r.skill_id),
                checkins::note.eq(&r.note),
                checkins::checked_by.eq(&r.checked_by),
                checkins::at.eq(r.at),
            ))
            .execute(conn)?;
    }
    Ok(rows)
}

/// A student's check-ins, newest first (the student page, the export).
pub fn for_student(
    conn: &mut DbConnection,
    org: &str,
    student: &str,
) -> anyhow::Result<Vec<CheckinRow>> {
    Ok(checkins::table
        .filter(checkins::org_id.eq(org))
        .filter(checkins::student_id.eq(student))
        .order((checkins::at.desc(), checkins::checkin_id))
        .select(CheckinRow::as_select())
        .load(conn)?)
}

/// A class's check-ins at or after `since` (ms), oldest first.
pub fn for_class(
    conn: &mut DbConnection,
    org: &str,
    class: &str,
    since: i64,
) -> anyhow::Result<Vec<CheckinRow>> {
    Ok(checkins::table
        .filter(checkins::org_id.eq(org))
        .filter(checkins::class_id.eq(class))
        .filter(checkins::at.ge(since))
        .order((checkins::at, checkins::checkin_id))
        .select(CheckinRow::as_select())
        .load(conn)?)
}

/// Removes a student's check-ins (erasure); gives back how many.
pub fn erase_student(conn: &mut DbConnection, org: &str, student: &str) -> anyhow::Result<usize> {
    Ok(diesel::delete(
        checkins::table
            .filter(checkins::org_id.eq(org))
            .filter(checkins::student_id.eq(student)),
    )
    .execute(conn)?)
}

/// An event's columns the Now view reads: (seq, student, skill, item, time, outcome, attempt,
/// response time, hints, bottom-out).
type EventCols = (
    i64,
    String,
    String,
    String,
    i64,
    String,
    i32,
    Option<i32>,
    i32,
    bool,
);

/// The answers in `class` of its enrolled `students` since `since` (ms), and their check-ins in
/// the class since then, held whole: what a class's live view starts from and keeps up to date
/// (a single Now read folds them as it reads instead: [`class_beats`], [`each_answer`]). Read
/// student by student through the events' (org, student, time) index, so the cost follows the
/// class's recent practice, not the organisation's.
pub fn class_answers(
    conn: &mut DbConnection,
    org: &str,
    class: &str,
    students: Vec<String>,
    since: i64,
    t: &Thresholds,
) -> anyhow::Result<ClassAnswers> {
    let mut rows: Vec<EventCols> = Vec::new();
    for chunk in students.chunks(200) {
        let part: Vec<EventCols> = on_backend!(conn, |c| events::table
            .filter(events::org_id.eq(org))
            .filter(events::student_id.eq_any(chunk))
            .filter(events::occurred_at.ge(since))
            .filter(events::class_id.eq(class))
            .select(event_cols())
            .load(c))?;
        rows.extend(part);
    }
    let mut answers: HashMap<String, Vec<Answer>> = HashMap::new();
    for (student, answer) in to_answers(conn, org, rows, t)? {
        answers.entry(student).or_default().push(answer);
    }
    for list in answers.values_mut() {
        list.sort_by_key(|a| (a.at, a.seq));
    }
    Ok(ClassAnswers {
        students,
        checkins: latest_in_class(conn, org, class, since)?,
        answers,
    })
}

/// Each student's latest check-in in `class` at or after `since` (ms).
pub fn latest_in_class(
    conn: &mut DbConnection,
    org: &str,
    class: &str,
    since: i64,
) -> anyhow::Result<HashMap<String, i64>> {
    let mut latest: HashMap<String, i64> = HashMap::new();
    for c in for_class(conn, org, class, since)? {
        let at = latest.entry(c.student_id).or_insert(c.at);
        *at = (*at).max(c.at);
    }
    Ok(latest)
}

/// Event rows as the lesson rules see them, by student; a rapid guess is judged against the
/// item's (or skill's) typical response time as stored now. The answers on one skill share its
/// id.
fn to_answers(
    conn: &mut DbConnection,
    org: &str,
    rows: Vec<EventCols>,
    t: &Thresholds,
) -> anyhow::Result<Vec<(String, Answer)>> {
    let skills: HashSet<&str> = rows.iter().map(|r| r.2.as_str()).collect();
    let mut rules = RapidRules::read(conn, org, skills, t)?;
    Ok(rows.into_iter().filter_map(|r| rules.answer(r)).collect())
}

/// What turns event rows into answers: the skills' ids, shared by their answers, and the
/// rapid-guess norms of their items.
struct RapidRules {
    skills: HashMap<String, Arc<str>>,
    norms: HashMap<String, HashMap<String, Norm>>,
    thresholds: Thresholds,
}

impl RapidRules {
    /// The norms of `skills` as stored now.
    fn read<'a>(
        conn: &mut DbConnection,
        org: &str,
        skills: impl IntoIterator<Item = &'a str>,
        t: &Thresholds,
    ) -> anyhow::Result<Self> {
        let skills: HashMap<String, Arc<str>> = skills
            .into_iter()
            .map(|s| (s.to_owned(), Arc::from(s)))
            .collect();
        let names: Vec<&str> = skills.keys().map(String::as_str).collect();
        Ok(RapidRules {
            norms: norms_of(conn, org, &names)?,
            skills,
            thresholds: *t,
        })
    }

    /// The row's student and answer; `None` for an outcome the lesson rules do not know.
    fn answer(&mut self, row: EventCols) -> Option<(String, Answer)> {
        let (seq, student, skill, item, at, outcome, attempt, response_ms, hints, bottom_out) = row;
        let outcome = Outcome::parse(&outcome)?;
        let t = &self.thresholds;
        let of_skill = self.norms.get(skill.as_str());
        let typical = signals::typical_ms(
            of_skill.and_then(|n| n.get(item.as_str())),
            of_skill.and_then(|n| n.get("")),
            t,
        );
        let threshold = signals::rapid_threshold_ms(typical, t);
        // A skill whose norms were not read (not among those given) has the defaults, as any
        // new skill.
        let skill_id = self
            .skills
            .entry(skill)
            .or_insert_with_key(|s| Arc::from(s.as_str()));
        let skill_id = Arc::clone(skill_id);
        let answer = Answer {
            at,
            seq,
            outcome,
            attempt,
            rapid: response_ms.is_some_and(|ms| ms < threshold),
            response_ms,
            hints_used: hints,
            hint_bottom_out: bottom_out,
            skill_id,
        };
        Some((student, answer))
    }
}

/// The outcomes the lesson rules read (every stored one).
fn outcomes() -> [&'static str; 3] {
    [Outcome::Correct, Outcome::Incorrect, Outcome::Skipped].map(Outcome::as_str)
}

/// What a class's sitting is found from.
pub struct Beats {
    /// Each answer's time and student (an index into the students asked for), in no
    /// particular order.
    pub beats: Vec<(i64, u32)>,
    /// The skills answered.
    pub skills: HashSet<String>,
}

/// The [`Beats`] of `class`'s `students` since `since` (ms). Read row by row through the
/// events' (org, student, time) index; only the pairs are kept.
pub fn class_beats(
    conn: &mut DbConnection,
    org: &str,
    class: &str,
    students: &[String],
    since: i64,
) -> anyhow::Result<Beats> {
    let index: HashMap<&str, u32> = students.iter().map(String::as_str).zip(0..).collect();
    let (mut beats, mut skills) = (Vec::new(), HashSet::new());
    let mut take = |(student, skill, at): (String, String, i64)| {
        if let Some(&i) = index.get(student.as_str()) {
            beats.push((at, i));
        }
        skills.insert(skill);
    };
    for chunk in students.chunks(200) {
        let query = || {
            events::table
                .filter(events::org_id.eq(org))
                .filter(events::student_id.eq_any(chunk))
                .filter(events::occurred_at.ge(since))
                .filter(events::class_id.eq(class))
                .filter(events::outcome.eq_any(outcomes()))
                .select((events::student_id, events::skill_id, events::occurred_at))
        };
        for_each_row!(conn, query(), take);
    }
    Ok(Beats { beats, skills })
}

/// Hands `each` the answers in `class` of `students` from `from` to `to` (ms, both included),
/// each student's in (time, seq) order, without holding them: the rows are read one at a
/// time. `skills`: those answered (from [`class_beats`]), whose rapid-guess norms are read
/// first.
#[allow(clippy::too_many_arguments)]
pub fn each_answer(
    conn: &mut DbConnection,
    org: &str,
    class: &str,
    students: &[String],
    (from, to): (i64, i64),
    skills: &HashSet<String>,
    t: &Thresholds,
    mut each: impl FnMut(&str, &Answer),
) -> anyhow::Result<()> {
    let mut rules = RapidRules::read(conn, org, skills.iter().map(String::as_str), t)?;
    let mut take = |row: EventCols| {
        if let Some((student, answer)) = rules.answer(row) {
            each(&student, &answer);
        }
    };
    for chunk in students.chunks(200) {
        let query = || {
            events::table
                .filter(events::org_id.eq(org))
                .filter(events::student_id.eq_any(chunk))
                .filter(events::occurred_at.between(from, to))
                .filter(events::class_id.eq(class))
                .order((events::occurred_at, events::seq))
                .select(event_cols())
        };
        for_each_row!(conn, query(), take);
    }
    Ok(())
}

/// Events read by seq, for the live view.
pub struct EventPage {
    /// Every seq read, of any class (in order).
    pub seqs: Vec<i64>,
    /// The answers of the classes asked for: (org, class, student, answer).
    pub answers: Vec<(String, String, String, Answer)>,
}

/// The events of these seqs (those that exist), and the answers among them of the classes
/// `wanted(org, class)` accepts.
pub fn events_in(
    conn: &mut DbConnection,
    seqs: &[i64],
    t: &Thresholds,
    wanted: impl Fn(&str, &str) -> bool,
) -> anyhow::Result<EventPage> {
    let rows: Vec<(String, String, EventCols)> = on_backend!(conn, |c| events::table
        .filter(events::seq.eq_any(seqs))
        .order(events::seq)
        .select((events::org_id, events::class_id, event_cols()))
        .load(c))?;
    of_classes(conn, rows, t, wanted)
}

/// The events stored after `after` in seq order, at most `limit`, through the primary key; the
/// answers among them of the classes `wanted(org, class)` accepts.
pub fn events_after(
    conn: &mut DbConnection,
    after: i64,
    limit: i64,
    t: &Thresholds,
    wanted: impl Fn(&str, &str) -> bool,
) -> anyhow::Result<EventPage> {
    let rows: Vec<(String, String, EventCols)> = on_backend!(conn, |c| events::table
        .filter(events::seq.gt(after))
        .order(events::seq)
        .limit(limit)
        .select((events::org_id, events::class_id, event_cols()))
        .load(c))?;
    of_classes(conn, rows, t, wanted)
}

/// The columns of [`EventCols`].
fn event_cols() -> (
    events::seq,
    events::student_id,
    events::skill_id,
    events::item_id,
    events::occurred_at,
    events::outcome,
    events::attempt,
    events::response_ms,
    events::hints_used,
    events::hint_bottom_out,
) {
    (
        events::seq,
        events::student_id,
        events::skill_id,
        events::item_id,
        events::occurred_at,
        events::outcome,
        events::attempt,
        events::response_ms,
        events::hints_used,
        events::hint_bottom_out,
    )
}

/// The seqs of `rows`, and the answers among them of the classes `wanted` accepts.
fn of_classes(
    conn: &mut DbConnection,
    rows: Vec<(String, String, EventCols)>,
    t: &Thresholds,
    wanted: impl Fn(&str, &str) -> bool,
) -> anyhow::Result<EventPage> {
    let seqs = rows.iter().map(|r| r.2 .0).collect();
    let mut by_org: HashMap<String, Vec<(String, EventCols)>> = HashMap::new();
    for (org, class, cols) in rows {
        if wanted(&org, &class) {
            by_org.entry(org).or_default().push((class, cols));
        }
    }
    let mut answers = Vec::new();
    for (org, list) in by_org {
        let (classes, cols): (Vec<String>, Vec<EventCols>) = list.into_iter().unzip();
        // `to_answers` skips rows with an unknown outcome: keep each row's class with it.
        let class_of: HashMap<i64, String> = cols.iter().map(|c| c.0).zip(classes).collect();
        for (student, answer) in to_answers(conn, &org, cols, t)? {
            let class = class_of.get(&answer.seq).cloned().unwrap_or_default();
            answers.push((org.clone(), class, student, answer));
        }
    }
    Ok(EventPage { seqs, answers })
}

/// The highest seq stored (0 when there is no event).
pub fn last_seq(conn: &mut DbConnection) -> anyhow::Result<i64> {
    let max: Option<i64> = on_backend!(conn, |c| events::table
        .select(diesel::dsl::max(events::seq))
        .first(c))?;
    Ok(max.unwrap_or(0))
}

/// Item and skill response-time norms of `skills` (the rapid-guess thresholds), by skill and
/// item (the skill's own under the empty item).
fn norms_of(
    conn: &mut DbConnection,
    org: &str,
    skills: &[&str],
) -> anyhow::Result<HashMap<String, HashMap<String, Norm>>> {
    let mut out: HashMap<String, HashMap<String, Norm>> = HashMap::new();
    for chunk in skills.chunks(200) {
        let rows: Vec<(String, String, i32, f64)> = on_backend!(conn, |c| item_norms::table
            .filter(item_norms::org_id.eq(org))
            .filter(item_norms::skill_id.eq_any(chunk))
            .select((
                item_norms::skill_id,
                item_norms::item_id,
                item_norms::responses,
                item_norms::sum_log_ms,
            ))
            .load(c))?;
        for (skill, item, n, sum) in rows {
            let norm = Norm {
                responses: u32::try_from(n).unwrap_or(0),
                sum_log_ms: sum,
            };
            out.entry(skill).or_default().insert(item, norm);
        }
    }
    Ok(out)
}

/// Each student's latest check-in (ms), any class; students without one are absent.
pub fn latest_for_students(
    conn: &mut DbConnection,
    org: &str,
    students: &[String],
) -> anyhow::Result<HashMap<String, i64>> {
    let mut out = HashMap::new();
    for chunk in students.chunks(500) {
        let rows: Vec<(String, Option<i64>)> = checkins::table
            .filter(checkins::org_id.eq(org))
            .filter(checkins::student_id.eq_any(chunk))
            .group_by(checkins::student_id)
            .select((checkins::student_id, diesel::dsl::max(checkins::at)))
            .load(conn)?;
        out.extend(rows.into_iter().filter_map(|(s, at)| Some((s, at?))));
    }
    Ok(out)
}
