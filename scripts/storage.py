#!/usr/bin/env python3
"""Storage per million events: posts N generated events to a fresh `huddle serve` and prints the
bytes the database then holds, on SQLite and on PostgreSQL.

The events are the ingest benchmark's district (benches/ingest.rs `generate`): 4,000 students
in 160 classes, 40 skills of 4 domains, 12 items each, in batches of 1,000. SQLite: the file's
pages in use after a checkpoint has emptied the WAL. PostgreSQL: pg_database_size (tables,
indexes, TOAST, a few MB of catalogs), before any vacuum.

    python3 scripts/storage.py --bin target/debug/huddle --events 1000000 --backend both

Needs PostgreSQL at 127.0.0.1:5432 (user postgres, trust) and `psql` for the PostgreSQL run.
Standard library only.
"""

import argparse
import json
import os
import random
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone

SECRET = "storage-secret-storage-secret-storage-0123"
ORG = "storage-district"


def batches(n, size=1000):
    rng = random.Random(7)
    start = datetime.now(timezone.utc) - timedelta(days=30)
    domains = ["fractions", "multiplication", "reading", "geometry"]
    made = 0
    while made < n:
        count = min(size, n - made)
        first_class = rng.randrange(158)
        session = made // (size * 4)
        at = start + timedelta(seconds=made * 2_592_000 / n)
        events = []
        for k in range(count):
            cls = first_class + rng.randrange(3)
            student = cls * 25 + rng.randrange(25)
            skill = (student * 7 + session * 13) % 40
            domain = domains[skill % 4]
            outcome = rng.choice(["correct"] * 6 + ["incorrect"] * 3 + ["skipped"])
            events.append({
                "event_id": str(uuid.uuid4()),
                "occurred_at": (at + timedelta(milliseconds=k * 150)).isoformat(),
                "student_id": f"stu-{student:05}",
                "class_id": f"class-{cls:03}",
                "skill_id": f"{domain}.skill-{skill:02}",
                "item_id": f"{domain}-{skill:02}-{rng.randrange(12):02}",
                "outcome": outcome,
                "attempt": 1,
                "response_ms": rng.randrange(800, 40_000),
                "hints_used": rng.randrange(3),
                "hint_bottom_out": False,
                "session_id": f"s-{student}-{session}",
                "skill_name": f"Skill {skill} of {domain}",
                "tool": "storage-tool",
            })
        yield json.dumps({"events": events}).encode()
        made += count


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def token(binary, secret_file):
    out = subprocess.run(
        [binary, "token", "--role", "tool", "--org", ORG, "--ttl", "12h",
         "--jwt-secret-file", secret_file, "--database-url", "sqlite:///dev/null/unused"],
        check=True, capture_output=True, text=True)
    return out.stdout.strip()


def serve(binary, url, secret_file):
    port = free_port()
    child = subprocess.Popen(
        [binary, "serve", "--bind", f"127.0.0.1:{port}", "--database-url", url,
         "--jwt-secret-file", secret_file, "--rate-limit-per-minute", "0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={k: v for k, v in os.environ.items() if not k.startswith("HUDDLE_")})
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz") as r:
                if r.status == 200:
                    return child, port
        except OSError:
            time.sleep(0.2)
    child.kill()
    sys.exit("huddle serve did not start")


def post_all(port, bearer, n, clients=2):
    bodies = batches(n)
    lock = threading.Lock()
    accepted = [0]

    def work():
        while True:
            with lock:
                body = next(bodies, None)
            if body is None:
                return
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/v1/events", data=body, method="POST",
                headers={"Content-Type": "application/json",
                         "Authorization": f"Bearer {bearer}"})
            with urllib.request.urlopen(request, timeout=300) as r:
                answer = json.load(r)
            with lock:
                accepted[0] += answer["accepted"]

    threads = [threading.Thread(target=work) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return accepted[0]


def psql(sql, db="postgres"):
    return subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-Atc", sql],
        check=True, capture_output=True, text=True).stdout.strip()


def measure(binary, backend, n, directory, secret_file, bearer):
    if backend == "sqlite":
        path = os.path.join(directory, "storage.db")
        url = f"sqlite://{path}"
    else:
        name = f"huddle_storage_{os.getpid()}"
        psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        psql(f"CREATE DATABASE {name}")
        url = f"postgres://postgres@127.0.0.1:5432/{name}"
    child, port = serve(binary, url, secret_file)
    started = time.time()
    try:
        accepted = post_all(port, bearer, n)
    finally:
        child.terminate()
        child.wait()
    seconds = time.time() - started
    if backend == "sqlite":
        db = sqlite3.connect(path)
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        free = db.execute("PRAGMA freelist_count").fetchone()[0]
        size = db.execute("PRAGMA page_size").fetchone()[0]
        db.close()
        stored = (pages - free) * size
    else:
        stored = int(psql("SELECT pg_database_size(current_database())", name))
        psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    print(f"{backend}: {accepted} events in {seconds:.0f} s; {stored / 1e6:.0f} MB stored, "
          f"{stored / 1e6 * 1e6 / accepted:.0f} MB per million events", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bin", default="target/debug/huddle")
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        secret_file = os.path.join(directory, "secret")
        with open(secret_file, "w") as f:
            f.write(SECRET)
        os.chmod(secret_file, 0o600)
        bearer = token(a.bin, secret_file)
        backends = ["sqlite", "postgres"] if a.backend == "both" else [a.backend]
        for backend in backends:
            measure(a.bin, backend, a.events, directory, secret_file, bearer)


if __name__ == "__main__":
    main()
