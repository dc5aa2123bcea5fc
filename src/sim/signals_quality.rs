//! Measures the behaviour detectors against the simulator's ground truth, through the same
//! steps the server runs at ingest: per event, in time order, the item's norm gives the
//! rapid-guess threshold, the knowledge tracing applies the answer (a rapid guess excluded),
//! the student's [`Tracker`] steps, then the answer joins the norm. (The server adds a batch's
//! answers to the norms after the batch; here each batch is one event.) Figures and the
//! command: docs/quality.md.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{NaiveDate, TimeZone, Utc};
use serde::Serialize;

use super::{Config, Output, Profile, Simulation};
use crate::kt::evidence::{Attempt, Track};
use crate::kt::{Rules, SkillModel, SkillState};
use crate::signals::{self, Action, Episode, Kind, KtAfter, Norm, Thresholds, Tracker};

/// Precision and recall of one detector at the student-day level.
#[derive(Debug, Clone, Serialize)]
pub struct KindScore {
    pub kind: &'static str,
    /// Student-days the truth says show the behaviour, the detector flagged, and both.
    pub truth: usize,
    pub flagged: usize,
    pub both: usize,
    pub precision: f64,
    pub recall: f64,
}

/// Mastery estimates against the truth, with and without excluding rapid guesses.
#[derive(Debug, Clone, Serialize)]
pub struct MasteryError {
    pub profile: &'static str,
    pub students: usize,
    /// Student × skill pairs, and their opportunities.
    pub pairs: usize,
    pub opportunities: usize,
    /// Share of the opportunities excluded as rapid guesses.
    pub excluded_share: f64,
    /// Mean |P(known) − truth| after every opportunity, and at the end of the simulation.
    pub mae_with_exclusion: f64,
    pub mae_without_exclusion: f64,
    pub final_mae_with_exclusion: f64,
    pub final_mae_without_exclusion: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SignalsQuality {
    pub seed: u64,
    pub students: usize,
    pub school_days: u32,
    pub student_days: usize,
    pub scores: Vec<KindScore>,
    pub diligent_students: usize,
    /// Diligent student-days flagged for anything, over all diligent student-days.
    pub diligent_day_rate: f64,
    /// The worst school day: the share of diligent students flagged for anything that day.
    pub diligent_worst_day_rate: f64,
    /// Diligent students flagged for anything on at least one day.
    pub diligent_students_ever_flagged: f64,
    /// The same three without wheel-spinning (a learning difficulty, not a behaviour).
    pub diligent_behaviour_day_rate: f64,
    pub diligent_behaviour_worst_day_rate: f64,
    pub diligent_behaviour_students_ever_flagged: f64,
    /// The same three counting only false flags: a flag the truth does not support that day
    /// (a wheel-spinning flag is true when the student has had the real tries of
    /// [`fair_tries`] and truly does not know the skill).
    pub diligent_false_day_rate: f64,
    pub diligent_false_worst_day_rate: f64,
    pub diligent_false_students_ever_flagged: f64,
    /// Diligent student-days flagged, by kind.
    pub diligent_flags_by_kind: BTreeMap<&'static str, usize>,
    /// Student-days flagged by kind for each profile.
    pub flags_by_profile: BTreeMap<&'static str, BTreeMap<&'static str, usize>>,
    pub mastery: Vec<MasteryError>,
    pub stuck: StuckScore,
}

/// The stuck flag (wheel-spinning) against students who truly fail to learn a skill: those
/// who gave it at least as many real tries as the skill's pace asks ([`fair_tries`]) and still
/// do not know it at the end of the simulation. (A student who only guesses learns nothing
/// either; the rapid-guessing flag is the one that tells of them.)
#[derive(Debug, Clone, Serialize)]
pub struct StuckScore {
    /// Diligent students flagged stuck on any skill on at least one day.
    pub diligent_ever_flagged: f64,
    /// Diligent students who truly fail to learn at least one skill (a flag on them is
    /// deserved, so this bounds what `diligent_ever_flagged` can be at full recall).
    pub diligent_failing: f64,
    /// Student × skill pairs that truly fail, and the share flagged stuck on that skill at
    /// some point.
    pub failing_pairs: usize,
    pub failing_pairs_flagged: f64,
    /// Students with at least one such skill, and the share flagged stuck on one of them.
    pub failing_students: usize,
    pub failing_students_flagged: f64,
}

/// Real tries that give a student a fair chance at any skill (Beck & Gong's 10
/// opportunities): below it, not knowing the skill yet is not failing to learn it.
pub const FAILED_MIN_OPPORTUNITIES: usize = 10;

/// Real tries that give a student a fair chance at a skill: at least
/// [`FAILED_MIN_OPPORTUNITIES`], and at least the skill's pace for a diligent student who does
/// not know it at the start — the tries after which such a student, learning at the skill's
/// rate, would still not know it with a chance of only `wheel_spinning_tail` (1 in 150 by
/// default; [`signals::tries_needed`] from 0). A student who learns more slowly than the
/// skill's own rate (the struggling profile) is failing once past them.
pub fn fair_tries(params: &crate::kt::Params, t: &Thresholds) -> usize {
    let pace = signals::tries_needed(0.0, params.learn, t.wheel_spinning_tail);
    FAILED_MIN_OPPORTUNITIES.max(pace as usize)
}

/// A student has failed to learn a skill from these steps when they gave it at least `fair`
/// real tries and did not know it after the last one.
fn failed_to_learn<'a>(steps: impl IntoIterator<Item = &'a super::Step>, fair: usize) -> bool {
    let (mut engaged, mut last) = (0, None);
    for s in steps {
        engaged += usize::from(s.engaged);
        last = Some(s);
    }
    last.is_some_and(|s| !s.known_after) && engaged >= fair
}

fn day_of(ms: i64) -> NaiveDate {
    chrono::DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .date_naive()
}

fn noon(d: NaiveDate) -> i64 {
    Utc.from_utc_datetime(&d.and_hms_opt(12, 0, 0).unwrap_or_default())
        .timestamp_millis()
}

struct PairState {
    with: SkillState,
    without: SkillState,
    track: Track,
    seen: HashSet<u16>,
}

/// Runs the simulation and the detectors; scores them.
pub fn measure(config: &Config, t: &Thresholds) -> SignalsQuality {
    let out = Simulation::new(config.clone()).run();
    let (episodes, mastery) = detect(&out, t);
    score(config, &out, &episodes, mastery, t)
}

/// The detectors over the simulated events: every student's episodes, and the mastery errors.
fn detect(out: &Output, t: &Thresholds) -> (Vec<Vec<Episode>>, Vec<MasteryError>) {
    let rules = Rules::default();
    let models: Vec<SkillModel> = out
        .skills
        .iter()
        .map(|s| SkillModel {
            params: s.params,
            ..SkillModel::default()
        })
        .collect();
    let truth_after: HashMap<uuid::Uuid, bool> = out
        .truth
        .iter()
        .flat_map(|tr| tr.steps.iter().map(|s| (s.event_id, s.known_after)))
        .collect();
    let mut norms: HashMap<(u16, Option<u16>), Norm> = HashMap::new();
    let mut trackers: Vec<Tracker> = vec![Tracker::default(); out.students.len()];
    let mut closed: Vec<Vec<Episode>> = vec![Vec::new(); out.students.len()];
    let mut pairs: HashMap<(u32, u16), PairState> = HashMap::new();
    // Per profile: (sum |err| with, without, snapshots, excluded).
    let mut errors: BTreeMap<Profile, (f64, f64, usize, usize)> = BTreeMap::new();
    for e in &out.events {
        let w = out.wire(e);
        let typical = signals::typical_ms(
            norms.get(&(e.skill, Some(e.item))),
            norms.get(&(e.skill, None)),
            t,
        );
        let mut action = Action::of(&w, typical);
        let rapid = action.is_rapid_guess(t);
        let model = &models[e.skill as usize];
        let pair = pairs
            .entry((e.student, e.skill))
            .or_insert_with(|| PairState {
                with: SkillState::new(model),
                without: SkillState::new(model),
                track: Track::NONE,
                seen: HashSet::new(),
            });
        let first = pair.seen.insert(e.item);
        let attempt = |rapid_guess| Attempt::of(&w, rapid_guess);
        let mut track = pair.track;
        let applied = pair
            .track
            .step(&mut pair.with, model, &attempt(rapid), first);
        track.step(&mut pair.without, model, &attempt(false), first);
        if let (Some(obs), Some(known)) = (applied, truth_after.get(&e.event_id)) {
            let truth = if *known { 1.0 } else { 0.0 };
            let profile = out.students[e.student as usize].profile;
            let entry = errors.entry(profile).or_default();
            entry.0 += (pair.with.p_known - truth).abs();
            entry.1 += (pair.without.p_known - truth).abs();
            entry.2 += 1;
            entry.3 += usize::from(obs.excluded);
        }
        action.kt = Some(KtAfter {
            evidence: pair.with.evidence(),
            mastered: pair.with.p_known >= rules.mastery_threshold,
            estimate: pair.with.p_known,
            learn: model.params.learn,
        });
        trackers[e.student as usize].step(&action, t, &mut closed[e.student as usize]);
        if let Some(ms) = action.norm_sample(t) {
            for key in [(e.skill, Some(e.item)), (e.skill, None)] {
                norms.entry(key).or_insert(Norm::EMPTY).add(ms);
            }
        }
    }
    let episodes = closed
        .into_iter()
        .zip(trackers)
        .map(|(mut c, tr)| {
            c.extend(tr.open);
            c
        })
        .collect();

    // Final estimates against the final truth, per profile.
    let mut finals: BTreeMap<Profile, (f64, f64, usize, usize)> = BTreeMap::new();
    let mut students: BTreeMap<Profile, BTreeSet<u32>> = BTreeMap::new();
    for tr in &out.truth {
        let Some(last) = tr.steps.last() else {
            continue;
        };
        let Some(pair) = pairs.get(&(tr.student, tr.skill)) else {
            continue;
        };
        let profile = out.students[tr.student as usize].profile;
        let truth = if last.known_after { 1.0 } else { 0.0 };
        let f = finals.entry(profile).or_default();
        f.0 += (pair.with.p_known - truth).abs();
        f.1 += (pair.without.p_known - truth).abs();
        f.2 += 1;
        f.3 += tr.steps.len();
        students.entry(profile).or_default().insert(tr.student);
    }
    let mastery = errors
        .into_iter()
        .map(|(profile, (with, without, n, excluded))| {
            let f = finals.get(&profile).copied().unwrap_or_default();
            let ratio = |a: f64, b: usize| if b == 0 { f64::NAN } else { a / b as f64 };
            MasteryError {
                profile: profile.as_str(),
                students: students.get(&profile).map_or(0, BTreeSet::len),
                pairs: f.2,
                opportunities: n,
                excluded_share: ratio(excluded as f64, n),
                mae_with_exclusion: ratio(with, n),
                mae_without_exclusion: ratio(without, n),
                final_mae_with_exclusion: ratio(f.0, f.2),
                final_mae_without_exclusion: ratio(f.1, f.2),
            }
        })
        .collect();
    (episodes, mastery)
}

/// The days an episode covers (idle is scored from the practice days instead).
fn episode_days(e: &Episode, last_day: NaiveDate) -> Vec<NaiveDate> {
    let start = day_of(e.started_at);
    let end = match (e.kind, e.ended_at) {
        (_, Some(end)) => day_of(end),
        // A wheel-spinning flag still going on covers the days up to the end.
        (Kind::WheelSpinning, None) => last_day,
        (_, None) => day_of(e.last_at),
    };
    start.iter_days().take_while(|d| *d <= end).collect()
}

fn score(
    config: &Config,
    out: &Output,
    episodes: &[Vec<Episode>],
    mastery: Vec<MasteryError>,
    t: &Thresholds,
) -> SignalsQuality {
    let dates: BTreeSet<NaiveDate> = out.days.iter().map(|d| d.date).collect();
    let last_day = dates.iter().next_back().copied().unwrap_or_default();
    // (student, date) → flagged kinds.
    let mut flagged: HashMap<(u32, NaiveDate), BTreeSet<Kind>> = HashMap::new();
    for (s, eps) in episodes.iter().enumerate() {
        for e in eps.iter().filter(|e| e.kind != Kind::Idle) {
            for d in episode_days(e, last_day) {
                flagged.entry((s as u32, d)).or_default().insert(e.kind);
            }
        }
    }
    // Idle as the reads work it out: the latest practice before each day, against that day.
    let mut last_practice: Vec<Option<i64>> = vec![None; out.students.len()];
    let mut practice_days: HashMap<u32, BTreeSet<NaiveDate>> = HashMap::new();
    for e in &out.events {
        practice_days
            .entry(e.student)
            .or_default()
            .insert(e.at.date_naive());
    }
    for date in &dates {
        for (s, last) in last_practice.iter_mut().enumerate() {
            let practised = practice_days
                .get(&(s as u32))
                .is_some_and(|d| d.contains(date));
            if practised {
                *last = Some(noon(*date));
            } else if let Some(l) = *last {
                if signals::idle_episode(l, noon(*date), t).is_some() {
                    flagged
                        .entry((s as u32, *date))
                        .or_default()
                        .insert(Kind::Idle);
                }
            }
        }
    }

    // Wheel-spinning in truth: at the end of the day, a skill the student has had the real
    // tries of [`fair_tries`] at and does not truly know.
    let at_of: HashMap<uuid::Uuid, NaiveDate> = out
        .events
        .iter()
        .map(|e| (e.event_id, e.at.date_naive()))
        .collect();
    let mut spinning: HashSet<(u32, NaiveDate)> = HashSet::new();
    for tr in &out.truth {
        let fair = fair_tries(&out.skills[tr.skill as usize].params, t);
        for date in &dates {
            let done = tr
                .steps
                .iter()
                .filter(|s| at_of.get(&s.event_id).is_some_and(|d| d <= date));
            if failed_to_learn(done, fair) {
                spinning.insert((tr.student, *date));
            }
        }
    }
    let truth_of = |d: &super::DayTruth, kind: Kind| match kind {
        Kind::WheelSpinning => spinning.contains(&(d.student, d.date)),
        _ => d.behaviours.contains(&kind.as_str()),
    };
    let kinds = [
        Kind::RapidGuessing,
        Kind::Gaming,
        Kind::HintAbuse,
        Kind::GivingUp,
        Kind::Idle,
        Kind::WheelSpinning,
    ];
    let none = BTreeSet::new();
    let scores = kinds
        .iter()
        .map(|&kind| {
            let (mut truth, mut pred, mut both) = (0, 0, 0);
            for d in &out.days {
                let is = truth_of(d, kind);
                let got = flagged
                    .get(&(d.student, d.date))
                    .unwrap_or(&none)
                    .contains(&kind);
                truth += usize::from(is);
                pred += usize::from(got);
                both += usize::from(is && got);
            }
            let ratio = |a: usize, b: usize| {
                if b == 0 {
                    f64::NAN
                } else {
                    a as f64 / b as f64
                }
            };
            KindScore {
                kind: kind.as_str(),
                truth,
                flagged: pred,
                both,
                precision: ratio(both, pred),
                recall: ratio(both, truth),
            }
        })
        .collect();

    let diligent: BTreeSet<u32> = out
        .students
        .iter()
        .enumerate()
        .filter(|(_, s)| s.profile == Profile::Diligent)
        .map(|(i, _)| i as u32)
        .collect();
    let mut by_kind: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut by_profile: BTreeMap<&'static str, BTreeMap<&'static str, usize>> = BTreeMap::new();
    let (mut days_all, mut days_any, mut days_behaviour, mut days_false) = (0, 0, 0, 0);
    let mut per_date: BTreeMap<NaiveDate, (usize, usize, usize, usize)> = BTreeMap::new();
    let (mut ever_any, mut ever_behaviour, mut ever_false) =
        (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    for d in &out.days {
        let kinds = flagged.get(&(d.student, d.date)).unwrap_or(&none);
        let profile = out.students[d.student as usize].profile.as_str();
        for k in kinds {
            *by_profile
                .entry(profile)
                .or_default()
                .entry(k.as_str())
                .or_default() += 1;
        }
        if !diligent.contains(&d.student) {
            continue;
        }
        let any = !kinds.is_empty();
        let behaviour = kinds.iter().any(|k| *k != Kind::WheelSpinning);
        let false_flag = kinds.iter().any(|k| !truth_of(d, *k));
        days_all += 1;
        days_any += usize::from(any);
        days_behaviour += usize::from(behaviour);
        days_false += usize::from(false_flag);
        let e = per_date.entry(d.date).or_default();
        e.0 += 1;
        e.1 += usize::from(any);
        e.2 += usize::from(behaviour);
        e.3 += usize::from(false_flag);
        if false_flag {
            ever_false.insert(d.student);
        }
        if any {
            ever_any.insert(d.student);
        }
        if behaviour {
            ever_behaviour.insert(d.student);
        }
        for k in kinds {
            *by_kind.entry(k.as_str()).or_default() += 1;
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let stuck = stuck_score(out, episodes, &diligent, t);
    let worst = |f: fn(&(usize, usize, usize, usize)) -> usize| {
        per_date
            .values()
            .map(|v| ratio(f(v), v.0))
            .fold(0.0, f64::max)
    };
    SignalsQuality {
        seed: config.seed,
        students: config.students,
        school_days: config.days,
        student_days: out.days.len(),
        scores,
        diligent_students: diligent.len(),
        diligent_day_rate: ratio(days_any, days_all),
        diligent_worst_day_rate: worst(|v| v.1),
        diligent_students_ever_flagged: ratio(ever_any.len(), diligent.len()),
        diligent_behaviour_day_rate: ratio(days_behaviour, days_all),
        diligent_behaviour_worst_day_rate: worst(|v| v.2),
        diligent_behaviour_students_ever_flagged: ratio(ever_behaviour.len(), diligent.len()),
        diligent_false_day_rate: ratio(days_false, days_all),
        diligent_false_worst_day_rate: worst(|v| v.3),
        diligent_false_students_ever_flagged: ratio(ever_false.len(), diligent.len()),
        diligent_flags_by_kind: by_kind,
        flags_by_profile: by_profile,
        mastery,
        stuck,
    }
}

fn stuck_score(
    out: &Output,
    episodes: &[Vec<Episode>],
    diligent: &BTreeSet<u32>,
    t: &Thresholds,
) -> StuckScore {
    let flagged: HashSet<(u32, &str)> = episodes
        .iter()
        .enumerate()
        .flat_map(|(s, eps)| {
            eps.iter()
                .filter(|e| e.kind == Kind::WheelSpinning)
                .filter_map(move |e| Some((s as u32, e.skill_id.as_deref()?)))
        })
        .collect();
    let failing: Vec<(u32, &str)> = out
        .truth
        .iter()
        .filter(|tr| {
            failed_to_learn(
                &tr.steps,
                fair_tries(&out.skills[tr.skill as usize].params, t),
            )
        })
        .map(|tr| (tr.student, out.skills[tr.skill as usize].id.as_str()))
        .collect();
    let failing_students: BTreeSet<u32> = failing.iter().map(|(s, _)| *s).collect();
    let caught_students: BTreeSet<u32> = failing
        .iter()
        .filter(|p| flagged.contains(p))
        .map(|(s, _)| *s)
        .collect();
    let ever: BTreeSet<u32> = flagged.iter().map(|(s, _)| *s).collect();
    let ratio = |a: usize, b: usize| {
        if b == 0 {
            f64::NAN
        } else {
            a as f64 / b as f64
        }
    };
    StuckScore {
        diligent_ever_flagged: ratio(ever.intersection(diligent).count(), diligent.len()),
        diligent_failing: ratio(
            failing_students.intersection(diligent).count(),
            diligent.len(),
        ),
        failing_pairs: failing.len(),
        failing_pairs_flagged: ratio(
            failing.iter().filter(|p| flagged.contains(p)).count(),
            failing.len(),
        ),
        failing_students: failing_students.len(),
        failing_students_flagged: ratio(caught_students.len(), failing_students.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::ProfileMix;

    fn config(seed: u64, students: usize, days: u32) -> Config {
        Config {
            students,
            days,
            skills: 6,
            seed,
            // Enough items that nobody runs out within the days simulated.
            items_per_skill: 120,
            profiles: ProfileMix::mixed(),
            // Skills a diligent student learns within a few opportunities (2 to 3 on average),
            // so that the slow learners are the struggling profile (a quarter of the rate) and
            // a flag on a diligent student is a false alarm. docs/quality.md also gives the
            // figures with the simulator's default, harder skills (0.05–0.3).
            learn_range: (0.4, 0.7),
            ..Config::default()
        }
    }

    fn score_of<'a>(q: &'a SignalsQuality, kind: &str) -> &'a KindScore {
        q.scores
            .iter()
            .find(|s| s.kind == kind)
            .unwrap_or_else(|| panic!("no score for {kind}"))
    }

    /// The behaviour signals' quality targets (docs/quality.md), on a class small enough for a debug build.
    fn check(q: &SignalsQuality) {
        println!("{}", serde_json::to_string_pretty(q).unwrap_or_default());
        for kind in ["rapid_guessing", "gaming"] {
            let s = score_of(q, kind);
            assert!(s.truth > 0, "no {kind} in the truth");
            assert!(s.precision >= 0.90, "{kind} precision {}", s.precision);
            assert!(s.recall >= 0.85, "{kind} recall {}", s.recall);
        }
        // Flagged for anything, wheel-spinning included.
        assert!(
            q.diligent_worst_day_rate < 0.02,
            "diligent flagged: {}",
            q.diligent_worst_day_rate
        );
        for m in q
            .mastery
            .iter()
            // Rapid guessers; for gamers, whose quick answers are not all rapid, docs/quality.md
            // gives the figures (exclusion does not help them).
            .filter(|m| m.profile == "rapid_guesser")
        {
            assert!(
                m.mae_with_exclusion < m.mae_without_exclusion,
                "{}: {} vs {}",
                m.profile,
                m.mae_with_exclusion,
                m.mae_without_exclusion
            );
        }
    }

    /// The stuck flag's targets (docs/quality.md): fewer than 10% of diligent students ever
    /// flagged stuck, and at least 85% of the students who truly fail to learn a skill
    /// flagged stuck on it.
    fn check_stuck(q: &SignalsQuality) {
        let s = &q.stuck;
        println!("{}", serde_json::to_string_pretty(s).unwrap_or_default());
        assert!(s.failing_pairs > 0, "nobody fails to learn a skill");
        assert!(
            s.diligent_ever_flagged < 0.10,
            "diligent ever flagged stuck: {}",
            s.diligent_ever_flagged
        );
        assert!(
            s.failing_pairs_flagged >= 0.85,
            "failing skills flagged: {}",
            s.failing_pairs_flagged
        );
        assert!(
            s.failing_students_flagged >= 0.85,
            "failing students flagged: {}",
            s.failing_students_flagged
        );
    }

    /// The simulator's default skills (learning rates 0.05–0.3, those `huddle demo` uses).
    fn harder(c: Config) -> Config {
        Config {
            learn_range: Config::default().learn_range,
            ..c
        }
    }

    /// Four weeks (20 school days) of the simulator's mix of profiles, on the easy skills and
    /// on the simulator's default ones.
    #[test]
    fn stuck_over_four_weeks() {
        check_stuck(&measure(&config(7, 1000, 20), &Thresholds::default()));
        check_stuck(&measure(
            &harder(config(7, 1000, 20)),
            &Thresholds::default(),
        ));
    }

    /// The figures of docs/quality.md, "Stuck": three seeds of 2,000 students over four
    /// weeks, on the easy skills and on the simulator's default skills, targets checked.
    /// `cargo test --lib sim::signals_quality::tests::stuck_full_size -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn stuck_full_size() {
        let mut all = Vec::new();
        for (name, harder_skills) in [("easy skills", false), ("default skills", true)] {
            for seed in [1, 2, 3] {
                let c = config(seed, 2000, 20);
                let c = if harder_skills { harder(c) } else { c };
                let q = measure(&c, &Thresholds::default());
                let json = serde_json::to_string(&q.stuck).unwrap_or_default();
                println!("{name}, seed {seed}: {json}");
                all.push(q);
            }
        }
        for q in &all {
            check_stuck(q);
        }
    }

    #[test]
    fn signals_quality_on_a_small_simulated_school() {
        check(&measure(&config(11, 300, 15), &Thresholds::default()));
    }

    /// The figures of docs/quality.md:
    /// `cargo test --release --lib sim::signals_quality -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn signals_quality_full_size() {
        for seed in [1, 2, 3] {
            check(&measure(&config(seed, 2000, 30), &Thresholds::default()));
        }
    }

    /// The same school on the simulator's default skills, some of them hard (learning rates
    /// 0.05–0.3): diligent students then truly wheel-spin on them. Figures in docs/quality.md.
    #[test]
    #[ignore]
    fn signals_quality_with_harder_skills() {
        for seed in [1, 2, 3] {
            let q = measure(&harder(config(seed, 2000, 30)), &Thresholds::default());
            println!("{}", serde_json::to_string_pretty(&q).unwrap_or_default());
        }
    }
}
