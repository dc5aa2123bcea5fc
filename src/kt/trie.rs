//! The E-step on a prefix tree of a skill's answer sequences.
//!
//! Students' sequences share prefixes (every sequence starts with one of two answers, four
//! pairs, ...): on ASSISTments 2015 the trees have 126,217 nodes for 683,801 answers. The
//! forward pass runs once per node instead of once per answer. The backward pass
//! aggregates, per node, R(k) = Σ over the sequences through it of weight ×
//! P(rest of sequence | state k) / P(sequence), which obeys a linear recurrence from
//! children to parent, so the expected counts of all sequences are gathered node by node
//! too. Exact: same counts as the per-sequence E-step, up to rounding (tested).
//!
//! Nodes are stored breadth first (by depth, then by parent), so a node's parent lies in
//! the layer before: consecutive nodes never wait for each other's result, as the answers
//! of one sequence would (each step's arithmetic on the one before).

use super::fit::SkillData;
use super::params::{log_add_exp, Params};

const NONE: u32 = u32::MAX;

/// The linear pass keeps P(prefix, state) unnormalised, with no division per node. Where
/// that could underflow (long sequences), it multiplies both states by `RESCALE` (2^64,
/// exact) when their sum falls below `RESCALE_BELOW` (2^-64); `Scratch::scales` counts the
/// rescalings on the path to a node.
const RESCALE: f64 = 18_446_744_073_709_551_616.0;
const RESCALE_BELOW: f64 = 1.0 / RESCALE;
const LN_RESCALE: f64 = 64.0 * std::f64::consts::LN_2;

/// Below this, the smaller of a node's two states' shares of its probability is too close
/// to underflow for the linear pass: its partner in the backward pass (≈ 1 / it) would
/// overflow. The E-step then runs in log space instead.
const TINY: f64 = 1e-250;

/// The pass without rescaling holds while every node's probabilities stay above this:
/// all numbers stay normal, and a backward sum, at most (weight through the node) / (its
/// probability), stays finite for any weight under 10^27.
const FLOOR: f64 = 1e-280;

/// The prefix tree of the sequences of one skill that have a weight (0 = left out, k =
/// counted k times), with the weights. Nodes `0..roots` hold a first answer.
#[derive(Debug, Clone)]
pub(crate) struct Trie {
    parent: Vec<u32>,
    obs: Vec<u8>,
    roots: usize,
    /// Weight of the sequences ending at each node ...
    end: Vec<f64>,
    /// ... and the nodes where one ends, in node order.
    ends: Vec<u32>,
    sequences: f64,
    rows: f64,
    correct: f64,
    trans: f64,
}

/// Sufficient statistics of one E-step (see `fit::Counts` for their meaning).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TrieCounts {
    pub ll: f64,
    pub sequences: f64,
    pub first_known: f64,
    pub rows: f64,
    pub correct: f64,
    pub known: f64,
    pub known_correct: f64,
    pub trans_known: f64,
    pub learned: f64,
    pub forgot: f64,
    pub trans: f64,
}

/// Per-job buffers, sized to the tree. Index 0 = not known, 1 = known.
pub(crate) struct Scratch {
    /// Forward: P(prefix, state) scaled (linear pass), or ln of the filtered probabilities
    /// (log pass).
    alpha: Vec<[f64; 2]>,
    /// Backward sums R, scaled (linear pass) or as logarithms (log pass).
    r: Vec<[f64; 2]>,
    /// Linear pass: rescalings on the path to each node.
    scales: Vec<u32>,
    /// Log pass: ln P(answer | prefix).
    norm: Vec<f64>,
}

impl Scratch {
    pub fn new(trie: &Trie) -> Scratch {
        let n = trie.len();
        Scratch {
            alpha: vec![[0.0; 2]; n],
            r: vec![[0.0; 2]; n],
            scales: vec![0; n],
            norm: Vec::new(),
        }
    }
}

#[cold]
#[inline(never)]
fn rescaled(x: [f64; 2], scale: u32) -> ([f64; 2], u32) {
    ([x[0] * RESCALE, x[1] * RESCALE], scale + 1)
}

#[cold]
#[inline(never)]
fn scaled_up(r: [f64; 2]) -> [f64; 2] {
    [r[0] * RESCALE, r[1] * RESCALE]
}

impl Trie {
    /// The tree of the sequences of `data` whose weight in `weights` (None = all 1) is
    /// not 0.
    pub fn build(data: &SkillData, weights: Option<&[u32]>) -> Trie {
        // First in order of creation, with each node's children by answer ...
        let mut parent = Vec::new();
        let mut obs = Vec::new();
        let mut end = Vec::new();
        let mut children: Vec<[u32; 2]> = Vec::new();
        let mut roots = [NONE; 2];
        let mut sequences = 0.0;
        for s in 0..data.sequences() {
            let w = weights.map_or(1, |w| w[s]);
            if w == 0 {
                continue;
            }
            let mut at = NONE;
            for &o in data.sequence(s) {
                let slot = if at == NONE {
                    &mut roots[o as usize]
                } else {
                    &mut children[at as usize][o as usize]
                };
                at = if *slot != NONE {
                    *slot
                } else {
                    let id = parent.len() as u32;
                    *slot = id;
                    parent.push(at);
                    obs.push(o);
                    end.push(0.0);
                    children.push([NONE; 2]);
                    id
                };
            }
            if at != NONE {
                end[at as usize] += f64::from(w);
                sequences += f64::from(w);
            }
        }
        // ... then renumbered breadth first.
        let mut order: Vec<u32> = roots.into_iter().filter(|&r| r != NONE).collect();
        let n_roots = order.len();
        let mut i = 0;
        while i < order.len() {
            let u = order[i] as usize;
            order.extend(children[u].into_iter().filter(|&c| c != NONE));
            i += 1;
        }
        let mut new_id = vec![NONE; order.len()];
        for (new, &old) in order.iter().enumerate() {
            new_id[old as usize] = new as u32;
        }
        let parent: Vec<u32> = order
            .iter()
            .map(|&old| match parent[old as usize] {
                NONE => NONE,
                p => new_id[p as usize],
            })
            .collect();
        let obs: Vec<u8> = order.iter().map(|&old| obs[old as usize]).collect();
        let end: Vec<f64> = order.iter().map(|&old| end[old as usize]).collect();
        let ends = (0..end.len() as u32)
            .filter(|&u| end[u as usize] > 0.0)
            .collect();
        // Weight through each node, children before parents.
        let mut through = end.clone();
        let (mut rows, mut correct, mut trans) = (0.0, 0.0, 0.0);
        for u in (0..through.len()).rev() {
            let t = through[u];
            rows += t;
            correct += t * f64::from(obs[u]);
            if u >= n_roots {
                through[parent[u] as usize] += t;
                trans += t;
            }
        }
        Trie {
            parent,
            obs,
            roots: n_roots,
            end,
            ends,
            sequences,
            rows,
            correct,
            trans,
        }
    }

    pub fn len(&self) -> usize {
        self.parent.len()
    }

    /// One E-step. Both states' probabilities are kept per node (never one as 1 − the
    /// other, which rounds away after a run of right answers); when one of them nears
    /// underflow anywhere, the whole E-step is redone in log space, which is exact for any
    /// sequence. The counts are finite whenever the parameters are valid.
    pub fn e_step(&self, p: &Params, s: &mut Scratch) -> TrieCounts {
        self.e_step_linear(p, s)
            .unwrap_or_else(|| self.e_step_log(p, s))
    }

    fn counts(&self) -> TrieCounts {
        TrieCounts {
            sequences: self.sequences,
            rows: self.rows,
            correct: self.correct,
            trans: self.trans,
            ..TrieCounts::default()
        }
    }

    /// The fast E-step on unnormalised probabilities: first without rescaling, which most
    /// trees never need, then, if a probability fell below `FLOOR`, with it; `None` when a
    /// state's share of a node's probability nears underflow even so.
    pub(crate) fn e_step_linear(&self, p: &Params, s: &mut Scratch) -> Option<TrieCounts> {
        self.linear::<false>(p, s)
            .or_else(|| self.linear::<true>(p, s))
    }

    /// The linear pass; with `SCALED`, both states are rescaled (exactly, by `RESCALE`)
    /// whenever their sum falls below `RESCALE_BELOW`. `None` when a probability falls below
    /// `FLOOR` (not `SCALED`), or a state's share below `TINY` (`SCALED`).
    fn linear<const SCALED: bool>(&self, p: &Params, s: &mut Scratch) -> Option<TrieCounts> {
        let e_known = [p.slip, 1.0 - p.slip];
        let e_unknown = [1.0 - p.guess, p.guess];
        let (learn, forget) = (p.learn, p.forget);
        // From a parent's [not known, known] to its child's with answer o, the transition
        // and the answer's probability in one: child = [parent[0] × m[0] + parent[1] × m[1],
        // parent[0] × m[2] + parent[1] × m[3]] with m = step[o]. The backward pass runs the
        // same products the other way.
        let step = [0, 1].map(|o| {
            [
                (1.0 - learn) * e_unknown[o],
                forget * e_unknown[o],
                learn * e_known[o],
                (1.0 - forget) * e_known[o],
            ]
        });
        let n = self.len();
        let (parent, obs) = (&self.parent[..n], &self.obs[..n]);
        let (alpha, r, scales) = (&mut s.alpha[..n], &mut s.r[..n], &mut s.scales[..n]);
        let mut c = self.counts();

        // Forward: alpha[u] = P(prefix ending at u, state) (× RESCALE^scales[u]).
        let mut ok = true;
        for u in 0..self.roots.min(n) {
            let o = obs[u] as usize;
            let x = [(1.0 - p.prior) * e_unknown[o], p.prior * e_known[o]];
            ok &= (x[0] >= FLOOR) & (x[1] >= FLOOR);
            alpha[u] = x;
            scales[u] = 0;
        }
        for u in self.roots..n {
            let par = parent[u] as usize;
            // Always true (parents first); lets the compiler drop the bounds checks below.
            assert!(par < u);
            let m = step[obs[u] as usize];
            let [fu, fk] = alpha[par];
            let mut x = [fu * m[0] + fk * m[1], fu * m[2] + fk * m[3]];
            if SCALED {
                let mut scale = scales[par];
                if x[0] + x[1] < RESCALE_BELOW {
                    (x, scale) = rescaled(x, scale);
                }
                let floor = TINY * (x[0] + x[1]);
                // False for NaN too.
                ok &= (x[0] >= floor) & (x[1] >= floor);
                scales[u] = scale;
            } else {
                ok &= (x[0] >= FLOOR) & (x[1] >= FLOOR);
            }
            alpha[u] = x;
        }
        if !ok {
            return None;
        }

        // Where sequences end: ln P(sequence), and the backward sums' start, weight /
        // P(sequence). The many sequences of weight 1 multiply their probabilities and take
        // one logarithm of the product; the product never goes below 1e-300, so it never
        // becomes subnormal (where it would lose digits).
        r.fill([0.0; 2]);
        let mut product = 1.0f64;
        let mut rescalings = 0.0;
        for &u in &self.ends {
            let u = u as usize;
            let w = self.end[u];
            let total = alpha[u][0] + alpha[u][1];
            if w == 1.0 && total >= 1e-100 {
                product *= total;
                if product < 1e-200 {
                    c.ll += product.ln();
                    product = 1.0;
                }
            } else {
                c.ll += w * total.ln();
            }
            if SCALED {
                rescalings += w * f64::from(scales[u]);
            }
            r[u] = [w / total; 2];
        }
        c.ll += product.ln() - rescalings * LN_RESCALE;
        if !c.ll.is_finite() {
            return None;
        }

        // Backward, children before parents.
        let mut stayed_known = 0.0;
        for u in (self.roots..n).rev() {
            let par = parent[u] as usize;
            assert!(par < u);
            let mut ru = r[u];
            let known = alpha[u][1] * ru[1];
            let o = obs[u];
            c.known += known;
            c.known_correct += known * f64::from(o);
            if SCALED && scales[u] != scales[par] {
                ru = scaled_up(ru);
            }
            let m = step[o as usize];
            let [fu, fk] = alpha[par];
            c.learned += fu * m[2] * ru[1];
            c.forgot += fk * m[1] * ru[0];
            stayed_known += fk * m[3] * ru[1];
            let rp = &mut r[par];
            rp[0] += m[0] * ru[0] + m[2] * ru[1];
            rp[1] += m[1] * ru[0] + m[3] * ru[1];
        }
        c.trans_known = c.forgot + stayed_known;
        for u in 0..self.roots.min(n) {
            let known = alpha[u][1] * r[u][1];
            c.known += known;
            c.known_correct += known * f64::from(obs[u]);
            c.first_known += known;
        }
        Some(c)
    }

    /// The same E-step with every probability and backward quantity as a logarithm:
    /// slower (logarithms and exponentials per node), exact whatever the sequences.
    pub(crate) fn e_step_log(&self, p: &Params, s: &mut Scratch) -> TrieCounts {
        let ln = f64::ln;
        let e_known = [ln(p.slip), ln(1.0 - p.slip)];
        let e_unknown = [ln(1.0 - p.guess), ln(p.guess)];
        let (l_learn, l_stay_u) = (ln(p.learn), ln(1.0 - p.learn));
        let (l_forget, l_stay_k) = (ln(p.forget), ln(1.0 - p.forget));
        let n = self.len();
        let mut c = self.counts();
        s.norm.resize(n, 0.0);
        let (alpha, r, norm) = (&mut s.alpha[..n], &mut s.r[..n], &mut s.norm[..n]);

        // alpha holds ln of the filtered probabilities, norm ln P(answer | prefix), r ln of
        // the backward sums.
        for u in 0..n {
            let (pu, pk) = if u < self.roots {
                (ln(1.0 - p.prior), ln(p.prior))
            } else {
                let [fu, fk] = alpha[self.parent[u] as usize];
                (
                    log_add_exp(fk + l_forget, fu + l_stay_u),
                    log_add_exp(fk + l_stay_k, fu + l_learn),
                )
            };
            let o = self.obs[u] as usize;
            let k = pk + e_known[o];
            let un = pu + e_unknown[o];
            let total = log_add_exp(k, un);
            alpha[u] = [un - total, k - total];
            norm[u] = total;
            let start = ln(self.end[u]);
            r[u] = [start, start];
        }
        // ln P(sequence) = Σ over its nodes of ln P(answer | prefix): each node's weighted
        // by the sequences through it, gathered from the ends up.
        let mut through = self.end.clone();
        for u in (0..n).rev() {
            c.ll += through[u] * norm[u];
            if u >= self.roots {
                through[self.parent[u] as usize] += through[u];
            }
        }
        for u in (0..n).rev() {
            let [r0, r1] = r[u];
            let known = (alpha[u][1] + r1).exp();
            c.known += known;
            let o = self.obs[u] as usize;
            if o == 1 {
                c.known_correct += known;
            }
            if u < self.roots {
                c.first_known += known;
                continue;
            }
            let g0 = e_unknown[o] + r0 - norm[u];
            let g1 = e_known[o] + r1 - norm[u];
            let par = self.parent[u] as usize;
            let [fu, fk] = alpha[par];
            let x01 = (fu + l_learn + g1).exp();
            let x10 = (fk + l_forget + g0).exp();
            let x11 = (fk + l_stay_k + g1).exp();
            c.learned += x01;
            c.forgot += x10;
            c.trans_known += x10 + x11;
            let rp = &mut r[par];
            rp[0] = log_add_exp(rp[0], log_add_exp(l_stay_u + g0, l_learn + g1));
            rp[1] = log_add_exp(rp[1], log_add_exp(l_forget + g0, l_stay_k + g1));
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kt::fit::tests::simulate;

    /// Where both apply, the pass with rescaling gives the pass without's counts.
    #[test]
    fn rescaling_changes_nothing_where_it_is_not_needed() {
        let p = Params {
            prior: 0.5,
            learn: 0.08,
            guess: 0.3,
            slip: 0.15,
            forget: 0.02,
        };
        // Sequences of 150 answers: below 2^-64 (rescaled) and above FLOOR (not needed).
        let d = simulate(&p, 40, 150, 8);
        let t = Trie::build(&d, None);
        let mut s = Scratch::new(&t);
        let plain = t.linear::<false>(&p, &mut s).expect("above FLOOR");
        let scaled = t.linear::<true>(&p, &mut s).expect("no tiny share");
        assert!(s.scales.iter().any(|&k| k > 0), "rescaled somewhere");
        for (x, y) in [
            (plain.ll, scaled.ll),
            (plain.first_known, scaled.first_known),
            (plain.known, scaled.known),
            (plain.known_correct, scaled.known_correct),
            (plain.trans_known, scaled.trans_known),
            (plain.learned, scaled.learned),
            (plain.forgot, scaled.forgot),
        ] {
            assert!((x - y).abs() <= 1e-12 * y.abs(), "{x} vs {y}");
        }
    }

    #[test]
    fn trie_e_step_equals_the_per_sequence_e_step() {
        let p = Params {
            prior: 0.35,
            learn: 0.12,
            guess: 0.22,
            slip: 0.09,
            forget: 0.03,
        };
        let d = simulate(&p, 300, 12, 4);
        assert!(
            Trie::build(&d, None).len() < d.rows(),
            "prefixes are shared"
        );
        let w: Vec<u32> = (0..d.sequences()).map(|s| (s % 4) as u32).collect();
        for weights in [None, Some(w.as_slice())] {
            let trie = Trie::build(&d, weights);
            assert!(trie.ends.windows(2).all(|e| e[0] < e[1]));
            for u in trie.roots..trie.len() {
                assert!(trie.parent[u] < u as u32, "parents first");
                assert!(
                    u == trie.roots || trie.parent[u - 1] <= trie.parent[u],
                    "breadth first"
                );
            }
            let a = trie.e_step(&p, &mut Scratch::new(&trie));
            let b = crate::kt::fit::e_step_counts(&p, &d, weights);
            for (x, y) in [
                (a.ll, b.ll),
                (a.sequences, b.sequences),
                (a.first_known, b.first_known),
                (a.rows, b.rows),
                (a.correct, b.correct),
                (a.known, b.known),
                (a.known_correct, b.known_correct),
                (a.trans_known, b.trans_known),
                (a.learned, b.learned),
                (a.forgot, b.forgot),
                (a.trans, b.trans),
            ] {
                assert!((x - y).abs() < 1e-7 * (1.0 + y.abs()), "{x} vs {y}");
            }
        }
    }
}
