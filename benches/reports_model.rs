//! Report benchmark (issue 8, part B): `GET /api/v1/admin/model-health` and
//! `GET /api/v1/admin/fairness` over a district of 1,000,000 events (or more) stored through
//! real ingest.
//!
//!     cargo bench --bench reports_model -- [--events 1000000] [--requests 50] [--dir PATH]
//!
//! It starts the release `huddle serve` on a fresh SQLite file (or `--database-url`), posts
//! generated events (100 classes of 30 students, 50 skills of 20 items, times increasing over
//! 120 days, so no event is late) in batches of 5,000 from 2 clients, uploads a roster that
//! puts the students in 4 groups, restarts the server, then times `--requests` sequential
//! requests of each report (after 3 warm-up requests) and prints the median and p99.
//! With `--dir`, the database is kept there and reused (ingest continues where it stopped).

#[path = "support/server.rs"]
mod server;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use server::start_server;

const CLASSES: usize = 100;
const PER_CLASS: usize = 30;
const SKILLS: usize = 50;
const ITEMS: usize = 20;
const BATCH: usize = 5_000;
const SECRET: &str = "bench-secret-bench-secret-bench-secret-0123";
const SPAN_DAYS: i64 = 120;

struct Options {
    events: usize,
    requests: usize,
    dir: Option<PathBuf>,
    database_url: Option<String>,
}

fn options() -> Options {
    let mut o = Options {
        events: 1_000_000,
        requests: 50,
        dir: None,
        database_url: None,
    };
    let args: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < args.len() {
        let value = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--events" => (o.events, i) = (value.parse().expect("--events N"), i + 1),
            "--requests" => (o.requests, i) = (value.parse().expect("--requests N"), i + 1),
            "--dir" => (o.dir, i) = (Some(PathBuf::from(value)), i + 1),
            "--database-url" => (o.database_url, i) = (Some(value), i + 1),
            _ => {} // cargo bench passes --bench
        }
        i += 1;
    }
    o
}

/// Batch `b`: deterministic; event `n` at `t0 + n × step_us` microseconds. Each student has
/// an ability, each skill a difficulty; first attempts at an item only (items are revisited,
/// which the evidence rules ignore, as in real use).
fn batch(b: usize, step_us: i64, t0: i64) -> Vec<u8> {
    let mut rng = StdRng::seed_from_u64(b as u64);
    let mut events = Vec::with_capacity(BATCH);
    for k in 0..BATCH {
        let n = b * BATCH + k;
        let at = t0 + (n as i64 * step_us) / 1000;
        let class = rng.random_range(0..CLASSES);
        let student = class * PER_CLASS + rng.random_range(0..PER_CLASS);
        let skill = rng.random_range(0..SKILLS);
        let item = rng.random_range(0..ITEMS);
        let p = 0.25 + 0.7 * ((student * 7 + skill * 13) % 100) as f64 / 100.0;
        let outcome = if rng.random_bool(p) {
            "correct"
        } else {
            "incorrect"
        };
        let day = at / 86_400_000;
        let uuid = uuid::Uuid::from_u128(rng.random::<u128>() | 1);
        events.push(serde_json::json!({
            "event_id": uuid.to_string(),
            "occurred_at": chrono::DateTime::from_timestamp_millis(at).unwrap_or_default()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "student_id": format!("stu-{student:05}"),
            "class_id": format!("class-{class:03}"),
            "skill_id": format!("domain{}.skill-{skill:02}", skill / 10),
            "item_id": format!("item-{skill:02}-{item:02}-{}", day % 7),
            "outcome": outcome,
            "response_ms": rng.random_range(1_500..60_000),
            "session_id": format!("s{student}-{day}"),
        }));
    }
    serde_json::to_vec(&serde_json::json!({ "events": events })).expect("a batch")
}

fn ingest(port: u16, token: &str, from: usize, to: usize, step_us: i64, t0: i64) -> f64 {
    let started = Instant::now();
    let next = AtomicUsize::new(from);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                let client = reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(300))
                    .build()
                    .expect("client");
                loop {
                    let b = next.fetch_add(1, Ordering::Relaxed);
                    if b >= to {
                        break;
                    }
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
            });
        }
    });
    started.elapsed().as_secs_f64()
}

fn roster(port: u16, admin: &str) {
    let students: Vec<serde_json::Value> = (0..CLASSES * PER_CLASS)
        .map(|s| {
            let group = ["north", "south", "east", "west"][s % 4];
            serde_json::json!({"student_id": format!("stu-{s:05}"), "group": group})
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

/// Median and p99 of `n` sequential requests, in ms, and the body size.
fn time(port: u16, admin: &str, path: &str, n: usize) -> (f64, f64, usize) {
    let client = reqwest::blocking::Client::new();
    let get = || {
        let r = client
            .get(format!("http://127.0.0.1:{port}{path}"))
            .bearer_auth(admin)
            .send()
            .expect("GET");
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.bytes().expect("body").len()
    };
    for _ in 0..3 {
        get();
    }
    let mut times = Vec::with_capacity(n);
    let mut bytes = 0;
    for _ in 0..n.max(1) {
        let t = Instant::now();
        bytes = get();
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    let q = |p: f64| times[((times.len() as f64 - 1.0) * p).round() as usize];
    (q(0.5), q(0.99), bytes)
}

fn main() {
    let o = options();
    let temp = tempfile::tempdir().expect("a temporary directory");
    let dir = o.dir.clone().unwrap_or_else(|| temp.path().to_owned());
    std::fs::create_dir_all(&dir).expect("the directory");
    let secret = dir.join("secret");
    std::fs::write(&secret, SECRET).expect("secret");
    let keys = huddle::auth::Keys::new(&secrecy::SecretString::from(SECRET.to_owned()));
    let claims = |role| {
        huddle::auth::Claims::new("bench", role, "district-bench", Duration::from_secs(86_400))
    };
    let tool = keys.sign(&claims(huddle::auth::Role::Tool)).expect("token");
    let admin = keys
        .sign(&claims(huddle::auth::Role::Admin))
        .expect("token");
    let url = o
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.join("bench.db").display()));
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
    let done_file = dir.join("batches");
    let done: usize = std::fs::read_to_string(&done_file)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    let to = o.events / BATCH;
    let server = start_server(&url, &secret, &["--refit-interval", "0s"]);
    let ingest_s = if to > done {
        let s = ingest(server.port, &tool, done, to, step_us, t0);
        std::fs::write(&done_file, to.to_string()).expect("progress");
        s
    } else {
        0.0
    };
    roster(server.port, &admin);
    drop(server);
    let server = start_server(&url, &secret, &["--refit-interval", "0s"]);
    println!(
        "nproc {}; {} events stored ({} classes × {} students, {} skills, 4 groups); ingest {:.0} s; {} sequential requests each",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        to.max(done) * BATCH,
        CLASSES,
        PER_CLASS,
        SKILLS,
        ingest_s,
        o.requests
    );
    println!("| report | median ms | p99 ms | body bytes |");
    println!("| --- | --- | --- | --- |");
    for path in [
        "/api/v1/admin/model-health",
        "/api/v1/admin/model-health?weeks=52",
        "/api/v1/admin/fairness",
        "/api/v1/admin/model-health?format=csv&section=weeks",
    ] {
        let (p50, p99, bytes) = time(server.port, &admin, path, o.requests);
        println!("| `{path}` | {p50:.1} | {p99:.1} | {bytes} |");
    }
}
