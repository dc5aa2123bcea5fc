//! Insights and groups agree: where each student of an insight is among the suggested groups
//! ("3 of them are in the fractions group; 2 wait for your review"), the insights that come
//! from the groups (time one to one, ready for a challenge), and the budget of attention
//! (at most [`LIST_MAX`] insights, the rest summarised in one line).

use std::collections::{BTreeMap, BTreeSet};

use super::{insight_key, score, Insight, InsightKind, FIRST_SCREEN, LIST_MAX};
use crate::insights::groups::Suggestions;
use crate::insights::wording::{capitalise, count, names};
use crate::insights::{stable_id, Basis, ClassData};
use crate::kt::Confidence;

/// "Maya", "Maya and Noah", "3 of them" when the list is long, "all of them" when it is
/// everyone (`all`).
fn who(data: &ClassData, ids: &[&str], of_them: bool, all: usize) -> String {
    if ids.len() == all && all > 2 {
        "all of them".to_owned()
    } else if ids.len() <= 2 {
        names(&ids.iter().map(|s| data.name_of(s)).collect::<Vec<_>>())
    } else if of_them {
        format!("{} of them", ids.len())
    } else {
        count(ids.len(), "student", "students")
    }
}

/// The groups these students are in, and a sentence (with a leading space, or empty) saying
/// where those outside the `focus` skill's groups are.
pub fn place(
    data: &ClassData,
    groups: &Suggestions,
    ids: &[String],
    focus: Option<&str>,
) -> (Vec<String>, String) {
    let mut group_ids: Vec<String> = Vec::new();
    let mut elsewhere: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut review = Vec::new();
    let mut alone = Vec::new();
    let mut unplaced = Vec::new();
    for id in ids {
        if let Some(g) = groups.groups.iter().find(|g| g.students.contains(id)) {
            if !group_ids.contains(&g.id) {
                group_ids.push(g.id.clone());
            }
            if focus != Some(g.focus_skill_id.as_str()) {
                elsewhere.entry(g.focus.as_str()).or_default().push(id);
            }
        } else if groups.needs_review.iter().any(|a| &a.student_id == id) {
            review.push(id.as_str());
        } else if groups
            .not_grouped
            .iter()
            .any(|a| &a.student_id == id && a.skill_id.is_some())
        {
            alone.push(id.as_str());
        } else {
            unplaced.push(id.as_str());
        }
    }
    let mut parts = Vec::new();
    for (topic, members) in &elsewhere {
        parts.push(format!(
            "{} {} in the group for {topic}",
            who(data, members, true, ids.len()),
            if members.len() == 1 { "is" } else { "are" }
        ));
    }
    if !review.is_empty() {
        parts.push(format!(
            "{} {} for your review",
            who(data, &review, true, ids.len()),
            if review.len() == 1 { "waits" } else { "wait" }
        ));
    }
    // One student's own insight already says "check in with them".
    if !alone.is_empty() && ids.len() > 1 {
        parts.push(format!(
            "{} {} one to one",
            who(data, &alone, true, ids.len()),
            if alone.len() == 1 {
                "needs you"
            } else {
                "need you"
            }
        ));
    }
    if !unplaced.is_empty() {
        parts.push(format!(
            "{} {} too few answers to place",
            who(data, &unplaced, true, ids.len()),
            if unplaced.len() == 1 { "has" } else { "have" }
        ));
    }
    let sentence = if parts.is_empty() {
        String::new()
    } else {
        // "all of them …" starts the sentence in capitals; a name or a number is left as it is.
        let s = parts.join("; ");
        let s = match s.strip_prefix("all of them") {
            Some(rest) => format!("All of them{rest}"),
            None => s,
        };
        format!(" {s}.")
    };
    (group_ids, sentence)
}

/// The action of a struggling insight on one skill: the skill's group when its students are
/// in one, else a check-in; then where the others are.
pub fn group_action(
    data: &ClassData,
    groups: &Suggestions,
    ids: &[String],
    skill: &str,
    topic: &str,
    where_: &str,
) -> String {
    let in_focus = groups
        .groups
        .iter()
        .filter(|g| g.focus_skill_id == skill && ids.iter().any(|s| g.students.contains(s)))
        .count();
    match (in_focus, ids.len()) {
        (0, 1) => format!(
            "Check in with {} on {topic}.{where_}",
            data.name_of(&ids[0])
        ),
        (0, _) => format!("Check in with each of them on {topic}.{where_}"),
        (1, _) => format!("Sit for 10 minutes with the group for {topic}.{where_}"),
        (k, _) => format!("Sit for 10 minutes with each of the {k} groups for {topic}.{where_}"),
    }
}

/// Students who need a skill no one else needs now, not already named by a struggling
/// insight: one insight naming them and their skills.
pub fn one_to_one(
    data: &ClassData,
    groups: &Suggestions,
    named: &BTreeSet<String>,
) -> Vec<Insight> {
    let key = insight_key(InsightKind::OneToOne);
    let cells: Vec<&crate::insights::Cell> = groups
        .not_grouped
        .iter()
        .filter(|a| !named.contains(&a.student_id))
        .filter_map(|a| data.cell(&a.student_id, a.skill_id.as_deref()?))
        .filter(|c| {
            !data
                .decisions
                .holding(
                    &c.student_id,
                    &c.skill_id,
                    &key,
                    i64::from(c.estimate.opportunities),
                )
                .is_some_and(|d| d.decision.silences())
        })
        .collect();
    if cells.is_empty() {
        return Vec::new();
    }
    let ids: Vec<String> = cells.iter().map(|c| c.student_id.clone()).collect();
    let n = ids.len();
    let each: Vec<String> = cells
        .iter()
        .map(|c| {
            format!(
                "{} on {}",
                data.name_of(&c.student_id),
                data.skill_phrase(&c.skill_id)
            )
        })
        .collect();
    let headline = if n == 1 {
        format!(
            "{} needs a few minutes with you on {}.",
            data.name_of(&ids[0]),
            data.skill_phrase(&cells[0].skill_id)
        )
    } else if n <= 3 {
        format!(
            "{} need a few minutes with you one to one: {}.",
            count(n, "student", "students"),
            names(&ids.iter().map(|s| data.name_of(s)).collect::<Vec<_>>())
        )
    } else {
        format!(
            "{} need a few minutes with you one to one.",
            count(n, "student", "students")
        )
    };
    let mut key_parts = vec!["one_to_one"];
    key_parts.extend(ids.iter().map(String::as_str));
    let answers: u32 = cells.iter().map(|c| c.evidence).sum();
    let latest = cells.iter().map(|c| c.last_at).max().unwrap_or(data.now);
    vec![Insight {
        id: stable_id("ins", &key_parts),
        kind: InsightKind::OneToOne,
        headline,
        detail: format!(
            "No one else in the class needs the same skill now, so there is no group to share: {}.",
            each.join("; ")
        ),
        action: if n == 1 {
            format!("Give {} five minutes one to one.", data.name_of(&ids[0]))
        } else {
            "Give each of them five minutes one to one.".to_owned()
        },
        students: ids,
        skill_id: None,
        domain: None,
        flag_kind: None,
        confidence: Confidence::Medium,
        needs_review: false,
        positive: false,
        based_on_answers: answers,
        score: score(0.7, n, latest, data.now, Confidence::Medium, false),
        basis: cells
            .iter()
            .map(|c| Basis {
                student_id: c.student_id.clone(),
                skill_id: c.skill_id.clone(),
                kind: key.clone(),
                marker: i64::from(c.estimate.opportunities),
            })
            .collect(),
        group_ids: Vec::new(),
        first_screen: false,
    }]
}

/// A student's evidence marker for class-wide decisions: every opportunity they have.
fn opportunities(data: &ClassData, student: &str) -> i64 {
    data.cells
        .iter()
        .filter(|c| c.student_id == student)
        .map(|c| i64::from(c.estimate.opportunities))
        .sum()
}

/// The students ready for a challenge (the groups' list), in one insight.
pub fn ready(data: &ClassData, groups: &Suggestions) -> Vec<Insight> {
    let key = insight_key(InsightKind::ReadyForChallenge);
    let ids: Vec<String> = groups
        .ready_for_challenge
        .iter()
        .filter(|s| {
            !data
                .decisions
                .holding(s, "", &key, opportunities(data, s))
                .is_some_and(|d| d.decision.silences())
        })
        .cloned()
        .collect();
    if ids.is_empty() {
        return Vec::new();
    }
    let n = ids.len();
    let shown: Vec<String> = ids.iter().map(|s| data.name_of(s)).collect();
    let headline = match n {
        1 => format!("{} is ready for a challenge.", shown[0]),
        2..=3 => format!("{} are ready for a challenge.", names(&shown)),
        _ => format!(
            "{} are ready for a challenge.",
            count(n, "student", "students")
        ),
    };
    let latest = data
        .cells
        .iter()
        .filter(|c| ids.contains(&c.student_id))
        .map(|c| c.last_at)
        .max()
        .unwrap_or(data.now);
    let mut key_parts = vec!["ready_for_challenge"];
    key_parts.extend(ids.iter().map(String::as_str));
    vec![Insight {
        id: stable_id("ins", &key_parts),
        kind: InsightKind::ReadyForChallenge,
        headline,
        detail: format!(
            "{} {} mastered every skill they worked on. They were right on more than one day.",
            names(&shown),
            if n == 1 { "has" } else { "have" },
        ),
        action: if n == 1 {
            format!(
                "Give {} a harder problem on what they have mastered.",
                shown[0]
            )
        } else {
            "Give them a harder problem on what they have mastered.".to_owned()
        },
        skill_id: None,
        domain: None,
        flag_kind: None,
        confidence: Confidence::High,
        needs_review: false,
        positive: true,
        based_on_answers: ids
            .iter()
            .map(|s| opportunities(data, s))
            .sum::<i64>()
            .try_into()
            .unwrap_or(u32::MAX),
        // Below "most of the class mastered X", which says more when both name the same students.
        score: score(0.2, n, latest, data.now, Confidence::High, false),
        basis: ids
            .iter()
            .map(|s| Basis {
                student_id: s.clone(),
                skill_id: String::new(),
                kind: key.clone(),
                marker: opportunities(data, s),
            })
            .collect(),
        students: ids,
        group_ids: Vec::new(),
        first_screen: false,
    }]
}

/// At most [`LIST_MAX`] insights: the most useful, then one line for the rest of the class
/// ("12 students are doing well"), which also counts the notes left out. The first
/// [`FIRST_SCREEN`] are marked.
pub fn budget(data: &ClassData, mut ranked: Vec<Insight>) -> Vec<Insight> {
    let left_out = ranked.len().saturating_sub(LIST_MAX - 1);
    ranked.truncate(LIST_MAX - 1);
    let needed: BTreeSet<&str> = ranked
        .iter()
        .flat_map(|i| i.students.iter().map(String::as_str))
        .collect();
    let practised: BTreeSet<&str> = data
        .cells
        .iter()
        .filter(|c| c.estimate.opportunities > 0)
        .map(|c| c.student_id.as_str())
        .collect();
    // Doing well is a fact about the student, not about what is shown: a struggle or a flag
    // the teacher set aside still rules it out.
    let troubled: BTreeSet<&str> = data
        .cells
        .iter()
        .filter(|c| c.estimate.status == crate::kt::Status::Struggling)
        .map(|c| c.student_id.as_str())
        .chain(
            data.current_flags()
                .into_iter()
                .map(|f| f.student_id.as_str()),
        )
        .collect();
    let well: Vec<String> = data
        .students
        .iter()
        .map(|s| s.student_id.as_str())
        .filter(|s| practised.contains(s) && !needed.contains(s) && !troubled.contains(s))
        .map(str::to_owned)
        .collect();
    if !well.is_empty() || left_out > 0 {
        let n = well.len();
        let more = if left_out > 0 {
            format!(
                " {left_out} more {} on the class page.",
                if left_out == 1 {
                    "note is"
                } else {
                    "notes are"
                }
            )
        } else {
            String::new()
        };
        let headline = match n {
            0 => format!(
                "{left_out} more {} on the class page.",
                if left_out == 1 {
                    "note is"
                } else {
                    "notes are"
                }
            ),
            _ if n == data.students.len() => "The whole class is doing well.".to_owned(),
            _ => format!(
                "And {} {} doing well.",
                count(n, "student", "students"),
                if n == 1 { "is" } else { "are" }
            ),
        };
        ranked.push(Insight {
            id: stable_id("ins", &["doing_well", &data.class_id]),
            kind: InsightKind::DoingWell,
            headline,
            detail: if n == 0 {
                more.trim().to_owned()
            } else {
                format!(
                    "{}: no struggle and no flag now.{more}",
                    capitalise(&names(
                        &well.iter().map(|s| data.name_of(s)).collect::<Vec<_>>()
                    ))
                )
            },
            action: "Nothing to do: they keep practising.".to_owned(),
            students: well,
            skill_id: None,
            domain: None,
            flag_kind: None,
            confidence: Confidence::Medium,
            needs_review: false,
            positive: true,
            based_on_answers: 0,
            score: 0.0,
            basis: Vec::new(),
            group_ids: Vec::new(),
            first_screen: false,
        });
    }
    for (i, insight) in ranked.iter_mut().enumerate() {
        insight.first_screen = i < FIRST_SCREEN;
    }
    ranked
}
