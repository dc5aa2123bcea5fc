//! The classroom simulator: students whose hidden knowledge of each skill evolves by BKT
//! with known (true) parameters, practising in classes on school days, with response
//! times and hints; it emits practice events in the contract's wire shape and the ground
//! truth behind them. Deterministic for a seed.
//!
//! ```no_run
//! let out = huddle::sim::Simulation::new(huddle::sim::Config::default()).run();
//! println!("{} events", out.events.len());
//! ```

mod catalogue;
pub mod wire;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

use crate::kt::Params;

pub use wire::{PracticeEvent, TruthLine, TruthStep};

/// What to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub students: usize,
    /// School days (weekdays) of practice.
    pub days: u32,
    pub seed: u64,
    pub skills: usize,
    /// 0 = one class per 25 students.
    pub classes: usize,
    /// The first school day (moved to the next weekday if needed).
    pub start: NaiveDate,
    pub items_per_skill: usize,
    /// Skills a class practises each day; each gets a few items.
    pub skills_per_day: usize,
    pub items_per_session: (usize, usize),
    /// Chance that a student misses a day.
    pub absence: f64,
    /// Give skills a true forgetting rate (classic BKT has none).
    pub forgetting: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            students: 100,
            days: 20,
            seed: 1,
            skills: 6,
            classes: 0,
            start: NaiveDate::from_ymd_opt(2026, 9, 7).unwrap_or_default(),
            items_per_skill: 40,
            skills_per_day: 2,
            items_per_session: (4, 6),
            absence: 0.05,
            forgetting: false,
        }
    }
}

/// How a student behaves. Only diligent students for now; the behaviour-signals issue
/// adds rapid guessers, hint abusers and gamers (see `Simulation::first_attempt`, the
/// one place where a profile changes answers, times and hints).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Profile {
    #[default]
    Diligent,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Skill {
    pub id: String,
    pub name: String,
    pub tool: String,
    /// The true parameters the simulation uses.
    pub params: Params,
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub id: String,
    /// Median response time of a student who knows the skill, at speed 1.
    pub median_ms: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Student {
    pub id: String,
    pub class: usize,
    pub profile: Profile,
    /// Multiplies response times (log-normal around 1).
    pub speed: f64,
}

/// The simulator answers with the same outcomes the service ingests.
pub use crate::ingest::Outcome;

/// One event, compact (indices instead of strings); [`Output::wire`] gives the JSON shape.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Event {
    pub event_id: Uuid,
    pub at: DateTime<Utc>,
    pub student: u32,
    pub skill: u16,
    pub item: u16,
    pub session: u32,
    pub outcome: Outcome,
    pub attempt: u8,
    pub response_ms: u32,
    pub hints_used: u8,
    pub hint_bottom_out: bool,
}

/// The hidden truth of one opportunity (a first attempt).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    pub event_id: Uuid,
    /// The answer as evidence (after the evidence rules: skip / bottom-out = incorrect).
    pub correct: bool,
    /// Known when answering.
    pub known_before: bool,
    /// Known at the next opportunity (after learning or forgetting).
    pub known_after: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Truth {
    pub student: u32,
    pub skill: u16,
    pub known_at_start: bool,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub skills: Vec<Skill>,
    pub students: Vec<Student>,
    pub class_ids: Vec<String>,
    pub session_ids: Vec<String>,
    /// In time order.
    pub events: Vec<Event>,
    /// One per student and skill practised.
    pub truth: Vec<Truth>,
}

pub struct Simulation {
    config: Config,
}

/// A standard normal draw (Box–Muller); `rand_distr` is not needed for this much.
fn normal(rng: &mut StdRng) -> f64 {
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn lognormal(rng: &mut StdRng, sigma: f64) -> f64 {
    (sigma * normal(rng)).exp()
}

fn uuid(rng: &mut StdRng) -> Uuid {
    uuid::Builder::from_random_bytes(rng.random()).into_uuid()
}

fn school_days(start: NaiveDate, n: u32) -> Vec<NaiveDate> {
    let mut days = Vec::with_capacity(n as usize);
    let mut d = start;
    while days.len() < n as usize {
        if !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
            days.push(d);
        }
        d += Duration::days(1);
    }
    days
}

/// Per student and skill: hidden state and items not yet seen.
struct Progress {
    known: bool,
    next_item: usize,
    truth: usize,
}

impl Simulation {
    pub fn new(config: Config) -> Self {
        Simulation { config }
    }

    fn make_skills(&self, rng: &mut StdRng) -> Vec<Skill> {
        (0..self.config.skills.max(1))
            .map(|i| {
                let (id, name, tool, secs) = catalogue::skill(i);
                let params = Params {
                    prior: rng.random_range(0.1..0.5),
                    learn: rng.random_range(0.05..0.3),
                    guess: rng.random_range(0.1..0.3),
                    slip: rng.random_range(0.05..0.15),
                    forget: if self.config.forgetting {
                        rng.random_range(0.01..0.05)
                    } else {
                        0.0
                    },
                };
                let items = (0..self.config.items_per_skill.clamp(1, 999))
                    .map(|j| Item {
                        id: format!("{id}:{:03}", j + 1),
                        median_ms: secs * 1000.0 * lognormal(rng, 0.3),
                    })
                    .collect();
                Skill {
                    id,
                    name,
                    tool,
                    params,
                    items,
                }
            })
            .collect()
    }

    pub fn run(&self) -> Output {
        let c = &self.config;
        let mut rng = StdRng::seed_from_u64(c.seed);
        let skills = self.make_skills(&mut rng);
        let n_classes = if c.classes > 0 {
            c.classes
        } else {
            c.students.div_ceil(25).max(1)
        };
        let class_ids: Vec<String> = (0..n_classes)
            .map(|i| format!("class-{:02}", i + 1))
            .collect();
        let students: Vec<Student> = (0..c.students)
            .map(|i| Student {
                id: format!("stu-{:04}", i + 1),
                class: i % n_classes,
                profile: Profile::Diligent,
                speed: lognormal(&mut rng, 0.25),
            })
            .collect();
        // Each class works through the skills in its own order, a few skills a day, so every
        // skill comes back every few days (spaced practice).
        let class_order: Vec<Vec<usize>> = (0..n_classes)
            .map(|_| {
                let mut order: Vec<usize> = (0..skills.len()).collect();
                rand::seq::SliceRandom::shuffle(order.as_mut_slice(), &mut rng);
                order
            })
            .collect();
        let mut progress: Vec<Option<Progress>> =
            (0..students.len() * skills.len()).map(|_| None).collect();
        let mut out = Output {
            skills,
            students,
            class_ids,
            session_ids: Vec::new(),
            events: Vec::new(),
            truth: Vec::new(),
        };
        let per_day = c.skills_per_day.clamp(1, out.skills.len());
        let (lo, hi) = (
            c.items_per_session.0.max(1),
            c.items_per_session.1.max(c.items_per_session.0.max(1)),
        );
        for (d, day) in school_days(c.start, c.days).into_iter().enumerate() {
            for (s_idx, student) in out.students.iter().enumerate() {
                if rng.random_bool(c.absence.clamp(0.0, 1.0)) {
                    continue;
                }
                // Classes have their lesson in different periods of the morning.
                let period_min = 8 * 60 + 30 + (student.class % 5) as i64 * 55;
                let mut t = Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default())
                    + Duration::minutes(period_min)
                    + Duration::seconds(rng.random_range(0..300));
                let session = out.session_ids.len() as u32;
                out.session_ids
                    .push(format!("{:012x}", rng.random::<u64>() >> 16));
                let order = &class_order[student.class];
                for j in 0..per_day {
                    let k = order[(d * per_day + j) % order.len()];
                    let slot = s_idx * out.skills.len() + k;
                    let skill = &out.skills[k];
                    let p = &skill.params;
                    let prog = progress[slot].get_or_insert_with(|| {
                        let known = rng.random_bool(p.prior);
                        out.truth.push(Truth {
                            student: s_idx as u32,
                            skill: k as u16,
                            known_at_start: known,
                            steps: Vec::new(),
                        });
                        Progress {
                            known,
                            next_item: 0,
                            truth: out.truth.len() - 1,
                        }
                    });
                    for _ in 0..rng.random_range(lo..=hi) {
                        if prog.next_item >= skill.items.len() {
                            break; // every item seen: no new opportunity on this skill
                        }
                        let item = prog.next_item;
                        prog.next_item += 1;
                        let known_before = prog.known;
                        let first =
                            Self::first_attempt(&mut rng, student, skill, item, known_before);
                        let id = uuid(&mut rng);
                        out.events.push(Event {
                            event_id: id,
                            at: t,
                            student: s_idx as u32,
                            skill: k as u16,
                            item: item as u16,
                            session,
                            outcome: first.outcome,
                            attempt: 1,
                            response_ms: first.response_ms,
                            hints_used: first.hints_used,
                            hint_bottom_out: first.hint_bottom_out,
                        });
                        t += Duration::milliseconds(
                            first.response_ms as i64 + rng.random_range(2_000..12_000),
                        );
                        // A diligent student tries again after a wrong answer; retries are
                        // not opportunities (they show what the feedback taught).
                        if first.outcome == Outcome::Incorrect {
                            let ms =
                                (first.response_ms as f64 * 0.7 * lognormal(&mut rng, 0.3)) as u32;
                            let hints = u8::from(rng.random_bool(0.4));
                            out.events.push(Event {
                                event_id: uuid(&mut rng),
                                at: t,
                                student: s_idx as u32,
                                skill: k as u16,
                                item: item as u16,
                                session,
                                outcome: if rng.random_bool(if known_before { 0.9 } else { 0.5 }) {
                                    Outcome::Correct
                                } else {
                                    Outcome::Incorrect
                                },
                                attempt: 2,
                                response_ms: ms.clamp(500, 3_600_000),
                                hints_used: hints,
                                hint_bottom_out: false,
                            });
                            t += Duration::milliseconds(ms as i64 + rng.random_range(2_000..8_000));
                        }
                        prog.known = if prog.known {
                            !rng.random_bool(p.forget)
                        } else {
                            rng.random_bool(p.learn)
                        };
                        out.truth[prog.truth].steps.push(Step {
                            event_id: id,
                            correct: first.correct,
                            known_before,
                            known_after: prog.known,
                        });
                    }
                }
            }
        }
        // Stable: events of one student keep their order when times are equal.
        out.events.sort_by_key(|e| e.at);
        out
    }

    /// The first attempt at an item: BKT decides right or wrong from the hidden state;
    /// the profile decides how that shows (time, hints, skipping).
    fn first_attempt(
        rng: &mut StdRng,
        student: &Student,
        skill: &Skill,
        item: usize,
        known: bool,
    ) -> FirstAttempt {
        let p = &skill.params;
        let correct = if known {
            !rng.random_bool(p.slip)
        } else {
            rng.random_bool(p.guess)
        };
        match student.profile {
            Profile::Diligent => {
                let slow = if known { 1.0 } else { 1.4 };
                let ms = skill.items[item].median_ms * student.speed * slow * lognormal(rng, 0.4);
                let response_ms = (ms as u32).clamp(600, 3_600_000);
                if correct {
                    return FirstAttempt {
                        outcome: Outcome::Correct,
                        correct,
                        response_ms,
                        hints_used: u8::from(rng.random_bool(0.05)),
                        hint_bottom_out: false,
                    };
                }
                // A wrong answer may instead show as a skip or as a bottom-out hint
                // (the student enters the answer the hint gave away). Both count as
                // incorrect evidence, so the BKT answer stays what the evidence says.
                let r: f64 = rng.random();
                if r < 0.04 {
                    FirstAttempt {
                        outcome: Outcome::Skipped,
                        correct,
                        response_ms: response_ms / 3,
                        hints_used: 0,
                        hint_bottom_out: false,
                    }
                } else if r < 0.10 {
                    FirstAttempt {
                        outcome: Outcome::Correct,
                        correct,
                        response_ms: response_ms.saturating_mul(2).min(3_600_000),
                        hints_used: 3,
                        hint_bottom_out: true,
                    }
                } else {
                    FirstAttempt {
                        outcome: Outcome::Incorrect,
                        correct,
                        response_ms,
                        hints_used: u8::from(rng.random_bool(0.15)),
                        hint_bottom_out: false,
                    }
                }
            }
        }
    }
}

struct FirstAttempt {
    outcome: Outcome,
    /// What the answer says about knowledge (the evidence rules applied).
    correct: bool,
    response_ms: u32,
    hints_used: u8,
    hint_bottom_out: bool,
}

impl Output {
    /// Event `i` in the contract's JSON shape.
    pub fn wire(&self, e: &Event) -> PracticeEvent<'_> {
        let skill = &self.skills[e.skill as usize];
        let student = &self.students[e.student as usize];
        PracticeEvent {
            event_id: e.event_id,
            occurred_at: e.at,
            student_id: &student.id,
            class_id: &self.class_ids[student.class],
            skill_id: &skill.id,
            item_id: &skill.items[e.item as usize].id,
            outcome: e.outcome.as_str(),
            attempt: e.attempt as u32,
            response_ms: e.response_ms,
            hints_used: e.hints_used as u32,
            hint_bottom_out: e.hint_bottom_out,
            session_id: &self.session_ids[e.session as usize],
            skill_name: &skill.name,
            tool: &skill.tool,
        }
    }

    pub fn truth_line(&self, t: &Truth) -> TruthLine<'_> {
        let skill = &self.skills[t.skill as usize];
        let student = &self.students[t.student as usize];
        TruthLine {
            student_id: &student.id,
            class_id: &self.class_ids[student.class],
            skill_id: &skill.id,
            params: skill.params,
            known_at_start: t.known_at_start,
            steps: t
                .steps
                .iter()
                .map(|s| TruthStep {
                    event_id: s.event_id,
                    correct: s.correct,
                    known_before: s.known_before,
                    known_after: s.known_after,
                })
                .collect(),
        }
    }

    /// Opportunities (first attempts) in time order as `kt` CSV rows:
    /// (student_id, skill_id, correct, order), with the evidence rules applied.
    pub fn kt_rows(&self) -> impl Iterator<Item = (&str, &str, bool, usize)> + '_ {
        self.events
            .iter()
            .filter(|e| e.attempt == 1)
            .enumerate()
            .map(|(i, e)| {
                let w = self.wire(e);
                (
                    w.student_id,
                    w.skill_id,
                    crate::kt::observation_outcome(w.outcome, w.hint_bottom_out),
                    i,
                )
            })
    }
}

pub mod quality;
#[cfg(test)]
mod tests;
