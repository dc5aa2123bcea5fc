//! The reads of the model-health and fairness reports: a few grouped queries over maintained
//! tables (models, prediction bins, students, flags, review decisions), never over the events.

use std::collections::{BTreeMap, HashMap};

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};

use crate::db::schema::{skill_models, skills};
use crate::db::DbConnection;
use crate::kt::SkillModel;
use crate::reports::fairness::GroupFigures;
use crate::reports::model_health::Accuracy;

/// A skill of the organisation and its stored model, if any.
#[derive(Debug, Clone)]
pub struct SkillModelRow {
    pub skill_id: String,
    pub name: Option<String>,
    /// None: the skill has never been fitted and uses the default parameters.
    pub model: Option<SkillModel>,
    pub fitted_at: Option<i64>,
    pub students: i32,
    pub rows: i32,
    /// The accuracy stored when it was fitted.
    pub accuracy: Option<Accuracy>,
}

/// Every skill of the organisation, with its model, by skill id.
pub fn skills_with_models(
    conn: &mut DbConnection,
    org: &str,
) -> anyhow::Result<Vec<SkillModelRow>> {
    type ModelRow = (String, String, Option<i64>, i32, i32, Option<String>);
    let models: HashMap<String, ModelRow> = skill_models::table
        .filter(skill_models::org_id.eq(org))
        .select((
            skill_models::skill_id,
            skill_models::model,
            skill_models::fitted_at,
            skill_models::students,
            skill_models::rows,
            skill_models::accuracy,
        ))
        .load::<ModelRow>(conn)?
        .into_iter()
        .map(|r| (r.0.clone(), r))
        .collect();
    let all: Vec<(String, Option<String>)> = skills::table
        .filter(skills::org_id.eq(org))
        .order(skills::skill_id)
        .select((skills::skill_id, skills::name))
        .load(conn)?;
    Ok(all
        .into_iter()
        .map(|(skill_id, name)| match models.get(&skill_id) {
            Some((_, json, fitted_at, students, rows, accuracy)) => SkillModelRow {
                model: serde_json::from_str(json).ok(),
                fitted_at: *fitted_at,
                students: *students,
                rows: *rows,
                accuracy: accuracy
                    .as_deref()
                    .and_then(|a| serde_json::from_str(a).ok()),
                skill_id,
                name,
            },
            None => SkillModelRow {
                skill_id,
                name,
                model: None,
                fitted_at: None,
                students: 0,
                rows: 0,
                accuracy: None,
            },
        })
        .collect())
}

/// Runs a grouped query whose only bind is the organisation (`{org}` in `sql`).
fn grouped<T>(conn: &mut DbConnection, sql: &str, org: &str) -> anyhow::Result<Vec<T>>
where
    T: QueryableByName<diesel::sqlite::Sqlite> + QueryableByName<diesel::pg::Pg> + 'static,
{
    Ok(match conn {
        DbConnection::Sqlite(c) => diesel::sql_query(sql.replace("{org}", "?"))
            .bind::<Text, _>(org)
            .load(c)?,
        DbConnection::Postgresql(c) => diesel::sql_query(sql.replace("{org}", "$1"))
            .bind::<Text, _>(org)
            .load(c)?,
    })
}

#[derive(QueryableByName)]
struct Counted {
    #[diesel(sql_type = Nullable<Text>)]
    group_label: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    what: Option<String>,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Each group's students, flagged students (per kind and any), review decisions and
/// calibration bins. Groups are the students' current labels (None: no label).
pub fn group_figures(conn: &mut DbConnection, org: &str) -> anyhow::Result<Vec<GroupFigures>> {
    let mut groups: BTreeMap<Option<String>, GroupFigures> = BTreeMap::new();
    fn at(
        groups: &mut BTreeMap<Option<String>, GroupFigures>,
        g: Option<String>,
    ) -> &mut GroupFigures {
        groups
            .entry(g.clone())
            .or_insert_with(|| GroupFigures::empty(g))
    }
    let students: Vec<Counted> = grouped(
        conn,
        "SELECT group_label, CAST(NULL AS TEXT) AS what, CAST(COUNT(*) AS BIGINT) AS n \
         FROM students WHERE org_id = {org} GROUP BY group_label",
        org,
    )?;
    for r in students {
        at(&mut groups, r.group_label).students = r.n.max(0) as u64;
    }
    // Students with a flag of each kind, and with any flag, ever.
    let per_kind: Vec<Counted> = grouped(
        conn,
        "SELECT s.group_label AS group_label, f.kind AS what, \
           CAST(COUNT(DISTINCT f.student_id) AS BIGINT) AS n \
         FROM flags f JOIN students s ON s.org_id = f.org_id AND s.student_id = f.student_id \
         WHERE f.org_id = {org} GROUP BY s.group_label, f.kind",
        org,
    )?;
    for r in per_kind {
        if let Some(kind) = r.what {
            at(&mut groups, r.group_label)
                .flagged
                .insert(kind, r.n.max(0) as u64);
        }
    }
    let any: Vec<Counted> = grouped(
        conn,
        "SELECT s.group_label AS group_label, CAST(NULL AS TEXT) AS what, \
           CAST(COUNT(DISTINCT f.student_id) AS BIGINT) AS n \
         FROM flags f JOIN students s ON s.org_id = f.org_id AND s.student_id = f.student_id \
         WHERE f.org_id = {org} GROUP BY s.group_label",
        org,
    )?;
    for r in any {
        at(&mut groups, r.group_label).flagged_any = r.n.max(0) as u64;
    }
    // The current decision of each review key is its latest row (store::reviews).
    let decisions: Vec<Counted> = grouped(
        conn,
        "SELECT s.group_label AS group_label, r.decision AS what, CAST(COUNT(*) AS BIGINT) AS n \
         FROM review_decisions r \
         JOIN students s ON s.org_id = r.org_id AND s.student_id = r.student_id \
         WHERE r.org_id = {org} AND NOT EXISTS ( \
           SELECT 1 FROM review_decisions l WHERE l.org_id = r.org_id \
             AND l.student_id = r.student_id AND l.skill_id = r.skill_id AND l.kind = r.kind \
             AND (l.decided_at > r.decided_at \
               OR (l.decided_at = r.decided_at AND l.decision_id > r.decision_id))) \
         GROUP BY s.group_label, r.decision",
        org,
    )?;
    for r in decisions {
        let g = at(&mut groups, r.group_label);
        match r.what.as_deref() {
            Some("confirm") => g.confirmed += r.n.max(0) as u64,
            Some("dismiss") => g.dismissed += r.n.max(0) as u64,
            _ => {}
        }
    }
    for (label, h) in super::predictions::group_bins(conn, org)? {
        at(&mut groups, label).calibration = h;
    }
    Ok(groups.into_values().collect())
}
