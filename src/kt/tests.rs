//! Property tests of the knowledge-tracing maths.

use chrono::{TimeZone, Utc};
use proptest::prelude::*;

use super::*;

fn params() -> impl Strategy<Value = Params> {
    (
        0.001..0.999f64,
        0.001..0.999f64,
        0.001..0.4999f64,
        0.001..0.4999f64,
        0.0..0.5f64,
    )
        .prop_map(|(prior, learn, guess, slip, forget)| Params {
            prior,
            learn,
            guess,
            slip,
            forget,
        })
}

fn spread() -> impl Strategy<Value = Spread> {
    prop::array::uniform7(0.0..0.3f64).prop_map(|mut a| {
        // A fitted spread is non-increasing; sort descending to match.
        a.sort_by(|x, y| y.total_cmp(x));
        Spread(a)
    })
}

fn model() -> impl Strategy<Value = SkillModel> {
    (params(), spread()).prop_map(|(params, spread)| SkillModel { params, spread })
}

fn observations() -> impl Strategy<Value = Vec<Observation>> {
    prop::collection::vec(
        (any::<bool>(), 0i64..30, 0u64..6, prop::bool::weighted(0.15)),
        0..60,
    )
    .prop_map(|v| {
        let mut t = 1_700_000_000i64;
        v.into_iter()
            .map(|(correct, gap_hours, session, excluded)| {
                t += gap_hours * 3600;
                Observation {
                    correct,
                    at: Utc.timestamp_opt(t, 0).single().unwrap_or_default(),
                    session,
                    excluded,
                }
            })
            .collect()
    })
}

proptest! {
    #[test]
    fn probabilities_stay_in_unit_interval(m in model(), obs in observations()) {
        let rules = Rules::default();
        let mut s = SkillState::new(&m);
        for o in &obs {
            s.apply(&m, o);
            let e = s.estimate(&rules);
            for x in [e.estimate, e.low, e.high, m.params.predict(s.p_known)] {
                prop_assert!((0.0..=1.0).contains(&x), "{x} out of [0, 1]");
            }
            prop_assert!(e.low <= e.estimate && e.estimate <= e.high);
        }
    }

    #[test]
    fn replay_equals_incremental(m in model(), obs in observations()) {
        let mut inc = SkillState::new(&m);
        for o in &obs {
            inc.apply(&m, o);
        }
        prop_assert_eq!(SkillState::replay(&m, &obs), inc);
    }

    /// The property tested: for any sequence and any one more observation appended to it,
    /// the interval of the longer sequence is no wider than that of the shorter one.
    #[test]
    fn more_evidence_never_widens_the_interval(m in model(), obs in observations()) {
        let rules = Rules::default();
        let mut s = SkillState::new(&m);
        let mut width = s.estimate(&rules).high - s.estimate(&rules).low;
        for o in &obs {
            s.apply(&m, o);
            let e = s.estimate(&rules);
            let w = e.high - e.low;
            prop_assert!(w <= width + 1e-12, "{w} > {width}");
            width = w;
        }
    }

    #[test]
    fn posterior_and_update_stay_in_unit_interval(p in params(), k in 0.0..=1.0f64, c in any::<bool>()) {
        for x in [p.posterior(k, c), p.update(k, c), p.predict(k)] {
            prop_assert!((0.0..=1.0).contains(&x));
        }
    }
}

#[test]
fn observation_outcome_applies_the_evidence_rules() {
    use crate::ingest::Outcome;
    assert!(observation_outcome(Outcome::Correct, false));
    assert!(!observation_outcome(Outcome::Correct, true));
    assert!(!observation_outcome(Outcome::Incorrect, false));
    assert!(!observation_outcome(Outcome::Skipped, false));
    assert_eq!(session_key("a1b2c3"), session_key("a1b2c3"));
    assert_ne!(session_key("a1b2c3"), session_key("a1b2c4"));
}

fn bkt_params() -> impl Strategy<Value = Params> {
    // Parameters a real skill could have, where 2,000 students × 20 answers identify them.
    (0.15..0.5f64, 0.08..0.25f64, 0.1..0.3f64, 0.05..0.15f64).prop_map(
        |(prior, learn, guess, slip)| Params {
            prior,
            learn,
            guess,
            slip,
            forget: 0.0,
        },
    )
}

proptest! {
    // A fixed seed: recovery within 0.05 is a statistical claim that a rare draw can miss
    // (prior 0.39 for 0.44 was seen once); the same cases every run keep CI honest and stable.
    #![proptest_config(ProptestConfig {
        cases: 6,
        rng_seed: proptest::test_runner::RngSeed::Fixed(20261123),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn fit_is_deterministic_for_a_seed(truth in bkt_params(), data_seed in 0u64..1000, seed in any::<u64>()) {
        let data = Dataset { students: Vec::new(), skills: vec![fit::tests::simulate(&truth, 60, 12, data_seed)] };
        let opts = FitOptions { restarts: 3, bootstrap: 2, seed, ..FitOptions::default() };
        let a = fit_dataset(&data, None, &opts);
        let b = fit_dataset(&data, None, &FitOptions { threads: 1, ..opts });
        prop_assert_eq!(a, b);
    }

    #[test]
    fn parameters_are_recovered_from_simulated_data(truth in bkt_params(), data_seed in 0u64..1000) {
        let data = Dataset { students: Vec::new(), skills: vec![fit::tests::simulate(&truth, 2000, 20, data_seed)] };
        let opts = FitOptions { restarts: 3, bootstrap: 0, ..FitOptions::default() };
        let fitted = &fit_dataset(&data, None, &opts)[0];
        // EM finds the maximum likelihood: never worse than the truth (up to the tolerance).
        prop_assert!(fitted.log_likelihood >= fit::log_likelihood(&truth, &data.skills[0]) - 0.01);
        let p = fitted.model.params;
        for (got, want) in [(p.prior, truth.prior), (p.learn, truth.learn), (p.guess, truth.guess), (p.slip, truth.slip)] {
            prop_assert!((got - want).abs() < 0.05, "fitted {:?}, true {:?}", p, truth);
        }
    }
}

#[test]
fn forgetting_is_recovered_when_fitted() {
    let truth = Params {
        prior: 0.3,
        learn: 0.2,
        guess: 0.2,
        slip: 0.08,
        forget: 0.05,
    };
    let data = Dataset {
        students: Vec::new(),
        skills: vec![fit::tests::simulate(&truth, 1500, 25, 5)],
    };
    let with = fit_dataset(
        &data,
        None,
        &FitOptions {
            fit_forget: true,
            bootstrap: 0,
            ..FitOptions::default()
        },
    )[0]
    .clone();
    let without = fit_dataset(
        &data,
        None,
        &FitOptions {
            bootstrap: 0,
            ..FitOptions::default()
        },
    )[0]
    .clone();
    assert!(
        (with.model.params.forget - truth.forget).abs() < 0.02,
        "{:?}",
        with.model.params
    );
    assert_eq!(without.model.params.forget, 0.0);
    assert!(with.log_likelihood > without.log_likelihood);
}

/// Sequences that break arithmetic on one P(known): thousands of identical answers, long
/// right-then-wrong runs, all wrong, alternating, and random ones.
fn adversarial_sequence() -> impl Strategy<Value = Vec<bool>> {
    prop_oneof![
        (any::<bool>(), 1..3000usize).prop_map(|(b, n)| vec![b; n]),
        (1..600usize, 1..1200usize).prop_map(|(r, w)| {
            let mut v = vec![true; r];
            v.extend(std::iter::repeat_n(false, w));
            v
        }),
        (1..800usize, 1..400usize, 1..800usize).prop_map(|(w1, r, w2)| {
            let mut v = vec![false; w1];
            v.extend(std::iter::repeat_n(true, r));
            v.extend(std::iter::repeat_n(false, w2));
            v
        }),
        (1..2000usize).prop_map(|n| (0..n).map(|i| i % 2 == 0).collect()),
        prop::collection::vec(any::<bool>(), 1..200),
    ]
}

/// Any valid parameters, the bounds' extremes included (forget often exactly 0).
fn extreme_params() -> impl Strategy<Value = Params> {
    let prob = || {
        prop_oneof![
            Just(1e-4),
            Just(1e-3),
            Just(0.5),
            Just(0.99),
            Just(0.9999),
            1e-4..0.9999f64
        ]
    };
    (
        prob(),
        prob(),
        prob(),
        prob(),
        prop_oneof![Just(0.0), Just(1e-4), 0.0..0.5f64],
    )
        .prop_map(|(prior, learn, guess, slip, forget)| {
            Params {
                prior,
                learn,
                guess,
                slip,
                forget,
            }
            .clamped()
        })
}

fn skill_of(seqs: &[Vec<bool>]) -> SkillData {
    let mut d = SkillData::new("s");
    for (i, s) in seqs.iter().enumerate() {
        d.push_sequence(i as u32, s.iter().copied());
    }
    d
}

fn close(x: f64, y: f64, scale: f64) -> bool {
    x.is_finite() && (x - y).abs() <= 1e-9 * scale.max(1.0)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// The E-step the fit uses (prefix tree, scaled, log space when needed) equals the
    /// textbook log-space forward-backward to 1e-9 relative, and is finite.
    #[test]
    fn e_step_is_exact_on_adversarial_sequences(
        p in extreme_params(),
        seqs in prop::collection::vec(adversarial_sequence(), 1..4),
    ) {
        let d = skill_of(&seqs);
        let t = trie::Trie::build(&d, None);
        let fast = t.e_step(&p, &mut trie::Scratch::new(&t));
        let slow = fit::e_step_counts(&p, &d, None);
        prop_assert!(slow.ll.is_finite() && slow.ll < 0.0);
        for (name, x, y) in [
            ("ll", fast.ll, slow.ll),
            ("first_known", fast.first_known, slow.first_known),
            ("known", fast.known, slow.known),
            ("known_correct", fast.known_correct, slow.known_correct),
            ("trans_known", fast.trans_known, slow.trans_known),
            ("learned", fast.learned, slow.learned),
            ("forgot", fast.forgot, slow.forgot),
        ] {
            prop_assert!(close(x, y, y.abs()), "{} {} vs {} ({:?})", name, x, y, p);
        }
    }

    /// The offline predictions (`one_step_ahead`: kt cv, kt predict, model health) give the
    /// exact likelihood: the sum of ln P(answer) predicted one step ahead equals the
    /// reference's. And they are the stored state's, answer by answer: one code path.
    #[test]
    fn online_predictions_are_exact(p in extreme_params(), seq in adversarial_sequence()) {
        let d = skill_of(std::slice::from_ref(&seq));
        let reference = fit::e_step_counts(&p, &d, None).ll;
        let model = SkillModel { params: p, spread: Spread::unfitted() };
        let at = Utc.timestamp_opt(1_700_000_000, 0).single().unwrap_or_default();
        let mut state = SkillState::new(&model);
        let mut ll = 0.0;
        for (step, &c) in p.one_step_ahead(seq.iter().copied()).zip(&seq) {
            let pc = step.p_correct;
            prop_assert!(pc.is_finite() && (0.0..=1.0).contains(&pc));
            prop_assert_eq!(pc, state.predict(&p));
            ll += if c { pc.ln() } else { (1.0 - pc).ln() };
            state.apply(&model, &Observation { correct: c, at, session: 1, excluded: false });
            prop_assert!(step.log_odds.is_finite());
            prop_assert_eq!(state.log_odds, Some(step.log_odds));
            prop_assert!(state.p_known.is_finite());
        }
        prop_assert!(close(ll, reference, reference.abs()), "{} vs {} ({:?})", ll, reference, p);
    }

    /// The fit never reports a non-finite figure, and its likelihood is the exact one.
    #[test]
    fn fit_is_finite_on_adversarial_data(seqs in prop::collection::vec(adversarial_sequence(), 1..4)) {
        let d = skill_of(&seqs);
        let data = Dataset { students: Vec::new(), skills: vec![d] };
        let opts = FitOptions { restarts: 2, bootstrap: 2, min_rows: 1, min_students: 1, max_iter: 30, ..FitOptions::default() };
        for f in fit_dataset(&data, None, &opts) {
            prop_assert!(f.model.params.is_valid(), "{:?}", f);
            let exact = fit::e_step_counts(&f.model.params, &data.skills[0], None).ll;
            prop_assert!(close(f.log_likelihood, exact, exact.abs()), "{} vs {}", f.log_likelihood, exact);
        }
    }
}

/// The case that printed `"prior": null`: 19 short students and one with 30 right answers
/// then 450 wrong on one skill.
#[test]
fn a_long_right_then_wrong_run_fits_finite_and_exact() {
    let mut d = SkillData::new("k");
    for s in 0..19u32 {
        d.push_sequence(s, (0..12).map(|i| (i * 7 + s as usize) % 3 != 0));
    }
    d.push_sequence(19, (0..480).map(|i| i < 30));
    let data = Dataset {
        students: Vec::new(),
        skills: vec![d],
    };
    let opts = FitOptions {
        min_students: 1,
        ..FitOptions::default()
    };
    let f = &fit_dataset(&data, None, &opts)[0];
    assert_eq!(f.method, fit::Method::Em);
    assert!(f.model.params.is_valid(), "{f:?}");
    let exact = fit::e_step_counts(&f.model.params, &data.skills[0], None).ll;
    assert!(
        close(f.log_likelihood, exact, exact.abs()),
        "{f:?} vs {exact}"
    );
    let cv = cross_validate(&data, 5, &opts);
    assert!(cv.auc.is_finite() && cv.rmse.is_finite(), "{cv:?}");
}

/// The log-space E-step (taken when a probability nears underflow) equals the linear one
/// where both apply.
#[test]
fn log_space_and_linear_e_steps_agree() {
    let p = Params {
        prior: 0.4,
        learn: 0.1,
        guess: 0.6,
        slip: 0.1,
        forget: 0.02,
    };
    let d = fit::tests::simulate(&p, 200, 15, 9);
    let w: Vec<u32> = (0..d.sequences()).map(|s| (s % 3) as u32).collect();
    let t = trie::Trie::build(&d, Some(&w));
    let mut scratch = trie::Scratch::new(&t);
    let lin = t
        .e_step_linear(&p, &mut scratch)
        .expect("no underflow here");
    let log = t.e_step_log(&p, &mut scratch);
    for (x, y) in [
        (lin.ll, log.ll),
        (lin.first_known, log.first_known),
        (lin.known, log.known),
        (lin.known_correct, log.known_correct),
        (lin.trans_known, log.trans_known),
        (lin.learned, log.learned),
        (lin.forgot, log.forgot),
    ] {
        assert!(close(x, y, y.abs()), "{x} vs {y}");
    }
}

/// Long sequences take the linear E-step through many rescalings (its probabilities fall
/// below 2^-64 every hundred answers or so) and it still equals the reference to 1e-9.
#[test]
fn the_linear_e_step_is_exact_across_rescalings() {
    let p = Params {
        prior: 0.3,
        learn: 0.05,
        guess: 0.35,
        slip: 0.2,
        forget: 0.03,
    };
    let seqs: Vec<Vec<bool>> = (0..6)
        .map(|s| (0..900 + 300 * s).map(|i| (i * 7 + s) % 5 < 3).collect())
        .collect();
    let d = skill_of(&seqs);
    let w: Vec<u32> = vec![1, 3, 0, 1, 2, 1];
    for weights in [None, Some(w.as_slice())] {
        let t = trie::Trie::build(&d, weights);
        let fast = t
            .e_step_linear(&p, &mut trie::Scratch::new(&t))
            .expect("no state's share nears underflow here");
        let slow = fit::e_step_counts(&p, &d, weights);
        assert!(
            slow.ll < -1000.0 * std::f64::consts::LN_2,
            "past several rescalings"
        );
        for (name, x, y) in [
            ("ll", fast.ll, slow.ll),
            ("first_known", fast.first_known, slow.first_known),
            ("known", fast.known, slow.known),
            ("known_correct", fast.known_correct, slow.known_correct),
            ("trans_known", fast.trans_known, slow.trans_known),
            ("learned", fast.learned, slow.learned),
            ("forgot", fast.forgot, slow.forgot),
        ] {
            assert!(close(x, y, y.abs()), "{name}: {x} vs {y}");
        }
    }
}
