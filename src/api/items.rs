//! `PUT /api/v1/items`: tools and administrators describe their items (a short prompt and the
//! correct answer), so that teachers read the problem rather than its id.

use actix_web::{put, web, HttpResponse};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::ToSchema;

use super::AppState;
use crate::auth::{policy, Caller, Role};
use crate::config::MAX_BODY_BYTES;
use crate::db::to_millis;
use crate::error::{ApiError, ErrorBody, ErrorDetail};
use crate::items::{self, Describer, MAX_ITEMS};
use crate::store::items::Described;

/// `{"items": [{"item_id", "skill_id", "prompt", "answer"}]}`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ItemCatalogue {
    /// At most 1,000 items.
    items: Vec<ItemDescription>,
}

/// One item. Unknown fields are ignored.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ItemDescription {
    /// 1–128 characters of A-Za-z0-9._:- (the `item_id` of the events).
    #[schema(example = "multiplication.facts-7:008")]
    item_id: String,
    /// The item's skill; created when new. An item's skill never changes.
    #[schema(example = "multiplication.facts-7")]
    skill_id: String,
    /// The problem as a teacher reads it: plain text, 1–200 characters, one line (no control
    /// characters).
    #[schema(example = "7 × 8")]
    prompt: String,
    /// The correct answer, plain text like the prompt.
    #[schema(example = "56")]
    answer: Option<String>,
}

#[derive(Deserialize)]
struct Body {
    items: Vec<Box<RawValue>>,
}

/// What describing the items did: 200 whenever the body was a list of items, even if some were
/// refused.
#[derive(Debug, Serialize, ToSchema)]
pub struct ItemsResult {
    /// Items whose description was written (new or changed).
    pub stored: usize,
    /// Items that already read exactly so.
    pub unchanged: usize,
    /// Items refused, by their index in the list.
    pub rejected: Vec<RejectedItem>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RejectedItem {
    pub index: usize,
    /// The item's `item_id` as sent, when there was one.
    pub item_id: Option<String>,
    pub error: ErrorDetail,
}

fn rejected(index: usize, item_id: Option<String>, r: crate::ingest::Rejection) -> RejectedItem {
    RejectedItem {
        index,
        item_id,
        error: ErrorDetail {
            code: r.code.to_owned(),
            message: r.message,
        },
    }
}

/// Describe items: a short plain-text prompt and the correct answer.
///
/// Each item is validated on its own: valid items are stored even when others are refused
/// (`rejected`, by index). Sending the same description again changes nothing. Items and
/// skills not seen before are created. An item's skill never changes
/// (`item_skill_mismatch`). An administrator's description is the district's: a tool token
/// (limited to some classes or not) never replaces it (`described_by_admin`); a tool's
/// description is replaced by the next one sent.
#[utoipa::path(tag = "ingestion",
    request_body = ItemCatalogue,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The list was read; see which items were refused", body = ItemsResult),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "A teacher's token", body = ErrorBody),
        (status = 413, description = "More than 1,000 items or 8 MiB", body = ErrorBody),
        (status = 422, description = "JSON, but not an object with an items array", body = ErrorBody),
    ))]
#[put("/api/v1/items")]
#[tracing::instrument(skip_all, fields(org = %caller.org))]
pub async fn put_items(
    caller: Caller,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    policy::may_describe_items(&caller)?;
    let by = match caller.role {
        Role::Admin => Describer::Admin,
        _ => Describer::Tool,
    };
    let body = super::params::read_body(payload, MAX_BODY_BYTES).await?;
    let body: Body = super::params::json(&body, "invalid_body", r#"{"items": [ … ]}"#)?;
    if body.items.len() > MAX_ITEMS {
        return Err(ApiError::too_large(
            "too_many_items",
            format!("at most {MAX_ITEMS} items per request: split the list"),
        ));
    }
    let mut result = ItemsResult {
        stored: 0,
        unchanged: 0,
        rejected: Vec::new(),
    };
    let mut valid = Vec::new();
    for (index, raw) in body.items.iter().enumerate() {
        match items::validate(raw) {
            Ok(d) => valid.push((index, d)),
            Err((sent, r)) => result.rejected.push(rejected(index, sent, r)),
        }
    }
    let (indexes, list): (Vec<usize>, Vec<items::Description>) = valid.into_iter().unzip();
    let ids: Vec<String> = list.iter().map(|d| d.item_id.clone()).collect();
    let org = caller.org.clone();
    let now = to_millis(Utc::now());
    let outcomes = state
        .db
        .write(crate::db::Changes::Entities, move |conn| {
            crate::store::items::describe(conn, &org, by, &list, now)
        })
        .await?;
    for ((index, id), outcome) in indexes.into_iter().zip(ids).zip(outcomes) {
        match outcome {
            Described::Stored => result.stored += 1,
            Described::Unchanged => result.unchanged += 1,
            Described::Refused(r) => result.rejected.push(rejected(index, Some(id), r)),
        }
    }
    result.rejected.sort_by_key(|r| r.index);
    Ok(HttpResponse::Ok().json(result))
}
