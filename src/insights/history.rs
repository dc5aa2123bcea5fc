//! A student's estimate over time, per skill: their events replayed through the same
//! evidence rules as the online path (`kt::evidence`), one point per opportunity. Computed on
//! read for one student (see docs/insights.md for why no snapshots are stored).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;
use utoipa::ToSchema;

use crate::kt::evidence::{Attempt, Track};
use crate::kt::{Rules, SkillModel, SkillState};

/// Points kept per skill: the most recent ones.
pub const MAX_POINTS: usize = 100;

/// The estimate after one opportunity.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Point {
    #[schema(value_type = String)]
    pub at: chrono::DateTime<chrono::Utc>,
    pub item_id: String,
    pub correct: bool,
    /// Not counted as evidence (a rapid guess, ...).
    pub excluded: bool,
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
}

/// One skill's trajectory.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Trajectory {
    pub skill_id: String,
    /// Opportunities in all (the points are the latest [`MAX_POINTS`] of them).
    pub opportunities: u32,
    pub points: Vec<Point>,
}

/// Trajectories of every skill in `attempts` (one student's events with their skill ids, in
/// time order then arrival), sorted by skill id.
pub fn trajectories<'a>(
    attempts: impl IntoIterator<Item = (&'a str, Attempt<'a>)>,
    models: &HashMap<String, SkillModel>,
    rules: &Rules,
) -> Vec<Trajectory> {
    let default_model = SkillModel::default();
    struct Run<'a> {
        state: SkillState,
        track: Track,
        seen: HashSet<&'a str>,
        points: Vec<Point>,
    }
    let mut runs: BTreeMap<&str, Run> = BTreeMap::new();
    for (skill, a) in attempts {
        let model = models.get(skill).unwrap_or(&default_model);
        let run = runs.entry(skill).or_insert_with(|| Run {
            state: SkillState::new(model),
            track: Track::NONE,
            seen: HashSet::new(),
            points: Vec::new(),
        });
        let first = run.seen.insert(a.item_id);
        if let Some(obs) = run.track.step(&mut run.state, model, &a, first) {
            let e = run.state.estimate(rules);
            run.points.push(Point {
                at: obs.at,
                item_id: a.item_id.to_owned(),
                correct: obs.correct,
                excluded: obs.excluded,
                estimate: e.estimate,
                low: e.low,
                high: e.high,
            });
        }
    }
    runs.into_iter()
        .map(|(skill, mut run)| {
            let n = run.points.len();
            if n > MAX_POINTS {
                run.points.drain(..n - MAX_POINTS);
            }
            Trajectory {
                skill_id: skill.to_owned(),
                opportunities: run.state.opportunities,
                points: run.points,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::Outcome;
    use crate::kt::evidence;

    fn at(item: &'static str, minutes: i64, outcome: Outcome) -> Attempt<'static> {
        Attempt {
            item_id: item,
            occurred_at: 1_763_000_000_000 + minutes * 60_000,
            attempt: 1,
            outcome,
            hint_bottom_out: false,
            session_id: None,
            rapid_guess: false,
        }
    }

    #[test]
    fn the_trajectory_ends_at_the_replayed_state() {
        let attempts = [
            at("a", 0, Outcome::Incorrect),
            at("a", 1, Outcome::Correct),
            at("b", 2, Outcome::Correct),
            at("c", 3, Outcome::Correct),
        ];
        let rules = Rules::default();
        let t = trajectories(
            attempts.iter().map(|a| ("s.k", *a)),
            &HashMap::new(),
            &rules,
        );
        assert_eq!(t.len(), 1);
        // The retry at item a is not an opportunity.
        assert_eq!(t[0].points.len(), 3);
        let replayed = evidence::replay(&SkillModel::default(), attempts.iter().copied());
        let last = t[0].points.last().map(|p| p.estimate).unwrap_or_default();
        assert_eq!(last, replayed.state.estimate(&rules).estimate);
        assert!(t[0].points[0].estimate < t[0].points[2].estimate);
    }
}
