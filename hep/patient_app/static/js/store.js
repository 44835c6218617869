// The only module that touches storage on the device: IndexedDB, through the vendored `idb` wrapper.
//
// Two object stores:
//   kv       small values by key: the sign-in ("session"), preferences ("prefs"), cached lookups
//   entries  log entries kept on the phone first, keyed by their client UUID (see sync.js for states)
// Used by the pages and by the service worker alike (both may run at once; writes are transactions).

import { openDB } from '../vendor/idb/index.js';

const NAME = 'hep';
const VERSION = 1;
let opening = null;

function db() {
  opening ??= openDB(NAME, VERSION, {
    upgrade(database) {
      database.createObjectStore('kv');
      const entries = database.createObjectStore('entries', { keyPath: 'id' });
      entries.createIndex('patient', 'patient_id');
    },
    blocking() {
      // A newer version of the app wants to upgrade the database: let it.
      opening?.then((d) => d.close());
      opening = null;
    },
  });
  return opening;
}

// Entries are health records the patient typed in: ask for a durable write before saying "saved".
const STRICT = { durability: 'strict' };

// --- key/value --------------------------------------------------------------------------------

export async function getValue(key) {
  return (await db()).get('kv', key);
}

export async function setValue(key, value) {
  const tx = (await db()).transaction('kv', 'readwrite', STRICT);
  await Promise.all([tx.store.put(value, key), tx.done]);
}

export async function deleteValue(key) {
  const tx = (await db()).transaction('kv', 'readwrite', STRICT);
  await Promise.all([tx.store.delete(key), tx.done]);
}

// --- the sign-in ------------------------------------------------------------------------------
// { access_token, refresh_token, expires_at (ms), patient_id, name, clinic, language, timezone }

export const getSession = () => getValue('session');
export const setSession = (session) => setValue('session', session);
export const clearSession = () => deleteValue('session');

/** Change the stored sign-in in one transaction (for token rotation: read, compare, write). */
export async function updateSession(change) {
  const tx = (await db()).transaction('kv', 'readwrite', STRICT);
  const next = change(await tx.store.get('session'));
  if (next !== undefined) await tx.store.put(next, 'session');
  await tx.done;
  return next;
}

// --- preferences (this device only): language, sound, vibration --------------------------------

export async function getPrefs() {
  return { sound: true, vibration: true, language: null, ...((await getValue('prefs')) || {}) };
}

export async function setPref(key, value) {
  const prefs = await getPrefs();
  prefs[key] = value;
  await setValue('prefs', prefs);
  return prefs;
}

// --- log entries ------------------------------------------------------------------------------

export async function putEntry(entry) {
  const tx = (await db()).transaction('entries', 'readwrite', STRICT);
  await Promise.all([tx.store.put(entry), tx.done]);
  return entry;
}

export async function getEntry(id) {
  return (await db()).get('entries', id);
}

/** Change one entry in a single transaction; `change` returns the new entry, or null to delete it. */
export async function updateEntry(id, change) {
  const tx = (await db()).transaction('entries', 'readwrite', STRICT);
  const current = await tx.store.get(id);
  const next = current === undefined ? undefined : change(current);
  if (next === null) await tx.store.delete(id);
  else if (next !== undefined) await tx.store.put(next);
  await tx.done;
  return next;
}

export async function deleteEntry(id) {
  const tx = (await db()).transaction('entries', 'readwrite', STRICT);
  await Promise.all([tx.store.delete(id), tx.done]);
}

export async function listEntries(patientId) {
  return (await db()).getAllFromIndex('entries', 'patient', patientId);
}

/** Forget everything on this device (sign-out). */
export async function clearAll() {
  const database = await db();
  const tx = database.transaction(['kv', 'entries'], 'readwrite', STRICT);
  await Promise.all([tx.objectStore('kv').clear(), tx.objectStore('entries').clear(), tx.done]);
}

/** Ask the browser not to evict our data under storage pressure (entries may wait days to sync). */
export async function askForPersistence() {
  try {
    if (navigator.storage?.persist && !(await navigator.storage.persisted())) await navigator.storage.persist();
  } catch {
    // Not offered here: IndexedDB still works, best effort.
  }
}
