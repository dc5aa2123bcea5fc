// The live view under load (docs/performance.md, "Live view (Now)"): HUDDLE_BIN serves a fresh
// SQLite database; CLASSES classes of STUDENTS students each answer every INTERVAL_S seconds
// (one POST per answer, as tablets send them), with one Now stream open per class. Measured:
// the time from an answer's acknowledgement (the POST's 200) to the first stream frame that
// shows it (p50, p95, p99), the server's CPU and peak memory; then the ingest throughput of
// saturating batches with the streams open and with none.
//
//   HUDDLE_BIN=target/release/huddle node scripts/now-bench.mjs
//
// Node 18+ (fetch). Environment: CLASSES (100), STUDENTS (30), INTERVAL_S (20), SECONDS (60),
// SATURATE_S (15).

import { spawn } from 'node:child_process';
import { createHmac, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';

const CLASSES = Number(process.env.CLASSES || 100);
const STUDENTS = Number(process.env.STUDENTS || 30);
const INTERVAL_S = Number(process.env.INTERVAL_S || 20);
const SECONDS = Number(process.env.SECONDS || 60);
const SATURATE_S = Number(process.env.SATURATE_S || 15);
const ORG = 'bench';
const SECRET = 'now-bench-secret-0123456789abcdef0123456789';
const bin = process.env.HUDDLE_BIN || 'target/release/huddle';

const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
function token(claims) {
  const now = Math.floor(Date.now() / 1000);
  const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ iat: now, exp: now + 7200, ...claims })}`;
  return `${body}.${createHmac('sha256', SECRET).update(body).digest('base64url')}`;
}
const tool = token({ sub: 'bench-tool', role: 'tool', org: ORG });
const admin = token({ sub: 'bench-admin', role: 'admin', org: ORG });

const freePort = () =>
  new Promise((ok) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });

const cls = (c) => `bench-class-${String(c).padStart(3, '0')}`;
const stu = (c, s) => `bench-${c}-${s}`;
function answer(c, s, atMs = Date.now()) {
  return {
    event_id: randomUUID(),
    occurred_at: new Date(atMs).toISOString(),
    student_id: stu(c, s),
    class_id: cls(c),
    skill_id: `skill.s${s % 4}`,
    item_id: `item-${Math.floor(Math.random() * 200)}`,
    outcome: Math.random() < 0.7 ? 'correct' : 'incorrect',
    response_ms: 5000 + Math.floor(Math.random() * 20000),
  };
}

function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function procStat(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const ticks = Number(stat[11]) + Number(stat[12]);
  const hwm = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1];
  return { cpuS: ticks / 100, peakMiB: Number(hwm) / 1024 };
}

async function post(base, events) {
  const r = await fetch(`${base}/api/v1/events`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${tool}` },
    body: JSON.stringify({ events }),
  });
  const body = await r.json();
  if (r.status !== 200 || body.accepted !== events.length) throw new Error(`${r.status} ${JSON.stringify(body).slice(0, 300)}`);
}

/** Opens class c's stream; calls onFrame(view, receivedAt) for every `now` frame. */
async function openStream(base, c, onFrame, signal) {
  const t = await (await fetch(`${base}/api/v1/classes/${cls(c)}/now/ticket`, { method: 'POST', headers: { Authorization: `Bearer ${admin}` } })).json();
  const r = await fetch(`${base}${t.stream_url}`, { signal });
  if (r.status !== 200) throw new Error(`stream ${r.status}`);
  (async () => {
    const decoder = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of r.body) {
        buf += decoder.decode(chunk, { stream: true });
        let end;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          if (!block.startsWith('event: now')) continue;
          const data = block.split('\n').find((l) => l.startsWith('data: '));
          if (data) onFrame(JSON.parse(data.slice(6)), performance.now());
        }
      }
    } catch {
      // aborted at the end
    }
  })();
}

async function saturate(base, seconds) {
  const end = performance.now() + seconds * 1000;
  let sent = 0;
  const worker = async () => {
    while (performance.now() < end) {
      const events = [];
      for (let i = 0; i < 500; i++) {
        const c = Math.floor(Math.random() * CLASSES);
        events.push(answer(c, Math.floor(Math.random() * STUDENTS)));
      }
      await post(base, events);
      sent += events.length;
    }
  };
  const start = performance.now();
  await Promise.all([worker(), worker(), worker(), worker()]);
  return sent / ((performance.now() - start) / 1000);
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'now-bench-'));
  writeFileSync(join(dir, 'secret'), SECRET, { mode: 0o600 });
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = spawn(bin, ['serve', '--bind', `127.0.0.1:${port}`, '--database-url', `sqlite://${join(dir, 'bench.db')}`, '--jwt-secret-file', join(dir, 'secret')], {
    env: { ...process.env, RUST_LOG: 'warn', HUDDLE_RATE_LIMIT_PER_MINUTE: "0" },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) break;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }

  // Every class in a sitting: each student answered in the last minute.
  for (let c = 0; c < CLASSES; c++) {
    const events = [];
    for (let s = 0; s < STUDENTS; s++) events.push(answer(c, s, Date.now() - 60_000 + s * 1000));
    await post(base, events);
  }

  // Pending answers, keyed by class and student: the time of each acknowledgement.
  const pending = new Map();
  const latencies = [];
  const abort = new AbortController();
  for (let c = 0; c < CLASSES; c++) {
    await openStream(
      base,
      c,
      (view, at) => {
        for (const s of view.students) {
          const key = s.student_id;
          const p = pending.get(key);
          if (p && s.last_answer_at && Date.parse(s.last_answer_at) >= p.occurred) {
            latencies.push(at - p.acked);
            pending.delete(key);
          }
        }
      },
      abort.signal,
    );
  }
  await new Promise((r) => setTimeout(r, 2000));

  const before = procStat(server.pid);
  const start = performance.now();
  let posted = 0;
  const timers = [];
  // Each student answers every INTERVAL_S, at a random phase.
  await new Promise((done) => {
    for (let c = 0; c < CLASSES; c++) {
      for (let s = 0; s < STUDENTS; s++) {
        const fire = async () => {
          if (performance.now() - start > SECONDS * 1000) return;
          const e = answer(c, s);
          const occurred = Date.parse(e.occurred_at);
          try {
            await post(base, [e]);
            posted += 1;
            if (!pending.has(e.student_id)) pending.set(e.student_id, { occurred, acked: performance.now() });
          } catch (err) {
            console.error(err.message);
          }
        };
        const phase = Math.random() * INTERVAL_S * 1000;
        timers.push(setTimeout(() => {
          fire();
          timers.push(setInterval(fire, INTERVAL_S * 1000));
        }, phase));
      }
    }
    setTimeout(done, SECONDS * 1000 + 3000);
  });
  timers.forEach((t) => clearInterval(t));
  const after = procStat(server.pid);
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);

  const withStreams = await saturate(base, SATURATE_S);
  abort.abort();
  await new Promise((r) => setTimeout(r, 2000));
  const without = await saturate(base, SATURATE_S);
  const end = procStat(server.pid);
  server.kill('SIGTERM');

  const fig = (x) => Math.round(x);
  console.log(
    JSON.stringify(
      {
        nproc: cpus().length,
        classes: CLASSES,
        students_per_class: STUDENTS,
        answer_every_s: INTERVAL_S,
        streams: CLASSES,
        seconds: fig(elapsed),
        answers_posted: posted,
        answers_per_s: +(posted / elapsed).toFixed(1),
        matched: latencies.length,
        ack_to_stream_ms: { p50: fig(percentile(latencies, 50)), p95: fig(percentile(latencies, 95)), p99: fig(percentile(latencies, 99)) },
        server_cpu_percent_of_one_core: fig(((after.cpuS - before.cpuS) / elapsed) * 100),
        server_peak_mib: fig(end.peakMiB),
        saturating_ingest_events_per_s: { with_streams: fig(withStreams), without_streams: fig(without), ratio: +(withStreams / without).toFixed(3) },
      },
      null,
      2,
    ),
  );
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
