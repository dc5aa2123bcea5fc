//! Ingestion benchmark: posts generated events in batches from concurrent clients over
//! loopback to the release binary, and in the same run measures the raw bulk-insert ceiling of
//! the same rows straight into a fresh database of the same backend, with no HTTP.
//!
//!     cargo bench --bench ingest -- [--backend sqlite|postgres|both] [--events 1000000]
//!                                   [--batch 1000] [--clients 2] [--runs 1]
//!                                   [--signals on|off|both]
//!                                   [--readers 0,32] [--read-every-ms 1000]
//!
//! `--signals both` posts the same events to a server with the behaviour signals off, then to
//! one with them on (each on a fresh database), and prints both rates and their ratio.
//!
//! `--readers 0,32` posts the same events once with no readers, then while 32 teachers read
//! class pages (each on a fresh database), and prints both rates and their ratio. Each teacher
//! has an account teaching one class and reads its overview, insights and groups in turn, a
//! page every `--read-every-ms`; every read writes an audit row through the same writer.
//!
//! PostgreSQL: `HUDDLE_BENCH_POSTGRES_URL` (default postgres://postgres@127.0.0.1:5432/postgres);
//! a database is created for each measurement and dropped afterwards.

#[path = "support/measure.rs"]
mod measure;
#[path = "support/server.rs"]
mod server;

use measure::{cpu_seconds_of, drop_database, fresh_database, peak_rss_mb};

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use diesel::prelude::*;
use huddle::db::schema::events;
use huddle::db::{Changes, Db, DbConnection, DbUrl};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use server::start_server;

struct Options {
    backends: Vec<&'static str>,
    events: usize,
    batch: usize,
    clients: usize,
    runs: usize,
    /// Skip the HTTP half (for trying database settings quickly).
    raw_only: bool,
    /// `huddle serve --signals` values to measure, in order.
    signals: Vec<&'static str>,
    /// How many teachers read class pages while the events are posted, one measurement each.
    readers: Vec<usize>,
    /// How often each teacher reads a page.
    read_every: Duration,
}

fn options() -> Options {
    let mut o = Options {
        backends: vec!["sqlite", "postgres"],
        events: 1_000_000,
        batch: 1_000,
        clients: 2,
        runs: 1,
        raw_only: false,
        signals: vec!["on"],
        readers: vec![0],
        read_every: Duration::from_millis(1_000),
    };
    let args: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < args.len() {
        let value = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--backend" => {
                o.backends = match value.as_str() {
                    "sqlite" => vec!["sqlite"],
                    "postgres" => vec!["postgres"],
                    _ => vec!["sqlite", "postgres"],
                };
                i += 1;
            }
            "--events" => (o.events, i) = (value.parse().expect("--events N"), i + 1),
            "--batch" => (o.batch, i) = (value.parse().expect("--batch N"), i + 1),
            "--clients" => (o.clients, i) = (value.parse().expect("--clients N"), i + 1),
            "--runs" => (o.runs, i) = (value.parse().expect("--runs N"), i + 1),
            "--raw-only" => o.raw_only = true,
            "--readers" => {
                o.readers = value
                    .split(',')
                    .map(|n| n.trim().parse().expect("--readers N[,N…]"))
                    .collect();
                i += 1;
            }
            "--read-every-ms" => {
                let ms = value.parse().expect("--read-every-ms N");
                (o.read_every, i) = (Duration::from_millis(ms), i + 1);
            }
            "--signals" => {
                o.signals = match value.as_str() {
                    "off" => vec!["off"],
                    "both" => vec!["off", "on"],
                    _ => vec!["on"],
                };
                i += 1;
            }
            _ => {} // cargo bench passes --bench
        }
        i += 1;
    }
    o
}

/// A district's worth of practice: 4,000 students in 160 classes, 40 skills of 4 domains,
/// 12 items each. A batch is what one tool sends for three classes over a few minutes; each
/// student works on one skill for a while (a session), as in a real lesson.
fn generate(n: usize, batch: usize) -> Vec<Vec<serde_json::Value>> {
    let mut rng = StdRng::seed_from_u64(7);
    let start = Utc::now() - TimeDelta::days(30);
    let domains = ["fractions", "multiplication", "reading", "geometry"];
    let mut batches = Vec::with_capacity(n.div_ceil(batch));
    let mut made = 0;
    while made < n {
        let size = batch.min(n - made);
        let first_class = rng.random_range(0..158);
        let session = made / (batch * 4);
        let at = start + TimeDelta::seconds((made as i64 * 2_592_000) / n as i64);
        let events = (0..size)
            .map(|k| {
                let class = first_class + rng.random_range(0..3);
                let student = class * 25 + rng.random_range(0..25);
                let skill = (student * 7 + session * 13) % 40;
                let domain = domains[skill % 4];
                let outcome = match rng.random_range(0..10) {
                    0..=5 => "correct",
                    6..=8 => "incorrect",
                    _ => "skipped",
                };
                serde_json::json!({
                    "event_id": uuid::Uuid::new_v4().to_string(),
                    "occurred_at": (at + TimeDelta::milliseconds(k as i64 * 150)).to_rfc3339(),
                    "student_id": format!("stu-{student:05}"),
                    "class_id": format!("class-{class:03}"),
                    "skill_id": format!("{domain}.skill-{skill:02}"),
                    "item_id": format!("{domain}-{skill:02}-{:02}", rng.random_range(0..12)),
                    "outcome": outcome,
                    "attempt": 1,
                    "response_ms": rng.random_range(800..40_000),
                    "hints_used": rng.random_range(0..3),
                    "hint_bottom_out": false,
                    "session_id": format!("s-{student}-{session}"),
                    "skill_name": format!("Skill {skill} of {domain}"),
                    "tool": "bench-tool",
                })
            })
            .collect();
        batches.push(events);
        made += size;
    }
    batches
}

/// Posts every batch from `clients` threads; returns (accepted events, seconds). The threads
/// take the batches in order from one queue, as a tool's senders would: with a fixed share
/// each, one thread could run hours of practice ahead of the other, and every batch it then
/// sent late would make the server replay its students' histories.
fn post_all(port: u16, token: &str, bodies: &[Vec<u8>], clients: usize) -> (usize, f64) {
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    let accepted: usize = std::thread::scope(|s| {
        let handles: Vec<_> = (0..clients)
            .map(|_| {
                let next = &next;
                s.spawn(move || {
                    let client = reqwest::blocking::Client::builder()
                        .timeout(Duration::from_secs(120))
                        .build()
                        .expect("client");
                    let mut accepted = 0;
                    while let Some(body) = bodies.get(next.fetch_add(1, Ordering::Relaxed)) {
                        let response = client
                            .post(format!("http://127.0.0.1:{port}/api/v1/events"))
                            .bearer_auth(token)
                            .header("content-type", "application/json")
                            .body(body.clone())
                            .send()
                            .expect("post a batch");
                        assert!(response.status().is_success(), "{}", response.status());
                        let answer: serde_json::Value = response.json().expect("json answer");
                        accepted += answer["accepted"].as_u64().unwrap_or(0) as usize;
                    }
                    accepted
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("client thread"))
            .sum()
    });
    (accepted, started.elapsed().as_secs_f64())
}

/// The district's teachers who read during the measurement: `n` accounts, each teaching one
/// class the events fill, made in the fresh database before the server starts. Returns each
/// one's user id and class.
fn add_teachers(url: &str, n: usize) -> Vec<(String, String)> {
    if n == 0 {
        return Vec::new();
    }
    let db = Db::open(&DbUrl::parse(url).expect("url"), 1).expect("open the database");
    let teachers = (0..n)
        .map(|i| {
            let class = format!("class-{:03}", i * 5 % 160);
            let user = huddle::store::users::NewUser {
                email: format!("teacher-{i}@bench.example"),
                role: huddle::auth::Role::Teacher,
                org: "bench-district".into(),
                name: None,
                classes: vec![class.clone()],
                password_hash: None,
            };
            let id = db
                .write_blocking(Changes::Entities, |conn| {
                    huddle::store::users::add_user(conn, &user)
                })
                .expect("add a teacher");
            (id, class)
        })
        .collect();
    // On SQLite the handle's checkpointer ends up to half a second after the handle, with a
    // last checkpoint that would race the server's first batches.
    drop(db);
    std::thread::sleep(Duration::from_millis(1_500));
    teachers
}

/// Teachers reading their class's pages until stopped.
struct Readers {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<Vec<f64>>>,
    started: Instant,
}

/// One thread per teacher (a token and its class): reads the overview, insights and groups in
/// turn, one page every `every`; each answer must be 200.
fn start_readers(port: u16, teachers: Vec<(String, String)>, every: Duration) -> Readers {
    let stop = Arc::new(AtomicBool::new(false));
    let threads = teachers
        .into_iter()
        .map(|(token, class)| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(60))
                    .build()
                    .expect("client");
                let mut times = Vec::new();
                for page in ["overview", "insights", "groups"].iter().cycle() {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let started = Instant::now();
                    let response = client
                        .get(format!(
                            "http://127.0.0.1:{port}/api/v1/classes/{class}/{page}"
                        ))
                        .bearer_auth(&token)
                        .send()
                        .expect("read a class page");
                    assert!(
                        response.status().is_success(),
                        "{page}: {}",
                        response.status()
                    );
                    let _ = response.bytes();
                    let took = started.elapsed();
                    times.push(took.as_secs_f64() * 1e3);
                    std::thread::sleep(every.saturating_sub(took));
                }
                times
            })
        })
        .collect();
    Readers {
        stop,
        threads,
        started: Instant::now(),
    }
}

impl Readers {
    /// Stops the readers; returns (reads per second, p99 ms of a read).
    fn stop(self) -> (f64, f64) {
        self.stop.store(true, Ordering::Relaxed);
        let mut times: Vec<f64> = self
            .threads
            .into_iter()
            .flat_map(|t| t.join().expect("reader thread"))
            .collect();
        let seconds = self.started.elapsed().as_secs_f64();
        times.sort_by(f64::total_cmp);
        let p99 = times
            .get((times.len() * 99 / 100).min(times.len().saturating_sub(1)))
            .copied()
            .unwrap_or(f64::NAN);
        (times.len() as f64 / seconds, p99)
    }
}

#[derive(Insertable)]
#[diesel(table_name = events)]
struct Row {
    event_id: Vec<u8>,
    org_id: String,
    class_id: String,
    student_id: String,
    skill_id: String,
    item_id: String,
    occurred_at: i64,
    received_at: i64,
    outcome: String,
    attempt: i32,
    response_ms: Option<i32>,
    hints_used: i32,
    hint_bottom_out: bool,
    session_id: Option<String>,
    skill_name: Option<String>,
    tool: Option<String>,
    response: Option<String>,
}

fn row(v: &serde_json::Value) -> Row {
    let s = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
    Row {
        event_id: uuid::Uuid::parse_str(&s("event_id"))
            .expect("uuid")
            .as_bytes()
            .to_vec(),
        org_id: "bench-district".into(),
        class_id: s("class_id"),
        student_id: s("student_id"),
        skill_id: s("skill_id"),
        item_id: s("item_id"),
        occurred_at: chrono::DateTime::parse_from_rfc3339(&s("occurred_at"))
            .expect("time")
            .timestamp_millis(),
        received_at: Utc::now().timestamp_millis(),
        outcome: s("outcome"),
        attempt: 1,
        response_ms: v["response_ms"].as_i64().map(|x| x as i32),
        hints_used: v["hints_used"].as_i64().unwrap_or(0) as i32,
        hint_bottom_out: false,
        session_id: Some(s("session_id")),
        skill_name: Some(s("skill_name")),
        tool: Some(s("tool")),
        response: None,
    }
}

/// The ceiling: the same rows, one transaction per batch, from as many threads as there are
/// clients, straight into the same schema: no HTTP, no validation, no deduplication, no derived
/// state. Each backend gets its fastest plain insert: cached one-row statements in-process on
/// SQLite (multi-row statements there need a statement journal), multi-row statements over the
/// socket on PostgreSQL. Returns events/s.
fn raw_ceiling(url: &DbUrl, batches: &[Vec<serde_json::Value>], clients: usize) -> f64 {
    let rows: Vec<Vec<Row>> = batches
        .iter()
        .map(|b| b.iter().map(row).collect())
        .collect();
    let db = Db::open(url, clients as u32).expect("open the raw database");
    let n: usize = rows.iter().map(Vec::len).sum();
    let cpu = cpu_seconds();
    let started = Instant::now();
    std::thread::scope(|s| {
        for c in 0..clients {
            let (db, rows) = (&db, &rows);
            s.spawn(move || {
                for batch in rows.iter().skip(c).step_by(clients) {
                    db.write_blocking(Changes::Events, |conn| insert_plain(conn, batch))
                        .expect("raw insert");
                }
            });
        }
    });
    let wall = started.elapsed().as_secs_f64();
    eprintln!(
        "raw: {:.1} µs CPU per event ({:.0}% of one core)",
        (cpu_seconds() - cpu) * 1e6 / n as f64,
        100.0 * (cpu_seconds() - cpu) / wall
    );
    n as f64 / wall
}

fn insert_plain(conn: &mut DbConnection, batch: &[Row]) -> anyhow::Result<()> {
    match conn {
        DbConnection::Sqlite(c) => c.transaction(|c| {
            for row in batch {
                diesel::insert_into(events::table).values(row).execute(c)?;
            }
            diesel::QueryResult::Ok(())
        })?,
        DbConnection::Postgresql(c) => c.transaction(|c| {
            for chunk in batch.chunks(2_000) {
                diesel::insert_into(events::table)
                    .values(chunk)
                    .execute(c)?;
            }
            diesel::QueryResult::Ok(())
        })?,
    }
    Ok(())
}

/// CPU time (user + system) of this process so far, from /proc.
fn cpu_seconds() -> f64 {
    cpu_seconds_of("self")
}

fn main() {
    let o = options();
    println!(
        "ingest benchmark: {} events, batches of {}, {} clients, {} core(s)",
        o.events,
        o.batch,
        o.clients,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let batches = generate(o.events, o.batch);
    let bodies: Vec<Vec<u8>> = batches
        .iter()
        .map(|b| serde_json::to_vec(&serde_json::json!({ "events": b })).expect("json"))
        .collect();
    let dir = tempfile::tempdir().expect("temp dir");
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "bench-secret-bench-secret-bench-secret-0123").expect("secret");
    let keys = huddle::auth::Keys::new(&secrecy::SecretString::from(
        "bench-secret-bench-secret-bench-secret-0123".to_owned(),
    ));
    let token = keys
        .sign(&huddle::auth::Claims::new(
            "bench-tool",
            huddle::auth::Role::Tool,
            "bench-district",
            Duration::from_secs(3600),
        ))
        .expect("token");

    for backend in &o.backends {
        // (HTTP events/s, ratio, peak RSS) of each run, for the medians below.
        let mut results: Vec<(f64, f64, f64)> = Vec::new();
        // HTTP events/s of each run, by the number of readers.
        let mut by_readers: Vec<Vec<f64>> = vec![Vec::new(); o.readers.len()];
        for run in 0..o.runs {
            if o.raw_only {
                let raw_url = fresh_database(backend, dir.path(), &format!("raw{run}"));
                let raw = raw_ceiling(&DbUrl::parse(&raw_url).expect("url"), &batches, o.clients);
                drop_database(backend, &raw_url);
                println!("{backend} run {run}: raw ceiling {raw:.0} events/s");
                continue;
            }
            let mut rates = Vec::new();
            let mut http = 0.0;
            let mut seconds = 0.0;
            let mut rss = 0.0;
            for signals in &o.signals {
                for &readers in &o.readers {
                    let name = format!("http{run}{signals}{readers}");
                    let url = fresh_database(backend, dir.path(), &name);
                    let teachers: Vec<(String, String)> = add_teachers(&url, readers)
                        .into_iter()
                        .map(|(id, class)| {
                            let claims = huddle::auth::Claims::new(
                                &id,
                                huddle::auth::Role::Teacher,
                                "bench-district",
                                Duration::from_secs(3600),
                            );
                            (keys.sign(&claims).expect("token"), class)
                        })
                        .collect();
                    let server = start_server(&url, &secret, &["--signals", signals]);
                    let pid = server.child.id().to_string();
                    let reading = start_readers(server.port, teachers, o.read_every);
                    let (server_cpu, client_cpu) = (cpu_seconds_of(&pid), cpu_seconds());
                    let (accepted, secs) = post_all(server.port, &token, &bodies, o.clients);
                    // Where the two cores went (PostgreSQL's own processes are not counted).
                    let server_cpu = cpu_seconds_of(&pid) - server_cpu;
                    let client_cpu = cpu_seconds() - client_cpu;
                    let (reads, read_p99) = reading.stop();
                    println!(
                        "{backend} run {run}: server {:.1} µs CPU per event ({:.0}% of one core), clients {:.1} µs ({:.0}%)",
                        server_cpu * 1e6 / accepted as f64,
                        100.0 * server_cpu / secs,
                        client_cpu * 1e6 / accepted as f64,
                        100.0 * client_cpu / secs,
                    );
                    rss = peak_rss_mb(server.child.id());
                    drop(server);
                    drop_database(backend, &url);
                    assert_eq!(accepted, o.events, "every generated event is accepted once");
                    (http, seconds) = (accepted as f64 / secs, secs);
                    println!("{backend} run {run}: signals {signals}, {readers} readers: HTTP {http:.0} events/s ({secs:.1} s), server peak RSS {rss:.0} MB");
                    if readers > 0 {
                        println!("{backend} run {run}: {readers} readers: {reads:.0} reads/s, p99 {read_p99:.1} ms");
                    }
                    rates.push(http);
                    let k = o.readers.iter().position(|&r| r == readers).unwrap_or(0);
                    by_readers[k].push(http);
                }
            }
            if let ([off, on], [_]) = (&rates[..], &o.readers[..]) {
                println!(
                    "{backend} run {run}: signals on / off = {:.2} ({on:.0} / {off:.0} events/s)",
                    on / off
                );
            }
            if let ([alone, read], [_]) = (&rates[..], &o.signals[..]) {
                println!(
                    "{backend} run {run}: with readers / without = {:.2} ({read:.0} / {alone:.0} events/s)",
                    read / alone
                );
            }

            let raw_url = fresh_database(backend, dir.path(), &format!("raw{run}"));
            let raw = raw_ceiling(&DbUrl::parse(&raw_url).expect("url"), &batches, o.clients);
            drop_database(backend, &raw_url);

            println!(
                "{backend} run {run}: HTTP {http:.0} events/s ({seconds:.1} s), raw ceiling {raw:.0} events/s, ratio {:.2}, server peak RSS {rss:.0} MB",
                http / raw
            );
            results.push((http, http / raw, rss));
        }
        // The machine is shared and noisy: with several runs, their medians are the figures.
        if results.len() > 1 {
            let rss = results.iter().map(|r| r.2).fold(0.0, f64::max);
            println!(
                "{backend}: median of {} runs: HTTP {:.0} events/s, ratio {:.2}; highest peak RSS {rss:.0} MB",
                results.len(),
                median(results.iter().map(|r| r.0).collect()),
                median(results.iter().map(|r| r.1).collect()),
            );
        }
        if o.readers.len() > 1 {
            for (readers, rates) in o.readers.iter().zip(&by_readers) {
                println!(
                    "{backend}: {readers} readers: median HTTP {:.0} events/s of {} runs",
                    median(rates.clone()),
                    rates.len()
                );
            }
        }
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
