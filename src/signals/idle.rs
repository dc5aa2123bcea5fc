//! Idle: an enrolled student with no practice for several school days. It depends on time
//! passing, not on an event, so it is worked out when read ([`idle_episode`], against the
//! current time) and, when the student comes back, recorded as a closed episode by the
//! [`super::Tracker`]. School days are Monday to Friday, by UTC date (holidays are not known).

use chrono::{DateTime, Datelike, NaiveDate, Utc, Weekday};

use super::{Episode, Evidence, Kind, Thresholds};

fn date(ms: i64) -> NaiveDate {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .date_naive()
}

/// School days (Monday to Friday) strictly between the dates of `from` and `to` (ms since the
/// epoch): the days a student could have practised and did not.
pub fn school_days_between(from: i64, to: i64) -> u32 {
    let (a, b) = (date(from), date(to));
    if b <= a {
        return 0;
    }
    let days = (b - a).num_days() - 1;
    // Whole weeks have 5 school days; then count the remainder one day at a time.
    let mut count = (days / 7) * 5;
    let mut d = a + chrono::Days::new(((days / 7) * 7) as u64);
    for _ in 0..days % 7 {
        d = d.succ_opt().unwrap_or(d);
        if !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
            count += 1;
        }
    }
    count.clamp(0, i64::from(u32::MAX)) as u32
}

/// The open idle episode of a student whose last practice (or enrolment) was at `last_at`,
/// as of `now`; None while they are not idle.
pub fn idle_episode(last_at: i64, now: i64, t: &Thresholds) -> Option<Episode> {
    let days = school_days_between(last_at, now);
    (days >= t.idle_school_days).then(|| Episode {
        kind: Kind::Idle,
        skill_id: None,
        started_at: last_at,
        ended_at: None,
        last_at,
        evidence: Evidence {
            school_days: Some(days),
            ..Evidence::default()
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::DAY_MS;
    use chrono::TimeZone;

    fn ms(y: i32, m: u32, d: u32) -> i64 {
        Utc.with_ymd_and_hms(y, m, d, 10, 0, 0)
            .single()
            .map(|t| t.timestamp_millis())
            .unwrap_or(0)
    }

    #[test]
    fn weekends_are_not_school_days() {
        // Friday 20 Nov 2026 to Monday 23 Nov: nothing missed.
        assert_eq!(school_days_between(ms(2026, 11, 20), ms(2026, 11, 23)), 0);
        // Monday 16 to Monday 23: Tuesday to Friday missed.
        assert_eq!(school_days_between(ms(2026, 11, 16), ms(2026, 11, 23)), 4);
        // Same day, or backwards.
        assert_eq!(school_days_between(ms(2026, 11, 16), ms(2026, 11, 16)), 0);
        assert_eq!(school_days_between(ms(2026, 11, 23), ms(2026, 11, 16)), 0);
        // Three weeks and a day: 15 school days, plus the Monday... minus none.
        assert_eq!(school_days_between(ms(2026, 11, 2), ms(2026, 11, 24)), 15);
    }

    #[test]
    fn the_count_equals_a_day_by_day_count() {
        let start = ms(2026, 9, 1);
        for span in 0..40 {
            let end = start + span * DAY_MS;
            let mut expected = 0;
            for k in 1..span {
                let d = date(start + k * DAY_MS);
                if !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
                    expected += 1;
                }
            }
            assert_eq!(school_days_between(start, end), expected, "span {span}");
        }
    }

    #[test]
    fn idle_after_three_missed_school_days() {
        let t = Thresholds::default();
        // Last practice Monday 16 Nov; Thursday 19: Tue and Wed missed, not idle yet.
        assert!(idle_episode(ms(2026, 11, 16), ms(2026, 11, 19), &t).is_none());
        let e = idle_episode(ms(2026, 11, 16), ms(2026, 11, 20), &t);
        assert_eq!(e.as_ref().map(|e| e.kind), Some(Kind::Idle));
        assert_eq!(e.and_then(|e| e.evidence.school_days), Some(3));
    }
}
