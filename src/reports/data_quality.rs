//! The data-quality report: what the tools send and how clean it is — refused events by
//! error code and tool, duplicates, late and future-dated events (clock skew), suspected
//! shared accounts, students without a class, skills with too little data to fit.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use super::facts::{ToolDay, LATE_MS};
use super::{share, Range};

/// A day of one tool, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolDayRow {
    pub day: i64,
    pub tool: String,
    pub figures: ToolDay,
}

/// Refused events of a day, tool and code, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectionRow {
    pub day: i64,
    pub tool: String,
    pub code: String,
    pub events: i64,
}

#[derive(Debug, Clone, Default)]
pub struct Input {
    pub tool_days: Vec<ToolDayRow>,
    pub rejections: Vec<RejectionRow>,
    /// Students with a `shared_account` flag during the range, and the flags.
    pub shared_account_students: u64,
    pub shared_account_flags: u64,
    pub students: u64,
    pub students_without_class: u64,
    /// Each skill and how many students have answered it.
    pub skill_students: Vec<(String, u64)>,
    /// A skill is refitted once this many students answered it (`RefitOptions::min_students`).
    pub min_students: u64,
}

/// One tool over the range (`tool` "" is events that named no tool).
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct ToolRow {
    pub tool: String,
    /// Events stored.
    pub received: u64,
    /// Events sent again with the same content (nothing changed).
    pub duplicates: u64,
    /// Events refused, whatever the code.
    pub rejected: u64,
    /// duplicates / (received + duplicates + rejected); absent when nothing was sent.
    pub duplicate_rate: Option<f64>,
    /// rejected / (received + duplicates + rejected).
    pub rejected_rate: Option<f64>,
    /// Stored events received 24 hours or more after they occurred.
    pub late: u64,
    pub max_late_hours: f64,
    /// Stored events that occurred after they were received (the device's clock is ahead, by
    /// less than the 5 minutes allowed; more is refused with future_timestamp).
    pub future_dated: u64,
    /// How far ahead those clocks were: the largest and the mean, in seconds.
    pub max_clock_ahead_seconds: f64,
    pub mean_clock_ahead_seconds: Option<f64>,
    /// Refused with future_timestamp: clocks more than 5 minutes ahead.
    pub future_rejected: u64,
    /// Stored events without a response time (they count no practice time).
    pub without_response_time: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RejectionCount {
    pub tool: String,
    /// The error code each refused event was answered with.
    #[schema(example = "invalid_outcome")]
    pub code: String,
    pub events: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SkillData {
    pub skill_id: String,
    pub students: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DataQuality {
    pub from: String,
    pub to: String,
    /// All tools together.
    pub totals: ToolRow,
    /// Each tool, most events first.
    pub tools: Vec<ToolRow>,
    /// Refused events by tool and error code, most first.
    pub rejections: Vec<RejectionCount>,
    /// Students with a shared_account flag (answers from two places at once) during the range.
    pub shared_account_students: u64,
    pub shared_account_flags: u64,
    /// Students known now, and those with no class (no enrolment).
    pub students: u64,
    pub students_without_class: u64,
    /// Fewer students than this and a skill keeps its default model.
    pub min_students_to_fit: u64,
    /// Skills with too little data to fit, fewest students first.
    pub skills_too_little_data: Vec<SkillData>,
    pub skills: u64,
}

const FUTURE_CODE: &str = "future_timestamp";

/// Rolls the stored rows of `range` up per tool and in total.
pub fn compute(range: &Range, input: &Input) -> DataQuality {
    let (lo, hi) = (range.start_ms(), range.end_ms());
    let mut sums: BTreeMap<&str, ToolDay> = BTreeMap::new();
    for r in input.tool_days.iter().filter(|r| (lo..hi).contains(&r.day)) {
        sums.entry(r.tool.as_str()).or_default().add(&r.figures);
    }
    let mut rejected: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    let mut by_code: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for r in input
        .rejections
        .iter()
        .filter(|r| (lo..hi).contains(&r.day))
    {
        let t = rejected.entry(r.tool.as_str()).or_default();
        t.0 += r.events as u64;
        if r.code == FUTURE_CODE {
            t.1 += r.events as u64;
        }
        *by_code
            .entry((r.tool.as_str(), r.code.as_str()))
            .or_default() += r.events as u64;
    }
    let mut total_day = ToolDay::default();
    let mut total_rejected = (0, 0);
    let mut tools: Vec<ToolRow> = sums
        .keys()
        .chain(rejected.keys())
        .copied()
        .collect::<std::collections::BTreeSet<&str>>()
        .into_iter()
        .map(|tool| {
            let day = sums.get(tool).copied().unwrap_or_default();
            let rej = rejected.get(tool).copied().unwrap_or_default();
            total_day.add(&day);
            total_rejected.0 += rej.0;
            total_rejected.1 += rej.1;
            tool_row(tool, &day, rej)
        })
        .collect();
    tools.sort_by(|a, b| {
        (b.received + b.rejected)
            .cmp(&(a.received + a.rejected))
            .then(a.tool.cmp(&b.tool))
    });
    let mut rejections: Vec<RejectionCount> = by_code
        .into_iter()
        .map(|((tool, code), events)| RejectionCount {
            tool: tool.into(),
            code: code.into(),
            events,
        })
        .collect();
    rejections.sort_by(|a, b| {
        b.events
            .cmp(&a.events)
            .then((&a.tool, &a.code).cmp(&(&b.tool, &b.code)))
    });

    let mut thin: Vec<SkillData> = input
        .skill_students
        .iter()
        .filter(|(_, n)| *n < input.min_students)
        .map(|(skill, n)| SkillData {
            skill_id: skill.clone(),
            students: *n,
        })
        .collect();
    thin.sort_by(|a, b| {
        a.students
            .cmp(&b.students)
            .then(a.skill_id.cmp(&b.skill_id))
    });

    DataQuality {
        from: range.from.format("%Y-%m-%d").to_string(),
        to: range.to.format("%Y-%m-%d").to_string(),
        totals: tool_row("", &total_day, total_rejected),
        tools,
        rejections,
        shared_account_students: input.shared_account_students,
        shared_account_flags: input.shared_account_flags,
        students: input.students,
        students_without_class: input.students_without_class,
        min_students_to_fit: input.min_students,
        skills_too_little_data: thin,
        skills: input.skill_students.len() as u64,
    }
}

fn tool_row(tool: &str, d: &ToolDay, (rejected, future_rejected): (u64, u64)) -> ToolRow {
    let sent = d.received as u64 + d.duplicates as u64 + rejected;
    let round = |x: f64| (x * 10.0).round() / 10.0;
    ToolRow {
        tool: tool.into(),
        received: d.received as u64,
        duplicates: d.duplicates as u64,
        rejected,
        duplicate_rate: share(d.duplicates as u64, sent),
        rejected_rate: share(rejected, sent),
        late: d.late as u64,
        max_late_hours: round(d.max_late_ms as f64 / 3_600_000.0),
        future_dated: d.future as u64,
        max_clock_ahead_seconds: round(d.max_future_ms as f64 / 1000.0),
        mean_clock_ahead_seconds: (d.future > 0)
            .then(|| round(d.sum_future_ms as f64 / d.future as f64 / 1000.0)),
        future_rejected,
        without_response_time: d.without_time as u64,
    }
}

/// Late means received at least this many hours after occurring (for the docs and the API).
pub const LATE_HOURS: i64 = LATE_MS / 3_600_000;

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    const DAY0: i64 = 1_795_996_800_000; // 2026-11-30
    const DAY: i64 = crate::reports::DAY_MS;

    fn range() -> Range {
        Range {
            from: NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
            to: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
        }
    }

    fn td(
        day: i64,
        tool: &str,
        received: i64,
        duplicates: i64,
        future: i64,
        max_future_ms: i64,
    ) -> ToolDayRow {
        ToolDayRow {
            day,
            tool: tool.into(),
            figures: ToolDay {
                received,
                duplicates,
                future,
                max_future_ms,
                sum_future_ms: future * max_future_ms,
                late: 1,
                max_late_ms: 2 * 3_600_000 * 24,
                without_time: 0,
            },
        }
    }

    fn rej(day: i64, tool: &str, code: &str, events: i64) -> RejectionRow {
        RejectionRow {
            day,
            tool: tool.into(),
            code: code.into(),
            events,
        }
    }

    #[test]
    fn tools_sum_their_days_and_rates_count_everything_sent() {
        let input = Input {
            tool_days: vec![
                td(DAY0, "quiz", 90, 5, 2, 30_000),
                td(DAY0 + DAY, "quiz", 10, 0, 0, 0),
                td(DAY0 + 2 * DAY, "quiz", 1_000, 0, 0, 0), // after the range
                td(DAY0, "", 7, 0, 0, 0),
            ],
            rejections: vec![
                rej(DAY0, "quiz", "invalid_outcome", 3),
                rej(DAY0, "quiz", "future_timestamp", 2),
                rej(DAY0, "tutor", "invalid_event_id", 4),
                rej(DAY0 - DAY, "quiz", "invalid_outcome", 50), // before the range
            ],
            skill_students: vec![("a".into(), 60), ("b".into(), 3), ("c".into(), 0)],
            min_students: 50,
            students: 10,
            students_without_class: 1,
            shared_account_students: 2,
            shared_account_flags: 3,
        };
        let r = compute(&range(), &input);
        let quiz = &r.tools[0];
        assert_eq!(quiz.tool, "quiz");
        assert_eq!((quiz.received, quiz.duplicates, quiz.rejected), (100, 5, 5));
        assert_eq!(quiz.duplicate_rate, Some(0.0455)); // 5 / 110
        assert_eq!(quiz.future_dated, 2);
        assert_eq!(quiz.max_clock_ahead_seconds, 30.0);
        assert_eq!(quiz.mean_clock_ahead_seconds, Some(30.0));
        assert_eq!(quiz.future_rejected, 2);
        assert_eq!(quiz.late, 2);
        assert_eq!(quiz.max_late_hours, 48.0);
        let tutor = r.tools.iter().find(|t| t.tool == "tutor").unwrap();
        assert_eq!((tutor.received, tutor.rejected), (0, 4));
        assert_eq!(r.totals.received, 107);
        assert_eq!(r.totals.rejected, 9);
        assert_eq!(
            r.rejections[0],
            RejectionCount {
                tool: "tutor".into(),
                code: "invalid_event_id".into(),
                events: 4
            }
        );
        let thin: Vec<&str> = r
            .skills_too_little_data
            .iter()
            .map(|s| s.skill_id.as_str())
            .collect();
        assert_eq!(thin, ["c", "b"]);
        assert_eq!(r.skills, 3);
    }

    #[test]
    fn nothing_sent_has_no_rates() {
        let r = compute(&range(), &Input::default());
        assert_eq!(r.totals.duplicate_rate, None);
        assert_eq!(r.totals.mean_clock_ahead_seconds, None);
        assert!(r.tools.is_empty());
    }
}
