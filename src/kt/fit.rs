//! EM (Baum–Welch) fit of BKT parameters per skill.
//!
//! Data layout: one skill's answers are a flat `Vec<u8>` of 0/1, student after student,
//! with `starts` giving where each student's sequence begins. The E-step walks it once
//! forwards and once backwards per sequence with a reused scratch buffer, so the inner
//! loop allocates nothing. Students can be weighted (0 = left out, k = drawn k times), which
//! gives cross-validation folds and bootstrap resamples without copying any data.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::confidence::Spread;
use super::params::{bounds, Params, MIN_ROWS_TO_FIT, MIN_STUDENTS_TO_FIT};
use super::trie::{Scratch, Trie, TrieCounts, TrieWeights};

/// The answers of one skill, grouped by student and in time order.
#[derive(Debug, Clone, Default)]
pub struct SkillData {
    pub skill_id: String,
    /// 1 = correct, 0 = incorrect, students one after another.
    pub obs: Vec<u8>,
    /// `starts[i]..starts[i + 1]` is sequence `i`; `starts.len() == sequences + 1`.
    pub starts: Vec<u32>,
    /// For each sequence, the index of its student in [`Dataset::students`].
    pub students: Vec<u32>,
}

impl SkillData {
    pub fn new(skill_id: impl Into<String>) -> Self {
        SkillData {
            skill_id: skill_id.into(),
            obs: Vec::new(),
            starts: vec![0],
            students: Vec::new(),
        }
    }

    /// Appends one student's sequence (ignored when empty).
    pub fn push_sequence(&mut self, student: u32, answers: impl IntoIterator<Item = bool>) {
        let before = self.obs.len();
        self.obs.extend(answers.into_iter().map(u8::from));
        if self.obs.len() > before {
            self.starts.push(self.obs.len() as u32);
            self.students.push(student);
        }
    }

    pub fn sequences(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }

    pub fn rows(&self) -> usize {
        self.obs.len()
    }

    pub fn sequence(&self, i: usize) -> &[u8] {
        &self.obs[self.starts[i] as usize..self.starts[i + 1] as usize]
    }

    fn max_len(&self) -> usize {
        self.starts
            .windows(2)
            .map(|w| (w[1] - w[0]) as usize)
            .max()
            .unwrap_or(0)
    }
}

/// All skills of a data set, sharing one table of student ids.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    pub students: Vec<String>,
    /// Sorted by skill id.
    pub skills: Vec<SkillData>,
}

impl Dataset {
    pub fn rows(&self) -> usize {
        self.skills.iter().map(SkillData::rows).sum()
    }
}

/// Settings of the EM fit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FitOptions {
    /// Random starting points per skill; the best log-likelihood wins (pyBKT's `num_fits`).
    pub restarts: usize,
    /// E-steps per restart at most (pyBKT: 100).
    pub max_iter: usize,
    /// Stop when one iteration improves the skill's log-likelihood by less than this
    /// (absolute, as pyBKT does; pyBKT's default is 1e-3).
    pub tol: f64,
    pub seed: u64,
    /// Fit `forget`; off by default (classic BKT: no forgetting).
    pub fit_forget: bool,
    /// Worker threads; 0 = what the machine has.
    pub threads: usize,
    /// Bootstrap resamples of students for the parameter-uncertainty summary (0 = none).
    pub bootstrap: usize,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            restarts: 5,
            max_iter: 100,
            tol: 1e-3,
            seed: 42,
            fit_forget: false,
            threads: 0,
            bootstrap: 8,
        }
    }
}

/// The fitted model of one skill, what the online update needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkillModel {
    pub params: Params,
    /// How much P(known) varies with the parameters' own uncertainty.
    pub spread: Spread,
}

impl Default for SkillModel {
    /// The model of a skill never fitted: literature defaults, wide uncertainty.
    fn default() -> Self {
        SkillModel {
            params: Params::default(),
            spread: Spread::unfitted(),
        }
    }
}

/// The result of fitting one skill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkillFit {
    pub skill_id: String,
    pub model: SkillModel,
    /// Natural-log likelihood of the skill's data under `model.params`.
    pub log_likelihood: f64,
    pub students: usize,
    pub rows: usize,
    /// False when the skill had too little data and kept the defaults.
    pub fitted: bool,
    pub restarts: usize,
    /// E-steps of the winning restart.
    pub iterations: usize,
    /// Standard deviation of each parameter over the bootstrap resamples.
    pub bootstrap_sd: Option<Params>,
}

/// Sufficient statistics of one E-step.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    ll: f64,
    sequences: f64,
    /// Σ P(known at the first opportunity).
    first_known: f64,
    rows: f64,
    correct: f64,
    /// Σ_t P(known_t), and the same restricted to correct answers.
    known: f64,
    known_correct: f64,
    /// Over the steps that have a next step: Σ P(known_t), Σ P(¬known_t → known_t+1),
    /// Σ P(known_t → ¬known_t+1), and how many such steps.
    trans_known: f64,
    learned: f64,
    forgot: f64,
    trans: f64,
}

impl From<TrieCounts> for Counts {
    fn from(t: TrieCounts) -> Counts {
        Counts {
            ll: t.ll,
            sequences: t.sequences,
            first_known: t.first_known,
            rows: t.rows,
            correct: t.correct,
            known: t.known,
            known_correct: t.known_correct,
            trans_known: t.trans_known,
            learned: t.learned,
            forgot: t.forgot,
            trans: t.trans,
        }
    }
}

impl Counts {
    /// The M-step. Each parameter's expected complete-data log-likelihood is a concave
    /// Bernoulli term, so clamping its unconstrained maximiser into the bounds gives the
    /// constrained maximiser: EM stays monotone inside the bounds.
    fn m_step(&self, fit_forget: bool, old: &Params) -> Params {
        let ratio = |num: f64, den: f64, fallback: f64| {
            if den > 1e-12 {
                num / den
            } else {
                fallback
            }
        };
        let unknown = self.rows - self.known;
        let trans_unknown = self.trans - self.trans_known;
        Params {
            prior: ratio(self.first_known, self.sequences, old.prior),
            learn: ratio(self.learned, trans_unknown, old.learn),
            guess: ratio(self.correct - self.known_correct, unknown, old.guess),
            slip: ratio(self.known - self.known_correct, self.known, old.slip),
            forget: if fit_forget {
                ratio(self.forgot, self.trans_known, old.forget)
            } else {
                0.0
            },
        }
        .clamped()
    }
}

/// One E-step over the sequences `range` of `data`. `scratch` holds the filtered
/// P(known) of one sequence; it must be at least as long as the longest sequence.
fn e_step(
    p: &Params,
    data: &SkillData,
    weights: Option<&[u32]>,
    range: std::ops::Range<usize>,
    scratch: &mut [f64],
) -> Counts {
    let mut c = Counts::default();
    // Emission probabilities indexed by the answer (0 = incorrect, 1 = correct).
    let e_known = [p.slip, 1.0 - p.slip];
    let e_unknown = [1.0 - p.guess, p.guess];
    let (learn, forget) = (p.learn, p.forget);
    // Taking a logarithm per answer is the costliest operation here, so the answers'
    // probabilities (each ≥ 1e-4) are multiplied and logged once per sequence.
    let mut ll_product = 1.0f64;
    for s in range {
        let w = match weights {
            Some(w) if w[s] == 0 => continue,
            Some(w) => w[s] as f64,
            None => 1.0,
        };
        let seq = &data.obs[data.starts[s] as usize..data.starts[s + 1] as usize];
        let n = seq.len();
        let filt = &mut scratch[..n];
        let mut seq_ll = 0.0;

        // Forward: filtered P(known_t | answers up to t), and the likelihood.
        let mut pred = p.prior;
        for (t, &o) in seq.iter().enumerate() {
            let k = pred * e_known[o as usize];
            let total = k + (1.0 - pred) * e_unknown[o as usize];
            ll_product *= total;
            if ll_product < 1e-200 {
                seq_ll += ll_product.ln();
                ll_product = 1.0;
            }
            let f = k / total;
            filt[t] = f;
            pred = f * (1.0 - forget) + (1.0 - f) * learn;
        }

        // Backward with β normalised at each step; ξ is normalised on its own, so the
        // scale of β never matters.
        let mut known = filt[n - 1];
        let mut known_sum = known;
        let mut known_correct = if seq[n - 1] == 1 { known } else { 0.0 };
        let (mut trans_known, mut learned, mut forgot) = (0.0, 0.0, 0.0);
        let (mut b0, mut b1) = (1.0f64, 1.0f64);
        for t in (0..n - 1).rev() {
            let o_next = seq[t + 1] as usize;
            let g0 = e_unknown[o_next] * b0;
            let g1 = e_known[o_next] * b1;
            let f = filt[t];
            let x00 = (1.0 - f) * (1.0 - learn) * g0;
            let x01 = (1.0 - f) * learn * g1;
            let x10 = f * forget * g0;
            let x11 = f * (1.0 - forget) * g1;
            let inv = 1.0 / (x00 + x01 + x10 + x11);
            known = (x10 + x11) * inv;
            trans_known += known;
            learned += x01 * inv;
            forgot += x10 * inv;
            known_sum += known;
            if seq[t] == 1 {
                known_correct += known;
            }
            let nb0 = (1.0 - learn) * g0 + learn * g1;
            let nb1 = forget * g0 + (1.0 - forget) * g1;
            let inv_b = 1.0 / (nb0 + nb1);
            b0 = nb0 * inv_b;
            b1 = nb1 * inv_b;
        }
        let correct = seq.iter().map(|&o| o as u32).sum::<u32>() as f64;
        c.ll += w * (seq_ll + ll_product.ln());
        ll_product = 1.0;
        c.sequences += w;
        c.first_known += w * known;
        c.rows += w * n as f64;
        c.correct += w * correct;
        c.known += w * known_sum;
        c.known_correct += w * known_correct;
        c.trans_known += w * trans_known;
        c.learned += w * learned;
        c.forgot += w * forgot;
        c.trans += w * (n - 1) as f64;
    }
    c
}

/// The per-sequence E-step's counts, the reference the trie E-step is tested against.
#[cfg(test)]
pub(crate) fn e_step_counts(p: &Params, data: &SkillData, weights: Option<&[u32]>) -> TrieCounts {
    let c = e_step(
        p,
        data,
        weights,
        0..data.sequences(),
        &mut vec![0.0; data.max_len()],
    );
    TrieCounts {
        ll: c.ll,
        sequences: c.sequences,
        first_known: c.first_known,
        rows: c.rows,
        correct: c.correct,
        known: c.known,
        known_correct: c.known_correct,
        trans_known: c.trans_known,
        learned: c.learned,
        forgot: c.forgot,
        trans: c.trans,
    }
}

/// Log-likelihood of a skill's data (all students, weight 1) under `p`.
pub fn log_likelihood(p: &Params, data: &SkillData) -> f64 {
    let mut scratch = vec![0.0; data.max_len()];
    e_step(p, data, None, 0..data.sequences(), &mut scratch).ll
}

fn random_start(rng: &mut StdRng, fit_forget: bool) -> Params {
    Params {
        prior: rng.random_range(0.05..0.95),
        learn: rng.random_range(0.01..0.5),
        guess: rng.random_range(0.01..0.45),
        slip: rng.random_range(0.01..0.45),
        forget: if fit_forget {
            rng.random_range(0.0..0.1)
        } else {
            0.0
        },
    }
    .clamped()
}

/// Runs EM from `start` until convergence; returns the parameters, their log-likelihood
/// and the number of E-steps.
fn em(
    start: Params,
    trie: &Trie,
    weights: &TrieWeights,
    opts: &FitOptions,
    max_iter: usize,
) -> (Params, f64, usize) {
    let mut scratch = Scratch::new(trie);
    let mut p = start;
    let mut prev = f64::NEG_INFINITY;
    let mut iter = 0;
    loop {
        let c = Counts::from(trie.e_step(&p, weights, &mut scratch));
        iter += 1;
        if iter >= max_iter.max(1) || (c.ll - prev).abs() < opts.tol {
            return (p, c.ll, iter);
        }
        prev = c.ll;
        p = c.m_step(opts.fit_forget, &p);
    }
}

/// A stable 64-bit hash ([`crate::util::stable_hash`]): seeds must not change between runs or
/// Rust versions.
pub fn stable_hash(s: &str) -> u64 {
    crate::util::stable_hash(&[s])
}

/// Mixes seeds (splitmix64 finaliser) so that neighbouring restarts get unrelated streams.
pub(crate) fn mix(a: u64, b: u64) -> u64 {
    let mut z = a ^ b.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn threads(opts: &FitOptions) -> usize {
    if opts.threads > 0 {
        opts.threads
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }
}

/// Runs `jobs` closures over a pool of scoped threads, each job once, results in order.
fn parallel_map<T: Send>(n_jobs: usize, threads: usize, job: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let results: Mutex<Vec<Option<T>>> = Mutex::new((0..n_jobs).map(|_| None).collect());
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, n_jobs.max(1)) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n_jobs {
                    break;
                }
                let r = job(i);
                if let Ok(mut all) = results.lock() {
                    all[i] = Some(r);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .flatten()
        .collect()
}

fn students_in(data: &SkillData, weights: Option<&[u32]>) -> (usize, usize) {
    match weights {
        None => (data.sequences(), data.rows()),
        Some(w) => (0..data.sequences())
            .filter(|&s| w[s] > 0)
            .fold((0, 0), |(st, r), s| {
                (st + 1, r + (data.starts[s + 1] - data.starts[s]) as usize)
            }),
    }
}

/// Fits every skill of `data`. `weights[skill][sequence]` (optional) weights students,
/// e.g. 0 for those held out. Deterministic for a given `opts.seed`, whatever the threads.
pub fn fit_dataset(
    data: &Dataset,
    weights: Option<&[Vec<u32>]>,
    opts: &FitOptions,
) -> Vec<SkillFit> {
    let restarts = opts.restarts.max(1);
    let skills = &data.skills;
    let fittable: Vec<bool> = skills
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let (st, rows) = students_in(s, weights.map(|w| w[i].as_slice()));
            st >= MIN_STUDENTS_TO_FIT && rows >= MIN_ROWS_TO_FIT
        })
        .collect();
    // One job per (skill, restart): with few skills both cores still have work.
    let jobs: Vec<(usize, usize)> = (0..skills.len())
        .filter(|&i| fittable[i])
        .flat_map(|i| (0..restarts).map(move |r| (i, r)))
        .collect();
    let n_threads = threads(opts);
    // Prefix trees and their weights, built once per skill and shared by its restarts.
    let tries: Vec<Option<(Trie, TrieWeights)>> = parallel_map(skills.len(), n_threads, |i| {
        fittable[i].then(|| {
            let t = Trie::build(&skills[i]);
            let w = t.weights(weights.map(|w| w[i].as_slice()));
            (t, w)
        })
    });
    let runs = parallel_map(jobs.len(), n_threads, |j| {
        let (i, r) = jobs[j];
        let skill = &skills[i];
        let mut rng =
            StdRng::seed_from_u64(mix(mix(opts.seed, stable_hash(&skill.skill_id)), r as u64));
        let start = random_start(&mut rng, opts.fit_forget);
        match &tries[i] {
            Some((trie, tw)) => em(start, trie, tw, opts, opts.max_iter),
            None => (start, f64::NEG_INFINITY, 0),
        }
    });
    let mut best: Vec<Option<(Params, f64, usize)>> = vec![None; skills.len()];
    for (&(i, _), run) in jobs.iter().zip(runs) {
        // Strictly greater: ties keep the lower restart, so the result is deterministic.
        if best[i].is_none_or(|b| run.1 > b.1) {
            best[i] = Some(run);
        }
    }

    // Bootstrap: resample students with replacement, refit from the winner (one start,
    // fewer iterations: it begins near the optimum), summarise the spread.
    let boot_jobs: Vec<(usize, usize)> = if opts.bootstrap > 0 {
        (0..skills.len())
            .filter(|&i| best[i].is_some())
            .flat_map(|i| (0..opts.bootstrap).map(move |b| (i, b)))
            .collect()
    } else {
        Vec::new()
    };
    let boots = parallel_map(boot_jobs.len(), n_threads, |j| {
        let (i, b) = boot_jobs[j];
        let skill = &skills[i];
        let base = weights.map(|w| w[i].as_slice());
        let mut rng = StdRng::seed_from_u64(mix(
            mix(opts.seed ^ 0xb007, stable_hash(&skill.skill_id)),
            b as u64,
        ));
        let pool: Vec<usize> = (0..skill.sequences())
            .filter(|&s| base.is_none_or(|w| w[s] > 0))
            .collect();
        let mut w = vec![0u32; skill.sequences()];
        for _ in 0..pool.len() {
            w[pool[rng.random_range(0..pool.len())]] += 1;
        }
        let start = best[i].map_or(Params::default(), |b| b.0);
        match &tries[i] {
            Some((trie, _)) => {
                em(
                    start,
                    trie,
                    &trie.weights(Some(&w)),
                    opts,
                    opts.max_iter.min(30),
                )
                .0
            }
            None => start,
        }
    });
    let mut boot_params: Vec<Vec<Params>> = vec![Vec::new(); skills.len()];
    for (&(i, _), p) in boot_jobs.iter().zip(boots) {
        boot_params[i].push(p);
    }

    skills
        .iter()
        .enumerate()
        .map(|(i, skill)| {
            let w = weights.map(|w| w[i].as_slice());
            let (students, rows) = students_in(skill, w);
            match best[i] {
                Some((params, ll, iterations)) => {
                    let boot = &boot_params[i];
                    let spread = if boot.is_empty() {
                        Spread::unfitted()
                    } else {
                        Spread::from_bootstrap(&params, boot, skill, w)
                    };
                    SkillFit {
                        skill_id: skill.skill_id.clone(),
                        model: SkillModel { params, spread },
                        log_likelihood: ll,
                        students,
                        rows,
                        fitted: true,
                        restarts,
                        iterations,
                        bootstrap_sd: param_sd(boot),
                    }
                }
                None => {
                    let model = SkillModel::default();
                    let mut scratch = vec![0.0; skill.max_len()];
                    let ll = e_step(&model.params, skill, w, 0..skill.sequences(), &mut scratch).ll;
                    SkillFit {
                        skill_id: skill.skill_id.clone(),
                        model,
                        log_likelihood: ll,
                        students,
                        rows,
                        fitted: false,
                        restarts: 0,
                        iterations: 0,
                        bootstrap_sd: None,
                    }
                }
            }
        })
        .collect()
}

fn param_sd(ps: &[Params]) -> Option<Params> {
    if ps.len() < 2 {
        return None;
    }
    let sd = |f: fn(&Params) -> f64| {
        let n = ps.len() as f64;
        let mean = ps.iter().map(f).sum::<f64>() / n;
        (ps.iter().map(|p| (f(p) - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    };
    Some(Params {
        prior: sd(|p| p.prior),
        learn: sd(|p| p.learn),
        guess: sd(|p| p.guess),
        slip: sd(|p| p.slip),
        forget: sd(|p| p.forget),
    })
}

/// Checks kept in one place for tests: the fitted parameters respect the bounds.
pub fn within_bounds(p: &Params) -> bool {
    p.is_valid() && p.guess <= bounds::GUESS_MAX && p.slip <= bounds::SLIP_MAX
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Simulates BKT answers directly (the full simulator lives in `crate::sim`).
    pub(crate) fn simulate(p: &Params, students: usize, len: usize, seed: u64) -> SkillData {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut d = SkillData::new("s");
        for st in 0..students {
            let mut known = rng.random_bool(p.prior);
            let mut answers = Vec::with_capacity(len);
            for _ in 0..len {
                let correct = if known {
                    !rng.random_bool(p.slip)
                } else {
                    rng.random_bool(p.guess)
                };
                answers.push(correct);
                known = if known {
                    !rng.random_bool(p.forget)
                } else {
                    rng.random_bool(p.learn)
                };
            }
            d.push_sequence(st as u32, answers);
        }
        d
    }

    fn naive_ll(p: &Params, d: &SkillData) -> f64 {
        let mut ll = 0.0;
        for s in 0..d.sequences() {
            let mut k = p.prior;
            for &o in d.sequence(s) {
                let pc = p.predict(k);
                ll += if o == 1 { pc.ln() } else { (1.0 - pc).ln() };
                k = p.update(k, o == 1);
            }
        }
        ll
    }

    #[test]
    fn e_step_likelihood_matches_the_online_update() {
        let p = Params {
            prior: 0.4,
            learn: 0.15,
            guess: 0.25,
            slip: 0.08,
            forget: 0.02,
        };
        let d = simulate(&p, 50, 30, 7);
        assert!((log_likelihood(&p, &d) - naive_ll(&p, &d)).abs() < 1e-8);
    }

    #[test]
    fn em_never_decreases_the_likelihood() {
        let truth = Params {
            prior: 0.3,
            learn: 0.2,
            guess: 0.2,
            slip: 0.1,
            forget: 0.0,
        };
        let d = simulate(&truth, 200, 15, 3);
        let opts = FitOptions::default();
        let mut p = Params::default();
        let mut scratch = vec![0.0; d.max_len()];
        let mut prev = f64::NEG_INFINITY;
        for _ in 0..30 {
            let c = e_step(&p, &d, None, 0..d.sequences(), &mut scratch);
            assert!(c.ll >= prev - 1e-7, "{} < {}", c.ll, prev);
            prev = c.ll;
            p = c.m_step(opts.fit_forget, &p);
        }
    }

    #[test]
    fn weights_equal_duplicated_sequences() {
        let p = Params::default();
        let d = simulate(&p, 20, 10, 5);
        let w: Vec<u32> = (0..20).map(|i| (i % 3) as u32).collect();
        let mut dup = SkillData::new("s");
        for (s, &copies) in w.iter().enumerate() {
            for _ in 0..copies {
                dup.push_sequence(s as u32, d.sequence(s).iter().map(|&o| o == 1));
            }
        }
        let mut scratch = vec![0.0; 10];
        let a = e_step(&p, &d, Some(&w), 0..20, &mut scratch);
        let b = e_step(&p, &dup, None, 0..dup.sequences(), &mut scratch);
        assert!((a.ll - b.ll).abs() < 1e-8);
        assert!((a.learned - b.learned).abs() < 1e-9);
        assert!((a.known_correct - b.known_correct).abs() < 1e-9);
    }

    #[test]
    fn fit_recovers_parameters_and_is_deterministic() {
        let truth = Params {
            prior: 0.35,
            learn: 0.15,
            guess: 0.2,
            slip: 0.1,
            forget: 0.0,
        };
        let data = Dataset {
            students: Vec::new(),
            skills: vec![simulate(&truth, 800, 20, 11)],
        };
        let opts = FitOptions {
            restarts: 3,
            bootstrap: 2,
            ..FitOptions::default()
        };
        let a = fit_dataset(&data, None, &opts);
        let b = fit_dataset(&data, None, &FitOptions { threads: 1, ..opts });
        assert_eq!(a, b, "same seed, different thread count, same result");
        let p = a[0].model.params;
        assert!(within_bounds(&p));
        for (got, want) in [
            (p.prior, truth.prior),
            (p.learn, truth.learn),
            (p.guess, truth.guess),
            (p.slip, truth.slip),
        ] {
            assert!((got - want).abs() < 0.05, "{p:?} vs {truth:?}");
        }
        assert!(a[0].log_likelihood >= log_likelihood(&truth, &data.skills[0]) - 1.0);
    }

    #[test]
    fn tiny_skills_keep_the_defaults() {
        let d = simulate(&Params::default(), 5, 4, 1);
        let fits = fit_dataset(
            &Dataset {
                students: Vec::new(),
                skills: vec![d],
            },
            None,
            &FitOptions::default(),
        );
        assert!(!fits[0].fitted);
        assert_eq!(fits[0].model, SkillModel::default());
    }
}
