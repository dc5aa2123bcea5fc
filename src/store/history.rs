//! One student's history for their page: the estimate over time per skill (the student's
//! events replayed, see `insights::history`) and their most recent answers.

use std::collections::HashMap;

use diesel::prelude::*;

use super::events::StoredEvent;
use crate::db::schema::{events, items};
use crate::db::DbConnection;
use crate::ingest::Event;
use crate::insights::history::{trajectories, Trajectory};
use crate::kt::evidence::Attempt;
use crate::kt::Rules;
use crate::on_backend;
use crate::store::state::StateSql;

/// At most this many of a student's events are replayed for the trajectories (a student's
/// whole history is usually a few thousand); beyond it, the trajectories are marked partial.
pub const MAX_REPLAYED: i64 = 50_000;

/// What the student page shows over time.
pub struct History {
    pub trajectories: Vec<Trajectory>,
    /// False when the student has more than [`MAX_REPLAYED`] events.
    pub complete: bool,
    /// The latest answers, newest first.
    pub recent: Vec<Recent>,
}

/// One of the latest answers, with the item's prompt when a tool or an administrator described
/// it (`PUT /api/v1/items`).
#[derive(Debug, Clone)]
pub struct Recent {
    pub answer: Event,
    pub prompt: Option<String>,
}

/// The student's history, through the (org, student, occurred_at) index: one student's rows.
pub fn student_history(
    conn: &mut DbConnection,
    org: &str,
    student: &str,
    recent: i64,
    rules: &Rules,
    sig: &crate::signals::Settings,
) -> anyhow::Result<History> {
    type Loaded = (
        Vec<StoredEvent>,
        Vec<StoredEvent>,
        HashMap<String, String>,
        HashMap<String, crate::kt::SkillModel>,
    );
    let (rows, latest, prompts, models): Loaded = on_backend!(conn, |c| {
        let rows = events::table
            .filter(events::org_id.eq(org))
            .filter(events::student_id.eq(student))
            .order((events::occurred_at, events::seq))
            .limit(MAX_REPLAYED + 1)
            .select(StoredEvent::as_select())
            .load(c)?;
        let latest = events::table
            .filter(events::org_id.eq(org))
            .filter(events::student_id.eq(student))
            .order((events::occurred_at.desc(), events::seq.desc()))
            .limit(recent)
            .select(StoredEvent::as_select())
            .load(c)?;
        let ids: Vec<&str> = latest.iter().map(|r| r.event.item_id.as_str()).collect();
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
            replayed.iter().map(|r| {
                let rapid = super::flags::is_rapid_guess(&r.event, &norms, sig);
                (r.event.skill_id.as_str(), Attempt::of(&r.event, rapid))
            }),
            &models,
            rules,
        ),
        complete,
        recent: latest
            .into_iter()
            .map(|r| Recent {
                prompt: prompts.get(&r.event.item_id).cloned(),
                answer: r.event,
            })
            .collect(),
    })
}
