//! The review queue: estimates too uncertain to assert and behaviour flags, awaiting the
//! teacher's judgment. Derived on read from the state and the flags; only decisions are
//! stored. A decision holds while no new evidence has arrived on its student × skill (for a
//! flag: until a flag starts after it), after which the item is open again if it still needs
//! review.

use serde::Serialize;
use utoipa::ToSchema;

use super::wording::{count, percent};
use super::{ClassData, Decision, DecisionRecord};
use crate::kt::Confidence;

/// The decision kind of an estimate.
pub const ESTIMATE: &str = "estimate";

/// The decision kind of a flag: `flag:<kind>`.
pub fn flag_kind_key(kind: &str) -> String {
    format!("flag:{kind}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewKind {
    Estimate,
    Flag,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewStatus {
    Open,
    Confirmed,
    Dismissed,
}

impl ReviewStatus {
    pub fn parse(s: &str) -> Option<Option<ReviewStatus>> {
        match s {
            "open" => Some(Some(ReviewStatus::Open)),
            "confirmed" => Some(Some(ReviewStatus::Confirmed)),
            "dismissed" => Some(Some(ReviewStatus::Dismissed)),
            "all" => Some(None),
            _ => None,
        }
    }
}

/// One item of the queue.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ReviewItem {
    /// Stable: the same student, skill and kind always give the same id.
    pub id: String,
    pub kind: ReviewKind,
    /// For flags: the flag's kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flag_kind: Option<String>,
    pub student_id: String,
    pub name: String,
    pub skill_id: Option<String>,
    pub skill: Option<String>,
    /// Why it waits for the teacher, in a plain sentence.
    pub reason: String,
    /// When its evidence came in: the latest answer (estimates), the flag's start (flags).
    #[schema(value_type = String)]
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub status: ReviewStatus,
    pub decided_by: Option<String>,
    #[schema(value_type = Option<String>)]
    pub decided_at: Option<chrono::DateTime<chrono::Utc>>,
    pub note: Option<String>,
    /// The evidence now (opportunities for estimates, the flag's start in ms for flags); a
    /// decision holds while it is unchanged.
    pub evidence_marker: i64,
    /// For estimates: the estimate and its interval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimate: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub low: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub high: Option<f64>,
}

fn hex(s: &str) -> String {
    crate::util::hex(s.as_bytes())
}

fn unhex(s: &str) -> Option<String> {
    if s.len() % 2 != 0 {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

/// The id of a review item: its key, readable back (`rv-<hex kind>-<hex student>-<hex skill>`),
/// so a decision needs no stored queue.
pub fn review_id(kind: &str, student: &str, skill: &str) -> String {
    format!("rv-{}-{}-{}", hex(kind), hex(student), hex(skill))
}

/// The key (kind, student, skill) of a review id, if it is one.
pub fn parse_review_id(id: &str) -> Option<(String, String, String)> {
    let rest = id.strip_prefix("rv-")?;
    let mut parts = rest.split('-');
    let kind = unhex(parts.next()?)?;
    let student = unhex(parts.next()?)?;
    let skill = unhex(parts.next()?)?;
    if parts.next().is_some() || student.is_empty() {
        return None;
    }
    let valid_kind = kind == ESTIMATE || kind.strip_prefix("flag:").is_some_and(|k| !k.is_empty());
    valid_kind.then_some((kind, student, skill))
}

fn time(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

fn status_of(d: Option<&DecisionRecord>) -> ReviewStatus {
    match d.map(|d| d.decision) {
        Some(Decision::Confirm) => ReviewStatus::Confirmed,
        Some(Decision::Dismiss) => ReviewStatus::Dismissed,
        None => ReviewStatus::Open,
    }
}

fn decided(item: &mut ReviewItem, d: Option<&DecisionRecord>) {
    item.status = status_of(d);
    if let Some(d) = d {
        item.decided_by = Some(d.decided_by.clone());
        item.decided_at = Some(time(d.decided_at));
        item.note = d.note.clone();
    }
}

/// The queue of a class: estimates that need review (or that a still-holding decision
/// covers), and flags; open items first, then the most recent.
pub fn queue(data: &ClassData) -> Vec<ReviewItem> {
    let mut out = Vec::new();
    for c in &data.cells {
        let marker = i64::from(c.estimate.opportunities);
        let holding = data
            .decisions
            .holding(&c.student_id, &c.skill_id, ESTIMATE, marker);
        if !c.estimate.needs_review && holding.is_none() {
            continue;
        }
        let name = data.name_of(&c.student_id);
        let skill = data.skill_phrase(&c.skill_id);
        let answers = count(c.evidence as usize, "answer", "answers");
        let reason = if c.estimate.confidence == Confidence::Low {
            format!(
                "Too little evidence to be sure how well {name} knows {skill}: {answers} so far, and the estimate could be anywhere from {} to {}.",
                percent(c.estimate.low),
                percent(c.estimate.high)
            )
        } else {
            format!(
                "{name}'s {answers} on {skill} do not yet show clearly whether they are struggling or getting there (estimate {}, from {} to {}).",
                percent(c.estimate.estimate),
                percent(c.estimate.low),
                percent(c.estimate.high)
            )
        };
        let mut item = ReviewItem {
            id: review_id(ESTIMATE, &c.student_id, &c.skill_id),
            kind: ReviewKind::Estimate,
            flag_kind: None,
            student_id: c.student_id.clone(),
            name,
            skill_id: Some(c.skill_id.clone()),
            skill: Some(skill),
            reason,
            created_at: time(c.last_at),
            status: ReviewStatus::Open,
            decided_by: None,
            decided_at: None,
            note: None,
            evidence_marker: marker,
            estimate: Some(c.estimate.estimate),
            low: Some(c.estimate.low),
            high: Some(c.estimate.high),
        };
        decided(&mut item, holding);
        out.push(item);
    }
    for f in &data.flags {
        let skill_id = f.skill_id.clone().unwrap_or_default();
        let kind = flag_kind_key(&f.kind);
        let holding = data
            .decisions
            .holding_flag(&f.student_id, &skill_id, &kind, f.since);
        let mut item = ReviewItem {
            id: review_id(&kind, &f.student_id, &skill_id),
            kind: ReviewKind::Flag,
            flag_kind: Some(f.kind.clone()),
            student_id: f.student_id.clone(),
            name: data.name_of(&f.student_id),
            skill_id: f.skill_id.clone(),
            skill: f.skill_id.as_deref().map(|s| data.skill_phrase(s)),
            reason: f.sentence.clone(),
            created_at: time(f.since),
            status: ReviewStatus::Open,
            decided_by: None,
            decided_at: None,
            note: None,
            evidence_marker: f.since,
            estimate: None,
            low: None,
            high: None,
        };
        decided(&mut item, holding);
        // One item per key: the latest flag.
        if let Some(pos) = out.iter().position(|o: &ReviewItem| o.id == item.id) {
            if out[pos].evidence_marker < item.evidence_marker {
                out[pos] = item;
            }
        } else {
            out.push(item);
        }
    }
    out.sort_by(|a, b| {
        a.status
            .cmp(&b.status)
            .then_with(|| b.created_at.cmp(&a.created_at))
            .then_with(|| a.id.cmp(&b.id))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insights::fixtures::*;
    use crate::insights::{Decisions, FlagView, DAY_MS};

    fn decision(kind: &str, skill: &str, decision: Decision, marker: i64) -> DecisionRecord {
        DecisionRecord {
            student_id: id(1),
            skill_id: skill.into(),
            kind: kind.into(),
            decision,
            note: Some("seen it".into()),
            marker,
            decided_by: "teacher-1".into(),
            decided_at: NOW - 1000,
        }
    }

    #[test]
    fn the_queue_follows_the_evidence() {
        let mut data = class(2, vec![skill("f.a", "Adding")]);
        // stu-01: six wrong answers, uncertain; stu-02: settled mastery, not in the queue.
        data.cells.push(cell(&id(1), "f.a", &wrong(6), 0));
        data.cells.push(cell(&id(2), "f.a", &right(16), 0));
        data.flags.push(FlagView {
            student_id: id(1),
            kind: "idle".into(),
            skill_id: None,
            since: NOW - DAY_MS,
            ended_at: None,
            sentence: "No answer for 25 minutes of a session.".into(),
            count: None,
            of: None,
            seconds: None,
        });
        let q = queue(&data);
        assert_eq!(q.len(), 2);
        assert!(q
            .iter()
            .all(|i| i.status == ReviewStatus::Open && i.student_id == id(1)));
        let est = q
            .iter()
            .find(|i| i.kind == ReviewKind::Estimate)
            .expect("estimate");
        assert!(
            est.reason.starts_with(
                "Too little evidence to be sure how well stu-01 knows adding: 6 answers so far"
            ),
            "{}",
            est.reason
        );
        assert_eq!(est.evidence_marker, 6);

        // Decided: confirmed estimate, dismissed flag; both keep who and the note.
        data.decisions = Decisions::new([
            decision(ESTIMATE, "f.a", Decision::Confirm, 6),
            decision("flag:idle", "", Decision::Dismiss, NOW - 1000),
        ]);
        let q = queue(&data);
        let statuses: Vec<_> = q.iter().map(|i| (i.kind, i.status)).collect();
        assert!(statuses.contains(&(ReviewKind::Estimate, ReviewStatus::Confirmed)));
        assert!(statuses.contains(&(ReviewKind::Flag, ReviewStatus::Dismissed)));
        assert!(q
            .iter()
            .all(|i| i.decided_by.as_deref() == Some("teacher-1")));

        // New evidence reopens the estimate; a new flag reopens the flag.
        data.cells[0] = cell(&id(1), "f.a", &wrong(7), 0);
        data.flags[0].since = NOW;
        let q = queue(&data);
        assert!(q.iter().all(|i| i.status == ReviewStatus::Open), "{q:?}");
    }

    #[test]
    fn review_ids_round_trip_and_reject_junk() {
        let id = review_id("estimate", "stu-0042", "fractions.add-unlike");
        assert_eq!(
            parse_review_id(&id),
            Some((
                "estimate".into(),
                "stu-0042".into(),
                "fractions.add-unlike".into()
            ))
        );
        let flag = review_id("flag:rushing", "s:1", "");
        assert_eq!(
            parse_review_id(&flag),
            Some(("flag:rushing".into(), "s:1".into(), String::new()))
        );
        for junk in [
            "",
            "rv-",
            "rv-zz-00-00",
            "x",
            "rv-6162-6364-65-66",
            &review_id("other", "s", "k"),
        ] {
            assert_eq!(parse_review_id(junk), None, "{junk}");
        }
    }
}
