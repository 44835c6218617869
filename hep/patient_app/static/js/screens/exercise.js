// One prescribed exercise: its figure (mirrored to the prescribed side; still when the patient prefers
// reduced motion), steps, cues, precautions, and the guided mode with set/rep counters, a hold timer
// with a get-ready countdown, a rest timer, an optional beep and vibration, and the screen kept awake.

import * as api from '../api.js';
import * as store from '../store.js';
import { Guide } from '../guided.js';
import { t } from '../i18n.js';
import { announce, dosage, fill, h, heading } from '../ui.js';

async function findItem(patientId, itemId) {
  const { data, offline } = await api.routine(patientId);
  for (const routine of data.routines) {
    const item = routine.items.find((i) => i.id === itemId);
    if (item) return { item, offline };
  }
  return { item: null, offline };
}

function list(title, items, className) {
  if (!items?.length) return null;
  const id = `${className}-title`;
  return h('section', { class: className, 'aria-labelledby': id }, h('h2', { id }, title), h(className === 'steps' ? 'ol' : 'ul', {}, items.map((text) => h('li', {}, text))));
}

function beeper() {
  let context = null;
  return {
    // Made on the Start tap: browsers allow sound only after a gesture.
    unlock() {
      const Context = window.AudioContext || window.webkitAudioContext;
      if (!context && Context) context = new Context();
    },
    beep(ms = 250, frequency = 880) {
      if (!context) return;
      const oscillator = context.createOscillator();
      const gain = context.createGain();
      oscillator.frequency.value = frequency;
      gain.gain.value = 0.2;
      oscillator.connect(gain).connect(context.destination);
      oscillator.start();
      oscillator.stop(context.currentTime + ms / 1000);
    },
    close() {
      context?.close();
    },
  };
}

function wakeLock() {
  let lock = null;
  let wanted = false;
  const acquire = async () => {
    if (!wanted || lock || !('wakeLock' in navigator) || document.visibilityState !== 'visible') return;
    try {
      lock = await navigator.wakeLock.request('screen');
      lock.addEventListener('release', () => {
        lock = null;
      });
    } catch {
      lock = null; // refused (battery saver): the guide still works
    }
  };
  const onVisible = () => acquire();
  document.addEventListener('visibilitychange', onVisible);
  return {
    hold() {
      wanted = true;
      return acquire();
    },
    release() {
      wanted = false;
      lock?.release();
      lock = null;
    },
    close() {
      this.release();
      document.removeEventListener('visibilitychange', onVisible);
    },
    get held() {
      return Boolean(lock);
    },
  };
}

const PHASE = { ready: 'guided.ready', hold: 'guided.hold', rest: 'guided.rest', reps: 'guided.reps' };

function say(state, event) {
  const { step } = state;
  if (event === 'finished') return t('guided.finished_say');
  if (event === 'pause') return t('guided.paused');
  if (event === 'resume') return t('guided.resumed');
  if (event === 'rep') return t('guided.rep_say', { rep: state.rep, reps: state.reps });
  if (event === 'tick') return state.secondsLeft === 10 && step.seconds > 15 ? t('guided.ten_left') : null;
  if (step.kind === 'ready') return t('guided.ready_say', { set: step.set, sets: state.sets, rep: step.rep, reps: state.reps || 1 });
  if (step.kind === 'hold') return t('guided.hold_say', { seconds: step.seconds });
  if (step.kind === 'rest') return t('guided.rest_say', { seconds: step.seconds });
  return t('guided.reps_say', { set: step.set, sets: state.sets, reps: step.reps });
}

function guidePanel(item, { onFinish }) {
  const counters = h('p', { class: 'counters', id: 'guide-counters' });
  const phase = h('p', { class: 'phase', id: 'guide-phase' });
  const clock = h('p', { class: 'clock', role: 'timer', 'aria-live': 'off', id: 'guide-clock' });
  const pause = h('button', { type: 'button', id: 'guide-pause' }, t('guided.pause'));
  const next = h('button', { type: 'button', id: 'guide-next' }, t('guided.next'));
  const rep = h('button', { type: 'button', class: 'primary big', id: 'guide-rep', hidden: true }, t('guided.rep_done'));
  const stop = h('button', { type: 'button', id: 'guide-stop' }, t('guided.stop'));
  const panel = h('section', { class: 'guide card', 'aria-labelledby': 'guide-title', hidden: true }, h('h2', { id: 'guide-title', tabindex: '-1' }, t('guided.title')), counters, phase, clock, rep, h('div', { class: 'actions' }, pause, next, stop));
  const sound = beeper();
  const awake = wakeLock();
  let prefs = { sound: true, vibration: true };
  let guide = null;

  const signal = (long) => {
    if (prefs.sound) sound.beep(long ? 400 : 150, long ? 660 : 990);
    if (prefs.vibration && navigator.vibrate) navigator.vibrate(long ? [200, 100, 200] : 120);
  };

  const draw = (state, event) => {
    const { step } = state;
    if (state.finished) {
      awake.release();
      signal(true);
      announce(say(state, 'finished'));
      onFinish(state.result);
      return;
    }
    counters.textContent =
      step.kind === 'rest'
        ? t('guided.after_set', { set: step.set, sets: state.sets })
        : state.reps
          ? t('guided.set_rep', { set: step.set, sets: state.sets, rep: step.kind === 'reps' ? state.rep : step.rep, reps: state.reps })
          : t('guided.set', { set: step.set, sets: state.sets });
    phase.textContent = t(PHASE[step.kind]);
    panel.dataset.phase = step.kind;
    clock.textContent = step.kind === 'reps' ? t('guided.reps_count', { rep: state.rep, reps: step.reps }) : String(state.secondsLeft);
    rep.hidden = step.kind !== 'reps';
    pause.hidden = step.kind === 'reps';
    pause.textContent = state.paused ? t('guided.resume') : t('guided.pause');
    next.textContent = step.kind === 'reps' ? t('guided.set_done') : t('guided.next');
    if (['hold-done', 'set-done', 'rest-done'].includes(event)) signal(true);
    else if (event === 'ready-done') signal(false);
    const words = say(state, event);
    if (words) announce(words);
  };

  pause.addEventListener('click', () => (guide.paused ? guide.resume() : guide.pause()));
  next.addEventListener('click', () => guide.next());
  rep.addEventListener('click', () => guide.rep());
  stop.addEventListener('click', () => {
    guide.stop();
    awake.release();
    announce(t('guided.stopped'));
    onFinish(guide.result());
  });

  return {
    panel,
    async start() {
      prefs = await store.getPrefs();
      if (prefs.sound) sound.unlock();
      panel.hidden = false;
      guide?.stop();
      guide = new Guide(item, { onChange: draw });
      await awake.hold();
      panel.dataset.wakeLock = awake.held ? 'held' : 'none';
      guide.start();
      // The timer on screen, and the screen reader's attention on the guide.
      panel.querySelector('h2').focus({ preventScroll: true });
      panel.scrollIntoView({ block: 'start' });
    },
    close() {
      guide?.stop();
      awake.close();
      sound.close();
    },
  };
}

export async function render({ root, params, session }) {
  fill(root, heading(t('exercise.loading')), h('p', { class: 'loading' }, t('loading')));
  const { item, offline } = await findItem(session.patient_id, params.itemId);
  if (!item) {
    fill(root, heading(t('exercise.missing')), h('p', {}, h('a', { href: '/app/today', 'data-link': true }, t('nav.back_today'))));
    return undefined;
  }
  const info = item.instructions;
  const still = matchMedia('(prefers-reduced-motion: reduce)').matches;
  const picture = h('figure', { class: 'figure', 'aria-busy': 'true' }, h('p', { class: 'muted' }, t('loading')));
  const done = h('section', { class: 'card finished', hidden: true, 'aria-live': 'polite', id: 'guide-done' });
  const start = h('button', { type: 'button', class: 'primary big', id: 'guide-start' }, t('guided.start'));
  const guide = guidePanel(item, {
    onFinish(result) {
      const query = new URLSearchParams({ item: String(item.id), sets: String(result.sets_done) });
      if (result.reps_done !== null) query.set('reps', String(result.reps_done));
      if (result.hold_seconds_done !== null) query.set('hold', String(result.hold_seconds_done));
      fill(
        done,
        h('h2', {}, t('guided.finished')),
        h('p', {}, t('guided.summary', { sets: result.sets_done, total: item.sets })),
        h('a', { class: 'button primary', href: `/app/log?${query}`, 'data-link': true, id: 'guide-log' }, t('guided.log_it')),
      );
      done.hidden = false;
      guide.panel.hidden = true;
      start.hidden = false;
      start.textContent = t('guided.again');
    },
  });
  start.addEventListener('click', () => {
    done.hidden = true;
    start.hidden = true;
    guide.start();
  });
  fill(
    root,
    h('p', { class: 'back' }, h('a', { href: '/app/today', 'data-link': true }, t('nav.back_today'))),
    heading(info.name),
    offline ? h('p', { class: 'notice' }, t('exercise.offline')) : null,
    picture,
    h('p', { class: 'dosage' }, dosage(item)),
    item.notes ? h('p', { class: 'note' }, t('exercise.physio_note', { note: item.notes })) : null,
    start,
    guide.panel,
    done,
    list(t('exercise.steps'), info.steps, 'steps'),
    list(t('exercise.cues'), info.cues, 'cues'),
    list(t('exercise.mistakes'), info.common_mistakes, 'mistakes'),
    list(t('exercise.precautions'), info.precautions, 'precautions'),
    h('p', {}, h('a', { class: 'button', href: `/app/log?item=${item.id}`, 'data-link': true }, t('exercise.log_without'))),
  );
  let objectUrl = null;
  api
    .figure(info.slug, { side: item.side, still })
    .then((url) => {
      objectUrl = url;
      picture.removeAttribute('aria-busy');
      if (url) {
        const side = item.side === 'left' || item.side === 'right' ? t(`side.${item.side}`) : '';
        fill(picture, h('img', { src: url, alt: t('exercise.figure_alt', { name: info.name, side }).trim(), width: 320, height: 240 }));
      } else fill(picture, h('p', { class: 'muted no-figure' }, t('exercise.no_figure')));
    })
    .catch(() => fill(picture, h('p', { class: 'muted no-figure' }, t('exercise.no_figure'))));
  return () => {
    guide.close();
    if (objectUrl) URL.revokeObjectURL(objectUrl);
  };
}
