//! Small groups: students who share a need — the skill each most needs and is ready for —
//! in groups of `min`..=`max` (2–6 by default). Deterministic: the same data gives the same
//! groups (ties broken by ids). A student is in at most one group. Students whose most
//! needed skill has an estimate awaiting review are shown apart, and so are students with
//! too little evidence to place.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use utoipa::ToSchema;

use super::wording::count;
use super::{stable_id, Cell, ClassData};
use crate::kt::Status;

/// Evidence a student needs on a skill before it can be their group's focus.
pub const MIN_EVIDENCE: u32 = 3;
/// Candidate skills kept per student (the first is their most needed one).
const CANDIDATES: usize = 3;

/// Group sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupBounds {
    pub min: usize,
    pub max: usize,
}

impl Default for GroupBounds {
    fn default() -> Self {
        GroupBounds { min: 2, max: 6 }
    }
}

impl GroupBounds {
    /// Checked bounds: 1 ≤ min ≤ max ≤ 30.
    pub fn new(min: usize, max: usize) -> Result<GroupBounds, &'static str> {
        if min == 0 {
            return Err("min_size must be at least 1");
        }
        if max > 30 {
            return Err("max_size must be at most 30");
        }
        if min > max {
            return Err("min_size must not be larger than max_size");
        }
        Ok(GroupBounds { min, max })
    }
}

/// One suggested group (contract: `{"id", "focus_skill_id", "focus", "students", "reason",
/// "items_to_revisit"}`).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Group {
    /// Stable: the same focus and students give the same id.
    pub id: String,
    pub focus_skill_id: String,
    /// The skill's name (groups are named by the skill, never by ability).
    pub focus: String,
    pub students: Vec<String>,
    pub reason: String,
    /// Items of the focus skill the group missed most (filled by the store).
    pub items_to_revisit: Vec<String>,
    /// How many answers on the focus skill the group is formed from.
    pub based_on_answers: u32,
}

/// A student not in any group, and why.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Apart {
    pub student_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skill_id: Option<String>,
    pub reason: String,
}

/// What `/groups` answers besides the contract's `groups`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Suggestions {
    pub groups: Vec<Group>,
    /// Students whose most needed skill awaits the teacher's review: not grouped silently.
    pub needs_review: Vec<Apart>,
    /// Students who have mastered what they practised: ready for a challenge.
    pub ready_for_challenge: Vec<String>,
    /// Students with too little evidence, or no one to share a need with.
    pub not_grouped: Vec<Apart>,
}

/// The skills a student needs, most needed first: started, not mastered, enough evidence,
/// not dismissed by the teacher; lowest estimate first, then skill id.
fn candidates<'a>(data: &ClassData, cells: &[&'a Cell]) -> Vec<&'a Cell> {
    let mut c: Vec<&Cell> = cells
        .iter()
        .copied()
        .filter(|c| {
            c.estimate.status != Status::Mastered
                && c.estimate.status != Status::NotStarted
                && c.evidence >= MIN_EVIDENCE
                && !data.estimate_dismissed(c)
        })
        .collect();
    c.sort_by(|a, b| {
        a.estimate
            .estimate
            .total_cmp(&b.estimate.estimate)
            .then_with(|| a.skill_id.cmp(&b.skill_id))
    });
    c.truncate(CANDIDATES);
    c
}

/// Splits `n` students into group sizes within the bounds; what does not fit is left out.
fn sizes(n: usize, b: GroupBounds) -> Vec<usize> {
    if n < b.min {
        return Vec::new();
    }
    let mut k = n.div_ceil(b.max);
    if k * b.min > n {
        k = n / b.min;
    }
    let placed = n.min(k * b.max);
    (0..k)
        .map(|i| placed / k + usize::from(i < placed % k))
        .collect()
}

/// Suggests groups for the class.
pub fn suggest(data: &ClassData, bounds: GroupBounds) -> Suggestions {
    let mut out = Suggestions::default();
    let mut by_student: BTreeMap<&str, Vec<&Cell>> = BTreeMap::new();
    for c in &data.cells {
        by_student.entry(&c.student_id).or_default().push(c);
    }
    // Each placeable student's candidate skills.
    let mut wants: BTreeMap<&str, Vec<&Cell>> = BTreeMap::new();
    for s in &data.students {
        let id = s.student_id.as_str();
        let cells = by_student.get(id).cloned().unwrap_or_default();
        let cand = candidates(data, &cells);
        match cand.first() {
            Some(first) if data.needs_review(first) => out.needs_review.push(Apart {
                student_id: id.to_owned(),
                skill_id: Some(first.skill_id.clone()),
                reason: format!(
                    "Huddle is not sure yet how well {} knows {}. Your review decides where {} goes.",
                    s.name,
                    data.skill_phrase(&first.skill_id),
                    s.name
                ),
            }),
            Some(_) => {
                wants.insert(id, cand);
            }
            None => {
                let started: Vec<&&Cell> = cells
                    .iter()
                    .filter(|c| c.estimate.opportunities > 0)
                    .collect();
                if !started.is_empty()
                    && started
                        .iter()
                        .all(|c| c.estimate.status == Status::Mastered)
                {
                    out.ready_for_challenge.push(id.to_owned());
                } else {
                    out.not_grouped.push(Apart {
                        student_id: id.to_owned(),
                        skill_id: None,
                        reason: format!("Too few answers yet to place {} in a group.", s.name),
                    });
                }
            }
        }
    }
    // First choices; then students whose first-choice group is too small move to their next
    // candidate that already has a group of at least `min`, in id order.
    let mut buckets: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (student, cand) in &wants {
        buckets
            .entry(&cand[0].skill_id)
            .or_default()
            .insert(student);
    }
    let small: Vec<(&str, &str)> = buckets
        .iter()
        .filter(|(_, m)| m.len() < bounds.min)
        .flat_map(|(k, m)| m.iter().map(move |s| (*k, *s)))
        .collect();
    for (skill, student) in small {
        let next = wants[student][1..].iter().find(|c| {
            buckets
                .get(c.skill_id.as_str())
                .is_some_and(|m| m.len() >= bounds.min)
        });
        if let Some(next) = next {
            if let Some(m) = buckets.get_mut(skill) {
                m.remove(student);
            }
            buckets.entry(&next.skill_id).or_default().insert(student);
        }
    }
    let cell_of = |student: &str, skill: &str| {
        wants
            .get(student)
            .and_then(|c| c.iter().find(|c| c.skill_id == skill).copied())
    };
    for (skill, members) in buckets {
        // Similar estimates side by side, so a split keeps like with like.
        let mut members: Vec<&Cell> = members.iter().filter_map(|s| cell_of(s, skill)).collect();
        members.sort_by(|a, b| {
            a.estimate
                .estimate
                .total_cmp(&b.estimate.estimate)
                .then_with(|| a.student_id.cmp(&b.student_id))
        });
        let plan = sizes(members.len(), bounds);
        let placed: usize = plan.iter().sum();
        let topic = data.skill_phrase(skill);
        for c in &members[placed..] {
            out.not_grouped.push(Apart {
                student_id: c.student_id.clone(),
                skill_id: Some(skill.to_owned()),
                reason: format!(
                    "No one else needs {topic} right now: work with {} one to one.",
                    data.name_of(&c.student_id)
                ),
            });
        }
        let mut start = 0;
        for size in plan {
            let group = &members[start..start + size];
            start += size;
            let mut ids: Vec<String> = group.iter().map(|c| c.student_id.clone()).collect();
            ids.sort();
            let answers: u32 = group.iter().map(|c| c.evidence).sum();
            let struggling = group
                .iter()
                .filter(|c| c.estimate.status == Status::Struggling)
                .count();
            // One sentence a teacher can check: why these students, from how much evidence.
            let reason = format!(
                "{} is what each of them most needs now{}, from {}.",
                super::wording::capitalise(&topic),
                match struggling {
                    0 => String::new(),
                    n if n == ids.len() && n > 1 => " (all of them struggle with it)".to_owned(),
                    n => format!(
                        " ({n} of them {} with it)",
                        if n == 1 { "struggles" } else { "struggle" }
                    ),
                },
                count(answers as usize, "answer", "answers"),
            );
            let mut parts: Vec<&str> = vec![skill];
            parts.extend(ids.iter().map(String::as_str));
            out.groups.push(Group {
                id: stable_id("grp", &parts),
                focus_skill_id: skill.to_owned(),
                focus: topic.clone(),
                students: ids,
                reason,
                items_to_revisit: Vec::new(),
                based_on_answers: answers,
            });
        }
    }
    out.not_grouped
        .sort_by(|a, b| a.student_id.cmp(&b.student_id));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_respect_the_bounds() {
        let b = GroupBounds::default();
        assert_eq!(sizes(1, b), Vec::<usize>::new());
        assert_eq!(sizes(2, b), vec![2]);
        assert_eq!(sizes(6, b), vec![6]);
        assert_eq!(sizes(7, b), vec![4, 3]);
        assert_eq!(sizes(13, b), vec![5, 4, 4]);
        let tight = GroupBounds::new(5, 6).unwrap_or_default();
        assert_eq!(sizes(7, tight), vec![6]);
        assert_eq!(sizes(11, tight), vec![6, 5]);
        for n in 0..60 {
            for (min, max) in [(2, 6), (3, 4), (1, 1), (4, 6), (6, 6)] {
                let b = GroupBounds::new(min, max).unwrap_or_default();
                let s = sizes(n, b);
                assert!(
                    s.iter().all(|&k| k >= min && k <= max),
                    "{n} {min} {max} {s:?}"
                );
                assert!(s.iter().sum::<usize>() <= n);
                // Everyone who can be placed is: what is left could not form a group.
                assert!(
                    n - s.iter().sum::<usize>() < min || s.iter().sum::<usize>() == s.len() * max
                );
            }
        }
    }

    #[test]
    fn bounds_are_checked() {
        assert!(GroupBounds::new(0, 3).is_err());
        assert!(GroupBounds::new(4, 3).is_err());
        assert!(GroupBounds::new(2, 31).is_err());
        assert!(GroupBounds::new(3, 3).is_ok());
    }
}

#[cfg(test)]
mod class_tests {
    use super::*;
    use crate::insights::fixtures::*;

    const ADD: &str = "fractions.add-unlike";
    const MUL: &str = "fractions.multiply";

    fn data() -> ClassData {
        let mut d = class(
            30,
            vec![
                skill(ADD, "Adding fractions"),
                skill(MUL, "Multiplying fractions"),
            ],
        );
        for i in 1..=30 {
            let s = id(i);
            match i {
                1..=7 => {
                    d.cells.push(cell(&s, ADD, &wrong(16), 0));
                    d.cells
                        .push(cell(&s, MUL, &[true, false, true, true, false, true], 0));
                }
                8..=10 => d.cells.push(cell(&s, MUL, &wrong(16), 0)),
                // Mixed answers: an estimate that has not settled.
                11 => d
                    .cells
                    .push(cell(&s, ADD, &[true, false, true, false, true, false], 0)),
                12 => d.cells.push(cell(&s, ADD, &[false, false], 0)),
                _ => d.cells.push(cell(&s, ADD, &right(6), 0)),
            }
        }
        d
    }

    #[test]
    fn groups_respect_sizes_and_never_share_a_student() {
        let d = data();
        for (min, max) in [(2, 6), (3, 4), (2, 3), (4, 6)] {
            let bounds = GroupBounds::new(min, max).unwrap_or_default();
            let s = suggest(&d, bounds);
            let mut seen = BTreeSet::new();
            for g in &s.groups {
                assert!(
                    g.students.len() >= min && g.students.len() <= max,
                    "{min}-{max}: {g:?}"
                );
                for st in &g.students {
                    assert!(seen.insert(st.clone()), "{st} twice");
                }
            }
            for a in s.needs_review.iter().chain(&s.not_grouped) {
                assert!(
                    !seen.contains(&a.student_id),
                    "{} grouped and apart",
                    a.student_id
                );
            }
            assert_eq!(s, suggest(&d, bounds), "deterministic");
        }
        let s = suggest(&d, GroupBounds::default());
        let focus: Vec<(&str, usize)> = s
            .groups
            .iter()
            .map(|g| (g.focus_skill_id.as_str(), g.students.len()))
            .collect();
        assert_eq!(focus, vec![(ADD, 4), (ADD, 3), (MUL, 3)], "{s:#?}");
        assert_eq!(s.groups[2].students, vec![id(8), id(9), id(10)]);
        assert_eq!(s.groups[2].focus, "multiplying fractions");
        assert!(
            s.groups[2].reason.starts_with(
                "Multiplying fractions is what each of them most needs now (all of them struggle with it), from "
            ),
            "{}",
            s.groups[2].reason
        );
        assert_eq!(
            s.needs_review
                .iter()
                .map(|a| a.student_id.clone())
                .collect::<Vec<_>>(),
            vec![id(11)]
        );
        assert_eq!(
            s.not_grouped
                .iter()
                .map(|a| a.student_id.clone())
                .collect::<Vec<_>>(),
            vec![id(12)]
        );
        assert_eq!(s.ready_for_challenge.len(), 18);
    }
}
