// Administration: adoption over time and by school and class.

import { get } from '../api.js';
import { barChart } from '../chart.js';
import { day, h } from '../dom.js';

export async function admin() {
  const adoption = await get('/api/v1/admin/adoption');
  const weeks = adoption.weeks || [];
  return h(
    'div',
    { class: 'admin' },
    h('h1', {}, 'Adoption'),
    h(
      'section',
      { 'aria-labelledby': 'weekly-h' },
      h('h2', { id: 'weekly-h' }, 'Week by week'),
      weeks.length === 0
        ? h('p', {}, 'No practice yet.')
        : barChart({
            title: 'Weekly active students and practice minutes',
            summary: `${weeks.length} weeks; latest week ${weeks.at(-1).active_students} active students and ${Math.round(weeks.at(-1).practice_minutes)} practice minutes.`,
            labels: weeks.map((w) => shortDay(w.week_start)),
            bars: weeks.map((w) => w.active_students),
            barLabel: 'active students',
            line: weeks.map((w) => w.practice_minutes),
            lineLabel: 'practice minutes',
          }),
      table(
        ['Week of', 'Active students', 'Active teachers', 'Events', 'Practice minutes'],
        weeks.map((w) => [day(w.week_start), w.active_students, w.active_teachers, w.events, Math.round(w.practice_minutes)]),
      ),
    ),
    breakdown('By school', adoption.schools || [], (s) => s.name || s.school_id),
    breakdown('By class', adoption.classes || [], (c) => c.name || c.class_id),
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
      ['', 'Active students', 'Enrolled', 'Events', 'Practice minutes'],
      rows.map((r) => [label(r), r.active_students, r.enrolled_students ?? '—', r.events, Math.round(r.practice_minutes ?? 0)]),
    ),
  );
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
