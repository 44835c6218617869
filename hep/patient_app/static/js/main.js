// The app's start: language, service worker, the router, and syncing at open and when back online.
// Each screen is a module with `render(ctx)` that fills ctx.root and may return a cleanup function.

import { Offline } from './api.js';
import * as store from './store.js';
import { syncNow } from './sync.js';
import { load, pick, t } from './i18n.js';
import { announce, fill, h } from './ui.js';
import * as activate from './screens/activate.js';
import * as signIn from './screens/sign-in.js';
import * as today from './screens/today.js';
import * as exercise from './screens/exercise.js';
import * as log from './screens/log.js';
import * as progress from './screens/progress.js';
import * as settings from './screens/settings.js';

const PUBLIC = new Set(['activate', 'sign-in']);
const TABS = [
  ['today', 'nav.today'],
  ['log', 'nav.log'],
  ['progress', 'nav.progress'],
  ['settings', 'nav.settings'],
];

function route(pathname) {
  const path = pathname.replace(/^\/app\/?/, '').replace(/\/$/, '');
  if (path === 'activate') return { name: 'activate', screen: activate };
  if (path === 'sign-in') return { name: 'sign-in', screen: signIn };
  if (path === 'log') return { name: 'log', screen: log };
  if (path === 'progress') return { name: 'progress', screen: progress };
  if (path === 'settings') return { name: 'settings', screen: settings };
  const match = path.match(/^exercise\/(\d+)$/);
  if (match) return { name: 'exercise', screen: exercise, params: { itemId: Number(match[1]) } };
  return { name: 'today', screen: today };
}

let cleanup = null;
let rendering = 0;

export function navigate(url, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  return show();
}

function renderTabs(active) {
  const nav = document.getElementById('tabs');
  nav.setAttribute('aria-label', t('nav.label'));
  fill(
    nav,
    h(
      'ul',
      {},
      TABS.map(([name, key]) =>
        h(
          'li',
          {},
          h(
            'a',
            { href: `/app/${name}`, 'data-link': true, 'aria-current': name === active ? 'page' : undefined },
            h('span', { class: `tab-icon tab-${name}`, 'aria-hidden': 'true' }),
            t(key),
          ),
        ),
      ),
    ),
  );
  nav.hidden = false;
}

async function show() {
  const ticket = ++rendering;
  if (cleanup) {
    try {
      cleanup();
    } catch {
      // a screen's cleanup never blocks the next screen
    }
    cleanup = null;
  }
  const { name, screen, params = {} } = route(location.pathname);
  const session = await store.getSession();
  const signedIn = Boolean(session?.refresh_token);
  if (!PUBLIC.has(name) && !signedIn) {
    return navigate('/app/sign-in', { replace: true });
  }
  const root = document.getElementById('view');
  const nav = document.getElementById('tabs');
  if (PUBLIC.has(name)) nav.hidden = true;
  else renderTabs(name === 'exercise' ? 'today' : name);
  const ctx = {
    root,
    params,
    query: new URLSearchParams(location.search),
    session,
    navigate,
    rerender: show,
    switchLanguage,
  };
  try {
    const result = await screen.render(ctx);
    if (ticket !== rendering) return undefined; // another navigation started meanwhile
    cleanup = typeof result === 'function' ? result : null;
  } catch (error) {
    if (error?.status === 401 && !PUBLIC.has(name)) return navigate('/app/sign-in?expired=1', { replace: true });
    if (error instanceof Offline) {
      // Never opened online on this phone, so nothing was kept: say so rather than fail.
      fill(root, h('h1', { tabindex: '-1', id: 'screen-title' }, t('error.offline_title')), h('p', {}, t('net.needed')));
    } else {
      fill(root, h('h1', { tabindex: '-1', id: 'screen-title' }, t('error.title')), h('p', {}, t('error.body')));
      console.warn(error);
    }
  }
  const title = document.getElementById('screen-title');
  if (title) {
    document.title = `${title.textContent} · HEP`;
    title.focus({ preventScroll: false });
  }
  return undefined;
}

function showNetwork() {
  const net = document.getElementById('net');
  net.hidden = navigator.onLine;
  net.textContent = navigator.onLine ? '' : t('net.offline');
}

async function boot() {
  const session = await store.getSession();
  const prefs = await store.getPrefs();
  try {
    await load(prefs.language || session?.language || navigator.language);
  } catch {
    await load('en').catch(() => undefined);
  }
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('/app/sw.js', { scope: '/app/', type: 'module' }).catch((error) => {
      console.warn('service worker not registered', error);
    });
  }
  document.addEventListener('click', (event) => {
    const link = event.target.closest('a[data-link]');
    if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey) return;
    event.preventDefault();
    navigate(link.getAttribute('href'));
  });
  window.addEventListener('popstate', show);
  window.addEventListener('online', async () => {
    showNetwork();
    announce(t('net.online'));
    await syncNow();
  });
  window.addEventListener('offline', () => {
    showNetwork();
    announce(t('net.offline'));
  });
  showNetwork();
  await show();
  if (session?.refresh_token) syncNow(); // whatever waited since the app was last open
}

/** Switch the app's language now (the choice is also kept on the device and sent to the clinic). */
async function switchLanguage(tag) {
  await store.setPref('language', pick(tag));
  await load(tag);
  showNetwork();
  return show();
}

boot();
