//! Schools and the names of classes: what a roster source knows beyond students (the demo's
//! district uses it; a OneRoster import would too).

use diesel::prelude::*;

use crate::db::schema::{classes, schools};
use crate::db::DbConnection;
use crate::on_backend;

/// Adds `school_id` to `org` with `name`, or renames it.
pub fn put_school(
    conn: &mut DbConnection,
    org: &str,
    school_id: &str,
    name: &str,
    now: i64,
) -> anyhow::Result<()> {
    crate::store::users::ensure_org(conn, org, now)?;
    on_backend!(conn, |c| diesel::insert_into(schools::table)
        .values((
            schools::org_id.eq(org),
            schools::school_id.eq(school_id),
            schools::name.eq(name),
            schools::created_at.eq(now),
        ))
        .on_conflict((schools::org_id, schools::school_id))
        .do_update()
        .set(schools::name.eq(name))
        .execute(c))?;
    Ok(())
}

/// Gives class `class_id` of `org` (created when new) a display name and a school.
pub fn put_class(
    conn: &mut DbConnection,
    org: &str,
    class_id: &str,
    name: &str,
    school_id: &str,
    now: i64,
) -> anyhow::Result<()> {
    crate::store::users::ensure_org(conn, org, now)?;
    on_backend!(conn, |c| diesel::insert_into(classes::table)
        .values((
            classes::org_id.eq(org),
            classes::class_id.eq(class_id),
            classes::school_id.eq(school_id),
            classes::name.eq(name),
            classes::created_at.eq(now),
        ))
        .on_conflict((classes::org_id, classes::class_id))
        .do_update()
        .set((classes::name.eq(name), classes::school_id.eq(school_id)))
        .execute(c))?;
    Ok(())
}
