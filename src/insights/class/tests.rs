use super::*;
use crate::insights::fixtures::*;
use crate::insights::{Decision, DecisionRecord, Decisions, FlagView};

const ADD: &str = "fractions.add-unlike";
const MUL: &str = "fractions.multiply";
const FACTS: &str = "multiplication.facts";

fn skills() -> Vec<crate::insights::SkillInfo> {
    vec![
        skill(ADD, "Adding fractions with unlike denominators"),
        skill(MUL, "Multiplying fractions"),
        skill(FACTS, "Multiplication facts"),
    ]
}

/// 30 students; the first `strugglers` got `wrong` fractions answers wrong, the others 6 right.
fn strugglers_class_of(strugglers: usize, wrong_answers: usize) -> ClassData {
    let mut data = class(30, skills());
    for i in 1..=30 {
        let answers = if i <= strugglers {
            wrong(wrong_answers)
        } else {
            right(6)
        };
        data.cells.push(cell(&id(i), ADD, &answers, 0));
    }
    data
}

/// Strugglers with enough answers for a settled call (16 wrong answers each).
fn strugglers_class(strugglers: usize) -> ClassData {
    strugglers_class_of(strugglers, 16)
}

fn headlines(data: &ClassData) -> Vec<String> {
    insights(data).into_iter().map(|i| i.headline).collect()
}

#[test]
fn a_group_of_strugglers() {
    let data = strugglers_class(6);
    let all = insights(&data);
    let first = &all[0];
    assert_eq!(
        first.headline,
        "6 students are struggling with adding fractions with unlike denominators."
    );
    assert_eq!(
        first.action,
        "Sit for 10 minutes with the group for adding fractions with unlike denominators."
    );
    assert_eq!(first.kind, InsightKind::StrugglingSkill);
    assert_eq!(first.students, (1..=6).map(id).collect::<Vec<_>>());
    assert_eq!(first.skill_id.as_deref(), Some(ADD));
    assert_eq!(first.domain.as_deref(), Some("fractions"));
    assert!(
        first
            .detail
            .starts_with("stu-01, stu-02, stu-03 and 3 others: 0 of 96 first tries right."),
        "{}",
        first.detail
    );
    assert!(!first.positive);
    // No jargon and no raw probabilities in a headline.
    for h in headlines(&data) {
        assert!(
            !h.contains("BKT") && !h.contains('%') && !h.contains("0."),
            "{h}"
        );
    }
}

#[test]
fn uncertain_calls_are_not_asserted() {
    // Six wrong answers each: struggling, but too few answers to be sure.
    let data = strugglers_class_of(6, 6);
    let first = &insights(&data)[0];
    assert_eq!(
        first.headline,
        "6 students may be struggling with adding fractions with unlike denominators."
    );
    assert!(first.needs_review);
    assert!(
        first
            .detail
            .ends_with("Huddle is not sure of 6 of these calls yet: they wait for your review."),
        "{}",
        first.detail
    );
    let mut one = strugglers_class_of(1, 6);
    one.students[0].name = "Maya".into();
    let s = insights(&one)
        .into_iter()
        .find(|i| i.kind == InsightKind::StrugglingSkill)
        .expect("a struggling insight");
    assert_eq!(
        s.headline,
        "Maya may be struggling with adding fractions with unlike denominators."
    );
}

#[test]
fn one_struggler_is_named() {
    let mut data = strugglers_class(1);
    data.students[0].name = "Maya".into();
    let all = insights(&data);
    let s = all
        .iter()
        .find(|i| i.kind == InsightKind::StrugglingSkill)
        .expect("a struggling insight");
    assert_eq!(
        s.headline,
        "Maya is struggling with adding fractions with unlike denominators."
    );
    assert_eq!(
        s.action,
        "Check in with Maya on adding fractions with unlike denominators."
    );
}

#[test]
fn a_rusher() {
    let mut data = class(3, skills());
    data.students[1].name = "Maya".into();
    data.flags.push(FlagView {
        student_id: id(2),
        kind: "rushing".into(),
        skill_id: Some(ADD.into()),
        since: NOW - 2 * 3_600_000,
        ended_at: None,
        sentence:
            "8 of the last 10 answers took under 2 seconds, on items that take most students 20"
                .into(),
        count: Some(8),
        of: Some(10),
        seconds: Some(2),
    });
    let all = insights(&data);
    assert_eq!(all.len(), 1);
    let i = &all[0];
    assert_eq!(
        i.headline,
        "Maya may be rushing: 8 of the last 10 answers took under 2 seconds."
    );
    assert_eq!(
        i.action,
        "Check in with Maya and ask for one problem talked through."
    );
    assert_eq!(i.flag_kind.as_deref(), Some("rushing"));
    assert_eq!(i.students, vec![id(2)]);
    assert!(i.needs_review);
    assert!(i.detail.ends_with("Since today."), "{}", i.detail);
}

#[test]
fn other_flags_are_worded() {
    let mut data = class(2, skills());
    for (kind, skill) in [
        ("idle", None),
        ("wheel_spinning", Some(ADD)),
        ("hint_abuse", Some(MUL)),
    ] {
        data.flags.push(FlagView {
            student_id: id(1),
            kind: kind.into(),
            skill_id: skill.map(str::to_owned),
            since: NOW - 3 * DAY_MS,
            ended_at: None,
            sentence: "evidence".into(),
            count: None,
            of: None,
            seconds: None,
        });
    }
    let h = headlines(&data);
    assert_eq!(h[0], "stu-01 has gone quiet.");
    assert!(h.contains(&"stu-01 is stuck on adding fractions with unlike denominators, with many tries and little progress.".to_owned()), "{h:?}");
    assert!(
        h.contains(
            &"stu-01 may be clicking through hints to the answer on multiplying fractions."
                .to_owned()
        ),
        "{h:?}"
    );
}

#[test]
fn a_mastered_class() {
    let mut data = class(30, skills());
    for i in 1..=30 {
        data.cells.push(cell(&id(i), FACTS, &right(6), 0));
    }
    let all = insights(&data);
    assert_eq!(all.len(), 1);
    assert_eq!(
        all[0].headline,
        "The whole class has mastered multiplication facts this week."
    );
    assert!(all[0].positive);
    assert_eq!(all[0].students.len(), 30);

    // 24 of 30, a month ago: most of the class, not "this week".
    let mut data = class(30, skills());
    for i in 1..=30 {
        let answers = if i <= 24 { right(6) } else { wrong(3) };
        data.cells.push(cell(&id(i), FACTS, &answers, 30));
    }
    assert_eq!(
        headlines(&data)[0],
        "Most of the class has mastered multiplication facts."
    );
}

#[test]
fn a_few_students_ready_for_a_challenge() {
    let mut data = class(30, skills());
    for i in 1..=30 {
        let answers = if i <= 4 {
            right(6)
        } else {
            vec![true, false, true, false]
        };
        data.cells.push(cell(&id(i), FACTS, &answers, 0));
    }
    let all = insights(&data);
    let r = all
        .iter()
        .find(|i| i.kind == InsightKind::ReadyForChallenge)
        .expect("ready");
    assert_eq!(r.headline, "4 students are ready for a challenge.");
    assert_eq!(
        r.action,
        "Give them a harder problem on what they have mastered."
    );
    // The other 26 are learning, with nothing to act on: one line says so.
    let last = all.last().expect("a summary");
    assert_eq!(last.kind, InsightKind::DoingWell);
    assert_eq!(last.headline, "And 26 students are doing well.");
}

#[test]
fn a_weak_domain_replaces_its_skills() {
    let mut data = class(5, skills());
    for i in 1..=3 {
        data.cells.push(cell(&id(i), ADD, &wrong(16), 0));
        data.cells.push(cell(&id(i), MUL, &wrong(16), 0));
    }
    let h = headlines(&data);
    assert_eq!(
        h,
        vec!["3 students are struggling with fractions.".to_owned()]
    );
    let all = insights(&data);
    assert_eq!(all[0].domain.as_deref(), Some("fractions"));
    assert_eq!(all[0].skill_id, None);
    // Their group is where to do it.
    assert_eq!(
        all[0].action,
        "Go back over the basics of fractions with the group for adding fractions with unlike denominators."
    );
    assert_eq!(all[0].group_ids.len(), 1);
}

#[test]
fn ranked_by_usefulness() {
    let mut data = strugglers_class(6);
    // One student ready for a challenge, and an old single struggler on another skill.
    data.cells.push(cell(&id(20), FACTS, &right(6), 0));
    data.cells.push(cell(&id(21), MUL, &wrong(6), 20));
    let all = insights(&data);
    let kinds: Vec<_> = all.iter().map(|i| (i.kind, i.students.len())).collect();
    assert_eq!(kinds[0], (InsightKind::StrugglingSkill, 6), "{kinds:?}");
    let scores: Vec<f64> = all.iter().map(|i| i.score).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    // Same data, same ids and order.
    assert_eq!(
        all.iter().map(|i| &i.id).collect::<Vec<_>>(),
        insights(&data).iter().map(|i| &i.id).collect::<Vec<_>>()
    );
}

fn dismiss(student: &str, skill: &str, kind: &str, marker: i64) -> DecisionRecord {
    DecisionRecord {
        student_id: student.into(),
        skill_id: skill.into(),
        kind: kind.into(),
        decision: Decision::Dismiss,
        note: Some("she was ill that week".into()),
        marker,
        decided_by: "t".into(),
        decided_at: NOW,
        insight_id: None,
    }
}

#[test]
fn a_dismissal_silences_until_new_evidence() {
    let mut data = strugglers_class(2);
    let marker = i64::from(data.cells[0].estimate.opportunities);
    data.decisions = Decisions::new([dismiss(&id(1), ADD, "estimate", marker)]);
    let s: Vec<_> = insights(&data)
        .into_iter()
        .filter(|i| i.kind == InsightKind::StrugglingSkill)
        .collect();
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].students, vec![id(2)]);
    // A new answer of stu-01: the dismissal no longer holds.
    data.cells[0] = cell(&id(1), ADD, &wrong(7), 0);
    let s: Vec<_> = insights(&data)
        .into_iter()
        .filter(|i| i.kind == InsightKind::StrugglingSkill)
        .collect();
    assert_eq!(s[0].students, vec![id(1), id(2)]);
}

#[test]
fn a_dismissed_flag_returns_only_with_a_new_flag() {
    let mut data = class(2, skills());
    let flag = FlagView {
        student_id: id(1),
        kind: "idle".into(),
        skill_id: None,
        since: NOW - DAY_MS,
        ended_at: None,
        sentence: "no answers for 20 minutes of a session".into(),
        count: None,
        of: None,
        seconds: None,
    };
    data.flags.push(flag.clone());
    data.decisions = Decisions::new([dismiss(&id(1), "", "flag:idle", NOW - 1000)]);
    assert!(insights(&data).is_empty());
    data.flags.push(FlagView { since: NOW, ..flag });
    assert_eq!(headlines(&data), vec!["stu-01 has gone quiet.".to_owned()]);
}

#[test]
fn students_gone_quiet_are_one_insight() {
    let mut data = class(4, skills());
    for n in 1..=3 {
        data.flags.push(FlagView {
            student_id: id(n),
            kind: "idle".into(),
            skill_id: None,
            since: NOW - 5 * DAY_MS,
            ended_at: None,
            sentence: "no practice for 4 school days".into(),
            count: None,
            of: None,
            seconds: None,
        });
    }
    let all = insights(&data);
    let idle: Vec<&Insight> = all
        .iter()
        .filter(|i| i.flag_kind.as_deref() == Some("idle"))
        .collect();
    assert_eq!(idle.len(), 1, "{all:?}");
    assert_eq!(
        idle[0].headline,
        "stu-01, stu-02 and stu-03 have gone quiet."
    );
    assert_eq!(idle[0].action, "Check in with each of them today.");
    assert_eq!(idle[0].students, vec![id(1), id(2), id(3)]);
    assert_eq!(idle[0].basis.len(), 3, "a dismissal covers every student");
}
