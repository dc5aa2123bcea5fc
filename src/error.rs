//! The one error type of the HTTP API: a status, a stable snake_case code and a plain sentence.
//! Internal causes are logged, never sent.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    Client {
        status: StatusCode,
        code: &'static str,
        message: String,
    },
    /// 429 (slow down) or 503 (busy): `retry_after` seconds go in the Retry-After header.
    #[error("{message}")]
    RetryLater {
        status: StatusCode,
        code: &'static str,
        message: String,
        retry_after: u64,
    },
    #[error("internal error: {0:#}")]
    Internal(anyhow::Error),
}

impl From<anyhow::Error> for ApiError {
    /// A cause of ours is a 500, except a database conflict that passes when the request is
    /// sent again: that is a 503 `database_busy` asking for it again in a second.
    fn from(cause: anyhow::Error) -> Self {
        if !transient(&cause) {
            return ApiError::Internal(cause);
        }
        tracing::warn!(
            error = format!("{cause:#}"),
            "a database conflict; retry asked"
        );
        ApiError::unavailable(
            "database_busy",
            "the database was busy with another write; send this again in a second",
            1,
        )
    }
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Client {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn too_large(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, code, message)
    }

    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    pub fn too_many(code: &'static str, message: impl Into<String>, retry_after: u64) -> Self {
        ApiError::RetryLater {
            status: StatusCode::TOO_MANY_REQUESTS,
            code,
            message: message.into(),
            retry_after,
        }
    }

    /// 503: the service is busy; the client tries again after `retry_after` seconds.
    pub fn unavailable(code: &'static str, message: impl Into<String>, retry_after: u64) -> Self {
        ApiError::RetryLater {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code,
            message: message.into(),
            retry_after,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Client { code, .. } | ApiError::RetryLater { code, .. } => code,
            ApiError::Internal(_) => "internal_error",
        }
    }
}

/// The JSON body of every error: `{"error": {"code", "message"}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, snake_case: programs match on it.
    #[schema(example = "invalid_outcome")]
    pub code: String,
    /// A plain sentence for people.
    #[schema(example = "outcome must be correct, incorrect or skipped")]
    pub message: String,
}

impl ErrorBody {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        ErrorBody {
            error: ErrorDetail {
                code: code.to_owned(),
                message: message.into(),
            },
        }
    }
}

/// A database conflict that passes if the request is sent again: another connection to the
/// SQLite file wrote while a write that had begun reading was under way ("database is locked"),
/// or PostgreSQL gave up a transaction for a serialisation failure or a deadlock.
fn transient(cause: &anyhow::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    cause.chain().any(|e| match e.downcast_ref::<Error>() {
        Some(Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _)) => true,
        Some(Error::DatabaseError(_, info)) => {
            info.message() == "database is locked" || info.message().contains("deadlock detected")
        }
        _ => false,
    })
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Client { status, .. } | ApiError::RetryLater { status, .. } => *status,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let message = match self {
            ApiError::Client { message, .. } => message.clone(),
            ApiError::RetryLater {
                status,
                message,
                retry_after,
                ..
            } => {
                return HttpResponse::build(*status)
                    .insert_header((
                        actix_web::http::header::RETRY_AFTER,
                        retry_after.to_string(),
                    ))
                    .json(ErrorBody::new(self.code(), message.clone()));
            }
            ApiError::Internal(cause) => {
                tracing::error!(error = format!("{cause:#}"), "internal error");
                "something went wrong on our side; the request can be retried".to_owned()
            }
        };
        HttpResponse::build(self.status_code()).json(ErrorBody::new(self.code(), message))
    }
}
