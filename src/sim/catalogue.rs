//! The skills a simulated district practises, with human names and the tools that send them.

/// (skill id, name, tool, typical seconds per item)
pub const SKILLS: &[(&str, &str, &str, f64)] = &[
    (
        "fractions.add-unlike",
        "Adding fractions with unlike denominators",
        "fractions-tutor",
        25.0,
    ),
    (
        "multiplication.facts-7",
        "Multiplication facts: the 7s",
        "math-facts",
        4.0,
    ),
    (
        "reading.main-idea",
        "Finding the main idea",
        "reading-quiz",
        40.0,
    ),
    (
        "fractions.compare",
        "Comparing fractions",
        "fractions-tutor",
        15.0,
    ),
    (
        "multiplication.facts-8",
        "Multiplication facts: the 8s",
        "math-facts",
        4.0,
    ),
    (
        "reading.inference",
        "Making inferences from a text",
        "reading-quiz",
        45.0,
    ),
    (
        "fractions.equivalent",
        "Equivalent fractions",
        "fractions-tutor",
        18.0,
    ),
    (
        "multiplication.facts-9",
        "Multiplication facts: the 9s",
        "math-facts",
        4.0,
    ),
    (
        "reading.vocabulary-context",
        "Word meaning from context",
        "reading-quiz",
        30.0,
    ),
    (
        "decimals.place-value",
        "Decimal place value",
        "fractions-tutor",
        12.0,
    ),
    (
        "division.facts-6",
        "Division facts: dividing by 6",
        "math-facts",
        5.0,
    ),
    (
        "geometry.area-rectangles",
        "Area of rectangles",
        "fractions-tutor",
        20.0,
    ),
];

/// The skill at `i`: from the catalogue, then generic ones past its end.
pub fn skill(i: usize) -> (String, String, String, f64) {
    match SKILLS.get(i) {
        Some(&(id, name, tool, secs)) => (id.into(), name.into(), tool.into(), secs),
        None => (
            format!("practice.skill-{:03}", i + 1),
            format!("Practice skill {}", i + 1),
            "math-facts".into(),
            10.0,
        ),
    }
}

/// An item as its tool describes it, with the wrong answers students give most often.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemText {
    pub prompt: String,
    pub answer: String,
    /// The typical wrong answers, most common first: the slip the skill invites, then others.
    pub wrong: [String; 3],
}

/// The `n`th item (from 0) of the skill `skill_id`: a problem of the kind the skill practises,
/// its answer and its typical wrong answers (adding tops and bottoms of fractions, a
/// neighbouring fact, the perimeter for the area, a detail for the main idea, ...). The
/// prompts of one skill are all different for the first [`DISTINCT_ITEMS`] items (a teacher
/// told "7 × 8 — 4 of 6 answered 54" must not meet a second "7 × 8").
pub fn item(skill_id: &str, n: usize) -> ItemText {
    let s = |x: i64| x.to_string();
    // The first three candidates that differ from the answer and from each other.
    let text = |prompt: String, answer: String, candidates: Vec<String>| {
        let mut wrong: Vec<String> = Vec::with_capacity(3);
        for c in candidates {
            if c != answer && !wrong.contains(&c) && wrong.len() < 3 {
                wrong.push(c);
            }
        }
        let mut extra = 1;
        while wrong.len() < 3 {
            let c = format!("{answer}{}", "0".repeat(extra));
            extra += 1;
            if !wrong.contains(&c) {
                wrong.push(c);
            }
        }
        let wrong = [wrong[0].clone(), wrong[1].clone(), wrong[2].clone()];
        ItemText {
            prompt,
            answer,
            wrong,
        }
    };
    // The facts 1 to 12, each asked four ways: a × b, b × a and the two missing factors.
    let (b, form) = (1 + (n % 12) as i64, n / 12 % 4);
    if let Some(k) = skill_id
        .strip_prefix("multiplication.facts-")
        .and_then(|k| k.parse::<i64>().ok())
    {
        let p = k * b;
        return match form {
            // A neighbouring product, the next or the previous fact.
            0 | 1 => {
                let prompt = match (form, b == k) {
                    (0, _) => format!("{k} × {b}"),
                    // The square asked the other way round would read the same.
                    (_, true) => format!("{k} × {b} = ?"),
                    _ => format!("{b} × {k}"),
                };
                text(prompt, s(p), vec![s(p - 2), s(p + k), s(p - k), s(p + 2)])
            }
            // One off, or the product of the next fact.
            _ => {
                let prompt = if form == 2 {
                    format!("{k} × ? = {p}")
                } else {
                    format!("? × {k} = {p}")
                };
                text(prompt, s(b), vec![s(b + 1), s(b - 1), s(p + k), s(b + 2)])
            }
        };
    }
    match skill_id {
        "division.facts-6" => {
            let p = 6 * b;
            match form {
                0 => text(
                    format!("{p} ÷ 6"),
                    s(b),
                    vec![s(b + 1), s(b - 1), s(p), s(b + 2)],
                ),
                1 => text(
                    format!("How many 6s make {p}?"),
                    s(b),
                    vec![s(b + 1), s(b - 1), s(p), s(b + 2)],
                ),
                2 => text(
                    format!("? ÷ 6 = {b}"),
                    s(p),
                    vec![s(p - 6), s(p + 6), s(b + 6), s(b)],
                ),
                _ => text(
                    format!("6 × ? = {p}"),
                    s(b),
                    vec![s(b + 1), s(b - 1), s(p), s(b + 2)],
                ),
            }
        }
        "fractions.add-unlike" => {
            // Unit fractions with unlike bottoms (2 to 9), then the second top one less
            // than its bottom.
            let pairs = pairs_below(10);
            let (p, q) = pairs[n % pairs.len()];
            let (a, c) = if n / pairs.len() % 2 == 0 {
                (1, 1)
            } else {
                (1, q - 1)
            };
            let (num, den) = (a * q + c * p, p * q);
            let g = gcd(num, den);
            text(
                format!("{a}/{p} + {c}/{q}"),
                format!("{}/{}", num / g, den / g),
                vec![
                    format!("{}/{}", a + c, p + q),
                    format!("{}/{den}", a * c),
                    format!("{}/{den}", a + c),
                    format!("{}/{}", a + c, den / g),
                ],
            )
        }
        "fractions.compare" => {
            // a/(a+1) < c/(c+1): the larger denominator looks smaller to some. Each pair
            // asked both ways round.
            let pairs = pairs_below(10);
            let (a, c) = pairs[n % pairs.len()];
            let (small, large) = (format!("{a}/{}", a + 1), format!("{c}/{}", c + 1));
            let prompt = if n / pairs.len() % 2 == 0 {
                format!("Which is larger: {small} or {large}?")
            } else {
                format!("Which is larger: {large} or {small}?")
            };
            text(
                prompt,
                large,
                vec![small, "equal".into(), format!("{a}/{}", c + 1)],
            )
        }
        "fractions.equivalent" => {
            // Fractions in lowest terms with bottoms 2 to 7, times 2 to 5.
            let fractions: Vec<(i64, i64)> = (2..=7)
                .flat_map(|q| (1..q).map(move |p| (p, q)))
                .filter(|&(p, q)| gcd(p, q) == 1)
                .collect();
            let (p, q) = fractions[n % fractions.len()];
            let m = 2 + (n / fractions.len() % 4) as i64;
            text(
                format!("{p}/{q} = ?/{}", q * m),
                s(p * m),
                vec![s(p + q * m - q), s(p * m + 1), s(p), s(p * m - 1), s(q)],
            )
        }
        "decimals.place-value" => {
            // A digit in one of six places, the other digits another.
            const PLACES: [&str; 6] = [
                "hundreds",
                "tens",
                "ones",
                "tenths",
                "hundredths",
                "thousandths",
            ];
            let d = 1 + (n % 9) as i64;
            let place = n / 9 % PLACES.len();
            let f = if d == 3 { 7 } else { 3 };
            let number = match place {
                0 => format!("{d}{f}{f}.{f}"),
                1 => format!("{d}{f}.{f}"),
                2 => format!("{f}{d}.{f}"),
                3 => format!("{f}.{d}"),
                4 => format!("{f}.0{d}"),
                _ => format!("{f}.00{d}"),
            };
            let named = |i: usize| format!("{d} {}", PLACES[i]);
            // The neighbouring places, the digit alone.
            let (left, right) = match place {
                0 => (2, 1),
                5 => (4, 3),
                p => (p - 1, p + 1),
            };
            text(
                format!("The value of the {d} in {number}"),
                named(place),
                vec![named(right), s(d), named(left)],
            )
        }
        "geometry.area-rectangles" => {
            // Sides 2 to 9 cm, but not where the perimeter's number equals the area's.
            let sides: Vec<(i64, i64)> = (2..=9)
                .flat_map(|w| (2..=9).map(move |h| (w, h)))
                .filter(|&(w, h)| w != h && w * h != 2 * (w + h))
                .collect();
            let (w, h) = sides[(n * 11) % sides.len()];
            text(
                format!("Area of a {w} cm by {h} cm rectangle"),
                format!("{} cm²", w * h),
                vec![
                    format!("{} cm²", 2 * (w + h)),
                    format!("{} cm²", w + h),
                    s(w * h),
                ],
            )
        }
        _ if skill_id.starts_with("reading.") => {
            let question = match skill_id {
                "reading.main-idea" => "which sentence tells the main idea?",
                "reading.inference" => "why did the character leave early?",
                _ => "which word means the same as the underlined one?",
            };
            let right = ["B", "C", "A", "D"][n % 4];
            let others: Vec<&str> = ["A", "B", "C", "D"]
                .into_iter()
                .filter(|c| *c != right)
                .collect();
            text(
                format!("Passage {}: {question}", n + 1),
                right.into(),
                others.into_iter().map(str::to_owned).collect(),
            )
        }
        _ => text(
            format!("Practice question {}", n + 1),
            "A".into(),
            vec!["B".into(), "C".into(), "D".into()],
        ),
    }
}

/// Items of a skill whose prompts are all different (the simulator's default is 40 a skill).
pub const DISTINCT_ITEMS: usize = 48;

/// The pairs (a, b) with 1 < a < b < `end`, by b then a: (2, 3), (2, 4), (3, 4), ...
fn pairs_below(end: i64) -> Vec<(i64, i64)> {
    (3..end).flat_map(|b| (2..b).map(move |a| (a, b))).collect()
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 {
        a.abs().max(1)
    } else {
        gcd(b, a % b)
    }
}

/// Which wrong answer a simulated student gives, from a number in 0..100 drawn for the
/// answer: the typical slip most of the time, the others less often.
pub fn wrong_answer(item: &ItemText, draw: u8) -> &str {
    match draw % 100 {
        0..=59 => &item.wrong[0],
        60..=84 => &item.wrong[1],
        _ => &item.wrong[2],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::items::{is_plain_text, MAX_ANSWER_CHARS, MAX_PROMPT_CHARS};

    #[test]
    fn every_item_reads_as_a_problem_with_a_distinct_right_answer() {
        for i in 0..SKILLS.len() + 2 {
            let (skill, ..) = skill(i);
            let mut prompts = std::collections::HashSet::new();
            for n in 0..DISTINCT_ITEMS {
                let it = item(&skill, n);
                assert!(is_plain_text(&it.prompt, MAX_PROMPT_CHARS), "{it:?}");
                for a in std::iter::once(&it.answer).chain(&it.wrong) {
                    assert!(is_plain_text(a, MAX_ANSWER_CHARS), "{it:?}");
                }
                assert!(!it.wrong.contains(&it.answer), "{skill} {n}: {it:?}");
                let [w0, w1, w2] = &it.wrong;
                assert!(w0 != w1 && w1 != w2 && w0 != w2, "{skill} {n}: {it:?}");
                assert!(
                    prompts.insert(it.prompt.clone()),
                    "{skill} {n}: {it:?} again"
                );
            }
        }
        assert_eq!(item("multiplication.facts-7", 7).prompt, "7 × 8");
        assert_eq!(item("multiplication.facts-7", 7).answer, "56");
        assert_eq!(item("fractions.add-unlike", 0).prompt, "1/2 + 1/3");
        assert_eq!(item("fractions.add-unlike", 0).answer, "5/6");
        assert_eq!(item("fractions.add-unlike", 0).wrong[0], "2/5");
    }

    #[test]
    fn the_simulators_default_items_are_all_different() {
        assert!(crate::sim::Config::default().items_per_skill <= DISTINCT_ITEMS);
    }

    #[test]
    fn the_typical_slip_is_the_most_common_wrong_answer() {
        let it = item("geometry.area-rectangles", 0);
        let firsts = (0..100u8)
            .filter(|d| wrong_answer(&it, *d) == it.wrong[0])
            .count();
        assert_eq!(firsts, 60);
    }
}
