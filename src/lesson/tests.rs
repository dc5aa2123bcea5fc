use super::*;
use crate::ingest::Outcome;
use proptest::prelude::*;

const S: i64 = 1_000;
const MIN: i64 = 60 * S;

fn answer(at: i64, skill: &str, outcome: Outcome) -> Answer {
    Answer {
        at,
        seq: at,
        skill_id: skill.into(),
        outcome,
        attempt: 1,
        response_ms: Some(20_000),
        hints_used: 0,
        hint_bottom_out: false,
        rapid: false,
    }
}

/// Answers a minute apart from minute 1, on skill "f", with these outcomes (c, i, s).
fn run(outcomes: &str) -> Vec<Answer> {
    outcomes
        .chars()
        .enumerate()
        .map(|(i, c)| {
            let o = match c {
                'c' => Outcome::Correct,
                'i' => Outcome::Incorrect,
                _ => Outcome::Skipped,
            };
            answer((i as i64 + 1) * MIN, "f", o)
        })
        .collect()
}

fn now_of(answers: &[Answer]) -> i64 {
    answers.last().map_or(0, |a| a.at) + 10 * S
}

fn state(answers: &[Answer]) -> StudentNow {
    student_now(answers, None, true, now_of(answers), &Rules::default())
}

#[test]
fn three_of_the_last_four_first_tries_wrong_needs_a_person() {
    let s = state(&run("cciic i".replace(' ', "").as_str()));
    assert_eq!(s.state, State::NeedsPerson, "{s:?}");
    assert!(s.reason.contains("3 of the last 4"), "{}", s.reason);
    // The state began with the answer that made it true (the fourth wrong-ish answer).
    assert_eq!(s.since, Some(6 * MIN));
    assert_eq!((s.answers, s.first_tries, s.first_tries_right), (6, 6, 3));
}

#[test]
fn two_wrong_of_four_is_still_working() {
    assert_eq!(state(&run("ccicci")).state, State::Working);
}

#[test]
fn a_wrong_run_on_another_skill_does_not_count_for_the_current_one() {
    let mut a = run("iii");
    a.push(answer(4 * MIN, "g", Outcome::Incorrect));
    assert_eq!(state(&a).state, State::Working);
}

#[test]
fn many_tries_without_three_right_in_a_row_needs_a_person() {
    let s = state(&run("cicicciicc"));
    assert_eq!(s.state, State::NeedsPerson, "{s:?}");
    assert!(s.reason.contains("10 tries"), "{}", s.reason);
    // Three right in a row is progress.
    assert_eq!(state(&run("ciciccciic")).state, State::Working);
}

#[test]
fn rapid_guesses_are_guessing_not_stuck() {
    let mut a = run("ciiii");
    for x in a.iter_mut().skip(1) {
        x.rapid = true;
        x.response_ms = Some(900);
    }
    let s = state(&a);
    assert_eq!(s.state, State::Guessing, "{s:?}");
    assert!(s.reason.contains("4 of the last 5"), "{}", s.reason);
}

#[test]
fn hints_clicked_through_to_the_answer() {
    let mut a = run("cccc");
    for x in a.iter_mut().skip(2) {
        x.hint_bottom_out = true;
        x.hints_used = 3;
        x.response_ms = Some(5_000);
    }
    assert_eq!(state(&a).state, State::Hints);
    // Hints read slowly are help, not clicking through.
    for x in a.iter_mut() {
        x.response_ms = Some(60_000);
    }
    assert_ne!(state(&a).state, State::Hints);
}

#[test]
fn skips_are_giving_up() {
    let s = state(&run("ccsis"));
    assert_eq!(s.state, State::GivingUp, "{s:?}");
    assert_eq!(s.since, Some(5 * MIN));
}

#[test]
fn right_first_tries_without_hints_are_doing_well() {
    let s = state(&run("icccc c".replace(' ', "").as_str()));
    assert_eq!(s.state, State::DoingWell, "{s:?}");
    // Answers on the skill with hints are not "doing well".
    let mut a = run("cccccc");
    a[5].hints_used = 1;
    a[4].hints_used = 1;
    assert_eq!(state(&a).state, State::Working);
}

#[test]
fn no_answer_for_three_minutes_in_a_sitting_is_idle() {
    let a = run("cic");
    let last = a[2].at;
    let rules = Rules::default();
    let s = student_now(&a, None, true, last + 2 * MIN, &rules);
    assert_eq!(s.state, State::Working);
    let s = student_now(&a, None, true, last + 4 * MIN, &rules);
    assert_eq!(s.state, State::Idle);
    assert_eq!(s.since, Some(last + 3 * MIN));
    assert!(s.reason.contains("4 minutes"), "{}", s.reason);
    // Not when the sitting has ended.
    let s = student_now(&a, None, false, last + 30 * MIN, &rules);
    assert_eq!(s.state, State::Working);
}

#[test]
fn a_stuck_student_who_stops_stays_stuck() {
    let a = run("ciii");
    let s = student_now(&a, None, true, a[3].at + 10 * MIN, &Rules::default());
    assert_eq!(s.state, State::NeedsPerson);
}

#[test]
fn a_check_in_clears_needs_a_person_until_new_evidence() {
    let a = run("ciii");
    let rules = Rules::default();
    let checked = a[3].at + 20 * S;
    let s = student_now(&a, Some(checked), true, checked + 10 * S, &rules);
    assert_eq!(s.state, State::Working, "{s:?}");
    assert_eq!(s.since, Some(checked));
    assert!(s.reason.contains("checked in"), "{}", s.reason);
    // New answers after the check-in: wrong again three times of four → needs a person again.
    let mut b = a.clone();
    for (i, o) in [
        Outcome::Incorrect,
        Outcome::Correct,
        Outcome::Incorrect,
        Outcome::Incorrect,
    ]
    .into_iter()
    .enumerate()
    {
        b.push(answer(checked + (i as i64 + 1) * MIN, "f", o));
    }
    let s = student_now(&b[..6], Some(checked), true, b[5].at + S, &rules);
    assert_eq!(
        s.state,
        State::Working,
        "two answers since the check-in: {s:?}"
    );
    let s = student_now(&b, Some(checked), true, b[7].at + S, &rules);
    assert_eq!(s.state, State::NeedsPerson);
    assert_eq!(s.since, Some(b[7].at));
}

#[test]
fn no_answers_is_not_here() {
    let s = state(&[]);
    assert_eq!(s.state, State::NotHere);
    assert_eq!(s.since, None);
}

fn class(answers: Vec<(&str, Vec<Answer>)>, students: &[&str]) -> ClassAnswers {
    ClassAnswers {
        students: students.iter().map(|s| s.to_string()).collect(),
        answers: answers
            .into_iter()
            .map(|(s, a)| (s.to_string(), a))
            .collect(),
        checkins: HashMap::new(),
    }
}

#[test]
fn the_class_is_ordered_most_in_need_first_and_old_answers_are_not_now() {
    let hour = 60 * MIN;
    // An old sitting two hours ago where "d" was stuck; a new one now with a, b and c.
    let old: Vec<Answer> = run("iiii")
        .into_iter()
        .map(|mut a| {
            a.at -= 2 * hour;
            a
        })
        .collect();
    let data = class(
        vec![
            ("a", run("cccccc")),
            ("b", run("ccciii")),
            ("c", run("ci")),
            ("d", old),
        ],
        &["a", "b", "c", "d", "e"],
    );
    let now = 6 * MIN + 10 * S;
    let c = class_now(&data, now, &Rules::default());
    assert!(c.sitting.unwrap().is_active());
    let order: Vec<(&str, State)> = c
        .students
        .iter()
        .map(|(id, s)| (id.as_str(), s.state))
        .collect();
    assert_eq!(
        order,
        vec![
            ("b", State::NeedsPerson),
            ("c", State::Idle),
            ("a", State::DoingWell),
            ("d", State::NotHere),
            ("e", State::NotHere),
        ]
    );
}

/// One thing that happens to a class while a live view follows it.
#[derive(Debug, Clone)]
enum Step {
    /// An answer `gap_s` after the previous moment, occurring `late_s` before it arrives.
    Answer {
        student: usize,
        gap_s: i64,
        late_s: i64,
        skill: bool,
        outcome: u8,
        attempt: i32,
        rapid: bool,
        hints: i32,
        bottom_out: bool,
        response_ms: Option<i32>,
    },
    CheckIn {
        student: usize,
    },
    Wait {
        s: i64,
    },
    /// The live view is asked for the class now.
    Look,
    /// The live view starts over from a full read, and hears of the latest answers again.
    Reread,
}

fn step() -> impl Strategy<Value = Step> {
    let answer = (
        (
            0usize..5,
            0i64..40,
            prop_oneof![4 => Just(0i64), 1 => 0i64..900],
        ),
        (any::<bool>(), 0u8..3, 1i32..3, any::<bool>()),
        (0i32..3, any::<bool>(), proptest::option::of(300i32..30_000)),
    )
        .prop_map(
            |(
                (student, gap_s, late_s),
                (skill, outcome, attempt, rapid),
                (hints, bottom_out, response_ms),
            )| Step::Answer {
                student,
                gap_s,
                late_s,
                skill,
                outcome,
                attempt,
                rapid,
                hints,
                bottom_out,
                response_ms,
            },
        );
    prop_oneof![
        12 => answer,
        1 => (0usize..5).prop_map(|student| Step::CheckIn { student }),
        2 => prop_oneof![4 => 0i64..400, 1 => 0i64..5 * 3_600].prop_map(|s| Step::Wait { s }),
        4 => Just(Step::Look),
        1 => Just(Step::Reread),
    ]
}

const STUDENTS: [&str; 5] = ["a", "b", "c", "d", "e"];

/// What a full read at `now` gives: the look-back window's answers and check-ins.
fn read_at(answers: &[(usize, Answer)], checkins: &[(usize, i64)], now: i64) -> ClassAnswers {
    let since = now - LOOKBACK_MS;
    let mut by_student: HashMap<String, Vec<Answer>> = HashMap::new();
    for (s, a) in answers.iter().filter(|(_, a)| a.at >= since) {
        by_student
            .entry(STUDENTS[*s].to_owned())
            .or_default()
            .push(a.clone());
    }
    for list in by_student.values_mut() {
        list.sort_by_key(|a| (a.at, a.seq));
    }
    let mut latest: HashMap<String, i64> = HashMap::new();
    for &(s, at) in checkins.iter().filter(|(_, at)| *at >= since) {
        let e = latest.entry(STUDENTS[s].to_owned()).or_insert(at);
        *e = (*e).max(at);
    }
    ClassAnswers {
        students: STUDENTS.iter().map(|s| s.to_string()).collect(),
        answers: by_student,
        checkins: latest,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// The live view, fed answers and check-ins as they come (late ones too, repeats after a
    /// full read, hours passing), shows at every moment exactly what a full read shows.
    #[test]
    fn the_live_class_is_the_class_now_of_a_full_read(steps in proptest::collection::vec(step(), 1..160)) {
        let rules = Rules::default();
        let mut clock = 10 * 3_600_000;
        let mut answers: Vec<(usize, Answer)> = Vec::new();
        let mut checkins: Vec<(usize, i64)> = Vec::new();
        let mut live = LiveClass::new(read_at(&answers, &checkins, clock), rules);
        for step in steps.into_iter().chain([Step::Look]) {
            match step {
                Step::Answer { student, gap_s, late_s, skill, outcome, attempt, rapid, hints, bottom_out, response_ms } => {
                    clock += gap_s * S;
                    let a = Answer {
                        at: clock - late_s * S,
                        seq: answers.len() as i64 + 1,
                        skill_id: if skill { "f" } else { "g" }.into(),
                        outcome: [Outcome::Correct, Outcome::Incorrect, Outcome::Skipped][outcome as usize],
                        attempt,
                        response_ms,
                        hints_used: hints,
                        hint_bottom_out: bottom_out,
                        rapid,
                    };
                    live.add(STUDENTS[student], a.clone());
                    answers.push((student, a));
                }
                Step::CheckIn { student } => {
                    clock += S;
                    checkins.push((student, clock));
                    live.set_checkins(read_at(&answers, &checkins, clock).checkins);
                }
                Step::Wait { s } => clock += s * S,
                Step::Look => {
                    let full = class_now(&read_at(&answers, &checkins, clock), clock, &rules);
                    prop_assert_eq!(live.class_now(clock), full);
                }
                Step::Reread => {
                    live = LiveClass::new(read_at(&answers, &checkins, clock), rules);
                    for (s, a) in answers.iter().rev().take(3) {
                        live.add(STUDENTS[*s], a.clone());
                    }
                }
            }
        }
    }
}

/// Rules near the defaults and far from them (zeros, ones), so every count's edge is met.
fn rules() -> impl Strategy<Value = Rules> {
    let any_rules = (
        (1usize..5, 0usize..6, 0usize..7, 0usize..13, 0usize..5),
        (0usize..8, 0usize..5, 0usize..4, 0i32..8_000),
        (0usize..5, 0usize..7, 0usize..7, 0usize..8),
    )
        .prop_map(
            |(
                (sitting_students, stuck_wrong, stuck_of, spin_tries, progress_run),
                (recent, guesses_min, hints_min, hint_ms_per_hint),
                (skips_min, skips_of, well_right, well_of),
            )| Rules {
                sitting_students,
                stuck_wrong,
                stuck_of,
                spin_tries,
                progress_run,
                recent,
                guesses_min,
                hints_min,
                hint_ms_per_hint,
                skips_min,
                skips_of,
                well_right,
                well_of,
                ..Rules::default()
            },
        );
    prop_oneof![1 => Just(Rules::default()), 2 => any_rules]
}

/// One student's answers of a sitting, sorted by time (several at the same moment too), on
/// three skills.
fn answers() -> impl Strategy<Value = Vec<Answer>> {
    let one = (
        (prop_oneof![1 => Just(0i64), 3 => 1i64..90], 0u8..3, 0u8..3),
        (1i32..3, any::<bool>(), 0i32..3, any::<bool>()),
        proptest::option::of(300i32..30_000),
    );
    proptest::collection::vec(one, 0..60).prop_map(|list| {
        let mut at = 10 * 3_600_000;
        list.into_iter()
            .enumerate()
            .map(
                |(
                    i,
                    ((gap_s, skill, outcome), (attempt, rapid, hints, bottom_out), response_ms),
                )| {
                    at += gap_s * S;
                    Answer {
                        at,
                        seq: i as i64,
                        skill_id: ["f", "g", "h"][skill as usize].into(),
                        outcome: [Outcome::Correct, Outcome::Incorrect, Outcome::Skipped]
                            [outcome as usize],
                        attempt,
                        response_ms,
                        hints_used: hints,
                        hint_bottom_out: bottom_out,
                        rapid,
                    }
                },
            )
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    /// The fold's counts give, answer by answer, what the rules as written give from every
    /// answer before: the same state, moment, reason and counts, check-in or not.
    #[test]
    fn the_fold_is_the_rules_as_written(
        answers in answers(),
        rules in rules(),
        checked in proptest::option::of(0usize..70),
        checked_offset_s in -30i64..30,
        active in any::<bool>(),
        after_s in 0i64..900,
    ) {
        let last = answers.last().map_or(10 * 3_600_000, |a| a.at);
        // A check-in at an answer's moment, just before or after it, or after the last one.
        let checked = checked.map(|i| {
            answers.get(i).map_or(last, |a| a.at) + checked_offset_s * S
        });
        let now = last + after_s * S;
        prop_assert_eq!(
            student_now(&answers, checked, active, now, &rules),
            as_written::student_now(&answers, checked, active, now, &rules)
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    /// The class folded answer by answer is the sitting's answers of each student read by the
    /// rules as written, whatever order the students' answers come in.
    #[test]
    fn the_class_fold_is_each_student_by_the_rules_as_written(
        lists in proptest::collection::vec(answers(), 4),
        rules in rules(),
        checkins in proptest::collection::vec(proptest::option::of(0i64..3_600), 4),
        after_s in 0i64..3_600,
    ) {
        let start = 10 * 3_600_000;
        let mut data = class(Vec::new(), &STUDENTS);
        for (i, (list, checked)) in lists.into_iter().zip(checkins).enumerate() {
            let list: Vec<Answer> = list
                .into_iter()
                .map(|mut a| {
                    a.seq = a.seq * 10 + i as i64;
                    a
                })
                .collect();
            data.answers.insert(STUDENTS[i].to_owned(), list);
            if let Some(s) = checked {
                data.checkins.insert(STUDENTS[i].to_owned(), start + s * S);
            }
        }
        let last = data.answers.values().flatten().map(|a| a.at).max().unwrap_or(start);
        let now = last + after_s * S;

        let beats: Vec<(i64, &str)> = data
            .answers
            .iter()
            .flat_map(|(s, list)| list.iter().map(move |a| (a.at, s.as_str())))
            .collect();
        let sitting = sitting_of(beats, now, &rules);
        let mut expected: Vec<(String, StudentNow)> = STUDENTS
            .iter()
            .map(|&id| {
                let within = |at: i64| sitting.is_some_and(|s| s.contains(at));
                let answers: Vec<Answer> = data.answers.get(id).into_iter().flatten()
                    .filter(|a| within(a.at))
                    .cloned()
                    .collect();
                let checked = data.checkins.get(id).copied().filter(|&at| within(at));
                let active = sitting.is_some_and(|s| s.is_active());
                (id.to_owned(), as_written::student_now(&answers, checked, active, now, &rules))
            })
            .collect();
        in_need_order(&mut expected);
        let got = class_now(&data, now, &rules);
        prop_assert_eq!(got.sitting, sitting);
        prop_assert_eq!(got.students, expected);
    }
}
