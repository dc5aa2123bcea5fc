//! The server's live view of the classes its streams show: one per class, shared by every stream
//! of that class (whoever holds it), kept by one task per server.
//!
//! The task reads the events stored since its last read once for all the classes it follows
//! (by `seq`, through the primary key), hands each class its new answers
//! ([`lesson::LiveClass`] works out only what they change) and publishes each changed class's
//! picture to its streams. It reads at most every [`MIN_GAP`] whatever the ingest rate and the
//! number of streams (every [`BUSY_GAP`] when answers pour in); a busy class's answers are
//! taken together. A class is read whole when it
//! is first followed, every [`FULL_EVERY`] (roster changes, erasure, names, the rapid-guess
//! norms), and its check-ins when a check-in notice names it. Without any event, each class is
//! published again every [`REFRESH`] (idle students, a sitting that ends: the clock, no read).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::{broadcast, watch};

use super::{ClassKey, Hub, Notice};
use crate::db::{to_millis, Db, DbConnection};
use crate::lesson::{self, ClassAnswers, ClassFold, ClassNow, LiveClass, Rules, LOOKBACK_MS};
use crate::signals::Thresholds;
use crate::store;

/// The live view reads at most this often: the answers and check-ins that come meanwhile are
/// taken together.
pub const MIN_GAP: Duration = Duration::from_millis(300);
/// After a read that found more than [`BUSY_ANSWERS`] answers (several thousand a second, far
/// above a district's lessons), the next read waits this long instead: fewer, larger reads and
/// pictures leave the cores to ingest, and an answer still shows within about a second.
pub const BUSY_GAP: Duration = Duration::from_secs(1);
pub const BUSY_ANSWERS: usize = 1_000;
/// Each class is published at least this often without any event: idle transitions show within
/// this time, and the frame keeps proxies from closing a quiet connection.
pub const REFRESH: Duration = Duration::from_secs(15);
/// Each followed class is read whole this often.
const FULL_EVERY: Duration = Duration::from_secs(60);
/// Without any notice, the events are looked at this often (a lost notice costs this delay).
const POLL: Duration = Duration::from_secs(1);
/// Events read per query.
const PAGE: i64 = 5_000;
/// How long a seq missing below a seen one is looked for: on PostgreSQL a batch may commit after
/// a later one; a seq never used (a repeated event, a rolled-back batch) is given up then.
const GRACE: Duration = Duration::from_secs(10);
/// Larger jumps in seq are not looked into (the class's next full read covers them).
const MAX_GAP: i64 = 10_000;
/// At most this many classes are read whole for being due in one read, so that the classes
/// followed since the same moment spread their whole reads out.
const DUE_PER_READ: usize = 2;

/// What a Now frame is made of, before it is worded for a reader (names or labels).
pub struct NowData {
    /// When it was worked out (ms).
    pub generated_at: i64,
    pub class: ClassNow,
    /// Roster names (students without one are absent).
    pub names: Arc<HashMap<String, String>>,
    pub skill_names: Arc<HashMap<String, Option<String>>>,
    /// Each student's latest check-in, any class (ms).
    pub last_checkins: Arc<HashMap<String, i64>>,
}

/// One published state of a class.
pub struct Picture {
    /// When the read it comes from began: a stream shows only pictures read after it opened.
    pub read_at: Instant,
    pub data: NowData,
}

/// A class as read for the Now view.
pub struct ClassRead {
    pub answers: ClassAnswers,
    pub last_checkins: HashMap<String, i64>,
    pub names: HashMap<String, String>,
}

/// Reads what the class's Now view is computed from at `now` (ms); `None` when there is no
/// such class. `names`: read the roster names too.
pub fn read_class(
    conn: &mut DbConnection,
    org: &str,
    class: &str,
    now: i64,
    names: bool,
    thresholds: &Thresholds,
) -> anyhow::Result<Option<ClassRead>> {
    if !store::classes::class_exists(conn, org, class)? {
        return Ok(None);
    }
    let students = store::classes::class_students(conn, org, class)?;
    let answers =
        store::checkins::class_answers(conn, org, class, students, now - LOOKBACK_MS, thresholds)?;
    let (last_checkins, names) = shown_beside(conn, org, &answers.students, names)?;
    Ok(Some(ClassRead {
        answers,
        last_checkins,
        names,
    }))
}

/// A class's "now" as read for one request.
pub struct NowRead {
    pub class: ClassNow,
    pub last_checkins: HashMap<String, i64>,
    pub names: HashMap<String, String>,
}

/// Reads the class and works out its "now" at `now` (ms) without holding its answers: the
/// sitting from each answer's time and student, then the sitting's answers folded student by
/// student as they are read, both in one snapshot. `None` when there is no such class.
/// `names`: read the roster names too.
pub fn read_now(
    conn: &mut DbConnection,
    org: &str,
    class: &str,
    now: i64,
    names: bool,
    rules: &Rules,
    thresholds: &Thresholds,
) -> anyhow::Result<Option<NowRead>> {
    crate::db::read_snapshot(conn, |conn| {
        read_now_in_snapshot(conn, org, class, now, names, rules, thresholds)
    })
}

fn read_now_in_snapshot(
    conn: &mut DbConnection,
    org: &str,
    class: &str,
    now: i64,
    names: bool,
    rules: &Rules,
    thresholds: &Thresholds,
) -> anyhow::Result<Option<NowRead>> {
    if !store::classes::class_exists(conn, org, class)? {
        return Ok(None);
    }
    let students = store::classes::class_students(conn, org, class)?;
    let since = now - LOOKBACK_MS;
    let beats = store::checkins::class_beats(conn, org, class, &students, since)?;
    let sitting = lesson::sitting_of(beats.beats, now, rules);
    let checkins = store::checkins::latest_in_class(conn, org, class, since)?;
    let mut fold = ClassFold::new(sitting, &checkins, *rules);
    if let Some(s) = sitting {
        let span = (s.started_at, s.ended_at.unwrap_or(i64::MAX));
        store::checkins::each_answer(
            conn,
            org,
            class,
            &students,
            span,
            &beats.skills,
            thresholds,
            |student, answer| fold.push(student, answer),
        )?;
    }
    let (last_checkins, names) = shown_beside(conn, org, &students, names)?;
    Ok(Some(NowRead {
        class: fold.finish(&students, now),
        last_checkins,
        names,
    }))
}

/// What the Now view shows beside each of `students`: their latest check-in (any class) and,
/// with `names`, their roster names.
fn shown_beside(
    conn: &mut DbConnection,
    org: &str,
    students: &[String],
    names: bool,
) -> anyhow::Result<(HashMap<String, i64>, HashMap<String, String>)> {
    let last_checkins = store::checkins::latest_for_students(conn, org, students)?;
    let names = if names {
        let ids: Vec<&str> = students.iter().map(String::as_str).collect();
        store::privacy::display_names(conn, org, &ids)?
    } else {
        HashMap::new()
    };
    Ok((last_checkins, names))
}

/// The names of the current skills of `class`'s students.
pub fn skill_names(
    conn: &mut DbConnection,
    org: &str,
    class: &ClassNow,
) -> anyhow::Result<HashMap<String, Option<String>>> {
    let skills: BTreeSet<&str> = class
        .students
        .iter()
        .filter_map(|(_, s)| s.skill_id.as_deref())
        .collect();
    Ok(store::classes::skill_infos(conn, org, &skills)?
        .into_iter()
        .map(|s| (s.skill_id, s.name))
        .collect())
}

/// The pictures a class's streams watch; the sender is dropped when the class is gone.
pub type Pictures = watch::Receiver<Option<Arc<Picture>>>;

/// Where a class's pictures are published.
type Publisher = Arc<watch::Sender<Option<Arc<Picture>>>>;

/// The classes this server's streams watch, and whether the task that follows them runs.
#[derive(Default)]
pub(super) struct Watched {
    classes: HashMap<ClassKey, Publisher>,
    running: bool,
}

impl Hub {
    /// The pictures of `key`'s class, published by the server's live view (started if it is
    /// not running). A first picture comes within `MIN_GAP` and a read.
    pub fn watch(
        self: &Arc<Self>,
        db: &Db,
        rules: Rules,
        thresholds: Thresholds,
        key: ClassKey,
    ) -> Pictures {
        let mut watched = self.watched.lock().unwrap_or_else(|p| p.into_inner());
        let tx = watched
            .classes
            .entry(key)
            .or_insert_with(|| Arc::new(watch::channel(None).0));
        let rx = tx.subscribe();
        if !watched.running {
            watched.running = true;
            let (hub, db) = (self.clone(), db.clone());
            actix_web::rt::spawn(follow(hub, db, rules, thresholds));
        }
        drop(watched);
        self.wake.notify_one();
        rx
    }

    /// The classes some stream watches (the others are let go), or `None` when there are none
    /// left: the live view then stops.
    fn watched_classes(&self) -> Option<HashMap<ClassKey, Publisher>> {
        let mut watched = self.watched.lock().unwrap_or_else(|p| p.into_inner());
        watched.classes.retain(|_, tx| tx.receiver_count() > 0);
        if watched.classes.is_empty() {
            watched.running = false;
            return None;
        }
        Some(watched.classes.clone())
    }

    /// The live view stops for good (the notices ended): every stream ends.
    fn stop_following(&self) {
        let mut watched = self.watched.lock().unwrap_or_else(|p| p.into_inner());
        watched.classes.clear();
        watched.running = false;
    }

    /// The class is gone: its streams end.
    fn forget(&self, key: &ClassKey) {
        let mut watched = self.watched.lock().unwrap_or_else(|p| p.into_inner());
        watched.classes.remove(key);
    }
}

/// The live view's task: reads, publishes, waits for the next notice (or the clock), until no
/// stream watches any class.
async fn follow(hub: Arc<Hub>, db: Db, rules: Rules, thresholds: Thresholds) {
    let mut notices = hub.subscribe();
    let view = Arc::new(Mutex::new(LiveView::new(rules, thresholds)));
    let mut asked = Asked::default();
    loop {
        let Some(watched) = hub.watched_classes() else {
            return;
        };
        let keys: Vec<ClassKey> = watched.keys().cloned().collect();
        let read_at = Instant::now();
        let (v, ask) = (view.clone(), std::mem::take(&mut asked));
        let pictures = db
            .read(move |conn| {
                let mut v = v.lock().unwrap_or_else(|p| p.into_inner());
                v.step(conn, &keys, &ask, read_at)
            })
            .await;
        let gap = match &pictures {
            Ok(read) if read.answers > BUSY_ANSWERS => BUSY_GAP,
            _ => MIN_GAP,
        };
        match pictures {
            Ok(read) => {
                for (key, picture) in read.pictures {
                    match (picture, watched.get(&key)) {
                        (Some(p), Some(tx)) => {
                            tx.send_replace(Some(Arc::new(p)));
                        }
                        (None, _) => hub.forget(&key),
                        _ => {}
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "the live view could not read its classes");
                asked.everything = true;
            }
        }
        // The next reason to read: a notice, a new stream, or the clock.
        tokio::select! {
            heard = notices.recv() => if !asked.take(heard) { return hub.stop_following() },
            _ = hub.wake.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
        tokio::time::sleep(gap.saturating_sub(read_at.elapsed())).await;
        loop {
            match notices.try_recv() {
                Err(broadcast::error::TryRecvError::Empty) => break,
                Err(broadcast::error::TryRecvError::Closed) => return hub.stop_following(),
                Err(broadcast::error::TryRecvError::Lagged(_)) => asked.all_checkins = true,
                Ok(n) => {
                    asked.take(Ok(n));
                }
            }
        }
    }
}

/// What the notices since the last read (and the last read's fate) ask for beyond the new
/// events.
#[derive(Default)]
struct Asked {
    /// Classes whose check-ins changed ...
    checkins: HashSet<ClassKey>,
    /// ... or every class's (notices were missed).
    all_checkins: bool,
    /// The last read failed: read every class whole.
    everything: bool,
}

impl Asked {
    /// Takes in a notice; false when the hub is gone.
    fn take(&mut self, heard: Result<Notice, broadcast::error::RecvError>) -> bool {
        match heard {
            Ok(Notice::Checkins(k)) => {
                self.checkins.insert(k);
            }
            Ok(Notice::Answers) => {}
            Err(broadcast::error::RecvError::Lagged(_)) => self.all_checkins = true,
            Err(broadcast::error::RecvError::Closed) => return false,
        }
        true
    }
}

/// One followed class.
struct Followed {
    live: LiveClass,
    names: Arc<HashMap<String, String>>,
    skill_names: Arc<HashMap<String, Option<String>>>,
    last_checkins: Arc<HashMap<String, i64>>,
    /// The students whose names were read.
    named: HashSet<String>,
    read_whole_at: Instant,
    published_at: Option<Instant>,
    changed: bool,
}

/// The live view's state, kept between reads.
struct LiveView {
    rules: Rules,
    /// The detectors' thresholds, which judge a rapid guess as ingest does.
    thresholds: Thresholds,
    cursor: Option<Cursor>,
    classes: HashMap<ClassKey, Followed>,
}

/// What one read of the live view gives: the pictures to publish, and how many new answers it
/// found (the pace of the next read follows it).
struct Read {
    pictures: Vec<(ClassKey, Option<Picture>)>,
    answers: usize,
}

impl LiveView {
    fn new(rules: Rules, thresholds: Thresholds) -> Self {
        LiveView {
            rules,
            thresholds,
            cursor: None,
            classes: HashMap::new(),
        }
    }

    /// One read: the new events for every followed class, the whole of the classes that need
    /// it, and the pictures of the classes that changed or are due (`None`: the class is gone).
    fn step(
        &mut self,
        conn: &mut DbConnection,
        watched: &[ClassKey],
        asked: &Asked,
        read_at: Instant,
    ) -> anyhow::Result<Read> {
        let now = to_millis(Utc::now());
        self.classes.retain(|k, _| watched.contains(k));
        // Where the events stand is known before any class is read whole, so that no event
        // falls between the two (one read twice is ignored by its seq).
        if self.cursor.is_none() {
            self.cursor = Some(Cursor::new(store::checkins::last_seq(conn)?));
        }
        let answers = self.take_new_events(conn, read_at)?;

        let mut out = Vec::new();
        let mut due_left = DUE_PER_READ;
        for key in watched {
            let whole = match self.classes.get(key) {
                None => true,
                Some(_) if asked.everything => true,
                Some(f)
                    if due_left > 0 && read_at.duration_since(f.read_whole_at) >= FULL_EVERY =>
                {
                    due_left -= 1;
                    true
                }
                Some(_) => false,
            };
            if whole {
                match read_class(conn, &key.org, &key.class, now, true, &self.thresholds)? {
                    Some(read) => {
                        let named = read.answers.students.iter().cloned().collect();
                        self.classes.insert(
                            key.clone(),
                            Followed {
                                live: LiveClass::new(read.answers, self.rules),
                                named,
                                names: Arc::new(read.names),
                                skill_names: Arc::default(),
                                last_checkins: Arc::new(read.last_checkins),
                                read_whole_at: read_at,
                                published_at: None,
                                changed: true,
                            },
                        );
                    }
                    None => {
                        self.classes.remove(key);
                        out.push((key.clone(), None));
                    }
                }
            } else if let Some(f) = self
                .classes
                .get_mut(key)
                .filter(|_| asked.all_checkins || asked.checkins.contains(key))
            {
                let since = now - LOOKBACK_MS;
                f.live.set_checkins(store::checkins::latest_in_class(
                    conn, &key.org, &key.class, since,
                )?);
                let students = f.live.students().to_vec();
                f.last_checkins = Arc::new(store::checkins::latest_for_students(
                    conn, &key.org, &students,
                )?);
                f.changed = true;
            }
        }

        for (key, f) in &mut self.classes {
            let due = f
                .published_at
                .is_none_or(|at| read_at.duration_since(at) >= REFRESH);
            if !(f.changed || due) {
                continue;
            }
            let class = f.live.class_now(now);
            f.learn_names(conn, &key.org, &class)?;
            f.changed = false;
            f.published_at = Some(read_at);
            out.push((
                key.clone(),
                Some(Picture {
                    read_at,
                    data: NowData {
                        generated_at: now,
                        class,
                        names: f.names.clone(),
                        skill_names: f.skill_names.clone(),
                        last_checkins: f.last_checkins.clone(),
                    },
                }),
            ));
        }
        Ok(Read {
            pictures: out,
            answers,
        })
    }

    /// Hands each followed class its answers stored since the last read; how many there were.
    fn take_new_events(
        &mut self,
        conn: &mut DbConnection,
        read_at: Instant,
    ) -> anyhow::Result<usize> {
        let Some(cursor) = self.cursor.as_mut() else {
            return Ok(0);
        };
        let thresholds = self.thresholds;
        let classes = &self.classes;
        let wanted = |org: &str, class: &str| {
            classes.contains_key(&ClassKey {
                org: org.to_owned(),
                class: class.to_owned(),
            })
        };
        let mut answers = Vec::new();
        let missing = cursor.missing(read_at);
        for chunk in missing.chunks(500) {
            let found = store::checkins::events_in(conn, chunk, &thresholds, wanted)?;
            cursor.found(&found.seqs);
            answers.extend(found.answers);
        }
        loop {
            let page = store::checkins::events_after(conn, cursor.high, PAGE, &thresholds, wanted)?;
            cursor.took(&page.seqs, read_at);
            answers.extend(page.answers);
            if page.seqs.len() < PAGE as usize {
                break;
            }
        }
        let found = answers.len();
        for (org, class, student, answer) in answers {
            if let Some(f) = self.classes.get_mut(&ClassKey { org, class }) {
                f.live.add(&student, answer);
                f.changed = true;
            }
        }
        Ok(found)
    }
}

impl Followed {
    /// Reads the names of students and skills that appeared since the class was read whole.
    fn learn_names(
        &mut self,
        conn: &mut DbConnection,
        org: &str,
        class: &ClassNow,
    ) -> anyhow::Result<()> {
        let new_students: Vec<&str> = class
            .students
            .iter()
            .map(|(id, _)| id.as_str())
            .filter(|id| !self.named.contains(*id))
            .collect();
        let skills: BTreeSet<&str> = class
            .students
            .iter()
            .filter_map(|(_, s)| s.skill_id.as_deref())
            .filter(|s| !self.skill_names.contains_key(*s))
            .collect();
        if !skills.is_empty() {
            let found = store::classes::skill_infos(conn, org, &skills)?;
            let names = Arc::make_mut(&mut self.skill_names);
            names.extend(found.into_iter().map(|s| (s.skill_id, s.name)));
        }
        if !new_students.is_empty() {
            let found = store::privacy::display_names(conn, org, &new_students)?;
            Arc::make_mut(&mut self.names).extend(found);
            self.named
                .extend(new_students.into_iter().map(str::to_owned));
        }
        Ok(())
    }
}

/// Where the live view stands in the events: every seq up to `high` has been read, but for the
/// `pending` ones. PostgreSQL hands out seqs before the commit, so a batch may become visible
/// after a later one: a seq skipped over is looked for again until [`GRACE`] has passed. On
/// SQLite (one writer) none is ever skipped.
struct Cursor {
    high: i64,
    /// Skipped seqs, with when they were first missed.
    pending: BTreeMap<i64, Instant>,
}

impl Cursor {
    fn new(high: i64) -> Self {
        Cursor {
            high,
            pending: BTreeMap::new(),
        }
    }

    /// The skipped seqs still looked for.
    fn missing(&mut self, now: Instant) -> Vec<i64> {
        self.pending
            .retain(|_, since| now.duration_since(*since) < GRACE);
        self.pending.keys().copied().collect()
    }

    fn found(&mut self, seqs: &[i64]) {
        for s in seqs {
            self.pending.remove(s);
        }
    }

    /// Takes in the seqs read after `high`, in order.
    fn took(&mut self, seqs: &[i64], now: Instant) {
        for &s in seqs {
            if s - self.high <= MAX_GAP {
                for skipped in self.high + 1..s {
                    self.pending.insert(skipped, now);
                }
            }
            self.high = self.high.max(s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_skipped_seq_is_looked_for_until_it_shows_or_the_grace_passes() {
        let t = Instant::now();
        let mut c = Cursor::new(10);
        c.took(&[11, 14, 15], t);
        assert_eq!(c.high, 15);
        assert_eq!(c.missing(t), vec![12, 13]);
        c.found(&[13]);
        assert_eq!(c.missing(t + GRACE / 2), vec![12]);
        assert_eq!(c.missing(t + GRACE), Vec::<i64>::new());
        // A jump too large to look into is left to the classes' full reads.
        c.took(&[15 + MAX_GAP + 1], t);
        assert!(c.missing(t).is_empty());
    }
}
