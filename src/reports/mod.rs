//! Reports for administrators: adoption, data quality, model health (is the model still
//! predicting well) and fairness (does it work as well for every group), and their CSV form.
//! Plain Rust over plain rows: the store loads the maintained aggregates (`store::reports`,
//! `store::reports_model`), these functions roll them up. How each figure is computed, in
//! words an administrator can follow, and why its thresholds: docs/reports.md.

pub mod adoption;
pub mod csv;
pub mod data_quality;
pub mod facts;
pub mod fairness;
pub mod model_health;

#[cfg(all(test, feature = "sim"))]
mod drift_check;

use chrono::{DateTime, Datelike, NaiveDate, Utc};

pub use crate::util::DAY_MS;
pub const WEEK_MS: i64 = 7 * DAY_MS;
/// 1970-01-01 was a Thursday: the Monday of its week was 3 days earlier.
const EPOCH_TO_MONDAY_MS: i64 = 3 * DAY_MS;

/// The Monday 00:00 UTC starting the ISO week of `ms` (milliseconds since the epoch).
pub fn week_start(ms: i64) -> i64 {
    (ms + EPOCH_TO_MONDAY_MS).div_euclid(WEEK_MS) * WEEK_MS - EPOCH_TO_MONDAY_MS
}

/// Midnight UTC starting the day of `ms`.
pub fn day_start(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS) * DAY_MS
}

/// `ms` as a calendar date (UTC), `YYYY-MM-DD`.
pub fn date_string(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// Midnight UTC of a date, in milliseconds.
pub fn date_ms(date: NaiveDate) -> i64 {
    date.and_time(chrono::NaiveTime::MIN)
        .and_utc()
        .timestamp_millis()
}

/// The days a report covers: `from` and `to` are whole days (UTC), both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// Why a range was refused; the message is for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeError {
    pub code: &'static str,
    pub message: String,
}

/// The longest range a report covers: two years of weeks is plenty for a pilot.
pub const MAX_RANGE_DAYS: i64 = 731;
/// Without `from`, a report covers 12 whole weeks: the week of `to` and the 11 before.
pub const DEFAULT_WEEKS: i64 = 12;

/// A report date written `YYYY-MM-DD`, from 1970 to 9999: report arithmetic (weeks back, a
/// window before it) stays far from the calendar's ends, where it would overflow.
pub fn parse_date(value: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d")
        .ok()
        .filter(|d| (1970..=9999).contains(&d.year()))
}

impl Range {
    /// Reads `from` and `to` (`YYYY-MM-DD`, both optional; `to` defaults to `today`).
    pub fn parse(
        from: Option<&str>,
        to: Option<&str>,
        today: NaiveDate,
    ) -> Result<Self, RangeError> {
        let date = |value: &str, field: &str| {
            parse_date(value).ok_or_else(|| RangeError {
                code: "invalid_date",
                message: format!(
                    "{field} must be a date written YYYY-MM-DD from 1970 to 9999, such as 2026-11-30"
                ),
            })
        };
        let to = match to {
            Some(v) => date(v, "to")?,
            None => today,
        };
        let from = match from {
            Some(v) => date(v, "from")?,
            // Whole weeks: the Monday DEFAULT_WEEKS - 1 weeks before the week of `to`.
            None => {
                let monday = to - chrono::Days::new(u64::from(to.weekday().num_days_from_monday()));
                monday - chrono::Days::new(((DEFAULT_WEEKS - 1) * 7) as u64)
            }
        };
        if from > to {
            return Err(RangeError {
                code: "invalid_range",
                message: "from must be on or before to".into(),
            });
        }
        if (to - from).num_days() >= MAX_RANGE_DAYS {
            return Err(RangeError {
                code: "invalid_range",
                message: format!("a report covers at most {MAX_RANGE_DAYS} days"),
            });
        }
        Ok(Range { from, to })
    }

    /// The first millisecond of `from`.
    pub fn start_ms(&self) -> i64 {
        date_ms(self.from)
    }

    /// The first millisecond after `to`.
    pub fn end_ms(&self) -> i64 {
        date_ms(self.to) + DAY_MS
    }

    /// The Mondays of the weeks the range touches, in order. Weekly figures come in whole
    /// weeks: a range is widened to the weeks it touches.
    pub fn weeks(&self) -> Vec<i64> {
        let mut weeks = Vec::new();
        let mut w = week_start(self.start_ms());
        while w < self.end_ms() {
            weeks.push(w);
            w += WEEK_MS;
        }
        weeks
    }

    /// The first millisecond of the first week and after the last: what weekly data is read.
    pub fn week_bounds(&self) -> (i64, i64) {
        let first = week_start(self.start_ms());
        (first, week_start(self.end_ms() - 1) + WEEK_MS)
    }
}

/// A share as a fraction rounded to 4 decimals; `None` when there is nothing to share.
pub fn share(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| (part as f64 / whole as f64 * 10_000.0).round() / 10_000.0)
}

/// Milliseconds as minutes, to one decimal.
pub fn minutes(ms: u64) -> f64 {
    (ms as f64 / 60_000.0 * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
    }

    #[test]
    fn weeks_start_on_monday_midnight_utc() {
        // 2026-12-01 is a Tuesday; its week starts Monday 2026-11-30.
        assert_eq!(
            week_start(ms("2026-12-01T10:00:00Z")),
            ms("2026-11-30T00:00:00Z")
        );
        assert_eq!(
            week_start(ms("2026-11-30T00:00:00Z")),
            ms("2026-11-30T00:00:00Z")
        );
        assert_eq!(
            week_start(ms("2026-11-29T23:59:59.999Z")),
            ms("2026-11-23T00:00:00Z")
        );
        assert_eq!(
            week_start(ms("1969-12-31T12:00:00Z")),
            ms("1969-12-29T00:00:00Z")
        );
        assert_eq!(
            day_start(ms("2026-12-01T10:00:00Z")),
            ms("2026-12-01T00:00:00Z")
        );
        assert_eq!(date_string(ms("2026-11-30T00:00:00Z")), "2026-11-30");
    }

    #[test]
    fn ranges_are_read_checked_and_widened_to_weeks() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let r = Range::parse(Some("2026-11-18"), Some("2026-12-01"), today).unwrap();
        let weeks: Vec<String> = r.weeks().into_iter().map(date_string).collect();
        assert_eq!(weeks, ["2026-11-16", "2026-11-23", "2026-11-30"]);
        assert_eq!(
            r.week_bounds(),
            (ms("2026-11-16T00:00:00Z"), ms("2026-12-07T00:00:00Z"))
        );
        assert_eq!(r.end_ms(), ms("2026-12-02T00:00:00Z"));

        let default = Range::parse(None, None, today).unwrap();
        assert_eq!(default.to, today);
        assert_eq!(default.weeks().len() as i64, DEFAULT_WEEKS);
        assert_eq!(default.from, NaiveDate::from_ymd_opt(2026, 9, 14).unwrap()); // a Monday

        let bad = Range::parse(Some("yesterday"), None, today).unwrap_err();
        assert_eq!(bad.code, "invalid_date");
        assert!(bad.message.contains("from"));
        let backwards = Range::parse(Some("2026-12-02"), Some("2026-12-01"), today).unwrap_err();
        assert_eq!(backwards.code, "invalid_range");
        let long = Range::parse(Some("2020-01-01"), Some("2026-12-01"), today).unwrap_err();
        assert_eq!(long.code, "invalid_range");
    }

    #[test]
    fn shares_and_minutes_round_and_never_divide_by_zero() {
        assert_eq!(share(1, 3), Some(0.3333));
        assert_eq!(share(0, 0), None);
        assert_eq!(minutes(90_000), 1.5);
    }
}
