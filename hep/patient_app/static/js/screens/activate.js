// Activate: the invitation's link or QR code opens /app/activate?code=...; the patient chooses a password.

import * as api from '../api.js';
import { t } from '../i18n.js';
import { fill, h, heading, showErrors } from '../ui.js';

export function render({ root, query, navigate }) {
  const code = h('input', {
    id: 'code',
    name: 'code',
    autocomplete: 'one-time-code',
    autocapitalize: 'characters',
    spellcheck: 'false',
    required: true,
    value: query.get('code') || '',
    'aria-describedby': 'code-hint code-error',
  });
  const password = h('input', {
    id: 'password',
    name: 'password',
    type: 'password',
    autocomplete: 'new-password',
    required: true,
    minlength: '10',
    'aria-describedby': 'password-hint password-error',
  });
  const again = h('input', {
    id: 'again',
    name: 'again',
    type: 'password',
    autocomplete: 'new-password',
    required: true,
    'aria-describedby': 'again-error',
  });
  const status = h('p', { class: 'form-status', role: 'alert', hidden: true });
  const form = h(
    'form',
    { novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 'code' }, t('activate.code')), h('p', { class: 'hint', id: 'code-hint' }, t('activate.code_hint')), code, h('p', { class: 'error', id: 'code-error', hidden: true })),
    h('div', { class: 'field' }, h('label', { for: 'password' }, t('activate.password')), h('p', { class: 'hint', id: 'password-hint' }, t('activate.password_hint')), password, h('p', { class: 'error', id: 'password-error', hidden: true })),
    h('div', { class: 'field' }, h('label', { for: 'again' }, t('activate.again')), again, h('p', { class: 'error', id: 'again-error', hidden: true })),
    status,
    h('button', { type: 'submit', class: 'primary' }, t('activate.submit')),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    status.hidden = true;
    if (password.value !== again.value) {
      showErrors(form, { again: t('activate.mismatch') });
      again.focus();
      return;
    }
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      await api.activate(code.value.trim(), password.value);
      navigate('/app/today', { replace: true });
    } catch (error) {
      button.disabled = false;
      const rest = error instanceof api.ApiError ? showErrors(form, error.reasons()) : [];
      status.textContent = error instanceof api.Offline ? t('net.needed') : rest.join(' ') || (error.status === 429 ? t('error.too_many') : '');
      status.hidden = !status.textContent;
      (form.querySelector('.error:not([hidden])')?.parentElement.querySelector('input') || code).focus();
    }
  });
  fill(
    root,
    heading(t('activate.title')),
    h('p', {}, t('activate.intro')),
    form,
    h('p', { class: 'alt' }, h('a', { href: '/app/sign-in', 'data-link': true }, t('activate.have_password'))),
  );
}
