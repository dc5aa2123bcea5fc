//! Who may read what on the teacher's pages, and the audit of student-level reads: the one
//! place the class-scoped policy (`auth::policy`) and the audit log connect for these handlers.

use super::AppState;
use crate::auth::{policy, Caller};
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::store::audit::Subject;

/// What a read or a decision is about.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    Class(&'a str),
    Student(&'a str),
    /// The organisation's review queue, without a class: administrators only.
    Org,
}

/// May the caller read (or decide on) this? A teacher reads the classes they teach and those
/// classes' students; an administrator anything of their organisation. For callers already
/// inside a database closure; the outer `Result` is a database failure.
pub fn authorise_in(
    conn: &mut DbConnection,
    caller: &Caller,
    scope: Scope,
) -> anyhow::Result<Result<(), ApiError>> {
    Ok(match scope {
        Scope::Class(class) => {
            let access = crate::store::access::class_access(conn, caller, class)?;
            policy::may_read_class(caller, &access).map(|_| ())
        }
        Scope::Student(student) => {
            let access = crate::store::access::student_access(conn, caller, student)?;
            policy::may_read_student(caller, &access).map(|_| ())
        }
        Scope::Org => policy::may_read_org_data(caller),
    })
}

/// [`authorise_in`] on a pooled connection.
pub async fn authorise(
    state: &AppState,
    caller: &Caller,
    scope: Scope<'_>,
) -> Result<(), ApiError> {
    // The closure runs on another thread: it takes the id by value.
    let (is_class, id) = match scope {
        Scope::Org => return policy::may_read_org_data(caller),
        Scope::Class(class) => (true, class.to_owned()),
        Scope::Student(student) => (false, student.to_owned()),
    };
    let who = caller.clone();
    state
        .db
        .read(move |conn| {
            let scope = if is_class {
                Scope::Class(&id)
            } else {
                Scope::Student(&id)
            };
            authorise_in(conn, &who, scope)
        })
        .await?
}

/// Records a read of student-level data in the audit log (who, when, what, which class or
/// student) before it is served: a read that cannot be accounted for is not served.
pub async fn audit_read(
    state: &AppState,
    caller: &Caller,
    action: &'static str,
    subject: Subject,
) -> Result<(), ApiError> {
    super::audit::record(state, caller, action, subject, None).await
}

/// [`audit_read`] of a page that may be anonymised (`?anonymise=true`): such reads are marked
/// `anonymised` in the entry's detail, so the log tells a projected page from a named one.
pub async fn audit_read_marked(
    state: &AppState,
    caller: &Caller,
    action: &'static str,
    subject: Subject,
    anonymised: bool,
) -> Result<(), ApiError> {
    let detail = anonymised.then_some("anonymised");
    super::audit::record(state, caller, action, subject, detail).await
}
