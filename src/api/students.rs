//! `GET /api/v1/students/{student_id}`: one student's skills as the teacher's page shows them.

use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::{policy, Caller};
use crate::error::{ApiError, ErrorBody};
use crate::kt::Rules;
use crate::startup::AppState;
use crate::store::flags::StoredFlag;
use crate::store::state::StudentSkill;

/// A student's mastery of each skill they have practised, and the behaviour flags.
#[derive(Debug, Serialize, ToSchema)]
pub struct StudentView {
    #[schema(example = "stu-0042")]
    pub student_id: String,
    pub skills: Vec<SkillView>,
    /// Behaviour flags (rapid guessing, hint abuse, gaming, ...), those going on first, then
    /// the ended ones, newest first.
    pub flags: Vec<FlagView>,
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
    /// Of those, rapid guesses left out of the estimate (answered too fast to have been read).
    #[schema(example = 2)]
    pub excluded_rapid_guesses: u32,
}

/// A behaviour flag: what a person would notice across the room, with its evidence.
#[derive(Debug, Serialize, ToSchema)]
pub struct FlagView {
    /// rapid_guessing, hint_abuse, gaming, rushing, giving_up, idle, wheel_spinning or
    /// shared_account.
    #[schema(example = "rapid_guessing")]
    pub kind: String,
    /// The skill, for per-skill flags (wheel_spinning); null for student-wide ones.
    #[schema(example = json!(null))]
    pub skill_id: Option<String>,
    /// When the behaviour started (RFC 3339).
    #[schema(example = "2026-11-20T09:15:03.000Z")]
    pub since: String,
    /// When it stopped; null while it goes on.
    #[schema(example = "2026-11-20T09:21:40.000Z")]
    pub until: Option<String>,
    pub active: bool,
    /// The evidence as a plain sentence.
    #[schema(example = "Answered 5 questions too fast to have read them (under 1.0 seconds).")]
    pub evidence: String,
    /// The evidence as data: counts (`hits`, `actions`), the threshold, example answers
    /// (`examples`: item, outcome, response time, hints) and the skills involved.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

fn rfc3339(ms: i64) -> String {
    crate::db::from_millis(ms).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl From<StoredFlag> for FlagView {
    fn from(f: StoredFlag) -> Self {
        FlagView {
            active: f.active(),
            kind: f.kind,
            skill_id: f.skill_id,
            since: rfc3339(f.started_at),
            until: f.ended_at.map(rfc3339),
            evidence: f.sentence,
            data: f.evidence,
        }
    }
}

fn text<T: Serialize>(value: T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl SkillView {
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
            excluded_rapid_guesses: s.state.excluded,
        }
    }
}

/// One student's skills and behaviour flags.
///
/// The estimates and flags are kept up to date as events arrive (idle is worked out when
/// read). Administrators of the student's
/// organisation only, for now; a student of another organisation is not found.
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
    policy::may_read_org_data(&caller)?;
    let student = path.into_inner();
    let org = caller.org;
    let id = student.clone();
    let (skills, flags) = state
        .db
        .read(move |conn| {
            let Some(skills) = crate::store::state::student_skills(conn, &org, &id)? else {
                return Ok(None);
            };
            let flags = crate::store::flags::for_student(conn, &org, &id)?;
            Ok(Some((skills, flags)))
        })
        .await?
        .ok_or_else(|| ApiError::not_found("no student with this id in your organisation"))?;
    let rules = Rules::default();
    let mut flags: Vec<FlagView> = flags.into_iter().map(FlagView::from).collect();
    // Going on first; the store gives newest first within each.
    flags.sort_by_key(|f| !f.active);
    Ok(HttpResponse::Ok().json(StudentView {
        student_id: student,
        skills: skills
            .into_iter()
            .map(|s| SkillView::new(s, &rules))
            .collect(),
        flags,
    }))
}
