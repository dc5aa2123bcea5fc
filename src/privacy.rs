//! Pure privacy helpers: the anonymised labels shown instead of names (`?anonymise=true`, for
//! projecting a class on a screen) and the retention cut-off.

use sha2::{Digest, Sha256};

/// Letters and digits that cannot be mistaken for one another on a projected screen.
const ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// A stable label for a student, e.g. "Student K7Q": the same for the same student of the same
/// organisation every time, derived from neither name nor initials (which could identify), and
/// not reversible to the id. Collisions within a class are rare (1 in 32,768 per pair).
pub fn anonymised_label(org: &str, student_id: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(org.as_bytes());
    hasher.update([0u8]);
    hasher.update(student_id.as_bytes());
    let digest = hasher.finalize();
    let code: String = digest[..3]
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(b % 32)]))
        .collect();
    format!("Student {code}")
}

/// What a read shows as a student's name: their anonymised label in anonymised mode, else the
/// roster's display name if there is one.
pub fn shown_name(
    org: &str,
    student_id: &str,
    display_name: Option<&str>,
    anonymise: bool,
) -> Option<String> {
    if anonymise {
        Some(anonymised_label(org, student_id))
    } else {
        display_name.map(str::to_owned)
    }
}

/// Events that occurred before this time (ms) are purged when keeping `days` days.
pub fn retention_cutoff(now_ms: i64, days: u32) -> i64 {
    now_ms - i64::from(days) * 86_400_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_stable_distinct_and_hide_the_id() {
        let a = anonymised_label("o", "stu-0042");
        assert_eq!(a, anonymised_label("o", "stu-0042"));
        assert!(a.starts_with("Student ") && a.len() == "Student ".len() + 3);
        assert!(!a.contains("0042"));
        assert_ne!(a, anonymised_label("o2", "stu-0042"), "per organisation");
        let labels: std::collections::HashSet<String> = (0..30)
            .map(|i| anonymised_label("o", &format!("stu-{i:04}")))
            .collect();
        assert!(labels.len() >= 29, "a class rarely shares a label");
    }

    #[test]
    fn names_show_only_outside_anonymised_mode() {
        assert_eq!(shown_name("o", "s", Some("Maya"), false).as_deref(), Some("Maya"));
        assert_eq!(shown_name("o", "s", None, false), None);
        let anon = shown_name("o", "s", Some("Maya"), true).unwrap();
        assert!(!anon.contains("Maya"));
    }

    #[test]
    fn the_cutoff_is_n_days_back() {
        assert_eq!(retention_cutoff(10 * 86_400_000, 3), 7 * 86_400_000);
    }
}
