//! Behaviour insights: the current flags, one insight per kind and skill naming its
//! students ("3 students have gone quiet: …"). Names are neutral and concrete ("clicking
//! through without trying"); thresholds stay in the detail, in words a teacher reads.

use std::collections::{BTreeMap, BTreeSet};

use super::{score, Insight, InsightKind};
use crate::insights::wording::{capitalise, count, days_ago, names};
use crate::insights::{reviews::flag_kind_key, stable_id, Basis, ClassData, Decision, FlagView};
use crate::kt::Confidence;

/// The words of one kind of flag.
struct Words {
    /// What one student may be doing, after the name: "may be rushing".
    one: String,
    /// The same for several: "may be rushing".
    many: String,
    /// What to do, with `{who}` for the name or "each of them".
    action: &'static str,
    severity: f64,
}

/// How a teacher reads a flag's kind (the review page and the grid use the same names).
pub fn flag_name(kind: &str) -> String {
    match kind {
        "rapid_guessing" => "answering too fast to read the question".into(),
        "hint_abuse" => "clicking through hints to the answer".into(),
        "gaming" => "clicking through without trying".into(),
        "rushing" => "rushing".into(),
        "giving_up" => "giving up".into(),
        "idle" => "gone quiet".into(),
        "wheel_spinning" => "many tries without progress".into(),
        "shared_account" => "someone else may use the account".into(),
        other => other.replace('_', " "),
    }
}

fn words(kind: &str, topic: Option<&str>) -> Words {
    let on = topic.map(|t| format!(" on {t}")).unwrap_or_default();
    let (one, many, action, severity) = match kind {
        "rushing" => (
            "may be rushing".to_owned(),
            "may be rushing".to_owned(),
            "Check in with {who} and ask for one problem talked through.",
            0.8,
        ),
        "rapid_guessing" => (
            "may be answering too fast to read the question".to_owned(),
            "may be answering too fast to read the question".to_owned(),
            "Check in with {who}: answers that fast do not count.",
            0.8,
        ),
        "gaming" => (
            format!("may be clicking through{on} without trying"),
            format!("may be clicking through{on} without trying"),
            "Check in with {who} and work one problem together.",
            0.8,
        ),
        "hint_abuse" => (
            format!("may be clicking through hints to the answer{on}"),
            format!("may be clicking through hints to the answer{on}"),
            "Try one problem with no hints, side by side with {who}.",
            0.75,
        ),
        "giving_up" => (
            format!("may be giving up{on}"),
            format!("may be giving up{on}"),
            "Cheer {who} on and work one problem together.",
            0.85,
        ),
        // Studies of teachers: idle students are the ones teachers act on most.
        "idle" => (
            "has gone quiet".to_owned(),
            "have gone quiet".to_owned(),
            "Check in with {who} today.",
            0.9,
        ),
        "wheel_spinning" => (
            format!("is stuck{on}, with many tries and little progress"),
            format!("are stuck{on}, with many tries and little progress"),
            "Sit with {who}: more practice alone is not helping.",
            0.85,
        ),
        "shared_account" => (
            "may share the account with someone else".to_owned(),
            "may share their accounts with someone else".to_owned(),
            "Ask {who} whether anyone else uses the account.",
            0.6,
        ),
        other => (
            format!(
                "shows a pattern worth a look{on} ({})",
                other.replace('_', " ")
            ),
            format!(
                "show a pattern worth a look{on} ({})",
                other.replace('_', " ")
            ),
            "Check in with {who}.",
            0.6,
        ),
    };
    Words {
        one,
        many,
        action,
        severity,
    }
}

/// The flag's own count, in plain words, for one student's headline: "8 of the last 10
/// answers took under 2 seconds".
fn share(f: &FlagView) -> Option<String> {
    let (c, o) = (f.count?, f.of?);
    let last = |one: &str, many: &str| match (c, o) {
        (_, 0) => None,
        (1, 1) => Some(format!("the last {one}")),
        _ => Some(format!("{c} of the last {o} {many}")),
    };
    match f.kind.as_str() {
        "rushing" => {
            let took = match f.seconds {
                Some(s) => format!("under {}", count(s as usize, "second", "seconds")),
                None => "very little time".to_owned(),
            };
            Some(format!("{} took {took}", last("answer", "answers")?))
        }
        "rapid_guessing" => last("answer", "answers"),
        "hint_abuse" => Some(format!(
            "{} ended with the answer shown",
            last("problem", "problems")?
        )),
        _ => None,
    }
}

/// Flags that a done or dismissed decision silences (until a flag starts after it).
fn silenced(data: &ClassData, f: &FlagView) -> bool {
    let skill = f.skill_id.as_deref().unwrap_or("");
    data.decisions
        .holding_flag(&f.student_id, skill, &flag_kind_key(&f.kind), f.since)
        .is_some_and(|d| d.decision.silences())
}

fn confirmed(data: &ClassData, f: &FlagView) -> bool {
    let skill = f.skill_id.as_deref().unwrap_or("");
    data.decisions
        .holding_flag(&f.student_id, skill, &flag_kind_key(&f.kind), f.since)
        .is_some_and(|d| d.decision == Decision::Confirm)
}

/// One insight per flag kind and skill, naming its students. `struggling` holds the
/// (student, skill) pairs a struggling insight already names: being stuck on that skill is the
/// same news, told once.
pub fn insights(data: &ClassData, struggling: &BTreeSet<(String, String)>) -> Vec<Insight> {
    let mut by_kind: BTreeMap<(&str, Option<&str>), Vec<&FlagView>> = BTreeMap::new();
    for f in data.current_flags() {
        let told = f.kind == "wheel_spinning"
            && f.skill_id
                .as_ref()
                .is_some_and(|k| struggling.contains(&(f.student_id.clone(), k.clone())));
        if !told && !silenced(data, f) {
            by_kind
                .entry((f.kind.as_str(), f.skill_id.as_deref()))
                .or_default()
                .push(f);
        }
    }
    by_kind
        .into_iter()
        .map(|((kind, skill), flags)| one_kind(data, kind, skill, &flags))
        .collect()
}

fn one_kind(data: &ClassData, kind: &str, skill: Option<&str>, flags: &[&FlagView]) -> Insight {
    let topic = skill.map(|s| data.skill_phrase(s));
    let w = words(kind, topic.as_deref());
    let ids: Vec<String> = flags.iter().map(|f| f.student_id.clone()).collect();
    let shown: Vec<String> = ids.iter().map(|s| data.name_of(s)).collect();
    let n = ids.len();
    let headline = if n == 1 {
        match share(flags[0]) {
            // The count says what the behaviour is: the short name is enough.
            Some(s) if kind == "hint_abuse" => {
                format!("{} may be clicking through hints: {s}.", shown[0])
            }
            Some(s) => format!("{} {}: {s}.", shown[0], w.one),
            None => format!("{} {}.", shown[0], w.one),
        }
    } else if n <= 3 {
        format!("{} {}.", names(&shown), w.many)
    } else {
        format!("{} {}.", count(n, "student", "students"), w.many)
    };
    let who = if n == 1 {
        shown[0].clone()
    } else {
        "each of them".to_owned()
    };
    let detail = flags
        .iter()
        .map(|f| {
            let when = match f.ended_at {
                None => format!("Since {}.", days_ago(f.since, data.now)),
                Some(_) => "It stopped earlier today.".to_owned(),
            };
            let sentence = capitalise(&data.readable(&f.sentence));
            if n == 1 {
                format!("{sentence} {when}")
            } else {
                format!("{}: {sentence} {when}", data.name_of(&f.student_id))
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    let reviewed = flags.iter().all(|f| confirmed(data, f));
    let confidence = if flags.iter().all(|f| f.count.is_some()) {
        Confidence::Medium
    } else {
        Confidence::Low
    };
    let latest = flags
        .iter()
        .map(|f| f.ended_at.unwrap_or(data.now))
        .max()
        .unwrap_or(data.now);
    let skill_key = skill.unwrap_or("");
    let mut key = vec!["behaviour", kind, skill_key];
    key.extend(ids.iter().map(String::as_str));
    Insight {
        id: stable_id("ins", &key),
        kind: InsightKind::Behaviour,
        headline,
        detail,
        action: w.action.replace("{who}", &who),
        skill_id: skill.map(str::to_owned),
        domain: skill.and_then(|s| data.skill(s).map(|k| k.domain.clone())),
        flag_kind: Some(kind.to_owned()),
        confidence,
        // A flag is a call about behaviour: the teacher's to confirm.
        needs_review: !reviewed,
        positive: false,
        based_on_answers: flags.iter().filter_map(|f| f.of).sum(),
        score: score(w.severity, n, latest, data.now, confidence, !reviewed),
        basis: flags
            .iter()
            .map(|f| Basis {
                student_id: f.student_id.clone(),
                skill_id: skill_key.to_owned(),
                kind: flag_kind_key(kind),
                marker: f.since,
            })
            .collect(),
        group_ids: Vec::new(),
        first_screen: false,
        students: ids,
    }
}
