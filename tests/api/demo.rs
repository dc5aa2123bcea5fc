//! `huddle demo`: on port 0 it prints the real URL and two accounts; they sign in and see a
//! busy district (classes with names, insights, groups, open and decided review items, saved
//! plans, every kind of behaviour flag), and a teacher sees only their own class. On SQLite
//! and on PostgreSQL. It refuses `huddle.db`.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
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
                    let mut err = String::new();
                    if let Some(mut e) = child.stderr.take() {
                        let _ = std::io::Read::read_to_string(&mut e, &mut err);
                    }
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
    }
}

async fn sign_in(
    client: &reqwest::Client,
    base: &str,
    (email, password): &(String, String),
) -> String {
    let r = client
        .post(format!("{base}api/v1/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .expect("signing in");
    assert_eq!(r.status(), 200, "the printed credentials sign in ({email})");
    let body: Value = r.json().await.expect("JSON");
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
    let teacher = sign_in(&client, &base, &demo.teacher).await;
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
    let admin = sign_in(&client, &base, &demo.admin).await;
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
            for f in s["flags"].as_array().expect("flags") {
                kinds.insert(f["kind"].as_str().unwrap_or_default().to_owned());
            }
        }
    }
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
