// Messages in the patient's language, from the catalogues the server shares (hep/i18n/<lang>.json):
// one flat JSON object per language, key -> text with {name} placeholders (Python's str.format syntax).
// Plurals: `key.one` / `key.other`, chosen with Intl.PluralRules.

import * as api from './api.js';

export const LANGUAGES = ['en', 'fr', 'es'];
const fallback = {};
let messages = {};
let current = 'en';

/** The catalogue language for a language tag: fr-CA -> fr; anything else unknown -> en. */
export function pick(tag) {
  const primary = String(tag || '').split('-')[0].toLowerCase();
  return LANGUAGES.includes(primary) ? primary : 'en';
}

export async function load(tag) {
  const language = pick(tag);
  if (!Object.keys(fallback).length) Object.assign(fallback, await api.catalogue('en'));
  messages = language === 'en' ? fallback : await api.catalogue(language);
  current = language;
  document.documentElement.lang = language;
  return language;
}

export const language = () => current;

function fill(text, params) {
  return text.replace(/\{(\w+)\}/g, (match, name) => (name in params ? String(params[name]) : match));
}

/** The text for `key`; English when this language lacks it; the key itself when no catalogue has it. */
export function t(key, params = {}) {
  const text = messages[key] ?? fallback[key];
  return text === undefined ? key : fill(text, params);
}

/** A counted text: `key.one` or `key.other` by the language's plural rules, with {n} filled. */
export function plural(key, n, params = {}) {
  const form = new Intl.PluralRules(current).select(n);
  const found = messages[`${key}.${form}`] ?? fallback[`${key}.${form}`];
  return found === undefined ? t(`${key}.other`, { n, ...params }) : fill(found, { n, ...params });
}
