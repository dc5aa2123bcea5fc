use std::future::{ready, Ready};

use actix_web::{dev::Payload, web, FromRequest, HttpRequest};

use super::{Keys, Role};
use crate::error::ApiError;

/// The verified caller. A handler that takes a `Caller` cannot run without a valid token.
#[derive(Clone, Debug)]
pub struct Caller {
    /// A user's id (teachers, administrators) or a tool's name.
    pub sub: String,
    pub role: Role,
    pub org: String,
    /// For a tool token limited to some classes: those classes.
    pub classes: Option<Vec<String>>,
}

impl Caller {
    /// May this caller's token write events of `class_id`? (Only tool tokens carry a list.)
    pub fn class_allowed(&self, class_id: &str) -> bool {
        self.classes
            .as_ref()
            .is_none_or(|list| list.iter().any(|c| c == class_id))
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req))
    }
}

fn authenticate(req: &HttpRequest) -> Result<Caller, ApiError> {
    let keys = req
        .app_data::<web::Data<Keys>>()
        .ok_or_else(|| anyhow::anyhow!("the signing keys are not registered"))?;
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .ok_or_else(|| {
            ApiError::unauthorized(
                "missing_token",
                "this needs a token: send Authorization: Bearer <token>",
            )
        })?;
    let token = header
        .to_str()
        .ok()
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::unauthorized(
                "invalid_token",
                "the Authorization header must read: Bearer <token>",
            )
        })?;
    let claims = keys
        .verify(token)
        .map_err(|e| ApiError::unauthorized(e.code(), e.to_string()))?;
    Ok(Caller {
        sub: claims.sub,
        role: claims.role,
        org: claims.org,
        classes: claims.classes,
    })
}
