//! Reads of the derived state: a student's skills with their states, every state of an
//! organisation (tests and checks), the organisations and their students.

use std::collections::{BTreeMap, HashMap};

use diesel::prelude::*;

use crate::db::schema::{skill_states, skills, students};
use crate::db::DbConnection;
use crate::kt::SkillState;

use super::sql::StateRow;

/// The organisation's students, or only `student`.
pub(super) fn students_of(
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
