//! `PUT /api/v1/admin/roster`: display names, classes and groups for students.

use actix_web::{put, web, HttpRequest, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use crate::auth::{policy, Caller};
use crate::config::MAX_ROSTER_BYTES;
use crate::error::{ApiError, ErrorBody};
use crate::store::audit::Subject;
use crate::store::privacy::RosterSummary;

/// A roster upload as JSON (CSV: the same columns, with a header row).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RosterUpload {
    students: Vec<RosterStudent>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RosterStudent {
    /// The pseudonymous id the tools send.
    #[schema(example = "stu-0042")]
    student_id: String,
    /// The name teachers see (at most 200 characters); empty removes it; absent keeps it.
    #[schema(example = "Maya L.")]
    display_name: Option<String>,
    /// Enrols the student in this class.
    class_id: Option<String>,
    /// A group label (for fairness reports).
    group: Option<String>,
    /// Puts `class_id` in this school (created when new); needs `class_id`.
    #[schema(example = "school-north")]
    school_id: Option<String>,
    /// The school's name, with `school_id`.
    school_name: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RosterResult {
    #[serde(flatten)]
    pub summary: RosterSummary,
}

/// Upload names, classes and groups.
///
/// Tools send pseudonymous ids; the names teachers see come only from here (or, later, from
/// a rostering import). JSON (`Content-Type: application/json`) or CSV (`text/csv`) with the
/// columns `student_id`, `display_name` (or `name`), `class_id`, `group`, `school_id`, `school_name`. All or nothing: a bad
/// line refuses the whole upload and names the line. Administrators only; audited.
#[utoipa::path(tag = "privacy",
    request_body(content = RosterUpload, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The roster is applied", body = RosterResult),
        (status = 400, description = "Not JSON or CSV", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 413, description = "Larger than 8 MiB", body = ErrorBody),
        (status = 422, description = "A line is invalid (named in the message)", body = ErrorBody),
    ))]
#[put("/api/v1/admin/roster")]
#[tracing::instrument(skip_all, fields(org = %caller.org))]
pub async fn put_roster(
    caller: Caller,
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    policy::may_administer(&caller)?;
    let csv = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/csv"));
    let body = super::params::read_body(payload, MAX_ROSTER_BYTES).await?;
    if !csv && serde_json::from_slice::<serde::de::IgnoredAny>(&body).is_err() {
        return Err(ApiError::bad_request(
            "malformed_json",
            "the body is not valid JSON (send CSV with Content-Type: text/csv)",
        ));
    }
    let entries = crate::privacy::parse_roster(&body, csv)
        .map_err(|e| ApiError::unprocessable("invalid_roster", e.0))?;
    let org = caller.org.clone();
    let who = caller.clone();
    let summary = state
        .db
        .write(crate::db::Changes::Entities, move |conn| {
            let summary = crate::store::privacy::apply_roster(conn, &org, &entries)?;
            crate::store::audit::record(conn, &who, "roster.upload", Subject::Organisation, None)?;
            Ok(summary)
        })
        .await?;
    tracing::info!(
        created = summary.students_created,
        updated = summary.students_updated,
        "roster applied"
    );
    Ok(HttpResponse::Ok().json(RosterResult { summary }))
}
