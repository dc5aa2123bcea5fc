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
/// `guess < 0.5` and `slip < 0.5` make the model identifiable: with them a student who
/// knows the skill is always more likely to answer correctly than one who does not
/// (`1 - slip > guess`). Without them the likelihood has a mirror solution in which
/// "known" and "not known" swap meaning, and EM may land on it. The small margins
/// away from 0 and 1 keep logarithms finite and let one surprising answer move any estimate.
pub mod bounds {
    pub const PROB_MIN: f64 = 1e-4;
    pub const PRIOR_MAX: f64 = 1.0 - 1e-4;
    pub const LEARN_MAX: f64 = 1.0 - 1e-4;
    /// Strictly below 0.5: see the module documentation.
    pub const GUESS_MAX: f64 = 0.4999;
    pub const SLIP_MAX: f64 = 0.4999;
    /// Forgetting faster than half the time per opportunity is not a skill any more.
    pub const FORGET_MAX: f64 = 0.5;
}

impl Default for Params {
    /// Defaults for a skill without enough data to fit (see [`MIN_ROWS_TO_FIT`]).
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

/// Below this many opportunities (over all students) a skill keeps the defaults:
/// EM on a few dozen answers mostly fits noise.
pub const MIN_ROWS_TO_FIT: usize = 200;
/// ... and below this many students, for the same reason.
pub const MIN_STUDENTS_TO_FIT: usize = 20;

impl Params {
    /// The same parameters moved inside [`bounds`].
    pub fn clamped(self) -> Params {
        use bounds::*;
        Params {
            prior: self.prior.clamp(PROB_MIN, PRIOR_MAX),
            learn: self.learn.clamp(PROB_MIN, LEARN_MAX),
            guess: self.guess.clamp(PROB_MIN, GUESS_MAX),
            slip: self.slip.clamp(PROB_MIN, SLIP_MAX),
            forget: self.forget.clamp(0.0, FORGET_MAX),
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
        assert!(p.guess < 0.5 && p.slip < 0.5 && p.forget <= 0.5);
    }
}
