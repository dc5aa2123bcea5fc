//! Saved small-group plans: a teacher keeps a suggested group (or one of their own), edits
//! its members, marks it done. Members are a JSON array of student ids (a handful).

use diesel::prelude::*;

use crate::db::schema::group_plans;
use crate::db::DbConnection;
use crate::on_backend;

/// A stored plan.
#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = group_plans)]
pub struct PlanRow {
    pub plan_id: String,
    pub class_id: String,
    pub focus_skill_id: String,
    pub students: String,
    pub note: Option<String>,
    pub source_group: Option<String>,
    pub done: bool,
    pub done_at: Option<i64>,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl PlanRow {
    pub fn student_ids(&self) -> Vec<String> {
        serde_json::from_str(&self.students).unwrap_or_default()
    }
}

/// What a new plan holds.
pub struct NewPlan<'a> {
    pub class_id: &'a str,
    pub focus_skill_id: &'a str,
    pub students: &'a [String],
    pub note: Option<&'a str>,
    pub source_group: Option<&'a str>,
    pub created_by: &'a str,
    pub now: i64,
}

pub fn create(conn: &mut DbConnection, org: &str, p: &NewPlan) -> anyhow::Result<PlanRow> {
    let id = format!("plan-{}", uuid::Uuid::new_v4().simple());
    let students = serde_json::to_string(p.students)?;
    on_backend!(conn, |c| diesel::insert_into(group_plans::table)
        .values((
            group_plans::plan_id.eq(&id),
            group_plans::org_id.eq(org),
            group_plans::class_id.eq(p.class_id),
            group_plans::focus_skill_id.eq(p.focus_skill_id),
            group_plans::students.eq(&students),
            group_plans::note.eq(p.note),
            group_plans::source_group.eq(p.source_group),
            group_plans::done.eq(false),
            group_plans::created_by.eq(p.created_by),
            group_plans::created_at.eq(p.now),
            group_plans::updated_at.eq(p.now),
        ))
        .execute(c))?;
    get(conn, org, &id)?.ok_or_else(|| anyhow::anyhow!("the plan just saved is missing"))
}

pub fn get(conn: &mut DbConnection, org: &str, id: &str) -> anyhow::Result<Option<PlanRow>> {
    Ok(on_backend!(conn, |c| group_plans::table
        .filter(group_plans::org_id.eq(org))
        .filter(group_plans::plan_id.eq(id))
        .select(PlanRow::as_select())
        .first(c)
        .optional())?)
}

/// The class's plans, newest first.
pub fn list(conn: &mut DbConnection, org: &str, class: &str) -> anyhow::Result<Vec<PlanRow>> {
    Ok(on_backend!(conn, |c| group_plans::table
        .filter(group_plans::org_id.eq(org))
        .filter(group_plans::class_id.eq(class))
        .order((group_plans::created_at.desc(), group_plans::plan_id))
        .select(PlanRow::as_select())
        .load(c))?)
}

/// The changes of a PATCH.
#[derive(Default)]
pub struct PlanChanges {
    pub students: Option<Vec<String>>,
    pub note: Option<Option<String>>,
    pub done: Option<bool>,
}

pub fn update(
    conn: &mut DbConnection,
    org: &str,
    id: &str,
    changes: &PlanChanges,
    now: i64,
) -> anyhow::Result<Option<PlanRow>> {
    let Some(mut row) = get(conn, org, id)? else {
        return Ok(None);
    };
    if let Some(students) = &changes.students {
        row.students = serde_json::to_string(students)?;
    }
    if let Some(note) = &changes.note {
        row.note = note.clone();
    }
    if let Some(done) = changes.done {
        if done != row.done {
            row.done_at = done.then_some(now);
        }
        row.done = done;
    }
    on_backend!(conn, |c| diesel::update(
        group_plans::table
            .filter(group_plans::org_id.eq(org))
            .filter(group_plans::plan_id.eq(id))
    )
    .set((
        group_plans::students.eq(&row.students),
        group_plans::note.eq(&row.note),
        group_plans::done.eq(row.done),
        group_plans::done_at.eq(row.done_at),
        group_plans::updated_at.eq(now),
    ))
    .execute(c))?;
    get(conn, org, id)
}

/// Takes an erased student out of every plan of the organisation (a plan left empty is
/// deleted); the number of plans changed.
pub fn remove_student(conn: &mut DbConnection, org: &str, student: &str) -> anyhow::Result<usize> {
    // Members are stored as a JSON array: the quoted id finds the candidates, the parse decides.
    let pattern = format!("%{}%", serde_json::to_string(student)?);
    let rows: Vec<PlanRow> = on_backend!(conn, |c| group_plans::table
        .filter(group_plans::org_id.eq(org))
        .filter(group_plans::students.like(&pattern))
        .select(PlanRow::as_select())
        .load(c))?;
    let mut changed = 0;
    for row in rows {
        let members: Vec<String> = row
            .student_ids()
            .into_iter()
            .filter(|s| s != student)
            .collect();
        let target = group_plans::table
            .filter(group_plans::org_id.eq(org))
            .filter(group_plans::plan_id.eq(&row.plan_id));
        if members.is_empty() {
            diesel::delete(target).execute(conn)?;
        } else {
            diesel::update(target)
                .set(group_plans::students.eq(serde_json::to_string(&members)?))
                .execute(conn)?;
        }
        changed += 1;
    }
    Ok(changed)
}

/// Whether `org` knows the skill `skill_id` (a tool named it in an event).
pub fn skill_exists(conn: &mut DbConnection, org: &str, skill_id: &str) -> anyhow::Result<bool> {
    use crate::db::schema::skills;
    let n: i64 = skills::table
        .filter(skills::org_id.eq(org))
        .filter(skills::skill_id.eq(skill_id))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}
