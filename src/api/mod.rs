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
mod state;
mod students;

use actix_web::dev::{ServiceFactory, ServiceRequest};
use actix_web::{web, App, HttpResponse};
use utoipa::OpenApi;
use utoipa_actix_web::{AppExt, UtoipaApp};

use crate::error::ErrorBody;

pub use audit::AuditQueue;
pub use classes::{OverviewCache, OVERVIEW_FRESH};
pub use events::{BatchResult, RejectedEvent};
pub use state::AppState;

/// Every route of the service, in one place. A documented handler brings its method, path and
/// OpenAPI description with it (`#[utoipa::path]` over actix's `#[get("…")]`, `#[post("…")]`…),
/// so registering it here also puts it in the OpenAPI document (`service` takes only handlers
/// that carry a description), and nothing is documented that is not served. Only the document
/// itself (`/openapi.json`), the dashboard's files and the fallbacks are not part of the API.
///
/// The routes go on the app itself: its `service` merges the methods of one path into the
/// document, where utoipa-actix-web 0.1's `ServiceConfig::service` would keep only the last.
pub fn routes<T>(app: UtoipaApp<T>) -> UtoipaApp<T>
where
    T: ServiceFactory<ServiceRequest, Config = (), Error = actix_web::Error, InitError = ()>,
{
    app.openapi(openapi::ApiDoc::openapi())
        .service(health::healthz)
        .service(metrics::metrics)
        .service(events::post_events)
        .service(items::put_items)
        .service(auth::login)
        .service(classes::list_classes)
        .service(classes::overview)
        .service(classes::get_insights)
        .service(classes::decide_insight)
        .service(classes::get_groups)
        .service(plans::create_plan)
        .service(plans::list_plans)
        .service(plans::get_plan)
        .service(plans::patch_plan)
        .service(reviews::get_reviews)
        .service(reviews::decide_review)
        .service(students::get_student)
        .service(students::export_student)
        .service(students::erase_student)
        .service(now::get_now)
        .service(now::post_ticket)
        .service(now::get_stream)
        .service(now::post_checkins)
        .service(attention::get_attention)
        .service(attention::get_student_checkins)
        .service(admin::post_refit)
        .service(reports_model::model_health)
        .service(reports_model::start_refit)
        .service(reports_model::get_refit)
        .service(reports_model::fairness)
        .service(audit::list_audit)
        .service(reports::adoption)
        .service(reports::data_quality)
        .service(roster::put_roster)
        .openapi_service(|mut document| {
            openapi::add_guard_answers(&mut document);
            // A documented path asked with a method it does not have: 405 with `Allow` (a
            // resource without routes answers so), rather than the default service's 404.
            let other_methods: Vec<_> = document
                .paths
                .paths
                .keys()
                .map(|path| web::resource(path.as_str()))
                .collect();
            (openapi::service(&document), other_methods)
        })
        .route("/", web::get().to(dashboard::index))
        .route("/ui/{path:.*}", web::get().to(dashboard::asset))
        .default_service(web::to(not_found))
}

/// The OpenAPI document, as `routes` builds it (also checked in as `docs/openapi.json`).
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut document = routes(App::new().into_utoipa_app()).split_for_parts().1;
    openapi::add_guard_answers(&mut document);
    document
}

/// The address of the connection's peer. Forwarded headers are not trusted: a client could
/// set them to dodge the limits (behind a proxy every client shares its address).
pub fn client_ip(req: &actix_web::HttpRequest) -> String {
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

async fn not_found() -> HttpResponse {
    HttpResponse::NotFound().json(ErrorBody::new(
        "not_found",
        "there is nothing here; see /openapi.json for the API",
    ))
}
