//! The item catalogue (prompts and correct answers) and the first answers the example
//! problems are drawn from (`items`).

use std::collections::{BTreeSet, HashMap};

use diesel::prelude::*;

use crate::db::schema::{events, items, orgs, skills};
use crate::db::DbConnection;
use crate::ingest::{domain_of, Rejection};
use crate::items::{Catalogued, Describer, Description, FirstAnswer};
use crate::on_backend;

/// What describing one item did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Described {
    /// The item is described as sent (new, or its description changed).
    Stored,
    /// It already read exactly so.
    Unchanged,
    Refused(Rejection),
}

/// Describes items, in the order sent (a later description of the same item wins), in one
/// transaction: creates the organisation, skills and items it does not have yet, then writes
/// each description unless the item belongs to another skill or a tool would replace an
/// administrator's description.
pub fn describe(
    conn: &mut DbConnection,
    org: &str,
    by: Describer,
    list: &[Description],
    now: i64,
) -> anyhow::Result<Vec<Described>> {
    if list.is_empty() {
        return Ok(Vec::new());
    }
    on_backend!(conn, |c| c.transaction(|c| {
        diesel::insert_into(orgs::table)
            .values((orgs::org_id.eq(org), orgs::created_at.eq(now)))
            .on_conflict_do_nothing()
            .execute(c)?;
        // Sorted: the same order on every node keeps PostgreSQL from deadlocking.
        let skill_ids: BTreeSet<&str> = list.iter().map(|d| d.skill_id.as_str()).collect();
        let rows: Vec<_> = skill_ids
            .iter()
            .map(|s| {
                (
                    skills::org_id.eq(org),
                    skills::skill_id.eq(*s),
                    skills::domain.eq(domain_of(s)),
                    skills::created_at.eq(now),
                )
            })
            .collect();
        diesel::insert_into(skills::table)
            .values(&rows)
            .on_conflict_do_nothing()
            .execute(c)?;
        let mut new_items: Vec<(&str, &str)> = list
            .iter()
            .map(|d| (d.item_id.as_str(), d.skill_id.as_str()))
            .collect();
        new_items.sort_unstable();
        new_items.dedup_by_key(|(item, _)| *item);
        let rows: Vec<_> = new_items
            .iter()
            .map(|(item, skill)| {
                (
                    items::org_id.eq(org),
                    items::item_id.eq(*item),
                    items::skill_id.eq(*skill),
                    items::created_at.eq(now),
                )
            })
            .collect();
        for chunk in rows.chunks(500) {
            diesel::insert_into(items::table)
                .values(chunk)
                .on_conflict_do_nothing()
                .execute(c)?;
        }
        type Stored = (
            String,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let ids: Vec<&str> = new_items.iter().map(|(item, _)| *item).collect();
        let mut stored: HashMap<String, Stored> = HashMap::new();
        for chunk in ids.chunks(500) {
            let rows: Vec<Stored> = items::table
                .filter(items::org_id.eq(org))
                .filter(items::item_id.eq_any(chunk))
                .select((
                    items::item_id,
                    items::skill_id,
                    items::prompt,
                    items::answer,
                    items::described_by,
                ))
                .load(c)?;
            stored.extend(rows.into_iter().map(|r| (r.0.clone(), r)));
        }
        let mut outcomes = Vec::with_capacity(list.len());
        for d in list {
            let Some(row) = stored.get_mut(&d.item_id) else {
                anyhow::bail!("an item inserted in this transaction is missing");
            };
            let (_, skill, prompt, answer, described_by) = row;
            let previous = described_by.as_deref().and_then(Describer::parse);
            let outcome = if *skill != d.skill_id {
                Described::Refused(Rejection::new(
                    "item_skill_mismatch",
                    "this item_id belongs to another skill: an item's skill never changes",
                ))
            } else if !by.may_replace(previous) {
                Described::Refused(Rejection::new(
                    "described_by_admin",
                    "an administrator described this item: only an administrator changes it",
                ))
            } else if prompt.as_deref() == Some(d.prompt.as_str())
                && *answer == d.answer
                && previous == Some(by)
            {
                Described::Unchanged
            } else {
                diesel::update(
                    items::table
                        .filter(items::org_id.eq(org))
                        .filter(items::item_id.eq(&d.item_id)),
                )
                .set((
                    items::prompt.eq(&d.prompt),
                    items::answer.eq(&d.answer),
                    items::described_by.eq(by.as_str()),
                    items::described_at.eq(now),
                ))
                .execute(c)?;
                *prompt = Some(d.prompt.clone());
                *answer = d.answer.clone();
                *described_by = Some(by.as_str().to_owned());
                Described::Stored
            };
            outcomes.push(outcome);
        }
        Ok(outcomes)
    }))
}

/// The described items of a skill: prompt and correct answer by item id.
pub fn catalogue(
    conn: &mut DbConnection,
    org: &str,
    skill: &str,
) -> anyhow::Result<HashMap<String, Catalogued>> {
    let rows: Vec<(String, Option<String>, Option<String>)> = items::table
        .filter(items::org_id.eq(org))
        .filter(items::skill_id.eq(skill))
        .filter(items::prompt.is_not_null())
        .select((items::item_id, items::prompt, items::answer))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(item, prompt, answer)| (item, Catalogued { prompt, answer }))
        .collect())
}

/// These students' first attempts at the items of `skill` since `since` (ms), with the answers
/// given. Reads a few students' events through the (org, student, occurred_at) index.
pub fn first_answers(
    conn: &mut DbConnection,
    org: &str,
    students: &[String],
    skill: &str,
    since: i64,
) -> anyhow::Result<Vec<FirstAnswer>> {
    let rows: Vec<(String, String, i64, String, Option<String>)> = events::table
        .filter(events::org_id.eq(org))
        .filter(events::student_id.eq_any(students))
        .filter(events::occurred_at.ge(since))
        .filter(events::skill_id.eq(skill))
        .filter(events::attempt.eq(1))
        .select((
            events::student_id,
            events::item_id,
            events::occurred_at,
            events::outcome,
            events::response,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(student_id, item_id, at, outcome, response)| FirstAnswer {
            student_id,
            item_id,
            at,
            correct: outcome == "correct",
            response,
        })
        .collect())
}
