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
/// neighbouring fact, the perimeter for the area, a detail for the main idea, ...).
pub fn item(skill_id: &str, n: usize) -> ItemText {
    let s = |x: i64| x.to_string();
    let text = |prompt: String, answer: String, wrong: [String; 3]| ItemText {
        prompt,
        answer,
        wrong,
    };
    let b = 2 + (n % 11) as i64;
    if let Some(k) = skill_id
        .strip_prefix("multiplication.facts-")
        .and_then(|k| k.parse::<i64>().ok())
    {
        let prompt = if n % 2 == 0 {
            format!("{k} × {b}")
        } else {
            format!("{b} × {k}")
        };
        return text(
            prompt,
            s(k * b),
            [s(k * b - 2), s(k * (b + 1)), s(k * (b - 1))],
        );
    }
    match skill_id {
        "division.facts-6" => text(
            format!("{} ÷ 6", 6 * b),
            s(b),
            [s(b + 1), s(b - 1), s(6 * b - 6)],
        ),
        "fractions.add-unlike" => {
            let (p, q) = (2 + (n % 4) as i64, 3 + (n % 4) as i64 + (n / 4 % 3) as i64);
            let (num, den) = (p + q, p * q);
            let g = gcd(num, den);
            text(
                format!("1/{p} + 1/{q}"),
                format!("{}/{}", num / g, den / g),
                [
                    format!("2/{}", p + q),
                    format!("1/{den}"),
                    format!("2/{den}"),
                ],
            )
        }
        "fractions.compare" => {
            let (a, c) = (2 + (n % 5) as i64, 3 + (n % 5) as i64);
            // a/(a+1) < c/(c+1): the larger denominator looks smaller to some.
            text(
                format!("Which is larger: {a}/{} or {c}/{}?", a + 1, c + 1),
                format!("{c}/{}", c + 1),
                [
                    format!("{a}/{}", a + 1),
                    "equal".into(),
                    format!("{a}/{}", c + 1),
                ],
            )
        }
        "fractions.equivalent" => {
            let (p, q, m) = (1 + (n % 3) as i64, 4 + (n % 3) as i64, 2 + (n % 4) as i64);
            text(
                format!("{p}/{q} = ?/{}", q * m),
                s(p * m),
                [s(p + q * m - q), s(p * m + 1), s(p)],
            )
        }
        "decimals.place-value" => {
            let d = 1 + (n % 9) as i64;
            text(
                format!("The value of the {d} in 3.0{d}"),
                format!("{d} hundredths"),
                [format!("{d} tenths"), s(d), format!("{d} thousandths")],
            )
        }
        "geometry.area-rectangles" => {
            let (w, mut h) = (2 + (n % 7) as i64, 3 + (n % 5) as i64);
            // Where the perimeter's number equals the area's, another rectangle.
            if w * h == 2 * (w + h) {
                h += 1;
            }
            text(
                format!("Area of a {w} cm by {h} cm rectangle"),
                format!("{} cm²", w * h),
                [
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
                [others[0].into(), others[1].into(), others[2].into()],
            )
        }
        _ => text(
            format!("Practice question {}", n + 1),
            "A".into(),
            ["B".into(), "C".into(), "D".into()],
        ),
    }
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
            for n in 0..40 {
                let it = item(&skill, n);
                assert!(is_plain_text(&it.prompt, MAX_PROMPT_CHARS), "{it:?}");
                for a in std::iter::once(&it.answer).chain(&it.wrong) {
                    assert!(is_plain_text(a, MAX_ANSWER_CHARS), "{it:?}");
                }
                assert!(!it.wrong.contains(&it.answer), "{skill} {n}: {it:?}");
            }
        }
        assert_eq!(item("multiplication.facts-7", 6).prompt, "7 × 8");
        assert_eq!(item("multiplication.facts-7", 6).answer, "56");
        assert_eq!(item("fractions.add-unlike", 0).prompt, "1/2 + 1/3");
        assert_eq!(item("fractions.add-unlike", 0).answer, "5/6");
        assert_eq!(item("fractions.add-unlike", 0).wrong[0], "2/5");
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
