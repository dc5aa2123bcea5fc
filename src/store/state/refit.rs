//! Refitting the skills' models in the service: gather every student's history, fit (`kt::
//! refit`, pure), store the models, then recompute the states of the refitted skills' students
//! a chunk at a time, so ingest goes on in between. A refit cut short between storing the
//! models and recomputing the states is finished at the next start.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use diesel::prelude::*;
use diesel::upsert::excluded;
use serde::Serialize;

use crate::db::schema::{refit_pending, skill_models};
use crate::db::{to_millis, DbConnection};
use crate::kt::evidence::Attempt;
use crate::kt::load::DatasetBuilder;
use crate::kt::refit::{push_history, refit_skills};
use crate::kt::{self, Params, RefitOptions};
use crate::on_backend;
use crate::reports::model_health::{in_sample, Accuracy};
use crate::signals;
use crate::store::flags;

use super::replay::rebuild_students;
use super::sql::StateSql;
use super::REBUILD_CHUNK;

/// One refitted skill, in the summary.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct RefittedSkill {
    pub skill_id: String,
    pub students: usize,
    pub rows: usize,
    pub log_likelihood: f64,
    pub params: Params,
}

/// What a refit did.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct RefitSummary {
    pub org: String,
    /// Skills refitted (those with at least `min_students` students).
    pub skills: Vec<RefittedSkill>,
    /// Skills left on their current model for lack of students.
    pub skills_skipped: usize,
    /// Skills whose refit was not applied, and why: they keep the model in use.
    #[serde(default)]
    pub refused: Vec<kt::guard::Refusal>,
    /// Students whose states were recomputed, and the states written.
    pub students_recomputed: usize,
    pub states_written: usize,
    pub seconds: f64,
}

/// The fitted models, before they are stored.
pub struct Fitted {
    org: String,
    started: Instant,
    /// Each fitted skill's in-sample accuracy (one-step-ahead predictions with its new model).
    accuracy: HashMap<String, Accuracy>,
    fits: Vec<kt::SkillFit>,
    /// Refits not applied (non-finite, or worse on held-out students than the model in use).
    refused: Vec<kt::guard::Refusal>,
    skipped: usize,
    students: Vec<String>,
}

/// Step 1 of a refit, reads only (no transaction; run it on a reading connection): gathers
/// every student's opportunities by the evidence rules (rapid guesses, as `sig` judges them,
/// are no evidence) and fits each skill that has enough students. CPU-heavy; holds no lock.
pub fn fit_models(
    conn: &mut DbConnection,
    org: &str,
    opts: &RefitOptions,
    sig: &signals::Settings,
) -> anyhow::Result<Fitted> {
    fit_models_with(conn, org, opts, sig, &mut |_, _| {})
}

/// [`fit_models`], telling `progress(skills fitted, skills to fit)` before the first skill and
/// after each one (a refit job shows it).
pub fn fit_models_with(
    conn: &mut DbConnection,
    org: &str,
    opts: &RefitOptions,
    sig: &signals::Settings,
    progress: &mut dyn FnMut(usize, usize),
) -> anyhow::Result<Fitted> {
    let started = Instant::now();
    let all = super::reads::students_of(conn, org, None)?;
    let norms = if sig.enabled {
        flags::all_norms(conn, org)?
    } else {
        HashMap::new()
    };
    let mut builder = DatasetBuilder::default();
    for chunk in all.chunks(REBUILD_CHUNK) {
        let ids: Vec<&str> = chunk.iter().map(String::as_str).collect();
        let history = on_backend!(conn, |c| c.load_history(org, &ids))?;
        let mut groups: BTreeMap<(&str, &str), Vec<Attempt>> = BTreeMap::new();
        for row in &history {
            let e = &row.event;
            // The same exclusions as the online path: rapid guesses are no evidence.
            let rapid = flags::is_rapid_guess(e, &norms, sig);
            groups
                .entry((&e.student_id, &e.skill_id))
                .or_default()
                .push(Attempt::of(e, rapid));
        }
        for ((student, skill), attempts) in groups {
            push_history(&mut builder, student, skill, attempts);
        }
    }
    let current = on_backend!(conn, |c| c.load_models(org))?;
    let r = refit_skills(builder.finish(), &current, opts, progress);
    for refusal in &r.refused {
        tracing::warn!(org, skill = %refusal.skill_id, reason = %refusal.reason, "refit not applied");
    }
    let accuracy = r
        .fits
        .iter()
        .filter_map(|f| {
            let s = r.data.skills.iter().find(|s| s.skill_id == f.skill_id)?;
            let h = in_sample(&f.model.params, (0..s.sequences()).map(|k| s.sequence(k)));
            Some((f.skill_id.clone(), h.accuracy()?))
        })
        .collect();
    Ok(Fitted {
        org: org.to_owned(),
        started,
        accuracy,
        fits: r.fits,
        refused: r.refused,
        skipped: r.skipped,
        students: r.students,
    })
}

impl Fitted {
    /// How many students step 2 recomputes.
    pub fn students_to_recompute(&self) -> usize {
        self.students.len()
    }

    /// The students whose states step 2 recomputes, in chunks of one transaction each.
    pub fn student_chunks(&self) -> impl Iterator<Item = Vec<&str>> {
        self.students
            .chunks(REBUILD_CHUNK)
            .map(|c| c.iter().map(String::as_str).collect())
    }

    /// Step 2a (a short write): stores the models, and in the same transaction marks the
    /// organisation's states as behind them (`refit_pending`) until [`Fitted::states_done`]:
    /// a refit cut short between the two is finished at the next start
    /// ([`finish_interrupted_refits`]).
    pub fn save_models(&self, conn: &mut DbConnection) -> anyhow::Result<()> {
        let now = to_millis(chrono::Utc::now());
        let rows: Vec<_> = self
            .fits
            .iter()
            .map(|f| {
                let accuracy = self.accuracy.get(&f.skill_id);
                (
                    skill_models::org_id.eq(&self.org),
                    skill_models::skill_id.eq(&f.skill_id),
                    skill_models::model.eq(serde_json::to_string(&f.model).unwrap_or_default()),
                    skill_models::fitted_at.eq(Some(now)),
                    skill_models::students.eq(i32::try_from(f.students).unwrap_or(i32::MAX)),
                    skill_models::rows.eq(i32::try_from(f.rows).unwrap_or(i32::MAX)),
                    skill_models::log_likelihood.eq(Some(f.log_likelihood)),
                    skill_models::accuracy.eq(accuracy.and_then(|a| serde_json::to_string(a).ok())),
                )
            })
            .collect();
        on_backend!(conn, |c| c.transaction(|c| {
            // A few rows per skill refitted: one upsert (at most 8 binds a row).
            for chunk in rows.chunks(2_000) {
                diesel::insert_into(skill_models::table)
                    .values(chunk)
                    .on_conflict((skill_models::org_id, skill_models::skill_id))
                    .do_update()
                    .set((
                        skill_models::model.eq(excluded(skill_models::model)),
                        skill_models::fitted_at.eq(excluded(skill_models::fitted_at)),
                        skill_models::students.eq(excluded(skill_models::students)),
                        skill_models::rows.eq(excluded(skill_models::rows)),
                        skill_models::log_likelihood.eq(excluded(skill_models::log_likelihood)),
                        skill_models::accuracy.eq(excluded(skill_models::accuracy)),
                    ))
                    .execute(c)?;
            }
            diesel::insert_into(refit_pending::table)
                .values((
                    refit_pending::org_id.eq(&self.org),
                    refit_pending::since.eq(now),
                ))
                .on_conflict(refit_pending::org_id)
                .do_update()
                .set(refit_pending::since.eq(now))
                .execute(c)
                .map(|_| ())
        }))?;
        Ok(())
    }

    /// Step 3 (a short write): every state of step 2 is recomputed; the mark goes.
    pub fn states_done(&self, conn: &mut DbConnection) -> anyhow::Result<()> {
        clear_refit_pending(conn, &self.org)
    }

    pub fn summary(self, states_written: usize) -> RefitSummary {
        RefitSummary {
            org: self.org,
            skills: self
                .fits
                .into_iter()
                .map(|f| RefittedSkill {
                    skill_id: f.skill_id,
                    students: f.students,
                    rows: f.rows,
                    log_likelihood: f.log_likelihood,
                    params: f.model.params,
                })
                .collect(),
            skills_skipped: self.skipped,
            refused: self.refused,
            students_recomputed: self.students.len(),
            states_written,
            seconds: self.started.elapsed().as_secs_f64(),
        }
    }
}

/// Refits the organisation's skills that have enough students, stores the models and
/// recomputes the states of those skills' students, all on one connection (the CLI). The
/// server runs the same steps through [`crate::db::Db`] so ingest goes on in between.
pub fn refit(
    conn: &mut DbConnection,
    org: &str,
    opts: &RefitOptions,
    sig: &signals::Settings,
) -> anyhow::Result<RefitSummary> {
    let fitted = fit_models(conn, org, opts, sig)?;
    fitted.save_models(conn)?;
    let mut written = 0;
    for chunk in fitted.student_chunks() {
        written += rebuild_students(conn, org, &chunk, sig)?;
    }
    fitted.states_done(conn)?;
    Ok(fitted.summary(written))
}

/// Refits through the application's database handle: the reads and the fit on a pooled
/// connection, then each write as its own short transaction (on SQLite, through the single
/// writer, between ingest batches).
pub fn refit_db(
    db: &crate::db::Db,
    org: &str,
    opts: &RefitOptions,
    sig: &signals::Settings,
) -> anyhow::Result<RefitSummary> {
    let fitted = {
        let mut conn = db.conn()?;
        fit_models(&mut conn, org, opts, sig)?
    };
    db.write_blocking(crate::db::Changes::Records, |conn| fitted.save_models(conn))?;
    let mut written = 0;
    for chunk in fitted.student_chunks() {
        written += db.write_blocking(crate::db::Changes::Records, |conn| {
            rebuild_students(conn, org, &chunk, sig)
        })?;
    }
    db.write_blocking(crate::db::Changes::Records, |conn| fitted.states_done(conn))?;
    Ok(fitted.summary(written))
}

fn clear_refit_pending(conn: &mut DbConnection, org: &str) -> anyhow::Result<()> {
    diesel::delete(refit_pending::table.filter(refit_pending::org_id.eq(org))).execute(conn)?;
    Ok(())
}

/// Finishes the refits that a crash cut short between storing their models and recomputing
/// the states (`refit_pending`): recomputes every state of each such organisation from its
/// events under the stored models, a chunk of students per write so ingest goes on, then
/// clears the mark. Run at start; gives back how many states were written.
pub fn finish_interrupted_refits(
    db: &crate::db::Db,
    sig: &signals::Settings,
) -> anyhow::Result<usize> {
    let orgs: Vec<String> = refit_pending::table
        .select(refit_pending::org_id)
        .order(refit_pending::org_id)
        .load(&mut *db.conn()?)?;
    let mut written = 0;
    for org in &orgs {
        // A refit running now, on any node, recomputes the states and clears the mark itself.
        let Some(_claim) = crate::cluster::claim_refit(db, org)? else {
            continue;
        };
        let students = super::reads::students_of(&mut *db.conn()?, org, None)?;
        for chunk in students.chunks(REBUILD_CHUNK) {
            let ids: Vec<&str> = chunk.iter().map(String::as_str).collect();
            written += db.write_blocking(crate::db::Changes::Records, |conn| {
                rebuild_students(conn, org, &ids, sig)
            })?;
        }
        db.write_blocking(crate::db::Changes::Records, |conn| {
            clear_refit_pending(conn, org)
        })?;
    }
    Ok(written)
}
