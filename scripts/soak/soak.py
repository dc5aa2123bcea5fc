#!/usr/bin/env python3
"""A mixed soak of `huddle serve`: steady ingest, 32 teachers reading pages, a report every
few seconds, for --minutes. Fails on any error answer; prints read latencies (p50/p95/p99)
and the server's memory (resident set) over time.

Memory is "flat" when the largest resident set of the last minute is less than 10 % above
the largest of the minute after the warm-up (--warmup minutes).

Standard library only. Usage (from the repository):

    cargo build --release
    scripts/soak/soak.py --minutes 10 --backend sqlite

The script is itself a client on the same machine: the latencies include its own share of
the cores.
"""

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "crash"))
from crash import Database  # noqa: E402  (one way to make and read the database)

ORG = "soak-district"
STUDENTS_PER_CLASS = 25
SKILLS = [f"math.skill-{s}" for s in range(8)]


def rfc3339(t):
    return t.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def percentile(values, p):
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


class Client:
    """One keep-alive connection, reopened when the server closes it."""

    def __init__(self, port):
        self.port = port
        self.conn = None

    def request(self, method, path, token, body=None):
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            try:
                headers = {"Authorization": f"Bearer {token}"}
                data = None
                if body is not None:
                    headers["Content-Type"] = "application/json"
                    data = json.dumps(body)
                started = time.perf_counter()
                self.conn.request(method, path, body=data, headers=headers)
                response = self.conn.getresponse()
                payload = response.read()
                return response.status, payload, time.perf_counter() - started
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = None
                if attempt == 1:
                    raise


class Soak:
    def __init__(self, args, port, tool, teachers, admin, classes):
        self.args, self.port = args, port
        self.tool, self.teachers, self.admin, self.classes = tool, teachers, admin, classes
        self.lock = threading.Lock()
        self.reads = []  # (seconds since start, latency, page)
        self.reports = []
        self.events = 0
        self.batches = 0
        self.errors = []
        self.start = time.time()
        self.end = self.start + args.minutes * 60

    def error(self, what, status, payload):
        with self.lock:
            self.errors.append(f"{what}: {status} {payload[:200]!r}")

    def ingest(self):
        """Batches at a steady rate: --rate events a second, in 4 batches a second."""
        client, rng = Client(self.port), random.Random(1)
        per_batch = max(1, self.args.rate // 4)
        next_at = time.time()
        while time.time() < self.end:
            batch = []
            for _ in range(per_batch):
                class_id = rng.choice(self.classes)
                skill = rng.choice(SKILLS)
                batch.append({
                    "event_id": str(uuid.uuid4()),
                    "occurred_at": rfc3339(datetime.now(timezone.utc)),
                    "student_id": f"{class_id}-stu-{rng.randrange(STUDENTS_PER_CLASS):02d}",
                    "class_id": class_id, "skill_id": skill,
                    "item_id": f"{skill}.item-{rng.randrange(15)}",
                    "outcome": rng.choice(["correct", "correct", "incorrect"]),
                    "response_ms": rng.randrange(2_000, 60_000),
                })
            status, payload, _ = client.request("POST", "/api/v1/events", self.tool,
                                                 {"events": batch})
            if status != 200 or json.loads(payload)["accepted"] != len(batch):
                self.error("batch", status, payload)
            else:
                with self.lock:
                    self.events += len(batch)
                    self.batches += 1
            next_at += 0.25
            time.sleep(max(0.0, next_at - time.time()))

    def teacher(self, index):
        """A teacher moving between their class's pages, a page every second or so."""
        client, rng = Client(self.port), random.Random(100 + index)
        token, class_id = self.teachers[index], self.classes[index % len(self.classes)]
        pages = [f"/api/v1/classes/{class_id}/overview", f"/api/v1/classes/{class_id}/insights",
                 f"/api/v1/classes/{class_id}/groups", f"/api/v1/classes/{class_id}/now",
                 f"/api/v1/classes/{class_id}/attention", "/api/v1/classes"]
        time.sleep(rng.uniform(0, 1))
        while time.time() < self.end:
            if rng.random() < 0.3:
                path = f"/api/v1/students/{class_id}-stu-{rng.randrange(STUDENTS_PER_CLASS):02d}"
            else:
                path = rng.choice(pages)
            status, payload, seconds = client.request("GET", path, token)
            if status != 200:
                self.error(path, status, payload)
            with self.lock:
                page = "student" if "/students/" in path else path.rsplit("/", 1)[-1]
                self.reads.append((time.time() - self.start, seconds, page))
            time.sleep(rng.uniform(0.5, 1.5))

    def reporter(self):
        client = Client(self.port)
        paths = ["/api/v1/admin/adoption", "/api/v1/admin/data-quality",
                 "/api/v1/admin/model-health", "/api/v1/admin/fairness"]
        i = 0
        while time.time() < self.end:
            status, payload, seconds = client.request("GET", paths[i % len(paths)], self.admin)
            if status != 200:
                self.error(paths[i % len(paths)], status, payload)
            with self.lock:
                self.reports.append(seconds)
            i += 1
            time.sleep(self.args.report_every)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def run(args):
    work = tempfile.mkdtemp(prefix="huddle-soak-")
    secret = os.path.join(work, "jwt.secret")
    with open(secret, "w") as f:
        f.write(uuid.uuid4().hex + uuid.uuid4().hex)
    os.chmod(secret, 0o600)
    db = Database(args.backend, work, args.postgres)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUDDLE_")}
    store = ["--database-url", db.url, "--jwt-secret-file", secret]

    def huddle(*cli, stdin=None):
        return subprocess.run([args.bin, *cli], check=True, capture_output=True, text=True,
                              input=stdin, env=env).stdout.strip()

    classes = [f"class-{c:02d}" for c in range(args.teachers)]
    teachers = []
    for i, class_id in enumerate(classes):
        uid = huddle("user", "add", "--email", f"teacher{i}@soak.example", "--role", "teacher",
                     "--org", ORG, "--classes", class_id, "--database-url", db.url)
        teachers.append(huddle("token", "--role", "teacher", "--org", ORG, "--sub", uid,
                               "--ttl", "2h", *store))
    admin_id = huddle("user", "add", "--email", "it@soak.example", "--role", "admin", "--org",
                      ORG, "--database-url", db.url)
    admin = huddle("token", "--role", "admin", "--org", ORG, "--sub", admin_id, "--ttl", "2h",
                   *store)
    tool = huddle("token", "--role", "tool", "--org", ORG, "--sub", "soak-tool", "--ttl", "2h",
                  *store)

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log_path = os.path.join(work, "serve.log")
    with open(log_path, "w") as out:
        server = subprocess.Popen(
            [args.bin, "serve", *store, "--bind", f"127.0.0.1:{port}", *args.serve_arg],
            stdout=out, stderr=subprocess.STDOUT, env={**env, "RUST_LOG": "warn"})
    try:
        for _ in range(600):
            try:
                if Client(port).request("GET", "/healthz", "")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        # Every student has an answer before the teachers look (their pages exist).
        seed = [{
            "event_id": str(uuid.uuid4()),
            "occurred_at": rfc3339(datetime.now(timezone.utc)),
            "student_id": f"{c}-stu-{s:02d}", "class_id": c, "skill_id": SKILLS[0],
            "item_id": f"{SKILLS[0]}.item-0", "outcome": "correct", "response_ms": 20_000,
        } for c in classes for s in range(STUDENTS_PER_CLASS)]
        status, payload, _ = Client(port).request("POST", "/api/v1/events", tool,
                                                  {"events": seed})
        if status != 200:
            sys.exit(f"the seed batch was answered {status}: {payload[:300]!r}")
        soak = Soak(args, port, tool, teachers, admin, classes)
        threads = [threading.Thread(target=soak.ingest)]
        threads += [threading.Thread(target=soak.teacher, args=(i,)) for i in range(args.teachers)]
        threads.append(threading.Thread(target=soak.reporter))
        for t in threads:
            t.daemon = True
            t.start()
        memory = []  # (seconds, KiB)
        while time.time() < soak.end:
            memory.append((time.time() - soak.start, rss_kib(server.pid)))
            minute = int(memory[-1][0] // 60)
            if len(memory) % 12 == 0:
                with soak.lock:
                    print(f"{minute:>3} min: {soak.events} events, {len(soak.reads)} reads, "
                          f"{len(soak.errors)} errors, rss {memory[-1][1] // 1024} MiB",
                          flush=True)
            time.sleep(5)
        for t in threads:
            t.join(timeout=120)
        stopped = time.time()
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=60)
        drain = time.time() - stopped
    finally:
        if server.poll() is None:
            server.kill()
        if args.keep:
            print(f"kept: {work}, {db.url}", file=sys.stderr)
        else:
            db.drop()
            shutil.rmtree(work, ignore_errors=True)

    warm = args.warmup * 60
    latencies = [s for t, s, _ in soak.reads if t >= warm]
    by_page = {}
    for t, s, page in soak.reads:
        if t >= warm:
            by_page.setdefault(page, []).append(s)
    after_warmup = [k for t, k in memory if warm <= t < warm + 60]
    last_minute = [k for t, k in memory if t >= args.minutes * 60 - 60]
    growth = (max(last_minute) - max(after_warmup)) / max(after_warmup) * 100
    summary = {
        "backend": args.backend, "minutes": args.minutes, "nproc": os.cpu_count(),
        "binary": args.bin, "events": soak.events, "batches": soak.batches,
        "events_per_second": round(soak.events / (args.minutes * 60), 1),
        "reads": len(soak.reads), "reports": len(soak.reports), "errors": len(soak.errors),
        "read_ms_after_warmup": {p: round(percentile(latencies, q) * 1000, 1)
                                 for p, q in [("p50", 50), ("p95", 95), ("p99", 99),
                                              ("max", 100)]},
        "read_ms_p50_p99_by_page": {
            page: [round(percentile(ls, 50) * 1000, 1), round(percentile(ls, 99) * 1000, 1)]
            for page, ls in sorted(by_page.items())},
        "report_ms": {"p50": round(percentile(soak.reports, 50) * 1000, 1),
                      "max": round(max(soak.reports) * 1000, 1)},
        "rss_mib": {"start": round(memory[0][1] / 1024, 1),
                    "after_warmup_max": round(max(after_warmup) / 1024, 1),
                    "last_minute_max": round(max(last_minute) / 1024, 1)},
        "rss_mib_max_by_minute": [
            round(max((k for t, k in memory if m * 60 <= t < (m + 1) * 60), default=0) / 1024, 1)
            for m in range(int(args.minutes))],
        "rss_growth_after_warmup_percent": round(growth, 1),
        "sigterm_exit_code": code, "sigterm_seconds": round(drain, 2),
    }
    print(json.dumps(summary, indent=2))
    for e in soak.errors[:10]:
        print("error:", e)
    ok = not soak.errors and growth < 10 and code == 0
    print("soak passed" if ok else "soak FAILED")
    return 0 if ok else 1


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bin", default="target/release/huddle")
    p.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--minutes", type=float, default=10)
    p.add_argument("--warmup", type=float, default=2, help="minutes before memory is judged")
    p.add_argument("--rate", type=int, default=400, help="events a second")
    p.add_argument("--teachers", type=int, default=32)
    p.add_argument("--report-every", type=float, default=5)
    p.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    p.add_argument("--keep", action="store_true", help="keep the work directory and database")
    p.add_argument("--serve-arg", action="append", default=[],
                   help="an argument for `huddle serve` (repeat), e.g. --serve-arg=--sqlite-writer-cache-mib=16")
    sys.exit(run(p.parse_args()))


if __name__ == "__main__":
    main()
