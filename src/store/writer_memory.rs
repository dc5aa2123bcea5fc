//! What the SQLite writer remembers from one batch to the next (kept by
//! [`store::events::Appender`]): the ids of the events it stored lately ([`RecentIds`]) and the
//! entities it knows are stored ([`KnownEntities`]). PostgreSQL gets an empty memory for each
//! batch: several nodes write there at once, and one node's memory cannot speak for the others.
//!
//! [`store::events::Appender`]: crate::store::events::Appender

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel::SqliteConnection;
use foldhash::{HashMap, HashSet};

use super::event_ids::RecentIds;
use crate::ingest::Event;

/// The SQLite writer's memory.
#[derive(Debug, Default)]
pub struct WriterMemory {
    pub ids: RecentIds,
    pub entities: KnownEntities,
}

impl WriterMemory {
    /// A memory whose recent ids merge at `merge_at` (tests; see [`RecentIds::merging_at`]).
    pub fn merging_at(merge_at: usize) -> Self {
        WriterMemory {
            ids: RecentIds::merging_at(merge_at),
            entities: KnownEntities::default(),
        }
    }

    /// Keeps what the batch's transaction added, once it has committed.
    pub fn committed(&mut self) {
        self.ids.committed();
        self.entities.committed();
    }
}

/// Above this many entities the memory starts over, so it stays a few megabytes.
const MAX_KNOWN: usize = 100_000;

/// The organisations, classes, students, enrolments, skills (with their names) and items the
/// writer knows are stored. A batch then writes only the ones it names for the first time:
/// checking every class, student, enrolment, skill and item of every batch against its table
/// took about 6 % of the writer's time, while nearly all of them were known.
///
/// It is forgotten whenever something else may have changed those tables: a write through the
/// same database handle that declares [`Changes::Entities`] (an erasure, a roster, a retention
/// run; an audit row or a sign-in attempt leaves it whole), and any commit by another
/// connection or process, which SQLite's `data_version` reveals at the start of each batch.
/// What a transaction adds counts only once it commits.
///
/// [`Changes::Entities`]: crate::db::Changes::Entities
#[derive(Debug, Default)]
pub struct KnownEntities {
    orgs: HashMap<String, OrgEntities>,
    /// `PRAGMA data_version` when last looked at.
    data_version: Option<i64>,
    /// [`Db::entity_writes`](crate::db::Db::entity_writes) when last looked at.
    entity_writes: Option<u64>,
    pending: Vec<(String, Entity<String>)>,
}

/// One entity of an organisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entity<S> {
    Org,
    Class(S),
    Student(S),
    /// A class and a student.
    Enrolment(S, S),
    /// A skill, and its name when known (`None`: stored, its name not known here).
    Skill(S, Option<S>),
    Item(S),
}

#[derive(Debug, Default)]
struct OrgEntities {
    classes: HashSet<String>,
    students: HashSet<String>,
    /// class → its students.
    enrolments: HashMap<String, HashSet<String>>,
    /// skill → its stored name, when known.
    skills: HashMap<String, Option<String>>,
    items: HashSet<String>,
}

#[derive(QueryableByName)]
struct DataVersion {
    #[diesel(sql_type = BigInt)]
    data_version: i64,
}

impl KnownEntities {
    /// Forgets everything, at the start of a batch, if another connection has committed since
    /// the last batch; drops what a transaction that did not commit had added.
    pub fn sync(&mut self, c: &mut SqliteConnection) -> QueryResult<()> {
        self.pending.clear();
        let now = diesel::sql_query("PRAGMA data_version")
            .get_result::<DataVersion>(c)?
            .data_version;
        if self.data_version != Some(now) {
            self.forget();
            self.data_version = Some(now);
        }
        Ok(())
    }

    /// Forgets everything if a write that declared it changes entities has run since the last
    /// look; `count` is [`Db::entity_writes`](crate::db::Db::entity_writes), read under the
    /// writer's lock.
    pub fn saw_entity_writes(&mut self, count: u64) {
        if self.entity_writes != Some(count) {
            self.forget();
            self.entity_writes = Some(count);
        }
    }

    /// Forgets every entity: their tables may have changed.
    pub fn forget(&mut self) {
        self.orgs.clear();
        self.pending.clear();
    }

    /// Whether `entity` is known to be stored; a skill with a name, under that name.
    pub fn knows(&self, org: &str, entity: Entity<&str>) -> bool {
        let Some(o) = self.orgs.get(org) else {
            return false;
        };
        match entity {
            Entity::Org => true,
            Entity::Class(class) => o.classes.contains(class),
            Entity::Student(student) => o.students.contains(student),
            Entity::Enrolment(class, student) => o
                .enrolments
                .get(class)
                .is_some_and(|students| students.contains(student)),
            Entity::Skill(skill, name) => o
                .skills
                .get(skill)
                .is_some_and(|stored| name.is_none() || stored.as_deref() == name),
            Entity::Item(item) => o.items.contains(item),
        }
    }

    /// Whether every entity `e` names is known to be stored, its skill under the name it
    /// gives (if any): the common case, checked without sorting the batch's entities.
    pub fn covers(&self, org: &str, e: &Event) -> bool {
        self.knows(org, Entity::Class(&e.class_id))
            && self.knows(org, Entity::Student(&e.student_id))
            && self.knows(org, Entity::Enrolment(&e.class_id, &e.student_id))
            && self.knows(org, Entity::Skill(&e.skill_id, e.skill_name.as_deref()))
            && self.knows(org, Entity::Item(&e.item_id))
    }

    /// Whether `entity` is not known yet; if not, it is recorded as made sure of by the open
    /// transaction (the caller writes it there), known once that commits.
    pub fn first_seen(&mut self, org: &str, entity: Entity<&str>) -> bool {
        if self.knows(org, entity) {
            return false;
        }
        let owned = match entity {
            Entity::Org => Entity::Org,
            Entity::Class(class) => Entity::Class(class.to_owned()),
            Entity::Student(student) => Entity::Student(student.to_owned()),
            Entity::Enrolment(class, student) => {
                Entity::Enrolment(class.to_owned(), student.to_owned())
            }
            Entity::Skill(skill, name) => Entity::Skill(skill.to_owned(), name.map(str::to_owned)),
            Entity::Item(item) => Entity::Item(item.to_owned()),
        };
        self.pending.push((org.to_owned(), owned));
        true
    }

    /// How many entities are known.
    fn len(&self) -> usize {
        let of_org = |o: &OrgEntities| {
            let enrolments: usize = o.enrolments.values().map(HashSet::len).sum();
            o.classes.len() + o.students.len() + enrolments + o.skills.len() + o.items.len()
        };
        self.orgs.values().map(of_org).sum()
    }

    /// Keeps what the batch's transaction learnt, once it has committed.
    pub fn committed(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        if self.len() + self.pending.len() > MAX_KNOWN {
            self.forget();
            return;
        }
        for (org, entity) in std::mem::take(&mut self.pending) {
            let o = self.orgs.entry(org).or_default();
            match entity {
                Entity::Org => {}
                Entity::Class(class) => {
                    o.classes.insert(class);
                }
                Entity::Student(student) => {
                    o.students.insert(student);
                }
                Entity::Enrolment(class, student) => {
                    o.enrolments.entry(class).or_default().insert(student);
                }
                Entity::Skill(skill, name) => {
                    // A skill the batch did not name keeps the name known for it.
                    let stored = o.skills.entry(skill).or_default();
                    if name.is_some() {
                        *stored = name;
                    }
                }
                Entity::Item(item) => {
                    o.items.insert(item);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::schema::students;
    use crate::db::Changes;
    use crate::db::{Db, DbUrl};
    use crate::ingest::{Event, Outcome};
    use crate::store::events::Appender;

    fn event(n: u128, student: &str, skill_name: Option<&str>) -> Event {
        Event {
            event_id: uuid::Uuid::from_u128(n),
            occurred_at: chrono::DateTime::from_timestamp_millis(1_764_000_000_000 + n as i64)
                .unwrap(),
            student_id: student.into(),
            class_id: "c1".into(),
            skill_id: "fractions.add".into(),
            item_id: "i1".into(),
            outcome: Outcome::Correct,
            attempt: 1,
            response_ms: Some(4_000),
            hints_used: 0,
            hint_bottom_out: false,
            session_id: None,
            skill_name: skill_name.map(str::to_owned),
            tool: None,
            response: None,
        }
    }

    /// Appends through the writer, with the appender's memory.
    fn send(app: &Appender, batch: &[Event]) {
        app.append_blocking("org", batch, chrono::Utc::now())
            .unwrap();
    }

    fn knows(app: &Appender, entity: Entity<&str>) -> bool {
        app.knows("org", entity)
    }

    /// Runs `f` on a pooled connection: another connection than the writer's.
    fn on_another<T>(db: &Db, f: impl FnOnce(&mut SqliteConnection) -> T) -> T {
        let mut conn = db.conn().unwrap();
        let crate::db::DbConnection::Sqlite(c) = &mut *conn else {
            unreachable!()
        };
        f(c)
    }

    fn student_count(db: &Db) -> i64 {
        on_another(db, |c| students::table.count().get_result(c).unwrap())
    }

    fn open() -> (tempfile::TempDir, Db, Appender) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&DbUrl::Sqlite(dir.path().join("t.db")), 2).unwrap();
        let app = Appender::new(db.clone(), Default::default());
        (dir, db, app)
    }

    #[test]
    fn a_committed_batch_makes_its_entities_known() {
        let (_dir, _db, app) = open();
        assert!(!knows(&app, Entity::Student("s1")));
        send(&app, &[event(1, "s1", Some("Adding"))]);
        for entity in [
            Entity::Org,
            Entity::Class("c1"),
            Entity::Student("s1"),
            Entity::Enrolment("c1", "s1"),
            Entity::Skill("fractions.add", None),
            Entity::Skill("fractions.add", Some("Adding")),
            Entity::Item("i1"),
        ] {
            assert!(knows(&app, entity), "{entity:?}");
        }
        assert!(!knows(&app, Entity::Skill("fractions.add", Some("Sums"))));
        assert!(!knows(&app, Entity::Enrolment("c2", "s1")));
        // The checkpointer's work (every half second) is no change by another connection.
        std::thread::sleep(std::time::Duration::from_millis(1_200));
        send(&app, &[event(2, "s1", None)]);
        assert!(knows(&app, Entity::Student("s1")));
    }

    #[test]
    fn a_skill_is_named_once_by_the_first_name_sent() {
        let (_dir, db, app) = open();
        use crate::db::schema::skills;
        let name = || -> Option<String> {
            on_another(&db, |c| {
                skills::table.select(skills::name).first(c).unwrap()
            })
        };
        send(&app, &[event(1, "s1", None)]);
        assert_eq!(name(), None);
        send(&app, &[event(2, "s1", Some("Adding"))]);
        assert_eq!(name().as_deref(), Some("Adding"));
        send(&app, &[event(3, "s1", Some("Adding fractions"))]);
        assert_eq!(
            name().as_deref(),
            Some("Adding"),
            "a tool never renames a skill"
        );
    }

    #[test]
    fn a_new_entity_among_known_ones_is_stored() {
        let (_dir, db, app) = open();
        send(&app, &[event(1, "s1", None)]);
        let mut new_item = event(3, "s1", None);
        new_item.item_id = "i2".into();
        send(
            &app,
            &[event(2, "s1", None), new_item, event(4, "s2", None)],
        );
        use crate::db::schema::{enrolments, items};
        let count = |c: &mut SqliteConnection| {
            (
                items::table.count().get_result::<i64>(c).unwrap(),
                students::table.count().get_result::<i64>(c).unwrap(),
                enrolments::table.count().get_result::<i64>(c).unwrap(),
            )
        };
        assert_eq!(
            on_another(&db, count),
            (2, 2, 2),
            "items, students, enrolments"
        );
    }

    #[test]
    fn other_writers_make_the_writer_forget() {
        let (_dir, db, app) = open();
        send(&app, &[event(1, "s1", None)]);
        assert_eq!(student_count(&db), 1);

        // Through the writer (an erasure, say): forgotten at once.
        db.write_blocking(Changes::Entities, |conn| {
            let crate::db::DbConnection::Sqlite(c) = conn else {
                unreachable!()
            };
            Ok(diesel::delete(students::table).execute(c)?)
        })
        .unwrap();
        assert_eq!(student_count(&db), 0);
        send(&app, &[event(2, "s1", None)]);
        assert_eq!(student_count(&db), 1, "the student is stored again");

        // Another connection (another process, say): seen through data_version.
        on_another(&db, |c| diesel::delete(students::table).execute(c).unwrap());
        assert_eq!(student_count(&db), 0);
        send(&app, &[event(3, "s1", None)]);
        assert_eq!(student_count(&db), 1, "the student is stored again");
    }

    /// Writes of rows the memory does not hold (an audit row of a teacher's read) leave it
    /// whole; a write declaring that it changes entities empties it.
    #[test]
    fn an_audit_row_leaves_the_memory_whole() {
        let (_dir, db, app) = open();
        send(&app, &[event(1, "s1", None)]);
        let teacher = crate::auth::Caller {
            sub: "t1".into(),
            role: crate::auth::Role::Teacher,
            org: "org".into(),
            classes: None,
        };
        db.write_blocking(Changes::Records, |conn| {
            let class = crate::store::audit::Subject::Class("c1".into());
            crate::store::audit::record(conn, &teacher, "class.overview", class, None)
        })
        .unwrap();
        assert!(
            knows(&app, Entity::Student("s1")),
            "kept after an audit row"
        );
        send(&app, &[event(2, "s1", None)]);
        assert!(knows(&app, Entity::Student("s1")), "kept after a batch");

        db.write_blocking(Changes::Entities, |_| Ok(())).unwrap();
        send(&app, &[event(3, "s2", None)]);
        assert!(
            !knows(&app, Entity::Student("s1")),
            "forgotten after an entity write"
        );
        assert!(knows(&app, Entity::Student("s2")));
    }
}
