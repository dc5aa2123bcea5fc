//! Pure privacy helpers: the anonymised labels shown instead of names (`?anonymise=true`, for
//! projecting a class on a screen) and the retention cut-off.

use crate::ingest::is_valid_id;
use sha2::{Digest, Sha256};

/// Letters and digits that cannot be mistaken for one another on a projected screen.
const ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// A stable label for a student, e.g. "Student K7Q": the same for the same student of the same
/// organisation every time, derived from neither name nor initials (which could identify), and
/// not reversible to the id. Collisions within a class are rare (1 in 32,768 per pair).
pub fn anonymised_label(org: &str, student_id: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(org.as_bytes());
    hasher.update([0u8]);
    hasher.update(student_id.as_bytes());
    let digest = hasher.finalize();
    let code: String = digest[..3]
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(b % 32)]))
        .collect();
    format!("Student {code}")
}

/// What a read shows as a student's name: their anonymised label in anonymised mode, else the
/// roster's display name if there is one.
pub fn shown_name(
    org: &str,
    student_id: &str,
    display_name: Option<&str>,
    anonymise: bool,
) -> Option<String> {
    if anonymise {
        Some(anonymised_label(org, student_id))
    } else {
        display_name.map(str::to_owned)
    }
}

/// Events that occurred before this time (ms) are purged when keeping `days` days.
pub fn retention_cutoff(now_ms: i64, days: u32) -> i64 {
    now_ms - i64::from(days) * crate::util::DAY_MS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_stable_distinct_and_hide_the_id() {
        let a = anonymised_label("o", "stu-0042");
        assert_eq!(a, anonymised_label("o", "stu-0042"));
        assert!(a.starts_with("Student ") && a.len() == "Student ".len() + 3);
        assert!(!a.contains("0042"));
        assert_ne!(a, anonymised_label("o2", "stu-0042"), "per organisation");
        let labels: std::collections::HashSet<String> = (0..30)
            .map(|i| anonymised_label("o", &format!("stu-{i:04}")))
            .collect();
        assert!(labels.len() >= 29, "a class rarely shares a label");
    }

    #[test]
    fn names_show_only_outside_anonymised_mode() {
        assert_eq!(
            shown_name("o", "s", Some("Maya"), false).as_deref(),
            Some("Maya")
        );
        assert_eq!(shown_name("o", "s", None, false), None);
        let anon = shown_name("o", "s", Some("Maya"), true).unwrap();
        assert!(!anon.contains("Maya"));
    }

    #[test]
    fn the_cutoff_is_n_days_back() {
        assert_eq!(retention_cutoff(10 * 86_400_000, 3), 7 * 86_400_000);
    }
}

/// The most students one roster upload may name.
pub const MAX_ROSTER_ROWS: usize = 100_000;
const MAX_NAME_CHARS: usize = 200;

/// A roster line refused, with its line (CSV, counting the header as 1) or index (JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterError(pub String);

#[derive(serde::Deserialize)]
struct RosterLine {
    student_id: Option<String>,
    #[serde(alias = "name")]
    display_name: Option<String>,
    class_id: Option<String>,
    group: Option<String>,
    /// Puts the line's class in this school (created when new).
    school_id: Option<String>,
    school_name: Option<String>,
}

#[derive(serde::Deserialize)]
struct RosterJson {
    students: Vec<RosterLine>,
}

fn check_line(
    line: RosterLine,
    at: &str,
) -> Result<crate::store::privacy::RosterEntry, RosterError> {
    let blank = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let student_id = blank(line.student_id)
        .ok_or_else(|| RosterError(format!("{at}: student_id is required")))?;
    if !is_valid_id(&student_id) {
        return Err(RosterError(format!(
            "{at}: student_id must be 1 to 128 characters of letters, digits and . _ : -"
        )));
    }
    let class_id = blank(line.class_id);
    if class_id.as_deref().is_some_and(|c| !is_valid_id(c)) {
        return Err(RosterError(format!(
            "{at}: class_id must be 1 to 128 characters of letters, digits and . _ : -"
        )));
    }
    let school_id = blank(line.school_id);
    if let Some(school) = &school_id {
        if !is_valid_id(school) {
            return Err(RosterError(format!(
                "{at}: school_id must be 1 to 128 characters of letters, digits and . _ : -"
            )));
        }
        if class_id.is_none() {
            return Err(RosterError(format!(
                "{at}: school_id needs a class_id (a school holds classes)"
            )));
        }
    }
    for (field, value) in [
        ("display_name", &line.display_name),
        ("group", &line.group),
        ("school_name", &line.school_name),
    ] {
        if let Some(v) = value {
            if v.chars().count() > MAX_NAME_CHARS || v.chars().any(char::is_control) {
                return Err(RosterError(format!(
                    "{at}: {field} must be at most {MAX_NAME_CHARS} characters, without control characters"
                )));
            }
        }
    }
    Ok(crate::store::privacy::RosterEntry {
        student_id,
        display_name: line.display_name,
        class_id,
        group: line.group,
        school_name: blank(line.school_name).filter(|_| school_id.is_some()),
        school_id,
    })
}

/// Reads a roster: JSON `{"students": [{"student_id", "display_name"?, "class_id"?, "group"?}]}`
/// or CSV with a header naming those columns (any order; `name` for `display_name`; other
/// columns ignored). All or nothing: the first bad line refuses the upload.
pub fn parse_roster(
    body: &[u8],
    csv: bool,
) -> Result<Vec<crate::store::privacy::RosterEntry>, RosterError> {
    let lines: Vec<(String, RosterLine)> = if csv {
        let mut reader = ::csv::ReaderBuilder::new()
            .trim(::csv::Trim::All)
            .from_reader(body);
        let headers = reader
            .headers()
            .map_err(|e| RosterError(format!("the CSV header could not be read: {e}")))?
            .clone();
        if !headers.iter().any(|h| h == "student_id") {
            return Err(RosterError(
                "the CSV header must name a student_id column".into(),
            ));
        }
        let mut out = Vec::new();
        for (i, record) in reader.records().enumerate() {
            let at = format!("line {}", i + 2);
            // csv's own message names the position and field counts, never a value.
            let record = record.map_err(|e| RosterError(format!("{at}: {e}")))?;
            let line: RosterLine = record
                .deserialize(Some(&headers))
                .map_err(|_| RosterError(format!("{at} could not be read")))?;
            out.push((at, line));
            if out.len() > MAX_ROSTER_ROWS {
                break;
            }
        }
        out
    } else {
        // The position only: serde's text can quote a value (a name) into the log.
        let json: RosterJson = serde_json::from_slice(body).map_err(|e| {
            RosterError(format!(
                "the body must be {{\"students\": [{{\"student_id\", \"display_name\", \"class_id\", \"group\"}}]}} with text values (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        json.students
            .into_iter()
            .enumerate()
            .map(|(i, l)| (format!("students[{i}]"), l))
            .collect()
    };
    if lines.len() > MAX_ROSTER_ROWS {
        return Err(RosterError(format!(
            "a roster upload may name at most {MAX_ROSTER_ROWS} students: split it"
        )));
    }
    lines
        .into_iter()
        .map(|(at, line)| check_line(line, &at))
        .collect()
}

#[cfg(test)]
mod roster_tests {
    use super::*;

    #[test]
    fn csv_and_json_rosters_read_the_same() {
        let csv = b"class_id,student_id,name,group,extra\nc1,stu-1,Maya Lopez,g1,x\n,stu-2,,,\n";
        let json = br#"{"students": [
            {"student_id": "stu-1", "display_name": "Maya Lopez", "class_id": "c1", "group": "g1"},
            {"student_id": "stu-2"}]}"#;
        let a = parse_roster(csv, true).unwrap();
        let b = parse_roster(json, false).unwrap();
        assert_eq!(a[0], b[0]);
        assert_eq!(a[1].student_id, "stu-2");
        assert_eq!(a[1].class_id, None);
        assert_eq!(b[1].display_name, None);
    }

    #[test]
    fn bad_lines_are_named() {
        let err = parse_roster(b"student_id,name\nok-1,A\nnot ok,B\n", true).unwrap_err();
        assert!(err.0.contains("line 3"), "{}", err.0);
        assert!(parse_roster(b"name\nA\n", true).is_err());
        let err = parse_roster(br#"{"students": [{"display_name": "x"}]}"#, false).unwrap_err();
        assert!(err.0.contains("students[0]"), "{}", err.0);
        assert!(parse_roster(b"{\"students\": 3}", false).is_err());
        assert!(parse_roster(b"student_id,name\ns1,\"bad\x07\"\n", true).is_err());
    }
}
