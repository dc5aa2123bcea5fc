// Pieces shared by the views: status badges (colour and symbol, never colour alone), flags.

import { h, percent, plural } from '../dom.js';

export const STATUS = {
  mastered: { symbol: '✓', text: 'Mastered' },
  learning: { symbol: '◐', text: 'Learning' },
  struggling: { symbol: '!', text: 'Struggling' },
  not_started: { symbol: '○', text: 'Not started' },
};

/**
 * The sentence behind a status mark: status, estimate with its range, evidence, how sure
 * Huddle is (the words of the student page), review.
 */
export function statusLabel(skill) {
  const status = STATUS[skill.status] || { symbol: '?', text: skill.status };
  const started = skill.status !== 'not_started';
  const certainty = started ? certaintyOf(skill) : '';
  return (
    `${status.text}` +
    (skill.estimate !== undefined && started
      ? `, about ${percent(skill.estimate)} likely to know it (between ${percent(skill.low)} and ${percent(skill.high)})`
      : '') +
    (skill.opportunities !== undefined ? `, based on ${plural(skill.opportunities, 'answer')}` : '') +
    '.' +
    (certainty ? ` ${certainty}` : '') +
    (skill.needs_review ? ` ${REVIEW_WAITS}` : '')
  );
}

/** What the review mark of a status says, on the grid and in its legend. */
export const NOT_SURE = 'Huddle is not sure yet.';
export const REVIEW_WAITS = 'It waits for your review.';

/**
 * One vocabulary for certainty, on every page: the server's sentence (a call awaiting review
 * is never "sure"; a confirmed one says so), else the same words from the confidence.
 */
export function certaintyOf(skill) {
  if (skill.certainty_sentence) return skill.certainty_sentence;
  if (skill.needs_review) return NOT_SURE;
  return { high: 'Huddle is sure of this.', medium: 'Huddle is fairly sure of this.', low: NOT_SURE }[skill.confidence] || '';
}

export function statusBadge(skill, { withText = false } = {}) {
  const status = STATUS[skill.status] || { symbol: '?', text: skill.status };
  const review = skill.needs_review;
  const label = statusLabel(skill);
  return h(
    'span',
    { class: `status ${skill.status}${review ? ' review' : ''}`, role: 'img', title: label, 'aria-label': label },
    h('span', { 'aria-hidden': 'true' }, status.symbol),
    withText ? h('span', { class: 'status-text', 'aria-hidden': 'true' }, status.text) : null,
    review ? h('span', { class: 'review-mark', 'aria-hidden': 'true' }, '?') : null,
  );
}

/** Short names for the chips of the class grid (the full sentence is the chip's title). */
export const FLAG_CHIPS = {
  rapid_guessing: 'Too fast to read',
  hint_abuse: 'Hints to the answer',
  gaming: 'Clicking through',
  rushing: 'Rushing',
  giving_up: 'Giving up',
  idle: 'Gone quiet',
  wheel_spinning: 'Stuck',
  shared_account: 'Shared account?',
};

/** Neutral, concrete names a teacher reads (the server's `insights::class::flag_name`). */
export const FLAG_NAMES = {
  rapid_guessing: 'Answering too fast to read the question',
  hint_abuse: 'Clicking through hints to the answer',
  gaming: 'Clicking through without trying',
  rushing: 'Rushing',
  giving_up: 'Giving up',
  idle: 'Gone quiet',
  wheel_spinning: 'Stuck: many tries without progress',
  shared_account: 'Someone else may use the account',
};

export function flagChip(flag) {
  return h(
    'span',
    { class: `flag ${flag.kind}`, title: `${FLAG_NAMES[flag.kind] || flag.kind}: ${flag.evidence || ''}` },
    h('span', { 'aria-hidden': 'true' }, '⚑ '),
    FLAG_CHIPS[flag.kind] || flag.kind,
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

/**
 * The review item id of a student's estimate on a skill, as the server forms it
 * (`insights::reviews::review_id`: `rv-<hex kind>-<hex student>-<hex skill>`, documented as
 * stable), so the student page can decide without fetching the whole queue.
 */
export function estimateReviewId(studentId, skillId) {
  const hex = (s) => [...new TextEncoder().encode(s)].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `rv-${hex('estimate')}-${hex(studentId)}-${hex(skillId)}`;
}

const CLASS_NAMES = 'huddle.classNames';

/** Remembers the classes' names (from the class list) so pages title a class by its name. */
export function rememberClassNames(list) {
  const names = Object.fromEntries(list.filter((c) => c.name).map((c) => [c.class_id, c.name]));
  sessionStorage.setItem(CLASS_NAMES, JSON.stringify(names));
}

/** A class's name when the class list has been seen this session, else its id. */
export function className(classId) {
  try {
    return JSON.parse(sessionStorage.getItem(CLASS_NAMES) || '{}')[classId] || classId;
  } catch {
    return classId;
  }
}

export function capitalise(s) {
  return s ? s.charAt(0).toUpperCase() + s.slice(1) : s;
}

/**
 * An item as a teacher can place it without a catalogue: "fractions.compare:017" on the skill
 * "Comparing fractions" → "question 17 of Comparing fractions" ("question 17" without the
 * name, where the skill is named beside it); other ids as sent.
 */
export function itemLabel(itemId, skillId, skillName) {
  if (!skillId || !itemId.startsWith(`${skillId}:`)) return itemId;
  const rest = itemId.slice(skillId.length + 1);
  const number = /^\d+$/.test(rest) ? String(Number(rest)) : rest;
  // Beside a column that names the skill, the number alone.
  return skillName ? `question ${number} of ${skillName}` : `question ${number}`;
}

/** A detector's sentence with skill ids replaced by the skills' names. */
export function withSkillNames(text, skills) {
  let out = text || '';
  for (const k of skills || []) if (k.name) out = out.split(k.skill_id).join(k.name.charAt(0).toLowerCase() + k.name.slice(1));
  return out;
}
