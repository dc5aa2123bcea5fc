//! The wording test: every insight, flag, group reason and review template rendered with edge
//! values (1 and many students, equal bounds, 0 and 1 excluded answers, long skill names,
//! skill ids without a name) and checked for what a teacher reads in a minute: plurals and
//! grammar, headlines of at most 20 words, no model terms on the first screen, no degenerate
//! ranges, no raw ids, and readability at grade 8 or lower (Flesch–Kincaid grade level:
//! 0.39 × words per sentence + 11.8 × syllables per word − 15.59, syllables counted by vowel
//! groups; docs/insights.md).

use super::class::{insights, Insight};
use super::fixtures::*;
use super::groups::{suggest, GroupBounds};
use super::reviews::queue;
use super::{ClassData, FlagView, SkillInfo, DAY_MS};

/// Words that belong behind the "why", never on the first screen (headline and action).
const JARGON: &[&str] = &[
    "estimate",
    "probability",
    "model",
    "bkt",
    "confidence",
    "interval",
    "p(",
    "%",
];

const KINDS: &[&str] = &[
    "rapid_guessing",
    "hint_abuse",
    "gaming",
    "rushing",
    "giving_up",
    "idle",
    "wheel_spinning",
    "shared_account",
];

const LONG: &str = "Adding and subtracting fractions with unlike denominators and mixed numbers";
const COLON: &str = "Multiplication facts: the 9s";
const UNNAMED: &str = "multiplication-facts.8";

fn syllables(word: &str) -> usize {
    let w: Vec<char> = word
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphabetic())
        .collect();
    if w.is_empty() {
        return 0;
    }
    let vowel = |c: char| "aeiouy".contains(c);
    let mut n = 0;
    let mut prev = false;
    for &c in &w {
        let v = vowel(c);
        if v && !prev {
            n += 1;
        }
        prev = v;
    }
    // A silent final e ("make"), but not "-le" ("table").
    if w.len() > 2 && w[w.len() - 1] == 'e' && !vowel(w[w.len() - 2]) && w[w.len() - 2] != 'l' {
        n -= 1;
    }
    n.max(1)
}

/// Flesch–Kincaid grade level of a text.
pub fn grade(text: &str) -> f64 {
    let sentences = text
        .split(['.', '!', '?', ';'])
        .filter(|s| s.chars().any(char::is_alphabetic))
        .count()
        .max(1);
    let words: Vec<&str> = text
        .split_whitespace()
        .filter(|w| w.chars().any(char::is_alphabetic))
        .collect();
    if words.is_empty() {
        return 0.0;
    }
    let syl: usize = words.iter().map(|w| syllables(w)).sum();
    0.39 * words.len() as f64 / sentences as f64 + 11.8 * syl as f64 / words.len() as f64 - 15.59
}

/// What every rendered text must satisfy.
fn check_text(what: &str, text: &str, phrases: &[String], problems: &mut Vec<String>) {
    let mut bad = |why: &str| problems.push(format!("{what}: {why}: {text:?}"));
    if text.trim().is_empty() {
        return;
    }
    if !text.ends_with('.') {
        bad("does not end with a full stop");
    }
    if text.chars().next().is_some_and(char::is_lowercase) {
        bad("starts in lower case");
    }
    if text.contains("  ") || text.contains(" .") || text.contains("..") || text.contains(" ,") {
        bad("stray spaces or stops");
    }
    for one in [
        "1 students",
        "1 answers",
        "1 others",
        "1 skills",
        "1 seconds",
        "1 notes",
        "1 problems",
        "1 very fast answers",
        " 1 of them are",
        " 1 of them struggle ",
        "1 students are",
    ] {
        if text.contains(one) {
            bad(&format!("plural after 1 ({one})"));
        }
    }
    for agreement in ["students is ", "students has ", "them is ", "they is "] {
        if text.contains(agreement) {
            bad("agreement");
        }
    }
    // "from 9% to 9%", "between 9% and 9%".
    let words: Vec<&str> = text.split_whitespace().collect();
    for w in words.windows(3) {
        if (w[1] == "to" || w[1] == "and")
            && w[0].ends_with('%')
            && w[0] == w[2].trim_end_matches(['.', ',', ')', ';'])
        {
            bad("a degenerate range");
        }
    }
    for raw in [UNNAMED, "fractions.add-unlike", "rv-", "ins-", "grp-"] {
        if text.contains(raw) {
            bad("a raw id");
        }
    }
    // The grade of our words: a tool's skill names are theirs.
    let mut ours = text.to_owned();
    for p in phrases {
        ours = ours
            .replace(p.as_str(), "it")
            .replace(&super::wording::capitalise(p), "It");
    }
    let g = grade(&ours);
    if g > 8.0 {
        bad(&format!("reads at grade {g:.1}"));
    }
}

fn check_first_screen(what: &str, text: &str, problems: &mut Vec<String>) {
    let lower = text.to_lowercase();
    for j in JARGON {
        if lower.contains(j) {
            problems.push(format!(
                "{what}: jargon {j:?} on the first screen: {text:?}"
            ));
        }
    }
}

fn check_headline(i: &Insight, skill_phrases: &[String], problems: &mut Vec<String>) {
    let n = i.headline.split_whitespace().count();
    if n > 20 {
        problems.push(format!("headline of {n} words: {:?}", i.headline));
    }
    // At most one colon of the sentence's own (a skill's name may bring one).
    let mut h = i.headline.clone();
    for p in skill_phrases {
        h = h.replace(p.as_str(), "SKILL");
    }
    if h.matches(':').count() > 1 {
        problems.push(format!("two colons: {:?}", i.headline));
    }
    check_first_screen("headline", &i.headline, problems);
    check_first_screen("action", &i.action, problems);
}

fn skills() -> Vec<SkillInfo> {
    vec![
        skill("fractions.long", LONG),
        skill("mult.nines", COLON),
        SkillInfo {
            skill_id: UNNAMED.into(),
            name: None,
            domain: "multiplication-facts".into(),
        },
    ]
}

fn flag(student: usize, kind: &str, skill: Option<&str>, count: Option<(u32, u32)>) -> FlagView {
    FlagView {
        student_id: id(student),
        kind: kind.into(),
        skill_id: skill.map(str::to_owned),
        since: NOW - 2 * DAY_MS,
        ended_at: None,
        sentence: "the detector's own sentence".into(),
        count: count.map(|c| c.0),
        of: count.map(|c| c.1),
        seconds: Some(1),
    }
}

/// Classes that between them use every template with its edge values.
fn classes() -> Vec<ClassData> {
    let mut out = Vec::new();
    for &skill_id in &["fractions.long", "mult.nines", UNNAMED] {
        for strugglers in [1, 2, 3, 7] {
            for wrong_answers in [6, 16] {
                let mut d = class(30, skills());
                for i in 1..=30 {
                    let answers = if i <= strugglers {
                        wrong(wrong_answers)
                    } else if i <= 24 {
                        right(6)
                    } else {
                        vec![true, false, true, false, true]
                    };
                    d.cells.push(cell(&id(i), skill_id, &answers, 0));
                }
                out.push(d);
            }
        }
    }
    // Flags: each kind for 1, 2, 3 and 5 students, with and without counts.
    for &kind in KINDS {
        for n in [1, 2, 3, 5] {
            for counted in [None, Some((1, 1)), Some((8, 10))] {
                let mut d = class(6, skills());
                let on = (kind == "wheel_spinning").then_some("mult.nines");
                for s in 1..=n {
                    d.flags.push(flag(s, kind, on, counted));
                }
                out.push(d);
            }
        }
    }
    // A weak domain, one to one, ready for a challenge (1 and several), excluded answers.
    let mut d = class(8, skills());
    for i in 1..=2 {
        d.cells.push(cell(&id(i), "fractions.long", &wrong(16), 0));
        d.cells.push(cell(&id(i), "fractions.other", &wrong(16), 0));
    }
    d.cells.push(cell(&id(3), UNNAMED, &wrong(8), 0));
    for i in 4..=8 {
        d.cells.push(cell(&id(i), "mult.nines", &right(6), 0));
    }
    out.push(d);
    let mut d = class(3, skills());
    d.cells.push(cell(&id(1), "mult.nines", &right(6), 0));
    d.cells.push(cell(&id(2), UNNAMED, &wrong(8), 0));
    out.push(d);
    out
}

/// Names as a roster gives them.
fn named(mut d: ClassData) -> ClassData {
    const FIRST: &[&str] = &["Maya", "Noah", "Ava", "Esme", "Liam", "Zoe", "Omar", "Ines"];
    for (i, s) in d.students.iter_mut().enumerate() {
        s.name = format!("{} Rahman", FIRST[i % FIRST.len()]);
    }
    d
}

#[test]
fn every_template_reads_well_with_edge_values() {
    let mut problems = Vec::new();
    let mut rendered = 0;
    for d in classes().into_iter().map(named) {
        let phrases: Vec<String> = d
            .skills
            .iter()
            .map(|s| d.skill_phrase(&s.skill_id))
            .collect();
        for i in insights(&d) {
            rendered += 1;
            check_headline(&i, &phrases, &mut problems);
            check_text("headline", &i.headline, &phrases, &mut problems);
            check_text("action", &i.action, &phrases, &mut problems);
            check_text("detail", &i.detail, &phrases, &mut problems);
        }
        let s = suggest(&d, GroupBounds::default());
        for g in &s.groups {
            check_text("group reason", &g.reason, &phrases, &mut problems);
        }
        for a in s.needs_review.iter().chain(&s.not_grouped) {
            check_text("apart reason", &a.reason, &phrases, &mut problems);
        }
        for r in queue(&d) {
            if r.kind == super::ReviewKind::Estimate {
                check_text("review reason", &r.reason, &phrases, &mut problems);
            }
            check_text("confirm", &r.confirm_means, &phrases, &mut problems);
            check_text("dismiss", &r.dismiss_means, &phrases, &mut problems);
        }
    }
    assert!(rendered > 100, "only {rendered} insights rendered");
    problems.sort();
    problems.dedup();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The detectors' own sentences (what a flag's evidence says), every kind with edge counts.
fn flag_sentences() -> Vec<String> {
    use crate::signals::{Episode, Evidence, Kind};
    let mut out = Vec::new();
    for kind in Kind::ALL {
        for k in [0, 1, 2, 8] {
            let evidence = Evidence {
                hits: k,
                actions: 10,
                threshold_ms: Some(1_000 + 500 * k as i32),
                accuracy: Some(0.2),
                usual_accuracy: Some(0.8),
                abandoned_after_errors: (k > 0).then_some(k),
                opportunities: Some(15 + k),
                estimate: Some(0.2),
                days: (k > 0).then_some(k),
                recent: (k > 0).then_some(10),
                needed: (k > 1).then_some(40 * k),
                school_days: Some(k.max(1)),
                ..Evidence::default()
            };
            for skill in ["mult.nines", UNNAMED] {
                let e = Episode {
                    kind,
                    skill_id: (kind == Kind::WheelSpinning).then(|| skill.to_owned()),
                    started_at: NOW - DAY_MS,
                    ended_at: None,
                    last_at: NOW,
                    evidence: evidence.clone(),
                };
                out.push(e.sentence());
            }
        }
    }
    out
}

#[test]
fn every_flag_sentence_reads_well() {
    let d = class(1, skills());
    let phrases: Vec<String> = d
        .skills
        .iter()
        .map(|s| d.skill_phrase(&s.skill_id))
        .collect();
    let mut problems = Vec::new();
    for s in flag_sentences() {
        check_text("flag", &d.readable(&s), &phrases, &mut problems);
    }
    problems.sort();
    problems.dedup();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The student page's sentences: progress toward mastery from no answer to mastered, every
/// certainty, and falls of 3 and 8 wrong answers after runs of one day to three weeks.
#[test]
fn every_student_page_sentence_reads_well() {
    use super::history::Point;
    use super::student::{mastery_progress, sudden_fall, Certainty};
    use crate::kt::{Confidence, Observation, Rules, SkillModel, SkillState};
    let (rules, model) = (Rules::default(), SkillModel::default());
    let at = |day: i64, minute: i64| {
        chrono::DateTime::from_timestamp_millis(NOW - 30 * DAY_MS + day * DAY_MS + minute * 60_000)
            .unwrap_or_default()
    };
    let mut texts = Vec::new();
    let mut state = SkillState::new(&model);
    texts.push(mastery_progress(&state, &rules).sentence);
    for (day, correct) in [
        (0, false),
        (0, true),
        (0, true),
        (1, true),
        (1, true),
        (2, true),
    ] {
        state.apply(
            &model,
            &Observation {
                correct,
                at: at(day, 0),
                session: day as u64,
                excluded: false,
            },
        );
        texts.push(mastery_progress(&state, &rules).sentence);
    }
    for c in [Confidence::High, Confidence::Medium, Confidence::Low] {
        for (review, confirmed) in [(false, false), (true, false), (false, true)] {
            texts.push(Certainty::of(c, review, confirmed).sentence().to_owned());
        }
    }
    for wrong in [3, 8] {
        for (days, before) in [(1, 4), (3, 9), (21, 12)] {
            let mut points: Vec<Point> = (0..before)
                .map(|i| Point {
                    at: at(0, i),
                    item_id: format!("i{i}"),
                    correct: i != 1 || before < 5,
                    excluded: false,
                    estimate: 0.9,
                    low: 0.8,
                    high: 1.0,
                })
                .collect();
            let first = points[0].clone();
            points.extend((0..wrong).map(|i| Point {
                at: at(days, i),
                correct: false,
                ..first.clone()
            }));
            let now = NOW - 30 * DAY_MS + days * DAY_MS;
            texts.push(sudden_fall(&points, now).expect("a fall"));
        }
    }
    let mut problems = Vec::new();
    for t in &texts {
        check_text("student page", t, &[], &mut problems);
    }
    problems.sort();
    problems.dedup();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_readability_formula_tells_easy_from_hard() {
    assert!(grade("Maya has gone quiet.") < 4.0);
    assert!(
        grade("Notwithstanding considerable methodological heterogeneity, probabilistic estimation demonstrates substantial reliability.") > 14.0
    );
    assert_eq!(syllables("table"), 2);
    assert_eq!(syllables("make"), 1);
    assert_eq!(syllables("fractions"), 2);
}
