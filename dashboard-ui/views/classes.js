// The caller's classes: a teacher's own, or every class of an administrator's district.

import { get, session } from '../api.js';
import { h, plural } from '../dom.js';
import { rememberClassNames } from './common.js';

export async function classes() {
  const data = await get('/api/v1/classes');
  const list = Array.isArray(data) ? data : data.classes || [];
  rememberClassNames(list);
  // A teacher with one class goes straight to it.
  if (list.length === 1 && session.claims?.role !== 'admin') {
    location.hash = `#/today/${encodeURIComponent(list[0].class_id)}`;
  }
  return h(
    'section',
    {},
    h('h1', {}, session.claims?.role === 'admin' ? 'Classes in the district' : 'Your classes'),
    list.length === 0
      ? h('p', {}, 'No classes yet. Classes appear when a practice tool sends events for them or when an administrator assigns you.')
      : h(
          'ul',
          { class: 'cards' },
          list.map((c) => {
            const id = encodeURIComponent(c.class_id);
            return h(
              'li',
              { class: 'card' },
              h('h2', {}, h('a', { href: `#/today/${id}` }, c.name || c.class_id)),
              c.school_name || c.school_id ? h('p', { class: 'muted' }, c.school_name || schoolLabel(c.school_id)) : null,
              c.students !== undefined ? h('p', {}, plural(c.students, 'student')) : null,
              h('p', {}, h('a', { href: `#/class/${id}` }, 'Students and skills')),
            );
          }),
        ),
  );
}

/** "school-riverside" → "Riverside" when the list carries no school name. */
function schoolLabel(id) {
  const s = String(id).replace(/^school-/, '').replace(/[-_]/g, ' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}
