//! BKT parameters, their bounds, the defaults for skills with little data, and the
//! two steps of the online update (posterior after an answer, then the transition).

use serde::{Deserialize, Serialize};

/// The five BKT parameters of one skill.
///
/// `guess` is P(correct | not known), `slip` is P(incorrect | known), `learn` is
/// P(not known → known) between two opportunities, `forget` the reverse (0 in classic BKT).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Params {
    pub prior: f64,
    pub learn: f64,
    pub guess: f64,
    pub slip: f64,
    #[serde(default)]
    pub forget: f64,
}

/// Bounds kept by the EM fit and by [`Params::clamped`].
///
/// Identifiability comes from one constraint, `guess + slip <= GUESS_PLUS_SLIP_MAX` (< 1):
/// a student who knows the skill is always more likely to answer correctly than one who
/// does not (`1 - slip > guess`). Without it the likelihood has a mirror solution in which
/// "known" and "not known" swap meaning, and EM may land on it. `guess` alone may exceed
/// 0.5 (multiple-choice items with two options, items answerable by elimination): real
/// data often fits guess ≥ 0.5 with guess + slip < 1, which a bound of 0.5 on each would
/// forbid (docs/quality.md, "Knowledge tracing on real data"). The
/// small margins away from 0 and 1 keep logarithms finite and let one surprising answer
/// move any estimate.
pub mod bounds {
    pub const PROB_MIN: f64 = 1e-4;
    pub const PRIOR_MAX: f64 = 1.0 - 1e-4;
    pub const LEARN_MAX: f64 = 1.0 - 1e-4;
    pub const GUESS_MAX: f64 = 1.0 - 1e-4;
    pub const SLIP_MAX: f64 = 1.0 - 1e-4;
    /// The identifiability constraint: a known skill shows in the answers by at least
    /// `1 - GUESS_PLUS_SLIP_MAX` of probability.
    pub const GUESS_PLUS_SLIP_MAX: f64 = 0.98;
    /// Forgetting faster than half the time per opportunity is not a skill any more.
    pub const FORGET_MAX: f64 = 0.5;
}

impl Default for Params {
    /// Defaults for a skill never fitted, and for small skills with `--small-skills default`.
    ///
    /// Source: the standard starting values of the BKT literature and of the
    /// reference implementations (Corbett & Anderson 1995; the ASSISTments and
    /// pyBKT examples): a student knows the skill beforehand 30% of the time, learns
    /// it at 10% per opportunity, guesses right 20% of the time and slips 10%.
    /// They are deliberately moderate, so the first answers move the estimate.
    fn default() -> Self {
        Params {
            prior: 0.3,
            learn: 0.1,
            guess: 0.2,
            slip: 0.1,
            forget: 0.0,
        }
    }
}

/// Below this many opportunities (over all students) a skill is not fitted by EM alone but
/// shrunk toward the others (`kt::fit::SmallSkills`): on a couple of dozen answers EM mostly
/// fits noise. Low on purpose: above it, EM alone finds the maximum-likelihood parameters,
/// which a prior would move away from (docs/knowledge-tracing.md, "Small skills").
pub const MIN_ROWS_TO_FIT: usize = 25;
/// ... and below this many students, for the same reason (`prior` is one draw per student).
pub const MIN_STUDENTS_TO_FIT: usize = 5;

impl Params {
    /// The same parameters moved inside [`bounds`]; when `guess + slip` exceeds
    /// [`bounds::GUESS_PLUS_SLIP_MAX`] both move down by the same amount. A non-finite
    /// parameter becomes its default.
    pub fn clamped(self) -> Params {
        use bounds::*;
        let d = Params::default();
        let or = |x: f64, default: f64| if x.is_finite() { x } else { default };
        let mut guess = or(self.guess, d.guess).clamp(PROB_MIN, GUESS_MAX);
        let mut slip = or(self.slip, d.slip).clamp(PROB_MIN, SLIP_MAX);
        let excess = guess + slip - GUESS_PLUS_SLIP_MAX;
        if excess > 0.0 {
            // Equal shares, but neither below PROB_MIN.
            let g_cut = (excess / 2.0).min(guess - PROB_MIN);
            guess -= g_cut;
            slip = (slip - (excess - g_cut)).max(PROB_MIN);
            guess = guess.min(GUESS_PLUS_SLIP_MAX - slip);
        }
        Params {
            prior: or(self.prior, d.prior).clamp(PROB_MIN, PRIOR_MAX),
            learn: or(self.learn, d.learn).clamp(PROB_MIN, LEARN_MAX),
            guess,
            slip,
            forget: or(self.forget, d.forget).clamp(0.0, FORGET_MAX),
        }
    }

    /// True when every parameter is finite and inside [`bounds`].
    pub fn is_valid(&self) -> bool {
        let c = self.clamped();
        [self.prior, self.learn, self.guess, self.slip, self.forget]
            .iter()
            .all(|x| x.is_finite())
            && c == *self
    }

    /// P(correct) for a student whose belief is `log_odds` = ln(P(known) / P(not known)).
    /// Both probabilities are computed without subtracting from 1, so a belief of
    /// 1 − 10⁻³⁰ still predicts exactly.
    pub fn predict_log_odds(&self, log_odds: f64) -> f64 {
        let (k, u) = (sigmoid(log_odds), sigmoid(-log_odds));
        (k * (1.0 - self.slip) + u * self.guess).clamp(0.0, 1.0)
    }

    /// The online step on log-odds: Bayes' rule for the answer, then the transition.
    /// Exact for any sequence: the belief never rounds to certainty (the log-odds of a
    /// student after 10,000 right answers is a large finite number that wrong answers
    /// bring down again, as they should).
    pub fn update_log_odds(&self, log_odds: f64, correct: bool) -> f64 {
        let (ek, eu) = if correct {
            (1.0 - self.slip, self.guess)
        } else {
            (self.slip, 1.0 - self.guess)
        };
        let post = log_odds + ek.ln() - eu.ln();
        // ln P(known) and ln P(not known) after the answer, then the two transitions.
        let (lk, lu) = (log_sigmoid(post), log_sigmoid(-post));
        let next_k = log_add_exp(lk + (1.0 - self.forget).ln(), lu + self.learn.ln());
        let next_u = log_add_exp(lk + self.forget.ln(), lu + (1.0 - self.learn).ln());
        next_k - next_u
    }
}

/// ln(P(known) / P(not known)) for a probability (±745 at 0 and 1, the limits of f64).
pub fn logit(p: f64) -> f64 {
    let p = if p.is_finite() { p } else { 0.5 };
    (p.ln() - (-p).ln_1p()).clamp(-745.0, 745.0)
}

/// 1 / (1 + e^−x), accurate in both tails.
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// ln σ(x) without overflow or cancellation.
pub fn log_sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        -(-x).exp().ln_1p()
    } else {
        x - x.exp().ln_1p()
    }
}

/// ln(eᵃ + eᵇ); −∞ terms (a zero probability) drop out.
pub fn log_add_exp(a: f64, b: f64) -> f64 {
    let (hi, lo) = if a >= b { (a, b) } else { (b, a) };
    if hi == f64::NEG_INFINITY {
        return hi;
    }
    hi + (lo - hi).exp().ln_1p()
}

/// One answer of a student's trace ([`Params::one_step_ahead`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    /// P(correct) predicted before the answer, from the answers before it.
    pub p_correct: f64,
    /// The belief after the answer, as log-odds of P(known).
    pub log_odds: f64,
}

impl Params {
    /// The online path over one student's answers on the skill, from the prior: per answer,
    /// P(correct) predicted before it (one step ahead) and the belief after it. The same
    /// steps as [`super::SkillState::apply`] (tested); `kt cv`, `kt predict`, the accuracy at
    /// fit time and the model-health drift check all predict through it.
    pub fn one_step_ahead(
        self,
        answers: impl IntoIterator<Item = bool>,
    ) -> impl Iterator<Item = Step> {
        let mut belief = logit(self.prior);
        answers.into_iter().map(move |correct| {
            let p_correct = self.predict_log_odds(belief);
            belief = self.update_log_odds(belief, correct);
            Step {
                p_correct,
                log_odds: belief,
            }
        })
    }
}

/// The textbook step on one probability, the reference the log-odds step is tested against.
/// Only tests use it: as one number, P(known) rounds to exactly 1.0 after a few dozen right
/// answers and no wrong answer can lower it again.
#[cfg(test)]
impl Params {
    /// P(correct) at the next opportunity for a student whose P(known) is `p_known`.
    #[inline]
    pub fn predict(&self, p_known: f64) -> f64 {
        p_known * (1.0 - self.slip) + (1.0 - p_known) * self.guess
    }

    /// P(known) given one more answer (Bayes' rule), before any learning happens.
    #[inline]
    pub fn posterior(&self, p_known: f64, correct: bool) -> f64 {
        let (k, u) = if correct {
            (p_known * (1.0 - self.slip), (1.0 - p_known) * self.guess)
        } else {
            (p_known * self.slip, (1.0 - p_known) * (1.0 - self.guess))
        };
        let total = k + u;
        if total > 0.0 {
            k / total
        } else {
            p_known
        }
    }

    /// P(known) at the next opportunity: the student may learn or forget in between.
    #[inline]
    pub fn transition(&self, p_known: f64) -> f64 {
        p_known * (1.0 - self.forget) + (1.0 - p_known) * self.learn
    }

    /// The whole online step: posterior after the answer, then the transition.
    #[inline]
    pub fn update(&self, p_known: f64, correct: bool) -> f64 {
        self.transition(self.posterior(p_known, correct))
            .clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_identifiable() {
        let p = Params::default();
        assert!(p.is_valid());
        assert!(1.0 - p.slip > p.guess);
    }

    #[test]
    fn a_correct_answer_raises_and_a_wrong_one_lowers_the_estimate() {
        let p = Params::default();
        assert!(p.posterior(0.5, true) > 0.5);
        assert!(p.posterior(0.5, false) < 0.5);
        // Worked example: prior 0.3, correct → 0.3*0.9 / (0.3*0.9 + 0.7*0.2) = 0.6585...
        let post = p.posterior(0.3, true);
        assert!((post - 0.27 / 0.41).abs() < 1e-12);
        let next = p.update(0.3, true);
        assert!((next - (post + (1.0 - post) * 0.1)).abs() < 1e-12);
    }

    #[test]
    fn clamping_enforces_the_identifiability_bounds() {
        let p = Params {
            prior: 2.0,
            learn: -1.0,
            guess: 0.8,
            slip: 0.7,
            forget: 0.9,
        }
        .clamped();
        assert!(p.is_valid());
        assert!(p.guess + p.slip <= bounds::GUESS_PLUS_SLIP_MAX + 1e-12 && p.forget <= 0.5);
        assert!(1.0 - p.slip > p.guess);
        let q = Params {
            guess: f64::NAN,
            slip: 0.9999,
            ..Params::default()
        }
        .clamped();
        assert!(q.is_valid() && q.guess >= bounds::PROB_MIN, "{q:?}");
    }

    #[test]
    fn log_odds_update_keeps_a_certain_looking_belief_exact() {
        let p = Params::default();
        // 40 right answers: P(known) rounds to 1.0 as one number, not as log-odds.
        let mut lo = logit(p.prior);
        for _ in 0..40 {
            lo = p.update_log_odds(lo, true);
        }
        assert!(sigmoid(lo) == 1.0 && lo.is_finite());
        // Wrong answers bring it down again.
        for _ in 0..60 {
            lo = p.update_log_odds(lo, false);
        }
        assert!(sigmoid(lo) < 0.5, "{lo}");
        // Agrees with the probability update where that one is exact.
        let k = p.update(0.3, false);
        assert!((sigmoid(p.update_log_odds(logit(0.3), false)) - k).abs() < 1e-12);
    }
}
