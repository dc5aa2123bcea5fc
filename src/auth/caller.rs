use std::future::{ready, Ready};

use actix_web::{dev::Payload, web, FromRequest, HttpRequest};

use super::{Keys, Role};
use crate::error::ApiError;

/// The verified caller. A handler that takes a `Caller` cannot run without a valid token.
#[derive(Clone, Debug)]
pub struct Caller {
    pub sub: String,
    pub role: Role,
    pub org: String,
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
    })
}
