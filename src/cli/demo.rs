//! `huddle demo`: a fresh database filled with a simulated district (2 schools, 6 classes,
//! about 150 students, 4 school weeks of practice ending today), then the dashboard served.
//!
//! The events go through the store's normal ingest path (`store::events::append`), so
//! estimates, flags and timing norms are the real ones. On top: a roster with names, teacher
//! and administrator accounts, some past review decisions, saved group plans and teachers'
//! page views, so every page looks like a school that has used Huddle for a month.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::Context;
use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use secrecy::SecretString;

use crate::auth::{passwords, Caller, Role};
use crate::config::{LogFormat, Settings};
use crate::db::{to_millis, Db, DbUrl};
use crate::ingest::Event;
use crate::insights::groups::{self, GroupBounds};
use crate::insights::reviews::{self, ReviewStatus};
use crate::insights::{Decision, DecisionRecord};
use crate::items::{Describer, Description};
use crate::sim::district::District;
use crate::sim::{Config, ProfileMix, Simulation};
use crate::startup::Application;
use crate::store;
use crate::store::audit::Subject;

/// The default demo database: never `huddle.db`, replaced on every run.
const DEFAULT_DB: &str = "huddle-demo.db";

#[derive(clap::Args)]
pub struct DemoArgs {
    /// sqlite://PATH (deleted and recreated) or postgres://USER@HOST/DB (must be empty).
    /// Deliberately not read from HUDDLE_DATABASE_URL, which names the real database.
    #[arg(long, default_value = "sqlite://huddle-demo.db")]
    database_url: String,
    /// Address to listen on (port 0 picks a free port; the URL printed is the real one).
    #[arg(long, env = "HUDDLE_BIND", default_value = "127.0.0.1:8080")]
    bind: String,
    /// Students in the district (spread over its 6 classes).
    #[arg(long, default_value_t = 150)]
    students: usize,
    /// School days (Monday to Friday) of practice, ending today.
    #[arg(long, default_value_t = 20)]
    days: u32,
    /// The simulation's seed: the same seed gives the same district.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    #[arg(long, env = "HUDDLE_LOG_FORMAT", value_enum, default_value = "text")]
    log_format: LogFormat,
    /// Keep the demo teacher's class practising: simulated answers arrive every few seconds
    /// through the ingest endpoint, so the Now page moves.
    #[arg(long)]
    live: bool,
}

/// Passwords printed for the demo's accounts.
struct Credentials {
    teacher: String,
    admin: String,
}

pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    // The demo's own messages matter more than the server's start-up lines.
    if std::env::var_os("RUST_LOG").is_none() {
        std::env::set_var("RUST_LOG", "warn");
    }
    crate::telemetry::init(args.log_format);
    anyhow::ensure!(
        (6..=5_000).contains(&args.students),
        "--students must be between 6 and 5000"
    );
    anyhow::ensure!(
        (5..=200).contains(&args.days),
        "--days must be between 5 and 200"
    );
    let url = DbUrl::parse(&args.database_url)?;
    let now = Utc::now();
    let district = District::generate(args.students, args.seed);
    let credentials = Credentials {
        teacher: password(),
        admin: password(),
    };
    let summary = {
        let db = fresh_database(&url)?;
        fill(&db, &district, &credentials, &args, now)?
    };

    // A secret of this run only: tokens die with the demo.
    let secret = SecretString::from(hex(&rand::random::<[u8; 32]>()));
    let mut settings = Settings::new(url.clone(), secret.clone());
    settings.bind = args.bind.clone();
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings).await?;
        let host = args
            .bind
            .rsplit_once(':')
            .map_or("127.0.0.1", |(h, _)| h)
            .replace("0.0.0.0", "127.0.0.1");
        let seconds = started.elapsed().as_secs_f64();
        print_welcome(&WelcomeInfo {
            url: format!("http://{host}:{}/", app.port()),
            database: describe(&url),
            district: &district,
            credentials: &credentials,
            summary: &summary,
            seconds,
        })?;
        if args.live {
            let class = district
                .classes
                .iter()
                .position(|c| c.teacher == 0)
                .unwrap_or(0);
            super::live_demo::spawn(app.port(), &secret, &district, class);
            println!(
                "Live: {} is practising now; open Now in the dashboard to watch it.",
                district.classes[class].name
            );
        }
        app.run_until_stopped().await?;
        Ok(())
    })
}

/// Opens an empty database: a SQLite file is deleted and recreated (never `huddle.db`); a
/// PostgreSQL database must hold no organisation yet.
fn fresh_database(url: &DbUrl) -> anyhow::Result<Db> {
    if let DbUrl::Sqlite(path) = url {
        anyhow::ensure!(
            path.file_name().is_none_or(|n| n != "huddle.db"),
            "the demo never touches huddle.db: choose another file (default {DEFAULT_DB})"
        );
        for suffix in ["", "-wal", "-shm"] {
            let mut p = path.clone().into_os_string();
            p.push(suffix);
            match std::fs::remove_file(&p) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(e).with_context(|| format!("removing the old demo database {p:?}"))
                }
                _ => {}
            }
        }
    }
    let db = Db::open(url, 2)?;
    if !url.is_sqlite() {
        let orgs = store::state::orgs(&mut *db.conn()?)?;
        anyhow::ensure!(
            orgs.is_empty(),
            "the demo needs an empty PostgreSQL database (this one holds data): createdb huddle_demo"
        );
    }
    Ok(db)
}

/// What the demo wrote, for the welcome message.
#[derive(Debug, Default)]
struct Summary {
    events: usize,
    decisions: usize,
    plans: usize,
    page_views: usize,
    profiles: BTreeMap<&'static str, usize>,
}

fn fill(
    db: &Db,
    district: &District,
    credentials: &Credentials,
    args: &DemoArgs,
    now: DateTime<Utc>,
) -> anyhow::Result<Summary> {
    // The demo's server runs the default detectors: the data is derived with them too.
    let signals = crate::signals::Settings::default();
    let org = district.org.as_str();
    let created = to_millis(now - Duration::days(40));
    let teacher_ids = roster(db, district, credentials, created)?;

    let days = school_days_until(now.date_naive(), args.days);
    let first_day = days.first().copied().unwrap_or(now.date_naive());
    let sim = Simulation::new(Config {
        students: district.students.len(),
        days: args.days,
        seed: args.seed,
        // Three skills each of multiplication facts, fractions and reading.
        skills: 9,
        classes: district.classes.len(),
        start: first_day,
        profiles: ProfileMix::mixed(),
        // A class has a student or two who keep practising a skill without learning it: four
        // weeks are too few tries at the skills' own pace for anyone else to be stuck.
        wheel_spinners_per_class: 1,
        // Every distinct problem of the catalogue: a wheel spinner meets most of them.
        items_per_skill: crate::sim::catalogue::DISTINCT_ITEMS,
        ..Config::default()
    })
    .run();
    let mut summary = Summary::default();
    for s in &sim.students {
        *summary.profiles.entry(s.profile.as_str()).or_default() += 1;
    }
    // The simulator's classes are `class-01`…; the district's are named by school.
    let class_of: BTreeMap<&str, &str> = sim
        .class_ids
        .iter()
        .zip(&district.classes)
        .map(|(s, d)| (s.as_str(), d.id.as_str()))
        .collect();
    let events: Vec<Event> = sim
        .events
        .iter()
        .filter(|e| e.at <= now)
        .map(|e| {
            let mut event = sim.wire(e);
            if let Some(class) = class_of.get(event.class_id.as_str()) {
                event.class_id = (*class).to_owned();
            }
            event
        })
        .collect();
    // Tools send a class's answers in batches as they come; a batch of a few thousand, in
    // time order, received a moment after its last answer, is the same for the state.
    // The server refits its models in the background (every 6 hours by default): the demo
    // does it once halfway, so the last weeks are predicted by fitted models, as in a school
    // that has used Huddle for a while (the administrator's model-health page).
    let (chunk, half) = (2_000, events.len() / 2);
    let appender = store::events::Appender::new(db.clone(), signals);
    for (i, batch) in events.chunks(chunk).enumerate() {
        let received = batch.last().map_or(now, |e| e.occurred_at) + Duration::seconds(2);
        appender.append_blocking(org, batch, received)?;
        if i * chunk < half && (i + 1) * chunk >= half {
            store::state::refit_db(db, org, &Default::default(), &signals)?;
        }
    }
    summary.events = events.len();
    describe_items(db, org, &sim, now)?;

    let mut rng = StdRng::seed_from_u64(args.seed ^ 0xd3_40);
    summary.page_views = page_views(db, district, &teacher_ids, &days, now, &mut rng)?;
    let (decisions, plans) = decisions_and_plans(db, district, &teacher_ids, &days, now, &mut rng)?;
    summary.decisions = decisions;
    summary.plans = plans;
    Ok(summary)
}

/// The tools describe their items (`PUT /api/v1/items`), so that teachers read the problems
/// ("7 × 8") and the most common wrong answers.
fn describe_items(
    db: &Db,
    org: &str,
    sim: &crate::sim::Output,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let list: Vec<Description> = sim
        .skills
        .iter()
        .flat_map(|skill| {
            skill.items.iter().map(|item| Description {
                item_id: item.id.clone(),
                skill_id: skill.id.clone(),
                prompt: item.text.prompt.clone(),
                answer: Some(item.text.answer.clone()),
            })
        })
        .collect();
    db.write_blocking(crate::db::Changes::Entities, |conn| {
        store::items::describe(conn, org, Describer::Tool, &list, to_millis(now))
    })?;
    Ok(())
}

/// Schools, named classes, students with names and groups, and the accounts; the teachers'
/// user ids, by class.
fn roster(
    db: &Db,
    district: &District,
    credentials: &Credentials,
    created: i64,
) -> anyhow::Result<Vec<String>> {
    let org = district.org.as_str();
    // One hash per password (argon2 is slow on purpose); the teachers share theirs.
    let teacher_hash = passwords::hash_password(&credentials.teacher)?;
    let admin_hash = passwords::hash_password(&credentials.admin)?;
    db.write_blocking(crate::db::Changes::Entities, |conn| {
        for s in &district.schools {
            store::schools::put_school(conn, org, &s.id, &s.name, created)?;
        }
        for c in &district.classes {
            store::schools::put_class(conn, org, &c.id, &c.name, &c.school_id, created)?;
        }
        let entries: Vec<store::privacy::RosterEntry> = district
            .students
            .iter()
            .map(|p| store::privacy::RosterEntry {
                student_id: p.student_id.clone(),
                display_name: Some(p.name.clone()),
                class_id: Some(district.classes[p.class].id.clone()),
                group: Some(p.group.clone()),
                // Schools and class names were written just above.
                school_id: None,
                school_name: None,
            })
            .collect();
        store::privacy::apply_roster(conn, org, &entries)?;
        let mut ids = Vec::new();
        for (i, t) in district.teachers.iter().enumerate() {
            let classes = district
                .classes
                .iter()
                .filter(|c| c.teacher == i)
                .map(|c| c.id.clone())
                .collect();
            ids.push(store::users::add_user(
                conn,
                &store::users::NewUser {
                    email: t.email.clone(),
                    role: Role::Teacher,
                    org: org.to_owned(),
                    name: Some(t.name.clone()),
                    classes,
                    password_hash: Some(teacher_hash.clone()),
                },
            )?);
        }
        store::users::add_user(
            conn,
            &store::users::NewUser {
                email: district.admin.email.clone(),
                role: Role::Admin,
                org: org.to_owned(),
                name: Some(district.admin.name.clone()),
                classes: Vec::new(),
                password_hash: Some(admin_hash),
            },
        )?;
        Ok(ids)
    })
}

/// The `n` school days (Monday to Friday) up to and including `today` (or the last Friday).
fn school_days_until(today: NaiveDate, n: u32) -> Vec<NaiveDate> {
    let mut out = Vec::with_capacity(n as usize);
    let mut d = today;
    while out.len() < n as usize {
        if !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
            out.push(d);
        }
        d -= Duration::days(1);
    }
    out.reverse();
    out
}

fn at(day: NaiveDate, hour: u32, minute: u32) -> i64 {
    to_millis(Utc.from_utc_datetime(&day.and_hms_opt(hour, minute, 0).unwrap_or_default()))
}

/// Teachers' page views on past school days, as the audit log records them: each teacher
/// opens Today and the class most mornings (some more keenly than others) and looks at a few
/// students. The administrator's adoption report reads these.
fn page_views(
    db: &Db,
    district: &District,
    teacher_ids: &[String],
    days: &[NaiveDate],
    now: DateTime<Utc>,
    rng: &mut StdRng,
) -> anyhow::Result<usize> {
    // How keen each teacher is: from most days to now and then.
    const KEENNESS: [f64; 6] = [0.85, 0.7, 0.6, 0.45, 0.3, 0.15];
    let mut count = 0;
    let past: Vec<NaiveDate> = days
        .iter()
        .copied()
        .filter(|d| *d < now.date_naive())
        .collect();
    db.write_blocking(crate::db::Changes::Records, |conn| {
        for (class, (i, teacher)) in district.classes.iter().zip(teacher_ids.iter().enumerate()) {
            let caller = Caller {
                sub: teacher.clone(),
                role: Role::Teacher,
                org: district.org.clone(),
                classes: None,
            };
            let students: Vec<&str> = district
                .students
                .iter()
                .filter(|s| district.classes[s.class].id == class.id)
                .map(|s| s.student_id.as_str())
                .collect();
            // Keenness grows a little over the month, as teachers get used to the page.
            for (k, day) in past.iter().enumerate() {
                let keen =
                    KEENNESS[i % KEENNESS.len()] * (0.7 + 0.3 * k as f64 / past.len() as f64);
                if !rng.random_bool(keen.clamp(0.0, 1.0)) {
                    continue;
                }
                let t = at(*day, 7, rng.random_range(20..59));
                let subject = || Subject::Class(class.id.clone());
                store::audit::record_at(conn, &caller, t, "class.insights", subject(), None)?;
                store::audit::record_at(conn, &caller, t + 1_000, "class.groups", subject(), None)?;
                store::audit::record_at(
                    conn,
                    &caller,
                    t + 60_000,
                    "class.overview",
                    subject(),
                    None,
                )?;
                count += 3;
                for j in 0..rng.random_range(0..4) {
                    let s = students[rng.random_range(0..students.len().max(1))];
                    let t = t + 120_000 * (j + 1);
                    let subject = Subject::Student(s.to_owned());
                    store::audit::record_at(conn, &caller, t, "student.read", subject, None)?;
                    count += 1;
                }
            }
        }
        Ok(count)
    })
}

/// Some of each class's review items decided in the past days (confirmed, a few dismissed,
/// some with a note), and the first suggested group of each class saved as a plan; the rest
/// stays open for the teacher.
fn decisions_and_plans(
    db: &Db,
    district: &District,
    teacher_ids: &[String],
    days: &[NaiveDate],
    now: DateTime<Utc>,
    rng: &mut StdRng,
) -> anyhow::Result<(usize, usize)> {
    const NOTES: [&str; 4] = [
        "Matches what I see in class.",
        "Checked with a quick quiz.",
        "Talked with them; will watch this week.",
        "Had a rough day, not a pattern.",
    ];
    let org = district.org.as_str();
    let now_ms = to_millis(now);
    let recent: Vec<NaiveDate> = days.iter().rev().skip(1).take(8).copied().collect();
    let (mut decided, mut plans) = (0, 0);
    for (class, teacher) in district.classes.iter().zip(teacher_ids) {
        let Some(data) = db.write_blocking(crate::db::Changes::Records, |conn| {
            store::classes::class_data(conn, org, &class.id, now_ms, &Default::default())
        })?
        else {
            continue;
        };
        let open: Vec<reviews::ReviewItem> = reviews::queue(&data)
            .into_iter()
            .filter(|i| i.status == ReviewStatus::Open)
            .collect();
        let mut records = Vec::new();
        // About a third decided: enough to show the habit, plenty left to do.
        for item in &open {
            if !rng.random_bool(0.35) {
                continue;
            }
            let Some((kind, student, skill)) = reviews::parse_review_id(&item.id) else {
                continue;
            };
            // A stuck flag stays for the teacher to find (each class has its wheel spinner).
            if kind == reviews::flag_kind_key("wheel_spinning") {
                continue;
            }
            let day = recent[rng.random_range(0..recent.len().max(1))];
            let decided_at = at(day, 15, rng.random_range(0..59)).max(to_millis(item.created_at));
            // Decided on an earlier day: today's review limit is the teacher's to spend.
            if decided_at >= now_ms - now_ms.rem_euclid(crate::util::DAY_MS) {
                continue;
            }
            let is_estimate = kind == reviews::ESTIMATE;
            records.push(DecisionRecord {
                student_id: student,
                skill_id: skill,
                kind,
                decision: if rng.random_bool(0.8) {
                    Decision::Confirm
                } else {
                    Decision::Dismiss
                },
                note: if rng.random_bool(0.3) {
                    Some(NOTES[rng.random_range(0..NOTES.len())].to_owned())
                } else {
                    None
                },
                // The evidence as it stands (estimates) or the decision time (flags), as
                // POST /api/v1/reviews/{id} records it.
                marker: if is_estimate {
                    item.evidence_marker
                } else {
                    decided_at
                },
                decided_by: teacher.clone(),
                decided_at,
                insight_id: None,
            });
        }
        decided += records.len();
        let suggestions = groups::suggest(&data, GroupBounds::default());
        let plan_day = recent.first().copied().unwrap_or(now.date_naive());
        db.write_blocking(crate::db::Changes::Records, |conn| {
            store::reviews::record_decisions(conn, org, &records)?;
            if let Some(g) = suggestions.groups.first() {
                store::plans::create(
                    conn,
                    org,
                    &store::plans::NewPlan {
                        class_id: &class.id,
                        focus_skill_id: &g.focus_skill_id,
                        students: &g.students,
                        note: Some("Table by the window, after the warm-up."),
                        source_group: Some(&g.id),
                        created_by: teacher,
                        now: at(plan_day, 16, 5),
                    },
                )?;
                plans += 1;
            }
            Ok(())
        })?;
    }
    Ok((decided, plans))
}

/// A password for a demo account: easy to type, random for each run.
fn password() -> String {
    const WORDS: [&str; 16] = [
        "maple", "river", "chalk", "otter", "pencil", "garden", "comet", "violet", "harbor",
        "meadow", "lantern", "pebble", "sparrow", "willow", "cedar", "tulip",
    ];
    let mut rng = rand::rng();
    format!(
        "{}-{}-{}",
        WORDS[rng.random_range(0..WORDS.len())],
        WORDS[rng.random_range(0..WORDS.len())],
        rng.random_range(10..100)
    )
}

use crate::util::hex;

/// The database without credentials (a PostgreSQL URL may carry a password).
fn describe(url: &DbUrl) -> String {
    match url {
        DbUrl::Sqlite(path) => path.display().to_string(),
        DbUrl::Postgres(u) => match u.split_once('@') {
            Some((_, host)) => format!("postgres://…@{host}"),
            None => u.clone(),
        },
    }
}

struct WelcomeInfo<'a> {
    url: String,
    database: String,
    district: &'a District,
    credentials: &'a Credentials,
    summary: &'a Summary,
    seconds: f64,
}

/// The welcome text. Its `Dashboard:`, `Teacher:`, `Administrator:` and `Password:` lines are
/// read by the tests (tests/api/cli.rs, tests/e2e/): keep their shape.
fn welcome(w: &WelcomeInfo) -> String {
    let d = w.district;
    let teacher = &d.teachers[0];
    let class = d.classes.iter().find(|c| c.teacher == 0);
    let profiles: Vec<String> = w
        .summary
        .profiles
        .iter()
        .map(|(p, n)| format!("{n} {}", p.replace('_', " ")))
        .collect();
    format!(
        "\nHuddle demo: {schools} schools, {classes} classes, {students} students, {events} practice answers over 4 weeks,\n\
         {decisions} past review decisions, {plans} saved group plans, {views} teacher page views.\n\
         Students: {profiles}.\n\
         Ready in {secs:.1} s (database: {db}).\n\
         \n\
         Dashboard:      {url}\n\
         Teacher:        {temail}  ({tname}, {tclass})\n\
         Password:       {tpass}\n\
         Administrator:  {aemail}  ({aname})\n\
         Password:       {apass}\n\
         \n\
         Every teacher account ({others}) has the teacher password.\n\
         These accounts and passwords are for this demo only; the data is simulated and is\n\
         recreated on every run. Stop with Ctrl-C.\n",
        schools = d.schools.len(),
        classes = d.classes.len(),
        students = d.students.len(),
        events = w.summary.events,
        decisions = w.summary.decisions,
        plans = w.summary.plans,
        views = w.summary.page_views,
        profiles = profiles.join(", "),
        secs = w.seconds,
        db = w.database,
        url = w.url,
        temail = teacher.email,
        tname = teacher.name,
        tclass = class.map_or("", |c| c.name.as_str()),
        tpass = w.credentials.teacher,
        aemail = d.admin.email,
        aname = d.admin.name,
        apass = w.credentials.admin,
        others = d
            .teachers
            .iter()
            .skip(1)
            .map(|t| t.email.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    )
}

fn print_welcome(w: &WelcomeInfo) -> anyhow::Result<()> {
    super::print_line(&welcome(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn school_days_end_today_or_on_the_last_friday() {
        let tuesday = NaiveDate::from_ymd_opt(2026, 12, 1).expect("a date");
        let days = school_days_until(tuesday, 20);
        assert_eq!(days.len(), 20);
        assert_eq!(days.last(), Some(&tuesday));
        assert!(days
            .iter()
            .all(|d| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun)));
        assert_eq!(
            days[0],
            NaiveDate::from_ymd_opt(2026, 11, 4).expect("a date")
        );
        let sunday = NaiveDate::from_ymd_opt(2026, 12, 6).expect("a date");
        assert_eq!(
            school_days_until(sunday, 3).last(),
            NaiveDate::from_ymd_opt(2026, 12, 4).as_ref()
        );
    }

    #[test]
    fn passwords_are_long_enough_to_be_accepted() {
        for _ in 0..50 {
            let p = password();
            assert!(passwords::check_new_password(&p).is_ok(), "{p}");
        }
    }

    #[test]
    fn the_welcome_names_the_url_and_both_accounts_and_hides_a_postgres_password() {
        let d = District::generate(12, 1);
        let text = welcome(&WelcomeInfo {
            url: "http://127.0.0.1:4321/".into(),
            database: describe(&DbUrl::Postgres("postgres://me:secret@db/huddle".into())),
            district: &d,
            credentials: &Credentials {
                teacher: "teach-pass-12".into(),
                admin: "admin-pass-34".into(),
            },
            summary: &Summary::default(),
            seconds: 1.5,
        });
        assert!(text.contains("Dashboard:      http://127.0.0.1:4321/"));
        assert!(text.contains(&format!("Teacher:        {}", d.teachers[0].email)));
        assert!(text.contains("Password:       teach-pass-12"));
        assert!(text.contains(&format!("Administrator:  {}", d.admin.email)));
        assert!(text.contains("Password:       admin-pass-34"));
        assert!(!text.contains("secret"), "{text}");
    }
}
