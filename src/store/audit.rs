//! The audit log: who read or changed student-level data, what and when.
//!
//! Handlers that return student-level data call [`record`] (the class overview, insights and
//! groups included); administrators list the log with `GET /api/v1/admin/audit`.

use diesel::prelude::*;

use crate::auth::Caller;
use crate::db::schema::audit_log;
use crate::db::DbConnection;

/// What an entry is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subject {
    Student(String),
    Class(String),
    /// The organisation as a whole (roster uploads, organisation-wide reports).
    Organisation,
    /// A student who has since been erased: no id is kept (docs/privacy.md).
    ErasedStudent,
}

impl Subject {
    fn parts(self) -> (&'static str, Option<String>) {
        match self {
            Subject::Student(id) => ("student", Some(id)),
            Subject::Class(id) => ("class", Some(id)),
            Subject::Organisation => ("organisation", None),
            Subject::ErasedStudent => ("student", None),
        }
    }
}

/// Records that `caller` did `action` (e.g. `student.read`, `class.overview`) on `subject`.
/// `detail` must hold nothing personal (counts, options): it is kept after an erasure.
pub fn record(
    conn: &mut DbConnection,
    caller: &Caller,
    action: &str,
    subject: Subject,
    detail: Option<&str>,
) -> anyhow::Result<()> {
    let now = crate::db::to_millis(chrono::Utc::now());
    record_at(conn, caller, now, action, subject, detail)
}

/// [`record`] at a given time (ms): the demo's district has a past of teachers' page views.
pub fn record_at(
    conn: &mut DbConnection,
    caller: &Caller,
    at: i64,
    action: &str,
    subject: Subject,
    detail: Option<&str>,
) -> anyhow::Result<()> {
    let (kind, id) = subject.parts();
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::org_id.eq(&caller.org),
            audit_log::at.eq(at),
            audit_log::actor_sub.eq(&caller.sub),
            audit_log::actor_role.eq(caller.role.as_str()),
            audit_log::action.eq(action),
            audit_log::subject_kind.eq(kind),
            audit_log::subject_id.eq(id),
            audit_log::detail.eq(detail),
        ))
        .execute(conn)?;
    Ok(())
}

/// One entry as read back.
#[derive(Debug, Clone, Queryable)]
pub struct AuditEntry {
    pub id: i64,
    pub org_id: String,
    pub at: i64,
    pub actor_sub: String,
    pub actor_role: String,
    pub action: String,
    pub subject_kind: String,
    pub subject_id: Option<String>,
    pub detail: Option<String>,
}

/// Which entries to list: newest first, optionally within [from, to) (ms), about one subject,
/// before an entry id (the previous page's last), at most `limit`.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub subject_id: Option<String>,
    pub actor_sub: Option<String>,
    pub before_id: Option<i64>,
    pub limit: i64,
}

pub fn list(conn: &mut DbConnection, org: &str, q: &AuditQuery) -> anyhow::Result<Vec<AuditEntry>> {
    let mut query = audit_log::table
        .filter(audit_log::org_id.eq(org))
        .select(audit_log::all_columns)
        .order(audit_log::id.desc())
        .limit(q.limit)
        .into_boxed();
    if let Some(from) = q.from {
        query = query.filter(audit_log::at.ge(from));
    }
    if let Some(to) = q.to {
        query = query.filter(audit_log::at.lt(to));
    }
    if let Some(subject) = &q.subject_id {
        query = query.filter(audit_log::subject_id.eq(subject.clone()));
    }
    if let Some(actor) = &q.actor_sub {
        query = query.filter(audit_log::actor_sub.eq(actor.clone()));
    }
    if let Some(before) = q.before_id {
        query = query.filter(audit_log::id.lt(before));
    }
    Ok(query.load(conn)?)
}

/// After an erasure: the entries about the student keep who, what and when, but lose the id.
pub fn forget_student(
    conn: &mut DbConnection,
    org: &str,
    student_id: &str,
) -> anyhow::Result<usize> {
    Ok(diesel::update(
        audit_log::table
            .filter(audit_log::org_id.eq(org))
            .filter(audit_log::subject_kind.eq("student"))
            .filter(audit_log::subject_id.eq(student_id)),
    )
    .set(audit_log::subject_id.eq(None::<String>))
    .execute(conn)?)
}
