//! `GET /api/v1/students/{student_id}`: one student's skills as the teacher's page shows them.

use actix_web::{delete, get, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::params::{Id, NamesQuery, Query};
use super::AppState;
use crate::auth::{policy, Caller};
use crate::error::{ApiError, ErrorBody};
use crate::insights::history::Trajectory;
use crate::insights::student::{self, Certainty, MasteryProgress};
use crate::insights::{Cell, Decision, SkillInfo};
use crate::kt::Rules;
use crate::store::audit::Subject;
use crate::store::flags::StoredFlag;
use crate::store::history::Recent;
use crate::store::privacy::StudentExport;
use crate::store::state::StudentSkill;

/// Answers listed under `recent`.
const RECENT_ANSWERS: i64 = 20;

/// A student's mastery of each skill they have practised, and the behaviour flags.
#[derive(Debug, Serialize, ToSchema)]
pub struct StudentView {
    #[schema(example = "stu-0042")]
    pub student_id: String,
    /// The display name from the roster (none unless an administrator uploaded one); with
    /// `?anonymise=true`, a stable label such as "Student K7Q" instead.
    #[schema(example = "Student K7Q")]
    pub name: Option<String>,
    /// True when `name` is an anonymised label.
    pub anonymised: bool,
    /// Events that occurred before this time were purged by retention: the estimates still
    /// count them, but a rebuild would not (RFC 3339; absent when nothing was purged).
    pub events_purged_before: Option<String>,
    pub skills: Vec<SkillView>,
    /// Behaviour flags (rapid guessing, hint abuse, gaming, ...), those going on first, then
    /// the ended ones, newest first.
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
    /// The problem as a teacher reads it: the item's prompt when a tool or an administrator
    /// described it (`PUT /api/v1/items`), else the item as a question of its skill.
    #[schema(example = "7 × 8")]
    pub problem: String,
    /// What the student answered, when the tool sent it.
    #[schema(example = "54")]
    pub response: Option<String>,
    /// correct, incorrect or skipped.
    pub outcome: String,
    pub attempt: i32,
    pub response_ms: Option<i32>,
    pub hints_used: i32,
    pub hint_bottom_out: bool,
}

impl AnswerView {
    /// `skill_name`: the name of the answer's skill, for the label of an item not described.
    fn new(recent: Recent, skill_name: Option<&str>) -> Self {
        let r = recent.answer;
        let problem = recent.prompt.unwrap_or_else(|| {
            crate::insights::wording::capitalise(&crate::items::label(
                &r.item_id,
                &r.skill_id,
                skill_name,
            ))
        });
        AnswerView {
            occurred_at: r.occurred_at,
            problem,
            response: r.response,
            skill_id: r.skill_id,
            item_id: r.item_id,
            outcome: r.outcome.as_str().to_owned(),
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
    /// Of those, rapid guesses left out of the estimate (answered too fast to have been read).
    #[schema(example = 2)]
    pub excluded_rapid_guesses: u32,
    /// The student's page only: how far the student is along the mastery rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mastery: Option<MasteryProgress>,
    /// The student's page and the class overview: how sure the call is, in the words every
    /// page uses (`confirmed` by a teacher, `sure`, `fairly_sure`, `not_sure_yet`: a call
    /// awaiting review is never `sure`), and the sentence the page shows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certainty: Option<Certainty>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "Huddle is not sure yet.")]
    pub certainty_sentence: Option<String>,
    /// The student's page only: why the estimate fell on the latest day, when it did
    /// ("4 wrong answers today after 10 right ones over 2 weeks.").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fall: Option<String>,
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

use crate::util::rfc3339;

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
            excluded_rapid_guesses: c.excluded,
            mastery: None,
            certainty: None,
            certainty_sentence: None,
            fall: None,
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
            excluded_rapid_guesses: s.state.excluded,
            mastery: Some(student::mastery_progress(&s.state, rules)),
            certainty: None,
            certainty_sentence: None,
            fall: None,
        }
    }
}

/// One student's skills and behaviour flags.
///
/// The estimates and flags are kept up to date as events arrive (idle is worked out when
/// read). A teacher reads the students of the classes they teach; an administrator any student
/// of their organisation. Every read is recorded in the audit log.
#[utoipa::path(tag = "students",
    params(("student_id" = inline(Id), Path, description = "The student's pseudonymous id"), NamesQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The student's skills", body = StudentView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not one of the caller's students, or a tool token", body = ErrorBody),
        (status = 404, description = "No such student in the administrator's organisation", body = ErrorBody),
    ))]
#[get("/api/v1/students/{student_id}")]
#[tracing::instrument(skip_all, fields(org = %caller.org))]
pub async fn get_student(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
    names: Query<NamesQuery>,
) -> Result<HttpResponse, ApiError> {
    let anonymise = names.anonymise();
    let scope = student_scope(&state, &caller, path.into_inner(), policy::may_read_student).await?;
    super::audit::record(
        &state,
        &caller,
        "student.read",
        Subject::Student(scope.student_id().to_owned()),
        anonymise.then_some("anonymised"),
    )
    .await?;
    let read_scope = scope.clone();
    let signals = state.signals;
    let (skills, flags, name, purged, history, decisions) = state
        .db
        .read_replica(move |conn| {
            let (org, id) = (read_scope.org(), read_scope.student_id());
            let decisions = crate::store::reviews::decisions_of(conn, org, &[id.to_owned()])?;
            let skills = crate::store::state::student_skills(conn, org, id)?;
            let name = crate::store::privacy::display_names(conn, org, &[id])?.remove(id);
            let purged = crate::store::privacy::purged_before(conn, org)?;
            let flags = crate::store::flags::for_student(conn, org, id, &signals.thresholds)?;
            let history = crate::store::history::student_history(
                conn,
                org,
                id,
                RECENT_ANSWERS,
                &Rules::default(),
                &signals,
            )?;
            Ok((skills, flags, name, purged, history, decisions))
        })
        .await?;
    let decisions = crate::insights::Decisions::new(decisions);
    let skills = skills
        .ok_or_else(|| ApiError::not_found("no student with this id in your organisation"))?;
    let rules = Rules::default();
    let now = crate::db::to_millis(chrono::Utc::now());
    let skills: Vec<SkillView> = skills
        .into_iter()
        .map(|s| {
            let e = s.state.estimate(&rules);
            // A teacher's decision on the estimate holds here as on every page.
            let decision = decisions.holding(
                scope.student_id(),
                &s.skill_id,
                crate::insights::reviews::ESTIMATE,
                i64::from(e.opportunities),
            );
            let needs_review = e.needs_review && decision.is_none();
            let confirmed = decision.is_some_and(|d| d.decision == Decision::Confirm);
            let certainty = Certainty::of(e.confidence, needs_review, confirmed);
            let fall = history
                .trajectories
                .iter()
                .find(|t| t.skill_id == s.skill_id)
                .and_then(|t| student::sudden_fall(&t.points, now));
            SkillView {
                needs_review,
                certainty: Some(certainty),
                certainty_sentence: Some(certainty.sentence().to_owned()),
                fall,
                ..SkillView::new(s, &rules)
            }
        })
        .collect();
    let mut flags: Vec<FlagView> = flags.into_iter().map(FlagView::from).collect();
    // Going on first; the store gives newest first within each.
    flags.sort_by_key(|f| !f.active);
    let recent = history
        .recent
        .into_iter()
        .map(|r| {
            let name = skills
                .iter()
                .find(|k| k.skill_id == r.answer.skill_id)
                .and_then(|k| k.name.as_deref());
            AnswerView::new(r, name)
        })
        .collect();
    Ok(HttpResponse::Ok().json(StudentView {
        name: crate::privacy::shown_name(
            scope.org(),
            scope.student_id(),
            name.as_deref(),
            anonymise,
        ),
        anonymised: anonymise,
        events_purged_before: purged.map(|ms| {
            crate::db::from_millis(ms).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        }),
        student_id: scope.student_id().to_owned(),
        skills,
        flags,
        history: HistoryView {
            skills: history.trajectories,
            complete: history.complete,
        },
        recent,
    }))
}

/// Loads the access facts for `student_id` and asks `decide` (a policy function) for a scope.
async fn student_scope(
    state: &AppState,
    caller: &Caller,
    student_id: String,
    decide: fn(&Caller, &policy::StudentAccess) -> Result<policy::StudentScope, ApiError>,
) -> Result<policy::StudentScope, ApiError> {
    let who = caller.clone();
    let access = state
        .db
        .read(move |conn| crate::store::access::student_access(conn, &who, &student_id))
        .await?;
    decide(caller, &access)
}

/// Everything held about one student, as JSON.
///
/// For a subject access request (GDPR art. 15, FERPA's right to inspect): the roster data,
/// enrolments, every practice event still held, the knowledge-tracing states and the items
/// answered. Administrators only; recorded in the audit log.
#[utoipa::path(tag = "privacy",
    params(("student_id" = inline(Id), Path, description = "The student's pseudonymous id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "All the data held about the student", body = StudentExport),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 404, description = "No such student in the organisation", body = ErrorBody),
    ))]
#[get("/api/v1/students/{student_id}/export")]
#[tracing::instrument(skip_all, fields(org = %caller.org))]
pub async fn export_student(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let scope = student_scope(
        &state,
        &caller,
        path.into_inner(),
        policy::may_manage_student,
    )
    .await?;
    super::audit::record(
        &state,
        &caller,
        "student.export",
        Subject::Student(scope.student_id().to_owned()),
        None,
    )
    .await?;
    let t = state.signals.thresholds;
    let export = state
        .db
        .read(move |conn| crate::store::privacy::export_student(conn, &scope, &t))
        .await?
        .ok_or_else(|| ApiError::not_found("no student with this id in your organisation"))?;
    Ok(HttpResponse::Ok()
        .insert_header((
            "Content-Disposition",
            "attachment; filename=\"student-export.json\"",
        ))
        .json(export))
}

/// What an erasure removed.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErasureResult {
    pub erased: bool,
    /// Rows deleted, by table.
    #[schema(value_type = Object, example = json!({"events": 120, "skill_states": 4, "students": 1}))]
    pub rows: serde_json::Map<String, serde_json::Value>,
}

/// Erase a student.
///
/// Deletes the student's events, knowledge-tracing states, items, enrolments, roster data
/// (and, as they are added, flags and review items), and removes the student's id from the
/// audit log's earlier entries. What stays: one audit entry saying that an administrator erased
/// a student, when, and how many rows, without the id. A tool that sends new events for the id
/// later starts a new record. Administrators only.
#[utoipa::path(tag = "privacy",
    params(("student_id" = inline(Id), Path, description = "The student's pseudonymous id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The student's data is erased", body = ErasureResult),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 404, description = "No such student in the organisation", body = ErrorBody),
    ))]
#[delete("/api/v1/students/{student_id}")]
#[tracing::instrument(skip_all, fields(org = %caller.org))]
pub async fn erase_student(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let scope = student_scope(
        &state,
        &caller,
        path.into_inner(),
        policy::may_manage_student,
    )
    .await?;
    let who = caller.clone();
    let erased = state
        .db
        .write(crate::db::Changes::Entities, move |conn| {
            crate::store::privacy::erase_student(conn, &who, &scope)
        })
        .await?;
    tracing::info!(events = erased.rows("events"), "student erased");
    Ok(HttpResponse::Ok().json(ErasureResult {
        erased: true,
        rows: erased
            .tables
            .into_iter()
            .map(|(t, n)| (t, serde_json::Value::from(n)))
            .collect(),
    }))
}
