import { get } from '../api.js';
import { h, plural } from '../dom.js';

export async function classes() {
  const data = await get('/api/v1/classes');
  const list = Array.isArray(data) ? data : data.classes || [];
  if (list.length === 1) {
    location.hash = `#/today/${encodeURIComponent(list[0].class_id)}`;
  }
  return h(
    'section',
    {},
    h('h1', {}, 'Your classes'),
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
              c.school_id || c.school ? h('p', { class: 'muted' }, c.school_name || c.school || c.school_id) : null,
              c.students !== undefined ? h('p', {}, plural(c.students, 'student')) : null,
              h('p', {}, h('a', { href: `#/class/${id}` }, 'Students and skills')),
            );
          }),
        ),
  );
}
