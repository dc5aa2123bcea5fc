//! The E-step on a prefix tree of a skill's answer sequences.
//!
//! Students' sequences share prefixes (every sequence starts with one of two answers, four
//! pairs, ...): on ~1M simulated rows the tree has about a fifth as many nodes as there are
//! answers. The forward pass runs once per node instead of once per answer. The backward
//! pass aggregates, per node, R(k) = Σ over the sequences through it of weight ×
//! P(rest of sequence | state k) × P(prefix) / P(sequence), which obeys a linear recurrence
//! from children to parent, so the expected counts of all sequences are gathered node by
//! node too. Exact: same counts as the per-sequence E-step, up to rounding (tested).

use super::fit::SkillData;
use super::params::{log_add_exp, Params};

const ROOT: u32 = u32::MAX;

/// Nodes in creation order: a parent always comes before its children.
#[derive(Debug, Clone)]
pub(crate) struct Trie {
    parent: Vec<u32>,
    obs: Vec<u8>,
    /// For each sequence of the skill, the node where it ends.
    end_node: Vec<u32>,
}

/// How many (weighted) sequences end at, and pass through, each node.
#[derive(Debug, Clone)]
pub(crate) struct TrieWeights {
    end: Vec<f64>,
    through: Vec<f64>,
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

/// Per-job buffers, sized to the tree.
pub(crate) struct Scratch {
    known: Vec<f64>,
    unknown: Vec<f64>,
    norm: Vec<f64>,
    r0: Vec<f64>,
    r1: Vec<f64>,
}

impl Scratch {
    pub fn new(trie: &Trie) -> Scratch {
        let n = trie.len();
        Scratch {
            known: vec![0.0; n],
            unknown: vec![0.0; n],
            norm: vec![0.0; n],
            r0: vec![0.0; n],
            r1: vec![0.0; n],
        }
    }
}

/// Below this, the smaller of a node's two filtered probabilities is too close to
/// underflow for the linear pass: its partner in the backward pass (≈ 1 / it) would
/// overflow. The E-step then runs in log space instead.
const TINY: f64 = 1e-250;

impl Trie {
    pub fn build(data: &SkillData) -> Trie {
        let mut parent = Vec::new();
        let mut obs = Vec::new();
        // children[node] = [child for answer 0, child for answer 1]
        let mut children: Vec<[u32; 2]> = Vec::new();
        let mut roots = [ROOT; 2];
        let mut end_node = Vec::with_capacity(data.sequences());
        for s in 0..data.sequences() {
            let mut at = ROOT;
            for &o in data.sequence(s) {
                let next = if at == ROOT {
                    roots[o as usize]
                } else {
                    children[at as usize][o as usize]
                };
                at = if next != ROOT {
                    next
                } else {
                    let id = parent.len() as u32;
                    if at == ROOT {
                        roots[o as usize] = id;
                    } else {
                        children[at as usize][o as usize] = id;
                    }
                    parent.push(at);
                    obs.push(o);
                    children.push([ROOT; 2]);
                    id
                };
            }
            end_node.push(at);
        }
        Trie {
            parent,
            obs,
            end_node,
        }
    }

    pub fn len(&self) -> usize {
        self.parent.len()
    }

    /// Node weights for sequence weights `w` (None = all 1).
    pub fn weights(&self, w: Option<&[u32]>) -> TrieWeights {
        let n = self.len();
        let mut end = vec![0.0; n];
        let mut sequences = 0.0;
        for (s, &node) in self.end_node.iter().enumerate() {
            let ws = w.map_or(1.0, |w| w[s] as f64);
            if node != ROOT && ws > 0.0 {
                end[node as usize] += ws;
                sequences += ws;
            }
        }
        let mut through = end.clone();
        let (mut rows, mut correct, mut trans) = (0.0, 0.0, 0.0);
        for u in (0..n).rev() {
            let t = through[u];
            rows += t;
            if self.obs[u] == 1 {
                correct += t;
            }
            let p = self.parent[u];
            if p != ROOT {
                through[p as usize] += t;
                trans += t;
            }
        }
        TrieWeights {
            end,
            through,
            sequences,
            rows,
            correct,
            trans,
        }
    }

    /// One E-step. Both states' filtered probabilities are kept per node (never one as
    /// 1 − the other, which rounds away after a run of right answers); when one of them
    /// nears underflow anywhere, the whole E-step is redone in log space, which is exact
    /// for any sequence. The counts are finite whenever the parameters are valid.
    pub fn e_step(&self, p: &Params, tw: &TrieWeights, s: &mut Scratch) -> TrieCounts {
        self.e_step_linear(p, tw, s)
            .unwrap_or_else(|| self.e_step_log(p, tw, s))
    }

    fn counts(tw: &TrieWeights) -> TrieCounts {
        TrieCounts {
            sequences: tw.sequences,
            rows: tw.rows,
            correct: tw.correct,
            trans: tw.trans,
            ..TrieCounts::default()
        }
    }

    /// The fast E-step on probabilities scaled per node; `None` when a probability nears
    /// underflow.
    pub(crate) fn e_step_linear(
        &self,
        p: &Params,
        tw: &TrieWeights,
        s: &mut Scratch,
    ) -> Option<TrieCounts> {
        let e_known = [p.slip, 1.0 - p.slip];
        let e_unknown = [1.0 - p.guess, p.guess];
        let (learn, forget) = (p.learn, p.forget);
        let n = self.len();
        let mut c = Trie::counts(tw);

        // Forward: filtered P(known), P(not known) at each node and P(answer | prefix).
        // Logarithms are the costliest step: the many nodes of weight 1 (the unshared tails
        // of sequences) multiply their probabilities, each ≥ 1e-4, and log the product.
        let mut product = 1.0f64;
        let mut smallest = 1.0f64;
        for u in 0..n {
            let w = tw.through[u];
            if w == 0.0 {
                continue; // nobody (with weight) passes here, nor below
            }
            let par = self.parent[u];
            let (pk, pu) = if par == ROOT {
                (p.prior, 1.0 - p.prior)
            } else {
                let (fk, fu) = (s.known[par as usize], s.unknown[par as usize]);
                (
                    fk * (1.0 - forget) + fu * learn,
                    fk * forget + fu * (1.0 - learn),
                )
            };
            let o = self.obs[u] as usize;
            let k = pk * e_known[o];
            let un = pu * e_unknown[o];
            let total = k + un;
            let inv = 1.0 / total;
            s.known[u] = k * inv;
            s.unknown[u] = un * inv;
            smallest = smallest.min(s.known[u]).min(s.unknown[u]);
            s.norm[u] = total;
            if w == 1.0 {
                product *= total;
                if product < 1e-250 {
                    c.ll += product.ln();
                    product = 1.0;
                }
            } else {
                c.ll += w * total.ln();
            }
        }
        if smallest.is_nan() || smallest < TINY {
            return None;
        }
        c.ll += product.ln();

        // Backward, children before parents.
        s.r0.copy_from_slice(&tw.end);
        s.r1.copy_from_slice(&tw.end);
        for u in (0..n).rev() {
            if tw.through[u] == 0.0 {
                continue;
            }
            let (r0, r1) = (s.r0[u], s.r1[u]);
            let known = s.known[u] * r1;
            c.known += known;
            let o = self.obs[u] as usize;
            if o == 1 {
                c.known_correct += known;
            }
            let par = self.parent[u];
            if par == ROOT {
                c.first_known += known;
                continue;
            }
            let inv = 1.0 / s.norm[u];
            let g0 = e_unknown[o] * r0 * inv;
            let g1 = e_known[o] * r1 * inv;
            let (fk, fu) = (s.known[par as usize], s.unknown[par as usize]);
            let x01 = fu * learn * g1;
            let x10 = fk * forget * g0;
            let x11 = fk * (1.0 - forget) * g1;
            c.learned += x01;
            c.forgot += x10;
            c.trans_known += x10 + x11;
            s.r0[par as usize] += (1.0 - learn) * g0 + learn * g1;
            s.r1[par as usize] += forget * g0 + (1.0 - forget) * g1;
        }
        Some(c)
    }

    /// The same E-step with every probability and backward quantity as a logarithm:
    /// slower (logarithms and exponentials per node), exact whatever the sequences.
    pub(crate) fn e_step_log(&self, p: &Params, tw: &TrieWeights, s: &mut Scratch) -> TrieCounts {
        let ln = f64::ln;
        let e_known = [ln(p.slip), ln(1.0 - p.slip)];
        let e_unknown = [ln(1.0 - p.guess), ln(p.guess)];
        let (l_learn, l_stay_u) = (ln(p.learn), ln(1.0 - p.learn));
        let (l_forget, l_stay_k) = (ln(p.forget), ln(1.0 - p.forget));
        let n = self.len();
        let mut c = Trie::counts(tw);

        // s.known / s.unknown / s.norm hold ln of the filtered probabilities and of
        // P(answer | prefix); s.r0 / s.r1 hold ln of the backward sums.
        for u in 0..n {
            let w = tw.through[u];
            if w == 0.0 {
                continue;
            }
            let par = self.parent[u];
            let (pk, pu) = if par == ROOT {
                (ln(p.prior), ln(1.0 - p.prior))
            } else {
                let (fk, fu) = (s.known[par as usize], s.unknown[par as usize]);
                (
                    log_add_exp(fk + l_stay_k, fu + l_learn),
                    log_add_exp(fk + l_forget, fu + l_stay_u),
                )
            };
            let o = self.obs[u] as usize;
            let k = pk + e_known[o];
            let un = pu + e_unknown[o];
            let total = log_add_exp(k, un);
            s.known[u] = k - total;
            s.unknown[u] = un - total;
            s.norm[u] = total;
            c.ll += w * total;
        }

        for u in 0..n {
            s.r0[u] = ln(tw.end[u]);
            s.r1[u] = s.r0[u];
        }
        for u in (0..n).rev() {
            if tw.through[u] == 0.0 {
                continue;
            }
            let (r0, r1) = (s.r0[u], s.r1[u]);
            let known = (s.known[u] + r1).exp();
            c.known += known;
            let o = self.obs[u] as usize;
            if o == 1 {
                c.known_correct += known;
            }
            let par = self.parent[u];
            if par == ROOT {
                c.first_known += known;
                continue;
            }
            let g0 = e_unknown[o] + r0 - s.norm[u];
            let g1 = e_known[o] + r1 - s.norm[u];
            let (fk, fu) = (s.known[par as usize], s.unknown[par as usize]);
            let x01 = (fu + l_learn + g1).exp();
            let x10 = (fk + l_forget + g0).exp();
            let x11 = (fk + l_stay_k + g1).exp();
            c.learned += x01;
            c.forgot += x10;
            c.trans_known += x10 + x11;
            let pr = par as usize;
            s.r0[pr] = log_add_exp(s.r0[pr], log_add_exp(l_stay_u + g0, l_learn + g1));
            s.r1[pr] = log_add_exp(s.r1[pr], log_add_exp(l_forget + g0, l_stay_k + g1));
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kt::fit::tests::simulate;

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
        let trie = Trie::build(&d);
        assert!(trie.len() < d.rows(), "prefixes are shared");
        let w: Vec<u32> = (0..d.sequences()).map(|s| (s % 4) as u32).collect();
        for weights in [None, Some(w.as_slice())] {
            let a = trie.e_step(&p, &trie.weights(weights), &mut Scratch::new(&trie));
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
