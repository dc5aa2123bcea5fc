//! The HTTP layer: routes and thin handlers (extract, authorise, call, answer).

mod admin;
mod dashboard;
mod events;
mod health;
pub mod openapi;
mod students;

use actix_web::{web, HttpResponse};

use crate::error::ErrorBody;

pub use events::{BatchResult, RejectedEvent};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/openapi.json", web::get().to(openapi::serve))
        .route("/api/v1/events", web::post().to(events::post_events))
        .route(
            "/api/v1/students/{student_id}",
            web::get().to(students::get_student),
        )
        .route("/api/v1/admin/refit", web::post().to(admin::post_refit))
        .route("/", web::get().to(dashboard::index))
        .route("/ui/{path:.*}", web::get().to(dashboard::asset))
        .default_service(web::to(not_found));
}

async fn not_found() -> HttpResponse {
    HttpResponse::NotFound().json(ErrorBody::new(
        "not_found",
        "there is nothing here; see /openapi.json for the API",
    ))
}
