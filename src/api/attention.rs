//! Attention and its follow-ups: `GET /api/v1/classes/{class_id}/attention` (whom the teacher
//! has not seen lately; what followed recent help) and `GET /api/v1/students/{student_id}/checkins`
//! (one student's check-ins with what followed each). Rules: `lesson::attention`, `followup`.

use std::collections::{BTreeSet, HashMap};

use actix_web::{get, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::access::{audit_read, authorise, Scope};
use super::now::CheckinView;
use super::params::{Id, NamesQuery, Query, QueryParams, Whole};
use super::AppState;
use crate::auth::Caller;
use crate::db::{from_millis, to_millis};
use crate::error::{ApiError, ErrorBody};
use crate::lesson::attention::{self, AttentionKind, Coverage};
use crate::lesson::followup::{self, BeforeAfter};
use crate::store;
use crate::store::audit::Subject;

/// Unseen after this many school days, unless `?school_days=` says otherwise.
const DEFAULT_SCHOOL_DAYS: usize = 10;

#[derive(Debug, Serialize, ToSchema)]
pub struct StudentAttention {
    pub student_id: String,
    pub name: Option<String>,
    #[schema(value_type = Option<String>)]
    pub last_attention_at: Option<DateTime<Utc>>,
    /// check_in, group_plan or review.
    #[schema(value_type = Option<String>)]
    pub last_attention_kind: Option<AttentionKind>,
    /// School days (Monday to Friday) between then and today; null: never.
    pub school_days_since: Option<u32>,
    /// A behaviour flag is open.
    pub flagged: bool,
    /// A skill is marked struggling.
    pub struggling: bool,
    /// Not seen for `school_days` or more (or never).
    pub unseen: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FollowUpStudent {
    pub student_id: String,
    pub name: Option<String>,
    #[serde(flatten)]
    pub result: BeforeAfter,
}

/// What followed one moment of help on a skill.
#[derive(Debug, Serialize, ToSchema)]
pub struct FollowUp {
    /// check_in, group_plan or insight (an insight on the skill marked done).
    #[schema(value_type = String)]
    pub kind: AttentionKind,
    #[schema(value_type = String)]
    pub at: DateTime<Utc>,
    pub skill_id: String,
    pub skill_name: Option<String>,
    pub students: Vec<FollowUpStudent>,
    /// "After you sat with …, 3 of 4 got most of their next answers right." — null until
    /// every student has answered at least 3 first tries on the skill since.
    pub sentence: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttentionView {
    pub class_id: String,
    #[schema(value_type = String)]
    pub generated_at: DateTime<Utc>,
    pub school_days: u32,
    /// "You have not checked in with Amara, Theo or Lucas in the last 2 weeks." — null when
    /// everyone has been seen.
    pub headline: Option<String>,
    /// Unseen students first (flagged, then struggling, then the longest unseen), then the rest.
    pub students: Vec<StudentAttention>,
    pub followups: Vec<FollowUp>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AttentionQuery {
    /// Unseen after this many school days (1–60, default 10)
    #[param(value_type = Option<u32>)]
    school_days: Option<Whole<1, 60>>,
}

impl QueryParams for AttentionQuery {
    fn code(_: &str) -> &'static str {
        "invalid_school_days"
    }
}

/// Whom the teacher has not seen lately, and what followed recent help.
///
/// A student's last attention is the latest of: a check-in, a group plan marked done with
/// them, a review decision about them. Unseen: none for `school_days` school days (default 10).
/// Follow-ups compare each student's 5 first tries on the skill before the help with the 5
/// after (docs/lesson.md), for check-ins with a skill, plans marked done and insights on a
/// skill marked done, in the last 14 days.
#[utoipa::path(tag = "lesson",
    params(("class_id" = inline(Id), Path, description = "The class id"), AttentionQuery, NamesQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Attention coverage and follow-ups", body = AttentionView),
        (status = 400, description = "A bad school_days", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token may not read this class", body = ErrorBody),
        (status = 404, description = "No such class", body = ErrorBody),
    ))]
#[get("/api/v1/classes/{class_id}/attention")]
#[tracing::instrument(skip_all, fields(org = %caller.org))]
pub async fn get_attention(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: Query<AttentionQuery>,
    names: Query<NamesQuery>,
) -> Result<HttpResponse, ApiError> {
    let class = path.into_inner();
    let days = query.school_days.map_or(DEFAULT_SCHOOL_DAYS, Whole::get) as u32;
    let anonymise = names.anonymise();
    authorise(&state, &caller, Scope::Class(&class)).await?;
    audit_read(
        &state,
        &caller,
        "class.attention",
        Subject::Class(class.clone()),
    )
    .await?;
    let org = caller.org.clone();
    let t = state.signals.thresholds;
    let view = state
        .db
        .read(move |conn| {
            let now = Utc::now();
            let now_ms = to_millis(now);
            let Some(data) = store::classes::class_data(conn, &org, &class, now_ms, &t)? else {
                return Ok(None);
            };
            let ids: Vec<String> = data.students.iter().map(|s| s.student_id.clone()).collect();
            let name = |id: &str| -> Option<String> {
                if anonymise {
                    Some(crate::privacy::anonymised_label(&org, id))
                } else {
                    data.students
                        .iter()
                        .find(|s| s.student_id == id)
                        .map(|s| s.name.clone())
                }
            };
            let plans = store::plans::list(conn, &org, &class)?;
            let last = store::attention::last_attention(conn, &org, &ids, &plans)?;
            let flagged: BTreeSet<&str> = data
                .flags
                .iter()
                .filter(|f| f.ended_at.is_none() && f.kind != "idle")
                .map(|f| f.student_id.as_str())
                .collect();
            let struggling: BTreeSet<&str> = data
                .cells
                .iter()
                .filter(|c| c.estimate.status == crate::kt::Status::Struggling)
                .map(|c| c.student_id.as_str())
                .collect();
            let coverage: Vec<Coverage> = ids
                .iter()
                .map(|id| Coverage {
                    student_id: id.clone(),
                    last: last.get(id).copied(),
                    flagged: flagged.contains(id.as_str()),
                    struggling: struggling.contains(id.as_str()),
                })
                .collect();
            let unseen = attention::unseen(&coverage, now_ms, days);
            let unseen_ids: BTreeSet<&str> = unseen.iter().map(|c| c.student_id.as_str()).collect();
            let names: Vec<String> = unseen
                .iter()
                .map(|c| name(&c.student_id).unwrap_or_else(|| c.student_id.clone()))
                .collect();
            let mut ordered: Vec<&Coverage> = unseen.clone();
            let mut seen: Vec<&Coverage> = coverage
                .iter()
                .filter(|c| !unseen_ids.contains(c.student_id.as_str()))
                .collect();
            seen.sort_by_key(|c| std::cmp::Reverse(c.last.map(|a| a.at)));
            ordered.extend(seen);
            let students = ordered
                .into_iter()
                .map(|c| StudentAttention {
                    student_id: c.student_id.clone(),
                    name: name(&c.student_id),
                    last_attention_at: c.last.map(|a| from_millis(a.at)),
                    last_attention_kind: c.last.map(|a| a.kind),
                    school_days_since: c.school_days_since(now_ms),
                    flagged: c.flagged,
                    struggling: c.struggling,
                    unseen: unseen_ids.contains(c.student_id.as_str()),
                })
                .collect();

            let helps =
                store::attention::helps(conn, &org, &class, &plans, &data.decisions, now_ms)?;
            let followups = helps
                .into_iter()
                .map(|help| {
                    let shown: Vec<String> = help
                        .students
                        .iter()
                        .map(|(s, _)| name(s).unwrap_or_else(|| s.clone()))
                        .collect();
                    let results: Vec<BeforeAfter> = help.students.iter().map(|(_, r)| *r).collect();
                    let sentence = followup::group_sentence(
                        &followup::help_phrase(help.kind, &crate::insights::wording::names(&shown)),
                        &followup::day_phrase(help.at, now_ms),
                        &results,
                    );
                    FollowUp {
                        kind: help.kind,
                        at: from_millis(help.at),
                        skill_name: data.skill(&help.skill_id).and_then(|k| k.name.clone()),
                        students: help
                            .students
                            .into_iter()
                            .map(|(s, result)| FollowUpStudent {
                                name: name(&s),
                                student_id: s,
                                result,
                            })
                            .collect(),
                        skill_id: help.skill_id,
                        sentence,
                    }
                })
                .collect();
            Ok(Some(AttentionView {
                class_id: class,
                generated_at: now,
                school_days: days,
                headline: attention::headline(&names, days),
                students,
                followups,
            }))
        })
        .await?
        .ok_or_else(|| ApiError::not_found("no class with this id in your organisation"))?;
    Ok(HttpResponse::Ok().json(view))
}

/// A check-in with what followed it on its skill.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckinFollowUp {
    #[serde(flatten)]
    pub checkin: CheckinView,
    /// The 5 first tries on the skill before and after; null without a skill.
    pub followup: Option<BeforeAfter>,
    /// "Before: 1 of 5 right. After: 4 of 5 right."
    pub sentence: Option<String>,
}

/// A group plan or an insight on a skill marked done, with what followed for the student.
#[derive(Debug, Serialize, ToSchema)]
pub struct HelpFollowUp {
    /// group_plan or insight.
    #[schema(value_type = String)]
    pub kind: AttentionKind,
    #[schema(value_type = String)]
    pub at: DateTime<Utc>,
    pub skill_id: String,
    /// The student's 5 first tries on the skill before and after.
    pub followup: BeforeAfter,
    /// "Before: 1 of 5 right. After: 4 of 5 right."
    pub sentence: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StudentCheckins {
    pub student_id: String,
    /// Newest first.
    pub checkins: Vec<CheckinFollowUp>,
    /// The student's group plans and insights marked done in the last 14 days, newest first
    /// (at most 5).
    pub other_help: Vec<HelpFollowUp>,
}

/// One student's check-ins, newest first, each with what followed on its skill; and the other
/// help on a skill they had lately (group plans and insights marked done), with what followed.
#[utoipa::path(tag = "lesson",
    params(("student_id" = inline(Id), Path, description = "The student id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The student's check-ins", body = StudentCheckins),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token may not read this student", body = ErrorBody),
        (status = 404, description = "No such student in the administrator's organisation", body = ErrorBody),
    ))]
#[get("/api/v1/students/{student_id}/checkins")]
#[tracing::instrument(skip_all, fields(org = %caller.org))]
pub async fn get_student_checkins(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let student = path.into_inner();
    authorise(&state, &caller, Scope::Student(&student)).await?;
    audit_read(
        &state,
        &caller,
        "student.checkins",
        Subject::Student(student.clone()),
    )
    .await?;
    let org = caller.org.clone();
    let view = state
        .db
        .read(move |conn| {
            let rows = store::checkins::for_student(conn, &org, &student)?;
            let mut tries: HashMap<String, Vec<followup::Try>> = HashMap::new();
            let mut checkins = Vec::new();
            for r in rows {
                let result = match &r.skill_id {
                    Some(skill) => {
                        if !tries.contains_key(skill) {
                            let t = store::attention::first_tries(conn, &org, &student, skill)?;
                            tries.insert(skill.clone(), t);
                        }
                        Some(followup::before_after(&tries[skill], r.at))
                    }
                    None => None,
                };
                checkins.push(CheckinFollowUp {
                    sentence: result.map(|b| b.sentence()),
                    followup: result,
                    checkin: CheckinView::from(r),
                });
            }
            let other_help =
                store::attention::student_helps(conn, &org, &student, to_millis(Utc::now()))?
                    .into_iter()
                    .filter_map(|h| {
                        let (_, result) = h.students.first()?;
                        Some(HelpFollowUp {
                            kind: h.kind,
                            at: from_millis(h.at),
                            skill_id: h.skill_id.clone(),
                            followup: *result,
                            sentence: result.sentence(),
                        })
                    })
                    .collect();
            Ok(StudentCheckins {
                student_id: student,
                checkins,
                other_help,
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}
