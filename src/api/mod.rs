//! The HTTP layer: routes and thin handlers (extract, authorise, call, answer).

mod access;
mod admin;
mod classes;
mod dashboard;
mod events;
mod health;
pub mod openapi;
mod params;
mod plans;
mod reviews;
mod students;

use actix_web::{web, HttpResponse};

use crate::error::ErrorBody;

pub use classes::{OverviewCache, OVERVIEW_FRESH};
pub use events::{BatchResult, RejectedEvent};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/openapi.json", web::get().to(openapi::serve))
        .route("/api/v1/events", web::post().to(events::post_events))
        .route(
            "/api/v1/students/{student_id}",
            web::get().to(students::get_student),
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
        .route("/", web::get().to(dashboard::index))
        .default_service(web::to(not_found));
}

async fn not_found() -> HttpResponse {
    HttpResponse::NotFound().json(ErrorBody::new(
        "not_found",
        "there is nothing here; see /openapi.json for the API",
    ))
}
