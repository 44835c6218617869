// The only module that calls fetch: the public JSON API under /api/v1 (bearer tokens), plus the app's
// own message catalogues. Every error becomes an ApiError (problem details) or an Offline error.
//
// Tokens: the access token goes in the Authorization header; when it has expired (or the API says 401)
// the refresh token is exchanged once for a new pair. The API rotates refresh tokens and treats a
// spent one as stolen, so only one refresh may run at a time across tabs and the service worker: a
// Web Lock serialises it, and whoever comes second finds the new pair already stored.

import * as store from './store.js';

const API = '/api/v1';

export class ApiError extends Error {
  constructor(status, problem = {}) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }

  /** The reason the API gave for a field (invalid_params), by dotted name. */
  reasons() {
    const reasons = {};
    for (const param of this.problem.invalid_params || []) reasons[param.name] = param.reason;
    return reasons;
  }
}

export class Offline extends Error {
  constructor() {
    super('offline');
  }
}

/** The sign-in is over (revoked, expired, or the refresh token was refused): sign in again. */
export class SignedOut extends ApiError {}

async function send(path, init) {
  try {
    return await fetch(`${API}${path}`, init);
  } catch {
    throw new Offline();
  }
}

async function problemOf(response) {
  try {
    return await response.json();
  } catch {
    return { title: response.statusText };
  }
}

function withLock(name, run) {
  return navigator.locks ? navigator.locks.request(name, run) : run();
}

/** Exchange the refresh token, unless another tab or the worker already did since `stale` was read. */
function refresh(stale) {
  return withLock('hep-auth', async () => {
    const current = await store.getSession();
    if (!current) throw new SignedOut(401, { title: 'Signed out' });
    if (current.access_token !== stale.access_token && current.expires_at > Date.now()) return current;
    const response = await send('/auth/refresh', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ refresh_token: current.refresh_token }),
    });
    if (response.status === 401) {
      await store.updateSession((s) => (s ? { ...s, access_token: null, refresh_token: null, signed_out: true } : s));
      throw new SignedOut(401, await problemOf(response));
    }
    if (!response.ok) throw new ApiError(response.status, await problemOf(response));
    const pair = await response.json();
    return store.updateSession((s) => ({
      ...s,
      access_token: pair.access_token,
      refresh_token: pair.refresh_token,
      expires_at: Date.now() + pair.expires_in * 1000,
    }));
  });
}

async function authorised() {
  const session = await store.getSession();
  if (!session?.access_token) throw new SignedOut(401, { title: 'Signed out' });
  // A minute of slack: an access token that is about to expire is refreshed first.
  return session.expires_at - 60_000 > Date.now() ? session : refresh(session);
}

/**
 * Call the API. Returns { status, data, offline, date }: `offline` is true when the service worker
 * answered from its cache (the network was down), and `date` is when the server made that answer.
 */
export async function request(method, path, { body, headers = {}, auth = true } = {}) {
  const init = { method, headers: { Accept: 'application/json', ...headers } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let session = auth ? await authorised() : null;
  if (session) init.headers.Authorization = `Bearer ${session.access_token}`;
  let response = await send(path, init);
  if (response.status === 401 && session) {
    session = await refresh(session);
    init.headers.Authorization = `Bearer ${session.access_token}`;
    response = await send(path, init);
    if (response.status === 401) throw new SignedOut(401, await problemOf(response));
  }
  // The service worker answers 503 with this header when the network is down and it has no copy.
  if (response.headers.get('X-HEP-Offline') === '1' && !response.ok) throw new Offline();
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  const data = response.status === 204 ? null : await response.json();
  return {
    status: response.status,
    data,
    offline: response.headers.get('X-HEP-Offline') === '1',
    date: response.headers.get('Date') ? new Date(response.headers.get('Date')) : new Date(),
  };
}

const get = async (path) => (await request('GET', path)).data;
const patient = (id, tail = '') => `/patients/${id}${tail}`;

// --- sign-in ----------------------------------------------------------------------------------

async function start(pair) {
  const me = await send('/me', { headers: { Authorization: `Bearer ${pair.access_token}`, Accept: 'application/json' } });
  if (!me.ok) throw new ApiError(me.status, await problemOf(me));
  const user = await me.json();
  if (user.role !== 'patient' || !user.patient) throw new ApiError(403, { detail: 'not-a-patient' });
  const session = {
    access_token: pair.access_token,
    refresh_token: pair.refresh_token,
    expires_at: Date.now() + pair.expires_in * 1000,
    patient_id: user.id,
    name: user.name,
    phone: user.phone,
    clinic: user.clinic.name,
    clinic_phone: user.clinic.contact_phone,
    language: user.patient.language,
    timezone: user.patient.timezone,
  };
  await store.setSession(session);
  return session;
}

async function tokenCall(path, body) {
  const response = await send(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  return start(await response.json());
}

export const signIn = (username, password) => tokenCall('/auth/token', { username, password });
export const activate = (code, password) => tokenCall('/auth/activate', { code, password });

export async function signOut() {
  try {
    await request('POST', '/auth/logout');
  } catch {
    // Offline or already signed out: the tokens are forgotten on this device either way.
  }
}

// --- the patient's day, routine, progress -------------------------------------------------------

export const today = (id) => request('GET', patient(id, '/today'));
export const routine = (id) => request('GET', patient(id, '/routine'));
export const adherence = (id, days = 28) => get(patient(id, `/adherence?days=${days}`));
export const sessions = (id) => get(patient(id, '/sessions?upcoming=false&limit=100'));
export const calendarFeed = async (id) => (await request('POST', patient(id, '/calendar-feed'))).data;
export const setLanguage = async (id, language) => (await request('PATCH', patient(id), { body: { language } })).data;

// --- logs -------------------------------------------------------------------------------------

export const syncBatch = async (id, entries) =>
  (await request('POST', patient(id, '/logs/batch'), { body: { entries } })).data;
export const recentLogs = (id, from) => request('GET', patient(id, `/logs?from=${from}&limit=100`));
export const correctLog = async (id, logId, changes, key) =>
  (await request('PATCH', patient(id, `/logs/${logId}`), { body: changes, headers: { 'Idempotency-Key': key } }))
    .data;
export const deleteLog = (id, logId, key) =>
  request('DELETE', patient(id, `/logs/${logId}`), { headers: { 'Idempotency-Key': key } });

// --- reminders: texts and push ----------------------------------------------------------------

export const smsStatus = (id) => get(patient(id, '/sms'));
export const grantTexts = async (id) => (await request('POST', patient(id, '/sms/consent'), { body: { method: 'app' } })).data;
export const stopTexts = (id) => request('DELETE', patient(id, '/sms/consent'));
export const setTimes = async (id, times) =>
  (await request('PUT', patient(id, '/sms/times'), { body: { exercise_times: times } })).data;
export const pushStatus = (id) => get(patient(id, '/push'));
export const subscribePush = async (id, subscription) =>
  (await request('POST', patient(id, '/push/subscriptions'), { body: subscription })).data;
export const unsubscribePush = (id, subscriptionId) =>
  request('DELETE', patient(id, `/push/subscriptions/${subscriptionId}`));
export const setChannel = async (id, channel) =>
  (await request('PUT', patient(id, '/reminder-channel'), { body: { channel } })).data;
export const testPush = async (id) => (await request('POST', patient(id, '/push/test'))).data;

// --- figures (issue 13's endpoint; answers 404 until an exercise has one) --------------------------

/** The exercise's figure as an object URL, or null when it has none (404) or we are offline without it. */
export async function figure(slug, { side, still }) {
  const query = new URLSearchParams();
  if (side === 'left' || side === 'right') query.set('side', side);
  if (still) query.set('static', '1');
  const session = await authorised();
  const path = `/exercises/${encodeURIComponent(slug)}/figure.svg${query.toString() ? `?${query}` : ''}`;
  let response;
  try {
    response = await send(path, { headers: { Authorization: `Bearer ${session.access_token}` } });
  } catch (error) {
    if (error instanceof Offline) return null;
    throw error;
  }
  if (!response.ok || !(response.headers.get('Content-Type') || '').includes('svg')) return null;
  return URL.createObjectURL(await response.blob());
}

// --- the app's own files ----------------------------------------------------------------------

/** A message catalogue (the same JSON the server reads, hep/i18n). */
export async function catalogue(language) {
  let response;
  try {
    response = await fetch(`/app/i18n/${language}.json`);
  } catch {
    throw new Offline();
  }
  if (!response.ok) throw new ApiError(response.status);
  return response.json();
}
