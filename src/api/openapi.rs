//! The OpenAPI document: its own description here, its paths from the handlers' annotations as
//! `api::routes` registers them.

use actix_web::{web, HttpResponse};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// What the document says of itself; its paths and schemas come from the routes
/// (`api::routes`).
#[derive(OpenApi)]
#[openapi(
    info(title = "Huddle", description = "Practice events in; plain-language insights for teachers out."),
    modifiers(&BearerAuth),
    tags(
        (name = "ingestion", description = "Practice events from student tools"),
        (name = "auth", description = "Signing in"),
        (name = "students", description = "What Huddle knows of each student"),
        (name = "classes", description = "The classes a caller may see, and each for its teacher: overview, insights, small groups, plans"),
        (name = "reviews", description = "Uncertain calls awaiting the teacher's judgment"),
        (name = "administration", description = "For the organisation's administrators"),
        (name = "privacy", description = "Names, export and erasure of a student's data"),
        (name = "operations", description = "Health and the API description"),
        (name = "lesson", description = "During practice: who needs a person now (live), check-ins, attention"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The document as pretty JSON (also checked in as `docs/openapi.json`).
pub fn document() -> String {
    to_json(&super::openapi())
}

fn to_json(document: &utoipa::openapi::OpenApi) -> String {
    document.to_pretty_json().unwrap_or_else(|_| "{}".into())
}

/// `GET /openapi.json`, serving `document` as it was when the routes were registered.
pub(super) fn service(document: &utoipa::openapi::OpenApi) -> actix_web::Resource {
    let json = web::Data::new(to_json(document));
    web::resource("/openapi.json")
        .app_data(json)
        .route(web::get().to(serve))
}

async fn serve(json: web::Data<String>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(json.get_ref().clone())
}
