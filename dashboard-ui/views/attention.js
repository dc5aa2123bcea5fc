// Attention: whom the teacher has not checked in with lately, and what followed recent help
// ("after", never "because"). Sections other pages add with one line; each loads its own data
// when shown, so the host page's first paint does not wait for it.

import { get } from '../api.js';
import { h, mount, when } from '../dom.js';
import { studentLink } from './common.js';

/** Today: the unseen students and the follow-ups, loaded when the teacher opens the section. */
export function attentionSection(classId) {
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  let loaded = false;
  const details = h(
    'details',
    {
      class: 'attention',
      ontoggle: async () => {
        if (!details.open || loaded) return;
        loaded = true;
        try {
          const a = await get(`/api/v1/classes/${encodeURIComponent(classId)}/attention`);
          mount(body, attentionBody(a));
        } catch (e) {
          mount(body, h('p', {}, e.message));
        }
      },
    },
    h('summary', {}, h('h2', { class: 'inline' }, 'Whom you have not checked in with')),
    body,
  );
  return h('section', { 'aria-label': 'Attention' }, details);
}

export function attentionBody(a) {
  const unseen = (a.students || []).filter((s) => s.unseen);
  return [
    h('p', { class: 'headline' }, a.headline || `You have checked in with everyone in the last ${a.school_days} school days.`),
    unseen.length
      ? h(
          'ul',
          { class: 'unseen' },
          unseen.slice(0, 12).map((s) =>
            h(
              'li',
              {},
              studentLink(s.student_id, s.name),
              s.flagged ? ' · flagged' : '',
              s.struggling ? ' · struggling' : '',
              ' · ',
              s.last_attention_at ? `last seen ${when(s.last_attention_at)}` : 'not yet',
            ),
          ),
        )
      : null,
    (a.followups || []).filter((f) => f.sentence).map((f) => h('p', { class: 'followup' }, f.sentence)),
  ];
}

/** The student page: the teacher's check-ins, each with what followed on its skill. */
export function checkinSection(studentId) {
  const body = h('div', {});
  const section = h('section', { 'aria-labelledby': 'checkins-h' }, h('h2', { id: 'checkins-h' }, 'Check-ins'), body);
  get(`/api/v1/students/${encodeURIComponent(studentId)}/checkins`)
    .then((c) => {
      const list = c.checkins || [];
      mount(
        body,
        list.length === 0
          ? h('p', { class: 'muted' }, 'No check-ins yet: tap “I checked in” on the Now page after sitting with the student.')
          : h(
              'ul',
              { class: 'checkins' },
              list.slice(0, 10).map((k) =>
                h(
                  'li',
                  {},
                  h('strong', {}, when(k.at)),
                  k.skill_id ? ` · ${k.skill_id}` : '',
                  k.note ? ` · “${k.note}”` : '',
                  k.sentence ? h('span', { class: 'muted' }, ` · ${k.sentence}`) : null,
                ),
              ),
            ),
      );
    })
    .catch((e) => mount(body, h('p', { class: 'muted' }, e.message)));
  return section;
}
