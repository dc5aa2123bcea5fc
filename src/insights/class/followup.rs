//! "Did my help work?" on Today: after a check-in, a group plan marked done or an insight marked
//! done on a skill, once every student it reached has answered enough first tries on the skill
//! since, one line compares those answers with the ones before ("After you sat with Amara, Theo
//! and Lucas on Tuesday, 2 of 3 got most of their next answers right."). Worded "after", never
//! "because": the comparison cannot tell the help from practice or time. The moments of help
//! come with the class's data ([`ClassData::helps`]); the arithmetic is `lesson::followup`.

use super::{insight_key, score, Insight, InsightKind};
use crate::insights::wording::names;
use crate::insights::{stable_id, Basis, ClassData};
use crate::kt::Confidence;
use crate::lesson::followup::{day_phrase, group_sentence, help_phrase, Help, WINDOW};

/// At most this many follow-ups among the insights (the newest clear ones).
pub const MAX: usize = 2;

/// The follow-ups of the class's recent help that are clear and not set aside.
pub fn insights(data: &ClassData) -> Vec<Insight> {
    data.helps
        .iter()
        .filter(|h| h.is_clear() && !set_aside(data, h))
        .take(MAX)
        .filter_map(|h| insight(data, h))
        .collect()
}

/// Marked done or dismissed for every student, with no newer help since (the marker is the
/// help's time).
fn set_aside(data: &ClassData, help: &Help) -> bool {
    let key = insight_key(InsightKind::AfterHelp);
    help.students.iter().all(|(s, _)| {
        data.decisions
            .holding(s, &help.skill_id, &key, help.at)
            .is_some_and(|d| d.decision.silences())
    })
}

fn insight(data: &ClassData, help: &Help) -> Option<Insight> {
    let ids: Vec<String> = help.students.iter().map(|(s, _)| s.clone()).collect();
    let shown: Vec<String> = ids.iter().map(|s| data.name_of(s)).collect();
    let results: Vec<_> = help.students.iter().map(|(_, r)| *r).collect();
    let headline = group_sentence(
        &help_phrase(help.kind, &names(&shown)),
        &day_phrase(help.at, data.now),
        &results,
    )?;
    let skill = data.skill_phrase(&help.skill_id);
    let lines: Vec<String> = help
        .students
        .iter()
        .zip(&shown)
        .map(|((_, r), name)| {
            format!(
                "{name}: {} of {} right before, {} of {} after",
                r.before_right, r.before, r.after_right, r.after
            )
        })
        .collect();
    let detail = format!(
        "First tries on {skill}, up to {WINDOW} before and {WINDOW} after. {}. This compares \
         answers; it cannot tell whether the help or more practice made the difference.",
        lines.join("; ")
    );
    let n = ids.len();
    let mostly = help.mostly_right();
    let still: Vec<String> = help
        .students
        .iter()
        .zip(&shown)
        .filter(|((_, r), _)| !r.mostly_right_after())
        .map(|(_, name)| name.clone())
        .collect();
    let action = if still.is_empty() {
        format!(
            "Ask {} a question on {skill} in a few days to see if it holds.",
            if n == 1 { "them" } else { "each" }
        )
    } else {
        format!(
            "Try another way in with {}: most of their answers since were wrong.",
            names(&still)
        )
    };
    let full = help.students.iter().all(|(_, r)| r.after >= WINDOW);
    let confidence = if full {
        Confidence::Medium
    } else {
        Confidence::Low
    };
    let answers: usize = results.iter().map(|r| r.before + r.after).sum();
    let key = insight_key(InsightKind::AfterHelp);
    let at = help.at.to_string();
    Some(Insight {
        id: stable_id(
            "ins",
            &[
                &[
                    InsightKind::AfterHelp.as_str(),
                    help.skill_id.as_str(),
                    at.as_str(),
                ][..],
                &ids.iter().map(String::as_str).collect::<Vec<_>>(),
            ]
            .concat(),
        ),
        kind: InsightKind::AfterHelp,
        headline,
        detail,
        action,
        students: ids.clone(),
        skill_id: Some(help.skill_id.clone()),
        domain: None,
        flag_kind: None,
        confidence,
        needs_review: false,
        positive: mostly * 2 > n,
        based_on_answers: answers as u32,
        // News about the teacher's own help: below a struggle of the same size.
        score: score(0.6, n, help.at, data.now, confidence, false),
        basis: ids
            .iter()
            .map(|s| Basis {
                student_id: s.clone(),
                skill_id: help.skill_id.clone(),
                kind: key.clone(),
                marker: help.at,
            })
            .collect(),
        group_ids: Vec::new(),
        first_screen: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insights::fixtures::{class, id};
    use crate::insights::{Decision, DecisionRecord, Decisions, SkillInfo};
    use crate::lesson::attention::AttentionKind;
    use crate::lesson::followup::{before_after, Try};

    const HOUR: i64 = 3_600_000;

    /// First tries one minute apart from 0; `c` right, anything else wrong.
    fn tries(spec: &str) -> Vec<Try> {
        spec.chars()
            .enumerate()
            .map(|(i, c)| Try {
                at: i as i64 * 60_000,
                correct: c == 'c',
            })
            .collect()
    }

    fn data_with(help: Help) -> ClassData {
        let mut d = class(
            4,
            vec![SkillInfo {
                skill_id: "mult.9".into(),
                name: Some("Multiplication facts: the 9s".into()),
                domain: "mult".into(),
            }],
        );
        d.now = help.at + 2 * HOUR;
        d.helps = vec![help];
        d
    }

    /// Help at minute 4.5: five first tries before, the rest after.
    fn help(kind: AttentionKind, specs: &[&str]) -> Help {
        let at = 4 * 60_000 + 30_000;
        Help {
            kind,
            at,
            skill_id: "mult.9".into(),
            students: specs
                .iter()
                .enumerate()
                .map(|(i, s)| (id(i + 1), before_after(&tries(s), at)))
                .collect(),
        }
    }

    #[test]
    fn a_group_that_mostly_got_it_right_after_reads_after_never_because() {
        let h = help(
            AttentionKind::GroupPlan,
            &["iiiiiccccc", "iiiiicccci", "iciiiccicc", "iiiiiiiiic"],
        );
        let data = data_with(h);
        let list = insights(&data);
        assert_eq!(list.len(), 1);
        let i = &list[0];
        assert_eq!(i.kind, InsightKind::AfterHelp);
        assert!(
            i.headline.starts_with("After you worked with "),
            "{}",
            i.headline
        );
        assert!(
            i.headline
                .ends_with("today, 3 of 4 got most of their next answers right."),
            "{}",
            i.headline
        );
        assert!(!format!("{} {} {}", i.headline, i.detail, i.action).contains("because"));
        assert!(i.positive);
        assert!(
            i.action.starts_with("Try another way in with "),
            "{}",
            i.action
        );
        assert!(
            i.detail.contains("0 of 5 right before, 1 of 5 after"),
            "{}",
            i.detail
        );
        assert_eq!(i.based_on_answers, 40);
        assert_eq!(i.confidence, Confidence::Medium);
        assert_eq!(i.skill_id.as_deref(), Some("mult.9"));
    }

    #[test]
    fn one_student_checked_in_with_gets_their_own_figures() {
        let data = data_with(help(AttentionKind::CheckIn, &["iiiiiccic"]));
        let i = &insights(&data)[0];
        assert_eq!(
            i.headline,
            format!(
                "After you sat with {} today, 3 of their next 4 answers were right (before: 0 of 5).",
                data.name_of(&id(1))
            )
        );
        assert_eq!(i.confidence, Confidence::Low);
        assert!(
            i.action.starts_with("Ask them a question on "),
            "{}",
            i.action
        );
    }

    #[test]
    fn nothing_is_said_until_every_student_has_answered_enough_since() {
        let data = data_with(help(AttentionKind::Insight, &["iiiiiccccc", "iiiiicc"]));
        assert!(insights(&data).is_empty());
    }

    #[test]
    fn a_follow_up_marked_done_stays_away() {
        let h = help(AttentionKind::CheckIn, &["iiiiiccccc", "iiiiiccccc"]);
        let mut data = data_with(h.clone());
        let first = insights(&data)[0].id.clone();
        let (at, now) = (h.at, data.now);
        let decided = |s: String| DecisionRecord {
            student_id: s,
            skill_id: "mult.9".into(),
            kind: insight_key(InsightKind::AfterHelp),
            decision: Decision::Done,
            note: None,
            marker: at,
            decided_by: "t".into(),
            decided_at: now,
            insight_id: Some(first.clone()),
        };
        data.decisions = Decisions::new([decided(id(1))]);
        assert_eq!(
            insights(&data)[0].id,
            first,
            "one of two set aside: still shown"
        );
        data.decisions = Decisions::new([decided(id(1)), decided(id(2))]);
        assert!(insights(&data).is_empty());
    }
}
