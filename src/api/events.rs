use actix_web::{post, web, HttpResponse};
use chrono::Utc;
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use crate::auth::{policy, Caller};
use crate::config::MAX_BODY_BYTES;
use crate::error::{ApiError, ErrorBody, ErrorDetail};
use crate::ingest::{self, BatchError, Rejected};
use crate::store::events::Stored;

/// The answer to a batch: 200 whenever the body was a batch, even if some events were refused.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResult {
    /// Events stored by this request.
    pub accepted: usize,
    /// Events already stored (or repeated in this batch) with the same content: nothing changed.
    pub duplicates: usize,
    /// Events refused, by their index in the batch.
    pub rejected: Vec<RejectedEvent>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RejectedEvent {
    pub index: usize,
    /// The event's `event_id` as sent, when there was one.
    pub event_id: Option<String>,
    pub error: ErrorDetail,
}

impl From<Rejected> for RejectedEvent {
    fn from(r: Rejected) -> Self {
        RejectedEvent {
            index: r.index,
            event_id: r.event_id,
            error: ErrorDetail {
                code: r.rejection.code.to_owned(),
                message: r.rejection.message,
            },
        }
    }
}

/// Ingest a batch of practice events.
///
/// Each event is validated on its own: valid events are stored even when others are refused.
/// Re-sending an event (same `event_id`, same content) is harmless and counts as a duplicate.
/// When the answer is sent, the accepted events are committed to disk. A tool token limited to
/// some classes (`huddle token --classes`) has events of other classes refused with
/// `class_not_allowed`. When the writer falls behind, a batch is answered 503 `writer_busy`
/// with `Retry-After` and nothing of it is stored.
#[utoipa::path(tag = "ingestion",
    request_body = ingest::Batch,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The batch was read; see which events were refused", body = BatchResult),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token may not write events", body = ErrorBody),
        (status = 413, description = "More than 5,000 events or 8 MiB", body = ErrorBody),
        (status = 422, description = "JSON, but not an object with an events array", body = ErrorBody),
        (status = 503, description = "The writer has too many batches waiting (`writer_busy`) or the service is busy (`overloaded`): send the batch again after `Retry-After` seconds; nothing of it was stored", body = ErrorBody),
    ))]
#[post("/api/v1/events")]
#[tracing::instrument(skip_all, fields(org = %caller.org))]
pub async fn post_events(
    caller: Caller,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    policy::may_write_events(&caller)?;
    let body = super::params::read_body(payload, MAX_BODY_BYTES).await?;

    let now = Utc::now();
    // Kept (a reference, not a copy) to read the tools of refused events for the reports.
    let raw = body.clone();
    let prepared = crate::db::blocking(move || Ok(ingest::prepare(&body, now)))
        .await?
        .map_err(|e| match e {
            BatchError::Malformed(_) => ApiError::bad_request("malformed_json", e.to_string()),
            BatchError::NotABatch => ApiError::unprocessable("invalid_batch", e.to_string()),
            BatchError::TooMany(_) => ApiError::too_large("too_many_events", e.to_string()),
        })?;

    // A tool token limited to some classes: events of other classes are refused one by one.
    let sent = prepared.events.len() + prepared.rejected.len() + prepared.duplicates;
    let (allowed, refused): (Vec<_>, Vec<_>) = prepared
        .events
        .into_iter()
        .partition(|(_, e)| caller.class_allowed(&e.class_id));
    let mut rejected = prepared.rejected;
    rejected.extend(refused.into_iter().map(|(index, e)| Rejected {
        index,
        event_id: Some(e.event_id.to_string()),
        rejection: ingest::Rejection::new(
            "class_not_allowed",
            format!("this token may not send events for class {}", e.class_id),
        ),
    }));
    let (indexes, events): (Vec<usize>, Vec<ingest::Event>) = allowed.into_iter().unzip();
    let org = caller.org.clone();
    // Kept for the answer: a conflict found in the database names its event like any other.
    let ids: Vec<uuid::Uuid> = events.iter().map(|e| e.event_id).collect();
    // The classes that hear of new answers once the batch is committed (the live view).
    let classes: std::collections::BTreeSet<String> =
        events.iter().map(|e| e.class_id.clone()).collect();
    // A place in the writer's queue, held until the batch is written.
    let _queued = state.writer_queue.enter().ok_or_else(|| {
        ApiError::unavailable(
            "writer_busy",
            "too many batches are waiting to be written; send this one again in a second",
            1,
        )
    })?;
    let stored = match caller.classes.clone() {
        None => state
            .appender
            .append(org, events, now)
            .await?
            .into_iter()
            .map(Some)
            .collect(),
        Some(classes) => {
            state
                .appender
                .append_within(org, events, classes, now)
                .await?
        }
    };

    let mut result = BatchResult {
        accepted: 0,
        duplicates: prepared.duplicates,
        rejected: rejected.into_iter().map(RejectedEvent::from).collect(),
    };
    let mut accepted = std::collections::HashSet::new();
    for ((index, id), outcome) in indexes.into_iter().zip(ids).zip(stored) {
        match outcome {
            Some(Stored::Inserted) => {
                result.accepted += 1;
                accepted.insert(index);
            }
            Some(Stored::Duplicate) => result.duplicates += 1,
            Some(Stored::Conflict) => result.rejected.push(RejectedEvent::from(Rejected {
                index,
                event_id: Some(id.to_string()),
                rejection: ingest::conflict(),
            })),
            None => result.rejected.push(RejectedEvent::from(Rejected {
                index,
                event_id: Some(id.to_string()),
                rejection: ingest::Rejection::new(
                    "student_not_in_class",
                    "this token's classes do not enrol this student, who belongs to another class",
                ),
            })),
        }
    }
    result.rejected.sort_by_key(|r| r.index);
    let codes: Vec<&str> = result
        .rejected
        .iter()
        .map(|r| r.error.code.as_str())
        .collect();
    crate::metrics::metrics().batch(result.accepted, result.duplicates, &codes);
    if result.accepted > 0 {
        let classes = classes.into_iter().collect();
        state.live.notify(&state.db, &caller.org, classes).await;
    }
    super::reports::record_refusals(&state, &caller.org, now, &raw, sent, &accepted, &result).await;
    tracing::info!(
        accepted = result.accepted,
        duplicates = result.duplicates,
        rejected = result.rejected.len(),
        "batch ingested"
    );
    Ok(HttpResponse::Ok().json(result))
}
