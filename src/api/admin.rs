//! Administration: `POST /api/v1/admin/refit`.

use actix_web::{post, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use crate::auth::{policy, Caller};
use crate::error::{ApiError, ErrorBody};
use crate::store::state::RefitSummary;

/// What a refit did.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefitResult {
    pub org: String,
    /// The skills refitted: those with enough students (50 by default).
    pub skills: Vec<RefittedSkillView>,
    /// Skills left on their current model for lack of students.
    pub skills_skipped: usize,
    /// Skills whose refit was not applied (not finite, or predicting held-out students
    /// worse than the model in use): they keep the model in use.
    pub refused: Vec<RefusedRefitView>,
    /// Students whose states were recomputed with the new models.
    pub students_recomputed: usize,
    /// Student × skill states written.
    pub states_written: usize,
    pub seconds: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RefittedSkillView {
    pub skill_id: String,
    pub students: usize,
    /// Opportunities (first attempts) the fit used.
    pub rows: usize,
    pub log_likelihood: f64,
    pub prior: f64,
    pub learn: f64,
    pub guess: f64,
    pub slip: f64,
    pub forget: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RefusedRefitView {
    pub skill_id: String,
    /// Why, in a sentence.
    pub reason: String,
    /// Held-out students the refit and the model in use were compared on (null when the
    /// refit was refused for not being finite).
    pub held_out_students: Option<usize>,
    /// Their log-likelihood under the refit and under the model in use.
    pub refit_log_likelihood: Option<f64>,
    pub current_log_likelihood: Option<f64>,
}

impl From<RefitSummary> for RefitResult {
    fn from(s: RefitSummary) -> Self {
        RefitResult {
            org: s.org,
            skills: s
                .skills
                .into_iter()
                .map(|k| RefittedSkillView {
                    skill_id: k.skill_id,
                    students: k.students,
                    rows: k.rows,
                    log_likelihood: k.log_likelihood,
                    prior: k.params.prior,
                    learn: k.params.learn,
                    guess: k.params.guess,
                    slip: k.params.slip,
                    forget: k.params.forget,
                })
                .collect(),
            skills_skipped: s.skills_skipped,
            refused: s
                .refused
                .into_iter()
                .map(|r| RefusedRefitView {
                    skill_id: r.skill_id,
                    reason: r.reason,
                    held_out_students: r.held_out.map(|h| h.students),
                    refit_log_likelihood: r.held_out.map(|h| h.candidate).filter(|x| x.is_finite()),
                    current_log_likelihood: r.held_out.map(|h| h.current).filter(|x| x.is_finite()),
                })
                .collect(),
            students_recomputed: s.students_recomputed,
            states_written: s.states_written,
            seconds: s.seconds,
        }
    }
}

/// Refit the knowledge-tracing models now.
///
/// Fits each skill of the caller's organisation that has enough students, stores the models
/// and recomputes those students' estimates. The server also does this in the background
/// (every 6 hours by default). Ingest goes on meanwhile. One refit of an organisation at a
/// time, across every node: 409 `refit_running` while another runs. Administrators only.
#[utoipa::path(tag = "administration",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The refit is done", body = RefitResult),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 409, description = "Another refit of the organisation is running", body = ErrorBody),
    ))]
#[post("/api/v1/admin/refit")]
#[tracing::instrument(skip_all, fields(org = %caller.org))]
pub async fn post_refit(
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    policy::may_administer(&caller)?;
    let db = state.db.clone();
    let (opts, signals) = (state.refit, state.signals);
    let org = caller.org;
    let summary =
        crate::db::blocking(move || crate::jobs::refit_exclusive(&db, &org, &opts, &signals))
            .await?
            .ok_or_else(|| {
                ApiError::new(
                    actix_web::http::StatusCode::CONFLICT,
                    "refit_running",
                    crate::jobs::REFIT_BUSY,
                )
            })?;
    tracing::info!(
        skills = summary.skills.len(),
        states = summary.states_written,
        seconds = summary.seconds,
        "refit on demand"
    );
    Ok(HttpResponse::Ok().json(RefitResult::from(summary)))
}
