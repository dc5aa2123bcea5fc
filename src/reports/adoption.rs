//! The adoption report: who uses Huddle, how much, and whether teachers act on it — per week
//! for the organisation, and over the whole range per school and per class.
//!
//! Figures add up by construction: every figure of a class row is a count that belongs to
//! exactly one class, schools are the sums of their classes (classes without a school under
//! one "no school" row), the organisation the sum of its schools. Distinct people are made
//! additive by counting each in one class only, their *home class* for the range: a student
//! in the class where they answered most (ties: the first class id), a teacher in the class
//! whose pages they opened most. `students_practised` (not additive) counts a student in every
//! class they answered in. [`check`] verifies the sums; docs/reports.md says it in words.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::Serialize;
use utoipa::ToSchema;

use super::{date_string, minutes, share, Range};

/// Audit actions that are a teacher looking at their class.
pub const CLASS_PAGES: [&str; 3] = ["class.overview", "class.insights", "class.groups"];
pub const INSIGHTS_PAGE: &str = "class.insights";

/// Practice of a student in a class in a week (`store::reports` reads it from the aggregate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityRow {
    pub week_start: i64,
    pub class_id: String,
    pub student_id: String,
    pub events: i64,
    pub timed_events: i64,
    pub practice_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassInfo {
    pub class_id: String,
    pub school_id: Option<String>,
    pub name: Option<String>,
}

/// A page of a class read by a teacher account (from the audit log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassRead {
    pub at: i64,
    pub user_id: String,
    pub class_id: String,
    pub action: String,
}

/// A review decision (confirm or dismiss) of a teacher or administrator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub at: i64,
    pub student_id: String,
    pub decided_by: String,
}

/// A teacher's check-in with a student during a lesson (`POST …/checkins`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckIn {
    pub at: i64,
    pub class_id: String,
    pub student_id: String,
}

/// Everything the report is computed from.
#[derive(Debug, Clone, Default)]
pub struct Input {
    /// Weekly rows of the weeks the range touches.
    pub activity: Vec<ActivityRow>,
    pub classes: Vec<ClassInfo>,
    /// school id → name.
    pub schools: BTreeMap<String, Option<String>>,
    /// (class, student) enrolments, as they stand now.
    pub enrolments: Vec<(String, String)>,
    /// (class, teacher user id): who teaches what, as it stands now.
    pub teaching: Vec<(String, String)>,
    /// Class pages read by teacher accounts during the weeks of the range.
    pub reads: Vec<ClassRead>,
    /// Review decisions during the weeks of the range.
    pub decisions: Vec<Decision>,
    /// Check-ins during the weeks of the range.
    pub checkins: Vec<CheckIn>,
}

/// The figures of one row; every one but `students_practised` and the shares adds up.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct Figures {
    /// Students who answered at least once, each counted in one place (their home class).
    pub active_students: u64,
    /// Teacher accounts that opened a page (overview, insights, groups) of a class they teach,
    /// each counted in one place (the class they opened most).
    pub active_teachers: u64,
    /// Practice events stored (duplicates and refused events excluded).
    pub events: u64,
    /// Practice time in minutes (one decimal): each answer's response time, capped at 5 minutes.
    pub practice_minutes: f64,
    /// The same, exact, in milliseconds (what the sums are checked on).
    pub practice_ms: u64,
    /// Events that carried a response time (the others count no practice time).
    pub timed_events: u64,
    /// Enrolments (student × class) in the row's classes, as they stand now.
    pub enrolled: u64,
    /// Of those, enrolments whose student answered in that class during the period.
    pub enrolled_practising: u64,
    /// enrolled_practising / enrolled (4 decimals); absent when nobody is enrolled.
    pub share_practising: Option<f64>,
    /// Class pages opened by their teachers.
    pub teacher_views: u64,
    /// Of those, insights pages.
    pub insights_viewed: u64,
    /// Review items decided (confirmed or dismissed), counted in the student's class.
    pub reviews_decided: u64,
    /// Check-ins ("I checked in" on the Now page), counted in the class they were made in.
    pub checkins: u64,
    /// Enrolments whose student had at least one check-in in that class during the period.
    pub enrolled_checked_in: u64,
    /// enrolled_checked_in / enrolled (4 decimals): the share of students checked in with;
    /// absent when nobody is enrolled.
    pub share_checked_in: Option<f64>,
}

impl Figures {
    fn add(&mut self, o: &Figures) {
        self.active_students += o.active_students;
        self.active_teachers += o.active_teachers;
        self.events += o.events;
        self.practice_ms += o.practice_ms;
        self.timed_events += o.timed_events;
        self.enrolled += o.enrolled;
        self.enrolled_practising += o.enrolled_practising;
        self.teacher_views += o.teacher_views;
        self.insights_viewed += o.insights_viewed;
        self.reviews_decided += o.reviews_decided;
        self.checkins += o.checkins;
        self.enrolled_checked_in += o.enrolled_checked_in;
        self.finish();
    }

    /// Derives the rounded and shared figures from the counts.
    fn finish(&mut self) {
        self.practice_minutes = minutes(self.practice_ms);
        self.share_practising = share(self.enrolled_practising, self.enrolled);
        self.share_checked_in = share(self.enrolled_checked_in, self.enrolled);
    }

    /// The additive figures, for comparing sums.
    fn counts(&self) -> [u64; 12] {
        [
            self.active_students,
            self.active_teachers,
            self.events,
            self.practice_ms,
            self.timed_events,
            self.enrolled,
            self.enrolled_practising,
            self.teacher_views,
            self.insights_viewed,
            self.reviews_decided,
            self.checkins,
            self.enrolled_checked_in,
        ]
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct WeekRow {
    /// The Monday (UTC) starting the ISO week, YYYY-MM-DD.
    #[schema(example = "2026-11-30")]
    pub week_start: String,
    /// In a week row, distinct students and teachers of the week.
    #[serde(flatten)]
    pub figures: Figures,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SchoolRow {
    /// Absent for the "no school" row (classes the roster gives no school).
    pub school_id: Option<String>,
    pub name: Option<String>,
    pub classes: u64,
    #[serde(flatten)]
    pub figures: Figures,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ClassRow {
    /// Absent for the "no class" row (review decisions about students without a class).
    pub class_id: Option<String>,
    pub name: Option<String>,
    pub school_id: Option<String>,
    /// Distinct students who answered in this class (a student may count in several classes).
    pub students_practised: u64,
    #[serde(flatten)]
    pub figures: Figures,
}

/// The report (contract: `weeks`, `schools`, `classes`; more fields added).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Adoption {
    /// The range asked for (YYYY-MM-DD, both included).
    pub from: String,
    pub to: String,
    /// Weekly figures cover whole ISO weeks (Monday to Sunday, UTC): the range is widened to
    /// the weeks it touches, and so are the school and class figures.
    pub weeks_from: String,
    pub weeks_to: String,
    /// The organisation, week by week.
    pub weeks: Vec<WeekRow>,
    /// Each school over the range; "no school" last.
    pub schools: Vec<SchoolRow>,
    /// Each class over the range, by school then class.
    pub classes: Vec<ClassRow>,
    /// The organisation over the range: the sum of the schools.
    pub totals: Figures,
    /// True when classes sum to their schools, schools to the totals, and the totals' distinct
    /// students and teachers equal those counted directly.
    pub consistent: bool,
}

/// The class a person counts in: the one with the most of their activity, ties to the first id.
fn home<'a>(counts: &BTreeMap<&'a str, u64>) -> Option<&'a str> {
    let mut best: Option<(&str, u64)> = None;
    for (&class, &n) in counts {
        if best.is_none_or(|(_, m)| n > m) {
            best = Some((class, n));
        }
    }
    best.map(|(c, _)| c)
}

/// Computes the report for `range` (`weeks` are its Mondays: see [`Range::weeks`]).
pub fn compute(range: &Range, input: &Input) -> Adoption {
    let weeks = range.weeks();
    let (lo, hi) = range.week_bounds();
    let in_range = |at: i64| (lo..hi).contains(&at);

    // Classes: known ones, plus any the data names that the roster does not (none in
    // practice: events create their class).
    let mut school_of: BTreeMap<&str, Option<&str>> = input
        .classes
        .iter()
        .map(|c| (c.class_id.as_str(), c.school_id.as_deref()))
        .collect();
    for a in &input.activity {
        school_of.entry(a.class_id.as_str()).or_insert(None);
    }

    let teaching: HashSet<(&str, &str)> = input
        .teaching
        .iter()
        .map(|(c, u)| (c.as_str(), u.as_str()))
        .collect();
    let reads: Vec<&ClassRead> = input
        .reads
        .iter()
        .filter(|r| {
            in_range(r.at)
                && CLASS_PAGES.contains(&r.action.as_str())
                && teaching.contains(&(r.class_id.as_str(), r.user_id.as_str()))
        })
        .collect();
    let activity: Vec<&ActivityRow> = input
        .activity
        .iter()
        .filter(|a| in_range(a.week_start))
        .collect();

    let mut per_class: BTreeMap<Option<&str>, Figures> = BTreeMap::new();
    let mut practised: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut student_classes: BTreeMap<&str, BTreeMap<&str, u64>> = BTreeMap::new();
    for a in &activity {
        let f = per_class.entry(Some(a.class_id.as_str())).or_default();
        f.events += a.events as u64;
        f.timed_events += a.timed_events as u64;
        f.practice_ms += a.practice_ms as u64;
        practised
            .entry(a.class_id.as_str())
            .or_default()
            .insert(a.student_id.as_str());
        *student_classes
            .entry(a.student_id.as_str())
            .or_default()
            .entry(a.class_id.as_str())
            .or_default() += a.events as u64;
    }
    for classes in student_classes.values() {
        if let Some(class) = home(classes) {
            per_class.entry(Some(class)).or_default().active_students += 1;
        }
    }

    let checkins: Vec<&CheckIn> = input.checkins.iter().filter(|c| in_range(c.at)).collect();
    let mut checked_in: HashSet<(&str, &str)> = HashSet::new();
    for c in &checkins {
        school_of.entry(c.class_id.as_str()).or_insert(None);
        per_class
            .entry(Some(c.class_id.as_str()))
            .or_default()
            .checkins += 1;
        checked_in.insert((c.class_id.as_str(), c.student_id.as_str()));
    }

    let mut enrolled_in: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (class, student) in &input.enrolments {
        school_of.entry(class.as_str()).or_insert(None);
        let f = per_class.entry(Some(class.as_str())).or_default();
        f.enrolled += 1;
        if practised
            .get(class.as_str())
            .is_some_and(|s| s.contains(student.as_str()))
        {
            f.enrolled_practising += 1;
        }
        if checked_in.contains(&(class.as_str(), student.as_str())) {
            f.enrolled_checked_in += 1;
        }
        enrolled_in
            .entry(student.as_str())
            .or_default()
            .push(class.as_str());
    }

    let mut teacher_classes: BTreeMap<&str, BTreeMap<&str, u64>> = BTreeMap::new();
    for r in &reads {
        let f = per_class.entry(Some(r.class_id.as_str())).or_default();
        f.teacher_views += 1;
        if r.action == INSIGHTS_PAGE {
            f.insights_viewed += 1;
        }
        *teacher_classes
            .entry(r.user_id.as_str())
            .or_default()
            .entry(r.class_id.as_str())
            .or_default() += 1;
    }
    for classes in teacher_classes.values() {
        if let Some(class) = home(classes) {
            per_class.entry(Some(class)).or_default().active_teachers += 1;
        }
    }

    let decisions: Vec<&Decision> = input.decisions.iter().filter(|d| in_range(d.at)).collect();
    for d in &decisions {
        let class = decision_class(d, &enrolled_in, &teaching);
        per_class.entry(class).or_default().reviews_decided += 1;
    }

    // Every known class gets a row, used or not: a class that never practises is news too.
    for class in school_of.keys() {
        per_class.entry(Some(*class)).or_default();
    }
    let names: HashMap<&str, Option<&str>> = input
        .classes
        .iter()
        .map(|c| (c.class_id.as_str(), c.name.as_deref()))
        .collect();

    let mut schools: BTreeMap<Option<&str>, (u64, Figures)> = BTreeMap::new();
    let mut classes = Vec::with_capacity(per_class.len());
    for (class, mut f) in per_class {
        f.finish();
        let school = class.and_then(|c| school_of.get(c).copied().flatten());
        let s = schools.entry(school).or_default();
        s.0 += 1;
        s.1.add(&f);
        classes.push(ClassRow {
            class_id: class.map(str::to_owned),
            name: class
                .and_then(|c| names.get(c).copied().flatten())
                .map(str::to_owned),
            school_id: school.map(str::to_owned),
            students_practised: class
                .and_then(|c| practised.get(c))
                .map_or(0, |s| s.len() as u64),
            figures: f,
        });
    }
    // By school (no school last), then class (no class last).
    classes.sort_by(|a, b| {
        (
            a.school_id.is_none(),
            &a.school_id,
            a.class_id.is_none(),
            &a.class_id,
        )
            .cmp(&(
                b.school_id.is_none(),
                &b.school_id,
                b.class_id.is_none(),
                &b.class_id,
            ))
    });
    let mut totals = Figures::default();
    let mut school_rows: Vec<SchoolRow> = schools
        .into_iter()
        .map(|(school, (n, f))| {
            totals.add(&f);
            SchoolRow {
                school_id: school.map(str::to_owned),
                name: school.and_then(|s| input.schools.get(s).cloned().flatten()),
                classes: n,
                figures: f,
            }
        })
        .collect();
    school_rows.sort_by(|a, b| {
        (a.school_id.is_none(), &a.school_id).cmp(&(b.school_id.is_none(), &b.school_id))
    });
    totals.finish();

    let week_rows = weekly(
        &weeks,
        &activity,
        &reads,
        &decisions,
        &checkins,
        &input.enrolments,
    );
    let direct_students = student_classes.len() as u64;
    let direct_teachers = teacher_classes.len() as u64;
    let mut report = Adoption {
        from: range.from.format("%Y-%m-%d").to_string(),
        to: range.to.format("%Y-%m-%d").to_string(),
        weeks_from: date_string(lo),
        weeks_to: date_string(hi - super::DAY_MS),
        weeks: week_rows,
        schools: school_rows,
        classes,
        totals,
        consistent: false,
    };
    report.consistent = check(&report).is_ok()
        && report.totals.active_students == direct_students
        && report.totals.active_teachers == direct_teachers;
    report
}

/// The class a review decision counts in: among the student's classes, one the decider
/// teaches, else the first; a student without a class counts in the "no class" row.
fn decision_class<'a>(
    d: &'a Decision,
    enrolled_in: &BTreeMap<&'a str, Vec<&'a str>>,
    teaching: &HashSet<(&str, &str)>,
) -> Option<&'a str> {
    let classes = enrolled_in.get(d.student_id.as_str())?;
    classes
        .iter()
        .copied()
        .filter(|c| teaching.contains(&(*c, d.decided_by.as_str())))
        .min()
        .or_else(|| classes.iter().copied().min())
}

/// The organisation week by week: distinct students and teachers of each week.
fn weekly(
    weeks: &[i64],
    activity: &[&ActivityRow],
    reads: &[&ClassRead],
    decisions: &[&Decision],
    checkins: &[&CheckIn],
    enrolments: &[(String, String)],
) -> Vec<WeekRow> {
    let enrolled: HashSet<(&str, &str)> = enrolments
        .iter()
        .map(|(c, s)| (c.as_str(), s.as_str()))
        .collect();
    weeks
        .iter()
        .map(|&week| {
            let end = week + super::WEEK_MS;
            let mut f = Figures {
                enrolled: enrolled.len() as u64,
                ..Figures::default()
            };
            let mut students = HashSet::new();
            for a in activity.iter().filter(|a| a.week_start == week) {
                f.events += a.events as u64;
                f.timed_events += a.timed_events as u64;
                f.practice_ms += a.practice_ms as u64;
                students.insert(a.student_id.as_str());
                if enrolled.contains(&(a.class_id.as_str(), a.student_id.as_str())) {
                    f.enrolled_practising += 1;
                }
            }
            f.active_students = students.len() as u64;
            let mut teachers = HashSet::new();
            for r in reads.iter().filter(|r| (week..end).contains(&r.at)) {
                f.teacher_views += 1;
                if r.action == INSIGHTS_PAGE {
                    f.insights_viewed += 1;
                }
                teachers.insert(r.user_id.as_str());
            }
            f.active_teachers = teachers.len() as u64;
            f.reviews_decided = decisions
                .iter()
                .filter(|d| (week..end).contains(&d.at))
                .count() as u64;
            let mut checked: HashSet<(&str, &str)> = HashSet::new();
            for c in checkins.iter().filter(|c| (week..end).contains(&c.at)) {
                f.checkins += 1;
                let pair = (c.class_id.as_str(), c.student_id.as_str());
                if enrolled.contains(&pair) {
                    checked.insert(pair);
                }
            }
            f.enrolled_checked_in = checked.len() as u64;
            f.finish();
            WeekRow {
                week_start: date_string(week),
                figures: f,
            }
        })
        .collect()
}

/// Reads one figure (the sums below compare them one by one).
type Getter = fn(&Figures) -> u64;

/// Checks that the report adds up: each school is the sum of its classes, the totals the sum
/// of the schools, and the weeks' events, practice time, views and decisions sum to the
/// totals'. The error names the first row that does not.
pub fn check(report: &Adoption) -> Result<(), String> {
    for school in &report.schools {
        let mut sum = Figures::default();
        for c in report
            .classes
            .iter()
            .filter(|c| c.school_id == school.school_id)
        {
            sum.add(&c.figures);
        }
        if sum.counts() != school.figures.counts() {
            return Err(format!(
                "the classes of school {:?} do not add up to it",
                school.school_id
            ));
        }
    }
    let mut sum = Figures::default();
    for s in &report.schools {
        sum.add(&s.figures);
    }
    if sum.counts() != report.totals.counts() {
        return Err("the schools do not add up to the totals".into());
    }
    let weekly =
        |get: fn(&Figures) -> u64| report.weeks.iter().map(|w| get(&w.figures)).sum::<u64>();
    let pairs: [(Getter, &str); 6] = [
        (|f| f.events, "events"),
        (|f| f.practice_ms, "practice"),
        (|f| f.teacher_views, "teacher views"),
        (|f| f.insights_viewed, "insights viewed"),
        (|f| f.reviews_decided, "review decisions"),
        (|f| f.checkins, "check-ins"),
    ];
    for (get, what) in pairs {
        if weekly(get) != get(&report.totals) {
            return Err(format!("the weeks' {what} do not add up to the totals"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::{DAY_MS, WEEK_MS};
    use chrono::NaiveDate;

    const MON: i64 = 1_795_996_800_000; // 2026-11-30

    fn range() -> Range {
        Range {
            from: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
            to: NaiveDate::from_ymd_opt(2026, 12, 6).unwrap(),
        }
    }

    fn act(week: i64, class: &str, student: &str, events: i64, ms: i64) -> ActivityRow {
        ActivityRow {
            week_start: week,
            class_id: class.into(),
            student_id: student.into(),
            events,
            timed_events: events,
            practice_ms: ms,
        }
    }

    fn class(id: &str, school: Option<&str>) -> ClassInfo {
        ClassInfo {
            class_id: id.into(),
            school_id: school.map(Into::into),
            name: Some(format!("Class {id}")),
        }
    }

    fn read(at: i64, user: &str, class: &str, action: &str) -> ClassRead {
        ClassRead {
            at,
            user_id: user.into(),
            class_id: class.into(),
            action: action.into(),
        }
    }

    fn pair(a: &str, b: &str) -> (String, String) {
        (a.into(), b.into())
    }

    fn district() -> Input {
        let last = MON - WEEK_MS;
        Input {
            activity: vec![
                act(last, "c1", "s1", 10, 60_000),
                act(MON, "c1", "s1", 5, 30_000),
                act(MON, "c2", "s1", 7, 1_000), // s1 answers in two classes: home is c1 (15 > 7)
                act(MON, "c2", "s2", 3, 3_000),
                act(MON, "c3", "s3", 4, 4_000),
                act(MON - 2 * WEEK_MS, "c1", "s9", 99, 1), // before the range: not counted
            ],
            classes: vec![
                class("c1", Some("A")),
                class("c2", Some("A")),
                class("c3", None),
                class("c4", Some("B")),
            ],
            schools: [
                ("A".to_string(), Some("School A".to_string())),
                ("B".into(), None),
            ]
            .into(),
            enrolments: vec![
                pair("c1", "s1"),
                pair("c2", "s2"),
                pair("c2", "s4"),
                pair("c3", "s3"),
                pair("c4", "s5"),
            ],
            teaching: vec![
                pair("c1", "t1"),
                pair("c2", "t1"),
                pair("c2", "t2"),
                pair("c4", "t3"),
            ],
            reads: vec![
                read(MON + DAY_MS, "t1", "c1", "class.overview"),
                read(MON + DAY_MS, "t1", "c2", "class.insights"),
                read(MON + 2 * DAY_MS, "t1", "c2", "class.groups"), // t1's home: c2 (2 > 1)
                read(last + DAY_MS, "t2", "c2", "class.insights"),
                read(MON, "t2", "c1", "class.overview"), // t2 does not teach c1: not counted
                read(MON, "t1", "c1", "student.read"),   // not a class page
            ],
            decisions: vec![
                Decision {
                    at: MON + 5,
                    student_id: "s2".into(),
                    decided_by: "t2".into(),
                },
                Decision {
                    at: MON + 6,
                    student_id: "s1".into(),
                    decided_by: "t1".into(),
                },
                Decision {
                    at: MON + 7,
                    student_id: "ghost".into(),
                    decided_by: "admin".into(),
                },
            ],
            checkins: vec![
                checkin(MON + DAY_MS, "c2", "s2"),
                checkin(MON + 2 * DAY_MS, "c2", "s2"), // s2 twice: one student checked in with
                checkin(last + DAY_MS, "c2", "s4"),
                checkin(MON, "c1", "s2"), // s2 is not enrolled in c1: a check-in, no enrolment
                checkin(MON - 2 * WEEK_MS, "c1", "s1"), // before the range: not counted
            ],
        }
    }

    fn checkin(at: i64, class: &str, student: &str) -> CheckIn {
        CheckIn {
            at,
            class_id: class.into(),
            student_id: student.into(),
        }
    }

    fn class_row<'a>(r: &'a Adoption, id: Option<&str>) -> &'a ClassRow {
        r.classes
            .iter()
            .find(|c| c.class_id.as_deref() == id)
            .unwrap()
    }

    #[test]
    fn classes_count_each_person_once_and_add_up_to_schools_and_org() {
        let r = compute(&range(), &district());
        assert!(r.consistent, "{:?}", check(&r));
        assert_eq!(r.weeks_from, "2026-11-23");
        assert_eq!(r.weeks_to, "2026-12-06");

        let c1 = class_row(&r, Some("c1"));
        assert_eq!(
            (
                c1.figures.active_students,
                c1.figures.events,
                c1.students_practised
            ),
            (1, 15, 1)
        );
        assert_eq!(c1.figures.practice_ms, 90_000);
        assert_eq!(c1.figures.practice_minutes, 1.5);
        let c2 = class_row(&r, Some("c2"));
        // s1 practised in c2 but counts in c1; s2 is c2's.
        assert_eq!((c2.figures.active_students, c2.students_practised), (1, 2));
        assert_eq!(
            (c2.figures.enrolled, c2.figures.enrolled_practising),
            (2, 1)
        );
        assert_eq!(c2.figures.share_practising, Some(0.5));
        assert_eq!(
            (c2.figures.teacher_views, c2.figures.insights_viewed),
            (3, 2)
        );
        assert_eq!(c2.figures.active_teachers, 2); // t1 (home c2) and t2
        assert_eq!(c1.figures.active_teachers, 0);
        assert_eq!(c1.figures.teacher_views, 1);
        // Decisions: s2 → c2, s1 → c1 (t1 teaches c1), ghost → no class.
        assert_eq!(c2.figures.reviews_decided, 1);
        assert_eq!(c1.figures.reviews_decided, 1);
        assert_eq!(class_row(&r, None).figures.reviews_decided, 1);
        // A class nobody used still has its row.
        assert_eq!(
            class_row(&r, Some("c4")).figures,
            Figures {
                enrolled: 1,
                share_practising: Some(0.0),
                share_checked_in: Some(0.0),
                ..Figures::default()
            }
        );

        let a = &r.schools[0];
        assert_eq!(
            (a.school_id.as_deref(), a.name.as_deref(), a.classes),
            (Some("A"), Some("School A"), 2)
        );
        assert_eq!((a.figures.active_students, a.figures.events), (2, 25));
        let none = r.schools.last().unwrap();
        assert_eq!(none.school_id, None);
        assert_eq!(none.classes, 2); // c3 and the no-class row

        assert_eq!(r.totals.active_students, 3);
        assert_eq!(r.totals.active_teachers, 2);
        assert_eq!(r.totals.events, 29);
        assert_eq!(r.totals.enrolled, 5);
        assert_eq!(r.totals.reviews_decided, 3);
    }

    #[test]
    fn checkins_count_in_their_class_and_share_the_students_checked_in_with() {
        let r = compute(&range(), &district());
        assert!(r.consistent, "{:?}", check(&r));
        let c2 = class_row(&r, Some("c2"));
        // Three check-ins with s2 (twice) and s4: both of c2's students.
        assert_eq!(
            (c2.figures.checkins, c2.figures.enrolled_checked_in),
            (3, 2)
        );
        assert_eq!(c2.figures.share_checked_in, Some(1.0));
        let c1 = class_row(&r, Some("c1"));
        assert_eq!(
            (c1.figures.checkins, c1.figures.enrolled_checked_in),
            (1, 0)
        );
        assert_eq!(c1.figures.share_checked_in, Some(0.0));
        assert_eq!((r.totals.checkins, r.totals.enrolled_checked_in), (4, 2));
        assert_eq!(r.totals.share_checked_in, Some(0.4));
        // Per week: s4 last week; s2 (once, though twice) and the unenrolled pair this week.
        let (last, this) = (&r.weeks[0].figures, &r.weeks[1].figures);
        assert_eq!((last.checkins, last.enrolled_checked_in), (1, 1));
        assert_eq!((this.checkins, this.enrolled_checked_in), (3, 1));
        assert_eq!(this.share_checked_in, Some(0.2));
    }

    #[test]
    fn weeks_count_distinct_people_of_each_week() {
        let r = compute(&range(), &district());
        let weeks: Vec<&str> = r.weeks.iter().map(|w| w.week_start.as_str()).collect();
        assert_eq!(weeks, ["2026-11-23", "2026-11-30"]);
        let (last, this) = (&r.weeks[0].figures, &r.weeks[1].figures);
        assert_eq!(
            (last.active_students, last.events, last.active_teachers),
            (1, 10, 1)
        );
        assert_eq!(
            (this.active_students, this.events, this.active_teachers),
            (3, 19, 1)
        );
        // s1 in c1, s2 in c2, s3 in c3 are enrolled pairs; s1 in c2 is not.
        assert_eq!(this.enrolled_practising, 3);
        assert_eq!(this.enrolled, 5);
        assert_eq!(this.reviews_decided, 3);
        assert_eq!(
            last.insights_viewed + this.insights_viewed,
            r.totals.insights_viewed
        );
    }

    #[test]
    fn check_finds_a_row_that_does_not_add_up() {
        let mut r = compute(&range(), &district());
        assert_eq!(check(&r), Ok(()));
        r.classes[0].figures.events += 1;
        assert!(check(&r).unwrap_err().contains("school"));
        let mut r = compute(&range(), &district());
        r.weeks[0].figures.events += 1;
        assert!(check(&r).unwrap_err().contains("events"));
    }

    #[test]
    fn an_empty_organisation_has_weeks_of_zeros() {
        let r = compute(&range(), &Input::default());
        assert!(r.consistent);
        assert_eq!(r.weeks.len(), 2);
        assert!(r.classes.is_empty() && r.schools.is_empty());
        assert_eq!(r.totals, Figures::default());
    }

    #[test]
    fn ties_go_to_the_first_class() {
        let counts: BTreeMap<&str, u64> = [("b", 2), ("a", 2), ("c", 1)].into();
        assert_eq!(home(&counts), Some("a"));
        assert_eq!(home(&BTreeMap::new()), None);
    }
}
