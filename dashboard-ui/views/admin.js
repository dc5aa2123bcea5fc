// Administration: adoption over time (with review activity), model health, data quality.
// Each page reads one or two report endpoints; an endpoint this server does not have (404)
// becomes a plain "not available" panel, never a broken page.

import { get } from '../api.js';
import { barChart } from '../chart.js';
import { day, h, plural } from '../dom.js';

const PAGES = [
  ['#/admin', 'Adoption'],
  ['#/admin/models', 'Model health'],
  ['#/admin/quality', 'Data quality'],
];

/** The report at `path`, or null when this server has no such report. */
async function optional(path) {
  try {
    return await get(path);
  } catch (e) {
    if (e.status === 404 || e.status === 405) return null;
    throw e;
  }
}

function tabs(current) {
  return h(
    'nav',
    { class: 'tabs', 'aria-label': 'Administration' },
    PAGES.map(([href, text]) => h('a', { href, 'aria-current': href === current ? 'page' : undefined }, text)),
  );
}

function unavailable(what) {
  return h(
    'section',
    { class: 'unavailable', 'aria-label': `${what}: not available` },
    h('h2', {}, `${what}: not available`),
    h('p', {}, `This Huddle server does not provide the ${what.toLowerCase()} report yet. The rest of the dashboard works as usual.`),
  );
}

function page(current, title, ...content) {
  return h('div', { class: 'admin' }, tabs(current), h('h1', {}, title), ...content);
}

export async function admin() {
  const adoption = await optional('/api/v1/admin/adoption');
  if (!adoption) return page('#/admin', 'Adoption', unavailable('Adoption'));
  const weeks = adoption.weeks || [];
  const latest = weeks.at(-1);
  return page(
    '#/admin',
    'Adoption',
    latest ? h('p', { class: 'lead' }, headline(adoption, latest)) : null,
    h(
      'section',
      { 'aria-labelledby': 'weekly-h' },
      h('h2', { id: 'weekly-h' }, 'Practice week by week'),
      weeks.length === 0
        ? h('p', {}, 'No practice yet.')
        : barChart({
            title: 'Weekly active students and practice minutes',
            summary: `${plural(weeks.length, 'week')}; in the latest, ${latest.active_students} active students and ${Math.round(latest.practice_minutes)} practice minutes.`,
            labels: weeks.map((w) => shortDay(w.week_start)),
            bars: weeks.map((w) => w.active_students),
            barLabel: 'active students',
            line: weeks.map((w) => w.practice_minutes),
            lineLabel: 'practice minutes',
          }),
      table(
        ['Week of', 'Active students', 'Answers', 'Practice minutes', 'Active teachers'],
        weeks.map((w) => [day(w.week_start), w.active_students, num(w.events), num(Math.round(w.practice_minutes)), w.active_teachers ?? '—']),
      ),
    ),
    reviewActivity(weeks),
    breakdown('By school', adoption.schools || [], (s) => s.name || s.school_id || 'No school'),
    breakdown('By class', adoption.classes || [], (c) => c.name || c.class_id || 'No class'),
  );
}

function headline(adoption, latest) {
  const t = adoption.totals || {};
  const share = t.share_practising;
  return (
    `This week so far: ${plural(latest.active_students, 'student')} practised for ${num(Math.round(latest.practice_minutes))} minutes` +
    (latest.active_teachers !== undefined ? ` and ${plural(latest.active_teachers, 'teacher')} opened their class pages.` : '.') +
    (share !== undefined && share !== null ? ` Over the period, ${Math.round(share * 100)}% of enrolled students practised.` : '')
  );
}

/** Whether teachers act on what Huddle shows: page views, insights read, review decisions,
 * check-ins during lessons and the share of students checked in with. */
function reviewActivity(weeks) {
  if (!weeks.some((w) => w.reviews_decided !== undefined || w.teacher_views !== undefined)) return null;
  const latest = weeks.at(-1);
  return h(
    'section',
    { 'aria-labelledby': 'reviews-h' },
    h('h2', { id: 'reviews-h' }, 'Teachers acting on it'),
    barChart({
      title: 'Review decisions and class pages opened by teachers, week by week',
      summary: `In the latest week, ${plural(weeks.at(-1).reviews_decided ?? 0, 'review decision')} and ${plural(weeks.at(-1).teacher_views ?? 0, 'class page')} opened.`,
      labels: weeks.map((w) => shortDay(w.week_start)),
      bars: weeks.map((w) => w.reviews_decided ?? 0),
      barLabel: 'review decisions',
      line: weeks.map((w) => w.teacher_views ?? 0),
      lineLabel: 'class pages opened',
    }),
    latest.checkins !== undefined
      ? h(
          'p',
          { class: 'checkins-summary' },
          `In the latest week, ${plural(latest.checkins, 'check-in')} during lessons: ${pct(latest.share_checked_in)} of enrolled students were checked in with.`,
        )
      : null,
    table(
      ['Week of', 'Class pages opened', 'Insights read', 'Review decisions', 'Check-ins', 'Students checked in with'],
      weeks.map((w) => [
        day(w.week_start),
        w.teacher_views ?? '—',
        w.insights_viewed ?? '—',
        w.reviews_decided ?? '—',
        w.checkins ?? '—',
        pct(w.share_checked_in),
      ]),
    ),
  );
}

function shortDay(iso) {
  return new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' }).format(new Date(iso));
}

const num = (n) => (typeof n === 'number' ? n.toLocaleString() : n ?? '—');
/** A small share readably: 0.0002 → "under 0.1%". */
const rate = (x) => (x === undefined || x === null ? '—' : x > 0 && x < 0.001 ? 'under 0.1%' : `${(x * 100).toFixed(1)}%`);
const pct = (x) => (x === undefined || x === null ? '—' : `${Math.round(x * 100)}%`);

function breakdown(title, rows, label) {
  if (rows.length === 0) return null;
  return h(
    'section',
    {},
    h('h2', {}, title),
    table(
      ['', 'Active students', 'Enrolled', 'Practising', 'Answers', 'Practice minutes', 'Teacher page views', 'Review decisions', 'Check-ins', 'Checked in with'],
      rows.map((r) => [
        label(r),
        r.active_students,
        r.enrolled ?? r.enrolled_students ?? '—',
        pct(r.share_practising),
        num(r.events),
        num(Math.round(r.practice_minutes ?? 0)),
        r.teacher_views ?? '—',
        r.reviews_decided ?? '—',
        r.checkins ?? '—',
        pct(r.share_checked_in),
      ]),
    ),
  );
}

export async function modelHealth() {
  const [health, fairness] = await Promise.all([
    optional('/api/v1/admin/model-health'),
    optional('/api/v1/admin/fairness'),
  ]);
  return page(
    '#/admin/models',
    'Model health',
    health ? healthSection(health) : unavailable('Model health'),
    fairness ? fairnessSection(fairness) : null,
  );
}

const HEALTH = {
  ok: { symbol: '✓', text: 'Predicting well', cls: 'mastered' },
  drifting: { symbol: '!', text: 'Drifting: refit advised', cls: 'struggling' },
  too_little_data: { symbol: '○', text: 'Too little data to judge', cls: 'not_started' },
};

function healthBadge(status) {
  const s = HEALTH[status] || { symbol: '?', text: status, cls: 'not_started' };
  return h('span', { class: 'health' }, h('span', { class: `status ${s.cls}`, 'aria-hidden': 'true' }, s.symbol), ` ${s.text}`);
}

function healthSection(report) {
  const sum = report.summary || {};
  const skills = report.skills || [];
  return h(
    'section',
    { 'aria-labelledby': 'health-h' },
    h('h2', { id: 'health-h' }, 'Is the model still predicting well?'),
    h(
      'p',
      { class: 'lead' },
      `${plural(sum.skills ?? skills.length, 'skill')}: ${sum.ok ?? 0} predicting well, ${sum.drifting ?? 0} drifting, ${sum.too_little_data ?? 0} with too little recent data` +
        (report.window_from ? ` (answers since ${day(report.window_from)}).` : '.'),
    ),
    table(
      ['Skill', 'Status', 'Recent accuracy (AUC)', 'At fit time', 'Recent answers', 'Fitted'],
      skills.map((k) => [
        k.name || k.skill_id,
        healthBadge(k.status),
        fixed(k.recent?.auc),
        fixed(k.fit_accuracy?.auc),
        num(k.recent?.answers ?? 0),
        k.fitted ? day(k.fitted_at) : 'default model',
      ]),
    ),
    skills.some((k) => k.status !== 'ok' && k.message)
      ? h('ul', { class: 'notes' }, skills.filter((k) => k.status !== 'ok' && k.message).map((k) => h('li', {}, h('strong', {}, `${k.name || k.skill_id}: `), k.message)))
      : null,
    refusedSection(report.refit?.result?.refused || [], skills),
    h('p', { class: 'muted' }, 'AUC: how well the model tells right answers from wrong ones before they happen (0.5 is chance, 1 is perfect).'),
  );
}

// Refits the latest refit did not apply: those skills keep the model in use.
function refusedSection(refused, skills) {
  if (!refused.length) return null;
  const name = (id) => skills.find((k) => k.skill_id === id)?.name || id;
  return h(
    'div',
    {},
    h('p', {}, `The latest refit was not applied to ${plural(refused.length, 'skill')}; they keep the model in use:`),
    h('ul', { class: 'notes' }, refused.map((r) => h('li', {}, h('strong', {}, `${name(r.skill_id)}: `), r.reason))),
  );
}

function fairnessSection(f) {
  const groups = f.groups || [];
  return h(
    'section',
    { 'aria-labelledby': 'fairness-h' },
    h('h2', { id: 'fairness-h' }, 'Does it work equally well for every group of students?'),
    f.message ? h('p', {}, f.message) : null,
    groups.length
      ? table(
          ['Group', 'Students', 'Calibration error', 'Rest of district', 'Flags confirmed', 'Verdict'],
          groups.map((g) => [g.group || 'No group', g.students, fixed(g.calibration?.ece), fixed(g.rest_ece), pct(g.confirmed_share), g.message || g.status]),
        )
      : null,
  );
}

const fixed = (x) => (x === undefined || x === null ? '—' : x.toFixed(2));

export async function dataQuality() {
  const q = await optional('/api/v1/admin/data-quality');
  if (!q) return page('#/admin/quality', 'Data quality', unavailable('Data quality'));
  const t = q.totals || {};
  const tools = q.tools || [];
  const rejections = q.rejections || [];
  const thin = q.skills_too_little_data || [];
  return page(
    '#/admin/quality',
    'Data quality',
    h(
      'section',
      { 'aria-labelledby': 'dq-h' },
      h('h2', { id: 'dq-h' }, `What the tools sent${q.from ? ` from ${day(q.from)} to ${day(q.to)}` : ''}`),
      h(
        'ul',
        { class: 'checks' },
        // A share under 1% is the normal noise of devices and networks, not a problem.
        check((t.rejected_rate ?? 0) < 0.01, `${num(t.received ?? 0)} answers stored; ${num(t.rejected ?? 0)} refused (${rate(t.rejected_rate)}).`),
        check((t.duplicate_rate ?? 0) < 0.01, `${num(t.duplicates ?? 0)} sent twice (${rate(t.duplicate_rate)}); each counted once.`),
        check(!t.late, `${num(t.late ?? 0)} arrived a day or more late.`),
        check(!t.without_response_time, `${num(t.without_response_time ?? 0)} without a response time.`),
        check(!q.shared_account_students, `${plural(q.shared_account_students ?? 0, 'student')} possibly sharing an account.`),
        check(!q.students_without_class, `${plural(q.students_without_class ?? 0, 'student')} without a class.`),
        check(!thin.length, `${plural(thin.length, 'skill')} with too few students to fit a model (fewer than ${q.min_students_to_fit ?? 50}).`),
      ),
      h('h3', {}, 'By tool'),
      table(
        ['Tool', 'Stored', 'Duplicates', 'Refused', 'Late', 'Clock ahead', 'No response time'],
        tools.map((r) => [r.tool || '(no tool named)', num(r.received), num(r.duplicates), num(r.rejected), num(r.late), num(r.future_dated), num(r.without_response_time)]),
      ),
      rejections.length
        ? [h('h3', {}, 'Refused, by reason'), table(['Tool', 'Reason', 'Answers'], rejections.map((r) => [r.tool || '(no tool named)', r.code, num(r.events)]))]
        : null,
    ),
  );
}

/** A line of the checklist: ✓ when all is well, ! when it needs a look. */
function check(ok, text) {
  return h('li', { class: ok ? 'ok' : 'warn' }, h('span', { class: `status ${ok ? 'mastered' : 'struggling'}`, 'aria-hidden': 'true' }, ok ? '✓' : '!'), ' ', text);
}

function table(headers, rows) {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'data' },
      h('thead', {}, h('tr', {}, headers.map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, rows.map((r) => h('tr', {}, r.map((v, i) => (i === 0 ? h('th', { scope: 'row' }, v) : h('td', {}, v)))))),
    ),
  );
}
