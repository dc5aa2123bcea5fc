//! Names from the roster, and the privacy duties: export of everything held about a student,
//! erasure, and the retention purge of old events.

use std::collections::HashMap;

use diesel::prelude::*;
use serde::Serialize;

use crate::auth::policy::StudentScope;
use crate::db::schema::{
    checkins, classes, enrolments, events, flags, report_activity, retention_marks,
    review_decisions, schools, skill_states, student_items, student_predictions, student_signals,
    students,
};
use crate::db::DbConnection;
use crate::store::events::StoredEvent;

/// One line of a roster upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterEntry {
    pub student_id: String,
    /// None leaves a name already held; an empty string removes it.
    pub display_name: Option<String>,
    pub class_id: Option<String>,
    /// A group label (for the fairness report).
    pub group: Option<String>,
    /// The school of `class_id` (the adoption report rolls classes up by school).
    pub school_id: Option<String>,
    /// The school's name; None keeps a name already held.
    pub school_name: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RosterSummary {
    /// Students added by this upload.
    pub students_created: usize,
    /// Students already known whose name or group was set.
    pub students_updated: usize,
    /// Enrolments added.
    pub enrolments_created: usize,
}

/// Applies a roster to `org` in one transaction: students created or renamed, groups set,
/// enrolments added (source `roster`). Classes named are created when new.
pub fn apply_roster(
    conn: &mut DbConnection,
    org: &str,
    entries: &[RosterEntry],
) -> anyhow::Result<RosterSummary> {
    let now = crate::db::to_millis(chrono::Utc::now());
    conn.transaction(|conn| {
        crate::store::users::ensure_org(conn, org, now)?;
        let mut summary = RosterSummary::default();
        for e in entries {
            let created = crate::on_backend!(conn, |c| diesel::insert_into(students::table)
                .values((
                    students::org_id.eq(org),
                    students::student_id.eq(&e.student_id),
                    students::created_at.eq(now),
                ))
                .on_conflict_do_nothing()
                .execute(c))?;
            if created > 0 {
                summary.students_created += 1;
            } else {
                summary.students_updated += 1;
            }
            let target = students::table
                .filter(students::org_id.eq(org))
                .filter(students::student_id.eq(&e.student_id));
            if let Some(name) = &e.display_name {
                let name = Some(name.trim()).filter(|n| !n.is_empty());
                diesel::update(target)
                    .set(students::name.eq(name))
                    .execute(conn)?;
            }
            if let Some(group) = &e.group {
                let group = Some(group.trim()).filter(|g| !g.is_empty());
                diesel::update(target)
                    .set(students::group_label.eq(group))
                    .execute(conn)?;
            }
            if let Some(class) = &e.class_id {
                summary.enrolments_created += crate::on_backend!(conn, |c| {
                    diesel::insert_into(classes::table)
                        .values((
                            classes::org_id.eq(org),
                            classes::class_id.eq(class),
                            classes::created_at.eq(now),
                        ))
                        .on_conflict_do_nothing()
                        .execute(c)?;
                    diesel::insert_into(enrolments::table)
                        .values((
                            enrolments::org_id.eq(org),
                            enrolments::class_id.eq(class),
                            enrolments::student_id.eq(&e.student_id),
                            enrolments::source.eq("roster"),
                            enrolments::created_at.eq(now),
                        ))
                        .on_conflict_do_nothing()
                        .execute(c)
                })?;
                if let Some(school) = &e.school_id {
                    crate::on_backend!(conn, |c| diesel::insert_into(schools::table)
                        .values((
                            schools::org_id.eq(org),
                            schools::school_id.eq(school),
                            schools::created_at.eq(now),
                        ))
                        .on_conflict_do_nothing()
                        .execute(c))?;
                    if let Some(name) = &e.school_name {
                        diesel::update(
                            schools::table
                                .filter(schools::org_id.eq(org))
                                .filter(schools::school_id.eq(school)),
                        )
                        .set(schools::name.eq(name))
                        .execute(conn)?;
                    }
                    diesel::update(
                        classes::table
                            .filter(classes::org_id.eq(org))
                            .filter(classes::class_id.eq(class)),
                    )
                    .set(classes::school_id.eq(school))
                    .execute(conn)?;
                }
            }
        }
        Ok(summary)
    })
}

/// The display names held for `student_ids` of `org` (students without one are absent).
/// Callers show them only to a caller who may read those students.
pub fn display_names(
    conn: &mut DbConnection,
    org: &str,
    student_ids: &[&str],
) -> anyhow::Result<HashMap<String, String>> {
    let mut names = HashMap::new();
    for chunk in student_ids.chunks(500) {
        let rows: Vec<(String, Option<String>)> = students::table
            .filter(students::org_id.eq(org))
            .filter(students::student_id.eq_any(chunk))
            .select((students::student_id, students::name))
            .load(conn)?;
        names.extend(rows.into_iter().filter_map(|(id, n)| Some((id, n?))));
    }
    Ok(names)
}

/// When events were last purged by retention: events before this time are gone (ms).
pub fn purged_before(conn: &mut DbConnection, org: &str) -> anyhow::Result<Option<i64>> {
    Ok(retention_marks::table
        .filter(retention_marks::org_id.eq(org))
        .select(retention_marks::purged_before)
        .first(conn)
        .optional()?)
}

/// Deletes up to `chunk` events of `org` that occurred before `cutoff` (ms); gives back how
/// many. Callers repeat until 0, so that each transaction stays short and ingest goes on.
/// The derived state (estimates) is kept; `retention_marks` records the cut.
pub fn purge_events_chunk(
    conn: &mut DbConnection,
    org: &str,
    cutoff: i64,
    chunk: i64,
) -> anyhow::Result<usize> {
    conn.transaction(|conn| {
        let seqs: Vec<i64> = events::table
            .filter(events::org_id.eq(org))
            .filter(events::occurred_at.lt(cutoff))
            .order(events::occurred_at)
            .select(events::seq)
            .limit(chunk)
            .load(conn)?;
        if seqs.is_empty() {
            return Ok(0);
        }
        super::event_ids::forget_seqs(conn, &seqs)?;
        let n = diesel::delete(events::table.filter(events::seq.eq_any(&seqs))).execute(conn)?;
        let now = crate::db::to_millis(chrono::Utc::now());
        crate::on_backend!(conn, |c| diesel::insert_into(retention_marks::table)
            .values((
                retention_marks::org_id.eq(org),
                retention_marks::purged_before.eq(cutoff),
                retention_marks::purged_at.eq(now),
            ))
            .on_conflict(retention_marks::org_id)
            .do_update()
            .set((
                retention_marks::purged_before.eq(cutoff),
                retention_marks::purged_at.eq(now),
            ))
            .execute(c))?;
        Ok(n)
    })
}

/// Everything held about one student (`GET /api/v1/students/{id}/export`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StudentExport {
    pub student_id: String,
    pub org: String,
    /// The display name from the roster, if one was uploaded.
    pub display_name: Option<String>,
    pub group: Option<String>,
    pub first_seen_at: String,
    /// Classes the student is enrolled in, and how (`event` or `roster`).
    pub enrolments: Vec<ExportEnrolment>,
    /// The practice events still held (retention may have purged older ones).
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<serde_json::Value>,
    /// The knowledge-tracing state per skill, as stored.
    #[schema(value_type = Vec<Object>)]
    pub skill_states: Vec<serde_json::Value>,
    /// The items the student has answered, with when they first did.
    #[schema(value_type = Vec<Object>)]
    pub items_seen: Vec<serde_json::Value>,
    /// Events that occurred before this time were purged by retention.
    pub events_purged_before: Option<String>,
    /// Behaviour flags raised about the student (rapid guessing, idle, ...), with their evidence.
    #[schema(value_type = Vec<Object>)]
    pub flags: Vec<serde_json::Value>,
    /// Teachers' review decisions about the student (confirm or dismiss, with their notes).
    #[schema(value_type = Vec<Object>)]
    pub review_decisions: Vec<serde_json::Value>,
    /// The behaviour detectors' running state (recent actions, open episodes), as stored.
    #[schema(value_type = Option<Object>)]
    pub detector_state: Option<serde_json::Value>,
    /// The weekly practice counts kept for the adoption report, per class.
    #[schema(value_type = Vec<Object>)]
    pub weekly_activity: Vec<serde_json::Value>,
    /// The model-health tallies kept about the student's answers, per predicted-probability bin.
    #[schema(value_type = Vec<Object>)]
    pub prediction_tallies: Vec<serde_json::Value>,
    /// The teachers' check-ins with the student during practice, newest first.
    #[schema(value_type = Vec<Object>)]
    pub checkins: Vec<serde_json::Value>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ExportEnrolment {
    pub class_id: String,
    pub source: String,
    pub since: String,
}

use crate::util::{rfc3339, rfc3339_of};

/// Everything held about the student, or None when there is no such student (any more: an
/// erasure may come between the access check and this read). Read in one snapshot
/// ([`crate::db::read_snapshot`]): an erasure committed while it reads shows in none of its
/// statements, so the export is whole or None.
pub fn export_student(
    conn: &mut DbConnection,
    scope: &StudentScope,
    t: &crate::signals::Thresholds,
) -> anyhow::Result<Option<StudentExport>> {
    crate::db::read_snapshot(conn, |conn| export_in_snapshot(conn, scope, t))
}

fn export_in_snapshot(
    conn: &mut DbConnection,
    scope: &StudentScope,
    t: &crate::signals::Thresholds,
) -> anyhow::Result<Option<StudentExport>> {
    let (org, student) = (scope.org(), scope.student_id());
    let Some((display_name, group, created_at)) = students::table
        .filter(students::org_id.eq(org))
        .filter(students::student_id.eq(student))
        .select((students::name, students::group_label, students::created_at))
        .first::<(Option<String>, Option<String>, i64)>(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let enrolments = enrolments::table
        .filter(enrolments::org_id.eq(org))
        .filter(enrolments::student_id.eq(student))
        .order(enrolments::class_id)
        .select((
            enrolments::class_id,
            enrolments::source,
            enrolments::created_at,
        ))
        .load::<(String, String, i64)>(conn)?
        .into_iter()
        .map(|(class_id, source, since)| ExportEnrolment {
            class_id,
            source,
            since: rfc3339(since),
        })
        .collect();
    let events = crate::on_backend!(conn, |c| events::table
        .filter(events::org_id.eq(org))
        .filter(events::student_id.eq(student))
        .order((events::occurred_at, events::seq))
        .select(StoredEvent::as_select())
        .load::<StoredEvent>(c))?
    .into_iter()
    .map(
        |StoredEvent {
             received_at,
             event: e,
             ..
         }| {
            serde_json::json!({
                "event_id": e.event_id.to_string(),
                "occurred_at": rfc3339_of(&e.occurred_at),
                "received_at": rfc3339(received_at),
                "class_id": e.class_id,
                "skill_id": e.skill_id,
                "item_id": e.item_id,
                "outcome": e.outcome,
                "attempt": e.attempt,
                "response_ms": e.response_ms,
                "response": e.response,
                "hints_used": e.hints_used,
                "hint_bottom_out": e.hint_bottom_out,
                "session_id": e.session_id,
                "skill_name": e.skill_name,
                "tool": e.tool,
            })
        },
    )
    .collect();
    let skill_states = skill_states::table
        .filter(skill_states::org_id.eq(org))
        .filter(skill_states::student_id.eq(student))
        .order(skill_states::skill_id)
        .select((
            skill_states::skill_id,
            skill_states::state,
            skill_states::last_occurred_at,
            skill_states::updated_at,
        ))
        .load::<(String, String, i64, i64)>(conn)?
        .into_iter()
        .map(|(skill_id, state, last, updated)| {
            serde_json::json!({
                "skill_id": skill_id,
                "state": serde_json::from_str::<serde_json::Value>(&state).unwrap_or(serde_json::Value::String(state)),
                "last_occurred_at": rfc3339(last),
                "updated_at": rfc3339(updated),
            })
        })
        .collect();
    let items_seen = student_items::table
        .filter(student_items::org_id.eq(org))
        .filter(student_items::student_id.eq(student))
        .order((student_items::skill_id, student_items::item_id))
        .select((
            student_items::skill_id,
            student_items::item_id,
            student_items::first_occurred_at,
        ))
        .load::<(String, String, i64)>(conn)?
        .into_iter()
        .map(|(skill_id, item_id, first)| {
            serde_json::json!({"skill_id": skill_id, "item_id": item_id, "first_answered_at": rfc3339(first)})
        })
        .collect();
    let flags = super::flags::for_student(conn, org, student, t)?
        .into_iter()
        .map(|f| {
            serde_json::json!({
                "kind": f.kind,
                "skill_id": f.skill_id,
                "since": rfc3339(f.started_at),
                "until": f.ended_at.map(rfc3339),
                "evidence": f.sentence,
                "data": f.evidence,
            })
        })
        .collect();
    let review_decisions = review_decisions::table
        .filter(review_decisions::org_id.eq(org))
        .filter(review_decisions::student_id.eq(student))
        .order(review_decisions::decided_at)
        .select((
            review_decisions::skill_id,
            review_decisions::kind,
            review_decisions::decision,
            review_decisions::note,
            review_decisions::decided_by,
            review_decisions::decided_at,
        ))
        .load::<(String, String, String, Option<String>, String, i64)>(conn)?
        .into_iter()
        .map(|(skill_id, kind, decision, note, by, at)| {
            serde_json::json!({"skill_id": skill_id, "kind": kind, "decision": decision,
                "note": note, "decided_by": by, "decided_at": rfc3339(at)})
        })
        .collect();
    let detector_state = student_signals::table
        .filter(student_signals::org_id.eq(org))
        .filter(student_signals::student_id.eq(student))
        .select(student_signals::state)
        .first::<String>(conn)
        .optional()?
        .map(|state| serde_json::from_str(&state).unwrap_or(serde_json::Value::String(state)));
    let weekly_activity = report_activity::table
        .filter(report_activity::org_id.eq(org))
        .filter(report_activity::student_id.eq(student))
        .order((report_activity::week_start, report_activity::class_id))
        .select((
            report_activity::week_start,
            report_activity::class_id,
            report_activity::events,
            report_activity::practice_ms,
        ))
        .load::<(i64, String, i64, i64)>(conn)?
        .into_iter()
        .map(|(week, class_id, events, ms)| {
            serde_json::json!({"week_start": rfc3339(week), "class_id": class_id,
                "events": events, "practice_ms": ms})
        })
        .collect();
    let prediction_tallies = student_predictions::table
        .filter(student_predictions::org_id.eq(org))
        .filter(student_predictions::student_id.eq(student))
        .order(student_predictions::bin)
        .select((
            student_predictions::bin,
            student_predictions::correct,
            student_predictions::wrong,
            student_predictions::sum_pred,
        ))
        .load::<(i32, i64, i64, f64)>(conn)?
        .into_iter()
        .map(|(bin, correct, wrong, sum_pred)| {
            serde_json::json!({"bin": bin, "correct": correct, "wrong": wrong,
                "sum_predicted": sum_pred})
        })
        .collect();
    let checkins = super::checkins::for_student(conn, org, student)?
        .into_iter()
        .map(|c| {
            serde_json::json!({
                "class_id": c.class_id,
                "skill_id": c.skill_id,
                "note": c.note,
                "checked_by": c.checked_by,
                "at": rfc3339(c.at),
            })
        })
        .collect();
    Ok(Some(StudentExport {
        checkins,
        flags,
        review_decisions,
        detector_state,
        weekly_activity,
        prediction_tallies,
        student_id: student.to_owned(),
        org: org.to_owned(),
        display_name,
        group,
        first_seen_at: rfc3339(created_at),
        enrolments,
        events,
        skill_states,
        items_seen,
        events_purged_before: purged_before(conn, org)?.map(rfc3339),
    }))
}

/// How many rows an erasure removed, per table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Erased {
    /// (table, rows deleted), in the order erased.
    #[schema(value_type = Object)]
    pub tables: Vec<(String, usize)>,
}

impl Erased {
    pub fn rows(&self, table: &str) -> usize {
        self.tables
            .iter()
            .filter(|(t, _)| t == table)
            .map(|(_, n)| n)
            .sum()
    }
}

/// THE list of per-student data: every table holding rows about one student is erased here
/// (and exported by `export_student`). Children's rows go before their parents'.
///
pub fn erase_student_rows(
    conn: &mut DbConnection,
    org: &str,
    student: &str,
) -> anyhow::Result<Erased> {
    let mut erased = Erased::default();
    // Every table keyed by (org_id, student_id); the student row last (others refer to it).
    macro_rules! erase_from {
        ($($table:ident),+) => {$(
            let n = diesel::delete(
                $table::table
                    .filter($table::org_id.eq(org))
                    .filter($table::student_id.eq(student)),
            )
            .execute(conn)?;
            erased.tables.push((stringify!($table).into(), n));
        )+};
    }
    // On SQLite the ids of the student's events are kept apart (store::event_ids).
    super::event_ids::forget_student(conn, org, student)?;
    erase_from!(
        events,
        skill_states,
        student_items,
        flags,
        student_signals,
        student_predictions,
        review_decisions,
        report_activity,
        checkins,
        enrolments,
        students
    );
    let plans = super::plans::remove_student(conn, org, student)?;
    erased.tables.push(("group_plans".into(), plans));
    Ok(erased)
}

/// Erases one student in one transaction: their rows, and their id from the audit log; then
/// records the erasure itself without the id.
pub fn erase_student(
    conn: &mut DbConnection,
    caller: &crate::auth::Caller,
    scope: &StudentScope,
) -> anyhow::Result<Erased> {
    conn.transaction(|conn| {
        // The student's ingest lock (PostgreSQL): a batch for this student being written on
        // another node finishes first, or waits and then starts a new record.
        crate::on_backend!(conn, |c| crate::store::state::StateSql::lock_students(
            c,
            scope.org(),
            &[scope.student_id()]
        ))?;
        let erased = erase_student_rows(conn, scope.org(), scope.student_id())?;
        crate::store::audit::forget_student(conn, scope.org(), scope.student_id())?;
        let detail = erased
            .tables
            .iter()
            .map(|(t, n)| format!("{t}={n}"))
            .collect::<Vec<_>>()
            .join(" ");
        crate::store::audit::record(
            conn,
            caller,
            "student.erase",
            crate::store::audit::Subject::ErasedStudent,
            Some(&detail),
        )?;
        Ok(erased)
    })
}
