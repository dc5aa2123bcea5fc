//! `GET /api/v1/admin/adoption` and `GET /api/v1/admin/data-quality`, as JSON or CSV; and
//! the events handler's one call that counts refused events and duplicates for them.

use std::collections::HashSet;

use actix_web::http::header;
use actix_web::{get, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::IntoParams;

use super::params::{Query, QueryParams};
use super::report_params::{AdoptionSection, DataQualitySection, ReportFormat};
use super::AppState;
use crate::auth::{policy, Caller};
use crate::error::{ApiError, ErrorBody};
use crate::reports::adoption::Adoption;
use crate::reports::data_quality::DataQuality;
use crate::reports::{self, Range};

/// The query of the adoption report.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AdoptionParams {
    /// First day, YYYY-MM-DD (UTC), included. Default: the Monday 11 weeks before the week of `to` (12 whole weeks).
    from: Option<String>,
    /// Last day, YYYY-MM-DD (UTC), included. Default: today. At most 731 days after `from`.
    to: Option<String>,
    /// `json` (default) or `csv`; `Accept: text/csv` asks for CSV too.
    #[param(inline, value_type = Option<ReportFormat>)]
    format: Option<String>,
    /// With CSV, the table: `weeks` (default), `schools` or `classes`.
    #[param(inline, value_type = Option<AdoptionSection>)]
    section: Option<String>,
}

/// The query of the data-quality report.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DataQualityParams {
    /// First day, YYYY-MM-DD (UTC), included. Default: the Monday 11 weeks before the week of `to` (12 whole weeks).
    from: Option<String>,
    /// Last day, YYYY-MM-DD (UTC), included. Default: today. At most 731 days after `from`.
    to: Option<String>,
    /// `json` (default) or `csv`; `Accept: text/csv` asks for CSV too.
    #[param(inline, value_type = Option<ReportFormat>)]
    format: Option<String>,
    /// With CSV, the table: `tools` (default), `rejections` or `skills`.
    #[param(inline, value_type = Option<DataQualitySection>)]
    section: Option<String>,
}

impl QueryParams for AdoptionParams {}
impl QueryParams for DataQualityParams {}

/// The report's days: `from` and `to`, checked by `reports::Range` (`invalid_date`,
/// `invalid_range`).
fn range_of(from: Option<&str>, to: Option<&str>) -> Result<Range, ApiError> {
    Range::parse(from, to, Utc::now().date_naive())
        .map_err(|e| ApiError::bad_request(e.code, e.message))
}

/// The CSV section asked for (`?format=csv&section=…`, or `Accept: text/csv`), or `None` for
/// JSON. A `section` the report does not have is refused even with JSON, so a typo never goes
/// unnoticed.
pub(super) fn csv_section(
    req: &HttpRequest,
    format: Option<&str>,
    section: Option<&str>,
    sections: &[&'static str],
) -> Result<Option<&'static str>, ApiError> {
    let accept_csv = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|m| m.trim().starts_with("text/csv")));
    let csv = match format.map(|f| f.trim().to_ascii_lowercase()).as_deref() {
        Some("csv") => true,
        Some("json") => false,
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_format",
                "format must be json or csv",
            ))
        }
        None => accept_csv,
    };
    let section = match section {
        None => sections[0],
        Some(s) => sections
            .iter()
            .copied()
            .find(|known| *known == s.trim())
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_section",
                    format!("section must be one of: {}", sections.join(", ")),
                )
            })?,
    };
    Ok(csv.then_some(section))
}

fn csv_response(text: String, report: &str, section: &str, range: &Range) -> HttpResponse {
    let filename = format!(
        "huddle-{report}-{section}-{}-{}.csv",
        range.from.format("%Y-%m-%d"),
        range.to.format("%Y-%m-%d")
    );
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ))
        .body(text)
}

/// Adoption: who uses Huddle, how much, and whether teachers act on it.
///
/// Week by week for the organisation, and over the range per school and per class: active
/// students and teachers, events, practice minutes, the share of enrolled students practising,
/// class pages and insights viewed by their teachers, review items decided. Class figures add
/// up to their school's, schools to the totals (`consistent`); docs/reports.md says how each
/// figure is computed. CSV with `?format=csv` or `Accept: text/csv`, one table per `section`.
/// Administrators only; counts, no student-level data.
#[utoipa::path(tag = "administration",
    params(AdoptionParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The report (JSON), or one section of it (CSV)",
            content((Adoption = "application/json"), (String = "text/csv"))),
        (status = 400, description = "A bad date, range, format or section", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
    ))]
#[get("/api/v1/admin/adoption")]
#[tracing::instrument(skip_all, fields(org = %caller.org))]
pub async fn adoption(
    caller: Caller,
    state: web::Data<AppState>,
    query: Query<AdoptionParams>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    policy::may_administer(&caller)?;
    let range = range_of(query.from.as_deref(), query.to.as_deref())?;
    let section = csv_section(
        &req,
        query.format.as_deref(),
        query.section.as_deref(),
        &reports::csv::ADOPTION_SECTIONS,
    )?;
    let org = caller.org;
    let report: Adoption = state
        .db
        .read_replica(move |conn| {
            let input = crate::store::reports::adoption_input(conn, &org, &range)?;
            Ok(reports::adoption::compute(&range, &input))
        })
        .await?;
    if let Err(why) = reports::adoption::check(&report) {
        tracing::error!(why = %why, "the adoption report does not add up");
    }
    match section {
        None => Ok(HttpResponse::Ok().json(report)),
        Some(s) => {
            let text = reports::csv::adoption(&report, s)
                .ok_or_else(|| ApiError::bad_request("invalid_section", "no such section"))?
                .map_err(ApiError::Internal)?;
            Ok(csv_response(text, "adoption", s, &range))
        }
    }
}

/// Data quality: what the tools send and how clean it is.
///
/// Over the days of the range (by day of receipt): per tool, events stored, duplicates and
/// refused events (and their rates), refused events by error code, late events (received 24
/// hours or more after they occurred), future-dated events and how far ahead the device's
/// clock was; now: suspected shared accounts (flags during the range), students without a
/// class, skills with too few students to fit their model. CSV as for adoption. Administrators only.
#[utoipa::path(tag = "administration",
    params(DataQualityParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The report (JSON), or one section of it (CSV)",
            content((DataQuality = "application/json"), (String = "text/csv"))),
        (status = 400, description = "A bad date, range, format or section", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
    ))]
#[get("/api/v1/admin/data-quality")]
#[tracing::instrument(skip_all, fields(org = %caller.org))]
pub async fn data_quality(
    caller: Caller,
    state: web::Data<AppState>,
    query: Query<DataQualityParams>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    policy::may_administer(&caller)?;
    let range = range_of(query.from.as_deref(), query.to.as_deref())?;
    let section = csv_section(
        &req,
        query.format.as_deref(),
        query.section.as_deref(),
        &reports::csv::DATA_QUALITY_SECTIONS,
    )?;
    let org = caller.org;
    let min_students = state.refit.min_students;
    let report: DataQuality = state
        .db
        .read_replica(move |conn| {
            let input =
                crate::store::reports::data_quality_input(conn, &org, &range, min_students)?;
            Ok(reports::data_quality::compute(&range, &input))
        })
        .await?;
    match section {
        None => Ok(HttpResponse::Ok().json(report)),
        Some(s) => {
            let text = reports::csv::data_quality(&report, s)
                .ok_or_else(|| ApiError::bad_request("invalid_section", "no such section"))?
                .map_err(ApiError::Internal)?;
            Ok(csv_response(text, "data-quality", s, &range))
        }
    }
}

/// Counts a batch's refused events and duplicates for the data-quality report. The events are
/// committed already: a failure here is logged, and the batch is still answered.
pub(crate) async fn record_refusals(
    state: &AppState,
    org: &str,
    received_at: DateTime<Utc>,
    body: &web::Bytes,
    sent: usize,
    accepted: &HashSet<usize>,
    result: &super::BatchResult,
) {
    if accepted.len() == sent {
        return;
    }
    let rejected: Vec<(usize, &str)> = result
        .rejected
        .iter()
        .map(|r| (r.index, r.error.code.as_str()))
        .collect();
    let refusals = reports::facts::refusals(body, sent, accepted, &rejected);
    let org = org.to_owned();
    let written = state
        .db
        .write(crate::db::Changes::Records, move |conn| {
            crate::store::reports::record_refused(conn, &org, received_at, &refusals)
        })
        .await;
    if let Err(e) = written {
        tracing::error!(error = %format!("{e:#}"), "refused events could not be counted");
    }
}
