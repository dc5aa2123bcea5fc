// Now: who needs a person during the practice block, for a teacher walking the room with a
// tablet. Live: the server pushes the class (Server-Sent Events) after every answer and at
// least every 15 s; when the stream cannot be held, the page asks every 10 s instead.

import { get, post, session } from '../api.js';
import { h, mount, toast } from '../dom.js';
import { className, studentLink } from './common.js';

const POLL_MS = 10_000;

const LABELS = {
  needs_person: 'Needs you',
  guessing: 'Guessing',
  hints: 'Clicking through hints',
  giving_up: 'Giving up',
  idle: 'Stopped',
  working: 'Working',
  doing_well: 'Doing well',
  not_here: 'Not here',
};
const CALLS = new Set(['needs_person', 'guessing', 'hints', 'giving_up', 'idle']);

const timeOnly = new Intl.DateTimeFormat(undefined, { timeStyle: 'short' });

export async function now(classId) {
  const id = encodeURIComponent(classId);
  const first = await get(`/api/v1/classes/${id}/now`);
  const status = h('p', { class: 'now-status', role: 'status' });
  const body = h('div', { class: 'now-body' });
  const page = h('div', { class: 'now' }, h('h1', {}, `Now in ${className(classId)}`), status, body);
  const live = { mode: 'starting', at: null };
  const show = (view) => {
    live.at = new Date();
    mount(status, sittingLine(view, live));
    mount(body, tiles(classId, view, refresh));
  };
  const refresh = async () => show(await get(`/api/v1/classes/${id}/now`));
  show(first);
  connect(id, page, live, show, refresh);
  return page;
}

/** The stream, or polling when it fails; stops when the page leaves the document. */
function connect(id, page, live, show, refresh) {
  let source = null;
  let poller = null;
  let retry = null;
  const gone = () => !page.isConnected && live.mode !== 'starting';
  const stop = () => {
    source?.close();
    clearInterval(poller);
    clearTimeout(retry);
    window.removeEventListener('hashchange', onLeave);
  };
  const onLeave = () => setTimeout(() => gone() && stop(), 0);
  window.addEventListener('hashchange', onLeave);
  // Ask every 10 s, and try the stream again in a minute.
  const poll = () => {
    source?.close();
    if (live.mode !== 'polling') {
      live.mode = 'polling';
      clearInterval(poller);
      poller = setInterval(() => (gone() ? stop() : refresh().catch(() => {})), POLL_MS);
    }
    clearTimeout(retry);
    retry = setTimeout(() => (gone() ? stop() : open()), 60_000);
  };
  const open = async () => {
    if (!session.token) return stop();
    try {
      const ticket = await post(`/api/v1/classes/${id}/now/ticket`);
      const url = ticket.stream_url + (session.anonymise ? '&anonymise=true' : '');
      source?.close();
      source = new EventSource(url);
      source.addEventListener('now', (e) => {
        if (gone()) return stop();
        clearInterval(poller);
        live.mode = 'live';
        show(JSON.parse(e.data));
      });
      // The token it was opened with expired, or the connection broke: a ticket is good for
      // one minute only, so the browser's own reconnect would fail; poll and ask again later.
      source.addEventListener('end', poll);
      source.onerror = () => (gone() ? stop() : poll());
    } catch {
      poll();
    }
  };
  open();
}

function sittingLine(view, live) {
  const s = view.sitting;
  const parts = [];
  if (!s) parts.push('The class is not practising right now.');
  else if (s.active) parts.push(`Practising since ${timeOnly.format(new Date(s.started_at))}.`);
  else parts.push(`The practice ended at ${timeOnly.format(new Date(s.ended_at))}.`);
  const dot = live.mode === 'live' ? 'Live' : live.mode === 'polling' ? 'Updating every 10 s' : 'Connecting';
  parts.push(` ${dot} · updated ${timeOnly.format(live.at)}`);
  return [h('span', { class: `live-dot ${live.mode}`, 'aria-hidden': 'true' }), parts.join('')];
}

function tiles(classId, view, refresh) {
  const students = view.students || [];
  const calls = students.filter((s) => CALLS.has(s.state));
  const rest = students.filter((s) => !CALLS.has(s.state) && s.state !== 'not_here');
  const away = students.filter((s) => s.state === 'not_here');
  const out = [];
  out.push(
    h('h2', {}, calls.length ? `Go to (${calls.length})` : 'Nobody is waiting for you'),
    h('ul', { class: 'tiles calls' }, calls.map((s) => tile(classId, s, refresh))),
  );
  if (rest.length) {
    out.push(h('h2', {}, `Working (${rest.length})`), h('ul', { class: 'tiles rest' }, rest.map((s) => tile(classId, s, refresh))));
  }
  if (away.length) {
    out.push(
      h('h2', {}, `Not here (${away.length})`),
      h('p', { class: 'muted away' }, away.map((s, i) => [i ? ', ' : '', studentLink(s.student_id, s.name)])),
    );
  }
  return out;
}

function ago(minutes) {
  if (minutes === null || minutes === undefined) return '';
  return minutes < 1 ? 'answered just now' : `last answer ${minutes} min ago`;
}

function tile(classId, s, refresh) {
  const button = h(
    'button',
    {
      type: 'button',
      class: 'checkin',
      onclick: async () => {
        button.disabled = true;
        try {
          const body = { student_ids: [s.student_id] };
          if (s.skill_id) body.skill_id = s.skill_id;
          await post(`/api/v1/classes/${encodeURIComponent(classId)}/checkins`, body);
          toast(`Noted: you checked in with ${s.name || s.student_id}.`);
          await refresh();
        } catch (e) {
          toast(e.message);
          button.disabled = false;
        }
      },
    },
    'I checked in',
  );
  const right = s.first_tries ? `${s.first_tries_right} of ${s.first_tries} right first time` : null;
  return h(
    'li',
    { class: `tile ${s.state}`, 'data-student': s.student_id, 'data-state': s.state },
    h('p', { class: 'tile-state' }, LABELS[s.state] || s.state),
    h('p', { class: 'tile-name' }, studentLink(s.student_id, s.name)),
    h('p', { class: 'tile-reason' }, s.reason),
    h(
      'p',
      { class: 'tile-facts muted' },
      [s.skill_name || s.skill_id, right, ago(s.minutes_since_last_answer)].filter(Boolean).join(' · '),
    ),
    s.last_checkin_at ? h('p', { class: 'tile-facts muted' }, `You checked in ${timeOnly.format(new Date(s.last_checkin_at))}`) : null,
    s.state === 'not_here' ? null : button,
  );
}
