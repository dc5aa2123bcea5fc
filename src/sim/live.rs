//! A class practising in real time, for `huddle demo --live`: each student answers every 20–40
//! seconds and moves between behaviours — working, doing well, stuck, guessing, skipping,
//! stopping — for a few minutes at a time, so the Now page has something to show.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::ingest::Outcome;

/// What a student is doing for the moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    Working,
    Strong,
    Stuck,
    Guessing,
    Skipping,
    Idle,
}

/// One simulated answer.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveAnswer {
    pub student: usize,
    pub at: i64,
    pub skill: usize,
    pub item: u32,
    pub outcome: Outcome,
    pub response_ms: i32,
    pub hints_used: i32,
    pub hint_bottom_out: bool,
}

struct Pupil {
    behaviour: Behaviour,
    until: i64,
    next_at: i64,
    skill: usize,
}

pub struct LiveClass {
    rng: StdRng,
    pupils: Vec<Pupil>,
    skills: usize,
}

const S: i64 = 1_000;

impl LiveClass {
    /// `students` students practising `skills` skills from `now` (ms).
    pub fn new(students: usize, skills: usize, seed: u64, now: i64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let skills = skills.max(1);
        let pupils = (0..students)
            .map(|_| Pupil {
                behaviour: Behaviour::Working,
                until: now + rng.random_range(30..180) * S,
                next_at: now + rng.random_range(1..30) * S,
                skill: rng.random_range(0..skills.min(3)),
            })
            .collect();
        LiveClass {
            rng,
            pupils,
            skills,
        }
    }

    /// The answers due by `now`, in time order.
    pub fn due(&mut self, now: i64) -> Vec<LiveAnswer> {
        let mut out = Vec::new();
        for i in 0..self.pupils.len() {
            while self.pupils[i].next_at <= now {
                if let Some(a) = self.step(i) {
                    out.push(a);
                }
            }
        }
        out.sort_by_key(|a| a.at);
        out
    }

    fn step(&mut self, i: usize) -> Option<LiveAnswer> {
        let rng = &mut self.rng;
        let p = &mut self.pupils[i];
        let at = p.next_at;
        if at >= p.until {
            // Mostly working; now and then a spell of something a teacher should see.
            p.behaviour = match rng.random_range(0..100) {
                0..=39 => Behaviour::Working,
                40..=59 => Behaviour::Strong,
                60..=71 => Behaviour::Stuck,
                72..=81 => Behaviour::Guessing,
                82..=89 => Behaviour::Skipping,
                _ => Behaviour::Idle,
            };
            p.until = at + rng.random_range(120..360) * S;
            if rng.random_bool(0.3) {
                p.skill = rng.random_range(0..self.skills);
            }
        }
        if p.behaviour == Behaviour::Idle {
            p.next_at = p.until;
            return None;
        }
        let (right, ms, hints, skip) = match p.behaviour {
            Behaviour::Strong => (0.9, 12_000..30_000, 0.0, 0.0),
            Behaviour::Stuck => (0.15, 20_000..60_000, 0.2, 0.0),
            Behaviour::Guessing => (0.25, 400..1_200, 0.0, 0.0),
            Behaviour::Skipping => (0.5, 3_000..10_000, 0.0, 0.6),
            _ => (0.65, 10_000..40_000, 0.1, 0.02),
        };
        let outcome = if rng.random_bool(skip) {
            Outcome::Skipped
        } else if rng.random_bool(right) {
            Outcome::Correct
        } else {
            Outcome::Incorrect
        };
        let response_ms = rng.random_range(ms);
        let hints_used = if rng.random_bool(hints) { 2 } else { 0 };
        let gap = if p.behaviour == Behaviour::Guessing {
            rng.random_range(5..12)
        } else {
            rng.random_range(20..40)
        };
        p.next_at = at + gap * S;
        Some(LiveAnswer {
            student: i,
            at,
            skill: p.skill,
            item: rng.random_range(1..=40),
            outcome,
            response_ms,
            hints_used,
            hint_bottom_out: hints_used > 0 && p.behaviour == Behaviour::Stuck,
        })
    }

    pub fn behaviour(&self, student: usize) -> Behaviour {
        self.pupils[student].behaviour
    }
}

/// The `i`-th skill of the simulated catalogue: (id, name, tool).
pub fn skill(i: usize) -> (String, String, String) {
    let (id, name, tool, _) = super::catalogue::skill(i);
    (id, name, tool)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_student_answers_and_behaviours_change_over_an_hour() {
        let start = 1_800_000_000_000;
        let mut class = LiveClass::new(25, 4, 7, start);
        let mut answers = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for minute in 1..=60 {
            answers.extend(class.due(start + minute * 60 * S));
            for s in 0..25 {
                seen.insert(format!("{:?}", class.behaviour(s)));
            }
        }
        let students: std::collections::HashSet<usize> =
            answers.iter().map(|a| a.student).collect();
        assert_eq!(students.len(), 25);
        assert!(seen.len() >= 5, "{seen:?}");
        // Roughly one answer per student every 20–40 s, fewer while idle.
        assert!((1_000..5_000).contains(&answers.len()), "{}", answers.len());
        assert!(answers.iter().any(|a| a.response_ms < 1_500));
        assert!(answers.iter().any(|a| a.outcome == Outcome::Skipped));
    }
}
