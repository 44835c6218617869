// Sign in with e-mail or mobile number and password (after activating once).

import * as api from '../api.js';
import { t } from '../i18n.js';
import { fill, h, heading } from '../ui.js';

export function render({ root, query, navigate }) {
  const username = h('input', { id: 'username', name: 'username', autocomplete: 'username', required: true, inputmode: 'email' });
  const password = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const status = h('p', { class: 'form-status', role: 'alert', hidden: true });
  const form = h(
    'form',
    {},
    h('div', { class: 'field' }, h('label', { for: 'username' }, t('signin.username')), username),
    h('div', { class: 'field' }, h('label', { for: 'password' }, t('signin.password')), password),
    status,
    h('button', { type: 'submit', class: 'primary' }, t('signin.submit')),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    status.hidden = true;
    try {
      await api.signIn(username.value.trim(), password.value);
      navigate('/app/today', { replace: true });
    } catch (error) {
      button.disabled = false;
      if (error instanceof api.Offline) status.textContent = t('net.needed');
      else if (error.status === 429) status.textContent = t('error.too_many');
      else if (error.problem?.detail === 'not-a-patient') status.textContent = t('signin.not_patient');
      else status.textContent = t('signin.failed');
      status.hidden = false;
      password.focus();
    }
  });
  fill(
    root,
    heading(t('signin.title')),
    query.get('expired') ? h('p', { class: 'notice' }, t('signin.expired')) : null,
    form,
    h('p', { class: 'alt' }, h('a', { href: '/app/activate', 'data-link': true }, t('signin.have_code'))),
  );
}
