// Starts the real Huddle binary on a free port with a fresh database, and Debian's Chromium
// through playwright-core (never a downloaded browser).

import { execFileSync, spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const root = resolve(here, '..', '..');
export const screenshots = join(root, 'docs', 'screenshots');

const binary = resolve(root, process.env.HUDDLE_BIN || join('target', 'debug', 'huddle'));

async function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
    server.on('error', fail);
  });
}

/** Runs `huddle <args>` with a free port; resolves once /healthz answers. */
export async function startHuddle(args = ['serve']) {
  const dir = mkdtempSync(join(tmpdir(), 'huddle-e2e-'));
  const port = await freePort();
  const child = spawn(
    binary,
    [...args, '--bind', `127.0.0.1:${port}`, '--database-url', `sqlite://${join(dir, 'e2e.db')}`],
    { cwd: dir, env: { ...process.env, RUST_LOG: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`huddle exited early:\n${output}`);
    try {
      const r = await fetch(`${base}/healthz`);
      if (r.ok) return { base, dir, child, output: () => output, stop: () => child.kill('SIGTERM') };
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  child.kill('SIGKILL');
  throw new Error(`huddle did not become healthy:\n${output}`);
}

/**
 * Runs `huddle serve` with a signing secret of its own, so the test can sign tokens
 * (`huddle.token({ sub, role, org })`) and add accounts (`huddle.addUser(email, role, org,
 * classes)`, password `huddle.password`).
 */
export async function startServe() {
  const secret = `e2e-secret-${Date.now()}-0123456789abcdef0123456789`;
  const secretDir = mkdtempSync(join(tmpdir(), 'huddle-secret-'));
  const secretFile = join(secretDir, 'secret');
  writeFileSync(secretFile, secret, { mode: 0o600 });
  const huddle = await startHuddle(['serve', '--jwt-secret-file', secretFile]);
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  huddle.password = 'a long enough e2e password';
  huddle.token = (claims) => {
    const now = Math.floor(Date.now() / 1000);
    const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ iat: now, exp: now + 3600, ...claims })}`;
    return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
  };
  huddle.addUser = (email, role, org, classes) =>
    execFileSync(
      binary,
      ['user', 'add', '--email', email, '--role', role, '--org', org, ...(classes ? ['--classes', classes] : []),
        '--password-stdin', '--database-url', `sqlite://${join(huddle.dir, 'e2e.db')}`],
      { input: `${huddle.password}\n` },
    );
  return huddle;
}

/**
 * Runs `huddle demo --bind 127.0.0.1:0` (and `extra` flags, such as `--live`) on a fresh SQLite
 * file and reads what it prints: the real URL and the teacher's and administrator's sign-in
 * details.
 */
export async function startDemo(extra = []) {
  const dir = mkdtempSync(join(tmpdir(), 'huddle-demo-'));
  const child = spawn(
    binary,
    ['demo', '--bind', '127.0.0.1:0', '--database-url', `sqlite://${join(dir, 'demo.db')}`, ...extra],
    { cwd: dir, env: { ...process.env, RUST_LOG: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stderr.on('data', (d) => (output += d));
  const printed = await new Promise((ok, fail) => {
    let text = '';
    const timer = setTimeout(() => fail(new Error(`huddle demo printed no sign-in details:\n${text}\n${output}`)), 180_000);
    child.stdout.on('data', (d) => {
      text += d;
      // With --live, the line naming the practising class comes after the accounts.
      const live = !extra.includes('--live') || /^Live: .*$/m.test(text);
      if ((text.match(/Password:/g) || []).length >= 2 && live) {
        clearTimeout(timer);
        ok(text);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`huddle demo exited with ${code}:\n${text}\n${output}`));
    });
  });
  const field = (label, nth = 0) => {
    const lines = printed.split('\n').map((l) => l.trim()).filter((l) => l.startsWith(label));
    return lines[nth]?.slice(label.length).trim().split(/\s+/)[0];
  };
  const base = field('Dashboard:').replace(/\/$/, '');
  const seconds = Number(printed.match(/Ready in ([0-9.]+) s/)?.[1]);
  return {
    base,
    dir,
    printed,
    seconds,
    teacher: { email: field('Teacher:'), password: field('Password:', 0) },
    admin: { email: field('Administrator:'), password: field('Password:', 1) },
    stop: () => child.kill('SIGTERM'),
  };
}

export async function browser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Runs axe-core in the page; returns the serious and critical violations. */
export async function accessibilityProblems(page) {
  const source = readFileSync(join(here, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
  await page.addScriptTag({ content: source });
  const result = await page.evaluate(async () => window.axe.run(document, { resultTypes: ['violations'] }));
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join('; ')}`);
}

export async function screenshot(page, name) {
  mkdirSync(screenshots, { recursive: true });
  await page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true });
}
