//! Items as a teacher reads them: the catalogue a tool or an administrator describes
//! (`PUT /api/v1/items`: a short plain-text prompt and the correct answer), the label of an
//! item nobody described ("question 14 of multiplication facts: the 9s", never "#014"), and
//! the example problems of a group or an insight with the most common wrong answers
//! ("7 × 8 — 4 of 6 answered 54").
//!
//! Pure Rust over plain data: the store reads the answers and the catalogue, the handlers
//! serialise what comes out.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::ToSchema;

use crate::ingest::{is_valid_id, Rejection};
use crate::insights::wording::{capitalise, skill_phrase};

/// A prompt is short: a problem as it fits on a card ("7 × 8", "1/3 + 1/4").
pub const MAX_PROMPT_CHARS: usize = 200;
/// The correct answer, and a student's answer (`response` of an event).
pub const MAX_ANSWER_CHARS: usize = 200;
/// Items one request may describe.
pub const MAX_ITEMS: usize = 1_000;
/// Wrong answers named per example.
const WRONG_ANSWERS_SHOWN: usize = 2;
/// A student's answer is clipped to this many characters inside a sentence.
const ANSWER_IN_SENTENCE: usize = 40;

/// Who described an item. An administrator's description is the district's: a tool (even
/// one limited to some classes) never changes it; a tool's description can be replaced by
/// the next tool's or an administrator's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Describer {
    Tool,
    Admin,
}

impl Describer {
    pub fn as_str(self) -> &'static str {
        match self {
            Describer::Tool => "tool",
            Describer::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "tool" => Some(Describer::Tool),
            "admin" => Some(Describer::Admin),
            _ => None,
        }
    }

    /// Whether this describer may replace a description `previous` wrote.
    pub fn may_replace(self, previous: Option<Describer>) -> bool {
        self == Describer::Admin || previous != Some(Describer::Admin)
    }
}

/// A validated item description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description {
    pub item_id: String,
    pub skill_id: String,
    pub prompt: String,
    pub answer: Option<String>,
}

/// An item description as sent; every field optional so that each problem gets its code.
#[derive(Deserialize)]
struct Wire {
    item_id: Option<String>,
    skill_id: Option<String>,
    prompt: Option<String>,
    answer: Option<String>,
}

/// Plain text: not blank, at most `max` characters, no control characters (no line breaks:
/// a prompt or an answer is one line on a card).
pub fn is_plain_text(value: &str, max: usize) -> bool {
    !value.trim().is_empty() && value.chars().count() <= max && !value.chars().any(char::is_control)
}

/// Validates one description of a request. On refusal, also gives back the `item_id` as sent
/// (when it was a string) so the tool can match the answer to its records.
pub fn validate(raw: &RawValue) -> Result<Description, (Option<String>, Rejection)> {
    let mut de = serde_json::Deserializer::from_str(raw.get());
    let wire: Wire = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let field = e.path().to_string();
        let rejection = if field == "." {
            Rejection::new("invalid_item", "each item must be a JSON object")
        } else {
            Rejection::new("invalid_type", format!("{field} must be a string"))
        };
        (item_id_of(raw), rejection)
    })?;
    let sent = wire.item_id.clone();
    check(wire).map_err(|r| (sent, r))
}

/// Best effort: the `item_id` of a description that failed to parse as a whole.
fn item_id_of(raw: &RawValue) -> Option<String> {
    #[derive(Deserialize)]
    struct IdOnly {
        item_id: Option<String>,
    }
    serde_json::from_str::<IdOnly>(raw.get())
        .ok()
        .and_then(|x| x.item_id)
}

fn check(w: Wire) -> Result<Description, Rejection> {
    let id = |value: Option<String>, field: &str, code: &'static str| {
        let value = value.ok_or_else(|| missing(field))?;
        if is_valid_id(&value) {
            Ok(value)
        } else {
            Err(Rejection::new(
                code,
                format!("{field} must be 1 to 128 characters of letters, digits and . _ : -"),
            ))
        }
    };
    let item_id = id(w.item_id, "item_id", "invalid_item_id")?;
    let skill_id = id(w.skill_id, "skill_id", "invalid_skill_id")?;
    let prompt = w.prompt.ok_or_else(|| missing("prompt"))?;
    if !is_plain_text(&prompt, MAX_PROMPT_CHARS) {
        return Err(Rejection::new(
            "invalid_prompt",
            format!("prompt must be 1 to {MAX_PROMPT_CHARS} characters of plain text, on one line"),
        ));
    }
    if let Some(answer) = &w.answer {
        if !is_plain_text(answer, MAX_ANSWER_CHARS) {
            return Err(Rejection::new(
                "invalid_answer",
                format!(
                    "answer must be 1 to {MAX_ANSWER_CHARS} characters of plain text, on one line"
                ),
            ));
        }
    }
    Ok(Description {
        item_id,
        skill_id,
        prompt,
        answer: w.answer,
    })
}

fn missing(field: &str) -> Rejection {
    Rejection::new("missing_field", format!("{field} is required"))
}

/// An item as a teacher can place it without a catalogue: "question 14 of multiplication
/// facts: the 9s" for `multiplication.facts-9:014` (the number an id ends with, without its
/// zeros), "a question of fractions (frac-a)" for an id without a number.
pub fn label(item_id: &str, skill_id: &str, skill_name: Option<&str>) -> String {
    let skill = skill_phrase(skill_name, skill_id);
    let rest = item_id
        .strip_prefix(skill_id)
        .and_then(|r| r.strip_prefix(':'))
        .unwrap_or(item_id);
    let digits = rest.len() - rest.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    match rest[rest.len() - digits..].trim_start_matches('0') {
        _ if digits == 0 => format!("a question of {skill} ({item_id})"),
        "" => format!("question 0 of {skill}"),
        number => format!("question {number} of {skill}"),
    }
}

/// What the catalogue says of an item.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Catalogued {
    pub prompt: Option<String>,
    pub answer: Option<String>,
}

/// A student's first answer to an item (first attempt), as the examples read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstAnswer {
    pub student_id: String,
    pub item_id: String,
    /// When (ms): the earliest one of a student on an item counts.
    pub at: i64,
    pub correct: bool,
    /// The answer as given, when the tool sent it.
    pub response: Option<String>,
}

/// A wrong answer and how many students gave it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct WrongAnswer {
    #[schema(example = "54")]
    pub response: String,
    pub students: u32,
}

/// An example problem of a group or an insight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Example {
    pub item_id: String,
    /// The problem as a teacher reads it: the catalogue's prompt, else the item's label.
    #[schema(example = "7 × 8")]
    pub problem: String,
    /// The correct answer, when the catalogue has it.
    #[schema(example = "56")]
    pub answer: Option<String>,
    /// Students (of those the example is about) who answered it, first tries only.
    pub answered: u32,
    /// Of them, those who got it wrong.
    pub wrong: u32,
    /// The most common wrong answers, most common first (when tools send answers).
    pub wrong_answers: Vec<WrongAnswer>,
    /// The example in one line.
    #[schema(example = "7 × 8 — 4 of 6 answered 54")]
    pub sentence: String,
}

/// The skill the examples are about, for the labels of items without a prompt.
pub struct SkillRef<'a> {
    pub skill_id: &'a str,
    pub name: Option<&'a str>,
}

/// Up to `limit` example problems from these students' first answers on one skill: the items
/// most of them got wrong (then the larger share, then the id), each with its most common
/// wrong answers.
pub fn examples(
    answers: &[FirstAnswer],
    students: &[String],
    catalogue: &HashMap<String, Catalogued>,
    skill: &SkillRef,
    limit: usize,
) -> Vec<Example> {
    // The earliest answer of each student on each item.
    let mut first: BTreeMap<(&str, &str), &FirstAnswer> = BTreeMap::new();
    for a in answers.iter().filter(|a| students.contains(&a.student_id)) {
        let e = first
            .entry((a.item_id.as_str(), a.student_id.as_str()))
            .or_insert(a);
        if a.at < e.at {
            *e = a;
        }
    }
    let mut by_item: BTreeMap<&str, Vec<&FirstAnswer>> = BTreeMap::new();
    for ((item, _), a) in first {
        by_item.entry(item).or_default().push(a);
    }
    let mut tallies: Vec<(&str, u32, u32, Vec<WrongAnswer>)> = by_item
        .into_iter()
        .map(|(item, list)| {
            let wrong: Vec<&&FirstAnswer> = list.iter().filter(|a| !a.correct).collect();
            let mut responses: BTreeMap<&str, u32> = BTreeMap::new();
            for a in &wrong {
                if let Some(r) = a.response.as_deref() {
                    *responses.entry(r).or_default() += 1;
                }
            }
            let mut common: Vec<WrongAnswer> = responses
                .into_iter()
                .map(|(response, students)| WrongAnswer {
                    response: response.to_owned(),
                    students,
                })
                .collect();
            common.sort_by_key(|w| std::cmp::Reverse(w.students));
            common.truncate(WRONG_ANSWERS_SHOWN);
            (item, list.len() as u32, wrong.len() as u32, common)
        })
        .filter(|(_, _, wrong, _)| *wrong > 0)
        .collect();
    // Most students wrong first, then the larger share wrong (fewer answered), then the id.
    tallies.sort_by(|a, b| b.2.cmp(&a.2).then(a.1.cmp(&b.1)).then(a.0.cmp(b.0)));
    tallies
        .into_iter()
        .take(limit)
        .map(|(item, answered, wrong, wrong_answers)| {
            let described = catalogue.get(item).cloned().unwrap_or_default();
            let problem = described
                .prompt
                .unwrap_or_else(|| capitalise(&label(item, skill.skill_id, skill.name)));
            let sentence = sentence(&problem, answered, wrong, &wrong_answers);
            Example {
                item_id: item.to_owned(),
                problem,
                answer: described.answer,
                answered,
                wrong,
                wrong_answers,
                sentence,
            }
        })
        .collect()
}

/// "7 × 8 — 4 of 6 answered 54, 1 answered 63"; without answers sent, "… — 4 of 6 got it
/// wrong".
fn sentence(problem: &str, answered: u32, wrong: u32, common: &[WrongAnswer]) -> String {
    let said = |w: &WrongAnswer| quoted(&w.response);
    match common {
        [] => format!("{problem} — {wrong} of {answered} got it wrong"),
        [top, rest @ ..] => {
            let mut s = format!(
                "{problem} — {} of {answered} answered {}",
                top.students,
                said(top)
            );
            for w in rest {
                s.push_str(&format!(", {} answered {}", w.students, said(w)));
            }
            s
        }
    }
}

/// A student's answer inside a sentence: as given when it is one word, else in quotes;
/// clipped when long.
fn quoted(response: &str) -> String {
    let clipped: String = if response.chars().count() > ANSWER_IN_SENTENCE {
        let head: String = response.chars().take(ANSWER_IN_SENTENCE - 1).collect();
        format!("{}…", head.trim_end())
    } else {
        response.to_owned()
    };
    if clipped.chars().any(char::is_whitespace) {
        format!("“{clipped}”")
    } else {
        clipped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(v: serde_json::Value) -> Box<RawValue> {
        serde_json::from_str(&v.to_string()).unwrap()
    }

    fn code(v: serde_json::Value) -> &'static str {
        validate(&raw(v)).unwrap_err().1.code
    }

    #[test]
    fn a_description_is_validated_field_by_field() {
        use serde_json::json;
        let ok = validate(&raw(
            json!({"item_id": "m7:008", "skill_id": "multiplication.facts-7",
            "prompt": "7 × 8", "answer": "56", "extra": true}),
        ))
        .unwrap();
        assert_eq!(
            (ok.prompt.as_str(), ok.answer.as_deref()),
            ("7 × 8", Some("56"))
        );
        let no_answer = validate(&raw(
            json!({"item_id": "a", "skill_id": "b", "prompt": "Read it."}),
        ));
        assert_eq!(no_answer.unwrap().answer, None);
        assert_eq!(
            code(json!({"skill_id": "b", "prompt": "p"})),
            "missing_field"
        );
        assert_eq!(
            code(json!({"item_id": "a", "prompt": "p"})),
            "missing_field"
        );
        assert_eq!(
            code(json!({"item_id": "a", "skill_id": "b"})),
            "missing_field"
        );
        assert_eq!(
            code(json!({"item_id": "a b", "skill_id": "b", "prompt": "p"})),
            "invalid_item_id"
        );
        assert_eq!(
            code(json!({"item_id": "a", "skill_id": "", "prompt": "p"})),
            "invalid_skill_id"
        );
        assert_eq!(
            code(json!({"item_id": "a", "skill_id": "b", "prompt": " "})),
            "invalid_prompt"
        );
        assert_eq!(
            code(json!({"item_id": "a", "skill_id": "b", "prompt": "7 ×\n8"})),
            "invalid_prompt"
        );
        assert_eq!(
            code(json!({"item_id": "a", "skill_id": "b", "prompt": "x".repeat(201)})),
            "invalid_prompt"
        );
        assert_eq!(
            code(json!({"item_id": "a", "skill_id": "b", "prompt": "p", "answer": "\u{1b}[31m"})),
            "invalid_answer"
        );
        assert_eq!(
            code(json!({"item_id": 5, "skill_id": "b", "prompt": "p"})),
            "invalid_type"
        );
        assert_eq!(code(json!(5)), "invalid_item");
        let (sent, _) = validate(&raw(
            json!({"item_id": "kept", "skill_id": "b", "prompt": 3}),
        ))
        .unwrap_err();
        assert_eq!(sent.as_deref(), Some("kept"));
    }

    #[test]
    fn the_edges_of_the_text_rules() {
        assert!(is_plain_text(&"é".repeat(200), 200));
        assert!(!is_plain_text(&"é".repeat(201), 200));
        assert!(is_plain_text("1/3 + 1/4 = ?", 200));
        assert!(!is_plain_text("a\tb", 200));
        assert!(!is_plain_text("", 200));
    }

    #[test]
    fn an_administrator_s_description_is_never_replaced_by_a_tool() {
        use Describer::*;
        assert!(Tool.may_replace(None));
        assert!(Tool.may_replace(Some(Tool)));
        assert!(!Tool.may_replace(Some(Admin)));
        assert!(Admin.may_replace(Some(Admin)));
        assert!(Admin.may_replace(Some(Tool)));
        assert_eq!(Describer::parse(Admin.as_str()), Some(Admin));
        assert_eq!(Describer::parse("teacher"), None);
    }

    #[test]
    fn an_item_without_a_prompt_reads_as_a_question_of_its_skill() {
        let nines = Some("Multiplication facts: the 9s");
        assert_eq!(
            label(
                "multiplication.facts-9:014",
                "multiplication.facts-9",
                nines
            ),
            "question 14 of multiplication facts: the 9s"
        );
        assert_eq!(
            label("frac-add-017", "fractions.add-unlike", None),
            "question 17 of fractions add unlike"
        );
        assert_eq!(
            label("q-000", "s", Some("Spelling")),
            "question 0 of spelling"
        );
        assert_eq!(
            label("frac-a", "fractions", Some("Fractions")),
            "a question of fractions (frac-a)"
        );
        // A skill id that itself ends in a number is not taken for the item's.
        assert_eq!(
            label("division.facts-6:003", "division.facts-6", None),
            "question 3 of division facts 6"
        );
    }

    fn answer(
        student: &str,
        item: &str,
        at: i64,
        correct: bool,
        response: Option<&str>,
    ) -> FirstAnswer {
        FirstAnswer {
            student_id: student.into(),
            item_id: item.into(),
            at,
            correct,
            response: response.map(Into::into),
        }
    }

    fn students(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("s{i}")).collect()
    }

    const SEVENS: SkillRef = SkillRef {
        skill_id: "multiplication.facts-7",
        name: Some("Multiplication facts: the 7s"),
    };

    #[test]
    fn the_most_common_wrong_answer_is_named() {
        let mut answers = vec![
            answer("s0", "m7:008", 1, false, Some("54")),
            answer("s1", "m7:008", 1, false, Some("54")),
            answer("s2", "m7:008", 1, false, Some("54")),
            answer("s3", "m7:008", 1, false, Some("54")),
            answer("s4", "m7:008", 1, true, Some("56")),
            answer("s5", "m7:008", 1, false, Some("63")),
            // A later answer of s0 does not count: first tries only.
            answer("s0", "m7:008", 9, true, Some("56")),
            // Someone outside the group does not count.
            answer("x9", "m7:008", 1, false, Some("1")),
        ];
        answers.push(answer("s0", "m7:003", 1, false, None));
        let catalogue = HashMap::from([(
            "m7:008".to_owned(),
            Catalogued {
                prompt: Some("7 × 8".into()),
                answer: Some("56".into()),
            },
        )]);
        let got = examples(&answers, &students(6), &catalogue, &SEVENS, 3);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].sentence, "7 × 8 — 4 of 6 answered 54, 1 answered 63");
        assert_eq!((got[0].answered, got[0].wrong), (6, 5));
        assert_eq!(got[0].answer.as_deref(), Some("56"));
        assert_eq!(
            got[1].sentence,
            "Question 3 of multiplication facts: the 7s — 1 of 1 got it wrong"
        );
        assert_eq!(got[1].answer, None);
    }

    #[test]
    fn items_everyone_got_right_are_no_example_and_the_limit_holds() {
        let mut answers = vec![answer("s0", "a:1", 1, true, None)];
        for (i, item) in ["a:2", "a:3", "a:4", "a:5"].iter().enumerate() {
            for s in 0..=i {
                answers.push(answer(&format!("s{s}"), item, 1, false, None));
            }
        }
        let got = examples(&answers, &students(6), &HashMap::new(), &SEVENS, 3);
        let ids: Vec<&str> = got.iter().map(|e| e.item_id.as_str()).collect();
        assert_eq!(ids, ["a:5", "a:4", "a:3"]);
        assert!(examples(&answers, &[], &HashMap::new(), &SEVENS, 3).is_empty());
    }

    #[test]
    fn long_answers_are_quoted_and_clipped() {
        assert_eq!(quoted("54"), "54");
        assert_eq!(quoted("the dog"), "“the dog”");
        let long = quoted(&"word ".repeat(20));
        assert!(long.chars().count() <= ANSWER_IN_SENTENCE + 2, "{long}");
        assert!(long.ends_with("…”"));
    }
}
