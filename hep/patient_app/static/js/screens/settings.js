// Settings: how reminders arrive (texts or notifications on this phone), reminder times, consent to
// texts and how to stop them, sound and vibration in the guided mode, language, and signing out.

import * as api from '../api.js';
import * as entries from '../entries.js';
import * as store from '../store.js';
import { LANGUAGES, language, plural, t } from '../i18n.js';
import { announce, fill, h, heading } from '../ui.js';

const NAMES = { en: 'English', fr: 'Français', es: 'Español' };

function bytes(base64url) {
  const padded = base64url.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (base64url.length % 4)) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

function base64url(buffer) {
  return btoa(String.fromCharCode(...new Uint8Array(buffer))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

const pushSupported = () => 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;

async function browserSubscription() {
  if (!pushSupported()) return null;
  const registration = await navigator.serviceWorker.ready;
  return registration.pushManager.getSubscription();
}

/** The explicit tap: ask permission, subscribe this browser, tell the server, choose push. */
async function turnOnPush(patientId) {
  const permission = await Notification.requestPermission();
  if (permission !== 'granted') return { ok: false, message: t('settings.push_blocked') };
  const status = await api.pushStatus(patientId);
  const registration = await navigator.serviceWorker.ready;
  let subscription = await registration.pushManager.getSubscription();
  const key = subscription?.options?.applicationServerKey;
  if (subscription && key && base64url(key) !== status.vapid_public_key) {
    await subscription.unsubscribe(); // made for another server key: it cannot receive our pushes
    subscription = null;
  }
  subscription ??= await registration.pushManager.subscribe({
    userVisibleOnly: true,
    applicationServerKey: bytes(status.vapid_public_key),
  });
  const saved = await api.subscribePush(patientId, subscription.toJSON());
  await store.setValue('push_subscription_id', saved.id);
  await api.setChannel(patientId, 'push');
  return { ok: true, message: t('settings.push_on') };
}

async function turnOffPush(patientId) {
  const subscription = await browserSubscription();
  let id = await store.getValue('push_subscription_id');
  if (!id && subscription) id = (await api.subscribePush(patientId, subscription.toJSON())).id;
  if (id) await api.unsubscribePush(patientId, id);
  await subscription?.unsubscribe();
  await store.deleteValue('push_subscription_id');
}

function tellWorker(message) {
  const worker = navigator.serviceWorker?.controller;
  if (!worker) return Promise.resolve();
  return new Promise((resolve) => {
    const reply = new MessageChannel();
    reply.port1.onmessage = () => resolve();
    worker.postMessage(message, [reply.port2]);
    setTimeout(resolve, 2000);
  });
}

function section(id, title, ...children) {
  return h('section', { class: 'card', 'aria-labelledby': `${id}-title`, id }, h('h2', { id: `${id}-title` }, title), ...children);
}

export async function render({ root, session, navigate, switchLanguage, rerender }) {
  fill(root, heading(t('settings.title')), h('p', { class: 'loading' }, t('loading')));
  const id = session.patient_id;
  const [sms, push, here] = await Promise.all([api.smsStatus(id), api.pushStatus(id), browserSubscription().catch(() => null)]);
  const prefs = await store.getPrefs();
  const storedId = await store.getValue('push_subscription_id');
  const message = h('p', { class: 'form-status', role: 'status', id: 'settings-status' });
  const report = (text) => {
    message.textContent = text;
    announce(text);
  };
  const act = (button, work) => {
    button.addEventListener('click', async () => {
      button.disabled = true;
      try {
        const text = await work();
        await rerender();
        const status = document.getElementById('settings-status');
        if (status && text) {
          status.textContent = text;
          announce(text);
        }
      } catch (error) {
        button.disabled = false;
        report(error instanceof api.Offline ? t('net.needed') : error.message || t('error.body'));
      }
    });
    return button;
  };

  // How reminders arrive.
  const subscribedHere = Boolean(here) && push.subscriptions.some((s) => s.id === storedId);
  const channelText = push.effective_channel === 'push' ? t('settings.channel_push') : t('settings.channel_sms');
  const pushControls = !pushSupported()
    ? [h('p', { class: 'muted' }, t('settings.push_unsupported'))]
    : subscribedHere
      ? [
          h(
            'div',
            { class: 'actions stacked' },
            act(h('button', { type: 'button', id: 'push-test' }, t('settings.push_test')), async () => {
              const result = await api.testPush(id);
              const sent = result.deliveries.some((d) => d.status === 'sent');
              return sent ? t('settings.push_test_sent') : t('settings.push_test_failed');
            }),
            push.channel === 'push'
              ? act(h('button', { type: 'button', id: 'use-texts' }, t('settings.use_texts')), async () => {
                  await api.setChannel(id, 'sms');
                  return t('settings.channel_sms');
                })
              : act(h('button', { type: 'button', class: 'primary', id: 'use-push' }, t('settings.use_push')), async () => {
                  await api.setChannel(id, 'push');
                  return t('settings.channel_push');
                }),
            act(h('button', { type: 'button', id: 'push-off' }, t('settings.push_off')), async () => {
              await turnOffPush(id);
              return t('settings.push_off_done');
            }),
          ),
        ]
      : [
          h('p', {}, t('settings.push_explain')),
          act(h('button', { type: 'button', class: 'primary', id: 'push-on' }, t('settings.push_turn_on')), async () => (await turnOnPush(id)).message),
        ];

  // Reminder times (null: the clinic's).
  const times = sms.exercise_times || [];
  const timeInputs = [0, 1, 2].map((i) =>
    h('div', { class: 'field inline' }, h('label', { for: `time-${i}` }, t('settings.time_n', { n: i + 1 })), h('input', { type: 'time', id: `time-${i}`, value: times[i] || '', step: 300 })),
  );
  const saveTimes = act(h('button', { type: 'button', id: 'save-times' }, t('settings.save_times')), async () => {
    const chosen = timeInputs.map((field) => field.querySelector('input').value).filter(Boolean);
    await api.setTimes(id, chosen.length ? [...new Set(chosen)].sort() : null);
    return chosen.length ? t('settings.times_saved') : t('settings.times_default');
  });
  const clinicTimes = act(h('button', { type: 'button', id: 'clinic-times' }, t('settings.clinic_times')), async () => {
    await api.setTimes(id, null);
    return t('settings.times_default');
  });

  // Texts.
  let texts;
  const phone = sms.phone || session.phone;
  if (!phone) texts = [h('p', {}, t('settings.no_phone', { clinic: session.clinic }))];
  else if (sms.status === 'active') {
    texts = [
      h('p', {}, t('settings.texts_on', { phone })),
      h('p', { class: 'muted' }, t('settings.texts_how_to_stop')),
      act(h('button', { type: 'button', id: 'texts-stop' }, t('settings.texts_stop')), async () => {
        await api.stopTexts(id);
        return t('settings.texts_stopped');
      }),
    ];
  } else if (sms.status === 'unusable') texts = [h('p', {}, t('settings.texts_unusable', { phone }))];
  else {
    texts = [
      h('p', {}, t(sms.status === 'opted_out' ? 'settings.texts_opted_out' : 'settings.texts_off', { phone })),
      act(h('button', { type: 'button', id: 'texts-start' }, t('settings.texts_start')), async () => {
        await api.grantTexts(id);
        return t('settings.texts_started');
      }),
      h('p', { class: 'muted' }, t('settings.texts_how_to_stop')),
    ];
  }

  // The guided mode on this phone.
  const toggle = (key, label) => {
    const input = h('input', { type: 'checkbox', id: `pref-${key}`, checked: prefs[key] });
    input.addEventListener('change', async () => {
      await store.setPref(key, input.checked);
      report(t('settings.saved'));
    });
    return h('div', { class: 'field check' }, input, h('label', { for: `pref-${key}` }, label));
  };

  // Language.
  const select = h('select', { id: 'language' }, LANGUAGES.map((code) => h('option', { value: code, selected: code === language(), lang: code }, NAMES[code])));
  select.addEventListener('change', async () => {
    try {
      await api.setLanguage(id, select.value);
      await store.updateSession((s) => ({ ...s, language: select.value }));
    } catch {
      // Offline: the app switches now; the clinic learns it next time.
    }
    await switchLanguage(select.value);
  });

  // Signing out.
  const dialog = h('dialog', { class: 'confirm', 'aria-labelledby': 'signout-title' });
  const signOut = async () => {
    try {
      if (here) await turnOffPush(id);
    } catch {
      // Offline: the server ends the subscription the first time a push to it fails.
    }
    await api.signOut();
    await tellWorker({ type: 'sign-out' });
    await store.clearAll();
    navigate('/app/sign-in', { replace: true });
  };
  const signOutButton = h('button', { type: 'button', class: 'danger', id: 'sign-out' }, t('settings.sign_out'));
  signOutButton.addEventListener('click', async () => {
    const waiting = (await entries.list(id)).filter(entries.waiting).length;
    if (!waiting) return signOut();
    fill(
      dialog,
      h('h2', { id: 'signout-title' }, t('settings.sign_out')),
      h('p', {}, plural('settings.sign_out_waiting', waiting)),
      h('form', { method: 'dialog', class: 'actions' }, h('button', { value: 'cancel' }, t('log.cancel')), h('button', { value: 'out', class: 'danger', id: 'sign-out-anyway' }, t('settings.sign_out_anyway'))),
    );
    dialog.onclose = () => dialog.returnValue === 'out' && signOut();
    dialog.showModal();
    return undefined;
  });

  fill(
    root,
    heading(t('settings.title')),
    message,
    section('reminders', t('settings.reminders'), h('p', { id: 'channel-now' }, channelText), ...pushControls),
    section('times', t('settings.times'), h('p', { class: 'muted' }, sms.exercise_times ? t('settings.times_own') : t('settings.times_clinic')), ...timeInputs, h('div', { class: 'actions' }, saveTimes, clinicTimes)),
    section('texts', t('settings.texts'), ...texts),
    section('guide', t('settings.guide'), toggle('sound', t('settings.sound')), toggle('vibration', t('settings.vibration'))),
    section('lang', t('settings.language'), h('div', { class: 'field' }, h('label', { for: 'language' }, t('settings.language_label')), select)),
    section('account', t('settings.account'), h('p', {}, t('settings.signed_in_as', { name: session.name, clinic: session.clinic })), signOutButton),
    dialog,
  );
}
