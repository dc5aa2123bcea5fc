//! Teachers' decisions on review items and insights: appended, never updated, so every
//! decision keeps who and when. The current decision of a key is its latest row.

use diesel::prelude::*;

use crate::db::schema::{review_decisions, skill_states};
use crate::db::DbConnection;
use crate::insights::{Decision, DecisionRecord};
use crate::kt::SkillState;

type Row = (
    String,
    String,
    String,
    String,
    Option<String>,
    i64,
    String,
    i64,
    Option<String>,
);

fn record(r: Row) -> Option<DecisionRecord> {
    let (student_id, skill_id, kind, decision, note, marker, decided_by, decided_at, insight_id) =
        r;
    Some(DecisionRecord {
        student_id,
        skill_id,
        kind,
        decision: Decision::parse(&decision)?,
        note,
        marker,
        decided_by,
        decided_at,
        insight_id,
    })
}

/// The decisions on these students, oldest first.
pub fn decisions_of(
    conn: &mut DbConnection,
    org: &str,
    students: &[String],
) -> anyhow::Result<Vec<DecisionRecord>> {
    let mut out = Vec::new();
    for chunk in students.chunks(500) {
        let rows: Vec<Row> = review_decisions::table
            .filter(review_decisions::org_id.eq(org))
            .filter(review_decisions::student_id.eq_any(chunk))
            .order((review_decisions::decided_at, review_decisions::decision_id))
            .select((
                review_decisions::student_id,
                review_decisions::skill_id,
                review_decisions::kind,
                review_decisions::decision,
                review_decisions::note,
                review_decisions::evidence_marker,
                review_decisions::decided_by,
                review_decisions::decided_at,
                review_decisions::insight_id,
            ))
            .load(conn)?;
        out.extend(rows.into_iter().filter_map(record));
    }
    Ok(out)
}

/// Appends a decision.
pub fn record_decision(
    conn: &mut DbConnection,
    org: &str,
    d: &DecisionRecord,
) -> anyhow::Result<()> {
    diesel::insert_into(review_decisions::table)
        .values((
            review_decisions::decision_id.eq(uuid::Uuid::new_v4().to_string()),
            review_decisions::org_id.eq(org),
            review_decisions::student_id.eq(&d.student_id),
            review_decisions::skill_id.eq(&d.skill_id),
            review_decisions::kind.eq(&d.kind),
            review_decisions::decision.eq(d.decision.as_str()),
            review_decisions::note.eq(&d.note),
            review_decisions::evidence_marker.eq(d.marker),
            review_decisions::decided_by.eq(&d.decided_by),
            review_decisions::decided_at.eq(d.decided_at),
            review_decisions::insight_id.eq(&d.insight_id),
        ))
        .execute(conn)?;
    Ok(())
}

/// The evidence marker of a student × skill now: its opportunities; None without a state.
pub fn estimate_marker(
    conn: &mut DbConnection,
    org: &str,
    student: &str,
    skill: &str,
) -> anyhow::Result<Option<i64>> {
    let json: Option<String> = skill_states::table
        .filter(skill_states::org_id.eq(org))
        .filter(skill_states::student_id.eq(student))
        .filter(skill_states::skill_id.eq(skill))
        .select(skill_states::state)
        .first(conn)
        .optional()?;
    Ok(json
        .and_then(|j| serde_json::from_str::<SkillState>(&j).ok())
        .map(|s| i64::from(s.opportunities)))
}

/// Appends several decisions in one transaction.
pub fn record_decisions(
    conn: &mut DbConnection,
    org: &str,
    records: &[DecisionRecord],
) -> anyhow::Result<()> {
    conn.transaction(|conn| {
        for r in records {
            record_decision(conn, org, r)?;
        }
        Ok(())
    })
}
