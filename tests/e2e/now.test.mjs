// The Now page in headless Chromium: a teacher signs in and opens Now; answers posted by a
// tool change a tile without a reload (pushed over Server-Sent Events); a student goes idle
// with no event at all; "I checked in" clears a tile; another class's stream is refused.
// Screenshots at tablet (768 px) and phone (390 px) widths.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { accessibilityProblems, browser, screenshot, startServe } from './harness.mjs';

const ORG = 'district-e2e';
const CLASS = 'class-now-e2e';
let huddle;
let chrome;

const toolToken = () => huddle.token({ sub: 'e2e-tool', role: 'tool', org: ORG });

function answer(student, secondsAgo, outcome, extra = {}) {
  return {
    event_id: randomUUID(),
    occurred_at: new Date(Date.now() - secondsAgo * 1000).toISOString(),
    student_id: student,
    class_id: CLASS,
    skill_id: 'fractions.add-unlike',
    skill_name: 'Adding fractions with unlike denominators',
    item_id: `item-${student}-${secondsAgo}-${outcome}`,
    outcome,
    response_ms: 20_000,
    ...extra,
  };
}

async function send(events) {
  const r = await fetch(`${huddle.base}/api/v1/events`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${toolToken()}` },
    body: JSON.stringify({ events }),
  });
  const body = await r.json();
  assert.equal(r.status, 200);
  assert.equal(body.accepted, events.length, JSON.stringify(body));
}

const addTeacher = (email, classes) => huddle.addUser(email, 'teacher', ORG, classes);

before(async () => {
  huddle = await startServe();
  chrome = await browser();
  // Four students practising.
  const events = [];
  for (const s of ['amara', 'theo', 'lucas', 'noor']) {
    events.push(answer(s, 90, 'correct'), answer(s, 60, 'incorrect'), answer(s, 30, 'correct'));
  }
  await send(events);
  // The class has to exist for the other teacher: one event in it.
  await send([{ ...answer('zed', 60, 'correct'), class_id: 'other-class' }]);
  addTeacher('now@e2e.test', CLASS);
  addTeacher('other@e2e.test', 'other-class');
});

after(async () => {
  await chrome?.close();
  huddle?.stop();
});

async function signedIn(email, viewport = { width: 768, height: 1024 }) {
  const context = await chrome.newContext({ bypassCSP: true, viewport });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  page.documents = 0;
  page.on('framenavigated', (f) => {
    if (f === page.mainFrame()) page.documents += 1;
  });
  await page.goto(`${huddle.base}/#/signin`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(huddle.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  // A teacher of one class lands on its Today page: wait for it, so no later redirect races.
  await page.getByRole('heading', { name: /^Today in/ }).waitFor();
  return page;
}

const tile = (page, student) => page.locator(`li.tile[data-student="${student}"]`);

async function stateOf(page, student) {
  return tile(page, student).getAttribute('data-state');
}

async function waitForState(page, student, state, ms) {
  await page.locator(`li.tile[data-student="${student}"][data-state="${state}"]`).waitFor({ timeout: ms });
}

test('answers change a tile without a reload, and a check-in clears it', async () => {
  const page = await signedIn('now@e2e.test');
  await page.goto(`${huddle.base}/#/now/${CLASS}`);
  await page.getByRole('heading', { name: /^Now in/ }).waitFor();
  await page.locator('.live-dot.live').waitFor({ state: 'attached', timeout: 5000 });
  assert.equal(await stateOf(page, 'amara'), 'working');
  const documents = page.documents;
  await page.evaluate(() => (window.stillHere = true));

  // Three wrong first tries: Amara needs a person, pushed within 2 seconds.
  const posted = Date.now();
  await send([answer('amara', 3, 'incorrect'), answer('amara', 2, 'incorrect'), answer('amara', 1, 'incorrect')]);
  await waitForState(page, 'amara', 'needs_person', 2000);
  const pushedMs = Date.now() - posted;
  assert.ok(pushedMs < 2000, `pushed after ${pushedMs} ms`);
  assert.equal(page.documents, documents, 'the page was not reloaded');
  assert.equal(await page.evaluate(() => window.stillHere), true);
  assert.match(await tile(page, 'amara').locator('.tile-reason').textContent(), /3 of the last 4/);
  // Needs-a-person tiles come first.
  assert.equal(await page.locator('li.tile').first().getAttribute('data-student'), 'amara');

  await screenshot(page, 'now-768');
  assert.deepEqual(await accessibilityProblems(page), []);

  // "I checked in" clears the tile.
  await tile(page, 'amara').getByRole('button', { name: 'I checked in' }).click();
  await waitForState(page, 'amara', 'working', 3000);
  assert.match(await tile(page, 'amara').textContent(), /You checked in/);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('a student goes idle on the page with no event at all', async () => {
  // "quiet" last answered 2 min 35 s ago: idle at 3 minutes, with nothing sent after this.
  await send([answer('quiet', 185, 'correct'), answer('quiet', 155, 'correct')]);
  const page = await signedIn('now@e2e.test');
  await page.goto(`${huddle.base}/#/now/${CLASS}`);
  await page.getByRole('heading', { name: /^Now in/ }).waitFor({ timeout: 10_000 }).catch(async (e) => {
    throw new Error(`${e.message}\n${page.url()}\n${await page.locator('main').textContent()}\n${huddle.output().slice(-2000)}`);
  });
  assert.equal(await stateOf(page, 'quiet'), 'working');
  const start = Date.now();
  await waitForState(page, 'quiet', 'idle', 60_000);
  assert.ok(Date.now() - start < 60_000);
  assert.match(await tile(page, 'quiet').locator('.tile-reason').textContent(), /No answer for \d+ minutes/);
  await page.context().close();
});

test('the Now page at phone width, names hidden', async () => {
  const page = await signedIn('now@e2e.test', { width: 390, height: 844 });
  await page.goto(`${huddle.base}/#/now/${CLASS}`);
  await page.getByRole('heading', { name: /^Now in/ }).waitFor({ timeout: 10_000 }).catch(async (e) => {
    throw new Error(`${e.message}\n${await page.locator('main').textContent()}\n${huddle.output().slice(-2000)}`);
  });
  await page.locator('#anonymise').check();
  await page.locator('li.tile').first().waitFor();
  const text = await page.locator('.now-body').textContent();
  assert.match(text, /Student [A-Z2-9]{3}/);
  // No horizontal scrolling on a phone.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than the screen`);
  await screenshot(page, 'now-390');
  await page.context().close();
});

test("a teacher cannot open another class's stream", async () => {
  const page = await signedIn('other@e2e.test');
  const result = await page.evaluate(async (cls) => {
    const auth = { Authorization: `Bearer ${sessionStorage.getItem('huddle.token')}` };
    const refused = await fetch(`/api/v1/classes/${cls}/now/ticket`, { method: 'POST', headers: auth });
    const own = await (await fetch('/api/v1/classes/other-class/now/ticket', { method: 'POST', headers: auth })).json();
    const wrongClass = await fetch(`/api/v1/classes/${cls}/now/stream?ticket=${own.ticket}`);
    // EventSource on the other class: the browser sees an error and no data.
    const events = await new Promise((done) => {
      const got = [];
      const es = new EventSource(`/api/v1/classes/${cls}/now/stream?ticket=${own.ticket}`);
      es.addEventListener('now', (e) => got.push(e.data));
      es.onerror = () => {
        es.close();
        done(got);
      };
      setTimeout(() => {
        es.close();
        done(got);
      }, 3000);
    });
    return { ticket: refused.status, stream: wrongClass.status, events: events.length };
  }, CLASS);
  assert.deepEqual(result, { ticket: 403, stream: 403, events: 0 });
  await page.goto(`${huddle.base}/#/now/${CLASS}`);
  await page.getByRole('heading', { name: 'Not yours to see' }).waitFor();
  await page.context().close();
});
