// Small DOM helpers shared by the screens. Text always goes in as text (never innerHTML), so nothing
// a server or a patient typed can become markup.

import { language, plural, t } from './i18n.js';

/** h('p', {class: 'x', onclick: fn}, 'text', child): an element with attributes, handlers and children. */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') element.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(element.dataset, value);
    else if (value === true) element.setAttribute(key, '');
    else element.setAttribute(key, String(value));
  }
  append(element, children);
  return element;
}

function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace an element's children. */
export function fill(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

const SVG = 'http://www.w3.org/2000/svg';
export function svg(tag, attrs = {}, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) if (value !== undefined && value !== null) element.setAttribute(key, value);
  for (const child of children.flat()) if (child) element.append(child instanceof Node ? child : document.createTextNode(child));
  return element;
}

/** Say something to screen-reader users (the page's polite live region). */
export function announce(text) {
  const live = document.getElementById('live');
  if (!live) return;
  live.textContent = '';
  // A fresh text node in a later task is announced even when the words repeat.
  setTimeout(() => {
    live.textContent = text;
  }, 50);
}

/** The screen's heading, focused after navigation so screen readers start there. */
export function heading(text) {
  return h('h1', { tabindex: '-1', id: 'screen-title' }, text);
}

// --- formatting ---------------------------------------------------------------------------------

export function formatDay(isoDate, options = { weekday: 'long', day: 'numeric', month: 'long' }) {
  const [y, m, d] = isoDate.split('-').map(Number);
  return new Intl.DateTimeFormat(language(), { ...options, timeZone: 'UTC' }).format(new Date(Date.UTC(y, m - 1, d)));
}

export function formatWhen(iso, timeZone) {
  return new Intl.DateTimeFormat(language(), {
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    hour: 'numeric',
    minute: '2-digit',
    timeZone: timeZone || undefined,
  }).format(new Date(iso));
}

export function formatTime(iso) {
  return new Intl.DateTimeFormat(language(), { hour: 'numeric', minute: '2-digit' }).format(new Date(iso));
}

export const percent = (share) =>
  share === null || share === undefined
    ? t('progress.nothing_due')
    : new Intl.NumberFormat(language(), { style: 'percent', maximumFractionDigits: 0 }).format(share);

/** "3 sets × 10 reps · hold 5 s · left side · red band" */
export function dosage(item) {
  const parts = [plural('dosage.sets', item.sets)];
  if (item.reps) parts[0] = t('dosage.sets_reps', { sets: item.sets, reps: item.reps });
  if (item.hold_seconds) parts.push(t('dosage.hold', { seconds: item.hold_seconds }));
  if (item.side === 'left' || item.side === 'right') parts.push(t(`side.${item.side}`));
  if (item.load) parts.push(item.load);
  return parts.join(' · ');
}

// --- controls -----------------------------------------------------------------------------------

/** A 0-10 scale as radio buttons (each a 44 px target); none chosen means "not answered". */
export function scale(name, legend, value, { low, high } = {}) {
  const options = [];
  for (let n = 0; n <= 10; n += 1) {
    const id = `${name}-${n}`;
    options.push(
      h(
        'span',
        { class: 'score' },
        h('input', { type: 'radio', name, id, value: String(n), checked: value === n }),
        h('label', { for: id }, String(n)),
      ),
    );
  }
  return h(
    'fieldset',
    { class: 'scale', id: `${name}-field` },
    h('legend', {}, legend),
    h('div', { class: 'scores' }, options),
    low || high ? h('p', { class: 'ends', 'aria-hidden': 'true' }, h('span', {}, low), h('span', {}, high)) : null,
    h('p', { class: 'error', id: `${name}-error`, hidden: true }),
  );
}

/** A whole number with − and + buttons (big targets) around a number input. */
export function stepper(name, label, value, { min = 0, max = 100 } = {}) {
  const input = h('input', {
    type: 'number',
    inputmode: 'numeric',
    id: name,
    name,
    min,
    max,
    value: value ?? '',
    'aria-describedby': `${name}-error`,
  });
  const step = (delta) => () => {
    const next = Math.min(max, Math.max(min, (Number(input.value) || 0) + delta));
    input.value = String(next);
    input.dispatchEvent(new Event('input', { bubbles: true }));
  };
  return h(
    'div',
    { class: 'field stepper', id: `${name}-field` },
    h('label', { for: name }, label),
    h(
      'div',
      { class: 'row' },
      h('button', { type: 'button', class: 'step', 'aria-label': t('log.less', { what: label }), onclick: step(-1) }, '−'),
      input,
      h('button', { type: 'button', class: 'step', 'aria-label': t('log.more', { what: label }), onclick: step(1) }, '+'),
    ),
    h('p', { class: 'error', id: `${name}-error`, hidden: true }),
  );
}

/** Show the API's reasons next to their fields (by name), and return the ones with no field here. */
export function showErrors(form, reasons) {
  const rest = [];
  for (const element of form.querySelectorAll('.error')) {
    element.hidden = true;
    element.textContent = '';
  }
  for (const [name, reason] of Object.entries(reasons)) {
    const short = name.split('.').pop();
    const target = form.querySelector(`#${CSS.escape(short)}-error`);
    if (target) {
      target.textContent = reason;
      target.hidden = false;
    } else rest.push(`${short}: ${reason}`);
  }
  return rest;
}

/** A status line for an entry kept on the phone (waiting, saved, conflict, rejected with why). */
export function entryStatus(entry) {
  if (entry.deleting) return { tone: 'wait', text: t('status.deleting') };
  if (entry.state === 'pending') return { tone: 'wait', text: t(entry.sent ? 'status.sending' : 'status.waiting') };
  if (entry.changes) return { tone: 'wait', text: t('status.correction_waiting') };
  const reasons = (entry.result?.reasons || []).map((r) => (r.field ? `${t(`field.${r.field}`)}: ${r.reason}` : r.reason));
  switch (entry.result?.status) {
    case 'created':
      return { tone: 'ok', text: t('status.created') };
    case 'duplicate':
      return { tone: 'ok', text: t('status.duplicate') };
    case 'corrected':
      return { tone: 'ok', text: t('status.corrected') };
    case 'conflict':
      return { tone: 'bad', text: t('status.conflict') };
    case 'rejected':
      return { tone: 'bad', text: t('status.rejected', { reasons: reasons.join('; ') }) };
    default:
      return { tone: 'ok', text: t('status.duplicate') };
  }
}
