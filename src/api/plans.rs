//! Saved small-group plans: `POST`/`GET /api/v1/classes/{class_id}/plans`,
//! `GET`/`PATCH /api/v1/plans/{plan_id}`.

use actix_web::{get, patch, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::access::{audit_read, authorise, authorise_in, Scope};
use super::params::{self, Id};
use super::AppState;
use crate::auth::Caller;
use crate::config::MAX_SMALL_BODY_BYTES;
use crate::db::{from_millis, to_millis};
use crate::error::{ApiError, ErrorBody};
use crate::store;
use crate::store::audit::Subject;
use crate::store::plans::{NewPlan, PlanChanges, PlanRow};

/// At most this many students in a plan (a class).
const MAX_MEMBERS: usize = 40;

/// The longest suggested group's id a plan keeps (the groups' own ids are far shorter).
const MAX_GROUP_ID_LEN: usize = 128;

/// A saved plan.
#[derive(Debug, Serialize, ToSchema)]
pub struct Plan {
    #[schema(example = "plan-7d0c6c2b8f7e4d1a9c3b2a1f0e9d8c7b")]
    pub id: String,
    pub class_id: String,
    pub focus_skill_id: String,
    pub students: Vec<String>,
    pub note: Option<String>,
    /// The suggested group it was saved from, if any.
    pub group_id: Option<String>,
    pub done: bool,
    #[schema(value_type = Option<String>)]
    pub done_at: Option<DateTime<Utc>>,
    pub created_by: String,
    #[schema(value_type = String)]
    pub created_at: DateTime<Utc>,
    #[schema(value_type = String)]
    pub updated_at: DateTime<Utc>,
}

impl From<PlanRow> for Plan {
    fn from(r: PlanRow) -> Self {
        Plan {
            students: r.student_ids(),
            id: r.plan_id,
            class_id: r.class_id,
            focus_skill_id: r.focus_skill_id,
            note: r.note,
            group_id: r.source_group,
            done: r.done,
            done_at: r.done_at.map(from_millis),
            created_by: r.created_by,
            created_at: from_millis(r.created_at),
            updated_at: from_millis(r.updated_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Plans {
    pub plans: Vec<Plan>,
}

/// A new plan: a suggested group kept as is, or edited.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPlanBody {
    /// A skill of the organisation.
    #[schema(
        example = "fractions.add-unlike",
        min_length = 1,
        max_length = 128,
        pattern = "^[A-Za-z0-9._:-]+$"
    )]
    pub focus_skill_id: String,
    /// Students of the class, 1 to 40, each once.
    #[schema(min_items = 1, max_items = 40)]
    pub students: Vec<String>,
    pub note: Option<String>,
    /// The suggested group's id, when saved from one.
    pub group_id: Option<String>,
}

const NEW_PLAN_SHAPE: &str =
    r#"{"focus_skill_id": "…", "students": ["…"], "note": "…", "group_id": "…"}"#;

/// Changes to a plan; fields left out stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanPatch {
    /// Students of the class, 1 to 40, each once.
    #[schema(min_items = 1, max_items = 40)]
    pub students: Option<Vec<String>>,
    /// A new note; null clears it.
    #[serde(default, deserialize_with = "serde_with_null::deserialize")]
    #[schema(value_type = Option<String>)]
    pub note: Option<Option<String>>,
    pub done: Option<bool>,
}

const PLAN_PATCH_SHAPE: &str = r#"{"students": ["…"], "note": "…" or null, "done": true or false}"#;

/// `Option<Option<T>>` that tells "absent" (None) from "null" (Some(None)).
mod serde_with_null {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        Option::<T>::deserialize(d).map(Some)
    }
}

/// Checks the members: 1..=MAX_MEMBERS, each once, each enrolled in the class.
fn check_members(students: &[String], enrolled: &[String]) -> Result<(), ApiError> {
    if students.is_empty() || students.len() > MAX_MEMBERS {
        return Err(ApiError::unprocessable(
            "invalid_plan",
            format!("a plan has from 1 to {MAX_MEMBERS} students"),
        ));
    }
    super::params::class_students("students", students, enrolled, "invalid_plan")
}

/// Save a small-group plan for the class.
#[utoipa::path(tag = "classes",
    params(("class_id" = inline(Id), Path, description = "The class id")),
    request_body = NewPlanBody,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Saved", body = Plan),
        (status = 400, description = "Not JSON", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token may not plan for this class", body = ErrorBody),
        (status = 404, description = "No such class", body = ErrorBody),
        (status = 422, description = "Not a valid plan (unknown student, ...)", body = ErrorBody),
    ))]
#[post("/api/v1/classes/{class_id}/plans")]
#[tracing::instrument(skip_all, fields(org = %caller.org))]
pub async fn create_plan(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = params::read_body(payload, MAX_SMALL_BODY_BYTES).await?;
    let class = path.into_inner();
    authorise(&state, &caller, Scope::Class(&class)).await?;
    let body: NewPlanBody = params::json(&body, "invalid_plan", NEW_PLAN_SHAPE)?;
    let note = params::note(body.note)?;
    if !crate::ingest::is_valid_id(&body.focus_skill_id) {
        return Err(ApiError::unprocessable(
            "invalid_plan",
            "focus_skill_id must be a skill id: 1 to 128 characters of letters, digits and . _ : -",
        ));
    }
    if body
        .group_id
        .as_deref()
        .is_some_and(|g| g.is_empty() || g.len() > MAX_GROUP_ID_LEN || !params::is_plain_text(g))
    {
        return Err(ApiError::unprocessable(
            "invalid_plan",
            format!("group_id must be 1 to {MAX_GROUP_ID_LEN} characters"),
        ));
    }
    let org = caller.org.clone();
    let by = caller.sub.clone();
    let who = caller.clone();
    let now = to_millis(Utc::now());
    let row = state
        .db
        .write(crate::db::Changes::Records, move |conn| {
            if !store::classes::class_exists(conn, &org, &class)? {
                return Ok(Err(ApiError::not_found(
                    "no class with this id in your organisation",
                )));
            }
            if !store::plans::skill_exists(conn, &org, &body.focus_skill_id)? {
                return Ok(Err(ApiError::unprocessable(
                    "unknown_skill",
                    "focus_skill_id is not a skill of your organisation",
                )));
            }
            let enrolled = store::classes::class_students(conn, &org, &class)?;
            if let Err(e) = check_members(&body.students, &enrolled) {
                return Ok(Err(e));
            }
            let row = store::plans::create(
                conn,
                &org,
                &NewPlan {
                    class_id: &class,
                    focus_skill_id: &body.focus_skill_id,
                    students: &body.students,
                    note: note.as_deref(),
                    source_group: body.group_id.as_deref(),
                    created_by: &by,
                    now,
                },
            )?;
            store::audit::record(conn, &who, "plan.create", Subject::Class(class), None)?;
            Ok(Ok(row))
        })
        .await??;
    Ok(HttpResponse::Created().json(Plan::from(row)))
}

/// The class's saved plans, newest first.
#[utoipa::path(tag = "classes",
    params(("class_id" = inline(Id), Path, description = "The class id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The plans", body = Plans),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token may not read this class", body = ErrorBody),
        (status = 404, description = "No such class", body = ErrorBody),
    ))]
#[get("/api/v1/classes/{class_id}/plans")]
#[tracing::instrument(skip_all, fields(org = %caller.org))]
pub async fn list_plans(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let class = path.into_inner();
    authorise(&state, &caller, Scope::Class(&class)).await?;
    let org = caller.org.clone();
    let id = class.clone();
    let rows = state
        .db
        .read(move |conn| {
            let class = id;
            if !store::classes::class_exists(conn, &org, &class)? {
                return Ok(None);
            }
            store::plans::list(conn, &org, &class).map(Some)
        })
        .await?
        .ok_or_else(|| ApiError::not_found("no class with this id in your organisation"))?;
    audit_read(&state, &caller, "plans.read", Subject::Class(class)).await?;
    Ok(HttpResponse::Ok().json(Plans {
        plans: rows.into_iter().map(Plan::from).collect(),
    }))
}

/// One saved plan.
#[utoipa::path(tag = "classes",
    params(("plan_id" = inline(Id), Path, description = "The plan's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The plan", body = Plan),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token may not read this class", body = ErrorBody),
        (status = 404, description = "No such plan", body = ErrorBody),
    ))]
#[get("/api/v1/plans/{plan_id}")]
#[tracing::instrument(skip_all, fields(org = %caller.org))]
pub async fn get_plan(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    // Tools never read plans; the plan's class is checked once it is found.
    crate::auth::policy::may_list_classes(&caller)?;
    let id = path.into_inner();
    let org = caller.org.clone();
    let row = state
        .db
        .read(move |conn| store::plans::get(conn, &org, &id))
        .await?
        .ok_or_else(|| ApiError::not_found("no plan with this id in your organisation"))?;
    authorise(&state, &caller, Scope::Class(&row.class_id)).await?;
    audit_read(
        &state,
        &caller,
        "plan.read",
        Subject::Class(row.class_id.clone()),
    )
    .await?;
    Ok(HttpResponse::Ok().json(Plan::from(row)))
}

/// Edit a plan's members or note, or mark it done (or not done).
#[utoipa::path(tag = "classes",
    params(("plan_id" = inline(Id), Path, description = "The plan's id")),
    request_body = PlanPatch,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The plan as saved", body = Plan),
        (status = 400, description = "Not JSON", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token may not edit this class's plans", body = ErrorBody),
        (status = 404, description = "No such plan", body = ErrorBody),
        (status = 422, description = "Not valid (unknown student, ...)", body = ErrorBody),
    ))]
#[patch("/api/v1/plans/{plan_id}")]
#[tracing::instrument(skip_all, fields(org = %caller.org))]
pub async fn patch_plan(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = params::read_body(payload, MAX_SMALL_BODY_BYTES).await?;
    // Tools never read plans; the plan's class is checked once it is found.
    crate::auth::policy::may_list_classes(&caller)?;
    let id = path.into_inner();
    // Who may edit depends on the plan's class: checked once the plan is read.
    let body: PlanPatch = params::json(&body, "invalid_plan", PLAN_PATCH_SHAPE)?;
    let note = match body.note {
        Some(n) => Some(params::note(n)?),
        None => None,
    };
    let org = caller.org.clone();
    let who = caller.clone();
    let now = to_millis(Utc::now());
    let row = state
        .db
        .write(crate::db::Changes::Records, move |conn| {
            let Some(plan) = store::plans::get(conn, &org, &id)? else {
                return Ok(Err(ApiError::not_found(
                    "no plan with this id in your organisation",
                )));
            };
            if let Err(e) = authorise_in(conn, &who, Scope::Class(&plan.class_id))? {
                return Ok(Err(e));
            }
            if let Some(students) = &body.students {
                let enrolled = store::classes::class_students(conn, &org, &plan.class_id)?;
                if let Err(e) = check_members(students, &enrolled) {
                    return Ok(Err(e));
                }
            }
            let changes = PlanChanges {
                students: body.students,
                note,
                done: body.done,
            };
            let action = match changes.done {
                Some(true) => "plan.done",
                Some(false) => "plan.reopen",
                None => "plan.update",
            };
            let row = store::plans::update(conn, &org, &id, &changes, now)?;
            if row.is_some() {
                let class = Subject::Class(plan.class_id.clone());
                store::audit::record(conn, &who, action, class, None)?;
            }
            Ok(row.ok_or_else(|| ApiError::not_found("no plan with this id in your organisation")))
        })
        .await??;
    Ok(HttpResponse::Ok().json(Plan::from(row)))
}
