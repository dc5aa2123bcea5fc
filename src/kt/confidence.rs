//! How sure we are of an estimate: the interval, the confidence level, the review flag.
//!
//! The interval's width combines two sources of doubt:
//! - *evidence*: how many answers of this student back the estimate. It behaves like the
//!   uncertainty of a proportion measured on `n + PRIOR_WEIGHT` answers, p(1 − p)/(n + 2);
//! - *the model*: the skill's parameters are themselves estimates. At fit time the skill is
//!   refitted on bootstrap resamples of its students; how much P(known) moves between those
//!   refits, after n answers, is the [`Spread`] stored with the parameters.
//!
//! A student's width is the smallest width seen so far: one more answer never makes the
//! interval wider (an answer can move the estimate, but it is never *less* evidence).

use serde::{Deserialize, Serialize};

use super::fit::SkillData;
use super::params::{sigmoid, Params};

/// The interval is a 90% one: the estimate ± 1.645 standard deviations.
pub const Z: f64 = 1.645;
/// The prior is worth two answers' evidence.
pub const PRIOR_WEIGHT: f64 = 2.0;
/// Opportunity counts at which the model spread is stored; between two knots it is
/// interpolated linearly, beyond the last one it stays flat.
pub const SPREAD_KNOTS: [u32; 7] = [0, 1, 2, 4, 8, 16, 32];

/// Standard deviation of P(known) caused by parameter uncertainty, after
/// `SPREAD_KNOTS[i]` opportunities. Non-increasing by construction.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Spread(pub [f64; SPREAD_KNOTS.len()]);

impl Spread {
    /// For a skill never fitted: the defaults could be far off, so a wide spread that still
    /// lets a student's own answers narrow the interval (a judgement call, documented in
    /// docs/knowledge-tracing.md).
    pub fn unfitted() -> Spread {
        Spread([0.20, 0.18, 0.15, 0.12, 0.10, 0.08, 0.06])
    }

    /// The spread after `n` opportunities.
    pub fn at(&self, n: u32) -> f64 {
        let k = &SPREAD_KNOTS;
        for i in 1..k.len() {
            if n <= k[i] {
                let t = (n - k[i - 1]) as f64 / (k[i] - k[i - 1]) as f64;
                return self.0[i - 1] + t * (self.0[i] - self.0[i - 1]);
            }
        }
        self.0[k.len() - 1]
    }

    /// Summarises bootstrap refits: for each knot, the standard deviation of P(known)
    /// across the refitted parameters, averaged over (up to 500 of) the skill's students;
    /// then made non-increasing so that more answers never mean more doubt.
    pub fn from_bootstrap(
        fitted: &Params,
        boot: &[Params],
        data: &SkillData,
        weights: Option<&[u32]>,
    ) -> Spread {
        let mut all = Vec::with_capacity(boot.len() + 1);
        all.push(*fitted);
        all.extend_from_slice(boot);
        let max_n = *SPREAD_KNOTS.last().unwrap_or(&0) as usize;
        let mut sum = vec![0.0; max_n + 1];
        let mut count = vec![0usize; max_n + 1];
        // P(known) after 0, 1, ... answers under each parameter set, as the online path
        // traces it (log-odds, exact after any run).
        let mut paths: Vec<Vec<f64>> = vec![Vec::with_capacity(max_n + 1); all.len()];
        let mut column = vec![0.0; all.len()];
        let chosen = (0..data.sequences())
            .filter(|&s| weights.is_none_or(|w| w[s] > 0))
            .take(500);
        for s in chosen {
            let seq = data.sequence(s);
            let seq = &seq[..max_n.min(seq.len())];
            for (path, p) in paths.iter_mut().zip(&all) {
                path.clear();
                path.push(p.prior);
                let steps = p.one_step_ahead(seq.iter().map(|&o| o == 1));
                path.extend(steps.map(|step| sigmoid(step.log_odds)));
            }
            for n in 0..=seq.len() {
                for (c, path) in column.iter_mut().zip(&paths) {
                    *c = path[n];
                }
                sum[n] += sd(&column);
                count[n] += 1;
            }
        }
        let mut by_n: Vec<f64> = Vec::with_capacity(max_n + 1);
        for n in 0..=max_n {
            let v = if count[n] > 0 {
                sum[n] / count[n] as f64
            } else {
                // No student got this far: keep the last measured value.
                by_n.last().copied().unwrap_or(Spread::unfitted().0[0])
            };
            by_n.push(v);
        }
        // Running maximum from the right: non-increasing in n.
        for n in (0..max_n).rev() {
            by_n[n] = by_n[n].max(by_n[n + 1]);
        }
        let mut out = [0.0; SPREAD_KNOTS.len()];
        for (o, &k) in out.iter_mut().zip(SPREAD_KNOTS.iter()) {
            *o = by_n[k as usize];
        }
        Spread(out)
    }
}

fn sd(xs: &[f64]) -> f64 {
    if xs.len() < 2 {
        return 0.0;
    }
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
}

/// The width a fresh look at the evidence would give: 2 · z · √(p(1−p)/(n+2) + spread(n)²),
/// at most 1. The stored width is the running minimum of this (see the module docs).
pub fn target_width(spread: &Spread, p_known: f64, evidence: u32) -> f64 {
    let p = p_known.clamp(0.0, 1.0);
    let var = p * (1.0 - p) / (evidence as f64 + PRIOR_WEIGHT) + spread.at(evidence).powi(2);
    (2.0 * Z * var.sqrt()).min(1.0)
}

/// An interval of `width` around `p`, moved (not cut) to stay inside [0, 1], so that the
/// width shown is the width computed.
pub fn interval(p: f64, width: f64) -> (f64, f64) {
    let w = width.clamp(0.0, 1.0);
    let p = p.clamp(0.0, 1.0);
    let low = (p - w / 2.0).clamp(0.0, 1.0 - w);
    (low, (low + w).min(1.0))
}

/// Low, medium or high, from the interval's width (thresholds in [`super::Rules`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    Low,
    Medium,
    High,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_interpolates_and_never_increases() {
        let s = Spread::unfitted();
        let mut prev = f64::INFINITY;
        for n in 0..100 {
            let v = s.at(n);
            assert!(v <= prev + 1e-15);
            prev = v;
        }
        assert_eq!(s.at(0), 0.20);
        assert!((s.at(3) - 0.135).abs() < 1e-12);
        assert_eq!(s.at(1000), 0.06);
    }

    #[test]
    fn interval_stays_inside_and_keeps_its_width() {
        for (p, w) in [(0.0, 0.3), (0.99, 0.3), (0.5, 0.2), (0.3, 1.0)] {
            let (lo, hi) = interval(p, w);
            assert!((0.0..=1.0).contains(&lo) && (0.0..=1.0).contains(&hi));
            assert!(lo <= p && p <= hi);
            assert!((hi - lo - w).abs() < 1e-12);
        }
    }
}
