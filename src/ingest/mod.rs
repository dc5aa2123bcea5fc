//! Ingestion: the practice event, its validation rules and error codes, and batch preparation
//! (parsing, limits, deduplication inside the batch). Knows nothing of HTTP or SQL.

mod batch;
mod event;

pub use batch::{conflict, prepare, Batch, BatchError, Prepared, Rejected, MAX_BATCH_EVENTS};
pub use event::{
    domain_of, is_valid_id, validate, Event, Outcome, Rejection, ID_PATTERN, MAX_ID_LEN,
};
