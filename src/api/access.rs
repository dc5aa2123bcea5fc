//! Who may read what on the teacher's pages, and the audit of student-level reads: the one
//! place the class-scoped policy and the audit log connect.

use crate::auth::{policy, Caller};
use crate::error::ApiError;

/// What a read or a decision is about (the ids are for the class-scoped policy, issue 6).
#[derive(Debug, Clone, Copy)]
#[allow(dead_code)]
pub enum Scope<'a> {
    Class(&'a str),
    Student(&'a str),
    /// The organisation's review queue, without a class.
    Org,
}

/// May the caller read (or decide on) this? // SEAM(issue 6): switch to the class-scoped
/// teacher policy (a teacher reads the classes they teach and those classes' students; the
/// organisation-wide queue stays with administrators). Today: administrators of the
/// organisation (`policy::may_read_org_data`).
pub fn authorise(caller: &Caller, _scope: Scope) -> Result<(), ApiError> {
    policy::may_read_org_data(caller)
}

/// Records that the caller read these students' records. // SEAM(issue 6): write to the
/// audit log (who, when, which students, what). Today a log line, with ids only.
pub fn audit_student_read(caller: &Caller, what: &str, students: &[String]) {
    tracing::info!(
        caller = %caller.sub,
        org = %caller.org,
        what,
        students = students.len(),
        "student-level read"
    );
}
