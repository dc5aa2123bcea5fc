//! `huddle kt fit --csv FILE`, `huddle kt cv --csv FILE [--folds K]`,
//! `huddle kt predict --csv FILE --params FIT.json` and `huddle kt refit`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;

use crate::kt::{self, FitOptions, Params, Spread};

#[derive(Debug, clap::Args)]
pub struct KtArgs {
    #[command(subcommand)]
    pub command: KtCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum KtCommand {
    /// Fit BKT parameters per skill; prints JSON.
    Fit(FitArgs),
    /// K-fold cross-validation by student; prints JSON with auc and rmse.
    Cv(CvArgs),
    /// One-step-ahead predictions per row with given parameters; prints CSV.
    Predict(PredictArgs),
    /// Refit the models of the service's database from its events and recompute the states;
    /// prints a JSON summary per organisation.
    Refit(RefitArgs),
}

#[derive(Debug, clap::Args)]
pub struct RefitArgs {
    /// sqlite://PATH or postgres://USER@HOST/DB
    #[arg(
        long,
        env = "HUDDLE_DATABASE_URL",
        default_value = "sqlite://huddle.db"
    )]
    pub database_url: String,
    /// Only this organisation (default: all).
    #[arg(long)]
    pub org: Option<String>,
    /// A skill is refitted once this many students have answered it.
    #[arg(long, env = "HUDDLE_REFIT_MIN_STUDENTS", default_value_t = 50)]
    pub min_students: usize,
    /// Also recompute every state from the events, refitted or not (after a bug fix).
    #[arg(long)]
    pub rebuild: bool,
}

#[derive(Serialize)]
struct RefitOut {
    orgs: Vec<crate::store::state::RefitSummary>,
    /// States written by --rebuild.
    #[serde(skip_serializing_if = "Option::is_none")]
    rebuilt_states: Option<usize>,
    seconds: f64,
}

fn refit(a: RefitArgs, started: Instant) -> anyhow::Result<String> {
    use crate::store::state;
    let url = crate::db::DbUrl::parse(&a.database_url)?;
    let db = crate::db::Db::open(&url, 2)?;
    let orgs = match a.org {
        Some(org) => vec![org],
        None => state::orgs(&mut *db.conn()?)?,
    };
    let opts = crate::kt::RefitOptions {
        min_students: a.min_students.max(1),
        ..crate::kt::RefitOptions::default()
    };
    let mut out = RefitOut {
        orgs: Vec::new(),
        rebuilt_states: None,
        seconds: 0.0,
    };
    // The default detectors, as a server started without `--signals off` runs them.
    let sig = crate::signals::Settings::default();
    for org in &orgs {
        let refitted = crate::jobs::refit_exclusive(&db, org, &opts, &sig)?;
        out.orgs
            .push(refitted.ok_or_else(|| anyhow::anyhow!("{org}: {}", crate::jobs::REFIT_BUSY))?);
        if a.rebuild {
            let written = db.write_blocking(crate::db::Changes::Records, |conn| {
                state::rebuild(conn, org, None, &sig)
            })?;
            *out.rebuilt_states.get_or_insert(0) += written;
        }
    }
    out.seconds = started.elapsed().as_secs_f64();
    Ok(serde_json::to_string(&out)?)
}

/// Where the answers are and how to read them.
#[derive(Debug, Clone, clap::Args)]
pub struct CsvFlags {
    /// CSV with columns student_id, skill_id, correct (0/1/true/false/0.0/1.0), order
    /// (number or time; any column order, extra columns ignored). See docs/knowledge-tracing.md.
    #[arg(long)]
    pub csv: PathBuf,
    /// Column names of the file for the four columns, e.g.
    /// `user_id=student_id,skill_name=skill_id,order_id=order`.
    #[arg(long, value_parser = parse_columns)]
    pub columns: Option<ColumnMap>,
    /// Field separator (one character, `\t` for tab); detected from the header by default.
    #[arg(long, value_parser = parse_delimiter)]
    pub delimiter: Option<u8>,
}

/// `--columns`: (name in the file, the column it stands for).
#[derive(Debug, Clone)]
pub struct ColumnMap(pub Vec<(String, String)>);

fn parse_columns(spec: &str) -> Result<ColumnMap, String> {
    kt::load::LoadOptions::parse_columns(spec).map(ColumnMap)
}

fn parse_delimiter(raw: &str) -> Result<u8, String> {
    match raw {
        "\\t" | "\t" | "tab" => Ok(b'\t'),
        _ if raw.len() == 1 && raw.is_ascii() => Ok(raw.as_bytes()[0]),
        _ => Err(format!("`{raw}` is not one ASCII character")),
    }
}

#[derive(Debug, clap::Args)]
pub struct FitArgs {
    #[command(flatten)]
    pub input: CsvFlags,
    #[command(flatten)]
    pub fit: FitFlags,
}

#[derive(Debug, clap::Args)]
pub struct CvArgs {
    #[command(flatten)]
    pub input: CsvFlags,
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(2..))]
    pub folds: u32,
    /// Also print each skill's held-out AUC, RMSE and rows.
    #[arg(long)]
    pub per_skill: bool,
    #[command(flatten)]
    pub fit: FitFlags,
}

#[derive(Debug, clap::Args)]
pub struct PredictArgs {
    #[command(flatten)]
    pub input: CsvFlags,
    /// The JSON printed by `huddle kt fit` (its `skills` object is read).
    #[arg(long)]
    pub params: PathBuf,
}

#[derive(Debug, Clone, clap::Args)]
pub struct FitFlags {
    /// Random starting points per skill (pyBKT's num_fits).
    #[arg(long, default_value_t = 5)]
    pub restarts: usize,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Also fit a forgetting rate (classic BKT has none).
    #[arg(long)]
    pub forget: bool,
    /// EM iterations per restart at most.
    #[arg(long, default_value_t = 100)]
    pub max_iter: usize,
    /// Stop when an iteration improves a skill's log-likelihood by less than this.
    #[arg(long, default_value_t = 1e-3)]
    pub tol: f64,
    /// Worker threads (0 = all cores).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Bootstrap resamples for the parameter-uncertainty summary (fit only; 0 = none).
    #[arg(long, default_value_t = 8)]
    pub bootstrap: usize,
    /// A skill with fewer answers than this is not fitted on its own (see --small-skills).
    #[arg(long, default_value_t = kt::params::MIN_ROWS_TO_FIT)]
    pub min_rows: usize,
    /// ... nor one with fewer students than this.
    #[arg(long, default_value_t = kt::params::MIN_STUDENTS_TO_FIT)]
    pub min_students: usize,
    /// What a skill under the minimum gets: `shrink` (its own data with a prior drawn from
    /// the skills fitted on their own) or `default` (the literature defaults).
    #[arg(long, value_enum, default_value_t = SmallSkillsArg::Shrink)]
    pub small_skills: SmallSkillsArg,
    /// Answers the prior of a shrunk skill is worth, every parameter alike (default:
    /// empirical Bayes, each parameter's from how much the fitted skills differ in it).
    #[arg(long)]
    pub prior_weight: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SmallSkillsArg {
    Shrink,
    Default,
}

impl FitFlags {
    fn options(&self) -> FitOptions {
        FitOptions {
            restarts: self.restarts.max(1),
            max_iter: self.max_iter.max(1),
            tol: self.tol,
            seed: self.seed,
            fit_forget: self.forget,
            threads: self.threads,
            bootstrap: self.bootstrap,
            min_rows: self.min_rows,
            min_students: self.min_students,
            small_skills: match self.small_skills {
                SmallSkillsArg::Shrink => kt::fit::SmallSkills::Shrink,
                SmallSkillsArg::Default => kt::fit::SmallSkills::Default,
            },
            prior_weight: self.prior_weight,
        }
    }
}

#[derive(Serialize)]
struct SkillOut {
    prior: f64,
    learn: f64,
    guess: f64,
    slip: f64,
    forget: f64,
    log_likelihood: f64,
    students: usize,
    rows: usize,
    /// True when EM fitted the skill on its own data; `method` says how it was fitted
    /// (`em`, `shrunk`, `default`) and `reason` why not by EM.
    fitted: bool,
    method: kt::fit::Method,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    restarts: usize,
    iterations: usize,
    bootstrap_sd: Option<Params>,
    spread: Spread,
}

#[derive(Serialize)]
struct FitOut {
    skills: BTreeMap<String, SkillOut>,
    rows: usize,
    log_likelihood: f64,
    load_seconds: f64,
    seconds: f64,
}

#[derive(Serialize)]
struct CvOut {
    #[serde(flatten)]
    result: kt::CvResult,
    seconds: f64,
}

fn load(input: &CsvFlags) -> anyhow::Result<kt::Dataset> {
    let opts = kt::load::LoadOptions {
        delimiter: input.delimiter,
        columns: input.columns.clone().map(|c| c.0).unwrap_or_default(),
    };
    let path = &input.csv;
    // The loader's errors name the path or the line; say which file too for the latter.
    kt::load::load_path_with(path, &opts).map_err(|e| match e {
        kt::load::LoadError::Open { .. } => anyhow::Error::new(e),
        _ => anyhow::Error::new(e).context(path.display().to_string()),
    })
}

pub fn run(args: KtArgs) -> anyhow::Result<()> {
    let out = render(args)?;
    for note in &out.notes {
        eprintln!("{note}");
    }
    if out.csv {
        use std::io::Write;
        std::io::stdout().lock().write_all(out.text.as_bytes())?;
        return Ok(());
    }
    super::print_line(&out.text)
}

/// What `run` prints: the JSON line (or CSV) on stdout, sentences on stderr.
struct Rendered {
    text: String,
    csv: bool,
    notes: Vec<String>,
}

fn json(text: String, notes: Vec<String>) -> Rendered {
    Rendered {
        text,
        csv: false,
        notes,
    }
}

/// Fails naming every non-finite figure: the tool never prints NaN (as `null`) or ∞.
fn ensure_finite(
    figures: impl IntoIterator<Item = (String, f64)>,
    what: &str,
) -> anyhow::Result<()> {
    let bad: Vec<String> = figures
        .into_iter()
        .filter(|(_, x)| !x.is_finite())
        .map(|(name, x)| format!("{name} = {x}"))
        .collect();
    if bad.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(
            "{what}: non-finite figures, nothing printed: {}",
            bad.join(", ")
        )
    }
}

fn render(args: KtArgs) -> anyhow::Result<Rendered> {
    let started = Instant::now();
    let out = match args.command {
        KtCommand::Fit(a) => {
            let data = load(&a.input)?;
            let load_seconds = started.elapsed().as_secs_f64();
            let fits = kt::fit_dataset(&data, None, &a.fit.options());
            let notes: Vec<String> = fits
                .iter()
                .filter_map(|f| {
                    f.reason
                        .as_ref()
                        .map(|r| format!("skill {:?} not fitted by EM: {r}.", f.skill_id))
                })
                .collect();
            let skills: BTreeMap<String, SkillOut> = fits
                .into_iter()
                .map(|f| {
                    let p = f.model.params;
                    (
                        f.skill_id,
                        SkillOut {
                            prior: p.prior,
                            learn: p.learn,
                            guess: p.guess,
                            slip: p.slip,
                            forget: p.forget,
                            log_likelihood: f.log_likelihood,
                            students: f.students,
                            rows: f.rows,
                            fitted: f.fitted,
                            method: f.method,
                            reason: f.reason,
                            restarts: f.restarts,
                            iterations: f.iterations,
                            bootstrap_sd: f.bootstrap_sd,
                            spread: f.model.spread,
                        },
                    )
                })
                .collect();
            ensure_finite(
                skills.iter().flat_map(|(id, s)| {
                    [
                        ("prior", s.prior),
                        ("learn", s.learn),
                        ("guess", s.guess),
                        ("slip", s.slip),
                        ("forget", s.forget),
                        ("log_likelihood", s.log_likelihood),
                    ]
                    .map(|(k, x)| (format!("skill {id:?} {k}"), x))
                }),
                "kt fit",
            )?;
            let text = serde_json::to_string(&FitOut {
                log_likelihood: skills.values().map(|s| s.log_likelihood).sum(),
                rows: data.rows(),
                skills,
                load_seconds,
                seconds: started.elapsed().as_secs_f64(),
            })?;
            json(text, notes)
        }
        KtCommand::Refit(a) => json(refit(a, started)?, Vec::new()),
        KtCommand::Cv(a) => {
            let data = load(&a.input)?;
            let mut result = kt::cross_validate(&data, a.folds as usize, &a.fit.options());
            if result.auc.is_nan() {
                anyhow::bail!(
                    "kt cv: no AUC: the held-out answers are all right or all wrong ({} rows)",
                    result.rows
                );
            }
            ensure_finite(
                [
                    ("auc".to_string(), result.auc),
                    ("rmse".to_string(), result.rmse),
                    ("auc_skill_mean".to_string(), result.auc_skill_mean),
                ],
                "kt cv",
            )?;
            if !a.per_skill {
                result.skills.clear();
            }
            let text = serde_json::to_string(&CvOut {
                result,
                seconds: started.elapsed().as_secs_f64(),
            })?;
            json(text, Vec::new())
        }
        KtCommand::Predict(a) => predict(&a)?,
    };
    Ok(out)
}

/// The parameters of one skill as `kt fit` prints them.
#[derive(serde::Deserialize)]
struct FittedSkill {
    prior: f64,
    learn: f64,
    guess: f64,
    slip: f64,
    #[serde(default)]
    forget: f64,
}

#[derive(serde::Deserialize)]
struct FitFile {
    skills: BTreeMap<String, FittedSkill>,
}

/// `kt predict`: per answer, P(correct) before it (from the answers before it on the skill)
/// and P(known) after it.
fn predict(a: &PredictArgs) -> anyhow::Result<Rendered> {
    use std::fmt::Write;
    let raw = std::fs::read_to_string(&a.params)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", a.params.display()))?;
    let file: FitFile = serde_json::from_str(&raw).map_err(|e| {
        anyhow::anyhow!(
            "{}: not the JSON of `huddle kt fit` (a `skills` object of parameters): {e}",
            a.params.display()
        )
    })?;
    let data = load(&a.input)?;
    let mut notes = Vec::new();
    let mut text =
        String::from("student_id,skill_id,opportunity,correct,p_correct,p_known_after\n");
    for skill in &data.skills {
        let params = match file.skills.get(&skill.skill_id) {
            Some(f) => {
                let p = Params {
                    prior: f.prior,
                    learn: f.learn,
                    guess: f.guess,
                    slip: f.slip,
                    forget: f.forget,
                };
                if !p.is_valid() {
                    anyhow::bail!(
                        "{}: skill {:?} has parameters out of bounds or not finite: {p:?}",
                        a.params.display(),
                        skill.skill_id
                    );
                }
                p
            }
            None => {
                notes.push(format!(
                    "skill {:?} is not in {}: predicted with the default parameters.",
                    skill.skill_id,
                    a.params.display()
                ));
                Params::default()
            }
        };
        for s in 0..skill.sequences() {
            let student = &data.students[skill.students[s] as usize];
            let seq = skill.sequence(s);
            let steps = params.one_step_ahead(seq.iter().map(|&o| o == 1));
            for (i, (step, &o)) in steps.zip(seq).enumerate() {
                let _ = writeln!(
                    text,
                    "{},{},{},{},{:.6},{:.6}",
                    csv_field(student),
                    csv_field(&skill.skill_id),
                    i + 1,
                    o,
                    step.p_correct,
                    kt::params::sigmoid(step.log_odds)
                );
            }
        }
    }
    Ok(Rendered {
        text,
        csv: true,
        notes,
    })
}

/// Quotes a CSV field when it needs it.
fn csv_field(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\"")).into()
    } else {
        s.into()
    }
}

#[cfg(all(test, feature = "sim"))]
mod tests {
    use super::*;
    use crate::sim::{Config, Simulation};
    use std::io::Write;

    fn csv_file() -> tempfile::NamedTempFile {
        let out = Simulation::new(Config {
            students: 80,
            days: 10,
            skills: 2,
            seed: 5,
            ..Config::default()
        })
        .run();
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        writeln!(f, "order,student_id,extra,skill_id,correct").expect("write");
        for (student, skill, correct, order) in out.kt_rows() {
            writeln!(f, "{order},{student},x,{skill},{}", u8::from(correct)).expect("write");
        }
        f
    }

    fn flags() -> FitFlags {
        FitFlags {
            restarts: 2,
            seed: 1,
            forget: false,
            max_iter: 100,
            tol: 1e-3,
            threads: 0,
            bootstrap: 2,
            min_rows: 200,
            min_students: 20,
            small_skills: SmallSkillsArg::Shrink,
            prior_weight: None,
        }
    }

    fn input(path: &std::path::Path) -> CsvFlags {
        CsvFlags {
            csv: path.to_path_buf(),
            columns: None,
            delimiter: None,
        }
    }

    #[test]
    fn fit_prints_the_contract_shape() {
        let f = csv_file();
        let json = render(KtArgs {
            command: KtCommand::Fit(FitArgs {
                input: input(f.path()),
                fit: flags(),
            }),
        })
        .expect("fit runs");
        assert!(json.notes.is_empty(), "{:?}", json.notes);
        let v: serde_json::Value = serde_json::from_str(&json.text).expect("json");
        let skills = v["skills"].as_object().expect("skills object");
        assert_eq!(skills.len(), 2);
        for skill in skills.values() {
            for key in [
                "prior",
                "learn",
                "guess",
                "slip",
                "forget",
                "log_likelihood",
            ] {
                assert!(skill[key].is_f64(), "{key} in {skill}");
            }
            assert_eq!(skill["students"], 80);
            assert!(skill["rows"].as_u64().unwrap_or(0) > 0);
        }
        assert!(v["seconds"].is_f64());
    }

    #[test]
    fn cv_prints_the_contract_shape() {
        let f = csv_file();
        let json = render(KtArgs {
            command: KtCommand::Cv(CvArgs {
                input: input(f.path()),
                folds: 3,
                per_skill: true,
                fit: flags(),
            }),
        })
        .expect("cv runs");
        let v: serde_json::Value = serde_json::from_str(&json.text).expect("json");
        assert_eq!(v["skills"].as_array().map(Vec::len), Some(2), "{v}");
        let auc = v["auc"].as_f64().unwrap_or(0.0);
        assert!(auc > 0.6 && auc <= 1.0, "{v}");
        assert!(v["rmse"].as_f64().is_some_and(|r| r > 0.0 && r < 0.5));
        assert_eq!(v["folds"], 3);
        assert!(v["rows"].as_u64().unwrap_or(0) > 0);
        // Both skills are fitted by EM in every fold: no small or unseen skill.
        assert_eq!(v["small_skills"]["rows"], 0, "{v}");
        assert_eq!(v["unseen_skills"]["rows"], 0, "{v}");
        assert!(v["seconds"].is_f64());
    }
}
