// Log: sets, reps and holds done (filled in from the guided mode), pain before and after (0-10),
// difficulty and a note. Saved on the phone first, then synced; each entry shows what the server said.
// Recent entries can be corrected or deleted.

import * as api from '../api.js';
import * as entries from '../entries.js';
import { scheduleBackgroundSync, syncNow } from '../sync.js';
import { plural, t } from '../i18n.js';
import { announce, entryStatus, fill, formatWhen, h, heading, scale, showErrors, stepper } from '../ui.js';

const DAYS_BACK = 14;

function itemInfo(item) {
  return {
    routine_item_id: item.id,
    exercise_name: item.exercise_name,
    exercise_slug: item.exercise,
    side: item.side,
    sets: item.sets,
    reps: item.reps,
    hold_seconds: item.hold_seconds,
  };
}

async function routineItems(patientId) {
  try {
    const { data } = await api.routine(patientId);
    return data.routines.flatMap((r) => r.items.map(itemInfo));
  } catch (error) {
    if (error instanceof api.Offline) return [];
    throw error;
  }
}

const toLocalInput = (iso) => iso.slice(0, 16);
const nowInput = () => entries.localTimestamp().slice(0, 16);
const numberOrNull = (value) => (value === '' || value === null || value === undefined ? null : Number(value));

function checked(form, name) {
  const input = form.querySelector(`input[name="${name}"]:checked`);
  return input ? Number(input.value) : null;
}

function describe(entry) {
  const f = entry.fields;
  const parts = [plural('dosage.sets', f.sets_done)];
  if (f.reps_done !== null && f.reps_done !== undefined) parts.push(plural('log.reps_count', f.reps_done));
  if (f.hold_seconds_done) parts.push(t('dosage.hold', { seconds: f.hold_seconds_done }));
  if (f.pain_before !== null || f.pain_after !== null) {
    parts.push(t('log.pain_summary', { before: f.pain_before ?? '–', after: f.pain_after ?? '–' }));
  }
  return parts.join(' · ');
}

export async function render({ root, session, query, navigate }) {
  fill(root, heading(t('log.title')), h('p', { class: 'loading' }, t('loading')));
  const items = await routineItems(session.patient_id);
  const known = new Map(items.map((i) => [i.routine_item_id, i]));
  let editing = null; // the entry being corrected, or null for a new one
  const chosen = numberOrNull(query.get('item'));

  const form = h('form', { novalidate: true, id: 'log-form' });
  const status = h('p', { class: 'form-status', id: 'log-status', role: 'status' });
  const listing = h('ul', { class: 'cards entries', id: 'entries', 'aria-label': t('log.recent') });
  const dialog = h('dialog', { class: 'confirm', 'aria-labelledby': 'confirm-title' });

  function drawForm(entry, preset = {}) {
    const current = entry?.item || known.get(preset.item) || items[0];
    const f = entry?.fields || {};
    const select = h(
      'select',
      { id: 'routine_item_id', name: 'routine_item_id', disabled: Boolean(entry), 'aria-describedby': 'routine_item_id-error' },
      (entry ? [entry.item] : items).map((i) => h('option', { value: String(i.routine_item_id), selected: i.routine_item_id === current?.routine_item_id }, i.exercise_name)),
    );
    const reps = current?.reps ? stepper('reps_done', t('log.reps_done'), f.reps_done ?? preset.reps ?? current.reps, { max: 200 }) : null;
    const hold = current?.hold_seconds
      ? stepper('hold_seconds_done', t('log.hold_done'), f.hold_seconds_done ?? preset.hold ?? current.hold_seconds, { max: 600 })
      : null;
    fill(
      form,
      h('h2', { id: 'form-title' }, entry ? t('log.edit_title') : t('log.new_title')),
      h('div', { class: 'field', id: 'routine_item_id-field' }, h('label', { for: 'routine_item_id' }, t('log.exercise')), select, h('p', { class: 'error', id: 'routine_item_id-error', hidden: true })),
      h('div', { class: 'field', id: 'performed_at-field' }, h('label', { for: 'performed_at' }, t('log.when')), h('input', { type: 'datetime-local', id: 'performed_at', name: 'performed_at', value: f.performed_at ? toLocalInput(f.performed_at) : nowInput(), max: nowInput(), required: true, 'aria-describedby': 'performed_at-error' }), h('p', { class: 'error', id: 'performed_at-error', hidden: true })),
      stepper('sets_done', t('log.sets_done'), f.sets_done ?? preset.sets ?? current?.sets ?? 1, { max: 20 }),
      reps,
      hold,
      scale('pain_before', t('log.pain_before'), f.pain_before ?? null, { low: t('log.no_pain'), high: t('log.worst_pain') }),
      scale('pain_after', t('log.pain_after'), f.pain_after ?? null, { low: t('log.no_pain'), high: t('log.worst_pain') }),
      scale('difficulty', t('log.difficulty'), f.difficulty ?? null, { low: t('log.easy'), high: t('log.hardest') }),
      h('div', { class: 'field', id: 'note-field' }, h('label', { for: 'note' }, t('log.note')), h('textarea', { id: 'note', name: 'note', rows: 3, maxlength: 1000, 'aria-describedby': 'note-error' }, f.note || ''), h('p', { class: 'error', id: 'note-error', hidden: true })),
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', id: 'log-save' }, entry ? t('log.save_changes') : t('log.save')), entry ? h('button', { type: 'button', id: 'log-cancel', onclick: () => startNew() }, t('log.cancel')) : null),
    );
    select.addEventListener('change', () => {
      const values = readForm();
      drawForm(null, { item: Number(select.value), sets: values.sets_done });
    });
  }

  function readForm() {
    const value = (name) => form.querySelector(`[name="${name}"]`)?.value;
    const when = value('performed_at');
    return {
      routine_item_id: Number(value('routine_item_id')),
      performed_at: when ? entries.localTimestamp(new Date(when)) : entries.localTimestamp(),
      sets_done: numberOrNull(value('sets_done')) ?? 0,
      reps_done: form.querySelector('[name="reps_done"]') ? numberOrNull(value('reps_done')) : null,
      hold_seconds_done: form.querySelector('[name="hold_seconds_done"]') ? numberOrNull(value('hold_seconds_done')) : null,
      pain_before: checked(form, 'pain_before'),
      pain_after: checked(form, 'pain_after'),
      difficulty: checked(form, 'difficulty'),
      note: value('note')?.trim() || null,
    };
  }

  function startNew(preset = {}) {
    editing = null;
    drawForm(null, preset);
  }

  let draws = 0;
  async function drawList() {
    // Draws overlap (a save, a sync's message, the server's slow answer): only the last one started,
    // which read the freshest entries, may fill the list, so an older read never paints over it.
    const ticket = ++draws;
    const local = await entries.list(session.patient_id);
    let server = [];
    try {
      const from = new Date(Date.now() - DAYS_BACK * 86_400_000).toISOString().slice(0, 10);
      server = (await api.recentLogs(session.patient_id, from)).data.items;
    } catch (error) {
      if (!(error instanceof api.Offline) && !(error instanceof api.ApiError)) throw error;
    }
    const mine = new Set(local.map((e) => e.id));
    const rows = [
      ...local.filter((e) => !e.deleting),
      ...server
        .filter((log) => !mine.has(log.id))
        .map((log) => ({
          id: log.id,
          fromServer: log,
          item: known.get(log.routine_item_id) || { routine_item_id: log.routine_item_id, exercise_name: log.prescribed.name || log.prescribed.exercise, sets: log.prescribed.sets, reps: log.prescribed.reps, hold_seconds: log.prescribed.hold_seconds, side: log.prescribed.side },
          fields: log,
          state: 'stored',
          result: { status: 'duplicate', reasons: [] },
        })),
    ].sort((a, b) => new Date(b.fields.performed_at) - new Date(a.fields.performed_at));
    if (ticket !== draws) return;
    fill(
      listing,
      rows.length
        ? rows.map((entry) => {
            const state = entryStatus(entry);
            return h(
              'li',
              { class: 'card entry', dataset: { id: entry.id, state: entry.state, result: entry.result?.status || '' } },
              h('h3', {}, entry.item.exercise_name),
              h('p', { class: 'muted' }, formatWhen(entry.fields.performed_at)),
              h('p', {}, describe(entry)),
              entry.fields.note ? h('p', { class: 'note' }, entry.fields.note) : null,
              h('p', { class: `status ${state.tone}` }, state.text),
              h(
                'div',
                { class: 'actions' },
                h('button', { type: 'button', class: 'edit', onclick: () => edit(entry) }, t('log.edit'), h('span', { class: 'sr-only' }, ` ${entry.item.exercise_name}`)),
                h('button', { type: 'button', class: 'delete', onclick: () => confirmDelete(entry) }, t('log.delete'), h('span', { class: 'sr-only' }, ` ${entry.item.exercise_name}`)),
              ),
            );
          })
        : h('li', { class: 'muted' }, t('log.none')),
    );
  }

  async function edit(row) {
    const entry = row.fromServer ? await entries.adopt(session, row.fromServer, row.item) : row;
    editing = entry;
    drawForm(entry);
    form.querySelector('#form-title').scrollIntoView({ block: 'start' });
    form.querySelector('#performed_at').focus();
  }

  function confirmDelete(row) {
    fill(
      dialog,
      h('h2', { id: 'confirm-title' }, t('log.delete_title')),
      h('p', {}, t('log.delete_body', { name: row.item.exercise_name, when: formatWhen(row.fields.performed_at) })),
      h(
        'form',
        { method: 'dialog', class: 'actions' },
        h('button', { value: 'cancel', id: 'confirm-cancel' }, t('log.cancel')),
        h('button', { value: 'delete', class: 'danger', id: 'confirm-delete' }, t('log.delete')),
      ),
    );
    dialog.onclose = async () => {
      if (dialog.returnValue !== 'delete') return;
      const entry = row.fromServer ? await entries.adopt(session, row.fromServer, row.item) : row;
      await entries.remove(entry.id);
      announce(t('log.deleted'));
      status.textContent = t('log.deleted');
      await drawList();
      await sync();
    };
    dialog.returnValue = '';
    dialog.showModal();
  }

  async function sync() {
    const summary = await syncNow();
    if (summary.offline) await scheduleBackgroundSync();
    await drawList();
    return summary;
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const values = readForm();
    const problems = {};
    if (Number.isNaN(new Date(form.querySelector('#performed_at').value).getTime())) problems.performed_at = t('log.when_invalid');
    if (new Date(values.performed_at) > new Date(Date.now() + 60_000)) problems.performed_at = t('log.when_future');
    if (!(values.sets_done >= 0 && values.sets_done <= 20)) problems.sets_done = t('log.range', { min: 0, max: 20 });
    if (Object.keys(problems).length) {
      showErrors(form, problems);
      form.querySelector('.error:not([hidden])')?.closest('.field')?.querySelector('input, select, textarea')?.focus();
      return;
    }
    showErrors(form, {});
    status.textContent = ''; // the last save's words must not stand for this one
    const { routine_item_id: itemId, ...fields } = values;
    if (editing) {
      await entries.edit(editing.id, fields);
      status.textContent = t('log.changes_saved');
    } else {
      const item = known.get(itemId);
      await entries.add(session, item, fields);
      status.textContent = t('log.saved');
    }
    announce(status.textContent);
    if (location.search) history.replaceState(null, '', '/app/log'); // the guide's numbers are used up
    root.querySelector('.notice.from-guide')?.remove();
    startNew({ item: itemId });
    await drawList();
    const summary = await sync();
    if (summary.offline) status.textContent = `${status.textContent} ${t('log.will_sync')}`;
    else if (summary.signedOut) navigate('/app/sign-in?expired=1', { replace: true });
  });

  // Listen before the first draw reads the phone's entries: a sync that ends after that read (one the
  // app started on `online`, or the service worker's) redraws the list; one that ended before it is seen.
  const channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel('hep') : null;
  channel?.addEventListener('message', (event) => {
    if (event.data?.type === 'synced') drawList();
  });
  const stop = () => channel?.close();

  if (!items.length) {
    fill(root, heading(t('log.title')), h('p', {}, t('log.no_items')), listing);
    await drawList();
    return stop;
  }
  startNew({ item: chosen, sets: numberOrNull(query.get('sets')), reps: numberOrNull(query.get('reps')), hold: numberOrNull(query.get('hold')) });
  fill(root, heading(t('log.title')), query.get('sets') !== null ? h('p', { class: 'notice from-guide' }, t('log.from_guide')) : null, form, status, h('h2', { id: 'recent-title' }, t('log.recent')), listing, dialog);
  await drawList();
  return stop;
}
