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

/// Adds to every operation the answers the request guard (`crate::guard`) may give before any
/// handler, where the operation does not describe that status itself: 400 `invalid_characters`
/// (a control character in the path or the query), 503 `overloaded` (too many connections or
/// requests at once, with `Retry-After`), and for operations with a body 408 `body_timeout`,
/// 413 `payload_too_large` (every body is read with a cap) and 415 (a body that is not JSON,
/// or compressed).
pub fn add_guard_answers(document: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::ParameterIn;
    for (path, item) in document.paths.paths.iter_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            let has_query = operation
                .parameters
                .iter()
                .flatten()
                .any(|p| matches!(p.parameter_in, ParameterIn::Query));
            let has_body = operation.request_body.is_some();
            let responses = &mut operation.responses.responses;
            responses.entry("400".into()).or_insert_with(|| {
                error_answer(if has_query {
                    "A bad query parameter, or a control character in the path or the query \
                     (`invalid_characters`)"
                } else {
                    "A control character in the path or the query (`invalid_characters`)"
                })
            });
            if has_body {
                responses.entry("408".into()).or_insert_with(|| {
                    error_answer("The body did not arrive in time (`body_timeout`)")
                });
                responses.entry("413".into()).or_insert_with(|| {
                    error_answer(
                        "The body is larger than the operation takes (`payload_too_large`)",
                    )
                });
                responses.entry("415".into()).or_insert_with(|| {
                    error_answer(
                        "The body is not JSON (`unsupported_media_type`), or is compressed \
                         (`unsupported_encoding`)",
                    )
                });
            }
            // `/healthz` is exempt from the caps (and describes its own 503).
            if path != "/healthz" {
                responses
                    .entry("503".into())
                    .or_insert_with(overloaded_answer);
            }
        }
    }
}

fn error_answer(description: &str) -> utoipa::openapi::RefOr<utoipa::openapi::Response> {
    error_response(description).build().into()
}

fn error_response(description: &str) -> utoipa::openapi::ResponseBuilder {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("ErrorBody")))
            .build(),
    )
}

fn overloaded_answer() -> utoipa::openapi::RefOr<utoipa::openapi::Response> {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    use utoipa::openapi::HeaderBuilder;
    error_response("Too many connections or requests at once (`overloaded`); ask again later")
        .header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(ObjectBuilder::new().schema_type(Type::Integer))
                .description(Some("Seconds to wait before asking again"))
                .build(),
        )
        .build()
        .into()
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
