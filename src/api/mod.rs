//! The HTTP layer: routes and thin handlers (extract, authorise, call, answer).
//!
//! Every handler but the public ones (`/healthz`, `/openapi.json`, `/`, sign-in) takes a
//! [`crate::auth::Caller`], so it cannot run without a verified token; reads of a class's or a
//! student's data need a scope from [`crate::auth::policy`].

mod access;
mod admin;
mod attention;
mod audit;
mod auth;
mod classes;
mod dashboard;
mod events;
mod health;
mod items;
pub mod metrics;
mod now;
pub mod openapi;
mod params;
mod plans;
mod report_params;
mod reports;
mod reports_model;
mod reviews;
mod roster;
mod students;

use actix_web::{web, HttpResponse};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ErrorBody};

pub use audit::AuditQueue;
pub use classes::{OverviewCache, OVERVIEW_FRESH};
pub use events::{BatchResult, RejectedEvent};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/openapi.json", web::get().to(openapi::serve))
        .route("/api/v1/events", web::post().to(events::post_events))
        .route("/api/v1/items", web::put().to(items::put_items))
        .route("/api/v1/auth/login", web::post().to(auth::login))
        .route("/api/v1/classes", web::get().to(classes::list_classes))
        .route(
            "/api/v1/students/{student_id}",
            web::get().to(students::get_student),
        )
        .route(
            "/api/v1/students/{student_id}",
            web::delete().to(students::erase_student),
        )
        .route(
            "/api/v1/students/{student_id}/export",
            web::get().to(students::export_student),
        )
        .route(
            "/api/v1/classes/{class_id}/overview",
            web::get().to(classes::overview),
        )
        .route(
            "/api/v1/classes/{class_id}/insights",
            web::get().to(classes::get_insights),
        )
        .route(
            "/api/v1/classes/{class_id}/insights/{insight_id}",
            web::post().to(classes::decide_insight),
        )
        .route(
            "/api/v1/classes/{class_id}/groups",
            web::get().to(classes::get_groups),
        )
        .route(
            "/api/v1/classes/{class_id}/plans",
            web::post().to(plans::create_plan),
        )
        .route(
            "/api/v1/classes/{class_id}/plans",
            web::get().to(plans::list_plans),
        )
        .route("/api/v1/plans/{plan_id}", web::get().to(plans::get_plan))
        .route(
            "/api/v1/plans/{plan_id}",
            web::patch().to(plans::patch_plan),
        )
        .route("/api/v1/reviews", web::get().to(reviews::get_reviews))
        .route(
            "/api/v1/reviews/{review_id}",
            web::post().to(reviews::decide_review),
        )
        .route("/api/v1/admin/refit", web::post().to(admin::post_refit))
        .route(
            "/api/v1/admin/model-health",
            web::get().to(reports_model::model_health),
        )
        .route(
            "/api/v1/admin/model-health/refit",
            web::post().to(reports_model::start_refit),
        )
        .route(
            "/api/v1/admin/model-health/refit/{job_id}",
            web::get().to(reports_model::get_refit),
        )
        .route(
            "/api/v1/admin/fairness",
            web::get().to(reports_model::fairness),
        )
        .route("/api/v1/admin/audit", web::get().to(audit::list_audit))
        .route("/api/v1/admin/adoption", web::get().to(reports::adoption))
        .route(
            "/api/v1/admin/data-quality",
            web::get().to(reports::data_quality),
        )
        .route("/api/v1/admin/roster", web::put().to(roster::put_roster))
        .route(
            "/api/v1/classes/{class_id}/now",
            web::get().to(now::get_now),
        )
        .route(
            "/api/v1/classes/{class_id}/now/ticket",
            web::post().to(now::post_ticket),
        )
        .route(
            "/api/v1/classes/{class_id}/now/stream",
            web::get().to(now::get_stream),
        )
        .route(
            "/api/v1/classes/{class_id}/checkins",
            web::post().to(now::post_checkins),
        )
        .route(
            "/api/v1/classes/{class_id}/attention",
            web::get().to(attention::get_attention),
        )
        .route(
            "/api/v1/students/{student_id}/checkins",
            web::get().to(attention::get_student_checkins),
        )
        .route("/", web::get().to(dashboard::index))
        .route("/ui/{path:.*}", web::get().to(dashboard::asset))
        .route("/metrics", web::get().to(metrics::metrics))
        .default_service(web::to(not_found));
}

async fn not_found() -> HttpResponse {
    HttpResponse::NotFound().json(ErrorBody::new(
        "not_found",
        "there is nothing here; see /openapi.json for the API",
    ))
}

/// Reads a request body of at most `limit` bytes (`shown`, e.g. "16 KiB", for the message).
pub(crate) async fn read_body(
    payload: web::Payload,
    limit: usize,
    shown: &str,
) -> Result<web::Bytes, ApiError> {
    payload
        .to_bytes_limited(limit)
        .await
        .map_err(|_| {
            ApiError::too_large(
                "payload_too_large",
                format!("the body is larger than {shown}"),
            )
        })?
        .map_err(unreadable)
}

/// A body that could not be read: 408 when it did not arrive in time, else 400.
pub(crate) fn unreadable(e: actix_web::Error) -> ApiError {
    if e.as_error::<actix_web::error::PayloadError>()
        .is_some_and(crate::guard::timed_out)
    {
        crate::guard::body_timeout()
    } else {
        ApiError::bad_request(
            "unreadable_body",
            format!("the body could not be read: {e}"),
        )
    }
}

/// Parses a JSON body: 400 when it is not JSON, 422 when it is JSON of the wrong shape. The
/// messages give the position only, never serde's text, which can quote a value (a password,
/// a name) into the answer and the log.
pub(crate) fn parse_json<T: DeserializeOwned>(body: &[u8], shape: &str) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => ApiError::unprocessable(
            "invalid_body",
            format!(
                "the body must look like {shape} (line {}, column {})",
                e.line(),
                e.column()
            ),
        ),
        _ => ApiError::bad_request(
            "malformed_json",
            format!(
                "the body is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ),
        ),
    })
}

/// `?anonymise=true`: names replaced by stable labels, for projecting on a classroom screen.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
pub struct NamesQuery {
    /// Show stable labels ("Student K7Q") instead of names.
    #[serde(default)]
    pub anonymise: bool,
}
