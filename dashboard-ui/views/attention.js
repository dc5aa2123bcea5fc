// Attention: whom the teacher has not checked in with lately, and what followed recent help
// ("after", never "because"). Sections other pages add with one line; each loads its own data
// when shown, so the host page's first paint does not wait for it.

import { get } from '../api.js';
import { h, mount, plural, when } from '../dom.js';
import { studentLink } from './common.js';

/** Today: one sentence naming whom the teacher has not checked in with (flagged and
 * struggling students first), the full list one tap away. Loaded after the insights, so the
 * first paint does not wait for it. What followed recent help is among the insights. */
export function attentionSection(classId) {
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  get(`/api/v1/classes/${encodeURIComponent(classId)}/attention`)
    .then((a) => mount(body, attentionBody(a)))
    .catch((e) => mount(body, h('p', { class: 'muted' }, e.message)));
  return h(
    'section',
    { class: 'attention', 'aria-labelledby': 'attention-h' },
    h('h2', { id: 'attention-h' }, 'Whom you have not checked in with'),
    body,
  );
}

export function attentionBody(a) {
  const unseen = (a.students || []).filter((s) => s.unseen);
  if (unseen.length === 0) {
    return h('p', { class: 'headline' }, `You have checked in with everyone in the last ${plural(a.school_days, 'school day')}.`);
  }
  return [
    h('p', { class: 'headline' }, a.headline),
    h(
      'details',
      {},
      h('summary', {}, unseen.length > 3 ? `All ${unseen.length} students` : 'When you last saw them'),
      h(
        'ul',
        { class: 'unseen' },
        unseen.map((s) =>
          h(
            'li',
            {},
            studentLink(s.student_id, s.name),
            s.flagged ? ' · flagged' : '',
            s.struggling ? ' · struggling' : '',
            ' · ',
            s.last_attention_at ? `last time with you ${when(s.last_attention_at)}` : 'no time with you yet',
          ),
        ),
      ),
    ),
  ];
}

/** The student page: the teacher's check-ins and other help on a skill (group plans and
 * insights marked done), each with what followed ("after", never "because"). */
export function checkinSection(studentId) {
  const body = h('div', {});
  const section = h('section', { 'aria-labelledby': 'checkins-h' }, h('h2', { id: 'checkins-h' }, 'Check-ins and help'), body);
  get(`/api/v1/students/${encodeURIComponent(studentId)}/checkins`)
    .then((c) => {
      const list = c.checkins || [];
      const other = c.other_help || [];
      mount(
        body,
        list.length === 0 && other.length === 0
          ? h('p', { class: 'muted' }, 'No check-ins yet: tap “I checked in” on the Now page after sitting with the student.')
          : h(
              'ul',
              { class: 'checkins' },
              list.slice(0, 10).map((k) =>
                h(
                  'li',
                  {},
                  h('strong', {}, when(k.at)),
                  ' · checked in',
                  k.skill_id ? ` on ${k.skill_id}` : '',
                  k.note ? ` · “${k.note}”` : '',
                  k.sentence ? h('span', { class: 'muted' }, ` · ${k.sentence}`) : null,
                ),
              ),
              other.map((k) =>
                h(
                  'li',
                  {},
                  h('strong', {}, when(k.at)),
                  k.kind === 'group_plan' ? ' · group plan done' : ' · insight marked done',
                  ` on ${k.skill_id}`,
                  h('span', { class: 'muted' }, ` · ${k.sentence}`),
                ),
              ),
            ),
      );
    })
    .catch((e) => mount(body, h('p', { class: 'muted' }, e.message)));
  return section;
}
