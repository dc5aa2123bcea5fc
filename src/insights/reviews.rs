//! The review queue: estimates too uncertain to assert and current behaviour flags, awaiting
//! the teacher's judgment. Derived on read from the state and the flags; only decisions are
//! stored. A decision holds while no new evidence has arrived on its student × skill (for a
//! flag: until a flag starts after it), after which the item is open again if it still needs
//! review.
//!
//! A queue a teacher can keep: each item has a priority (does its answer change what the
//! teacher does?) and says what Confirm and Dismiss will do; a class's open queue shows at
//! most [`PER_DAY`] items a day ([`daily`]), decisions taken today counting against them.

use serde::Serialize;
use utoipa::ToSchema;

use super::wording::{count, percent, percent_range};
use super::{ClassData, Decision, DecisionRecord, DAY_MS};
use crate::kt::{Confidence, Status};

/// Open review items a class's queue shows per day by default.
pub const PER_DAY: usize = 5;

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
    /// How much the answer changes what the teacher does: 3 it decides a group or the estimate
    /// disagrees with the answers, 2 a behaviour going on now, 1 the rest.
    pub priority: u8,
    /// What Confirm will do, in a plain sentence.
    pub confirm_means: String,
    /// What Dismiss will do, in a plain sentence.
    pub dismiss_means: String,
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

/// The shape of every id [`review_id`] gives, as a regular expression (ECMA-262, for the API
/// description): `rv-` and three dash-separated hex strings, the third empty for an item
/// without a skill. [`parse_review_id`] also decodes them; the pattern is necessary, not enough.
pub const REVIEW_ID_PATTERN: &str =
    "^rv-(?:[0-9A-Fa-f]{2})+-(?:[0-9A-Fa-f]{2})+-(?:[0-9A-Fa-f]{2})*$";

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
    parse_kind(&kind).map(|_| (kind, student, skill))
}

fn time(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

fn status_of(d: Option<&DecisionRecord>) -> ReviewStatus {
    match d.map(|d| d.decision) {
        // Acting on an insight confirms the calls behind it.
        Some(Decision::Confirm | Decision::Done) => ReviewStatus::Confirmed,
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

/// "is struggling with", "is still learning", … for a sentence about an estimate's call.
fn call(status: Status) -> &'static str {
    match status {
        Status::Struggling => "is struggling with",
        Status::Learning => "is still learning",
        Status::Mastered => "has mastered",
        Status::NotStarted => "has not started",
    }
}

/// The estimate disagrees with the answers themselves: called struggling while most first
/// tries are right, or likely known while most are wrong.
fn disagrees(c: &super::Cell) -> bool {
    if c.evidence < 3 {
        return false;
    }
    let right = f64::from(c.correct) / f64::from(c.evidence);
    (c.estimate.status == Status::Struggling && right >= 0.5)
        || (c.estimate.estimate >= 0.7 && right < 0.4)
}

/// The queue of a class: estimates that need review (or that a still-holding decision
/// covers), and current flags; open items first, then the highest priority, then the most
/// recent.
pub fn queue(data: &ClassData) -> Vec<ReviewItem> {
    let groups = super::groups::suggest(data, super::GroupBounds::default());
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
        let decides_group = groups
            .needs_review
            .iter()
            .any(|a| a.student_id == c.student_id && a.skill_id.as_deref() == Some(&c.skill_id));
        let disagree = disagrees(c);
        let reason = if disagree && c.estimate.status == Status::Struggling {
            format!(
                "Huddle says {name} is struggling with {skill}, yet {} of {} first tries were right.",
                c.correct, c.evidence
            )
        } else if disagree {
            format!(
                "Huddle thinks {name} now knows {skill}, yet only {} of {} first tries were right.",
                c.correct, c.evidence
            )
        } else if c.estimate.confidence == Confidence::Low {
            format!(
                "Too few answers to be sure how well {name} knows {skill}. There are {answers} so far, and the chance could be {}.",
                percent_range(c.estimate.low, c.estimate.high)
            )
        } else {
            format!(
                "{name}'s {answers} on {skill} do not yet show clearly whether they are struggling or getting there (chance {}, {}).",
                percent(c.estimate.estimate),
                percent_range(c.estimate.low, c.estimate.high)
            )
        };
        let confirm_means = format!(
            "Confirm: you agree {name} {} {skill}; Huddle stops asking{}.",
            call(c.estimate.status),
            if decides_group {
                format!(" and places {name} in a group for it")
            } else {
                String::new()
            }
        );
        let dismiss_means = format!(
            "Dismiss: Huddle drops this call for {name} on {skill} until new answers come in."
        );
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
            priority: if decides_group || disagree { 3 } else { 1 },
            confirm_means,
            dismiss_means,
            estimate: Some(c.estimate.estimate),
            low: Some(c.estimate.low),
            high: Some(c.estimate.high),
        };
        decided(&mut item, holding);
        out.push(item);
    }
    for f in data.current_flags() {
        let skill_id = f.skill_id.clone().unwrap_or_default();
        let kind = flag_kind_key(&f.kind);
        let holding = data
            .decisions
            .holding_flag(&f.student_id, &skill_id, &kind, f.since);
        let name = data.name_of(&f.student_id);
        let mut item = ReviewItem {
            id: review_id(&kind, &f.student_id, &skill_id),
            kind: ReviewKind::Flag,
            flag_kind: Some(f.kind.clone()),
            student_id: f.student_id.clone(),
            skill_id: f.skill_id.clone(),
            skill: f.skill_id.as_deref().map(|s| data.skill_phrase(s)),
            reason: super::wording::capitalise(&data.readable(&f.sentence)),
            created_at: time(f.since),
            status: ReviewStatus::Open,
            decided_by: None,
            decided_at: None,
            note: None,
            evidence_marker: f.since,
            priority: if f.ended_at.is_none() { 2 } else { 1 },
            confirm_means: "Confirm: you saw it too; it stays on Today as checked by you."
                .to_owned(),
            dismiss_means: format!(
                "Dismiss: it leaves Today and the class grid for {name} until it starts again."
            ),
            name,
            estimate: None,
            low: None,
            high: None,
        };
        decided(&mut item, holding);
        out.push(item);
    }
    out.sort_by(|a, b| {
        a.status
            .cmp(&b.status)
            .then_with(|| b.priority.cmp(&a.priority))
            .then_with(|| b.created_at.cmp(&a.created_at))
            .then_with(|| a.id.cmp(&b.id))
    });
    out
}

/// Decisions on review items taken today (UTC) on the class's students: they count against
/// the day's open items. Decisions taken on an insight (done, dismissed) do not: they record
/// the calls behind the insight, not a review.
pub fn decided_today(data: &ClassData) -> usize {
    data.decisions
        .reviewed_since(data.now - data.now.rem_euclid(DAY_MS))
}

/// Whether a decision kind is that of a review item (`estimate`, `flag:<kind>`).
pub fn parse_kind(kind: &str) -> Option<ReviewKind> {
    if kind == ESTIMATE {
        Some(ReviewKind::Estimate)
    } else if kind.strip_prefix("flag:").is_some_and(|k| !k.is_empty()) {
        Some(ReviewKind::Flag)
    } else {
        None
    }
}

/// A class's open queue for today: the `per_day` most useful open items, less the decisions
/// already taken today. `queue` is in [`queue`]'s order; decided items pass through.
pub fn daily(queue: Vec<ReviewItem>, per_day: usize, decided_today: usize) -> Vec<ReviewItem> {
    let room = per_day.saturating_sub(decided_today);
    let mut open = 0;
    queue
        .into_iter()
        .filter(|i| {
            if i.status != ReviewStatus::Open {
                return true;
            }
            open += 1;
            open <= room
        })
        .collect()
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
            insight_id: None,
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
                "Too few answers to be sure how well stu-01 knows adding. There are 6 answers so far"
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
    fn only_decisions_on_review_items_use_up_the_day() {
        let mut data = class(2, vec![skill("f.a", "Adding")]);
        let review = decision(ESTIMATE, "f.a", Decision::Confirm, 6);
        // Dismissing a behaviour insight records a decision on each flag behind it.
        let on_insight = DecisionRecord {
            insight_id: Some("ins-1".into()),
            ..decision("flag:idle", "", Decision::Dismiss, NOW - 1000)
        };
        let yesterday = DecisionRecord {
            decided_at: NOW - DAY_MS - 1000,
            ..decision("flag:rushing", "", Decision::Dismiss, NOW - DAY_MS)
        };
        data.decisions = Decisions::new([review.clone(), on_insight.clone(), yesterday]);
        assert_eq!(decided_today(&data), 1);
        // Every review decision counts, even one the insight decision later overrides.
        let flag_review = decision("flag:idle", "", Decision::Confirm, NOW - 2000);
        let flag_review = DecisionRecord {
            decided_at: NOW - 2000,
            ..flag_review
        };
        data.decisions = Decisions::new([review, flag_review, on_insight]);
        assert_eq!(decided_today(&data), 2);
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
