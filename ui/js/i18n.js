// The window's words: one JSON catalogue per language in ui/i18n/ (en.json is the source),
// fetched from the loopback server like every other file. t(key, params) looks a message up,
// fills its {name} placeholders (numbers through Intl.NumberFormat, so "19 von 50 fertig"
// and "1 234" read right) and picks a plural form through Intl.PluralRules when the value is
// an object {one, few, many, other}. Static HTML says which key it shows with data-i18n,
// data-i18n-title, data-i18n-aria-label and data-i18n-placeholder; translatePage() applies
// them at start and on every language change.

export const LANGUAGES = ['en', 'de', 'fr', 'es', 'it', 'nl', 'pl'];
// Each language named in its own words (never translated: a person finds their own).
export const LANGUAGE_NAMES = {
  en: 'English', de: 'Deutsch', fr: 'Français', es: 'Español', it: 'Italiano', nl: 'Nederlands', pl: 'Polski',
};
const ATTRIBUTES = { 'data-i18n-title': 'title', 'data-i18n-aria-label': 'aria-label', 'data-i18n-placeholder': 'placeholder' };

let current = 'en';
let messages = {};
let english = {};
const listeners = new Set();

/** The supported language for a setting ('auto' or a code) and the locales the system prefers:
 * a region variant (de-AT, fr-CA) falls back to its base language, anything unknown to English. */
export function pickLanguage(setting, preferred = []) {
  const wanted = setting && setting !== 'auto' ? [setting] : preferred;
  for (const tag of wanted) {
    const base = String(tag || '').toLowerCase().split(/[-_.]/)[0];
    if (LANGUAGES.includes(base)) return base;
  }
  return 'en';
}

async function load(lang) {
  try {
    const response = await fetch(`i18n/${lang}.json`, { cache: 'no-cache' });
    return response.ok ? await response.json() : {};
  } catch {
    return {};
  }
}

/** Switch the page to `lang` (already picked): load its catalogue, set <html lang>, re-translate. */
export async function setLanguage(lang) {
  const next = LANGUAGES.includes(lang) ? lang : 'en';
  if (!Object.keys(english).length) english = await load('en');
  messages = next === 'en' ? english : await load(next);
  current = next;
  document.documentElement.lang = next;
  translatePage();
  for (const listener of listeners) listener(next);
}

export function language() {
  return current;
}

/** Run `listener(lang)` after every language change (for text built by code). */
export function onLanguage(listener) {
  listeners.add(listener);
}

/** A number as people of the current language write it. */
export function num(value, options = {}) {
  return new Intl.NumberFormat(current, options).format(value);
}

/** A share 0…1 as the language writes a percentage ("42 %" in French and German, "42%" in English). */
export function percent(share) {
  return num(Math.round((share || 0) * 100) / 100, { style: 'percent' });
}

function pluralForm(value, count) {
  const category = new Intl.PluralRules(current).select(Number(count) || 0);
  return value[category] ?? value.other ?? '';
}

/** The message `key` with its {placeholders} filled; `params.count` picks a plural form.
 * An unknown key in this language falls back to English, then to `fallback` (e.g. the English
 * message Python sent), then to the key itself. */
export function has(key) {
  return key in messages || key in english;
}

export function t(key, params = {}, fallback = undefined) {
  let value = key in messages ? messages[key] : english[key];
  if (value === undefined) value = fallback ?? key;
  if (value && typeof value === 'object') value = pluralForm(value, params.count);
  return String(value).replace(/\{(\w+)\}/g, (whole, name) => {
    if (!(name in params)) return whole;
    const param = params[name];
    return typeof param === 'number' ? num(param) : String(param);
  });
}

/** Apply the data-i18n* attributes under `root`. */
export function translatePage(root = document) {
  for (const node of root.querySelectorAll('[data-i18n]')) node.textContent = t(node.dataset.i18n);
  for (const [data, attribute] of Object.entries(ATTRIBUTES)) {
    for (const node of root.querySelectorAll(`[${data}]`)) node.setAttribute(attribute, t(node.getAttribute(data)));
  }
}
