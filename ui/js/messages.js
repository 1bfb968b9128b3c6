// What Python says, in the window's language: errors, quality flags and the like arrive with a
// stable `code` (and `params` where the sentence has numbers or names in it) next to the English
// `message`. The page words them from the catalogue by code; English, and any code the
// catalogue does not know yet, shows Python's own message.

import { has, language, t } from './i18n.js';

function byCode(prefix, thing, fallback) {
  const message = (thing && thing.message) || fallback || '';
  const code = thing && thing.code;
  const given = (thing && thing.params) || {};
  const variant = given.variant && `${prefix}.${code}.${given.variant}`;
  const key = variant && has(variant) ? variant : `${prefix}.${code}`;
  if (!code || !has(key) || (language() === 'en' && message)) return message || t('error.generic');
  const params = { name: '', ...given };
  if (!params.name && thing.path) params.name = String(thing.path).split(/[\\/]/).pop(); // not ui.js's baseName: ui.js imports this module
  // Words Python sends as codes: the sides of the frame, where on the photo.
  if (Array.isArray(given.sides)) {
    params.sides = new Intl.ListFormat(language(), { type: 'conjunction' }).format(given.sides.map((side) => t(`side.${side}`)));
  }
  if (given.where) params.where = t(`where.${given.where}`);
  if (given.colour) params.colour = given.colour === 'pure white' ? t('rule.white') : given.colour;
  if (Array.isArray(given.shapes)) {
    params.shapes = new Intl.ListFormat(language(), { type: 'disjunction' }).format(given.shapes);
  }
  return t(key, params, message);
}

/** An error object {code, message, params?, path?} (a bridge envelope's, an item's, an event's). */
export function errorText(error, fallback = '') {
  return byCode('error', error, fallback);
}

/** A quality flag {code, message, params?}: what to check on this cutout. */
export function flagText(flag) {
  return byCode('flag', flag);
}

const builtin = (preset) => Boolean(preset) && preset.source === 'builtin';

/** A preset's name: the shipped ones in the window's language, a team's or IT's as they wrote it. */
export function presetLabel(preset) {
  return builtin(preset) ? t(`preset.${preset.id}.label`, {}, preset.label) : preset.label;
}

/** A preset's description; a channel's says when its rules were read (and if they are unconfirmed). */
export function presetDescription(preset) {
  if (!builtin(preset)) return preset.description;
  const summary = `preset.${preset.id}.summary`;
  if (preset.channel && has(summary)) {
    const unconfirmed = preset.channel.confirmed ? '' : t('preset.to_confirm');
    return [t(summary), t('preset.rules_read', { date: preset.channel.read_on }), unconfirmed].filter(Boolean).join(' ');
  }
  return t(`preset.${preset.id}.description`, {}, preset.description);
}

/** One file of a shipped delivery set, named in the window's language. */
export function outputLabel(preset, output) {
  return builtin(preset) ? t(`output.${preset.id}.${output.id}`, {}, output.label) : output.label;
}

/** What Knockout checks on each file of a preset, in the window's language ("pure white background",
 * "at least 1 000 px on the longer side"); Python's English words where it sent no codes. */
export function checksText(checks = [], codes = []) {
  if (!codes.length || codes.length !== checks.length) return checks;
  return codes.map((c, i) => byCode('check', { code: c.code, params: c.params, message: checks[i] }));
}

/** A preset's rule a written file breaks (app.core.compliance), {code, message, params?, output?}. */
export function ruleText(violation) {
  const text = byCode('rule', violation);
  return violation.output ? `${violation.output}: ${text}` : text;
}

/** What an `export` event found on a written file: the rules it breaks and its flags (an upscale);
 * Python's English `message` when the event does not list them. */
export function exportNotes(event) {
  const notes = [...(event.violations || []).map(ruleText), ...(event.flags || []).map(flagText)];
  return notes.length ? notes.join('; ') : errorText(event);
}
