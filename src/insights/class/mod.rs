//! The insights of a class: who is struggling with what (a skill, a whole domain), behaviour
//! flags of one student, and progress (mastery, students ready for a challenge), each worded
//! plainly with its evidence and one action, ranked by usefulness, near-duplicates removed.
//!
//! Decisions silence: an estimate a teacher dismissed leaves every struggling insight until
//! new evidence arrives on that student × skill; a dismissed flag leaves until a new flag
//! starts; a dismissed positive insight (acknowledged, "wait and see") leaves for that
//! student × skill until new evidence.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use utoipa::ToSchema;

use super::wording::{
    capitalise, count, days_ago, domain_phrase, has_have, is_are, names, of, percent,
};
use super::{stable_id, Basis, Cell, ClassData, DAY_MS};
use crate::kt::{Confidence, Status};

/// Most of the class: at least this share of the students who practised the skill, and at
/// least [`MOST_MIN_STUDENTS`] of them.
pub const MOST_SHARE: f64 = 2.0 / 3.0;
pub const MOST_MIN_STUDENTS: usize = 3;
/// A struggling domain: a student struggles on at least this many of its skills.
pub const DOMAIN_MIN_SKILLS: usize = 2;
/// "This week": mastery backed by a correct answer within this many days.
pub const RECENT_DAYS: i64 = 7;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InsightKind {
    /// Students struggling with one skill.
    StrugglingSkill,
    /// Students struggling with several skills of one domain.
    StrugglingDomain,
    /// A behaviour flag of one student (rushing, idle, ...).
    Behaviour,
    /// Most of the class has mastered a skill.
    MasteredSkill,
    /// A few students have just mastered a skill: ready for a challenge.
    ReadyForChallenge,
}

impl InsightKind {
    pub fn as_str(self) -> &'static str {
        match self {
            InsightKind::StrugglingSkill => "struggling_skill",
            InsightKind::StrugglingDomain => "struggling_domain",
            InsightKind::Behaviour => "behaviour",
            InsightKind::MasteredSkill => "mastered_skill",
            InsightKind::ReadyForChallenge => "ready_for_challenge",
        }
    }

    fn is_struggle(self) -> bool {
        matches!(
            self,
            InsightKind::StrugglingSkill | InsightKind::StrugglingDomain
        )
    }
}

/// One insight (contract: `{"id", "kind", "headline", "detail", "action", "students",
/// "skill_id"?, "domain"?, "confidence", "needs_review"}`).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Insight {
    /// Stable: the same kind, topic and students give the same id.
    #[schema(example = "ins-3f2a9c0d1e4b5a67")]
    pub id: String,
    pub kind: InsightKind,
    /// The plain sentence a teacher reads.
    #[schema(
        example = "6 students are struggling with adding fractions with unlike denominators."
    )]
    pub headline: String,
    /// The evidence behind it.
    pub detail: String,
    /// One thing to do.
    #[schema(
        example = "Sit with this group for 10 minutes on adding fractions with unlike denominators."
    )]
    pub action: String,
    pub students: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skill_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// For behaviour insights: the flag's kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flag_kind: Option<String>,
    #[schema(value_type = String, example = "medium")]
    pub confidence: Confidence,
    /// Some of it rests on calls the teacher has not reviewed yet.
    pub needs_review: bool,
    /// Good news (mastery, progress) rather than a difficulty.
    pub positive: bool,
    /// How many answers it rests on.
    pub based_on_answers: u32,
    /// Usefulness: how many students, how severe, how recent, how certain (higher first).
    pub score: f64,
    /// The decision keys it rests on (what confirming or dismissing it records).
    #[serde(skip)]
    pub basis: Vec<Basis>,
}

/// All insights of the class, most useful first, without near-duplicates.
pub fn insights(data: &ClassData) -> Vec<Insight> {
    let mut all = Vec::new();
    all.extend(struggling(data));
    all.extend(gather_idle(behaviour(data), data));
    all.extend(progress(data));
    all.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
    let mut kept: Vec<Insight> = Vec::new();
    for insight in all {
        if !kept.iter().any(|k| near_duplicate(k, &insight, data)) {
            kept.push(insight);
        }
    }
    kept
}

/// `later` says nothing that `earlier` (ranked higher) does not: the same kind of news about
/// the same students (or a subset) on the same topic (a skill inside a domain counts).
fn near_duplicate(earlier: &Insight, later: &Insight, data: &ClassData) -> bool {
    let same_polarity = (earlier.kind.is_struggle() && later.kind.is_struggle())
        || (earlier.kind == later.kind && earlier.flag_kind == later.flag_kind)
        || (earlier.positive && later.positive);
    if !same_polarity {
        return false;
    }
    let subset = later.students.iter().all(|s| earlier.students.contains(s));
    if !subset {
        return false;
    }
    let domain_of = |i: &Insight| {
        i.domain.clone().or_else(|| {
            i.skill_id
                .as_deref()
                .and_then(|s| data.skill(s).map(|k| k.domain.clone()))
        })
    };
    let same_topic = match (&earlier.skill_id, &later.skill_id) {
        (Some(a), Some(b)) => a == b,
        _ => domain_of(earlier).is_some() && domain_of(earlier) == domain_of(later),
    };
    same_topic || (earlier.kind == InsightKind::Behaviour && later.kind == InsightKind::Behaviour)
}

fn certainty(c: Confidence) -> f64 {
    match c {
        Confidence::High => 1.0,
        Confidence::Medium => 0.85,
        Confidence::Low => 0.6,
    }
}

/// 1 today, 1/2 a week ago, 1/3 two weeks ago.
fn recency(latest: i64, now: i64) -> f64 {
    let days = ((now - latest) as f64 / DAY_MS as f64).max(0.0);
    1.0 / (1.0 + days / RECENT_DAYS as f64)
}

fn score(
    severity: f64,
    students: usize,
    latest: i64,
    now: i64,
    c: Confidence,
    review: bool,
) -> f64 {
    let size = 1.0 + (students.max(1) as f64).ln();
    let review = if review { 0.9 } else { 1.0 };
    let s = severity * size * recency(latest, now) * certainty(c) * review;
    (s * 1000.0).round() / 1000.0
}

/// The middle confidence of the students' estimates (the lower middle for an even count).
fn middle_confidence(cells: &[&Cell]) -> Confidence {
    let mut levels: Vec<Confidence> = cells.iter().map(|c| c.estimate.confidence).collect();
    levels.sort();
    levels
        .get(levels.len().saturating_sub(1) / 2)
        .copied()
        .unwrap_or(Confidence::Low)
}

fn student_ids(cells: &[&Cell]) -> Vec<String> {
    let set: BTreeSet<&str> = cells.iter().map(|c| c.student_id.as_str()).collect();
    set.into_iter().map(str::to_owned).collect()
}

fn estimate_basis(cells: &[&Cell], kind: &str) -> Vec<Basis> {
    cells
        .iter()
        .map(|c| Basis {
            student_id: c.student_id.clone(),
            skill_id: c.skill_id.clone(),
            kind: kind.to_owned(),
            marker: i64::from(c.estimate.opportunities),
        })
        .collect()
}

/// "them" for a group, the name for one student.
fn them(data: &ClassData, students: &[String]) -> String {
    if students.len() == 1 {
        data.name_of(&students[0])
    } else {
        "this group".to_owned()
    }
}

fn uncertain_note(data: &ClassData, cells: &[&Cell]) -> (bool, String) {
    let uncertain = cells.iter().filter(|c| data.needs_review(c)).count();
    if uncertain == 0 {
        (false, String::new())
    } else if cells.len() == 1 {
        (
            true,
            " This call is uncertain: it waits for your review.".to_owned(),
        )
    } else {
        (
            true,
            format!(
                " {} of these calls {} uncertain and {} for your review.",
                uncertain,
                is_are(uncertain),
                if uncertain == 1 { "waits" } else { "wait" }
            ),
        )
    }
}

/// "6 students are struggling with …", or "… may be struggling …" when every call behind it
/// is still uncertain (honest uncertainty: the teacher judges, the sentence does not assert).
fn struggling_headline(data: &ClassData, ids: &[String], cells: &[&Cell], topic: &str) -> String {
    let uncertain = cells.iter().all(|c| data.needs_review(c));
    let n = ids.len();
    let verb = match (n, uncertain) {
        (_, true) => "may be",
        (1, false) => "is",
        _ => "are",
    };
    let who = if n == 1 {
        data.name_of(&ids[0])
    } else {
        count(n, "student", "students")
    };
    format!("{who} {verb} struggling with {topic}.")
}

fn struggling(data: &ClassData) -> Vec<Insight> {
    let mut out = Vec::new();
    // Struggling estimates a teacher has not dismissed, by skill.
    let mut by_skill: BTreeMap<&str, Vec<&Cell>> = BTreeMap::new();
    for c in &data.cells {
        if c.estimate.status == Status::Struggling && !data.estimate_dismissed(c) {
            by_skill.entry(&c.skill_id).or_default().push(c);
        }
    }
    // Domains: students struggling on several of a domain's skills.
    let mut by_domain: BTreeMap<String, BTreeMap<&str, Vec<&Cell>>> = BTreeMap::new();
    for cells in by_skill.values() {
        for c in cells {
            let domain = data.skill(&c.skill_id).map_or_else(
                || crate::ingest::domain_of(&c.skill_id).to_owned(),
                |s| s.domain.clone(),
            );
            by_domain
                .entry(domain)
                .or_default()
                .entry(&c.student_id)
                .or_default()
                .push(c);
        }
    }
    for (domain, students) in &by_domain {
        let weak: Vec<(&str, &Vec<&Cell>)> = students
            .iter()
            .filter(|(_, cells)| cells.len() >= DOMAIN_MIN_SKILLS)
            .map(|(s, c)| (*s, c))
            .collect();
        if weak.is_empty() {
            continue;
        }
        let cells: Vec<&Cell> = weak.iter().flat_map(|(_, c)| c.iter().copied()).collect();
        let ids = student_ids(&cells);
        let n = ids.len();
        let topic = domain_phrase(domain);
        let headline = struggling_headline(data, &ids, &cells, &topic);
        let skills: BTreeSet<&str> = cells.iter().map(|c| c.skill_id.as_str()).collect();
        let skill_list: Vec<String> = skills.iter().map(|s| data.skill_phrase(s)).collect();
        let answers: u32 = cells.iter().map(|c| c.evidence).sum();
        let right: u32 = cells.iter().map(|c| c.correct).sum();
        let (review, note) = uncertain_note(data, &cells);
        let detail = format!(
            "{} {} weak on {} of {topic}: {}. {} first tries right, based on {}.{note}",
            names(&ids.iter().map(|s| data.name_of(s)).collect::<Vec<_>>()),
            is_are(n),
            if n == 1 {
                format!("{} skills", skills.len())
            } else {
                "several skills".to_owned()
            },
            names(&skill_list),
            capitalise(&of(right, answers)),
            count(answers as usize, "answer", "answers"),
        );
        let action = format!(
            "Go back over the basics of {topic} with {}.",
            them(data, &ids)
        );
        let confidence = middle_confidence(&cells);
        let latest = cells.iter().map(|c| c.last_at).max().unwrap_or(data.now);
        out.push(Insight {
            id: stable_id(
                "ins",
                &[
                    &[InsightKind::StrugglingDomain.as_str(), domain.as_str()][..],
                    &ids.iter().map(String::as_str).collect::<Vec<_>>(),
                ]
                .concat(),
            ),
            kind: InsightKind::StrugglingDomain,
            headline,
            detail,
            action,
            students: ids.clone(),
            skill_id: None,
            domain: Some(domain.clone()),
            flag_kind: None,
            confidence,
            needs_review: review,
            positive: false,
            based_on_answers: answers,
            // Several weak skills of one domain: the most severe news.
            score: score(1.0, n, latest, data.now, confidence, review),
            basis: estimate_basis(&cells, super::reviews::ESTIMATE),
        });
    }
    for (skill, cells) in by_skill {
        let ids = student_ids(&cells);
        let n = ids.len();
        let topic = data.skill_phrase(skill);
        let headline = struggling_headline(data, &ids, &cells, &topic);
        let answers: u32 = cells.iter().map(|c| c.evidence).sum();
        let right: u32 = cells.iter().map(|c| c.correct).sum();
        let lowest = cells
            .iter()
            .map(|c| c.estimate.estimate)
            .fold(1.0, f64::min);
        let highest = cells
            .iter()
            .map(|c| c.estimate.estimate)
            .fold(0.0, f64::max);
        let (review, note) = uncertain_note(data, &cells);
        let detail = format!(
            "{}: {} first tries right, based on {}. Estimated mastery {}.{note}",
            names(&ids.iter().map(|s| data.name_of(s)).collect::<Vec<_>>()),
            of(right, answers),
            count(answers as usize, "answer", "answers"),
            if n == 1 {
                percent(lowest)
            } else {
                format!("from {} to {}", percent(lowest), percent(highest))
            },
        );
        let action = if n == 1 {
            format!("Check in with {} on {topic}.", data.name_of(&ids[0]))
        } else {
            format!("Sit with this group for 10 minutes on {topic}.")
        };
        let confidence = middle_confidence(&cells);
        let latest = cells.iter().map(|c| c.last_at).max().unwrap_or(data.now);
        out.push(Insight {
            id: stable_id(
                "ins",
                &[
                    &[InsightKind::StrugglingSkill.as_str(), skill][..],
                    &ids.iter().map(String::as_str).collect::<Vec<_>>(),
                ]
                .concat(),
            ),
            kind: InsightKind::StrugglingSkill,
            headline,
            detail,
            action,
            students: ids.clone(),
            skill_id: Some(skill.to_owned()),
            domain: data.skill(skill).map(|s| s.domain.clone()),
            flag_kind: None,
            confidence,
            needs_review: review,
            positive: false,
            based_on_answers: answers,
            score: score(0.9, n, latest, data.now, confidence, review),
            basis: estimate_basis(&cells, super::reviews::ESTIMATE),
        });
    }
    out
}

/// The sentence, detail and action of one flag; `name` is the student's.
fn flag_words(
    data: &ClassData,
    flag: &super::FlagView,
    name: &str,
) -> (String, String, String, f64) {
    let on = flag
        .skill_id
        .as_deref()
        .map(|s| format!(" on {}", data.skill_phrase(s)))
        .unwrap_or_default();
    let share = match (flag.count, flag.of) {
        (Some(c), Some(o)) if o > 0 => Some(format!("{c} of the last {o}")),
        _ => None,
    };
    let under = flag
        .seconds
        .map(|s| format!("under {}", count(s as usize, "second", "seconds")));
    let (headline, action, severity) = match flag.kind.as_str() {
        "rushing" => (
            match (&share, &under) {
                (Some(s), Some(u)) => format!("{name} may be rushing: {s} answers took {u}."),
                (Some(s), None) => format!("{name} may be rushing: {s} answers came very fast."),
                _ => format!("{name} may be rushing{on}."),
            },
            format!("Check in with {name} and ask them to talk you through one problem."),
            0.8,
        ),
        "rapid_guessing" => (
            match &share {
                Some(s) => format!(
                    "{name} may be guessing: {s} answers came too fast to read the question."
                ),
                None => format!("{name} may be guessing{on}."),
            },
            format!("Check in with {name}: guessed answers do not count as evidence."),
            0.8,
        ),
        "gaming" => (
            format!("{name} may be clicking through{on} without trying."),
            format!("Check in with {name} and work one problem together."),
            0.8,
        ),
        "hint_abuse" => (
            match &share {
                Some(s) => format!(
                    "{name} may be leaning on hints: {s} items ended with the answer shown."
                ),
                None => format!("{name} may be leaning on hints{on}."),
            },
            format!("Check in with {name}: try one problem with no hints, side by side."),
            0.75,
        ),
        "giving_up" => (
            format!("{name} may be giving up{on}."),
            format!("Check in with {name}: a word of encouragement and one problem together."),
            0.85,
        ),
        "idle" => (
            format!("{name} has gone quiet{on}."),
            format!("Check in with {name} today."),
            // Studies of teachers: idle students are the ones teachers act on most.
            0.9,
        ),
        "wheel_spinning" => (
            format!("{name} is stuck{on}: many tries, no progress."),
            format!("Sit with {name}: more practice alone is not helping."),
            0.85,
        ),
        "shared_account" => (
            format!("{name}'s account may be used by someone else."),
            format!("Ask {name} whether anyone else uses their account."),
            0.6,
        ),
        other => (
            format!(
                "{name} shows a pattern worth a look{on} ({}).",
                other.replace('_', " ")
            ),
            format!("Check in with {name}."),
            0.6,
        ),
    };
    let detail = format!(
        "{} Since {}.",
        capitalise(flag.sentence.trim()),
        days_ago(flag.since, data.now)
    );
    (headline, detail, action, severity)
}

/// Students who have gone quiet are one piece of news, not one line each: two or more become
/// "3 students have gone quiet: …", resting on every student's flag (a dismissal covers all).
fn gather_idle(insights: Vec<Insight>, data: &ClassData) -> Vec<Insight> {
    let (idle, mut rest): (Vec<Insight>, Vec<Insight>) = insights
        .into_iter()
        .partition(|i| i.flag_kind.as_deref() == Some("idle"));
    if idle.len() < 2 {
        rest.extend(idle);
        return rest;
    }
    let students: Vec<String> = idle.iter().flat_map(|i| i.students.clone()).collect();
    let shown: Vec<String> = students.iter().map(|s| data.name_of(s)).collect();
    let confidence = idle
        .iter()
        .map(|i| i.confidence)
        .min()
        .unwrap_or(Confidence::Low);
    let needs_review = idle.iter().any(|i| i.needs_review);
    let ids: Vec<&str> = students.iter().map(String::as_str).collect();
    let mut key = vec!["behaviour", "idle"];
    key.extend(&ids);
    rest.push(Insight {
        id: stable_id("ins", &key),
        kind: InsightKind::Behaviour,
        headline: format!(
            "{} {} gone quiet: {}.",
            count(students.len(), "student", "students"),
            has_have(students.len()),
            names(&shown)
        ),
        detail: idle
            .iter()
            .map(|i| format!("{}: {}", data.name_of(&i.students[0]), i.detail))
            .collect::<Vec<_>>()
            .join(" "),
        action: format!("Check in with {} today.", names(&shown)),
        skill_id: None,
        domain: None,
        flag_kind: Some("idle".into()),
        confidence,
        needs_review,
        positive: false,
        based_on_answers: 0,
        score: score(
            0.9,
            students.len(),
            data.now,
            data.now,
            confidence,
            needs_review,
        ),
        basis: idle.iter().flat_map(|i| i.basis.clone()).collect(),
        students,
    });
    rest
}

fn behaviour(data: &ClassData) -> Vec<Insight> {
    // The latest flag per student, kind and skill that no decision silences.
    let mut latest: BTreeMap<(&str, &str, &str), &super::FlagView> = BTreeMap::new();
    for f in &data.flags {
        let skill = f.skill_id.as_deref().unwrap_or("");
        let kind = super::reviews::flag_kind_key(&f.kind);
        if data
            .decisions
            .holding_flag(&f.student_id, skill, &kind, f.since)
            .is_some_and(|d| d.decision == super::Decision::Dismiss)
        {
            continue;
        }
        let key = (f.student_id.as_str(), f.kind.as_str(), skill);
        if latest.get(&key).is_none_or(|old| old.since < f.since) {
            latest.insert(key, f);
        }
    }
    latest
        .into_values()
        .map(|f| {
            let name = data.name_of(&f.student_id);
            let (headline, detail, action, severity) = flag_words(data, f, &name);
            let skill = f.skill_id.clone().unwrap_or_default();
            let kind = super::reviews::flag_kind_key(&f.kind);
            let confirmed = data
                .decisions
                .holding_flag(&f.student_id, &skill, &kind, f.since)
                .is_some_and(|d| d.decision == super::Decision::Confirm);
            let confidence = if f.count.is_some() {
                Confidence::Medium
            } else {
                Confidence::Low
            };
            let latest = f.ended_at.unwrap_or(data.now);
            Insight {
                id: stable_id("ins", &["behaviour", &f.kind, &skill, &f.student_id]),
                kind: InsightKind::Behaviour,
                headline,
                detail,
                action,
                students: vec![f.student_id.clone()],
                skill_id: f.skill_id.clone(),
                domain: f
                    .skill_id
                    .as_deref()
                    .and_then(|s| data.skill(s).map(|k| k.domain.clone())),
                flag_kind: Some(f.kind.clone()),
                confidence,
                // A flag is a call about behaviour: the teacher's to confirm.
                needs_review: !confirmed,
                positive: false,
                based_on_answers: f.of.unwrap_or(0),
                score: score(severity, 1, latest, data.now, confidence, !confirmed),
                basis: vec![Basis {
                    student_id: f.student_id.clone(),
                    skill_id: skill,
                    kind,
                    marker: f.since,
                }],
            }
        })
        .collect()
}

fn progress(data: &ClassData) -> Vec<Insight> {
    let today = data.now.div_euclid(DAY_MS) as i32;
    let recent = |c: &Cell| {
        c.last_correct_day
            .is_some_and(|d| i64::from(today - d) < RECENT_DAYS)
    };
    let mut out = Vec::new();
    let mut by_skill: BTreeMap<&str, (Vec<&Cell>, usize)> = BTreeMap::new();
    for c in &data.cells {
        let entry = by_skill.entry(&c.skill_id).or_default();
        if c.estimate.opportunities > 0 {
            entry.1 += 1;
        }
        if c.estimate.status == Status::Mastered {
            entry.0.push(c);
        }
    }
    let class_size = data.students.len();
    for (skill, (mastered, practised)) in by_skill {
        let kind_key = |k: InsightKind| format!("insight:{}", k.as_str());
        let most = mastered.len() >= MOST_MIN_STUDENTS
            && mastered.len() as f64 >= MOST_SHARE * practised as f64;
        let kind = if most {
            InsightKind::MasteredSkill
        } else {
            InsightKind::ReadyForChallenge
        };
        let key = kind_key(kind);
        let cells: Vec<&Cell> = mastered
            .into_iter()
            .filter(|c| {
                !data.decisions.dismissed(
                    &c.student_id,
                    &c.skill_id,
                    &key,
                    i64::from(c.estimate.opportunities),
                )
            })
            .filter(|c| most || recent(c))
            .collect();
        if cells.is_empty() {
            continue;
        }
        let ids = student_ids(&cells);
        let n = ids.len();
        let topic = data.skill_phrase(skill);
        let this_week = cells.iter().filter(|c| recent(c)).count() * 2 > n;
        let when = if this_week { " this week" } else { "" };
        let answers: u32 = cells.iter().map(|c| c.evidence).sum();
        let right: u32 = cells.iter().map(|c| c.correct).sum();
        let (headline, action) = if most {
            let who = if n == class_size {
                "The whole class has".to_owned()
            } else {
                "Most of the class has".to_owned()
            };
            (
                format!("{who} mastered {topic}{when}."),
                format!("Move on from {topic}, and offer a harder problem to those who want one."),
            )
        } else if n == 1 {
            (
                format!("{} has mastered {topic}{when}.", data.name_of(&ids[0])),
                format!(
                    "Give {} a harder problem on {topic}.",
                    data.name_of(&ids[0])
                ),
            )
        } else {
            (
                format!(
                    "{} {} mastered {topic}{when}.",
                    count(n, "student", "students"),
                    has_have(n)
                ),
                format!("Give this group a harder problem on {topic}."),
            )
        };
        let detail = format!(
            "{} of {} students who practised it: {} first tries right, based on {}, spread over more than one day.",
            n,
            practised,
            of(right, answers),
            count(answers as usize, "answer", "answers"),
        );
        let confidence = middle_confidence(&cells);
        let latest = cells.iter().map(|c| c.last_at).max().unwrap_or(data.now);
        out.push(Insight {
            id: stable_id(
                "ins",
                &[
                    &[kind.as_str(), skill][..],
                    &ids.iter().map(String::as_str).collect::<Vec<_>>(),
                ]
                .concat(),
            ),
            kind,
            headline,
            detail,
            action,
            students: ids,
            skill_id: Some(skill.to_owned()),
            domain: data.skill(skill).map(|s| s.domain.clone()),
            flag_kind: None,
            confidence,
            needs_review: false,
            positive: true,
            based_on_answers: answers,
            score: score(
                if most { 0.25 } else { 0.2 },
                n,
                latest,
                data.now,
                confidence,
                false,
            ),
            basis: estimate_basis(&cells, &key),
        });
    }
    out
}

#[cfg(test)]
mod tests;
