// The signed-in shell (design §7): header with navigation and role, the page, a footer with the time
// zone and the last update. Hash routing; the current page polls its data every ~2 s (10 s in a hidden
// tab) with the bearer token from sessionStorage (never in a URL, so no EventSource).

import { failure, onUnauthorized, whoami } from './api.js';
import { badge, card, el, link } from './dom.js';
import { TZ } from './format.js';
import { session, TOKEN_KEY, view } from './session.js';
import { pageDevice, pageDevices, pageModel, pageModels, pageOverview, pageRollout, pageRollouts, renderSignIn, type Page } from './pages/index.js';

const ROUTES: ReadonlyArray<readonly [RegExp, Page]> = [
  [/^\/?$/, pageOverview],
  [/^\/devices$/, pageDevices],
  [/^\/device\/([^/]+)$/, pageDevice],
  [/^\/models$/, pageModels],
  [/^\/model\/([^/]+)$/, pageModel],
  [/^\/rollouts$/, pageRollouts],
  [/^\/rollout\/([^/]+)$/, pageRollout],
];

let root: HTMLElement;
let main: HTMLElement;

const signIn = (message?: string) => renderSignIn(root, message, start);

/** Stops the current page's polling: its callbacks see a new generation and go quiet. */
function stop(): void {
  session.gen++;
  if (session.timer) clearTimeout(session.timer);
  session.timer = null;
}

function signOut(message: string): void {
  sessionStorage.removeItem(TOKEN_KEY);
  session.token = null;
  session.role = null;
  session.who = null;
  stop();
  signIn(message);
}

function renderShell(): void {
  const nav = el('nav', { class: 'nav' }, [
    link('#/', 'Overview', 'nav-overview'),
    link('#/devices', 'Devices', 'nav-devices'),
    link('#/models', 'Models', 'nav-models'),
    link('#/rollouts', 'Rollouts', 'nav-rollouts'),
  ]);
  const signOutButton = el('button', { class: 'linkish', id: 'signout', text: 'Sign out', onclick: () => signOut('Signed out.') });
  view.whoBox = el('span', { class: 'who' }, [badge(session.role || '?', 'role'), signOutButton]);
  main = el('main', { id: 'main' });
  const offset = -new Date().getTimezoneOffset();
  const zone = 'UTC' + (offset >= 0 ? '+' : '-') + String(Math.floor(Math.abs(offset) / 60)).padStart(2, '0') + ':' + String(Math.abs(offset) % 60).padStart(2, '0');
  root.replaceChildren(
    el('header', { class: 'top' }, [el('a', { class: 'brand', href: '#/', text: 'edgefleet' }), nav, view.whoBox]),
    main,
    el('footer', null, [el('span', { text: 'Times in ' + TZ + ' (' + zone + '). Updates every 2 s.' }), el('span', { id: 'live', class: 'live', text: '' })]),
  );
}

function start(): void {
  renderShell();
  route();
}

function parseHash(): { path: string; params: URLSearchParams } {
  const h = location.hash.replace(/^#/, '');
  const i = h.indexOf('?');
  return { path: i < 0 ? h : h.slice(0, i), params: new URLSearchParams(i < 0 ? '' : h.slice(i + 1)) };
}

function route(): void {
  if (!session.token) return signIn();
  stop();
  const gen = session.gen;
  const h = parseHash();
  let page: Page | null = null;
  let m: RegExpExecArray | null = null;
  for (const [pattern, p] of ROUTES) {
    m = pattern.exec(h.path);
    if (m) {
      page = p;
      break;
    }
  }
  // a device, model or rollout page lights its list's tab
  const section = '#/' + (h.path.split('/')[1] || '').replace(/^device$/, 'devices').replace(/^model$/, 'models').replace(/^rollout$/, 'rollouts');
  document.querySelectorAll('.nav a').forEach((a) => a.classList.toggle('current', a.getAttribute('href') === section));
  main.replaceChildren();
  if (!page || !m) {
    main.appendChild(card('Not found', [el('p', { text: 'No page ' + h.path + '.' })]));
    return;
  }
  const alive = () => gen === session.gen;
  const ctl = page(main, m.slice(1).map(decodeURIComponent), h.params, alive);
  const live = document.getElementById('live');
  const tick = () => {
    if (!alive()) return;
    ctl
      .refresh()
      .then(
        () => {
          if (live && alive()) live.textContent = 'updated ' + new Date().toLocaleTimeString();
        },
        (e: unknown) => {
          const f = failure(e);
          if (!alive() || f.status === 401) return;
          if (live) live.textContent = 'update failed: ' + f.message;
        },
      )
      .then(() => {
        if (alive()) session.timer = setTimeout(tick, document.hidden ? 10000 : ctl.interval || 2000);
      });
  };
  tick();
}

/** Boots the dashboard once the page's DOM is there: the shell when the tab holds a valid token. */
export function boot(): void {
  root = document.getElementById('app') ?? document.body;
  onUnauthorized(signOut);
  window.addEventListener('hashchange', () => {
    if (session.token) route();
  });
  if (!session.token) return signIn();
  whoami().then(
    () => start(),
    (e: unknown) => {
      const f = failure(e);
      if (f.status !== 401) signIn('Could not reach the hub: ' + f.message);
    },
  );
}
