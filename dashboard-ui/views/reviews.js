// The review queue: the calls Huddle leaves to the teacher.

import { get, post } from '../api.js';
import { h, plural, toast, when } from '../dom.js';
import { FLAG_NAMES, studentLink } from './common.js';

export async function reviews() {
  const cls = sessionStorage.getItem('huddle.class');
  const path = cls ? `/api/v1/reviews?class_id=${encodeURIComponent(cls)}` : '/api/v1/reviews';
  const data = await get(path);
  const items = Array.isArray(data) ? data : data.reviews || data.items || [];
  const open = items.filter((r) => !r.status || r.status === 'open');
  const later = data.held_back || 0;
  return h(
    'section',
    {},
    h('h1', {}, 'Review'),
    h('p', { class: 'muted' }, 'Huddle is unsure about these. Your judgment decides: confirm what you see in class, dismiss what you don\u2019t.'),
    open.length === 0 ? h('p', {}, later ? 'Nothing more today.' : 'Nothing waiting for you.') : list(open, cls ? null : data.total),
    cls && later ? h('p', { class: 'muted' }, `${plural(later, 'other item')} can wait for another day: Huddle shows the few whose answer changes what you do.`) : null,
  );
}

const PAGE = 10;

/** The first items, and the rest ten at a time: a long queue stays a short page. */
function list(open, total) {
  const ul = h('ul', { class: 'reviews' }, open.slice(0, PAGE).map(reviewItem));
  let shown = Math.min(PAGE, open.length);
  const more = h('button', { type: 'button', class: 'secondary', onclick: () => {
    ul.append(...open.slice(shown, shown + PAGE).map(reviewItem));
    shown = Math.min(shown + PAGE, open.length);
    if (shown >= open.length) more.remove();
    else more.textContent = label();
  } });
  const label = () => `Show ${Math.min(PAGE, open.length - shown)} more (${open.length - shown} waiting)`;
  more.textContent = label();
  return [
    h('p', {}, `${plural(total ?? open.length, 'item')} waiting: estimates Huddle is unsure of, and behaviours it noticed.`),
    ul,
    shown < open.length ? more : null,
  ];
}

function reviewItem(r) {
  const note = h('input', { type: 'text', 'aria-label': 'Note (optional)', placeholder: 'Note (optional)' });
  const item = h(
    'li',
    { class: 'review-item', 'data-review-id': r.id },
    h(
      'p',
      { class: 'headline' },
      studentLink(r.student_id, r.name || r.student_name),
      ' · ',
      r.kind === 'flag' ? FLAG_NAMES[r.flag_kind] || r.flag_kind || 'Flag' : r.skill || r.skill_id || '',
    ),
    // A detector's sentence may name the skill by its id: say its name.
    h('p', {}, r.skill_id && r.skill ? (r.reason || '').split(r.skill_id).join(r.skill) : r.reason || r.headline || ''),
    r.created_at ? h('p', { class: 'muted' }, `Since ${when(r.created_at)}`) : null,
    r.confirm_means ? h('p', { class: 'means' }, r.confirm_means) : null,
    r.dismiss_means ? h('p', { class: 'means' }, r.dismiss_means) : null,
    h(
      'div',
      { class: 'row' },
      note,
      h('button', { type: 'button', onclick: () => decide('confirm') }, 'Confirm'),
      h('button', { type: 'button', class: 'secondary', onclick: () => decide('dismiss') }, 'Dismiss'),
    ),
  );
  async function decide(decision) {
    try {
      await post(`/api/v1/reviews/${encodeURIComponent(r.id)}`, { decision, note: note.value || undefined });
      item.replaceChildren(h('p', {}, decision === 'confirm' ? 'Confirmed. Thank you.' : 'Dismissed: Huddle will stay quiet about this until new answers arrive.'));
      toast(decision === 'confirm' ? 'Confirmed.' : 'Dismissed.');
    } catch (e) {
      toast(`Could not record it: ${e.message}`);
    }
  }
  return item;
}
