// Today: the patient's local day, each item due with its dosage and how much is done, what is left,
// and the next needling session. Entries saved on the phone count at once, before they are synced.

import * as api from '../api.js';
import * as entries from '../entries.js';
import { plural, t } from '../i18n.js';
import { dosage, fill, formatDay, formatWhen, h, heading } from '../ui.js';

/** Occurrences done per item: the server's count, plus entries on the phone it had not seen yet. */
function doneCounts(plan, fetchedAt, local) {
  const done = new Map(plan.items.map((item) => [item.item_id, item.done_today]));
  for (const entry of local) {
    if (entry.deleting || entry.state === 'rejected' || entry.state === 'conflict') continue;
    if (entries.localDay(entry) !== plan.date) continue;
    const unseen = entry.state === 'pending' || (entry.synced_at || 0) > fetchedAt.getTime();
    if (!unseen || !done.has(entry.item.routine_item_id)) continue;
    const item = plan.items.find((i) => i.item_id === entry.item.routine_item_id);
    done.set(item.item_id, done.get(item.item_id) + Math.min(1, (entry.fields.sets_done || 0) / item.sets));
  }
  for (const item of plan.items) done.set(item.item_id, Math.min(item.times_due, done.get(item.item_id)));
  return done;
}

function itemCard(item, done) {
  const finished = done >= item.times_due;
  const doneText = t('today.done_of', {
    done: Number.isInteger(done) ? done : done.toFixed(1),
    due: item.times_due,
  });
  return h(
    'li',
    { class: `card item${finished ? ' done' : ''}` },
    h('h3', {}, h('a', { href: `/app/exercise/${item.item_id}`, 'data-link': true }, item.exercise.name)),
    h('p', { class: 'dosage' }, dosage(item)),
    item.notes ? h('p', { class: 'note' }, item.notes) : null,
    h(
      'p',
      { class: 'progress-line' },
      h('span', { class: `badge ${finished ? 'ok' : 'wait'}` }, finished ? t('today.finished') : t('today.to_do')),
      ' ',
      doneText,
    ),
    h(
      'div',
      { class: 'actions' },
      h('a', { class: 'button primary', href: `/app/exercise/${item.item_id}`, 'data-link': true }, t('today.start'), h('span', { class: 'sr-only' }, ` ${item.exercise.name}`)),
      h('a', { class: 'button', href: `/app/log?item=${item.item_id}`, 'data-link': true }, t('today.log'), h('span', { class: 'sr-only' }, ` ${item.exercise.name}`)),
    ),
  );
}

export async function render({ root, session }) {
  fill(root, heading(t('today.title')), h('p', { class: 'loading' }, t('loading')));
  const answer = await api.today(session.patient_id);
  const plan = answer.data;
  // Listen before reading the phone's entries: a sync that ends after this read updates the waiting
  // count (once the screen is drawn); one that ended before it is already in what is read.
  const channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel('hep') : null;
  let counts = 0;
  let drawn = false;
  let missed = false;
  async function recount() {
    if (!drawn) {
      missed = true;
      return;
    }
    // Only the last count started may show: an older read must not paint over a fresher one.
    const ticket = ++counts;
    const now = await entries.list(session.patient_id);
    if (ticket !== counts) return;
    const note = root.querySelector('#waiting');
    const count = now.filter(entries.waiting).length;
    if (note && count === 0) note.remove();
    else if (note) note.textContent = plural('today.waiting', count);
  }
  channel?.addEventListener('message', (event) => {
    if (event.data?.type === 'synced') recount();
  });
  const local = await entries.list(session.patient_id);
  const done = doneCounts(plan, answer.date, local);
  const left = plan.items.filter((item) => done.get(item.item_id) < item.times_due);
  const waiting = local.filter(entries.waiting).length;
  const deviceDay = entries.localTimestamp().slice(0, 10);

  const summary = plan.items.length
    ? left.length
      ? plural('today.left', left.length)
      : t('today.all_done')
    : t('today.nothing_due');
  fill(
    root,
    heading(t('today.title')),
    h('p', { class: 'date' }, formatDay(plan.date)),
    answer.offline
      ? h('p', { class: 'notice' }, plan.date === deviceDay ? t('today.offline') : t('today.offline_old', { day: formatDay(plan.date) }))
      : null,
    waiting ? h('p', { class: 'notice', id: 'waiting' }, plural('today.waiting', waiting)) : null,
    h('p', { class: 'summary', id: 'summary' }, summary),
    plan.items.length ? h('ul', { class: 'cards', 'aria-label': t('today.items') }, plan.items.map((item) => itemCard(item, done.get(item.item_id)))) : null,
    left.length && left.length < plan.items.length
      ? h('section', { 'aria-labelledby': 'left-title' }, h('h2', { id: 'left-title' }, t('today.left_title')), h('ul', { class: 'plain' }, left.map((item) => h('li', {}, item.exercise.name))))
      : null,
    h(
      'section',
      { class: 'card session', 'aria-labelledby': 'next-title' },
      h('h2', { id: 'next-title' }, t('today.next_session')),
      plan.next_session
        ? h('p', {}, formatWhen(plan.next_session.starts_at, plan.timezone), ' · ', plural('minutes', plan.next_session.duration_minutes))
        : h('p', {}, t('today.no_session')),
    ),
  );
  // Keep the routine (instructions, figures) on the phone for the exercise screens, even offline later.
  api.routine(session.patient_id).catch(() => undefined);
  drawn = true;
  if (missed) recount();
  return () => channel?.close();
}
