//! The CSV loader of `huddle kt fit` / `huddle kt cv`.
//!
//! Columns (header row, any order, extra columns ignored): `student_id`, `skill_id`,
//! `correct` (0 or 1) and `order`, which sorts one student's rows in time. `order` is a
//! number (integer or decimal) or an RFC 3339 timestamp (taken as milliseconds since
//! 1970); anything else is an error naming the line. Rows with equal `order` keep their
//! order in the file.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::Read;
use std::path::Path;

use super::fit::{Dataset, SkillData};

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Open {
        path: String,
        source: std::io::Error,
    },
    #[error("the header has no `{0}` column (needed: student_id, skill_id, correct, order)")]
    MissingColumn(&'static str),
    #[error("line {line}: {message}")]
    Row { line: u64, message: String },
    #[error("line {line}: {source}")]
    Csv { line: u64, source: csv::Error },
}

pub fn load_path(path: &Path) -> Result<Dataset, LoadError> {
    let file = std::fs::File::open(path).map_err(|source| LoadError::Open {
        path: path.display().to_string(),
        source,
    })?;
    load(std::io::BufReader::with_capacity(1 << 20, file))
}

fn parse_order(raw: &str) -> Option<f64> {
    if let Ok(x) = raw.parse::<f64>() {
        return x.is_finite().then_some(x);
    }
    chrono::DateTime::parse_from_rfc3339(raw)
        .ok()
        .map(|t| t.timestamp_millis() as f64)
}

struct Row {
    skill: u32,
    student: u32,
    order: f64,
    correct: bool,
}

/// A small fast hasher for interning ids (FxHash's multiply-rotate): the default SipHash
/// is a third of the loading time on a million rows, and these keys are not adversarial
/// in a command-line tool.
#[derive(Default)]
struct FastHasher(u64);

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            self.add(u64::from_le_bytes(b));
        }
        for &b in chunks.remainder() {
            self.add(b as u64);
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

impl FastHasher {
    #[inline]
    fn add(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

type Ids = HashMap<String, u32, BuildHasherDefault<FastHasher>>;

fn intern(map: &mut Ids, names: &mut Vec<String>, key: &str) -> u32 {
    if let Some(&i) = map.get(key) {
        return i;
    }
    let i = names.len() as u32;
    names.push(key.to_string());
    map.insert(key.to_string(), i);
    i
}

/// Builds a [`Dataset`] from rows in any order: groups them by skill and student and
/// sorts each group by `order` (stable: equal orders keep their arrival order).
#[derive(Default)]
pub struct DatasetBuilder {
    students: Ids,
    student_ids: Vec<String>,
    skills: Ids,
    skill_ids: Vec<String>,
    rows: Vec<Row>,
}

impl DatasetBuilder {
    pub fn push(&mut self, student: &str, skill: &str, correct: bool, order: f64) {
        let row = Row {
            skill: intern(&mut self.skills, &mut self.skill_ids, skill),
            student: intern(&mut self.students, &mut self.student_ids, student),
            order,
            correct,
        };
        self.rows.push(row);
    }

    pub fn finish(self) -> Dataset {
        let DatasetBuilder {
            student_ids,
            skill_ids,
            rows,
            ..
        } = self;
        // Skills by id; a stable sort keeps the arrival order of rows with equal `order`.
        let mut skill_rank: Vec<u32> = (0..skill_ids.len() as u32).collect();
        skill_rank.sort_by(|&a, &b| skill_ids[a as usize].cmp(&skill_ids[b as usize]));
        let mut rank_of = vec![0u32; skill_ids.len()];
        for (rank, &s) in skill_rank.iter().enumerate() {
            rank_of[s as usize] = rank as u32;
        }
        // Sort keys packed into one integer, the arrival index breaking ties (stable).
        let mut keys: Vec<(u64, f64, u32)> = rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                (
                    (u64::from(rank_of[r.skill as usize]) << 32) | u64::from(r.student),
                    r.order,
                    i as u32,
                )
            })
            .collect();
        keys.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)).then(a.2.cmp(&b.2)));
        let rows: Vec<&Row> = keys.iter().map(|k| &rows[k.2 as usize]).collect();
        let mut data = Dataset {
            skills: skill_rank
                .iter()
                .map(|&s| SkillData::new(skill_ids[s as usize].clone()))
                .collect(),
            students: student_ids,
        };
        let mut i = 0;
        while i < rows.len() {
            let mut j = i;
            while j < rows.len()
                && rows[j].skill == rows[i].skill
                && rows[j].student == rows[i].student
            {
                j += 1;
            }
            let skill = &mut data.skills[rank_of[rows[i].skill as usize] as usize];
            skill.push_sequence(rows[i].student, rows[i..j].iter().map(|r| r.correct));
            i = j;
        }
        data
    }
}

pub fn load(reader: impl Read) -> Result<Dataset, LoadError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(reader);
    let headers = rdr
        .headers()
        .map_err(|source| LoadError::Csv { line: 1, source })?
        .clone();
    let col = |name: &'static str| {
        headers
            .iter()
            .position(|h| {
                h.trim_start_matches('\u{feff}')
                    .trim()
                    .eq_ignore_ascii_case(name)
            })
            .ok_or(LoadError::MissingColumn(name))
    };
    let (c_student, c_skill, c_correct, c_order) = (
        col("student_id")?,
        col("skill_id")?,
        col("correct")?,
        col("order")?,
    );

    let mut builder = DatasetBuilder::default();
    let mut record = csv::ByteRecord::new();
    loop {
        let line = rdr.position().line();
        match rdr.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(source) => return Err(LoadError::Csv { line, source }),
        }
        let line = record.position().map_or(line, |p| p.line());
        let field = |i: usize, name: &str| -> Result<&str, LoadError> {
            // Only the four used fields are trimmed (trimming whole records is slower).
            let raw = record
                .get(i)
                .map(<[u8]>::trim_ascii)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| LoadError::Row {
                    line,
                    message: format!("`{name}` is empty"),
                })?;
            std::str::from_utf8(raw).map_err(|_| LoadError::Row {
                line,
                message: format!("`{name}` is not valid UTF-8"),
            })
        };
        let student = field(c_student, "student_id")?;
        let skill = field(c_skill, "skill_id")?;
        let correct = match field(c_correct, "correct")? {
            "1" => true,
            "0" => false,
            other => {
                return Err(LoadError::Row {
                    line,
                    message: format!("`correct` must be 0 or 1, found {other:?}"),
                })
            }
        };
        let raw_order = field(c_order, "order")?;
        let order = parse_order(raw_order).ok_or_else(|| LoadError::Row {
            line,
            message: format!("`order` must be a number or an RFC 3339 time, found {raw_order:?}"),
        })?;
        builder.push(student, skill, correct, order);
    }
    Ok(builder.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_in_any_order_and_rows_sorted_by_order() {
        let csv = "order,extra,correct,skill_id,student_id\n\
                   3,x,1,b,s1\n1,y,0,b,s1\n2,z,1,a,s2\n2,z,0,b,s1\n10,,1,b,s1\n";
        let d = load(csv.as_bytes()).expect("valid csv");
        assert_eq!(d.rows(), 5);
        assert_eq!(d.skills[0].skill_id, "a");
        assert_eq!(d.skills[1].skill_id, "b");
        // s1 on b by order 1, 2, 3, 10 (numeric, not text, order).
        assert_eq!(d.skills[1].sequence(0), &[0, 0, 1, 1]);
    }

    #[test]
    fn timestamps_are_accepted_as_order() {
        let csv = "student_id,skill_id,correct,order\n\
                   s,k,1,2026-11-20T09:15:03Z\ns,k,0,2026-11-20T09:14:03Z\n";
        let d = load(csv.as_bytes()).expect("valid csv");
        assert_eq!(d.skills[0].sequence(0), &[0, 1]);
    }

    #[test]
    fn bad_rows_name_their_line() {
        let err = |csv: &str| {
            load(csv.as_bytes())
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        let e = err("student_id,skill_id,correct,order\ns,k,1,1\ns,k,yes,2\n");
        assert!(e.starts_with("line 3:") && e.contains("0 or 1"), "{e}");
        let e = err("student_id,skill_id,correct,order\ns,k,1,soon\n");
        assert!(e.starts_with("line 2:") && e.contains("order"), "{e}");
        let e = err("student_id,skill_id,correct,order\n,k,1,1\n");
        assert!(e.contains("student_id"), "{e}");
        let e = err("student_id,skill,correct,order\ns,k,1,1\n");
        assert!(e.contains("`skill_id`"), "{e}");
        let e = err("student_id,skill_id,correct,order\ns,k,1\n");
        assert!(e.starts_with("line 2:"), "{e}");
    }
}
