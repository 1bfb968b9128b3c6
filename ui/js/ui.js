// Small DOM helpers and the plain-language message area (toasts and the banner).

import { t } from './i18n.js';
import { errorText } from './messages.js';

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));

/** Create an element: el('div', {class: 'x', text: 'hi'}, child1, child2). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child !== null && child !== undefined && child !== false) node.append(child);
  }
  return node;
}

export function icon(name) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('class', 'icon');
  svg.setAttribute('aria-hidden', 'true');
  const use = document.createElementNS(ns, 'use');
  use.setAttribute('href', `icons/icons.svg#${name}`);
  svg.append(use);
  return svg;
}

/** Is the keyboard focus in a place where typing means text, not shortcuts? */
export function typingTarget(target) {
  if (!(target instanceof Element)) return false;
  if (target.closest('textarea, select, [contenteditable="true"]')) return true;
  if (target instanceof HTMLInputElement) {
    return !['button', 'checkbox', 'radio', 'range', 'color'].includes(target.type);
  }
  return false;
}

/** A short message in the corner; errors stay longer. Never shows technical detail. */
export function toast(message, kind = 'info', ms = kind === 'error' ? 8000 : 4000) {
  const box = $('#toasts');
  const node = el('div', { class: `toast ${kind}`, role: kind === 'error' ? 'alert' : 'status', text: message });
  box.append(node);
  setTimeout(() => node.remove(), ms);
}

/** Say `message` once to screen readers (polite); visible text that changes on every tick is not live. */
export function announce(message) {
  const box = $('#announcer');
  if (!message || box.dataset.last === message) return;
  box.dataset.last = message;
  box.textContent = message;
}

/** Show the message of a failed bridge/server answer. */
export function showError(result, fallback = '') {
  const error = result && result.error;
  toast(error && (error.message || error.code) ? errorText(error, fallback) : fallback || t('error.generic'), 'error');
}

export function banner(message) {
  $('#banner-text').textContent = message;
  $('#banner').hidden = !message;
}

/** The last part of a file or folder path, Windows or POSIX (the path itself if it has none). */
export function baseName(path) {
  return String(path || '').split(/[\\/]/).filter(Boolean).pop() || String(path || '');
}

/** A long folder path shortened from the left ("…/Pictures/Knockout"); the full one goes in the tooltip. */
export function showPath(node, path, empty = t('common.not_chosen')) {
  const full = path || '';
  node.title = full;
  if (!full) {
    node.textContent = empty;
    return;
  }
  const parts = full.split(/[\\/]/).filter(Boolean);
  node.textContent = full.length > 22 && parts.length > 2 ? `…/${parts.slice(-2).join('/')}` : full;
}

/** Ask before something that cannot be undone; resolves true for the OK button. */
export function confirmAction(message, okLabel) {
  const dialog = $('#confirm-dialog');
  $('#confirm-text').textContent = message;
  $('#confirm-ok').textContent = okLabel;
  dialog.returnValue = '';
  dialog.showModal();
  $('#confirm-cancel').focus(); // the safe choice is the default
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
  });
}

const FOCUSABLE = 'button, input, select, textarea, summary, [href], [tabindex]:not([tabindex="-1"])';

/** Tab and Shift+Tab go round inside an open dialog instead of out of the page (the browser's bar). */
function trapTab(dialog, event) {
  if (event.key !== 'Tab') return;
  const stops = $$(FOCUSABLE, dialog).filter((node) => !node.disabled && node.getClientRects().length > 0
    && (!node.closest('details:not([open])') || node.tagName === 'SUMMARY'));
  if (!stops.length) return;
  const [first, last] = [stops[0], stops[stops.length - 1]];
  const at = document.activeElement;
  if (event.shiftKey && (at === first || !dialog.contains(at))) {
    event.preventDefault();
    last.focus();
  } else if (!event.shiftKey && (at === last || !dialog.contains(at))) {
    event.preventDefault();
    first.focus();
  }
}

/** Every dialog keeps Tab inside and gives the focus back to what had it before it opened. */
export function dialogFocus() {
  let before = null;
  document.addEventListener('focusin', (event) => {
    if (event.target instanceof Element && !event.target.closest('dialog')) before = event.target;
  });
  for (const dialog of $$('dialog')) {
    dialog.addEventListener('keydown', (event) => trapTab(dialog, event));
    dialog.addEventListener('close', () => {
      const lost = !document.activeElement || document.activeElement === document.body || dialog.contains(document.activeElement);
      if (lost && before && before.isConnected && !document.querySelector('dialog[open]')) before.focus({ preventScroll: true });
    });
  }
}

/** Arrow keys move between the radio buttons of each [role=radiogroup] (and pick one). */
export function radioGroupKeys() {
  for (const group of $$('[role="radiogroup"]')) {
    group.addEventListener('keydown', (event) => {
      const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[event.key];
      if (!step || !(event.target instanceof Element) || event.target.getAttribute('role') !== 'radio') return;
      const radios = $$('[role="radio"]:not(:disabled)', group);
      const next = radios[(radios.indexOf(event.target) + step + radios.length) % radios.length];
      event.preventDefault();
      event.stopPropagation();
      next.focus();
      next.click();
    });
  }
}
