// `huddle demo --live` in headless Chromium: the demo teacher opens Now for the class the demo
// keeps practising, and its tiles change while the page stays loaded — answers arrive through
// the real ingest endpoint and are pushed over the page's stream.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { browser, startDemo } from './harness.mjs';

let demo;
let chrome;

before(async () => {
  demo = await startDemo(['--live']);
  chrome = await browser();
});

after(async () => {
  await chrome?.close();
  demo?.stop();
});

/** Every tile's student, state and text. */
async function tiles(page) {
  return page.locator('li.tile').evaluateAll((list) =>
    list.map((t) => `${t.dataset.student} ${t.dataset.state} ${t.textContent}`),
  );
}

test('the live demo moves the Now page without a reload', async () => {
  const live = demo.printed.split('\n').find((l) => l.startsWith('Live: '));
  assert.ok(live, `demo --live says which class practises:\n${demo.printed}`);
  const className = live.slice('Live: '.length).split(' is practising')[0];

  const context = await chrome.newContext({ bypassCSP: true, viewport: { width: 768, height: 1024 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  let documents = 0;
  page.on('framenavigated', (f) => {
    if (f === page.mainFrame()) documents += 1;
  });
  await page.goto(`${demo.base}/#/signin`);
  await page.getByLabel('Email').fill(demo.teacher.email);
  await page.getByLabel('Password').fill(demo.teacher.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: /^Today in / }).waitFor();
  // Today says, without a tap, whom the teacher has not checked in with.
  const attention = page.locator('section.attention .headline');
  await attention.waitFor({ timeout: 20_000 });
  assert.match(await attention.textContent(), /^You have (not )?checked in with /);

  const classId = await page.evaluate(async (name) => {
    const auth = { Authorization: `Bearer ${sessionStorage.getItem('huddle.token')}` };
    const list = await (await fetch('/api/v1/classes', { headers: auth })).json();
    return (list.classes || list).find((c) => c.name === name)?.class_id;
  }, className);
  assert.ok(classId, `the teacher has the live class ${className}`);

  await page.goto(`${demo.base}/#/now/${classId}`);
  await page.getByRole('heading', { name: /^Now in/ }).waitFor();
  await page.locator('.live-dot.live').waitFor({ state: 'attached', timeout: 10_000 });
  await page.locator('li.tile').first().waitFor();
  const first = await tiles(page);
  const loaded = documents;
  await page.evaluate(() => (window.stillHere = true));

  // Students answer every 20 to 40 seconds: within a minute some tile shows new answers.
  const start = Date.now();
  let changed = [];
  while (Date.now() - start < 60_000 && changed.length === 0) {
    await page.waitForTimeout(2000);
    const now = await tiles(page);
    changed = now.filter((t) => !first.includes(t));
  }
  assert.ok(changed.length > 0, `no tile changed in a minute:\n${first.join('\n')}`);
  assert.equal(documents, loaded, 'the page was not reloaded');
  assert.equal(await page.evaluate(() => window.stillHere), true);
  // The class is practising: some students are in a state of the sitting.
  const states = await page.locator('li.tile').evaluateAll((list) => list.map((t) => t.dataset.state));
  assert.ok(states.some((s) => s !== 'not_here'), `states: ${states.join(', ')}`);
  assert.deepEqual(errors, []);
  await context.close();
});
