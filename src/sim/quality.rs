//! Measures the knowledge tracing against the simulator's ground truth, through the same
//! path the server uses: events → evidence rules → `SkillState::apply` → `estimate`.
//! Figures and the commands that produce them: docs/quality.md.

use std::collections::HashMap;

use serde::Serialize;
use uuid::Uuid;

use super::{Config, Output, Simulation, Step};
use crate::kt::load::DatasetBuilder;
use crate::kt::{
    fit_dataset, observation_outcome, session_key, status_for, Confidence, FitOptions, Observation,
    Params, Rules, SkillModel, SkillState,
};

#[derive(Debug, Clone, Serialize)]
pub struct Recovery {
    pub skill_id: String,
    pub students: usize,
    pub truth: Params,
    pub fitted: Params,
    /// Largest |fitted − true| over prior, learn, guess and slip.
    pub max_error: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Quality {
    pub students: usize,
    pub opportunities: usize,
    /// Parameters fitted on all students, against the truth.
    pub recovery: Vec<Recovery>,
    /// The largest `max_error` among skills with at least 500 students.
    pub max_recovery_error_500: Option<f64>,
    /// The rest is measured on held-out students (odd-numbered), with parameters fitted on
    /// the others: one snapshot after each opportunity.
    pub snapshots: usize,
    /// Expected calibration error of P(known) against the true state (10 equal bins).
    pub ece: f64,
    pub status_accuracy: f64,
    pub high_confidence_share: f64,
    pub high_confidence_status_accuracy: f64,
    pub wrong_statuses: usize,
    /// Share of wrong statuses that carry `needs_review`.
    pub wrong_flagged: f64,
    /// Share of all snapshots that carry `needs_review` (flagging everything is no answer).
    pub review_rate: f64,
    /// "true status → shown status (confidence, review)": snapshot counts.
    pub confusion: std::collections::BTreeMap<String, usize>,
}

fn held_out(student: u32) -> bool {
    student % 2 == 1
}

fn dataset(out: &Output, keep: impl Fn(u32) -> bool) -> crate::kt::Dataset {
    let mut b = DatasetBuilder::default();
    for (e, (student, skill, correct, order)) in out
        .events
        .iter()
        .filter(|e| e.attempt == 1)
        .zip(out.kt_rows())
    {
        if keep(e.student) {
            b.push(student, skill, correct, order as f64);
        }
    }
    b.finish()
}

pub fn measure(config: &Config, fit: &FitOptions, rules: &Rules) -> Quality {
    let out = Simulation::new(config.clone()).run();
    let truth_params: HashMap<&str, Params> = out
        .skills
        .iter()
        .map(|s| (s.id.as_str(), s.params))
        .collect();

    let all = dataset(&out, |_| true);
    let recovery: Vec<Recovery> = fit_dataset(&all, None, fit)
        .into_iter()
        .map(|f| {
            let t = truth_params
                .get(f.skill_id.as_str())
                .copied()
                .unwrap_or_default();
            let p = f.model.params;
            let max_error = [
                (p.prior - t.prior).abs(),
                (p.learn - t.learn).abs(),
                (p.guess - t.guess).abs(),
                (p.slip - t.slip).abs(),
            ]
            .into_iter()
            .fold(0.0, f64::max);
            Recovery {
                skill_id: f.skill_id,
                students: f.students,
                truth: t,
                fitted: p,
                max_error,
            }
        })
        .collect();
    let max_recovery_error_500 = recovery
        .iter()
        .filter(|r| r.students >= 500)
        .map(|r| r.max_error)
        .reduce(f64::max);

    // Models from the training half only.
    let train = dataset(&out, |s| !held_out(s));
    let models: HashMap<String, SkillModel> = fit_dataset(&train, None, fit)
        .into_iter()
        .map(|f| (f.skill_id, f.model))
        .collect();
    let steps: HashMap<Uuid, Step> = out
        .truth
        .iter()
        .flat_map(|t| t.steps.iter().map(|s| (s.event_id, *s)))
        .collect();

    // The server's path: one state per student and skill, events in time order, first
    // attempts only, evidence rules applied.
    let mut states: HashMap<(u32, u16), SkillState> = HashMap::new();
    let mut seen_items: std::collections::HashSet<(u32, u16, u16)> = Default::default();
    let mut bins = [(0.0f64, 0.0f64, 0usize); 10];
    let (mut snapshots, mut correct_status, mut high, mut high_correct) = (0, 0, 0, 0);
    let (mut wrong, mut wrong_flagged, mut flagged) = (0, 0, 0);
    let default_model = SkillModel::default();
    let mut confusion = std::collections::BTreeMap::new();
    for e in out.events.iter().filter(|e| held_out(e.student)) {
        if !seen_items.insert((e.student, e.skill, e.item)) {
            continue; // not the first attempt at this item
        }
        let model = models
            .get(&out.skills[e.skill as usize].id)
            .unwrap_or(&default_model);
        let obs = Observation {
            correct: observation_outcome(e.outcome, e.hint_bottom_out),
            at: e.at,
            session: session_key(&out.session_ids[e.session as usize]),
            excluded: false,
        };
        let state = states
            .entry((e.student, e.skill))
            .or_insert_with(|| SkillState::new(model));
        state.apply(model, &obs);
        let Some(step) = steps.get(&e.event_id) else {
            continue;
        };
        let est = state.estimate(rules);
        let known = step.known_after;
        let bin = ((est.estimate * 10.0) as usize).min(9);
        bins[bin].0 += est.estimate;
        bins[bin].1 += f64::from(u8::from(known));
        bins[bin].2 += 1;
        let ideal = status_for(if known { 1.0 } else { 0.0 }, state, rules);
        let ok = ideal == est.status;
        snapshots += 1;
        correct_status += usize::from(ok);
        flagged += usize::from(est.needs_review);
        if est.confidence == Confidence::High {
            high += 1;
            high_correct += usize::from(ok);
        }
        *confusion
            .entry(format!(
                "{:?} -> {:?} ({:?}, review {}, p {:.1})",
                ideal, est.status, est.confidence, est.needs_review, est.estimate
            ))
            .or_insert(0) += 1;
        if !ok {
            wrong += 1;
            wrong_flagged += usize::from(est.needs_review);
        }
    }
    let ratio = |a: usize, b: usize| {
        if b == 0 {
            f64::NAN
        } else {
            a as f64 / b as f64
        }
    };
    let ece = bins
        .iter()
        .filter(|b| b.2 > 0)
        .map(|&(sum_p, sum_k, n)| {
            (n as f64 / snapshots as f64) * ((sum_p - sum_k) / n as f64).abs()
        })
        .sum();
    Quality {
        students: config.students,
        opportunities: all.rows(),
        recovery,
        max_recovery_error_500,
        snapshots,
        ece,
        status_accuracy: ratio(correct_status, snapshots),
        high_confidence_share: ratio(high, snapshots),
        high_confidence_status_accuracy: ratio(high_correct, high),
        wrong_statuses: wrong,
        wrong_flagged: ratio(wrong_flagged, wrong),
        review_rate: ratio(flagged, snapshots),
        confusion,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(q: &Quality) {
        println!("{}", serde_json::to_string_pretty(q).unwrap_or_default());
        if let Some(e) = q.max_recovery_error_500 {
            assert!(e <= 0.05, "parameter recovery error {e}");
        }
        assert!(q.ece <= 0.05, "ECE {}", q.ece);
        assert!(
            q.high_confidence_status_accuracy >= 0.95,
            "{}",
            q.high_confidence_status_accuracy
        );
        assert!(q.wrong_flagged >= 0.70, "{}", q.wrong_flagged);
        assert!(
            q.review_rate < 0.6,
            "review flags everything: {}",
            q.review_rate
        );
    }

    /// Small enough for CI in a debug build (a few seconds).
    #[test]
    fn quality_on_a_small_simulated_district() {
        let config = Config {
            students: 1000,
            days: 20,
            skills: 3,
            seed: 2026,
            ..Config::default()
        };
        let fit = FitOptions {
            restarts: 2,
            bootstrap: 4,
            ..FitOptions::default()
        };
        let q = measure(&config, &fit, &Rules::default());
        assert!(
            q.max_recovery_error_500.is_some(),
            "no skill reached 500 students"
        );
        check(&q);
    }

    /// The figures of docs/quality.md:
    /// `cargo test --release --lib sim::quality -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn quality_full_size() {
        for seed in [1, 2, 3] {
            let config = Config {
                students: 3000,
                days: 30,
                skills: 10,
                seed,
                ..Config::default()
            };
            let q = measure(&config, &FitOptions::default(), &Rules::default());
            check(&q);
        }
    }
}
