// Class: every student against every skill, status by colour and symbol (never colour alone),
// the estimate and its range shown on hover or keyboard focus, review marks, flags.

import { get } from '../api.js';
import { day, h } from '../dom.js';
import { className, flagChip, FLAG_NAMES, NOT_SURE, REVIEW_WAITS, STATUS, statusBadge, statusLabel, studentLink, withSkillNames } from './common.js';

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
      skills.map((s) => cell(bySkill.get(s.skill_id), s)),
      // Flags going on now; ended ones are on the student's page.
      flagsCell((st.flags || []).filter((f) => f.active !== false), skills),
    );
  });
  const flagged = students.filter((st) => (st.flags || []).some((f) => f.active !== false)).length;
  const reviews = students.reduce((n, st) => n + (st.skills || []).filter((k) => k.needs_review).length, 0);
  const struggling = students.filter((st) => (st.skills || []).some((k) => k.status === 'struggling')).length;
  return h(
    'section',
    {},
    h('h1', {}, className(classId)),
    h(
      'p',
      { class: 'muted' },
      `${students.length} students · ${struggling} struggling with something · ${flagged} with a flag now · ` +
        `${reviews === 1 ? '1 mark Huddle is not sure of yet' : `${reviews} marks Huddle is not sure of yet`}, waiting for your review. ` +
        `Updated ${day(overview.generated_at)}. Hover over a mark, tap it or tab to it, for the estimate.`,
    ),
    legend(),
    students.length === 0
      ? h('p', {}, 'No students have practised yet.')
      : h(
          'div',
          { class: 'grid-wrap', role: 'region', 'aria-label': 'Students and skills', tabindex: 0 },
          h('table', { class: 'grid' }, h('thead', {}, head), h('tbody', {}, rows)),
        ),
  );
}

/** One mark, focusable, with its sentence shown beside it on hover and focus. */
function cell(k, skill) {
  if (!k) return h('td', {}, h('span', { class: 'none', title: 'No answers yet' }, h('span', { class: 'visually-hidden' }, 'No answers yet'), h('span', { 'aria-hidden': 'true' }, '·')));
  return h(
    'td',
    { class: 'mark', tabindex: 0 },
    statusBadge(k),
    h('span', { class: 'tip', 'aria-hidden': 'true' }, h('strong', {}, skill.name || skill.skill_id), h('br'), statusLabel(k)),
  );
}

/**
 * The flags going on now: one chip each, focusable like a mark, with what each means and its
 * evidence shown on hover, focus or a tap.
 */
function flagsCell(flags, skills) {
  if (flags.length === 0) return h('td', { class: 'flags' });
  return h(
    'td',
    { class: 'flags has-flags', tabindex: 0 },
    oneChipPerKind(flags).map(flagChip),
    h(
      'span',
      { class: 'tip', 'aria-hidden': 'true' },
      flags.map((f, i) => [i ? h('br') : null, h('strong', {}, FLAG_NAMES[f.kind] || f.kind), f.evidence ? `: ${withSkillNames(f.evidence, skills)}` : '']),
    ),
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
    h(
      'li',
      {},
      h('span', { class: 'status learning review', 'aria-hidden': 'true' }, '◐', h('span', { class: 'review-mark' }, '?')),
      ` ${NOT_SURE} ${REVIEW_WAITS}`,
    ),
  );
}
