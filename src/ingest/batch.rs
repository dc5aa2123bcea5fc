use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;
use utoipa::ToSchema;
use uuid::Uuid;

use super::event::{validate, Event, Rejection};

/// The most events one batch may carry (contract).
pub const MAX_BATCH_EVENTS: usize = 5_000;

/// A batch that cannot be read at all; each is answered with its own status.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    #[error("the body is not valid JSON: {0}")]
    Malformed(String),
    #[error("the body must be a JSON object with an \"events\" array")]
    NotABatch,
    #[error("a batch may carry at most {MAX_BATCH_EVENTS} events; this one has {0}: split it")]
    TooMany(usize),
}

/// An event refused, by its position in the batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejected {
    pub index: usize,
    pub event_id: Option<String>,
    pub rejection: Rejection,
}

/// A batch ready to store: the valid events (first occurrence of each id), what was refused,
/// and how many repeated an earlier event of the same batch.
#[derive(Debug, Default)]
pub struct Prepared {
    pub events: Vec<(usize, Event)>,
    pub rejected: Vec<Rejected>,
    pub duplicates: usize,
}

/// A batch of practice events as sent.
// The events stay unread here, so that each is validated on its own (and the tools of refused
// ones can be read for the reports: `reports::facts`).
#[derive(Deserialize, ToSchema)]
#[schema(as = EventBatch)]
pub struct Batch<'a> {
    /// At most 5,000 events; the body at most 8 MiB.
    #[serde(borrow)]
    #[schema(value_type = Vec<Event>)]
    pub events: Vec<&'a RawValue>,
}

/// Parses and validates a batch body. Events are checked one by one: a bad event never
/// costs its neighbours their place.
pub fn prepare(body: &[u8], now: DateTime<Utc>) -> Result<Prepared, BatchError> {
    let batch: Batch = serde_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => BatchError::NotABatch,
        _ => BatchError::Malformed(e.to_string()),
    })?;
    if batch.events.len() > MAX_BATCH_EVENTS {
        return Err(BatchError::TooMany(batch.events.len()));
    }

    let mut prepared = Prepared::default();
    let mut seen: HashMap<Uuid, usize> = HashMap::with_capacity(batch.events.len());
    for (index, raw) in batch.events.into_iter().enumerate() {
        match validate(raw, now) {
            Ok(event) => match seen.get(&event.event_id) {
                None => {
                    seen.insert(event.event_id, prepared.events.len());
                    prepared.events.push((index, event));
                }
                Some(&first) if prepared.events[first].1 == event => prepared.duplicates += 1,
                Some(_) => prepared.rejected.push(Rejected {
                    index,
                    event_id: Some(event.event_id.to_string()),
                    rejection: conflict(),
                }),
            },
            Err((event_id, rejection)) => prepared.rejected.push(Rejected {
                index,
                event_id,
                rejection,
            }),
        }
    }
    Ok(prepared)
}

/// The same id with other content: the tool has a bug, or reused an id.
pub fn conflict() -> Rejection {
    Rejection::new(
        "event_id_conflict",
        "an event with this event_id was already received with different content",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        "2026-11-20T10:00:00Z".parse().unwrap()
    }

    fn ev(id: &str, outcome: &str) -> serde_json::Value {
        json!({"event_id": id, "occurred_at": "2026-11-20T09:00:00Z", "student_id": "s1",
               "class_id": "c1", "skill_id": "k.a", "item_id": "i1", "outcome": outcome})
    }

    const A: &str = "00000000-0000-4000-8000-000000000001";
    const B: &str = "00000000-0000-4000-8000-000000000002";

    #[test]
    fn bad_events_do_not_cost_good_ones_and_repeats_are_sorted_out() {
        let body = json!({"events": [ev(A, "correct"), ev(B, "nope"), ev(A, "correct"),
                                     ev(A, "incorrect"), ev(B, "skipped")]});
        let p = prepare(body.to_string().as_bytes(), now()).unwrap();
        let kept: Vec<usize> = p.events.iter().map(|(i, _)| *i).collect();
        assert_eq!(kept, vec![0, 4]);
        assert_eq!(p.duplicates, 1);
        let codes: Vec<(usize, &str)> = p
            .rejected
            .iter()
            .map(|r| (r.index, r.rejection.code))
            .collect();
        assert_eq!(
            codes,
            vec![(1, "invalid_outcome"), (3, "event_id_conflict")]
        );
    }

    #[test]
    fn the_batch_itself_must_be_an_object_with_events() {
        assert!(matches!(
            prepare(b"{\"events\": [", now()),
            Err(BatchError::Malformed(_))
        ));
        assert_eq!(prepare(b"[]", now()).unwrap_err(), BatchError::NotABatch);
        assert_eq!(
            prepare(b"{\"events\": 3}", now()).unwrap_err(),
            BatchError::NotABatch
        );
        assert_eq!(prepare(b"{}", now()).unwrap_err(), BatchError::NotABatch);
        let too_many = json!({"events": vec![json!({}); MAX_BATCH_EVENTS + 1]});
        assert_eq!(
            prepare(too_many.to_string().as_bytes(), now()).unwrap_err(),
            BatchError::TooMany(MAX_BATCH_EVENTS + 1)
        );
    }
}
