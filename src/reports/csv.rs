//! CSV of the reports: one table per section of a report, same figures and names as the JSON.

use super::adoption::{Adoption, Figures};
use super::data_quality::{DataQuality, ToolRow};

/// The sections a report has, the first the default.
pub const ADOPTION_SECTIONS: [&str; 3] = ["weeks", "schools", "classes"];
pub const DATA_QUALITY_SECTIONS: [&str; 3] = ["tools", "rejections", "skills"];

const FIGURES: [&str; 15] = [
    "active_students",
    "active_teachers",
    "events",
    "practice_minutes",
    "practice_ms",
    "timed_events",
    "enrolled",
    "enrolled_practising",
    "share_practising",
    "teacher_views",
    "insights_viewed",
    "reviews_decided",
    "checkins",
    "enrolled_checked_in",
    "share_checked_in",
];

fn figures(f: &Figures) -> Vec<String> {
    vec![
        f.active_students.to_string(),
        f.active_teachers.to_string(),
        f.events.to_string(),
        f.practice_minutes.to_string(),
        f.practice_ms.to_string(),
        f.timed_events.to_string(),
        f.enrolled.to_string(),
        f.enrolled_practising.to_string(),
        opt(f.share_practising),
        f.teacher_views.to_string(),
        f.insights_viewed.to_string(),
        f.reviews_decided.to_string(),
        f.checkins.to_string(),
        f.enrolled_checked_in.to_string(),
        opt(f.share_checked_in),
    ]
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

fn text(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

fn write(header: Vec<&str>, rows: Vec<Vec<String>>) -> anyhow::Result<String> {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    w.write_record(&header)?;
    for row in rows {
        let cells: Vec<_> = row.iter().map(|cell| defuse(cell)).collect();
        w.write_record(cells.iter().map(|cell| cell.as_bytes()))?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}

/// A cell a spreadsheet would run as a formula (text from tools, such as a tool's name or a
/// skill's, starting with `=`, `+`, `-`, `@`, a tab or a carriage return) gets a leading `'`,
/// which spreadsheets show as text (OWASP's advice for CSV injection). Numbers stay as they are.
pub fn defuse(cell: &str) -> std::borrow::Cow<'_, str> {
    let risky = cell
        .chars()
        .next()
        .is_some_and(|c| matches!(c, '=' | '+' | '-' | '@' | '\t' | '\r'));
    if risky && cell.parse::<f64>().is_err() {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

/// One section of the adoption report as CSV; `None` for an unknown section.
pub fn adoption(report: &Adoption, section: &str) -> Option<anyhow::Result<String>> {
    let (keys, rows): (Vec<&str>, Vec<Vec<String>>) = match section {
        "weeks" => (
            vec!["week_start"],
            report
                .weeks
                .iter()
                .map(|w| [vec![w.week_start.clone()], figures(&w.figures)].concat())
                .collect(),
        ),
        "schools" => (
            vec!["school_id", "name", "classes"],
            report
                .schools
                .iter()
                .map(|s| {
                    [
                        vec![text(&s.school_id), text(&s.name), s.classes.to_string()],
                        figures(&s.figures),
                    ]
                    .concat()
                })
                .collect(),
        ),
        "classes" => (
            vec!["class_id", "name", "school_id", "students_practised"],
            report
                .classes
                .iter()
                .map(|c| {
                    [
                        vec![
                            text(&c.class_id),
                            text(&c.name),
                            text(&c.school_id),
                            c.students_practised.to_string(),
                        ],
                        figures(&c.figures),
                    ]
                    .concat()
                })
                .collect(),
        ),
        _ => return None,
    };
    Some(write([keys, FIGURES.to_vec()].concat(), rows))
}

const TOOL: [&str; 13] = [
    "tool",
    "received",
    "duplicates",
    "rejected",
    "duplicate_rate",
    "rejected_rate",
    "late",
    "max_late_hours",
    "future_dated",
    "max_clock_ahead_seconds",
    "mean_clock_ahead_seconds",
    "future_rejected",
    "without_response_time",
];

fn tool(t: &ToolRow) -> Vec<String> {
    vec![
        t.tool.clone(),
        t.received.to_string(),
        t.duplicates.to_string(),
        t.rejected.to_string(),
        opt(t.duplicate_rate),
        opt(t.rejected_rate),
        t.late.to_string(),
        t.max_late_hours.to_string(),
        t.future_dated.to_string(),
        t.max_clock_ahead_seconds.to_string(),
        opt(t.mean_clock_ahead_seconds),
        t.future_rejected.to_string(),
        t.without_response_time.to_string(),
    ]
}

/// One section of the data-quality report as CSV; `None` for an unknown section.
pub fn data_quality(report: &DataQuality, section: &str) -> Option<anyhow::Result<String>> {
    Some(match section {
        "tools" => write(TOOL.to_vec(), report.tools.iter().map(tool).collect()),
        "rejections" => write(
            vec!["tool", "code", "events"],
            report
                .rejections
                .iter()
                .map(|r| vec![r.tool.clone(), r.code.clone(), r.events.to_string()])
                .collect(),
        ),
        "skills" => write(
            vec!["skill_id", "students"],
            report
                .skills_too_little_data
                .iter()
                .map(|s| vec![s.skill_id.clone(), s.students.to_string()])
                .collect(),
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn formulas_are_defused_and_numbers_kept() {
        assert_eq!(
            defuse("=HYPERLINK(\"http://x\")"),
            "'=HYPERLINK(\"http://x\")"
        );
        assert_eq!(defuse("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(defuse("+1+cmd|' /C calc'!A0"), "'+1+cmd|' /C calc'!A0");
        assert_eq!(defuse("-0.25"), "-0.25");
        assert_eq!(defuse("fractions-tutor"), "fractions-tutor");
        assert_eq!(defuse(""), "");
    }

    use super::*;
    use crate::reports::{adoption, data_quality, Range};
    use chrono::NaiveDate;

    fn range() -> Range {
        let d = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        Range { from: d, to: d }
    }

    #[test]
    fn each_section_is_a_table_with_the_json_names() {
        let input = adoption::Input {
            activity: vec![adoption::ActivityRow {
                week_start: 1_795_996_800_000,
                class_id: "c,1".into(),
                student_id: "s".into(),
                events: 3,
                timed_events: 2,
                practice_ms: 90_000,
            }],
            ..Default::default()
        };
        let report = adoption::compute(&range(), &input);
        let text = adoption(&report, "classes").unwrap().unwrap();
        let mut r = ::csv::Reader::from_reader(text.as_bytes());
        let header: Vec<String> = r.headers().unwrap().iter().map(str::to_owned).collect();
        assert_eq!(header[0], "class_id");
        assert!(header.contains(&"practice_minutes".to_string()));
        let rows: Vec<::csv::StringRecord> = r.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 1);
        assert_eq!(&rows[0][0], "c,1"); // quoted, read back whole
        let events = header.iter().position(|h| h == "events").unwrap();
        assert_eq!(&rows[0][events], "3");
        assert!(adoption(&report, "weeks").is_some());
        assert!(adoption(&report, "nope").is_none());

        let dq = data_quality::compute(&range(), &data_quality::Input::default());
        for s in DATA_QUALITY_SECTIONS {
            let text = data_quality(&dq, s).unwrap().unwrap();
            assert_eq!(text.lines().count(), 1, "{s}: only the header");
        }
    }
}
