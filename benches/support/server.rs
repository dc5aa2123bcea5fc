//! The release `huddle serve` as a child process, for the benchmarks: a free port, the given
//! database and extra flags, the server's log on stderr prefixed `[server]`, killed on drop.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    pub child: Child,
    pub port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the server and waits until `/healthz` answers. One token sends the whole load of a
/// benchmark, so the per-token rate limit is off (it would measure itself).
///
/// `HUDDLE_BENCH_BIN` names another `huddle` binary to start (a copy of an earlier build), so a
/// change can be compared with the build before it on the same machine, runs alternated.
pub fn start_server(url: &str, secret: &Path, extra: &[&str]) -> Server {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let bin =
        std::env::var_os("HUDDLE_BENCH_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_huddle").into());
    let mut child = Command::new(bin)
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .args(["--database-url", url])
        .args(["--rate-limit-per-minute", "0"])
        .args(extra)
        .arg("--jwt-secret-file")
        .arg(secret)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start huddle serve");
    let stderr = child.stderr.take().expect("stderr");
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("[server] {line}");
        }
    });
    let client = reqwest::blocking::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if client
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .is_ok_and(|r| r.status().is_success())
        {
            return Server { child, port };
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the server did not become healthy");
}
