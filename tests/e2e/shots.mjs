// Screenshots of the teacher's pages against a running Huddle (HUDDLE_URL, HUDDLE_EMAIL,
// HUDDLE_PASSWORD): `node shots.mjs`. Not a test; used to look at the pages.
import { browser, screenshot } from './harness.mjs';

const base = process.env.HUDDLE_URL;
const chrome = await browser();
const page = await (await chrome.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
const errors = [];
page.on('pageerror', (e) => errors.push(e.message));
await page.goto(`${base}/#/signin`);
await page.getByLabel('Email').fill(process.env.HUDDLE_EMAIL);
await page.getByLabel('Password').fill(process.env.HUDDLE_PASSWORD);
await page.getByRole('button', { name: 'Sign in' }).click();
await page.getByRole('heading', { name: /Today in/ }).waitFor();
await screenshot(page, 'today');
await page.getByRole('link', { name: 'Class', exact: true }).click();
await page.locator('table.grid').waitFor();
await screenshot(page, 'class');
await page.locator('table.grid tbody th a').first().click();
await page.getByRole('heading', { name: 'Skills' }).waitFor();
await screenshot(page, 'student');
await page.getByRole('link', { name: 'Review' }).click();
await page.getByRole('heading', { name: 'Review' }).waitFor();
await screenshot(page, 'reviews');
console.log(errors.length ? errors : 'no page errors');
await chrome.close();
