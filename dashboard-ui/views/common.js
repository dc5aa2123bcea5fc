// Pieces shared by the views: status badges (colour and symbol, never colour alone), flags.

import { h, percent } from '../dom.js';

export const STATUS = {
  mastered: { symbol: '✓', text: 'Mastered' },
  learning: { symbol: '◐', text: 'Learning' },
  struggling: { symbol: '!', text: 'Struggling' },
  not_started: { symbol: '○', text: 'Not started' },
};

export function statusBadge(skill, { withText = false } = {}) {
  const status = STATUS[skill.status] || { symbol: '?', text: skill.status };
  const review = skill.needs_review;
  const label =
    `${status.text}` +
    (skill.estimate !== undefined && skill.status !== 'not_started'
      ? `, about ${percent(skill.estimate)} likely to know it (between ${percent(skill.low)} and ${percent(skill.high)})`
      : '') +
    (skill.opportunities !== undefined ? `, based on ${skill.opportunities} answers` : '') +
    (review ? ', needs your review' : '');
  return h(
    'span',
    { class: `status ${skill.status}${review ? ' review' : ''}`, title: label, 'aria-label': label },
    h('span', { 'aria-hidden': 'true' }, status.symbol),
    withText ? h('span', { class: 'status-text', 'aria-hidden': 'true' }, status.text) : null,
    review ? h('span', { class: 'review-mark', 'aria-hidden': 'true' }, '?') : null,
  );
}

export const FLAG_NAMES = {
  rapid_guessing: 'Rapid guessing',
  hint_abuse: 'Clicking through hints',
  gaming: 'Gaming the system',
  rushing: 'Rushing',
  giving_up: 'Giving up',
  idle: 'Idle',
  wheel_spinning: 'Stuck (many tries, no progress)',
  shared_account: 'Shared account?',
};

export function flagChip(flag) {
  return h(
    'span',
    { class: `flag ${flag.kind}`, title: flag.evidence || '' },
    h('span', { 'aria-hidden': 'true' }, '⚑ '),
    FLAG_NAMES[flag.kind] || flag.kind,
  );
}

export function studentLink(id, name) {
  return h('a', { href: `#/student/${encodeURIComponent(id)}` }, name || id);
}

/** Names by student id from an overview's students (the server anonymises when asked). */
export function namesOf(overview) {
  const names = new Map();
  for (const s of overview?.students || []) names.set(s.student_id, s.name || s.student_id);
  return names;
}
