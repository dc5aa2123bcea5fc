//! `huddle demo`: on port 0 it prints the real URL and two accounts; they sign in and see a
//! busy district (classes with names, insights, groups, open and decided review items, saved
//! plans, every kind of behaviour flag), and a teacher sees only their own class. On SQLite
//! and on PostgreSQL. It refuses `huddle.db`.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use huddle::db::DbUrl;
use serde_json::{json, Value};

use crate::helpers::{huddle_command, Backend, TestDatabase};

/// A running `huddle demo` and what it printed.
struct Demo {
    child: Child,
    url: String,
    teacher: (String, String),
    admin: (String, String),
    printed: String,
    /// What the demo wrote to stderr (its log), drained as it comes so that a full pipe
    /// never blocks it; shown when a request fails.
    log: Arc<Mutex<String>>,
}

impl Drop for Demo {
    fn drop(&mut self) {
        // Only our own child, by its handle.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn url_of(db: &TestDatabase) -> String {
    match &db.url {
        // Beside the test's file: the demo refuses any file named huddle.db.
        DbUrl::Sqlite(path) => format!("sqlite://{}", path.with_file_name("demo.db").display()),
        DbUrl::Postgres(url) => url.clone(),
    }
}

/// The value after `label` on a line such as `Teacher:        a@b.example  (…)`.
fn field(text: &str, label: &str, nth: usize) -> String {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix(label))
        .nth(nth)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no {label:?} line in:\n{text}"))
        .to_owned()
}

fn start_demo(database_url: &str) -> Demo {
    let mut child = huddle_command()
        .args([
            "demo",
            "--bind",
            "127.0.0.1:0",
            "--database-url",
            database_url,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting huddle demo");
    let stdout = child.stdout.take().expect("the demo's stdout");
    let stderr = child.stderr.take().expect("the demo's stderr");
    let log = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&log);
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Ok(mut log) = sink.lock() {
                log.push_str(&line);
                log.push('\n');
            }
        }
    });
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut printed = String::new();
    // A debug build fills the district more slowly than the release build's few seconds.
    let deadline = Instant::now() + Duration::from_secs(180);
    while printed.matches("Password:").count() < 2 {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => {
                printed.push_str(&line);
                printed.push('\n');
            }
            Err(_) => {
                if let Some(status) = child.try_wait().expect("the demo's status") {
                    std::thread::sleep(Duration::from_millis(200));
                    let err = log.lock().map(|l| l.clone()).unwrap_or_default();
                    panic!("huddle demo exited with {status}:\n{printed}\n{err}");
                }
                assert!(
                    Instant::now() < deadline,
                    "huddle demo printed no sign-in details:\n{printed}"
                );
            }
        }
    }
    Demo {
        url: field(&printed, "Dashboard:", 0),
        teacher: (
            field(&printed, "Teacher:", 0),
            field(&printed, "Password:", 0),
        ),
        admin: (
            field(&printed, "Administrator:", 0),
            field(&printed, "Password:", 1),
        ),
        printed,
        child,
        log,
    }
}

async fn sign_in(
    client: &reqwest::Client,
    base: &str,
    (email, password): &(String, String),
    log: &Mutex<String>,
) -> String {
    let r = client
        .post(format!("{base}api/v1/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .expect("signing in");
    let status = r.status();
    let text = r.text().await.unwrap_or_default();
    assert_eq!(
        status,
        200,
        "the printed credentials sign in ({email}): {text}\nthe demo's log:\n{}",
        log.lock().map(|l| l.clone()).unwrap_or_default()
    );
    let body: Value = serde_json::from_str(&text).expect("JSON");
    body["token"].as_str().expect("a token").to_owned()
}

async fn get(client: &reqwest::Client, base: &str, token: &str, path: &str) -> (u16, Value) {
    let r = client
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .expect("a GET");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn the_demo_serves_a_busy_district(backend: Backend) {
    let db = TestDatabase::create(backend);
    let demo = start_demo(&url_of(&db));
    assert!(
        demo.url.starts_with("http://127.0.0.1:"),
        "{}",
        demo.printed
    );
    assert!(
        !demo.url.ends_with(":0/"),
        "the real port is printed: {}",
        demo.url
    );
    // How long it took is printed (the notice under the passwords comes after them).
    assert!(demo.printed.contains("Ready in "), "{}", demo.printed);
    let base = demo.url.clone();
    let client = reqwest::Client::new();

    // The teacher: one class, named, with students, insights, groups and a review queue.
    let teacher = sign_in(&client, &base, &demo.teacher, &demo.log).await;
    let (status, classes) = get(&client, &base, &teacher, "api/v1/classes").await;
    assert_eq!(status, 200);
    let list = classes["classes"].as_array().expect("classes");
    assert_eq!(list.len(), 1, "one class per teacher: {classes}");
    let class = list[0]["class_id"].as_str().expect("an id").to_owned();
    assert!(
        list[0]["name"].as_str().is_some_and(|n| !n.is_empty()),
        "{classes}"
    );
    assert!(list[0]["students"].as_u64().unwrap_or(0) >= 20, "{classes}");

    let (_, insights) = get(
        &client,
        &base,
        &teacher,
        &format!("api/v1/classes/{class}/insights"),
    )
    .await;
    assert!(!insights["insights"]
        .as_array()
        .expect("insights")
        .is_empty());
    let (_, groups) = get(
        &client,
        &base,
        &teacher,
        &format!("api/v1/classes/{class}/groups"),
    )
    .await;
    assert!(
        !groups["groups"].as_array().expect("groups").is_empty(),
        "{groups}"
    );
    let (_, overview) = get(
        &client,
        &base,
        &teacher,
        &format!("api/v1/classes/{class}/overview"),
    )
    .await;
    let names: Vec<&str> = overview["students"]
        .as_array()
        .expect("students")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert!(
        names.len() >= 20
            && names
                .iter()
                .all(|n| n.contains(' ') && !n.starts_with("stu-"))
    );
    let (_, open) = get(
        &client,
        &base,
        &teacher,
        &format!("api/v1/reviews?class_id={class}"),
    )
    .await;
    assert!(
        !open["reviews"].as_array().expect("reviews").is_empty(),
        "work left to review"
    );
    let (_, decided) = get(
        &client,
        &base,
        &teacher,
        &format!("api/v1/reviews?class_id={class}&status=all"),
    )
    .await;
    assert!(
        decided["reviews"]
            .as_array()
            .expect("reviews")
            .iter()
            .any(|r| r["status"] != "open"),
        "past decisions"
    );
    let (_, plans) = get(
        &client,
        &base,
        &teacher,
        &format!("api/v1/classes/{class}/plans"),
    )
    .await;
    assert!(
        !plans["plans"].as_array().expect("plans").is_empty(),
        "a saved plan"
    );

    // The administrator: the whole district; every behaviour shows somewhere.
    let admin = sign_in(&client, &base, &demo.admin, &demo.log).await;
    let (_, all) = get(&client, &base, &admin, "api/v1/classes").await;
    let all: Vec<String> = all["classes"]
        .as_array()
        .expect("classes")
        .iter()
        .filter_map(|c| c["class_id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(all.len(), 6);
    let mut kinds = BTreeSet::new();
    let mut students = 0;
    let mut ever_stuck = 0;
    for c in &all {
        let (status, o) = get(
            &client,
            &base,
            &admin,
            &format!("api/v1/classes/{c}/overview"),
        )
        .await;
        assert_eq!(status, 200);
        for s in o["students"].as_array().expect("students") {
            students += 1;
            // The class grid shows the flags of the present only; a student's page keeps the
            // episodes that ended as history, so the district's behaviours are counted there.
            let id = s["student_id"].as_str().expect("an id");
            let (status, page) =
                get(&client, &base, &admin, &format!("api/v1/students/{id}")).await;
            assert_eq!(status, 200);
            let flags = page["flags"].as_array().expect("flags");
            for f in flags {
                kinds.insert(f["kind"].as_str().unwrap_or_default().to_owned());
            }
            ever_stuck += usize::from(flags.iter().any(|f| f["kind"] == "wheel_spinning"));
        }
    }
    println!("{backend:?}: {ever_stuck} of {students} students were ever flagged stuck");
    assert!(
        (140..=160).contains(&students),
        "about 150 students: {students}"
    );
    for kind in [
        "rapid_guessing",
        "hint_abuse",
        "gaming",
        "giving_up",
        "idle",
    ] {
        assert!(
            kinds.contains(kind),
            "some {kind} in the district: {kinds:?}"
        );
    }

    // A teacher cannot open another teacher's class.
    let other = all.iter().find(|c| **c != class).expect("another class");
    let (status, body) = get(
        &client,
        &base,
        &teacher,
        &format!("api/v1/classes/{other}/overview"),
    )
    .await;
    assert!(status == 403 || status == 404, "{status} {body}");
}

#[actix_web::test]
async fn the_demo_serves_a_busy_district_on_sqlite() {
    the_demo_serves_a_busy_district(Backend::Sqlite).await;
}

#[actix_web::test]
async fn the_demo_serves_a_busy_district_on_postgres() {
    the_demo_serves_a_busy_district(Backend::Postgres).await;
}

#[test]
fn the_demo_never_touches_huddle_db() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let real = dir.path().join("huddle.db");
    std::fs::write(&real, b"a real database").expect("a file");
    let output = huddle_command()
        .args(["demo", "--bind", "127.0.0.1:0", "--database-url"])
        .arg(format!("sqlite://{}", real.display()))
        .output()
        .expect("running huddle demo");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("never touches huddle.db"));
    assert_eq!(
        std::fs::read(&real).expect("still there"),
        b"a real database"
    );
}

/// What the evidence check found in one demo class.
#[derive(Debug, Default)]
struct TodayFigures {
    insights: usize,
    first_screen: usize,
    open_reviews: usize,
    open_total: usize,
    stale: Vec<String>,
    inconsistent: Vec<String>,
}

/// A skill's status for a student in an overview.
fn status_of<'a>(overview: &'a Value, student: &str, skill: &str) -> Option<&'a Value> {
    overview["students"]
        .as_array()?
        .iter()
        .find(|s| s["student_id"] == student)?["skills"]
        .as_array()?
        .iter()
        .find(|k| k["skill_id"] == skill)
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A class as its teacher sees it: the students with a stuck flag in the class grid (their
/// ids), and those of them whom Today names on the skill they are stuck on (in a stuck
/// insight, or in the struggling insight that tells it).
async fn stuck_in_class(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    class: &str,
) -> (Vec<String>, Vec<String>) {
    let (_, overview) = get(
        client,
        base,
        token,
        &format!("api/v1/classes/{class}/overview"),
    )
    .await;
    let (_, insights) = get(
        client,
        base,
        token,
        &format!("api/v1/classes/{class}/insights"),
    )
    .await;
    let mut stuck = Vec::new();
    for s in overview["students"].as_array().cloned().unwrap_or_default() {
        let id = s["student_id"].as_str().unwrap_or_default();
        for f in s["flags"].as_array().cloned().unwrap_or_default() {
            if f["kind"] == "wheel_spinning" && f["active"] == true {
                stuck.push((
                    id.to_owned(),
                    f["skill_id"].as_str().unwrap_or("").to_owned(),
                ));
            }
        }
    }
    let list = insights["insights"].as_array().cloned().unwrap_or_default();
    let today: Vec<String> = stuck
        .iter()
        .filter(|(student, skill)| {
            list.iter().any(|i| {
                let tells = i["kind"] == "struggling_skill"
                    || (i["kind"] == "behaviour" && i["flag_kind"] == "wheel_spinning");
                tells
                    && i["skill_id"] == skill.as_str()
                    && strings(&i["students"]).contains(student)
            })
        })
        .map(|(student, _)| student.clone())
        .collect();
    (stuck.into_iter().map(|(s, _)| s).collect(), today)
}

/// The flags of a student from their own page (every episode, ended ones included).
async fn student_flags(client: &reqwest::Client, base: &str, token: &str, id: &str) -> Vec<Value> {
    let (_, page) = get(client, base, token, &format!("api/v1/students/{id}")).await;
    page["flags"].as_array().cloned().unwrap_or_default()
}

/// Rules written apart from the server's: an insight or review item is stale when the state
/// it names is over, inconsistent when two things the teacher reads disagree.
async fn check_class(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    class: &str,
) -> TodayFigures {
    let mut f = TodayFigures::default();
    let (_, overview) = get(
        client,
        base,
        token,
        &format!("api/v1/classes/{class}/overview"),
    )
    .await;
    let (_, insights) = get(
        client,
        base,
        token,
        &format!("api/v1/classes/{class}/insights"),
    )
    .await;
    let (_, groups) = get(
        client,
        base,
        token,
        &format!("api/v1/classes/{class}/groups"),
    )
    .await;
    let (_, open) = get(
        client,
        base,
        token,
        &format!("api/v1/reviews?class_id={class}"),
    )
    .await;
    let (_, all) = get(
        client,
        base,
        token,
        &format!("api/v1/reviews?class_id={class}&status=all&limit=1000"),
    )
    .await;
    let list = insights["insights"].as_array().cloned().unwrap_or_default();
    f.insights = list.len();
    f.first_screen = list.iter().filter(|i| i["first_screen"] == true).count();
    f.open_reviews = open["reviews"].as_array().map_or(0, Vec::len);
    f.open_total = open["total"].as_u64().unwrap_or(0) as usize;
    let now = chrono::Utc::now();
    let group_list = groups["groups"].as_array().cloned().unwrap_or_default();
    for i in &list {
        let kind = i["kind"].as_str().unwrap_or("");
        let skill = i["skill_id"].as_str();
        let students = strings(&i["students"]);
        match kind {
            "struggling_skill" => {
                for s in &students {
                    let st = status_of(&overview, s, skill.unwrap_or(""));
                    if st.is_none_or(|k| k["status"] != "struggling") {
                        f.stale
                            .push(format!("{} names {s}, not struggling now", i["headline"]));
                    }
                }
            }
            "behaviour" => {
                let flag_kind = i["flag_kind"].as_str().unwrap_or("");
                for s in &students {
                    let flags = student_flags(client, base, token, s).await;
                    let current = flags.iter().any(|fl| {
                        fl["kind"] == flag_kind
                            && fl["skill_id"].as_str() == skill
                            && fl["until"].as_str().is_none_or(|u| {
                                chrono::DateTime::parse_from_rfc3339(u).is_ok_and(|t| {
                                    now - t.with_timezone(&chrono::Utc)
                                        < chrono::Duration::hours(12)
                                })
                            })
                    });
                    if !current {
                        f.stale
                            .push(format!("{} names {s}: that flag is over", i["headline"]));
                    }
                    if let Some(sk) = skill {
                        if status_of(&overview, s, sk).is_some_and(|k| k["status"] == "mastered") {
                            f.stale.push(format!(
                                "{} names {s}, who has mastered {sk}",
                                i["headline"]
                            ));
                        }
                    }
                }
            }
            _ => {}
        }
        // "Move on from X" beside anything that asks for work on X.
        if i["action"]
            .as_str()
            .is_some_and(|a| a.starts_with("Move on from"))
        {
            let sk = skill.unwrap_or("");
            let work = list
                .iter()
                .any(|o| o["positive"] == false && o["skill_id"] == sk)
                || group_list.iter().any(|g| g["focus_skill_id"] == sk);
            if work {
                f.inconsistent
                    .push(format!("{} beside work on the same skill", i["headline"]));
            }
        }
        // A linked group exists and shares students; the others are accounted for.
        for g in strings(&i["group_ids"]) {
            match group_list.iter().find(|x| x["id"] == g.as_str()) {
                None => f.inconsistent.push(format!(
                    "{} links to a group that is not there",
                    i["headline"]
                )),
                Some(group) => {
                    let members = strings(&group["students"]);
                    if !members.iter().any(|m| students.contains(m)) {
                        f.inconsistent.push(format!(
                            "{} links to a group without its students",
                            i["headline"]
                        ));
                    }
                }
            }
        }
        if kind == "struggling_skill" && students.len() > 1 {
            let in_focus: Vec<&String> = students
                .iter()
                .filter(|s| {
                    group_list.iter().any(|g| {
                        g["focus_skill_id"] == skill.unwrap_or("")
                            && strings(&g["students"]).contains(s)
                    })
                })
                .collect();
            let action = i["action"].as_str().unwrap_or("");
            if !in_focus.is_empty()
                && in_focus.len() < students.len()
                && action.split('.').filter(|p| !p.trim().is_empty()).count() < 2
            {
                f.inconsistent
                    .push(format!("{action}: the others are not accounted for"));
            }
        }
    }
    // Review marks agree with the decisions, everywhere.
    let decided: Vec<(String, String)> = all["reviews"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|r| r["status"] != "open" && r["kind"] == "estimate")
                .map(|r| {
                    (
                        r["student_id"].as_str().unwrap_or("").to_owned(),
                        r["skill_id"].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    for (s, k) in &decided {
        if status_of(&overview, s, k).is_some_and(|x| x["needs_review"] == true) {
            f.inconsistent
                .push(format!("{s} × {k}: decided, yet the grid asks for review"));
        }
    }
    for r in open["reviews"].as_array().cloned().unwrap_or_default() {
        if r["kind"] == "flag" {
            let s = r["student_id"].as_str().unwrap_or("");
            let flags = student_flags(client, base, token, s).await;
            let current = flags.iter().any(|fl| {
                fl["kind"] == r["flag_kind"]
                    && fl["until"].as_str().is_none_or(|u| {
                        chrono::DateTime::parse_from_rfc3339(u).is_ok_and(|t| {
                            now - t.with_timezone(&chrono::Utc) < chrono::Duration::hours(12)
                        })
                    })
            });
            if !current {
                f.stale.push(format!(
                    "review of {s}'s {} flag: it is over",
                    r["flag_kind"]
                ));
            }
        }
    }
    f
}

/// The evidence for Today on the demo district: for every class, how many insights in all and
/// on the first screen, how many open review items, and how many insights or items rules
/// written apart from the server find stale or inconsistent (none may be).
async fn the_demo_today_is_short_current_and_consistent(backend: Backend) {
    let db = TestDatabase::create(backend);
    let demo = start_demo(&url_of(&db));
    let base = demo.url.clone();
    let client = reqwest::Client::new();
    let admin = sign_in(&client, &base, &demo.admin, &demo.log).await;
    let (_, all) = get(&client, &base, &admin, "api/v1/classes").await;
    let classes = strings(
        &all["classes"]
            .as_array()
            .map(|a| a.iter().map(|c| c["class_id"].clone()).collect::<Vec<_>>())
            .map(Value::from)
            .unwrap_or_default(),
    );
    assert!(!classes.is_empty());
    let mut problems = Vec::new();
    for c in &classes {
        let f = check_class(&client, &base, &admin, c).await;
        println!(
            "{backend:?} {c}: {} insights, {} on the first screen, {} open review items shown ({} open in all), {} stale, {} inconsistent",
            f.insights,
            f.first_screen,
            f.open_reviews,
            f.open_total,
            f.stale.len(),
            f.inconsistent.len()
        );
        assert!(f.insights <= 15, "{c}: {} insights", f.insights);
        assert!(f.first_screen <= 5, "{c}");
        assert!(f.open_reviews <= 5, "{c}: {} open items", f.open_reviews);
        problems.extend(f.stale.iter().map(|s| format!("{c} stale: {s}")));
        problems.extend(
            f.inconsistent
                .iter()
                .map(|s| format!("{c} inconsistent: {s}")),
        );
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // Each teacher finds a student stuck in their class grid. Today names them where they
    // rank among its 15 notes (or in the struggling note on their skill); elsewhere they are
    // among the notes left to the class page. The demo's district (its default size and seed)
    // has one teacher per class.
    let district = huddle::sim::district::District::generate(150, 2026);
    let emails: Vec<String> = district.teachers.iter().map(|t| t.email.clone()).collect();
    assert_eq!(emails.len(), classes.len());
    assert_eq!(emails[0], demo.teacher.0);
    let mut on_today = 0;
    for email in &emails {
        let token = sign_in(
            &client,
            &base,
            &(email.clone(), demo.teacher.1.clone()),
            &demo.log,
        )
        .await;
        let (_, mine) = get(&client, &base, &token, "api/v1/classes").await;
        let class = mine["classes"][0]["class_id"].as_str().unwrap_or_default();
        let (stuck, today) = stuck_in_class(&client, &base, &token, class).await;
        println!(
            "{backend:?} {class}: {} students stuck in the grid, {} of them named on Today",
            stuck.len(),
            today.len()
        );
        assert!(!stuck.is_empty(), "{class} ({email}): nobody stuck");
        on_today += usize::from(!today.is_empty());
    }
    assert!(on_today > 0, "Today names no stuck student in any class");
}

#[actix_web::test]
async fn the_demo_today_is_short_current_and_consistent_on_sqlite() {
    the_demo_today_is_short_current_and_consistent(Backend::Sqlite).await;
}

#[actix_web::test]
async fn the_demo_today_is_short_current_and_consistent_on_postgres() {
    the_demo_today_is_short_current_and_consistent(Backend::Postgres).await;
}
