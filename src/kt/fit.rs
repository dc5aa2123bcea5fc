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
use super::trie::{Scratch, Trie, TrieCounts};

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
    /// A skill with fewer answers than this, or fewer students than `min_students`, is
    /// not fitted on its own: see `small_skills`.
    #[serde(default = "default_min_rows")]
    pub min_rows: usize,
    #[serde(default = "default_min_students")]
    pub min_students: usize,
    /// What a skill under the minimum gets.
    #[serde(default)]
    pub small_skills: SmallSkills,
    /// Pseudo-answers the prior of a shrunk fit is worth, the same for every parameter;
    /// None = empirical Bayes, each parameter's from the spread of the fitted skills
    /// ([`Shrinkage::from_fitted`]).
    #[serde(default)]
    pub prior_weight: Option<f64>,
}

fn default_min_rows() -> usize {
    MIN_ROWS_TO_FIT
}

fn default_min_students() -> usize {
    MIN_STUDENTS_TO_FIT
}

/// How a skill with too little data to be fitted on its own gets its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmallSkills {
    /// Empirical Bayes: the EM fit of the skill's own data with a Beta prior on each
    /// parameter fitted to the skills fitted on their own ([`Shrinkage`]). With no data it
    /// is their mean; the more data, the less the prior weighs.
    #[default]
    Shrink,
    /// The literature defaults ([`Params::default`]).
    Default,
}

/// The Beta prior of a shrunk fit, one per parameter, in pseudo-answers: `centre` is its
/// mean and `weight` how many answers it is worth. Each M-step ratio of a shrunk fit gets
/// weight × centre added to its numerator and weight to its denominator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shrinkage {
    pub centre: Params,
    pub weight: Params,
}

/// Bounds on an empirical-Bayes prior's weight, in pseudo-answers: at least a couple (a
/// prior worth less barely steadies a skill of a few answers), at most a hundred (skills
/// alike in one parameter still differ more than a hundred answers could tell).
pub const PRIOR_WEIGHT_MIN: f64 = 2.0;
pub const PRIOR_WEIGHT_MAX: f64 = 100.0;

impl Shrinkage {
    /// The prior in a few words, for a skill's `reason`.
    fn describe(&self) -> String {
        let (c, w) = (&self.centre, &self.weight);
        format!(
            " (centre and worth in answers: prior {:.2} × {:.0}, learn {:.2} × {:.0}, \
             guess {:.2} × {:.0}, slip {:.2} × {:.0})",
            c.prior, w.prior, c.learn, w.learn, c.guess, w.guess, c.slip, w.slip
        )
    }

    /// Empirical Bayes from the skills fitted on their own: per parameter, the Beta
    /// distribution with their mean μ and variance v (method of moments), whose weight
    /// is μ(1 − μ)/v − 1 pseudo-answers, within [`PRIOR_WEIGHT_MIN`, `PRIOR_WEIGHT_MAX`]:
    /// where the skills differ a lot the prior is weak. `weight` overrides it. None
    /// without fitted skills.
    pub fn from_fitted(fitted: &[Params], weight: Option<f64>) -> Option<Shrinkage> {
        if fitted.is_empty() {
            return None;
        }
        let n = fitted.len() as f64;
        let per = |f: fn(&Params) -> f64| {
            let mean = fitted.iter().map(f).sum::<f64>() / n;
            let var = if n > 1.0 {
                fitted.iter().map(|p| (f(p) - mean).powi(2)).sum::<f64>() / (n - 1.0)
            } else {
                0.0
            };
            let moments = if var > 0.0 {
                mean * (1.0 - mean) / var - 1.0
            } else {
                PRIOR_WEIGHT_MAX
            };
            let w = match weight {
                Some(w) => w.max(0.0),
                None => moments.clamp(PRIOR_WEIGHT_MIN, PRIOR_WEIGHT_MAX),
            };
            (mean, w)
        };
        let [p, l, g, s, f] = [
            per(|p| p.prior),
            per(|p| p.learn),
            per(|p| p.guess),
            per(|p| p.slip),
            per(|p| p.forget),
        ];
        Some(Shrinkage {
            centre: Params {
                prior: p.0,
                learn: l.0,
                guess: g.0,
                slip: s.0,
                forget: f.0,
            }
            .clamped(),
            weight: Params {
                prior: p.1,
                learn: l.1,
                guess: g.1,
                slip: s.1,
                forget: f.1,
            },
        })
    }
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
            min_rows: MIN_ROWS_TO_FIT,
            min_students: MIN_STUDENTS_TO_FIT,
            small_skills: SmallSkills::Shrink,
            prior_weight: None,
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
    /// True when EM fitted the skill on its own data (`method` = [`Method::Em`]).
    pub fitted: bool,
    /// How the parameters were obtained.
    pub method: Method,
    /// Why the skill was not fitted on its own data, in a sentence (None when it was).
    pub reason: Option<String>,
    pub restarts: usize,
    /// E-steps of the winning restart.
    pub iterations: usize,
    /// Standard deviation of each parameter over the bootstrap resamples.
    pub bootstrap_sd: Option<Params>,
}

/// How a skill's parameters were obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// EM on the skill's own data, best of the restarts.
    Em,
    /// Too little data: EM shrunk toward the mean of the fitted skills ([`SmallSkills::Shrink`]).
    Shrunk,
    /// The literature defaults: too little data with [`SmallSkills::Default`], or every
    /// restart failed.
    Default,
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
    fn is_finite(&self) -> bool {
        [
            self.ll,
            self.first_known,
            self.known,
            self.known_correct,
            self.trans_known,
            self.learned,
            self.forgot,
        ]
        .iter()
        .all(|x| x.is_finite())
    }

    /// The M-step. Each parameter's expected complete-data log-likelihood is a concave
    /// Bernoulli term, so clamping its unconstrained maximiser into the bounds gives the
    /// constrained maximiser; guess and slip, coupled by `guess + slip ≤
    /// GUESS_PLUS_SLIP_MAX`, are maximised jointly on that line when the constraint binds.
    /// EM therefore stays monotone inside the bounds. `prior` adds a Beta prior to each
    /// parameter (a MAP step: EM then maximises the posterior).
    fn m_step(&self, fit_forget: bool, old: &Params, prior: Option<&Shrinkage>) -> Params {
        let none = Shrinkage {
            centre: *old,
            weight: Params {
                prior: 0.0,
                learn: 0.0,
                guess: 0.0,
                slip: 0.0,
                forget: 0.0,
            },
        };
        let Shrinkage { centre: mu, weight } = prior.unwrap_or(&none);
        // Success and failure weights of each Bernoulli term, prior included.
        let term = |yes: f64, total: f64, centre: f64, m: f64| {
            (
                yes.max(0.0) + m * centre,
                (total - yes).max(0.0) + m * (1.0 - centre),
            )
        };
        let ratio = |(a, b): (f64, f64), fallback: f64| {
            if a + b > 1e-12 {
                a / (a + b)
            } else {
                fallback
            }
        };
        let unknown = self.rows - self.known;
        let trans_unknown = self.trans - self.trans_known;
        let g_term = term(
            self.correct - self.known_correct,
            unknown,
            mu.guess,
            weight.guess,
        );
        let s_term = term(
            self.known - self.known_correct,
            self.known,
            mu.slip,
            weight.slip,
        );
        let (guess, slip) = guess_slip(
            g_term,
            s_term,
            ratio(g_term, old.guess),
            ratio(s_term, old.slip),
        );
        Params {
            prior: ratio(
                term(self.first_known, self.sequences, mu.prior, weight.prior),
                old.prior,
            ),
            learn: ratio(
                term(self.learned, trans_unknown, mu.learn, weight.learn),
                old.learn,
            ),
            guess,
            slip,
            forget: if fit_forget {
                ratio(
                    term(self.forgot, self.trans_known, mu.forget, weight.forget),
                    old.forget,
                )
            } else {
                0.0
            },
        }
        .clamped()
    }
}

/// Maximises a ln g + b ln(1 − g) + c ln s + d ln(1 − s) (weights `g_term` = (a, b),
/// `s_term` = (c, d)) under the bounds and `g + s ≤ GUESS_PLUS_SLIP_MAX`, given the
/// unconstrained maximisers `g`, `s`.
fn guess_slip(g_term: (f64, f64), s_term: (f64, f64), g: f64, s: f64) -> (f64, f64) {
    use bounds::{GUESS_MAX, GUESS_PLUS_SLIP_MAX as M, PROB_MIN, SLIP_MAX};
    let (g, s) = (g.clamp(PROB_MIN, GUESS_MAX), s.clamp(PROB_MIN, SLIP_MAX));
    if g + s <= M {
        return (g, s);
    }
    // On the line s = M − g the objective is concave in g: bisect on its derivative.
    let ((a, b), (c, d)) = (g_term, s_term);
    let slope = |g: f64| a / g - b / (1.0 - g) - c / (M - g) + d / (1.0 - M + g);
    let (mut lo, mut hi) = ((M - SLIP_MAX).max(PROB_MIN), (M - PROB_MIN).min(GUESS_MAX));
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if slope(mid) > 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let g = 0.5 * (lo + hi);
    (g, M - g)
}

/// One E-step over the sequences `range` of `data`, by the textbook forward-backward
/// recursions in log space, normalised at each answer (α as ln P(state | answers so far),
/// β divided by the same per-answer likelihoods), so that no quantity grows with the
/// sequence's length and rounding stays near machine precision: slow (logarithms and
/// exponentials per answer, an allocation per sequence) and exact for any sequence, the
/// reference the fast E-step ([`super::trie`]) is tested against.
#[cfg(test)]
fn e_step(
    p: &Params,
    data: &SkillData,
    weights: Option<&[u32]>,
    range: std::ops::Range<usize>,
) -> Counts {
    use super::params::log_add_exp;
    let ln = f64::ln;
    let mut c = Counts::default();
    // ln P(answer | state), index 0 = not known, 1 = known; then by the answer.
    let emit = [
        [ln(1.0 - p.guess), ln(p.guess)],
        [ln(p.slip), ln(1.0 - p.slip)],
    ];
    // ln P(state_t+1 = j | state_t = i), as trans[i][j].
    let trans = [
        [ln(1.0 - p.learn), ln(p.learn)],
        [ln(p.forget), ln(1.0 - p.forget)],
    ];
    for s in range {
        let w = match weights {
            Some(w) if w[s] == 0 => continue,
            Some(w) => w[s] as f64,
            None => 1.0,
        };
        let seq = data.sequence(s);
        let n = seq.len();
        // alpha[t][j] = ln P(state_t = j | answers 0..=t); norm[t] = ln P(answer t | answers
        // before it); beta[t][i] = ln P(answers after t | state_t = i) − Σ norm[t+1..].
        let mut alpha = vec![[0.0f64; 2]; n];
        let mut norm = vec![0.0f64; n];
        let mut beta = vec![[0.0f64; 2]; n];
        for t in 0..n {
            let before = if t == 0 {
                [ln(1.0 - p.prior), ln(p.prior)]
            } else {
                let a = alpha[t - 1];
                [0, 1].map(|j| log_add_exp(a[0] + trans[0][j], a[1] + trans[1][j]))
            };
            let x = [0, 1].map(|j| before[j] + emit[j][seq[t] as usize]);
            norm[t] = log_add_exp(x[0], x[1]);
            alpha[t] = x.map(|v| v - norm[t]);
        }
        for t in (0..n - 1).rev() {
            for i in 0..2 {
                let via = |j: usize| trans[i][j] + emit[j][seq[t + 1] as usize] + beta[t + 1][j];
                beta[t][i] = log_add_exp(via(0), via(1)) - norm[t + 1];
            }
        }
        let ll: f64 = norm.iter().sum();
        let known = |t: usize| (alpha[t][1] + beta[t][1]).exp();
        let xi = |t: usize, i: usize, j: usize| {
            (alpha[t][i] + trans[i][j] + emit[j][seq[t + 1] as usize] + beta[t + 1][j]
                - norm[t + 1])
                .exp()
        };
        c.ll += w * ll;
        c.sequences += w;
        c.first_known += w * known(0);
        c.rows += w * n as f64;
        for (t, &o) in seq.iter().enumerate() {
            let k = known(t);
            c.known += w * k;
            if o == 1 {
                c.correct += w;
                c.known_correct += w * k;
            }
            if t + 1 < n {
                c.trans_known += w * k;
                c.learned += w * xi(t, 0, 1);
                c.forgot += w * xi(t, 1, 0);
                c.trans += w;
            }
        }
    }
    c
}

/// The reference E-step's counts, what the fast E-step is tested against.
#[cfg(test)]
pub(crate) fn e_step_counts(p: &Params, data: &SkillData, weights: Option<&[u32]>) -> TrieCounts {
    let c = e_step(p, data, weights, 0..data.sequences());
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
    let trie = Trie::build(data, None);
    trie.e_step(p, &mut Scratch::new(&trie)).ll
}

/// Log-likelihood of the sequences of `data` weighted by `weights` (0 = left out).
pub fn log_likelihood_weighted(p: &Params, data: &SkillData, weights: &[u32]) -> f64 {
    let trie = Trie::build(data, Some(weights));
    trie.e_step(p, &mut Scratch::new(&trie)).ll
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
/// and the number of E-steps, or `None` when a count or the likelihood is not finite (the
/// restart is then discarded). `prior` makes it a MAP fit (see [`Counts::m_step`]).
fn em(
    start: Params,
    trie: &Trie,
    opts: &FitOptions,
    max_iter: usize,
    prior: Option<&Shrinkage>,
) -> Option<(Params, f64, usize)> {
    let mut scratch = Scratch::new(trie);
    let mut p = start;
    let mut prev = f64::NEG_INFINITY;
    let mut iter = 0;
    loop {
        let c = Counts::from(trie.e_step(&p, &mut scratch));
        if !c.is_finite() || !p.is_valid() {
            return None;
        }
        iter += 1;
        if iter >= max_iter.max(1) || (c.ll - prev).abs() < opts.tol {
            return Some((p, c.ll, iter));
        }
        prev = c.ll;
        p = c.m_step(opts.fit_forget, &p, prior);
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
///
/// Skills with at least `opts.min_rows` answers and `opts.min_students` students are
/// fitted by EM, best of `opts.restarts` random starts; a restart whose likelihood is not
/// finite is discarded. The others get what `opts.small_skills` says. Every result says
/// how it was obtained ([`SkillFit::method`], [`SkillFit::reason`]).
pub fn fit_dataset(
    data: &Dataset,
    weights: Option<&[Vec<u32>]>,
    opts: &FitOptions,
) -> Vec<SkillFit> {
    let restarts = opts.restarts.max(1);
    let skills = &data.skills;
    let weights_of = |i: usize| weights.map(|w| w[i].as_slice());
    let sizes: Vec<(usize, usize)> = (0..skills.len())
        .map(|i| students_in(&skills[i], weights_of(i)))
        .collect();
    let big: Vec<bool> = sizes
        .iter()
        .map(|&(st, rows)| st >= opts.min_students && rows >= opts.min_rows && rows > 0)
        .collect();
    let n_threads = threads(opts);
    // Prefix trees of the weighted sequences, built once per skill and shared by its
    // restarts.
    let tries: Vec<Option<Trie>> = parallel_map(skills.len(), n_threads, |i| {
        (sizes[i].1 > 0).then(|| Trie::build(&skills[i], weights_of(i)))
    });
    // One job per (skill, restart): with few skills both cores still have work. The
    // largest trees first, so that no thread is left with a long job at the end; the sort
    // is stable, so each skill's restarts stay in order.
    let mut jobs: Vec<(usize, usize)> = (0..skills.len())
        .filter(|&i| big[i])
        .flat_map(|i| (0..restarts).map(move |r| (i, r)))
        .collect();
    jobs.sort_by_key(|&(i, _)| std::cmp::Reverse(tries[i].as_ref().map_or(0, Trie::len)));
    let runs = parallel_map(jobs.len(), n_threads, |j| {
        let (i, r) = jobs[j];
        let skill = &skills[i];
        let mut rng =
            StdRng::seed_from_u64(mix(mix(opts.seed, stable_hash(&skill.skill_id)), r as u64));
        let start = random_start(&mut rng, opts.fit_forget);
        em(start, tries[i].as_ref()?, opts, opts.max_iter, None)
    });
    let mut best: Vec<Option<(Params, f64, usize)>> = vec![None; skills.len()];
    for (&(i, _), run) in jobs.iter().zip(runs) {
        // Strictly greater: ties keep the lower restart, so the result is deterministic.
        if let Some(run) = run {
            if best[i].is_none_or(|b| run.1 > b.1) {
                best[i] = Some(run);
            }
        }
    }

    // Small skills: a MAP fit with a prior drawn from the skills fitted above.
    let fitted: Vec<Params> = best.iter().flatten().map(|b| b.0).collect();
    let shrinkage = Shrinkage::from_fitted(&fitted, opts.prior_weight);
    let small: Vec<usize> = (0..skills.len())
        .filter(|&i| !big[i] && opts.small_skills == SmallSkills::Shrink)
        .collect();
    let shrunk_runs = parallel_map(small.len(), n_threads, |j| {
        let i = small[j];
        let prior = shrinkage.as_ref()?;
        em(
            prior.centre,
            tries[i].as_ref()?,
            opts,
            opts.max_iter,
            Some(prior),
        )
    });
    let mut shrunk: Vec<Option<(Params, f64, usize)>> = vec![None; skills.len()];
    for (&i, run) in small.iter().zip(shrunk_runs) {
        shrunk[i] = run;
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
        let base = weights_of(i);
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
        let trie = Trie::build(skill, Some(&w));
        em(start, &trie, opts, opts.max_iter.min(30), None).map(|r| r.0)
    });
    let mut boot_params: Vec<Vec<Params>> = vec![Vec::new(); skills.len()];
    for (&(i, _), p) in boot_jobs.iter().zip(boots) {
        boot_params[i].extend(p);
    }

    skills
        .iter()
        .enumerate()
        .map(|(i, skill)| {
            let w = weights_of(i);
            let (students, rows) = sizes[i];
            let base = SkillFit {
                skill_id: skill.skill_id.clone(),
                model: SkillModel::default(),
                log_likelihood: 0.0,
                students,
                rows,
                fitted: false,
                method: Method::Default,
                reason: None,
                restarts: 0,
                iterations: 0,
                bootstrap_sd: None,
            };
            let too_small = format!(
                "{rows} answers from {students} students, under the minimum of {} answers \
                 and {} students",
                opts.min_rows, opts.min_students
            );
            if let Some((params, ll, iterations)) = best[i] {
                let boot = &boot_params[i];
                let spread = if boot.is_empty() {
                    Spread::unfitted()
                } else {
                    Spread::from_bootstrap(&params, boot, skill, w)
                };
                return SkillFit {
                    model: SkillModel { params, spread },
                    log_likelihood: ll,
                    fitted: true,
                    method: Method::Em,
                    restarts,
                    iterations,
                    bootstrap_sd: param_sd(boot),
                    ..base
                };
            }
            if let Some((params, ll, iterations)) = shrunk[i] {
                return SkillFit {
                    model: SkillModel {
                        params,
                        spread: Spread::unfitted(),
                    },
                    log_likelihood: ll,
                    method: Method::Shrunk,
                    reason: Some(format!(
                        "{too_small}: fitted with a prior from the {} skills fitted on their \
                         own{}",
                        fitted.len(),
                        shrinkage.map_or_else(String::new, |s| s.describe())
                    )),
                    restarts: 1,
                    iterations,
                    ..base
                };
            }
            let defaults = |reason: String| (SkillModel::default(), Method::Default, reason);
            let (model, method, reason) = if big[i] {
                defaults("every restart failed (a non-finite likelihood): kept the defaults".into())
            } else if opts.small_skills == SmallSkills::Default {
                defaults(format!("{too_small}: kept the defaults"))
            } else {
                match shrinkage {
                    Some(s) if rows == 0 => (
                        SkillModel {
                            params: s.centre,
                            spread: Spread::unfitted(),
                        },
                        Method::Shrunk,
                        format!(
                            "no answers: the mean of the {} skills fitted on their own",
                            fitted.len()
                        ),
                    ),
                    Some(_) => defaults(format!(
                        "{too_small}; the shrunk fit failed: kept the defaults"
                    )),
                    None => defaults(format!(
                        "{too_small}, and no skill was fitted on its own to borrow from: \
                         kept the defaults"
                    )),
                }
            };
            let log_likelihood = tries[i].as_ref().map_or(0.0, |trie| {
                trie.e_step(&model.params, &mut Scratch::new(trie)).ll
            });
            SkillFit {
                model,
                log_likelihood,
                method,
                reason: Some(reason),
                ..base
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
        let mut prev = f64::NEG_INFINITY;
        for _ in 0..30 {
            let c = e_step(&p, &d, None, 0..d.sequences());
            assert!(c.ll >= prev - 1e-7, "{} < {}", c.ll, prev);
            prev = c.ll;
            p = c.m_step(opts.fit_forget, &p, None);
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
        let a = e_step(&p, &d, Some(&w), 0..20);
        let b = e_step(&p, &dup, None, 0..dup.sequences());
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
    fn the_prior_of_small_skills_is_as_strong_as_the_fitted_skills_are_alike() {
        let skill = |prior: f64, guess: f64| Params {
            prior,
            learn: 0.2,
            guess,
            slip: 0.1,
            forget: 0.0,
        };
        // guess 0.1 and 0.3: mean 0.2, variance 0.02, so 0.2 × 0.8 / 0.02 − 1 = 7 answers;
        // prior 0.5 and 0.52: mean 0.51, variance 0.0002, 1,248 answers, capped.
        let s =
            Shrinkage::from_fitted(&[skill(0.5, 0.1), skill(0.52, 0.3)], None).expect("a prior");
        assert!((s.centre.guess - 0.2).abs() < 1e-12 && (s.weight.guess - 7.0).abs() < 1e-9);
        assert!((s.centre.prior - 0.51).abs() < 1e-12);
        assert_eq!(s.weight.prior, PRIOR_WEIGHT_MAX);
        // Skills identical in a parameter: the strongest prior; very different: the weakest.
        assert_eq!(s.weight.learn, PRIOR_WEIGHT_MAX);
        let apart = Shrinkage::from_fitted(&[skill(0.01, 0.2), skill(0.99, 0.2)], None);
        assert_eq!(apart.map(|s| s.weight.prior), Some(PRIOR_WEIGHT_MIN));
        // A weight given overrides the moments; no fitted skill, no prior.
        let fixed = Shrinkage::from_fitted(&[skill(0.5, 0.1)], Some(50.0)).expect("a prior");
        assert_eq!(fixed.weight.guess, 50.0);
        assert_eq!(Shrinkage::from_fitted(&[], None), None);
    }

    #[test]
    fn tiny_skills_keep_the_defaults_when_asked() {
        let d = simulate(&Params::default(), 5, 4, 1);
        let fits = fit_dataset(
            &Dataset {
                students: Vec::new(),
                skills: vec![d],
            },
            None,
            &FitOptions {
                small_skills: SmallSkills::Default,
                ..FitOptions::default()
            },
        );
        assert!(!fits[0].fitted);
        assert_eq!(fits[0].method, Method::Default);
        assert!(fits[0]
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("20 answers from 5 students")));
        assert_eq!(fits[0].model, SkillModel::default());
    }

    #[test]
    fn small_skills_are_shrunk_toward_the_fitted_ones() {
        let truth = Params {
            prior: 0.6,
            learn: 0.3,
            guess: 0.35,
            slip: 0.05,
            forget: 0.0,
        };
        let mut big = simulate(&truth, 400, 12, 2);
        big.skill_id = "big".into();
        let mut small = simulate(&truth, 4, 5, 3);
        small.skill_id = "small".into();
        let data = Dataset {
            students: Vec::new(),
            skills: vec![big, small],
        };
        let opts = FitOptions {
            restarts: 2,
            bootstrap: 0,
            ..FitOptions::default()
        };
        let fits = fit_dataset(&data, None, &opts);
        assert_eq!(fits[0].method, Method::Em);
        assert_eq!(fits[1].method, Method::Shrunk);
        assert!(!fits[1].fitted && fits[1].reason.is_some());
        let (p, centre) = (fits[1].model.params, fits[0].model.params);
        // Closer to the fitted skill than the defaults are, on every parameter that differs.
        let d = Params::default();
        for (got, c, def) in [
            (p.prior, centre.prior, d.prior),
            (p.learn, centre.learn, d.learn),
            (p.guess, centre.guess, d.guess),
        ] {
            assert!((got - c).abs() < (def - c).abs(), "{p:?} vs {centre:?}");
        }
        assert!(fits[1].log_likelihood.is_finite() && fits[1].log_likelihood < 0.0);
        // The minimum is an option: lowered, the small skill is fitted on its own.
        let fits = fit_dataset(
            &data,
            None,
            &FitOptions {
                min_rows: 10,
                min_students: 2,
                ..opts
            },
        );
        assert_eq!(fits[1].method, Method::Em);
    }
}
