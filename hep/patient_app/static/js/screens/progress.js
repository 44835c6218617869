// Progress: the streak, this week's adherence, pain before and after exercise over four weeks with
// needling sessions marked, upcoming sessions, and the calendar link.

import * as api from '../api.js';
import { plural, t } from '../i18n.js';
import { fill, formatDay, formatWhen, h, heading, percent, svg } from '../ui.js';

const W = 320;
const H = 180;
const PAD = { left: 28, right: 8, top: 10, bottom: 24 };

/** The calendar day of a moment in the patient's time zone (YYYY-MM-DD). */
const dayIn = (iso, timeZone) => new Intl.DateTimeFormat('en-CA', { timeZone }).format(new Date(iso));

function painChart(days, sessions, timeZone) {
  const x = (i) => PAD.left + (i * (W - PAD.left - PAD.right)) / Math.max(1, days.length - 1);
  const y = (v) => PAD.top + ((10 - v) * (H - PAD.top - PAD.bottom)) / 10;
  const line = (key) => {
    const segments = [];
    let current = [];
    days.forEach((day, i) => {
      if (day[key] === null) {
        if (current.length) segments.push(current);
        current = [];
      } else current.push(`${x(i).toFixed(1)},${y(day[key]).toFixed(1)}`);
    });
    if (current.length) segments.push(current);
    return segments.map((points) => svg('polyline', { points: points.join(' '), class: `line ${key}` }));
  };
  const marks = (key, shape) =>
    days.flatMap((day, i) => {
      if (day[key] === null) return [];
      return shape === 'circle'
        ? [svg('circle', { cx: x(i), cy: y(day[key]), r: 3.5, class: `mark ${key}` })]
        : [svg('rect', { x: x(i) - 3.5, y: y(day[key]) - 3.5, width: 7, height: 7, class: `mark ${key}` })];
    });
  const first = days[0]?.date;
  const index = (iso) => days.findIndex((d) => d.date === iso);
  const needling = sessions
    .map((s) => ({ s, i: index(dayIn(s.starts_at, timeZone)) }))
    .filter(({ i }) => i >= 0)
    .map(({ i }) => svg('line', { x1: x(i), x2: x(i), y1: PAD.top, y2: H - PAD.bottom, class: 'needling' }));
  const grid = [0, 5, 10].map((v) =>
    svg('g', {}, svg('line', { x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v), class: 'grid' }), svg('text', { x: 4, y: y(v) + 4, class: 'axis' }, String(v))),
  );
  const logged = days.filter((d) => d.pain_before !== null || d.pain_after !== null);
  const desc = logged.length
    ? t('progress.chart_desc', { days: logged.length, sessions: needling.length })
    : t('progress.chart_empty');
  return svg(
    'svg',
    { viewBox: `0 0 ${W} ${H}`, class: 'chart pain', role: 'img', 'aria-labelledby': 'pain-chart-title pain-chart-desc' },
    svg('title', { id: 'pain-chart-title' }, t('progress.pain_title')),
    svg('desc', { id: 'pain-chart-desc' }, desc),
    grid,
    needling,
    line('pain_before'),
    line('pain_after'),
    marks('pain_before', 'circle'),
    marks('pain_after', 'square'),
    first ? svg('text', { x: PAD.left, y: H - 6, class: 'axis' }, formatDay(first, { day: 'numeric', month: 'short' })) : null,
    days.length ? svg('text', { x: W - PAD.right, y: H - 6, class: 'axis end' }, formatDay(days[days.length - 1].date, { day: 'numeric', month: 'short' })) : null,
  );
}

function painTable(days) {
  const rows = days.filter((d) => d.pain_before !== null || d.pain_after !== null);
  if (!rows.length) return null;
  return h(
    'details',
    {},
    h('summary', {}, t('progress.pain_numbers')),
    h(
      'table',
      {},
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('progress.day')), h('th', { scope: 'col' }, t('progress.before')), h('th', { scope: 'col' }, t('progress.after')))),
      h('tbody', {}, rows.map((d) => h('tr', {}, h('th', { scope: 'row' }, formatDay(d.date, { weekday: 'short', day: 'numeric', month: 'short' })), h('td', {}, d.pain_before ?? '–'), h('td', {}, d.pain_after ?? '–')))),
    ),
  );
}

export async function render({ root, session }) {
  fill(root, heading(t('progress.title')), h('p', { class: 'loading' }, t('loading')));
  const [view, sessionPage] = await Promise.all([api.adherence(session.patient_id, 28), api.sessions(session.patient_id)]);
  const all = sessionPage.items;
  const now = Date.now();
  const upcoming = all.filter((s) => s.status === 'scheduled' && new Date(s.starts_at).getTime() > now);
  const past = all.filter((s) => s.status === 'completed');
  const feed = h('div', { id: 'calendar' });
  const getLink = h('button', { type: 'button', id: 'calendar-link' }, t('progress.calendar_get'));
  getLink.addEventListener('click', async () => {
    getLink.disabled = true;
    try {
      const { url } = await api.calendarFeed(session.patient_id);
      const webcal = url.replace(/^https?:/, 'webcal:');
      fill(
        feed,
        h('p', {}, t('progress.calendar_ready')),
        h('p', {}, h('a', { class: 'button', href: webcal }, t('progress.calendar_open'))),
        h('label', { for: 'calendar-url' }, t('progress.calendar_copy')),
        h('input', { id: 'calendar-url', readonly: true, value: url }),
      );
    } catch (error) {
      getLink.disabled = false;
      fill(feed, h('p', { class: 'error' }, error instanceof api.Offline ? t('net.needed') : t('error.body')));
    }
  });
  fill(
    root,
    heading(t('progress.title')),
    h(
      'div',
      { class: 'stats' },
      h('p', { class: 'stat card', id: 'streak' }, h('strong', {}, String(view.streak)), ' ', plural('progress.streak', view.streak)),
      h('p', { class: 'stat card', id: 'week' }, h('strong', {}, percent(view.adherence_this_week)), ' ', t('progress.this_week')),
    ),
    view.adherence_last_week !== null ? h('p', { class: 'muted' }, t('progress.last_week', { share: percent(view.adherence_last_week) })) : null,
    h(
      'section',
      { 'aria-labelledby': 'pain-title' },
      h('h2', { id: 'pain-title' }, t('progress.pain_title')),
      painChart(view.days, past, session.timezone),
      h(
        'ul',
        { class: 'legend', 'aria-label': t('progress.legend') },
        h('li', {}, h('span', { class: 'key before', 'aria-hidden': 'true' }), t('progress.before')),
        h('li', {}, h('span', { class: 'key after', 'aria-hidden': 'true' }), t('progress.after')),
        h('li', {}, h('span', { class: 'key needling', 'aria-hidden': 'true' }), t('progress.needling')),
      ),
      painTable(view.days),
    ),
    h(
      'section',
      { 'aria-labelledby': 'sessions-title' },
      h('h2', { id: 'sessions-title' }, t('progress.upcoming')),
      upcoming.length
        ? h('ul', { class: 'plain', id: 'upcoming' }, upcoming.map((s) => h('li', {}, formatWhen(s.starts_at, session.timezone), ' · ', plural('minutes', s.duration_minutes))))
        : h('p', {}, t('today.no_session')),
      h('p', { class: 'muted' }, t('progress.calendar_intro')),
      getLink,
      feed,
    ),
  );
}
