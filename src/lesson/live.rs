//! The class now, kept up to date answer by answer: what a server's live streams show.
//!
//! [`LiveClass`] holds a class's answers and check-ins of the look-back window and gives, at any
//! moment, exactly what [`class_now`](super::class_now) gives for the same data. A new answer
//! costs the sitting scan one step and its student's state the steps since their last answer;
//! the time alone (idle, a sitting that ends) costs no step at all. Only an answer that lands
//! before others (a late event), a new check-in, a new sitting or answers leaving the look-back
//! window make the students concerned start over, from the answers held, with no read.

use std::collections::HashMap;

use super::{
    in_need_order, Answer, ClassAnswers, ClassNow, Rules, Sitting, SittingScan, StudentFold,
    StudentNow, LOOKBACK_MS,
};

pub struct LiveClass {
    rules: Rules,
    students: Vec<String>,
    /// By student, sorted by (time, seq).
    answers: HashMap<String, Vec<Answer>>,
    checkins: HashMap<String, i64>,
    /// The sitting scan over every answer held, and the (time, seq) of the last one it took;
    /// `None` when it must start over.
    scan: Option<(SittingScan<String>, (i64, i64))>,
    /// Each student's state so far, valid for the sitting start and check-in it was begun with.
    folds: HashMap<String, Fold>,
}

struct Fold {
    sitting_start: Option<i64>,
    checked: Option<i64>,
    fold: StudentFold,
}

impl LiveClass {
    pub fn new(data: ClassAnswers, rules: Rules) -> Self {
        let mut answers = data.answers;
        for list in answers.values_mut() {
            list.sort_by_key(|a| (a.at, a.seq));
        }
        LiveClass {
            rules,
            students: data.students,
            answers,
            checkins: data.checkins,
            scan: None,
            folds: HashMap::new(),
        }
    }

    /// The students it shows: those enrolled when it was read, and those who answered since.
    pub fn students(&self) -> &[String] {
        &self.students
    }

    /// Adds an answer of `student` (who is then enrolled, as an answer in the class enrols);
    /// one already held (the same seq) is ignored.
    pub fn add(&mut self, student: &str, answer: Answer) {
        if !self.students.iter().any(|s| s == student) {
            self.students.push(student.to_owned());
        }
        let list = self.answers.entry(student.to_owned()).or_default();
        let key = (answer.at, answer.seq);
        let at = list.partition_point(|a| (a.at, a.seq) < key);
        if list.get(at).is_some_and(|a| (a.at, a.seq) == key) {
            return;
        }
        if at < list.len() {
            // Landed before answers already taken in: this student starts over.
            self.folds.remove(student);
        }
        list.insert(at, answer);
        match &mut self.scan {
            Some((scan, last)) if key >= *last => {
                scan.push(key.0, student.to_owned());
                *last = key;
            }
            _ => self.scan = None,
        }
    }

    /// The latest check-in per student, as read anew.
    pub fn set_checkins(&mut self, checkins: HashMap<String, i64>) {
        // A student's fold is kept only for the check-in it was begun with (see `class_now`).
        self.checkins = checkins;
    }

    /// The class at `now` (no earlier than the previous call's).
    pub fn class_now(&mut self, now: i64) -> ClassNow {
        self.forget_before(now - LOOKBACK_MS);
        let rules = self.rules;
        let scan = &mut self
            .scan
            .get_or_insert_with(|| rescan(&self.answers, &rules))
            .0;
        let sitting = scan.sitting(now);
        let active = sitting.is_some_and(|s| s.is_active());
        let mut students: Vec<(String, StudentNow)> = Vec::with_capacity(self.students.len());
        for id in &self.students {
            let answers = match (&sitting, self.answers.get(id)) {
                (Some(s), Some(list)) => in_sitting(list, s),
                _ => &[],
            };
            let checked = self
                .checkins
                .get(id)
                .copied()
                .filter(|&at| sitting.is_some_and(|s| s.contains(at)));
            let start = sitting.map(|s| s.started_at);
            let kept = self.folds.get(id).is_some_and(|f| {
                f.sitting_start == start && f.checked == checked && f.fold.seen() <= answers.len()
            });
            if !kept {
                self.folds.insert(
                    id.clone(),
                    Fold {
                        sitting_start: start,
                        checked,
                        fold: StudentFold::new(checked),
                    },
                );
            }
            let Some(f) = self.folds.get_mut(id) else {
                continue;
            };
            f.fold.advance(answers, &rules);
            students.push((id.clone(), f.fold.finish(active, now, &rules)));
        }
        in_need_order(&mut students);
        ClassNow { sitting, students }
    }

    /// Drops the answers before `since`, as a read at this moment would not see them.
    fn forget_before(&mut self, since: i64) {
        for (id, list) in &mut self.answers {
            let old = list.partition_point(|a| a.at < since);
            if old > 0 {
                list.drain(..old);
                self.folds.remove(id);
                self.scan = None;
            }
        }
        self.answers.retain(|_, list| !list.is_empty());
    }
}

/// The sitting scan over all of `answers`, in (time, seq) order.
fn rescan(
    answers: &HashMap<String, Vec<Answer>>,
    rules: &Rules,
) -> (SittingScan<String>, (i64, i64)) {
    let mut beats: Vec<(i64, i64, &str)> = answers
        .iter()
        .flat_map(|(s, list)| list.iter().map(move |a| (a.at, a.seq, s.as_str())))
        .collect();
    beats.sort_unstable();
    let mut scan = SittingScan::new(rules.sitting_students, rules.sitting_window_ms);
    let mut last = (i64::MIN, i64::MIN);
    for (at, seq, s) in beats {
        scan.push(at, s.to_owned());
        last = (at, seq);
    }
    (scan, last)
}

/// The answers of a sorted list that fall within the sitting.
fn in_sitting<'a>(list: &'a [Answer], s: &Sitting) -> &'a [Answer] {
    let from = list.partition_point(|a| a.at < s.started_at);
    let to = s
        .ended_at
        .map_or(list.len(), |end| list.partition_point(|a| a.at <= end));
    &list[from..to.max(from)]
}
