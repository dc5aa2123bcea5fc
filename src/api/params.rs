//! What a request carries, read into typed values or our error shape: the body (one reader,
//! one JSON parser) and the query string (the [`Query`] extractor).
//!
//! One rule for every message: it names the field or the position at fault and what was
//! expected, never the value sent, and never serde's own text (which quotes values: a student's
//! id, a name, a password). Messages reach the service log.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use utoipa::openapi::path::ParameterIn;
use utoipa::IntoParams;

use crate::error::ApiError;

/// Reads a request body of at most `limit` bytes: 413 `payload_too_large` beyond it, 408 when
/// it did not arrive in time (`guard`), else 400 when it could not be read.
pub async fn read_body(payload: web::Payload, limit: usize) -> Result<web::Bytes, ApiError> {
    payload
        .to_bytes_limited(limit)
        .await
        .map_err(|_| {
            ApiError::too_large(
                "payload_too_large",
                format!("the body is larger than {}", size(limit)),
            )
        })?
        .map_err(unreadable)
}

/// A limit as people read it: "8 MiB", "16 KiB".
fn size(bytes: usize) -> String {
    const KIB: usize = 1024;
    const MIB: usize = 1024 * KIB;
    match bytes {
        b if b >= MIB && b % MIB == 0 => format!("{} MiB", b / MIB),
        b if b >= KIB && b % KIB == 0 => format!("{} KiB", b / KIB),
        b => format!("{b} bytes"),
    }
}

/// A body that could not be read: 408 when it did not arrive in time, else 400.
fn unreadable(e: actix_web::Error) -> ApiError {
    if e.as_error::<actix_web::error::PayloadError>()
        .is_some_and(crate::guard::timed_out)
    {
        crate::guard::body_timeout()
    } else {
        ApiError::bad_request("unreadable_body", "the body could not be read")
    }
}

/// A JSON body: 400 `malformed_json` when it is not JSON, 422 `code` when it is JSON of
/// another shape than `shape` (which the message shows, with where it differs).
pub fn json<T: DeserializeOwned>(
    body: &[u8],
    code: &'static str,
    shape: &str,
) -> Result<T, ApiError> {
    let malformed = |e: &serde_json::Error| {
        ApiError::bad_request(
            "malformed_json",
            format!(
                "the body is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ),
        )
    };
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let e = e.into_inner();
        if e.classify() != serde_json::error::Category::Data {
            return malformed(&e);
        }
        let at = if path == "." {
            format!("line {}, column {}", e.line(), e.column())
        } else {
            format!("at {path}")
        };
        ApiError::unprocessable(code, format!("the body must look like {shape} ({at})"))
    })?;
    // Anything after the value (`{} x`) is not JSON either.
    de.end().map_err(|e| malformed(&e))?;
    Ok(value)
}

/// A query string read into `T`, whose fields say what each parameter may be. A value that
/// does not fit is a 400 with `T::code(field)` and the parameter's documented description as
/// the message (the same words as the OpenAPI document). Parameters `T` does not name are
/// ignored, so several of these may read one query string.
pub struct Query<T>(pub T);

impl<T> std::ops::Deref for Query<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// The parameters of a query string (see [`Query`]).
pub trait QueryParams: DeserializeOwned + IntoParams {
    /// The code of the 400 answered when `field` does not fit.
    fn code(field: &str) -> &'static str {
        let _ = field;
        "invalid_query"
    }
}

impl<T: QueryParams> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(query(req.query_string()).map(Query))
    }
}

/// Reads `query` (without the `?`) into `T` (see [`Query`]).
pub fn query<T: QueryParams>(query: &str) -> Result<T, ApiError> {
    let pairs = form_urlencoded::parse(query.as_bytes());
    serde_path_to_error::deserialize(serde_urlencoded::Deserializer::new(pairs)).map_err(|e| {
        let params = T::into_params(|| Some(ParameterIn::Query));
        let known = |name: &str| params.iter().find(|p| p.name == name);
        let field = e.path().to_string();
        if let Some(param) = known(&field) {
            let rule = param.description.as_deref().unwrap_or("see /openapi.json");
            return ApiError::bad_request(T::code(&field), format!("{field}: {rule}"));
        }
        // serde names no field when one is given twice.
        let mut seen = std::collections::HashSet::new();
        let repeated = form_urlencoded::parse(query.as_bytes())
            .map(|(name, _)| name)
            .find(|name| known(name).is_some() && !seen.insert(name.clone()));
        match repeated {
            Some(field) => {
                ApiError::bad_request(T::code(&field), format!("{field} is given more than once"))
            }
            None => ApiError::bad_request("invalid_query", "the query string cannot be read"),
        }
    })
}

/// A whole number from `MIN` to `MAX` in a query string (surrounding spaces allowed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Whole<const MIN: usize, const MAX: usize>(usize);

impl<const MIN: usize, const MAX: usize> Whole<MIN, MAX> {
    pub fn get(self) -> usize {
        self.0
    }
}

impl<'de, const MIN: usize, const MAX: usize> Deserialize<'de> for Whole<MIN, MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(d)?;
        text.trim()
            .parse()
            .ok()
            .filter(|n| (MIN..=MAX).contains(n))
            .map(Whole)
            .ok_or_else(|| D::Error::custom(format!("not a whole number from {MIN} to {MAX}")))
    }
}

/// A yes or no in a query string: `true` or `1`, `false` or `0`; absent is no.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flag(pub bool);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match &*std::borrow::Cow::<str>::deserialize(d)? {
            "true" | "1" => Ok(Flag(true)),
            "false" | "0" => Ok(Flag(false)),
            _ => Err(D::Error::custom("not true, false, 1 or 0")),
        }
    }
}

/// `?anonymise=true`: stable labels instead of students' names, for projecting a page on a
/// classroom screen. Every page that shows names reads it.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NamesQuery {
    /// `true` (or `1`): stable labels ("Student K7Q") instead of names.
    #[serde(default)]
    #[param(value_type = Option<bool>)]
    anonymise: Flag,
}

impl QueryParams for NamesQuery {}

impl NamesQuery {
    pub fn anonymise(&self) -> bool {
        self.anonymise.0
    }
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

/// An id in a path or a query string, as the API description gives it (`inline(Id)` in a
/// handler's `params`): a student, class, skill, item, plan, insight or job id, the pattern and
/// the length of [`crate::ingest::is_valid_id`]. Every id stored keeps that rule (ingest and
/// the roster check it; plans, insights and jobs are given such ids), so the handlers check
/// nothing more: another id is answered as any unknown one.
pub struct Id;

impl utoipa::PartialSchema for Id {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        id_schema(
            crate::ingest::ID_PATTERN,
            Some(crate::ingest::MAX_ID_LEN),
            "1 to 128 characters of letters, digits and . _ : -",
        )
    }
}

impl utoipa::ToSchema for Id {}

/// A review item's id, as `GET /api/v1/reviews` gives it (`inline(ReviewId)`): the shape of
/// [`crate::insights::reviews::review_id`]'s ids.
pub struct ReviewId;

impl utoipa::PartialSchema for ReviewId {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        id_schema(
            crate::insights::reviews::REVIEW_ID_PATTERN,
            None,
            "rv-, then the item's kind, student id and skill id in hex, separated by -",
        )
    }
}

impl utoipa::ToSchema for ReviewId {}

fn id_schema(
    pattern: &str,
    max_length: Option<usize>,
    description: &str,
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .min_length(Some(1))
        .max_length(max_length)
        .pattern(Some(pattern))
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, IntoParams)]
    #[into_params(parameter_in = Query)]
    struct Paging {
        /// At most this many (1–100).
        #[param(value_type = Option<usize>)]
        limit: Option<Whole<1, 100>>,
        /// Only these.
        kind: Option<String>,
        #[serde(default)]
        #[param(value_type = Option<bool>)]
        anonymise: Flag,
    }

    impl QueryParams for Paging {
        fn code(field: &str) -> &'static str {
            match field {
                "limit" => "invalid_limit",
                _ => "invalid_query",
            }
        }
    }

    fn refused<T: QueryParams + std::fmt::Debug>(q: &str) -> ApiError {
        query::<T>(q).expect_err(q)
    }

    #[test]
    fn queries_read_typed_values_and_ignore_other_parameters() {
        let p: Paging = query("limit=%2012%20&kind=a%20b&other=x&anonymise=1").expect("read");
        assert_eq!(p.limit.map(Whole::get), Some(12));
        assert_eq!(p.kind.as_deref(), Some("a b"));
        assert!(p.anonymise.0);
        let none: Paging = query("").expect("read");
        assert!(none.limit.is_none() && !none.anonymise.0);
        for (q, yes) in [
            ("anonymise=true", true),
            ("anonymise=1", true),
            ("anonymise=false", false),
            ("anonymise=0", false),
        ] {
            assert_eq!(query::<NamesQuery>(q).expect(q).anonymise(), yes, "{q}");
        }
    }

    #[test]
    fn a_bad_value_names_its_field_and_rule_never_the_value() {
        for q in [
            "limit=0",
            "limit=101",
            "limit=lots",
            "limit=-1",
            "kind=x&limit=1.5",
        ] {
            let e = refused::<Paging>(q);
            assert_eq!(e.code(), "invalid_limit", "{q}");
            assert_eq!(e.to_string(), "limit: At most this many (1–100).", "{q}");
        }
        let e = refused::<Paging>("limit=1&other=1&other=2&limit=2");
        assert_eq!(e.code(), "invalid_limit");
        assert_eq!(e.to_string(), "limit is given more than once");
        for q in ["anonymise=maybe", "anonymise=", "anonymise=TRUE"] {
            let e = refused::<NamesQuery>(q);
            assert_eq!(e.code(), "invalid_query", "{q}");
            assert!(e.to_string().starts_with("anonymise: "), "{e}");
            assert!(!e.to_string().contains("maybe"));
        }
    }

    #[derive(Debug, Deserialize)]
    struct Note {
        #[allow(dead_code)]
        students: Vec<String>,
    }

    #[test]
    fn json_bodies_say_where_they_differ_never_what_was_sent() {
        let shape = r#"{"students": ["…"]}"#;
        let e = json::<Note>(br#"{"students": "stu-0042"}"#, "invalid_plan", shape).unwrap_err();
        assert_eq!(e.code(), "invalid_plan");
        assert_eq!(
            e.to_string(),
            r#"the body must look like {"students": ["…"]} (at students)"#
        );
        let e = json::<Note>(br#"{"students": ["a", 7]}"#, "invalid_plan", shape).unwrap_err();
        assert!(e.to_string().ends_with("(at students[1])"), "{e}");
        let e = json::<Note>(br#"{"other": "Zora"}"#, "invalid_plan", shape).unwrap_err();
        assert!(!e.to_string().contains("Zora"), "{e}");
        for malformed in [&b"{\"students\": ["[..], b"", b"{\"students\": []} x"] {
            let e = json::<Note>(malformed, "invalid_plan", shape).unwrap_err();
            assert_eq!(e.code(), "malformed_json");
        }
        assert_eq!(size(8 * 1024 * 1024), "8 MiB");
        assert_eq!(size(16 * 1024), "16 KiB");
    }

    #[test]
    fn notes_keep_line_breaks_but_no_control_characters() {
        assert!(is_plain_text("two lines\nand a\ttab"));
        assert!(!is_plain_text("nul\u{0}"));
        assert!(!is_plain_text("\u{1b}[31mred"));
    }
}
