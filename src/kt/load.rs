//! The CSV loader of `huddle kt fit` / `cv` / `predict`.
//!
//! Columns (header row, any order, extra columns ignored): `student_id`, `skill_id`,
//! `correct` and `order`, which sorts one student's rows in time. pyBKT's and
//! ASSISTments' names `user_id`, `skill_name`, `order_id` are taken when the canonical
//! name is absent, and [`LoadOptions::columns`] maps any other name.
//! `correct` is 0, 1, 0.0, 1.0, true or false (any case). `order` is a number (integer or
//! decimal), an RFC 3339 timestamp, or `YYYY-MM-DD HH:MM:SS` (`T` also accepted, optional
//! fractional seconds) without a zone, read as UTC; anything else is an error naming the
//! line. Rows with equal `order` keep their order in the file. The delimiter is the
//! most frequent of `,` `;` tab `|` in the header line, unless given. A gzipped file is
//! read as is.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::Read;
use std::path::Path;

use super::fit::{Dataset, SkillData};

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}")]
    Open {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "the header has no `{name}` column (needed: student_id, skill_id, correct, order, or \
         --columns NAME=student_id,...); it has {found}"
    )]
    MissingColumn { name: &'static str, found: String },
    #[error("the file is empty (not even a header row)")]
    Empty,
    #[error("the file has a header row but no data rows")]
    NoRows,
    #[error("line {line}: {message}")]
    Row { line: u64, message: String },
    #[error("line {line}: malformed CSV")]
    Csv { line: u64, source: csv::Error },
}

/// How to read the file; the default reads the documented shape.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// The field separator; None = detected from the header line.
    pub delimiter: Option<u8>,
    /// (name in the file, the column it stands for), e.g. ("user_id", "student_id").
    pub columns: Vec<(String, String)>,
}

/// The four columns the loader uses, and the other names each is known by.
const COLUMNS: [(&str, &str); 4] = [
    ("student_id", "user_id"),
    ("skill_id", "skill_name"),
    ("correct", "correct"),
    ("order", "order_id"),
];

impl LoadOptions {
    /// Parses `--columns user_id=student_id,skill_name=skill_id`.
    pub fn parse_columns(spec: &str) -> Result<Vec<(String, String)>, String> {
        spec.split(',')
            .filter(|p| !p.trim().is_empty())
            .map(|pair| {
                let (from, to) = pair
                    .split_once('=')
                    .ok_or_else(|| format!("`{pair}` is not NAME=COLUMN"))?;
                let to = to.trim().to_ascii_lowercase();
                if !COLUMNS.iter().any(|(c, _)| *c == to) {
                    return Err(format!(
                        "`{to}` is not one of student_id, skill_id, correct, order"
                    ));
                }
                Ok((from.trim().to_string(), to))
            })
            .collect()
    }
}

/// The delimiter of a file whose first line is `header`: the most frequent of `,` `;`
/// tab `|` in it (`,` when none occurs: a one-column header then fails on its columns).
fn detect_delimiter(header: &[u8]) -> u8 {
    [b',', b';', b'\t', b'|']
        .into_iter()
        .map(|d| (header.iter().filter(|&&b| b == d).count(), d))
        .fold((0, b','), |best, x| if x.0 > best.0 { x } else { best })
        .1
}

pub fn load_path(path: &Path) -> Result<Dataset, LoadError> {
    load_path_with(path, &LoadOptions::default())
}

pub fn load_path_with(path: &Path, opts: &LoadOptions) -> Result<Dataset, LoadError> {
    let file = std::fs::File::open(path).map_err(|source| LoadError::Open {
        path: path.display().to_string(),
        source,
    })?;
    let mut bytes = Vec::new();
    let mut reader = std::io::BufReader::new(file);
    reader
        .read_to_end(&mut bytes)
        .map_err(|source| LoadError::Open {
            path: path.display().to_string(),
            source,
        })?;
    // A gzip file (by its magic bytes, whatever its name) is read decompressed.
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut plain = Vec::new();
        flate2::read::MultiGzDecoder::new(bytes.as_slice())
            .read_to_end(&mut plain)
            .map_err(|source| LoadError::Open {
                path: path.display().to_string(),
                source,
            })?;
        bytes = plain;
    }
    load_bytes_with(&bytes, opts)
}

/// `order` as a number: itself, or a time as milliseconds since 1970 (UTC when the time
/// has no zone).
fn parse_order(raw: &str) -> Option<f64> {
    if let Ok(x) = raw.parse::<f64>() {
        return x.is_finite().then_some(x);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(raw) {
        return Some(t.timestamp_millis() as f64);
    }
    ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(raw, f).ok())
        .map(|t| t.and_utc().timestamp_millis() as f64)
}

fn parse_correct(raw: &str) -> Option<bool> {
    match raw {
        "1" | "1.0" => Some(true),
        "0" | "0.0" => Some(false),
        _ if raw.eq_ignore_ascii_case("true") => Some(true),
        _ if raw.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
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

    /// Appends the rows of `other` after this builder's, as if pushed here.
    fn append(&mut self, other: DatasetBuilder) {
        let students: Vec<u32> = other
            .student_ids
            .iter()
            .map(|id| intern(&mut self.students, &mut self.student_ids, id))
            .collect();
        let skills: Vec<u32> = other
            .skill_ids
            .iter()
            .map(|id| intern(&mut self.skills, &mut self.skill_ids, id))
            .collect();
        self.rows.extend(other.rows.into_iter().map(|r| Row {
            skill: skills[r.skill as usize],
            student: students[r.student as usize],
            ..r
        }));
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
        // Group by (skill, student) with two stable counting sorts (O(n)), then sort a
        // group by `order` only if it is not in order already (files are usually in time
        // order); ties keep the arrival order.
        let counting_sort = |input: &[u32], key: &dyn Fn(&Row) -> usize, buckets: usize| {
            let mut start = vec![0usize; buckets + 1];
            for &i in input {
                start[key(&rows[i as usize]) + 1] += 1;
            }
            for k in 0..buckets {
                start[k + 1] += start[k];
            }
            let mut out = vec![0u32; input.len()];
            for &i in input {
                let k = key(&rows[i as usize]);
                out[start[k]] = i;
                start[k] += 1;
            }
            out
        };
        let arrival: Vec<u32> = (0..rows.len() as u32).collect();
        let by_student = counting_sort(&arrival, &|r| r.student as usize, student_ids.len());
        let mut idx = counting_sort(
            &by_student,
            &|r| rank_of[r.skill as usize] as usize,
            skill_ids.len(),
        );
        let mut i = 0;
        while i < idx.len() {
            let first = &rows[idx[i] as usize];
            let mut j = i + 1;
            while j < idx.len() && {
                let r = &rows[idx[j] as usize];
                r.skill == first.skill && r.student == first.student
            } {
                j += 1;
            }
            let group = &mut idx[i..j];
            if !group
                .windows(2)
                .all(|w| rows[w[0] as usize].order <= rows[w[1] as usize].order)
            {
                group.sort_by(|&a, &b| {
                    rows[a as usize]
                        .order
                        .total_cmp(&rows[b as usize].order)
                        .then(a.cmp(&b))
                });
            }
            i = j;
        }
        let rows: Vec<&Row> = idx.iter().map(|&k| &rows[k as usize]).collect();
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

/// Column positions of the four used columns.
#[derive(Clone, Copy)]
struct Columns {
    student: usize,
    skill: usize,
    correct: usize,
    order: usize,
}

fn columns(headers: &csv::StringRecord, opts: &LoadOptions) -> Result<Columns, LoadError> {
    let clean = |h: &str| h.trim_start_matches('\u{feff}').trim().to_string();
    let find = |name: &str| {
        headers
            .iter()
            .position(|h| clean(h).eq_ignore_ascii_case(name))
    };
    let col = |i: usize| {
        let (name, alias) = COLUMNS[i];
        opts.columns
            .iter()
            .filter(|(_, to)| to == name)
            .find_map(|(from, _)| find(from))
            .or_else(|| find(name))
            .or_else(|| find(alias))
            .ok_or_else(|| LoadError::MissingColumn {
                name,
                found: if headers.len() == 1 {
                    format!(
                        "one column, `{}`: is the file separated by something else than \
                         `,` `;` tab or `|`? Give --delimiter",
                        clean(&headers[0])
                    )
                } else {
                    let names: Vec<String> =
                        headers.iter().map(|h| format!("`{}`", clean(h))).collect();
                    names.join(", ")
                },
            })
    };
    Ok(Columns {
        student: col(0)?,
        skill: col(1)?,
        correct: col(2)?,
        order: col(3)?,
    })
}

/// Reads a whole CSV (header row first, comma-separated).
pub fn load(reader: impl Read) -> Result<Dataset, LoadError> {
    load_with(
        reader,
        &LoadOptions {
            delimiter: Some(b','),
            ..LoadOptions::default()
        },
    )
}

fn load_with(reader: impl Read, opts: &LoadOptions) -> Result<Dataset, LoadError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .delimiter(opts.delimiter.unwrap_or(b','))
        .from_reader(reader);
    let headers = rdr
        .headers()
        .map_err(|source| LoadError::Csv { line: 1, source })?
        .clone();
    if headers.is_empty() {
        return Err(LoadError::Empty);
    }
    let cols = columns(&headers, opts)?;
    let mut builder = DatasetBuilder::default();
    read_rows(&mut rdr, cols, 0, &mut builder)?;
    if builder.rows.is_empty() {
        return Err(LoadError::NoRows);
    }
    Ok(builder.finish())
}

/// Reads a CSV held in memory; large files without quote characters (so that every
/// newline ends a record) are parsed by two or more threads, each on a run of whole lines,
/// and merged in file order: the result is the same as [`load`]'s.
pub fn load_bytes(bytes: &[u8]) -> Result<Dataset, LoadError> {
    load_bytes_with(bytes, &LoadOptions::default())
}

pub fn load_bytes_with(bytes: &[u8], opts: &LoadOptions) -> Result<Dataset, LoadError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(LoadError::Empty);
    }
    let header_end = bytes.iter().position(|&b| b == b'\n');
    let delimiter = opts
        .delimiter
        .unwrap_or_else(|| detect_delimiter(&bytes[..header_end.unwrap_or(bytes.len())]));
    let opts = &LoadOptions {
        delimiter: Some(delimiter),
        columns: opts.columns.clone(),
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let (Some(header_end), true, false) = (
        header_end,
        threads > 1 && bytes.len() > (4 << 20),
        bytes.contains(&b'"'),
    ) else {
        return load_with(bytes, opts);
    };
    let mut hdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .delimiter(delimiter)
        .from_reader(&bytes[..=header_end]);
    let headers = hdr
        .headers()
        .map_err(|source| LoadError::Csv { line: 1, source })?
        .clone();
    let cols = columns(&headers, opts)?;

    // Chunk boundaries just after a newline.
    let body = &bytes[header_end + 1..];
    let mut bounds = vec![0];
    for t in 1..threads {
        let target = body.len() * t / threads;
        let cut = body[target..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(body.len(), |i| target + i + 1);
        if cut > *bounds.last().unwrap_or(&0) {
            bounds.push(cut);
        }
    }
    bounds.push(body.len());
    bounds.dedup();
    let chunks: Vec<&[u8]> = bounds.windows(2).map(|w| &body[w[0]..w[1]]).collect();
    // Line number of each chunk's first line (the header is line 1).
    let mut first_line = Vec::with_capacity(chunks.len());
    let mut line = 1u64;
    for c in &chunks {
        first_line.push(line);
        line += c.iter().filter(|&&b| b == b'\n').count() as u64;
    }
    let parts: Vec<Result<DatasetBuilder, LoadError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .iter()
            .zip(&first_line)
            .map(|(chunk, &offset)| {
                scope.spawn(move || {
                    let mut rdr = csv::ReaderBuilder::new()
                        .has_headers(false)
                        .delimiter(delimiter)
                        .from_reader(*chunk);
                    let mut b = DatasetBuilder::default();
                    read_rows(&mut rdr, cols, offset, &mut b).map(|()| b)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(LoadError::Row {
                        line: 0,
                        message: "a loader thread failed".into(),
                    })
                })
            })
            .collect()
    });
    let mut all = DatasetBuilder::default();
    for part in parts {
        all.append(part?);
    }
    if all.rows.is_empty() {
        return Err(LoadError::NoRows);
    }
    Ok(all.finish())
}

/// Reads records into `builder`; `line_offset` is added to the reader's line numbers.
fn read_rows<R: Read>(
    rdr: &mut csv::Reader<R>,
    cols: Columns,
    line_offset: u64,
    builder: &mut DatasetBuilder,
) -> Result<(), LoadError> {
    let mut record = csv::ByteRecord::new();
    loop {
        let line = rdr.position().line() + line_offset;
        match rdr.read_byte_record(&mut record) {
            Ok(false) => return Ok(()),
            Ok(true) => {}
            Err(source) => return Err(LoadError::Csv { line, source }),
        }
        let line = record.position().map_or(line, |p| p.line() + line_offset);
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
        let student = field(cols.student, "student_id")?;
        let skill = field(cols.skill, "skill_id")?;
        let raw_correct = field(cols.correct, "correct")?;
        let correct = parse_correct(raw_correct).ok_or_else(|| LoadError::Row {
            line,
            message: format!(
                "`correct` must be 0 or 1 (or 0.0, 1.0, true, false), found {raw_correct:?}"
            ),
        })?;
        let raw_order = field(cols.order, "order")?;
        let order = parse_order(raw_order).ok_or_else(|| LoadError::Row {
            line,
            message: format!(
                "`order` must be a number, an RFC 3339 time or YYYY-MM-DD HH:MM:SS, \
                 found {raw_order:?}"
            ),
        })?;
        builder.push(student, skill, correct, order);
    }
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
    fn parallel_loading_equals_sequential_loading() {
        let mut csv = String::from("student_id,skill_id,correct,order\n");
        for i in 0..260_000u32 {
            csv.push_str(&format!(
                "stu-{},skill-{},{},{}\n",
                i % 977,
                i % 7,
                (i / 3) % 2,
                i % 13
            ));
        }
        let a = load(csv.as_bytes()).expect("valid");
        let b = load_bytes(csv.as_bytes()).expect("valid");
        assert_eq!(a.students, b.students);
        assert_eq!(a.skills.len(), b.skills.len());
        for (x, y) in a.skills.iter().zip(&b.skills) {
            assert_eq!(
                (&x.skill_id, &x.obs, &x.starts, &x.students),
                (&y.skill_id, &y.obs, &y.starts, &y.students)
            );
        }
        csv.push_str("stu-1,skill-1,2,5\n");
        let e = load_bytes(csv.as_bytes())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.starts_with("line 260002:"), "{e}");
    }

    #[test]
    fn timestamps_are_accepted_as_order() {
        let csv = "student_id,skill_id,correct,order\n\
                   s,k,1,2026-11-20T09:15:03Z\ns,k,0,2026-11-20T09:14:03Z\n";
        let d = load(csv.as_bytes()).expect("valid csv");
        assert_eq!(d.skills[0].sequence(0), &[0, 1]);
    }

    #[test]
    fn researchers_files_are_read() {
        let opts = LoadOptions::default();
        let read = |csv: &str, opts: &LoadOptions| load_bytes_with(csv.as_bytes(), opts);
        // pyBKT / ASSISTments names, pandas' 1.0, a time without zone, `;` separated.
        let csv = "user_id;skill_name;correct;order_id\n\
                   u;k;1.0;2026-11-20 09:15:03\nu;k;0.0;2026-11-20 09:14:03.5\nu;k;TRUE;2026-11-21T00:00:00\n";
        let d = read(csv, &opts).expect("valid");
        assert_eq!(d.skills[0].sequence(0), &[0, 1, 1]);
        let tabs = csv.replace(';', "\t");
        assert_eq!(read(&tabs, &opts).expect("tabs").rows(), 3);
        // A mapping wins over the default names.
        let csv = "learner,kc,student_id,correct,t\na,k,x,false,2\na,k,y,true,1\n";
        let opts = LoadOptions {
            delimiter: None,
            columns: LoadOptions::parse_columns("learner=student_id, kc=skill_id,t=order")
                .expect("spec"),
        };
        let d = read(csv, &opts).expect("mapped");
        assert_eq!(
            (d.students.len(), d.skills[0].sequence(0)),
            (1, &[1u8, 0][..])
        );
        assert!(LoadOptions::parse_columns("a=b").is_err());
        assert!(LoadOptions::parse_columns("a").is_err());
        // Empty, header-only, and another delimiter say so.
        let err = |csv: &str, opts: &LoadOptions| {
            read(csv, opts)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        let none = LoadOptions::default();
        assert!(err("", &none).contains("empty"));
        assert!(err("\n", &none).contains("empty"));
        assert!(err("student_id,skill_id,correct,order\n", &none).contains("no data rows"));
        let e = err("student_id:skill_id:correct:order\ns:k:1:1\n", &none);
        assert!(e.contains("--delimiter"), "{e}");
        let colon = LoadOptions {
            delimiter: Some(b':'),
            ..LoadOptions::default()
        };
        assert_eq!(
            read("student_id:skill_id:correct:order\ns:k:1:1\n", &colon)
                .map(|d| d.rows())
                .ok(),
            Some(1)
        );
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
        assert!(e.contains("`skill_id`") && e.contains("`skill`"), "{e}");
        let e = err("student_id,skill_id,correct,order\ns,k,1\n");
        assert!(e.starts_with("line 2:"), "{e}");
    }
}
