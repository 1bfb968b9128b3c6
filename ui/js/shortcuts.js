// Every keyboard shortcut in one table: the key handler and the "?" overlay both read
// it, so the help can never drift from what the keys really do.

import { onLanguage, t } from './i18n.js';
import { $, el, typingTarget } from './ui.js';

const isMac = /Mac|iPhone|iPad/.test(navigator.platform || '');
const MOD = isMac ? '⌘' : 'Ctrl';
// A key's name where the keyboard prints a word ("Entf" on a German one): looked up when the help is drawn.
const KEY = (key) => ({ key });

/**
 * keys: what the help shows; test(e): does this keydown match; run(a, e): the action.
 * `text: true` means it also works while typing in a text field.
 */
function table() {
  const ctrl = (e) => e.ctrlKey || e.metaKey;
  const plain = (e) => !e.ctrlKey && !e.metaKey && !e.altKey;
  return [
    ['shortcuts.group_photos', [
      { keys: [`${MOD}+O`], label: 'shortcuts.open', text: true, test: (e) => ctrl(e) && !e.shiftKey && e.key.toLowerCase() === 'o', run: (a) => a.open() },
      { keys: [`${MOD}+V`], label: 'shortcuts.paste', help: true },
      { keys: ['↑', '↓'], label: 'shortcuts.prev_next', test: (e) => plain(e) && (e.key === 'ArrowUp' || e.key === 'ArrowDown') && !a11yFocusInViewer(e), run: (a, e) => a.move(e.key === 'ArrowDown' ? 1 : -1) },
      { keys: [KEY('keys.delete')], label: 'shortcuts.remove', help: true },
    ]],
    ['shortcuts.group_view', [
      { keys: ['O'], label: 'shortcuts.hold_original', hold: true, test: (e) => plain(e) && e.key.toLowerCase() === 'o', run: (a, e) => a.holdOriginal(true, e) },
      { keys: ['C'], label: 'shortcuts.compare', test: (e) => plain(e) && e.key.toLowerCase() === 'c', run: (a) => a.toggleCompare() },
      { keys: ['M'], label: 'shortcuts.mask', test: (e) => plain(e) && e.key.toLowerCase() === 'm', run: (a) => a.toggleMask() },
      { keys: ['0', 'F'], label: 'shortcuts.fit', test: (e) => plain(e) && (e.key === '0' || e.key.toLowerCase() === 'f'), run: (a) => a.viewer.fit() },
      { keys: ['1'], label: 'shortcuts.actual', test: (e) => plain(e) && e.key === '1', run: (a) => a.viewer.actualSize() },
      { keys: ['+', '−'], label: 'shortcuts.zoom', test: (e) => !e.altKey && ['+', '=', '-', '_'].includes(e.key), run: (a, e) => a.viewer.zoomBy(['+', '='].includes(e.key) ? 1.25 : 0.8) },
      { keys: [{ key: 'keys.scroll', mod: true }, KEY('keys.scroll')], label: 'shortcuts.zoom_pointer', help: true },
      { keys: [KEY('keys.space_drag')], label: 'shortcuts.move_space', help: true },
      { keys: ['←', '→', '↑', '↓'], label: 'shortcuts.move_keys', help: true },
    ]],
    ['shortcuts.group_touch', [
      { keys: ['H'], label: 'shortcuts.move_tool', test: (e) => plain(e) && e.key.toLowerCase() === 'h', run: (a) => a.brush.setTool('hand') },
      { keys: ['E'], label: 'shortcuts.erase', test: (e) => plain(e) && e.key.toLowerCase() === 'e', run: (a) => a.brush.setTool('erase') },
      { keys: ['R'], label: 'shortcuts.restore', test: (e) => plain(e) && e.key.toLowerCase() === 'r', run: (a) => a.brush.setTool('restore') },
      { keys: ['B'], label: 'shortcuts.switch', test: (e) => plain(e) && e.key.toLowerCase() === 'b', run: (a) => a.brush.toggle() },
      { keys: ['[', ']'], label: 'shortcuts.brush_size', test: (e) => plain(e) && (e.key === '[' || e.key === ']'), run: (a, e) => a.brush.grow(e.key === ']' ? 1 : -1) },
      { keys: [`${MOD}+Z`], label: 'shortcuts.undo', test: (e) => ctrl(e) && !e.shiftKey && e.key.toLowerCase() === 'z', run: (a) => a.brush.history('undo') },
      { keys: [`${MOD}+Shift+Z`, `${MOD}+Y`], label: 'shortcuts.redo', test: (e) => ctrl(e) && ((e.shiftKey && e.key.toLowerCase() === 'z') || (!e.shiftKey && e.key.toLowerCase() === 'y')), run: (a) => a.brush.history('redo') },
      { keys: ['Tab'], label: 'shortcuts.fix_buttons', help: true },
    ]],
    ['shortcuts.group_review', [
      { keys: ['A'], label: 'shortcuts.approve', test: (e) => plain(e) && e.key.toLowerCase() === 'a', run: (a) => a.review.approve() },
      { keys: ['X'], label: 'shortcuts.reject', test: (e) => plain(e) && e.key.toLowerCase() === 'x', run: (a) => a.review.reject() },
      { keys: ['J', 'K'], label: 'shortcuts.next_prev', test: (e) => plain(e) && ['j', 'k'].includes(e.key.toLowerCase()), run: (a, e) => a.move(e.key.toLowerCase() === 'j' ? 1 : -1) },
      { keys: ['1…7', '↑', '↓'], label: 'shortcuts.pick_reason', help: true },
    ]],
    ['shortcuts.group_more', [
      { keys: [`${MOD}+S`], label: 'shortcuts.export_one', text: true, test: (e) => ctrl(e) && !e.shiftKey && e.key.toLowerCase() === 's', run: (a) => a.exporter.exportSelected() },
      { keys: [`${MOD}+Shift+S`], label: 'shortcuts.export_all', text: true, test: (e) => ctrl(e) && e.shiftKey && e.key.toLowerCase() === 's', run: (a) => a.exporter.exportAll() },
      { keys: [`${MOD}+,`], label: 'shortcuts.settings', text: true, test: (e) => ctrl(e) && e.key === ',', run: (a) => a.settings.open() },
      { keys: ['?'], label: 'shortcuts.help', test: (e) => e.key === '?', run: (a) => a.help() },
      { keys: ['Esc'], label: 'shortcuts.close', help: true },
      { keys: ['Tab', 'Shift+Tab'], label: 'shortcuts.tab', help: true },
      { keys: [KEY('keys.enter'), KEY('keys.space')], label: 'shortcuts.press', help: true },
    ]],
  ];
}

function a11yFocusInViewer(e) {
  return e.target instanceof Element && Boolean(e.target.closest('#viewport, .queue-list'));
}

export function installShortcuts(actions) {
  const groups = table();
  const all = groups.flatMap(([, list]) => list).filter((s) => s.test);

  window.addEventListener('keydown', (e) => {
    if (e.defaultPrevented) return;
    if (document.querySelector('dialog[open]')) return; // dialogs keep their own keys (Esc closes)
    // Arrow keys with the photo focused pan it.
    if (e.target instanceof Element && e.target.id === 'viewport' && e.key.startsWith('Arrow')) {
      const step = e.shiftKey ? 200 : 50;
      const d = { ArrowLeft: [step, 0], ArrowRight: [-step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] }[e.key];
      e.preventDefault();
      actions.viewer.panBy(d[0], d[1]);
      return;
    }
    // Space held = temporary Move tool, unless it would press a focused button.
    if (e.key === ' ' && !typingTarget(e.target) && !(e.target instanceof HTMLButtonElement)) {
      e.preventDefault();
      actions.viewer.spaceHeld = true;
      actions.viewer.viewport.classList.add('panning-ready');
      return;
    }
    const typing = typingTarget(e.target);
    // Arrow keys belong to the focused slider, select or divider, not to the shortcuts.
    const ownsArrows = e.target instanceof Element && Boolean(e.target.closest('input, select, textarea, [role="slider"]'));
    if (ownsArrows && /^(Arrow|Home|End|Page)/.test(e.key)) return;
    for (const shortcut of all) {
      if ((typing && !shortcut.text) || !shortcut.test(e)) continue;
      if (e.repeat && shortcut.hold) {
        e.preventDefault();
        return;
      }
      e.preventDefault();
      shortcut.run(actions, e);
      return;
    }
  });
  window.addEventListener('keyup', (e) => {
    if (e.key === ' ') {
      actions.viewer.spaceHeld = false;
      actions.viewer.viewport.classList.remove('panning-ready');
    }
    if (e.key.toLowerCase() === 'o') actions.holdOriginal(false, e);
  });
  // Letting go of O while the window lost focus must not leave the original stuck on.
  window.addEventListener('blur', () => {
    actions.holdOriginal(false);
    actions.viewer.spaceHeld = false;
  });

  renderHelp(groups);
  onLanguage(() => renderHelp(groups));
}

function keyName(k) {
  if (typeof k === 'string') return k;
  return k.mod ? `${MOD}+${t(k.key)}` : t(k.key);
}

function renderHelp(groups) {
  const list = $('#help-list');
  list.replaceChildren();
  for (const [title, shortcuts] of groups) {
    list.append(el('h3', { text: t(title) }));
    for (const s of shortcuts) {
      list.append(el('div', { class: 'help-row' },
        el('span', { text: t(s.label) }),
        el('span', { class: 'keys' }, ...s.keys.map((k) => el('kbd', { text: keyName(k) })))));
    }
  }
}
