//! Every "may this caller do that?" answered in one place, and tested here.

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

/// Reading a student's data in the caller's organisation (the handler reads only
/// `caller.org`, so another organisation's data is out of reach whatever the role). For now
/// administrators only: teachers get their own classes' students with rostering and auth.
pub fn may_read_org_data(caller: &Caller) -> Result<(), ApiError> {
    match caller.role {
        Role::Admin => Ok(()),
        Role::Teacher => Err(ApiError::forbidden(
            "teachers' access to students comes with class assignments; ask an administrator",
        )),
        Role::Tool => Err(ApiError::forbidden(
            "tool tokens send events; they cannot read students' data",
        )),
    }
}

/// Administration of the organisation (refitting the models, ...): administrators only.
pub fn may_administer(caller: &Caller) -> Result<(), ApiError> {
    match caller.role {
        Role::Admin => Ok(()),
        Role::Teacher | Role::Tool => Err(ApiError::forbidden(
            "only an administrator of the organisation may do this",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(role: Role) -> Caller {
        Caller {
            sub: "x".into(),
            role,
            org: "o".into(),
        }
    }

    #[test]
    fn only_tools_and_admins_write_events() {
        assert!(may_write_events(&caller(Role::Tool)).is_ok());
        assert!(may_write_events(&caller(Role::Admin)).is_ok());
        assert!(may_write_events(&caller(Role::Teacher)).is_err());
    }

    #[test]
    fn only_admins_read_org_data_for_now() {
        assert!(may_read_org_data(&caller(Role::Admin)).is_ok());
        assert!(may_read_org_data(&caller(Role::Teacher)).is_err());
        assert!(may_read_org_data(&caller(Role::Tool)).is_err());
    }

    #[test]
    fn only_admins_administer() {
        assert!(may_administer(&caller(Role::Admin)).is_ok());
        assert!(may_administer(&caller(Role::Teacher)).is_err());
        assert!(may_administer(&caller(Role::Tool)).is_err());
    }
}
