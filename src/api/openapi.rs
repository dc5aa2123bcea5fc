//! The OpenAPI document, generated from the handlers' annotations.

use actix_web::HttpResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Huddle", description = "Practice events in; plain-language insights for teachers out."),
    paths(
        super::health::healthz,
        super::events::post_events,
        super::items::put_items,
        super::auth::login,
        super::classes::list_classes,
        super::students::get_student,
        super::students::export_student,
        super::students::erase_student,
        super::admin::post_refit,
        super::reports_model::model_health,
        super::reports_model::start_refit,
        super::reports_model::get_refit,
        super::reports_model::fairness,
        super::audit::list_audit,
        super::reports::adoption,
        super::reports::data_quality,
        super::roster::put_roster,
        super::classes::overview,
        super::classes::get_insights,
        super::classes::decide_insight,
        super::classes::get_groups,
        super::plans::create_plan,
        super::plans::list_plans,
        super::plans::get_plan,
        super::plans::patch_plan,
        super::reviews::get_reviews,
        super::reviews::decide_review,
        super::metrics::metrics,
        super::now::get_now,
        super::now::post_ticket,
        super::now::get_stream,
        super::now::post_checkins,
        super::attention::get_attention,
        super::attention::get_student_checkins
    ),
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
    ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|_| "{}".into())
}

pub async fn serve() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document())
}
