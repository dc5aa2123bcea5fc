// One student: what they know, how it moved, what they did lately, and any flags.

import { get, post } from '../api.js';
import { h, percent, plural, seconds, toast, when } from '../dom.js';
import { lineChart } from '../chart.js';
import { checkinSection } from './attention.js';
import { certaintyOf, estimateReviewId, FLAG_NAMES, itemLabel, statusBadge, withSkillNames } from './common.js';

export async function student(studentId) {
  const s = await get(`/api/v1/students/${encodeURIComponent(studentId)}`);
  const name = s.name || studentId;
  // What needs the teacher first: struggling, then awaiting review, learning, mastered.
  const rank = (k) => (k.status === 'struggling' ? 0 : k.needs_review ? 1 : k.status === 'learning' ? 2 : k.status === 'mastered' ? 3 : 4);
  const skills = [...(s.skills || [])].sort((a, b) => rank(a) - rank(b) || (a.estimate ?? 0) - (b.estimate ?? 0));
  const done = skills.filter((k) => k.status === 'mastered' && !k.needs_review);
  const open = skills.filter((k) => !done.includes(k));
  return h(
    'div',
    { class: 'student' },
    h('h1', {}, name),
    summary(skills),
    flagsSection(s.flags || [], skills),
    h(
      'section',
      { 'aria-labelledby': 'skills-h' },
      h('h2', { id: 'skills-h' }, 'Skills'),
      skills.length === 0 ? h('p', {}, 'No answers yet.') : null,
      open.map((k) => skillPanel(k, s.history, studentId, name)),
      // Mastered skills (not awaiting review) one click away: the page leads with what needs help.
      done.length
        ? h(
            'details',
            { class: 'mastered-skills' },
            h('summary', {}, `${plural(done.length, 'mastered skill')}: ${done.map((k) => k.name || k.skill_id).join(', ')}`),
            done.map((k) => skillPanel(k, s.history, studentId, name)),
          )
        : null,
    ),
    evidenceSection(s.recent || [], skills),
    checkinSection(studentId),
  );
}

/** One plain sentence on where the student stands. */
function summary(skills) {
  // Names inside a sentence start lower-case ("needs help with adding fractions").
  const named = (list) => list.map((k) => (k.name ? k.name.charAt(0).toLowerCase() + k.name.slice(1) : k.skill_id));
  const join = (list) => (list.length <= 2 ? list.join(' and ') : `${list.slice(0, -1).join(', ')} and ${list.at(-1)}`);
  const struggling = named(skills.filter((k) => k.status === 'struggling'));
  const mastered = named(skills.filter((k) => k.status === 'mastered'));
  const parts = [];
  if (struggling.length) parts.push(`Needs help with ${join(struggling)}.`);
  if (mastered.length) parts.push(`Has mastered ${plural(mastered.length, 'skill')} of ${skills.length}.`);
  if (!parts.length) parts.push(skills.length ? `Still learning ${plural(skills.length, 'skill')}.` : 'No answers yet.');
  return h('p', { class: 'lead' }, parts.join(' '));
}

function flagsSection(flags, skills) {
  if (flags.length === 0) return null;
  return h(
    'section',
    { 'aria-labelledby': 'flags-h', class: 'flags-section' },
    h('h2', { id: 'flags-h' }, 'What Huddle noticed'),
    h(
      'ul',
      {},
      flags.map((f) =>
        h(
          'li',
          {},
          h('strong', {}, FLAG_NAMES[f.kind] || f.kind),
          ': ',
          withSkillNames(f.evidence || f.sentence || '', skills),
          h('span', { class: 'muted' }, ` (since ${when(f.since)}${f.until ? `, until ${when(f.until)}` : ''})`),
        ),
      ),
    ),
  );
}

function historyOf(history, skillId) {
  if (!history) return [];
  if (Array.isArray(history.skills)) history = history.skills;
  if (Array.isArray(history)) {
    const entry = history.find((x) => x.skill_id === skillId);
    return entry ? entry.points || entry.history || [] : [];
  }
  return history[skillId] || [];
}

function skillPanel(skill, history, studentId, name) {
  const points = historyOf(history, skill.skill_id).map((p) => ({
    t: p.at || p.t || p.occurred_at,
    y: p.estimate,
    low: p.low,
    high: p.high,
  }));
  const title = skill.name || skill.skill_id;
  const days = new Set(points.map((p) => new Date(p.t).toDateString())).size;
  return h(
    'article',
    { class: 'skill-panel' },
    h('h3', {}, statusBadge(skill, { withText: true }), ' ', title),
    skill.fall ? h('p', { class: 'fall' }, h('strong', {}, 'A sudden fall: '), skill.fall) : null,
    h(
      'p',
      {},
      skill.status === 'not_started'
        ? 'No answers yet.'
        : `About ${percent(skill.estimate)} likely to know it (${range(skill.low, skill.high)}), based on ${plural(skill.opportunities, 'answer')}. ${certaintyOf(skill)}`,
      skill.excluded_rapid_guesses
        ? ` ${plural(skill.excluded_rapid_guesses, 'answer was', 'answers were')} too fast to read the question and not counted.`
        : '',
    ),
    skill.mastery && skill.status !== 'not_started' ? h('p', { class: 'mastery-progress' }, skill.mastery.sentence) : null,
    points.length > 1
      ? lineChart({
          title: `${title}: estimate after each answer, by day`,
          indexed: true,
          summary: `From ${percent(points[0].y)} to ${percent(points[points.length - 1].y)} over ${plural(points.length, 'answer')} on ${plural(days, 'day')}.`,
          series: [{ label: title, points }],
          marks: [{ y: 0.95, label: 'mastery' }],
          format: percent,
        })
      : null,
    skill.needs_review ? reviewButtons(skill, studentId, name) : null,
  );
}

/** "between 9% and 20%", or "about 9%" when both ends read the same. */
function range(low, high) {
  return percent(low) === percent(high) ? `about ${percent(low)}` : `between ${percent(low)} and ${percent(high)}`;
}

function reviewButtons(skill, studentId, name) {
  const title = skill.name || skill.skill_id;
  const note = h('input', { type: 'text', 'aria-label': `Note on ${title} (optional)`, placeholder: 'Note (optional)' });
  const box = h(
    'div',
    { class: 'review-row' },
    h('p', {}, `Does this match what you see of ${name} in class?`),
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
      const id = estimateReviewId(studentId, skill.skill_id);
      await post(`/api/v1/reviews/${encodeURIComponent(id)}`, { decision, note: note.value || undefined });
      box.replaceChildren(
        h('p', { class: 'decided' }, decision === 'confirm' ? 'Confirmed: you checked this.' : 'Dismissed: Huddle will stay quiet about this until new answers arrive.'),
      );
      toast(decision === 'confirm' ? 'Confirmed.' : 'Dismissed.');
    } catch (e) {
      toast(`Could not record it: ${e.message}`);
    }
  }
  return box;
}

/** "✗ 54 (wrong)" when the tool sent the student's answer, else "✗ wrong". */
function answerOf(e) {
  if (e.outcome === 'skipped') return '– skipped';
  const [mark, word] = e.outcome === 'correct' ? ['✓', 'right'] : ['✗', 'wrong'];
  return e.response ? `${mark} ${e.response} (${word})` : `${mark} ${word}`;
}

function evidenceSection(evidence, skills) {
  const names = new Map(skills.map((k) => [k.skill_id, k.name || k.skill_id]));
  if (evidence.length === 0) return null;
  return h(
    'section',
    { 'aria-labelledby': 'evidence-h' },
    h('h2', { id: 'evidence-h' }, 'Recent answers'),
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'data' },
        h('thead', {}, h('tr', {}, ['When', 'Skill', 'Question', 'Answer', 'Time', 'Hints'].map((t) => h('th', { scope: 'col' }, t)))),
        h(
          'tbody',
          {},
          evidence.map((e) =>
            h(
              'tr',
              { class: e.excluded ? 'excluded' : '' },
              h('td', {}, when(e.occurred_at)),
              h('td', {}, e.skill_name || names.get(e.skill_id) || e.skill_id),
              h('td', {}, e.problem || itemLabel(e.item_id, e.skill_id)),
              h('td', {}, answerOf(e)),
              h('td', {}, seconds(e.response_ms)),
              h('td', {}, `${e.hints_used ?? 0}${e.hint_bottom_out ? ' (to the answer)' : ''}`),
            ),
          ),
        ),
      ),
    ),
  );
}
