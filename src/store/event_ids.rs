//! Which event ids are stored, on SQLite, without writing an index page per event.
//!
//! A unique index on the tools' random UUIDs would dirty an index page at a random place for
//! every event: about 70 % of the pages each batch wrote to the WAL, synced and copied back.
//! So the ids live in two places instead:
//! - the table `event_ids` holds the ids of the events up to `merged_through`, in runs;
//! - [`RecentIds`], in the writer's memory, holds the ids of the events stored since, read back
//!   from the events' own `seq` range when the writer starts.
//!
//! When the recent ids reach [`MERGE_AT`], they are written into `event_ids` as a new run, in
//! id order, in one batch's transaction. The table's key is (run, id) and each run is newer
//! than the last, so a merge appends its pages at the end of the table: inserting into one
//! table sorted by id instead rewrote nearly all of its pages at every merge, a cost that grew
//! with every id ever stored. A lookup seeks the id in each run (`event_id_runs` lists them).
//!
//! A Bloom filter of the merged ids, also in the writer's memory, answers "certainly not
//! stored" for nearly every new id, so a batch of new events reads the `event_ids` table only
//! for the odd false positive (about 1 in 100) instead of once per event.
//!
//! Ids are kept per organisation: each is keyed by a hash of its organisation and itself
//! (`key`), so the same UUID sent by two organisations' tools names two events.
//!
//! Whatever points at a stored event is checked against the event stored under that `seq`, so
//! an entry left behind by an erased event or a rolled-back batch never hides a new event.
//! PostgreSQL keeps its unique index: several nodes write at once there, and one node's memory
//! cannot speak for the others.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel::SqliteConnection;
use fastbloom::BloomFilter;

use crate::db::schema::{event_id_merges, event_id_runs, event_ids, events};
use crate::db::DbConnection;

/// Recent ids kept in memory before they are merged (about 32 bytes each): large enough that a
/// merge passes over each page of the id index once per many events, small enough to read back
/// at start in a fraction of a second.
pub const MERGE_AT: usize = 200_000;

/// Binds per `IN (…)` list, under SQLite's limit.
const CHUNK: usize = 500;

/// The filter's false-positive rate: about 10 bits (1.2 bytes) per merged id.
const FALSE_POSITIVES: f64 = 0.01;

/// The smallest filter built, in ids: a new database does not rebuild it at every merge.
const MIN_FILTER_IDS: usize = 1 << 20;

/// The ids of the events stored since the last merge, with their `seq`: the writer's own.
#[derive(Debug)]
pub struct RecentIds {
    ids: HashMap<[u8; 16], i64>,
    merge_at: usize,
    /// Every event with a `seq` up to here is in `ids` or merged.
    through: i64,
    merged_through: i64,
    /// What the open transaction added, kept only once it commits.
    pending: Vec<([u8; 16], i64)>,
    pending_merge: Option<i64>,
    /// Every id in `event_ids` is in here (an erased one may stay: it only costs a lookup).
    /// Built from the table when first needed; rebuilt larger once it holds `filter_capacity`.
    merged_filter: Option<BloomFilter>,
    filter_capacity: usize,
    filter_len: usize,
    min_filter_ids: usize,
}

impl Default for RecentIds {
    fn default() -> Self {
        RecentIds {
            min_filter_ids: MIN_FILTER_IDS,
            ..Self::merging_at(MERGE_AT)
        }
    }
}

impl RecentIds {
    /// A set that merges at `merge_at` ids instead of [`MERGE_AT`], and whose filter starts
    /// that small too, so that it is rebuilt often (tests).
    pub fn merging_at(merge_at: usize) -> Self {
        RecentIds {
            ids: HashMap::new(),
            merge_at,
            through: 0,
            merged_through: 0,
            pending: Vec::new(),
            pending_merge: None,
            merged_filter: None,
            filter_capacity: 0,
            filter_len: 0,
            min_filter_ids: merge_at,
        }
    }

    /// The highest seq stored, as of the last [`RecentIds::sync`] and this transaction's adds.
    pub fn last_seq(&self) -> i64 {
        self.pending.last().map_or(self.through, |(_, seq)| *seq)
    }

    /// Whether no ids wait in memory (all merged).
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Catches up with the database at the start of a batch's transaction: the events stored
    /// since this writer last looked (all of them when it starts, or another process's). What
    /// a transaction that did not commit had added is dropped here.
    pub fn sync(&mut self, c: &mut SqliteConnection) -> QueryResult<()> {
        // Sized once for a whole run of ids (on SQLite only, at the first batch): growing by
        // doubling left the old table's memory behind at each step.
        self.ids
            .reserve(self.merge_at.saturating_sub(self.ids.len()));
        self.pending.clear();
        self.pending_merge = None;
        let merged: i64 = event_id_merges::table
            .select(event_id_merges::merged_through)
            .first(c)
            .optional()?
            .unwrap_or(0);
        if merged != self.merged_through {
            // First use, or another process merged: start over from its mark.
            self.ids.clear();
            self.merged_filter = None;
            self.merged_through = merged;
            self.through = merged;
        }
        let last: i64 = events::table
            .select(diesel::dsl::max(events::seq))
            .first::<Option<i64>>(c)?
            .unwrap_or(0);
        if last > self.through {
            let rows: Vec<(i64, String, Vec<u8>)> = events::table
                .filter(events::seq.gt(self.through))
                .select((events::seq, events::org_id, events::event_id))
                .load(c)?;
            self.ids.extend(
                rows.into_iter()
                    .filter_map(|(seq, org, id)| Some((key(&org, &id)?, seq))),
            );
        }
        // After deletions the last seq may fall, and its seqs are given again (the check by
        // seq in `stored` sees through stale entries), but never down to the merged mark: an
        // event numbered at or below it would be neither merged nor kept in memory.
        self.through = last.max(self.merged_through);
        Ok(())
    }

    /// The `seq` of each of `org`'s `ids` already stored, by id: candidates from memory and
    /// the merged table, confirmed by the event stored under that seq.
    pub fn stored(
        &mut self,
        c: &mut SqliteConnection,
        org: &str,
        ids: &[&[u8]],
    ) -> QueryResult<HashMap<[u8; 16], i64>> {
        self.ensure_filter(c)?;
        let filter = self.merged_filter.as_ref().expect("built just above");
        let mut candidates: HashMap<i64, [u8; 16]> = HashMap::new();
        let mut unknown: Vec<[u8; 16]> = Vec::new();
        for id in ids {
            let Some(k) = key(org, id) else { continue };
            match self.ids.get(&k) {
                Some(seq) => {
                    candidates.insert(*seq, k);
                }
                None if filter.contains(&k) => unknown.push(k),
                None => {}
            }
        }
        for chunk in unknown.chunks(CHUNK) {
            let chunk: Vec<&[u8]> = chunk.iter().map(|k| k.as_slice()).collect();
            let rows: Vec<(Vec<u8>, i64)> = event_ids::table
                .filter(in_a_run())
                .filter(event_ids::event_id.eq_any(&chunk))
                .select((event_ids::event_id, event_ids::seq))
                .load(c)?;
            candidates.extend(
                rows.into_iter()
                    .filter_map(|(k, seq)| Some((seq, k.try_into().ok()?))),
            );
        }
        let seqs: Vec<i64> = candidates.keys().copied().collect();
        let mut found = HashMap::with_capacity(seqs.len());
        for chunk in seqs.chunks(CHUNK) {
            let rows: Vec<(i64, String, Vec<u8>)> = events::table
                .filter(events::seq.eq_any(chunk))
                .select((events::seq, events::org_id, events::event_id))
                .load(c)?;
            for (seq, row_org, id) in rows {
                let k = key(&row_org, &id);
                if k.is_some() && candidates.get(&seq) == k.as_ref() {
                    if let Ok(id) = <[u8; 16]>::try_from(id.as_slice()) {
                        found.insert(id, seq);
                    }
                }
            }
        }
        Ok(found)
    }

    /// Builds the filter of the merged ids from `event_ids` when there is none yet or the one
    /// there is full (its false positives would climb). Sized for twice the ids it starts with,
    /// so rebuilding costs a scan of the table each time the table doubles.
    fn ensure_filter(&mut self, c: &mut SqliteConnection) -> QueryResult<()> {
        if self.merged_filter.is_some() && self.filter_len <= self.filter_capacity {
            return Ok(());
        }
        let count: i64 = event_ids::table.count().get_result(c)?;
        let capacity = (count as usize * 2).max(self.min_filter_ids);
        let mut filter = BloomFilter::with_false_pos(FALSE_POSITIVES).expected_items(capacity);
        for id in event_ids::table
            .select(event_ids::event_id)
            .load_iter::<Vec<u8>, diesel::connection::DefaultLoadingMode>(c)?
        {
            if let Ok(k) = <[u8; 16]>::try_from(id?.as_slice()) {
                filter.insert(&k);
            }
        }
        self.merged_filter = Some(filter);
        self.filter_capacity = capacity;
        self.filter_len = count as usize;
        Ok(())
    }

    /// Notes an event of `org` inserted by the open transaction.
    pub fn add(&mut self, org: &str, id: &[u8], seq: i64) {
        if let Some(k) = key(org, id) {
            self.pending.push((k, seq));
        }
    }

    /// Merges the recent ids into `event_ids` when there are [`MERGE_AT`] of them (call after
    /// [`RecentIds::sync`], in the batch's transaction).
    pub fn merge_if_due(&mut self, c: &mut SqliteConnection) -> QueryResult<()> {
        if self.ids.len() < self.merge_at {
            return Ok(());
        }
        // From the events themselves (an erased event's id is not merged).
        let mut rows = self.unmerged(c)?;
        rows.sort_unstable();
        // Into the filter now: should the transaction roll back, an id too many only costs a
        // lookup.
        if let Some(filter) = &mut self.merged_filter {
            for (id, _) in &rows {
                filter.insert(id);
            }
            self.filter_len += rows.len();
        }
        // The run is named by the last seq it holds: new seqs start above the merged mark
        // (`sync`), so each run sorts after the ones before.
        // An id whose event was erased and sent again may be in an older run too; `stored`
        // checks each candidate against the event under its seq.
        let run = self.through;
        for chunk in rows.chunks(CHUNK) {
            let values: Vec<_> = chunk
                .iter()
                .map(|(id, seq)| {
                    (
                        event_ids::run.eq(run),
                        event_ids::event_id.eq(id.as_slice()),
                        event_ids::seq.eq(*seq),
                    )
                })
                .collect();
            diesel::insert_into(event_ids::table)
                .values(&values)
                .execute(c)?;
        }
        diesel::insert_into(event_id_runs::table)
            .values(event_id_runs::run.eq(run))
            .on_conflict_do_nothing()
            .execute(c)?;
        diesel::update(event_id_merges::table)
            .set(event_id_merges::merged_through.eq(self.through))
            .execute(c)?;
        self.pending_merge = Some(self.through);
        Ok(())
    }

    /// The ids of the stored events above the merged mark, up to `through`: sorted here rather
    /// than by SQLite's sorter, which kept tens of megabytes after each merge.
    fn unmerged(&self, c: &mut SqliteConnection) -> QueryResult<Vec<([u8; 16], i64)>> {
        let mut rows = Vec::with_capacity(self.ids.len());
        for row in events::table
            .filter(events::seq.gt(self.merged_through))
            .filter(events::seq.le(self.through))
            .select((events::org_id, events::event_id, events::seq))
            .load_iter::<(String, Vec<u8>, i64), diesel::connection::DefaultLoadingMode>(c)?
        {
            let (org, id, seq) = row?;
            rows.extend(key(&org, &id).map(|k| (k, seq)));
        }
        Ok(rows)
    }

    /// The open transaction committed: keep what it added and merged.
    pub fn committed(&mut self) {
        if let Some(merged) = self.pending_merge.take() {
            // Emptied and refilled rather than `retain`ed: entries removed one by one leave
            // markers that still count against the table's room, so the next `reserve` doubled
            // a table holding a handful of ids (6.5 → 13 MB at every merge's first batch).
            let kept: Vec<([u8; 16], i64)> =
                self.ids.drain().filter(|(_, seq)| *seq > merged).collect();
            self.ids.extend(kept);
            self.merged_through = merged;
        }
        for (k, seq) in self.pending.drain(..) {
            self.ids.insert(k, seq);
            self.through = self.through.max(seq);
        }
    }
}

/// Removes the ids of a student's events, before the events themselves are erased. No-op on
/// PostgreSQL, whose index goes with the rows.
pub fn forget_student(conn: &mut DbConnection, org: &str, student: &str) -> QueryResult<usize> {
    let DbConnection::Sqlite(c) = conn else {
        return Ok(0);
    };
    let rows: Vec<(String, Vec<u8>)> = events::table
        .filter(events::org_id.eq(org))
        .filter(events::student_id.eq(student))
        .select((events::org_id, events::event_id))
        .load(c)?;
    forget_keys(c, &rows)
}

/// Removes the ids of the events with these seqs, before they are deleted (retention).
pub fn forget_seqs(conn: &mut DbConnection, seqs: &[i64]) -> QueryResult<usize> {
    let DbConnection::Sqlite(c) = conn else {
        return Ok(0);
    };
    let mut n = 0;
    for chunk in seqs.chunks(CHUNK) {
        let rows: Vec<(String, Vec<u8>)> = events::table
            .filter(events::seq.eq_any(chunk))
            .select((events::org_id, events::event_id))
            .load(c)?;
        n += forget_keys(c, &rows)?;
    }
    Ok(n)
}

/// Deletes the merged entries of these (org, id) events.
fn forget_keys(c: &mut SqliteConnection, rows: &[(String, Vec<u8>)]) -> QueryResult<usize> {
    let keys: Vec<[u8; 16]> = rows.iter().filter_map(|(org, id)| key(org, id)).collect();
    let mut n = 0;
    for chunk in keys.chunks(CHUNK) {
        let chunk: Vec<&[u8]> = chunk.iter().map(|k| k.as_slice()).collect();
        n += diesel::delete(
            event_ids::table
                .filter(in_a_run())
                .filter(event_ids::event_id.eq_any(&chunk)),
        )
        .execute(c)?;
    }
    Ok(n)
}

/// Rows of any run, named first so that a lookup by id seeks the table's key (run, id) once
/// per run instead of scanning it.
fn in_a_run(
) -> diesel::dsl::EqAny<event_ids::run, diesel::dsl::Select<event_id_runs::table, event_id_runs::run>>
{
    event_ids::run.eq_any(event_id_runs::table.select(event_id_runs::run))
}

/// The key an event id is kept under: the id within its organisation (the first 16 bytes of
/// SHA-256 over the organisation's length, the organisation and the id), so that two
/// organisations' tools never share an id space and no id can be chosen to meet another's.
fn key(org: &str, id: &[u8]) -> Option<[u8; 16]> {
    use sha2::{Digest, Sha256};
    if id.len() != 16 {
        return None;
    }
    let mut h = Sha256::new();
    h.update((org.len() as u64).to_le_bytes());
    h.update(org.as_bytes());
    h.update(id);
    h.finalize()[..16].try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{Db, DbUrl};
    use crate::ingest::{Event, Outcome};
    use crate::store::events::{append, Stored};
    use crate::store::writer_memory::WriterMemory;

    fn event(n: u128, outcome: Outcome) -> Event {
        Event {
            event_id: uuid::Uuid::from_u128(
                n.wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835),
            ),
            occurred_at: chrono::DateTime::from_timestamp_millis(1_764_000_000_000 + n as i64)
                .unwrap(),
            student_id: format!("s{}", n % 7),
            class_id: "c1".into(),
            skill_id: "fractions.add".into(),
            item_id: format!("i{}", n % 5),
            outcome,
            attempt: 1,
            response_ms: Some(4_000),
            hints_used: 0,
            hint_bottom_out: false,
            session_id: None,
            skill_name: None,
            tool: None,
            response: None,
        }
    }

    fn send(db: &Db, recent: &mut WriterMemory, batch: &[Event]) -> Vec<Stored> {
        let now = chrono::Utc::now();
        db.write_blocking(crate::db::Changes::Events, |conn| {
            append(conn, recent, &Default::default(), "org", batch, now)
        })
        .unwrap()
    }

    /// Ids merged into the table, ids only in memory, and ids read back by a new writer (a
    /// restart) are all recognised: the same content is a duplicate, other content a conflict.
    #[test]
    fn stored_ids_are_known_before_and_after_merges_and_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&DbUrl::Sqlite(dir.path().join("t.db")), 1).unwrap();
        let mut recent = WriterMemory::merging_at(25);
        for b in 0..6u128 {
            let batch: Vec<Event> = (b * 10..b * 10 + 10)
                .map(|n| event(n, Outcome::Correct))
                .collect();
            assert!(send(&db, &mut recent, &batch)
                .iter()
                .all(|s| *s == Stored::Inserted));
        }
        // 60 events, merged at 30 and at 60 at the latest: some in the table, some in memory.
        let merged: i64 = db
            .write_blocking(crate::db::Changes::Records, |conn| {
                let DbConnection::Sqlite(c) = conn else {
                    unreachable!()
                };
                Ok(event_ids::table.count().get_result(c)?)
            })
            .unwrap();
        assert!((25..60).contains(&merged), "{merged} merged");
        assert!(!recent.ids.is_empty());

        let again: Vec<Event> = (0..60)
            .step_by(7)
            .map(|n| event(n, Outcome::Correct))
            .collect();
        let changed: Vec<Event> = (3..60)
            .step_by(11)
            .map(|n| event(n, Outcome::Incorrect))
            .collect();
        let fresh: Vec<Event> = (100..103).map(|n| event(n, Outcome::Correct)).collect();
        for writer in [&mut recent, &mut WriterMemory::merging_at(25)] {
            assert!(send(&db, writer, &again)
                .iter()
                .all(|s| *s == Stored::Duplicate));
            assert!(send(&db, writer, &changed)
                .iter()
                .all(|s| *s == Stored::Conflict));
        }
        assert!(send(&db, &mut recent, &fresh)
            .iter()
            .all(|s| *s == Stored::Inserted));
        assert!(send(&db, &mut WriterMemory::default(), &fresh)
            .iter()
            .all(|s| *s == Stored::Duplicate));
    }

    /// The table of recent ids keeps the size it was given for a run of ids, merge after
    /// merge: it never grows beyond it.
    #[test]
    fn the_recent_ids_keep_their_size_across_merges() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&DbUrl::Sqlite(dir.path().join("t.db")), 1).unwrap();
        let mut recent = WriterMemory::merging_at(1_000);
        let mut capacity = None;
        for b in 0..30u128 {
            let batch: Vec<Event> = (b * 150..b * 150 + 150)
                .map(|n| event(n, Outcome::Correct))
                .collect();
            send(&db, &mut recent, &batch);
            let now = recent.ids.ids.capacity();
            assert_eq!(*capacity.get_or_insert(now), now, "after batch {b}");
        }
        assert!(recent.ids.merged_through > 3_000, "several merges");
    }

    /// Each merge appends a run; ids in every run are found, by the writer that merged them
    /// and by a new one (a restart).
    #[test]
    fn ids_are_found_in_every_run() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&DbUrl::Sqlite(dir.path().join("t.db")), 1).unwrap();
        let mut recent = WriterMemory::merging_at(10);
        let all: Vec<Event> = (0..50).map(|n| event(n, Outcome::Correct)).collect();
        for batch in all.chunks(10) {
            send(&db, &mut recent, batch);
        }
        let runs: i64 = db
            .write_blocking(crate::db::Changes::Records, |conn| {
                let DbConnection::Sqlite(c) = conn else {
                    unreachable!()
                };
                Ok(event_id_runs::table.count().get_result(c)?)
            })
            .unwrap();
        assert!(runs >= 3, "{runs} runs");
        for writer in [&mut recent, &mut WriterMemory::merging_at(10)] {
            assert!(send(&db, writer, &all)
                .iter()
                .all(|s| *s == Stored::Duplicate));
        }
    }

    /// Erasing the newest events, merged ones among them, does not number new events at or
    /// below the merged mark, where they would be neither merged nor remembered.
    #[test]
    fn seqs_after_erasing_the_newest_events_stay_above_the_merged_mark() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&DbUrl::Sqlite(dir.path().join("t.db")), 1).unwrap();
        let mut recent = WriterMemory::merging_at(10);
        let of = |n: u128, student: &str| Event {
            student_id: student.into(),
            ..event(n, Outcome::Correct)
        };
        let mut first: Vec<Event> = (0..9).map(|n| event(n, Outcome::Correct)).collect();
        first.push(of(9, "z")); // seq 10, the newest merged below
        send(&db, &mut recent, &first);
        send(&db, &mut recent, &[of(10, "y")]); // merges seqs 1–10 first; seq 11
        for student in ["y", "z"] {
            db.write_blocking(crate::db::Changes::Entities, |conn| {
                crate::store::privacy::erase_student_rows(conn, "org", student)
            })
            .unwrap();
        }
        let late = [event(20, Outcome::Correct)];
        assert_eq!(send(&db, &mut recent, &late), [Stored::Inserted]);
        // Enough new events for the next merge, then the late one again.
        let more: Vec<Event> = (30..42).map(|n| event(n, Outcome::Correct)).collect();
        send(&db, &mut recent, &more);
        send(&db, &mut recent, &[event(50, Outcome::Correct)]);
        for writer in [&mut recent, &mut WriterMemory::merging_at(10)] {
            assert_eq!(send(&db, writer, &late), [Stored::Duplicate]);
        }
    }

    /// An erased student's events may be sent again and are stored anew, whether their ids
    /// were merged or still in memory.
    #[test]
    fn erased_events_are_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&DbUrl::Sqlite(dir.path().join("t.db")), 1).unwrap();
        let mut recent = WriterMemory::merging_at(10);
        let batch: Vec<Event> = (0..14).map(|n| event(n, Outcome::Correct)).collect();
        for part in batch.chunks(7) {
            send(&db, &mut recent, part);
        }
        send(&db, &mut recent, &[event(50, Outcome::Correct)]); // merges the first 14
        db.write_blocking(crate::db::Changes::Entities, |conn| {
            crate::store::privacy::erase_student_rows(conn, "org", "s3")
        })
        .unwrap();
        let theirs: Vec<Event> = batch.into_iter().filter(|e| e.student_id == "s3").collect();
        assert_eq!(theirs.len(), 2);
        assert!(send(&db, &mut recent, &theirs)
            .iter()
            .all(|s| *s == Stored::Inserted));
        assert!(send(&db, &mut recent, &theirs)
            .iter()
            .all(|s| *s == Stored::Duplicate));
    }
}
