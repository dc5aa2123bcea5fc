//! Every "may this caller do that?" answered in one place, and tested here.
//!
//! Reads of student-level data need a scope: a [`ClassScope`] or [`StudentScope`] can only be
//! made here, from the caller and the access facts `store::access` loads, and the store's reads
//! of a class's or a student's data take one. A handler therefore cannot read a class or a
//! student without having asked this module first.

use super::{Caller, Role};
use crate::error::ApiError;

/// Tools write their organisation's events; administrators may too (imports, repairs).
pub fn may_write_events(caller: &Caller) -> Result<(), ApiError> {
    match caller.role {
        Role::Tool | Role::Admin => Ok(()),
        Role::Teacher => Err(ApiError::forbidden(
            "teachers cannot send practice events; use a tool token",
        )),
    }
}

/// Tools describe their items (prompts and answers); administrators too, and theirs stand
/// (`items::Describer::may_replace`).
pub fn may_describe_items(caller: &Caller) -> Result<(), ApiError> {
    match caller.role {
        Role::Tool | Role::Admin => Ok(()),
        Role::Teacher => Err(ApiError::forbidden(
            "teachers cannot describe items; use a tool or administrator token",
        )),
    }
}

/// Reading organisation-wide student data (reports across classes): administrators only.
pub fn may_read_org_data(caller: &Caller) -> Result<(), ApiError> {
    match caller.role {
        Role::Admin => Ok(()),
        Role::Teacher => Err(ApiError::forbidden(
            "only an administrator may read the whole organisation's data",
        )),
        Role::Tool => Err(tool_cannot_read()),
    }
}

/// Administration of the organisation (refitting the models, the audit log, rosters, export
/// and erasure): administrators only.
pub fn may_administer(caller: &Caller) -> Result<(), ApiError> {
    match caller.role {
        Role::Admin => Ok(()),
        Role::Teacher | Role::Tool => Err(ApiError::forbidden(
            "only an administrator of the organisation may do this",
        )),
    }
}

fn tool_cannot_read() -> ApiError {
    ApiError::forbidden("tool tokens send events; they cannot read students' data")
}

/// What is known about one class, for the caller (loaded by `store::access::class_access`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassAccess {
    pub org: String,
    pub class_id: String,
    /// The class exists in `org`.
    pub exists: bool,
    /// The caller is one of the class's teachers.
    pub taught_by_caller: bool,
}

/// What is known about one student, for the caller (loaded by `store::access::student_access`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StudentAccess {
    pub org: String,
    pub student_id: String,
    /// The student exists in `org`.
    pub exists: bool,
    /// The student is enrolled in a class the caller teaches.
    pub in_callers_class: bool,
}

/// Permission to read one class's student-level data. Made only by [`may_read_class`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassScope {
    org: String,
    class_id: String,
}

impl ClassScope {
    pub fn org(&self) -> &str {
        &self.org
    }
    pub fn class_id(&self) -> &str {
        &self.class_id
    }
}

/// Permission to read (or, from [`may_manage_student`], export and erase) one student's data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StudentScope {
    org: String,
    student_id: String,
}

impl StudentScope {
    pub fn org(&self) -> &str {
        &self.org
    }
    pub fn student_id(&self) -> &str {
        &self.student_id
    }
}

/// Which classes a caller may list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClassFilter {
    /// Every class of the organisation (administrators).
    All { org: String },
    /// The classes this user teaches.
    TaughtBy { org: String, user_id: String },
}

pub fn may_list_classes(caller: &Caller) -> Result<ClassFilter, ApiError> {
    match caller.role {
        Role::Admin => Ok(ClassFilter::All {
            org: caller.org.clone(),
        }),
        Role::Teacher => Ok(ClassFilter::TaughtBy {
            org: caller.org.clone(),
            user_id: caller.sub.clone(),
        }),
        Role::Tool => Err(tool_cannot_read()),
    }
}

/// A teacher reads the classes they teach; an administrator any class of their organisation.
/// A teacher asking for a class they don't teach gets 403 whether or not it exists, so class
/// ids cannot be probed; an administrator gets 404 for a class that does not exist.
pub fn may_read_class(caller: &Caller, access: &ClassAccess) -> Result<ClassScope, ApiError> {
    let scope = ClassScope {
        org: access.org.clone(),
        class_id: access.class_id.clone(),
    };
    if access.org != caller.org {
        return Err(other_org());
    }
    match caller.role {
        Role::Admin if access.exists => Ok(scope),
        Role::Admin => Err(ApiError::not_found(
            "no class with this id in your organisation",
        )),
        Role::Teacher if access.exists && access.taught_by_caller => Ok(scope),
        Role::Teacher => Err(ApiError::forbidden(
            "you can only see the classes you teach",
        )),
        Role::Tool => Err(tool_cannot_read()),
    }
}

/// A teacher reads the students of the classes they teach; an administrator any student of
/// their organisation (404 when there is none; a teacher gets 403 either way).
pub fn may_read_student(caller: &Caller, access: &StudentAccess) -> Result<StudentScope, ApiError> {
    if access.org != caller.org {
        return Err(other_org());
    }
    let scope = StudentScope {
        org: access.org.clone(),
        student_id: access.student_id.clone(),
    };
    match caller.role {
        Role::Admin if access.exists => Ok(scope),
        Role::Admin => Err(no_student()),
        Role::Teacher if access.exists && access.in_callers_class => Ok(scope),
        Role::Teacher => Err(ApiError::forbidden(
            "you can only see the students of the classes you teach",
        )),
        Role::Tool => Err(tool_cannot_read()),
    }
}

/// Export and erasure of a student's data: administrators of the student's organisation.
pub fn may_manage_student(
    caller: &Caller,
    access: &StudentAccess,
) -> Result<StudentScope, ApiError> {
    may_administer(caller)?;
    may_read_student(caller, access)
}

fn no_student() -> ApiError {
    ApiError::not_found("no student with this id in your organisation")
}

// The store loads access facts with the caller's own org, so this is a second line of defence.
fn other_org() -> ApiError {
    ApiError::forbidden("this belongs to another organisation")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(role: Role) -> Caller {
        Caller {
            sub: "u1".into(),
            role,
            org: "o".into(),
            classes: None,
        }
    }

    fn class(exists: bool, taught: bool) -> ClassAccess {
        ClassAccess {
            org: "o".into(),
            class_id: "c".into(),
            exists,
            taught_by_caller: taught,
        }
    }

    fn student(exists: bool, taught: bool) -> StudentAccess {
        StudentAccess {
            org: "o".into(),
            student_id: "s".into(),
            exists,
            in_callers_class: taught,
        }
    }

    fn status<T>(r: Result<T, ApiError>) -> u16 {
        match r {
            Ok(_) => 200,
            Err(e) => actix_web::ResponseError::status_code(&e).as_u16(),
        }
    }

    #[test]
    fn only_tools_and_admins_write_events() {
        assert!(may_write_events(&caller(Role::Tool)).is_ok());
        assert!(may_describe_items(&caller(Role::Tool)).is_ok());
        assert!(may_describe_items(&caller(Role::Admin)).is_ok());
        assert!(may_describe_items(&caller(Role::Teacher)).is_err());
        assert!(may_write_events(&caller(Role::Admin)).is_ok());
        assert!(may_write_events(&caller(Role::Teacher)).is_err());
    }

    #[test]
    fn only_admins_read_org_data_and_administer() {
        assert!(may_read_org_data(&caller(Role::Admin)).is_ok());
        assert!(may_read_org_data(&caller(Role::Teacher)).is_err());
        assert!(may_read_org_data(&caller(Role::Tool)).is_err());
        assert!(may_administer(&caller(Role::Admin)).is_ok());
        assert!(may_administer(&caller(Role::Teacher)).is_err());
        assert!(may_administer(&caller(Role::Tool)).is_err());
    }

    #[test]
    fn teachers_read_the_classes_they_teach_only() {
        let t = caller(Role::Teacher);
        assert_eq!(status(may_read_class(&t, &class(true, true))), 200);
        assert_eq!(status(may_read_class(&t, &class(true, false))), 403);
        // No existence probe: an unknown class is the same 403.
        assert_eq!(status(may_read_class(&t, &class(false, false))), 403);
        let a = caller(Role::Admin);
        assert_eq!(status(may_read_class(&a, &class(true, false))), 200);
        assert_eq!(status(may_read_class(&a, &class(false, false))), 404);
        assert_eq!(
            status(may_read_class(&caller(Role::Tool), &class(true, true))),
            403
        );
        let scope = may_read_class(&a, &class(true, false)).unwrap();
        assert_eq!((scope.org(), scope.class_id()), ("o", "c"));
    }

    #[test]
    fn teachers_read_their_students_only() {
        let t = caller(Role::Teacher);
        assert_eq!(status(may_read_student(&t, &student(true, true))), 200);
        assert_eq!(status(may_read_student(&t, &student(true, false))), 403);
        assert_eq!(status(may_read_student(&t, &student(false, false))), 403);
        let a = caller(Role::Admin);
        assert_eq!(status(may_read_student(&a, &student(true, false))), 200);
        assert_eq!(status(may_read_student(&a, &student(false, false))), 404);
        assert_eq!(
            status(may_read_student(&caller(Role::Tool), &student(true, true))),
            403
        );
    }

    #[test]
    fn only_admins_export_or_erase() {
        assert_eq!(
            status(may_manage_student(
                &caller(Role::Admin),
                &student(true, false)
            )),
            200
        );
        assert_eq!(
            status(may_manage_student(
                &caller(Role::Admin),
                &student(false, false)
            )),
            404
        );
        assert_eq!(
            status(may_manage_student(
                &caller(Role::Teacher),
                &student(true, true)
            )),
            403
        );
        assert_eq!(
            status(may_manage_student(
                &caller(Role::Tool),
                &student(true, true)
            )),
            403
        );
    }

    #[test]
    fn another_organisations_facts_are_refused() {
        let mut c = class(true, true);
        c.org = "other".into();
        assert_eq!(status(may_read_class(&caller(Role::Admin), &c)), 403);
        let mut s = student(true, true);
        s.org = "other".into();
        assert_eq!(status(may_read_student(&caller(Role::Admin), &s)), 403);
    }

    #[test]
    fn listing_classes() {
        assert_eq!(
            may_list_classes(&caller(Role::Teacher)).unwrap(),
            ClassFilter::TaughtBy {
                org: "o".into(),
                user_id: "u1".into()
            }
        );
        assert_eq!(
            may_list_classes(&caller(Role::Admin)).unwrap(),
            ClassFilter::All { org: "o".into() }
        );
        assert!(may_list_classes(&caller(Role::Tool)).is_err());
    }
}
