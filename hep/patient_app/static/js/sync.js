// Sending the entries kept on the phone: creates with the batch endpoint, then corrections and deletes.
// Runs in the pages (after each save, on `online`, when the app opens) and in the service worker
// (Background Sync). A Web Lock makes it run once at a time across all of them.
//
// Why an entry is never stored twice: its UUID is made once on the phone, and a create that was
// attempted is frozen (`created`); a resend after a lost answer is the same entry, which the batch
// endpoint answers `duplicate`.

import * as api from './api.js';
import * as store from './store.js';
import { createBody, FIELDS, waiting } from './entries.js';

const BATCH = 100;
const KEEP_DAYS = 16; // entries the server has are kept on the phone this long (the API accepts 14 days)
const channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel('hep') : null;

function reasonsOf(invalidParams = []) {
  return invalidParams.map((p) => ({ field: String(p.name).split('.').pop(), reason: p.reason }));
}

function storedFields(body) {
  const out = {};
  for (const key of FIELDS) if (key in body) out[key] = body[key];
  return out;
}

async function createPending(patientId, pending) {
  for (let start = 0; start < pending.length; start += BATCH) {
    const chunk = pending.slice(start, start + BATCH);
    // Freeze each body before it leaves: if the answer is lost, exactly this is sent again.
    const bodies = [];
    for (const entry of chunk) {
      const frozen = entry.sent && entry.created ? entry.created : createBody(entry);
      await store.updateEntry(entry.id, (e) => ({ ...e, sent: true, created: frozen }));
      bodies.push(frozen);
    }
    const answer = await api.syncBatch(patientId, bodies);
    for (const result of answer.results) {
      const body = bodies[result.index];
      const at = Date.now();
      await store.updateEntry(body.id, (e) => {
        const outcome = { status: result.status, reasons: reasonsOf(result.invalid_params), at };
        if (result.status === 'created' || result.status === 'duplicate') {
          return { ...e, state: 'stored', server: storedFields(body), result: outcome, synced_at: at };
        }
        if (e.deleting) return null; // refused, and the patient wants it gone anyway
        return { ...e, state: result.status, result: outcome, synced_at: at };
      });
    }
  }
}

async function correct(patientId, entry) {
  try {
    await api.correctLog(patientId, entry.id, entry.changes, entry.changes_key);
  } catch (error) {
    if (!(error instanceof api.ApiError) || error instanceof api.SignedOut || error.status >= 500) throw error;
    const reasons = reasonsOf(error.problem.invalid_params);
    await store.updateEntry(entry.id, (e) => ({
      ...e,
      changes: null,
      fields: { ...e.fields, ...(e.server || {}) },
      result: { status: 'rejected', reasons: reasons.length ? reasons : [{ field: '', reason: error.message }], at: Date.now() },
    }));
    return;
  }
  const sentKey = entry.changes_key;
  await store.updateEntry(entry.id, (e) => ({
    ...e,
    server: { ...(e.server || {}), ...entry.changes },
    // Edits made while the PATCH was on its way have a new key and stay for the next round.
    changes: e.changes_key === sentKey ? null : e.changes,
    result: { status: 'corrected', reasons: [], at: Date.now() },
    synced_at: Date.now(),
  }));
}

async function destroy(patientId, entry) {
  try {
    await api.deleteLog(patientId, entry.id, entry.delete_key);
  } catch (error) {
    if (!(error instanceof api.ApiError) || error instanceof api.SignedOut || error.status >= 500) throw error;
    if (error.status !== 404) throw error;
    // 404: the server does not have it (it was deleted elsewhere): nothing left to delete.
  }
  await store.deleteEntry(entry.id);
}

async function prune(entries) {
  const cutoff = Date.now() - KEEP_DAYS * 86_400_000;
  for (const entry of entries) {
    if (entry.state === 'stored' && !waiting(entry) && entry.saved_at < cutoff) await store.deleteEntry(entry.id);
  }
}

async function run() {
  const session = await store.getSession();
  if (!session?.refresh_token) return { waiting: 0, signedOut: Boolean(session) };
  const patientId = session.patient_id;
  let entries = await store.listEntries(patientId);
  // Creates first (also of entries being deleted whose create may have reached the server: a DELETE
  // only then leaves a tombstone that stops a late copy of the create from bringing it back).
  const pending = entries.filter((e) => e.state === 'pending');
  if (pending.length) await createPending(patientId, pending);
  entries = await store.listEntries(patientId);
  for (const entry of entries.filter((e) => e.state === 'stored' && e.deleting)) await destroy(patientId, entry);
  for (const entry of entries.filter((e) => e.state === 'stored' && !e.deleting && e.changes)) {
    await correct(patientId, entry);
  }
  entries = await store.listEntries(patientId);
  await prune(entries);
  return { waiting: entries.filter(waiting).length, signedOut: false };
}

/**
 * Send what waits on this device. Resolves with { waiting, signedOut, offline }; rejects only in the
 * service worker's Background Sync (so the browser tries again later) when `rethrow` is set.
 */
export async function syncNow({ rethrow = false } = {}) {
  let summary;
  try {
    summary = await (navigator.locks ? navigator.locks.request('hep-sync', run) : run());
    summary.offline = false;
  } catch (error) {
    if (rethrow) {
      channel?.postMessage({ type: 'synced' });
      throw error;
    }
    summary = { offline: error instanceof api.Offline, signedOut: error instanceof api.SignedOut, error: String(error) };
  }
  channel?.postMessage({ type: 'synced' });
  return summary;
}

/** Ask the service worker to sync when the connection is back, even if the app is closed by then. */
export async function scheduleBackgroundSync() {
  try {
    const registration = await navigator.serviceWorker?.ready;
    await registration?.sync?.register('hep-sync');
  } catch {
    // No Background Sync here (Firefox, Safari): the app syncs when it opens or comes online.
  }
}
