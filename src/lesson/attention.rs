//! Attention coverage: when each student last had the teacher's attention (a check-in, a group
//! plan marked done with them, a review decision about them), and who has gone unseen.
//!
//! Teachers' help tends to go back to the same students while others go unseen (Holstein et
//! al. 2018, Lumilo; the MATHia LiveLab studies): showing who has not been seen counters that.

use serde::Serialize;

use crate::signals::idle::school_days_between;

/// What brought the teacher to the student.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AttentionKind {
    CheckIn,
    GroupPlan,
    /// A review decision, or an insight marked done (both are decisions about the student).
    Review,
    /// An insight about a skill the teacher marked done (the follow-up's name for it).
    Insight,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attention {
    pub at: i64,
    pub kind: AttentionKind,
}

/// Keeps the later of two attentions.
pub fn latest(a: Option<Attention>, b: Option<Attention>) -> Option<Attention> {
    match (a, b) {
        (Some(x), Some(y)) => Some(if y.at > x.at { y } else { x }),
        (x, None) => x,
        (None, y) => y,
    }
}

/// One student's coverage.
#[derive(Debug, Clone, PartialEq)]
pub struct Coverage {
    pub student_id: String,
    pub last: Option<Attention>,
    /// A behaviour flag is open.
    pub flagged: bool,
    /// A skill is marked struggling.
    pub struggling: bool,
}

impl Coverage {
    /// School days since the last attention (`None`: never).
    pub fn school_days_since(&self, now: i64) -> Option<u32> {
        self.last.map(|a| school_days_between(a.at, now))
    }
}

/// The students not seen for at least `days` school days (or never), flagged and struggling
/// ones first, then the longest unseen.
pub fn unseen(students: &[Coverage], now: i64, days: u32) -> Vec<&Coverage> {
    let mut out: Vec<&Coverage> = students
        .iter()
        .filter(|c| c.school_days_since(now).is_none_or(|d| d >= days))
        .collect();
    out.sort_by_key(|c| {
        (
            !c.flagged,
            !c.struggling,
            c.last.map_or(i64::MIN, |a| a.at),
            c.student_id.clone(),
        )
    });
    out
}

/// "You have not checked in with Amara, Theo or Lucas in the last 2 weeks." — at most three
/// names, then how many more.
pub fn headline(names: &[String], days: u32) -> Option<String> {
    let shown: Vec<&str> = names.iter().take(3).map(String::as_str).collect();
    let list = match shown.as_slice() {
        [] => return None,
        [one] => (*one).to_owned(),
        [rest @ .., last] => {
            let more = names.len() - shown.len();
            if more > 0 {
                format!("{}, {last} and {more} more", rest.join(", "))
            } else {
                format!("{} or {last}", rest.join(", "))
            }
        }
    };
    let span = match days {
        5 => "week".to_owned(),
        d if d % 5 == 0 => format!("{} weeks", d / 5),
        1 => "school day".to_owned(),
        d => format!("{d} school days"),
    };
    Some(format!(
        "You have not checked in with {list} in the last {span}."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = crate::util::DAY_MS;
    // Monday 2026-11-30 12:00 UTC.
    const MONDAY: i64 = 1_796_040_000_000;

    fn cov(id: &str, days_ago: Option<i64>, flagged: bool, struggling: bool) -> Coverage {
        Coverage {
            student_id: id.into(),
            last: days_ago.map(|d| Attention {
                at: MONDAY - d * DAY,
                kind: AttentionKind::CheckIn,
            }),
            flagged,
            struggling,
        }
    }

    #[test]
    fn unseen_students_are_those_past_the_school_days_flagged_first() {
        let all = vec![
            cov("seen", Some(1), true, true),
            cov("old", Some(21), false, false),
            cov("never", None, false, false),
            cov("struggling", Some(15), false, true),
            cov("flagged", Some(16), true, false),
        ];
        let ids: Vec<&str> = unseen(&all, MONDAY, 10)
            .iter()
            .map(|c| c.student_id.as_str())
            .collect();
        assert_eq!(ids, vec!["flagged", "struggling", "never", "old"]);
    }

    #[test]
    fn school_days_skip_weekends() {
        // School days strictly between: none from Friday to Monday, four from a Monday.
        assert_eq!(
            cov("a", Some(3), false, false).school_days_since(MONDAY),
            Some(0)
        );
        assert_eq!(
            cov("a", Some(7), false, false).school_days_since(MONDAY),
            Some(4)
        );
    }

    #[test]
    fn the_headline_names_three_then_counts() {
        let n = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            headline(&n(&["Amara", "Theo", "Lucas"]), 10).unwrap(),
            "You have not checked in with Amara, Theo or Lucas in the last 2 weeks."
        );
        assert_eq!(
            headline(&n(&["A", "B", "C", "D", "E"]), 7).unwrap(),
            "You have not checked in with A, B, C and 2 more in the last 7 school days."
        );
        assert_eq!(
            headline(&n(&["A"]), 5).unwrap(),
            "You have not checked in with A in the last week."
        );
        assert_eq!(headline(&[], 5), None);
    }
}
