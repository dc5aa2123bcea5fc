#!/usr/bin/env python3
"""Kills `huddle serve` with SIGKILL while tools ingest, and checks that nothing was lost.

Three scenarios per backend (SQLite and PostgreSQL):

- ingest: several senders post batches continuously (and send again, as tools do, whatever
  was not acknowledged, plus some events already stored); the server is killed at random
  moments (--kills times) and restarted. Then every acknowledged event must be stored exactly
  once with the content sent, nothing unsent may be stored, and the knowledge-tracing states,
  behaviour signals and flags must equal what a clean replay of the stored events writes
  (`huddle kt refit --rebuild`, with no skill refitted).
- refit: the server is killed during `POST /api/v1/admin/refit` at random moments, restarted,
  and the same checks hold: the states equal a replay under the models stored.
- retention: events of 400 days ago are stored, the server is started with
  `--retention-days 30` and killed during the purge (at a random moment after its first chunk
  is gone), then restarted until the purge has finished: no acknowledged recent event is lost, no old event is left, and the
  states are those from before the purge (a purge keeps the estimates).

Standard library only. Usage (from the repository):

    cargo build --release
    scripts/crash/crash.py --backend both --kills 20

PostgreSQL: a database of its own is created at --postgres (default
postgres://postgres@127.0.0.1:5432) with psql, and dropped afterwards.
"""

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

ORG = "crash-district"
CLASSES = [f"class-{c}" for c in range(8)]
STUDENTS_PER_CLASS = 25
SKILLS = [f"math.skill-{s}" for s in range(6)]
ITEMS_PER_SKILL = 12


def log(*parts):
    print(time.strftime("%H:%M:%S"), *parts, flush=True)


def rfc3339(t):
    return t.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Database:
    """The database under test: its URL for huddle, and SQL read back for the checks."""

    def __init__(self, backend, work, postgres):
        self.backend = backend
        if backend == "sqlite":
            self.path = os.path.join(work, "huddle.db")
            self.url = f"sqlite://{self.path}"
        else:
            self.admin_url = postgres.rstrip("/")
            self.name = f"huddle_crash_{os.getpid()}"
            self.psql("postgres", f"DROP DATABASE IF EXISTS {self.name}")
            self.psql("postgres", f"CREATE DATABASE {self.name}")
            self.url = f"{self.admin_url}/{self.name}"

    def psql(self, db, sql):
        out = subprocess.run(
            ["psql", f"{self.admin_url}/{db}", "-v", "ON_ERROR_STOP=1", "-AtX", "-F", "\x1f",
             "-c", sql],
            check=True, capture_output=True, text=True)
        return [line.split("\x1f") for line in out.stdout.splitlines() if line]

    def rows(self, sql):
        if self.backend == "sqlite":
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
            try:
                return [[None if v is None else str(v) for v in r] for r in conn.execute(sql)]
            finally:
                conn.close()
        return [[None if v == "" else v for v in r] for r in self.psql(self.name, sql)]

    def hex_id(self):
        return "lower(hex(event_id))" if self.backend == "sqlite" else "encode(event_id, 'hex')"

    def bool_text(self, column):
        # 0/1 on SQLite, t/f on PostgreSQL: both as 0/1.
        return column if self.backend == "sqlite" else f"({column})::int"

    def drop(self):
        if self.backend == "postgres":
            self.psql("postgres", f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")


class Server:
    """`huddle serve` as a child process, killed and started again."""

    def __init__(self, binary, db, secret, work, extra=()):
        self.binary, self.db, self.secret, self.work = binary, db, secret, work
        self.extra = list(extra)
        self.proc = None
        self.starts = 0

    def start(self, extra=()):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.starts += 1
        self.log = os.path.join(self.work, f"serve-{self.starts}.log")
        env = {k: v for k, v in os.environ.items() if not k.startswith("HUDDLE_")}
        env["RUST_LOG"] = "info"
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen(
                [self.binary, "serve", "--database-url", self.db.url, "--jwt-secret-file",
                 self.secret, "--bind", f"127.0.0.1:{self.port}", "--refit-interval", "0",
                 "--rate-limit-per-minute", "0", "--workers", "2", *self.extra, *extra],
                stdout=out, stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"huddle serve exited with {self.proc.returncode}:\n{self.log_text()}")
            try:
                status, _ = self.request("GET", "/healthz", timeout=2)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        sys.exit(f"huddle serve did not become healthy:\n{self.log_text()}")

    def log_text(self):
        with open(self.log) as f:
            return f.read()

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        """SIGTERM, as a service manager stops it; it must exit cleanly."""
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=60)
        if code != 0:
            sys.exit(f"huddle serve exited with {code} on SIGTERM:\n{self.log_text()}")

    def request(self, method, path, body=None, token=None, timeout=60):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            headers = {"Content-Type": "application/json"}
            if token:
                headers["Authorization"] = f"Bearer {token}"
            conn.request(method, path, body=None if body is None else json.dumps(body),
                         headers=headers)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()


class Tools:
    """Senders posting batches as tools do: what is not acknowledged is sent again later."""

    def __init__(self, server, token, senders, seed):
        self.server, self.token = server, token
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.sent = {}  # event_id (hex) -> event
        self.acked = set()
        self.pending = []  # events sent but not acknowledged, to send again
        self.stats = {"batches": 0, "acknowledged_batches": 0, "failed": 0, "refused_503": 0}
        self.running = False
        self.senders = senders
        self.threads = []

    def new_event(self, rng, at=None):
        class_id = rng.choice(CLASSES)
        student = f"{class_id}-stu-{rng.randrange(STUDENTS_PER_CLASS):02d}"
        skill = rng.choice(SKILLS)
        event = {
            "event_id": str(uuid.uuid4()),
            "occurred_at": rfc3339(at or datetime.now(timezone.utc)),
            "student_id": student,
            "class_id": class_id,
            "skill_id": skill,
            "item_id": f"{skill}.item-{rng.randrange(ITEMS_PER_SKILL)}",
            "outcome": rng.choice(["correct", "correct", "incorrect", "skipped"]),
            "hints_used": rng.choice([0, 0, 0, 1, 2]),
        }
        return event

    def next_batch(self, rng, size, at=None):
        with self.lock:
            again = self.pending[:size // 2]
            del self.pending[:len(again)]
            repeats = rng.sample(sorted(self.acked), min(3, len(self.acked))) if rng.random() < 0.3 else []
        batch = again + [self.sent[h] for h in repeats]
        fresh = [self.new_event(rng, at) for _ in range(max(1, size - len(batch)))]
        with self.lock:
            for e in fresh:
                self.sent[uuid.UUID(e["event_id"]).hex] = e
        batch += fresh
        rng.shuffle(batch)
        return batch

    def post(self, batch):
        """Posts one batch; True when acknowledged."""
        with self.lock:
            self.stats["batches"] += 1
        try:
            status, body = self.server.request("POST", "/api/v1/events", {"events": batch},
                                               self.token, timeout=120)
        except (OSError, http.client.HTTPException):
            status, body = None, b""
        if status == 200:
            answer = json.loads(body)
            if answer["rejected"]:
                sys.exit(f"valid events were refused: {answer['rejected'][:3]}")
            if answer["accepted"] + answer["duplicates"] != len(batch):
                sys.exit(f"a batch of {len(batch)} was answered {answer}")
            with self.lock:
                self.stats["acknowledged_batches"] += 1
                self.acked.update(uuid.UUID(e["event_id"]).hex for e in batch)
            return True
        if status not in (None, 503):
            sys.exit(f"a batch was answered {status}: {body[:500]!r}")
        with self.lock:
            self.stats["failed" if status is None else "refused_503"] += 1
            self.pending.extend(batch)
        return False

    def send_loop(self, index):
        rng = random.Random(self.rng.random() + index)
        while self.running:
            if not self.post(self.next_batch(rng, rng.randrange(1, 300))):
                time.sleep(0.05)

    def start(self):
        self.running = True
        self.threads = [threading.Thread(target=self.send_loop, args=(i,), daemon=True)
                        for i in range(self.senders)]
        for t in self.threads:
            t.start()

    def stop(self):
        self.running = False
        for t in self.threads:
            t.join()

    def flush(self):
        """Sends what was never acknowledged until it is."""
        for _ in range(100):
            with self.lock:
                batch, self.pending = self.pending[:2000], self.pending[2000:]
            if not batch:
                return
            if not self.post(batch):
                time.sleep(0.2)
        sys.exit("the pending events could not be sent")


def token(binary, db, secret, role, sub):
    out = subprocess.run(
        [binary, "token", "--role", role, "--org", ORG, "--sub", sub, "--ttl", "12h",
         "--database-url", db.url, "--jwt-secret-file", secret],
        check=True, capture_output=True, text=True)
    return out.stdout.strip()


def check_events(db, tools):
    """Every acknowledged event stored once, with its content; nothing unsent stored."""
    rows = db.rows(
        f"SELECT {db.hex_id()}, count(*), min(student_id), min(skill_id), min(outcome), "
        f"min(hints_used) FROM events GROUP BY event_id")
    stored = {}
    for hex_id, count, student, skill, outcome, hints in rows:
        if int(count) != 1:
            sys.exit(f"event {hex_id} is stored {count} times")
        stored[hex_id] = (student, skill, outcome, int(hints))
    missing = [h for h in tools.acked if h not in stored]
    if missing:
        sys.exit(f"{len(missing)} acknowledged events are not stored, e.g. {missing[:3]}")
    unsent = [h for h in stored if h not in tools.sent]
    if unsent:
        sys.exit(f"{len(unsent)} stored events were never sent")
    for h, got in stored.items():
        e = tools.sent[h]
        if got != (e["student_id"], e["skill_id"], e["outcome"], e["hints_used"]):
            sys.exit(f"event {h} is stored as {got}, sent as {e}")
    return len(stored)


def derived(db):
    """What a replay writes: states, signals, flags and items met (times of writing aside)."""
    return {
        "skill_states": sorted(map(tuple, db.rows(
            "SELECT student_id, skill_id, state, last_occurred_at, last_seq, session_start "
            "FROM skill_states ORDER BY 1, 2"))),
        "student_signals": sorted(map(tuple, db.rows(
            "SELECT student_id, state, last_occurred_at FROM student_signals ORDER BY 1"))),
        "flags": sorted(map(tuple, db.rows(
            "SELECT student_id, kind, skill_id, started_at, ended_at, evidence FROM flags "
            "ORDER BY 1, 2, 3, 4"))),
        "student_items": sorted(map(tuple, db.rows(
            "SELECT student_id, skill_id, item_id, first_occurred_at FROM student_items "
            "ORDER BY 1, 2, 3"))),
    }


def compare(label, before, after):
    for table in before:
        a, b = before[table], after[table]
        if a != b:
            only_a = sorted(set(a) - set(b))[:2]
            only_b = sorted(set(b) - set(a))[:2]
            sys.exit(f"{label}: {table} differs ({len(a)} rows, {len(b)} after):\n"
                     f"  only before: {only_a}\n  only after: {only_b}")


def check_replay(binary, db, label):
    """The stored states equal what a clean replay of the stored events writes."""
    online = derived(db)
    subprocess.run(
        [binary, "kt", "refit", "--rebuild", "--min-students", "1000000000",
         "--database-url", db.url],
        check=True, capture_output=True, text=True)
    compare(label, online, derived(db))
    return len(online["skill_states"])


def scenario_ingest(args, binary, db, secret, work, result):
    server = Server(binary, db, secret, work)
    server.start()
    tools = Tools(server, token(binary, db, secret, "tool", "crash-tool"), args.senders, args.seed)
    tools.start()
    rng = random.Random(args.seed)
    for kill in range(1, args.kills + 1):
        time.sleep(rng.uniform(0.2, 2.5))
        server.kill()
        acked = len(tools.acked)
        server.start()
        if kill % 5 == 0 or kill == args.kills:
            log(f"  kill {kill}/{args.kills}: {acked} events acknowledged, {tools.stats}")
    time.sleep(1)
    tools.stop()
    tools.flush()
    server.stop()
    events = check_events(db, tools)
    states = check_replay(binary, db, "after the kills during ingest")
    result.update(kills=args.kills, events=events, states=states, **tools.stats)
    log(f"  ingest: {args.kills} kills, {events} events stored once, {states} states equal a replay")
    return tools


def scenario_refit(args, binary, db, secret, work, tools, result):
    # Every skill has more students than this: the refit fits all of them.
    server = Server(binary, db, secret, work, ["--refit-min-students", "20"])
    server.start()
    admin = token(binary, db, secret, "admin", "crash-admin")
    started = time.time()
    status, body = server.request("POST", "/api/v1/admin/refit", {}, admin, timeout=600)
    whole = time.time() - started
    if status != 200:
        sys.exit(f"a refit was answered {status}: {body[:300]!r}")
    rng = random.Random(args.seed + 1)
    finished = resumed = 0
    for kill in range(args.refit_kills):
        tools.server = server
        tools.start()  # ingest goes on during the refit
        time.sleep(0.3)
        answer = {}

        def refit():
            try:
                answer["status"] = server.request("POST", "/api/v1/admin/refit", {}, admin,
                                                  timeout=600)[0]
            except (OSError, http.client.HTTPException):
                answer["status"] = None

        thread = threading.Thread(target=refit)
        thread.start()
        time.sleep(rng.uniform(0.05, 1.0) * whole)
        server.kill()
        thread.join()
        tools.stop()
        server.start()
        tools.flush()
        if answer["status"] is not None:
            finished += 1
        # Checked after each kill: the replay below rewrites the states.
        server.stop()
        resumed += "an interrupted refit was finished" in server.log_text()
        events = check_events(db, tools)
        states = check_replay(binary, db, f"after the kill during refit {kill + 1}")
        server.start()
    server.stop()
    result.update(refit_kills=args.refit_kills, refit_seconds=round(whole, 2),
                  refits_finished_before_the_kill=finished,
                  refits_finished_at_restart=resumed, events_after_refits=events)
    log(f"  refit: {args.refit_kills} kills in refits of {whole:.1f} s ({finished} finished "
        f"first, {resumed} left models stored and were finished at the restart); {events} "
        f"events, {states} states equal a replay after each")


def scenario_retention(args, binary, db, secret, work, tools, result):
    server = Server(binary, db, secret, work)
    server.start()
    tools.server = server
    rng = random.Random(args.seed + 2)
    old = datetime.now(timezone.utc) - timedelta(days=400)
    # Old events for students of their own, so the recent students' states stay untouched.
    for _ in range(args.old_events // 2000):
        batch = [tools.new_event(rng, old + timedelta(seconds=rng.randrange(86400)))
                 for _ in range(2000)]
        for e in batch:
            e["student_id"] = "old-" + e["student_id"]
            tools.sent[uuid.UUID(e["event_id"]).hex] = e
        if not tools.post(batch):
            sys.exit("an old batch was refused")
    server.stop()
    before = derived(db)
    old_ids = {uuid.UUID(e["event_id"]).hex for e in tools.sent.values()
               if e["student_id"].startswith("old-")}
    cutoff_sql = "occurred_at < " + str(int((datetime.now(timezone.utc) - timedelta(days=30))
                                            .timestamp() * 1000))
    def old_left():
        return int(db.rows(f"SELECT count(*) FROM events WHERE {cutoff_sql}")[0][0])

    # Each kill lands inside the purge: once its first chunk is gone (the leading node starts
    # its jobs a tick after it starts), at a random moment of the next few chunks.
    killed_midway = resumed = kills = 0
    left = len(old_ids)
    while kills < args.retention_kills and left:
        at_start = left
        server.start(["--retention-days", "30"])
        deadline = time.time() + 60
        while old_left() == at_start:
            if time.time() > deadline:
                sys.exit("the purge did not start within 60 s")
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.15))
        server.kill()
        kills += 1
        resumed += "a run was cut short" in server.log_text()
        left = old_left()
        killed_midway += 0 < left < at_start
    server.start(["--retention-days", "30"])
    deadline = time.time() + 300
    while "retention purge" not in server.log_text():
        if time.time() > deadline:
            sys.exit("the purge did not finish after the restart")
        time.sleep(0.2)
    server.stop()
    resumed += "a run was cut short" in server.log_text()
    left = old_left()
    if left:
        sys.exit(f"{left} events older than 30 days are left after the purge")
    tools.acked -= old_ids
    for h in old_ids:
        del tools.sent[h]
    events = check_events(db, tools)
    compare("the purge", before, derived(db))
    result.update(retention_kills=kills, old_events=len(old_ids),
                  retention_killed_midway=killed_midway, purges_resumed=resumed,
                  events_after_purge=events)
    log(f"  retention: {len(old_ids)} old events purged across {kills} kills ({killed_midway} "
        f"mid-purge, {resumed} restarts resumed a purge cut short); {events} recent events "
        f"intact, states kept")


def run_backend(args, backend):
    work = tempfile.mkdtemp(prefix=f"huddle-crash-{backend}-")
    secret = os.path.join(work, "jwt.secret")
    with open(secret, "w") as f:
        f.write(uuid.uuid4().hex + uuid.uuid4().hex)
    os.chmod(secret, 0o600)
    db = Database(backend, work, args.postgres)
    result = {"backend": backend}
    try:
        log(f"{backend}: {args.kills} kills during ingest ({args.senders} senders)")
        tools = scenario_ingest(args, args.bin, db, secret, work, result)
        scenario_refit(args, args.bin, db, secret, work, tools, result)
        scenario_retention(args, args.bin, db, secret, work, tools, result)
    finally:
        db.drop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return result


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bin", default="target/release/huddle")
    p.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    p.add_argument("--kills", type=int, default=20)
    p.add_argument("--refit-kills", type=int, default=10)
    p.add_argument("--retention-kills", type=int, default=5)
    p.add_argument("--old-events", type=int, default=100_000)
    p.add_argument("--senders", type=int, default=4)
    p.add_argument("--seed", type=int, default=21)
    p.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = p.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    results = [run_backend(args, b) for b in backends]
    print(json.dumps(results, indent=2))
    print("crash test passed")


if __name__ == "__main__":
    main()
