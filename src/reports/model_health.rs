//! Model health: how well the knowledge-tracing model predicts answers, from binned
//! predictions, and the drift rule that says when a skill should be refitted.
//!
//! Pure: the store keeps the bins (one row per skill × day × model × bin, filled at ingest),
//! this module turns bins into accuracy figures and decides. Why bins: a report over ten
//! million answers then reads a few thousand rows, and AUC, RMSE and calibration are all exact
//! functions of them (AUC up to ties inside a bin of width 0.02, counted half).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Bins of the predicted P(correct) kept per skill and day: width 0.02.
pub const BINS: usize = 50;
/// Bins of the calibration error (ECE): width 0.1. Finer bins would measure their own
/// sampling noise (a bin of 10 answers is off by 0.1 by chance alone).
pub const ECE_BINS: usize = 10;

/// The bin of a prediction among `n` equal bins over [0, 1].
pub fn bin_of(p: f64, n: usize) -> usize {
    if p.is_nan() || p <= 0.0 {
        return 0;
    }
    ((p * n as f64) as usize).min(n - 1)
}

/// The answers whose predictions fell in one bin.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Bin {
    pub correct: u64,
    pub wrong: u64,
    /// Sum of the predicted P(correct).
    pub sum_pred: f64,
    /// Sum of (outcome − prediction)².
    pub sum_sq_err: f64,
}

impl Bin {
    /// One answer: its prediction and whether it was right.
    pub fn one(p: f64, correct: bool) -> Bin {
        let y = if correct { 1.0 } else { 0.0 };
        Bin {
            correct: u64::from(correct),
            wrong: u64::from(!correct),
            sum_pred: p,
            sum_sq_err: (y - p) * (y - p),
        }
    }

    pub fn answers(&self) -> u64 {
        self.correct + self.wrong
    }

    pub fn merge(&mut self, o: &Bin) {
        self.correct += o.correct;
        self.wrong += o.wrong;
        self.sum_pred += o.sum_pred;
        self.sum_sq_err += o.sum_sq_err;
    }
}

/// Predictions in equal-width bins over [0, 1], lowest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    pub bins: Vec<Bin>,
}

impl Histogram {
    pub fn new(n: usize) -> Histogram {
        Histogram {
            bins: vec![Bin::default(); n.max(1)],
        }
    }

    pub fn add(&mut self, p: f64, correct: bool) {
        let i = bin_of(p, self.bins.len());
        self.bins[i].merge(&Bin::one(p, correct));
    }

    /// Adds a stored bin (ignored when `i` is out of range: a row of another layout).
    pub fn add_bin(&mut self, i: usize, b: &Bin) {
        if let Some(slot) = self.bins.get_mut(i) {
            slot.merge(b);
        }
    }

    pub fn merge(&mut self, o: &Histogram) {
        for (i, b) in o.bins.iter().enumerate() {
            self.add_bin(i, b);
        }
    }

    /// The same answers in `n` bins (`n` must divide the number of bins; else unchanged).
    pub fn coarsen(&self, n: usize) -> Histogram {
        let len = self.bins.len();
        if n == 0 || len % n != 0 {
            return self.clone();
        }
        let mut out = Histogram::new(n);
        for (i, b) in self.bins.iter().enumerate() {
            out.bins[i * n / len].merge(b);
        }
        out
    }

    pub fn total(&self) -> Bin {
        let mut t = Bin::default();
        for b in &self.bins {
            t.merge(b);
        }
        t
    }

    /// AUC as Mann–Whitney over the bins: a right answer scores 1 against each wrong answer
    /// in a lower bin and ½ against each in its own bin. None without both outcomes.
    pub fn auc(&self) -> Option<f64> {
        let t = self.total();
        if t.correct == 0 || t.wrong == 0 {
            return None;
        }
        let mut wrong_below = 0u64;
        let mut wins = 0.0;
        for b in &self.bins {
            wins += b.correct as f64 * (wrong_below as f64 + 0.5 * b.wrong as f64);
            wrong_below += b.wrong;
        }
        Some(wins / (t.correct as f64 * t.wrong as f64))
    }

    /// The AUC the model itself expects on these answers: each answer counted as p right and
    /// 1 − p wrong (p its prediction). It depends only on how spread out the predictions are,
    /// so it is the fair yardstick for the observed AUC whatever the mix of students: when
    /// nearly everyone has mastered a skill, predictions bunch up and both are near 0.5.
    pub fn expected_auc(&self) -> Option<f64> {
        let pos: Vec<f64> = self.bins.iter().map(|b| b.sum_pred).collect();
        let neg: Vec<f64> = self
            .bins
            .iter()
            .map(|b| b.answers() as f64 - b.sum_pred)
            .collect();
        let (p, n) = (pos.iter().sum::<f64>(), neg.iter().sum::<f64>());
        if p <= 0.0 || n <= 0.0 {
            return None;
        }
        let mut neg_below = 0.0;
        let mut wins = 0.0;
        for (bp, bn) in pos.iter().zip(&neg) {
            wins += bp * (neg_below + 0.5 * bn);
            neg_below += bn;
        }
        Some(wins / (p * n))
    }

    /// Expected calibration error over [`ECE_BINS`] bins: the answer-weighted mean gap between
    /// the mean prediction and the share right in each bin.
    pub fn ece(&self) -> Option<f64> {
        let n = self.total().answers();
        if n == 0 {
            return None;
        }
        let coarse = self.coarsen(ECE_BINS);
        let gap: f64 = coarse
            .bins
            .iter()
            .filter(|b| b.answers() > 0)
            .map(|b| (b.sum_pred - b.correct as f64).abs())
            .sum();
        Some(gap / n as f64)
    }

    /// All the figures; None without any answer.
    pub fn accuracy(&self) -> Option<Accuracy> {
        let t = self.total();
        let n = t.answers();
        if n == 0 {
            return None;
        }
        Some(Accuracy {
            answers: n,
            auc: self.auc(),
            expected_auc: self.expected_auc(),
            rmse: (t.sum_sq_err / n as f64).sqrt(),
            ece: self.ece().unwrap_or(0.0),
            mean_predicted: t.sum_pred / n as f64,
            observed: t.correct as f64 / n as f64,
        })
    }
}

/// How well predictions matched answers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Accuracy {
    /// Answers that counted as evidence.
    pub answers: u64,
    /// Area under the ROC curve (0.5 = no better than chance); null with only one outcome.
    pub auc: Option<f64>,
    /// The AUC the model expects on the same answers if it is right (see
    /// [`Histogram::expected_auc`]); the drift rule compares `auc` with it.
    pub expected_auc: Option<f64>,
    /// Root mean squared error of the predicted P(correct).
    pub rmse: f64,
    /// Expected calibration error over ten bins of 0.1.
    pub ece: f64,
    /// Mean predicted P(correct)...
    pub mean_predicted: f64,
    /// ... and the share of answers that were right.
    pub observed: f64,
}

/// One-step-ahead predictions of a skill's sequences with `params`, as the online path makes
/// them (the prediction before each answer updates the estimate): the accuracy at fit time.
pub fn in_sample<'a>(
    params: &crate::kt::Params,
    sequences: impl IntoIterator<Item = &'a [u8]>,
) -> Histogram {
    let mut h = Histogram::new(BINS);
    for seq in sequences {
        let answers = seq.iter().map(|&y| y != 0);
        for (step, correct) in params.one_step_ahead(answers.clone()).zip(answers) {
            h.add(step.p_correct, correct);
        }
    }
    h
}

/// When a skill is called drifting (docs/reports.md, "Model health", says why these numbers).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct DriftRule {
    /// The recent window: this many days up to the report's day.
    pub window_days: u32,
    /// Fewer answers than this in the window: too little data to judge.
    pub min_answers: u64,
    /// Drifting when the observed AUC is below the AUC the model expects by more than this
    /// many standard errors of the AUC...
    pub auc_drop_se: f64,
    /// ... and by at least this much...
    pub auc_drop: f64,
    /// ... or when the calibration error is above this.
    pub max_ece: f64,
}

impl Default for DriftRule {
    fn default() -> Self {
        DriftRule {
            window_days: 7,
            min_answers: 400,
            auc_drop_se: 3.0,
            auc_drop: 0.05,
            max_ece: 0.10,
        }
    }
}

/// The standard error of an AUC `a` over `pos` right and `neg` wrong answers (Hanley &
/// McNeil, 1982).
pub fn auc_se(a: f64, pos: u64, neg: u64) -> f64 {
    if pos == 0 || neg == 0 {
        return f64::INFINITY;
    }
    let (p, n) = (pos as f64, neg as f64);
    let q1 = a / (2.0 - a);
    let q2 = 2.0 * a * a / (1.0 + a);
    ((a * (1.0 - a) + (p - 1.0) * (q1 - a * a) + (n - 1.0) * (q2 - a * a)) / (p * n))
        .max(0.0)
        .sqrt()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// Recent accuracy is in line with fit time.
    Ok,
    /// Recent accuracy fell by more than the rule's margins: refit recommended.
    Drifting,
    /// Too few recent answers (by the current model) to judge.
    TooLittleData,
}

/// The verdict on one skill, with its plain sentence.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub status: Health,
    pub message: String,
    /// The reasons for `drifting` (empty otherwise), e.g. "auc_drop".
    pub reasons: Vec<&'static str>,
}

/// Applies the drift rule to a skill's recent accuracy (the current model's answers in the
/// window).
pub fn assess(recent: Option<&Accuracy>, rule: &DriftRule) -> Verdict {
    let n = recent.map_or(0, |r| r.answers);
    let Some(recent) = recent.filter(|_| n >= rule.min_answers) else {
        return Verdict {
            status: Health::TooLittleData,
            message: format!(
                "too little data: {n} answers in the last {} days, {} needed to judge",
                rule.window_days, rule.min_answers
            ),
            reasons: Vec::new(),
        };
    };
    let mut reasons = Vec::new();
    let mut why = Vec::new();
    if let (Some(expected), Some(auc)) = (recent.expected_auc, recent.auc) {
        let right = (recent.observed * n as f64).round() as u64;
        let se = auc_se(expected, right, n - right.min(n));
        let margin = (rule.auc_drop_se * se).max(rule.auc_drop);
        if expected - auc > margin {
            reasons.push("auc_drop");
            why.push(format!(
                "AUC {auc:.2} where the model expects {expected:.2}"
            ));
        }
    }
    if recent.ece > rule.max_ece {
        reasons.push("calibration");
        why.push(format!(
            "calibration error {:.2} (predicted {:.0}% right, observed {:.0}%)",
            recent.ece,
            100.0 * recent.mean_predicted,
            100.0 * recent.observed
        ));
    }
    if reasons.is_empty() {
        Verdict {
            status: Health::Ok,
            message: format!(
                "predicting as expected ({n} answers in the last {} days)",
                rule.window_days
            ),
            reasons,
        }
    } else {
        Verdict {
            status: Health::Drifting,
            message: format!("drifting: refit recommended — {}", why.join("; ")),
            reasons,
        }
    }
}

/// A skill's inputs to the report, as the store gives them.
#[derive(Debug, Clone)]
pub struct SkillInput {
    pub skill_id: String,
    pub name: Option<String>,
    pub params: crate::kt::Params,
    /// None: never fitted, the default parameters.
    pub fitted_at: Option<i64>,
    pub students: i32,
    pub rows: i32,
    /// Accuracy at fit time (in-sample), as stored with the model.
    pub fit: Option<Accuracy>,
    /// Predictions per week of the report (all models), oldest first.
    pub weeks: Vec<Histogram>,
    /// Predictions in the recent window, per model (`fitted_at`, 0 = defaults).
    pub window: std::collections::HashMap<i64, Histogram>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct ParamsView {
    pub prior: f64,
    pub learn: f64,
    pub guess: f64,
    pub slip: f64,
    pub forget: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct WeekAccuracy {
    /// First day of the week (weeks end on the report's `as_of` day).
    pub week_start: chrono::NaiveDate,
    /// Null when the skill had no answers that week.
    pub accuracy: Option<Accuracy>,
}

/// One skill in the model-health report.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SkillHealth {
    pub skill_id: String,
    pub name: Option<String>,
    /// False: the skill has never been fitted and uses the default parameters.
    pub fitted: bool,
    pub fitted_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Students and answers the fit used.
    pub students: i32,
    pub rows: i32,
    pub params: ParamsView,
    /// In-sample accuracy when fitted (null if never fitted, or fitted before it was kept).
    pub fit_accuracy: Option<Accuracy>,
    /// Accuracy of the current model over the recent window (null without answers).
    pub recent: Option<Accuracy>,
    /// `ok`, `drifting` (refit recommended) or `too_little_data`.
    pub status: Health,
    /// The verdict in a plain sentence; starts with "drifting: refit recommended" when so.
    pub message: String,
    /// Why it drifts: `auc_drop`, `calibration`.
    pub reasons: Vec<String>,
    /// Accuracy per week, oldest first (all models' predictions).
    pub weeks: Vec<WeekAccuracy>,
}

/// Builds a skill's line of the report.
pub fn skill_health(
    input: &SkillInput,
    rule: &DriftRule,
    week_starts: &[chrono::NaiveDate],
) -> SkillHealth {
    let recent = input
        .window
        .get(&input.fitted_at.unwrap_or(0))
        .and_then(Histogram::accuracy);
    let verdict = assess(recent.as_ref(), rule);
    let message = match (input.fitted_at, verdict.status) {
        (None, Health::Ok | Health::TooLittleData) => {
            format!(
                "never fitted: uses the default parameters; {}",
                verdict.message
            )
        }
        _ => verdict.message,
    };
    let p = input.params;
    SkillHealth {
        skill_id: input.skill_id.clone(),
        name: input.name.clone(),
        fitted: input.fitted_at.is_some(),
        fitted_at: input.fitted_at.map(crate::db::from_millis),
        students: input.students,
        rows: input.rows,
        params: ParamsView {
            prior: p.prior,
            learn: p.learn,
            guess: p.guess,
            slip: p.slip,
            forget: p.forget,
        },
        fit_accuracy: input.fit,
        recent,
        status: verdict.status,
        message,
        reasons: verdict.reasons.iter().map(|r| (*r).to_owned()).collect(),
        weeks: week_starts
            .iter()
            .enumerate()
            .map(|(i, &week_start)| WeekAccuracy {
                week_start,
                accuracy: input.weeks.get(i).and_then(Histogram::accuracy),
            })
            .collect(),
    }
}

/// Counts of the statuses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, ToSchema)]
pub struct HealthSummary {
    pub skills: usize,
    pub ok: usize,
    pub drifting: usize,
    pub too_little_data: usize,
}

pub fn summarise(skills: &[SkillHealth]) -> HealthSummary {
    let count = |h: Health| skills.iter().filter(|s| s.status == h).count();
    HealthSummary {
        skills: skills.len(),
        ok: count(Health::Ok),
        drifting: count(Health::Drifting),
        too_little_data: count(Health::TooLittleData),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// The direct pairwise count: every (right, wrong) pair, ties by bin counted half.
    fn pairwise_auc(answers: &[(f64, bool)], bins: usize) -> f64 {
        let mut wins = 0.0;
        let mut pairs = 0.0;
        for &(p, y) in answers.iter().filter(|a| a.1) {
            for &(q, _) in answers.iter().filter(|a| !a.1) {
                let (bp, bq) = (bin_of(p, bins), bin_of(q, bins));
                pairs += 1.0;
                wins += if bp > bq {
                    1.0
                } else if bp == bq {
                    0.5
                } else {
                    0.0
                };
                let _ = y;
            }
        }
        wins / pairs
    }

    fn random_answers(seed: u64, n: usize) -> Vec<(f64, bool)> {
        let mut rng = StdRng::seed_from_u64(seed);
        (0..n)
            .map(|_| {
                let p: f64 = rng.random();
                let y = rng.random_bool((0.2 + 0.7 * p).clamp(0.0, 1.0));
                (p, y)
            })
            .collect()
    }

    #[test]
    fn binned_auc_equals_the_pairwise_count() {
        for seed in 0..5 {
            let answers = random_answers(seed, 400);
            let mut h = Histogram::new(BINS);
            for &(p, y) in &answers {
                h.add(p, y);
            }
            let direct = pairwise_auc(&answers, BINS);
            let binned = h.auc().unwrap_or(f64::NAN);
            assert!((direct - binned).abs() < 1e-12, "{direct} vs {binned}");
            // And close to the unbinned AUC (ties only inside a bin of 0.02).
            let mut scored = answers.clone();
            let exact = crate::kt::auc(&mut scored);
            assert!((exact - binned).abs() < 0.01, "{exact} vs {binned}");
        }
    }

    #[test]
    fn auc_needs_both_outcomes() {
        let mut h = Histogram::new(BINS);
        h.add(0.3, true);
        h.add(0.8, true);
        assert_eq!(h.auc(), None);
        h.add(0.1, false);
        assert_eq!(h.auc(), Some(1.0));
    }

    #[test]
    fn rmse_and_calibration_by_hand() {
        let answers = [(0.9, true), (0.9, false), (0.15, false), (0.12, false)];
        let mut h = Histogram::new(BINS);
        for &(p, y) in &answers {
            h.add(p, y);
        }
        let a = h.accuracy().expect("answers");
        let sq: f64 = answers
            .iter()
            .map(|&(p, y)| (f64::from(u8::from(y)) - p).powi(2))
            .sum();
        assert!((a.rmse - (sq / 4.0).sqrt()).abs() < 1e-12);
        // ECE bins: [0.9, 0.9] → mean 0.9, observed 0.5; [0.15, 0.12] → 0.135 vs 0.
        let ece = (2.0 * (0.9f64 - 0.5).abs() + 2.0 * 0.135) / 4.0;
        assert!((a.ece - ece).abs() < 1e-12, "{}", a.ece);
        assert!((a.mean_predicted - 0.5175).abs() < 1e-12);
        assert_eq!(a.observed, 0.25);
        assert_eq!(a.answers, 4);
    }

    #[test]
    fn a_calibrated_model_has_a_small_ece() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut h = Histogram::new(BINS);
        for _ in 0..20_000 {
            let p: f64 = rng.random();
            h.add(p, rng.random_bool(p));
        }
        let a = h.accuracy().expect("answers");
        assert!(a.ece < 0.02, "{}", a.ece);
        assert!((a.mean_predicted - a.observed).abs() < 0.02);
    }

    #[test]
    fn coarsening_keeps_the_totals() {
        let mut h = Histogram::new(BINS);
        for (p, y) in random_answers(3, 100) {
            h.add(p, y);
        }
        let c = h.coarsen(ECE_BINS);
        assert_eq!(c.bins.len(), ECE_BINS);
        assert_eq!(c.total().answers(), 100);
        assert!((c.total().sum_pred - h.total().sum_pred).abs() < 1e-9);
        assert_eq!(bin_of(1.0, 50), 49);
        assert_eq!(bin_of(0.0, 50), 0);
        assert_eq!(bin_of(0.0399, 50), 1);
    }

    fn acc(answers: u64, auc: f64, expected: f64, ece: f64) -> Accuracy {
        Accuracy {
            answers,
            auc: Some(auc),
            expected_auc: Some(expected),
            rmse: 0.4,
            ece,
            mean_predicted: 0.6,
            observed: 0.6,
        }
    }

    #[test]
    fn the_drift_rule() {
        let rule = DriftRule::default();
        let same = assess(Some(&acc(1_000, 0.78, 0.80, 0.05)), &rule);
        assert_eq!(same.status, Health::Ok);
        // 0.06 below what the model expects: more than 0.05 and 3 standard errors (~0.04).
        let worse = assess(Some(&acc(1_000, 0.74, 0.80, 0.05)), &rule);
        assert_eq!(worse.status, Health::Drifting, "{worse:?}");
        assert_eq!(worse.reasons, ["auc_drop"]);
        assert!(worse.message.starts_with("drifting: refit recommended"));
        // The same drop over 400 answers is within chance (3 standard errors ~0.066).
        let noisy = assess(Some(&acc(400, 0.74, 0.80, 0.05)), &rule);
        assert_eq!(noisy.status, Health::Ok, "{noisy:?}");
        let uncalibrated = assess(Some(&acc(1_000, 0.80, 0.80, 0.12)), &rule);
        assert_eq!(uncalibrated.reasons, ["calibration"]);
        let few = assess(Some(&acc(399, 0.5, 0.9, 0.3)), &rule);
        assert_eq!(few.status, Health::TooLittleData);
        assert_eq!(assess(None, &rule).status, Health::TooLittleData);
    }

    #[test]
    fn expected_auc_of_a_calibrated_model_matches_the_observed_one() {
        let mut rng = StdRng::seed_from_u64(11);
        let mut h = Histogram::new(BINS);
        for _ in 0..50_000 {
            let p: f64 = rng.random();
            h.add(p, rng.random_bool(p));
        }
        let (e, a) = (h.expected_auc().unwrap_or(0.0), h.auc().unwrap_or(1.0));
        assert!((e - a).abs() < 0.01, "{e} vs {a}");
        // All predictions alike: nothing to discriminate.
        let mut flat = Histogram::new(BINS);
        for i in 0..100 {
            flat.add(0.9, i % 10 != 0);
        }
        assert_eq!(flat.expected_auc(), Some(0.5));
        assert_eq!(flat.auc(), Some(0.5));
    }

    #[test]
    fn auc_standard_error_shrinks_with_answers() {
        let small = auc_se(0.75, 50, 50);
        let large = auc_se(0.75, 5_000, 5_000);
        assert!(small > large && large > 0.0, "{small} {large}");
        assert!(auc_se(0.75, 0, 10).is_infinite());
    }

    #[test]
    fn in_sample_predictions_follow_the_online_update() {
        let params = crate::kt::Params {
            prior: 0.3,
            learn: 0.1,
            guess: 0.2,
            slip: 0.1,
            forget: 0.0,
        };
        // 60 right answers, then 60 wrong: held as one probability, P(known) would round to
        // 1.0 and every wrong answer would still be predicted right 90% of the time.
        let seq: Vec<u8> = [1u8; 60].into_iter().chain([0u8; 60]).collect();
        let h = in_sample(&params, [seq.as_slice()]);
        // The stored state of the online path, answer by answer.
        let model = crate::kt::SkillModel {
            params,
            spread: crate::kt::Spread::unfitted(),
        };
        let mut state = crate::kt::SkillState::new(&model);
        let (mut sum, mut last) = (0.0, 0.0);
        for &y in &seq {
            last = state.predict(&params);
            sum += last;
            let obs = crate::kt::Observation {
                correct: y == 1,
                at: chrono::DateTime::UNIX_EPOCH,
                session: 1,
                excluded: false,
            };
            state.apply(&model, &obs);
        }
        assert!((h.total().sum_pred - sum).abs() < 1e-9, "{sum}");
        assert!(last < 0.5, "the wrong answers lower the prediction: {last}");
        assert_eq!(h.total().correct, 60);
    }
}
