//! "Did my help work?": a student's first tries on a skill just before the teacher's help (a
//! check-in or a finished group plan on that skill) beside the ones just after. Worded "after",
//! never "because": practice, time and the next lesson all happen after too.

use serde::Serialize;

/// First tries compared on each side of the help.
pub const WINDOW: usize = 5;
/// The comparison is shown once this many first tries came after the help.
pub const MIN_AFTER: usize = 3;

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

/// The Today line for help given to several students, once each has enough answers after it:
/// "After you sat with Amara, Theo and Lucas on Tuesday, 3 of 4 got most of their next answers
/// right." `who` names the students, `when` the day; `None` until the picture is clear.
pub fn group_sentence(who: &str, when: &str, results: &[BeforeAfter]) -> Option<String> {
    if results.is_empty() || !results.iter().all(BeforeAfter::is_ready) {
        return None;
    }
    let mostly = results.iter().filter(|r| r.mostly_right_after()).count();
    let n = results.len();
    Some(if n == 1 {
        let r = results[0];
        format!(
            "After you sat with {who} {when}, {} of their next {} answers were right (before: {} of {}).",
            r.after_right, r.after, r.before_right, r.before
        )
    } else {
        format!("After you sat with {who} {when}, {mostly} of {n} got most of their next answers right.")
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
        assert_eq!(group_sentence("Amara", "today", &[r]), None);
    }

    #[test]
    fn the_group_sentence_says_after_never_because() {
        let good = before_after(&tries("iiiiiccccc"), 45);
        let bad = before_after(&tries("iiiiiiiiic"), 45);
        let s = group_sentence("the 9s group", "on Tuesday", &[good, good, good, bad]).unwrap();
        assert_eq!(
            s,
            "After you sat with the 9s group on Tuesday, 3 of 4 got most of their next answers right."
        );
        assert!(!s.contains("because"));
    }
}
