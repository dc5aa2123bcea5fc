//! Appending a batch: in one transaction, make sure the organisation, classes, students,
//! skills and items exist, insert the events that are new, and tell re-sent events from
//! conflicting ones.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use diesel::backend::Backend;
use diesel::deserialize::FromStaticSqlRow;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error::DatabaseError};
use diesel::upsert::excluded;
use uuid::Uuid;

use crate::db::schema::{classes, enrolments, events, items, orgs, skills, students};
use crate::db::{from_millis, to_millis, Changes, Db, DbConnection};
use crate::ingest::{domain_of, Event, Outcome};
use crate::on_backend;
use crate::signals;

use super::column as col;
use super::sqlite_values;
use super::writer_memory::{Entity, KnownEntities, WriterMemory};

/// What happened to each event handed to `append`, in the same order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stored {
    Inserted,
    /// Already stored with the same content: nothing changed.
    Duplicate,
    /// Already stored with other content.
    Conflict,
}

/// An event as stored: the practice event with its organisation, its place in arrival order
/// (`seq`) and when it arrived (ms). Read back whole with `.select(StoredEvent::as_select())`;
/// an append writes it from the batch's events (`NewRow`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEvent {
    pub seq: i64,
    pub org_id: String,
    pub received_at: i64,
    pub event: Event,
}

/// One row of `events` as diesel decodes it: its columns in the order the table declares them.
type ColumnValues = (
    i64,
    Vec<u8>,
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
    String,
    i32,
    Option<i32>,
    i32,
    bool,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

impl<DB: Backend> Selectable<DB> for StoredEvent {
    type SelectExpression = <events::table as diesel::Table>::AllColumns;

    fn construct_selection() -> Self::SelectExpression {
        events::all_columns
    }
}

impl<ST, DB> Queryable<ST, DB> for StoredEvent
where
    DB: Backend,
    ColumnValues: FromStaticSqlRow<ST, DB>,
{
    type Row = ColumnValues;

    fn build(row: ColumnValues) -> diesel::deserialize::Result<Self> {
        let (
            seq,
            event_id,
            org_id,
            class_id,
            student_id,
            skill_id,
            item_id,
            occurred_at,
            received_at,
            outcome,
            attempt,
            response_ms,
            hints_used,
            hint_bottom_out,
            session_id,
            skill_name,
            tool,
            response,
        ) = row;
        Ok(StoredEvent {
            seq,
            org_id,
            received_at,
            event: Event {
                event_id: Uuid::from_slice(&event_id)?,
                occurred_at: from_millis(occurred_at),
                student_id,
                class_id,
                skill_id,
                item_id,
                // The table's CHECK keeps the outcome one of the three.
                outcome: Outcome::parse(&outcome).ok_or("an unknown outcome is stored")?,
                attempt,
                response_ms,
                hints_used,
                hint_bottom_out,
                session_id,
                skill_name,
                tool,
                response,
            },
        })
    }
}

/// One event of a batch as an append writes it: what its row adds to the event (the
/// organisation, the times in ms), borrowing the event. Both backends bind its columns
/// themselves (`insert_sqlite`, `insert_pg`) rather than through diesel's `Insertable`.
struct NewRow<'a> {
    org_id: &'a str,
    occurred_at: i64,
    received_at: i64,
    event: &'a Event,
}

impl<'a> NewRow<'a> {
    fn new(org_id: &'a str, event: &'a Event, received_at: i64) -> Self {
        NewRow {
            org_id,
            occurred_at: to_millis(event.occurred_at),
            received_at,
            event,
        }
    }

    fn event_id(&self) -> &'a [u8] {
        self.event.event_id.as_bytes()
    }
}

/// Appends batches of events to one database, keeping between batches what its SQLite writer
/// remembers (`store::writer_memory`). Clones share that memory; make one per [`Db`], since
/// the memory speaks for that handle's writer. `signals` says whether the batch's transaction
/// runs the behaviour detectors, and with which thresholds.
#[derive(Clone)]
pub struct Appender {
    db: Db,
    signals: signals::Settings,
    memory: std::sync::Arc<std::sync::Mutex<WriterMemory>>,
}

impl Appender {
    pub fn new(db: Db, signals: signals::Settings) -> Self {
        Appender {
            db,
            signals,
            memory: Default::default(),
        }
    }

    /// `append` through the database's writer, off the async workers.
    pub async fn append(
        &self,
        org: String,
        batch: Vec<Event>,
        received_at: DateTime<Utc>,
    ) -> anyhow::Result<Vec<Stored>> {
        let this = self.clone();
        crate::db::blocking(move || this.append_blocking(&org, &batch, received_at)).await
    }

    /// [`Appender::append`] for a tool limited to some classes. An event about a student whom
    /// none of those classes enrol, but who is already stored, is left out (`None` at its
    /// position): it would otherwise enrol that student in the tool's class, and the class's
    /// teacher would then read a record the tool had no business widening.
    pub async fn append_within(
        &self,
        org: String,
        batch: Vec<Event>,
        classes: Vec<String>,
        received_at: DateTime<Utc>,
    ) -> anyhow::Result<Vec<Option<Stored>>> {
        let this = self.clone();
        crate::db::blocking(move || {
            this.write(|conn, memory| {
                let students: Vec<&str> = batch.iter().map(|e| e.student_id.as_str()).collect();
                let outside = super::access::students_outside(conn, &org, &students, &classes)?;
                let kept: Vec<Event> = batch
                    .iter()
                    .filter(|e| !outside.contains(&e.student_id))
                    .cloned()
                    .collect();
                let mut stored =
                    append(conn, memory, &this.signals, &org, &kept, received_at)?.into_iter();
                Ok(batch
                    .iter()
                    .map(|e| {
                        (!outside.contains(&e.student_id))
                            .then(|| stored.next())
                            .flatten()
                    })
                    .collect())
            })
        })
        .await
    }

    /// The same as [`Appender::append`] for callers already off the async workers.
    pub fn append_blocking(
        &self,
        org: &str,
        batch: &[Event],
        received_at: DateTime<Utc>,
    ) -> anyhow::Result<Vec<Stored>> {
        self.write(|conn, memory| append(conn, memory, &self.signals, org, batch, received_at))
    }

    /// One append transaction through the writer, with the writer's memory on SQLite.
    fn write<T>(
        &self,
        f: impl FnOnce(&mut crate::db::DbConnection, &mut WriterMemory) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        self.db.write_blocking(Changes::Events, |conn| {
            if !self.db.url().is_sqlite() {
                // PostgreSQL's unique index does this work, and several nodes write there:
                // one node's memory cannot speak for the others.
                return f(conn, &mut WriterMemory::default());
            }
            // Uncontended: every SQLite write holds the writer's lock already.
            let mut memory = self.memory.lock().unwrap_or_else(|p| p.into_inner());
            memory.entities.saw_entity_writes(self.db.entity_writes());
            f(conn, &mut memory)
        })
    }

    /// Whether the memory holds `entity` as stored.
    #[cfg(test)]
    pub(crate) fn knows(&self, org: &str, entity: super::writer_memory::Entity<&str>) -> bool {
        let memory = self.memory.lock().unwrap_or_else(|p| p.into_inner());
        memory.entities.knows(org, entity)
    }
}

/// Appends `batch` for `org` in one transaction; when this returns, the inserted events are
/// committed. `batch` must not repeat an event id (`ingest::prepare` sees to that). `memory`
/// is what the SQLite writer remembers between batches ([`Appender`]); an empty one on
/// PostgreSQL.
pub(crate) fn append(
    conn: &mut DbConnection,
    memory: &mut WriterMemory,
    sig: &signals::Settings,
    org: &str,
    batch: &[Event],
    received_at: DateTime<Utc>,
) -> anyhow::Result<Vec<Stored>> {
    let received_at = to_millis(received_at);
    let stored = on_backend!(conn, |c| c.transaction(|c| append_in(
        c,
        memory,
        sig,
        org,
        batch,
        received_at
    )))?;
    memory.committed();
    Ok(stored)
}

fn append_in<C: EventSql + super::state::StateSql + super::reports::ReportSql>(
    c: &mut C,
    memory: &mut WriterMemory,
    sig: &signals::Settings,
    org: &str,
    batch: &[Event],
    received_at: i64,
) -> anyhow::Result<Vec<Stored>> {
    // On PostgreSQL, one student's batches take turns from here to the commit (several nodes
    // may receive them at once): their states then never race, and two batches re-sending the
    // same events never wait on each other's uncommitted rows in a cycle.
    let students: Vec<&str> = batch.iter().map(|e| e.student_id.as_str()).collect();
    c.lock_students(org, &students)?;
    let rows: Vec<NewRow> = batch
        .iter()
        .map(|e| NewRow::new(org, e, received_at))
        .collect();
    let Appended { seqs, stored } = c.insert_new(&rows, memory)?;
    let inserted: Vec<bool> = seqs.iter().map(Option::is_some).collect();

    // Only events actually stored name new entities: a duplicate or a conflict changes nothing.
    let new_events: Vec<(&Event, i64)> = batch
        .iter()
        .zip(&seqs)
        .filter_map(|(e, seq)| Some((e, (*seq)?)))
        .collect();
    if !new_events.is_empty() {
        let events: Vec<&Event> = new_events.iter().map(|(e, _)| *e).collect();
        c.ensure_entities(org, &events, &mut memory.entities, received_at)?;
        // The knowledge-tracing state moves in the same transaction as its events.
        super::state::apply_in(c, org, &new_events, received_at, sig)?;
        // The administrators' report aggregates, from the new events only (docs/reports.md).
        super::reports::record_in(c, org, &events, received_at)?;
    }

    // Events not inserted were stored before: the same content is a re-send, other content
    // (or another organisation's event) a conflict.
    let stored: HashMap<Uuid, StoredEvent> = stored
        .into_iter()
        .map(|row| (row.event.event_id, row))
        .collect();
    Ok(batch
        .iter()
        .zip(inserted)
        .map(|(event, new)| {
            if new {
                return Stored::Inserted;
            }
            let same = stored
                .get(&event.event_id)
                .is_some_and(|row| row.org_id == org && row.event == *event);
            if same {
                Stored::Duplicate
            } else {
                Stored::Conflict
            }
        })
        .collect())
}

/// The statements of an append, for each backend's concrete connection.
trait EventSql: Connection {
    /// Creates the organisation, classes, students, enrolments, skills and items that the
    /// batch names for the first time; a skill keeps the first name an event gave it.
    fn ensure_entities(
        &mut self,
        org: &str,
        batch: &[&Event],
        known: &mut KnownEntities,
        now: i64,
    ) -> QueryResult<()>;
    /// Inserts the rows whose event id is not stored yet, and reads back the stored events
    /// of the others. On SQLite it first brings the writer's memory up to date.
    fn insert_new(&mut self, rows: &[NewRow], memory: &mut WriterMemory) -> QueryResult<Appended>;
    /// Creates the items (item, skill) not stored yet.
    fn insert_items(&mut self, org: &str, items: &[(&str, &str)], now: i64) -> QueryResult<()>;
}

/// What [`EventSql::insert_new`] did.
struct Appended {
    /// Each row's new `seq`, in order; `None` for an id stored before.
    seqs: Vec<Option<i64>>,
    /// The stored events whose ids the rows not inserted carry.
    stored: Vec<StoredEvent>,
}

/// The statements that read the same on both backends, written once.
macro_rules! shared_event_sql {
    () => {
        fn ensure_entities(
            &mut self,
            org: &str,
            batch: &[&Event],
            known: &mut KnownEntities,
            now: i64,
        ) -> QueryResult<()> {
            if batch.iter().all(|e| known.covers(org, e)) {
                return Ok(());
            }
            if known.first_seen(org, Entity::Org) {
                diesel::insert_into(orgs::table)
                    .values((orgs::org_id.eq(org), orgs::created_at.eq(now)))
                    .on_conflict_do_nothing()
                    .execute(self)?;
            }

            // Sorted sets: the same order on every node keeps PostgreSQL from deadlocking.
            let mut skill_names: BTreeMap<&str, Option<&str>> = BTreeMap::new();
            let mut item_skills: BTreeMap<&str, &str> = BTreeMap::new();
            let mut class_ids: BTreeSet<&str> = BTreeSet::new();
            let mut student_ids: BTreeSet<&str> = BTreeSet::new();
            let mut pairs: BTreeSet<(&str, &str)> = BTreeSet::new();
            for e in batch.iter().copied() {
                let name = skill_names.entry(&e.skill_id).or_default();
                if e.skill_name.is_some() {
                    *name = e.skill_name.as_deref();
                }
                item_skills.entry(&e.item_id).or_insert(&e.skill_id);
                class_ids.insert(&e.class_id);
                student_ids.insert(&e.student_id);
                pairs.insert((&e.class_id, &e.student_id));
            }

            // What the writer knows is stored is left out (SQLite; PostgreSQL's memory is empty),
            // and what is written becomes known once the transaction commits.
            skill_names.retain(|skill, name| known.first_seen(org, Entity::Skill(skill, *name)));
            item_skills.retain(|item, _| known.first_seen(org, Entity::Item(item)));
            class_ids.retain(|class| known.first_seen(org, Entity::Class(class)));
            student_ids.retain(|student| known.first_seen(org, Entity::Student(student)));
            pairs.retain(|(class, student)| {
                known.first_seen(org, Entity::Enrolment(class, student))
            });

            // One multi-row statement per kind of entity: a round trip each on PostgreSQL.
            let (named, unnamed): (Vec<_>, Vec<_>) = skill_names
                .into_iter()
                .partition(|(_, name)| name.is_some());
            let skill_row = |(skill, name)| {
                (
                    skills::org_id.eq(org),
                    skills::skill_id.eq(skill),
                    skills::name.eq(name),
                    skills::domain.eq(domain_of(skill)),
                    skills::created_at.eq(now),
                )
            };
            // A skill's name comes from the first event that names it: a tool never renames a
            // skill, which every class of the organisation sees (docs/privacy.md). Writing only
            // the first name also keeps concurrent PostgreSQL batches, which share skills, from
            // waiting on each other's locked skill rows.
            let named_ids: Vec<&str> = named.iter().map(|(skill, _)| *skill).collect();
            let current: HashMap<String, Option<String>> = if named_ids.is_empty() {
                HashMap::new()
            } else {
                skills::table
                    .filter(skills::org_id.eq(org))
                    .filter(skills::skill_id.eq_any(&named_ids))
                    .select((skills::skill_id, skills::name))
                    .load::<(String, Option<String>)>(self)?
                    .into_iter()
                    .collect()
            };
            let named: Vec<_> = named
                .into_iter()
                .filter(|(skill, _)| current.get(*skill).is_none_or(Option::is_none))
                .map(skill_row)
                .collect();
            let unnamed: Vec<_> = unnamed.into_iter().map(skill_row).collect();
            if !named.is_empty() {
                diesel::insert_into(skills::table)
                    .values(&named)
                    .on_conflict((skills::org_id, skills::skill_id))
                    .do_update()
                    .set(skills::name.eq(excluded(skills::name)))
                    .execute(self)?;
            }
            if !unnamed.is_empty() {
                diesel::insert_into(skills::table)
                    .values(&unnamed)
                    .on_conflict_do_nothing()
                    .execute(self)?;
            }
            if !item_skills.is_empty() {
                let item_skills: Vec<(&str, &str)> = item_skills.into_iter().collect();
                self.insert_items(org, &item_skills, now)?;
            }
            let rows: Vec<_> = class_ids
                .into_iter()
                .map(|class| {
                    (
                        classes::org_id.eq(org),
                        classes::class_id.eq(class),
                        classes::created_at.eq(now),
                    )
                })
                .collect();
            if !rows.is_empty() {
                diesel::insert_into(classes::table)
                    .values(&rows)
                    .on_conflict_do_nothing()
                    .execute(self)?;
            }
            let rows: Vec<_> = student_ids
                .into_iter()
                .map(|student| {
                    (
                        students::org_id.eq(org),
                        students::student_id.eq(student),
                        students::created_at.eq(now),
                    )
                })
                .collect();
            if !rows.is_empty() {
                diesel::insert_into(students::table)
                    .values(&rows)
                    .on_conflict_do_nothing()
                    .execute(self)?;
            }
            let rows: Vec<_> = pairs
                .into_iter()
                .map(|(class, student)| {
                    (
                        enrolments::org_id.eq(org),
                        enrolments::class_id.eq(class),
                        enrolments::student_id.eq(student),
                        enrolments::source.eq("event"),
                        enrolments::created_at.eq(now),
                    )
                })
                .collect();
            if !rows.is_empty() {
                diesel::insert_into(enrolments::table)
                    .values(&rows)
                    .on_conflict_do_nothing()
                    .execute(self)?;
            }
            Ok(())
        }
    };
}

impl EventSql for diesel::SqliteConnection {
    shared_event_sql!();

    fn insert_items(&mut self, org: &str, items: &[(&str, &str)], now: i64) -> QueryResult<()> {
        let rows: Vec<_> = items
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
        diesel::insert_into(items::table)
            .values(&rows)
            .on_conflict_do_nothing()
            .execute(self)?;
        Ok(())
    }

    fn insert_new(&mut self, rows: &[NewRow], memory: &mut WriterMemory) -> QueryResult<Appended> {
        memory.entities.sync(self)?;
        // No unique index on SQLite: the ids stored are looked up first (store::event_ids).
        let recent = &mut memory.ids;
        recent.sync(self)?;
        recent.merge_if_due(self)?;
        let ids: Vec<&[u8]> = rows.iter().map(NewRow::event_id).collect();
        let org = rows.first().map_or("", |r| r.org_id);
        let stored = recent.stored(self, org, &ids)?;
        // The writer is alone and has just read the last seq, so it numbers the new rows itself
        // (the last one plus one, never at or below the merged ids' mark: `RecentIds::sync`)
        // and writes them with a few multi-row statements of plain binds: one-row statements
        // cost more here.
        let mut next = recent.last_seq();
        let seqs: Vec<Option<i64>> = rows
            .iter()
            .map(|row| {
                (!stored.contains_key(row.event_id())).then(|| {
                    next += 1;
                    next
                })
            })
            .collect();
        let new: Vec<(i64, &NewRow)> = seqs
            .iter()
            .zip(rows)
            .filter_map(|(seq, row)| Some(((*seq)?, row)))
            .collect();
        insert_sqlite(self, &new)?;
        for (seq, row) in &new {
            recent.add(row.org_id, row.event_id(), *seq);
        }
        let stored_seqs: Vec<i64> = stored.into_values().collect();
        let mut stored = Vec::with_capacity(stored_seqs.len());
        for chunk in stored_seqs.chunks(500) {
            stored.extend(
                events::table
                    .filter(events::seq.eq_any(chunk))
                    .select(StoredEvent::as_select())
                    .load(self)?,
            );
        }
        Ok(Appended { seqs, stored })
    }
}

/// `INSERT INTO events … VALUES (…), (…)` for rows with their seqs, in statements that stay
/// prepared (`store::sqlite_values`) instead of parsing one of up to 17,000 binds per batch.
fn insert_sqlite(c: &mut diesel::SqliteConnection, rows: &[(i64, &NewRow)]) -> QueryResult<()> {
    // OR FAIL: a failing row ends the whole transaction anyway, so SQLite need not keep a
    // statement journal to undo this statement's earlier rows (ABORT, the default, does).
    sqlite_values::execute(
        c,
        "INSERT OR FAIL INTO events (seq, event_id, org_id, class_id, student_id, skill_id, \
         item_id, occurred_at, received_at, outcome, attempt, response_ms, hints_used, \
         hint_bottom_out, session_id, skill_name, tool, response) VALUES",
        "",
        rows,
    )?;
    Ok(())
}

impl sqlite_values::Row for (i64, &NewRow<'_>) {
    fn push<'b>(
        &'b self,
        out: &mut diesel::query_builder::AstPass<'_, 'b, diesel::sqlite::Sqlite>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{BigInt, Binary, Bool, Integer, Nullable, Text};
        let (seq, r) = self;
        let e = r.event;
        out.push_bind_param::<BigInt, _>(seq)?;
        out.push_sql(", ");
        out.push_bind_param::<Binary, [u8]>(r.event_id())?;
        for text in [
            r.org_id,
            &e.class_id,
            &e.student_id,
            &e.skill_id,
            &e.item_id,
        ] {
            out.push_sql(", ");
            out.push_bind_param::<Text, str>(text)?;
        }
        out.push_sql(", ");
        out.push_bind_param::<BigInt, _>(&r.occurred_at)?;
        out.push_sql(", ");
        out.push_bind_param::<BigInt, _>(&r.received_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, str>(e.outcome.as_str())?;
        out.push_sql(", ");
        out.push_bind_param::<Integer, _>(&e.attempt)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Integer>, _>(&e.response_ms)?;
        out.push_sql(", ");
        out.push_bind_param::<Integer, _>(&e.hints_used)?;
        out.push_sql(", ");
        out.push_bind_param::<Bool, _>(&e.hint_bottom_out)?;
        for text in [&e.session_id, &e.skill_name, &e.tool, &e.response] {
            out.push_sql(", ");
            out.push_bind_param::<Nullable<Text>, _>(text)?;
        }
        Ok(())
    }
}

impl EventSql for diesel::PgConnection {
    shared_event_sql!();

    fn insert_items(&mut self, org: &str, items: &[(&str, &str)], now: i64) -> QueryResult<()> {
        use diesel::sql_types::{Array, BigInt, Text};
        // Column arrays: a batch names hundreds of items, and a VALUES list of that many rows
        // cost PostgreSQL more to parse than to check.
        diesel::sql_query(
            "INSERT INTO items (org_id, item_id, skill_id, created_at) \
             SELECT $1, u.*, $2 FROM unnest($3::text[], $4::text[]) AS u \
             ON CONFLICT DO NOTHING",
        )
        .bind::<Text, _>(org)
        .bind::<BigInt, _>(now)
        .bind::<Array<Text>, _>(col(items, |(item, _)| *item))
        .bind::<Array<Text>, _>(col(items, |(_, skill)| *skill))
        .execute(self)?;
        Ok(())
    }

    fn insert_new(&mut self, rows: &[NewRow], _memory: &mut WriterMemory) -> QueryResult<Appended> {
        // The unique index on (org_id, event_id) tells new rows from stored ones; RETURNING names the new
        // rows. One statement of a column array each: a multi-row VALUES of 17,000 binds cost
        // PostgreSQL more to parse and plan than to insert, and its text changed with the
        // batch's size, so it was never prepared once.
        // Most batches hold new events only: a plain insert, under a savepoint, costs a fifth
        // less than ON CONFLICT (which probes the index before and after each row). A stored
        // id fails it; the batch is then inserted again past the stored ids.
        let inserted = match self.transaction(|c| insert_pg(c, rows, IfStored::Fail)) {
            Err(DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
                insert_pg(self, rows, IfStored::Skip)?
            }
            other => other?,
        };
        let new_ids: HashMap<Vec<u8>, i64> =
            inserted.into_iter().map(|r| (r.event_id, r.seq)).collect();
        let seqs: Vec<Option<i64>> = rows
            .iter()
            .map(|r| new_ids.get(r.event_id()).copied())
            .collect();
        // One array parameter (`= ANY($1)`), however many ids.
        let old_ids: Vec<&[u8]> = rows
            .iter()
            .zip(&seqs)
            .filter(|(_, seq)| seq.is_none())
            .map(|(r, _)| r.event_id())
            .collect();
        let stored = if old_ids.is_empty() {
            Vec::new()
        } else {
            let org = rows.first().map_or("", |r| r.org_id);
            events::table
                .filter(events::org_id.eq(org))
                .filter(events::event_id.eq_any(&old_ids))
                .select(StoredEvent::as_select())
                .load(self)?
        };
        Ok(Appended { seqs, stored })
    }
}

#[derive(QueryableByName)]
struct InsertedRow {
    #[diesel(sql_type = diesel::sql_types::Binary)]
    event_id: Vec<u8>,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    seq: i64,
}

/// What [`insert_pg`] does with an event id stored before.
#[derive(Clone, Copy)]
enum IfStored {
    /// Fails the statement (unique violation).
    Fail,
    /// Skips the row.
    Skip,
}

/// `INSERT INTO events … SELECT * FROM unnest(…)`: the rows as one array per column (unnest
/// yields them in order, so seqs follow the batch's order as before).
fn insert_pg(
    c: &mut diesel::PgConnection,
    rows: &[NewRow],
    if_stored: IfStored,
) -> QueryResult<Vec<InsertedRow>> {
    use diesel::sql_types::{Array, BigInt, Binary, Bool, Integer, Nullable, Text};
    const INSERT: &str = "INSERT INTO events (event_id, org_id, class_id, student_id, skill_id, \
        item_id, occurred_at, received_at, outcome, attempt, response_ms, hints_used, \
        hint_bottom_out, session_id, skill_name, tool, response) \
        SELECT * FROM unnest($1::bytea[], $2::text[], $3::text[], $4::text[], $5::text[], \
        $6::text[], $7::bigint[], $8::bigint[], $9::text[], $10::int[], $11::int[], $12::int[], \
        $13::bool[], $14::text[], $15::text[], $16::text[], $17::text[])";
    diesel::sql_query(match if_stored {
        IfStored::Fail => format!("{INSERT} RETURNING event_id, seq"),
        IfStored::Skip => {
            format!("{INSERT} ON CONFLICT (org_id, event_id) DO NOTHING RETURNING event_id, seq")
        }
    })
    .bind::<Array<Binary>, _>(col(rows, NewRow::event_id))
    .bind::<Array<Text>, _>(col(rows, |r| r.org_id))
    .bind::<Array<Text>, _>(col(rows, |r| r.event.class_id.as_str()))
    .bind::<Array<Text>, _>(col(rows, |r| r.event.student_id.as_str()))
    .bind::<Array<Text>, _>(col(rows, |r| r.event.skill_id.as_str()))
    .bind::<Array<Text>, _>(col(rows, |r| r.event.item_id.as_str()))
    .bind::<Array<BigInt>, _>(col(rows, |r| r.occurred_at))
    .bind::<Array<BigInt>, _>(col(rows, |r| r.received_at))
    .bind::<Array<Text>, _>(col(rows, |r| r.event.outcome.as_str()))
    .bind::<Array<Integer>, _>(col(rows, |r| r.event.attempt))
    .bind::<Array<Nullable<Integer>>, _>(col(rows, |r| r.event.response_ms))
    .bind::<Array<Integer>, _>(col(rows, |r| r.event.hints_used))
    .bind::<Array<Bool>, _>(col(rows, |r| r.event.hint_bottom_out))
    .bind::<Array<Nullable<Text>>, _>(col(rows, |r| r.event.session_id.as_deref()))
    .bind::<Array<Nullable<Text>>, _>(col(rows, |r| r.event.skill_name.as_deref()))
    .bind::<Array<Nullable<Text>>, _>(col(rows, |r| r.event.tool.as_deref()))
    .bind::<Array<Nullable<Text>>, _>(col(rows, |r| r.event.response.as_deref()))
    .load(c)
}
