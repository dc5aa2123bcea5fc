// The dashboard: a hash router over a few views. Each view fetches its data (one or two
// requests) and builds its part of the page; nothing is fetched from outside this server.

import { session } from './api.js';
import { h, mount } from './dom.js';
import { signIn } from './views/signin.js';
import { today } from './views/today.js';
import { classGrid } from './views/class.js';
import { student } from './views/student.js';
import { reviews } from './views/reviews.js';
import { admin, dataQuality, modelHealth } from './views/admin.js';
import { classes } from './views/classes.js';
import { now } from './views/now.js';

const routes = [
  [/^#\/signin$/, () => signIn()],
  [/^#\/classes$/, () => classes()],
  [/^#\/today\/([^/]+)$/, (id) => today(id)],
  [/^#\/class\/([^/]+)$/, (id) => classGrid(id)],
  [/^#\/student\/([^/]+)$/, (id) => student(id)],
  [/^#\/reviews$/, () => reviews()],
  [/^#\/admin$/, () => admin()],
  [/^#\/admin\/models$/, () => modelHealth()],
  [/^#\/admin\/quality$/, () => dataQuality()],
  [/^#\/now\/([^/]+)$/, (id) => now(id)],
];

const main = document.getElementById('main');

async function render() {
  const claims = session.claims;
  let hash = location.hash || '#/';
  if (!claims && hash !== '#/signin') {
    location.hash = '#/signin';
    return;
  }
  if (hash === '#/') {
    location.hash = claims.role === 'admin' ? '#/admin' : '#/classes';
    return;
  }
  renderChrome(claims, hash);
  for (const [pattern, view] of routes) {
    const match = hash.match(pattern);
    if (match) {
      mount(main, h('p', { class: 'muted' }, 'Loading…'));
      try {
        const args = match.slice(1).map(decodeURIComponent);
        mount(main, await view(...args));
      } catch (error) {
        mount(main, problem(error));
      }
      main.focus({ preventScroll: true });
      document.title = `${main.querySelector('h1')?.textContent || 'Huddle'} · Huddle`;
      return;
    }
  }
  mount(main, h('h1', {}, 'Not found'), h('p', {}, h('a', { href: '#/' }, 'Back to the start')));
}

function problem(error) {
  const status = error.status;
  const title =
    status === 403 ? 'Not yours to see' : status === 404 ? 'Not found' : 'Something went wrong';
  return h(
    'section',
    { class: 'problem', role: 'alert' },
    h('h1', {}, title),
    h('p', {}, error.message || String(error)),
    h('p', {}, h('a', { href: '#/' }, 'Back to the start')),
  );
}

const currentClass = () => sessionStorage.getItem('huddle.class');

function renderChrome(claims, hash) {
  const nav = document.getElementById('nav');
  const tools = document.getElementById('tools');
  if (!claims) {
    mount(nav);
    mount(tools);
    return;
  }
  const match = hash.match(/^#\/(?:today|class|now)\/([^/]+)/);
  if (match) sessionStorage.setItem('huddle.class', decodeURIComponent(match[1]));
  const cls = currentClass();
  const link = (href, text) =>
    h('a', { href, 'aria-current': hash === href ? 'page' : undefined }, text);
  const links = [link('#/classes', 'Classes')];
  if (cls) {
    const id = encodeURIComponent(cls);
    links.push(link(`#/today/${id}`, 'Today'), link(`#/now/${id}`, 'Now'), link(`#/class/${id}`, 'Class'));
  }
  links.push(link('#/reviews', 'Review'));
  if (claims.role === 'admin') {
    links.push(h('a', { href: '#/admin', 'aria-current': hash.startsWith('#/admin') ? 'page' : undefined }, 'Administration'));
  }
  mount(nav, links);

  const anonymise = h('input', {
    type: 'checkbox',
    id: 'anonymise',
    checked: session.anonymise,
    onchange: (e) => {
      session.anonymise = e.target.checked;
      render();
    },
  });
  mount(
    tools,
    h('label', { class: 'switch', for: 'anonymise' }, anonymise, ' Hide names'),
    h(
      'button',
      {
        type: 'button',
        class: 'link',
        onclick: () => {
          session.signOut();
          location.hash = '#/signin';
        },
      },
      'Sign out',
    ),
  );
}

window.addEventListener('hashchange', render);
render();
