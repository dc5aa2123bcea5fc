//! Administrators' model reports: `GET /api/v1/admin/model-health` (with refit jobs under
//! it) and `GET /api/v1/admin/fairness`. Both answer JSON, or CSV with `?format=csv` or
//! `Accept: text/csv` (one table per `?section=`).

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::admin::RefitResult;
use super::params::{Id, Query, QueryParams, Whole};
use super::report_params::{FairnessSection, ModelHealthSection, ReportFormat};
use super::AppState;
use crate::auth::{policy, Caller};
use crate::error::{ApiError, ErrorBody};
use crate::reports::fairness::{assess, Fairness, FairnessRule};
use crate::reports::model_health::{
    skill_health, summarise, Accuracy, DriftRule, HealthSummary, SkillHealth, SkillInput,
};
use crate::store::predictions::day_of;
use crate::store::refit_jobs::{self, JobRow, Started};

/// The model-health report.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelHealthReport {
    pub generated_at: chrono::DateTime<Utc>,
    /// The last day the report covers (UTC).
    pub as_of: NaiveDate,
    /// The first day of the recent window the drift rule looks at.
    pub window_from: NaiveDate,
    pub rule: DriftRule,
    pub summary: HealthSummary,
    pub skills: Vec<SkillHealth>,
    /// The latest refit job started from here, if any.
    pub refit: Option<RefitJobView>,
}

/// A refit job: status, progress and, once done, its result.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefitJobView {
    pub job_id: String,
    /// `queued`, `running`, `done` or `failed`.
    pub status: String,
    /// `queued`, `gathering` (reading the answers), `fitting`, `recomputing` (students'
    /// estimates with the new models), `done`.
    pub phase: String,
    pub skills_done: i32,
    pub skills_total: i32,
    pub students_done: i32,
    pub students_total: i32,
    pub created_at: chrono::DateTime<Utc>,
    pub updated_at: chrono::DateTime<Utc>,
    pub finished_at: Option<chrono::DateTime<Utc>>,
    /// What the refit did, once done.
    pub result: Option<RefitResult>,
    /// Why it failed.
    pub error: Option<String>,
}

impl From<JobRow> for RefitJobView {
    fn from(j: JobRow) -> Self {
        let result = j.summary().map(RefitResult::from);
        RefitJobView {
            job_id: j.job_id,
            status: j.status,
            phase: j.phase,
            skills_done: j.skills_done,
            skills_total: j.skills_total,
            students_done: j.students_done,
            students_total: j.students_total,
            created_at: crate::db::from_millis(j.created_at),
            updated_at: crate::db::from_millis(j.updated_at),
            finished_at: j.finished_at.map(crate::db::from_millis),
            result,
            error: j.error,
        }
    }
}

/// A CSV table answered as `text/csv; charset=utf-8`.
fn csv_response(name: &str, header: &[&str], rows: Vec<Vec<String>>) -> HttpResponse {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut ok = w.write_record(header).is_ok();
    for r in rows {
        let cells: Vec<_> = r.iter().map(|c| crate::reports::csv::defuse(c)).collect();
        ok &= w.write_record(cells.iter().map(|c| c.as_bytes())).is_ok();
    }
    let body = w.into_inner().unwrap_or_default();
    if !ok {
        tracing::error!("a CSV row could not be written");
    }
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}.csv\""),
        ))
        .body(body)
}

fn num(x: Option<f64>) -> String {
    x.map_or_else(String::new, |v| format!("{v:.4}"))
}

fn acc_cells(a: Option<&Accuracy>) -> Vec<String> {
    vec![
        a.map_or_else(String::new, |a| a.answers.to_string()),
        num(a.and_then(|a| a.auc)),
        num(a.map(|a| a.rmse)),
        num(a.map(|a| a.ece)),
        num(a.map(|a| a.mean_predicted)),
        num(a.map(|a| a.observed)),
    ]
}

const ACC_COLUMNS: [&str; 6] = [
    "answers",
    "auc",
    "rmse",
    "ece",
    "mean_predicted",
    "observed",
];

/// The query of the model-health report.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ModelHealthParams {
    /// Last day covered, YYYY-MM-DD (default today, UTC)
    as_of: Option<String>,
    /// Weeks of history, 1 to 52 (default 8)
    #[param(value_type = Option<u32>, minimum = 1, maximum = 52)]
    weeks: Option<Whole<1, 52>>,
    /// json (default) or csv
    #[param(inline, value_type = Option<ReportFormat>)]
    format: Option<String>,
    /// CSV table: skills (default) or weeks
    #[param(inline, value_type = Option<ModelHealthSection>)]
    section: Option<String>,
}

impl QueryParams for ModelHealthParams {}

/// The query of the fairness report.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FairnessParams {
    /// json (default) or csv
    #[param(inline, value_type = Option<ReportFormat>)]
    format: Option<String>,
    /// CSV table: groups (default), flags or warnings
    #[param(inline, value_type = Option<FairnessSection>)]
    section: Option<String>,
}

impl QueryParams for FairnessParams {}

/// `as_of` (a date, default today) and `weeks` (1–52, default 8).
fn report_days(q: &ModelHealthParams) -> Result<(NaiveDate, usize), ApiError> {
    let as_of = match &q.as_of {
        None => Utc::now().date_naive(),
        Some(v) => crate::reports::parse_date(v).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_query",
                "as_of must be a date (YYYY-MM-DD) from 1970 to 9999",
            )
        })?,
    };
    let weeks = q.weeks.map_or(8, Whole::get);
    Ok((as_of, weeks))
}

/// Is the model still predicting well, skill by skill?
///
/// Per skill: its parameters and when they were fitted, its accuracy at fit time (AUC, RMSE,
/// calibration error), the current model's accuracy over the recent window (7 days up to
/// `as_of`), week by week accuracy, and a verdict: `ok`, `drifting` ("drifting: refit
/// recommended") or `too_little_data`. The rule is in `rule` and in docs/reports.md. Also the
/// latest refit job started from here. `?format=csv` (or `Accept: text/csv`) gives a table:
/// `section=skills` (default) or `section=weeks`. Administrators only.
#[utoipa::path(tag = "administration",
    params(ModelHealthParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The report (JSON, or CSV when asked)",
            content((ModelHealthReport = "application/json"), (String = "text/csv"))),
        (status = 400, description = "A bad query parameter", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
    ))]
#[get("/api/v1/admin/model-health")]
#[tracing::instrument(skip_all, fields(org = %caller.org))]
pub async fn model_health(
    caller: Caller,
    state: web::Data<AppState>,
    query: Query<ModelHealthParams>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    policy::may_administer(&caller)?;
    let csv = super::reports::csv_section(
        &req,
        query.format.as_deref(),
        query.section.as_deref(),
        &["skills", "weeks"],
    )?;
    let (as_of, weeks) = report_days(&query)?;
    let rule = DriftRule::default();
    let to = day_of(
        as_of
            .and_time(chrono::NaiveTime::MIN)
            .and_utc()
            .timestamp_millis(),
    );
    let from = to - 7 * weeks as i32 + 1;
    let window_from = to - rule.window_days as i32 + 1;
    let org = caller.org.clone();
    let (models, bins, job) = state
        .db
        .read(move |conn| {
            let models = crate::store::reports_model::skills_with_models(conn, &org)?;
            let bins = crate::store::predictions::skill_bins(conn, &org, from, window_from, to)?;
            let job = refit_jobs::latest(conn, &org)?;
            Ok((models, bins, job))
        })
        .await?;
    let week_starts: Vec<NaiveDate> = (0..weeks)
        .map(|w| as_of - Duration::days(7 * (weeks - w) as i64 - 1))
        .collect();
    let skills: Vec<SkillHealth> = models
        .into_iter()
        .map(|m| {
            let b = bins.get(&m.skill_id);
            let input = SkillInput {
                params: m.model.as_ref().map(|x| x.params).unwrap_or_default(),
                fitted_at: m.fitted_at,
                students: m.students,
                rows: m.rows,
                fit: m.accuracy,
                weeks: b.map(|b| b.weeks.clone()).unwrap_or_default(),
                window: b.map(|b| b.window.clone()).unwrap_or_default(),
                skill_id: m.skill_id,
                name: m.name,
            };
            skill_health(&input, &rule, &week_starts)
        })
        .collect();
    if let Some(section) = csv {
        return Ok(model_health_csv(section, &skills));
    }
    Ok(HttpResponse::Ok().json(ModelHealthReport {
        generated_at: Utc::now(),
        as_of,
        window_from: as_of - Duration::days(i64::from(rule.window_days) - 1),
        rule,
        summary: summarise(&skills),
        skills,
        refit: job.map(RefitJobView::from),
    }))
}

fn model_health_csv(section: &str, skills: &[SkillHealth]) -> HttpResponse {
    if section == "weeks" {
        let mut header = vec!["skill_id", "week_start"];
        header.extend(ACC_COLUMNS);
        let rows = skills
            .iter()
            .flat_map(|s| {
                s.weeks.iter().map(|w| {
                    let mut r = vec![s.skill_id.clone(), w.week_start.to_string()];
                    r.extend(acc_cells(w.accuracy.as_ref()));
                    r
                })
            })
            .collect();
        return csv_response("model-health-weeks", &header, rows);
    }
    let mut header = vec![
        "skill_id",
        "name",
        "status",
        "fitted_at",
        "prior",
        "learn",
        "guess",
        "slip",
        "forget",
    ];
    header.extend(ACC_COLUMNS.map(|c| match c {
        "answers" => "fit_answers",
        "auc" => "fit_auc",
        "rmse" => "fit_rmse",
        "ece" => "fit_ece",
        "mean_predicted" => "fit_mean_predicted",
        _ => "fit_observed",
    }));
    header.extend(ACC_COLUMNS.map(|c| match c {
        "answers" => "recent_answers",
        "auc" => "recent_auc",
        "rmse" => "recent_rmse",
        "ece" => "recent_ece",
        "mean_predicted" => "recent_mean_predicted",
        _ => "recent_observed",
    }));
    header.push("message");
    let rows = skills
        .iter()
        .map(|s| {
            let mut r = vec![
                s.skill_id.clone(),
                s.name.clone().unwrap_or_default(),
                serde_plain(&s.status),
                s.fitted_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
                num(Some(s.params.prior)),
                num(Some(s.params.learn)),
                num(Some(s.params.guess)),
                num(Some(s.params.slip)),
                num(Some(s.params.forget)),
            ];
            r.extend(acc_cells(s.fit_accuracy.as_ref()));
            r.extend(acc_cells(s.recent.as_ref()));
            r.push(s.message.clone());
            r
        })
        .collect();
    csv_response("model-health", &header, rows)
}

/// A unit enum's serde name.
fn serde_plain<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// Start a refit in the background.
///
/// Queues a refit of the caller's organisation (the same as `POST /api/v1/admin/refit`, but
/// answered at once): 202 with the job; follow it at
/// `GET /api/v1/admin/model-health/refit/{job_id}`. One refit at a time per organisation:
/// 409 `refit_running` while one is queued or running. Administrators only.
#[utoipa::path(tag = "administration",
    security(("bearer" = [])),
    responses(
        (status = 202, description = "The refit is queued", body = RefitJobView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 409, description = "A refit is already queued or running", body = ErrorBody),
    ))]
#[post("/api/v1/admin/model-health/refit")]
#[tracing::instrument(skip_all, fields(org = %caller.org))]
pub async fn start_refit(
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    policy::may_administer(&caller)?;
    let org = caller.org.clone();
    let by = caller.sub.clone();
    let started = state
        .db
        .write(crate::db::Changes::Records, move |conn| {
            refit_jobs::create(conn, &org, &by)
        })
        .await?;
    let job = match started {
        Started::Busy(job) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "refit_running",
                format!(
                    "a refit is already {} (job {}); wait for it to finish",
                    job.status, job.job_id
                ),
            ))
        }
        Started::New(job) => job,
    };
    let (db, opts, signals, org, job_id) = (
        state.db.clone(),
        state.refit,
        state.signals,
        caller.org.clone(),
        job.job_id.clone(),
    );
    actix_web::rt::spawn(async move {
        let done =
            crate::db::blocking(move || refit_jobs::run(&db, &org, &job_id, &opts, &signals)).await;
        if let Err(e) = done {
            tracing::error!(
                error = format!("{e:#}"),
                "refit job could not record its end"
            );
        }
    });
    tracing::info!(job_id = %job.job_id, "refit job queued");
    Ok(HttpResponse::build(StatusCode::ACCEPTED).json(RefitJobView::from(job)))
}

/// A refit job's status, progress and result.
///
/// `status` is `queued`, `running`, `done` or `failed`; progress counts skills fitted and
/// students recomputed; `result` is what `POST /api/v1/admin/refit` answers. Administrators
/// of the job's organisation only (404 otherwise).
#[utoipa::path(tag = "administration",
    params(("job_id" = inline(Id), Path, description = "The job id from the POST")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The job", body = RefitJobView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 404, description = "No such job in the caller's organisation", body = ErrorBody),
    ))]
#[get("/api/v1/admin/model-health/refit/{job_id}")]
#[tracing::instrument(skip_all, fields(org = %caller.org))]
pub async fn get_refit(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    policy::may_administer(&caller)?;
    let job_id = path.into_inner();
    let org = caller.org.clone();
    let job = state
        .db
        .read(move |conn| refit_jobs::get(conn, &org, &job_id))
        .await?
        .ok_or_else(|| ApiError::not_found("there is no such refit job"))?;
    Ok(HttpResponse::Ok().json(RefitJobView::from(job)))
}

/// Does the model work equally well for every group of students?
///
/// Per roster group (`group` in `PUT /api/v1/admin/roster`): students, calibration of the
/// estimates (calibration error, mean predicted vs observed), flag rates per kind against the
/// other students, review decisions (confirmed / dismissed), and warnings when a group differs
/// from the rest by more than the margins in `rule` (docs/reports.md). Says so plainly when the
/// roster has no groups. `?format=csv`: `section=groups` (default), `flags` or `warnings`.
/// Administrators only.
#[utoipa::path(tag = "administration",
    params(FairnessParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The report (JSON, or CSV when asked)",
            content((Fairness = "application/json"), (String = "text/csv"))),
        (status = 400, description = "A bad query parameter", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
    ))]
#[get("/api/v1/admin/fairness")]
#[tracing::instrument(skip_all, fields(org = %caller.org))]
pub async fn fairness(
    caller: Caller,
    state: web::Data<AppState>,
    query: Query<FairnessParams>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    policy::may_administer(&caller)?;
    let csv = super::reports::csv_section(
        &req,
        query.format.as_deref(),
        query.section.as_deref(),
        &["groups", "flags", "warnings"],
    )?;
    let org = caller.org.clone();
    let figures = state
        .db
        .read(move |conn| crate::store::reports_model::group_figures(conn, &org))
        .await?;
    let report = assess(figures, &FairnessRule::default());
    if let Some(section) = csv {
        return Ok(fairness_csv(section, &report));
    }
    Ok(HttpResponse::Ok().json(report))
}

fn fairness_csv(section: &str, f: &Fairness) -> HttpResponse {
    let label = |g: &Option<String>| g.clone().unwrap_or_default();
    match section {
        "flags" => {
            let rows = f
                .groups
                .iter()
                .flat_map(|g| {
                    g.flag_rates.iter().map(|r| {
                        vec![
                            label(&g.group),
                            r.kind.clone(),
                            r.students.to_string(),
                            num(Some(r.rate)),
                            num(Some(r.rest_rate)),
                        ]
                    })
                })
                .collect();
            csv_response(
                "fairness-flags",
                &["group", "kind", "students", "rate", "rest_rate"],
                rows,
            )
        }
        "warnings" => {
            let rows = f
                .groups
                .iter()
                .flat_map(|g| {
                    g.warnings.iter().map(|w| {
                        vec![
                            label(&g.group),
                            w.kind.to_owned(),
                            w.flag_kind.clone().unwrap_or_default(),
                            w.message.clone(),
                        ]
                    })
                })
                .collect();
            csv_response(
                "fairness-warnings",
                &["group", "kind", "flag_kind", "message"],
                rows,
            )
        }
        _ => {
            let rows = f
                .groups
                .iter()
                .map(|g| {
                    let c = g.calibration.as_ref();
                    vec![
                        label(&g.group),
                        g.students.to_string(),
                        c.map_or_else(String::new, |a| a.answers.to_string()),
                        num(c.map(|a| a.ece)),
                        num(g.rest_ece),
                        num(c.map(|a| a.mean_predicted)),
                        num(c.map(|a| a.observed)),
                        num(g
                            .flag_rates
                            .iter()
                            .find(|r| r.kind == "any")
                            .map(|r| r.rate)),
                        g.reviews_confirmed.to_string(),
                        g.reviews_dismissed.to_string(),
                        num(g.confirmed_share),
                        serde_plain(&g.status),
                        g.message.clone(),
                    ]
                })
                .collect();
            csv_response(
                "fairness",
                &[
                    "group",
                    "students",
                    "answers",
                    "ece",
                    "rest_ece",
                    "mean_predicted",
                    "observed",
                    "any_flag_rate",
                    "reviews_confirmed",
                    "reviews_dismissed",
                    "confirmed_share",
                    "status",
                    "message",
                ],
                rows,
            )
        }
    }
}
