// The patient app's service worker: it only caches and syncs.
//
//   the shell (HTML, modules, CSS, icons, catalogues)  precached at install, served cache-first; a new
//                                                       release is a new worker (the version below)
//   the patient's data (today, routine, progress...)    network first, the last answer kept for offline
//   exercise figures                                     cache first (they change only with the library)
//   Background Sync "hep-sync"                           sends the entries kept on the phone
//   push                                                 shows the reminder as a notification
//
// Served by hep/patient_app with this release's version and file list filled in.

import { syncNow } from './static/js/sync.js';

const VERSION = '__VERSION__';
const SHELL = `hep-shell-${VERSION}`;
const DATA = 'hep-data';
const FIGURES = 'hep-figures';
const PRECACHE = ["__PRECACHE__"];
const DATA_PATHS = /^\/api\/v1\/(me|patients\/\d+\/(today|routine|adherence|sessions|logs|sms|push))(\?|$)/;
const FIGURE_PATHS = /^\/api\/v1\/exercises\/[^/]+\/figure\.svg$/;

self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(SHELL);
      await cache.addAll(PRECACHE.map((url) => new Request(url, { cache: 'reload' })));
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith('hep-shell-') && name !== SHELL) await caches.delete(name);
      }
      await self.clients.claim();
    })(),
  );
});

function offlineProblem() {
  return new Response(JSON.stringify({ type: 'about:blank', title: 'Offline', status: 503, detail: 'offline' }), {
    status: 503,
    headers: { 'Content-Type': 'application/problem+json', 'X-HEP-Offline': '1' },
  });
}

async function fromCache(cacheName, request) {
  const cached = await (await caches.open(cacheName)).match(request);
  if (!cached) return null;
  const headers = new Headers(cached.headers);
  headers.set('X-HEP-Offline', '1');
  return new Response(await cached.blob(), { status: cached.status, statusText: cached.statusText, headers });
}

async function networkFirst(request) {
  try {
    const response = await fetch(request);
    if (response.ok) await (await caches.open(DATA)).put(request, response.clone());
    return response;
  } catch {
    return (await fromCache(DATA, request)) || offlineProblem();
  }
}

async function figure(request) {
  const cache = await caches.open(FIGURES);
  const cached = await cache.match(request);
  if (cached) return cached;
  try {
    const response = await fetch(request);
    if (response.ok) await cache.put(request, response.clone());
    return response;
  } catch {
    return offlineProblem();
  }
}

async function shell(request) {
  const cache = await caches.open(SHELL);
  const url = new URL(request.url);
  const key = request.mode === 'navigate' ? '/app/' : url.pathname;
  const cached = await cache.match(key);
  if (cached) return cached;
  return fetch(request);
}

self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname === '/app/sw.js') return;
  if (request.mode === 'navigate' && url.pathname.startsWith('/app')) event.respondWith(shell(request));
  else if (url.pathname.startsWith('/app/')) event.respondWith(shell(request));
  else if (FIGURE_PATHS.test(url.pathname)) event.respondWith(figure(request));
  else if (DATA_PATHS.test(url.pathname + url.search)) event.respondWith(networkFirst(request));
});

self.addEventListener('sync', (event) => {
  if (event.tag === 'hep-sync') event.waitUntil(syncNow({ rethrow: true }));
});

self.addEventListener('message', (event) => {
  const done = () => event.ports[0]?.postMessage('done');
  if (event.data?.type === 'sign-out') {
    // The patient's data must not outlive the sign-in on a shared phone.
    event.waitUntil(Promise.all([caches.delete(DATA), caches.delete(FIGURES)]).then(done));
  } else if (event.data?.type === 'sync') {
    event.waitUntil(syncNow().then(done));
  }
});

self.addEventListener('push', (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch {
    data = { body: event.data?.text() };
  }
  event.waitUntil(
    self.registration.showNotification(data.title || 'HEP', {
      body: data.body || '',
      tag: data.tag || 'hep',
      icon: '/app/static/icons/icon-192.png',
      badge: '/app/static/icons/icon-192.png',
      data: { url: data.url || '/app/today' },
    }),
  );
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const target = new URL(event.notification.data?.url || '/app/today', self.location.origin).href;
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
      const open = windows.find((w) => new URL(w.url).pathname.startsWith('/app'));
      if (open) {
        await open.focus();
        return open.navigate(target);
      }
      return self.clients.openWindow(target);
    })(),
  );
});
