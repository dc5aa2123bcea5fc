//! The drift rule on simulated data, without a database: a model fitted on the first weeks
//! of a simulated district, then a week of answers after some skill's true parameters change
//! (or not). The same steps as the service: first attempts only, the fit, then one-step-ahead
//! predictions with the fitted model over the following week, on the online path's belief
//! ([`crate::kt::Params::one_step_ahead`], log-odds).

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{Duration, NaiveDate};

use super::model_health::{assess, DriftRule, Health, Histogram, BINS};
use crate::kt::{self, load::DatasetBuilder, FitOptions};
use crate::sim::{Config, Drift, Simulation};

/// A first attempt: when, and whether right.
type Answer = (chrono::DateTime<chrono::Utc>, bool);

/// Each skill's verdict a week after school day `cutoff_day`, with the model fitted on the
/// school days before it.
pub(crate) fn verdicts(seed: u64, drift: Option<Drift>, cutoff_day: u32) -> Vec<(String, Health)> {
    let config = Config {
        students: 300,
        days: cutoff_day + 5,
        seed,
        skills: 4,
        items_per_skill: 200,
        drift,
        ..Config::default()
    };
    let start = config.start;
    let out = Simulation::new(config).run();
    let cutoff = school_day(start, cutoff_day)
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default()
        .and_utc();
    let window_end = cutoff + Duration::days(7);
    // First attempts per student × skill, in time order.
    let mut seen: HashSet<(u32, u16, u16)> = HashSet::new();
    let mut answers: BTreeMap<(u32, u16), Vec<Answer>> = BTreeMap::new();
    for e in &out.events {
        if !seen.insert((e.student, e.skill, e.item)) || e.attempt != 1 {
            continue;
        }
        let correct = kt::observation_outcome(e.outcome, e.hint_bottom_out);
        answers
            .entry((e.student, e.skill))
            .or_default()
            .push((e.at, correct));
    }
    let mut builder = DatasetBuilder::default();
    for ((student, skill), list) in &answers {
        for (i, (_, y)) in list.iter().enumerate().filter(|(_, (at, _))| *at < cutoff) {
            builder.push(
                &out.students[*student as usize].id,
                &out.skills[*skill as usize].id,
                *y,
                i as f64,
            );
        }
    }
    let data = builder.finish();
    let fits = kt::fit_dataset(&data, None, &FitOptions::default());
    let rule = DriftRule::default();
    let mut verdicts = Vec::new();
    for (k, skill) in out.skills.iter().enumerate() {
        let Some(i) = data.skills.iter().position(|s| s.skill_id == skill.id) else {
            continue;
        };
        let params = fits[i].model.params;
        // The predictions the service records as the week's answers arrive: each student's
        // belief carried through all their answers, the week's ones scored.
        let mut recent = Histogram::new(BINS);
        for list in answers
            .iter()
            .filter(|((_, sk), _)| *sk as usize == k)
            .map(|(_, list)| list)
        {
            let steps = params.one_step_ahead(list.iter().map(|&(_, y)| y));
            for (step, &(at, y)) in steps.zip(list) {
                if at >= cutoff && at < window_end {
                    recent.add(step.p_correct, y);
                }
            }
        }
        let v = assess(recent.accuracy().as_ref(), &rule);
        verdicts.push((skill.id.clone(), v.status));
    }
    verdicts
}

fn school_day(start: NaiveDate, n: u32) -> NaiveDate {
    let mut d = start;
    let mut left = n;
    loop {
        if !matches!(
            chrono::Datelike::weekday(&d),
            chrono::Weekday::Sat | chrono::Weekday::Sun
        ) {
            if left == 0 {
                return d;
            }
            left -= 1;
        }
        d += Duration::days(1);
    }
}

#[test]
fn stable_skills_are_not_called_drifting() {
    for seed in 1..=4 {
        let v = verdicts(seed, None, 20);
        assert_eq!(v.len(), 4);
        let drifting: Vec<_> = v.iter().filter(|(_, h)| *h != Health::Ok).collect();
        assert!(drifting.is_empty(), "seed {seed}: {v:?}");
    }
}

#[test]
fn a_drifting_skill_is_caught_within_a_week() {
    for seed in 1..=4 {
        let v = verdicts(seed, Some(Drift { skill: 1, day: 20 }), 20);
        let by: HashMap<_, _> = v.iter().cloned().collect();
        let ids: Vec<&String> = v.iter().map(|(id, _)| id).collect();
        for (i, id) in ids.iter().enumerate() {
            let want = if i == 1 { Health::Drifting } else { Health::Ok };
            assert_eq!(by[*id], want, "seed {seed}: {v:?}");
        }
    }
}
