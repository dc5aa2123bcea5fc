use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::ToSchema;
use uuid::Uuid;

/// How far in the future `occurred_at` may be (device clocks drift).
const MAX_FUTURE: TimeDelta = TimeDelta::minutes(5);
const MAX_RESPONSE_MS: i64 = 3_600_000;
/// The longest id (student, class, skill, item): 128 characters (contract).
pub const MAX_ID_LEN: usize = 128;
const MAX_LABEL_LEN: usize = 200;

/// One practice event (contract.md, "The practice event"), validated: what a tool sends, what
/// the store keeps and what knowledge tracing and the detectors read. Serialised in the shape
/// tools send it (the simulator writes it so).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[schema(
    as = PracticeEvent,
    description = "One practice event, as documented in contract.md. Unknown fields are ignored."
)]
pub struct Event {
    /// UUID chosen by the tool: the idempotency key.
    #[schema(value_type = String, example = "0b6e1c1e-6f0a-4c57-9a43-3f1f4d0e8c11")]
    pub event_id: Uuid,
    /// RFC 3339; at most 5 minutes in the future.
    // Kept to the millisecond, as stored.
    #[serde(serialize_with = "crate::util::serialize_rfc3339")]
    #[schema(value_type = String, example = "2026-11-20T09:15:03Z")]
    pub occurred_at: DateTime<Utc>,
    /// 1–128 characters of A-Za-z0-9._:- (also class_id, skill_id, item_id).
    #[schema(example = "stu-0042")]
    pub student_id: String,
    #[schema(example = "class-5b")]
    pub class_id: String,
    #[schema(example = "fractions.add-unlike")]
    pub skill_id: String,
    #[schema(example = "frac-add-017")]
    pub item_id: String,
    /// correct, incorrect or skipped.
    #[schema(value_type = String, example = "correct")]
    pub outcome: Outcome,
    /// At least 1; default 1.
    #[schema(value_type = Option<i32>, required = false)]
    pub attempt: i32,
    /// 0 to 3,600,000.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_ms: Option<i32>,
    /// At least 0; default 0.
    #[schema(value_type = Option<i32>, required = false)]
    pub hints_used: i32,
    /// Default false.
    #[schema(value_type = Option<bool>, required = false)]
    pub hint_bottom_out: bool,
    /// Else sessions are split at 30 minutes without activity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skill_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// The student's answer as given: at most 200 characters, one line, kept exactly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
}

/// How the student answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Correct,
    Incorrect,
    Skipped,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Correct => "correct",
            Outcome::Incorrect => "incorrect",
            Outcome::Skipped => "skipped",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "correct" => Some(Outcome::Correct),
            "incorrect" => Some(Outcome::Incorrect),
            "skipped" => Some(Outcome::Skipped),
            _ => None,
        }
    }
}

/// Why one event was refused: a stable code and a plain sentence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub code: &'static str,
    pub message: String,
}

impl Rejection {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Rejection {
            code,
            message: message.into(),
        }
    }
}

/// The event as sent, every field optional, so that each problem gets its own code.
/// Unknown fields are ignored: tools may send more than Huddle reads.
#[derive(Deserialize)]
struct Wire {
    event_id: Option<String>,
    occurred_at: Option<String>,
    student_id: Option<String>,
    class_id: Option<String>,
    skill_id: Option<String>,
    item_id: Option<String>,
    outcome: Option<String>,
    attempt: Option<i64>,
    response_ms: Option<i64>,
    hints_used: Option<i64>,
    hint_bottom_out: Option<bool>,
    session_id: Option<String>,
    skill_name: Option<String>,
    tool: Option<String>,
    response: Option<String>,
}

/// The part of a skill id before the first dot: "fractions" of "fractions.add-unlike".
pub fn domain_of(skill_id: &str) -> &str {
    skill_id.split('.').next().unwrap_or(skill_id)
}

/// Validates one event of a batch. On refusal, also gives back the `event_id` as sent (when it
/// was a string) so the tool can match the answer to its records.
pub fn validate(raw: &RawValue, now: DateTime<Utc>) -> Result<Event, (Option<String>, Rejection)> {
    let mut de = serde_json::Deserializer::from_str(raw.get());
    let wire: Wire = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let field = e.path().to_string();
        let rejection = if field == "." {
            Rejection::new("invalid_event", "each event must be a JSON object")
        } else {
            Rejection::new(
                "invalid_type",
                format!("{field} has the wrong type: {}", e.inner()),
            )
        };
        (event_id_of(raw), rejection)
    })?;
    let sent_id = wire.event_id.clone();
    check(wire, now).map_err(|r| (sent_id, r))
}

/// Best effort: the `event_id` of an event that failed to parse as a whole.
fn event_id_of(raw: &RawValue) -> Option<String> {
    #[derive(Deserialize)]
    struct IdOnly {
        event_id: Option<String>,
    }
    serde_json::from_str::<IdOnly>(raw.get())
        .ok()
        .and_then(|x| x.event_id)
}

fn check(w: Wire, now: DateTime<Utc>) -> Result<Event, Rejection> {
    let event_id = required(w.event_id, "event_id")?;
    let event_id = Uuid::parse_str(&event_id).map_err(|_| {
        Rejection::new(
            "invalid_event_id",
            format!("event_id must be a UUID, got {:?}", clip(&event_id)),
        )
    })?;
    if event_id.is_nil() {
        return Err(Rejection::new(
            "invalid_event_id",
            "event_id must be a random UUID, not the nil UUID",
        ));
    }

    let occurred_at = required(w.occurred_at, "occurred_at")?;
    let occurred_at = DateTime::parse_from_rfc3339(&occurred_at)
        .map_err(|_| {
            Rejection::new(
                "invalid_timestamp",
                format!(
                    "occurred_at must be an RFC 3339 time such as 2026-11-20T09:15:03Z, got {:?}",
                    clip(&occurred_at)
                ),
            )
        })?
        .with_timezone(&Utc)
        .trunc_subsecs(3);
    if occurred_at > now + MAX_FUTURE {
        return Err(Rejection::new(
            "future_timestamp",
            "occurred_at is more than 5 minutes in the future; check the device's clock",
        ));
    }

    let student_id = id(w.student_id, "student_id")?;
    let class_id = id(w.class_id, "class_id")?;
    let skill_id = id(w.skill_id, "skill_id")?;
    let item_id = id(w.item_id, "item_id")?;

    let outcome = required(w.outcome, "outcome")?;
    let outcome = Outcome::parse(&outcome).ok_or_else(|| {
        Rejection::new(
            "invalid_outcome",
            "outcome must be correct, incorrect or skipped",
        )
    })?;

    let attempt = match w.attempt {
        None => 1,
        Some(a) if (1..=i64::from(i32::MAX)).contains(&a) => a as i32,
        Some(_) => {
            return Err(Rejection::new(
                "invalid_attempt",
                "attempt must be a whole number of at least 1",
            ))
        }
    };
    let response_ms = match w.response_ms {
        None => None,
        Some(ms) if (0..=MAX_RESPONSE_MS).contains(&ms) => Some(ms as i32),
        Some(_) => {
            return Err(Rejection::new(
                "invalid_response_ms",
                "response_ms must be between 0 and 3600000 (one hour)",
            ))
        }
    };
    let hints_used = match w.hints_used {
        None => 0,
        Some(h) if (0..=i64::from(i32::MAX)).contains(&h) => h as i32,
        Some(_) => {
            return Err(Rejection::new(
                "invalid_hints_used",
                "hints_used must be a whole number of at least 0",
            ))
        }
    };

    Ok(Event {
        event_id,
        occurred_at,
        student_id,
        class_id,
        skill_id,
        item_id,
        outcome,
        attempt,
        response_ms,
        hints_used,
        hint_bottom_out: w.hint_bottom_out.unwrap_or(false),
        session_id: label(w.session_id, "session_id", MAX_ID_LEN)?,
        skill_name: label(w.skill_name, "skill_name", MAX_LABEL_LEN)?,
        tool: label(w.tool, "tool", MAX_ID_LEN)?,
        response: response(w.response)?,
    })
}

/// The student's answer: kept exactly as given (spaces too); blank is no answer; at most 200
/// characters on one line.
fn response(value: Option<String>) -> Result<Option<String>, Rejection> {
    match value {
        Some(v) if v.trim().is_empty() => Ok(None),
        Some(v) if !crate::items::is_plain_text(&v, crate::items::MAX_ANSWER_CHARS) => {
            Err(Rejection::new(
                "invalid_response",
                "response must be at most 200 characters, on one line (no control characters)",
            ))
        }
        v => Ok(v),
    }
}

fn required(value: Option<String>, field: &str) -> Result<String, Rejection> {
    value.ok_or_else(|| Rejection::new("missing_field", format!("{field} is required")))
}

/// [`is_valid_id`] as a regular expression (ECMA-262, the dialect of OpenAPI's `pattern`): the
/// API description gives it for every id in a path or a query string (`api::params::Id`).
pub const ID_PATTERN: &str = "^[A-Za-z0-9._:-]{1,128}$";

/// Ids (students, classes, skills, items) are 1–128 characters of `A-Za-z0-9._:-` (contract).
pub fn is_valid_id(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= MAX_ID_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

fn id(value: Option<String>, field: &'static str) -> Result<String, Rejection> {
    let value = required(value, field)?;
    if is_valid_id(&value) {
        Ok(value)
    } else {
        Err(Rejection::new(
            id_code(field),
            format!("{field} must be 1 to 128 characters of letters, digits and . _ : -"),
        ))
    }
}

fn id_code(field: &str) -> &'static str {
    match field {
        "student_id" => "invalid_student_id",
        "class_id" => "invalid_class_id",
        "skill_id" => "invalid_skill_id",
        _ => "invalid_item_id",
    }
}

/// Free-text labels: optional, not empty, bounded, no control characters.
fn label(value: Option<String>, field: &str, max: usize) -> Result<Option<String>, Rejection> {
    match value {
        None => Ok(None),
        Some(v)
            if !v.trim().is_empty()
                && v.chars().count() <= max
                && !v.chars().any(char::is_control) =>
        {
            Ok(Some(v))
        }
        Some(_) => Err(Rejection::new(
            "invalid_label",
            format!("{field} must be 1 to {max} characters, without control characters"),
        )),
    }
}

fn clip(s: &str) -> String {
    s.chars().take(60).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-11-20T10:00:00Z".parse().unwrap()
    }

    fn event(json: serde_json::Value) -> Result<Event, (Option<String>, Rejection)> {
        let text = json.to_string();
        let raw: Box<RawValue> = serde_json::from_str(&text).unwrap();
        validate(&raw, now())
    }

    fn valid() -> serde_json::Value {
        serde_json::json!({
            "event_id": "0b6e1c1e-6f0a-4c57-9a43-3f1f4d0e8c11",
            "occurred_at": "2026-11-20T09:15:03.123456Z",
            "student_id": "stu-0042", "class_id": "class-5b",
            "skill_id": "fractions.add-unlike", "item_id": "frac-add-017",
            "outcome": "correct", "response_ms": 5400, "future_field": [1, 2]
        })
    }

    fn code_for(patch: serde_json::Value) -> &'static str {
        let mut v = valid();
        for (k, val) in patch.as_object().unwrap() {
            if val.is_null() {
                v.as_object_mut().unwrap().remove(k);
            } else {
                v[k] = val.clone();
            }
        }
        event(v).unwrap_err().1.code
    }

    #[test]
    fn a_valid_event_gets_defaults_and_millisecond_time() {
        let e = event(valid()).unwrap();
        assert_eq!(e.attempt, 1);
        assert_eq!(e.hints_used, 0);
        assert!(!e.hint_bottom_out);
        assert_eq!(e.occurred_at.timestamp_subsec_millis(), 123);
        assert_eq!(e.occurred_at.timestamp_subsec_nanos(), 123_000_000);
        assert_eq!(e.response_ms, Some(5400));
        assert_eq!(e.response, None);
    }

    #[test]
    fn a_response_is_kept_exactly_and_a_blank_one_is_none() {
        let mut v = valid();
        v["response"] = " 7/12 ".into();
        assert_eq!(
            event(v.clone()).unwrap().response.as_deref(),
            Some(" 7/12 ")
        );
        v["response"] = "é".repeat(200).into();
        assert_eq!(
            event(v.clone())
                .unwrap()
                .response
                .map(|r| r.chars().count()),
            Some(200)
        );
        v["response"] = "  ".into();
        assert_eq!(event(v).unwrap().response, None);
    }

    #[test]
    fn each_problem_has_its_code() {
        use serde_json::json;
        assert_eq!(code_for(json!({"event_id": null})), "missing_field");
        assert_eq!(code_for(json!({"event_id": "nope"})), "invalid_event_id");
        assert_eq!(
            code_for(json!({"occurred_at": "yesterday"})),
            "invalid_timestamp"
        );
        assert_eq!(
            code_for(json!({"occurred_at": "2026-11-20T10:06:00Z"})),
            "future_timestamp"
        );
        assert_eq!(code_for(json!({"student_id": "a b"})), "invalid_student_id");
        assert_eq!(code_for(json!({"class_id": ""})), "invalid_class_id");
        assert_eq!(
            code_for(json!({"skill_id": "x".repeat(129)})),
            "invalid_skill_id"
        );
        assert_eq!(code_for(json!({"item_id": "é"})), "invalid_item_id");
        assert_eq!(code_for(json!({"outcome": "right"})), "invalid_outcome");
        assert_eq!(code_for(json!({"attempt": 0})), "invalid_attempt");
        assert_eq!(
            code_for(json!({"response_ms": 3_600_001})),
            "invalid_response_ms"
        );
        assert_eq!(code_for(json!({"response_ms": -1})), "invalid_response_ms");
        assert_eq!(code_for(json!({"hints_used": -2})), "invalid_hints_used");
        assert_eq!(code_for(json!({"response_ms": "fast"})), "invalid_type");
        assert_eq!(code_for(json!({"session_id": "\u{7}"})), "invalid_label");
        assert_eq!(
            code_for(json!({"response": "x".repeat(201)})),
            "invalid_response"
        );
        assert_eq!(code_for(json!({"response": "5\r4"})), "invalid_response");
        assert_eq!(code_for(json!({"response": 54})), "invalid_type");
    }

    #[test]
    fn the_edges_of_the_ranges_are_valid() {
        let mut v = valid();
        v["occurred_at"] = "2026-11-20T10:05:00Z".into();
        v["response_ms"] = 3_600_000.into();
        v["item_id"] = "A-z_0.9:x"
            .repeat(14)
            .chars()
            .take(128)
            .collect::<String>()
            .into();
        assert!(event(v).is_ok());
    }

    #[test]
    fn a_non_object_is_an_invalid_event_and_the_id_is_kept_when_it_can_be() {
        let (id, r) = event(serde_json::json!(5)).unwrap_err();
        assert_eq!((id, r.code), (None, "invalid_event"));
        let mut v = valid();
        v["outcome"] = "maybe".into();
        let (id, _) = event(v).unwrap_err();
        assert_eq!(id.as_deref(), Some("0b6e1c1e-6f0a-4c57-9a43-3f1f4d0e8c11"));
    }

    #[test]
    fn the_domain_is_the_part_before_the_first_dot() {
        assert_eq!(domain_of("fractions.add-unlike"), "fractions");
        assert_eq!(domain_of("reading.main-idea.grade3"), "reading");
        assert_eq!(domain_of("spelling"), "spelling");
    }
}
