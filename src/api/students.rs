//! `GET /api/v1/students/{student_id}`: one student's skills as the teacher's page shows them.

use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::access::{audit_student_read, authorise, Scope};
use crate::auth::Caller;
use crate::db::{from_millis, to_millis};
use crate::error::{ApiError, ErrorBody};
use crate::insights::history::Trajectory;
use crate::insights::{Cell, SkillInfo};
use crate::kt::Rules;
use crate::startup::AppState;
use crate::store;
use crate::store::history::AnswerRow;
use crate::store::state::StudentSkill;

/// Answers listed under `recent`.
const RECENT_ANSWERS: i64 = 20;

/// A student's mastery of each skill they have practised, and the behaviour flags.
#[derive(Debug, Serialize, ToSchema)]
pub struct StudentView {
    #[schema(example = "stu-0042")]
    pub student_id: String,
    /// What the pages call the student (the pseudonymous id until the roster names them).
    pub name: String,
    pub skills: Vec<SkillView>,
    /// Behaviour flags (rapid guessing, hint abuse, ...) of the last two weeks.
    pub flags: Vec<FlagView>,
    /// The estimate over time, per skill.
    pub history: HistoryView,
    /// The latest answers, newest first: the evidence behind the estimates.
    pub recent: Vec<AnswerView>,
}

/// The estimate over time per skill: the student's events replayed by the same rules as the
/// online path, one point per opportunity (the latest 100 per skill).
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryView {
    pub skills: Vec<Trajectory>,
    /// False when the student has more events than are replayed on a read (50,000).
    pub complete: bool,
}

/// One answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct AnswerView {
    #[schema(value_type = String)]
    pub occurred_at: chrono::DateTime<chrono::Utc>,
    pub skill_id: String,
    pub item_id: String,
    /// correct, incorrect or skipped.
    pub outcome: String,
    pub attempt: i32,
    pub response_ms: Option<i32>,
    pub hints_used: i32,
    pub hint_bottom_out: bool,
}

impl From<AnswerRow> for AnswerView {
    fn from(r: AnswerRow) -> Self {
        AnswerView {
            occurred_at: from_millis(r.occurred_at),
            skill_id: r.skill_id,
            item_id: r.item_id,
            outcome: r.outcome,
            attempt: r.attempt,
            response_ms: r.response_ms,
            hints_used: r.hints_used,
            hint_bottom_out: r.hint_bottom_out,
        }
    }
}

/// One skill of a student (contract: "What the reads return").
#[derive(Debug, Serialize, ToSchema)]
pub struct SkillView {
    #[schema(example = "fractions.add-unlike")]
    pub skill_id: String,
    /// The skill's name as a tool last sent it.
    pub name: Option<String>,
    #[schema(example = "fractions")]
    pub domain: String,
    /// P(the student knows the skill now), 0–1.
    #[schema(example = 0.41)]
    pub estimate: f64,
    /// The 90% range around the estimate.
    #[schema(example = 0.22)]
    pub low: f64,
    #[schema(example = 0.63)]
    pub high: f64,
    /// not_started, learning, struggling or mastered.
    #[schema(example = "struggling")]
    pub status: String,
    /// low, medium or high.
    #[schema(example = "low")]
    pub confidence: String,
    /// A person should look: low confidence, or an estimate that has not settled.
    pub needs_review: bool,
    /// First attempts at the skill's items (each item counts once).
    #[schema(example = 7)]
    pub opportunities: u32,
}

/// A behaviour flag (the behaviour-signals issue fills these).
#[derive(Debug, Serialize, ToSchema)]
pub struct FlagView {
    #[schema(example = "rapid_guessing")]
    pub kind: String,
    pub skill_id: Option<String>,
    pub since: String,
    pub evidence: String,
}

fn text<T: Serialize>(value: T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl SkillView {
    /// The same object from a class read (`store::classes`): the same kt rules decided it.
    pub fn from_cell(c: &Cell, info: &SkillInfo) -> Self {
        let e = &c.estimate;
        SkillView {
            skill_id: c.skill_id.clone(),
            name: info.name.clone(),
            domain: info.domain.clone(),
            estimate: e.estimate,
            low: e.low,
            high: e.high,
            status: text(e.status),
            confidence: text(e.confidence),
            needs_review: e.needs_review,
            opportunities: e.opportunities,
        }
    }

    fn new(s: StudentSkill, rules: &Rules) -> Self {
        let e = s.state.estimate(rules);
        SkillView {
            skill_id: s.skill_id,
            name: s.name,
            domain: s.domain,
            estimate: e.estimate,
            low: e.low,
            high: e.high,
            status: text(e.status),
            confidence: text(e.confidence),
            needs_review: e.needs_review,
            opportunities: e.opportunities,
        }
    }
}

/// One student: skills, flags, the estimate over time, recent answers.
///
/// The estimates are kept up to date as events arrive; the history replays this student's
/// events (one student's rows through an index). A student of another organisation is not
/// found.
#[utoipa::path(get, path = "/api/v1/students/{student_id}", tag = "students",
    params(("student_id" = String, Path, description = "The student's pseudonymous id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The student's skills", body = StudentView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token may not read students' data", body = ErrorBody),
        (status = 404, description = "No such student in the caller's organisation", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(org = %caller.org))]
pub async fn get_student(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let student = path.into_inner();
    authorise(&caller, Scope::Student(&student))?;
    let org = caller.org.clone();
    let id = student.clone();
    let now = to_millis(chrono::Utc::now());
    let rules = Rules::default();
    let (skills, history, flags) = state
        .db
        .read(move |conn| {
            let Some(skills) = store::state::student_skills(conn, &org, &id)? else {
                return Ok(None);
            };
            let history = store::history::student_history(conn, &org, &id, RECENT_ANSWERS, &rules)?;
            let flags = store::classes::class_flags(
                conn,
                &org,
                std::slice::from_ref(&id),
                now - store::classes::FLAGS_WINDOW_MS,
            )?;
            Ok(Some((skills, history, flags)))
        })
        .await?
        .ok_or_else(|| ApiError::not_found("no student with this id in your organisation"))?;
    audit_student_read(&caller, "student page", std::slice::from_ref(&student));
    Ok(HttpResponse::Ok().json(StudentView {
        name: store::classes::display_name(&student),
        student_id: student,
        skills: skills
            .into_iter()
            .map(|s| SkillView::new(s, &rules))
            .collect(),
        flags: flags
            .iter()
            .map(|f| FlagView {
                kind: f.kind.clone(),
                skill_id: f.skill_id.clone(),
                since: from_millis(f.since).to_rfc3339(),
                evidence: f.sentence.clone(),
            })
            .collect(),
        history: HistoryView {
            skills: history.trajectories,
            complete: history.complete,
        },
        recent: history.recent.into_iter().map(AnswerView::from).collect(),
    }))
}
