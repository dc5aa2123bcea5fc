//! Reads for attention coverage and "did my help work?": when each student last had the
//! teacher's attention (check-ins, plans marked done, review decisions) and the first tries
//! on a skill around a moment of help. The rules live in `lesson::attention`/`followup`.

use std::collections::HashMap;

use diesel::prelude::*;

use crate::db::schema::{events, review_decisions};
use crate::db::DbConnection;
use crate::lesson::attention::{latest, Attention, AttentionKind};
use crate::lesson::followup::Try;
use crate::on_backend;

use super::plans::PlanRow;

/// Each student's latest attention among `students`, with the class's plans marked done.
pub fn last_attention(
    conn: &mut DbConnection,
    org: &str,
    students: &[String],
    plans: &[PlanRow],
) -> anyhow::Result<HashMap<String, Attention>> {
    let mut out: HashMap<String, Attention> = HashMap::new();
    let mut offer = |student: &str, at: i64, kind: AttentionKind| {
        let a = Some(Attention { at, kind });
        let next = latest(out.get(student).copied(), a);
        if let Some(n) = next {
            out.insert(student.to_owned(), n);
        }
    };
    for (s, at) in super::checkins::latest_for_students(conn, org, students)? {
        offer(&s, at, AttentionKind::CheckIn);
    }
    for chunk in students.chunks(500) {
        let rows: Vec<(String, Option<i64>)> = review_decisions::table
            .filter(review_decisions::org_id.eq(org))
            .filter(review_decisions::student_id.eq_any(chunk))
            .group_by(review_decisions::student_id)
            .select((
                review_decisions::student_id,
                diesel::dsl::max(review_decisions::decided_at),
            ))
            .load(conn)?;
        for (s, at) in rows {
            if let Some(at) = at {
                offer(&s, at, AttentionKind::Review);
            }
        }
    }
    for p in plans.iter().filter(|p| p.done) {
        let at = p.done_at.unwrap_or(p.updated_at);
        for s in p.student_ids() {
            if students.binary_search(&s).is_ok() {
                offer(&s, at, AttentionKind::GroupPlan);
            }
        }
    }
    Ok(out)
}

/// One student's first tries on a skill, in time order.
pub fn first_tries(
    conn: &mut DbConnection,
    org: &str,
    student: &str,
    skill: &str,
) -> anyhow::Result<Vec<Try>> {
    let rows: Vec<(i64, String)> = on_backend!(conn, |c| events::table
        .filter(events::org_id.eq(org))
        .filter(events::student_id.eq(student))
        .filter(events::skill_id.eq(skill))
        .filter(events::attempt.eq(1))
        .filter(events::outcome.ne("skipped"))
        .order((events::occurred_at, events::seq))
        .select((events::occurred_at, events::outcome))
        .load(c))?;
    Ok(rows
        .into_iter()
        .map(|(at, o)| Try {
            at,
            correct: o == "correct",
        })
        .collect())
}
