// What Python says, in the window's language: errors, quality flags and the like arrive with a
// stable `code` (and `params` where the sentence has numbers or names in it) next to the English
// `message`. The page words them from the catalogue by code; English, and any code the
// catalogue does not know yet, shows Python's own message.

import { has, language, t } from './i18n.js';

function byCode(prefix, thing, fallback) {
  const message = (thing && thing.message) || fallback || '';
  const code = thing && thing.code;
  if (!code || !has(`${prefix}.${code}`) || (language() === 'en' && message)) return message || t('error.generic');
  const given = thing.params || {};
  const params = { name: '', ...given };
  if (!params.name && thing.path) params.name = String(thing.path).split(/[\\/]/).pop();
  // Words Python sends as codes: the sides of the frame, where on the photo.
  if (Array.isArray(given.sides)) {
    params.sides = new Intl.ListFormat(language(), { type: 'conjunction' }).format(given.sides.map((side) => t(`side.${side}`)));
  }
  if (given.where) params.where = t(`where.${given.where}`);
  const variant = given.variant && `${prefix}.${code}.${given.variant}`;
  return t(variant && has(variant) ? variant : `${prefix}.${code}`, params, message);
}

/** An error object {code, message, params?, path?} (a bridge envelope's, an item's, an event's). */
export function errorText(error, fallback = '') {
  return byCode('error', error, fallback);
}

/** A quality flag {code, message, params?}: what to check on this cutout. */
export function flagText(flag) {
  return byCode('flag', flag);
}
