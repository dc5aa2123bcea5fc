//! The insights of a class: who is struggling with what (a skill, a whole domain), behaviour
//! flags (one insight per kind naming its students), who needs time one to one, who is ready
//! for a challenge, and what most of the class has mastered — each worded plainly with its
//! evidence and one action, ranked by how much a person can help now, and kept short: at most
//! [`LIST_MAX`] per class, the rest summarised ("and 12 students doing well"); the first
//! [`FIRST_SCREEN`] are what Today shows first.
//!
//! Built from the present only ([`super::present`]) and consistent with the suggested groups:
//! an insight whose action is a group links to it and says where its other students are.
//!
//! Decisions silence: an estimate a teacher dismissed leaves every struggling insight until
//! new evidence arrives on that student × skill; an insight marked done or dismissed leaves
//! for its students until new evidence on them; a flag dismissed or acted on leaves until a new
//! flag starts.

mod behaviour;
mod followup;
mod placement;

pub use behaviour::flag_name;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use utoipa::ToSchema;

use super::groups::Suggestions;
use super::wording::{capitalise, count, domain_phrase, is_are, names, of, percent_range};
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
/// Insights Today shows before "show more".
pub const FIRST_SCREEN: usize = 5;
/// At most this many insights per class, the summary of the rest included.
pub const LIST_MAX: usize = 15;

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
    /// Students who mastered everything they practised: ready for a challenge.
    ReadyForChallenge,
    /// Students who need a skill no one else in the class needs: time one to one.
    OneToOne,
    /// The rest of the class, in one line: students nothing above names.
    DoingWell,
    /// What followed the teacher's help on a skill ("After you sat with …").
    AfterHelp,
}

impl InsightKind {
    pub fn as_str(self) -> &'static str {
        match self {
            InsightKind::StrugglingSkill => "struggling_skill",
            InsightKind::StrugglingDomain => "struggling_domain",
            InsightKind::Behaviour => "behaviour",
            InsightKind::MasteredSkill => "mastered_skill",
            InsightKind::ReadyForChallenge => "ready_for_challenge",
            InsightKind::OneToOne => "one_to_one",
            InsightKind::DoingWell => "doing_well",
            InsightKind::AfterHelp => "after_help",
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
    /// The suggested groups its action refers to (ids from `GET …/groups`).
    pub group_ids: Vec<String>,
    /// One of the first [`FIRST_SCREEN`] insights: what Today shows first.
    pub first_screen: bool,
    /// The decision keys it rests on (what marking it done or dismissing it records).
    #[serde(skip)]
    pub basis: Vec<Basis>,
}

/// All insights of the class, most useful first, without near-duplicates, at most
/// [`LIST_MAX`]; the first [`FIRST_SCREEN`] are marked `first_screen`.
pub fn insights(data: &ClassData) -> Vec<Insight> {
    let groups = super::groups::suggest(data, super::GroupBounds::default());
    let mut all = Vec::new();
    all.extend(struggling(data, &groups));
    let told: BTreeSet<(String, String)> = all
        .iter()
        .filter(|i| i.kind.is_struggle())
        .flat_map(|i| i.basis.iter())
        .map(|b| (b.student_id.clone(), b.skill_id.clone()))
        .collect();
    all.extend(behaviour::insights(data, &told));
    all.extend(progress(data, &groups));
    let named: BTreeSet<String> = all
        .iter()
        .filter(|i| i.kind.is_struggle())
        .flat_map(|i| i.students.clone())
        .collect();
    all.extend(placement::one_to_one(data, &groups, &named));
    all.extend(followup::insights(data));
    all.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
    let mut kept: Vec<Insight> = Vec::new();
    for insight in all {
        if !kept.iter().any(|k| near_duplicate(k, &insight, data)) {
            kept.push(insight);
        }
    }
    placement::budget(data, kept)
}

/// `later` says nothing that `earlier` (ranked higher) does not: the same kind of news about
/// the same students (or a subset) on the same topic (a skill inside a domain counts).
fn near_duplicate(earlier: &Insight, later: &Insight, data: &ClassData) -> bool {
    // Good news about students another piece of good news already names.
    if earlier.positive
        && later.positive
        && later.students.iter().all(|s| earlier.students.contains(s))
    {
        return true;
    }
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

pub(super) fn score(
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
            " Huddle is not sure of this call yet: it waits for your review.".to_owned(),
        )
    } else {
        // The words of certainty every page uses (insights::student::Certainty).
        (
            true,
            format!(
                " Huddle is not sure of {} of these calls yet: {} for your review.",
                uncertain,
                if uncertain == 1 {
                    "it waits"
                } else {
                    "they wait"
                }
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

/// The decision kind of an insight about students × skills: `insight:<kind>`.
pub fn insight_key(kind: InsightKind) -> String {
    format!("insight:{}", kind.as_str())
}

/// A done or dismissed insight of this kind still holds for the cell (no new evidence since).
fn set_aside(data: &ClassData, c: &Cell, kind: InsightKind) -> bool {
    data.decisions
        .holding(
            &c.student_id,
            &c.skill_id,
            &insight_key(kind),
            i64::from(c.estimate.opportunities),
        )
        .is_some_and(|d| d.decision.silences())
}

fn struggling(data: &ClassData, groups: &Suggestions) -> Vec<Insight> {
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
        let cells: Vec<&Cell> = weak
            .iter()
            .flat_map(|(_, c)| c.iter().copied())
            .filter(|c| !set_aside(data, c, InsightKind::StrugglingDomain))
            .collect();
        if cells.is_empty() {
            continue;
        }
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
            "{} {} weak on {} of {topic}: {}. {} first tries right.{note}",
            names(&ids.iter().map(|s| data.name_of(s)).collect::<Vec<_>>()),
            is_are(n),
            if n == 1 {
                format!("{} skills", skills.len())
            } else {
                "several skills".to_owned()
            },
            names(&skill_list),
            capitalise(&of(right, answers)),
        );
        let (group_ids, where_) = placement::place(data, groups, &ids, None);
        // All of them in one group: that group is where to go over it.
        let one_group = groups
            .groups
            .iter()
            .find(|g| ids.iter().all(|s| g.students.contains(s)));
        let action = match one_group {
            Some(g) if n > 1 => format!(
                "Go back over the basics of {topic} with the group for {}.",
                g.focus
            ),
            _ => format!(
                "Go back over the basics of {topic} with {}.{where_}",
                them(data, &ids)
            ),
        };
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
            basis: estimate_basis(&cells, &insight_key(InsightKind::StrugglingDomain)),
            group_ids,
            first_screen: false,
        });
    }
    for (skill, cells) in by_skill {
        let cells: Vec<&Cell> = cells
            .into_iter()
            .filter(|c| !set_aside(data, c, InsightKind::StrugglingSkill))
            .collect();
        if cells.is_empty() {
            continue;
        }
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
            "{}: {} first tries right. The chance {} {} it is {}.",
            names(&ids.iter().map(|s| data.name_of(s)).collect::<Vec<_>>()),
            of(right, answers),
            if n == 1 { "they" } else { "each of them" },
            if n == 1 { "know" } else { "knows" },
            if n == 1 {
                percent_range(lowest, lowest)
            } else {
                percent_range(lowest, highest)
            },
        );
        // Stuck on the same skill is the same news: said here, not in a card of its own.
        let stuck_flags: Vec<Basis> = data
            .current_flags()
            .iter()
            .filter(|f| f.kind == "wheel_spinning" && f.skill_id.as_deref() == Some(skill))
            .filter(|f| ids.contains(&f.student_id))
            .map(|f| Basis {
                student_id: f.student_id.clone(),
                skill_id: skill.to_owned(),
                kind: super::reviews::flag_kind_key(&f.kind),
                marker: f.since,
            })
            .collect();
        let stuck = stuck_flags.len();
        let detail = match stuck {
            0 => detail,
            1 if n == 1 => format!("{detail} More practice alone is not helping."),
            k => format!(
                "{detail} {} tried many times without progress.",
                if k == n && n > 1 {
                    "All of them have".to_owned()
                } else {
                    format!("{k} of them {}", if k == 1 { "has" } else { "have" })
                }
            ),
        } + &note;
        let (group_ids, where_) = placement::place(data, groups, &ids, Some(skill));
        let action = placement::group_action(data, groups, &ids, skill, &topic, &where_);
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
            // Deciding on it decides on the stuck flags it tells of too.
            basis: [
                estimate_basis(&cells, &insight_key(InsightKind::StrugglingSkill)),
                stuck_flags,
            ]
            .concat(),
            group_ids,
            first_screen: false,
        });
    }
    out
}

/// Most of the class mastered a skill (one insight per skill), and the students ready for a
/// challenge (the groups' list: they mastered everything they practised).
fn progress(data: &ClassData, groups: &Suggestions) -> Vec<Insight> {
    let today = data.now.div_euclid(DAY_MS) as i32;
    let recent = |c: &Cell| {
        c.last_correct_day
            .is_some_and(|d| i64::from(today - d) < RECENT_DAYS)
    };
    let mut out = Vec::new();
    // Per skill: the mastered cells, and the students still working on it.
    let mut by_skill: BTreeMap<&str, (Vec<&Cell>, usize)> = BTreeMap::new();
    for c in &data.cells {
        let entry = by_skill.entry(&c.skill_id).or_default();
        if c.estimate.status == Status::Mastered {
            entry.0.push(c);
        } else if c.estimate.opportunities > 0 {
            entry.1 += 1;
        }
    }
    let class_size = data.students.len();
    let key = insight_key(InsightKind::MasteredSkill);
    for (skill, (mastered, working)) in by_skill {
        let practised = mastered.len() + working;
        let most = mastered.len() >= MOST_MIN_STUDENTS
            && mastered.len() as f64 >= MOST_SHARE * practised as f64;
        if !most {
            continue;
        }
        let cells: Vec<&Cell> = mastered
            .into_iter()
            .filter(|c| !set_aside(data, c, InsightKind::MasteredSkill))
            .collect();
        if cells.len() < MOST_MIN_STUDENTS {
            continue;
        }
        let ids = student_ids(&cells);
        let n = ids.len();
        let topic = data.skill_phrase(skill);
        let this_week = cells.iter().filter(|c| recent(c)).count() * 2 > n;
        let when = if this_week { " this week" } else { "" };
        let answers: u32 = cells.iter().map(|c| c.evidence).sum();
        let right: u32 = cells.iter().map(|c| c.correct).sum();
        let who = if n == class_size {
            "The whole class has"
        } else {
            "Most of the class has"
        };
        let headline = format!("{who} mastered {topic}{when}.");
        // "Move on" only when no one who practised it is still working on it: never beside a
        // struggling insight or a group on the same skill.
        let action = if working == 0 {
            format!("Move on from {topic}, and offer a harder problem to those who want one.")
        } else {
            format!(
                "Offer a harder problem to those who have it; {} still {} on it.",
                count(working, "student", "students"),
                if working == 1 { "works" } else { "work" }
            )
        };
        let detail = format!(
            "{} of {} students who practised it: {} first tries right, spread over more than one day.",
            n,
            practised,
            of(right, answers),
        );
        let confidence = middle_confidence(&cells);
        let latest = cells.iter().map(|c| c.last_at).max().unwrap_or(data.now);
        out.push(Insight {
            id: stable_id(
                "ins",
                &[
                    &[InsightKind::MasteredSkill.as_str(), skill][..],
                    &ids.iter().map(String::as_str).collect::<Vec<_>>(),
                ]
                .concat(),
            ),
            kind: InsightKind::MasteredSkill,
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
            score: score(0.25, n, latest, data.now, confidence, false),
            basis: estimate_basis(&cells, &key),
            group_ids: Vec::new(),
            first_screen: false,
        });
    }
    out.extend(placement::ready(data, groups));
    out
}

#[cfg(test)]
mod tests;
