//! Read benchmark: the class overview under concurrent load, with 1,000,000 (then
//! optionally 10,000,000) events stored through real ingest.
//!
//!     cargo bench --bench overview -- [--steps 1000000,10000000] [--connections 32]
//!                                     [--seconds 20] [--dir PATH] [--path /api/v1/…]
//!
//! It starts the release `huddle serve` on a fresh SQLite file, posts generated events
//! (100 classes of 30 students, 50 skills of 20 items each) in batches of 5,000 from 2
//! clients until the first step's count is stored, then
//! measures `GET /api/v1/classes/class-000/overview` (30 students × 50 skills) from
//! `--connections` concurrent keep-alive connections for `--seconds`, closed loop, and prints
//! p50/p90/p99/max and requests/s; then ingests up to the next step and measures again.
//! With `--dir`, the database is kept there and reused: a later run with a larger step
//! continues it in time order only if the first run's largest step was at least as large
//! (events are spaced so that the largest step spans 120 days).
//!
//! The events are lessons, as a tool sends them: a batch holds 10 classes' lessons of 500
//! answers (each of 30 students answering about 17 items of the lesson's 5 skills, 4 s apart
//! across the class). Each client owns half the classes and posts their lessons in time order,
//! so no student's events arrive late (a late event replays the student's history: random
//! students in concurrent batches would make most events late and ingest at ~3,900 events/s).

#[path = "support/server.rs"]
mod server;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
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
/// The generated history spans this many days before the start of the run.
const SPAN_DAYS: i64 = 120;

struct Options {
    steps: Vec<usize>,
    connections: usize,
    seconds: u64,
    dir: Option<PathBuf>,
    /// The read measured (another class page can be measured the same way).
    path: String,
}

fn options() -> Options {
    let mut o = Options {
        steps: vec![1_000_000],
        connections: 32,
        seconds: 20,
        dir: None,
        path: "/api/v1/classes/class-000/overview".to_owned(),
    };
    let args: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < args.len() {
        let value = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--steps" => {
                o.steps = value
                    .split(',')
                    .map(|s| s.trim().parse().expect("--steps N,N"))
                    .collect();
                i += 1;
            }
            "--connections" => {
                (o.connections, i) = (value.parse().expect("--connections N"), i + 1)
            }
            "--seconds" => (o.seconds, i) = (value.parse().expect("--seconds N"), i + 1),
            "--dir" => (o.dir, i) = (Some(PathBuf::from(value)), i + 1),
            "--path" => (o.path, i) = (value, i + 1),
            _ => {} // cargo bench passes --bench
        }
        i += 1;
    }
    o
}

/// Events of one lesson: each of the class's 30 students answers in turn, one answer every
/// 4 s across the class (about 17 answers a student over half an hour).
const LESSON: usize = 500;
/// Lessons per batch: a batch is what a tool sends for 10 classes' lessons.
const LESSONS_PER_BATCH: usize = BATCH / LESSON;
/// Skills a lesson practises: consecutive ones, so a class's 10 lessons go through all 50.
const SKILLS_PER_LESSON: usize = 5;
/// The ingest clients; each owns `CLASSES / CLIENTS` classes and posts their lessons in time
/// order, so no student's events ever arrive out of order (no late-event replays).
const CLIENTS: usize = 2;

/// Batch `b` (deterministic): client `b % 2`'s batch `b / 2`, i.e. its lessons
/// `10·(b/2) .. 10·(b/2) + 10`. The client's lesson `l` is given by class
/// `client·50 + l % 50` and starts at `t0 + l × lesson_ms`; events within a lesson are 4 s apart.
fn batch(b: usize, lesson_ms: i64, t0: i64) -> Vec<u8> {
    let mut rng = StdRng::seed_from_u64(b as u64);
    let (client, k) = (b % CLIENTS, b / CLIENTS);
    let own = CLASSES / CLIENTS;
    let mut events = Vec::with_capacity(BATCH);
    for l in k * LESSONS_PER_BATCH..(k + 1) * LESSONS_PER_BATCH {
        let class = client * own + l % own;
        let nth = l / own; // the class's nth lesson
        let start = t0 + l as i64 * lesson_ms;
        for j in 0..LESSON {
            let at = start + j as i64 * 4_000;
            let student = class * PER_CLASS + j % PER_CLASS;
            let skill = (nth * SKILLS_PER_LESSON + rng.random_range(0..SKILLS_PER_LESSON)) % SKILLS;
            let item = rng.random_range(0..ITEMS);
            // Ability by student and difficulty by skill: a spread of statuses.
            let p = 0.25 + 0.7 * ((student * 7 + skill * 13) % 100) as f64 / 100.0;
            let outcome = if rng.random_bool(p) {
                "correct"
            } else {
                "incorrect"
            };
            let uuid = uuid::Uuid::from_u128(rng.random::<u128>() | 1);
            events.push(serde_json::json!({
                "event_id": uuid.to_string(),
                "occurred_at": chrono::DateTime::from_timestamp_millis(at).unwrap_or_default()
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "student_id": format!("stu-{student:05}"),
                "class_id": format!("class-{class:03}"),
                "skill_id": format!("domain{}.skill-{skill:02}", skill / 10),
                "skill_name": format!("Skill number {skill}"),
                "item_id": format!("item-{skill:02}-{item:02}"),
                "outcome": outcome,
                "response_ms": rng.random_range(1_500..60_000),
                "session_id": format!("s{student}-{l}"),
            }));
        }
    }
    serde_json::to_vec(&serde_json::json!({ "events": events })).expect("a batch")
}

/// Posts batches `from..to` (both even), each client its own in order; returns the seconds.
fn ingest(port: u16, token: &str, from: usize, to: usize, lesson_ms: i64, t0: i64) -> f64 {
    let started = Instant::now();
    std::thread::scope(|s| {
        for client in 0..CLIENTS {
            s.spawn(move || {
                let http = reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(300))
                    .build()
                    .expect("client");
                for b in (from + client..to).step_by(CLIENTS) {
                    let r = http
                        .post(format!("http://127.0.0.1:{port}/api/v1/events"))
                        .bearer_auth(token)
                        .header("content-type", "application/json")
                        .body(batch(b, lesson_ms, t0))
                        .send()
                        .expect("post a batch");
                    assert!(r.status().is_success(), "{}", r.status());
                    let answer: serde_json::Value = r.json().expect("a JSON answer");
                    assert_eq!(answer["accepted"], BATCH, "every event accepted: {answer}");
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

struct Figures {
    requests: usize,
    rps: f64,
    p50: f64,
    p90: f64,
    p99: f64,
    max: f64,
    bytes: usize,
}

/// Closed-loop load: `connections` tasks, each sending the next request when the last answered.
fn load(port: u16, token: &str, path: &str, connections: usize, seconds: u64) -> Figures {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(connections)
            .build()
            .expect("client");
        let url = format!("http://127.0.0.1:{port}{path}");
        let bytes = client
            .get(&url)
            .bearer_auth(token)
            .send()
            .await
            .expect("warm-up")
            .bytes()
            .await
            .expect("body")
            .len();
        // Warm-up: every connection opened, caches warm.
        let stop = Arc::new(AtomicBool::new(false));
        let run = |measure: bool, secs: u64| {
            let stop = stop.clone();
            let client = client.clone();
            let url = url.clone();
            let token = token.to_owned();
            // Only the overview is byte-for-byte the same (other reads carry their own time).
            let expected = path.ends_with("/overview").then_some(bytes);
            async move {
                stop.store(false, Ordering::Relaxed);
                let tasks: Vec<_> = (0..connections)
                    .map(|_| {
                        let (client, url, token, stop) =
                            (client.clone(), url.clone(), token.clone(), stop.clone());
                        tokio::spawn(async move {
                            let mut times = Vec::new();
                            while !stop.load(Ordering::Relaxed) {
                                let t = Instant::now();
                                let r = client.get(&url).bearer_auth(&token).send().await;
                                let ok = match r {
                                    Ok(r) => {
                                        r.status().is_success()
                                            && r.bytes().await.is_ok_and(|b| {
                                                expected.is_none_or(|e| b.len() == e)
                                            })
                                    }
                                    Err(_) => false,
                                };
                                assert!(ok, "a failed request, or a body of another size");
                                times.push(t.elapsed().as_secs_f64() * 1000.0);
                            }
                            times
                        })
                    })
                    .collect();
                tokio::time::sleep(Duration::from_secs(secs)).await;
                stop.store(true, Ordering::Relaxed);
                let mut all = Vec::new();
                for t in tasks {
                    all.extend(t.await.expect("a load task"));
                }
                let _ = measure;
                all
            }
        };
        run(false, 3).await;
        let started = Instant::now();
        let mut times = run(true, seconds).await;
        let elapsed = started.elapsed().as_secs_f64();
        times.sort_by(f64::total_cmp);
        let q = |p: f64| times[((times.len() as f64 - 1.0) * p).round() as usize];
        Figures {
            requests: times.len(),
            rps: times.len() as f64 / elapsed,
            p50: q(0.50),
            p90: q(0.90),
            p99: q(0.99),
            max: q(1.0),
            bytes,
        }
    })
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
    let url = format!("sqlite://{}", dir.join("bench.db").display());
    let total = *o.steps.iter().max().unwrap_or(&1_000_000);
    // One fixed start and spacing for the whole run, the largest step spanning SPAN_DAYS
    // (kept beside the database, so a reused one is continued in time order).
    let t0_file = dir.join("timeline");
    let (t0, lesson_ms): (i64, i64) = std::fs::read_to_string(&t0_file)
        .ok()
        .and_then(|s| {
            let (a, b) = s.trim().split_once(' ')?;
            Some((a.parse().ok()?, b.parse().ok()?))
        })
        .unwrap_or_else(|| {
            let t = chrono::Utc::now().timestamp_millis() - (SPAN_DAYS + 1) * 86_400_000;
            // Each client gives total / LESSON / CLIENTS lessons, one after the other.
            let step = SPAN_DAYS * 86_400_000 / (total / LESSON / CLIENTS).max(1) as i64;
            std::fs::write(&t0_file, format!("{t} {step}")).expect("timeline");
            (t, step)
        });
    let done_file = dir.join("batches");
    let mut done: usize = std::fs::read_to_string(&done_file)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    println!(
        "nproc {}; {} classes × {} students, {} skills; load: {} connections, {} s",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        CLASSES,
        PER_CLASS,
        SKILLS,
        o.connections,
        o.seconds
    );
    println!("| events stored | ingest s | requests | req/s | p50 ms | p90 ms | p99 ms | max ms | body bytes |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for &step in &o.steps {
        let server = start_server(&url, &secret, &[]);
        // Whole rounds of the two clients' batches.
        let to = step / (BATCH * CLIENTS) * CLIENTS;
        let ingest_s = if to > done {
            let s = ingest(server.port, &tool, done, to, lesson_ms, t0);
            done = to;
            std::fs::write(&done_file, done.to_string()).expect("progress");
            s
        } else {
            0.0
        };
        // A fresh server: the measured reads start from what is on disk.
        drop(server);
        let server = start_server(&url, &secret, &[]);
        let f = load(server.port, &admin, &o.path, o.connections, o.seconds);
        println!(
            "| {} | {:.0} | {} | {:.0} | {:.1} | {:.1} | {:.1} | {:.1} | {} |",
            done * BATCH,
            ingest_s,
            f.requests,
            f.rps,
            f.p50,
            f.p90,
            f.p99,
            f.max,
            f.bytes
        );
    }
}
