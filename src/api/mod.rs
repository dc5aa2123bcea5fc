//! The HTTP layer: routes and thin handlers (extract, authorise, call, answer).

mod dashboard;
mod events;
mod health;
pub mod openapi;

use actix_web::{web, HttpResponse};

use crate::error::ErrorBody;

pub use events::{BatchResult, RejectedEvent};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/openapi.json", web::get().to(openapi::serve))
        .route("/api/v1/events", web::post().to(events::post_events))
        .route("/", web::get().to(dashboard::index))
        .default_service(web::to(not_found));
}

async fn not_found() -> HttpResponse {
    HttpResponse::NotFound().json(ErrorBody::new(
        "not_found",
        "there is nothing here; see /openapi.json for the API",
    ))
}
