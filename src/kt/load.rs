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
    let open_error = |source| LoadError::Open {
        path: path.display().to_string(),
        source,
    };
    let mut bytes = std::fs::read(path).map_err(open_error)?;
    // A gzip file (by its magic bytes, whatever its name) is read decompressed.
    if bytes.starts_with(&[0x1f, 0x8b]) {
        // The last four bytes give the size (mod 2^32) of the last member: a first guess.
        let size = bytes
            .last_chunk::<4>()
            .map_or(0, |b| u32::from_le_bytes(*b) as usize);
        let mut plain = Vec::with_capacity(size.clamp(bytes.len(), 64 * bytes.len()) + 1);
        flate2::read::MultiGzDecoder::new(bytes.as_slice())
            .read_to_end(&mut plain)
            .map_err(open_error)?;
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

fn parse_correct(raw: &[u8]) -> Option<bool> {
    match raw {
        b"1" | b"1.0" => Some(true),
        b"0" | b"0.0" => Some(false),
        _ if raw.eq_ignore_ascii_case(b"true") => Some(true),
        _ if raw.eq_ignore_ascii_case(b"false") => Some(false),
        _ => None,
    }
}

/// [`parse_order`] on the bytes of a field, with a fast path for what most files hold, a
/// whole number (up to 15 digits: exact as an f64, the same value `parse` gives).
fn parse_order_bytes(raw: &[u8]) -> Option<f64> {
    if !raw.is_empty() && raw.len() <= 15 && raw.iter().all(u8::is_ascii_digit) {
        let n = raw.iter().fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
        return Some(n as f64);
    }
    parse_order(std::str::from_utf8(raw).ok()?)
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

/// Ids to dense indices. Keys are looked up as bytes and checked to be UTF-8 only when
/// new; the last key found is tried first (a file's rows usually come a student at a time).
#[derive(Default)]
struct Interner {
    map: HashMap<Box<[u8]>, u32, BuildHasherDefault<FastHasher>>,
    names: Vec<String>,
    last: u32,
}

impl Interner {
    /// The index of `key`; None when it is new and not UTF-8.
    fn id(&mut self, key: &[u8]) -> Option<u32> {
        if self
            .names
            .get(self.last as usize)
            .is_some_and(|n| n.as_bytes() == key)
        {
            return Some(self.last);
        }
        let i = match self.map.get(key) {
            Some(&i) => i,
            None => {
                let name = std::str::from_utf8(key).ok()?.to_string();
                let i = self.names.len() as u32;
                self.names.push(name);
                self.map.insert(key.into(), i);
                i
            }
        };
        self.last = i;
        Some(i)
    }
}

/// Builds a [`Dataset`] from rows in any order: groups them by skill and student and
/// sorts each group by `order` (stable: equal orders keep their arrival order).
#[derive(Default)]
pub struct DatasetBuilder {
    students: Interner,
    skills: Interner,
    rows: Vec<Row>,
}

impl DatasetBuilder {
    pub fn push(&mut self, student: &str, skill: &str, correct: bool, order: f64) {
        // Cannot fail: both are UTF-8 already.
        let _ = self.push_bytes(student.as_bytes(), skill.as_bytes(), correct, order);
    }

    /// Like `push`, with the ids as read; Err names the id that is not UTF-8.
    fn push_bytes(
        &mut self,
        student: &[u8],
        skill: &[u8],
        correct: bool,
        order: f64,
    ) -> Result<(), &'static str> {
        let row = Row {
            skill: self.skills.id(skill).ok_or("skill_id")?,
            student: self.students.id(student).ok_or("student_id")?,
            order,
            correct,
        };
        self.rows.push(row);
        Ok(())
    }

    /// Appends the rows of `other` after this builder's, as if pushed here.
    fn append(&mut self, other: DatasetBuilder) {
        let ids = |mine: &mut Interner, theirs: &[String]| -> Vec<u32> {
            theirs
                .iter()
                .map(|id| mine.id(id.as_bytes()).unwrap_or_default())
                .collect()
        };
        let students = ids(&mut self.students, &other.students.names);
        let skills = ids(&mut self.skills, &other.skills.names);
        self.rows.extend(other.rows.into_iter().map(|r| Row {
            skill: skills[r.skill as usize],
            student: students[r.student as usize],
            ..r
        }));
    }

    pub fn finish(self) -> Dataset {
        let DatasetBuilder {
            students: Interner {
                names: student_ids, ..
            },
            skills: Interner {
                names: skill_ids, ..
            },
            rows,
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

/// Reads a CSV held in memory. Files without quote characters or bare carriage returns
/// (every newline ends a record: what researchers' exports are) are split into lines
/// directly, large ones by two or more threads each on a run of whole lines, merged in
/// file order; the others go through the `csv` crate. Either way the result is [`load`]'s.
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
    let header = &bytes[..header_end.map_or(bytes.len(), |e| e + 1)];
    if header.contains(&b'"') {
        return load_with(bytes, opts);
    }
    let mut hdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .delimiter(delimiter)
        .from_reader(header);
    let headers = hdr
        .headers()
        .map_err(|source| LoadError::Csv { line: 1, source })?
        .clone();
    let cols = columns(&headers, opts)?;
    let plain = Plain {
        delimiter,
        fields: headers.len(),
        cols,
    };

    // Runs of whole lines, one per thread for a large file.
    let body = &bytes[header.len()..];
    let threads = if body.len() > (4 << 20) {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(8)
    } else {
        1
    };
    let mut bounds = vec![0];
    for t in 1..threads {
        let target = body.len() * t / threads;
        let cut = body[target..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(body.len(), |i| target + i + 1);
        bounds.push(cut.max(bounds[t - 1]));
    }
    bounds.push(body.len());
    let chunks: Vec<&[u8]> = bounds.windows(2).map(|w| &body[w[0]..w[1]]).collect();
    let parts: Vec<Result<DatasetBuilder, PlainError>> = if chunks.len() == 1 {
        vec![plain.read(chunks[0])]
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = chunks
                .iter()
                .map(|&chunk| scope.spawn(move || plain.read(chunk)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or(Err(PlainError::NotPlain)))
                .collect()
        })
    };
    let mut all = DatasetBuilder::default();
    for (k, part) in parts.into_iter().enumerate() {
        match part {
            Ok(b) => all.append(b),
            Err(PlainError::NotPlain) => return load_with(bytes, opts),
            // The lines before were plain too: the csv crate would stop at the same one.
            Err(PlainError::Row { line, message }) => {
                let before = body[..bounds[k]].iter().filter(|&&b| b == b'\n').count();
                return Err(LoadError::Row {
                    line: 1 + before as u64 + line,
                    message,
                });
            }
        }
    }
    if all.rows.is_empty() {
        return Err(LoadError::NoRows);
    }
    Ok(all.finish())
}

/// The reader of unquoted CSV lines.
#[derive(Clone, Copy)]
struct Plain {
    delimiter: u8,
    /// Fields per record (the header's).
    fields: usize,
    cols: Columns,
}

enum PlainError {
    /// A quote or a carriage return inside a line: the `csv` crate reads the file.
    NotPlain,
    /// `line` counts from the chunk's first line (1).
    Row { line: u64, message: String },
}

impl Plain {
    fn read(&self, chunk: &[u8]) -> Result<DatasetBuilder, PlainError> {
        let mut builder = DatasetBuilder::default();
        // For each column of the file, which of the four it is (4 = not used).
        let mut slot_of = vec![4u8; self.fields + 1];
        let Columns {
            student,
            skill,
            correct,
            order,
        } = self.cols;
        for (slot, col) in [student, skill, correct, order].into_iter().enumerate() {
            slot_of[col] = slot as u8;
        }
        let mut found: [&[u8]; 5] = [&[]; 5];
        let (mut line, mut line_start, mut field_start, mut field) = (1u64, 0, 0, 0);
        // One pass over the bytes; a virtual newline ends the last line.
        for i in 0..=chunk.len() {
            let b = chunk.get(i).copied().unwrap_or(b'\n');
            if b > b'"' && b != self.delimiter {
                continue; // most bytes: nothing to do
            }
            if b == b'"' || (b == b'\r' && chunk.get(i + 1) != Some(&b'\n')) {
                return Err(PlainError::NotPlain);
            }
            if b != self.delimiter && b != b'\n' {
                continue;
            }
            let end = if b == b'\n' && i > 0 && chunk[i - 1] == b'\r' {
                i - 1
            } else {
                i
            };
            found[usize::from(*slot_of.get(field).unwrap_or(&4))] = &chunk[field_start..end];
            field += 1;
            field_start = i + 1;
            if b != b'\n' {
                continue;
            }
            // The end of a line; blank ones are skipped, as the csv crate does.
            if end > line_start {
                let row_error = |message: String| PlainError::Row { line, message };
                if field != self.fields {
                    return Err(row_error(format!(
                        "{field} fields where the header has {}",
                        self.fields
                    )));
                }
                let [a, b, c, d, _] = found;
                push_row(&mut builder, [a, b, c, d]).map_err(row_error)?;
            }
            line += 1;
            line_start = i + 1;
            field = 0;
        }
        Ok(builder)
    }
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
        let field = |i: usize| record.get(i).unwrap_or_default();
        let fields = [cols.student, cols.skill, cols.correct, cols.order].map(field);
        push_row(builder, fields).map_err(|message| LoadError::Row { line, message })?;
    }
}

/// Adds one record from its fields student_id, skill_id, correct, order (untrimmed);
/// Err says what is wrong with it.
fn push_row(builder: &mut DatasetBuilder, fields: [&[u8]; 4]) -> Result<(), String> {
    const NAMES: [&str; 4] = ["student_id", "skill_id", "correct", "order"];
    let mut v: [&[u8]; 4] = [&[]; 4];
    for (k, raw) in fields.into_iter().enumerate() {
        v[k] = raw.trim_ascii();
        if v[k].is_empty() {
            return Err(format!("`{}` is empty", NAMES[k]));
        }
    }
    let [student, skill, raw_correct, raw_order] = v;
    let shown = |raw: &[u8]| format!("{:?}", String::from_utf8_lossy(raw));
    let correct = parse_correct(raw_correct).ok_or_else(|| {
        format!(
            "`correct` must be 0 or 1 (or 0.0, 1.0, true, false), found {}",
            shown(raw_correct)
        )
    })?;
    let order = parse_order_bytes(raw_order).ok_or_else(|| {
        format!(
            "`order` must be a number, an RFC 3339 time or YYYY-MM-DD HH:MM:SS, found {}",
            shown(raw_order)
        )
    })?;
    builder
        .push_bytes(student, skill, correct, order)
        .map_err(|name| format!("`{name}` is not valid UTF-8"))
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

    /// The line splitter reads what the csv crate reads: blank lines, CRLF, padded fields,
    /// no final newline, quoted fields (handed to the csv crate), and the same first error.
    #[test]
    fn the_line_splitter_reads_as_the_csv_crate() {
        let same = |csv: &str| {
            let shape = |d: Dataset| {
                let skills: Vec<_> = d
                    .skills
                    .into_iter()
                    .map(|s| (s.skill_id, s.obs, s.starts, s.students))
                    .collect();
                (d.students, skills)
            };
            let a = load(csv.as_bytes()).map(shape).map_err(|e| e.to_string());
            let b = load_bytes(csv.as_bytes())
                .map(shape)
                .map_err(|e| e.to_string());
            match (&a, &b) {
                (Ok(x), Ok(y)) => assert_eq!(x, y, "{csv:?}"),
                // The messages may differ (malformed records): the line may not.
                (Err(x), Err(y)) => assert_eq!(x.split(':').next(), y.split(':').next()),
                _ => panic!("{csv:?}: {a:?} vs {b:?}"),
            }
        };
        same("student_id,skill_id,correct,order\ns1,a,1,2\n\ns1,a,0,1\ns2,b,1,1");
        same("student_id,skill_id,correct,order\r\ns1,a,1,2\r\ns2,a, 0 ,1\r\n");
        same("student_id,skill_id,correct,order\n\"s,1\",a,1,1\ns2,a,0,1\n");
        same("student_id,skill_id,correct,order\ns1,a,1,2\ns1,a,1\ns1,a,x,3\n");
        same("student_id,skill_id,correct,order\ns1,a,1,2\ns1,,1,3\n");
        same("student_id,skill_id,correct,order\ns1,a,1,2\ns1,a,1,3,extra\n");
        same("student_id,skill_id,correct,order\ns1,a,yes,2\n");
        same("student_id,skill_id,correct,order\ns1,a,1,0002\ns1,a,0,10\ns1,a,0,-1\n");
        let latin1 = b"student_id,skill_id,correct,order\ns\xe9,a,1,2\n";
        let e = load_bytes(latin1).err().map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("line 2: `student_id` is not valid UTF-8")
        );
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
