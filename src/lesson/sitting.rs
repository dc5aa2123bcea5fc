//! When a class is practising: the sitting rule.
//!
//! A class is *in a sitting* at a moment when at least `min_students` of its students answered
//! within the `window` before it. The sitting starts with the first answer of the first window
//! that reached that count, and ends `window` after the answer that last kept the count up:
//! the moment fewer than `min_students` have answered within the window.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

/// A span of practice, in milliseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sitting {
    /// The first answer that counted towards the sitting.
    pub started_at: i64,
    /// When it ended; `None` while it goes on.
    pub ended_at: Option<i64>,
}

impl Sitting {
    pub fn is_active(&self) -> bool {
        self.ended_at.is_none()
    }

    /// Does `at` fall within the sitting?
    pub fn contains(&self, at: i64) -> bool {
        at >= self.started_at && self.ended_at.is_none_or(|end| at <= end)
    }
}

/// The latest sitting among `beats` (each answer's time and student, sorted by time) as seen
/// at `now`: the one going on, or the last one that ended. `None` when the class never reached
/// `min_students` within `window_ms`.
pub fn latest_sitting<K: Clone + Eq + Hash>(
    beats: impl IntoIterator<Item = (i64, K)>,
    now: i64,
    min_students: usize,
    window_ms: i64,
) -> Option<Sitting> {
    let mut scan = SittingScan::new(min_students, window_ms);
    for (at, student) in beats {
        scan.push(at, student);
    }
    scan.sitting(now)
}

/// The sitting rule taking the beats one at a time, in time order: a class's live view feeds it
/// each new answer without going over the earlier ones again. It keeps only the beats within
/// the window.
#[derive(Debug, Clone)]
pub struct SittingScan<K> {
    min_students: usize,
    window_ms: i64,
    /// The beats within the window that ends at the latest beat ...
    window: VecDeque<(i64, K)>,
    /// ... and, per student in it, their answers in it and the latest one's time.
    in_window: HashMap<K, (usize, i64)>,
    /// The sitting being followed and the one before: (start, time the count drops).
    current: Option<(i64, i64)>,
    latest: Option<(i64, i64)>,
}

impl<K: Clone + Eq + Hash> SittingScan<K> {
    pub fn new(min_students: usize, window_ms: i64) -> Self {
        SittingScan {
            min_students: min_students.max(1),
            window_ms,
            window: VecDeque::new(),
            in_window: HashMap::new(),
            current: None,
            latest: None,
        }
    }

    /// The next beat: no earlier than any before it.
    pub fn push(&mut self, at: i64, student: K) {
        let entry = self.in_window.entry(student.clone()).or_insert((0, at));
        entry.0 += 1;
        entry.1 = entry.1.max(at);
        self.window.push_back((at, student));
        while self.window.len() > 1 && self.window[0].0 <= at - self.window_ms {
            if let Some((_, gone)) = self.window.pop_front() {
                if let Some(e) = self.in_window.get_mut(&gone) {
                    e.0 -= 1;
                    if e.0 == 0 {
                        self.in_window.remove(&gone);
                    }
                }
            }
        }
        if self.in_window.len() < self.min_students {
            return;
        }
        // The count drops `window` after the min_students-th most recent student's answer.
        let mut latest_times: Vec<i64> = self.in_window.values().map(|&(_, t)| t).collect();
        latest_times.sort_unstable_by(|a, b| b.cmp(a));
        let drops_at = latest_times[self.min_students - 1] + self.window_ms;
        let start = self.window[0].0;
        self.current = match self.current {
            // A window that overlaps the sitting (a short dip below the count) continues it.
            Some((begun, drops)) if start < drops => Some((begun, drops.max(drops_at))),
            done => {
                if done.is_some() {
                    self.latest = done;
                }
                Some((start, drops_at))
            }
        };
    }

    /// The latest sitting as seen at `now` (no earlier than the last beat).
    pub fn sitting(&self, now: i64) -> Option<Sitting> {
        let (start, drops) = self.current.or(self.latest)?;
        Some(Sitting {
            started_at: start,
            ended_at: (drops <= now).then_some(drops),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    fn beats(spec: &[(i64, &'static str)]) -> Vec<(i64, &'static str)> {
        spec.iter().map(|&(minute, s)| (minute * MIN, s)).collect()
    }

    #[test]
    fn two_students_are_not_a_sitting() {
        let b = beats(&[(0, "a"), (1, "b"), (2, "a"), (3, "b")]);
        assert_eq!(
            latest_sitting(b.iter().copied(), 4 * MIN, 3, 10 * MIN),
            None
        );
    }

    #[test]
    fn three_students_within_the_window_start_a_sitting_at_the_first_answer() {
        let b = beats(&[(0, "a"), (4, "b"), (9, "c")]);
        let s = latest_sitting(b.iter().copied(), 9 * MIN, 3, 10 * MIN).unwrap();
        assert_eq!(s.started_at, 0);
        assert!(s.is_active());
    }

    #[test]
    fn answers_spread_wider_than_the_window_are_no_sitting() {
        let b = beats(&[(0, "a"), (11, "b"), (22, "c")]);
        assert_eq!(
            latest_sitting(b.iter().copied(), 23 * MIN, 3, 10 * MIN),
            None
        );
    }

    #[test]
    fn the_sitting_ends_a_window_after_the_third_last_student_answered() {
        // a, b, c answer from minute 18 to 20; then only a goes on.
        let b = beats(&[(18, "a"), (19, "b"), (20, "c"), (25, "a"), (28, "a")]);
        let going = latest_sitting(b.iter().copied(), 28 * MIN + 30_000, 3, 10 * MIN).unwrap();
        assert!(going.is_active(), "b answered 9.5 minutes ago");
        let ended = latest_sitting(b.iter().copied(), 31 * MIN, 3, 10 * MIN).unwrap();
        assert_eq!(ended.ended_at, Some(29 * MIN));
        assert_eq!(ended.started_at, 18 * MIN);
        assert!(ended.contains(20 * MIN) && !ended.contains(30 * MIN));
    }

    #[test]
    fn a_short_dip_below_the_count_continues_the_sitting() {
        // At minute 10 only b and c are within the window; a's answer at 12 brings it back.
        let b = beats(&[(0, "a"), (4, "b"), (9, "c"), (12, "a")]);
        let s = latest_sitting(b.iter().copied(), 13 * MIN, 3, 10 * MIN).unwrap();
        assert_eq!(s.started_at, 0);
        assert!(s.is_active());
    }

    #[test]
    fn a_later_sitting_replaces_an_earlier_one() {
        let b = beats(&[
            (0, "a"),
            (1, "b"),
            (2, "c"),
            (60, "d"),
            (61, "e"),
            (62, "f"),
        ]);
        let s = latest_sitting(b.iter().copied(), 63 * MIN, 3, 10 * MIN).unwrap();
        assert_eq!(s.started_at, 60 * MIN);
        assert!(s.is_active());
        // Between the two, the first one is the latest and it has ended.
        let s = latest_sitting(b[..3].iter().copied(), 30 * MIN, 3, 10 * MIN).unwrap();
        assert_eq!(
            s,
            Sitting {
                started_at: 0,
                ended_at: Some(10 * MIN)
            }
        );
    }

    #[test]
    fn the_start_is_the_first_answer_of_the_window_that_reached_the_count() {
        // a answers alone for a long time; the sitting starts at a's answer inside the window.
        let b = beats(&[(0, "a"), (15, "a"), (20, "b"), (22, "c")]);
        let s = latest_sitting(b.iter().copied(), 23 * MIN, 3, 10 * MIN).unwrap();
        assert_eq!(s.started_at, 15 * MIN);
    }
}
