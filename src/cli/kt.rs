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
        KtCommand::Cv(a) => {
            let data = load(&a.csv)?;
            let result = kt::cross_validate(&data, a.folds as usize, &a.fit.options());
            serde_json::to_string(&CvOut {
                result,
                seconds: started.elapsed().as_secs_f64(),
            })?
        }
    };
    super::print_line(&json)
}
