//! "Did my help work?": a student's first tries on a skill just before the teacher's help (a
//! check-in, a finished group plan or an insight marked done, on that skill) beside the ones
//! just after. Worded "after", never "because": practice, time and the next lesson all happen
//! after too.

use serde::Serialize;

use super::attention::AttentionKind;

/// First tries compared on each side of the help.
pub const WINDOW: usize = 5;
/// The comparison is shown once this many first tries came after the help.
pub const MIN_AFTER: usize = 3;
/// Help from this far back is followed up (ms) ...
pub const LOOKBACK_MS: i64 = 14 * crate::util::DAY_MS;
/// ... at most this many moments of help, the newest.
pub const MAX_HELPS: usize = 5;

/// One first try on the skill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Try {
    pub at: i64,
    pub correct: bool,
}

/// The first tries right before and after the help (up to [`WINDOW`] each side).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct BeforeAfter {
    pub before_right: usize,
    pub before: usize,
    pub after_right: usize,
    pub after: usize,
}

impl BeforeAfter {
    /// Enough answers after the help to say anything.
    pub fn is_ready(&self) -> bool {
        self.after >= MIN_AFTER
    }

    /// Most of the answers after the help were right.
    pub fn mostly_right_after(&self) -> bool {
        self.is_ready() && self.after_right * 2 > self.after
    }

    /// The student's line: "Before: 1 of 5 right. After: 4 of 5 right."
    pub fn sentence(&self) -> String {
        if !self.is_ready() {
            return format!(
                "Before: {} of {} right. After: {} answers so far.",
                self.before_right, self.before, self.after
            );
        }
        format!(
            "Before: {} of {} right. After: {} of {} right.",
            self.before_right, self.before, self.after_right, self.after
        )
    }
}

/// Compares the [`WINDOW`] first tries before `at` with the [`WINDOW`] after it. `tries` are
/// one student's first tries on the skill, sorted by time.
pub fn before_after(tries: &[Try], at: i64) -> BeforeAfter {
    let split = tries.partition_point(|t| t.at <= at);
    let before = &tries[split.saturating_sub(WINDOW)..split];
    let after = &tries[split..(split + WINDOW).min(tries.len())];
    let right = |s: &[Try]| s.iter().filter(|t| t.correct).count();
    BeforeAfter {
        before_right: right(before),
        before: before.len(),
        after_right: right(after),
        after: after.len(),
    }
}

/// One moment of help on a skill (a check-in tap, a plan marked done, an insight marked done)
/// and what followed for each student it reached.
#[derive(Debug, Clone, PartialEq)]
pub struct Help {
    /// check_in, group_plan or insight.
    pub kind: AttentionKind,
    pub at: i64,
    pub skill_id: String,
    /// Each student with their first tries on the skill around `at`.
    pub students: Vec<(String, BeforeAfter)>,
}

impl Help {
    /// Every student has enough answers after the help to say anything.
    pub fn is_clear(&self) -> bool {
        !self.students.is_empty() && self.students.iter().all(|(_, r)| r.is_ready())
    }

    /// How many of the students got most of their next answers right.
    pub fn mostly_right(&self) -> usize {
        self.students
            .iter()
            .filter(|(_, r)| r.mostly_right_after())
            .count()
    }
}

/// When the help was, seen from `now` (UTC days): "today", "yesterday", "on Tuesday" within the
/// week, "on 3 November" before.
pub fn day_phrase(at: i64, now: i64) -> String {
    let day = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .unwrap_or_default()
            .date_naive()
    };
    let (a, n) = (day(at), day(now));
    match (n - a).num_days() {
        0 => "today".into(),
        1 => "yesterday".into(),
        2..=6 => format!("on {}", a.format("%A")),
        _ => format!("on {}", a.format("%-d %B")),
    }
}

/// What the teacher did, for the sentence: "you sat with Amara".
pub fn help_phrase(kind: AttentionKind, who: &str) -> String {
    match kind {
        AttentionKind::CheckIn => format!("you sat with {who}"),
        AttentionKind::GroupPlan => format!("you worked with {who}"),
        AttentionKind::Insight | AttentionKind::Review => {
            format!("you acted on the note about {who}")
        }
    }
}

/// The line for one moment of help, once every student has enough answers after it: "After you
/// sat with Amara, Theo and Lucas on Tuesday, 2 of 3 got most of their next answers right."
/// `help` says what the teacher did ([`help_phrase`]), `when` the day; `None` until the
/// picture is clear.
pub fn group_sentence(help: &str, when: &str, results: &[BeforeAfter]) -> Option<String> {
    if results.is_empty() || !results.iter().all(BeforeAfter::is_ready) {
        return None;
    }
    let mostly = results.iter().filter(|r| r.mostly_right_after()).count();
    let n = results.len();
    Some(if n == 1 {
        let r = results[0];
        format!(
            "After {help} {when}, {} of their next {} answers were right (before: {} of {}).",
            r.after_right, r.after, r.before_right, r.before
        )
    } else {
        format!("After {help} {when}, {mostly} of {n} got most of their next answers right.")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tries(spec: &str) -> Vec<Try> {
        spec.chars()
            .enumerate()
            .map(|(i, c)| Try {
                at: i as i64 * 10,
                correct: c == 'c',
            })
            .collect()
    }

    #[test]
    fn five_before_and_five_after_the_help() {
        // 7 before (the last 5 count: iiici), help at 65, 6 after (the first 5 count: ccicc).
        let t = tries("cciiicicciccc");
        let r = before_after(&t, 65);
        assert_eq!(
            r,
            BeforeAfter {
                before_right: 1,
                before: 5,
                after_right: 4,
                after: 5
            }
        );
        assert!(r.mostly_right_after());
        assert_eq!(r.sentence(), "Before: 1 of 5 right. After: 4 of 5 right.");
    }

    #[test]
    fn too_few_answers_after_say_nothing_yet() {
        let t = tries("iiiicc");
        let r = before_after(&t, 35);
        assert_eq!((r.before, r.after), (4, 2));
        assert!(!r.is_ready() && !r.mostly_right_after());
        assert_eq!(group_sentence("you sat with Amara", "today", &[r]), None);
    }

    #[test]
    fn the_group_sentence_says_after_never_because() {
        let good = before_after(&tries("iiiiiccccc"), 45);
        let bad = before_after(&tries("iiiiiiiiic"), 45);
        let help = help_phrase(AttentionKind::GroupPlan, "the 9s group");
        let s = group_sentence(&help, "on Tuesday", &[good, good, good, bad]).unwrap();
        assert_eq!(
            s,
            "After you worked with the 9s group on Tuesday, 3 of 4 got most of their next answers right."
        );
        assert!(!s.contains("because"));
        let one = group_sentence(
            &help_phrase(AttentionKind::CheckIn, "Amara"),
            "today",
            &[good],
        );
        assert_eq!(
            one.as_deref(),
            Some("After you sat with Amara today, 5 of their next 5 answers were right (before: 0 of 5).")
        );
    }

    #[test]
    fn days_read_as_a_teacher_says_them() {
        // Thursday 2026-12-03 10:00 UTC.
        let now = 1_796_292_000_000;
        const DAY: i64 = crate::util::DAY_MS;
        assert_eq!(day_phrase(now - 3_600_000, now), "today");
        assert_eq!(day_phrase(now - DAY, now), "yesterday");
        assert_eq!(day_phrase(now - 2 * DAY, now), "on Tuesday");
        assert_eq!(day_phrase(now - 10 * DAY, now), "on 23 November");
    }

    #[test]
    fn a_help_is_clear_once_every_student_has_answered_enough_after_it() {
        let ready = before_after(&tries("iiiiiccc"), 45);
        let early = before_after(&tries("iiiiicc"), 45);
        let mut help = Help {
            kind: AttentionKind::Insight,
            at: 45,
            skill_id: "s".into(),
            students: vec![("a".into(), ready), ("b".into(), early)],
        };
        assert!(!help.is_clear());
        help.students[1].1 = before_after(&tries("iiiiicii"), 45);
        assert!(help.is_clear());
        assert_eq!(help.mostly_right(), 1);
    }
}
