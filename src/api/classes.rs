//! `GET /api/v1/classes`: the classes the caller may see.

use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::{policy, Caller};
use crate::error::{ApiError, ErrorBody};
use crate::startup::AppState;

#[derive(Serialize, ToSchema)]
pub struct ClassList {
    pub classes: Vec<ClassView>,
}

#[derive(Serialize, ToSchema)]
pub struct ClassView {
    #[schema(example = "class-5b")]
    pub class_id: String,
    pub name: Option<String>,
    pub school_id: Option<String>,
    /// Students enrolled (by the roster or by their tools' events).
    pub students: i64,
}

/// The classes the caller may see.
///
/// A teacher gets the classes they teach; an administrator every class of their organisation.
#[utoipa::path(get, path = "/api/v1/classes", tag = "classes",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The classes, by id", body = ClassList),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "A tool token", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(org = %caller.org))]
pub async fn list_classes(
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let filter = policy::may_list_classes(&caller)?;
    let rows = state
        .db
        .read(move |conn| crate::store::access::visible_classes(conn, &filter))
        .await?;
    Ok(HttpResponse::Ok().json(ClassList {
        classes: rows
            .into_iter()
            .map(|r| ClassView {
                class_id: r.class_id,
                name: r.name,
                school_id: r.school_id,
                students: r.students,
            })
            .collect(),
    }))
}

/// The scope to read one class's student-level data, for the class handlers of issue 5
/// (overview, insights, groups): loads the access facts and asks the policy. Record the read
/// with `super::audit::record(.., "class.overview", Subject::Class(..), ..)` before answering.
// TODO(issue 5): call from the class overview, insights and groups handlers.
#[allow(dead_code)]
pub(crate) async fn class_scope(
    state: &AppState,
    caller: &Caller,
    class_id: String,
) -> Result<policy::ClassScope, ApiError> {
    let who = caller.clone();
    let access = state
        .db
        .read(move |conn| crate::store::access::class_access(conn, &who, &class_id))
        .await?;
    policy::may_read_class(caller, &access)
}
