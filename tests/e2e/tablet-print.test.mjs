// Group cards on paper and the class grid on a tablet, in headless Chromium, on a class of
// 36 students built for it: six skills, six students struggling with each (six groups), a
// few answering too fast to read (flags), items described for three of the skills.
// Printed: six cards on one page (A4 and Letter), with the class, the date and room for notes.
// At 768 × 1024 with touch: the grid scrolls inside its frame to every skill and the flags,
// the names stay in view, and a tap shows what hover shows. Screenshots in docs/screenshots/.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { accessibilityProblems, browser, screenshot, startServe } from './harness.mjs';

const ORG = 'district-print';
const CLASS = 'class-4b';
const TEACHER = 'cards@e2e.test';
const SKILLS = [
  ['multiplication.facts-7', 'Multiplication facts: the 7s', (i) => [`7 × ${i + 3}`, `${7 * (i + 3)}`, `${7 * (i + 3) - 2}`]],
  ['fractions.add-unlike', 'Adding fractions with unlike denominators', (i) => [`1/${i + 2} + 1/${i + 3}`, `${2 * i + 5}/${(i + 2) * (i + 3)}`, `2/${2 * i + 5}`]],
  ['division.facts-6', 'Division facts: dividing by 6', (i) => [`${6 * (i + 2)} ÷ 6`, `${i + 2}`, `${i + 3}`]],
  ['reading.main-idea', 'Finding the main idea of a paragraph', null],
  ['decimals.place-value', 'Decimal place value', null],
  ['geometry.area-rectangles', 'Area of rectangles', null],
];
const ITEMS = 14;

let huddle;
let chrome;

async function call(method, path, body) {
  const r = await fetch(`${huddle.base}${path}`, {
    method,
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${huddle.token({ sub: 'e2e-tool', role: 'tool', org: ORG })}` },
    body: JSON.stringify(body),
  });
  return { status: r.status, body: await r.json() };
}

before(async () => {
  huddle = await startServe();
  chrome = await browser();
  const described = SKILLS.filter(([, , item]) => item).flatMap(([skill, , item]) =>
    Array.from({ length: ITEMS }, (_, i) => ({ item_id: `${skill}:${i + 1}`, skill_id: skill, prompt: item(i)[0], answer: item(i)[1] })),
  );
  const put = await call('PUT', '/api/v1/items', { items: described });
  assert.equal(put.status, 200);
  assert.equal(put.body.stored, described.length, JSON.stringify(put.body));

  const now = Date.now();
  const events = [];
  const answer = (student, skill, name, item, minutesAgo, outcome, extra = {}) =>
    events.push({
      event_id: randomUUID(),
      occurred_at: new Date(now - minutesAgo * 60_000).toISOString(),
      student_id: student,
      class_id: CLASS,
      skill_id: skill,
      skill_name: name,
      item_id: `${skill}:${item + 1}`,
      outcome,
      response_ms: 20_000,
      ...extra,
    });
  SKILLS.forEach(([skill, name, item], k) => {
    for (let j = 0; j < 6; j += 1) {
      const student = `stu-${k}${j}`;
      // Wrong on every item of their skill; most of them with the same wrong answer.
      for (let i = 0; i < ITEMS; i += 1) {
        const response = item && (j < 4 ? item(i)[2] : `${item(i)[1]}${j}`);
        answer(student, skill, name, i, 200 - i, 'incorrect', response ? { response } : {});
      }
      // Right twice on every other skill: marks in every column.
      SKILLS.forEach(([other, otherName], m) => {
        if (m !== k) for (let i = 0; i < 2; i += 1) answer(student, other, otherName, i, 100 - i, 'correct');
      });
    }
  });
  // Three students answer too fast to read: a flag each.
  for (const student of ['stu-00', 'stu-11', 'stu-22']) {
    for (let i = 0; i < 4; i += 1) answer(student, 'reading.main-idea', SKILLS[3][1], 7 - i, 30 - i, 'incorrect', { response_ms: 300 });
  }
  const sent = await call('POST', '/api/v1/events', { events });
  assert.equal(sent.status, 200);
  assert.equal(sent.body.accepted, events.length, JSON.stringify(sent.body.rejected?.slice(0, 3)));
  huddle.addUser(TEACHER, 'teacher', ORG, CLASS);
});

after(async () => {
  await chrome?.close();
  huddle?.stop();
});

async function signedIn(options) {
  const context = await chrome.newContext({ bypassCSP: true, ...options });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  await page.goto(`${huddle.base}/#/signin`);
  await page.getByLabel('Email').fill(TEACHER);
  await page.getByLabel('Password').fill(huddle.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: /^Today in/ }).waitFor();
  return page;
}

/** Pages in a PDF that Chromium wrote: its page objects (`/Type /Page`, not `/Pages`). */
function pageCount(pdf) {
  return (pdf.toString('latin1').match(/\/Type\s*\/Page(?![a-z])/g) || []).length;
}

test('six group cards print on one page with the class, the date and room for notes', async () => {
  const page = await signedIn({ viewport: { width: 1280, height: 900 } });
  const cards = page.locator('.group-card');
  await cards.first().waitFor();
  assert.equal(await cards.count(), 6, 'six groups, one per skill');
  // The problems, not their ids: the described ones by their prompt and common wrong answer,
  // the others as a question of their skill.
  const text = await page.locator('.group-cards').innerText();
  assert.match(text, /7 × \d+ — 4 of 6 answered \d+/);
  assert.match(text, /Question \d+ of finding the main idea of a paragraph — 6 of 6 got it wrong/);
  assert.doesNotMatch(text, /#0|:00\d/);
  assert.doesNotMatch(await page.locator('main').innerText(), /\bnull\b|undefined/);

  // The page as printed on A4 (210 mm less 12 mm margins each side, at 96 px an inch).
  await page.setViewportSize({ width: 703, height: 1032 });
  await page.emulateMedia({ media: 'print' });
  await screenshot(page, 'group-cards-print');
  assert.equal(await page.locator('.insights').isVisible(), false, 'print shows the cards only');
  const head = await page.locator('.print-head').innerText();
  assert.match(head, new RegExp(CLASS));
  assert.match(head, new RegExp(String(new Date().getFullYear())));
  for (let i = 0; i < 6; i += 1) {
    const card = cards.nth(i);
    const notes = card.locator('.notes');
    assert.ok(await notes.isVisible(), 'room for notes');
    const box = await notes.boundingBox();
    assert.ok(box.height >= 40, `card ${i}: ${box.height} px of notes`);
    const clipped = await card.evaluate((el) => el.scrollHeight - el.clientHeight);
    assert.ok(clipped <= 1, `card ${i} is cut by ${clipped} px`);
  }
  for (const format of ['A4', 'Letter']) {
    const pdf = await page.pdf({ format });
    if (process.env.HUDDLE_PDF_DIR) writeFileSync(join(process.env.HUDDLE_PDF_DIR, `cards-${format}.pdf`), pdf);
    assert.equal(pageCount(pdf), 1, `six cards on one ${format} page`);
  }
  assert.deepEqual(page.errors, []);
});

test('on a 768 px tablet the grid scrolls to every skill and the flags, and a tap shows what hover shows', async () => {
  const page = await signedIn({ viewport: { width: 768, height: 1024 }, hasTouch: true });
  // Touch only: the mouse that signed in is moved away, so nothing shows by hovering.
  await page.mouse.move(0, 0);
  await page.getByRole('link', { name: 'Class', exact: true }).tap();
  await page.locator('table.grid td.mark').first().waitFor();
  assert.ok(
    (await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)) <= 0,
    'the page itself does not scroll sideways',
  );
  const headers = await page.locator('table.grid th.skill').allInnerTexts();
  assert.deepEqual(headers.map((t) => t.replace(/\s+/g, ' ').trim()).sort(), SKILLS.map(([, name]) => name).sort());
  await screenshot(page, 'class-tablet');

  // Scrolled to the far right: the last skill and the flags in view, the names still there.
  const wrap = page.locator('.grid-wrap');
  await wrap.evaluate((el) => el.scrollTo({ left: el.scrollWidth }));
  const frame = await wrap.boundingBox();
  const inFrame = async (locator) => {
    const b = await locator.boundingBox();
    return b.x >= frame.x - 1 && b.x + b.width <= frame.x + frame.width + 1;
  };
  assert.ok(await inFrame(page.locator('table.grid thead th').last()), 'the flags column is in view');
  assert.ok(await inFrame(page.locator('table.grid th.skill').last()), 'the last skill is in view');
  const name = await page.locator('table.grid tbody th.sticky').first().boundingBox();
  assert.ok(Math.abs(name.x - frame.x) <= 2, `the name column stays at the left (${name.x} vs ${frame.x})`);
  await screenshot(page, 'class-tablet-scrolled');

  // A tap on a mark shows its sentence, as hover does.
  const mark = page.locator('table.grid td.mark').first();
  const tip = mark.locator('.tip');
  assert.equal(await tip.isVisible(), false);
  await mark.tap();
  assert.ok(await tip.isVisible(), 'a tap shows the mark\u2019s sentence');
  assert.match(await tip.innerText(), /based on \d+ answers?/);
  // A tap on a student's flags shows what each flag means.
  const flags = page.locator('table.grid td.flags.has-flags').first();
  await flags.scrollIntoViewIfNeeded();
  await flags.tap();
  assert.match(await flags.locator('.tip').innerText(), /Answering too fast to read the question/);
  await screenshot(page, 'class-tablet-tap');
  assert.deepEqual(await accessibilityProblems(page), []);
  assert.deepEqual(page.errors, []);
});
