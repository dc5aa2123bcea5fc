//! The review queue: `GET /api/v1/reviews` and `POST /api/v1/reviews/{id}`.

use actix_web::{get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::access::{audit_read, authorise, Scope};
use super::classes::DecisionBody;
use super::params::{self, Id, NamesQuery, Query, QueryParams, ReviewId, Whole};
use super::AppState;
use crate::auth::Caller;
use crate::config::MAX_SMALL_BODY_BYTES;
use crate::db::{from_millis, to_millis};
use crate::error::{ApiError, ErrorBody};
use crate::insights::reviews::{self, parse_review_id, ReviewItem, ReviewStatus};
use crate::insights::{Decision, DecisionRecord};
use crate::store;
use crate::store::audit::Subject;

#[derive(Debug, Serialize, ToSchema)]
pub struct Reviews {
    /// Open items first, then the highest priority, then the most recent.
    pub reviews: Vec<ReviewItem>,
    /// How many items match the filter in all (the true count, whatever the page or the
    /// day's limit).
    pub total: usize,
    /// Open items of the class left for later days by the day's limit (`per_day`).
    pub held_back: usize,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ReviewsQuery {
    /// Only this class's students (else the whole organisation's).
    #[param(inline, value_type = Option<Id>)]
    class_id: Option<String>,
    /// open (default), confirmed, dismissed or all.
    status: Option<String>,
    /// At most this many items (1–1000, default 200).
    #[param(value_type = Option<usize>)]
    limit: Option<Whole<1, 1000>>,
    /// Skip this many items first (paging; default 0).
    #[param(value_type = Option<usize>)]
    offset: Option<Whole<0, 1_000_000>>,
    /// With `class_id` and the open queue: open items shown per day (1–100, default 5);
    /// decisions taken today count against it.
    #[param(value_type = Option<usize>)]
    per_day: Option<Whole<1, 100>>,
}

impl QueryParams for ReviewsQuery {
    fn code(field: &str) -> &'static str {
        match field {
            "limit" => "invalid_limit",
            "offset" => "invalid_offset",
            "per_day" => "invalid_per_day",
            _ => "invalid_query",
        }
    }
}

/// The review queue: uncertain estimates and flags awaiting the teacher's judgment.
///
/// Derived from the maintained state: an estimate appears while it needs review; a decision
/// holds until new evidence arrives on that student × skill, after which the item is open
/// again if it still needs review.
#[utoipa::path(tag = "reviews",
    params(ReviewsQuery, NamesQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The queue", body = Reviews),
        (status = 400, description = "A bad filter", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token may not read this", body = ErrorBody),
        (status = 404, description = "No such class", body = ErrorBody),
    ))]
#[get("/api/v1/reviews")]
#[tracing::instrument(skip_all, fields(org = %caller.org))]
pub async fn get_reviews(
    caller: Caller,
    state: web::Data<AppState>,
    query: Query<ReviewsQuery>,
    names: Query<NamesQuery>,
) -> Result<HttpResponse, ApiError> {
    let class = query.class_id.clone();
    authorise(
        &state,
        &caller,
        class.as_deref().map_or(Scope::Org, Scope::Class),
    )
    .await?;
    let status = match &query.status {
        None => Some(ReviewStatus::Open),
        Some(s) => ReviewStatus::parse(s).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_status",
                "status must be open, confirmed, dismissed or all",
            )
        })?,
    };
    let limit = query.limit.map_or(200, Whole::get);
    let offset = query.offset.map_or(0, Whole::get);
    let per_day = query.per_day.map_or(reviews::PER_DAY, Whole::get);
    let daily = class.is_some() && status == Some(ReviewStatus::Open);
    let org = caller.org.clone();
    let now = to_millis(Utc::now());
    let subject = class.clone().map_or(Subject::Organisation, Subject::Class);
    let t = state.signals.thresholds;
    let data = state
        .db
        .read(move |conn| match class {
            Some(class) => store::classes::class_data(conn, &org, &class, now, &t),
            None => {
                let students = store::classes::org_students(conn, &org)?;
                store::classes::data_for_students(conn, &org, "", students, now, &t).map(Some)
            }
        })
        .await?
        .ok_or_else(|| ApiError::not_found("no class with this id in your organisation"))?;
    let mut data = data;
    if names.anonymise() {
        super::classes::anonymise(&mut data, &caller.org);
    }
    let mut items = reviews::queue(&data);
    items.retain(|i| status.is_none_or(|s| i.status == s));
    let total = items.len();
    if daily {
        // A class's open queue: what a teacher can keep today.
        items = reviews::daily(items, per_day, reviews::decided_today(&data));
    }
    let held_back = total - items.len();
    let items: Vec<ReviewItem> = items.into_iter().skip(offset).take(limit).collect();
    audit_read(&state, &caller, "reviews.read", subject).await?;
    Ok(HttpResponse::Ok().json(Reviews {
        reviews: items,
        total,
        held_back,
    }))
}

/// A recorded decision.
#[derive(Debug, Serialize, ToSchema)]
pub struct Decided {
    pub id: String,
    pub status: ReviewStatus,
    pub decision: Decision,
    pub note: Option<String>,
    pub decided_by: String,
    #[schema(value_type = String)]
    pub decided_at: DateTime<Utc>,
    /// The evidence the decision was taken on; new evidence reopens the item.
    pub evidence_marker: i64,
}

/// Confirm or dismiss a review item, with an optional note.
///
/// A dismissal silences the same call (and the insights resting on it) for that student and
/// skill until new evidence arrives; a confirmation is recorded. Both keep who and when.
#[utoipa::path(tag = "reviews",
    params(("review_id" = inline(ReviewId), Path, description = "The item's id from GET /api/v1/reviews")),
    request_body = DecisionBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Recorded", body = Decided),
        (status = 400, description = "Not JSON", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token may not decide", body = ErrorBody),
        (status = 404, description = "No such item in the caller's organisation", body = ErrorBody),
        (status = 422, description = "Not a decision", body = ErrorBody),
    ))]
#[post("/api/v1/reviews/{review_id}")]
#[tracing::instrument(skip_all, fields(org = %caller.org))]
pub async fn decide_review(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = params::read_body(payload, MAX_SMALL_BODY_BYTES).await?;
    // Tools never decide; the item's student is checked once the id is read.
    crate::auth::policy::may_list_classes(&caller)?;
    let id = path.into_inner();
    let not_found = || ApiError::not_found("no review item with this id in your organisation");
    let (kind, student, skill) = parse_review_id(&id).ok_or_else(not_found)?;
    authorise(&state, &caller, Scope::Student(&student)).await?;
    let body: DecisionBody = params::json(
        &body,
        "invalid_decision",
        r#"{"decision": "confirm" or "dismiss", "note": "…"}"#,
    )?;
    if body.decision == Decision::Done {
        return Err(ApiError::unprocessable(
            "invalid_decision",
            "a review decision is confirm or dismiss",
        ));
    }
    let note = params::note(body.note)?;
    let org = caller.org.clone();
    let now = to_millis(Utc::now());
    let subject = Subject::Student(student.clone());
    let record = DecisionRecord {
        student_id: student,
        skill_id: skill,
        kind,
        decision: body.decision,
        note,
        marker: 0,
        decided_by: caller.sub.clone(),
        decided_at: now,
        insight_id: None,
    };
    let saved = state
        .db
        .write(crate::db::Changes::Records, move |conn| {
            let marker = if record.kind == reviews::ESTIMATE {
                store::reviews::estimate_marker(conn, &org, &record.student_id, &record.skill_id)?
            } else if store::classes::student_exists(conn, &org, &record.student_id)? {
                // A flag: flags that start after this decision are new evidence.
                Some(now)
            } else {
                None
            };
            let Some(marker) = marker else {
                return Ok(None);
            };
            let record = DecisionRecord { marker, ..record };
            store::reviews::record_decision(conn, &org, &record)?;
            Ok(Some(record))
        })
        .await?
        .ok_or_else(not_found)?;
    state.overviews.forget(&caller.org);
    super::audit::record(&state, &caller, "review.decide", subject, None).await?;
    Ok(HttpResponse::Ok().json(Decided {
        id,
        status: match saved.decision {
            Decision::Confirm | Decision::Done => ReviewStatus::Confirmed,
            Decision::Dismiss => ReviewStatus::Dismissed,
        },
        decision: saved.decision,
        note: saved.note,
        decided_by: saved.decided_by,
        decided_at: from_millis(saved.decided_at),
        evidence_marker: saved.marker,
    }))
}
