//! Whether a refit may replace the parameters in use: the live service keeps its model
//! unless the new one is finite and predicts students it was not fitted on at least as well.
//!
//! The skill's students are split by a stable hash of their index into a fitting part (4 in
//! 5) and a held-out part (1 in 5); the candidate is fitted on the first, and both the
//! candidate and the parameters in use are scored by their log-likelihood on the second
//! ([`MARGIN`] says how much worse the candidate may be).

use serde::{Deserialize, Serialize};

use super::fit::{
    fit_dataset, log_likelihood_weighted, mix, Dataset, FitOptions, Method, SkillData,
};
use super::params::Params;

/// One in this many students is held out.
pub const HELD_OUT_EVERY: u64 = 5;

/// A refit is refused when it is worse on the held-out students by more than this many nats
/// (natural-log likelihood). The model in use may have been fitted on those very students,
/// which flatters it by about half a nat per parameter (AIC's reasoning); 2 nats covers
/// BKT's four, so a refit on the same data is not refused for that alone.
pub const MARGIN: f64 = 2.0;

/// The held-out comparison of one skill.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HeldOut {
    /// Log-likelihood of the held-out students' answers under the candidate fitted on the
    /// others, and under the parameters in use.
    pub candidate: f64,
    pub current: f64,
    pub students: usize,
}

/// Why a refit of a skill was not applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refusal {
    pub skill_id: String,
    pub reason: String,
    pub held_out: Option<HeldOut>,
}

/// Checks the refit `fitted` (parameters and log-likelihood of a fit on all of `skill`)
/// against `current`; None = apply it.
pub fn check(
    skill: &SkillData,
    fitted: (&Params, f64),
    current: Option<&Params>,
    opts: &FitOptions,
) -> Option<Refusal> {
    let refuse = |reason: String, held_out| {
        Some(Refusal {
            skill_id: skill.skill_id.clone(),
            reason,
            held_out,
        })
    };
    let (params, ll) = fitted;
    if !params.is_valid() || !ll.is_finite() {
        return refuse(
            format!("the refit is not finite (log-likelihood {ll}, parameters {params:?})"),
            None,
        );
    }
    let current = current?;
    let held = |s: usize| mix(opts.seed, skill.students[s] as u64) % HELD_OUT_EVERY == 0;
    let train: Vec<u32> = (0..skill.sequences())
        .map(|s| u32::from(!held(s)))
        .collect();
    let test: Vec<u32> = train.iter().map(|&w| 1 - w).collect();
    let students = test.iter().filter(|&&w| w == 1).count();
    if students == 0 || students == skill.sequences() {
        return None; // too few students to hold any out: nothing to compare on
    }
    let data = Dataset {
        students: Vec::new(),
        skills: vec![skill.clone()],
    };
    let opts = FitOptions {
        bootstrap: 0,
        ..*opts
    };
    let candidate = &fit_dataset(&data, Some(&[train]), &opts)[0];
    if candidate.method != Method::Em {
        return None; // the fitting part alone is too small to judge by
    }
    let held_out = HeldOut {
        candidate: log_likelihood_weighted(&candidate.model.params, skill, &test),
        current: log_likelihood_weighted(current, skill, &test),
        students,
    };
    if !held_out.candidate.is_finite() {
        return refuse(
            "the refit is not finite on held-out students".into(),
            Some(held_out),
        );
    }
    if held_out.candidate < held_out.current - MARGIN {
        return refuse(
            format!(
                "the refit predicts held-out students worse than the parameters in use \
                 (log-likelihood {:.2} against {:.2} on {} students)",
                held_out.candidate, held_out.current, students
            ),
            Some(held_out),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kt::fit::tests::simulate;

    fn truth() -> Params {
        Params {
            prior: 0.3,
            learn: 0.2,
            guess: 0.2,
            slip: 0.1,
            forget: 0.0,
        }
    }

    #[test]
    fn a_better_refit_is_applied_and_a_worse_one_refused() {
        let skill = simulate(&truth(), 400, 15, 21);
        let opts = FitOptions {
            restarts: 2,
            bootstrap: 0,
            ..FitOptions::default()
        };
        let ll = crate::kt::fit::log_likelihood(&truth(), &skill);
        // In use: parameters far from the data's. The refit wins on held-out students.
        let bad = Params {
            prior: 0.9,
            learn: 0.01,
            guess: 0.45,
            slip: 0.4,
            forget: 0.0,
        };
        assert_eq!(check(&skill, (&truth(), ll), Some(&bad), &opts), None);
        // In use: the true parameters; a refit limited to 2 E-steps from far away loses.
        let weak = FitOptions {
            max_iter: 1,
            restarts: 1,
            ..opts
        };
        let r = check(&skill, (&truth(), ll), Some(&truth()), &weak).expect("refused");
        let h = r.held_out.expect("compared on held-out students");
        assert!(h.candidate < h.current && h.students > 40, "{r:?}");
        assert!(r.reason.contains("held-out"), "{}", r.reason);
        // Non-finite is refused without comparing.
        let r = check(&skill, (&truth(), f64::NAN), None, &opts).expect("refused");
        assert!(r.reason.contains("not finite") && r.held_out.is_none());
        // Nothing in use yet: the first fit is applied.
        assert_eq!(check(&skill, (&truth(), ll), None, &opts), None);
    }
}
