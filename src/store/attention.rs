//! Reads for attention coverage and "did my help work?": when each student last had the
//! teacher's attention (check-ins, plans marked done, review decisions), the moments of help on
//! a skill, and the first tries around them. The rules live in `lesson::attention`/`followup`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use diesel::prelude::*;

use crate::db::schema::{enrolments, events, review_decisions};
use crate::db::DbConnection;
use crate::insights::class::{insight_key, InsightKind};
use crate::insights::{Decision, DecisionRecord, Decisions};
use crate::lesson::attention::{latest, Attention, AttentionKind};
use crate::lesson::followup::{before_after, Help, Try, LOOKBACK_MS, MAX_HELPS};
use crate::on_backend;

use super::checkins::CheckinRow;
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

/// The moments of help on a skill in a class in the [`LOOKBACK_MS`] before `now`, newest
/// first, at most [`MAX_HELPS`], each with its students' first tries on the skill around it:
/// check-ins with a skill (one per tap: the same time and skill), the class's plans marked
/// done, and insights on a skill marked done (one per decision: the same time and skill).
pub fn helps(
    conn: &mut DbConnection,
    org: &str,
    class: &str,
    plans: &[PlanRow],
    decisions: &Decisions,
    now: i64,
) -> anyhow::Result<Vec<Help>> {
    let since = now - LOOKBACK_MS;
    let checkins = super::checkins::for_class(conn, org, class, since)?;
    let found = moments(&checkins, plans, decisions.all(), since);
    with_tries(conn, org, found, None)
}

/// One student's group plans and insights marked done in the [`LOOKBACK_MS`] before `now`
/// (their check-ins have a list of their own), newest first, at most [`MAX_HELPS`], each with
/// the student's first tries on the skill around it.
pub fn student_helps(
    conn: &mut DbConnection,
    org: &str,
    student: &str,
    now: i64,
) -> anyhow::Result<Vec<Help>> {
    let since = now - LOOKBACK_MS;
    let classes: Vec<String> = enrolments::table
        .filter(enrolments::org_id.eq(org))
        .filter(enrolments::student_id.eq(student))
        .select(enrolments::class_id)
        .load(conn)?;
    let mut plans = Vec::new();
    for class in &classes {
        plans.extend(
            super::plans::list(conn, org, class)?
                .into_iter()
                .filter(|p| p.student_ids().iter().any(|s| s == student)),
        );
    }
    let decisions = super::reviews::decisions_of(conn, org, &[student.to_owned()])?;
    let found = moments(&[], &plans, decisions.iter(), since);
    with_tries(conn, org, found, Some(student))
}

type Moments = BTreeMap<(i64, String, AttentionKind), BTreeSet<String>>;

/// The moments of help at or after `since`, by time, skill and kind, with their students. The
/// follow-up's own insight marked done is no help.
fn moments<'a>(
    checkins: &[CheckinRow],
    plans: &[PlanRow],
    decisions: impl Iterator<Item = &'a DecisionRecord>,
    since: i64,
) -> Moments {
    let mut found = Moments::new();
    for c in checkins.iter().filter(|c| c.at >= since) {
        if let Some(skill) = &c.skill_id {
            found
                .entry((c.at, skill.clone(), AttentionKind::CheckIn))
                .or_default()
                .insert(c.student_id.clone());
        }
    }
    for p in plans.iter().filter(|p| p.done) {
        let at = p.done_at.unwrap_or(p.updated_at);
        if at >= since {
            found
                .entry((at, p.focus_skill_id.clone(), AttentionKind::GroupPlan))
                .or_default()
                .extend(p.student_ids());
        }
    }
    let own = insight_key(InsightKind::AfterHelp);
    // Only insights are marked done (reviews are confirmed or dismissed); a behaviour insight
    // records its flag's kind, the others `insight:<kind>`.
    for d in decisions.filter(|d| {
        d.decision == Decision::Done
            && d.kind != own
            && !d.skill_id.is_empty()
            && d.decided_at >= since
    }) {
        found
            .entry((d.decided_at, d.skill_id.clone(), AttentionKind::Insight))
            .or_default()
            .insert(d.student_id.clone());
    }
    found
}

/// The newest [`MAX_HELPS`] moments with their students' first tries around them (only
/// `student`'s, when given).
fn with_tries(
    conn: &mut DbConnection,
    org: &str,
    found: Moments,
    student: Option<&str>,
) -> anyhow::Result<Vec<Help>> {
    let mut out = Vec::new();
    for ((at, skill_id, kind), members) in found.into_iter().rev().take(MAX_HELPS) {
        let ids: Vec<String> = members
            .into_iter()
            .filter(|s| student.is_none_or(|only| only == s.as_str()))
            .collect();
        let tries = first_tries_of(conn, org, &ids, &skill_id)?;
        let students = ids
            .into_iter()
            .map(|s| {
                let r = before_after(tries.get(&s).map_or(&[][..], Vec::as_slice), at);
                (s, r)
            })
            .collect();
        out.push(Help {
            kind,
            at,
            skill_id,
            students,
        });
    }
    Ok(out)
}

/// Several students' first tries on a skill, each in time order.
fn first_tries_of(
    conn: &mut DbConnection,
    org: &str,
    students: &[String],
    skill: &str,
) -> anyhow::Result<HashMap<String, Vec<Try>>> {
    let mut out: HashMap<String, Vec<Try>> = HashMap::new();
    for chunk in students.chunks(500) {
        let rows: Vec<(String, i64, String)> = on_backend!(conn, |c| events::table
            .filter(events::org_id.eq(org))
            .filter(events::student_id.eq_any(chunk))
            .filter(events::skill_id.eq(skill))
            .filter(events::attempt.eq(1))
            .filter(events::outcome.ne("skipped"))
            .order((events::student_id, events::occurred_at, events::seq))
            .select((events::student_id, events::occurred_at, events::outcome))
            .load(c))?;
        for (s, at, o) in rows {
            out.entry(s).or_default().push(Try {
                at,
                correct: o == "correct",
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkin(student: &str, skill: Option<&str>, at: i64) -> CheckinRow {
        CheckinRow {
            checkin_id: format!("c-{student}-{at}"),
            class_id: "class".into(),
            student_id: student.into(),
            skill_id: skill.map(Into::into),
            note: None,
            checked_by: "t".into(),
            at,
        }
    }

    fn decision(
        student: &str,
        skill: &str,
        kind: &str,
        decision: Decision,
        at: i64,
    ) -> DecisionRecord {
        DecisionRecord {
            student_id: student.into(),
            skill_id: skill.into(),
            kind: kind.into(),
            decision,
            note: None,
            marker: 0,
            decided_by: "t".into(),
            decided_at: at,
            insight_id: None,
        }
    }

    #[test]
    fn moments_of_help_are_taps_plans_done_and_insights_done_on_a_skill() {
        let checkins = [
            checkin("a", Some("s1"), 100),
            checkin("b", Some("s1"), 100), // the same tap
            checkin("c", None, 100),       // no skill: nothing to follow up
            checkin("d", Some("s1"), 5),   // before `since`
        ];
        let plan = PlanRow {
            plan_id: "p".into(),
            class_id: "class".into(),
            focus_skill_id: "s2".into(),
            students: r#"["e","f"]"#.into(),
            note: None,
            source_group: None,
            done: true,
            done_at: Some(200),
            created_by: "t".into(),
            created_at: 50,
            updated_at: 200,
        };
        let open = PlanRow {
            done: false,
            done_at: None,
            plan_id: "q".into(),
            ..plan.clone()
        };
        let decisions = [
            decision("g", "s3", "insight:struggling_skill", Decision::Done, 300),
            decision("h", "s3", "flag:wheel_spinning", Decision::Done, 300),
            decision(
                "i",
                "s3",
                "insight:struggling_skill",
                Decision::Dismiss,
                300,
            ),
            decision("j", "s3", "insight:after_help", Decision::Done, 400),
            decision("k", "", "insight:behaviour", Decision::Done, 400),
        ];
        let found = moments(&checkins, &[plan, open], decisions.iter(), 10);
        let got: Vec<(i64, &str, AttentionKind, Vec<&str>)> = found
            .iter()
            .map(|((at, skill, kind), who)| {
                (
                    *at,
                    skill.as_str(),
                    *kind,
                    who.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (100, "s1", AttentionKind::CheckIn, vec!["a", "b"]),
                (200, "s2", AttentionKind::GroupPlan, vec!["e", "f"]),
                (300, "s3", AttentionKind::Insight, vec!["g", "h"]),
            ]
        );
    }
}
