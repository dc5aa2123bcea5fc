//! Fairness: per group of students (the roster's `group`), how well calibrated the estimates
//! are, how often students are flagged and what teachers decided on their reviews, and a
//! warning when a group differs from the rest of the students by more than the documented
//! margins (docs/reports.md, "Fairness"). Pure: the store supplies the figures per group.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use super::model_health::{Accuracy, Histogram, ECE_BINS};

/// One group's raw figures, as the store rolls them up.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupFigures {
    /// The roster's group label; None for students without one.
    pub group: Option<String>,
    pub students: u64,
    /// The predictions made for the group's answers, in [`ECE_BINS`] bins.
    pub calibration: Histogram,
    /// Students with at least one flag, per flag kind.
    pub flagged: BTreeMap<String, u64>,
    /// Students with at least one flag of any kind.
    pub flagged_any: u64,
    /// Review decisions on the group's students.
    pub confirmed: u64,
    pub dismissed: u64,
}

impl GroupFigures {
    pub fn empty(group: Option<String>) -> Self {
        GroupFigures {
            group,
            students: 0,
            calibration: Histogram::new(ECE_BINS),
            flagged: BTreeMap::new(),
            flagged_any: 0,
            confirmed: 0,
            dismissed: 0,
        }
    }
}

/// When a group is said to differ from the rest.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct FairnessRule {
    /// Calibration is compared only with at least this many answers on each side...
    pub min_answers: u64,
    /// ... and warns when the calibration errors differ by more than this.
    pub ece_margin: f64,
    /// Flag rates are compared only with at least this many students on each side...
    pub min_students: u64,
    /// ... and warn when they differ by more than this (absolute share of students) ...
    pub flag_rate_margin: f64,
    /// ... and by more than this many standard errors (two-proportion z), so that chance
    /// differences between small groups do not warn.
    pub min_z: f64,
}

impl Default for FairnessRule {
    fn default() -> Self {
        FairnessRule {
            min_answers: 500,
            ece_margin: 0.05,
            min_students: 30,
            flag_rate_margin: 0.10,
            min_z: 2.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FlagRate {
    /// A flag kind (`rapid_guessing`, ...), or `any`.
    pub kind: String,
    /// Students of the group with such a flag...
    pub students: u64,
    /// ... as a share of the group's students.
    pub rate: f64,
    /// The same share among all other students.
    pub rest_rate: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Warning {
    /// `calibration` or `flag_rate`.
    pub kind: &'static str,
    /// For a flag-rate warning, the flag kind (or `any`).
    pub flag_kind: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GroupStatus {
    /// Compared with the rest, nothing beyond the margins.
    Ok,
    /// At least one warning.
    Warning,
    /// Too few students and answers to compare anything.
    TooLittleData,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct GroupReport {
    /// The group label; null for students without a group.
    pub group: Option<String>,
    pub students: u64,
    /// Calibration of the estimates over the group's answers (null without answers).
    pub calibration: Option<Accuracy>,
    /// The calibration error of all other students' answers.
    pub rest_ece: Option<f64>,
    pub flag_rates: Vec<FlagRate>,
    pub reviews_confirmed: u64,
    pub reviews_dismissed: u64,
    /// Confirmed / (confirmed + dismissed); null without decisions.
    pub confirmed_share: Option<f64>,
    pub status: GroupStatus,
    pub message: String,
    pub warnings: Vec<Warning>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Fairness {
    /// Whether the roster gives any student a group.
    pub has_groups: bool,
    pub message: String,
    pub rule: FairnessRule,
    pub groups: Vec<GroupReport>,
}

fn sum_others(groups: &[GroupFigures], skip: usize) -> GroupFigures {
    let mut rest = GroupFigures::empty(None);
    for (i, g) in groups.iter().enumerate().filter(|(i, _)| *i != skip) {
        let _ = i;
        rest.students += g.students;
        rest.calibration.merge(&g.calibration);
        for (k, n) in &g.flagged {
            *rest.flagged.entry(k.clone()).or_default() += n;
        }
        rest.flagged_any += g.flagged_any;
        rest.confirmed += g.confirmed;
        rest.dismissed += g.dismissed;
    }
    rest
}

fn share(k: u64, n: u64) -> f64 {
    if n == 0 {
        0.0
    } else {
        k as f64 / n as f64
    }
}

/// Two-proportion z statistic (pooled); 0 when undefined.
fn z_of(k1: u64, n1: u64, k2: u64, n2: u64) -> f64 {
    if n1 == 0 || n2 == 0 {
        return 0.0;
    }
    let p = (k1 + k2) as f64 / (n1 + n2) as f64;
    let se = (p * (1.0 - p) * (1.0 / n1 as f64 + 1.0 / n2 as f64)).sqrt();
    if se == 0.0 {
        0.0
    } else {
        (share(k1, n1) - share(k2, n2)) / se
    }
}

/// The report: each group against all other students. Students without a group are shown
/// (and are part of "the rest" of every group) but are not themselves warned about.
pub fn assess(mut groups: Vec<GroupFigures>, rule: &FairnessRule) -> Fairness {
    groups.sort_by(|a, b| a.group.cmp(&b.group));
    let has_groups = groups.iter().any(|g| g.group.is_some() && g.students > 0);
    let kinds: Vec<String> = {
        let mut k: Vec<String> = groups
            .iter()
            .flat_map(|g| g.flagged.keys().cloned())
            .collect();
        k.sort();
        k.dedup();
        k
    };
    let mut out = Vec::new();
    for (i, g) in groups.iter().enumerate() {
        let rest = sum_others(&groups, i);
        let calibration = g.calibration.accuracy();
        let rest_acc = rest.calibration.accuracy();
        let mut warnings = Vec::new();
        let mut compared = false;
        let label = g.group.as_deref().unwrap_or("students without a group");
        if let (Some(a), Some(r)) = (calibration, rest_acc) {
            if a.answers >= rule.min_answers && r.answers >= rule.min_answers {
                compared = true;
                let diff = a.ece - r.ece;
                if diff.abs() > rule.ece_margin {
                    warnings.push(Warning {
                        kind: "calibration",
                        flag_kind: None,
                        message: format!(
                            "Estimates are {} calibrated for {label}: calibration error {:.2} \
                             against {:.2} for the other students.",
                            if diff > 0.0 { "less well" } else { "better" },
                            a.ece,
                            r.ece
                        ),
                    });
                }
            }
        }
        let mut flag_rates = Vec::new();
        let enough_students = g.students >= rule.min_students && rest.students >= rule.min_students;
        compared |= enough_students;
        let rows = kinds
            .iter()
            .map(|k| {
                (
                    k.as_str(),
                    g.flagged.get(k).copied().unwrap_or(0),
                    rest.flagged.get(k).copied().unwrap_or(0),
                )
            })
            .chain([("any", g.flagged_any, rest.flagged_any)]);
        for (kind, k1, k2) in rows {
            let (rate, rest_rate) = (share(k1, g.students), share(k2, rest.students));
            if enough_students
                && (rate - rest_rate).abs() > rule.flag_rate_margin
                && z_of(k1, g.students, k2, rest.students).abs() > rule.min_z
            {
                warnings.push(Warning {
                    kind: "flag_rate",
                    flag_kind: Some(kind.to_owned()),
                    message: format!(
                        "{} of {label} have {}, against {} of the other students.",
                        percent(rate),
                        if kind == "any" {
                            "a flag of any kind".to_owned()
                        } else {
                            format!("a {} flag", kind.replace('_', " "))
                        },
                        percent(rest_rate)
                    ),
                });
            }
            flag_rates.push(FlagRate {
                kind: kind.to_owned(),
                students: k1,
                rate,
                rest_rate,
            });
        }
        if g.group.is_none() {
            warnings.clear();
        }
        let decided = g.confirmed + g.dismissed;
        let (status, message) = if !warnings.is_empty() {
            (
                GroupStatus::Warning,
                format!("{label} differ from the other students: see the warnings."),
            )
        } else if !compared {
            (
                GroupStatus::TooLittleData,
                format!(
                    "Too little data to compare {label}: {} students and {} answers \
                     ({} students or {} answers on each side needed).",
                    g.students,
                    calibration.map_or(0, |a| a.answers),
                    rule.min_students,
                    rule.min_answers
                ),
            )
        } else {
            (
                GroupStatus::Ok,
                format!("No difference beyond the margins between {label} and the other students."),
            )
        };
        out.push(GroupReport {
            group: g.group.clone(),
            students: g.students,
            calibration,
            rest_ece: rest_acc.map(|a| a.ece),
            flag_rates,
            reviews_confirmed: g.confirmed,
            reviews_dismissed: g.dismissed,
            confirmed_share: (decided > 0).then(|| share(g.confirmed, decided)),
            status,
            message,
            warnings,
        });
    }
    let message = if !has_groups {
        "The roster gives no student a group: upload groups with the roster \
         (PUT /api/v1/admin/roster, column group) to compare them."
            .to_owned()
    } else {
        let warned = out
            .iter()
            .filter(|g| g.status == GroupStatus::Warning)
            .count();
        match warned {
            0 => "No group differs from the other students beyond the margins.".to_owned(),
            1 => "1 group differs from the other students: see its warnings.".to_owned(),
            n => format!("{n} groups differ from the other students: see their warnings."),
        }
    };
    Fairness {
        has_groups,
        message,
        rule: *rule,
        groups: out,
    }
}

fn percent(x: f64) -> String {
    format!("{:.0}%", 100.0 * x)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(label: &str, students: u64, flagged: u64, pred: f64, right: f64) -> GroupFigures {
        let mut g = GroupFigures::empty(Some(label.to_owned()));
        g.students = students;
        g.flagged_any = flagged;
        g.flagged.insert("rapid_guessing".into(), flagged);
        // 1,000 answers predicted at `pred`, a share `right` of them right.
        let k = (1000.0 * right) as u64;
        for i in 0..1000 {
            g.calibration.add(pred, i < k);
        }
        g
    }

    #[test]
    fn a_group_beyond_the_margins_is_warned_about() {
        let rule = FairnessRule::default();
        let f = assess(
            vec![
                group("a", 100, 10, 0.7, 0.7),
                group("b", 100, 12, 0.7, 0.7),
                group("c", 100, 40, 0.7, 0.55),
                group("d", 100, 10, 0.7, 0.7),
                group("e", 100, 11, 0.7, 0.7),
            ],
            &rule,
        );
        assert!(f.has_groups);
        let by: BTreeMap<_, _> = f
            .groups
            .iter()
            .map(|g| (g.group.clone().unwrap_or_default(), g))
            .collect();
        assert_eq!(by["a"].status, GroupStatus::Ok, "{:?}", by["a"]);
        assert_eq!(by["b"].status, GroupStatus::Ok);
        let c = by["c"];
        assert_eq!(c.status, GroupStatus::Warning);
        let kinds: Vec<_> = c.warnings.iter().map(|w| w.kind).collect();
        assert!(kinds.contains(&"calibration"), "{kinds:?}");
        assert!(kinds.contains(&"flag_rate"));
        let any = c
            .flag_rates
            .iter()
            .find(|r| r.kind == "any")
            .map(|r| r.rate);
        assert_eq!(any, Some(0.4));
        assert!((c.calibration.map(|a| a.ece).unwrap_or(0.0) - 0.15).abs() < 1e-9);
    }

    #[test]
    fn small_groups_are_too_little_data_not_warnings() {
        let f = assess(
            vec![group("a", 100, 10, 0.7, 0.7), {
                let mut g = group("tiny", 5, 4, 0.7, 0.7);
                g.calibration = Histogram::new(ECE_BINS);
                g
            }],
            &FairnessRule::default(),
        );
        let tiny = f.groups.iter().find(|g| g.group.as_deref() == Some("tiny"));
        assert_eq!(tiny.map(|g| g.status), Some(GroupStatus::TooLittleData));
    }

    #[test]
    fn a_difference_within_chance_does_not_warn() {
        // 0.10 vs 0.22 over 40 students each: beyond 0.10 but not two standard errors.
        let f = assess(
            vec![group("a", 40, 4, 0.7, 0.7), group("b", 40, 9, 0.7, 0.7)],
            &FairnessRule::default(),
        );
        assert!(
            f.groups.iter().all(|g| g.status == GroupStatus::Ok),
            "{f:?}"
        );
    }

    #[test]
    fn without_groups_it_says_so() {
        let mut g = GroupFigures::empty(None);
        g.students = 50;
        let f = assess(vec![g], &FairnessRule::default());
        assert!(!f.has_groups);
        assert!(f.message.contains("no student a group"), "{}", f.message);
    }

    #[test]
    fn z_statistic_by_hand() {
        // 20/100 vs 10/100: pooled 0.15, se = sqrt(0.15 * 0.85 * 0.02).
        let z = z_of(20, 100, 10, 100);
        assert!((z - 0.1 / (0.15f64 * 0.85 * 0.02).sqrt()).abs() < 1e-12);
        assert_eq!(z_of(0, 0, 1, 2), 0.0);
    }
}
