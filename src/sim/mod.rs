//! The classroom simulator: students whose hidden knowledge of each skill evolves by BKT
//! with known (true) parameters, practising in classes on school days, with response
//! times and hints; it emits practice events in the contract's wire shape and the ground
//! truth behind them. Deterministic for a seed.
//!
//! ```no_run
//! let out = huddle::sim::Simulation::new(huddle::sim::Config::default()).run();
//! println!("{} events", out.events.len());
//! ```

pub mod catalogue;
pub mod district;
pub mod live;
pub mod wire;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

use crate::kt::Params;

pub use wire::{DayLine, TruthLine, TruthStep};

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
    /// How many students of each behaviour profile (default: all diligent).
    pub profiles: ProfileMix,
    /// The range the skills' true learning rates are drawn from (per opportunity).
    pub learn_range: (f64, f64),
    /// A change of one skill's true parameters from a given school day on (model drift).
    pub drift: Option<Drift>,
    /// Besides the mix, this many students of each class are wheel spinners
    /// ([`Profile::WheelSpinner`]): the class's first students who drew diligent.
    pub wheel_spinners_per_class: usize,
}

/// From school day `day` (0-based) on, skill `skill` (its index) behaves differently: a new
/// item bank that is easier to guess, trickier for those who know (more slips) and teaches
/// less (guess +0.25, at most 0.45; slip +0.15, at most 0.4; learn ×0.3).
/// The model fitted before the change then predicts worse (docs/reports.md, "Model health").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drift {
    pub skill: usize,
    pub day: u32,
}

impl Drift {
    /// `SKILL_INDEX@DAY`, e.g. `2@20`.
    pub fn parse(s: &str) -> Result<Drift, String> {
        let (skill, day) = s
            .split_once('@')
            .ok_or_else(|| format!("{s:?}: use SKILL_INDEX@DAY, e.g. 2@20"))?;
        Ok(Drift {
            skill: skill
                .trim()
                .parse()
                .map_err(|_| format!("{skill:?} is not a skill index"))?,
            day: day
                .trim()
                .parse()
                .map_err(|_| format!("{day:?} is not a day number"))?,
        })
    }

    /// The parameters after the change.
    pub fn apply(&self, p: Params) -> Params {
        Params {
            guess: (p.guess + 0.25).min(0.45),
            slip: (p.slip + 0.15).min(0.4),
            learn: p.learn * 0.3,
            ..p
        }
    }
}

impl Config {
    /// Whether some students are not diligent (then each school day's truth is kept).
    fn has_profiles(&self) -> bool {
        !self.profiles.only_diligent() || self.wheel_spinners_per_class > 0
    }
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
            profiles: ProfileMix::diligent(),
            learn_range: (0.05, 0.3),
            drift: None,
            wheel_spinners_per_class: 0,
        }
    }
}

/// How a student behaves. Diligent students answer at their own pace and retry after a
/// wrong answer; the others misbehave on some days (see `Profile::acts_on`) and behave
/// diligently on the rest. The behaviours follow the research the detectors follow
/// (docs/signals.md), so that the detectors can be measured against the truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash, PartialOrd, Ord)]
pub enum Profile {
    #[default]
    Diligent,
    /// Diligent, but knows less and learns slowly (lower prior and learning rate).
    Struggling,
    /// On most days, answers most items far too fast to have read them; a guess is right
    /// one time in four and teaches nothing.
    RapidGuesser,
    /// On most days, clicks through every hint to the answer.
    HintAbuser,
    /// In some sessions only: fast guesses, then quick retries until right (guess-and-check).
    Gamer,
    /// Skips what they don't know and leaves the session after a couple of errors.
    GiverUpper,
    /// Practises diligently for a while, then stops practising altogether.
    Idle,
    /// Diligent, but stuck on one skill: does not know it and learns nothing from practising
    /// it, while the tool keeps serving it: 2–3 more of its items every day, until they run
    /// out. The skill is one of the two the others learn fastest (in turn), whose usual number
    /// of tries (the stuck flag waits for it) is the likeliest to fit in the skill's items.
    WheelSpinner,
}

impl Profile {
    pub const ALL: [Profile; 8] = [
        Profile::Diligent,
        Profile::Struggling,
        Profile::RapidGuesser,
        Profile::HintAbuser,
        Profile::Gamer,
        Profile::GiverUpper,
        Profile::Idle,
        Profile::WheelSpinner,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Diligent => "diligent",
            Profile::Struggling => "struggling",
            Profile::RapidGuesser => "rapid_guesser",
            Profile::HintAbuser => "hint_abuser",
            Profile::Gamer => "gamer",
            Profile::GiverUpper => "giver_upper",
            Profile::Idle => "idle",
            Profile::WheelSpinner => "wheel_spinner",
        }
    }

    pub fn parse(s: &str) -> Option<Profile> {
        Profile::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// The share of school days on which the profile shows its behaviour.
    fn acts_on(self) -> f64 {
        match self {
            Profile::RapidGuesser | Profile::HintAbuser => 0.7,
            Profile::Gamer => 0.4,
            Profile::GiverUpper => 1.0,
            _ => 0.0,
        }
    }
}

/// Relative weights of the profiles among the students.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileMix(pub Vec<(Profile, u32)>);

impl ProfileMix {
    pub fn diligent() -> Self {
        ProfileMix(vec![(Profile::Diligent, 1)])
    }

    /// A plausible class: mostly diligent, a few of each other profile.
    pub fn mixed() -> Self {
        ProfileMix(vec![
            (Profile::Diligent, 55),
            (Profile::Struggling, 12),
            (Profile::RapidGuesser, 8),
            (Profile::HintAbuser, 7),
            (Profile::Gamer, 8),
            (Profile::GiverUpper, 5),
            (Profile::Idle, 5),
        ])
    }

    /// `mixed`, `diligent`, or `name=weight,...` (e.g. `diligent=80,gamer=20`).
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "mixed" => return Ok(ProfileMix::mixed()),
            "diligent" => return Ok(ProfileMix::diligent()),
            _ => {}
        }
        let mut mix = Vec::new();
        for part in s.split(',').filter(|p| !p.trim().is_empty()) {
            let (name, weight) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?}: use name=weight"))?;
            let profile = Profile::parse(name.trim()).ok_or_else(|| {
                let names: Vec<&str> = Profile::ALL.iter().map(|p| p.as_str()).collect();
                format!("unknown profile {name:?}: use one of {}", names.join(", "))
            })?;
            let weight: u32 = weight
                .trim()
                .parse()
                .map_err(|_| format!("{part:?}: the weight must be a whole number"))?;
            mix.push((profile, weight));
        }
        if mix.iter().all(|(_, w)| *w == 0) {
            return Err("the profile weights add up to zero".into());
        }
        Ok(ProfileMix(mix))
    }

    fn only_diligent(&self) -> bool {
        self.0
            .iter()
            .all(|(p, w)| *p == Profile::Diligent || *w == 0)
    }

    /// The profile of student `i` of `n`: weights turned into counts, in a shuffled order.
    fn assign(&self, n: usize, rng: &mut StdRng) -> Vec<Profile> {
        let total: u32 = self.0.iter().map(|(_, w)| w).sum();
        let mut out = Vec::with_capacity(n);
        for (p, w) in &self.0 {
            let k = (n as f64 * f64::from(*w) / f64::from(total.max(1))).round() as usize;
            out.extend(std::iter::repeat_n(*p, k));
        }
        out.resize(n, Profile::Diligent);
        rand::seq::SliceRandom::shuffle(out.as_mut_slice(), rng);
        out
    }
}

/// What a student did on one school day (the ground truth of the behaviour detectors).
#[derive(Debug, Clone, PartialEq)]
pub struct DayTruth {
    pub student: u32,
    pub date: NaiveDate,
    pub practised: bool,
    /// Flag kinds the student's behaviour that day should raise (e.g. `rapid_guessing`).
    pub behaviours: Vec<&'static str>,
}

/// One answer to an item.
struct Act {
    outcome: Outcome,
    attempt: u8,
    response_ms: u32,
    hints_used: u8,
    hint_bottom_out: bool,
}

/// What misbehaving on one item did, besides the answers.
struct Misbehaved {
    acts: Vec<Act>,
    /// Answers far faster than reading allows.
    rapid: u32,
    /// Guess-and-check: quick retries until right.
    gamed: bool,
    hint_abused: bool,
    skipped: bool,
    /// Whether the item could teach anything (a guess does not).
    engaged: bool,
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
    /// The problem, its answer and the wrong answers students give.
    pub text: catalogue::ItemText,
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
    /// The student gave the item a real try (not a guess that could teach nothing).
    pub engaged: bool,
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
    /// One per student and school day.
    pub days: Vec<DayTruth>,
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
#[derive(Clone, Copy)]
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
                    learn: rng.random_range(self.config.learn_range.0..self.config.learn_range.1),
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
                        text: catalogue::item(&id, j),
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
        // Behaviours draw from a stream of their own, so that they leave the main stream's
        // draws alone: an all-diligent run draws nothing from it.
        let mut brng = StdRng::seed_from_u64(c.seed ^ 0x5eed_b0e4_a710_0000);
        let skills = self.make_skills(&mut rng);
        let world = World::new(c, skills, &mut rng, &mut brng);
        let mut run = Run::new(c, &world, rng, brng);
        for (d, day) in school_days(c.start, c.days).into_iter().enumerate() {
            for s in 0..world.students.len() {
                run.school_day(d, day, s);
            }
        }
        let mut record = run.record;
        // Stable: events of one student keep their order when times are equal.
        record.events.sort_by_key(|e| e.at);
        Output {
            skills: world.skills,
            students: world.students,
            class_ids: world.class_ids,
            session_ids: record.session_ids,
            events: record.events,
            truth: record.truth,
            days: record.days,
        }
    }

    /// How a misbehaving student answers an item; None when they answer it diligently.
    fn misbehave(
        rng: &mut StdRng,
        student: &Student,
        skill: &Skill,
        item: usize,
        known: bool,
    ) -> Option<Misbehaved> {
        let median = skill.items[item].median_ms * student.speed;
        let ms = |rng: &mut StdRng, lo: f64, hi: f64| -> u32 {
            ((median * rng.random_range(lo..hi)) as u32).clamp(150, 3_600_000)
        };
        let answer = |correct: bool| {
            if correct {
                Outcome::Correct
            } else {
                Outcome::Incorrect
            }
        };
        let act = |outcome, attempt, response_ms| Act {
            outcome,
            attempt,
            response_ms,
            hints_used: 0,
            hint_bottom_out: false,
        };
        let m = |acts, rapid, engaged| Misbehaved {
            acts,
            rapid,
            gamed: false,
            hint_abused: false,
            skipped: false,
            engaged,
        };
        match student.profile {
            Profile::RapidGuesser if rng.random_bool(0.8) => {
                // Far under a tenth of the item's time; right one time in four.
                let right = rng.random_bool(0.25);
                Some(m(
                    vec![act(answer(right), 1, ms(rng, 0.02, 0.08))],
                    1,
                    false,
                ))
            }
            Profile::Gamer if rng.random_bool(0.85) => {
                // A fast guess (half of them rapid), then quick retries until right.
                let rapid = rng.random_bool(0.5);
                let first_ms = if rapid {
                    ms(rng, 0.02, 0.08)
                } else {
                    ms(rng, 0.12, 0.3)
                };
                let right = rng.random_bool(if known { 0.5 } else { 0.25 });
                let mut acts = vec![act(answer(right), 1, first_ms)];
                if !right {
                    let retries = rng.random_range(1..=3u8);
                    for r in 0..retries {
                        let last = r + 1 == retries;
                        acts.push(act(answer(last), r + 2, ms(rng, 0.05, 0.25)));
                    }
                }
                let gamed = acts.len() > 1;
                let mut out = m(acts, u32::from(rapid), false);
                out.gamed = gamed;
                Some(out)
            }
            Profile::HintAbuser if rng.random_bool(0.8) => {
                // Every hint, one after the other, then the answer the last one gave away.
                let hints = rng.random_range(3..=4u8);
                let per_hint = rng.random_range(300..1_200u32);
                let mut out = m(
                    vec![Act {
                        outcome: Outcome::Correct,
                        attempt: 1,
                        response_ms: per_hint * u32::from(hints),
                        hints_used: hints,
                        hint_bottom_out: true,
                    }],
                    0,
                    true,
                );
                out.hint_abused = true;
                Some(out)
            }
            Profile::GiverUpper if !known && rng.random_bool(0.5) => {
                let mut out = m(vec![act(Outcome::Skipped, 1, ms(rng, 0.1, 0.4))], 0, true);
                out.skipped = true;
                Some(out)
            }
            _ => None,
        }
    }

    /// The first attempt at an item: BKT decides right or wrong from the hidden state;
    /// the profile decides how that shows (time, hints, skipping).
    fn first_attempt(
        rng: &mut StdRng,
        student: &Student,
        skill: &Skill,
        p: &Params,
        item: usize,
        known: bool,
    ) -> FirstAttempt {
        let correct = if known {
            !rng.random_bool(p.slip)
        } else {
            rng.random_bool(p.guess)
        };
        let slow = if known { 1.0 } else { 1.4 };
        let ms = skill.items[item].median_ms * student.speed * slow * lognormal(rng, 0.4);
        let response_ms = (ms as u32).clamp(600, 3_600_000);
        let act = |outcome, response_ms, hints_used, hint_bottom_out| Act {
            outcome,
            attempt: 1,
            response_ms,
            hints_used,
            hint_bottom_out,
        };
        if correct {
            let hints = u8::from(rng.random_bool(0.05));
            return FirstAttempt {
                act: act(Outcome::Correct, response_ms, hints, false),
                correct,
            };
        }
        // A wrong answer may instead show as a skip or as a bottom-out hint (the student
        // enters the answer the hint gave away). Both count as incorrect evidence, so the BKT
        // answer stays what the evidence says.
        let r: f64 = rng.random();
        let act = if r < 0.04 {
            act(Outcome::Skipped, response_ms / 3, 0, false)
        } else if r < 0.10 {
            let slower = response_ms.saturating_mul(2).min(3_600_000);
            act(Outcome::Correct, slower, 3, true)
        } else {
            let hints = u8::from(rng.random_bool(0.15));
            act(Outcome::Incorrect, response_ms, hints, false)
        };
        FirstAttempt { act, correct }
    }
}

struct FirstAttempt {
    act: Act,
    /// What the answer says about knowledge (the evidence rules applied).
    correct: bool,
}

/// What stays as it is through a run: the skills, the students, their classes and plans.
struct World {
    skills: Vec<Skill>,
    students: Vec<Student>,
    class_ids: Vec<String>,
    /// Each class works through the skills in its own order, a few skills a day, so every
    /// skill comes back every few days (spaced practice).
    class_order: Vec<Vec<usize>>,
    /// Idle students stop practising after a while: from this school day on.
    stops: Vec<u32>,
    /// The skill each wheel spinner is stuck on.
    stuck_on: Vec<Option<usize>>,
}

impl World {
    fn new(c: &Config, skills: Vec<Skill>, rng: &mut StdRng, brng: &mut StdRng) -> Self {
        let n_classes = if c.classes > 0 {
            c.classes
        } else {
            c.students.div_ceil(25).max(1)
        };
        let class_ids = (0..n_classes)
            .map(|i| format!("class-{:02}", i + 1))
            .collect();
        let mut profiles = if c.profiles.only_diligent() {
            vec![Profile::Diligent; c.students]
        } else {
            c.profiles.assign(c.students, brng)
        };
        place_wheel_spinners(&mut profiles, n_classes, c.wheel_spinners_per_class);
        let students: Vec<Student> = (0..c.students)
            .map(|i| Student {
                id: format!("stu-{:04}", i + 1),
                class: i % n_classes,
                profile: profiles[i],
                speed: lognormal(rng, 0.25),
            })
            .collect();
        let stops = students
            .iter()
            .map(|s| match s.profile {
                Profile::Idle => (f64::from(c.days) * brng.random_range(0.3..0.6)).round() as u32,
                _ => u32::MAX,
            })
            .collect();
        // The two skills learnt fastest, taken in turn: each skill's fit stays mostly
        // learners' answers.
        let mut fastest: Vec<usize> = (0..skills.len()).collect();
        fastest.sort_by(|a, b| skills[*b].params.learn.total_cmp(&skills[*a].params.learn));
        fastest.truncate(2);
        let mut spinners = 0;
        let stuck_on = students
            .iter()
            .map(|s| {
                (s.profile == Profile::WheelSpinner).then(|| {
                    spinners += 1;
                    fastest[(spinners - 1) % fastest.len()]
                })
            })
            .collect();
        let class_order = (0..n_classes)
            .map(|_| {
                let mut order: Vec<usize> = (0..skills.len()).collect();
                rand::seq::SliceRandom::shuffle(order.as_mut_slice(), rng);
                order
            })
            .collect();
        World {
            skills,
            students,
            class_ids,
            class_order,
            stops,
            stuck_on,
        }
    }
}

/// The first `n` students of each class (student `i` is in class `i % classes`) who drew
/// diligent become wheel spinners.
fn place_wheel_spinners(profiles: &mut [Profile], classes: usize, n: usize) {
    let mut placed = vec![0; classes.max(1)];
    for (i, p) in profiles.iter_mut().enumerate() {
        let class = i % placed.len();
        if *p == Profile::Diligent && placed[class] < n {
            *p = Profile::WheelSpinner;
            placed[class] += 1;
        }
    }
}

/// Everything a run has recorded so far.
#[derive(Default)]
struct Record {
    session_ids: Vec<String>,
    events: Vec<Event>,
    truth: Vec<Truth>,
    days: Vec<DayTruth>,
}

/// A run under way: its random streams, each student's progress, and the record.
struct Run<'w> {
    config: &'w Config,
    world: &'w World,
    rng: StdRng,
    brng: StdRng,
    /// Per student × skill, from the first time the student meets the skill.
    progress: Vec<Option<Progress>>,
    last_practice: Vec<Option<NaiveDate>>,
    /// Skills a class practises each day.
    per_day: usize,
    /// Items per skill in a session, at least and at most.
    items: (usize, usize),
    record: Record,
}

/// A student's practice session on one school day: its clock, and what their behaviour in it
/// amounted to (the ground truth of the behaviour detectors).
struct Session {
    id: u32,
    /// When the next answer is given.
    at: DateTime<Utc>,
    /// Whether the student shows their profile's behaviour today.
    acting: bool,
    rapid: u32,
    gamed: u32,
    hints_abused: u32,
    skips: u32,
    abandoned: bool,
    errors_in_row: u32,
}

impl Session {
    /// The flag kinds the session should raise.
    fn behaviours(&self) -> impl Iterator<Item = &'static str> {
        [
            (self.rapid >= 3, "rapid_guessing"),
            (self.gamed >= 2, "gaming"),
            (self.hints_abused >= 2, "hint_abuse"),
            (self.skips >= 2 || self.abandoned, "giving_up"),
        ]
        .into_iter()
        .filter_map(|(shown, kind)| shown.then_some(kind))
    }
}

/// Whom and what an answer is about.
#[derive(Clone, Copy)]
struct Place {
    student: u32,
    skill: u16,
    item: u16,
    session: u32,
}

impl Place {
    fn event(self, event_id: Uuid, at: DateTime<Utc>, act: &Act) -> Event {
        Event {
            event_id,
            at,
            student: self.student,
            skill: self.skill,
            item: self.item,
            session: self.session,
            outcome: act.outcome,
            attempt: act.attempt,
            response_ms: act.response_ms,
            hints_used: act.hints_used,
            hint_bottom_out: act.hint_bottom_out,
        }
    }
}

/// Idle once three whole school days have gone by without practice (the definition:
/// docs/signals.md).
fn idle_on(day: NaiveDate, last_practice: Option<NaiveDate>) -> bool {
    let noon = |d: NaiveDate| {
        Utc.from_utc_datetime(&d.and_hms_opt(12, 0, 0).unwrap_or_default())
            .timestamp_millis()
    };
    last_practice.is_some_and(|l| crate::signals::school_days_between(noon(l), noon(day)) >= 3)
}

fn midnight(day: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default())
}

impl<'w> Run<'w> {
    fn new(config: &'w Config, world: &'w World, rng: StdRng, brng: StdRng) -> Self {
        let lo = config.items_per_session.0.max(1);
        Run {
            config,
            world,
            rng,
            brng,
            progress: vec![None; world.students.len() * world.skills.len()],
            last_practice: vec![None; world.students.len()],
            per_day: config.skills_per_day.clamp(1, world.skills.len()),
            items: (lo, config.items_per_session.1.max(lo)),
            record: Record::default(),
        }
    }

    /// Student `s` on school day `d` (`day`): absent, stopped for good, or practising.
    fn school_day(&mut self, d: usize, day: NaiveDate, s: usize) {
        let (c, world) = (self.config, self.world);
        let student = &world.students[s];
        let mut truth = DayTruth {
            student: s as u32,
            date: day,
            practised: false,
            behaviours: Vec::new(),
        };
        let absent = self.rng.random_bool(c.absence.clamp(0.0, 1.0));
        if absent || d as u32 >= world.stops[s] {
            if idle_on(day, self.last_practice[s]) {
                truth.behaviours.push("idle");
            }
        } else {
            let events_before = self.record.events.len();
            let mut session = self.start_session(day, student);
            let order = &world.class_order[student.class];
            let (items, mut stayed) = (self.items, true);
            for j in 0..self.per_day {
                let k = order[(d * self.per_day + j) % order.len()];
                stayed = self.practise_skill(&mut session, d, s, k, items);
                if !stayed {
                    break;
                }
            }
            // The tool keeps serving the skill a wheel spinner has not learnt.
            if let Some(k) = world.stuck_on[s].filter(|_| stayed) {
                self.practise_skill(&mut session, d, s, k, (2, 3));
            }
            // A student who has met every item has nothing left to practise.
            truth.practised = self.record.events.len() > events_before;
            if truth.practised {
                self.last_practice[s] = Some(day);
            } else if idle_on(day, self.last_practice[s]) {
                truth.behaviours.push("idle");
            }
            truth.behaviours.extend(session.behaviours());
        }
        if c.has_profiles() {
            self.record.days.push(truth);
        }
    }

    fn start_session(&mut self, day: NaiveDate, student: &Student) -> Session {
        let acts_on = student.profile.acts_on();
        let acting = acts_on > 0.0 && self.brng.random_bool(acts_on);
        // Classes have their lesson in different periods of the morning.
        let period_min = 8 * 60 + 30 + (student.class % 5) as i64 * 55;
        let at = midnight(day)
            + Duration::minutes(period_min)
            + Duration::seconds(self.rng.random_range(0..300));
        let id = self.record.session_ids.len() as u32;
        self.record
            .session_ids
            .push(format!("{:012x}", self.rng.random::<u64>() >> 16));
        Session {
            id,
            at,
            acting,
            rapid: 0,
            gamed: 0,
            hints_abused: 0,
            skips: 0,
            abandoned: false,
            errors_in_row: 0,
        }
    }

    /// Skill `k` in student `s`'s session: `items` (at least, at most) items not met before,
    /// each answered. False when the student gave up and left the session.
    fn practise_skill(
        &mut self,
        session: &mut Session,
        d: usize,
        s: usize,
        k: usize,
        items: (usize, usize),
    ) -> bool {
        let world = self.world;
        let (student, skill) = (&world.students[s], &world.skills[k]);
        let stuck = world.stuck_on[s] == Some(k);
        let p = true_params(self.config, student, skill, k, d, stuck);
        let slot = s * world.skills.len() + k;
        let mut prog = match self.progress[slot] {
            Some(prog) => prog,
            None => self.meet(s, k, p.prior),
        };
        let mut stayed = true;
        for _ in 0..self.rng.random_range(items.0..=items.1) {
            if prog.next_item >= skill.items.len() {
                break; // every item seen: no new opportunity on this skill
            }
            let item = prog.next_item;
            prog.next_item += 1;
            let known_before = prog.known;
            let place = Place {
                student: s as u32,
                skill: k as u16,
                item: item as u16,
                session: session.id,
            };
            let (id, correct, engaged) = self.answer(session, place, &p, known_before);
            if engaged {
                prog.known = if prog.known {
                    !self.rng.random_bool(p.forget)
                } else {
                    self.rng.random_bool(p.learn)
                };
            }
            self.record.truth[prog.truth].steps.push(Step {
                event_id: id,
                correct,
                known_before,
                known_after: prog.known,
                engaged,
            });
            session.errors_in_row = if correct {
                0
            } else {
                session.errors_in_row + 1
            };
            if student.profile == Profile::GiverUpper
                && session.errors_in_row >= 2
                && self.brng.random_bool(0.6)
            {
                session.abandoned = true;
                stayed = false;
                break;
            }
        }
        self.progress[slot] = Some(prog);
        stayed
    }

    /// The first time student `s` meets skill `k`: whether they know it already.
    fn meet(&mut self, s: usize, k: usize, prior: f64) -> Progress {
        let known = self.rng.random_bool(prior);
        self.record.truth.push(Truth {
            student: s as u32,
            skill: k as u16,
            known_at_start: known,
            steps: Vec::new(),
        });
        Progress {
            known,
            next_item: 0,
            truth: self.record.truth.len() - 1,
        }
    }

    /// The answers to one new item (as events), and the first attempt's id, whether it was
    /// right as evidence, and whether the student engaged with the item.
    fn answer(
        &mut self,
        session: &mut Session,
        place: Place,
        p: &Params,
        known: bool,
    ) -> (Uuid, bool, bool) {
        let world = self.world;
        let student = &world.students[place.student as usize];
        let skill = &world.skills[place.skill as usize];
        let item = place.item as usize;
        let misbehaved = if session.acting || student.profile == Profile::GiverUpper {
            Simulation::misbehave(&mut self.brng, student, skill, item, known)
        } else {
            None
        };
        let id = uuid(&mut self.rng);
        let Some(m) = misbehaved else {
            let correct = self.answer_diligently(session, place, id, p, known);
            return (id, correct, true);
        };
        session.rapid += m.rapid;
        session.gamed += u32::from(m.gamed);
        session.hints_abused += u32::from(m.hint_abused);
        session.skips += u32::from(m.skipped);
        for (n, act) in m.acts.iter().enumerate() {
            let event_id = if n == 0 { id } else { uuid(&mut self.brng) };
            self.record
                .events
                .push(place.event(event_id, session.at, act));
            session.at += Duration::milliseconds(
                act.response_ms as i64 + self.brng.random_range(1_000..4_000),
            );
        }
        let first = &m.acts[0];
        let correct = crate::kt::observation_outcome(first.outcome, first.hint_bottom_out);
        (id, correct, m.engaged)
    }

    /// A diligent student's answers: the first attempt as BKT decides, and after a wrong one
    /// a retry (retries are not opportunities: they show what the feedback taught). Whether
    /// the first was right as evidence.
    fn answer_diligently(
        &mut self,
        session: &mut Session,
        place: Place,
        id: Uuid,
        p: &Params,
        known: bool,
    ) -> bool {
        let world = self.world;
        let student = &world.students[place.student as usize];
        let skill = &world.skills[place.skill as usize];
        let first =
            Simulation::first_attempt(&mut self.rng, student, skill, p, place.item as usize, known);
        self.record
            .events
            .push(place.event(id, session.at, &first.act));
        session.at += Duration::milliseconds(
            first.act.response_ms as i64 + self.rng.random_range(2_000..12_000),
        );
        if first.act.outcome == Outcome::Incorrect {
            let ms = (first.act.response_ms as f64 * 0.7 * lognormal(&mut self.rng, 0.3)) as u32;
            let hints_used = u8::from(self.rng.random_bool(0.4));
            let retry_id = uuid(&mut self.rng);
            let right = self.rng.random_bool(if known { 0.9 } else { 0.5 });
            let retry = Act {
                outcome: if right {
                    Outcome::Correct
                } else {
                    Outcome::Incorrect
                },
                attempt: 2,
                response_ms: ms.clamp(500, 3_600_000),
                hints_used,
                hint_bottom_out: false,
            };
            self.record
                .events
                .push(place.event(retry_id, session.at, &retry));
            session.at += Duration::milliseconds(ms as i64 + self.rng.random_range(2_000..8_000));
        }
        first.correct
    }
}

/// The true parameters of `skill` (index `k`) for `student` on school day `d`: a struggling
/// student starts lower and learns slowly; a wheel spinner neither knows nor learns the skill
/// they are `stuck` on; a drift changes the skill from its day on.
fn true_params(
    c: &Config,
    student: &Student,
    skill: &Skill,
    k: usize,
    d: usize,
    stuck: bool,
) -> Params {
    let p = if stuck {
        Params {
            prior: 0.0,
            learn: 0.0,
            ..skill.params
        }
    } else if student.profile == Profile::Struggling {
        Params {
            prior: skill.params.prior * 0.3,
            learn: skill.params.learn * 0.25,
            ..skill.params
        }
    } else {
        skill.params
    };
    match c.drift {
        Some(drift) if drift.skill == k && d as u32 >= drift.day => drift.apply(p),
        _ => p,
    }
}

impl Output {
    /// `e` as a tool sends it: the practice event of the contract (it serialises to one line
    /// of `events.jsonl`).
    pub fn wire(&self, e: &Event) -> crate::ingest::Event {
        let skill = &self.skills[e.skill as usize];
        let student = &self.students[e.student as usize];
        let item = &skill.items[e.item as usize].text;
        // Which wrong answer: a byte of the (random) event id, so the simulation's own draws
        // are the same with answers as without.
        let response = match e.outcome {
            Outcome::Correct => Some(item.answer.as_str()),
            Outcome::Incorrect => Some(catalogue::wrong_answer(item, e.event_id.as_bytes()[15])),
            Outcome::Skipped => None,
        };
        crate::ingest::Event {
            event_id: e.event_id,
            occurred_at: e.at,
            student_id: student.id.clone(),
            class_id: self.class_ids[student.class].clone(),
            skill_id: skill.id.clone(),
            item_id: skill.items[e.item as usize].id.clone(),
            outcome: e.outcome,
            attempt: i32::from(e.attempt),
            response_ms: i32::try_from(e.response_ms).ok(),
            hints_used: i32::from(e.hints_used),
            hint_bottom_out: e.hint_bottom_out,
            session_id: Some(self.session_ids[e.session as usize].clone()),
            skill_name: Some(skill.name.clone()),
            tool: Some(skill.tool.clone()),
            response: response.map(str::to_owned),
        }
    }

    pub fn truth_line(&self, t: &Truth) -> TruthLine<'_> {
        let skill = &self.skills[t.skill as usize];
        let student = &self.students[t.student as usize];
        TruthLine {
            kind: "skill",
            profile: student.profile.as_str(),
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

    /// One student's school day: what they did (a `"type": "day"` line of truth.jsonl).
    pub fn day_line(&self, d: &DayTruth) -> DayLine<'_> {
        let student = &self.students[d.student as usize];
        DayLine {
            kind: "day",
            student_id: &student.id,
            class_id: &self.class_ids[student.class],
            date: d.date,
            profile: student.profile.as_str(),
            practised: d.practised,
            behaviours: d.behaviours.clone(),
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
                (
                    self.students[e.student as usize].id.as_str(),
                    self.skills[e.skill as usize].id.as_str(),
                    crate::kt::observation_outcome(e.outcome, e.hint_bottom_out),
                    i,
                )
            })
    }
}

pub mod quality;
pub mod signals_quality;
#[cfg(test)]
mod tests;
