// Class: every student against every skill, status by colour and symbol, details on focus.

import { get } from '../api.js';
import { day, h } from '../dom.js';
import { flagChip, STATUS, statusBadge, studentLink } from './common.js';

export async function classGrid(classId) {
  const overview = await get(`/api/v1/classes/${encodeURIComponent(classId)}/overview`);
  const skills = overview.skills || [];
  const students = overview.students || [];
  const head = h(
    'tr',
    {},
    h('th', { scope: 'col', class: 'sticky' }, 'Student'),
    skills.map((s) => h('th', { scope: 'col', class: 'skill', title: s.name || s.skill_id }, h('span', {}, s.name || s.skill_id))),
    h('th', { scope: 'col' }, 'Flags'),
  );
  const rows = students.map((st) => {
    const bySkill = new Map((st.skills || []).map((k) => [k.skill_id, k]));
    return h(
      'tr',
      {},
      h('th', { scope: 'row', class: 'sticky' }, studentLink(st.student_id, st.name)),
      skills.map((s) => {
        const k = bySkill.get(s.skill_id);
        return h('td', { tabindex: k ? 0 : undefined }, k ? statusBadge(k) : h('span', { class: 'muted', 'aria-label': 'No answers yet' }, '·'));
      }),
      h('td', { class: 'flags' }, oneChipPerKind(st.flags || []).map(flagChip)),
    );
  });
  return h(
    'section',
    {},
    h('h1', {}, overview.class_name || `Class ${classId}`),
    h('p', { class: 'muted' }, `Updated ${day(overview.generated_at)}. Hover or focus a mark for the estimate.`),
    legend(),
    students.length === 0
      ? h('p', {}, 'No students have practised yet.')
      : h('div', { class: 'grid-wrap' }, h('table', { class: 'grid' }, h('thead', {}, head), h('tbody', {}, rows))),
  );
}

/** One chip per kind (a student stuck on two skills shows one "Stuck"); the active one first. */
function oneChipPerKind(flags) {
  const seen = new Map();
  for (const f of flags) if (!seen.has(f.kind) || (f.active && !seen.get(f.kind).active)) seen.set(f.kind, f);
  return [...seen.values()];
}

function legend() {
  return h(
    'ul',
    { class: 'legend', 'aria-label': 'Legend' },
    Object.entries(STATUS).map(([status, s]) =>
      h('li', {}, h('span', { class: `status ${status}`, 'aria-hidden': 'true' }, s.symbol), ` ${s.text}`),
    ),
    h('li', {}, h('span', { class: 'status review', 'aria-hidden': 'true' }, h('span', { class: 'review-mark' }, '?')), ' Needs your review'),
  );
}
