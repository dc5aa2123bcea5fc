//! What the benchmarks measure of a server process (CPU, peak memory, from /proc) and the
//! fresh databases they measure it on.

use std::path::Path;

use diesel::connection::SimpleConnection;
use diesel::Connection;

/// Peak resident memory (MB) of process `pid`, from /proc.
pub fn peak_rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// CPU time (user + system) of process `pid` ("self" for this one) so far, from /proc.
pub fn cpu_seconds_of(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// The PostgreSQL server benchmarks create their databases on.
pub fn pg_base() -> String {
    std::env::var("HUDDLE_BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub fn pg_admin(sql: &str) {
    let mut conn = diesel::PgConnection::establish(&pg_base()).expect("connect to PostgreSQL");
    conn.batch_execute(sql).expect(sql);
}

/// A fresh database for one measurement, and the URL to reach it.
pub fn fresh_database(backend: &str, dir: &Path, name: &str) -> String {
    match backend {
        "sqlite" => format!("sqlite://{}", dir.join(format!("{name}.db")).display()),
        _ => {
            let db = format!("huddle_bench_{name}_{}", std::process::id());
            pg_admin(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
            pg_admin(&format!("CREATE DATABASE {db}"));
            let base = pg_base();
            let server = base.rsplit_once('/').map(|(s, _)| s).unwrap_or(&base);
            format!("{server}/{db}")
        }
    }
}

/// Drops a database [`fresh_database`] made (nothing to do for SQLite's file).
pub fn drop_database(backend: &str, url: &str) {
    if backend == "postgres" {
        if let Some((_, db)) = url.rsplit_once('/') {
            pg_admin(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
        }
    }
}
