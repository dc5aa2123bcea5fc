//! The model's predictions as they were made at ingest, kept as binned aggregates for the
//! model-health and fairness reports (`reports::model_health`, `reports::fairness`).
//!
//! At ingest, before an answer that counts as evidence updates its student's estimate, the
//! model's P(correct) for it is known. [`Tally`] gathers a batch's predictions and
//! `PredictionSql::save_predictions` adds them with one multi-row upsert per table: per
//! skill × day × model × bin (`prediction_bins`) and per student × bin (`student_predictions`).
//!
//! Only events inserted by the batch contribute, once: a re-sent duplicate is not inserted,
//! and when a late event makes its student replay, only the late event's own prediction (made
//! at its place in time by the replay) is added; the later answers keep the predictions that
//! were made when they arrived. A refit or a rebuild records nothing.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Integer, Text};

use crate::db::schema::skill_models;
use crate::db::DbConnection;
use crate::reports::model_health::{bin_of, Bin, Histogram, BINS, ECE_BINS};

use super::column as col;
use super::sqlite_values;

use crate::util::DAY_MS;

/// The `SET` list of every bin upsert, on both backends: a stored bin's counts and sums grow by
/// the batch's (`$table` the upsert's table).
macro_rules! add_sums {
    ($table:literal) => {
        concat!(
            "correct = ",
            $table,
            ".correct + excluded.correct, ",
            "wrong = ",
            $table,
            ".wrong + excluded.wrong, ",
            "sum_pred = ",
            $table,
            ".sum_pred + excluded.sum_pred, ",
            "sum_sq_err = ",
            $table,
            ".sum_sq_err + excluded.sum_sq_err"
        )
    };
}

/// The day (since 1970-01-01, UTC) of a time in milliseconds.
pub fn day_of(ms: i64) -> i32 {
    ms.div_euclid(DAY_MS) as i32
}

/// A batch's predictions, added up before they are written.
#[derive(Debug, Default)]
pub struct Tally {
    /// skill → (day, bin) → bin.
    skills: HashMap<String, HashMap<(i32, usize), Bin>>,
    /// student → bin (ten bins) → bin.
    students: HashMap<String, [Bin; ECE_BINS]>,
}

impl Tally {
    /// One answer that counts as evidence, with the P(correct) predicted before it.
    pub fn add(&mut self, student: &str, skill: &str, at: i64, p: f64, correct: bool) {
        let one = Bin::one(p, correct);
        let fine = bin_of(p, BINS);
        let key = (day_of(at), fine);
        match self.skills.get_mut(skill) {
            Some(m) => m.entry(key).or_default().merge(&one),
            None => {
                self.skills
                    .insert(skill.to_owned(), HashMap::from([(key, one)]));
            }
        }
        // The ten bins are unions of the fifty (not bin_of(p, 10)), so both tables put a
        // prediction at a boundary such as 0.8999999999999999 in the same place.
        let b = fine * ECE_BINS / BINS;
        match self.students.get_mut(student) {
            Some(bins) => bins[b].merge(&one),
            None => {
                let mut bins = [Bin::default(); ECE_BINS];
                bins[b] = one;
                self.students.insert(student.to_owned(), bins);
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.skills.is_empty()
    }
}

/// The upserts, for each backend's concrete connection.
pub(crate) trait PredictionSql: Connection {
    /// Adds a batch's predictions (within the batch's transaction).
    fn save_predictions(&mut self, org: &str, tally: &Tally) -> QueryResult<()>;
    /// Adds to the per-student rows (student, bin, sums), sorted.
    fn add_student_bins(&mut self, org: &str, rows: &[StudentBin]) -> QueryResult<()>;
    /// Adds to the per-skill rows (skill, day, model_at, bin, sums), sorted.
    fn add_skill_bins(&mut self, org: &str, rows: &[SkillBin]) -> QueryResult<()>;
}

type StudentBin<'a> = (&'a str, i32, Bin);
type SkillBin<'a> = (&'a str, i32, i64, i32, Bin);

macro_rules! prediction_sql {
    () => {
        fn save_predictions(&mut self, org: &str, tally: &Tally) -> QueryResult<()> {
            if tally.is_empty() {
                return Ok(());
            }
            // Per student first: the skill × day rows, which concurrent batches share, last
            // (their row locks are held until the commit).
            let mut rows = Vec::new();
            for (student, bins) in &tally.students {
                for (bin, b) in bins.iter().enumerate().filter(|(_, b)| b.answers() > 0) {
                    rows.push((student.as_str(), bin as i32, *b));
                }
            }
            rows.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
            self.add_student_bins(org, &rows)?;
            // The model each skill's predictions came from: its fitted_at (0 = defaults).
            let fitted: HashMap<String, i64> = skill_models::table
                .filter(skill_models::org_id.eq(org))
                .select((skill_models::skill_id, skill_models::fitted_at))
                .load::<(String, Option<i64>)>(self)?
                .into_iter()
                .map(|(s, at)| (s, at.unwrap_or(0)))
                .collect();
            let mut rows = Vec::new();
            for (skill, bins) in &tally.skills {
                let model_at = fitted.get(skill).copied().unwrap_or(0);
                for (&(day, bin), b) in bins {
                    rows.push((skill.as_str(), day, model_at, bin as i32, *b));
                }
            }
            // A stable order: concurrent batches then take row locks in the same order.
            rows.sort_by(|a, b| (a.0, a.1, a.2, a.3).cmp(&(b.0, b.1, b.2, b.3)));
            self.add_skill_bins(org, &rows)?;
            Ok(())
        }
    };
}

impl PredictionSql for diesel::SqliteConnection {
    prediction_sql!();

    // Statements that stay prepared (store::sqlite_values): diesel's own multi-row upserts
    // were parsed again for every batch.
    fn add_student_bins(&mut self, org: &str, rows: &[StudentBin]) -> QueryResult<()> {
        let rows: Vec<_> = rows
            .iter()
            .map(|(student, bin, b)| {
                let (correct, wrong) = (b.correct as i64, b.wrong as i64);
                (org, student, bin, correct, wrong, b.sum_pred, b.sum_sq_err)
            })
            .collect();
        sqlite_values::execute(
            self,
            "INSERT INTO student_predictions \
             (org_id, student_id, bin, correct, wrong, sum_pred, sum_sq_err) VALUES",
            concat!(
                "ON CONFLICT (org_id, student_id, bin) DO UPDATE SET ",
                add_sums!("student_predictions")
            ),
            &rows,
        )?;
        Ok(())
    }

    fn add_skill_bins(&mut self, org: &str, rows: &[SkillBin]) -> QueryResult<()> {
        let rows: Vec<_> = rows
            .iter()
            .map(|(skill, day, model_at, bin, b)| {
                let (correct, wrong) = (b.correct as i64, b.wrong as i64);
                (
                    org,
                    skill,
                    day,
                    model_at,
                    bin,
                    correct,
                    wrong,
                    b.sum_pred,
                    b.sum_sq_err,
                )
            })
            .collect();
        sqlite_values::execute(
            self,
            "INSERT INTO prediction_bins \
             (org_id, skill_id, day, model_at, bin, correct, wrong, sum_pred, sum_sq_err) VALUES",
            concat!(
                "ON CONFLICT (org_id, skill_id, day, model_at, bin) DO UPDATE SET ",
                add_sums!("prediction_bins")
            ),
            &rows,
        )?;
        Ok(())
    }
}

impl PredictionSql for diesel::PgConnection {
    prediction_sql!();

    // Column arrays rather than VALUES lists of hundreds of rows, which cost PostgreSQL more
    // to parse than to write; unnest keeps the sorted order, so row locks are taken in it.
    fn add_student_bins(&mut self, org: &str, rows: &[StudentBin]) -> QueryResult<()> {
        use diesel::sql_types::{Array, BigInt, Double, Integer, Text};
        if rows.is_empty() {
            return Ok(());
        }
        diesel::sql_query(concat!(
            "INSERT INTO student_predictions \
             (org_id, student_id, bin, correct, wrong, sum_pred, sum_sq_err) \
             SELECT $1, u.* FROM unnest($2::text[], $3::int[], $4::bigint[], $5::bigint[], \
             $6::float8[], $7::float8[]) AS u \
             ON CONFLICT (org_id, student_id, bin) DO UPDATE SET ",
            add_sums!("student_predictions"),
        ))
        .bind::<Text, _>(org)
        .bind::<Array<Text>, _>(col(rows, |r| r.0))
        .bind::<Array<Integer>, _>(col(rows, |r| r.1))
        .bind::<Array<BigInt>, _>(col(rows, |r| r.2.correct as i64))
        .bind::<Array<BigInt>, _>(col(rows, |r| r.2.wrong as i64))
        .bind::<Array<Double>, _>(col(rows, |r| r.2.sum_pred))
        .bind::<Array<Double>, _>(col(rows, |r| r.2.sum_sq_err))
        .execute(self)?;
        Ok(())
    }

    fn add_skill_bins(&mut self, org: &str, rows: &[SkillBin]) -> QueryResult<()> {
        use diesel::sql_types::{Array, BigInt, Double, Integer, Text};
        if rows.is_empty() {
            return Ok(());
        }
        diesel::sql_query(concat!(
            "INSERT INTO prediction_bins \
             (org_id, skill_id, day, model_at, bin, correct, wrong, sum_pred, sum_sq_err) \
             SELECT $1, u.* FROM unnest($2::text[], $3::int[], $4::bigint[], $5::int[], \
             $6::bigint[], $7::bigint[], $8::float8[], $9::float8[]) AS u \
             ON CONFLICT (org_id, skill_id, day, model_at, bin) DO UPDATE SET ",
            add_sums!("prediction_bins"),
        ))
        .bind::<Text, _>(org)
        .bind::<Array<Text>, _>(col(rows, |r| r.0))
        .bind::<Array<Integer>, _>(col(rows, |r| r.1))
        .bind::<Array<BigInt>, _>(col(rows, |r| r.2))
        .bind::<Array<Integer>, _>(col(rows, |r| r.3))
        .bind::<Array<BigInt>, _>(col(rows, |r| r.4.correct as i64))
        .bind::<Array<BigInt>, _>(col(rows, |r| r.4.wrong as i64))
        .bind::<Array<Double>, _>(col(rows, |r| r.4.sum_pred))
        .bind::<Array<Double>, _>(col(rows, |r| r.4.sum_sq_err))
        .execute(self)?;
        Ok(())
    }
}

/// One row of a roll-up: a key, a bin and the bin's sums.
#[derive(QueryableByName, Debug)]
struct BinRow {
    #[diesel(sql_type = Text)]
    key: String,
    #[diesel(sql_type = BigInt)]
    model_at: i64,
    #[diesel(sql_type = Integer)]
    period: i32,
    #[diesel(sql_type = Integer)]
    bin: i32,
    #[diesel(sql_type = BigInt)]
    correct: i64,
    #[diesel(sql_type = BigInt)]
    wrong: i64,
    #[diesel(sql_type = Double)]
    sum_pred: f64,
    #[diesel(sql_type = Double)]
    sum_sq_err: f64,
}

impl BinRow {
    fn bin(&self) -> Bin {
        Bin {
            correct: self.correct.max(0) as u64,
            wrong: self.wrong.max(0) as u64,
            sum_pred: self.sum_pred,
            sum_sq_err: self.sum_sq_err,
        }
    }
}

/// A skill's predictions over the days a report looks at.
#[derive(Debug, Clone)]
pub struct SkillBins {
    /// Per week (0 = the week starting `from`), all models.
    pub weeks: Vec<Histogram>,
    /// Per model (`fitted_at`, 0 = defaults), the days from `window_from` on.
    pub window: HashMap<i64, Histogram>,
}

/// Rolls the predictions of days `from ..= to` up by skill and week (`weeks` weeks ending with
/// `to`), and those from `window_from` on by skill and model, in one grouped query each.
pub fn skill_bins(
    conn: &mut DbConnection,
    org: &str,
    from: i32,
    window_from: i32,
    to: i32,
) -> anyhow::Result<HashMap<String, SkillBins>> {
    let weeks = ((to - from + 1).max(1) as usize).div_ceil(7);
    // CASTs: PostgreSQL sums BIGINT as NUMERIC, and both must agree on the types.
    let select = "SELECT skill_id AS key, CAST(MAX(model_at) AS BIGINT) AS model_at, \
        CAST((day - {from}) / 7 AS INTEGER) AS period, bin, \
        CAST(SUM(correct) AS BIGINT) AS correct, CAST(SUM(wrong) AS BIGINT) AS wrong, \
        CAST(SUM(sum_pred) AS DOUBLE PRECISION) AS sum_pred, \
        CAST(SUM(sum_sq_err) AS DOUBLE PRECISION) AS sum_sq_err \
        FROM prediction_bins WHERE org_id = {org} AND day >= {lo} AND day <= {to} \
        GROUP BY skill_id, {group}, bin";
    let weekly = select
        .replace("{group}", "(day - {from}) / 7")
        .replace("MAX(model_at)", "0");
    let windowed = select
        .replace("{group}", "model_at")
        .replace("MAX(model_at)", "model_at")
        .replace("(day - {from}) / 7", "0");
    let fill = |sql: &str, lo: i32, pg: bool| {
        sql.replace("{from}", &from.to_string())
            .replace("{lo}", &lo.to_string())
            .replace("{to}", &to.to_string())
            .replace("{org}", if pg { "$1" } else { "?" })
    };
    let (w_rows, m_rows): (Vec<BinRow>, Vec<BinRow>) = match conn {
        DbConnection::Sqlite(c) => (
            diesel::sql_query(fill(&weekly, from, false))
                .bind::<Text, _>(org)
                .load(c)?,
            diesel::sql_query(fill(&windowed, window_from, false))
                .bind::<Text, _>(org)
                .load(c)?,
        ),
        DbConnection::Postgresql(c) => (
            diesel::sql_query(fill(&weekly, from, true))
                .bind::<Text, _>(org)
                .load(c)?,
            diesel::sql_query(fill(&windowed, window_from, true))
                .bind::<Text, _>(org)
                .load(c)?,
        ),
    };
    let mut out: HashMap<String, SkillBins> = HashMap::new();
    let entry = |out: &mut HashMap<String, SkillBins>, key: &str| {
        if !out.contains_key(key) {
            out.insert(
                key.to_owned(),
                SkillBins {
                    weeks: vec![Histogram::new(BINS); weeks],
                    window: HashMap::new(),
                },
            );
        }
    };
    for r in &w_rows {
        entry(&mut out, &r.key);
        if let Some(s) = out.get_mut(&r.key) {
            if let Some(h) = s.weeks.get_mut(r.period.max(0) as usize) {
                h.add_bin(r.bin.max(0) as usize, &r.bin());
            }
        }
    }
    for r in &m_rows {
        entry(&mut out, &r.key);
        if let Some(s) = out.get_mut(&r.key) {
            s.window
                .entry(r.model_at)
                .or_insert_with(|| Histogram::new(BINS))
                .add_bin(r.bin.max(0) as usize, &r.bin());
        }
    }
    Ok(out)
}

/// The students' predictions rolled up by their current group label (None: no group), in
/// ten bins, in one grouped query.
pub fn group_bins(
    conn: &mut DbConnection,
    org: &str,
) -> anyhow::Result<HashMap<Option<String>, Histogram>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
        group_label: Option<String>,
        #[diesel(sql_type = Integer)]
        bin: i32,
        #[diesel(sql_type = BigInt)]
        correct: i64,
        #[diesel(sql_type = BigInt)]
        wrong: i64,
        #[diesel(sql_type = Double)]
        sum_pred: f64,
        #[diesel(sql_type = Double)]
        sum_sq_err: f64,
    }
    let sql = "SELECT s.group_label AS group_label, p.bin AS bin, \
        CAST(SUM(p.correct) AS BIGINT) AS correct, CAST(SUM(p.wrong) AS BIGINT) AS wrong, \
        CAST(SUM(p.sum_pred) AS DOUBLE PRECISION) AS sum_pred, \
        CAST(SUM(p.sum_sq_err) AS DOUBLE PRECISION) AS sum_sq_err \
        FROM student_predictions p JOIN students s \
        ON s.org_id = p.org_id AND s.student_id = p.student_id \
        WHERE p.org_id = {org} GROUP BY s.group_label, p.bin";
    let rows: Vec<Row> = match conn {
        DbConnection::Sqlite(c) => diesel::sql_query(sql.replace("{org}", "?"))
            .bind::<Text, _>(org)
            .load(c)?,
        DbConnection::Postgresql(c) => diesel::sql_query(sql.replace("{org}", "$1"))
            .bind::<Text, _>(org)
            .load(c)?,
    };
    let mut out: HashMap<Option<String>, Histogram> = HashMap::new();
    for r in rows {
        out.entry(r.group_label)
            .or_insert_with(|| Histogram::new(ECE_BINS))
            .add_bin(
                r.bin.max(0) as usize,
                &Bin {
                    correct: r.correct.max(0) as u64,
                    wrong: r.wrong.max(0) as u64,
                    sum_pred: r.sum_pred,
                    sum_sq_err: r.sum_sq_err,
                },
            );
    }
    Ok(out)
}
