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
}
