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
        ApiError::bad_request(
            "malformed_json",
            format!(
                "the body is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ),
        )
    })?;
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = without_values(&e.into_inner().to_string());
        if path == "." {
            ApiError::unprocessable(code, format!("the body does not fit: {inner}"))
        } else {
            ApiError::unprocessable(code, format!("{path}: {inner}"))
        }
    })
}

/// serde's message with the values it quotes left out (`invalid type: string "…"`): messages
/// reach the service log, and a value may be a student's id or a note.
fn without_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut quoted = false;
    for c in message.chars() {
        match c {
            '"' if quoted => {
                quoted = false;
                out.push_str("\"…\"");
            }
            '"' => quoted = true,
            _ if !quoted => out.push(c),
            _ => {}
        }
    }
    out
}

/// Free text a person typed (a note): line breaks and tabs, but no other control character
/// (no NUL, which PostgreSQL refuses, no terminal escapes).
pub fn is_plain_text(s: &str) -> bool {
    !s.chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
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
    if note.as_deref().is_some_and(|n| !is_plain_text(n)) {
        return Err(ApiError::unprocessable(
            "invalid_note",
            "a note cannot hold control characters",
        ));
    }
    Ok(note)
}

/// `?anonymise=true` (or `1`): stable labels instead of students' names.
pub fn anonymise(q: &HashMap<String, String>) -> bool {
    q.get("anonymise").is_some_and(|v| v == "true" || v == "1")
}

/// Checks a list of a class's students sent in a body (`field`): each listed once, each
/// enrolled in the class (`enrolled`, sorted). The messages give the position, not the id:
/// they reach the service log.
pub fn class_students(
    field: &str,
    students: &[String],
    enrolled: &[String],
    code: &'static str,
) -> Result<(), ApiError> {
    let mut seen = std::collections::BTreeSet::new();
    for (i, s) in students.iter().enumerate() {
        if !seen.insert(s) {
            return Err(ApiError::unprocessable(
                code,
                format!("{field}[{i}] is listed twice"),
            ));
        }
        if enrolled.binary_search(s).is_err() {
            return Err(ApiError::unprocessable(
                "unknown_student",
                format!("{field}[{i}] is not a student of this class"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_leave_quoted_values_out() {
        assert_eq!(
            without_values(r#"invalid type: string "stu-0042", expected a sequence"#),
            r#"invalid type: string "…", expected a sequence"#
        );
        assert_eq!(
            without_values("missing field `students`"),
            "missing field `students`"
        );
    }

    #[test]
    fn notes_keep_line_breaks_but_no_control_characters() {
        assert!(is_plain_text("two lines\nand a\ttab"));
        assert!(!is_plain_text("nul\u{0}"));
        assert!(!is_plain_text("\u{1b}[31mred"));
    }
}
