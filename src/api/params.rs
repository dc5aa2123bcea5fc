//! Query strings and JSON bodies read into our error shape (actix's own extractors answer
//! plain text on bad input).

use std::collections::HashMap;

use actix_web::{web, HttpRequest};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// The query string as pairs; a malformed one is a 400.
pub fn query(req: &HttpRequest) -> Result<HashMap<String, String>, ApiError> {
    web::Query::<HashMap<String, String>>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .map_err(|_| ApiError::bad_request("invalid_query", "the query string cannot be read"))
}

/// An optional whole number from the query, within `range`.
pub fn number(
    q: &HashMap<String, String>,
    name: &str,
    range: std::ops::RangeInclusive<usize>,
    code: &'static str,
) -> Result<Option<usize>, ApiError> {
    match q.get(name) {
        None => Ok(None),
        Some(v) => match v.trim().parse::<usize>() {
            Ok(n) if range.contains(&n) => Ok(Some(n)),
            _ => Err(ApiError::bad_request(
                code,
                format!(
                    "{name} must be a whole number from {} to {}",
                    range.start(),
                    range.end()
                ),
            )),
        },
    }
}

/// A JSON body: 400 `malformed_json` when it is not JSON, 422 `code` when it does not fit.
pub fn json<T: DeserializeOwned>(body: &[u8], code: &'static str) -> Result<T, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request("malformed_json", format!("the body is not valid JSON: {e}"))
    })?;
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            ApiError::unprocessable(code, format!("the body does not fit: {inner}"))
        } else {
            ApiError::unprocessable(code, format!("{path}: {inner}"))
        }
    })
}

/// An optional note: at most this many characters.
pub const MAX_NOTE_CHARS: usize = 2_000;

pub fn note(note: Option<String>) -> Result<Option<String>, ApiError> {
    let note = note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    if note
        .as_ref()
        .is_some_and(|n| n.chars().count() > MAX_NOTE_CHARS)
    {
        return Err(ApiError::unprocessable(
            "note_too_long",
            format!("a note is at most {MAX_NOTE_CHARS} characters"),
        ));
    }
    Ok(note)
}
