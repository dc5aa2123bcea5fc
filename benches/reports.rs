//! Report benchmark: the service time of the administrators' reports (adoption, data
//! quality, model health, fairness) over a district of 1,000,000 or 10,000,000 events stored
//! through real ingest.
//!
//!     cargo bench --bench reports -- [--events 1000000] [--requests 50] [--dir PATH]
//!
//! It starts the release `huddle serve` on a fresh SQLite file (or continues the one in
//! `--dir`), puts 100 classes into 10 schools and the students into 4 groups with a roster upload, posts generated events
//! (100 classes of 30 students, 50 skills; times spread over 120 days, so 18 ISO weeks; a few
//! refused and re-sent events in every batch) in batches of 5,000 from one client, restarts the
//! server, then asks each report for the whole span `--requests` times, one request at a
//! time (service time, not throughput), and prints the median, p99 and max.

#[path = "support/server.rs"]
mod server;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use server::start_server;

const CLASSES: usize = 100;
const PER_CLASS: usize = 30;
const SCHOOLS: usize = 10;
const SKILLS: usize = 50;
const ITEMS: usize = 20;
/// New events per batch; with 10 refused and 20 re-sent, 5,000 in all (the batch limit).
const BATCH: usize = 4_970;
const SECRET: &str = "bench-secret-bench-secret-bench-secret-0123";
const SPAN_DAYS: i64 = 120;
const ORG: &str = "district-bench";

struct Options {
    events: usize,
    requests: usize,
    dir: Option<PathBuf>,
}

fn options() -> Options {
    let mut o = Options {
        events: 1_000_000,
        requests: 50,
        dir: None,
    };
    let args: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < args.len() {
        let value = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--events" => (o.events, i) = (value.parse().expect("--events N"), i + 1),
            "--requests" => (o.requests, i) = (value.parse().expect("--requests N"), i + 1),
            "--dir" => (o.dir, i) = (Some(PathBuf::from(value)), i + 1),
            _ => {} // cargo bench passes --bench
        }
        i += 1;
    }
    o
}

/// Batch `b`: deterministic; event `n` at `t0 + n × step_us` µs (none late by design), plus
/// 10 events with a bad outcome and, from the second batch on, 20 re-sent from the batch before.
fn batch(b: usize, step_us: i64, t0: i64) -> Vec<u8> {
    let make =
        |b: usize| {
            let mut rng = StdRng::seed_from_u64(b as u64);
            (0..BATCH)
            .map(|k| {
                let n = b * BATCH + k;
                let at = t0 + (n as i64 * step_us) / 1000;
                let class = rng.random_range(0..CLASSES);
                let student = class * PER_CLASS + rng.random_range(0..PER_CLASS);
                let skill = rng.random_range(0..SKILLS);
                let item = rng.random_range(0..ITEMS);
                let p = 0.25 + 0.7 * ((student * 7 + skill * 13) % 100) as f64 / 100.0;
                let outcome = if rng.random_bool(p) { "correct" } else { "incorrect" };
                let day = at / 86_400_000;
                let uuid = uuid::Uuid::from_u128(rng.random::<u128>() | 1);
                serde_json::json!({
                    "event_id": uuid.to_string(),
                    "occurred_at": chrono::DateTime::from_timestamp_millis(at).unwrap_or_default()
                        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    "student_id": format!("stu-{student:05}"),
                    "class_id": format!("class-{class:03}"),
                    "skill_id": format!("domain{}.skill-{skill:02}", skill / 10),
                    "item_id": format!("item-{skill:02}-{item:02}"),
                    "outcome": outcome,
                    "response_ms": rng.random_range(1_500..60_000),
                    "session_id": format!("s{student}-{day}"),
                    "tool": format!("tool-{}", skill % 3),
                })
            })
            .collect::<Vec<_>>()
        };
    let mut events = make(b);
    for k in 0..10 {
        let mut bad = events[k].clone();
        bad["outcome"] = "maybe".into();
        bad["event_id"] = uuid::Uuid::from_u128((b as u128) << 32 | k as u128 | 1 << 100)
            .to_string()
            .into();
        events.push(bad);
    }
    if b > 0 {
        events.extend(make(b - 1).into_iter().take(20));
    } else {
        events.extend(make(b).into_iter().skip(BATCH - 20));
    }
    serde_json::to_vec(&serde_json::json!({ "events": events })).expect("a batch")
}

/// One client, posting in time order: the batches draw students at random from the whole
/// district, so with two clients a batch that commits before its predecessor would make nearly
/// every student's events late and replay their histories (the overview benchmark avoids that
/// by giving each client its own classes).
fn ingest(port: u16, token: &str, from: usize, to: usize, step_us: i64, t0: i64) -> f64 {
    let started = Instant::now();
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(300))
        .build()
        .expect("client");
    for b in from..to {
        let r = client
            .post(format!("http://127.0.0.1:{port}/api/v1/events"))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(batch(b, step_us, t0))
            .send()
            .expect("post a batch");
        assert!(r.status().is_success(), "{}", r.status());
        if b % 200 == 0 {
            eprintln!(
                "  batch {b} of {to} ({:.0} s)",
                started.elapsed().as_secs_f64()
            );
        }
    }
    started.elapsed().as_secs_f64()
}

/// Every student in their class, the classes in schools, the students in 4 groups (for the
/// fairness report).
fn roster(port: u16, admin: &str) {
    let students: Vec<_> = (0..CLASSES * PER_CLASS)
        .map(|s| {
            let c = s / PER_CLASS;
            let group = ["north", "south", "east", "west"][s % 4];
            serde_json::json!({
                "student_id": format!("stu-{s:05}"),
                "class_id": format!("class-{c:03}"),
                "school_id": format!("school-{:02}", c % SCHOOLS),
                "school_name": format!("School {}", c % SCHOOLS),
                "group": group,
            })
        })
        .collect();
    let r = reqwest::blocking::Client::new()
        .put(format!("http://127.0.0.1:{port}/api/v1/admin/roster"))
        .bearer_auth(admin)
        .json(&serde_json::json!({ "students": students }))
        .send()
        .expect("roster");
    assert!(r.status().is_success(), "roster: {}", r.status());
}

/// `n` requests one after the other: (median, p99, max) in ms and the body size.
fn measure(port: u16, token: &str, path: &str, n: usize) -> (f64, f64, f64, usize) {
    let client = reqwest::blocking::Client::new();
    let url = format!("http://127.0.0.1:{port}{path}");
    let get = || {
        let r = client.get(&url).bearer_auth(token).send().expect("GET");
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.bytes().expect("body").len()
    };
    let bytes = get(); // warm-up
    let mut times: Vec<f64> = (0..n)
        .map(|_| {
            let t = Instant::now();
            get();
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let q = |p: f64| times[((times.len() as f64 - 1.0) * p).round() as usize];
    (q(0.5), q(0.99), q(1.0), bytes)
}

fn main() {
    let o = options();
    let temp = tempfile::tempdir().expect("a temporary directory");
    let dir = o.dir.clone().unwrap_or_else(|| temp.path().to_owned());
    std::fs::create_dir_all(&dir).expect("the directory");
    let secret = dir.join("secret");
    std::fs::write(&secret, SECRET).expect("secret");
    let keys = huddle::auth::Keys::new(&secrecy::SecretString::from(SECRET.to_owned()));
    let claims = |role| huddle::auth::Claims::new("bench", role, ORG, Duration::from_secs(86_400));
    let tool = keys.sign(&claims(huddle::auth::Role::Tool)).expect("token");
    let admin = keys
        .sign(&claims(huddle::auth::Role::Admin))
        .expect("token");
    let url = format!("sqlite://{}", dir.join("bench.db").display());
    let t0_file = dir.join("timeline");
    let (t0, step_us): (i64, i64) = std::fs::read_to_string(&t0_file)
        .ok()
        .and_then(|s| {
            let (a, b) = s.trim().split_once(' ')?;
            Some((a.parse().ok()?, b.parse().ok()?))
        })
        .unwrap_or_else(|| {
            let t = chrono::Utc::now().timestamp_millis() - (SPAN_DAYS + 1) * 86_400_000;
            let step = SPAN_DAYS * 86_400_000_000 / o.events.max(1) as i64;
            std::fs::write(&t0_file, format!("{t} {step}")).expect("timeline");
            (t, step)
        });
    // The timeline spreads the events asked for the first time over the span: more events
    // later would run past today and be refused as future-dated.
    let planned = SPAN_DAYS * 86_400_000_000 / step_us.max(1);
    assert!(
        o.events as i64 <= planned + BATCH as i64,
        "{} was filled for {planned} events: use a new --dir for more",
        dir.display()
    );
    let done_file = dir.join("batches");
    let done: usize = std::fs::read_to_string(&done_file)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);

    let server = start_server(&url, &secret, &[]);
    if done == 0 {
        roster(server.port, &admin);
    }
    let to = o.events.div_ceil(BATCH);
    let ingest_s = if to > done {
        let s = ingest(server.port, &tool, done, to, step_us, t0);
        std::fs::write(&done_file, to.to_string()).expect("progress");
        s
    } else {
        0.0
    };
    drop(server);
    // A fresh server: the measured reads start from what is on disk.
    let server = start_server(&url, &secret, &[]);
    let today = chrono::Utc::now().date_naive();
    let from = today - chrono::Days::new(SPAN_DAYS as u64 + 2);
    let range = format!("from={from}&to={today}");
    println!(
        "nproc {}; {} events stored ({} batches, ingest {:.0} s); {} classes in {} schools, {} students, {} skills; {} requests each, one at a time",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        to.max(done) * BATCH,
        to.max(done),
        ingest_s,
        CLASSES,
        SCHOOLS,
        CLASSES * PER_CLASS,
        SKILLS,
        o.requests
    );
    println!("| report | median ms | p99 ms | max ms | body bytes |");
    println!("| --- | --- | --- | --- | --- |");
    for (name, path) in [
        ("adoption (JSON)", format!("/api/v1/admin/adoption?{range}")),
        (
            "adoption classes (CSV)",
            format!("/api/v1/admin/adoption?{range}&format=csv&section=classes"),
        ),
        (
            "data quality (JSON)",
            format!("/api/v1/admin/data-quality?{range}"),
        ),
        (
            "data quality tools (CSV)",
            format!("/api/v1/admin/data-quality?{range}&format=csv"),
        ),
        ("model health (JSON)", "/api/v1/admin/model-health".into()),
        (
            "model health, 52 weeks (JSON)",
            "/api/v1/admin/model-health?weeks=52".into(),
        ),
        ("fairness (JSON)", "/api/v1/admin/fairness".into()),
    ] {
        let (p50, p99, max, bytes) = measure(server.port, &admin, &path, o.requests);
        println!("| {name} | {p50:.1} | {p99:.1} | {max:.1} | {bytes} |");
    }
}
