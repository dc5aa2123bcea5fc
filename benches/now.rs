//! The live view under a school district's lesson load (docs/performance.md, "Live view
//! (Now)"): `--classes` classes of `--students` students in a sitting, each student answering
//! every `--every-s` seconds (one POST per answer, as tablets send them), one Now stream open
//! per class, each held by its own teacher.
//!
//!     cargo bench --bench now -- [--backend sqlite|postgres] [--classes 100] [--students 30]
//!                                [--every-s 20] [--seconds 60] [--saturate-s 15] [--runs 1]
//!
//! Measured, on the release `huddle serve`:
//! - the time from an answer's acknowledgement (its POST's 200) to the arrival of the first
//!   stream frame that shows it (p50, p95, p99) — an upper bound of the server's time from
//!   acknowledgement to stream write, as it includes the client's reading;
//! - the answers per second actually posted, the server's CPU over the steady phase and its
//!   peak memory;
//! - the maximum ingest throughput (two clients posting batches of 500 answers of the same
//!   classes as fast as the server takes them) with the streams open and, on a fresh server
//!   and database seeded alike, with none; their ratio (target ≥ 0.9). Runs alternate which
//!   of the two is measured first.
//!
//! PostgreSQL: `HUDDLE_BENCH_POSTGRES_URL` (default postgres://postgres@127.0.0.1:5432/postgres);
//! a database is created for each measurement and dropped afterwards.

#[path = "support/measure.rs"]
mod measure;
#[path = "support/server.rs"]
mod server;

use measure::{cpu_seconds_of, drop_database, fresh_database, peak_rss_mb};

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use huddle::auth::{Claims, Keys, Role};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use server::{start_server, Server};

const ORG: &str = "bench-district";
const SECRET: &str = "now-bench-secret-now-bench-secret-0123456789";

struct Options {
    backend: String,
    classes: usize,
    students: usize,
    every: Duration,
    seconds: u64,
    saturate: Duration,
    runs: usize,
}

fn options() -> Options {
    let mut o = Options {
        backend: "sqlite".into(),
        classes: 100,
        students: 30,
        every: Duration::from_secs(20),
        seconds: 60,
        saturate: Duration::from_secs(15),
        runs: 1,
    };
    let args: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < args.len() {
        let value = args.get(i + 1).cloned().unwrap_or_default();
        let number = |what: &str| -> u64 { value.parse().unwrap_or_else(|_| panic!("{what} N")) };
        match args[i].as_str() {
            "--backend" => o.backend = value.clone(),
            "--classes" => o.classes = number("--classes") as usize,
            "--students" => o.students = number("--students") as usize,
            "--every-s" => o.every = Duration::from_secs(number("--every-s")),
            "--seconds" => o.seconds = number("--seconds"),
            "--saturate-s" => o.saturate = Duration::from_secs(number("--saturate-s")),
            "--runs" => o.runs = number("--runs") as usize,
            _ => {
                i += 1; // cargo bench passes --bench
                continue;
            }
        }
        i += 2;
    }
    o
}

fn class_id(c: usize) -> String {
    format!("class-{c:03}")
}

fn student_id(c: usize, s: usize) -> String {
    format!("stu-{c:03}-{s:02}")
}

/// One answer of student `s` of class `c`, now (or `ago` before).
fn answer(rng: &mut StdRng, c: usize, s: usize, ago: Duration) -> Value {
    let at = Utc::now() - chrono::Duration::from_std(ago).unwrap_or_default();
    json!({
        "event_id": uuid::Uuid::new_v4().to_string(),
        "occurred_at": at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "student_id": student_id(c, s),
        "class_id": class_id(c),
        "skill_id": format!("fractions.skill-{}", s % 4),
        "item_id": format!("item-{}", rng.random_range(0..200)),
        "outcome": (if rng.random_bool(0.7) { "correct" } else { "incorrect" }),
        "response_ms": rng.random_range(5_000..25_000),
    })
}

fn post(client: &reqwest::blocking::Client, port: u16, token: &str, events: &[Value]) -> usize {
    let r = client
        .post(format!("http://127.0.0.1:{port}/api/v1/events"))
        .bearer_auth(token)
        .json(&json!({ "events": events }))
        .send()
        .expect("post answers");
    assert!(r.status().is_success(), "{}", r.status());
    let body: Value = r.json().expect("json answer");
    body["accepted"].as_u64().unwrap_or(0) as usize
}

/// Every class in a sitting: each student answered in the last minute.
fn seed(port: u16, tool: &str, o: &Options) {
    let client = reqwest::blocking::Client::new();
    let mut rng = StdRng::seed_from_u64(1);
    for c in 0..o.classes {
        let events: Vec<Value> = (0..o.students)
            .map(|s| answer(&mut rng, c, s, Duration::from_secs(60 - s as u64)))
            .collect();
        assert_eq!(post(&client, port, tool, &events), o.students);
    }
}

/// When an answer was acknowledged, by student (the first not yet seen on a stream).
type Pending = Mutex<HashMap<String, (i64, Instant)>>;

struct Streams {
    stop: Arc<AtomicBool>,
    frames: Arc<AtomicUsize>,
    latencies: Arc<Mutex<Vec<f64>>>,
    handles: Vec<std::thread::JoinHandle<()>>,
}

/// Opens one stream per class, each with its own teacher's token (a user holds at most 4).
fn open_streams(port: u16, keys: &Keys, o: &Options, pending: &Arc<Pending>) -> Streams {
    let stop = Arc::new(AtomicBool::new(false));
    let frames = Arc::new(AtomicUsize::new(0));
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let opened = Arc::new(AtomicUsize::new(0));
    let handles = (0..o.classes)
        .map(|c| {
            let claims = Claims::new(
                format!("bench-teacher-{c:03}"),
                Role::Admin,
                ORG,
                Duration::from_secs(7200),
            );
            let token = keys.sign(&claims).expect("token");
            let (stop, frames, latencies, pending, opened) = (
                stop.clone(),
                frames.clone(),
                latencies.clone(),
                pending.clone(),
                opened.clone(),
            );
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::builder()
                    .timeout(None)
                    .build()
                    .expect("client");
                let r = client
                    .get(format!(
                        "http://127.0.0.1:{port}/api/v1/classes/{}/now/stream",
                        class_id(c)
                    ))
                    .bearer_auth(token)
                    .send()
                    .expect("open a stream");
                assert_eq!(r.status(), 200, "stream of {}", class_id(c));
                opened.fetch_add(1, Ordering::Relaxed);
                for line in BufReader::new(r).lines() {
                    let Ok(line) = line else { break };
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let Some(data) = line.strip_prefix("data: ") else {
                        continue;
                    };
                    let arrived = Instant::now();
                    let Ok(view) = serde_json::from_str::<Value>(data) else {
                        continue;
                    };
                    frames.fetch_add(1, Ordering::Relaxed);
                    let mut pending = pending.lock().unwrap();
                    for s in view["students"].as_array().into_iter().flatten() {
                        let (Some(id), Some(last)) =
                            (s["student_id"].as_str(), s["last_answer_at"].as_str())
                        else {
                            continue;
                        };
                        let Some(&(occurred, acked)) = pending.get(id) else {
                            continue;
                        };
                        let last = chrono::DateTime::parse_from_rfc3339(last)
                            .map_or(0, |t| t.timestamp_millis());
                        if last >= occurred {
                            pending.remove(id);
                            latencies
                                .lock()
                                .unwrap()
                                .push(arrived.duration_since(acked).as_secs_f64() * 1e3);
                        }
                    }
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while opened.load(Ordering::Relaxed) < o.classes {
        assert!(Instant::now() < deadline, "the streams did not open");
        std::thread::sleep(Duration::from_millis(50));
    }
    Streams {
        stop,
        frames,
        latencies,
        handles,
    }
}

/// Each student answers every `o.every`, at a random phase, for `o.seconds`; the senders
/// share the students. Returns (answers posted, seconds, the latest a send started behind its
/// schedule, in ms).
fn lesson(port: u16, tool: &str, o: &Options, pending: &Arc<Pending>) -> (usize, f64, f64) {
    const SENDERS: usize = 8;
    let start = Instant::now();
    let end = start + Duration::from_secs(o.seconds);
    let behind = Mutex::new(0.0_f64);
    let posted = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for t in 0..SENDERS {
            let (behind, posted) = (&behind, &posted);
            scope.spawn(move || {
                let client = reqwest::blocking::Client::new();
                let mut rng = StdRng::seed_from_u64(100 + t as u64);
                let mut due: BinaryHeap<Reverse<(Instant, usize)>> = (0..o.classes * o.students)
                    .filter(|g| g % SENDERS == t)
                    .map(|g| {
                        let phase = o.every.mul_f64(rng.random::<f64>());
                        Reverse((start + phase, g))
                    })
                    .collect();
                while let Some(Reverse((at, g))) = due.pop() {
                    if at >= end {
                        break;
                    }
                    if let Some(wait) = at.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    let late = Instant::now().duration_since(at).as_secs_f64() * 1e3;
                    let (c, s) = (g / o.students, g % o.students);
                    let e = answer(&mut rng, c, s, Duration::ZERO);
                    let occurred = chrono::DateTime::parse_from_rfc3339(
                        e["occurred_at"].as_str().expect("occurred_at"),
                    )
                    .expect("time")
                    .timestamp_millis();
                    post(&client, port, tool, &[e]);
                    let acked = Instant::now();
                    pending
                        .lock()
                        .unwrap()
                        .entry(student_id(c, s))
                        .or_insert((occurred, acked));
                    posted.fetch_add(1, Ordering::Relaxed);
                    let mut b = behind.lock().unwrap();
                    *b = b.max(late);
                    drop(b);
                    due.push(Reverse((at + o.every, g)));
                }
            });
        }
    });
    let behind = *behind.lock().unwrap();
    (posted.into_inner(), start.elapsed().as_secs_f64(), behind)
}

/// Two clients post batches of 500 answers of the classes' students, as fast as the server
/// takes them, for `o.saturate`; answers per second.
fn saturate(port: u16, tool: &str, o: &Options) -> f64 {
    let start = Instant::now();
    let sent: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..2)
            .map(|t| {
                scope.spawn(move || {
                    let client = reqwest::blocking::Client::new();
                    let mut rng = StdRng::seed_from_u64(200 + t);
                    let mut sent = 0;
                    while start.elapsed() < o.saturate {
                        let events: Vec<Value> = (0..500)
                            .map(|_| {
                                let (c, s) = (
                                    rng.random_range(0..o.classes),
                                    rng.random_range(0..o.students),
                                );
                                answer(&mut rng, c, s, Duration::ZERO)
                            })
                            .collect();
                        sent += post(&client, port, tool, &events);
                    }
                    sent
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("client")).sum()
    });
    sent as f64 / start.elapsed().as_secs_f64()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((p / 100.0) * sorted.len() as f64)
        .floor()
        .min(sorted.len() as f64 - 1.0) as usize]
}

/// A fresh server on a fresh database, every class seeded into a sitting.
fn seeded_server(
    o: &Options,
    dir: &Path,
    name: &str,
    secret: &Path,
    tool: &str,
) -> (Server, String) {
    let url = fresh_database(&o.backend, dir, &format!("now_{name}"));
    let server = start_server(&url, secret, &[]);
    seed(server.port, tool, o);
    (server, url)
}

struct Run {
    latencies: Vec<f64>,
    posted_per_s: f64,
    behind_ms: f64,
    frames_per_s: f64,
    cpu_percent: f64,
    peak_mb: f64,
    with_streams: f64,
    without_streams: f64,
}

fn run(o: &Options, n: usize, dir: &Path, secret: &Path, keys: &Keys, tool: &str) -> Run {
    let without = |name: &str| {
        let (server, url) = seeded_server(o, dir, name, secret, tool);
        let rate = saturate(server.port, tool, o);
        drop(server);
        drop_database(&o.backend, &url);
        rate
    };
    let without_first = n % 2 == 1;
    let mut without_streams = if without_first {
        without(&format!("none{n}"))
    } else {
        0.0
    };

    let (server, url) = seeded_server(o, dir, &format!("live{n}"), secret, tool);
    let pid = server.child.id();
    let pending: Arc<Pending> = Arc::default();
    let streams = open_streams(server.port, keys, o, &pending);
    std::thread::sleep(Duration::from_secs(2));
    streams.latencies.lock().unwrap().clear();
    let (cpu, frames) = (
        cpu_seconds_of(&pid.to_string()),
        streams.frames.load(Ordering::Relaxed),
    );
    let (posted, seconds, behind_ms) = lesson(server.port, tool, o, &pending);
    // The answers of the last moments reach their streams within the next frames.
    std::thread::sleep(Duration::from_secs(2));
    let cpu_percent = 100.0 * (cpu_seconds_of(&pid.to_string()) - cpu) / seconds;
    let frames_per_s = (streams.frames.load(Ordering::Relaxed) - frames) as f64 / seconds;
    let mut latencies = std::mem::take(&mut *streams.latencies.lock().unwrap());
    latencies.sort_by(f64::total_cmp);
    let with_streams = saturate(server.port, tool, o);
    let peak_mb = peak_rss_mb(pid);
    streams.stop.store(true, Ordering::Relaxed);
    drop(server);
    for h in streams.handles {
        let _ = h.join();
    }
    drop_database(&o.backend, &url);

    if !without_first {
        without_streams = without(&format!("none{n}"));
    }
    Run {
        latencies,
        posted_per_s: posted as f64 / seconds,
        behind_ms,
        frames_per_s,
        cpu_percent,
        peak_mb,
        with_streams,
        without_streams,
    }
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

fn main() {
    let o = options();
    println!(
        "now benchmark ({}): {} classes × {} students, an answer every {} s each, {} streams, {} s; saturation {} s; {} core(s)",
        o.backend,
        o.classes,
        o.students,
        o.every.as_secs(),
        o.classes,
        o.seconds,
        o.saturate.as_secs(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let secret = dir.path().join("secret");
    std::fs::write(&secret, SECRET).expect("secret");
    let keys = Keys::new(&secrecy::SecretString::from(SECRET.to_owned()));
    let tool = keys
        .sign(&Claims::new(
            "bench-tool",
            Role::Tool,
            ORG,
            Duration::from_secs(7200),
        ))
        .expect("token");
    let mut runs = Vec::new();
    for n in 0..o.runs {
        let r = run(&o, n, dir.path(), &secret, &keys, &tool);
        let l = &r.latencies;
        println!(
            "run {n}: ack → stream p50 {:.0} ms, p95 {:.0} ms, p99 {:.0} ms, max {:.0} ms ({} answers seen); \
             {:.1} answers/s posted (senders at most {:.0} ms behind), {:.1} frames/s; \
             server {:.0}% of one core, peak RSS {:.0} MB; \
             saturating ingest {:.0} answers/s with the streams, {:.0} without: ratio {:.3}",
            percentile(l, 50.0),
            percentile(l, 95.0),
            percentile(l, 99.0),
            l.last().copied().unwrap_or(f64::NAN),
            l.len(),
            r.posted_per_s,
            r.behind_ms,
            r.frames_per_s,
            r.cpu_percent,
            r.peak_mb,
            r.with_streams,
            r.without_streams,
            r.with_streams / r.without_streams,
        );
        runs.push(r);
    }
    if runs.len() > 1 {
        let m = |f: fn(&Run) -> f64| median(runs.iter().map(f).collect());
        println!(
            "median of {} runs: p50 {:.0} ms, p95 {:.0} ms, p99 {:.0} ms; {:.1} answers/s; server {:.0}% of one core; \
             highest peak RSS {:.0} MB; ingest ratio {:.3} ({:.0} / {:.0} answers/s)",
            runs.len(),
            m(|r| percentile(&r.latencies, 50.0)),
            m(|r| percentile(&r.latencies, 95.0)),
            m(|r| percentile(&r.latencies, 99.0)),
            m(|r| r.posted_per_s),
            m(|r| r.cpu_percent),
            runs.iter().map(|r| r.peak_mb).fold(0.0, f64::max),
            m(|r| r.with_streams / r.without_streams),
            m(|r| r.with_streams),
            m(|r| r.without_streams),
        );
    }
}
