//! One student's history for their page: the estimate over time per skill (the student's
//! events replayed, see `insights::history`) and their most recent answers.

use std::collections::HashMap;

use diesel::prelude::*;

use super::flags::NormKey;
use crate::db::schema::{events, items};
use crate::db::DbConnection;
use crate::insights::history::{trajectories, Trajectory};
use crate::kt::evidence::Attempt;
use crate::kt::{Rules, SkillModel};
use crate::on_backend;
use crate::signals::Norm;
use crate::store::state::StateSql;

/// At most this many of a student's events are replayed for the trajectories (a student's
/// whole history is usually a few thousand); beyond it, the trajectories are marked partial.
pub const MAX_REPLAYED: i64 = 50_000;

#[derive(Queryable, Debug, Clone)]
pub struct AnswerRow {
    pub skill_id: String,
    pub item_id: String,
    pub occurred_at: i64,
    pub outcome: String,
    pub attempt: i32,
    pub response_ms: Option<i32>,
    pub hints_used: i32,
    pub hint_bottom_out: bool,
    pub session_id: Option<String>,
}

impl AnswerRow {
    /// The answer as evidence; `norms` judge rapid guesses as the online path does.
    fn attempt(&self, norms: &HashMap<NormKey, Norm>) -> Attempt<'_> {
        let sig = crate::signals::settings();
        let rapid_guess = sig.enabled && {
            let typical =
                super::flags::typical_of(norms, &self.skill_id, &self.item_id, &sig.thresholds);
            crate::signals::Action {
                at: self.occurred_at,
                skill_id: &self.skill_id,
                item_id: &self.item_id,
                session_id: self.session_id.as_deref(),
                attempt: self.attempt,
                outcome: &self.outcome,
                response_ms: self.response_ms,
                hints_used: self.hints_used,
                hint_bottom_out: self.hint_bottom_out,
                typical_ms: typical,
                kt: None,
            }
            .is_rapid_guess(&sig.thresholds)
        };
        Attempt {
            rapid_guess,
            item_id: &self.item_id,
            occurred_at: self.occurred_at,
            attempt: self.attempt,
            outcome: &self.outcome,
            hint_bottom_out: self.hint_bottom_out,
            session_id: self.session_id.as_deref(),
        }
    }
}

macro_rules! answers_query {
    () => {
        (
            events::skill_id,
            events::item_id,
            events::occurred_at,
            events::outcome,
            events::attempt,
            events::response_ms,
            events::hints_used,
            events::hint_bottom_out,
            events::session_id,
        )
    };
}

/// One of the latest answers, with what the student answered and the item's prompt when a
/// tool or an administrator described it (`PUT /api/v1/items`).
#[derive(Debug, Clone)]
pub struct Recent {
    pub answer: AnswerRow,
    pub response: Option<String>,
    pub prompt: Option<String>,
}

/// What the student page shows over time.
pub struct History {
    pub trajectories: Vec<Trajectory>,
    /// False when the student has more than [`MAX_REPLAYED`] events.
    pub complete: bool,
    /// The latest answers, newest first.
    pub recent: Vec<Recent>,
}

/// The student's history, through the (org, student, occurred_at) index: one student's rows.
pub fn student_history(
    conn: &mut DbConnection,
    org: &str,
    student: &str,
    recent: i64,
    rules: &Rules,
) -> anyhow::Result<History> {
    type Latest = Vec<(AnswerRow, Option<String>)>;
    let (rows, latest, prompts, models): (
        Vec<AnswerRow>,
        Latest,
        HashMap<String, String>,
        HashMap<String, SkillModel>,
    ) = on_backend!(conn, |c| {
        let rows = events::table
            .filter(events::org_id.eq(org))
            .filter(events::student_id.eq(student))
            .order((events::occurred_at, events::seq))
            .limit(MAX_REPLAYED + 1)
            .select(answers_query!())
            .load::<AnswerRow>(c)?;
        let latest = events::table
            .filter(events::org_id.eq(org))
            .filter(events::student_id.eq(student))
            .order((events::occurred_at.desc(), events::seq.desc()))
            .limit(recent)
            .select((answers_query!(), events::response))
            .load::<(AnswerRow, Option<String>)>(c)?;
        let ids: Vec<&str> = latest.iter().map(|(a, _)| a.item_id.as_str()).collect();
        let prompts: Vec<(String, Option<String>)> = items::table
            .filter(items::org_id.eq(org))
            .filter(items::item_id.eq_any(&ids))
            .filter(items::prompt.is_not_null())
            .select((items::item_id, items::prompt))
            .load(c)?;
        let prompts = prompts
            .into_iter()
            .filter_map(|(item, prompt)| Some((item, prompt?)))
            .collect();
        let models = c.load_models(org)?;
        Ok::<_, diesel::result::Error>((rows, latest, prompts, models))
    })?;
    let norms = super::flags::all_norms(conn, org)?;
    let complete = rows.len() as i64 <= MAX_REPLAYED;
    let replayed = &rows[..rows.len().min(MAX_REPLAYED as usize)];
    Ok(History {
        trajectories: trajectories(
            replayed
                .iter()
                .map(|r| (r.skill_id.as_str(), r.attempt(&norms))),
            &models,
            rules,
        ),
        complete,
        recent: latest
            .into_iter()
            .map(|(answer, response)| Recent {
                prompt: prompts.get(&answer.item_id).cloned(),
                answer,
                response,
            })
            .collect(),
    })
}
