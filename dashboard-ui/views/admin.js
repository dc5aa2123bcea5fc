// Administration: adoption over time (with review activity), model health, data quality.
// Each page reads one or two report endpoints; an endpoint this server does not have (404)
// becomes a plain "not available" panel, never a broken page.

import { get } from '../api.js';
import { barChart } from '../chart.js';
import { day, h, plural } from '../dom.js';

const PAGES = [
  ['#/admin', 'Adoption'],
  ['#/admin/models', 'Model health'],
  ['#/admin/quality', 'Data quality'],
];

/** The report at `path`, or null when this server has no such report. */
async function optional(path) {
  try {
    return await get(path);
  } catch (e) {
    if (e.status === 404 || e.status === 405) return null;
    throw e;
  }
}

function tabs(current) {
  return h(
    'nav',
    { class: 'tabs', 'aria-label': 'Administration' },
    PAGES.map(([href, text]) => h('a', { href, 'aria-current': href === current ? 'page' : undefined }, text)),
  );
}

function unavailable(what) {
  return h(
    'section',
    { class: 'unavailable', 'aria-label': `${what}: not available` },
    h('h2', {}, `${what}: not available`),
    h('p', {}, `This Huddle server does not provide the ${what.toLowerCase()} report yet. The rest of the dashboard works as usual.`),
  );
}

function page(current, title, ...content) {
  return h('div', { class: 'admin' }, tabs(current), h('h1', {}, title), ...content);
}

export async function admin() {
  const adoption = await optional('/api/v1/admin/adoption');
  if (!adoption) return page('#/admin', 'Adoption', unavailable('Adoption'));
  const weeks = adoption.weeks || [];
  const latest = weeks.at(-1);
  return page(
    '#/admin',
    'Adoption',
    latest ? h('p', { class: 'lead' }, headline(adoption, latest)) : null,
    h(
      'section',
      { 'aria-labelledby': 'weekly-h' },
      h('h2', { id: 'weekly-h' }, 'Week by week'),
      weeks.length === 0
        ? h('p', {}, 'No practice yet.')
        : barChart({
            title: 'Weekly active students and practice minutes',
            summary: `${plural(weeks.length, 'week')}; in the latest, ${latest.active_students} active students and ${Math.round(latest.practice_minutes)} practice minutes.`,
            labels: weeks.map((w) => shortDay(w.week_start)),
            bars: weeks.map((w) => w.active_students),
            barLabel: 'active students',
            line: weeks.map((w) => w.practice_minutes),
            lineLabel: 'practice minutes',
          }),
      table(
        ['Week of', 'Active students', 'Active teachers', 'Answers', 'Practice minutes'],
        weeks.map((w) => [day(w.week_start), w.active_students, w.active_teachers, w.events, Math.round(w.practice_minutes)]),
      ),
    ),
    reviewActivity(adoption),
    breakdown('By school', adoption.schools || [], (s) => s.name || s.school_name || s.school_id),
    breakdown('By class', adoption.classes || [], (c) => c.name || c.class_name || c.class_id),
  );
}

function headline(adoption, latest) {
  const schools = (adoption.schools || []).length;
  const classes = (adoption.classes || []).length;
  return (
    `Last week ${plural(latest.active_students, 'student')} practised for ${Math.round(latest.practice_minutes)} minutes` +
    (latest.active_teachers !== undefined ? `, and ${plural(latest.active_teachers, 'teacher')} looked at Huddle` : '') +
    (schools || classes ? ` (${plural(schools, 'school')}, ${plural(classes, 'class', 'classes')}).` : '.')
  );
}

/** Whether teachers act on what Huddle shows: review decisions, when the report has them. */
function reviewActivity(adoption) {
  const r = adoption.reviews || adoption.review_activity;
  if (!r) return null;
  const weeks = Array.isArray(r) ? r : r.weeks || [];
  return h(
    'section',
    { 'aria-labelledby': 'reviews-h' },
    h('h2', { id: 'reviews-h' }, 'Review activity'),
    !Array.isArray(r) ? facts(r) : null,
    weeks.length ? genericTable(weeks) : h('p', {}, 'No review decisions yet.'),
  );
}

function shortDay(iso) {
  return new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' }).format(new Date(iso));
}

function breakdown(title, rows, label) {
  if (rows.length === 0) return null;
  return h(
    'section',
    {},
    h('h2', {}, title),
    table(
      ['', 'Active students', 'Enrolled', 'Answers', 'Practice minutes'],
      rows.map((r) => [label(r), r.active_students, r.enrolled_students ?? r.students ?? '—', r.events, Math.round(r.practice_minutes ?? 0)]),
    ),
  );
}

export async function modelHealth() {
  const [health, fairness] = await Promise.all([
    optional('/api/v1/admin/model-health'),
    optional('/api/v1/admin/fairness'),
  ]);
  return page(
    '#/admin/models',
    'Model health',
    health ? report('Is the model still predicting well?', health) : unavailable('Model health'),
    fairness ? report('Does it work equally well for every group?', fairness) : null,
  );
}

export async function dataQuality() {
  const quality = await optional('/api/v1/admin/data-quality');
  return page(
    '#/admin/quality',
    'Data quality',
    quality ? report('What the tools send', quality) : unavailable('Data quality'),
  );
}

/** A report of unknown shape, readably: its plain facts, then each list as a table. */
function report(title, data) {
  return h(
    'section',
    {},
    h('h2', {}, title),
    facts(data),
    Object.entries(data)
      .filter(([, v]) => Array.isArray(v) && v.length && typeof v[0] === 'object')
      .map(([k, v]) => [h('h3', {}, humanise(k)), genericTable(v)]),
  );
}

function facts(data) {
  const scalars = Object.entries(data).filter(([, v]) => v !== null && typeof v !== 'object');
  if (!scalars.length) return null;
  return h('dl', { class: 'facts' }, scalars.map(([k, v]) => [h('dt', {}, humanise(k)), h('dd', {}, show(k, v))]));
}

function genericTable(rows) {
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r)))].filter((k) => rows.some((r) => r[k] === null || typeof r[k] !== 'object'));
  return table(
    keys.map(humanise),
    rows.map((r) => keys.map((k) => show(k, r[k]))),
  );
}

function humanise(key) {
  const s = key.replace(/_/g, ' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function show(key, v) {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'number') return Number.isInteger(v) ? v.toLocaleString() : v.toFixed(key.match(/rate|share|auc|rmse|ece|error/) ? 3 : 1);
  if (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}/.test(v)) return day(v);
  return String(v);
}

function table(headers, rows) {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'data' },
      h('thead', {}, h('tr', {}, headers.map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, rows.map((r) => h('tr', {}, r.map((v, i) => (i === 0 ? h('th', { scope: 'row' }, v) : h('td', {}, v)))))),
    ),
  );
}
