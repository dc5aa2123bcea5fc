// The dashboard loads from the binary, sends a signed-out visitor to the sign-in form, refuses a
// wrong password with the server's message, and passes an accessibility check.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { accessibilityProblems, browser, screenshot, startHuddle } from './harness.mjs';

let huddle;
let chrome;

before(async () => {
  huddle = await startHuddle(['serve']);
  chrome = await browser();
});

// axe-core is injected as a script: the page's Content-Security-Policy would block it.
const newPage = async () => (await chrome.newContext({ bypassCSP: true })).newPage();

after(async () => {
  await chrome?.close();
  huddle?.stop();
});

test('a signed-out visitor sees the sign-in form, with no outside requests', async () => {
  const page = await newPage();
  const outside = [];
  page.on('request', (r) => {
    if (!r.url().startsWith(huddle.base)) outside.push(r.url());
  });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${huddle.base}/`);
  await page.getByRole('heading', { name: 'Sign in to Huddle' }).waitFor();
  assert.match(page.url(), /#\/signin$/);
  assert.deepEqual(outside, []);
  assert.deepEqual(errors, []);
  assert.deepEqual(await accessibilityProblems(page), []);
  await screenshot(page, 'signin');
});

test('a wrong password is refused with a plain message', async () => {
  const page = await newPage();
  await page.goto(`${huddle.base}/#/signin`);
  await page.getByLabel('Email').fill('nobody@example.org');
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  const alert = page.locator('#signin-error');
  await alert.filter({ hasText: /\S/ }).waitFor();
  assert.ok((await alert.textContent()).length > 5);
  assert.match(page.url(), /#\/signin$/);
});
