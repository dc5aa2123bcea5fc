//! What is current. Insights, review items and group reasons are built from the present
//! only: a flag episode counts while it goes on and for [`ENDED_WINDOW_MS`] after it ended
//! ("earlier today"), and a flag about one skill (stuck: many tries without progress) stops
//! counting once that skill is mastered, whatever the detector's episode says.

use super::{ClassData, FlagView};
use crate::kt::Status;

/// A flag that ended within this window still counts ("earlier today"): 12 hours.
pub const ENDED_WINDOW_MS: i64 = 12 * 3_600_000;

impl ClassData {
    /// Whether a flag describes the present (see the module's rule).
    pub fn is_current(&self, f: &FlagView) -> bool {
        if f.ended_at
            .is_some_and(|end| self.now - end > ENDED_WINDOW_MS)
        {
            return false;
        }
        match f.skill_id.as_deref() {
            Some(skill) => !self
                .cell(&f.student_id, skill)
                .is_some_and(|c| c.estimate.status == Status::Mastered),
            None => true,
        }
    }

    /// A detector's sentence with the class's skill ids replaced by their names (a teacher
    /// never reads a raw id).
    pub fn readable(&self, sentence: &str) -> String {
        let mut out = sentence.trim().to_owned();
        let mut ids: Vec<&str> = self.skills.iter().map(|s| s.skill_id.as_str()).collect();
        // Longer ids first, so that one id inside another is not half replaced.
        ids.sort_by_key(|s| std::cmp::Reverse(s.len()));
        for id in ids {
            if out.contains(id) {
                out = out.replace(id, &self.skill_phrase(id));
            }
        }
        out
    }

    /// The flags that describe the present, the latest per student, kind and skill.
    pub fn current_flags(&self) -> Vec<&FlagView> {
        let mut latest: std::collections::BTreeMap<(&str, &str, &str), &FlagView> =
            std::collections::BTreeMap::new();
        for f in self.flags.iter().filter(|f| self.is_current(f)) {
            let key = (
                f.student_id.as_str(),
                f.kind.as_str(),
                f.skill_id.as_deref().unwrap_or(""),
            );
            if latest.get(&key).is_none_or(|old| old.since < f.since) {
                latest.insert(key, f);
            }
        }
        latest.into_values().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insights::fixtures::*;
    use crate::insights::DAY_MS;

    fn flag(kind: &str, skill: Option<&str>, since: i64, ended: Option<i64>) -> FlagView {
        FlagView {
            student_id: id(1),
            kind: kind.into(),
            skill_id: skill.map(str::to_owned),
            since,
            ended_at: ended,
            sentence: "x".into(),
            count: None,
            of: None,
            seconds: None,
        }
    }

    #[test]
    fn ended_flags_and_stuck_on_a_mastered_skill_are_not_current() {
        let mut d = class(1, vec![skill("f.a", "Adding")]);
        d.cells.push(cell(&id(1), "f.a", &right(8), 0));
        let going_on = flag("rushing", None, NOW - DAY_MS, None);
        let earlier_today = flag("rushing", None, NOW - DAY_MS, Some(NOW - 3_600_000));
        let days_ago = flag("rushing", None, NOW - 5 * DAY_MS, Some(NOW - 3 * DAY_MS));
        let stuck_mastered = flag("wheel_spinning", Some("f.a"), NOW - DAY_MS, None);
        let stuck_other = flag("wheel_spinning", Some("f.b"), NOW - DAY_MS, None);
        assert!(d.is_current(&going_on));
        assert!(d.is_current(&earlier_today));
        assert!(!d.is_current(&days_ago));
        assert!(!d.is_current(&stuck_mastered));
        assert!(d.is_current(&stuck_other));
        d.flags = vec![days_ago, going_on.clone(), stuck_mastered];
        assert_eq!(d.current_flags(), vec![&going_on]);
    }
}
