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
