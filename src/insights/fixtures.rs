//! Classes in known situations for the unit tests, with estimates computed by the real
//! knowledge-tracing rules from answer sequences.

use chrono::{TimeZone, Utc};

use super::*;
use crate::kt::{Observation, Rules, SkillModel, SkillState};

/// Monday 2026-11-23 12:00 UTC.
pub const NOW: i64 = 1_795_435_200_000;

pub fn skill(id: &str, name: &str) -> SkillInfo {
    SkillInfo {
        skill_id: id.to_owned(),
        name: Some(name.to_owned()),
        domain: crate::ingest::domain_of(id).to_owned(),
    }
}

/// A cell from answers (true = correct), one a day ending `days_ago` days before NOW, each
/// day its own session.
pub fn cell(student: &str, skill: &str, answers: &[bool], days_ago: i64) -> Cell {
    let model = SkillModel::default();
    let n = answers.len() as i64;
    let obs: Vec<Observation> = answers
        .iter()
        .enumerate()
        .map(|(i, &correct)| {
            let day = days_ago + (n - 1 - i as i64);
            Observation {
                correct,
                at: Utc
                    .timestamp_millis_opt(NOW - day * DAY_MS - 3_600_000)
                    .single()
                    .unwrap_or_default(),
                session: i as u64,
                excluded: false,
            }
        })
        .collect();
    let state = SkillState::replay(&model, &obs);
    Cell {
        student_id: student.to_owned(),
        skill_id: skill.to_owned(),
        estimate: state.estimate(&Rules::default()),
        evidence: state.evidence(),
        correct: state.correct,
        excluded: state.excluded,
        last_at: obs.last().map_or(0, |o| o.at.timestamp_millis()),
        last_correct_day: state.correct_days.last().map(|d| d.day),
    }
}

pub fn wrong(n: usize) -> Vec<bool> {
    vec![false; n]
}

pub fn right(n: usize) -> Vec<bool> {
    vec![true; n]
}

/// A class of `n` students "stu-01".., named by id.
pub fn class(n: usize, skills: Vec<SkillInfo>) -> ClassData {
    ClassData {
        class_id: "class-5b".into(),
        now: NOW,
        skills,
        students: (1..=n)
            .map(|i| StudentInfo {
                student_id: format!("stu-{i:02}"),
                name: format!("stu-{i:02}"),
            })
            .collect(),
        ..ClassData::default()
    }
}

pub fn id(i: usize) -> String {
    format!("stu-{i:02}")
}
