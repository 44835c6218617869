// Log entries on the device: what the patient saves is written here first (with its client UUID),
// and sync.js sends it. An entry's life:
//
//   pending  saved on the phone; `sent` says whether a create was ever attempted (its body is then
//            frozen in `created`, because the server may already have it: an answer can be lost)
//   stored   the server answered created or duplicate; later edits wait in `changes` (a PATCH) and
//            a delete in `deleting` (a DELETE), each with its own Idempotency-Key
//   conflict the server has a different entry with this id (never overwritten)
//   rejected the server refused it, with the reasons (too old, not your routine, ...)

import * as store from './store.js';

export const FIELDS = [
  'performed_at',
  'sets_done',
  'reps_done',
  'hold_seconds_done',
  'pain_before',
  'pain_after',
  'difficulty',
  'note',
];

/** Now as the API wants it: local time with the device's UTC offset, e.g. 2026-11-23T07:30:00+13:00. */
export function localTimestamp(date = new Date()) {
  const pad = (n) => String(Math.trunc(Math.abs(n))).padStart(2, '0');
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? '+' : '-';
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}` +
    `${sign}${pad(offset / 60)}:${pad(offset % 60)}`
  );
}

/** The calendar day an entry counts for: its date at the offset it was logged with. */
export const localDay = (entry) => entry.fields.performed_at.slice(0, 10);

/** The body the batch endpoint takes for creating this entry. */
export const createBody = (entry) => ({ id: entry.id, routine_item_id: entry.item.routine_item_id, ...entry.fields });

function only(fields) {
  const out = {};
  for (const key of FIELDS) if (key in fields) out[key] = fields[key];
  return out;
}

function changed(from, to) {
  const out = {};
  for (const key of FIELDS) if (key in to && to[key] !== from?.[key]) out[key] = to[key];
  return out;
}

/** Save a new entry on the phone. `item` describes what was prescribed (shown while offline). */
export async function add(session, item, fields) {
  const entry = {
    id: crypto.randomUUID(),
    patient_id: session.patient_id,
    item,
    fields: only(fields),
    state: 'pending',
    sent: false,
    created: null,
    result: null,
    changes: null,
    changes_key: null,
    deleting: false,
    delete_key: null,
    saved_at: Date.now(),
    synced_at: null,
  };
  await store.putEntry(entry);
  store.askForPersistence();
  return entry;
}

/** Change an entry's content, in the way its state allows. */
export function edit(id, fields) {
  return store.updateEntry(id, (entry) => {
    const next = { ...entry, fields: { ...entry.fields, ...only(fields) }, saved_at: Date.now() };
    if (entry.state === 'conflict') {
      // The id is taken on the server by another entry: this content becomes a new entry.
      return { ...next, id: crypto.randomUUID(), state: 'pending', sent: false, created: null, result: null };
    }
    if (!entry.sent || entry.state === 'rejected') {
      return { ...next, state: 'pending', sent: false, created: null, result: null };
    }
    // The server has it (or may have it): send the difference as a correction after the create.
    const base = entry.server || entry.created || {};
    const changes = changed(base, next.fields);
    return { ...next, changes: Object.keys(changes).length ? changes : null, changes_key: crypto.randomUUID() };
  });
}

/** Delete an entry: at once when the server cannot have it, otherwise with a DELETE when online. */
export async function remove(id) {
  await store.updateEntry(id, (entry) => {
    if (!entry.sent || entry.state === 'rejected' || entry.state === 'conflict') return null;
    return { ...entry, deleting: true, delete_key: crypto.randomUUID() };
  });
}

/** Keep a server entry on the phone so it can be edited or deleted (from the list of recent logs). */
export async function adopt(session, log, item) {
  const existing = await store.getEntry(log.id);
  if (existing) return existing;
  const fields = only(log);
  const entry = {
    id: log.id,
    patient_id: session.patient_id,
    item,
    fields,
    server: fields,
    state: 'stored',
    sent: true,
    created: null,
    result: { status: 'duplicate', reasons: [], at: Date.now() },
    changes: null,
    changes_key: null,
    deleting: false,
    delete_key: null,
    saved_at: Date.now(),
    synced_at: Date.now(),
  };
  await store.putEntry(entry);
  return entry;
}

/** What still has to reach the server. */
export const waiting = (entry) => entry.state === 'pending' || Boolean(entry.changes) || entry.deleting;

export const list = (patientId) => store.listEntries(patientId);
