//! What a batch adds to the maintained report aggregates: folded in memory, so the store
//! writes one multi-row upsert per table per batch, whatever its size. Only newly inserted
//! events are folded (duplicates are never inserted), so every event counts exactly once.

use std::collections::BTreeMap;

use super::{day_start, week_start};

/// Each answer counts its response time, capped here: a tab left open on an item is not
/// practice (docs/reports.md).
pub const PRACTICE_CAP_MS: i64 = 5 * 60 * 1000;
/// An event received this long after it occurred is late (a replay, a device that was
/// offline): it still counts in its own week, and the data-quality report says how many.
pub const LATE_MS: i64 = crate::util::DAY_MS;

/// The practice time an event counts for.
pub fn practice_ms(response_ms: Option<i32>) -> i64 {
    response_ms.map_or(0, |ms| i64::from(ms).clamp(0, PRACTICE_CAP_MS))
}

/// What the reports need of one stored event.
#[derive(Debug, Clone, Copy)]
pub struct EventFact<'a> {
    pub class_id: &'a str,
    pub student_id: &'a str,
    /// The event's `tool` field; "" when it had none.
    pub tool: &'a str,
    pub occurred_at: i64,
    pub response_ms: Option<i32>,
}

/// Practice of one student in one class in one week.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Activity {
    pub events: i64,
    pub timed_events: i64,
    pub practice_ms: i64,
    pub first_at: i64,
    pub last_at: i64,
}

impl Activity {
    fn of(e: &EventFact) -> Self {
        Activity {
            events: 1,
            timed_events: i64::from(e.response_ms.is_some()),
            practice_ms: practice_ms(e.response_ms),
            first_at: e.occurred_at,
            last_at: e.occurred_at,
        }
    }

    /// Adds `other`: the same rule as the store's upsert, so folding then upserting equals
    /// upserting each event.
    pub fn add(&mut self, other: &Activity) {
        self.events += other.events;
        self.timed_events += other.timed_events;
        self.practice_ms += other.practice_ms;
        self.first_at = self.first_at.min(other.first_at);
        self.last_at = self.last_at.max(other.last_at);
    }
}

/// (week start, class, student).
pub type ActivityKey<'a> = (i64, &'a str, &'a str);

/// The batch's practice per week, class and student.
pub fn fold_activity<'a>(events: &[EventFact<'a>]) -> BTreeMap<ActivityKey<'a>, Activity> {
    let mut out: BTreeMap<ActivityKey, Activity> = BTreeMap::new();
    for e in events {
        let key = (week_start(e.occurred_at), e.class_id, e.student_id);
        let one = Activity::of(e);
        out.entry(key).and_modify(|a| a.add(&one)).or_insert(one);
    }
    out
}

/// What one tool sent in one day (of receipt).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ToolDay {
    pub received: i64,
    pub duplicates: i64,
    pub late: i64,
    pub max_late_ms: i64,
    pub future: i64,
    pub max_future_ms: i64,
    pub sum_future_ms: i64,
    pub without_time: i64,
}

impl ToolDay {
    /// Adds `other` (the store's upsert does the same).
    pub fn add(&mut self, o: &ToolDay) {
        self.received += o.received;
        self.duplicates += o.duplicates;
        self.late += o.late;
        self.max_late_ms = self.max_late_ms.max(o.max_late_ms);
        self.future += o.future;
        self.max_future_ms = self.max_future_ms.max(o.max_future_ms);
        self.sum_future_ms += o.sum_future_ms;
        self.without_time += o.without_time;
    }
}

/// (day of receipt, tool).
pub type ToolDayKey<'a> = (i64, &'a str);

/// The batch's stored events per tool: late and future-dated ones measured against the time
/// the batch was received.
pub fn fold_received<'a>(
    events: &[EventFact<'a>],
    received_at: i64,
) -> BTreeMap<ToolDayKey<'a>, ToolDay> {
    let day = day_start(received_at);
    let mut out: BTreeMap<ToolDayKey, ToolDay> = BTreeMap::new();
    for e in events {
        let t = out.entry((day, e.tool)).or_default();
        t.received += 1;
        let delay = received_at - e.occurred_at;
        if delay >= LATE_MS {
            t.late += 1;
            t.max_late_ms = t.max_late_ms.max(delay);
        }
        if delay < 0 {
            t.future += 1;
            t.max_future_ms = t.max_future_ms.max(-delay);
            t.sum_future_ms += -delay;
        }
        if e.response_ms.is_none() {
            t.without_time += 1;
        }
    }
    out
}

/// Refused events and duplicates of one batch, counted by tool and code, recorded by the
/// events handler (refused events are not stored anywhere else).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Refusals {
    /// (tool, error code) → events.
    pub rejected: BTreeMap<(String, String), i64>,
    /// tool → duplicates (re-sent, or repeated within the batch).
    pub duplicates: BTreeMap<String, i64>,
}

impl Refusals {
    pub fn reject(&mut self, tool: &str, code: &str) {
        *self
            .rejected
            .entry((tool.to_owned(), code.to_owned()))
            .or_default() += 1;
    }

    pub fn duplicate(&mut self, tool: &str) {
        *self.duplicates.entry(tool.to_owned()).or_default() += 1;
    }

    pub fn is_empty(&self) -> bool {
        self.rejected.is_empty() && self.duplicates.is_empty()
    }
}

/// The `tool` field of each event at `indexes` of a batch body, read leniently ("" when the
/// event is not an object or has no string `tool`): refused events never got a parsed form.
pub fn tools_in_body(body: &[u8], indexes: &[usize]) -> Vec<String> {
    #[derive(serde::Deserialize)]
    struct Tool {
        tool: Option<String>,
    }
    let batch: Option<crate::ingest::Batch> = serde_json::from_slice(body).ok();
    indexes
        .iter()
        .map(|&i| {
            batch
                .as_ref()
                .and_then(|b| b.events.get(i))
                .and_then(|raw| serde_json::from_str::<Tool>(raw.get()).ok())
                .and_then(|t| t.tool)
                .filter(|t| t.len() <= 128)
                .unwrap_or_default()
        })
        .collect()
}

/// The refusals of a batch of `sent` events: the `rejected` (index, code) pairs, and as
/// duplicates every index neither accepted nor rejected (re-sent, or repeated in the batch).
/// Tools are read from the body; a batch with nothing refused reads nothing.
pub fn refusals(
    body: &[u8],
    sent: usize,
    accepted: &std::collections::HashSet<usize>,
    rejected: &[(usize, &str)],
) -> Refusals {
    let mut out = Refusals::default();
    if accepted.len() == sent {
        return out;
    }
    let rejected_at: std::collections::HashSet<usize> = rejected.iter().map(|(i, _)| *i).collect();
    let duplicates: Vec<usize> = (0..sent)
        .filter(|i| !accepted.contains(i) && !rejected_at.contains(i))
        .collect();
    let indexes: Vec<usize> = rejected.iter().map(|(i, _)| *i).collect();
    for (tool, (_, code)) in tools_in_body(body, &indexes).iter().zip(rejected) {
        out.reject(tool, code);
    }
    for tool in tools_in_body(body, &duplicates) {
        out.duplicate(&tool);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MON: i64 = 1_795_996_800_000; // 2026-11-30T00:00:00Z, a Monday

    fn fact<'a>(
        class: &'a str,
        student: &'a str,
        tool: &'a str,
        at: i64,
        rt: Option<i32>,
    ) -> EventFact<'a> {
        EventFact {
            class_id: class,
            student_id: student,
            tool,
            occurred_at: at,
            response_ms: rt,
        }
    }

    #[test]
    fn practice_is_the_response_time_capped() {
        assert_eq!(practice_ms(Some(5_400)), 5_400);
        assert_eq!(practice_ms(Some(3_600_000)), PRACTICE_CAP_MS);
        assert_eq!(practice_ms(None), 0);
    }

    #[test]
    fn a_batch_folds_into_one_row_per_week_class_and_student() {
        let events = [
            fact("c1", "s1", "t", MON + 1_000, Some(2_000)),
            fact("c1", "s1", "t", MON + 500, None),
            fact("c1", "s1", "t", MON - 1, Some(10_000_000)), // Sunday: the week before
            fact("c2", "s1", "t", MON + 9, Some(1)),
        ];
        let folded = fold_activity(&events);
        assert_eq!(folded.len(), 3);
        let a = folded[&(MON, "c1", "s1")];
        assert_eq!(
            a,
            Activity {
                events: 2,
                timed_events: 1,
                practice_ms: 2_000,
                first_at: MON + 500,
                last_at: MON + 1_000
            }
        );
        assert_eq!(
            folded[&(MON - WEEK, "c1", "s1")].practice_ms,
            PRACTICE_CAP_MS
        );

        // Folding in two halves and adding equals folding at once (how the upsert adds).
        let mut first = fold_activity(&events[..2]);
        for (k, v) in fold_activity(&events[2..]) {
            first.entry(k).and_modify(|a| a.add(&v)).or_insert(v);
        }
        assert_eq!(first, folded);
    }

    const WEEK: i64 = super::super::WEEK_MS;

    #[test]
    fn late_and_future_dated_events_are_measured_against_receipt() {
        let now = MON + 10 * 3_600_000;
        let events = [
            fact("c", "s", "app", now - LATE_MS, Some(1)), // late, exactly a day
            fact("c", "s", "app", now - 3 * LATE_MS, Some(1)), // late, three days
            fact("c", "s", "app", now + 60_000, None),     // a minute ahead
            fact("c", "s", "app", now + 20_000, Some(1)),  // 20 s ahead
            fact("c", "s", "", now - 1_000, Some(1)),      // on time, no tool
        ];
        let folded = fold_received(&events, now);
        let app = folded[&(MON, "app")];
        assert_eq!(app.received, 4);
        assert_eq!(app.late, 2);
        assert_eq!(app.max_late_ms, 3 * LATE_MS);
        assert_eq!(app.future, 2);
        assert_eq!(app.max_future_ms, 60_000);
        assert_eq!(app.sum_future_ms, 80_000);
        assert_eq!(app.without_time, 1);
        assert_eq!(
            folded[&(MON, "")],
            ToolDay {
                received: 1,
                ..ToolDay::default()
            }
        );
    }

    #[test]
    fn tools_of_refused_events_are_read_leniently() {
        let body = br#"{"events": [{"tool": "quiz"}, 17, {"outcome": "maybe"}, {"tool": 3}]}"#;
        assert_eq!(
            tools_in_body(body, &[0, 1, 2, 3, 9]),
            ["quiz", "", "", "", ""]
        );
        assert_eq!(tools_in_body(b"not json", &[0]), [""]);
        let mut r = Refusals::default();
        assert!(r.is_empty());
        r.reject("quiz", "invalid_outcome");
        r.reject("quiz", "invalid_outcome");
        r.duplicate("");
        assert_eq!(r.rejected[&("quiz".into(), "invalid_outcome".into())], 2);
        assert_eq!(r.duplicates[""], 1);
    }

    #[test]
    fn refusals_are_the_rejected_and_the_rest_not_accepted() {
        let body = br#"{"events": [{"tool": "a"}, {"tool": "a"}, {"tool": "b"}, {}]}"#;
        let accepted = [0].into();
        let r = refusals(body, 4, &accepted, &[(2, "invalid_outcome")]);
        assert_eq!(r.rejected[&("b".into(), "invalid_outcome".into())], 1);
        assert_eq!(r.duplicates["a"], 1);
        assert_eq!(r.duplicates[""], 1);
        assert!(refusals(body, 1, &accepted, &[]).is_empty());
    }
}
