//! The words of the insights: plurals, lists of names, skill names inside a sentence, dates.
//! Short sentences, main point first, everyday words, no model terms (docs/insights.md).

/// "1 student", "6 students".
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// "is" for one, "are" for several.
pub fn is_are(n: usize) -> &'static str {
    if n == 1 {
        "is"
    } else {
        "are"
    }
}

/// "has" for one, "have" for several.
pub fn has_have(n: usize) -> &'static str {
    if n == 1 {
        "has"
    } else {
        "have"
    }
}

/// "Maya", "Maya and Noah", "Maya, Noah and Ava", "Maya, Noah, Ava and 3 others".
pub fn names(list: &[String]) -> String {
    const SHOWN: usize = 3;
    match list.len() {
        0 => String::new(),
        1 => list[0].clone(),
        n if n <= SHOWN + 1 => format!("{} and {}", list[..n - 1].join(", "), list[n - 1]),
        n => format!(
            "{} and {}",
            list[..SHOWN].join(", "),
            count(n - SHOWN, "other", "others")
        ),
    }
}

/// A skill's name as it reads inside a sentence: the tool's name with its first letter in
/// lower case ("adding fractions with unlike denominators"), unless the name starts with an
/// acronym or a proper noun we cannot tell apart (two capitals: left as sent); without a
/// name, the skill id's words ("multiplication-facts.8" → "multiplication facts 8"), never
/// the raw id.
pub fn skill_phrase(name: Option<&str>, skill_id: &str) -> String {
    if let Some(name) = name.map(str::trim).filter(|n| !n.is_empty()) {
        let mut chars = name.chars();
        let first = chars.next().unwrap_or(' ');
        let second = chars.next();
        if first.is_uppercase() && second.is_some_and(char::is_lowercase) {
            return first.to_lowercase().chain(name.chars().skip(1)).collect();
        }
        return name.to_owned();
    }
    words_of_id(skill_id)
}

/// An id's words: separators become spaces, runs of spaces one.
pub fn words_of_id(id: &str) -> String {
    id.split(['.', '-', '_', ':', '/'])
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A range of chances as a person reads it: "between 9% and 20%", or "about 9%" when both
/// ends round to the same figure.
pub fn percent_range(low: f64, high: f64) -> String {
    let (lo, hi) = (percent(low), percent(high));
    if lo == hi {
        format!("about {lo}")
    } else {
        format!("between {lo} and {hi}")
    }
}

/// A domain as it reads inside a sentence ("fractions", "multiplication facts").
pub fn domain_phrase(domain: &str) -> String {
    words_of_id(domain)
}

/// A sentence's first letter in upper case.
pub fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A share as a person reads it: "9 of 31".
pub fn of(part: u32, whole: u32) -> String {
    format!("{part} of {whole}")
}

/// A percentage without decimals, for the detail (never in a headline).
pub fn percent(p: f64) -> String {
    format!("{}%", (p.clamp(0.0, 1.0) * 100.0).round() as i64)
}

/// "today", "yesterday", "3 days ago" from a time and now (ms).
pub fn days_ago(at: i64, now: i64) -> String {
    let days = (now - at).div_euclid(super::DAY_MS).max(0);
    match days {
        0 => "today".to_owned(),
        1 => "yesterday".to_owned(),
        d => format!("{d} days ago"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals() {
        assert_eq!(count(1, "student", "students"), "1 student");
        assert_eq!(count(6, "student", "students"), "6 students");
        assert_eq!(count(0, "student", "students"), "0 students");
        assert_eq!(is_are(1), "is");
        assert_eq!(is_are(2), "are");
        assert_eq!(has_have(1), "has");
    }

    #[test]
    fn lists_of_names() {
        let n = |v: &[&str]| names(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(n(&["Maya"]), "Maya");
        assert_eq!(n(&["Maya", "Noah"]), "Maya and Noah");
        assert_eq!(n(&["Maya", "Noah", "Ava"]), "Maya, Noah and Ava");
        assert_eq!(n(&["A", "B", "C", "D"]), "A, B, C and D");
        assert_eq!(n(&["A", "B", "C", "D", "E"]), "A, B, C and 2 others");
        assert_eq!(n(&["A", "B", "C", "D", "E", "F"]), "A, B, C and 3 others");
    }

    #[test]
    fn skill_names_inside_sentences() {
        assert_eq!(
            skill_phrase(
                Some("Adding fractions with unlike denominators"),
                "fractions.add-unlike"
            ),
            "adding fractions with unlike denominators"
        );
        assert_eq!(
            skill_phrase(Some("GCF of two numbers"), "x.y"),
            "GCF of two numbers"
        );
        assert_eq!(
            skill_phrase(None, "fractions.add-unlike"),
            "fractions add unlike"
        );
        assert_eq!(
            skill_phrase(None, "multiplication-facts.8"),
            "multiplication facts 8"
        );
        assert_eq!(percent_range(0.09, 0.091), "about 9%");
        assert_eq!(percent_range(0.09, 0.2), "between 9% and 20%");
        assert_eq!(skill_phrase(Some("  "), "reading"), "reading");
    }

    #[test]
    fn days() {
        let now = 10 * super::super::DAY_MS;
        assert_eq!(days_ago(now - 1000, now), "today");
        assert_eq!(days_ago(now - super::super::DAY_MS, now), "yesterday");
        assert_eq!(days_ago(now - 3 * super::super::DAY_MS, now), "3 days ago");
        assert_eq!(percent(0.414), "41%");
    }
}
