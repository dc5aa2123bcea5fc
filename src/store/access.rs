//! The facts `auth::policy` decides on: does this class or student exist in the caller's
//! organisation, and does the caller teach it. Always loaded for the caller's own organisation.

use diesel::prelude::*;

use crate::auth::policy::{ClassAccess, ClassFilter, StudentAccess};
use crate::auth::{Caller, Role};
use crate::db::schema::{class_teachers, classes, enrolments, students};
use crate::db::DbConnection;

pub fn class_access(
    conn: &mut DbConnection,
    caller: &Caller,
    class_id: &str,
) -> anyhow::Result<ClassAccess> {
    let org = caller.org.as_str();
    let exists: i64 = classes::table
        .filter(classes::org_id.eq(org))
        .filter(classes::class_id.eq(class_id))
        .count()
        .get_result(conn)?;
    let taught: i64 = if caller.role == Role::Teacher {
        class_teachers::table
            .filter(class_teachers::org_id.eq(org))
            .filter(class_teachers::class_id.eq(class_id))
            .filter(class_teachers::user_id.eq(&caller.sub))
            .count()
            .get_result(conn)?
    } else {
        0
    };
    Ok(ClassAccess {
        org: org.to_owned(),
        class_id: class_id.to_owned(),
        exists: exists > 0,
        taught_by_caller: taught > 0,
    })
}

pub fn student_access(
    conn: &mut DbConnection,
    caller: &Caller,
    student_id: &str,
) -> anyhow::Result<StudentAccess> {
    let org = caller.org.as_str();
    let exists: i64 = students::table
        .filter(students::org_id.eq(org))
        .filter(students::student_id.eq(student_id))
        .count()
        .get_result(conn)?;
    let taught: i64 = if caller.role == Role::Teacher && exists > 0 {
        enrolments::table
            .inner_join(
                class_teachers::table.on(class_teachers::org_id
                    .eq(enrolments::org_id)
                    .and(class_teachers::class_id.eq(enrolments::class_id))),
            )
            .filter(enrolments::org_id.eq(org))
            .filter(enrolments::student_id.eq(student_id))
            .filter(class_teachers::user_id.eq(&caller.sub))
            .count()
            .get_result(conn)?
    } else {
        0
    };
    Ok(StudentAccess {
        org: org.to_owned(),
        student_id: student_id.to_owned(),
        exists: exists > 0,
        in_callers_class: taught > 0,
    })
}

/// A class as `GET /api/v1/classes` lists it.
#[derive(Debug, Clone)]
pub struct ClassRow {
    pub class_id: String,
    pub name: Option<String>,
    pub school_id: Option<String>,
    pub students: i64,
}

/// The classes `filter` lets the caller see, by id, with their number of enrolled students.
pub fn visible_classes(
    conn: &mut DbConnection,
    filter: &ClassFilter,
) -> anyhow::Result<Vec<ClassRow>> {
    let rows: Vec<(String, Option<String>, Option<String>)> = match filter {
        ClassFilter::All { org } => classes::table
            .filter(classes::org_id.eq(org))
            .order(classes::class_id)
            .select((classes::class_id, classes::name, classes::school_id))
            .load(conn)?,
        ClassFilter::TaughtBy { org, user_id } => classes::table
            .inner_join(
                class_teachers::table.on(class_teachers::org_id
                    .eq(classes::org_id)
                    .and(class_teachers::class_id.eq(classes::class_id))),
            )
            .filter(classes::org_id.eq(org))
            .filter(class_teachers::user_id.eq(user_id))
            .order(classes::class_id)
            .select((classes::class_id, classes::name, classes::school_id))
            .load(conn)?,
    };
    let org = match filter {
        ClassFilter::All { org } | ClassFilter::TaughtBy { org, .. } => org,
    };
    let ids: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    let counts: std::collections::HashMap<String, i64> = enrolments::table
        .filter(enrolments::org_id.eq(org))
        .filter(enrolments::class_id.eq_any(&ids))
        .group_by(enrolments::class_id)
        .select((enrolments::class_id, diesel::dsl::count_star()))
        .load::<(String, i64)>(conn)?
        .into_iter()
        .collect();
    Ok(rows
        .into_iter()
        .map(|(class_id, name, school_id)| ClassRow {
            students: counts.get(&class_id).copied().unwrap_or(0),
            class_id,
            name,
            school_id,
        })
        .collect())
}

/// Of `students`, those that `org` already has but that no class of `classes` enrols: a tool
/// limited to `classes` may not write about them (nor, by writing, enrol them in its classes).
pub fn students_outside(
    conn: &mut DbConnection,
    org: &str,
    students: &[&str],
    classes: &[String],
) -> anyhow::Result<std::collections::HashSet<String>> {
    let mut outside = std::collections::HashSet::new();
    for chunk in students.chunks(400) {
        let known: Vec<String> = students::table
            .filter(students::org_id.eq(org))
            .filter(students::student_id.eq_any(chunk))
            .select(students::student_id)
            .load(conn)?;
        if known.is_empty() {
            continue;
        }
        let enrolled: std::collections::HashSet<String> = enrolments::table
            .filter(enrolments::org_id.eq(org))
            .filter(enrolments::class_id.eq_any(classes))
            .filter(enrolments::student_id.eq_any(&known))
            .select(enrolments::student_id)
            .load::<String>(conn)?
            .into_iter()
            .collect();
        outside.extend(known.into_iter().filter(|s| !enrolled.contains(s)));
    }
    Ok(outside)
}
