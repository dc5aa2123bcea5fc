//! `huddle kt fit --csv FILE` and `huddle kt cv --csv FILE [--folds K]`.

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
    let opts = state::RefitOptions {
        min_students: a.min_students.max(1),
        ..state::RefitOptions::default()
    };
    let mut out = RefitOut {
        orgs: Vec::new(),
        rebuilt_states: None,
        seconds: 0.0,
    };
    for org in &orgs {
        out.orgs.push(state::refit_db(&db, org, &opts)?);
        if a.rebuild {
            let written = db.write_blocking(crate::db::Changes::Records, |conn| {
                state::rebuild(conn, org, None)
            })?;
            *out.rebuilt_states.get_or_insert(0) += written;
        }
    }
    out.seconds = started.elapsed().as_secs_f64();
    Ok(serde_json::to_string(&out)?)
}

#[derive(Debug, clap::Args)]
pub struct FitArgs {
    /// CSV with columns student_id, skill_id, correct (0/1), order (any order, extra ignored).
    #[arg(long)]
    pub csv: PathBuf,
    #[command(flatten)]
    pub fit: FitFlags,
}

#[derive(Debug, clap::Args)]
pub struct CvArgs {
    #[arg(long)]
    pub csv: PathBuf,
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(2..))]
    pub folds: u32,
    #[command(flatten)]
    pub fit: FitFlags,
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
    /// False when the skill had too little data and got the default parameters.
    fitted: bool,
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

fn load(path: &std::path::Path) -> anyhow::Result<kt::Dataset> {
    // The loader's errors name the path or the line; say which file too for the latter.
    kt::load::load_path(path).map_err(|e| match e {
        kt::load::LoadError::Open { .. } => anyhow::Error::new(e),
        _ => anyhow::Error::new(e).context(path.display().to_string()),
    })
}

pub fn run(args: KtArgs) -> anyhow::Result<()> {
    super::print_line(&render(args)?)
}

/// The JSON line `run` prints.
fn render(args: KtArgs) -> anyhow::Result<String> {
    let started = Instant::now();
    let json = match args.command {
        KtCommand::Fit(a) => {
            let data = load(&a.csv)?;
            let load_seconds = started.elapsed().as_secs_f64();
            let fits = kt::fit_dataset(&data, None, &a.fit.options());
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
                            restarts: f.restarts,
                            iterations: f.iterations,
                            bootstrap_sd: f.bootstrap_sd,
                            spread: f.model.spread,
                        },
                    )
                })
                .collect();
            serde_json::to_string(&FitOut {
                log_likelihood: skills.values().map(|s| s.log_likelihood).sum(),
                rows: data.rows(),
                skills,
                load_seconds,
                seconds: started.elapsed().as_secs_f64(),
            })?
        }
        KtCommand::Refit(a) => refit(a, started)?,
        KtCommand::Cv(a) => {
            let data = load(&a.csv)?;
            let result = kt::cross_validate(&data, a.folds as usize, &a.fit.options());
            serde_json::to_string(&CvOut {
                result,
                seconds: started.elapsed().as_secs_f64(),
            })?
        }
    };
    Ok(json)
}

#[cfg(test)]
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
        }
    }

    #[test]
    fn fit_prints_the_contract_shape() {
        let f = csv_file();
        let json = render(KtArgs {
            command: KtCommand::Fit(FitArgs {
                csv: f.path().to_path_buf(),
                fit: flags(),
            }),
        })
        .expect("fit runs");
        let v: serde_json::Value = serde_json::from_str(&json).expect("json");
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
                csv: f.path().to_path_buf(),
                folds: 3,
                fit: flags(),
            }),
        })
        .expect("cv runs");
        let v: serde_json::Value = serde_json::from_str(&json).expect("json");
        let auc = v["auc"].as_f64().unwrap_or(0.0);
        assert!(auc > 0.6 && auc <= 1.0, "{v}");
        assert!(v["rmse"].as_f64().is_some_and(|r| r > 0.0 && r < 0.5));
        assert_eq!(v["folds"], 3);
        assert!(v["rows"].as_u64().unwrap_or(0) > 0);
        assert!(v["seconds"].is_f64());
    }
}
