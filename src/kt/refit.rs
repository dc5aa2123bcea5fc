//! Refitting the skills' models from the students' histories: the opportunities each history
//! gives (the evidence rules), which skills have enough students, the fit of each, the guard
//! that keeps the model in use when a refit is no better, and which students' states the new
//! models change. The store gathers the histories and saves what this gives.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::evidence::{self, Attempt};
use super::fit::{fit_dataset, Dataset, FitOptions, SkillFit, SkillModel};
use super::guard::{self, Refusal};
use super::load::DatasetBuilder;

/// Settings of a refit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RefitOptions {
    /// A skill is refitted once this many students have answered it.
    pub min_students: usize,
    pub fit: FitOptions,
}

impl Default for RefitOptions {
    fn default() -> Self {
        RefitOptions {
            min_students: 50,
            fit: FitOptions::default(),
        }
    }
}

/// Adds one student's events on one skill (in time order) to `builder`: the opportunities the
/// evidence rules keep, rapid guesses left out, as the online path counts them.
pub fn push_history<'a>(
    builder: &mut DatasetBuilder,
    student: &str,
    skill: &str,
    attempts: impl IntoIterator<Item = Attempt<'a>>,
) {
    // Which answers are opportunities does not depend on the model.
    let replayed = evidence::replay(&SkillModel::default(), attempts);
    let kept = replayed.observations.iter().filter(|o| !o.excluded);
    for (i, o) in kept.enumerate() {
        builder.push(student, skill, o.correct, i as f64);
    }
}

/// What a refit gives.
#[derive(Debug)]
pub struct Refitted {
    /// The fits to apply.
    pub fits: Vec<SkillFit>,
    /// Fits not applied (non-finite, or worse on held-out students than the model in use).
    pub refused: Vec<Refusal>,
    /// Skills left on their current model: too few students, or no fit.
    pub skipped: usize,
    /// The students of the refitted skills, sorted: their states change.
    pub students: Vec<String>,
    /// The skills with enough students, as fitted (for measures of the new models).
    pub data: Dataset,
}

/// Fits each skill of `data` that at least `opts.min_students` students answered, keeping
/// those the guard lets through against the `current` models. One skill at a time, telling
/// `progress(skills fitted, skills to fit)` before the first and after each; seeds depend on
/// the skill id and the restart, not on the other skills, so the fits are those of all at once.
pub fn refit_skills(
    mut data: Dataset,
    current: &HashMap<String, SkillModel>,
    opts: &RefitOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Refitted {
    let before = data.skills.len();
    data.skills.retain(|s| s.sequences() >= opts.min_students);
    let too_few = before - data.skills.len();
    let total = data.skills.len();
    progress(0, total);
    let mut fits: Vec<SkillFit> = Vec::new();
    let mut refused = Vec::new();
    let all_skills = std::mem::take(&mut data.skills);
    let mut one = Dataset {
        students: std::mem::take(&mut data.students),
        skills: Vec::with_capacity(1),
    };
    for (i, skill) in all_skills.into_iter().enumerate() {
        one.skills.push(skill);
        for f in fit_dataset(&one, None, &opts.fit) {
            if !f.fitted {
                continue;
            }
            // The live service keeps its model unless the refit is finite and predicts
            // held-out students at least as well (kt::guard).
            let in_use = current.get(&f.skill_id).map(|m| &m.params);
            let fit = (&f.model.params, f.log_likelihood);
            match guard::check(&one.skills[0], fit, in_use, &opts.fit) {
                Some(r) => refused.push(r),
                None => fits.push(f),
            }
        }
        data.skills.append(&mut one.skills);
        progress(i + 1, total);
    }
    data.students = one.students;
    let fitted: HashSet<&str> = fits.iter().map(|f| f.skill_id.as_str()).collect();
    let mut students: BTreeSet<&str> = BTreeSet::new();
    for skill in data
        .skills
        .iter()
        .filter(|s| fitted.contains(s.skill_id.as_str()))
    {
        students.extend(
            skill
                .students
                .iter()
                .map(|&i| data.students[i as usize].as_str()),
        );
    }
    let students = students.into_iter().map(str::to_owned).collect();
    Refitted {
        skipped: too_few + data.skills.len() - fits.len() - refused.len(),
        fits,
        refused,
        students,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::Outcome;

    fn attempt(item: &'static str, minute: i64, outcome: Outcome) -> Attempt<'static> {
        Attempt {
            item_id: item,
            occurred_at: 1_763_000_000_000 + minute * 60_000,
            attempt: 1,
            outcome,
            hint_bottom_out: false,
            session_id: None,
            rapid_guess: false,
        }
    }

    #[test]
    fn a_history_gives_its_first_attempts_without_rapid_guesses() {
        let mut builder = DatasetBuilder::default();
        let rapid = Attempt {
            rapid_guess: true,
            ..attempt("c", 2, Outcome::Correct)
        };
        let history = [
            attempt("a", 0, Outcome::Incorrect),
            attempt("a", 1, Outcome::Correct), // the same item again: no opportunity
            rapid,
            attempt("d", 3, Outcome::Skipped),
        ];
        push_history(&mut builder, "s1", "k", history);
        let data = builder.finish();
        assert_eq!(data.skills.len(), 1);
        assert_eq!(data.skills[0].sequence(0), [0, 0]);
    }

    /// `n` students answering skill `skill`: right more often as they go.
    fn students(builder: &mut DatasetBuilder, skill: &str, n: usize) {
        for s in 0..n {
            let items = ["i0", "i1", "i2", "i3", "i4", "i5", "i6", "i7"];
            let history = items.iter().enumerate().map(|(k, item)| {
                let right = (s + k) % 3 != 0 || k > 4;
                let outcome = if right {
                    Outcome::Correct
                } else {
                    Outcome::Incorrect
                };
                attempt(item, k as i64, outcome)
            });
            push_history(builder, &format!("{skill}-s{s}"), skill, history);
        }
    }

    #[test]
    fn only_skills_with_enough_students_are_refitted_and_their_students_recomputed() {
        let mut builder = DatasetBuilder::default();
        students(&mut builder, "many", 40);
        students(&mut builder, "few", 3);
        let opts = RefitOptions {
            min_students: 10,
            ..RefitOptions::default()
        };
        let mut told = Vec::new();
        let r = refit_skills(
            builder.finish(),
            &HashMap::new(),
            &opts,
            &mut |done, total| told.push((done, total)),
        );
        assert_eq!(told, [(0, 1), (1, 1)]);
        let fitted: Vec<&str> = r.fits.iter().map(|f| f.skill_id.as_str()).collect();
        assert_eq!(fitted, ["many"], "refused: {:?}", r.refused);
        assert_eq!(r.skipped, 1);
        assert_eq!(r.students.len(), 40);
        assert!(r.students.iter().all(|s| s.starts_with("many-")));
        assert_eq!(r.data.skills.len(), 1);
    }
}
