//! K-fold cross-validation by student, with AUC and RMSE of one-step-ahead predictions.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::Serialize;

use super::fit::{fit_dataset, Dataset, FitOptions, Method};

/// What `huddle kt cv` prints (plus `seconds`, added by the caller).
///
/// Every prediction is one-step-ahead: the held-out student's P(correct) at an answer from
/// the answers before it on the same skill, with the parameters fitted on the other folds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CvResult {
    /// AUC of all held-out predictions of all skills pooled into one ranking. This is the
    /// figure comparable to pyBKT fitted and predicted over the same student folds
    /// (`scripts/pybkt/compare.py` scores both with one scorer).
    pub auc: f64,
    /// Root mean squared error of the same pooled predictions.
    pub rmse: f64,
    pub folds: usize,
    pub rows: usize,
    /// Mean over skills of each skill's AUC (its held-out predictions of all folds pooled);
    /// skills whose answers are all right or all wrong have no AUC and are left out. The
    /// same kind of figure as the mean of pyBKT's `Model.crossvalidate(metric="auc")`, not
    /// the same number: that one splits each skill's students into folds of its own and
    /// averages the skill's per-fold AUCs (docs/knowledge-tracing.md, "Offline tools").
    pub auc_skill_mean: f64,
    /// Predictions on skills that had answers in the training folds but too few to be
    /// fitted by EM alone (shrunk, or the defaults), pooled: how well small skills are served.
    pub small_skills: SmallSkillsCv,
    /// Predictions on skills without a single answer in the training folds (all their
    /// students held out): the cold start, where no method has data of the skill to use.
    pub unseen_skills: SmallSkillsCv,
    /// Per skill, in skill id order (printed by `kt cv --per-skill`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skills: Vec<SkillCv>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SmallSkillsCv {
    pub rows: usize,
    /// None without predictions of both outcomes.
    pub auc: Option<f64>,
}

/// One skill's held-out figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SkillCv {
    pub skill_id: String,
    pub rows: usize,
    /// None when the skill's answers are all right or all wrong.
    pub auc: Option<f64>,
    pub rmse: f64,
    /// In how many folds EM fitted the skill on its own (the others shrunk or defaulted).
    pub em_folds: usize,
}

impl SmallSkillsCv {
    fn of(scored: &mut [(f64, bool)]) -> SmallSkillsCv {
        SmallSkillsCv {
            rows: scored.len(),
            auc: Some(auc(scored)).filter(|a| a.is_finite()),
        }
    }
}

fn rmse(scored: &[(f64, bool)]) -> f64 {
    if scored.is_empty() {
        return 0.0;
    }
    (scored
        .iter()
        .map(|&(p, y)| (p - f64::from(u8::from(y))).powi(2))
        .sum::<f64>()
        / scored.len() as f64)
        .sqrt()
}

/// Assigns each student (index into `data.students`, or the largest index used + 1) to a
/// fold by a seeded shuffle: fold sizes differ by at most one.
pub fn assign_folds(students: usize, folds: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..students).collect();
    order.shuffle(&mut StdRng::seed_from_u64(seed));
    let mut fold = vec![0; students];
    for (pos, &s) in order.iter().enumerate() {
        fold[s] = pos % folds.max(1);
    }
    fold
}

/// Cross-validates: for each fold, fits every skill on the other folds' students, then
/// predicts each held-out answer from the answers before it, as the online path does
/// ([`super::Params::one_step_ahead`]).
pub fn cross_validate(data: &Dataset, folds: usize, opts: &FitOptions) -> CvResult {
    let folds = folds.max(2);
    let n_students = data
        .skills
        .iter()
        .flat_map(|s| s.students.iter())
        .map(|&s| s as usize + 1)
        .max()
        .unwrap_or(0)
        .max(data.students.len());
    let fold_of = assign_folds(n_students, folds, opts.seed);
    // No bootstrap: the interval plays no part in the predictions.
    let fit_opts = FitOptions {
        bootstrap: 0,
        ..*opts
    };
    let mut per_skill: Vec<Vec<(f64, bool)>> = vec![Vec::new(); data.skills.len()];
    let mut em_folds = vec![0usize; data.skills.len()];
    let mut small: Vec<(f64, bool)> = Vec::new();
    let mut unseen: Vec<(f64, bool)> = Vec::new();
    for f in 0..folds {
        let weights: Vec<Vec<u32>> = data
            .skills
            .iter()
            .map(|s| {
                s.students
                    .iter()
                    .map(|&st| u32::from(fold_of[st as usize] != f))
                    .collect()
            })
            .collect();
        let fits = fit_dataset(data, Some(&weights), &fit_opts);
        for (i, (skill, fit)) in data.skills.iter().zip(&fits).enumerate() {
            let p = fit.model.params;
            em_folds[i] += usize::from(fit.method == Method::Em);
            let before = per_skill[i].len();
            for s in 0..skill.sequences() {
                if fold_of[skill.students[s] as usize] != f {
                    continue;
                }
                let answers = skill.sequence(s).iter().map(|&o| o == 1);
                for (step, o) in p.one_step_ahead(answers.clone()).zip(answers) {
                    per_skill[i].push((step.p_correct, o));
                }
            }
            if fit.rows == 0 {
                unseen.extend_from_slice(&per_skill[i][before..]);
            } else if fit.method != Method::Em {
                small.extend_from_slice(&per_skill[i][before..]);
            }
        }
    }
    let mut all: Vec<(f64, bool)> = per_skill.iter().flatten().copied().collect();
    let skills: Vec<SkillCv> = per_skill
        .iter_mut()
        .zip(&data.skills)
        .zip(&em_folds)
        .map(|((v, skill), &em_folds)| SkillCv {
            skill_id: skill.skill_id.clone(),
            rows: v.len(),
            rmse: rmse(v),
            auc: Some(auc(v)).filter(|a| a.is_finite()),
            em_folds,
        })
        .collect();
    let skill_aucs: Vec<f64> = skills.iter().filter_map(|s| s.auc).collect();
    CvResult {
        auc: auc(&mut all),
        rmse: if all.is_empty() { f64::NAN } else { rmse(&all) },
        folds,
        rows: all.len(),
        auc_skill_mean: if skill_aucs.is_empty() {
            f64::NAN
        } else {
            skill_aucs.iter().sum::<f64>() / skill_aucs.len() as f64
        },
        small_skills: SmallSkillsCv::of(&mut small),
        unseen_skills: SmallSkillsCv::of(&mut unseen),
        skills,
    }
}

/// Area under the ROC curve by ranks (Mann–Whitney U); tied predictions share their
/// average rank. NaN when only one class is present. Sorts `scored` in place.
pub fn auc(scored: &mut [(f64, bool)]) -> f64 {
    scored.sort_by(|a, b| a.0.total_cmp(&b.0));
    let positives = scored.iter().filter(|s| s.1).count() as f64;
    let negatives = scored.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return f64::NAN;
    }
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < scored.len() {
        let mut j = i;
        while j + 1 < scored.len() && scored[j + 1].0 == scored[i].0 {
            j += 1;
        }
        // Ranks i+1 ..= j+1 share their mean.
        let mean_rank = (i + j + 2) as f64 / 2.0;
        let pos = scored[i..=j].iter().filter(|s| s.1).count() as f64;
        rank_sum += pos * mean_rank;
        i = j + 1;
    }
    (rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_of_known_cases() {
        let mut perfect = vec![(0.1, false), (0.2, false), (0.8, true), (0.9, true)];
        assert_eq!(auc(&mut perfect), 1.0);
        let mut reversed = vec![(0.9, false), (0.1, true)];
        assert_eq!(auc(&mut reversed), 0.0);
        let mut ties = vec![(0.5, false), (0.5, true), (0.5, true), (0.5, false)];
        assert_eq!(auc(&mut ties), 0.5);
        // One positive above one negative, one tie: (1 + 0.5) / 2.
        let mut mixed = vec![(0.3, false), (0.7, true), (0.7, false), (0.9, true)];
        assert!((auc(&mut mixed) - 0.875).abs() < 1e-12);
        assert!(auc(&mut [(0.2, true)]).is_nan());
    }

    #[test]
    fn folds_are_balanced_and_seeded() {
        let a = assign_folds(103, 5, 9);
        assert_eq!(a, assign_folds(103, 5, 9));
        assert_ne!(a, assign_folds(103, 5, 10));
        for f in 0..5 {
            let n = a.iter().filter(|&&x| x == f).count();
            assert!(n == 20 || n == 21);
        }
    }
}
