// Today: the few insights worth acting on before the lesson, and the small groups to pull.

import { get, patch, post } from '../api.js';
import { h, mount, plural, toast } from '../dom.js';
import { attentionSection } from './attention.js';
import { capitalise, className, studentLink } from './common.js';

export async function today(classId) {
  const id = encodeURIComponent(classId);
  const [insights, groups] = await Promise.all([
    get(`/api/v1/classes/${id}/insights`),
    get(`/api/v1/classes/${id}/groups`),
  ]);
  const names = new Map(Object.entries(groups.names || {}));
  return h(
    'div',
    { class: 'today' },
    h('h1', {}, `Today in ${className(classId)}`),
    insightList(classId, insights.insights || [], names, new Map((groups.groups || []).map((g) => [g.id, g.focus || g.focus_skill_id]))),
    groupSection(classId, groups, names),
    attentionSection(classId),
  );
}

/** The first screen (at most five, as the server marks them), the rest one click away. */
function insightList(classId, all, names, groupNames) {
  const section = h('section', { 'aria-labelledby': 'insights-h' }, h('h2', { id: 'insights-h' }, 'What to act on'));
  if (all.length === 0) {
    section.append(h('p', {}, 'Nothing needs you yet: insights appear as students practise.'));
    return section;
  }
  const first = all.filter((i) => i.first_screen);
  const shown = first.length ? first : all.slice(0, 5);
  const rest = all.filter((i) => !shown.includes(i));
  const list = h('ol', { class: 'insights' }, shown.map((i) => insightCard(classId, i, names, groupNames)));
  section.append(list);
  if (rest.length) {
    const more = h(
      'button',
      {
        type: 'button',
        class: 'secondary',
        onclick: () => {
          list.append(...rest.map((i) => insightCard(classId, i, names, groupNames)));
          more.remove();
        },
      },
      `Show ${plural(rest.length, 'more insight')}`,
    );
    section.append(more);
  }
  return section;
}

function insightCard(classId, insight, names, groupNames) {
  const students = insight.students || [];
  const card = h(
    'li',
    { class: `insight ${insight.kind || ''}${insight.positive ? ' positive' : ''}`, 'data-insight-id': insight.id },
    h('p', { class: 'headline' }, insight.headline),
    insight.action ? h('p', { class: 'action' }, h('span', { class: 'visually-hidden' }, 'Suggested: '), insight.action) : null,
    (insight.group_ids || []).length
      ? h(
          'p',
          { class: 'group-links no-print' },
          (insight.group_ids || []).length > 1 ? 'Their groups: ' : 'Their group: ',
          (insight.group_ids || []).map((g, i) => [i ? ' · ' : '', h('a', { href: `#group-${g}`, onclick: (e) => jumpTo(e, g) }, capitalise(groupNames.get(g) || 'group'))]),
        )
      : null,
    h(
      'details',
      {},
      h('summary', {}, 'Why Huddle thinks so'),
      h('p', {}, insight.detail),
      examples(insight.examples, 'Problems they got wrong'),
      students.length
        ? h('p', {}, 'Students: ', students.map((s, i) => [i ? ', ' : '', studentLink(s, names.get(s))]))
        : null,
      insight.based_on_answers ? h('p', { class: 'muted' }, `Based on ${plural(insight.based_on_answers, 'answer')}.`) : null,
      insight.needs_review ? h('p', { class: 'muted' }, 'Huddle is not sure of some of this yet: it waits for your review.') : null,
    ),
    insight.kind === 'doing_well' ? null : decideRow(classId, insight),
  );
  return card;
}

function jumpTo(e, groupId) {
  const target = document.getElementById(`group-${groupId}`);
  if (target) {
    e.preventDefault();
    target.scrollIntoView({ block: 'center' });
    target.classList.add('highlight');
    setTimeout(() => target.classList.remove('highlight'), 2000);
  }
}

/** Done or "not now", with an optional reason: the insight stays away until the evidence changes. */
function decideRow(classId, insight) {
  const reason = h('input', { type: 'text', 'aria-label': 'Reason (optional)', placeholder: 'Reason (optional)', class: 'reason' });
  const row = h(
    'div',
    { class: 'row decide no-print' },
    h('button', { type: 'button', class: 'small', onclick: () => decide('done') }, 'Done'),
    h('button', { type: 'button', class: 'secondary small', onclick: () => decide('dismiss') }, 'Not now'),
    reason,
  );
  async function decide(decision) {
    try {
      await post(`/api/v1/classes/${encodeURIComponent(classId)}/insights/${encodeURIComponent(insight.id)}`, {
        decision,
        note: reason.value || undefined,
      });
      row.replaceChildren(
        h(
          'p',
          { class: 'decided', role: 'status' },
          decision === 'done'
            ? 'Marked done. Huddle will show what happens next on the students\u2019 pages.'
            : 'Set aside until new answers come in.',
        ),
      );
      row.closest('li')?.classList.add('decided');
      toast(decision === 'done' ? 'Marked done.' : 'Set aside.');
    } catch (e) {
      toast(`Could not record it: ${e.message}`);
    }
  }
  return row;
}

function groupSection(classId, data, names) {
  const groups = (data.groups || []).map((g) => ({ ...g, students: [...g.students] }));
  const section = h(
    'section',
    { 'aria-labelledby': 'groups-h', class: 'groups-section' },
    h('h2', { id: 'groups-h' }, 'Suggested small groups'),
  );
  if (groups.length === 0) {
    section.append(h('p', {}, 'No groups yet: groups need a few students who share a need.'));
    return section;
  }
  const cards = h('div', { class: 'group-cards' });
  const draw = () => mount(cards, groups.map((g, i) => groupCard(g, i, groups, names, draw)));
  draw();
  const apart = data.needs_review || [];
  const saved = h('span', { class: 'saved', role: 'status' });
  section.append(
    h('p', { class: 'muted no-print' }, `Groups of ${data.min_size} to ${data.max_size} students who share one skill to work on.`),
    // Only on paper: which class, and the day the cards were printed for.
    h('p', { class: 'print-head' }, `Group cards · ${className(classId)} · ${longDate.format(new Date())}`),
    cards,
    // DOM append writes null as text: only a paragraph when someone waits.
    ...(apart.length
      ? [
          h(
            'p',
            { class: 'apart' },
            'Not placed until you review their estimates: ',
            apart.map((s, i) => [i ? ', ' : '', studentLink(s.student_id || s, names.get(s.student_id || s))]),
          ),
        ]
      : []),
    h(
      'div',
      { class: 'row no-print' },
      h('button', { type: 'button', onclick: () => savePlan(classId, groups, saved) }, 'Save this plan'),
      h('button', { type: 'button', class: 'secondary', onclick: () => window.print() }, 'Print group cards'),
      saved,
    ),
  );
  return section;
}

function groupCard(group, index, groups, names, redraw) {
  return h(
    'article',
    { class: 'group-card', id: `group-${group.id}`, 'aria-labelledby': `group-h-${index}` },
    h('h3', { id: `group-h-${index}` }, capitalise(group.focus || group.focus_skill_id)),
    // Huddle's reason names the students it chose: once the teacher moves someone, it is theirs.
    h('p', { class: 'reason' }, group.edited ? `Changed by you from Huddle's suggestion; ${plural(group.students.length, 'student')}.` : group.reason),
    h(
      'ul',
      { class: 'members' },
      group.students.map((s) =>
        h(
          'li',
          {},
          studentLink(s, names.get(s)),
          groups.length > 1
            ? h(
                'select',
                {
                  class: 'no-print',
                  'aria-label': `Move ${names.get(s) || s} to another group`,
                  onchange: (e) => {
                    const to = Number(e.target.value);
                    group.students = group.students.filter((x) => x !== s);
                    group.edited = true;
                    if (to >= 0) {
                      groups[to].students.push(s);
                      groups[to].edited = true;
                    }
                    redraw();
                  },
                },
                h('option', { value: '', selected: true }, 'Move…'),
                groups.map((g, j) => (j === index ? null : h('option', { value: j }, `To ${g.focus || g.focus_skill_id}`))),
                h('option', { value: -1 }, 'Remove from groups'),
              )
            : null,
        ),
      ),
    ),
    examples(group.examples, 'Missed most'),
    h('div', { class: 'notes', 'aria-hidden': 'true' }, 'Notes'),
  );
}

const longDate = new Intl.DateTimeFormat(undefined, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });

/**
 * Up to three problems with the most common wrong answers ("7 × 8 — 4 of 6 answered 54"),
 * and the correct answer when the tool gave it.
 */
function examples(list, title) {
  if (!list?.length) return null;
  return h(
    'div',
    { class: 'examples' },
    h('p', { class: 'examples-title' }, `${title}:`),
    h(
      'ul',
      {},
      list.map((e) => h('li', {}, e.sentence, e.answer ? h('span', { class: 'muted' }, ` (answer: ${e.answer})`) : null)),
    ),
  );
}

/**
 * Saves the groups as they stand: one plan per group (POST the first time, PATCH its members
 * afterwards, so saving twice never duplicates a plan); a group emptied by moves is skipped.
 */
async function savePlan(classId, groups, status) {
  try {
    const kept = groups.filter((g) => g.students.length > 0);
    for (const g of kept) {
      if (g.planId) {
        await patch(`/api/v1/plans/${encodeURIComponent(g.planId)}`, { students: g.students });
      } else {
        const plan = await post(`/api/v1/classes/${encodeURIComponent(classId)}/plans`, {
          focus_skill_id: g.focus_skill_id,
          students: g.students,
          group_id: g.id,
        });
        g.planId = plan.id;
      }
    }
    const time = new Intl.DateTimeFormat(undefined, { timeStyle: 'short' }).format(new Date());
    status.textContent = `Plan saved at ${time}: ${plural(kept.length, 'group')}.`;
    toast(`Plan saved: ${plural(kept.length, 'group')}.`);
  } catch (e) {
    status.textContent = '';
    toast(`Could not save the plan: ${e.message}`);
  }
}
